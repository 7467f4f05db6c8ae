// The KFP IR parser and validator (see pipeline_spec.h). Two passes: the
// first reads every object of the document into the typed model, checking
// field names against the KFP protos and the shape of each value; the second
// checks references across objects (components, executors, producer tasks,
// inputs and outputs, placeholders, CEL expressions), orders each DAG and
// bounds the nesting of DAG components.
#include "ferry/pipelines/pipeline_spec.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <limits>
#include <set>
#include <utility>

#include "ferry/common/strings.h"
#include "ferry/pipelines/conditions.h"
#include "ferry/pipelines/pipeline_spec_internal.h"
#include "ferry/pipelines/placeholders.h"

namespace ferry::pipelines {
namespace {

// A name from the document, quoted for a message.
std::string Q(std::string_view name) { return "`" + SanitizeForMessage(name, 120) + "`"; }

// Joins a field path; untrusted keys are sanitized so the path is one line of
// valid UTF-8.
std::string Join(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += SanitizeForMessage(key, 200);
  return out;
}
std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

std::string SnakeToCamel(std::string_view key) {
  std::string out;
  bool upper = false;
  for (char c : key) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    upper = false;
  }
  return out;
}

// Proto3 JSON leaves default values out; a spec that writes one explicitly
// (`downloadToWorkspace: false`) asks for nothing.
bool IsDefaultValue(const Json& v) {
  if (v.is_null()) return true;
  if (v.is_boolean()) return !v.get<bool>();
  if (v.is_number()) return v.get<double>() == 0;
  if (v.is_string()) return v.get_ref<const std::string&>().empty();
  if (v.is_object() || v.is_array()) return v.empty();
  return false;
}

struct KnownField {
  std::string_view name;              // camelCase, as the compiler writes it
  std::string_view unsupported = {};  // set: refused with this message when not default
};

// The fields of one proto message in the document: checks that only known
// ones are present and gives typed access to them.
class Fields {
 public:
  static Result<Fields> Read(const Json& value, std::string path,
                             std::initializer_list<KnownField> known) {
    Fields f;
    f.path_ = std::move(path);
    if (value.is_null()) return f;  // proto JSON: null is the default message
    if (!value.is_object()) {
      return InvalidArgument("must be an object, got " + std::string(JsonTypeName(value)), f.path_);
    }
    for (const auto& [key, v] : value.items()) {
      std::string camel = SnakeToCamel(key);
      const KnownField* match = nullptr;
      for (const KnownField& k : known) {
        if (k.name == camel) match = &k;
      }
      if (match == nullptr) {
        return InvalidArgument("unknown field " + Q(key), Join(f.path_, key));
      }
      if (!match->unsupported.empty() && !IsDefaultValue(v)) {
        return InvalidArgument(std::string(match->unsupported), Join(f.path_, key));
      }
      if (f.fields_.count(camel) != 0) {
        return InvalidArgument("field " + Q(camel) + " is given twice (camelCase and snake_case)",
                               Join(f.path_, key));
      }
      if (v.is_null()) continue;
      f.fields_.emplace(std::move(camel), Entry{key, &v});
    }
    return f;
  }

  const std::string& path() const { return path_; }
  bool Has(std::string_view name) const { return fields_.find(name) != fields_.end(); }
  const Json* Get(std::string_view name) const {
    auto it = fields_.find(name);
    return it == fields_.end() ? nullptr : it->second.value;
  }
  // The path of a field, with the key as written (camel or snake case).
  std::string Path(std::string_view name) const {
    auto it = fields_.find(name);
    return Join(path_, it == fields_.end() ? name : std::string_view(it->second.key));
  }

  Status String(std::string_view name, std::string* out) const {
    const Json* v = Get(name);
    if (v == nullptr) return Status::OK();
    if (!v->is_string()) return TypeError(name, "a string", *v);
    *out = v->get<std::string>();
    return Status::OK();
  }
  Status Bool(std::string_view name, bool* out) const {
    const Json* v = Get(name);
    if (v == nullptr) return Status::OK();
    if (!v->is_boolean()) return TypeError(name, "a boolean", *v);
    *out = v->get<bool>();
    return Status::OK();
  }
  Status Double(std::string_view name, double* out) const {
    const Json* v = Get(name);
    if (v == nullptr) return Status::OK();
    if (v->is_number()) {
      *out = v->get<double>();
    } else if (v->is_string()) {  // proto JSON accepts numbers as strings
      const std::string& s = v->get_ref<const std::string&>();
      char* end = nullptr;
      errno = 0;
      double d = std::strtod(s.c_str(), &end);
      if (s.empty() || end != s.c_str() + s.size() || errno != 0) {
        return TypeError(name, "a number", *v);
      }
      *out = d;
    } else {
      return TypeError(name, "a number", *v);
    }
    if (!std::isfinite(*out)) return InvalidArgument("must be a finite number", Path(name));
    return Status::OK();
  }
  // Integers (int32/int64 in the proto; int64 is a string in proto JSON).
  Status Int(std::string_view name, std::int64_t min, std::int64_t max, std::int64_t* out) const {
    const Json* v = Get(name);
    if (v == nullptr) return Status::OK();
    double d = 0;
    RETURN_IF_ERROR(Double(name, &d));
    // 9.2e18 < 2^63: the cast below stays defined for any int64 bound.
    if (d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max) ||
        std::fabs(d) >= 9.2e18) {
      return InvalidArgument("must be an integer from " + std::to_string(min) + " to " +
                                 std::to_string(max),
                             Path(name));
    }
    *out = static_cast<std::int64_t>(d);
    return Status::OK();
  }
  // An object field read as a message; an empty Fields when absent.
  Result<Fields> Message(std::string_view name, std::initializer_list<KnownField> known) const {
    static const Json kNull;
    const Json* v = Get(name);
    return Read(v == nullptr ? kNull : *v, Path(name), known);
  }
  // A map field: the object, or null when absent.
  Result<const Json*> Map(std::string_view name) const {
    const Json* v = Get(name);
    if (v == nullptr) return static_cast<const Json*>(nullptr);
    if (!v->is_object()) return TypeError(name, "an object", *v);
    return v;
  }
  Status StringList(std::string_view name, std::vector<std::string>* out) const {
    const Json* v = Get(name);
    if (v == nullptr) return Status::OK();
    if (!v->is_array()) return TypeError(name, "a list of strings", *v);
    for (std::size_t i = 0; i < v->size(); ++i) {
      if (!(*v)[i].is_string()) {
        return InvalidArgument("must be a string, got " + std::string(JsonTypeName((*v)[i])),
                               Index(Path(name), i));
      }
      out->push_back((*v)[i].get<std::string>());
    }
    return Status::OK();
  }

 private:
  Status TypeError(std::string_view name, std::string_view want, const Json& got) const {
    return InvalidArgument("must be " + std::string(want) + ", got " + std::string(JsonTypeName(got)),
                           Path(name));
  }
  struct Entry {
    std::string key;  // as written
    const Json* value;
  };
  std::string path_;
  std::map<std::string, Entry, std::less<>> fields_;
};

constexpr std::string_view kArtifactTypeUnsupported =
    "artifact types given by `schemaUri` or `instanceSchema` are not supported; use `schemaTitle`";

Result<ArtifactTypeSpec> ParseArtifactType(const Fields& parent, std::string_view name) {
  ASSIGN_OR_RETURN(Fields f, parent.Message(name, {{"schemaTitle"},
                                                   {"schemaUri", kArtifactTypeUnsupported},
                                                   {"instanceSchema", kArtifactTypeUnsupported},
                                                   {"schemaVersion"}}));
  ArtifactTypeSpec type;
  RETURN_IF_ERROR(f.String("schemaTitle", &type.schema_title));
  RETURN_IF_ERROR(f.String("schemaVersion", &type.schema_version));
  if (type.schema_title.empty()) return InvalidArgument("artifact type needs a `schemaTitle`", f.path());
  return type;
}

Result<ParameterType> ParseParameterTypeName(const Fields& f) {
  std::string name;
  RETURN_IF_ERROR(f.String("parameterType", &name));
  if (name.empty()) {
    // The deprecated PrimitiveType `type` of KFP v1-era specs.
    std::string legacy;
    RETURN_IF_ERROR(f.String("type", &legacy));
    if (legacy == "INT") return ParameterType::kNumberInteger;
    if (legacy == "DOUBLE") return ParameterType::kNumberDouble;
    if (legacy == "STRING") return ParameterType::kString;
    if (legacy.empty()) return InvalidArgument("parameter needs a `parameterType`", f.Path("parameterType"));
    return InvalidArgument("unknown parameter type " + Q(legacy), f.Path("type"));
  }
  static const std::pair<std::string_view, ParameterType> kTypes[] = {
      {"STRING", ParameterType::kString},
      {"NUMBER_INTEGER", ParameterType::kNumberInteger},
      {"NUMBER_DOUBLE", ParameterType::kNumberDouble},
      {"BOOLEAN", ParameterType::kBoolean},
      {"LIST", ParameterType::kList},
      {"STRUCT", ParameterType::kStruct},
      {"TASK_FINAL_STATUS", ParameterType::kTaskFinalStatus},
  };
  for (const auto& [n, t] : kTypes) {
    if (n == name) return t;
  }
  return InvalidArgument("unknown parameter type " + Q(name), f.Path("parameterType"));
}

Result<InterfaceSpec> ParseInterface(const Fields& component, std::string_view name, bool inputs) {
  ASSIGN_OR_RETURN(Fields f, component.Message(name, {{"artifacts"}, {"parameters"}}));
  InterfaceSpec out;
  ASSIGN_OR_RETURN(const Json* params, f.Map("parameters"));
  if (params != nullptr) {
    for (const auto& [key, value] : params->items()) {
      std::string path = Join(f.Path("parameters"), key);
      ParameterSpec p;
      if (inputs) {
        ASSIGN_OR_RETURN(Fields pf, Fields::Read(value, path,
                                                 {{"type"},
                                                  {"parameterType"},
                                                  {"defaultValue"},
                                                  {"isOptional"},
                                                  {"description"},
                                                  {"literals", "parameter `literals` (a fixed set of "
                                                               "allowed values) are not supported"}}));
        ASSIGN_OR_RETURN(p.type, ParseParameterTypeName(pf));
        RETURN_IF_ERROR(pf.Bool("isOptional", &p.is_optional));
        RETURN_IF_ERROR(pf.String("description", &p.description));
        if (const Json* d = pf.Get("defaultValue")) {
          ASSIGN_OR_RETURN(Json v, internal::NormalizeParameterValue(p.type, *d, pf.Path("defaultValue")));
          p.default_value = std::move(v);
        }
      } else {
        ASSIGN_OR_RETURN(Fields pf, Fields::Read(value, path, {{"type"}, {"parameterType"}, {"description"}}));
        ASSIGN_OR_RETURN(p.type, ParseParameterTypeName(pf));
        RETURN_IF_ERROR(pf.String("description", &p.description));
      }
      out.parameters.emplace(key, std::move(p));
    }
  }
  ASSIGN_OR_RETURN(const Json* artifacts, f.Map("artifacts"));
  if (artifacts != nullptr) {
    for (const auto& [key, value] : artifacts->items()) {
      std::string path = Join(f.Path("artifacts"), key);
      ArtifactSpec a;
      Result<Fields> read =
          inputs ? Fields::Read(value, path,
                                {{"artifactType"}, {"isArtifactList"}, {"isOptional"}, {"description"}})
                 : Fields::Read(value, path,
                                {{"artifactType"},
                                 {"properties", "output artifact `properties` are not supported"},
                                 {"customProperties", "output artifact `customProperties` are not supported"},
                                 {"metadata", "output artifact `metadata` in the spec is not supported"},
                                 {"isArtifactList"},
                                 {"description"}});
      if (!read.ok()) return read.status();
      const Fields& af = *read;
      ASSIGN_OR_RETURN(a.type, ParseArtifactType(af, "artifactType"));
      RETURN_IF_ERROR(af.Bool("isArtifactList", &a.is_artifact_list));
      RETURN_IF_ERROR(af.Bool("isOptional", &a.is_optional));
      RETURN_IF_ERROR(af.String("description", &a.description));
      out.artifacts.emplace(key, std::move(a));
    }
  }
  return out;
}

// A ml_pipelines.Value (legacy `constantValue`) as JSON.
Result<Json> ParseLegacyValue(const Fields& parent, std::string_view name) {
  ASSIGN_OR_RETURN(Fields f, parent.Message(name, {{"intValue"}, {"doubleValue"}, {"stringValue"}}));
  if (f.Has("intValue")) {
    std::int64_t i = 0;
    RETURN_IF_ERROR(f.Int("intValue", std::numeric_limits<std::int64_t>::min(),
                          std::numeric_limits<std::int64_t>::max(), &i));
    return Json(i);
  }
  if (f.Has("doubleValue")) {
    double d = 0;
    RETURN_IF_ERROR(f.Double("doubleValue", &d));
    return Json(d);
  }
  std::string s;
  RETURN_IF_ERROR(f.String("stringValue", &s));
  return Json(s);
}

// Exactly one of the `oneof` fields of a message must be set.
Status ExactlyOne(const Fields& f, std::initializer_list<std::string_view> names, std::string_view what) {
  int n = 0;
  std::string list;
  for (std::string_view name : names) {
    if (f.Has(name)) ++n;
    list += (list.empty() ? "" : ", ") + Q(name);
  }
  if (n == 1) return Status::OK();
  return InvalidArgument(what.empty() ? "needs exactly one of " + list
                                      : std::string(what) + " needs exactly one of " + list,
                         f.path());
}

Result<ParameterSource> ParseParameterSource(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(value, path,
                                          {{"taskOutputParameter"},
                                           {"runtimeValue"},
                                           {"componentInputParameter"},
                                           {"taskFinalStatus"},
                                           {"parameterExpressionSelector"}}));
  RETURN_IF_ERROR(ExactlyOne(
      f, {"taskOutputParameter", "runtimeValue", "componentInputParameter", "taskFinalStatus"},
      "a task input parameter"));
  ParameterSource src;
  RETURN_IF_ERROR(f.String("parameterExpressionSelector", &src.expression_selector));
  if (f.Has("runtimeValue")) {
    src.kind = ParameterSource::Kind::kConstant;
    ASSIGN_OR_RETURN(Fields rv, f.Message("runtimeValue",
                                          {{"constantValue"},
                                           {"runtimeParameter",
                                            "task input `runtimeValue.runtimeParameter` (a KFP v1 construct) "
                                            "is not supported"},
                                           {"constant"}}));
    if (const Json* c = rv.Get("constant")) {
      src.constant = *c;
    } else if (rv.Has("constantValue")) {
      ASSIGN_OR_RETURN(src.constant, ParseLegacyValue(rv, "constantValue"));
    } else {
      return InvalidArgument("`runtimeValue` needs a `constant`", rv.path());
    }
  } else if (f.Has("componentInputParameter")) {
    src.kind = ParameterSource::Kind::kComponentInput;
    RETURN_IF_ERROR(f.String("componentInputParameter", &src.name));
    if (src.name.empty()) return InvalidArgument("must name an input", f.Path("componentInputParameter"));
  } else if (f.Has("taskOutputParameter")) {
    src.kind = ParameterSource::Kind::kTaskOutput;
    ASSIGN_OR_RETURN(Fields t, f.Message("taskOutputParameter", {{"producerTask"}, {"outputParameterKey"}}));
    RETURN_IF_ERROR(t.String("producerTask", &src.producer_task));
    RETURN_IF_ERROR(t.String("outputParameterKey", &src.name));
    if (src.producer_task.empty()) return InvalidArgument("needs a `producerTask`", t.Path("producerTask"));
    if (src.name.empty()) return InvalidArgument("needs an `outputParameterKey`", t.Path("outputParameterKey"));
  } else {
    src.kind = ParameterSource::Kind::kTaskFinalStatus;
    ASSIGN_OR_RETURN(Fields t, f.Message("taskFinalStatus", {{"producerTask"}}));
    RETURN_IF_ERROR(t.String("producerTask", &src.producer_task));
    if (src.producer_task.empty()) return InvalidArgument("needs a `producerTask`", t.Path("producerTask"));
  }
  return src;
}

Result<ArtifactSource> ParseArtifactSource(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(value, path, {{"taskOutputArtifact"}, {"componentInputArtifact"}}));
  RETURN_IF_ERROR(ExactlyOne(f, {"taskOutputArtifact", "componentInputArtifact"}, "a task input artifact"));
  ArtifactSource src;
  if (f.Has("componentInputArtifact")) {
    src.kind = ArtifactSource::Kind::kComponentInput;
    RETURN_IF_ERROR(f.String("componentInputArtifact", &src.name));
    if (src.name.empty()) return InvalidArgument("must name an input", f.Path("componentInputArtifact"));
  } else {
    src.kind = ArtifactSource::Kind::kTaskOutput;
    ASSIGN_OR_RETURN(Fields t, f.Message("taskOutputArtifact", {{"producerTask"}, {"outputArtifactKey"}}));
    RETURN_IF_ERROR(t.String("producerTask", &src.producer_task));
    RETURN_IF_ERROR(t.String("outputArtifactKey", &src.name));
    if (src.producer_task.empty()) return InvalidArgument("needs a `producerTask`", t.Path("producerTask"));
    if (src.name.empty()) return InvalidArgument("needs an `outputArtifactKey`", t.Path("outputArtifactKey"));
  }
  return src;
}

Status ParseDuration(const Fields& f, std::string_view name, double* out) {
  const Json* v = f.Get(name);
  if (v == nullptr) return Status::OK();
  if (!v->is_string()) {
    return InvalidArgument("must be a duration string like \"1.5s\", got " + std::string(JsonTypeName(*v)),
                           f.Path(name));
  }
  ASSIGN_OR_RETURN(*out, internal::ParseDurationSeconds(v->get_ref<const std::string&>(), f.Path(name)));
  return Status::OK();
}

Result<TaskSpec> ParseTask(const std::string& name, const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(value, path,
                                          {{"taskInfo"},
                                           {"inputs"},
                                           {"dependentTasks"},
                                           {"cachingOptions"},
                                           {"componentRef"},
                                           {"triggerPolicy"},
                                           {"artifactIterator"},
                                           {"parameterIterator"},
                                           {"retryPolicy"},
                                           {"iteratorPolicy"}}));
  TaskSpec task;
  task.name = name;
  ASSIGN_OR_RETURN(Fields info, f.Message("taskInfo", {{"name"}}));
  RETURN_IF_ERROR(info.String("name", &task.display_name));
  if (task.display_name.empty()) task.display_name = name;

  ASSIGN_OR_RETURN(Fields ref, f.Message("componentRef", {{"name"}}));
  RETURN_IF_ERROR(ref.String("name", &task.component));
  if (task.component.empty()) return InvalidArgument("task needs a `componentRef.name`", ref.Path("name"));

  ASSIGN_OR_RETURN(Fields inputs, f.Message("inputs", {{"parameters"}, {"artifacts"}}));
  ASSIGN_OR_RETURN(const Json* params, inputs.Map("parameters"));
  if (params != nullptr) {
    for (const auto& [key, v] : params->items()) {
      ASSIGN_OR_RETURN(ParameterSource src, ParseParameterSource(v, Join(inputs.Path("parameters"), key)));
      task.parameter_inputs.emplace(key, std::move(src));
    }
  }
  ASSIGN_OR_RETURN(const Json* artifacts, inputs.Map("artifacts"));
  if (artifacts != nullptr) {
    for (const auto& [key, v] : artifacts->items()) {
      ASSIGN_OR_RETURN(ArtifactSource src, ParseArtifactSource(v, Join(inputs.Path("artifacts"), key)));
      task.artifact_inputs.emplace(key, std::move(src));
    }
  }

  RETURN_IF_ERROR(f.StringList("dependentTasks", &task.dependent_tasks));

  // The compiler writes `cachingOptions: {enableCache: true}` for a cached
  // task and `cachingOptions: {}` for set_caching_options(False) (proto3
  // leaves false out); a task without cachingOptions at all (hand-written
  // specs, DAG tasks) is cached.
  if (f.Has("cachingOptions")) {
    ASSIGN_OR_RETURN(Fields caching,
                     f.Message("cachingOptions",
                               {{"enableCache"},
                                {"cacheKey", "`set_caching_options(cache_key=...)` (custom cache keys) "
                                             "is not supported"}}));
    task.enable_cache = false;
    RETURN_IF_ERROR(caching.Bool("enableCache", &task.enable_cache));
  }

  ASSIGN_OR_RETURN(Fields trigger, f.Message("triggerPolicy", {{"condition"}, {"strategy"}}));
  RETURN_IF_ERROR(trigger.String("condition", &task.condition));
  std::string strategy;
  RETURN_IF_ERROR(trigger.String("strategy", &strategy));
  if (strategy == "ALL_UPSTREAM_TASKS_COMPLETED") {
    task.strategy = TriggerStrategy::kAllUpstreamTasksCompleted;
  } else if (strategy.empty() || strategy == "ALL_UPSTREAM_TASKS_SUCCEEDED" ||
             strategy == "TRIGGER_STRATEGY_UNSPECIFIED") {
    task.strategy = TriggerStrategy::kAllUpstreamTasksSucceeded;
  } else {
    return InvalidArgument("unknown trigger strategy " + Q(strategy), trigger.Path("strategy"));
  }

  if (f.Has("retryPolicy")) {
    ASSIGN_OR_RETURN(Fields retry, f.Message("retryPolicy", {{"maxRetryCount"},
                                                            {"backoffDuration"},
                                                            {"backoffFactor"},
                                                            {"backoffMaxDuration"}}));
    std::int64_t count = 0;
    RETURN_IF_ERROR(retry.Int("maxRetryCount", 0, 100, &count));
    task.retry.max_retry_count = static_cast<int>(count);
    RETURN_IF_ERROR(ParseDuration(retry, "backoffDuration", &task.retry.backoff_seconds));
    RETURN_IF_ERROR(retry.Double("backoffFactor", &task.retry.backoff_factor));
    if (task.retry.backoff_factor < 0) {
      return InvalidArgument("must not be negative", retry.Path("backoffFactor"));
    }
    RETURN_IF_ERROR(ParseDuration(retry, "backoffMaxDuration", &task.retry.backoff_max_seconds));
  }

  if (f.Has("parameterIterator") && f.Has("artifactIterator")) {
    return InvalidArgument("a task has at most one of `parameterIterator` and `artifactIterator`", path);
  }
  if (f.Has("parameterIterator")) {
    ASSIGN_OR_RETURN(Fields it, f.Message("parameterIterator", {{"items"}, {"itemInput"}}));
    ASSIGN_OR_RETURN(Fields items, it.Message("items", {{"raw"}, {"inputParameter"}}));
    RETURN_IF_ERROR(ExactlyOne(items, {"raw", "inputParameter"}, "`parameterIterator.items`"));
    Iterator iter;
    if (const Json* raw = items.Get("raw")) {
      iter.kind = Iterator::Kind::kRaw;
      if (raw->is_string()) {
        Result<Json> parsed = ParseJson(raw->get_ref<const std::string&>());
        if (!parsed.ok()) {
          return InvalidArgument("`raw` is not a JSON list: " + parsed.status().message(), items.Path("raw"));
        }
        iter.raw_items = std::move(parsed).value();
      } else {
        iter.raw_items = *raw;
      }
      if (!iter.raw_items.is_array()) {
        return InvalidArgument("`raw` must be a JSON list, got " + std::string(JsonTypeName(iter.raw_items)),
                               items.Path("raw"));
      }
    } else {
      iter.kind = Iterator::Kind::kInputParameter;
      RETURN_IF_ERROR(items.String("inputParameter", &iter.items_input));
    }
    RETURN_IF_ERROR(it.String("itemInput", &iter.item_input));
    if (iter.item_input.empty()) return InvalidArgument("needs an `itemInput`", it.Path("itemInput"));
    task.iterator = std::move(iter);
  } else if (f.Has("artifactIterator")) {
    ASSIGN_OR_RETURN(Fields it, f.Message("artifactIterator", {{"items"}, {"itemInput"}}));
    ASSIGN_OR_RETURN(Fields items, it.Message("items", {{"inputArtifact"}}));
    Iterator iter;
    iter.kind = Iterator::Kind::kInputArtifact;
    RETURN_IF_ERROR(items.String("inputArtifact", &iter.items_input));
    if (iter.items_input.empty()) return InvalidArgument("needs an `inputArtifact`", items.Path("inputArtifact"));
    RETURN_IF_ERROR(it.String("itemInput", &iter.item_input));
    if (iter.item_input.empty()) return InvalidArgument("needs an `itemInput`", it.Path("itemInput"));
    task.iterator = std::move(iter);
  }
  if (f.Has("iteratorPolicy")) {
    ASSIGN_OR_RETURN(Fields policy, f.Message("iteratorPolicy", {{"parallelismLimit"}}));
    std::int64_t limit = 0;
    RETURN_IF_ERROR(policy.Int("parallelismLimit", 0, std::numeric_limits<std::int32_t>::max(), &limit));
    if (limit != 0 && !task.iterator) {
      return InvalidArgument("`iteratorPolicy` is only valid on a ParallelFor task", f.Path("iteratorPolicy"));
    }
    if (task.iterator) task.iterator->parallelism_limit = static_cast<int>(limit);
  }
  return task;
}

template <typename Selector>
Result<std::vector<Selector>> ParseSelectors(const Json& list, const std::string& path, std::string_view key_name) {
  if (!list.is_array()) return InvalidArgument("must be a list, got " + std::string(JsonTypeName(list)), path);
  if (list.empty()) return InvalidArgument("needs at least one selector", path);
  std::vector<Selector> out;
  for (std::size_t i = 0; i < list.size(); ++i) {
    ASSIGN_OR_RETURN(Fields s, Fields::Read(list[i], Index(path, i), {{"producerSubtask"}, {key_name}}));
    Selector sel;
    RETURN_IF_ERROR(s.String("producerSubtask", &sel.producer_subtask));
    RETURN_IF_ERROR(s.String(key_name, &sel.output_key));
    if (sel.producer_subtask.empty()) return InvalidArgument("needs a `producerSubtask`", s.Path("producerSubtask"));
    if (sel.output_key.empty()) return InvalidArgument("needs " + Q(key_name), s.Path(key_name));
    out.push_back(std::move(sel));
  }
  return out;
}

Result<DagSpec> ParseDag(const Fields& component) {
  ASSIGN_OR_RETURN(Fields f, component.Message("dag", {{"tasks"}, {"outputs"}}));
  DagSpec dag;
  ASSIGN_OR_RETURN(const Json* tasks, f.Map("tasks"));
  if (tasks != nullptr) {
    if (tasks->size() > static_cast<std::size_t>(internal::kMaxTasks)) {
      return InvalidArgument("the DAG has " + std::to_string(tasks->size()) + " tasks; at most " +
                                 std::to_string(internal::kMaxTasks) + " are supported",
                             f.Path("tasks"));
    }
    for (const auto& [name, v] : tasks->items()) {
      if (name.empty()) return InvalidArgument("task name must not be empty", f.Path("tasks"));
      ASSIGN_OR_RETURN(TaskSpec task, ParseTask(name, v, Join(f.Path("tasks"), name)));
      dag.tasks.emplace(name, std::move(task));
    }
  }
  ASSIGN_OR_RETURN(Fields outputs, f.Message("outputs", {{"artifacts"}, {"parameters"}}));
  ASSIGN_OR_RETURN(const Json* params, outputs.Map("parameters"));
  if (params != nullptr) {
    for (const auto& [name, v] : params->items()) {
      ASSIGN_OR_RETURN(Fields p, Fields::Read(v, Join(outputs.Path("parameters"), name),
                                              {{"valueFromParameter"}, {"valueFromOneof"}}));
      RETURN_IF_ERROR(ExactlyOne(p, {"valueFromParameter", "valueFromOneof"}, "a DAG output parameter"));
      DagOutputParameter out;
      if (p.Has("valueFromParameter")) {
        ASSIGN_OR_RETURN(out.selectors,
                         ParseSelectors<DagOutputParameter::Selector>(
                             Json::array({*p.Get("valueFromParameter")}), p.Path("valueFromParameter"),
                             "outputParameterKey"));
      } else {
        ASSIGN_OR_RETURN(Fields oneof, p.Message("valueFromOneof", {{"parameterSelectors"}}));
        const Json* sels = oneof.Get("parameterSelectors");
        ASSIGN_OR_RETURN(out.selectors, ParseSelectors<DagOutputParameter::Selector>(
                                            sels == nullptr ? Json::array() : *sels,
                                            oneof.Path("parameterSelectors"), "outputParameterKey"));
      }
      dag.output_parameters.emplace(name, std::move(out));
    }
  }
  ASSIGN_OR_RETURN(const Json* artifacts, outputs.Map("artifacts"));
  if (artifacts != nullptr) {
    for (const auto& [name, v] : artifacts->items()) {
      ASSIGN_OR_RETURN(Fields a, Fields::Read(v, Join(outputs.Path("artifacts"), name), {{"artifactSelectors"}}));
      const Json* sels = a.Get("artifactSelectors");
      DagOutputArtifact out;
      ASSIGN_OR_RETURN(out.selectors,
                       ParseSelectors<DagOutputArtifact::Selector>(sels == nullptr ? Json::array() : *sels,
                                                                   a.Path("artifactSelectors"),
                                                                   "outputArtifactKey"));
      dag.output_artifacts.emplace(name, std::move(out));
    }
  }
  return dag;
}

Result<ComponentSpec> ParseComponent(const std::string& name, const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(value, path,
                                          {{"inputDefinitions"},
                                           {"outputDefinitions"},
                                           {"dag"},
                                           {"executorLabel"},
                                           {"singlePlatformSpecs",
                                            "`singlePlatformSpecs` (platform-specific component config) is "
                                            "not supported"},
                                           {"taskConfigPassthroughs",
                                            "`task_config_passthroughs` is not supported"}}));
  ComponentSpec c;
  c.name = name;
  RETURN_IF_ERROR(ExactlyOne(f, {"dag", "executorLabel"}, "a component"));
  ASSIGN_OR_RETURN(c.inputs, ParseInterface(f, "inputDefinitions", /*inputs=*/true));
  ASSIGN_OR_RETURN(c.outputs, ParseInterface(f, "outputDefinitions", /*inputs=*/false));
  if (f.Has("dag")) {
    ASSIGN_OR_RETURN(c.dag, ParseDag(f));
  } else {
    RETURN_IF_ERROR(f.String("executorLabel", &c.executor_label));
    if (c.executor_label.empty()) return InvalidArgument("must name an executor", f.Path("executorLabel"));
  }
  return c;
}

Status ParseResources(const Fields& container, ResourceSpec* out) {
  ASSIGN_OR_RETURN(Fields f, container.Message("resources", {{"cpuLimit"},
                                                             {"memoryLimit"},
                                                             {"cpuRequest"},
                                                             {"memoryRequest"},
                                                             {"resourceCpuLimit"},
                                                             {"resourceMemoryLimit"},
                                                             {"resourceCpuRequest"},
                                                             {"resourceMemoryRequest"},
                                                             {"accelerator"}}));
  // The compiler writes both the string forms and legacy numbers (cores; GB
  // for memory); the strings are exact, so they win.
  auto cpu = [&](std::string_view str_name, std::string_view num_name, double* v) -> Status {
    std::string s;
    RETURN_IF_ERROR(f.String(str_name, &s));
    if (!s.empty()) {
      ASSIGN_OR_RETURN(*v, internal::ParseCpuQuantity(s, f.Path(str_name)));
      return Status::OK();
    }
    RETURN_IF_ERROR(f.Double(num_name, v));
    if (*v < 0) return InvalidArgument("must not be negative", f.Path(num_name));
    return Status::OK();
  };
  auto memory = [&](std::string_view str_name, std::string_view num_name, std::int64_t* v) -> Status {
    std::string s;
    RETURN_IF_ERROR(f.String(str_name, &s));
    if (!s.empty()) {
      ASSIGN_OR_RETURN(*v, internal::ParseMemoryQuantity(s, f.Path(str_name)));
      return Status::OK();
    }
    double gb = 0;
    RETURN_IF_ERROR(f.Double(num_name, &gb));
    if (gb < 0 || gb > 9e9) return InvalidArgument("must be from 0 to 9e9 (GB)", f.Path(num_name));
    *v = static_cast<std::int64_t>(std::llround(gb * 1e9));
    return Status::OK();
  };
  RETURN_IF_ERROR(cpu("resourceCpuRequest", "cpuRequest", &out->cpu_request));
  RETURN_IF_ERROR(cpu("resourceCpuLimit", "cpuLimit", &out->cpu_limit));
  RETURN_IF_ERROR(memory("resourceMemoryRequest", "memoryRequest", &out->memory_request));
  RETURN_IF_ERROR(memory("resourceMemoryLimit", "memoryLimit", &out->memory_limit));
  if (f.Has("accelerator")) {
    ASSIGN_OR_RETURN(Fields acc, f.Message("accelerator", {{"type"}, {"count"}, {"resourceType"}, {"resourceCount"}}));
    RETURN_IF_ERROR(acc.String("resourceType", &out->accelerator_type));
    if (out->accelerator_type.empty()) RETURN_IF_ERROR(acc.String("type", &out->accelerator_type));
    std::int64_t count = 0;
    std::string count_text;
    RETURN_IF_ERROR(acc.String("resourceCount", &count_text));
    if (!count_text.empty()) {
      char* end = nullptr;
      errno = 0;
      long long n = std::strtoll(count_text.c_str(), &end, 10);
      if (end != count_text.c_str() + count_text.size() || errno != 0 || n < 0 || n > 1024) {
        return InvalidArgument("must be an accelerator count from 0 to 1024", acc.Path("resourceCount"));
      }
      count = n;
    } else {
      RETURN_IF_ERROR(acc.Int("count", 0, 1024, &count));
    }
    out->accelerator_count = static_cast<int>(count);
  }
  return Status::OK();
}

Result<ExecutorSpec> ParseExecutor(const Json& value, const std::string& path) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(value, path,
                                          {{"container"},
                                           {"importer"},
                                           {"resolver", "`resolver` executors (artifact queries) are not supported"},
                                           {"customJob", "`customJob` executors (Vertex AI custom jobs) are not "
                                                         "supported"}}));
  RETURN_IF_ERROR(ExactlyOne(f, {"container", "importer"}, "an executor"));
  ExecutorSpec e;
  if (f.Has("container")) {
    ASSIGN_OR_RETURN(Fields c, f.Message("container", {{"image"},
                                                       {"command"},
                                                       {"args"},
                                                       {"lifecycle", "container `lifecycle` hooks (preCacheCheck) "
                                                                     "are not supported"},
                                                       {"resources"},
                                                       {"env"}}));
    ContainerSpec spec;
    RETURN_IF_ERROR(c.String("image", &spec.image));
    if (spec.image.empty()) return InvalidArgument("a container needs an `image`", c.Path("image"));
    RETURN_IF_ERROR(c.StringList("command", &spec.command));
    RETURN_IF_ERROR(c.StringList("args", &spec.args));
    if (spec.command.empty() && spec.args.empty()) {
      return InvalidArgument("a container needs a `command` or `args` (Ferry does not read image entrypoints)",
                             c.Path("command"));
    }
    if (const Json* env = c.Get("env")) {
      if (!env->is_array()) return InvalidArgument("must be a list of {name, value}", c.Path("env"));
      for (std::size_t i = 0; i < env->size(); ++i) {
        ASSIGN_OR_RETURN(Fields var, Fields::Read((*env)[i], Index(c.Path("env"), i), {{"name"}, {"value"}}));
        std::string name, v;
        RETURN_IF_ERROR(var.String("name", &name));
        RETURN_IF_ERROR(var.String("value", &v));
        if (name.empty()) return InvalidArgument("an environment variable needs a `name`", var.Path("name"));
        if (name.find('=') != std::string::npos || name.find('\0') != std::string::npos) {
          return InvalidArgument("invalid environment variable name " + Q(name), var.Path("name"));
        }
        spec.env[name] = v;
      }
    }
    RETURN_IF_ERROR(ParseResources(c, &spec.resources));
    e.container = std::move(spec);
  } else {
    constexpr std::string_view kProps = "`dsl.importer` artifact `properties` are not supported; use `metadata`";
    ASSIGN_OR_RETURN(Fields im, f.Message("importer", {{"artifactUri"},
                                                       {"typeSchema"},
                                                       {"properties", kProps},
                                                       {"customProperties", kProps},
                                                       {"reimport"},
                                                       {"metadata"},
                                                       {"downloadToWorkspace",
                                                        "`dsl.importer` with `downloadToWorkspace` is not "
                                                        "supported"}}));
    ImporterSpec spec;
    ASSIGN_OR_RETURN(Fields uri, im.Message("artifactUri", {{"constantValue"}, {"runtimeParameter"}, {"constant"}}));
    RETURN_IF_ERROR(ExactlyOne(uri, {"constantValue", "runtimeParameter", "constant"}, "`artifactUri`"));
    if (const Json* c = uri.Get("constant")) {
      if (!c->is_string()) return InvalidArgument("must be a string URI", uri.Path("constant"));
      spec.uri_constant = c->get<std::string>();
    } else if (uri.Has("constantValue")) {
      ASSIGN_OR_RETURN(Json v, ParseLegacyValue(uri, "constantValue"));
      if (!v.is_string()) return InvalidArgument("must be a string URI", uri.Path("constantValue"));
      spec.uri_constant = v.get<std::string>();
    } else {
      RETURN_IF_ERROR(uri.String("runtimeParameter", &spec.uri_parameter));
    }
    if (spec.uri_constant.empty() && spec.uri_parameter.empty()) {
      return InvalidArgument("`artifactUri` must not be empty", uri.path());
    }
    ASSIGN_OR_RETURN(spec.type, ParseArtifactType(im, "typeSchema"));
    RETURN_IF_ERROR(im.Bool("reimport", &spec.reimport));
    if (const Json* m = im.Get("metadata")) {
      if (!m->is_object()) return InvalidArgument("must be an object", im.Path("metadata"));
      spec.metadata = *m;
    }
    e.importer = std::move(spec);
  }
  return e;
}

// Second pass: references across the document.
class Validator {
 public:
  explicit Validator(const PipelineSpec& spec) : spec_(spec) {}

  const ComponentSpec* Component(const std::string& name) const {
    if (name == "root") return nullptr;  // the root is not referable
    auto it = spec_.components.find(name);
    return it == spec_.components.end() ? nullptr : &it->second;
  }

  Status CheckLeaf(const ComponentSpec& c, const std::string& path) {
    auto it = spec_.executors.find(c.executor_label);
    if (it == spec_.executors.end()) {
      return InvalidArgument("unknown executor " + Q(c.executor_label) + " (not in deploymentSpec.executors)",
                             Join(path, "executorLabel"));
    }
    std::string exec_path = Join("deploymentSpec.executors", c.executor_label);
    if (it->second.container) {
      RETURN_IF_ERROR(CheckPlaceholders(*it->second.container, c, Join(exec_path, "container")));
    }
    if (it->second.importer && !it->second.importer->uri_parameter.empty() &&
        c.inputs.parameters.count(it->second.importer->uri_parameter) == 0) {
      return InvalidArgument("importer `artifactUri.runtimeParameter` names " +
                                 Q(it->second.importer->uri_parameter) + ", which is not an input of " +
                                 Q(c.name),
                             Join(exec_path, "importer.artifactUri.runtimeParameter"));
    }
    return Status::OK();
  }

  // Checks a DAG component's tasks and outputs and orders its tasks.
  Status CheckDag(ComponentSpec& c, const std::string& path) {
    DagSpec& dag = *c.dag;
    std::string tasks_path = Join(path, "dag.tasks");
    std::map<std::string, std::set<std::string>> deps;
    for (auto& [name, task] : dag.tasks) {
      std::string tp = Join(tasks_path, name);
      std::set<std::string>& upstream = deps[name];
      const ComponentSpec* child = Component(task.component);
      if (child == nullptr) {
        return InvalidArgument("unknown component " + Q(task.component), Join(tp, "componentRef.name"));
      }
      auto producer = [&](const std::string& producer_task, const std::string& field) -> Result<const TaskSpec*> {
        auto it = dag.tasks.find(producer_task);
        if (it == dag.tasks.end()) {
          return InvalidArgument("producer task " + Q(producer_task) + " is not a task of the same DAG as " +
                                     Q(name),
                                 field);
        }
        if (producer_task == name) return InvalidArgument("a task cannot consume its own output", field);
        upstream.insert(producer_task);
        return &it->second;
      };
      for (std::size_t i = 0; i < task.dependent_tasks.size(); ++i) {
        const std::string& d = task.dependent_tasks[i];
        std::string field = Index(Join(tp, "dependentTasks"), i);
        if (dag.tasks.count(d) == 0) {
          return InvalidArgument("dependent task " + Q(d) + " is not a task of the same DAG", field);
        }
        if (d == name) return InvalidArgument("a task cannot depend on itself", field);
        upstream.insert(d);
      }
      for (auto& [input, src] : task.parameter_inputs) {
        std::string ip = Join(Join(tp, "inputs.parameters"), input);
        auto declared = child->inputs.parameters.find(input);
        if (declared == child->inputs.parameters.end()) {
          return InvalidArgument("component " + Q(child->name) + " has no input parameter " + Q(input), ip);
        }
        switch (src.kind) {
          case ParameterSource::Kind::kConstant: {
            if (src.expression_selector.empty() && declared->second.type != ParameterType::kTaskFinalStatus) {
              ASSIGN_OR_RETURN(src.constant, internal::NormalizeParameterValue(
                                                 declared->second.type, src.constant,
                                                 Join(ip, "runtimeValue.constant")));
            }
            break;
          }
          case ParameterSource::Kind::kComponentInput:
            if (c.inputs.parameters.count(src.name) == 0) {
              return InvalidArgument(Q(src.name) + " is not an input parameter of the enclosing component " +
                                         Q(c.name),
                                     Join(ip, "componentInputParameter"));
            }
            break;
          case ParameterSource::Kind::kTaskOutput: {
            std::string pp = Join(ip, "taskOutputParameter");
            ASSIGN_OR_RETURN(const TaskSpec* p, producer(src.producer_task, Join(pp, "producerTask")));
            const ComponentSpec* pc = Component(p->component);
            if (pc != nullptr && pc->outputs.parameters.count(src.name) == 0) {
              return InvalidArgument("task " + Q(src.producer_task) + " (component " + Q(pc->name) +
                                         ") has no output parameter " + Q(src.name),
                                     Join(pp, "outputParameterKey"));
            }
            break;
          }
          case ParameterSource::Kind::kTaskFinalStatus: {
            std::string pp = Join(ip, "taskFinalStatus.producerTask");
            ASSIGN_OR_RETURN(const TaskSpec* p, producer(src.producer_task, pp));
            (void)p;
            if (declared->second.type != ParameterType::kTaskFinalStatus) {
              return InvalidArgument("`taskFinalStatus` feeds an input of type " +
                                         std::string(ParameterTypeName(declared->second.type)) +
                                         "; it needs TASK_FINAL_STATUS",
                                     pp);
            }
            if (task.strategy != TriggerStrategy::kAllUpstreamTasksCompleted) {
              return InvalidArgument("a task reading `taskFinalStatus` must have trigger strategy "
                                     "ALL_UPSTREAM_TASKS_COMPLETED (an exit task)",
                                     Join(tp, "triggerPolicy.strategy"));
            }
            break;
          }
        }
        if (!src.expression_selector.empty()) {
          Status s = CheckCelExpression(src.expression_selector);
          if (!s.ok()) {
            return InvalidArgument("`parameterExpressionSelector`: " + s.message(),
                                   Join(ip, "parameterExpressionSelector"));
          }
        }
      }
      for (auto& [input, src] : task.artifact_inputs) {
        std::string ip = Join(Join(tp, "inputs.artifacts"), input);
        if (child->inputs.artifacts.count(input) == 0) {
          return InvalidArgument("component " + Q(child->name) + " has no input artifact " + Q(input), ip);
        }
        if (src.kind == ArtifactSource::Kind::kComponentInput) {
          if (c.inputs.artifacts.count(src.name) == 0) {
            return InvalidArgument(Q(src.name) + " is not an input artifact of the enclosing component " +
                                       Q(c.name),
                                   Join(ip, "componentInputArtifact"));
          }
        } else {
          std::string pp = Join(ip, "taskOutputArtifact");
          ASSIGN_OR_RETURN(const TaskSpec* p, producer(src.producer_task, Join(pp, "producerTask")));
          const ComponentSpec* pc = Component(p->component);
          if (pc != nullptr && pc->outputs.artifacts.count(src.name) == 0) {
            return InvalidArgument("task " + Q(src.producer_task) + " (component " + Q(pc->name) +
                                       ") has no output artifact " + Q(src.name),
                                   Join(pp, "outputArtifactKey"));
          }
        }
      }
      if (task.iterator) {
        RETURN_IF_ERROR(CheckIterator(task, *child, tp));
      }
      // Inputs the task must supply: required ones without a default, other
      // than the one a ParallelFor fills with the item.
      for (const auto& [input, p] : child->inputs.parameters) {
        if (p.is_optional || p.default_value || task.parameter_inputs.count(input) != 0) continue;
        if (task.iterator && task.iterator->kind != Iterator::Kind::kInputArtifact &&
            task.iterator->item_input == input) {
          continue;
        }
        return InvalidArgument("task " + Q(name) + " does not give the required input parameter " + Q(input) +
                                   " of " + Q(child->name),
                               Join(tp, "inputs.parameters"));
      }
      for (const auto& [input, a] : child->inputs.artifacts) {
        if (a.is_optional || task.artifact_inputs.count(input) != 0) continue;
        if (task.iterator && task.iterator->kind == Iterator::Kind::kInputArtifact &&
            task.iterator->item_input == input) {
          continue;
        }
        return InvalidArgument("task " + Q(name) + " does not give the required input artifact " + Q(input) +
                                   " of " + Q(child->name),
                               Join(tp, "inputs.artifacts"));
      }
      if (!task.condition.empty()) {
        Status s = CheckCelExpression(task.condition);
        if (!s.ok()) return InvalidArgument(s.message(), Join(tp, "triggerPolicy.condition"));
      }
    }
    RETURN_IF_ERROR(CheckDagOutputs(c, path));
    return Order(dag, deps, tasks_path);
  }

  Status CheckIterator(const TaskSpec& task, const ComponentSpec& child, const std::string& tp) {
    const Iterator& it = *task.iterator;
    bool artifacts = it.kind == Iterator::Kind::kInputArtifact;
    std::string ip = Join(tp, artifacts ? "artifactIterator" : "parameterIterator");
    if (!child.dag) {
      return InvalidArgument("a ParallelFor task must run a DAG component; " + Q(child.name) + " is not one", ip);
    }
    if (artifacts) {
      if (task.artifact_inputs.count(it.items_input) == 0) {
        return InvalidArgument("`items.inputArtifact` names " + Q(it.items_input) +
                                   ", which is not an input artifact of the task",
                               Join(ip, "items.inputArtifact"));
      }
      if (child.inputs.artifacts.count(it.item_input) == 0) {
        return InvalidArgument("`itemInput` names " + Q(it.item_input) + ", which is not an input artifact of " +
                                   Q(child.name),
                               Join(ip, "itemInput"));
      }
      return Status::OK();
    }
    if (it.kind == Iterator::Kind::kInputParameter && task.parameter_inputs.count(it.items_input) == 0) {
      return InvalidArgument("`items.inputParameter` names " + Q(it.items_input) +
                                 ", which is not an input parameter of the task",
                             Join(ip, "items.inputParameter"));
    }
    if (child.inputs.parameters.count(it.item_input) == 0) {
      return InvalidArgument("`itemInput` names " + Q(it.item_input) + ", which is not an input parameter of " +
                                 Q(child.name),
                             Join(ip, "itemInput"));
    }
    return Status::OK();
  }

  Status CheckDagOutputs(const ComponentSpec& c, const std::string& path) {
    const DagSpec& dag = *c.dag;
    std::string op = Join(path, "dag.outputs");
    auto subtask = [&](const std::string& name, const std::string& field) -> Result<const ComponentSpec*> {
      auto it = dag.tasks.find(name);
      if (it == dag.tasks.end()) {
        return InvalidArgument("producer subtask " + Q(name) + " is not a task of this DAG", field);
      }
      return Component(it->second.component);
    };
    for (const auto& [name, out] : dag.output_parameters) {
      std::string p = Join(Join(op, "parameters"), name);
      if (c.outputs.parameters.count(name) == 0) {
        return InvalidArgument(Q(name) + " is not an output parameter of " + Q(c.name), p);
      }
      for (std::size_t i = 0; i < out.selectors.size(); ++i) {
        const auto& sel = out.selectors[i];
        std::string sp = out.selectors.size() == 1 && i == 0 ? p : Index(Join(p, "valueFromOneof.parameterSelectors"), i);
        ASSIGN_OR_RETURN(const ComponentSpec* pc, subtask(sel.producer_subtask, Join(sp, "producerSubtask")));
        if (pc != nullptr && pc->outputs.parameters.count(sel.output_key) == 0) {
          return InvalidArgument("task " + Q(sel.producer_subtask) + " has no output parameter " +
                                     Q(sel.output_key),
                                 Join(sp, "outputParameterKey"));
        }
      }
    }
    for (const auto& [name, out] : dag.output_artifacts) {
      std::string p = Join(Join(op, "artifacts"), name);
      if (c.outputs.artifacts.count(name) == 0) {
        return InvalidArgument(Q(name) + " is not an output artifact of " + Q(c.name), p);
      }
      for (std::size_t i = 0; i < out.selectors.size(); ++i) {
        const auto& sel = out.selectors[i];
        std::string sp = Index(Join(p, "artifactSelectors"), i);
        ASSIGN_OR_RETURN(const ComponentSpec* pc, subtask(sel.producer_subtask, Join(sp, "producerSubtask")));
        if (pc != nullptr && pc->outputs.artifacts.count(sel.output_key) == 0) {
          return InvalidArgument("task " + Q(sel.producer_subtask) + " has no output artifact " +
                                     Q(sel.output_key),
                                 Join(sp, "outputArtifactKey"));
        }
      }
    }
    for (const auto& [name, p] : c.outputs.parameters) {
      if (dag.output_parameters.count(name) == 0) {
        return InvalidArgument("DAG component " + Q(c.name) + " declares output parameter " + Q(name) +
                                   " but `dag.outputs` does not produce it",
                               Join(path, "outputDefinitions.parameters." + name));
      }
    }
    for (const auto& [name, a] : c.outputs.artifacts) {
      if (dag.output_artifacts.count(name) == 0) {
        return InvalidArgument("DAG component " + Q(c.name) + " declares output artifact " + Q(name) +
                                   " but `dag.outputs` does not produce it",
                               Join(path, "outputDefinitions.artifacts." + name));
      }
    }
    return Status::OK();
  }

  // Kahn's algorithm, smallest ready name first; on a cycle, names one.
  static Status Order(DagSpec& dag, const std::map<std::string, std::set<std::string>>& deps,
                      const std::string& tasks_path) {
    std::map<std::string, int> pending;
    std::map<std::string, std::vector<std::string>> downstream;
    for (const auto& [name, up] : deps) {
      pending[name] = static_cast<int>(up.size());
      for (const std::string& u : up) downstream[u].push_back(name);
    }
    std::set<std::string> ready;
    for (const auto& [name, n] : pending) {
      if (n == 0) ready.insert(name);
    }
    dag.topological_order.clear();
    while (!ready.empty()) {
      std::string next = *ready.begin();
      ready.erase(ready.begin());
      dag.topological_order.push_back(next);
      for (const std::string& d : downstream[next]) {
        if (--pending[d] == 0) ready.insert(d);
      }
    }
    if (dag.topological_order.size() == deps.size()) return Status::OK();
    // Walk upstream from a stuck task through stuck tasks until one repeats.
    std::string start;
    for (const auto& [name, n] : pending) {
      if (n > 0) {
        start = name;
        break;
      }
    }
    std::vector<std::string> walk;
    std::map<std::string, std::size_t> seen;
    std::string at = start;
    while (seen.count(at) == 0) {
      seen[at] = walk.size();
      walk.push_back(at);
      for (const std::string& u : deps.at(at)) {
        if (pending[u] > 0) {
          at = u;
          break;
        }
      }
    }
    std::vector<std::string> cycle(walk.begin() + static_cast<std::ptrdiff_t>(seen[at]), walk.end());
    std::reverse(cycle.begin(), cycle.end());  // upstream first
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text;
    for (const std::string& t : cycle) text += SanitizeForMessage(t, 80) + " -> ";
    text += SanitizeForMessage(cycle.front(), 80);
    return InvalidArgument("the DAG has a cycle: " + text, Join(tasks_path, cycle.front()));
  }

  // DAG components may not contain themselves and nest at most kMaxDagDepth
  // deep; the document holds at most kMaxTasks tasks.
  Status CheckNesting() {
    std::size_t total = spec_.root.dag ? spec_.root.dag->tasks.size() : 0;
    for (const auto& [name, c] : spec_.components) {
      if (c.dag) total += c.dag->tasks.size();
    }
    if (total > static_cast<std::size_t>(internal::kMaxTasks)) {
      return InvalidArgument("the pipeline has " + std::to_string(total) + " tasks; at most " +
                                 std::to_string(internal::kMaxTasks) + " are supported",
                             "components");
    }
    std::map<std::string, int> depth;  // -1 while on the stack
    // `level`: how deep `c` sits below the component the walk started from;
    // bounding it bounds the recursion, whatever the document holds.
    std::function<Result<int>(const ComponentSpec&, const std::string&, int)> visit =
        [&](const ComponentSpec& c, const std::string& path, int level) -> Result<int> {
      if (!c.dag) return 0;
      if (level > internal::kMaxDagDepth) {
        return InvalidArgument("DAG components nest more than " + std::to_string(internal::kMaxDagDepth) +
                                   " deep",
                               path);
      }
      auto it = depth.find(c.name);
      if (it != depth.end()) {
        if (it->second < 0) return InvalidArgument("component " + Q(c.name) + " contains itself", path);
        return it->second;
      }
      depth[c.name] = -1;
      int d = 1;
      for (const auto& [tname, task] : c.dag->tasks) {
        const ComponentSpec* child = Component(task.component);
        if (child == nullptr) continue;
        ASSIGN_OR_RETURN(int cd, visit(*child, Join(Join(Join(c.name == "root" ? "root" : "components." + c.name,
                                                               "dag.tasks"),
                                                          tname),
                                                     "componentRef.name"),
                                      level + 1));
        d = std::max(d, cd + 1);
        if (d > internal::kMaxDagDepth) {
          return InvalidArgument("DAG components nest more than " + std::to_string(internal::kMaxDagDepth) +
                                     " deep",
                                 path);
        }
      }
      depth[c.name] = d;
      return d;
    };
    for (const auto& [name, c] : spec_.components) {
      Result<int> r = visit(c, Join("components", name), 1);
      if (!r.ok()) return r.status();
    }
    Result<int> r = visit(spec_.root, "root", 1);
    return r.status();
  }

 private:
  const PipelineSpec& spec_;
};

// The first field path under `v` that holds something, for naming what a
// platform spec asks for.
std::string FirstSetPath(const Json& v, std::string path, int depth = 0) {
  if (depth > 8 || !v.is_object()) return path;
  for (const auto& [k, child] : v.items()) {
    if (!IsDefaultValue(child)) return FirstSetPath(child, Join(path, k), depth + 1);
  }
  return path;
}

Status CheckPlatformSpec(const Json& platform_spec) {
  if (IsDefaultValue(platform_spec)) return Status::OK();
  if (!platform_spec.is_object()) {
    return InvalidArgument("the platform spec must be an object, got " + std::string(JsonTypeName(platform_spec)),
                           "platforms");
  }
  for (const auto& [k, v] : platform_spec.items()) {
    if (k != "platforms") return InvalidArgument("unknown field " + Q(k) + " in the platform spec", Join("", k));
    if (IsDefaultValue(v)) continue;
    if (!v.is_object()) return InvalidArgument("must be an object", "platforms");
    for (const auto& [platform, config] : v.items()) {
      if (IsDefaultValue(config)) continue;
      std::string path = FirstSetPath(config, Join("platforms", platform));
      return InvalidArgument(
          "platform config (" + Q(platform) + ", e.g. kfp-kubernetes volumes, secrets, node selectors) is not "
          "supported: " + Q(path),
          path);
    }
  }
  return Status::OK();
}

bool ParseStrictInt(const std::string& s, std::int64_t* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size() || errno != 0) return false;
  *out = v;
  return true;
}

bool ParseStrictDouble(const std::string& s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

// A decimal number followed by a unit suffix; digits and one '.' only.
bool SplitQuantity(std::string_view text, double* number, std::string_view* suffix) {
  std::size_t i = 0;
  bool digits = false, dot = false;
  while (i < text.size()) {
    char ch = text[i];
    if (ch >= '0' && ch <= '9') {
      digits = true;
    } else if (ch == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
    ++i;
  }
  if (!digits) return false;
  std::string num(text.substr(0, i));
  *number = std::strtod(num.c_str(), nullptr);
  *suffix = text.substr(i);
  return std::isfinite(*number);
}

}  // namespace

namespace internal {

Result<double> ParseCpuQuantity(std::string_view text, std::string_view field) {
  double n = 0;
  std::string_view suffix;
  if (!SplitQuantity(text, &n, &suffix) || (!suffix.empty() && suffix != "m")) {
    return InvalidArgument("invalid CPU quantity " + Q(text) + " (e.g. \"500m\", \"1\", \"1.5\")",
                           std::string(field));
  }
  if (suffix == "m") n /= 1000;
  if (n > 1e6) return InvalidArgument("CPU quantity " + Q(text) + " is too large", std::string(field));
  return n;
}

Result<std::int64_t> ParseMemoryQuantity(std::string_view text, std::string_view field) {
  double n = 0;
  std::string_view suffix;
  auto bad = [&] {
    return InvalidArgument("invalid memory quantity " + Q(text) + " (e.g. \"512Mi\", \"1G\", \"1000000\")",
                           std::string(field));
  };
  if (!SplitQuantity(text, &n, &suffix)) return bad();
  double scale = 1;
  if (suffix.size() >= 2 && suffix[0] == 'e') {  // 1e9
    std::int64_t exp = 0;
    if (!ParseStrictInt(std::string(suffix.substr(1)), &exp) || exp < 0 || exp > 18) return bad();
    scale = std::pow(10.0, static_cast<double>(exp));
  } else if (!suffix.empty()) {
    static const std::pair<std::string_view, double> kUnits[] = {
        {"k", 1e3},          {"M", 1e6},          {"G", 1e9},          {"T", 1e12},
        {"P", 1e15},         {"E", 1e18},         {"Ki", 1024.0},      {"Mi", 1048576.0},
        {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0},
        {"Ei", 1152921504606846976.0},
    };
    bool found = false;
    for (const auto& [unit, s] : kUnits) {
      if (unit == suffix) {
        scale = s;
        found = true;
      }
    }
    if (!found) return bad();
  }
  double bytes = std::ceil(n * scale);
  if (bytes >= 9.2e18) return InvalidArgument("memory quantity " + Q(text) + " is too large", std::string(field));
  return static_cast<std::int64_t>(bytes);
}

Result<double> ParseDurationSeconds(std::string_view text, std::string_view field) {
  double n = 0;
  std::string_view suffix;
  if (!SplitQuantity(text, &n, &suffix) || suffix != "s") {
    return InvalidArgument("invalid duration " + Q(text) + " (e.g. \"0s\", \"1.5s\", \"3600s\")",
                           std::string(field));
  }
  if (n > 315576000000.0) return InvalidArgument("duration " + Q(text) + " is too long", std::string(field));
  return n;
}

Result<Json> NormalizeParameterValue(ParameterType type, const Json& value, std::string_view field) {
  RETURN_IF_ERROR(CheckParameterValue(type, value, field));
  if (type == ParameterType::kNumberInteger && value.is_number_float()) {
    return Json(static_cast<std::int64_t>(value.get<double>()));
  }
  return value;
}

}  // namespace internal

std::string_view ParameterTypeName(ParameterType type) {
  switch (type) {
    case ParameterType::kString: return "STRING";
    case ParameterType::kNumberInteger: return "NUMBER_INTEGER";
    case ParameterType::kNumberDouble: return "NUMBER_DOUBLE";
    case ParameterType::kBoolean: return "BOOLEAN";
    case ParameterType::kList: return "LIST";
    case ParameterType::kStruct: return "STRUCT";
    case ParameterType::kTaskFinalStatus: return "TASK_FINAL_STATUS";
  }
  return "STRING";
}

Status CheckParameterValue(ParameterType type, const Json& value, std::string_view field) {
  bool ok = false;
  switch (type) {
    case ParameterType::kString: ok = value.is_string(); break;
    case ParameterType::kNumberInteger:
      if (value.is_number_integer()) {
        ok = !value.is_number_unsigned() ||
             value.get<std::uint64_t>() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
      } else if (value.is_number_float()) {
        double d = value.get<double>();
        ok = std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18;
      }
      break;
    case ParameterType::kNumberDouble:
      ok = value.is_number() && (!value.is_number_float() || std::isfinite(value.get<double>()));
      break;
    case ParameterType::kBoolean: ok = value.is_boolean(); break;
    case ParameterType::kList: ok = value.is_array(); break;
    case ParameterType::kStruct: ok = value.is_object(); break;
    case ParameterType::kTaskFinalStatus: ok = value.is_object(); break;
  }
  if (ok) return Status::OK();
  std::string got(JsonTypeName(value));
  if (type == ParameterType::kNumberInteger && value.is_number()) got = "a non-integral number";
  return InvalidArgument("must be " + std::string(ParameterTypeName(type)) + ", got " + got, std::string(field));
}

Result<std::map<std::string, Json>> ResolveRunParameters(const PipelineSpec& spec,
                                                         const std::map<std::string, Json>& given) {
  const auto& declared = spec.root.inputs.parameters;
  for (const auto& [name, value] : given) {
    if (declared.count(name) == 0) {
      std::string known;
      for (const auto& [n, p] : declared) known += (known.empty() ? "" : ", ") + n;
      return InvalidArgument("unknown pipeline parameter " + Q(name) +
                                 (known.empty() ? "; the pipeline takes none" : "; the pipeline takes " + known),
                             name);
    }
  }
  std::map<std::string, Json> out;
  for (const auto& [name, p] : declared) {
    auto it = given.find(name);
    if (it == given.end()) {
      if (p.default_value) {
        out[name] = *p.default_value;
      } else if (!p.is_optional) {
        return InvalidArgument("missing required pipeline parameter " + Q(name) + " (" +
                                   std::string(ParameterTypeName(p.type)) + ")",
                               name);
      }
      continue;
    }
    Json value = it->second;
    if (value.is_string() && p.type != ParameterType::kString) {
      // The command line gives every value as text.
      const std::string& s = value.get_ref<const std::string&>();
      std::int64_t i = 0;
      double d = 0;
      switch (p.type) {
        case ParameterType::kNumberInteger:
          if (!ParseStrictInt(s, &i)) {
            return InvalidArgument("must be NUMBER_INTEGER, got " + QuoteForMessage(s), name);
          }
          value = i;
          break;
        case ParameterType::kNumberDouble:
          if (ParseStrictInt(s, &i)) {
            value = i;
          } else if (ParseStrictDouble(s, &d)) {
            value = d;
          } else {
            return InvalidArgument("must be NUMBER_DOUBLE, got " + QuoteForMessage(s), name);
          }
          break;
        case ParameterType::kBoolean:
          if (s == "true" || s == "True") {
            value = true;
          } else if (s == "false" || s == "False") {
            value = false;
          } else {
            return InvalidArgument("must be BOOLEAN (true or false), got " + QuoteForMessage(s), name);
          }
          break;
        case ParameterType::kList:
        case ParameterType::kStruct:
        case ParameterType::kTaskFinalStatus: {
          Result<Json> parsed = ParseJson(s);
          if (!parsed.ok()) {
            return InvalidArgument("must be " + std::string(ParameterTypeName(p.type)) +
                                       " as JSON text: " + parsed.status().message(),
                                   name);
          }
          value = std::move(parsed).value();
          break;
        }
        case ParameterType::kString: break;
      }
    }
    ASSIGN_OR_RETURN(out[name], internal::NormalizeParameterValue(p.type, value, name));
  }
  return out;
}

Result<PipelineSpec> ParsePipelineSpec(const Json& spec, const Json& platform_spec) {
  ASSIGN_OR_RETURN(Fields f, Fields::Read(spec, "",
                                          {{"pipelineInfo"},
                                           {"deploymentSpec"},
                                           {"sdkVersion"},
                                           {"schemaVersion"},
                                           {"components"},
                                           {"root"},
                                           {"defaultPipelineRoot"}}));
  if (!spec.is_object()) return InvalidArgument("a pipeline spec must be an object");
  PipelineSpec out;
  RETURN_IF_ERROR(f.String("schemaVersion", &out.schema_version));
  if (out.schema_version != "2.0.0" && out.schema_version != "2.1.0") {
    return InvalidArgument(out.schema_version.empty()
                               ? std::string("missing `schemaVersion` (compile with the kfp v2 SDK)")
                               : "unsupported schemaVersion " + Q(out.schema_version) + "; Ferry runs 2.0.0 and 2.1.0",
                           f.Path("schemaVersion"));
  }
  RETURN_IF_ERROR(f.String("sdkVersion", &out.sdk_version));
  RETURN_IF_ERROR(f.String("defaultPipelineRoot", &out.default_pipeline_root));
  ASSIGN_OR_RETURN(Fields info, f.Message("pipelineInfo", {{"name"}, {"displayName"}, {"description"}}));
  RETURN_IF_ERROR(info.String("name", &out.name));
  RETURN_IF_ERROR(info.String("displayName", &out.display_name));
  RETURN_IF_ERROR(info.String("description", &out.description));
  if (out.name.empty()) return InvalidArgument("the pipeline needs a name", info.Path("name"));

  ASSIGN_OR_RETURN(Fields deployment, f.Message("deploymentSpec", {{"executors"}}));
  ASSIGN_OR_RETURN(const Json* executors, deployment.Map("executors"));
  if (executors != nullptr) {
    for (const auto& [label, v] : executors->items()) {
      ASSIGN_OR_RETURN(ExecutorSpec e, ParseExecutor(v, Join(deployment.Path("executors"), label)));
      out.executors.emplace(label, std::move(e));
    }
  }
  ASSIGN_OR_RETURN(const Json* components, f.Map("components"));
  if (components != nullptr) {
    for (const auto& [name, v] : components->items()) {
      if (name == "root") return InvalidArgument("a component may not be named `root`", Join("components", name));
      ASSIGN_OR_RETURN(ComponentSpec c, ParseComponent(name, v, Join(f.Path("components"), name)));
      out.components.emplace(name, std::move(c));
    }
  }
  if (!f.Has("root")) return InvalidArgument("the pipeline needs a `root` component", "root");
  ASSIGN_OR_RETURN(out.root, ParseComponent("root", *f.Get("root"), f.Path("root")));
  if (!out.root.dag) return InvalidArgument("`root` must be a DAG component", f.Path("root"));

  Validator validator(out);
  RETURN_IF_ERROR(validator.CheckNesting());
  for (auto& [name, c] : out.components) {
    std::string path = Join("components", name);
    if (c.dag) {
      RETURN_IF_ERROR(validator.CheckDag(c, path));
    } else {
      RETURN_IF_ERROR(validator.CheckLeaf(c, path));
    }
  }
  RETURN_IF_ERROR(validator.CheckDag(out.root, "root"));
  RETURN_IF_ERROR(CheckPlatformSpec(platform_spec));
  return out;
}

Result<PipelineSpec> ParsePipelineText(std::string_view text) {
  std::vector<Json> docs;
  std::size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '{') {
    ASSIGN_OR_RETURN(Json doc, ParseJson(text));
    docs.push_back(std::move(doc));
  } else {
    ASSIGN_OR_RETURN(docs, ParseYamlDocuments(text));
  }
  if (docs.empty()) return InvalidArgument("the pipeline text is empty");
  if (docs.size() > 2) {
    return InvalidArgument("a compiled pipeline has one or two YAML documents, got " + std::to_string(docs.size()));
  }
  const Json* spec = &docs[0];
  // PipelineJob wrapper: {"pipelineSpec": {...}, "runtimeConfig": ...}.
  if (spec->is_object() && spec->contains("pipelineSpec") && !spec->contains("root")) {
    for (const auto& [k, v] : spec->items()) {
      std::string camel = SnakeToCamel(k);
      if (camel != "pipelineSpec" && camel != "runtimeConfig" && camel != "displayName" && camel != "name" &&
          camel != "labels") {
        return InvalidArgument("unknown field " + Q(k) + " in a PipelineJob", k);
      }
    }
    Result<PipelineSpec> r = ParsePipelineSpec((*spec)["pipelineSpec"], docs.size() > 1 ? docs[1] : Json());
    if (!r.ok()) return r.status().WithFieldPrefix("pipelineSpec");
    return r;
  }
  return ParsePipelineSpec(*spec, docs.size() > 1 ? docs[1] : Json());
}

}  // namespace ferry::pipelines
