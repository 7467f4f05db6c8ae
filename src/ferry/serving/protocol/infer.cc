// The request decoders read simdjson's DOM tape straight into tensor
// buffers: one parse per body, no per-element allocation. The encoders
// write JSON by hand (std::to_chars for numbers) into one string.
#include "ferry/serving/protocol/infer.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>

#include "ferry/common/strings.h"
#include "ferry/serving/protocol/tensor_internal.h"

namespace ferry::serving::protocol {
namespace {

using simdjson::SUCCESS;
using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

constexpr std::size_t kMaxDepth = 64;
// Bodies up to this size parse with the calling thread's parser and buffer,
// which keep their capacity; larger ones get their own, freed afterwards.
// A parser holds about 14 bytes per input byte, so this bounds what each
// handler thread keeps to a few MiB.
constexpr std::size_t kScratchLimit = std::size_t{256} << 10;

// ---------------------------------------------------------------------------
// Parsing

// JSON has no NaN or Infinity, but Triton reads and writes them as bare
// words (RapidJSON's kParseNanAndInfFlag / kWriteNanAndInfFlag), and so do
// tritonclient and Python's json module. When simdjson refuses a body that
// holds them, they are rewritten outside strings to these strings (a NUL
// can only come from a "\u0000" escape) and the body is parsed again.
constexpr std::string_view kNanWord = std::string_view("\0NaN", 4);
constexpr std::string_view kInfWord = std::string_view("\0Infinity", 9);
constexpr std::string_view kNegInfWord = std::string_view("\0-Infinity", 10);

// The body with NaN/Infinity/-Infinity outside strings replaced; nullopt
// when there are none.
std::optional<std::string> RewriteNonFinite(std::string_view json) {
  std::string out;
  bool found = false;
  bool in_string = false;
  std::size_t copied = 0;
  for (std::size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    std::string_view word;
    std::string_view replacement;
    const std::string_view rest = json.substr(i);
    if (rest.starts_with("NaN")) {
      word = "NaN";
      replacement = "\"\\u0000NaN\"";
    } else if (rest.starts_with("Infinity")) {
      word = "Infinity";
      replacement = "\"\\u0000Infinity\"";
    } else if (rest.starts_with("-Infinity")) {
      word = "-Infinity";
      replacement = "\"\\u0000-Infinity\"";
    } else {
      continue;
    }
    found = true;
    out.append(json.substr(copied, i - copied));
    out.append(replacement);
    i += word.size() - 1;
    copied = i + 1;
  }
  if (!found) return std::nullopt;
  out.append(json.substr(copied));
  return out;
}

// A parser with its padded input buffer; the DOM it yields stays valid
// until its next parse.
struct JsonParser {
  simdjson::dom::parser parser;
  std::string padded;
};

Status ParseError(simdjson::error_code error, std::string_view what) {
  if (error == simdjson::DEPTH_ERROR) {
    return InvalidArgument(std::string(what) + ": JSON nesting deeper than " + std::to_string(kMaxDepth) +
                           " levels");
  }
  if (error == simdjson::NUMBER_ERROR) {
    return InvalidArgument(std::string(what) +
                           " is not valid JSON: a number is malformed or beyond the 64-bit integer range");
  }
  return InvalidArgument(std::string(what) + " is not valid JSON: " + simdjson::error_message(error));
}

simdjson::error_code ParseInto(JsonParser& p, std::string_view json, element* root) {
  // simdjson's depth counts the document itself: a value inside 64
  // containers needs 65.
  if (p.parser.capacity() == 0 || p.parser.max_depth() != kMaxDepth + 1) {
    if (auto e = p.parser.allocate(std::max<std::size_t>(json.size(), 4096), kMaxDepth + 1); e != SUCCESS) {
      return e;
    }
  }
  p.padded.resize(json.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(p.padded.data(), json.data(), json.size());
  return p.parser.parse(p.padded.data(), json.size(), false).get(*root);
}

// Parses `json` and calls fn(root, nonfinite) on it; `nonfinite` says that
// NaN/Infinity words were rewritten to the marker strings above.
template <typename Fn>
auto WithParsedJson(std::string_view json, std::string_view what, Fn&& fn) -> decltype(fn(element(), false)) {
  thread_local JsonParser scratch;
  std::unique_ptr<JsonParser> own;
  JsonParser* p = &scratch;
  if (json.size() > kScratchLimit) {
    own = std::make_unique<JsonParser>();
    p = own.get();
  }
  element root;
  bool nonfinite = false;
  auto error = ParseInto(*p, json, &root);
  if (error != SUCCESS && error != simdjson::DEPTH_ERROR && error != simdjson::MEMALLOC &&
      error != simdjson::CAPACITY) {
    if (auto rewritten = RewriteNonFinite(json)) {
      if (ParseInto(*p, *rewritten, &root) == SUCCESS) {
        error = SUCCESS;
        nonfinite = true;
      }
    }
  }
  if (error != SUCCESS) return ParseError(error, what);
  return fn(root, nonfinite);
}

std::string_view TypeWord(element_type type) {
  switch (type) {
    case element_type::ARRAY:
      return "an array";
    case element_type::OBJECT:
      return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "a number";
    case element_type::STRING:
      return "a string";
    case element_type::BOOL:
      return "a boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// A value as an error message cites it: scalars as written, containers by kind.
std::string Show(element e) {
  switch (e.type()) {
    case element_type::ARRAY:
    case element_type::OBJECT:
      return std::string(TypeWord(e.type()));
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      if (!s.empty() && s[0] == '\0' && (s == kNanWord || s == kInfWord || s == kNegInfWord)) {
        return std::string(s.substr(1));
      }
      std::string quoted = "\"" + SanitizeForMessage(s, 40) + "\"";
      return quoted;
    }
    default:
      return simdjson::minify(e);
  }
}

Status FieldError(const std::string& path, const std::string& what) {
  return InvalidArgument(path + ": " + what, path);
}

Status WrongType(const std::string& path, std::string_view expected, element got) {
  return FieldError(path, "expected " + std::string(expected) + ", got " + Show(got));
}

Result<std::string> ReadString(element e, const std::string& path) {
  std::string_view s;
  if (e.get_string().get(s) != SUCCESS) return WrongType(path, "a string", e);
  return std::string(s);
}

Result<bool> ReadBool(element e, const std::string& path) {
  bool b;
  if (e.get_bool().get(b) != SUCCESS) return WrongType(path, "true or false", e);
  return b;
}

Result<int64_t> ReadNonNegative(element e, const std::string& path) {
  if (e.type() == element_type::INT64) {
    const int64_t v = e.get_int64().value_unsafe();
    if (v >= 0) return v;
  } else if (e.type() == element_type::UINT64) {
    return FieldError(path, Show(e) + " is too large");
  }
  return WrongType(path, "a non-negative integer", e);
}

nlohmann::json ToJson(element e, bool nonfinite) {
  switch (e.type()) {
    case element_type::ARRAY: {
      nlohmann::json out = nlohmann::json::array();
      const array items = e.get_array().value_unsafe();
      for (element item : items) out.push_back(ToJson(item, nonfinite));
      return out;
    }
    case element_type::OBJECT: {
      nlohmann::json out = nlohmann::json::object();
      const object fields = e.get_object().value_unsafe();
      for (auto [key, value] : fields) out[std::string(key)] = ToJson(value, nonfinite);
      return out;
    }
    case element_type::INT64:
      return e.get_int64().value_unsafe();
    case element_type::UINT64:
      return e.get_uint64().value_unsafe();
    case element_type::DOUBLE:
      return e.get_double().value_unsafe();
    case element_type::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      if (!nonfinite || s.empty() || s[0] != '\0') return std::string(s);
      if (s == kNanWord) return std::numeric_limits<double>::quiet_NaN();
      if (s == kInfWord) return std::numeric_limits<double>::infinity();
      if (s == kNegInfWord) return -std::numeric_limits<double>::infinity();
      return std::string(s);
    }
    case element_type::BOOL:
      return e.get_bool().value_unsafe();
    case element_type::NULL_VALUE:
      return nullptr;
  }
  return nullptr;
}

// Reads the scalar elements of a JSON tensor value (a scalar, or arrays
// nested any way, flattened row-major) into the binary layout of
// tensor.h, checking each against the datatype.
class DataReader {
 public:
  // `expected`: the element count the shape says; `limit`: an upper bound
  // on what the JSON can hold (its size), so a huge shape never makes us
  // allocate before the count check fails.
  // `nonfinite`: the marker strings stand for NaN and the infinities.
  DataReader(DataType type, int64_t expected, std::size_t limit, bool nonfinite, std::string* out)
      : type_(type), expected_(expected), nonfinite_(nonfinite), out_(out) {
    const std::size_t size = ElementSize(type);
    writable_ = static_cast<uint64_t>(expected) <= limit;
    if (type != DataType::kBytes) {
      if (writable_) out->resize(static_cast<std::size_t>(expected) * size);
    } else {
      out->clear();
    }
    indices_.reserve(kMaxDepth);
  }

  // Walks `value`; `path` names it in messages ("inputs[0].data").
  Status Read(element value, const std::string& path) {
    path_ = &path;
    RETURN_IF_ERROR(Walk(value));
    return Status::OK();
  }

  int64_t count() const { return count_; }

 private:
  Status Walk(element value) {
    if (value.type() == element_type::ARRAY) {
      indices_.push_back(0);
      const array items = value.get_array().value_unsafe();
      for (element item : items) {
        RETURN_IF_ERROR(Walk(item));
        ++indices_.back();
      }
      indices_.pop_back();
      return Status::OK();
    }
    if (!Put(value)) return Error(value);
    ++count_;
    return Status::OK();
  }

  std::string Path() const {
    std::string out = *path_;
    for (std::size_t i : indices_) out += "[" + std::to_string(i) + "]";
    return out;
  }

  Status Error(element value) {
    const std::string type_name(DataTypeName(type_));
    if (!error_.empty()) return FieldError(Path(), error_);
    switch (type_) {
      case DataType::kBool:
        return WrongType(Path(), "true or false for BOOL", value);
      case DataType::kFp16:
      case DataType::kFp32:
      case DataType::kFp64:
        return WrongType(Path(), "a number for " + type_name, value);
      case DataType::kBytes:
        return WrongType(Path(), "a string for BYTES", value);
      default:
        return WrongType(Path(), "an integer for " + type_name, value);
    }
  }

  template <typename T>
  void Store(T v) {
    if (!writable_ || count_ >= expected_) return;
    std::memcpy(out_->data() + static_cast<std::size_t>(count_) * sizeof(T), &v, sizeof(T));
  }

  template <typename T>
  bool PutInt(element e) {
    constexpr auto kMin = std::numeric_limits<T>::min();
    constexpr auto kMax = std::numeric_limits<T>::max();
    if (e.type() == element_type::INT64) {
      const int64_t v = e.get_int64().value_unsafe();
      if (v < static_cast<int64_t>(kMin) ||
          (v > 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(kMax))) {
        return RangeError<T>(e);
      }
      Store(static_cast<T>(v));
      return true;
    }
    if (e.type() == element_type::UINT64) {
      const uint64_t v = e.get_uint64().value_unsafe();
      if (v > static_cast<uint64_t>(kMax)) return RangeError<T>(e);
      Store(static_cast<T>(v));
      return true;
    }
    return false;
  }

  template <typename T>
  bool RangeError(element e) {
    error_ = Show(e) + " is out of range for " + std::string(DataTypeName(type_)) + " (" +
             std::to_string(std::numeric_limits<T>::min()) + " to " +
             std::to_string(std::numeric_limits<T>::max()) + ")";
    return false;
  }

  bool ReadNumber(element e, double* out) {
    switch (e.type()) {
      case element_type::DOUBLE:
        *out = e.get_double().value_unsafe();
        return true;
      case element_type::INT64:
        *out = static_cast<double>(e.get_int64().value_unsafe());
        return true;
      case element_type::UINT64:
        *out = static_cast<double>(e.get_uint64().value_unsafe());
        return true;
      case element_type::STRING: {
        std::string_view s = e.get_string().value_unsafe();
        if (!IsMarker(s)) return false;
        if (s == kNanWord) {
          *out = std::numeric_limits<double>::quiet_NaN();
        } else if (s == kInfWord) {
          *out = std::numeric_limits<double>::infinity();
        } else if (s == kNegInfWord) {
          *out = -std::numeric_limits<double>::infinity();
        } else {
          return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  bool Put(element e) {
    switch (type_) {
      case DataType::kBool: {
        bool b;
        if (e.get_bool().get(b) != SUCCESS) return false;
        Store(static_cast<uint8_t>(b ? 1 : 0));
        return true;
      }
      case DataType::kUint8:
        return PutInt<uint8_t>(e);
      case DataType::kUint16:
        return PutInt<uint16_t>(e);
      case DataType::kUint32:
        return PutInt<uint32_t>(e);
      case DataType::kUint64:
        return PutInt<uint64_t>(e);
      case DataType::kInt8:
        return PutInt<int8_t>(e);
      case DataType::kInt16:
        return PutInt<int16_t>(e);
      case DataType::kInt32:
        return PutInt<int32_t>(e);
      case DataType::kInt64:
        return PutInt<int64_t>(e);
      case DataType::kFp16: {
        double v;
        if (!ReadNumber(e, &v)) return false;
        // 65520 and up round to infinity: a finite value that large is a mistake.
        if (std::isfinite(v) && std::fabs(v) >= 65520.0) return FloatRangeError(e);
        Store(DoubleToHalf(v));
        return true;
      }
      case DataType::kFp32: {
        double v;
        if (!ReadNumber(e, &v)) return false;
        // The midpoint between FLT_MAX and 2^128 rounds to infinity.
        if (std::isfinite(v) && std::fabs(v) >= 0x1.ffffffp127) return FloatRangeError(e);
        Store(static_cast<float>(v));
        return true;
      }
      case DataType::kFp64: {
        double v;
        if (!ReadNumber(e, &v)) return false;
        Store(v);
        return true;
      }
      case DataType::kBytes: {
        std::string_view s;
        if (e.get_string().get(s) != SUCCESS || IsMarker(s)) return false;
        if (writable_ && count_ < expected_) AppendBytesElement(*out_, s);
        return true;
      }
    }
    return false;
  }

  bool FloatRangeError(element e) {
    error_ = Show(e) + " is out of range for " + std::string(DataTypeName(type_));
    return false;
  }

  bool IsMarker(std::string_view s) const {
    return nonfinite_ && !s.empty() && s[0] == '\0' && (s == kNanWord || s == kInfWord || s == kNegInfWord);
  }

  DataType type_;
  int64_t expected_;
  bool nonfinite_;
  std::string* out_;
  bool writable_ = false;
  int64_t count_ = 0;
  const std::string* path_ = nullptr;
  std::vector<std::size_t> indices_;
  std::string error_;
};

// ---------------------------------------------------------------------------
// V2 request

struct PendingInput {
  bool has_data = false;
  element data;
  std::optional<int64_t> binary_size;
};

Result<std::vector<int64_t>> ReadShape(element e, const std::string& path) {
  array dims;
  if (e.get_array().get(dims) != SUCCESS) return WrongType(path, "an array of dimensions", e);
  std::vector<int64_t> shape;
  shape.reserve(dims.size());
  std::size_t i = 0;
  for (element dim : dims) {
    ASSIGN_OR_RETURN(int64_t d, ReadNonNegative(dim, path + "[" + std::to_string(i) + "]"));
    shape.push_back(d);
    ++i;
  }
  return shape;
}

// Marks `bit` seen; an error when a field comes twice. `path` is the
// object's, empty for the request itself.
Status SeeField(unsigned* seen, unsigned bit, const std::string& path, std::string_view name) {
  if ((*seen & bit) != 0) {
    const std::string message = "duplicate field '" + std::string(name) + "'";
    if (path.empty()) return InvalidArgument(message, std::string(name));
    return FieldError(path, message);
  }
  *seen |= bit;
  return Status::OK();
}

Status ReadInput(element e, const std::string& path, std::size_t json_size, bool nonfinite, Tensor* t,
                 PendingInput* pending) {
  object fields;
  if (e.get_object().get(fields) != SUCCESS) return WrongType(path, "an object", e);
  unsigned seen = 0;
  for (auto [key, value] : fields) {
    if (key == "name") {
      RETURN_IF_ERROR(SeeField(&seen, 1, path, key));
      ASSIGN_OR_RETURN(t->name, ReadString(value, path + ".name"));
    } else if (key == "shape") {
      RETURN_IF_ERROR(SeeField(&seen, 2, path, key));
      ASSIGN_OR_RETURN(t->shape, ReadShape(value, path + ".shape"));
    } else if (key == "datatype") {
      RETURN_IF_ERROR(SeeField(&seen, 4, path, key));
      ASSIGN_OR_RETURN(std::string name, ReadString(value, path + ".datatype"));
      auto type = ParseDataType(name);
      if (!type.ok()) return FieldError(path + ".datatype", type.status().message());
      t->datatype = *type;
    } else if (key == "parameters") {
      RETURN_IF_ERROR(SeeField(&seen, 8, path, key));
      if (value.is_null()) continue;
      object params;
      if (value.get_object().get(params) != SUCCESS)
        return WrongType(path + ".parameters", "an object", value);
      for (auto [pkey, pvalue] : params) {
        const std::string ppath = path + ".parameters." + std::string(pkey);
        if (pkey == "binary_data_size") {
          ASSIGN_OR_RETURN(int64_t size, ReadNonNegative(pvalue, ppath));
          pending->binary_size = size;
        } else if (pkey.starts_with("shared_memory_")) {
          return FieldError(ppath, "shared-memory tensors are not supported; send the data in the body");
        }
      }
    } else if (key == "data") {
      RETURN_IF_ERROR(SeeField(&seen, 16, path, key));
      if (value.type() != element_type::ARRAY) return WrongType(path + ".data", "an array", value);
      pending->has_data = true;
      pending->data = value;
    } else {
      return FieldError(path + "." + std::string(key),
                        "unknown field (an input has name, shape, datatype, "
                        "parameters and data)");
    }
  }
  if ((seen & 1) == 0) return FieldError(path + ".name", "missing");
  if ((seen & 2) == 0) return FieldError(path + ".shape", "missing");
  if ((seen & 4) == 0) return FieldError(path + ".datatype", "missing");
  auto count = ElementCount(t->shape);
  if (!count.ok()) return FieldError(path + ".shape", count.status().message());
  if (pending->has_data && pending->binary_size) {
    return FieldError(path, "has both 'data' and parameters.binary_data_size; send one");
  }
  if (!pending->has_data && !pending->binary_size) {
    return FieldError(path, "has neither 'data' nor parameters.binary_data_size");
  }
  if (pending->has_data) {
    DataReader reader(t->datatype, *count, json_size, nonfinite, &t->data);
    RETURN_IF_ERROR(reader.Read(pending->data, path + ".data"));
    if (reader.count() != *count) {
      return FieldError(path + ".data", std::string(DataTypeName(t->datatype)) + " " + FormatShape(t->shape) +
                                            " needs " + std::to_string(*count) + " elements, got " +
                                            std::to_string(reader.count()));
    }
  }
  return Status::OK();
}

Status ReadRequestedOutput(element e, const std::string& path, bool nonfinite, RequestedOutput* out) {
  object fields;
  if (e.get_object().get(fields) != SUCCESS) return WrongType(path, "an object", e);
  unsigned seen = 0;
  for (auto [key, value] : fields) {
    if (key == "name") {
      RETURN_IF_ERROR(SeeField(&seen, 1, path, key));
      ASSIGN_OR_RETURN(out->name, ReadString(value, path + ".name"));
    } else if (key == "parameters") {
      RETURN_IF_ERROR(SeeField(&seen, 2, path, key));
      if (value.is_null()) continue;
      object params;
      if (value.get_object().get(params) != SUCCESS)
        return WrongType(path + ".parameters", "an object", value);
      for (auto [pkey, pvalue] : params) {
        const std::string ppath = path + ".parameters." + std::string(pkey);
        if (pkey == "binary_data") {
          ASSIGN_OR_RETURN(bool b, ReadBool(pvalue, ppath));
          out->binary_data = b;
        } else if (pkey == "classification") {
          ASSIGN_OR_RETURN(out->classification, ReadNonNegative(pvalue, ppath));
        } else if (pkey.starts_with("shared_memory_")) {
          return FieldError(ppath, "shared-memory tensors are not supported");
        }
      }
      out->parameters = ToJson(value, nonfinite);
    } else {
      return FieldError(path + "." + std::string(key),
                        "unknown field (a requested output has name and parameters)");
    }
  }
  if ((seen & 1) == 0) return FieldError(path + ".name", "missing");
  return Status::OK();
}

Result<InferRequest> ReadInferRequest(element root, bool nonfinite, std::size_t json_size,
                                      std::string_view binary, bool has_header) {
  object top;
  if (root.get_object().get(top) != SUCCESS) {
    return InvalidArgument("the request body must be a JSON object, got " +
                           std::string(TypeWord(root.type())));
  }
  InferRequest req;
  std::vector<PendingInput> pending;
  unsigned seen = 0;
  // Unknown top-level fields are ignored, as Triton does: clients add their
  // own (MLServer's "model_name", KServe's "model_version").
  for (auto [key, value] : top) {
    if (key == "id") {
      RETURN_IF_ERROR(SeeField(&seen, 1, "", key));
      if (value.is_null()) continue;
      ASSIGN_OR_RETURN(req.id, ReadString(value, "id"));
    } else if (key == "parameters") {
      RETURN_IF_ERROR(SeeField(&seen, 2, "", key));
      if (value.is_null()) continue;
      if (value.type() != element_type::OBJECT) return WrongType("parameters", "an object", value);
      const object params = value.get_object().value_unsafe();
      for (auto [pkey, pvalue] : params) {
        if (pkey == "binary_data_output") {
          ASSIGN_OR_RETURN(req.binary_data_output, ReadBool(pvalue, "parameters.binary_data_output"));
        }
      }
      req.parameters = ToJson(value, nonfinite);
    } else if (key == "inputs") {
      RETURN_IF_ERROR(SeeField(&seen, 4, "", key));
      array items;
      if (value.get_array().get(items) != SUCCESS) return WrongType("inputs", "an array", value);
      req.inputs.resize(items.size());
      pending.resize(items.size());
      std::size_t i = 0;
      for (element item : items) {
        RETURN_IF_ERROR(ReadInput(item, "inputs[" + std::to_string(i) + "]", json_size, nonfinite,
                                  &req.inputs[i], &pending[i]));
        ++i;
      }
    } else if (key == "outputs") {
      RETURN_IF_ERROR(SeeField(&seen, 8, "", key));
      if (value.is_null()) continue;
      array items;
      if (value.get_array().get(items) != SUCCESS) return WrongType("outputs", "an array", value);
      req.outputs.resize(items.size());
      std::size_t i = 0;
      for (element item : items) {
        RETURN_IF_ERROR(
            ReadRequestedOutput(item, "outputs[" + std::to_string(i) + "]", nonfinite, &req.outputs[i]));
        ++i;
      }
    }
  }
  if ((seen & 4) == 0) return FieldError("inputs", "missing");
  // Binary tensor data follow the JSON in the order of the inputs.
  std::size_t offset = 0;
  for (std::size_t i = 0; i < req.inputs.size(); ++i) {
    if (!pending[i].binary_size) continue;
    const std::string path = "inputs[" + std::to_string(i) + "].parameters.binary_data_size";
    if (!has_header) {
      return FieldError(path,
                        "binary data need the Inference-Header-Content-Length header to say where the "
                        "JSON ends");
    }
    const auto size = static_cast<uint64_t>(*pending[i].binary_size);
    if (size > binary.size() - offset) {
      return FieldError(path, std::to_string(size) + " bytes, but only " +
                                  std::to_string(binary.size() - offset) +
                                  " bytes of binary data remain after the JSON");
    }
    Tensor& t = req.inputs[i];
    t.data.assign(binary.substr(offset, size));
    offset += size;
    RETURN_IF_ERROR(CheckTensorData(t));
  }
  if (offset != binary.size()) {
    return InvalidArgument(std::to_string(binary.size()) +
                           " bytes follow the JSON, but the inputs' "
                           "binary_data_size add up to " +
                           std::to_string(offset));
  }
  return req;
}

// ---------------------------------------------------------------------------
// Writing

// Appends `s` as a JSON string. Bytes that are not UTF-8 pass through
// unchanged when `raw_bytes` (BYTES tensors, as Triton writes them; clients
// that need exact bytes ask for binary data) and become U+FFFD otherwise.
void AppendJsonString(std::string& out, std::string_view s, bool raw_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      // Copy the run of plain characters at once.
      std::size_t j = i + 1;
      while (j < s.size()) {
        const auto d = static_cast<unsigned char>(s[j]);
        if (d < 0x20 || d == '"' || d == '\\' || d >= 0x80) break;
        ++j;
      }
      out.append(s.substr(i, j - i));
      i = j;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t n = DecodeUtf8(s, i);
      if (n > 0) {
        out.append(s.substr(i, n));
        i += n;
      } else {
        if (raw_bytes) {
          out += static_cast<char>(c);
        } else {
          out += "\xef\xbf\xbd";
        }
        ++i;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xf];
    }
    ++i;
  }
  out += '"';
}

template <typename T>
void AppendNumber(std::string& out, T value) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, end);
}

// Floats as Triton writes them: shortest round-trip digits, and NaN,
// Infinity, -Infinity as bare words (RapidJSON's kWriteNanAndInfFlag),
// which tritonclient (python-rapidjson) and Python's json read back.
template <typename T>
void AppendFloat(std::string& out, T value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Infinity" : "Infinity";
  } else if (value == 0 && std::signbit(value)) {
    out += "-0.0";  // "-0" would read back as the integer 0
  } else {
    AppendNumber(out, value);
  }
}

// Walks a tensor's elements in order, writing each as JSON.
class ElementWriter {
 public:
  explicit ElementWriter(const Tensor& t) : t_(t), size_(ElementSize(t.datatype)) {}

  // Writes the next element; false when the data end (a malformed tensor
  // is cut short rather than read out of bounds).
  bool WriteNext(std::string& out) {
    const std::string& d = t_.data;
    if (t_.datatype == DataType::kBytes) {
      if (d.size() - pos_ < 4) return false;
      uint32_t len;
      std::memcpy(&len, d.data() + pos_, 4);
      if (len > d.size() - pos_ - 4) return false;
      AppendJsonString(out, std::string_view(d).substr(pos_ + 4, len), true);
      pos_ += 4 + len;
      return true;
    }
    if (d.size() - pos_ < size_) return false;
    const char* p = d.data() + pos_;
    pos_ += size_;
    switch (t_.datatype) {
      case DataType::kBool:
        out += *p != 0 ? "true" : "false";
        break;
      case DataType::kUint8:
        AppendNumber(out, Load<uint8_t>(p));
        break;
      case DataType::kUint16:
        AppendNumber(out, Load<uint16_t>(p));
        break;
      case DataType::kUint32:
        AppendNumber(out, Load<uint32_t>(p));
        break;
      case DataType::kUint64:
        AppendNumber(out, Load<uint64_t>(p));
        break;
      case DataType::kInt8:
        AppendNumber(out, Load<int8_t>(p));
        break;
      case DataType::kInt16:
        AppendNumber(out, Load<int16_t>(p));
        break;
      case DataType::kInt32:
        AppendNumber(out, Load<int32_t>(p));
        break;
      case DataType::kInt64:
        AppendNumber(out, Load<int64_t>(p));
        break;
      case DataType::kFp16:
        AppendFloat(out, HalfToFloat(Load<uint16_t>(p)));
        break;
      case DataType::kFp32:
        AppendFloat(out, Load<float>(p));
        break;
      case DataType::kFp64:
        AppendFloat(out, Load<double>(p));
        break;
      case DataType::kBytes:
        break;
    }
    return true;
  }

 private:
  template <typename T>
  static T Load(const char* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }

  const Tensor& t_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

int64_t CountOrZero(const std::vector<int64_t>& shape) {
  auto count = ElementCount(shape);
  return count.ok() ? *count : 0;
}

void AppendShape(std::string& out, const std::vector<int64_t>& shape) {
  out += '[';
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) out += ',';
    AppendNumber(out, shape[i]);
  }
  out += ']';
}

// Writes `count` elements as a flat JSON array.
void AppendFlat(std::string& out, ElementWriter& writer, int64_t count) {
  out += '[';
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    if (!writer.WriteNext(out)) {
      if (i > 0) out.pop_back();
      break;
    }
  }
  out += ']';
}

// Writes elements nested by dims[from:], row-major; false when the data
// end early (null stands in for the missing element).
bool AppendNested(std::string& out, ElementWriter& writer, const std::vector<int64_t>& dims,
                  std::size_t from) {
  if (from == dims.size()) {
    if (writer.WriteNext(out)) return true;
    out += "null";
    return false;
  }
  out += '[';
  bool ok = true;
  for (int64_t i = 0; ok && i < dims[from]; ++i) {
    if (i > 0) out += ',';
    ok = AppendNested(out, writer, dims, from + 1);
  }
  out += ']';
  return ok;
}

bool WantsBinary(const Tensor& output, const InferRequest& request) {
  for (const RequestedOutput& r : request.outputs) {
    if (r.name == output.name && r.binary_data) return *r.binary_data;
  }
  return request.binary_data_output;
}

// ---------------------------------------------------------------------------
// V1 request

// The dims of a V1 row: the model input's shape without its batch
// dimension, its variable dimensions sized by `row`.
std::vector<int64_t> RowDims(element row, const std::vector<int64_t>& declared) {
  std::vector<int64_t> dims(declared.size() > 1 ? declared.begin() + 1 : declared.end(), declared.end());
  // Variable dimensions take the first row's sizes, read down its first
  // elements.
  element e = row;
  bool inside = true;  // e is the first element at this level
  for (int64_t& dim : dims) {
    array items;
    const bool is_array = inside && e.get_array().get(items) == SUCCESS;
    if (dim < 0) dim = is_array ? static_cast<int64_t>(items.size()) : 1;
    inside = is_array && items.size() > 0;
    if (inside) e = items.at(0).value_unsafe();
  }
  return dims;
}

Result<InferRequest> ReadV1Request(element root, bool nonfinite, std::size_t json_size,
                                   const TensorSpec& spec) {
  object top;
  if (root.get_object().get(top) != SUCCESS) {
    return InvalidArgument("the request body must be a JSON object, got " +
                           std::string(TypeWord(root.type())));
  }
  element rows_value;
  std::string key_name;
  for (auto [key, value] : top) {
    if (key == "instances" || key == "inputs") {
      if (!key_name.empty()) {
        return InvalidArgument("the request has both '" + key_name + "' and '" + std::string(key) +
                               "'; send one");
      }
      key_name = key;
      rows_value = value;
    }
  }
  if (key_name.empty()) return InvalidArgument("the request needs 'instances' (or 'inputs'): a list of rows");
  array rows;
  if (rows_value.get_array().get(rows) != SUCCESS) return WrongType(key_name, "a list of rows", rows_value);

  InferRequest req;
  Tensor& t = req.inputs.emplace_back();
  t.name = spec.name;
  t.datatype = spec.datatype;
  std::vector<int64_t> row_dims;
  if (rows.size() > 0) {
    row_dims = RowDims(rows.at(0).value_unsafe(), spec.shape);
  } else {
    row_dims.assign(spec.shape.size() > 1 ? spec.shape.begin() + 1 : spec.shape.end(), spec.shape.end());
    for (int64_t& d : row_dims) d = std::max<int64_t>(d, 0);
  }
  auto per_row = ElementCount(row_dims);
  if (!per_row.ok())
    return InvalidArgument("model input " + QuoteForMessage(spec.name) + ": " + per_row.status().message());
  t.shape.push_back(static_cast<int64_t>(rows.size()));
  t.shape.insert(t.shape.end(), row_dims.begin(), row_dims.end());
  std::string row_data;
  std::size_t i = 0;
  for (element row : rows) {
    const std::string path = key_name + "[" + std::to_string(i) + "]";
    DataReader reader(t.datatype, *per_row, json_size, nonfinite, &row_data);
    RETURN_IF_ERROR(reader.Read(row, path));
    if (reader.count() != *per_row) {
      return InvalidArgument(
          path + ": expected " + std::to_string(*per_row) + " values, got " + std::to_string(reader.count()),
          path);
    }
    t.data += row_data;
    ++i;
  }
  return req;
}

}  // namespace

Result<InferRequest> DecodeInferRequest(std::string_view body, std::optional<std::size_t> json_size) {
  std::string_view json = body;
  std::string_view binary;
  if (json_size) {
    if (*json_size > body.size()) {
      return InvalidArgument("Inference-Header-Content-Length " + std::to_string(*json_size) +
                             " is beyond the body's " + std::to_string(body.size()) + " bytes");
    }
    json = body.substr(0, *json_size);
    binary = body.substr(*json_size);
  }
  return WithParsedJson(json, "the request", [&](element root, bool nonfinite) {
    return ReadInferRequest(root, nonfinite, json.size(), binary, json_size.has_value());
  });
}

EncodedResponse EncodeInferResponse(const InferResponse& response, const InferRequest& request) {
  EncodedResponse encoded;
  std::string& out = encoded.body;
  std::size_t estimate = 128;
  for (const Tensor& t : response.outputs) estimate += 64 + t.data.size() * 3;
  out.reserve(estimate);
  out += "{\"model_name\":";
  AppendJsonString(out, response.model_name, false);
  out += ",\"model_version\":";
  AppendJsonString(out, response.model_version, false);
  if (!response.id.empty()) {
    out += ",\"id\":";
    AppendJsonString(out, response.id, false);
  }
  if (response.parameters.is_object() && !response.parameters.empty()) {
    out += ",\"parameters\":";
    out += response.parameters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  out += ",\"outputs\":[";
  std::vector<const Tensor*> binary;
  for (std::size_t i = 0; i < response.outputs.size(); ++i) {
    const Tensor& t = response.outputs[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, t.name, false);
    out += ",\"datatype\":\"";
    out += DataTypeName(t.datatype);
    out += "\",\"shape\":";
    AppendShape(out, t.shape);
    if (WantsBinary(t, request)) {
      out += ",\"parameters\":{\"binary_data_size\":";
      AppendNumber(out, t.data.size());
      out += "}}";
      binary.push_back(&t);
      continue;
    }
    out += ",\"data\":";
    ElementWriter writer(t);
    AppendFlat(out, writer, CountOrZero(t.shape));
    out += '}';
  }
  out += "]}";
  if (!binary.empty()) {
    encoded.json_size = out.size();
    for (const Tensor* t : binary) out += t->data;
  }
  return encoded;
}

std::string EncodeError(std::string_view message) {
  std::string out = "{\"error\":";
  AppendJsonString(out, message, false);
  out += '}';
  return out;
}

Result<InferRequest> DecodeV1Request(std::string_view body, const TensorSpec& input) {
  return WithParsedJson(body, "the request", [&](element root, bool nonfinite) {
    return ReadV1Request(root, nonfinite, body.size(), input);
  });
}

std::string EncodeV1Response(const InferResponse& response) {
  std::string out = "{\"predictions\":[";
  if (!response.outputs.empty()) {
    const Tensor& t = response.outputs.front();
    ElementWriter writer(t);
    if (t.shape.empty()) {
      writer.WriteNext(out);
    } else {
      std::vector<int64_t> row_dims(t.shape.begin() + 1, t.shape.end());
      // One column: a scalar per row.
      if (row_dims.size() == 1 && row_dims[0] == 1) row_dims.clear();
      bool ok = true;
      for (int64_t r = 0; ok && r < t.shape[0]; ++r) {
        if (r > 0) out += ',';
        ok = AppendNested(out, writer, row_dims, 0);
      }
    }
  }
  out += "]}";
  return out;
}

}  // namespace ferry::serving::protocol
