// Formatting shared by every page: times, durations, numbers.

// "2026-11-23 14:05:09" in the browser's time zone; "—" for missing or
// unparseable input (KFP sends "1970-01-01T00:00:00Z" for "never").
export function formatTime(value: string | number | undefined | null): string {
  if (value === undefined || value === null || value === "") return "—";
  const d = typeof value === "number" ? new Date(value) : new Date(value);
  const t = d.getTime();
  if (!Number.isFinite(t) || t <= 0) return "—";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

// A duration in milliseconds as "850 ms", "12.3 s", "4 m 05 s", "2 h 03 m".
export function formatDuration(ms: number | undefined | null): string {
  if (ms === undefined || ms === null || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} m ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  return `${h} h ${String(m % 60).padStart(2, "0")} m`;
}

// Milliseconds between two timestamps; the end defaults to now (a task
// still running).
export function elapsed(start: string | number | undefined | null, end?: string | number | null): number | undefined {
  const a = start === undefined || start === null ? NaN : new Date(start).getTime();
  if (!Number.isFinite(a) || a <= 0) return undefined;
  const bt = end === undefined || end === null || end === "" ? NaN : new Date(end).getTime();
  const b = Number.isFinite(bt) && bt > 0 ? bt : Date.now();
  return Math.max(0, b - a);
}

// Numbers in tables: integers as they are, others to 4 significant digits.
export function formatNumber(x: number | undefined | null): string {
  if (x === undefined || x === null || Number.isNaN(x)) return "—";
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(3);
  return String(Number(x.toPrecision(4)));
}
