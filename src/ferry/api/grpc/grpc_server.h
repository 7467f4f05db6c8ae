#pragma once
// GrpcServer: `ferry serve`'s gRPC front end, the Open Inference Protocol
// service `inference.GRPCInferenceService` as Triton defines it
// (grpc_service.proto beside this file), so tritonclient.grpc and
// perf_analyzer -i grpc work unmodified. Like the REST front end it calls
// only serving::InferenceService and its ModelRepository.
//
// Built on gRPC's callback API with one generic (byte-buffer) service: each
// call's reactor parses its request itself, so a malformed message is
// INVALID_ARGUMENT naming the message type (gRPC's typed handlers would
// answer INTERNAL with no message), and methods Ferry does not implement
// (shared memory, trace and log settings) are UNIMPLEMENTED naming the
// method. Cheap methods (health, metadata, index, statistics) run inline on
// gRPC's threads, and so does inference unless `threads` asks for a worker
// pool (as the REST front end's --infer-threads: inline is fastest for
// native models, a pool keeps slow models from holding gRPC's threads);
// repository loads and unloads, which take seconds, always run on the pool.
// ModelStreamInfer answers each request in order, errors in error_message.
//
// Thread-safety: thread-safe; Shutdown() may be called from any thread but
// not from a handler.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "ferry/common/status.h"
#include "ferry/serving/inference_service.h"

namespace ferry::api::grpc {

struct GrpcOptions {
  // "HOST:PORT"; port 0 picks a free port (see address()).
  std::string listen;
  // Inference workers; 0: inference runs inline on gRPC's threads.
  int threads = 0;
  // The largest request and response message; beyond it gRPC answers
  // RESOURCE_EXHAUSTED.
  std::size_t max_message_bytes = 64 << 20;
  // Server readiness beyond the process being up (ServerReady), as the REST
  // front end's InferenceRouteOptions::ready; unset: always ready.
  std::function<bool()> ready;
};

class GrpcServer {
 public:
  // Binds `options.listen` and starts serving `service` (not owned; must
  // outlive the server). InvalidArgument for a malformed listen address or
  // option, Unavailable when the address cannot be bound (in use: the
  // server does not share ports through SO_REUSEPORT).
  static Result<std::unique_ptr<GrpcServer>> Start(const GrpcOptions& options,
                                                   serving::InferenceService* service);
  ~GrpcServer();  // Shutdown() if still running
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // "HOST:PORT" with the bound port.
  std::string address() const;

  // Stops accepting calls, lets calls in flight finish for up to a few
  // seconds, then cancels the rest (open streams) and stops the workers.
  // ServerReady answers false from the moment it is called. Idempotent.
  void Shutdown();

  struct Impl;  // grpc_server.cc

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::api::grpc
