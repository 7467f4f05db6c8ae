// MLflow's input validation for the TrackingStore (tracking_internal.h),
// after mlflow/utils/validation.py: the same rules, limits and messages.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/strings.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking::internal {
namespace {

// Python's str.isalnum() for non-ASCII code points, approximately: letters
// and digits of every script count, the punctuation and symbol blocks do not.
bool IsNonAsciiWordChar(char32_t cp) {
  if (cp < 0xA0) return false;  // C1 controls
  if (cp <= 0xBF) {             // Latin-1 punctuation; ª ² ³ µ ¹ º ¼ ½ ¾ are \w
    return cp == 0xAA || cp == 0xB2 || cp == 0xB3 || cp == 0xB5 || cp == 0xB9 || cp == 0xBA ||
           (cp >= 0xBC && cp <= 0xBE);
  }
  if (cp == 0xD7 || cp == 0xF7) return false;      // × ÷
  if (cp >= 0x2000 && cp <= 0x206F) return false;  // general punctuation
  if (cp >= 0x20A0 && cp <= 0x20CF) return false;  // currency
  if (cp >= 0x2190 && cp <= 0x245F) return false;  // arrows, math, technical
  if (cp >= 0x2500 && cp <= 0x2BFF) return false;  // boxes, shapes, dingbats
  if (cp >= 0x3000 && cp <= 0x3004) return false;  // CJK punctuation
  if (cp >= 0x3008 && cp <= 0x3020) return false;
  if (cp >= 0xFE30 && cp <= 0xFE4F) return false;    // CJK compatibility forms
  if (cp >= 0xFF00 && cp <= 0xFF0F) return false;    // fullwidth punctuation
  if (cp >= 0x1F000 && cp <= 0x1FAFF) return false;  // emoji and pictographs
  if (cp >= 0xE000 && cp <= 0xF8FF) return false;    // private use
  return true;
}

// posixpath.normpath.
std::string NormPath(std::string_view path) {
  if (path.empty()) return ".";
  std::size_t initial_slashes = 0;
  if (path.starts_with('/')) initial_slashes = (path.starts_with("//") && !path.starts_with("///")) ? 2 : 1;
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view comp = path.substr(start, slash - start);
    start = slash + 1;
    if (comp.empty() || comp == ".") continue;
    if (comp != ".." || (initial_slashes == 0 && parts.empty()) || (!parts.empty() && parts.back() == "..")) {
      parts.push_back(comp);
    } else if (!parts.empty()) {
      parts.pop_back();
    }
  }
  std::string out(initial_slashes, '/');
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

// Python's repr() of a str, for the common cases.
std::string PyRepr(std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : s) {
    if (c == '\\' || c == quote) out += '\\';
    out += c;
  }
  out += quote;
  return out;
}

// Python's repr() of a float.
std::string PyFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string JoinPath(std::string_view path, std::string_view leaf) {
  if (path.empty()) return std::string(leaf);
  return std::string(path) + "." + std::string(leaf);
}

}  // namespace

std::size_t CodePointCount(std::string_view text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

std::string_view TruncateCodePoints(std::string_view text, std::size_t max_code_points) {
  std::size_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (n == max_code_points) return text.substr(0, i);
      ++n;
    }
  }
  return text;
}

Status CheckStorableText(std::string_view text, std::string_view what) {
  if (FindInvalidUtf8(text) != std::string_view::npos)
    return InvalidArgument("Invalid value for '" + std::string(what) + "': not valid UTF-8",
                           std::string(what));
  if (text.find('\0') != std::string_view::npos)
    return InvalidArgument("Invalid value for '" + std::string(what) + "': contains a NUL character",
                           std::string(what));
  return Status::OK();
}

std::string InvalidValueMessage(std::string_view path, std::string_view value, std::string_view message) {
  std::string quoted =
      Json(std::string(value)).dump(-1, ' ', /*ensure_ascii=*/true, Json::error_handler_t::replace);
  std::string out = "Invalid value " + quoted + " for parameter '" + std::string(path) + "' supplied";
  if (message.empty()) return out + ".";
  return out + ": " + std::string(message);
}

std::string ExceedsLengthMessage(std::string_view path, std::size_t limit) {
  return "'" + std::string(path) + "' exceeds the maximum length of " + std::to_string(limit) + " characters";
}

Status ValidateKeyName(std::string_view name, std::string_view path) {
  RETURN_IF_ERROR(CheckStorableText(name, path));
  for (std::size_t i = 0; i < name.size();) {
    char32_t cp = 0;
    const std::size_t len = DecodeUtf8(name, i, &cp);
    i += len == 0 ? 1 : len;
    const bool ok = (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
                    cp == '_' || cp == '-' || cp == '.' || cp == ' ' || cp == ':' || cp == '/' ||
                    IsNonAsciiWordChar(cp);
    if (!ok) {
      return InvalidArgument(
          InvalidValueMessage(
              path, name,
              "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
              "spaces ( ), colon(:) and slashes (/)."),
          std::string(path));
    }
  }
  const std::string norm = NormPath(name);
  if (norm != name || norm == "." || name.starts_with("..") || name.starts_with('/')) {
    return InvalidArgument(
        InvalidValueMessage(
            path, name,
            "Names may be treated as files in certain cases, and must not resolve to other names "
            "when treated as such. This name would resolve to " +
                PyRepr(norm)),
        std::string(path));
  }
  return Status::OK();
}

Status ValidateMetric(const Metric& metric, std::string_view path) {
  RETURN_IF_ERROR(ValidateKeyName(metric.key, JoinPath(path, "name")));
  if (metric.timestamp < 0) {
    return InvalidArgument(
        InvalidValueMessage(JoinPath(path, "timestamp"), std::to_string(metric.timestamp),
                            "metric '" + metric.key + "' (value=" + PyFloat(metric.value) +
                                "). Timestamp must be a nonnegative long (64-bit integer) "),
        JoinPath(path, "timestamp"));
  }
  if (CodePointCount(metric.key) > kMaxEntityKeyLength)
    return InvalidArgument(ExceedsLengthMessage("Metric name", kMaxEntityKeyLength), JoinPath(path, "name"));
  RETURN_IF_ERROR(CheckStorableText(metric.model_id, JoinPath(path, "model_id")));
  RETURN_IF_ERROR(CheckStorableText(metric.dataset_name, JoinPath(path, "dataset_name")));
  RETURN_IF_ERROR(CheckStorableText(metric.dataset_digest, JoinPath(path, "dataset_digest")));
  return Status::OK();
}

Result<Param> ValidateParam(const Param& param, std::string_view path) {
  RETURN_IF_ERROR(ValidateKeyName(param.key, JoinPath(path, "key")));
  if (CodePointCount(param.key) > kMaxEntityKeyLength)
    return InvalidArgument(ExceedsLengthMessage("Param key", kMaxEntityKeyLength), JoinPath(path, "key"));
  RETURN_IF_ERROR(CheckStorableText(param.value, JoinPath(path, "value")));
  return Param{param.key, std::string(TruncateCodePoints(param.value, kMaxParamValueLength))};
}

Result<Tag> ValidateRunTag(const Tag& tag, std::string_view path) {
  RETURN_IF_ERROR(ValidateKeyName(tag.key, JoinPath(path, "key")));
  if (CodePointCount(tag.key) > kMaxEntityKeyLength)
    return InvalidArgument(ExceedsLengthMessage(JoinPath(path, "key"), kMaxEntityKeyLength),
                           JoinPath(path, "key"));
  RETURN_IF_ERROR(CheckStorableText(tag.value, JoinPath(path, "value")));
  return Tag{tag.key, std::string(TruncateCodePoints(tag.value, kMaxTagValueLength))};
}

Status ValidateExperimentName(std::string_view name) {
  if (name.empty()) return InvalidArgument("Invalid experiment name: ''", "name");
  RETURN_IF_ERROR(CheckStorableText(name, "name"));
  if (CodePointCount(name) > kMaxExperimentNameLength)
    return InvalidArgument(ExceedsLengthMessage("name", kMaxExperimentNameLength), "name");
  return Status::OK();
}

Status ValidateExperimentTag(const Tag& tag) {
  RETURN_IF_ERROR(ValidateKeyName(tag.key, "key"));
  if (CodePointCount(tag.key) > kMaxExperimentTagKeyLength)
    return InvalidArgument(ExceedsLengthMessage("key", kMaxExperimentTagKeyLength), "key");
  RETURN_IF_ERROR(CheckStorableText(tag.value, "value"));
  if (CodePointCount(tag.value) > kMaxExperimentTagValueLength)
    return InvalidArgument(ExceedsLengthMessage("value", kMaxExperimentTagValueLength), "value");
  return Status::OK();
}

Status ValidateDatasetInput(const DatasetInput& input) {
  const Dataset& d = input.dataset;
  struct Field {
    std::string_view name;
    const std::string& value;
    std::size_t limit;
  };
  for (const Field& f :
       {Field{"name", d.name, kMaxDatasetNameLength}, Field{"digest", d.digest, kMaxDatasetDigestLength},
        Field{"source_type", d.source_type, std::string::npos},
        Field{"source", d.source, kMaxDatasetSourceLength},
        Field{"schema", d.schema, kMaxDatasetSchemaLength},
        Field{"profile", d.profile, kMaxDatasetProfileLength}}) {
    RETURN_IF_ERROR(CheckStorableText(f.value, f.name));
    if (f.limit != std::string::npos && CodePointCount(f.value) > f.limit)
      return InvalidArgument(ExceedsLengthMessage(f.name, f.limit), std::string(f.name));
  }
  for (const Tag& tag : input.tags) {
    RETURN_IF_ERROR(CheckStorableText(tag.key, "key"));
    RETURN_IF_ERROR(CheckStorableText(tag.value, "value"));
    if (CodePointCount(tag.key) > kMaxInputTagKeyLength)
      return InvalidArgument(ExceedsLengthMessage("key", kMaxInputTagKeyLength), "key");
    if (CodePointCount(tag.value) > kMaxInputTagValueLength)
      return InvalidArgument(ExceedsLengthMessage("value", kMaxInputTagValueLength), "value");
  }
  return Status::OK();
}

bool IsValidRunId(std::string_view run_id) {
  if (run_id.empty() || run_id.size() > 256) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(run_id[0])) return false;
  for (char c : run_id.substr(1)) {
    if (!alnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Result<std::int64_t> ParseExperimentId(std::string_view experiment_id) {
  // Python's int(): optional surrounding whitespace and sign, digits.
  std::string_view s = experiment_id;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t id = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), id);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return InvalidArgument("Invalid experiment ID " + QuoteForMessage(experiment_id) +
                               ". Experiment ID must be a valid integer.",
                           "experiment_id");
  }
  return id;
}

std::string AppendToUri(std::string_view base, std::string_view part) {
  std::string out(base);
  while (out.size() > 1 && out.back() == '/' && !out.ends_with(":/")) out.pop_back();
  if (out.empty()) return std::string(part);
  if (out.back() != '/') out += '/';
  std::string_view p = part;
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  return out + std::string(p);
}

}  // namespace ferry::tracking::internal
