// The tone (colour) of a state, across KFP (SUCCEEDED, RUNNING, FAILED,
// CANCELED, SKIPPED, CACHED…), MLflow (FINISHED, KILLED…), Katib
// (Succeeded, Running, Failed…) and KServe readiness ("True"/"False").
export type Tone = "ok" | "running" | "bad" | "muted" | "waiting";

export function statusTone(state: string): Tone {
  switch (state.toUpperCase()) {
    case "SUCCEEDED":
    case "FINISHED":
    case "CACHED":
    case "READY":
    case "TRUE":
    case "ENABLED":
    case "EARLYSTOPPED":
      return "ok";
    case "RUNNING":
    case "CANCELING":
    case "RESTARTING":
    case "CREATED":
      return "running";
    case "FAILED":
    case "FAILED_TO_LOAD":
    case "FAILEDTOLOAD":
    case "FALSE":
    case "KILLED":
      return "bad";
    case "PENDING":
    case "QUEUED":
    case "SCHEDULED":
    case "PAUSED":
    case "UNKNOWN":
      return "waiting";
    default:
      return "muted";
  }
}
