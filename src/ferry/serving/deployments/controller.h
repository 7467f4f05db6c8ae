#pragma once
// DeploymentController: runs InferenceServices (serving.kserve.io/v1beta1)
// kept in the ResourceStore on this machine, the way KServe's controller
// and Knative's autoscaler and activator do together, in one reconcile
// loop.
//
// Revisions: each change of an InferenceService's predictor (generation)
// makes a new revision "<name>-predictor-<NNNNN>", whose model is prepared
// (ModelPreparer, through `prepare`) into <data_dir>/serving/<uid>/<rev>.
// Traffic follows KServe: without canaryTrafficPercent the latest ready
// revision takes 100% once ready (until then the previous one keeps
// serving: a rollout loses no request); with canaryTrafficPercent N the
// latest takes N% and the previously rolled-out revision 100-N. Removing
// the field (or N=100) promotes; N=0 rolls back.
//
// Replicas: each is a `ferry serve` process run through the Executor
// (task id "isvc-<uid>-<rev>-<k>"), `--model <name>=<path> --listen
// 127.0.0.1:0 --ready-file F` plus the batcher options; it is routed once
// F names its address. The ready file alone is the health check: `ferry
// serve` writes it only once its models are loaded and every front end
// listens, and serving/ makes no HTTP calls (HTTP lives in api/). A
// replica that exits before its file appears fails its revision (the model
// does not load). A replica leaving the routes is drained
// (Router::InFlight reaches 0, at most drain_timeout) before it is
// cancelled. A replica that dies is replaced.
//
// What makes a new revision: a change of modelFormat, storageUri or the
// batcher (what the replica process runs). Replica counts, scaleTarget,
// canaryTrafficPercent and the logger apply to the live revisions in place,
// as they do not change what a replica is.
//
// Autoscaling (concurrency, as Knative's KPA): every scale_interval the
// wanted replicas of a revision are ceil(average in-flight / scaleTarget),
// clamped to [minReplicas, maxReplicas]; scaling down waits
// scale_down_delay; with minReplicas 0 a revision idle for
// scale_to_zero_grace goes to zero replicas and a request arriving then
// waits (Router) while one starts. Knative's annotations override the two
// delays per InferenceService: autoscaling.knative.dev/scale-down-delay and
// autoscaling.knative.dev/scale-to-zero-pod-retention-period ("30s").
//
// Status: KServe's — url (the gateway's /v2/models/<name>), conditions
// PredictorReady, IngressReady and Ready, components.predictor
// {latestCreatedRevision, latestReadyRevision, previousRolledoutRevision,
// traffic [{revisionName, percent, latestRevision, tag}]}, plus
// modelStatus {states {activeModelState}, transitionStatus, lastFailureInfo
// {reason, message}} — a model that cannot be prepared shows
// FailedToLoad with the preparer's message and the previous revision keeps
// serving.
//
// Durability: replicas are executor tasks with fixed ids, so a restarted
// server re-attaches the replicas that are running (their ready files say
// where they listen) and re-routes them without a new start. The revisions,
// their prepared models and replicas, and which revision was rolled out are
// kept in status.ferry, which the controller alone writes.
//
// Thread-safety: the controller works on its own thread; Shutdown() may be
// called from any thread, once.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/executors/executor.h"
#include "ferry/serving/deployments/model_preparer.h"
#include "ferry/serving/router.h"
#include "ferry/store/resource_store.h"

namespace ferry::serving::deployments {

struct DeploymentControllerOptions {
  std::string data_dir;      // replicas' folders and logs: <data_dir>/serving/<uid>/...
  std::string ferry_binary;  // the `ferry` executable replicas run
  std::map<std::string, std::string> base_env;  // the replicas' environment
  // The gateway's base URL, for status.url ("http://127.0.0.1:8080").
  std::string gateway_url;
  // Resolves and converts a revision's model (ModelPreparer::Prepare).
  std::function<Result<PreparedModel>(const std::string& model_format, const std::string& storage_uri,
                                      const std::string& key)>
      prepare;
  std::chrono::milliseconds scale_interval{500};
  std::chrono::milliseconds scale_down_delay{30'000};
  std::chrono::milliseconds scale_to_zero_grace{30'000};
  std::chrono::milliseconds drain_timeout{30'000};
  std::chrono::milliseconds ready_timeout{60'000};  // a replica not ready by then is replaced
};

class DeploymentController {
 public:
  // Starts the loop: takes up every InferenceService in the store
  // (re-attaching running replicas) and then follows their changes. The
  // pointers must outlive the controller.
  static Result<std::unique_ptr<DeploymentController>> Start(store::ResourceStore* resources, Router* router,
                                                              executors::Executor* executor, Env* env,
                                                              DeploymentControllerOptions options);
  virtual ~DeploymentController() = default;
  // Stops the loop; replicas keep running (the next start re-attaches
  // them). Call before the executor shuts down.
  virtual void Shutdown() = 0;
};

}  // namespace ferry::serving::deployments
