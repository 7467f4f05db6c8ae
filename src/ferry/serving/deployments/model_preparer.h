#pragma once
// ModelPreparer: turns an InferenceService's storageUri into a model file
// or folder that `ferry serve --model NAME=PATH` loads, the way KServe's
// storage initializer plus a model-format choice would.
//
// Storage URIs: models:/NAME/VERSION, models:/NAME@ALIAS (the registry;
// the version's source is followed, including MLflow 3 logged models
// models:/m-<id>), runs:/RUN_ID/PATH, mlflow-artifacts:/PATH, file:///PATH.
// Anything else is InvalidArgument naming spec.predictor.model.storageUri.
// Local paths are confined: no "..", no symlink escaping the artifact root
// for artifact URIs.
//
// Formats: an .onnx file, or an MLflow model folder (an MLmodel file) with
// an onnx flavor, is served natively as is. An MLflow model with a
// sklearn, xgboost or lightgbm flavor is converted to ONNX-ML by the
// converter script (python/ferry/serving/convert.py, run with
// `python`, usually the server's --task-python) and the converted model is
// checked against the original on the model's input example (or, lacking
// one, on 20 rows the converter synthesises from the signature): when they
// agree to 1e-5 it is served natively; otherwise, or when conversion fails,
// the MLflow model is served by the Python pyfunc runtime and `reason` says
// why. A model no runtime can run is FailedPrecondition with the reason.
//
// Thread-safety: thread-safe; Prepare may take seconds (conversion) and is
// called from the controller's thread, never a request handler.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "ferry/common/status.h"

namespace ferry::registry {
class RegistryStore;
}
namespace ferry::tracking {
class TrackingStore;
class LoggedModelStore;
}
namespace ferry::artifacts {
class ArtifactStore;
}

namespace ferry::serving::deployments {

struct PreparedModel {
  std::string path;     // what `ferry serve --model NAME=PATH` gets
  std::string runtime;  // "onnx" (native), "python" (pyfunc workers)
  std::string resolved_uri;  // e.g. models:/iris/3 for models:/iris@champion
  std::string reason;   // why the Python runtime, or "" for native
};

struct ModelPreparerOptions {
  std::string python = "python3";  // runs convert.py; must import mlflow
  std::string work_dir;            // prepared models go under here
  // A conversion still running after this is killed (with its children)
  // and the model goes to the Python runtime, the reason saying so.
  std::chrono::seconds conversion_timeout{600};
};

class ModelPreparer {
 public:
  // The stores may be null when the server has no such surface; a URI that
  // needs a missing one is FailedPrecondition.
  ModelPreparer(registry::RegistryStore* registry, tracking::TrackingStore* tracking,
                tracking::LoggedModelStore* logged_models, artifacts::ArtifactStore* artifacts,
                ModelPreparerOptions options);

  // Resolves and, if needed, converts. `model_format` is the
  // InferenceService's modelFormat.name (checked against what is found:
  // modelFormat onnx on a sklearn model is InvalidArgument). `key` names the
  // output folder (<work_dir>/<key>), e.g. "<uid>/<revision>"; an existing
  // prepared folder for the same key is reused (a restart does not
  // convert again).
  Result<PreparedModel> Prepare(const std::string& model_format, const std::string& storage_uri,
                                const std::string& key);

 private:
  registry::RegistryStore* registry_;
  tracking::TrackingStore* tracking_;
  tracking::LoggedModelStore* logged_models_;
  artifacts::ArtifactStore* artifacts_;
  ModelPreparerOptions options_;
  // Keys being prepared: a second Prepare of the same key waits for the
  // first and then reuses its result.
  std::mutex mu_;
  std::condition_variable done_;
  std::set<std::string> busy_;
};

}  // namespace ferry::serving::deployments
