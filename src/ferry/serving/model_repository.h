#pragma once
// ModelRepository: the models one serving process hosts, by name and
// version, laid out as a Triton model repository:
//
//   <root>/<model>/<version>/model.onnx     (version: a positive integer)
//   <root>/<model>/config.pbtxt             optional; ignored for now beyond
//                                           its presence (the runtime's
//                                           signature is the config)
//
// plus models added from single files (`ferry serve --model NAME=PATH`,
// version "1"). The runtime is chosen by the file's format (model.onnx →
// native ONNX; later model.json/model.txt → XGBoost/LightGBM).
//
// Loading a model that is already loaded builds the new versions first and
// then swaps them in; requests holding the old LoadedModel finish on it
// (shared_ptr), so a reload never drops an in-flight request. A failed load
// leaves the previous versions serving and records the reason in Index().
//
// Thread-safety: thread-safe; Get() is lock-light (a shared lock and a
// shared_ptr copy) since every request calls it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"
#include "ferry/serving/model.h"
#include "ferry/serving/runtimes/python/pyfunc_model.h"

namespace ferry::serving {

// Per-version counters for the statistics extension and Prometheus.
// Durations are nanoseconds.
struct ModelStats {
  std::atomic<uint64_t> success_count{0}, success_ns{0};
  std::atomic<uint64_t> fail_count{0}, fail_ns{0};
  std::atomic<uint64_t> queue_ns{0}, compute_input_ns{0}, compute_infer_ns{0}, compute_output_ns{0};
  std::atomic<uint64_t> inference_count{0};  // rows (batch elements) served
  std::atomic<uint64_t> execution_count{0};  // model executions
  std::atomic<uint64_t> last_inference_ms{0};  // Unix ms of the last request
};

struct LoadedModel {
  std::string name;
  std::string version;
  std::shared_ptr<const Model> model;
  mutable ModelStats stats;
};

struct ModelIndexEntry {
  std::string name;
  std::string version;  // empty for a model that failed before any version loaded
  std::string state;    // "READY", "UNAVAILABLE", "LOADING"
  std::string reason;   // why UNAVAILABLE
};

// How the runtimes run the models a repository loads (the Python
// runtime's interpreter and worker count); `ferry serve` fills it from its
// flags.
struct RuntimeOptions {
  python::PythonRuntimeOptions python;
};

class ModelRepository {
 public:
  // `root` may be empty (single-file models only). Loads nothing yet.
  explicit ModelRepository(std::string root, RuntimeOptions runtime_options = {});

  // Loads every model under root (the server's start). Returns the first
  // error but goes on loading the others; Index() shows each failure.
  Status LoadAll();
  // (Re)loads `name` from root: InvalidArgument for a hostile name
  // (separators, "..", empty), NotFound when root has no such model,
  // the runtime's error when it cannot load.
  Status Load(std::string_view name);
  // Adds or replaces `name` version "1" from one model file.
  Status AddModelFile(std::string_view name, const std::string& path);
  // Adds or replaces `name` with one version of an already built model
  // (a converted registry model, a test double); a later Load() of the name
  // reads the repository folder.
  Status AddModel(std::string_view name, std::string version, std::shared_ptr<const Model> model);
  // Stops serving `name`; requests in flight finish. NotFound if unknown.
  Status Unload(std::string_view name);

  // Every known model (root's folders and added files), each version.
  std::vector<ModelIndexEntry> Index(bool ready_only) const;

  // The version to run: `version` empty means the newest ready one.
  // NotFound "model 'x' is not loaded" / "model 'x' has no version 'v'".
  Result<std::shared_ptr<const LoadedModel>> Get(std::string_view name, std::string_view version) const;

  // Every ready version of every model (or of `name` only, when given),
  // by name and then version number: for metadata and statistics.
  std::vector<std::shared_ptr<const LoadedModel>> Loaded(std::string_view name = {}) const;

  // Number of models with at least one ready version.
  std::size_t ReadyModelCount() const;

  const std::string& root() const { return root_; }

  // Applied to every model version this repository loads (folders, files,
  // AddModel) before it is published, e.g. ferry serve's batcher and
  // metrics; its error fails that load as a runtime's would. Set it before
  // the first load.
  using ModelWrapper = std::function<Result<std::shared_ptr<const Model>>(
      std::string_view name, std::string_view version, std::shared_ptr<const Model> model)>;
  void SetModelWrapper(ModelWrapper wrapper);

 private:
  struct Entry;
  // Publishes `entry` in place of the one of the same name (entries are
  // immutable once published, so readers need the lock only to copy a
  // pointer).
  void Publish(std::shared_ptr<Entry> entry);
  std::shared_ptr<const Entry> Find(std::string_view name) const;
  // `model` through the wrapper, when there is one and `model` loaded.
  Result<std::shared_ptr<const Model>> Wrap(std::string_view name, std::string_view version,
                                            Result<std::shared_ptr<const Model>> model) const;

  std::string root_;
  RuntimeOptions runtime_options_;
  mutable std::shared_mutex mu_;
  std::vector<std::shared_ptr<Entry>> entries_;
  // Serialises loads and unloads, so that two reloads of one model cannot
  // publish out of order; requests never take it.
  std::mutex load_mu_;
  ModelWrapper wrapper_;  // guarded by load_mu_
};

// Checks a model name that will become a folder name under the
// repository root: InvalidArgument for empty, ".", "..", a leading '.',
// path separators, control characters, invalid UTF-8 or more than 255 bytes.
Status ValidateModelName(std::string_view name);

// Loads one model file, the runtime chosen by its name (*.onnx: the native
// ONNX runtime; a folder with an MLmodel file: the Python runtime, its
// workers' log lines tagged `name`). InvalidArgument naming the file for a
// format no runtime reads.
Result<std::shared_ptr<const Model>> LoadModelFile(const std::string& path, std::string_view name = {},
                                                   const RuntimeOptions& options = {});

}  // namespace ferry::serving
