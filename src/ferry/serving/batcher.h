#pragma once
// Dynamic batching, as Triton's dynamic_batching and KServe's batcher:
// BatchingModel wraps a Model whose signature batches (max_batch_size > 0,
// leading dimension -1) and gathers concurrent requests into one execution
// of up to max_batch_size rows, waiting at most max_queue_delay for company;
// each caller gets its own rows of the outputs back.
//
// The queue is bounded (max_queue_rows): a request that would exceed it is
// refused at once with ResourceExhausted "model 'x' queue is full (N rows
// waiting); retry later", which the front ends answer 429 with Retry-After
// (HTTP) or RESOURCE_EXHAUSTED (gRPC) — overload never grows memory. A
// request whose own batch is larger than max_batch_size runs alone.
// Requests are batched only with requests asking for the same outputs
// with the same non-batch dimensions. When a batched execution fails with
// InvalidArgument (one request's bad value), its requests are run again
// one by one, so only the bad request gets the error. Destroying the model
// answers requests still queued with Unavailable and joins the thread.
//
// Thread-safety: Infer is thread-safe (it blocks the caller until its rows
// are done); one executor thread per BatchingModel runs the batches.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "ferry/serving/model.h"

namespace ferry::serving {

struct BatchingOptions {
  std::int64_t max_batch_size = 64;                // rows per execution
  std::chrono::microseconds max_queue_delay{100};  // Triton's max_queue_delay_microseconds
  std::int64_t max_queue_rows = 4096;
  std::string model_name;  // for messages ("model 'x' queue is full ...")
};

// Timings of the last Infer on this thread, for the statistics extension
// and the metrics (queue time, the batch it ran in).
// batch_rows is 0 when the last Infer did not go through a batcher (see
// ClearBatchTrace). Exactly one request of each execution is its leader,
// so that per-request accounting counts every execution once.
struct BatchTrace {
  std::int64_t queue_ns = 0;
  std::int64_t batch_rows = 0;
  bool leader = false;
};
const BatchTrace& LastBatchTrace();
// Resets this thread's trace, before an Infer that may or may not batch.
void ClearBatchTrace();

// InvalidArgument when `inner` does not batch or the options are out of
// range (max_batch_size < 1 or above the model's, a delay outside [0, 60 s],
// max_queue_rows < max_batch_size). A model batches when its signature says
// so and every input and output has a variable first dimension (outputs
// are split back by rows).
Result<std::shared_ptr<const Model>> MakeBatchingModel(std::shared_ptr<const Model> inner,
                                                       BatchingOptions options);

}  // namespace ferry::serving
