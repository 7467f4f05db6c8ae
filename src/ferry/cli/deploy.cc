#include "ferry/cli/deploy.h"

#include "ferry/cli/commands_internal.h"
#include "ferry/cli/discovery.h"
#include "ferry/common/names.h"

namespace ferry::cli {
namespace {

constexpr char kInferenceServices[] = "inferenceservices.serving.kserve.io";
// Predictor implementations of KServe's older schema that `model` replaces.
constexpr const char* kOldPredictors[] = {"sklearn", "xgboost", "lightgbm", "onnx"};

Status CheckOptions(const DeployOptions& options) {
  if (options.model_uri.empty()) return InvalidArgument("MODEL_URI is required", "MODEL_URI");
  RETURN_IF_ERROR(ValidateDns1123Label(options.name, "--name"));
  if (options.canary_percent && (*options.canary_percent < 0 || *options.canary_percent > 100)) {
    return InvalidArgument("--canary-percent must be from 0 to 100", "--canary-percent");
  }
  if (options.min_replicas && *options.min_replicas < 0) {
    return InvalidArgument("--min-replicas must not be negative", "--min-replicas");
  }
  if (options.max_replicas && *options.max_replicas < 0) {
    return InvalidArgument("--max-replicas must not be negative", "--max-replicas");
  }
  if (options.min_replicas && options.max_replicas && *options.max_replicas != 0 &&
      *options.max_replicas < *options.min_replicas) {
    return InvalidArgument("--max-replicas must not be less than --min-replicas", "--max-replicas");
  }
  return Status::OK();
}

Json ModelJson(const DeployOptions& options) {
  return {{"modelFormat", {{"name", DeployModelFormat(options)}}}, {"storageUri", options.model_uri}};
}

}  // namespace

std::string DeployModelFormat(const DeployOptions& options) {
  if (!options.format.empty()) return options.format;
  if (options.model_uri.starts_with("file://") && options.model_uri.ends_with(".onnx")) return "onnx";
  return "mlflow";  // the preparer reads the MLflow model's flavors and picks the runtime
}

Result<Json> BuildInferenceService(const DeployOptions& options, const std::string& ns) {
  RETURN_IF_ERROR(CheckOptions(options));
  Json predictor = {{"model", ModelJson(options)}};
  if (options.min_replicas) predictor["minReplicas"] = *options.min_replicas;
  if (options.max_replicas) predictor["maxReplicas"] = *options.max_replicas;
  // A first deploy has nothing to be a canary of: the share would only
  // apply to the next revision, so it is left out.
  return Json{{"apiVersion", "serving.kserve.io/v1beta1"},
              {"kind", "InferenceService"},
              {"metadata", {{"name", options.name}, {"namespace", ns}}},
              {"spec", {{"predictor", predictor}}}};
}

Json BuildDeployPatch(const DeployOptions& options, const Json& live) {
  Json predictor = {{"model", ModelJson(options)}};
  // modelFormat is replaced whole (version included): the new model's own.
  predictor["model"]["modelFormat"]["version"] = nullptr;
  const Json* live_predictor = nullptr;
  if (live.is_object() && live.contains("spec") && live["spec"].is_object() &&
      live["spec"].contains("predictor") && live["spec"]["predictor"].is_object()) {
    live_predictor = &live["spec"]["predictor"];
  }
  if (live_predictor) {
    for (const char* old : kOldPredictors) {
      if (live_predictor->contains(old)) predictor[old] = nullptr;  // exactly one implementation
    }
  }
  predictor["canaryTrafficPercent"] =
      options.canary_percent ? Json(*options.canary_percent) : Json(nullptr);
  if (options.min_replicas) predictor["minReplicas"] = *options.min_replicas;
  if (options.max_replicas) predictor["maxReplicas"] = *options.max_replicas;
  return {{"spec", {{"predictor", predictor}}}};
}

int RunDeploy(Context& ctx, const DeployOptions& options) {
  if (Status st = CheckOptions(options); !st.ok()) return internal::UsageError(ctx, st.message());
  if (int rc = internal::DiscoverTypes(ctx); rc != kExitOk) return rc;
  auto type = ResolveKind(ctx.client->resources(), kInferenceServices);
  if (!type.ok()) {
    *ctx.err << "error: the server at " << ctx.client->server()
             << " does not serve InferenceServices (serving.kserve.io/v1beta1)" << std::endl;
    return kExitFailed;
  }
  const ApiResource& isvc = **type;
  // "inferenceservice/EP", as kubectl names the kind it acts on.
  const std::string ref = isvc.singular_name + "/" + options.name;
  auto done = [&]() {
    *ctx.out << ref << " deployed (" << options.model_uri << ")" << std::endl;
    return kExitOk;
  };
  // One retry: the endpoint may appear (or vanish) between our read and write.
  for (int attempt = 0;; ++attempt) {
    auto live = ctx.client->Get(isvc, ctx.ns, options.name);
    if (!live.ok()) return internal::ReportUnreachable(ctx, live.status());
    if (!live->ok() && live->error->code != "NotFound") {
      return internal::ReportServerError(ctx, *live->error, "error when reading " + ref);
    }
    if (!live->ok()) {
      auto object = BuildInferenceService(options, ctx.ns);
      if (!object.ok()) return internal::UsageError(ctx, object.status().message());
      auto created = ctx.client->Create(isvc, ctx.ns, *object);
      if (!created.ok()) return internal::ReportUnreachable(ctx, created.status());
      if (created->ok()) return done();
      if (created->error->code == "AlreadyExists" && attempt == 0) continue;
      return internal::ReportServerError(ctx, *created->error, "error when creating " + ref);
    }
    const Json patch = BuildDeployPatch(options, live->body);
    auto patched = ctx.client->Call("PATCH", ResourcePath(isvc, ctx.ns, options.name), &patch);
    if (!patched.ok()) return internal::ReportUnreachable(ctx, patched.status());
    if (patched->ok()) return done();
    if (patched->error->code == "NotFound" && attempt == 0) continue;
    return internal::ReportServerError(ctx, *patched->error, "error when updating " + ref);
  }
}

}  // namespace ferry::cli
