#include "ferry/serving/batcher.h"

#include <algorithm>
#include <utility>

#include "ferry/common/logging.h"
#include "ferry/common/strings.h"
#include "ferry/serving/batcher_internal.h"
#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving {
namespace {

using protocol::Tensor;
using Clock = std::chrono::steady_clock;

// A delay beyond a minute is a unit mistake (ms or s for µs), not a policy.
constexpr std::chrono::microseconds kMaxQueueDelay = std::chrono::seconds(60);

thread_local BatchTrace this_thread_trace;

// The tensors of one request in the inner signature's input order, and the
// key that says which requests may share an execution: same outputs, same
// datatypes, same non-batch dimensions.
Status ArrangeInputs(const ModelSignature& signature, const std::vector<Tensor>& inputs,
                     const std::vector<std::string>& outputs, std::vector<const Tensor*>* arranged,
                     int64_t* rows, std::string* key) {
  arranged->clear();
  *rows = -1;
  key->clear();
  if (inputs.size() != signature.inputs.size())
    return InvalidArgument("expected " + std::to_string(signature.inputs.size()) + " inputs, got " +
                           std::to_string(inputs.size()));
  for (const protocol::TensorSpec& spec : signature.inputs) {
    const Tensor* found = nullptr;
    for (const Tensor& t : inputs)
      if (t.name == spec.name) found = &t;
    if (found == nullptr) return InvalidArgument("missing input " + QuoteForMessage(spec.name));
    if (found->shape.empty())
      return InvalidArgument("input " + QuoteForMessage(spec.name) + " has no batch dimension");
    if (*rows >= 0 && found->shape[0] != *rows)
      return InvalidArgument("input " + QuoteForMessage(spec.name) + ": batch size " +
                             std::to_string(found->shape[0]) + " differs from the other inputs' " +
                             std::to_string(*rows));
    *rows = found->shape[0];
    arranged->push_back(found);
    *key += std::to_string(static_cast<int>(found->datatype));
    for (std::size_t i = 1; i < found->shape.size(); ++i) *key += "," + std::to_string(found->shape[i]);
    *key += ';';
  }
  *key += '|';
  for (const std::string& name : outputs) {
    *key += name;
    *key += '\0';
  }
  return Status::OK();
}

// The byte offset where each row of `t` starts, plus the end: rows + 1
// offsets. FailedPrecondition when the first dimension is not `rows`.
Result<std::vector<std::size_t>> RowOffsets(const Tensor& t, int64_t rows) {
  if (t.shape.empty() || t.shape[0] != rows)
    return FailedPrecondition("output " + QuoteForMessage(t.name) + " has shape " +
                              protocol::FormatShape(t.shape) + ", not " + std::to_string(rows) +
                              " rows first");
  std::vector<int64_t> row_shape(t.shape.begin() + 1, t.shape.end());
  ASSIGN_OR_RETURN(int64_t per_row, protocol::ElementCount(row_shape));
  std::vector<std::size_t> offsets;
  offsets.reserve(static_cast<std::size_t>(rows) + 1);
  if (t.datatype != protocol::DataType::kBytes) {
    const std::size_t row_bytes = static_cast<std::size_t>(per_row) * protocol::ElementSize(t.datatype);
    if (row_bytes * static_cast<std::size_t>(rows) != t.data.size())
      return Internal("output " + QuoteForMessage(t.name) + " holds " + std::to_string(t.data.size()) +
                      " bytes, not the " + std::to_string(row_bytes * static_cast<std::size_t>(rows)) +
                      " its shape needs");
    for (int64_t r = 0; r <= rows; ++r) offsets.push_back(static_cast<std::size_t>(r) * row_bytes);
    return offsets;
  }
  // BYTES elements vary in length: walk the length prefixes.
  ASSIGN_OR_RETURN(std::vector<std::string_view> elements, protocol::BytesElements(t));
  if (static_cast<int64_t>(elements.size()) != rows * per_row)
    return Internal("output " + QuoteForMessage(t.name) + " holds " + std::to_string(elements.size()) +
                    " elements, not the " + std::to_string(rows * per_row) + " its shape needs");
  for (int64_t r = 0; r < rows; ++r) {
    const std::size_t first = static_cast<std::size_t>(r * per_row);
    // Each element's 4-byte length prefix sits right before its bytes.
    offsets.push_back(first < elements.size()
                          ? static_cast<std::size_t>(elements[first].data() - t.data.data()) - 4
                          : t.data.size());
  }
  offsets.push_back(t.data.size());
  return offsets;
}

}  // namespace

const BatchTrace& LastBatchTrace() { return this_thread_trace; }

void ClearBatchTrace() { this_thread_trace = {}; }

// One caller's request, on the caller's stack while it waits.
struct BatchingModel::Pending {
  const std::vector<Tensor>* request_inputs = nullptr;  // as the caller gave them
  std::vector<const Tensor*> inputs;                     // in the signature's order
  std::vector<std::string> outputs;   // explicit, never empty
  std::string key;
  int64_t rows = 0;
  Clock::time_point enqueued;
  // Set by the executor; `done` under mu_.
  bool done = false;
  Result<std::vector<Tensor>> result = Internal("not run");
  BatchTrace trace;
  std::condition_variable cv;
};

BatchingModel::BatchingModel(std::shared_ptr<const Model> inner, BatchingOptions options)
    : inner_(std::move(inner)), options_(std::move(options)) {
  for (const protocol::TensorSpec& spec : inner_->signature().outputs) all_outputs_.push_back(spec.name);
  executor_ = std::thread([this] { RunExecutor(); });
}

BatchingModel::~BatchingModel() { Stop(); }

void BatchingModel::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (executor_.joinable()) executor_.join();
}

std::size_t BatchingModel::queued_requests() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool BatchingModel::stopping() const {
  std::lock_guard lock(mu_);
  return stopping_;
}

Result<std::vector<Tensor>> BatchingModel::Infer(const std::vector<Tensor>& inputs,
                                                 const std::vector<std::string>& outputs) const {
  this_thread_trace = {};
  Pending request;
  request.request_inputs = &inputs;
  request.outputs = outputs.empty() ? all_outputs_ : outputs;
  RETURN_IF_ERROR(
      ArrangeInputs(inner_->signature(), inputs, request.outputs, &request.inputs, &request.rows, &request.key));
  std::unique_lock lock(mu_);
  if (stopping_) return Unavailable("model " + QuoteForMessage(options_.model_name) + " is shutting down");
  // An empty queue admits any request, so one larger than the bound is not
  // refused forever; it runs alone.
  if (queued_rows_ > 0 && queued_rows_ + request.rows > options_.max_queue_rows)
    return ResourceExhausted("model " + QuoteForMessage(options_.model_name) + " queue is full (" +
                             std::to_string(queued_rows_) + " rows waiting); retry later");
  request.enqueued = Clock::now();
  queue_.push_back(&request);
  queued_rows_ += request.rows;
  work_cv_.notify_one();
  request.cv.wait(lock, [&request] { return request.done; });
  lock.unlock();
  this_thread_trace = request.trace;
  return std::move(request.result);
}

std::vector<BatchingModel::Pending*> BatchingModel::SelectBatch(const Pending& oldest, bool* full) const {
  std::vector<Pending*> batch;
  int64_t rows = 0;
  *full = false;
  for (Pending* p : queue_) {
    if (p != &oldest && p->key != oldest.key) continue;
    if (!batch.empty() && rows + p->rows > options_.max_batch_size) {
      // It cannot join, so waiting longer cannot grow this execution past
      // it (Triton sends the batch at once then, too).
      *full = true;
      continue;
    }
    batch.push_back(p);
    rows += p->rows;
    if (rows >= options_.max_batch_size) {
      *full = true;
      break;
    }
  }
  return batch;
}

void BatchingModel::RunExecutor() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    // The oldest request's delay bounds the wait; the queue is popped only
    // here, so it stays the oldest while this thread waits.
    const Pending& oldest = *queue_.front();
    const Clock::time_point deadline = oldest.enqueued + options_.max_queue_delay;
    bool full = false;
    std::vector<Pending*> batch = SelectBatch(oldest, &full);
    while (!stopping_ && !full && Clock::now() < deadline) {
      work_cv_.wait_until(lock, deadline);
      batch = SelectBatch(oldest, &full);
    }
    if (stopping_) break;
    for (Pending* p : batch) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), p));
      queued_rows_ -= p->rows;
    }
    lock.unlock();
    Execute(batch);
    lock.lock();
    for (Pending* p : batch) {
      p->done = true;
      p->cv.notify_one();  // under mu_: the caller cannot wake and unwind before this returns
    }
  }
  for (Pending* p : queue_) {
    p->result = Unavailable("model " + QuoteForMessage(options_.model_name) +
                            " is shutting down; the request was not run");
    p->done = true;
    p->cv.notify_one();
  }
  queue_.clear();
  queued_rows_ = 0;
}

void BatchingModel::ExecuteAlone(Pending& request) const {
  request.result = inner_->Infer(*request.request_inputs, request.outputs);
}

void BatchingModel::Execute(const std::vector<Pending*>& batch) const {
  const Clock::time_point start = Clock::now();
  int64_t total = 0;
  for (const Pending* p : batch) total += p->rows;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i]->trace.queue_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(start - batch[i]->enqueued).count();
    batch[i]->trace.batch_rows = total;
    batch[i]->trace.leader = i == 0;
  }
  if (batch.size() == 1) {
    ExecuteAlone(*batch[0]);
    return;
  }

  // Concatenate every input along dim 0; the key guarantees equal
  // datatypes and trailing dimensions, and the data are already in the
  // row-major wire layout (BYTES included), so rows are appended bytes.
  const Pending& first = *batch[0];
  std::vector<Tensor> inputs(first.inputs.size());
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].name = first.inputs[i]->name;
    inputs[i].datatype = first.inputs[i]->datatype;
    inputs[i].shape = first.inputs[i]->shape;
    inputs[i].shape[0] = total;
    std::size_t bytes = 0;
    for (const Pending* p : batch) bytes += p->inputs[i]->data.size();
    inputs[i].data.reserve(bytes);
    for (const Pending* p : batch) inputs[i].data += p->inputs[i]->data;
  }
  Result<std::vector<Tensor>> outputs = inner_->Infer(inputs, first.outputs);
  inputs.clear();

  Status split_error;
  if (outputs.ok()) {
    std::vector<std::vector<Tensor>> answers(batch.size());
    for (const Tensor& out : *outputs) {
      auto offsets = RowOffsets(out, total);
      if (!offsets.ok()) {
        split_error = offsets.status();
        break;
      }
      int64_t row = 0;
      for (std::size_t b = 0; b < batch.size(); ++b) {
        Tensor part;
        part.name = out.name;
        part.datatype = out.datatype;
        part.shape = out.shape;
        part.shape[0] = batch[b]->rows;
        const std::size_t begin = (*offsets)[static_cast<std::size_t>(row)];
        const std::size_t end = (*offsets)[static_cast<std::size_t>(row + batch[b]->rows)];
        part.data.assign(out.data, begin, end - begin);
        answers[b].push_back(std::move(part));
        row += batch[b]->rows;
      }
    }
    if (split_error.ok()) {
      for (std::size_t b = 0; b < batch.size(); ++b) batch[b]->result = std::move(answers[b]);
      return;
    }
    LogEvent(spdlog::level::warn, "batched outputs cannot be split by rows; running requests one by one",
             {{"model", options_.model_name}, {"error", split_error.message()}});
  } else if (outputs.status().code() != StatusCode::kInvalidArgument) {
    for (Pending* p : batch) p->result = outputs.status();
    return;
  }
  // One request's bad value fails the whole execution (or the outputs are
  // not per row): run each alone so each gets its own answer.
  for (Pending* p : batch) {
    p->trace.batch_rows = p->rows;
    p->trace.leader = true;
    ExecuteAlone(*p);
  }
}

Result<std::shared_ptr<const Model>> MakeBatchingModel(std::shared_ptr<const Model> inner, BatchingOptions options) {
  if (inner == nullptr) return InvalidArgument("cannot batch a null model");
  const std::string who = "model " + QuoteForMessage(options.model_name);
  const ModelSignature& signature = inner->signature();
  if (signature.max_batch_size <= 0)
    return InvalidArgument(who + " does not batch (its max_batch_size is 0)", "max_batch_size");
  for (const protocol::TensorSpec& spec : signature.inputs) {
    if (spec.shape.empty() || spec.shape[0] != -1)
      return InvalidArgument(who + " cannot batch: input " + QuoteForMessage(spec.name) + " has shape " +
                                 protocol::FormatShape(spec.shape) + ", not a variable first dimension",
                             "max_batch_size");
  }
  for (const protocol::TensorSpec& spec : signature.outputs) {
    if (spec.shape.empty() || spec.shape[0] != -1)
      return InvalidArgument(who + " cannot batch: output " + QuoteForMessage(spec.name) + " has shape " +
                                 protocol::FormatShape(spec.shape) + ", so it cannot be split by rows",
                             "max_batch_size");
  }
  if (signature.inputs.empty()) return InvalidArgument(who + " cannot batch: it has no inputs", "max_batch_size");
  if (options.max_batch_size < 1)
    return InvalidArgument("max_batch_size must be at least 1, got " + std::to_string(options.max_batch_size),
                           "max_batch_size");
  if (options.max_batch_size > signature.max_batch_size)
    return InvalidArgument("max_batch_size " + std::to_string(options.max_batch_size) + " exceeds " + who +
                               "'s own limit of " + std::to_string(signature.max_batch_size),
                           "max_batch_size");
  if (options.max_queue_delay.count() < 0 || options.max_queue_delay > kMaxQueueDelay)
    return InvalidArgument("max_queue_delay must be between 0 and 60 s, got " +
                               std::to_string(options.max_queue_delay.count()) + " µs",
                           "max_queue_delay");
  if (options.max_queue_rows < options.max_batch_size)
    return InvalidArgument("max_queue_rows " + std::to_string(options.max_queue_rows) +
                               " is smaller than max_batch_size " + std::to_string(options.max_batch_size) +
                               ", so a full batch could never queue",
                           "max_queue_rows");
  return std::shared_ptr<const Model>(std::make_shared<BatchingModel>(std::move(inner), std::move(options)));
}

}  // namespace ferry::serving
