#pragma once
// The KFP surface (/apis/v2beta1/...), added when ApiServices has a
// pipeline engine and a pipeline catalog: healthz, experiments, pipelines
// and pipeline versions (JSON create and the multipart uploads), and runs
// (create from a pipeline spec or an uploaded version, get with task
// details, list, terminate, retry, archive, delete). The unmodified
// `kfp.Client` (kfp 2.16.1) talks to these; shapes are the KFP API server's
// (snake_case fields, enums as names, RFC 3339 times). Anything else under
// /apis/ is answered 404 in KFP's error shape.
//
// Thread-safety: the handlers are thread-safe.

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api::kfp {

Status AddKfpRoutes(Router& router, const ApiServices& services);

// One function a service, each in its own file.
Status AddExperimentRoutes(Router& router, const ApiServices& services);  // experiments.cc
Status AddPipelineRoutes(Router& router, const ApiServices& services);    // pipelines.cc
Status AddRunRoutes(Router& router, const ApiServices& services);         // runs.cc
// Added when ApiServices has pipeline_schedules.
Status AddRecurringRunRoutes(Router& router, const ApiServices& services);  // recurring_runs.cc
// GET /api/v1/namespaces/{ns}/pipelineruns/{run_id}/log: task logs, native-style.
Status AddLogRoutes(Router& router, const ApiServices& services);         // logs.cc

}  // namespace ferry::api::kfp
