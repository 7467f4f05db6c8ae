// useFetch: loads `url` with the api helpers and, when `pollMs` is given,
// reloads it on that period while the tab is visible. A reload keeps the
// last good data on screen (no flicker) and reports a failure beside it.
import { useCallback, useEffect, useRef, useState } from "react";
import { get } from "./api";

export interface FetchState<T> {
  data: T | undefined;
  error: Error | undefined;
  loading: boolean; // true until the first answer (data or error)
  reload: () => void;
}

export function useFetch<T>(url: string | null, options: { pollMs?: number } = {}): FetchState<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | undefined>(undefined);
  const [loading, setLoading] = useState(url !== null);
  const [tick, setTick] = useState(0);
  const urlRef = useRef(url);

  if (urlRef.current !== url) {
    // A new URL: forget the old answer at once rather than show it under the new address.
    urlRef.current = url;
    setData(undefined);
    setError(undefined);
    setLoading(url !== null);
  }

  useEffect(() => {
    if (url === null) return;
    const abort = new AbortController();
    get<T>(url, abort.signal).then(
      (d) => {
        setData(d);
        setError(undefined);
        setLoading(false);
      },
      (e: unknown) => {
        if (abort.signal.aborted) return;
        setError(e instanceof Error ? e : new Error(String(e)));
        setLoading(false);
      },
    );
    return () => abort.abort();
  }, [url, tick]);

  const { pollMs } = options;
  useEffect(() => {
    if (!pollMs || url === null) return;
    const id = window.setInterval(() => {
      if (document.visibilityState === "visible") setTick((t) => t + 1);
    }, pollMs);
    return () => window.clearInterval(id);
  }, [pollMs, url]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}
