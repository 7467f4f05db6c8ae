// simdjson's DOM parser (runtime-dispatched to the machine's best kernel)
// fills a flat tape without allocating per value; the body is read straight
// off the tape into the batch.
#include "ferry/api/routes/mlflow/log_batch_fast.h"

#include <simdjson.h>

namespace ferry::api::mlflow {
namespace {

using simdjson::SUCCESS;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::object;

constexpr std::size_t kMaxFastBody = 1 << 20;

// A string, or null (absent); false for anything else.
bool OptionalString(element value, std::string* out) {
  if (value.is_null()) return true;
  std::string_view text;
  if (value.get_string().get(text) != SUCCESS) return false;
  out->assign(text);
  return true;
}

bool NonEmptyString(element value, std::string* out) {
  std::string_view text;
  if (value.get_string().get(text) != SUCCESS || text.empty()) return false;
  out->assign(text);
  return true;
}

bool ParseMetric(element e, tracking::Metric* m) {
  object fields;
  if (e.get_object().get(fields) != SUCCESS) return false;
  unsigned seen = 0;
  std::string ignored;
  for (auto [name, value] : fields) {
    unsigned bit;
    bool ok;
    if (name == "key") {
      bit = 1;
      ok = NonEmptyString(value, &m->key);
    } else if (name == "value") {
      bit = 2;
      ok = value.get_double().get(m->value) == SUCCESS;
    } else if (name == "timestamp") {
      bit = 4;
      ok = value.get_int64().get(m->timestamp) == SUCCESS;
    } else if (name == "step") {
      bit = 8;
      ok = value.get_int64().get(m->step) == SUCCESS;
    } else if (name == "model_id") {
      bit = 16;
      ok = OptionalString(value, &m->model_id);
    } else if (name == "dataset_name") {
      bit = 32;
      ok = OptionalString(value, &m->dataset_name);
    } else if (name == "dataset_digest") {
      bit = 64;
      ok = OptionalString(value, &m->dataset_digest);
    } else if (name == "run_id") {  // the general path ignores it too
      bit = 128;
      ok = OptionalString(value, &ignored);
    } else {
      return false;
    }
    if (!ok || (seen & bit) != 0) return false;
    seen |= bit;
  }
  return (seen & 7) == 7;
}

template <typename T>
bool ParseKeyValues(element e, std::vector<T>* out) {
  array items;
  if (e.get_array().get(items) != SUCCESS) return false;
  out->reserve(items.size());
  for (element item : items) {
    object fields;
    if (item.get_object().get(fields) != SUCCESS) return false;
    T& kv = out->emplace_back();
    unsigned seen = 0;
    for (auto [name, value] : fields) {
      if (name == "key" && (seen & 1) == 0) {
        if (!NonEmptyString(value, &kv.key)) return false;
        seen |= 1;
      } else if (name == "value" && (seen & 2) == 0) {
        if (!OptionalString(value, &kv.value)) return false;
        seen |= 2;
      } else {
        return false;
      }
    }
    if ((seen & 1) == 0) return false;
  }
  return true;
}

}  // namespace

std::optional<LogBatchBody> ParseLogBatchFast(std::string_view body, std::size_t capacity) {
  // Each handler thread's parser keeps the capacity of the largest body it
  // saw; bodies beyond any plain batch take the general path instead.
  if (body.size() > kMaxFastBody) return std::nullopt;
  thread_local simdjson::dom::parser parser;
  element root;
  const bool padded = capacity >= body.size() + simdjson::SIMDJSON_PADDING;
  if (parser.parse(body.data(), body.size(), !padded).get(root) != SUCCESS) return std::nullopt;
  object top;
  if (root.get_object().get(top) != SUCCESS) return std::nullopt;
  LogBatchBody out;
  unsigned seen = 0;
  for (auto [name, value] : top) {
    unsigned bit;
    bool ok = true;
    if (name == "run_id") {
      bit = 1;
      ok = NonEmptyString(value, &out.run_id);
    } else if (name == "metrics") {
      bit = 2;
      array items;
      ok = value.get_array().get(items) == SUCCESS;
      if (ok) {
        out.metrics.reserve(items.size());
        for (element item : items) {
          if (!ParseMetric(item, &out.metrics.emplace_back())) {
            ok = false;
            break;
          }
        }
      }
    } else if (name == "params") {
      bit = 4;
      ok = ParseKeyValues(value, &out.params);
    } else if (name == "tags") {
      bit = 8;
      ok = ParseKeyValues(value, &out.tags);
    } else {
      return std::nullopt;
    }
    if (!ok || (seen & bit) != 0) return std::nullopt;
    seen |= bit;
  }
  if ((seen & 1) == 0) return std::nullopt;
  return out;
}

}  // namespace ferry::api::mlflow
