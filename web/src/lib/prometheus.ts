// Reads the Prometheus text exposition format (0.0.4) that /metrics and
// the serving processes answer: the home page's queue usage and the
// endpoint page's request rate, latency and error charts come from it.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

// Parses every sample line; comments (# HELP, # TYPE) and malformed lines
// are skipped, so one odd line never hides the rest.
export function parsePrometheus(text: string): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const sample = parseLine(line);
    if (sample) out.push(sample);
  }
  return out;
}

function parseLine(line: string): Sample | null {
  let i = 0;
  while (i < line.length && /[a-zA-Z0-9_:]/.test(line[i]!)) i++;
  const name = line.slice(0, i);
  if (!name) return null;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    for (;;) {
      while (line[i] === " " || line[i] === ",") i++;
      if (line[i] === "}") {
        i++;
        break;
      }
      const start = i;
      while (i < line.length && /[a-zA-Z0-9_]/.test(line[i]!)) i++;
      const key = line.slice(start, i);
      if (!key || line[i] !== "=" || line[i + 1] !== '"') return null;
      i += 2;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) return null;
        if (c === '"') {
          i++;
          break;
        }
        if (c === "\\") {
          const n = line[i + 1];
          value += n === "n" ? "\n" : (n ?? "");
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      labels[key] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const text = rest[0];
  if (text === undefined || text === "") return null;
  const value = text === "+Inf" ? Infinity : text === "-Inf" ? -Infinity : Number(text);
  if (Number.isNaN(value) && text !== "NaN") return null;
  return { name, labels, value };
}

// The first sample called `name` whose labels include `match`.
export function findSample(samples: Sample[], name: string, match: Record<string, string> = {}): Sample | undefined {
  return samples.find((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v));
}

// Sum of every sample called `name` whose labels include `match`.
export function sumSamples(samples: Sample[], name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

// The q-quantile (0..1) of a histogram from its cumulative _bucket samples,
// interpolated linearly inside the bucket as Prometheus' histogram_quantile
// does; undefined when the histogram is empty.
export function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      const frac = inBucket > 0 ? (rank - prevCount) / inBucket : 0;
      return prevLe + (b.le - prevLe) * frac;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
