#pragma once
// The Python runtime: serves an MLflow pyfunc model folder (a folder with an
// MLmodel file) from N worker processes that the server starts, feeds and
// restarts, so that any model MLflow can load runs without a Python
// interpreter inside the server.
//
// Each worker is `PYTHON -u pyfunc_worker.py MODEL_DIR` (the script is
// embedded in the binary and written to a private folder at load), with
// stdin/stdout on one Unix socket carrying length-prefixed frames (see the
// script) and stderr logged by the server, prefixed with the model name and
// the worker's index. A request takes an idle worker (waiting in a bounded
// queue: ResourceExhausted when it is full), sends its tensors and reads the
// outputs. A worker that dies or breaks the framing is restarted and the
// request it held is answered Unavailable naming the crash ("python worker
// 2 exited (killed by SIGKILL) while running the request; restarted"); one
// that outlives the request timeout is killed and restarted, the request
// answered DeadlineExceeded. A request is never dropped or left hanging.
//
// The V2 signature comes from the MLmodel `signature`, mapped as MLServer's
// mlflow runtime maps it: a tensor-based schema gives one input per tensor
// spec (its name, or "input-N"; fed as one ndarray, or a dict of them when
// named); a column-based schema gives one input per column of shape [-1, 1]
// (BYTES for string, binary and datetime columns), fed as a pandas
// DataFrame. Outputs follow the output schema ("predict" for a single
// unnamed one). A model without a signature is refused: there is nothing to
// build a V2 signature from.
//
// Thread-safety: Infer is thread-safe; the model owns its workers and stops
// them (SIGTERM, then SIGKILL) when destroyed.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/serving/model.h"

namespace ferry::serving::python {

struct PythonRuntimeOptions {
  // The interpreter, looked up on PATH when it has no '/'. Its environment
  // must have mlflow and the model's own dependencies.
  std::string python = "python3";
  int workers = 2;
  // Requests waiting for a busy worker beyond these are refused at once.
  int max_queued_requests = 64;
  // From taking a worker to the last byte of its answer.
  std::chrono::milliseconds request_timeout{60'000};
  // For every worker to import mlflow and load the model.
  std::chrono::milliseconds load_timeout{300'000};
  // Where the worker script is written; a private temporary folder when
  // empty.
  std::string work_dir;
};

// True when `path` is a folder holding an MLmodel file.
bool IsPyfuncModelDir(const std::string& path);

// The V2 signature of the model whose MLmodel text is `mlmodel`, and the
// worker's config (how tensors map to the pyfunc's inputs and outputs).
// InvalidArgument naming what is missing or unsupported.
struct PyfuncSignature {
  ModelSignature signature;
  Json worker_config;
};
Result<PyfuncSignature> ParsePyfuncSignature(std::string_view mlmodel);

// Loads `model_dir` for model `name` (used in log lines and errors):
// starts the workers and waits until each has loaded the model.
// InvalidArgument for a folder that is not a pyfunc model with a signature,
// FailedPrecondition when the interpreter cannot run or a worker cannot
// load the model (with the worker's error and its last stderr lines).
Result<std::shared_ptr<const Model>> LoadPyfuncModel(const std::string& model_dir, std::string_view name,
                                                     const PythonRuntimeOptions& options);

}  // namespace ferry::serving::python
