// Katib's Experiment (kubeflow.org/v1beta1): parsing with the defaults of
// Katib's defaulting webhook (pkg/apis/controller/experiments/v1beta1/
// experiment_defaults.go), the checks of its validating webhook
// (pkg/webhook/v1beta1/experiment/validator/validator.go), and trial
// template substitution (pkg/controller.v1beta1/experiment/manifest/
// generator.go, applyParameters).
//
// Katib's defaults kept: parallelTrialCount 3; resumePolicy Never (the
// value of DefaultResumePolicy in Katib's constants.go, although a comment
// in its experiment_types.go still says LongRunning); distribution uniform; objective and additional metrics
// default to min (minimize) or max (maximize) — Katib's comment says
// "latest" for additional metrics but its code uses the objective's type;
// collector StdOut; File collector path /var/log/katib/metrics.log, kind
// File, format TEXT; success/failure conditions for batch Job and the
// Kubeflow training jobs (TFJob, PyTorchJob, XGBoostJob, MXJob, MPIJob,
// which also get primaryPodLabels training.kubeflow.org/job-role=master).
//
// Katib's checks kept: trial counts (maxFailedTrialCount >= 0,
// maxTrialCount > 0, parallelTrialCount > 0, neither above maxTrialCount);
// objective type and metric name, additional metrics not repeating the
// objective; algorithm name; early stopping name; resume policy; parameter
// types, distributions and feasible spaces; trial template: primary
// container name, conditions (required for kinds without defaults), trial
// parameters (name and reference set, no '{' '}' in names, no duplicate
// names or references, references to spec.parameters or trial metadata,
// every one used in the trial spec, every placeholder defined), trial spec
// apiVersion/kind set and metadata.name/namespace absent; collector kinds,
// File path absolute, JSON without filters, filters valid.
//
// Decisions where Katib was loose or Ferry differs on purpose:
// - Unknown fields outside trialSpec are refused (Katib's CRD schema drops
//   them silently), so a typo is an error naming it. trialSpec is kept as
//   written: any kind, any fields.
// - JSON types are checked everywhere: a string where Katib has an int
//   (maxTrialCount: "12") is refused, as the API server would. Katib's
//   string-typed values (feasibleSpace min/max/step/list, setting values)
//   also take a YAML number (min: 0.01), which Katib's Go types would
//   refuse; the number's shortest text is used.
// - Numbers in feasibleSpace parse strictly (decimal or exponent, finite);
//   Katib's webhook does not parse them at all, its suggestion services
//   fail later. The space is then checked by SearchSpace::Validate.
// - Katib fails every trial at run time when a parameter is not referenced
//   by a trial parameter ("Number of TrialAssignment ... != number of
//   nonMetaTrialParameters"), or a ${trialSpec.Labels[k]} names a label
//   the trial spec lacks; both are refused here, at apply time.
// - A metadata reference must be exactly "${trialSpec.<key>}" (Katib's
//   regexp would also find one inside other text).
// - Substitution walks the JSON tree (string values and object keys)
//   instead of Katib's text replacement on the serialised template, so a
//   value with a quote cannot break the document, and a value that itself
//   looks like a placeholder is not substituted again.
// - The primary container is the first container named
//   primaryContainerName found in the trial spec (depth first, keys in
//   order): spec.template.spec.containers for a Job, the Master/Chief/
//   Launcher replica for Kubeflow jobs. Its env[].valueFrom and envFrom
//   are refused (a local process cannot read the cluster's ConfigMaps,
//   Secrets or pod fields); resources are parsed as Kubernetes quantities.
//   Its other fields are kept in trialSpec for cluster executors. A
//   container without command/args is accepted (its image's entrypoint
//   runs; only a container runtime can do that).
// - configMap trial templates, NAS (nasConfig) and the TensorFlowEvent,
//   PrometheusMetric and Custom collectors are refused naming the field.
// - Duplicate additionalMetricNames are kept once; duplicate
//   metricStrategies or setting names are refused (which one wins is
//   undefined in Katib).
#include "ferry/tuning/katib_experiment.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <utility>

#include "ferry/common/json_fields.h"
#include "ferry/common/strings.h"
#include "ferry/tuning/pruner.h"
#include "ferry/tuning/sampler.h"

namespace ferry::tuning {
namespace {

constexpr std::string_view kPlaceholderPrefix = "${trialParameters.";
constexpr std::string_view kJobSuccessCondition =
    R"(status.conditions.#(type=="Complete")#|#(status=="True")#)";
constexpr std::string_view kJobFailureCondition =
    R"(status.conditions.#(type=="Failed")#|#(status=="True")#)";
constexpr std::string_view kKubeflowSuccessCondition =
    R"(status.conditions.#(type=="Succeeded")#|#(status=="True")#)";
constexpr std::string_view kKubeflowFailureCondition =
    R"(status.conditions.#(type=="Failed")#|#(status=="True")#)";
constexpr std::string_view kDefaultMetricsFile = "/var/log/katib/metrics.log";

std::string Q(std::string_view s) { return QuoteForMessage(s); }

std::string At(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

// path.key, or path[key] for a key that would not read as one path step.
std::string Child(const std::string& path, std::string_view key) {
  const bool plain = !key.empty() && key.find_first_of(".[]/ ") == std::string_view::npos;
  if (!plain) return path + "[" + std::string(key) + "]";
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

// "/spec/containers/0" -> "<root>.spec.containers[0]".
std::string PointerToPath(std::string root, std::string_view pointer) {
  std::size_t pos = 0;
  while (pos < pointer.size()) {
    std::size_t next = pointer.find('/', pos + 1);
    if (next == std::string_view::npos) next = pointer.size();
    std::string token(pointer.substr(pos + 1, next - pos - 1));
    std::string key;
    for (std::size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size()) {
        key += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        key += token[i];
      }
    }
    const bool index = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
    root = index ? root + "[" + key + "]" : Child(root, key);
    pos = next;
  }
  return root;
}

std::string PointerChild(const std::string& pointer, std::string_view key) {
  std::string out = pointer + "/";
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

bool Present(const Json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it != obj.end() && !it->is_null();
}


Status CheckFields(const Json& obj, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return InvalidArgument("unknown field " + Q(it.key()), Child(path, it.key()));
    }
  }
  return Status::OK();
}

Result<const Json*> ObjectField(const Json& parent, std::string_view key, const std::string& path,
                                bool required) {
  const std::string field = Child(path, key);
  const Json* v = FindField(parent, key);
  if (!v) {
    if (required) return RequiredFieldError(field);
    return static_cast<const Json*>(nullptr);
  }
  if (!v->is_object()) return WrongTypeError(field, "an object", *v);
  return v;
}

Result<const Json*> ArrayField(const Json& parent, std::string_view key, const std::string& path) {
  const Json* v = FindField(parent, key);
  if (v && !v->is_array()) return WrongTypeError(Child(path, key), "a list", *v);
  return v;
}

Result<std::string> StringValue(const Json& v, const std::string& field) {
  if (!v.is_string()) return WrongTypeError(field, "a string", v);
  return v.get<std::string>();
}

// "" when absent.
Result<std::string> StringField(const Json& obj, std::string_view key, const std::string& path,
                                bool required = false) {
  const std::string field = Child(path, key);
  const Json* v = FindField(obj, key);
  if (!v) {
    if (required) return RequiredFieldError(field);
    return std::string();
  }
  ASSIGN_OR_RETURN(std::string s, StringValue(*v, field));
  if (required && s.empty()) return InvalidArgument(field + " must not be empty", field);
  return s;
}

std::string NumberText(const Json& v) {
  if (v.is_number_integer()) {
    return v.is_number_unsigned() ? std::to_string(v.get<std::uint64_t>())
                                  : std::to_string(v.get<std::int64_t>());
  }
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v.get<double>());
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v.get<double>());
}

// A Katib string that a YAML author may have written as a number.
Result<std::string> ScalarValue(const Json& v, const std::string& field) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number()) return NumberText(v);
  return WrongTypeError(field, "a string", v);
}

Result<std::optional<std::int64_t>> Int32Field(const Json& obj, std::string_view key,
                                               const std::string& path) {
  const std::string field = Child(path, key);
  const Json* v = FindField(obj, key);
  if (!v) return std::optional<std::int64_t>();
  if (!v->is_number_integer()) return WrongTypeError(field, "an integer", *v);
  if (v->is_number_unsigned()
          ? v->get<std::uint64_t>() > 2147483647u
          : (v->get<std::int64_t>() > 2147483647 || v->get<std::int64_t>() < -2147483648LL)) {
    return InvalidArgument(field + " is out of the int32 range", field);
  }
  return std::optional<std::int64_t>(v->get<std::int64_t>());
}

// A feasibleSpace number as Katib writes them: "0.01", "1e-3", "5".
Result<double> ParseKatibNumber(std::string_view text, const std::string& field) {
  std::string_view t = text;
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  if (!t.empty() && t.front() == '+') t.remove_prefix(1);
  double v = 0;
  auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || ptr != t.data() + t.size() || !std::isfinite(v)) {
    return InvalidArgument(field + ": " + Q(text) + " is not a number", field);
  }
  return v;
}

// Kubernetes resource.Quantity: a signed decimal number, then a binary-SI
// (Ki..Ei), decimal-SI (n u m k M G T P E) or exponent (e3, E-2) suffix.
bool ParseQuantity(std::string_view s, double* out) {
  std::size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    negative = s[i] == '-';
    ++i;
  }
  const std::size_t start = i;
  std::size_t digits = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (s[i] >= '0' && s[i] <= '9') {
      ++digits;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data() + start, s.data() + i, v);
  if (ec != std::errc() || ptr != s.data() + i) return false;
  const std::string_view suffix = s.substr(i);
  double scale = 1;
  static const std::pair<std::string_view, double> kSuffixes[] = {
      {"", 1},        {"n", 1e-9},    {"u", 1e-6},    {"m", 1e-3},    {"k", 1e3},     {"M", 1e6},
      {"G", 1e9},     {"T", 1e12},    {"P", 1e15},    {"E", 1e18},    {"Ki", 0x1p10}, {"Mi", 0x1p20},
      {"Gi", 0x1p30}, {"Ti", 0x1p40}, {"Pi", 0x1p50}, {"Ei", 0x1p60},
  };
  bool found = false;
  for (const auto& [name, factor] : kSuffixes) {
    if (name == suffix) {
      scale = factor;
      found = true;
      break;
    }
  }
  if (!found) {
    if (suffix.size() < 2 || (suffix[0] != 'e' && suffix[0] != 'E')) return false;
    std::string_view e = suffix.substr(1);
    bool neg_exp = false;
    if (e[0] == '+' || e[0] == '-') {
      neg_exp = e[0] == '-';
      e.remove_prefix(1);
    }
    int exp = 0;
    auto [eptr, eec] = std::from_chars(e.data(), e.data() + e.size(), exp);
    if (e.empty() || eec != std::errc() || eptr != e.data() + e.size() || exp > 300) return false;
    scale = std::pow(10.0, neg_exp ? -exp : exp);
  }
  *out = (negative ? -v : v) * scale;
  return std::isfinite(*out);
}

Status ParseResource(std::string_view name, std::string_view text, const std::string& field,
                     ResourceAmounts* amounts) {
  double v = 0;
  if (!ParseQuantity(text, &v)) {
    return InvalidArgument(
        field + ": " + Q(text) + " is not a Kubernetes quantity (e.g. \"500m\", \"1Gi\", \"2\")", field);
  }
  if (v < 0) return InvalidArgument(field + " must not be negative", field);
  if (name == "cpu") {
    if (v > 1e6) return InvalidArgument(field + ": " + Q(text) + " is too large", field);
    amounts->cpu = v;
  } else if (name == "memory") {
    if (v >= 9.2e18) return InvalidArgument(field + ": " + Q(text) + " is too large", field);
    amounts->memory_bytes = static_cast<std::int64_t>(std::ceil(v));
  } else if (name == "nvidia.com/gpu" || name == "amd.com/gpu") {
    if (v != std::floor(v) || v > 1e6) {
      return InvalidArgument(field + " must be a whole number of GPUs", field);
    }
    amounts->gpu = static_cast<std::int64_t>(v);
  }
  return Status::OK();
}

// Calls f(name) for every ${trialParameters.<name>} in s.
template <typename F>
void ForEachPlaceholder(std::string_view s, F&& f) {
  std::size_t pos = 0;
  while ((pos = s.find(kPlaceholderPrefix, pos)) != std::string_view::npos) {
    const std::size_t start = pos + kPlaceholderPrefix.size();
    const std::size_t close = s.find('}', start);
    if (close == std::string_view::npos) return;  // not a placeholder: left as text, as Katib's regexp does
    f(s.substr(start, close - start));
    pos = close + 1;
  }
}

// s with every placeholder replaced; false (and *missing) on an unknown name.
bool Substitute(std::string_view s, const std::map<std::string, std::string, std::less<>>& values,
                std::string* out, std::string* missing) {
  out->clear();
  std::size_t pos = 0;
  while (true) {
    const std::size_t found = s.find(kPlaceholderPrefix, pos);
    const std::size_t close =
        found == std::string_view::npos ? found : s.find('}', found + kPlaceholderPrefix.size());
    if (close == std::string_view::npos) {
      out->append(s.substr(pos));
      return true;
    }
    const std::string_view name =
        s.substr(found + kPlaceholderPrefix.size(), close - found - kPlaceholderPrefix.size());
    auto it = values.find(name);
    if (it == values.end()) {
      *missing = std::string(name);
      return false;
    }
    out->append(s.substr(pos, found - pos));
    out->append(it->second);
    pos = close + 1;
  }
}

// Visits every string (values, then keys) of the trial spec with its field.
Status VisitStrings(const Json& v, const std::string& path,
                    const std::function<Status(std::string_view, const std::string&)>& f) {
  if (v.is_string()) return f(v.get_ref<const std::string&>(), path);
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) RETURN_IF_ERROR(VisitStrings(v[i], At(path, i), f));
  } else if (v.is_object()) {
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = Child(path, it.key());
      RETURN_IF_ERROR(f(it.key(), child));
      RETURN_IF_ERROR(VisitStrings(it.value(), child, f));
    }
  }
  return Status::OK();
}

Status SubstituteAll(Json& v, const std::map<std::string, std::string, std::less<>>& values,
                     const std::string& path) {
  std::string out, missing;
  if (v.is_string()) {
    if (!Substitute(v.get_ref<const std::string&>(), values, &out, &missing)) {
      return InvalidArgument("no value for ${trialParameters." + missing + "}", path);
    }
    v = out;
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) RETURN_IF_ERROR(SubstituteAll(v[i], values, At(path, i)));
  } else if (v.is_object()) {
    Json replaced = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string child = Child(path, it.key());
      if (!Substitute(it.key(), values, &out, &missing)) {
        return InvalidArgument("no value for ${trialParameters." + missing + "}", child);
      }
      if (replaced.contains(out)) {
        return InvalidArgument("substitution makes two keys equal: " + Q(out), child);
      }
      Json value = std::move(it.value());
      RETURN_IF_ERROR(SubstituteAll(value, values, child));
      replaced[out] = std::move(value);
    }
    v = std::move(replaced);
  }
  return Status::OK();
}

// ------------------------------------------------------------ trial metadata

struct MetaKey {
  std::string key;    // Name, Namespace, Kind, APIVersion, Labels, Annotations
  std::string index;  // the label or annotation key
};

// "${trialSpec.Name}", "${trialSpec.Labels[app]}", ...: the key, or nullopt
// when `reference` is not a metadata reference at all.
std::optional<MetaKey> ParseMetaKey(std::string_view reference) {
  constexpr std::string_view kPrefix = "${trialSpec.";
  if (reference.substr(0, kPrefix.size()) != kPrefix || reference.back() != '}') return std::nullopt;
  std::string_view inner = reference.substr(kPrefix.size(), reference.size() - kPrefix.size() - 1);
  MetaKey m;
  const std::size_t open = inner.find('[');
  // Katib's "(.+)\[(.+)]": a key and a non-empty index.
  if (open != std::string_view::npos && open > 0 && inner.back() == ']' && open + 3 <= inner.size()) {
    m.key = std::string(inner.substr(0, open));
    m.index = std::string(inner.substr(open + 1, inner.size() - open - 2));
  } else {
    m.key = std::string(inner);
  }
  return m;
}

std::map<std::string, std::string> StringMap(const Json* obj) {
  std::map<std::string, std::string> out;
  if (!obj || !obj->is_object()) return out;
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    if (it->is_string()) out[it.key()] = it->get<std::string>();
  }
  return out;
}

std::map<std::string, std::string> TrialSpecMetadata(const Json& trial_spec, std::string_view which) {
  const Json* meta = FindField(trial_spec, "metadata");
  return meta && meta->is_object() ? StringMap(FindField(*meta, which)) : std::map<std::string, std::string>{};
}

// The value of a metadata reference for a trial; the message when the
// reference cannot be resolved.
Result<std::string> MetaValue(const MetaKey& m, const Json& trial_spec, std::string_view trial_name,
                              std::string_view trial_namespace) {
  if (m.index.empty()) {
    if (m.key == "Name") return std::string(trial_name);
    if (m.key == "Namespace") return std::string(trial_namespace);
    if (m.key == "Kind") return FindField(trial_spec, "kind") ? FindField(trial_spec, "kind")->get<std::string>() : "";
    if (m.key == "APIVersion") {
      return FindField(trial_spec, "apiVersion") ? FindField(trial_spec, "apiVersion")->get<std::string>() : "";
    }
  } else if (m.key == "Labels" || m.key == "Annotations") {
    const auto values = TrialSpecMetadata(trial_spec, m.key == "Labels" ? "labels" : "annotations");
    auto it = values.find(m.index);
    if (it == values.end()) {
      return InvalidArgument(
          "the trial spec has no " + std::string(m.key == "Labels" ? "label " : "annotation ") + Q(m.index) +
          " (spec.trialTemplate.trialSpec.metadata." + (m.key == "Labels" ? "labels" : "annotations") + ")");
    }
    return it->second;
  }
  return InvalidArgument("unknown trial metadata key " + Q(m.key) +
                         " (known: Name, Namespace, Kind, APIVersion, Labels[key], Annotations[key])");
}

// ------------------------------------------------------------ containers

// Parses a container; quantities holding a placeholder are checked only
// when `allow_placeholders` (at parse time; they are parsed once rendered).
Result<ContainerSpec> ParseContainer(const Json& c, const std::string& path, bool allow_placeholders,
                                     ResourceAmounts* requests, ResourceAmounts* limits) {
  ContainerSpec out;
  ASSIGN_OR_RETURN(out.name, StringField(c, "name", path));
  ASSIGN_OR_RETURN(out.image, StringField(c, "image", path));
  ASSIGN_OR_RETURN(out.working_dir, StringField(c, "workingDir", path));
  for (std::string_view key : {"command", "args"}) {
    ASSIGN_OR_RETURN(const Json* list, ArrayField(c, key, path));
    if (!list) continue;
    std::vector<std::string>& dest = key == "command" ? out.command : out.args;
    for (std::size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(std::string s, StringValue((*list)[i], At(Child(path, key), i)));
      dest.push_back(std::move(s));
    }
  }
  if (Present(c, "envFrom")) {
    return InvalidArgument("envFrom is not supported: environment values must be given in env[].value",
                           Child(path, "envFrom"));
  }
  ASSIGN_OR_RETURN(const Json* env, ArrayField(c, "env", path));
  if (env) {
    for (std::size_t i = 0; i < env->size(); ++i) {
      const std::string at = At(Child(path, "env"), i);
      const Json& e = (*env)[i];
      if (!e.is_object()) return WrongTypeError(at, "an object", e);
      if (Present(e, "valueFrom")) {
        return InvalidArgument("valueFrom is not supported: give the value in env[].value",
                               Child(at, "valueFrom"));
      }
      RETURN_IF_ERROR(CheckFields(e, at, {"name", "value", "valueFrom"}));
      EnvVar var;
      ASSIGN_OR_RETURN(var.name, StringField(e, "name", at, /*required=*/true));
      ASSIGN_OR_RETURN(var.value, StringField(e, "value", at));
      out.env.push_back(std::move(var));
    }
  }
  ASSIGN_OR_RETURN(const Json* resources, ObjectField(c, "resources", path, false));
  if (resources) {
    const std::string rpath = Child(path, "resources");
    for (std::string_view which : {"requests", "limits"}) {
      ASSIGN_OR_RETURN(const Json* list, ObjectField(*resources, which, rpath, false));
      if (!list) continue;
      const std::string lpath = Child(rpath, which);
      std::map<std::string, std::string>& dest = which == "requests" ? out.requests : out.limits;
      ResourceAmounts* amounts = which == "requests" ? requests : limits;
      for (auto it = list->begin(); it != list->end(); ++it) {
        const std::string field = Child(lpath, it.key());
        ASSIGN_OR_RETURN(std::string text, ScalarValue(it.value(), field));
        if (!(allow_placeholders && text.find("${") != std::string::npos)) {
          RETURN_IF_ERROR(ParseResource(it.key(), text, field, amounts));
        }
        dest[it.key()] = std::move(text);
      }
    }
  }
  return out;
}

// Depth first, keys in order: the first container named `name` in a
// "containers" list anywhere in v.
bool FindContainer(const Json& v, std::string_view name, const std::string& path, const std::string& pointer,
                   std::string* found_path, std::string* found_pointer) {
  if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (FindContainer(v[i], name, At(path, i), pointer + "/" + std::to_string(i), found_path,
                        found_pointer)) {
        return true;
      }
    }
    return false;
  }
  if (!v.is_object()) return false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string child = Child(path, it.key());
    const std::string child_pointer = PointerChild(pointer, it.key());
    if (it.key() == "containers" && it->is_array()) {
      for (std::size_t i = 0; i < it->size(); ++i) {
        const Json& c = (*it)[i];
        const Json* n = c.is_object() ? FindField(c, "name") : nullptr;
        if (n && n->is_string() && n->get_ref<const std::string&>() == name) {
          *found_path = At(child, i);
          *found_pointer = child_pointer + "/" + std::to_string(i);
          return true;
        }
      }
    }
    if (FindContainer(it.value(), name, child, child_pointer, found_path, found_pointer)) return true;
  }
  return false;
}

// Kubernetes' $(VAR) expansion (third_party/forked/golang/expansion):
// "$$" is a literal '$', "$(NAME)" the variable when defined, else kept.
std::string ExpandK8s(std::string_view in, const std::map<std::string, std::string, std::less<>>& vars) {
  std::string out;
  std::size_t checkpoint = 0;
  for (std::size_t cursor = 0; cursor < in.size(); ++cursor) {
    if (in[cursor] != '$' || cursor + 1 >= in.size()) continue;
    out.append(in.substr(checkpoint, cursor - checkpoint));
    const char next = in[cursor + 1];
    std::size_t advance = 1;
    if (next == '$') {
      out += '$';
    } else if (next == '(') {
      const std::size_t close = in.find(')', cursor + 2);
      if (close == std::string_view::npos) {
        out += "$(";
      } else {
        const std::string_view name = in.substr(cursor + 2, close - cursor - 2);
        auto it = vars.find(name);
        if (it != vars.end()) {
          out += it->second;
        } else {
          out.append(in.substr(cursor, close - cursor + 1));
        }
        advance = close - cursor;
      }
    } else {
      out += '$';
      out += next;
    }
    cursor += advance;
    checkpoint = cursor + 1;
  }
  out.append(in.substr(std::min(checkpoint, in.size())));
  return out;
}

// ------------------------------------------------------------ sections

Status ParseObjective(const Json& spec, ObjectiveSpec* out) {
  const std::string path = "spec.objective";
  ASSIGN_OR_RETURN(const Json* obj, ObjectField(spec, "objective", "spec", true));
  RETURN_IF_ERROR(CheckFields(
      *obj, path, {"type", "goal", "objectiveMetricName", "additionalMetricNames", "metricStrategies"}));
  ASSIGN_OR_RETURN(std::string type, StringField(*obj, "type", path, true));
  if (type == "minimize") {
    out->type = Direction::kMinimize;
  } else if (type == "maximize") {
    out->type = Direction::kMaximize;
  } else {
    return InvalidArgument(path + ".type must be minimize or maximize, not " + Q(type), path + ".type");
  }
  if (const Json* goal = FindField(*obj, "goal")) {
    if (!goal->is_number()) return WrongTypeError(path + ".goal", "a number", *goal);
    out->goal = goal->get<double>();
    if (!std::isfinite(*out->goal)) return InvalidArgument(path + ".goal must be finite", path + ".goal");
  }
  ASSIGN_OR_RETURN(out->objective_metric_name, StringField(*obj, "objectiveMetricName", path, true));
  ASSIGN_OR_RETURN(const Json* additional, ArrayField(*obj, "additionalMetricNames", path));
  if (additional) {
    for (std::size_t i = 0; i < additional->size(); ++i) {
      const std::string field = At(path + ".additionalMetricNames", i);
      ASSIGN_OR_RETURN(std::string name, StringValue((*additional)[i], field));
      if (name.empty()) return InvalidArgument(field + " must not be empty", field);
      if (name == out->objective_metric_name) {
        return InvalidArgument(field + " repeats spec.objective.objectiveMetricName " + Q(name), field);
      }
      if (std::find(out->additional_metric_names.begin(), out->additional_metric_names.end(), name) ==
          out->additional_metric_names.end()) {
        out->additional_metric_names.push_back(std::move(name));
      }
    }
  }
  ASSIGN_OR_RETURN(const Json* strategies, ArrayField(*obj, "metricStrategies", path));
  if (strategies) {
    for (std::size_t i = 0; i < strategies->size(); ++i) {
      const std::string at = At(path + ".metricStrategies", i);
      const Json& s = (*strategies)[i];
      if (!s.is_object()) return WrongTypeError(at, "an object", s);
      RETURN_IF_ERROR(CheckFields(s, at, {"name", "value"}));
      ASSIGN_OR_RETURN(std::string name, StringField(s, "name", at, true));
      ASSIGN_OR_RETURN(std::string value, StringField(s, "value", at, true));
      std::optional<MetricStrategy> strategy = ParseMetricStrategy(value);
      if (!strategy) {
        return InvalidArgument(at + ".value must be min, max or latest, not " + Q(value), at + ".value");
      }
      if (!out->metric_strategies.emplace(name, *strategy).second) {
        return InvalidArgument("metric " + Q(name) + " has two strategies", at + ".name");
      }
    }
  }
  const MetricStrategy fallback =
      out->type == Direction::kMinimize ? MetricStrategy::kMin : MetricStrategy::kMax;
  out->metric_strategies.emplace(out->objective_metric_name, fallback);
  for (const std::string& m : out->additional_metric_names) out->metric_strategies.emplace(m, fallback);
  return Status::OK();
}

Status ParseCounts(const Json& spec, ExperimentSpec* out) {
  ASSIGN_OR_RETURN(std::optional<std::int64_t> parallel, Int32Field(spec, "parallelTrialCount", "spec"));
  ASSIGN_OR_RETURN(out->max_trial_count, Int32Field(spec, "maxTrialCount", "spec"));
  ASSIGN_OR_RETURN(out->max_failed_trial_count, Int32Field(spec, "maxFailedTrialCount", "spec"));
  if (out->max_failed_trial_count && *out->max_failed_trial_count < 0) {
    return InvalidArgument("spec.maxFailedTrialCount must not be negative", "spec.maxFailedTrialCount");
  }
  if (out->max_trial_count && *out->max_trial_count <= 0) {
    return InvalidArgument("spec.maxTrialCount must be greater than 0", "spec.maxTrialCount");
  }
  if (parallel && *parallel <= 0) {
    return InvalidArgument("spec.parallelTrialCount must be greater than 0", "spec.parallelTrialCount");
  }
  if (out->max_failed_trial_count && out->max_trial_count &&
      *out->max_failed_trial_count > *out->max_trial_count) {
    return InvalidArgument("spec.maxFailedTrialCount (" + std::to_string(*out->max_failed_trial_count) +
                               ") must not exceed spec.maxTrialCount (" +
                               std::to_string(*out->max_trial_count) + ")",
                           "spec.maxFailedTrialCount");
  }
  if (parallel && out->max_trial_count && *parallel > *out->max_trial_count) {
    return InvalidArgument("spec.parallelTrialCount (" + std::to_string(*parallel) +
                               ") must not exceed spec.maxTrialCount (" +
                               std::to_string(*out->max_trial_count) + ")",
                           "spec.parallelTrialCount");
  }
  out->parallel_trial_count = parallel.value_or(3);
  return Status::OK();
}

Status ParseParameter(const Json& p, const std::string& at, ParamSpec* out) {
  if (!p.is_object()) return WrongTypeError(at, "an object", p);
  RETURN_IF_ERROR(CheckFields(p, at, {"name", "parameterType", "feasibleSpace"}));
  ASSIGN_OR_RETURN(out->name, StringField(p, "name", at, true));
  ASSIGN_OR_RETURN(std::string type, StringField(p, "parameterType", at, true));
  if (type == "double") {
    out->type = ParamType::kDouble;
  } else if (type == "int") {
    out->type = ParamType::kInt;
  } else if (type == "discrete") {
    out->type = ParamType::kDiscrete;
  } else if (type == "categorical") {
    out->type = ParamType::kCategorical;
  } else {
    return InvalidArgument("parameterType must be double, int, discrete or categorical, not " + Q(type),
                           at + ".parameterType");
  }
  const std::string fs_path = at + ".feasibleSpace";
  ASSIGN_OR_RETURN(const Json* fs, ObjectField(p, "feasibleSpace", at, true));
  if (fs->empty()) return InvalidArgument(fs_path + " must not be empty", fs_path);
  RETURN_IF_ERROR(CheckFields(*fs, fs_path, {"min", "max", "step", "list", "distribution"}));
  ASSIGN_OR_RETURN(std::string distribution, StringField(*fs, "distribution", fs_path));
  if (distribution.empty() || distribution == "uniform") {
    out->distribution = Distribution::kUniform;
  } else if (distribution == "logUniform") {
    out->distribution = Distribution::kLogUniform;
  } else if (distribution == "normal") {
    out->distribution = Distribution::kNormal;
  } else if (distribution == "logNormal") {
    out->distribution = Distribution::kLogNormal;
  } else {
    return InvalidArgument(
        "distribution must be uniform, logUniform, normal or logNormal, not " + Q(distribution),
        fs_path + ".distribution");
  }
  const bool ranged = out->type == ParamType::kDouble || out->type == ParamType::kInt;
  if (ranged) {
    if (Present(*fs, "list")) {
      return InvalidArgument("feasibleSpace.list is not supported for parameterType " + type,
                             fs_path + ".list");
    }
    for (std::string_view key : {"min", "max", "step"}) {
      const Json* v = FindField(*fs, key);
      const std::string field = fs_path + "." + std::string(key);
      if (!v) {
        if (key == "step") continue;
        return InvalidArgument(field + " is required for parameterType " + type, field);
      }
      ASSIGN_OR_RETURN(std::string text, ScalarValue(*v, field));
      if (key == "step" && text.empty()) continue;
      ASSIGN_OR_RETURN(double number, ParseKatibNumber(text, field));
      (key == "min" ? out->min : key == "max" ? out->max : out->step) = number;
    }
    return Status::OK();
  }
  for (std::string_view key : {"min", "max", "step"}) {
    if (Present(*fs, key)) {
      return InvalidArgument(
          "feasibleSpace." + std::string(key) + " is not supported for parameterType " + type,
          fs_path + "." + std::string(key));
    }
  }
  ASSIGN_OR_RETURN(const Json* list, ArrayField(*fs, "list", fs_path));
  if (!list) {
    return InvalidArgument(fs_path + ".list is required for parameterType " + type, fs_path + ".list");
  }
  for (std::size_t k = 0; k < list->size(); ++k) {
    const std::string field = At(fs_path + ".list", k);
    ASSIGN_OR_RETURN(std::string text, ScalarValue((*list)[k], field));
    if (out->type == ParamType::kCategorical) {
      out->choices.push_back(std::move(text));
    } else {
      ASSIGN_OR_RETURN(double number, ParseKatibNumber(text, field));
      out->values.push_back(number);
    }
  }
  return Status::OK();
}

Status ParseParameters(const Json& spec, SearchSpace* out) {
  if (Present(spec, "nasConfig")) {
    return InvalidArgument("neural architecture search (spec.nasConfig) is not supported", "spec.nasConfig");
  }
  ASSIGN_OR_RETURN(const Json* params, ArrayField(spec, "parameters", "spec"));
  if (!params || params->empty()) {
    return InvalidArgument("spec.parameters must list the parameters to tune", "spec.parameters");
  }
  for (std::size_t i = 0; i < params->size(); ++i) {
    ParamSpec p;
    RETURN_IF_ERROR(ParseParameter((*params)[i], At("spec.parameters", i), &p));
    out->params.push_back(std::move(p));
  }
  return out->Validate("spec.parameters");
}

Result<AlgorithmSpec> ParseAlgorithm(const Json& obj, const std::string& path) {
  RETURN_IF_ERROR(CheckFields(obj, path, {"algorithmName", "algorithmSettings"}));
  AlgorithmSpec out;
  ASSIGN_OR_RETURN(out.name, StringField(obj, "algorithmName", path, true));
  ASSIGN_OR_RETURN(const Json* settings, ArrayField(obj, "algorithmSettings", path));
  if (settings) {
    for (std::size_t i = 0; i < settings->size(); ++i) {
      const std::string at = At(path + ".algorithmSettings", i);
      const Json& s = (*settings)[i];
      if (!s.is_object()) return WrongTypeError(at, "an object", s);
      RETURN_IF_ERROR(CheckFields(s, at, {"name", "value"}));
      ASSIGN_OR_RETURN(std::string name, StringField(s, "name", at, true));
      std::string value;
      if (const Json* v = FindField(s, "value")) {
        ASSIGN_OR_RETURN(value, ScalarValue(*v, at + ".value"));
      }
      if (!out.settings.emplace(name, std::move(value)).second) {
        return InvalidArgument("setting " + Q(name) + " is given twice", at + ".name");
      }
    }
  }
  return out;
}

Status ParseTrialParameters(const Json& tt, const ExperimentSpec& spec, const std::string& path,
                            std::vector<TrialParameterSpec>* out) {
  const std::string list_path = path + ".trialParameters";
  ASSIGN_OR_RETURN(const Json* list, ArrayField(tt, "trialParameters", path));
  if (!list) return RequiredFieldError(list_path);
  std::set<std::string> names, refs;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string at = At(list_path, i);
    const Json& p = (*list)[i];
    if (!p.is_object()) return WrongTypeError(at, "an object", p);
    RETURN_IF_ERROR(CheckFields(p, at, {"name", "description", "reference"}));
    TrialParameterSpec tp;
    ASSIGN_OR_RETURN(tp.name, StringField(p, "name", at, true));
    ASSIGN_OR_RETURN(tp.description, StringField(p, "description", at));
    ASSIGN_OR_RETURN(tp.reference, StringField(p, "reference", at, true));
    if (tp.name.find_first_of("{}") != std::string::npos) {
      return InvalidArgument("trial parameter name " + Q(tp.name) + " must not contain '{' or '}'",
                             at + ".name");
    }
    if (!names.insert(tp.name).second) {
      return InvalidArgument("trial parameter " + Q(tp.name) + " appears twice", at + ".name");
    }
    if (!refs.insert(tp.reference).second) {
      return InvalidArgument("reference " + Q(tp.reference) + " appears twice", at + ".reference");
    }
    if (std::optional<MetaKey> meta = ParseMetaKey(tp.reference)) {
      Result<std::string> v = MetaValue(*meta, spec.trial_template.trial_spec, "", "");
      if (!v.ok()) return InvalidArgument(v.status().message(), at + ".reference");
    } else {
      const auto& params = spec.space.params;
      if (std::none_of(params.begin(), params.end(),
                       [&](const ParamSpec& s) { return s.name == tp.reference; })) {
        return InvalidArgument("reference " + Q(tp.reference) + " names no parameter in spec.parameters",
                               at + ".reference");
      }
    }
    out->push_back(std::move(tp));
  }
  return Status::OK();
}

Status ParseTrialTemplate(const Json& spec_json, ExperimentSpec* spec) {
  const std::string path = "spec.trialTemplate";
  ASSIGN_OR_RETURN(const Json* tt, ObjectField(spec_json, "trialTemplate", "spec", true));
  RETURN_IF_ERROR(CheckFields(*tt, path,
                              {"retain", "trialSpec", "configMap", "trialParameters", "primaryPodLabels",
                               "primaryContainerName", "successCondition", "failureCondition"}));
  TrialTemplateSpec& out = spec->trial_template;
  if (Present(*tt, "configMap")) {
    return InvalidArgument(
        "trial templates from a ConfigMap are not supported; put the template in " + path + ".trialSpec",
        path + ".configMap");
  }
  ASSIGN_OR_RETURN(out.primary_container_name, StringField(*tt, "primaryContainerName", path, true));
  if (const Json* retain = FindField(*tt, "retain")) {
    if (!retain->is_boolean()) return WrongTypeError(path + ".retain", "true or false", *retain);
    out.retain = retain->get<bool>();
  }
  ASSIGN_OR_RETURN(const Json* labels, ObjectField(*tt, "primaryPodLabels", path, false));
  if (labels) {
    for (auto it = labels->begin(); it != labels->end(); ++it) {
      ASSIGN_OR_RETURN(out.primary_pod_labels[it.key()],
                       StringValue(it.value(), Child(path + ".primaryPodLabels", it.key())));
    }
  }

  const std::string ts_path = path + ".trialSpec";
  ASSIGN_OR_RETURN(const Json* trial_spec, ObjectField(*tt, "trialSpec", path, true));
  out.trial_spec = *trial_spec;
  RETURN_IF_ERROR(StringField(*trial_spec, "apiVersion", ts_path, true));
  ASSIGN_OR_RETURN(std::string kind, StringField(*trial_spec, "kind", ts_path, true));
  if (const Json* meta = FindField(*trial_spec, "metadata")) {
    if (!meta->is_object()) return WrongTypeError(ts_path + ".metadata", "an object", *meta);
    for (std::string_view key : {"name", "namespace"}) {
      if (Present(*meta, key)) {
        return InvalidArgument("the trial spec must not set metadata." + std::string(key) +
                                   ": each trial's worker gets the trial's",
                               ts_path + ".metadata." + std::string(key));
      }
    }
  }

  ASSIGN_OR_RETURN(out.success_condition, StringField(*tt, "successCondition", path));
  ASSIGN_OR_RETURN(out.failure_condition, StringField(*tt, "failureCondition", path));
  static const std::set<std::string, std::less<>> kKubeflowJobs = {"TFJob", "PyTorchJob", "XGBoostJob",
                                                                   "MXJob", "MPIJob"};
  if (kind == "Job") {
    if (out.success_condition.empty()) out.success_condition = kJobSuccessCondition;
    if (out.failure_condition.empty()) out.failure_condition = kJobFailureCondition;
  } else if (kKubeflowJobs.count(kind)) {
    if (out.success_condition.empty()) out.success_condition = kKubeflowSuccessCondition;
    if (out.failure_condition.empty()) out.failure_condition = kKubeflowFailureCondition;
    if (out.primary_pod_labels.empty()) out.primary_pod_labels["training.kubeflow.org/job-role"] = "master";
  }
  if (out.success_condition.empty()) {
    return InvalidArgument(path + ".successCondition is required for kind " + Q(kind),
                           path + ".successCondition");
  }
  if (out.failure_condition.empty()) {
    return InvalidArgument(path + ".failureCondition is required for kind " + Q(kind),
                           path + ".failureCondition");
  }

  RETURN_IF_ERROR(ParseTrialParameters(*tt, *spec, path, &out.trial_parameters));

  // Every placeholder names a trial parameter; every trial parameter is used.
  std::set<std::string, std::less<>> defined, used;
  for (const TrialParameterSpec& tp : out.trial_parameters) defined.insert(tp.name);
  RETURN_IF_ERROR(
      VisitStrings(*trial_spec, ts_path, [&](std::string_view s, const std::string& field) -> Status {
        Status st;
        ForEachPlaceholder(s, [&](std::string_view name) {
          if (!st.ok()) return;
          if (!defined.count(name)) {
            st = InvalidArgument("${trialParameters." + std::string(name) +
                                     "} names no entry of spec.trialTemplate.trialParameters",
                                 field);
          } else {
            used.insert(std::string(name));
          }
        });
        return st;
      }));
  for (std::size_t i = 0; i < out.trial_parameters.size(); ++i) {
    if (!used.count(out.trial_parameters[i].name)) {
      return InvalidArgument("trial parameter " + Q(out.trial_parameters[i].name) + " is not used in " +
                                 ts_path + " (write ${trialParameters." + out.trial_parameters[i].name +
                                 "} where it goes)",
                             At(path + ".trialParameters", i) + ".name");
    }
  }
  for (std::size_t j = 0; j < spec->space.params.size(); ++j) {
    const std::string& name = spec->space.params[j].name;
    if (std::none_of(out.trial_parameters.begin(), out.trial_parameters.end(),
                     [&](const TrialParameterSpec& tp) { return tp.reference == name; })) {
      return InvalidArgument("parameter " + Q(name) + " (spec.parameters[" + std::to_string(j) +
                                 "]) is not referenced by any trial parameter, so no trial would receive it",
                             path + ".trialParameters");
    }
  }

  std::string container_path, container_pointer;
  if (!FindContainer(*trial_spec, out.primary_container_name, ts_path, "", &container_path,
                     &container_pointer)) {
    return InvalidArgument("no container named " + Q(out.primary_container_name) + " in " + ts_path,
                           path + ".primaryContainerName");
  }
  const Json& container = trial_spec->at(Json::json_pointer(container_pointer));
  ResourceAmounts requests, limits;
  ASSIGN_OR_RETURN(out.primary_container,
                   ParseContainer(container, container_path, true, &requests, &limits));
  out.primary_container.pointer = container_pointer;
  return Status::OK();
}

Status ParseMetricsCollector(const Json& spec_json, MetricsCollectorSpec* out) {
  const std::string path = "spec.metricsCollectorSpec";
  ASSIGN_OR_RETURN(const Json* mc, ObjectField(spec_json, "metricsCollectorSpec", "spec", false));
  if (!mc) return Status::OK();
  RETURN_IF_ERROR(CheckFields(*mc, path, {"source", "collector"}));
  ASSIGN_OR_RETURN(const Json* collector, ObjectField(*mc, "collector", path, false));
  if (collector) {
    const std::string cpath = path + ".collector";
    RETURN_IF_ERROR(CheckFields(*collector, cpath, {"kind", "customCollector"}));
    ASSIGN_OR_RETURN(std::string kind, StringField(*collector, "kind", cpath, true));
    if (kind == "StdOut") {
      out->kind = CollectorKind::kStdOut;
    } else if (kind == "File") {
      out->kind = CollectorKind::kFile;
    } else if (kind == "None") {
      out->kind = CollectorKind::kNone;
    } else if (kind == "Push") {
      out->kind = CollectorKind::kPush;
    } else if (kind == "TensorFlowEvent" || kind == "PrometheusMetric" || kind == "Custom") {
      return InvalidArgument(
          "metrics collector kind " + kind + " is not supported (use StdOut, File, Push or None)",
          cpath + ".kind");
    } else {
      return InvalidArgument(
          "invalid metrics collector kind " + Q(kind) +
              " (Katib's are StdOut, File, TensorFlowEvent, PrometheusMetric, Custom, None, Push)",
          cpath + ".kind");
    }
  }
  const std::string spath = path + ".source";
  ASSIGN_OR_RETURN(const Json* source, ObjectField(*mc, "source", path, false));
  const Json* fsp = nullptr;
  const Json* filter = nullptr;
  if (source) {
    RETURN_IF_ERROR(CheckFields(*source, spath, {"fileSystemPath", "filter", "httpGet"}));
    ASSIGN_OR_RETURN(fsp, ObjectField(*source, "fileSystemPath", spath, false));
    ASSIGN_OR_RETURN(filter, ObjectField(*source, "filter", spath, false));
  }
  std::string fs_kind, fs_format;
  if (fsp) {
    const std::string fpath = spath + ".fileSystemPath";
    RETURN_IF_ERROR(CheckFields(*fsp, fpath, {"path", "kind", "format"}));
    ASSIGN_OR_RETURN(out->file_path, StringField(*fsp, "path", fpath));
    ASSIGN_OR_RETURN(fs_kind, StringField(*fsp, "kind", fpath));
    ASSIGN_OR_RETURN(fs_format, StringField(*fsp, "format", fpath));
    if (!fs_kind.empty() && fs_kind != "File" && fs_kind != "Directory") {
      return InvalidArgument(fpath + ".kind must be File or Directory, not " + Q(fs_kind), fpath + ".kind");
    }
    if (!fs_format.empty() && fs_format != "TEXT" && fs_format != "JSON") {
      return InvalidArgument(fpath + ".format must be TEXT or JSON, not " + Q(fs_format), fpath + ".format");
    }
  }
  if (out->kind == CollectorKind::kFile) {
    const std::string fpath = spath + ".fileSystemPath";
    if (out->file_path.empty()) out->file_path = kDefaultMetricsFile;
    if (fs_kind == "Directory") {
      return InvalidArgument("the File collector reads a file: " + fpath + ".kind must be File",
                             fpath + ".kind");
    }
    if (out->file_path.front() != '/') {
      return InvalidArgument(fpath + ".path must be an absolute path, not " + Q(out->file_path),
                             fpath + ".path");
    }
    out->format = fs_format == "JSON" ? MetricsFormat::kJson : MetricsFormat::kText;
    if (out->format == MetricsFormat::kJson && filter) {
      return InvalidArgument("a filter does not apply to metrics in JSON format", spath + ".filter");
    }
  } else {
    out->file_path.clear();
  }
  if (filter) {
    const std::string fpath = spath + ".filter";
    RETURN_IF_ERROR(CheckFields(*filter, fpath, {"metricsFormat"}));
    ASSIGN_OR_RETURN(const Json* formats, ArrayField(*filter, "metricsFormat", fpath));
    if (formats) {
      for (std::size_t i = 0; i < formats->size(); ++i) {
        const std::string field = At(fpath + ".metricsFormat", i);
        ASSIGN_OR_RETURN(std::string pattern, StringValue((*formats)[i], field));
        RETURN_IF_ERROR(MetricsFilter::Compile(pattern, field));
        out->filters.push_back(std::move(pattern));
      }
    }
  }
  return Status::OK();
}

// An algorithm that reports Unimplemented is still being built; its name
// and settings are accepted until it lands.
Status AcceptUnimplemented(Status s) { return s.code() == StatusCode::kUnimplemented ? Status::OK() : s; }

}  // namespace

std::string_view ResumePolicyName(ResumePolicy p) {
  switch (p) {
    case ResumePolicy::kNever:
      return "Never";
    case ResumePolicy::kLongRunning:
      return "LongRunning";
    case ResumePolicy::kFromVolume:
      return "FromVolume";
  }
  return "Never";
}

std::string_view CollectorKindName(CollectorKind k) {
  switch (k) {
    case CollectorKind::kStdOut:
      return "StdOut";
    case CollectorKind::kFile:
      return "File";
    case CollectorKind::kNone:
      return "None";
    case CollectorKind::kPush:
      return "Push";
  }
  return "StdOut";
}

std::vector<std::string> ObjectiveSpec::MetricNames() const {
  std::vector<std::string> names = {objective_metric_name};
  names.insert(names.end(), additional_metric_names.begin(), additional_metric_names.end());
  return names;
}

MetricStrategy ObjectiveSpec::StrategyOf(const std::string& metric) const {
  auto it = metric_strategies.find(metric);
  if (it != metric_strategies.end()) return it->second;
  return type == Direction::kMinimize ? MetricStrategy::kMin : MetricStrategy::kMax;
}

MetricsParserOptions ExperimentSpec::ParserOptions() const {
  MetricsParserOptions o;
  o.metric_names = objective.MetricNames();
  o.format = metrics_collector.format;
  o.filters = metrics_collector.filters;
  return o;
}

// Katib's hyperband service sets the resource parameter to each rung's
// budget whatever its feasible space says (its example declares num-epochs
// 1..1 with r_l 2). The budgets run from r_l / eta^s_max (at least 1) to r_l,
// so the parameter's range is widened to hold them; the sampler then never
// proposes an infeasible value.
static void WidenHyperbandResource(ExperimentSpec* spec) {
  if (spec->algorithm.name != "hyperband") return;
  auto name = spec->algorithm.settings.find("resource_name");
  if (name == spec->algorithm.settings.end()) return;
  // A bad or missing r_l is left for MakeSampler to name.
  AlgorithmSettings settings(spec->algorithm.settings);
  Result<double> r_l = settings.Double("r_l", 0, 1, std::numeric_limits<double>::max());
  if (!r_l.ok() || *r_l < 1) return;
  const double max = *r_l;
  for (ParamSpec& p : spec->space.params) {
    if (p.name != name->second || (p.type != ParamType::kInt && p.type != ParamType::kDouble)) continue;
    p.max = std::max(p.max, p.type == ParamType::kInt ? std::floor(max) : max);
    p.min = std::min(p.min, 1.0);
  }
}

Result<ExperimentSpec> ParseExperiment(const Json& object) {
  if (!object.is_object()) {
    return InvalidArgument("an Experiment must be an object, not " + std::string(JsonTypeName(object)));
  }
  ASSIGN_OR_RETURN(const Json* spec_json, ObjectField(object, "spec", "", true));
  const Json& s = *spec_json;
  RETURN_IF_ERROR(CheckFields(
      s, "spec",
      {"parameters", "objective", "algorithm", "earlyStopping", "trialTemplate", "parallelTrialCount",
       "maxTrialCount", "maxFailedTrialCount", "metricsCollectorSpec", "nasConfig", "resumePolicy"}));
  ExperimentSpec spec;
  RETURN_IF_ERROR(ParseCounts(s, &spec));
  RETURN_IF_ERROR(ParseObjective(s, &spec.objective));
  RETURN_IF_ERROR(ParseParameters(s, &spec.space));

  ASSIGN_OR_RETURN(const Json* algorithm, ObjectField(s, "algorithm", "spec", true));
  ASSIGN_OR_RETURN(spec.algorithm, ParseAlgorithm(*algorithm, "spec.algorithm"));
  WidenHyperbandResource(&spec);
  RETURN_IF_ERROR(
      AcceptUnimplemented(MakeSampler(spec.algorithm.name, spec.algorithm.settings, spec.space, 0).status()));

  ASSIGN_OR_RETURN(const Json* early, ObjectField(s, "earlyStopping", "spec", false));
  if (early) {
    ASSIGN_OR_RETURN(spec.early_stopping, ParseAlgorithm(*early, "spec.earlyStopping"));
    RETURN_IF_ERROR(
        AcceptUnimplemented(MakePruner(spec.early_stopping->name, spec.early_stopping->settings).status()));
  }

  ASSIGN_OR_RETURN(std::string resume, StringField(s, "resumePolicy", "spec"));
  if (resume.empty() || resume == "Never") {
    spec.resume_policy = ResumePolicy::kNever;
  } else if (resume == "LongRunning") {
    spec.resume_policy = ResumePolicy::kLongRunning;
  } else if (resume == "FromVolume") {
    spec.resume_policy = ResumePolicy::kFromVolume;
  } else {
    return InvalidArgument("spec.resumePolicy must be Never, LongRunning or FromVolume, not " + Q(resume),
                           "spec.resumePolicy");
  }

  RETURN_IF_ERROR(ParseTrialTemplate(s, &spec));
  RETURN_IF_ERROR(ParseMetricsCollector(s, &spec.metrics_collector));
  return spec;
}

Status ValidateExperimentObject(const Json& object) { return ParseExperiment(object).status(); }

Result<Json> RenderTrialSpec(const ExperimentSpec& spec,
                             const std::map<std::string, std::string>& assignments,
                             std::string_view trial_name, std::string_view trial_namespace) {
  for (const auto& [name, value] : assignments) {
    (void)value;
    const auto& params = spec.space.params;
    if (std::none_of(params.begin(), params.end(), [&](const ParamSpec& p) { return p.name == name; })) {
      return InvalidArgument("assignment for " + Q(name) + ", which is not in spec.parameters");
    }
  }
  const Json& trial_spec = spec.trial_template.trial_spec;
  std::map<std::string, std::string, std::less<>> values;
  for (const TrialParameterSpec& tp : spec.trial_template.trial_parameters) {
    if (std::optional<MetaKey> meta = ParseMetaKey(tp.reference)) {
      ASSIGN_OR_RETURN(values[tp.name], MetaValue(*meta, trial_spec, trial_name, trial_namespace));
      continue;
    }
    auto it = assignments.find(tp.reference);
    if (it == assignments.end()) return InvalidArgument("no assignment for parameter " + Q(tp.reference));
    values[tp.name] = it->second;
  }
  Json rendered = trial_spec;
  RETURN_IF_ERROR(SubstituteAll(rendered, values, "spec.trialTemplate.trialSpec"));
  if (!rendered.contains("metadata") || !rendered["metadata"].is_object())
    rendered["metadata"] = Json::object();
  rendered["metadata"]["name"] = std::string(trial_name);
  rendered["metadata"]["namespace"] = std::string(trial_namespace);
  return rendered;
}

Result<TrialProcess> PrimaryProcess(const ExperimentSpec& spec, const Json& rendered) {
  const std::string& pointer = spec.trial_template.primary_container.pointer;
  // A well-formed JSON pointer (RFC 6901), so that json_pointer cannot throw.
  bool well_formed = !pointer.empty() && pointer[0] == '/';
  for (std::size_t i = 0; well_formed && i < pointer.size(); ++i) {
    if (pointer[i] == '~')
      well_formed = i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1');
  }
  if (!well_formed || !rendered.contains(Json::json_pointer(pointer)) ||
      !rendered.at(Json::json_pointer(pointer)).is_object()) {
    return InvalidArgument("the rendered trial spec has no primary container at " + Q(pointer));
  }
  const Json::json_pointer ptr(pointer);
  TrialProcess out;
  ASSIGN_OR_RETURN(ContainerSpec c,
                   ParseContainer(rendered.at(ptr), PointerToPath("spec.trialTemplate.trialSpec", pointer),
                                  false, &out.requests, &out.limits));
  out.image = c.image;
  out.working_dir = c.working_dir;
  std::map<std::string, std::string, std::less<>> vars;
  for (const EnvVar& e : c.env) {
    EnvVar expanded{e.name, ExpandK8s(e.value, vars)};
    vars[expanded.name] = expanded.value;
    out.env.push_back(std::move(expanded));
  }
  for (const std::string& a : c.command) out.argv.push_back(ExpandK8s(a, vars));
  for (const std::string& a : c.args) out.argv.push_back(ExpandK8s(a, vars));
  return out;
}

std::optional<double> ObjectiveValue(const ObjectiveSpec& objective, std::span<const MetricLog> logs) {
  return Summarise(objective.objective_metric_name, objective.StrategyOf(objective.objective_metric_name),
                   logs)
      .value;
}

}  // namespace ferry::tuning
