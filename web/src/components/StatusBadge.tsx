// A run, task, trial or endpoint state as a coloured badge. The colour
// class comes from statusTone, which knows the state names of every API.
import { statusTone } from "../lib/status";

export function StatusBadge({ state }: { state: string | undefined }) {
  const s = state || "UNKNOWN";
  return (
    <span className={`badge badge-${statusTone(s)}`} data-state={s}>
      {s.replaceAll("_", " ").toLowerCase()}
    </span>
  );
}
