#include "ferry/server/serve.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ferry/api/errors.h"
#include "ferry/api/grpc/grpc_server.h"
#include "ferry/api/http_server.h"
#include "ferry/api/process_metrics.h"
#include "ferry/api/router.h"
#include "ferry/api/routes/inference/routes.h"
#include "ferry/common/env.h"
#include "ferry/common/logging.h"
#include "ferry/common/metrics.h"
#include "ferry/serving/batcher.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/model_metrics.h"
#include "ferry/serving/model_repository.h"
#include "ferry/serving/protocol/infer.h"
#include "ferry/server/process.h"

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.0.0-dev"
#endif

namespace ferry::server {
namespace {

struct ServeOptions {
  std::string model_repository;
  std::vector<std::string> models;  // NAME=PATH
  std::string listen = "127.0.0.1:8000";
  std::string grpc_listen;
  int threads = 0;
  int infer_threads = 0;
  std::size_t max_body_bytes = std::size_t{64} << 20;
  double drain_timeout_seconds = 10;
  std::string log_level = "info";
  std::string log_format = "text";
  std::string ready_file;  // written "host:port\n" once every front end listens
  // The Python runtime (MLflow pyfunc model folders).
  std::string python = "python3";
  int python_workers = 2;
  // Dynamic batching, off when max_batch_size is 0.
  int64_t max_batch_size = 0;
  int64_t max_queue_delay_us = 100;
  int64_t max_queue_rows = 4096;
};

// Parses the options; returns the exit code when the process should stop
// here (--help, usage errors).
std::optional<int> ParseServeOptions(int argc, char** argv, ServeOptions& o) {
  CLI::App app{"Serve models over the Open Inference Protocol (KServe V2 REST and gRPC, KServe V1).",
               "ferry serve"};
  app.get_formatter()->column_width(34);
  app.add_option("--model-repository", o.model_repository,
                 "Triton-layout model repository: DIR/<model>/<version>/model.onnx; every model in it is loaded")
      ->envname("FERRY_MODEL_REPOSITORY");
  app.add_option("--model", o.models, "A model from one file, as NAME=PATH (version 1); repeatable")
      ->take_all();
  app.add_option("--listen", o.listen, "HTTP address, host:port (port 0 picks a free port)")
      ->envname("FERRY_SERVE_LISTEN")
      ->capture_default_str();
  app.add_option("--grpc-listen", o.grpc_listen, "gRPC address, host:port; no gRPC when empty")
      ->envname("FERRY_GRPC_LISTEN");
  app.add_option("--threads", o.threads, "HTTP I/O threads (0: one per core, at least 2)")
      ->envname("FERRY_THREADS")
      ->check(CLI::Range(0, 256))
      ->capture_default_str();
  app.add_option("--infer-threads", o.infer_threads,
                 "0: run inference on the I/O threads (fastest for native models); N: on a pool of N "
                 "threads, for models slow enough to hold an I/O thread up")
      ->envname("FERRY_INFER_THREADS")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--max-body-bytes", o.max_body_bytes, "Largest request body accepted (413 beyond)")
      ->envname("FERRY_MAX_BODY_BYTES")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 34))
      ->capture_default_str();
  app.add_option("--drain-timeout", o.drain_timeout_seconds,
                 "Seconds to let in-flight requests finish on SIGTERM")
      ->envname("FERRY_DRAIN_TIMEOUT")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  app.add_option("--ready-file", o.ready_file,
                 "Once the models are loaded and every front end listens, write the bound HTTP "
                 "address (host:port) to this file (atomically: PATH.tmp, then rename)");
  app.add_option("--max-batch-size", o.max_batch_size,
                 "Dynamic batching: gather concurrent requests into executions of up to N rows (0: off)")
      ->envname("FERRY_MAX_BATCH_SIZE")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-queue-delay-us", o.max_queue_delay_us,
                 "Dynamic batching: longest the oldest queued request waits for company, in microseconds")
      ->envname("FERRY_MAX_QUEUE_DELAY_US")
      ->check(CLI::Range(int64_t{0}, int64_t{60'000'000}))
      ->capture_default_str();
  app.add_option("--max-queue-rows", o.max_queue_rows,
                 "Dynamic batching: rows a model's queue holds; beyond, 429 with Retry-After")
      ->envname("FERRY_MAX_QUEUE_ROWS")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--python", o.python,
                 "Interpreter for MLflow pyfunc models (folders with an MLmodel file); its environment needs "
                 "mlflow and the models' dependencies")
      ->envname("FERRY_PYTHON")
      ->capture_default_str();
  app.add_option("--python-workers", o.python_workers, "Worker processes per pyfunc model")
      ->envname("FERRY_PYTHON_WORKERS")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  AddLoggingOptions(app, o.log_level, o.log_format);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return UsageExitCode(app, e);
  }
  if (o.model_repository.empty() && o.models.empty()) {
    std::cerr << "ferry serve: give --model-repository DIR or --model NAME=PATH\n";
    return 2;
  }
  for (const std::string& model : o.models) {
    const std::size_t eq = model.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == model.size()) {
      std::cerr << "ferry serve: --model " << model << ": expected NAME=PATH\n";
      return 2;
    }
  }
  if (o.max_batch_size > 0 && o.max_queue_rows < o.max_batch_size) {
    std::cerr << "ferry serve: --max-queue-rows " << o.max_queue_rows << " is smaller than --max-batch-size "
              << o.max_batch_size << "\n";
    return 2;
  }
  // Batching gathers concurrent requests, each holding its thread while it
  // waits: inline on the few I/O threads, it would gather only a couple.
  if (o.max_batch_size > 0 && o.infer_threads == 0)
    o.infer_threads = static_cast<int>(std::clamp<int64_t>(2 * o.max_batch_size, 16, 1024));
  return std::nullopt;
}

// Writes "address\n" to PATH.tmp and renames it to PATH, so a reader never
// sees a partial address.
Status WriteReadyFile(const std::string& path, const std::string& address) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return Unavailable("--ready-file: cannot create " + tmp + ": " + std::strerror(errno));
  const std::string line = address + "\n";
  const bool written = std::fwrite(line.data(), 1, line.size(), f) == line.size();
  if (std::fclose(f) != 0 || !written) return Unavailable("--ready-file: cannot write " + tmp);
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return Unavailable("--ready-file: cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  return Status();
}

// Every version loaded gets its metrics' label set and, with
// --max-batch-size, a batcher. A model that cannot batch (a fixed first
// dimension) is served unbatched, and the log says why.
serving::ModelRepository::ModelWrapper MakeModelWrapper(const ServeOptions& o, serving::ModelMetrics* metrics) {
  return [o, metrics](std::string_view name, std::string_view version,
                      std::shared_ptr<const serving::Model> model) -> Result<std::shared_ptr<const serving::Model>> {
    metrics->AddVersion(name, version);
    if (o.max_batch_size == 0) return model;
    const int64_t own_limit = model->signature().max_batch_size;
    serving::BatchingOptions batching;
    batching.max_batch_size = own_limit > 0 ? std::min(o.max_batch_size, own_limit) : o.max_batch_size;
    batching.max_queue_delay = std::chrono::microseconds(o.max_queue_delay_us);
    batching.max_queue_rows = o.max_queue_rows;
    batching.model_name = std::string(name);
    auto batched = serving::MakeBatchingModel(model, batching);
    if (!batched.ok()) {
      LogEvent(spdlog::level::warn, "model served without batching",
               {{"model", name}, {"version", version}, {"reason", batched.status().message()}});
      return model;
    }
    return batched;
  };
}

int Fail(const Status& status) {
  LogEvent(spdlog::level::err, "ferry serve failed to start", {{"error", status.message()}});
  spdlog::default_logger_raw()->flush();
  std::cerr << "ferry serve: " << status.message() << "\n";
  return 1;
}

}  // namespace

int ServeMain(int argc, char** argv) {
  ServeOptions options;
  if (auto exit_code = ParseServeOptions(argc, argv, options)) return *exit_code;

  ShutdownSignals signals;  // before any thread starts
  InitLoggingFromOptions(options.log_level, options.log_format);

  MetricsRegistry metrics;
  try {
    api::RegisterProcessMetrics(&metrics);
  } catch (const std::exception& e) {
    return Fail(Internal(std::string("cannot register process metrics: ") + e.what()));
  }
  auto model_metrics = serving::ModelMetrics::Create(&metrics);
  if (!model_metrics.ok()) return Fail(model_metrics.status());

  // A model that does not load stops the start (as Triton's
  // --exit-on-error): a serving process that silently lacks a model would
  // pass its health checks and fail its clients.
  serving::RuntimeOptions runtime_options;
  runtime_options.python.python = options.python;
  runtime_options.python.workers = options.python_workers;
  serving::ModelRepository repository(options.model_repository, runtime_options);
  repository.SetModelWrapper(MakeModelWrapper(options, model_metrics->get()));
  if (Status st = repository.LoadAll(); !st.ok()) return Fail(st);
  for (const std::string& model : options.models) {
    const std::size_t eq = model.find('=');
    if (Status st = repository.AddModelFile(model.substr(0, eq), model.substr(eq + 1)); !st.ok())
      return Fail(st.WithContext("--model " + model));
  }
  serving::InferenceService service(&repository, Env::Default(), model_metrics->get());

  std::atomic<bool> draining{false};
  api::Router router;
  api::inference::InferenceRouteOptions route_options;
  route_options.server_version = FERRY_VERSION;
  route_options.infer_inline = options.infer_threads == 0;
  route_options.ready = [&draining] { return !draining.load(); };
  route_options.metrics = &metrics;
  if (Status st = api::inference::AddInferenceRoutes(router, &service, route_options); !st.ok()) return Fail(st);

  api::ApiOptions http_options;
  http_options.listen = options.listen;
  http_options.max_body_bytes = options.max_body_bytes;
  http_options.threads = options.threads;
  http_options.handler_threads = options.infer_threads;
  http_options.version = FERRY_VERSION;
  http_options.log_requests = false;
  // Even the transport's own errors (413, 404, overload) in V2's shape.
  http_options.error_body = [](const api::ApiError& error) {
    return serving::protocol::EncodeError(error.message);
  };
  auto http = api::HttpServer::Start(http_options, &router, &metrics, Env::Default());
  if (!http.ok()) return Fail(http.status());

  std::unique_ptr<api::grpc::GrpcServer> grpc;
  if (!options.grpc_listen.empty()) {
    api::grpc::GrpcOptions grpc_options;
    grpc_options.listen = options.grpc_listen;
    grpc_options.threads = options.infer_threads;
    grpc_options.max_message_bytes = options.max_body_bytes;
    grpc_options.ready = route_options.ready;
    auto started = api::grpc::GrpcServer::Start(grpc_options, &service);
    if (!started.ok()) return Fail(started.status().WithContext("--grpc-listen"));
    grpc = std::move(started).value();
    std::printf("ferry serve: grpc listening on %s\n", grpc->address().c_str());
  }

  const std::size_t model_count = repository.ReadyModelCount();
  LogEvent(spdlog::level::info, "ferry serve ready",
           {{"url", (*http)->url()},
            {"grpc", grpc ? grpc->address() : ""},
            {"version", FERRY_VERSION},
            {"models", model_count},
            {"model_repository", options.model_repository}});
  std::printf("ferry serve: listening on %s (%zu model%s)\n", (*http)->url().c_str(), model_count,
              model_count == 1 ? "" : "s");
  std::fflush(stdout);
  // Last, so whoever waits on the file (the DeploymentController) may route
  // to this process as soon as the file appears.
  if (!options.ready_file.empty()) {
    std::string address = (*http)->url();
    if (address.starts_with("http://")) address.erase(0, 7);
    if (Status st = WriteReadyFile(options.ready_file, address); !st.ok()) return Fail(st);
  }

  LogEvent(spdlog::level::info, "shutting down", {{"signal", signals.Wait()}});
  draining = true;
  if (grpc) grpc->Shutdown();
  (*http)->Shutdown(std::chrono::milliseconds(static_cast<long>(options.drain_timeout_seconds * 1000)));
  LogEvent(spdlog::level::info, "ferry serve stopped");
  spdlog::default_logger_raw()->flush();
  return 0;
}

}  // namespace ferry::server
