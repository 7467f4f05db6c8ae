#pragma once
// `ferry deploy MODEL_URI --name EP`: deploys a model as a KServe
// InferenceService (serving.kserve.io/v1beta1) through the native resource
// API. A new endpoint is created; an existing one gets a merge PATCH of its
// storageUri and model format (and canary share and replicas when given),
// which the controller rolls out as a new revision — or, with
// --canary-percent, as a canary beside the current one.
//
// Without --canary-percent an update removes canaryTrafficPercent, so the
// new model takes all traffic once ready (KServe's rollout), rather than
// staying at a share left over from an earlier canary.
//
// Thread-safety: as the rest of the CLI, one invocation at a time.

#include <optional>
#include <string>

#include "ferry/cli/commands.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::cli {

struct DeployOptions {
  std::string model_uri;              // models:/NAME@ALIAS, models:/NAME/N, runs:/..., file://...
  std::string name;                   // the endpoint (InferenceService) name
  std::optional<int> canary_percent;  // 0..100
  std::optional<int> min_replicas;
  std::optional<int> max_replicas;
  std::string format;  // modelFormat.name; empty: onnx for a file://*.onnx, else mlflow
};

// The modelFormat.name deploy uses for `options`.
std::string DeployModelFormat(const DeployOptions& options);

// The InferenceService a first deploy creates in `ns`; InvalidArgument for
// a bad name, replica count or canary share.
Result<Json> BuildInferenceService(const DeployOptions& options, const std::string& ns);

// The merge patch that redeploys `live` (an existing InferenceService):
// the model (replacing an old-style sklearn/xgboost/... predictor), the
// canary share (removed when not given) and the replicas when given.
Json BuildDeployPatch(const DeployOptions& options, const Json& live);

// Creates or updates the endpoint; prints "inferenceservice/EP deployed (URI)".
int RunDeploy(Context& ctx, const DeployOptions& options);

}  // namespace ferry::cli
