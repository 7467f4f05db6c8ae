// The shapes of the API objects the pages read, as far as they read them.
// KFP v2beta1 (kfp_server_api), MLflow 2.0 REST, native resources.

export interface KfpRun {
  run_id: string;
  display_name?: string;
  experiment_id?: string;
  state?: string;
  created_at?: string;
  scheduled_at?: string;
  finished_at?: string;
  error?: { message?: string };
  pipeline_version_reference?: { pipeline_id?: string; pipeline_version_id?: string };
  pipeline_spec?: Record<string, unknown>;
  runtime_config?: { parameters?: Record<string, unknown>; pipeline_root?: string };
  recurring_run_id?: string;
  run_details?: { task_details?: KfpTask[] };
  state_history?: { update_time?: string; state?: string }[];
}

export interface KfpTask {
  run_id?: string;
  task_id: string;
  display_name?: string;
  create_time?: string;
  start_time?: string;
  end_time?: string;
  state?: string;
  error?: { message?: string };
  parent_task_id?: string;
  child_tasks?: { task_id?: string; pod_name?: string }[];
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  execution_id?: string;
  state_history?: { update_time?: string; state?: string }[];
}

export interface KfpRunList {
  runs?: KfpRun[];
  total_size?: number;
  next_page_token?: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  resourceVersion?: string;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

export interface Resource<Spec = Record<string, unknown>, Status = Record<string, unknown>> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status & { conditions?: Condition[] };
}

export interface ResourceList<R> {
  items: R[];
  metadata?: { continue?: string; resourceVersion?: string };
}

// The condition of `type`, if any.
export function condition(r: Resource, type: string): Condition | undefined {
  return r.status?.conditions?.find((c) => c.type === type);
}
