#pragma once
// BatchingModel, the Model that MakeBatchingModel returns, visible to its
// tests (which stop it with requests queued). Everything else uses
// MakeBatchingModel.
//
// Thread-safety: Infer and Stop are thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ferry/serving/batcher.h"
#include "ferry/serving/model.h"

namespace ferry::serving {

class BatchingModel final : public Model {
 public:
  // `options` checked by MakeBatchingModel. Starts the executor thread.
  BatchingModel(std::shared_ptr<const Model> inner, BatchingOptions options);
  ~BatchingModel() override;

  // The inner model's signature: a request larger than max_batch_size is
  // still accepted and runs alone.
  const ModelSignature& signature() const override { return inner_->signature(); }

  Result<std::vector<protocol::Tensor>> Infer(const std::vector<protocol::Tensor>& inputs,
                                              const std::vector<std::string>& outputs) const override;

  // Answers every queued request Unavailable, lets the running execution
  // finish, joins the executor; later Infer calls are Unavailable.
  // Idempotent.
  void Stop();

  // For tests, which wait for requests to queue behind a held execution.
  std::size_t queued_requests() const;
  bool stopping() const;

 private:
  struct Pending;

  void RunExecutor();
  // The requests the next execution takes with `oldest` (which comes
  // first), in queue order; `full` when nothing queued could join.
  std::vector<Pending*> SelectBatch(const Pending& oldest, bool* full) const;
  void Execute(const std::vector<Pending*>& batch) const;
  void ExecuteAlone(Pending& request) const;

  std::shared_ptr<const Model> inner_;
  BatchingOptions options_;
  std::vector<std::string> all_outputs_;  // the signature's, for requests naming none

  mutable std::mutex mu_;
  mutable std::condition_variable work_cv_;  // the executor's: work arrived or stop
  mutable std::deque<Pending*> queue_;       // oldest first; owned by the waiting callers
  mutable std::int64_t queued_rows_ = 0;
  bool stopping_ = false;
  std::thread executor_;
};

}  // namespace ferry::serving
