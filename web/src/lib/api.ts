// Fetch helpers for the server's public APIs (native /api/v1, KFP
// /apis/v2beta1, MLflow /api/2.0/mlflow, Open Inference Protocol /v2).
// Every failure becomes an ApiError whose message is the server's own
// words, whichever of the APIs' error shapes it came in.

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

// The message inside any of the error bodies Ferry's APIs return:
// native {"error": {"code", "message"}}, MLflow {"error_code", "message"},
// KFP {"error_message"} / {"message"}, V2 {"error": "..."}.
export function errorMessage(body: unknown, fallback: string): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    const e = b.error;
    if (typeof e === "string" && e) return e;
    if (e && typeof e === "object") {
      const m = (e as Record<string, unknown>).message;
      if (typeof m === "string" && m) return m;
    }
    for (const key of ["message", "error_message"]) {
      const m = b[key];
      if (typeof m === "string" && m) return m;
    }
  }
  return fallback;
}

export async function request<T>(method: string, url: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const init: RequestInit = { method, headers: { Accept: "application/json" }, signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(`cannot reach the server (${String(e)})`, 0, url);
  }
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      if (res.ok) throw new ApiError(`${url} answered with a body that is not JSON`, res.status, url);
    }
  }
  if (!res.ok) throw new ApiError(errorMessage(parsed, `${res.status} ${res.statusText}`), res.status, url);
  return parsed as T;
}

export const get = <T>(url: string, signal?: AbortSignal) => request<T>("GET", url, undefined, signal);
export const post = <T>(url: string, body?: unknown) => request<T>("POST", url, body ?? {});
export const patch = <T>(url: string, body: unknown) => request<T>("PATCH", url, body);
export const del = <T>(url: string) => request<T>("DELETE", url);

// Builds "path?a=1&b=2", leaving out undefined and empty values.
export function withQuery(path: string, query: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
