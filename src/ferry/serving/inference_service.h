#pragma once
// InferenceService: the in-process serving API that both protocol front
// ends (REST in api/routes/inference, gRPC in api/grpc) call, as Triton's
// HTTP and gRPC endpoints call only its in-process core: find the model,
// check the request against its signature, run it, apply the
// classification extension, count statistics.
//
// Thread-safety: thread-safe.

#include <cstdint>
#include <memory>
#include <string_view>

#include "ferry/common/env.h"
#include "ferry/common/status.h"
#include "ferry/serving/model_repository.h"
#include "ferry/serving/protocol/infer.h"

namespace ferry::serving {

class ModelMetrics;

class InferenceService {
 public:
  // `repository`, `env` (the clock of the statistics) and `metrics`
  // (per-model Prometheus metrics; none when null) are not owned.
  explicit InferenceService(ModelRepository* repository, Env* env = Env::Default(),
                            ModelMetrics* metrics = nullptr);

  ModelRepository& repository() { return *repository_; }

  // Runs `request` on model `name` at `version` (empty: newest). Errors:
  // NotFound for the model or version, InvalidArgument for the request
  // (named input, output or parameter), the runtime's own errors.
  Result<protocol::InferResponse> Infer(std::string_view name, std::string_view version,
                                        const protocol::InferRequest& request) const;

 private:
  ModelRepository* repository_;
  Env* env_;
  ModelMetrics* metrics_;
};

// The classification extension on one output: for each batch row (the
// whole tensor when `batched` is false) the `count` largest values as
// BYTES "value:index", best first. InvalidArgument for a BYTES output or a
// count below 1.
Result<protocol::Tensor> Classify(const protocol::Tensor& output, int64_t count, bool batched);

}  // namespace ferry::serving
