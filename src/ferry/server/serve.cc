#include "ferry/server/serve.h"

#include <atomic>
#include <chrono>
#include <cstdio>
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
#include "ferry/serving/inference_service.h"
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
  return std::nullopt;
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

  // A model that does not load stops the start (as Triton's
  // --exit-on-error): a serving process that silently lacks a model would
  // pass its health checks and fail its clients.
  serving::ModelRepository repository(options.model_repository);
  if (Status st = repository.LoadAll(); !st.ok()) return Fail(st);
  for (const std::string& model : options.models) {
    const std::size_t eq = model.find('=');
    if (Status st = repository.AddModelFile(model.substr(0, eq), model.substr(eq + 1)); !st.ok())
      return Fail(st.WithContext("--model " + model));
  }
  serving::InferenceService service(&repository);

  MetricsRegistry metrics;
  try {
    api::RegisterProcessMetrics(&metrics);
  } catch (const std::exception& e) {
    return Fail(Internal(std::string("cannot register process metrics: ") + e.what()));
  }
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

  LogEvent(spdlog::level::info, "shutting down", {{"signal", signals.Wait()}});
  draining = true;
  if (grpc) grpc->Shutdown();
  (*http)->Shutdown(std::chrono::milliseconds(static_cast<long>(options.drain_timeout_seconds * 1000)));
  LogEvent(spdlog::level::info, "ferry serve stopped");
  spdlog::default_logger_raw()->flush();
  return 0;
}

}  // namespace ferry::server
