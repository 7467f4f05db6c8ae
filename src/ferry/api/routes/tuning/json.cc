#include "ferry/api/routes/tuning/json_internal.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "ferry/common/strings.h"
#include "ferry/common/time.h"

namespace ferry::api::studies {
namespace {

using tuning::Direction;
using tuning::Distribution;
using tuning::ParamSpec;
using tuning::ParamType;
using tuning::TrialState;

// Integers a double carries exactly (and SearchSpace accepts for ints).
constexpr double kMaxExactInteger = 9.0e15;

std::string Join(std::string_view path, std::string_view name) {
  return path.empty() ? std::string(name) : std::string(path) + "." + std::string(name);
}

std::string Index(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// A bound for a message: integers without an exponent.
std::string Num(double d) {
  if (d == std::floor(d) && std::abs(d) < 1e16) return std::to_string(static_cast<std::int64_t>(d));
  return Json(d).dump();
}

Status TypeError(const std::string& field, std::string_view expected, const Json& got) {
  return InvalidArgument(
      field + " must be " + std::string(expected) + ", not " + std::string(JsonTypeName(got)), field);
}

// The field's value, or null when it is absent or JSON null.
const Json* Field(const Json& object, std::string_view name) {
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<const Json*> Required(const Json& object, std::string_view name, std::string_view path) {
  const Json* v = Field(object, name);
  if (v == nullptr) return InvalidArgument(Join(path, name) + " is required", Join(path, name));
  return v;
}

Result<std::string> Text(const Json& v, const std::string& field) {
  if (!v.is_string()) return TypeError(field, "a string", v);
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() > kMaxTextBytes) {
    return InvalidArgument(field + " is " + std::to_string(s.size()) + " bytes; at most " +
                               std::to_string(kMaxTextBytes) + " are allowed",
                           field);
  }
  return s;
}

Result<bool> Bool(const Json& v, const std::string& field) {
  if (!v.is_boolean()) return TypeError(field, "true or false", v);
  return v.get<bool>();
}

Result<double> Number(const Json& v, const std::string& field) {
  if (!v.is_number()) return TypeError(field, "a number", v);
  const double d = v.get<double>();
  // A literal beyond the double range parses as infinite.
  if (!std::isfinite(d)) return InvalidArgument(field + " is out of the range of a double", field);
  return d;
}

// A number with an integral value in [min, max]. JSON integers always
// qualify; a float such as 3.0 only with `integral_floats`.
Result<double> IntegralNumber(const Json& v, const std::string& field, bool integral_floats, double min,
                              double max) {
  if (!v.is_number()) return TypeError(field, "an integer", v);
  if (v.is_number_float() && !integral_floats) return TypeError(field, "an integer", v);
  const double d = v.get<double>();
  if (!std::isfinite(d) || d != std::floor(d)) {
    return InvalidArgument(field + " must be an integer, not " + v.dump(), field);
  }
  if (d < min || d > max) {
    return InvalidArgument(field + " must be between " + Num(min) + " and " + Num(max) + ", not " + v.dump(),
                           field);
  }
  return d;
}

// A number, or one of the strings JSON uses for what it cannot carry.
Result<double> NumberOrSpecial(const Json& v, const std::string& field) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "NaN") return std::nan("");
    if (s == "Infinity") return HUGE_VAL;
    if (s == "-Infinity") return -HUGE_VAL;
    return InvalidArgument(
        field + " must be a number or \"NaN\", \"Infinity\" or \"-Infinity\", not " + QuoteForMessage(s),
        field);
  }
  if (!v.is_number()) return TypeError(field, "a number", v);
  return Number(v, field);
}

// A settings value: JSON strings as they are, numbers and bools as their
// JSON text (algorithm settings are strings, as in Katib).
Result<std::map<std::string, std::string>> Settings(const Json* v, const std::string& field) {
  std::map<std::string, std::string> out;
  if (v == nullptr) return out;
  if (!v->is_object()) return TypeError(field, "an object of settings", *v);
  if (v->size() > kMaxMapEntries) {
    return InvalidArgument(field + " has " + std::to_string(v->size()) + " settings; at most " +
                               std::to_string(kMaxMapEntries) + " are allowed",
                           field);
  }
  for (const auto& [key, value] : v->items()) {
    const std::string at = field + "." + key;
    if (key.empty() || key.size() > kMaxTextBytes)
      return InvalidArgument(field + " has an empty or oversize setting name", field);
    if (value.is_string()) {
      ASSIGN_OR_RETURN(out[key], Text(value, at));
    } else if (value.is_boolean() || value.is_number()) {
      out[key] = value.dump();
    } else {
      return TypeError(at, "a string, a number or a bool", value);
    }
  }
  return out;
}

Result<ParamSpec> ParseDist(const Json& d, const std::string& at) {
  if (!d.is_object()) return TypeError(at, "an object", d);
  ParamSpec p;
  ASSIGN_OR_RETURN(const Json* name, Required(d, "name", at));
  ASSIGN_OR_RETURN(p.name, Text(*name, at + ".name"));
  ASSIGN_OR_RETURN(const Json* type_json, Required(d, "type", at));
  ASSIGN_OR_RETURN(std::string type, Text(*type_json, at + ".type"));
  if (type == "float" || type == "int") {
    const bool is_int = type == "int";
    p.type = is_int ? ParamType::kInt : ParamType::kDouble;
    RETURN_IF_ERROR(CheckFields(d, {"name", "type", "low", "high", "log", "step"}, at));
    ASSIGN_OR_RETURN(const Json* low, Required(d, "low", at));
    ASSIGN_OR_RETURN(const Json* high, Required(d, "high", at));
    if (is_int) {
      ASSIGN_OR_RETURN(p.min, IntegralNumber(*low, at + ".low", true, -kMaxExactInteger, kMaxExactInteger));
      ASSIGN_OR_RETURN(p.max, IntegralNumber(*high, at + ".high", true, -kMaxExactInteger, kMaxExactInteger));
    } else {
      ASSIGN_OR_RETURN(p.min, Number(*low, at + ".low"));
      ASSIGN_OR_RETURN(p.max, Number(*high, at + ".high"));
    }
    bool log = false;
    if (const Json* v = Field(d, "log")) {
      ASSIGN_OR_RETURN(log, Bool(*v, at + ".log"));
    }
    p.distribution = log ? Distribution::kLogUniform : Distribution::kUniform;
    if (const Json* v = Field(d, "step")) {
      const std::string field = at + ".step";
      if (is_int) {
        ASSIGN_OR_RETURN(p.step, IntegralNumber(*v, field, true, 1, kMaxExactInteger));
      } else {
        ASSIGN_OR_RETURN(p.step, Number(*v, field));
        if (!(p.step > 0)) return InvalidArgument(field + " must be positive, not " + v->dump(), field);
      }
    }
    return p;
  }
  if (type == "discrete") {
    p.type = ParamType::kDiscrete;
    RETURN_IF_ERROR(CheckFields(d, {"name", "type", "values"}, at));
    ASSIGN_OR_RETURN(const Json* values, Required(d, "values", at));
    const std::string field = at + ".values";
    if (!values->is_array()) return TypeError(field, "an array of numbers", *values);
    if (values->size() > kMaxListItems) {
      return InvalidArgument(field + " has " + std::to_string(values->size()) + " values; at most " +
                                 std::to_string(kMaxListItems) + " are allowed",
                             field);
    }
    for (std::size_t k = 0; k < values->size(); ++k) {
      ASSIGN_OR_RETURN(double v, Number((*values)[k], Index(field, k)));
      p.values.push_back(v);
    }
    return p;
  }
  if (type == "categorical") {
    p.type = ParamType::kCategorical;
    RETURN_IF_ERROR(CheckFields(d, {"name", "type", "choices"}, at));
    ASSIGN_OR_RETURN(const Json* choices, Required(d, "choices", at));
    const std::string field = at + ".choices";
    if (!choices->is_array()) return TypeError(field, "an array", *choices);
    if (choices->size() > kMaxListItems) {
      return InvalidArgument(field + " has " + std::to_string(choices->size()) + " choices; at most " +
                                 std::to_string(kMaxListItems) + " are allowed",
                             field);
    }
    for (std::size_t k = 0; k < choices->size(); ++k) {
      const Json& c = (*choices)[k];
      const std::string item = Index(field, k);
      if (c.is_string()) {
        ASSIGN_OR_RETURN(std::string s, Text(c, item));
        p.choices.push_back(std::move(s));
      } else if (c.is_number() || c.is_boolean()) {
        p.choices.push_back(c.dump());
      } else {
        return TypeError(item, "a string, a number or a bool", c);
      }
    }
    return p;
  }
  return InvalidArgument(
      at + ".type must be \"float\", \"int\", \"discrete\" or \"categorical\", not " + QuoteForMessage(type),
      at + ".type");
}

Json DistToJson(const ParamSpec& p) {
  switch (p.type) {
    case ParamType::kDouble: {
      Json d = {{"name", p.name}, {"type", "float"}, {"low", p.min}, {"high", p.max}, {"log", p.IsLog()}};
      if (p.step > 0) d["step"] = p.step;
      return d;
    }
    case ParamType::kInt:
      return {{"name", p.name},
              {"type", "int"},
              {"low", static_cast<std::int64_t>(p.min)},
              {"high", static_cast<std::int64_t>(p.max)},
              {"log", p.IsLog()},
              {"step", p.step > 0 ? static_cast<std::int64_t>(p.step) : std::int64_t{1}}};
    case ParamType::kDiscrete:
      return {{"name", p.name}, {"type", "discrete"}, {"values", p.values}};
    case ParamType::kCategorical:
      return {{"name", p.name}, {"type", "categorical"}, {"choices", p.choices}};
  }
  return Json::object();
}

Json ParamToJson(const ParamSpec& p, double value) {
  switch (p.type) {
    case ParamType::kInt:
      if (std::abs(value) <= kMaxExactInteger) return static_cast<std::int64_t>(value);
      break;
    case ParamType::kCategorical: {
      const double i = std::floor(value);
      if (i >= 0 && i < static_cast<double>(p.choices.size()) && i == value)
        return p.choices[static_cast<std::size_t>(i)];
      break;
    }
    case ParamType::kDouble:
    case ParamType::kDiscrete:
      break;
  }
  return JsonDouble(value);
}

// A fixed value of `p`, as ParamToJson writes it.
Result<double> ParamFromJson(const ParamSpec& p, const Json& v, const std::string& field) {
  switch (p.type) {
    case ParamType::kCategorical: {
      std::string text;
      if (v.is_string()) {
        text = v.get<std::string>();
      } else if (v.is_number() || v.is_boolean()) {
        text = v.dump();
      } else {
        return TypeError(field, "one of the parameter's choices", v);
      }
      for (std::size_t i = 0; i < p.choices.size(); ++i)
        if (p.choices[i] == text) return static_cast<double>(i);
      return InvalidArgument(
          QuoteForMessage(text) + " is not one of the choices of parameter " + QuoteForMessage(p.name),
          field);
    }
    case ParamType::kInt:
      return IntegralNumber(v, field, true, -kMaxExactInteger, kMaxExactInteger);
    case ParamType::kDouble:
    case ParamType::kDiscrete:
      return Number(v, field);
  }
  return Internal("unknown parameter type");
}

// "[<i>]<rest>" -> (i, rest); nullopt when the text is not that.
std::optional<std::pair<std::size_t, std::string_view>> SplitIndex(std::string_view text) {
  if (!text.starts_with('[')) return std::nullopt;
  const std::size_t close = text.find(']');
  if (close == std::string_view::npos || close == 1 || close > 10) return std::nullopt;
  std::size_t i = 0;
  for (char c : text.substr(1, close - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    i = i * 10 + static_cast<std::size_t>(c - '0');
  }
  return std::pair{i, text.substr(close + 1)};
}

std::string ParameterField(std::string_view rest, const tuning::SearchSpace* space) {
  auto split = SplitIndex(rest);
  if (!split) return "distributions" + std::string(rest);
  const auto [i, tail] = *split;
  const std::string at = Index("distributions", i);
  const bool categorical =
      space != nullptr && i < space->params.size() && space->params[i].type == ParamType::kCategorical;
  constexpr std::string_view kList = ".feasibleSpace.list";
  if (tail.starts_with(kList))
    return at + (categorical ? ".choices" : ".values") + std::string(tail.substr(kList.size()));
  if (tail == ".feasibleSpace.min") return at + ".low";
  if (tail == ".feasibleSpace.max") return at + ".high";
  if (tail == ".feasibleSpace.step") return at + ".step";
  if (tail == ".feasibleSpace.distribution") return at + ".log";
  if (tail == ".parameterType") return at + ".type";
  if (tail == ".feasibleSpace") return at;
  return at + std::string(tail);
}

// "spec.algorithm" / "spec.earlyStopping" fields -> "sampler" / "pruner" ones.
std::optional<std::string> AlgorithmField(std::string_view field, std::string_view katib,
                                          std::string_view ours) {
  if (!field.starts_with(katib)) return std::nullopt;
  std::string_view rest = field.substr(katib.size());
  if (rest == ".algorithmName") return std::string(ours);
  constexpr std::string_view kSettings = ".algorithmSettings";
  if (!rest.starts_with(kSettings)) return std::nullopt;
  rest.remove_prefix(kSettings.size());
  std::string out = std::string(ours) + "_settings";
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']')
    out += "." + std::string(rest.substr(1, rest.size() - 2));
  return out;
}

}  // namespace

Status CheckFields(const Json& object, std::initializer_list<std::string_view> allowed,
                   std::string_view path) {
  for (const auto& [key, value] : object.items()) {
    bool known = false;
    for (std::string_view name : allowed) known = known || name == key;
    if (known) continue;
    std::string list;
    for (std::string_view name : allowed) list += (list.empty() ? "" : ", ") + std::string(name);
    const std::string field = Join(path, SanitizeForMessage(key, 100));
    return InvalidArgument("unknown field " + QuoteForMessage(field) + "; " +
                               (path.empty() ? std::string("the request") : std::string(path)) + " takes " +
                               list,
                           field);
  }
  return Status::OK();
}

Result<CreateStudyRequest> ParseCreateStudy(const Json& body) {
  RETURN_IF_ERROR(CheckFields(body,
                              {"name", "distributions", "direction", "sampler", "sampler_settings", "pruner",
                               "pruner_settings", "seed", "metric_names", "load_if_exists"},
                              ""));
  CreateStudyRequest out;
  tuning::StudyConfig& c = out.config;
  ASSIGN_OR_RETURN(const Json* name, Required(body, "name", ""));
  ASSIGN_OR_RETURN(c.name, Text(*name, "name"));

  ASSIGN_OR_RETURN(const Json* dists, Required(body, "distributions", ""));
  if (!dists->is_array()) return TypeError("distributions", "an array", *dists);
  if (dists->size() > kMaxDistributions) {
    return InvalidArgument("distributions has " + std::to_string(dists->size()) + " entries; at most " +
                               std::to_string(kMaxDistributions) + " are allowed",
                           "distributions");
  }
  for (std::size_t i = 0; i < dists->size(); ++i) {
    ASSIGN_OR_RETURN(ParamSpec p, ParseDist((*dists)[i], Index("distributions", i)));
    c.space.params.push_back(std::move(p));
  }

  if (const Json* v = Field(body, "direction")) {
    ASSIGN_OR_RETURN(std::string direction, Text(*v, "direction"));
    if (direction == "maximize") {
      c.direction = Direction::kMaximize;
    } else if (direction != "minimize") {
      return InvalidArgument(
          "direction must be \"minimize\" or \"maximize\", not " + QuoteForMessage(direction), "direction");
    }
  }
  if (const Json* v = Field(body, "sampler")) {
    ASSIGN_OR_RETURN(c.sampler, Text(*v, "sampler"));
  }
  ASSIGN_OR_RETURN(c.sampler_settings, Settings(Field(body, "sampler_settings"), "sampler_settings"));
  if (const Json* v = Field(body, "pruner")) {
    ASSIGN_OR_RETURN(c.pruner, Text(*v, "pruner"));
  }
  ASSIGN_OR_RETURN(c.pruner_settings, Settings(Field(body, "pruner_settings"), "pruner_settings"));
  if (const Json* v = Field(body, "seed")) {
    if (!v->is_number_unsigned()) {
      if (v->is_number_integer())
        return InvalidArgument("seed must not be negative, not " + v->dump(), "seed");
      return TypeError("seed", "an integer from 0 to 18446744073709551615", *v);
    }
    c.seed = v->get<std::uint64_t>();
  }
  if (const Json* v = Field(body, "metric_names")) {
    if (!v->is_array()) return TypeError("metric_names", "an array of strings", *v);
    if (v->size() > kMaxMapEntries) {
      return InvalidArgument("metric_names has " + std::to_string(v->size()) + " names; at most " +
                                 std::to_string(kMaxMapEntries) + " are allowed",
                             "metric_names");
    }
    for (std::size_t i = 0; i < v->size(); ++i) {
      ASSIGN_OR_RETURN(std::string m, Text((*v)[i], Index("metric_names", i)));
      c.metric_names.push_back(std::move(m));
    }
  }
  if (const Json* v = Field(body, "load_if_exists")) {
    ASSIGN_OR_RETURN(out.load_if_exists, Bool(*v, "load_if_exists"));
  }
  return out;
}

Result<tuning::FixedParams> ParseAsk(const Json& body, const tuning::SearchSpace& space) {
  RETURN_IF_ERROR(CheckFields(body, {"fixed_params"}, ""));
  tuning::FixedParams out;
  const Json* fixed = Field(body, "fixed_params");
  if (fixed == nullptr) return out;
  if (!fixed->is_object()) return TypeError("fixed_params", "an object", *fixed);
  for (const auto& [name, value] : fixed->items()) {
    const std::string field = "fixed_params." + SanitizeForMessage(name, 200);
    std::size_t i = 0;
    while (i < space.params.size() && space.params[i].name != name) ++i;
    if (i == space.params.size())
      return InvalidArgument("the study has no parameter " + QuoteForMessage(name), field);
    ASSIGN_OR_RETURN(out[name], ParamFromJson(space.params[i], value, field));
  }
  return out;
}

Result<TellRequest> ParseTell(const Json& body) {
  RETURN_IF_ERROR(CheckFields(body, {"state", "value"}, ""));
  TellRequest out;
  if (const Json* v = Field(body, "state")) {
    ASSIGN_OR_RETURN(std::string state, Text(*v, "state"));
    if (state == "COMPLETE") {
      out.state = TrialState::kComplete;
    } else if (state == "PRUNED") {
      out.state = TrialState::kPruned;
    } else if (state == "FAILED" || state == "FAIL") {  // FAIL: Optuna's TrialState name
      out.state = TrialState::kFailed;
    } else {
      return InvalidArgument(
          "state must be \"COMPLETE\", \"FAILED\" or \"PRUNED\", not " + QuoteForMessage(state), "state");
    }
  }
  if (const Json* v = Field(body, "value")) {
    ASSIGN_OR_RETURN(out.value, NumberOrSpecial(*v, "value"));
  }
  return out;
}

Result<ReportRequest> ParseReport(const Json& body) {
  RETURN_IF_ERROR(CheckFields(body, {"step", "value"}, ""));
  ReportRequest out;
  ASSIGN_OR_RETURN(const Json* step, Required(body, "step", ""));
  ASSIGN_OR_RETURN(double s, IntegralNumber(*step, "step", false, 0, kMaxExactInteger));
  out.step = static_cast<std::int64_t>(s);
  ASSIGN_OR_RETURN(const Json* value, Required(body, "value", ""));
  ASSIGN_OR_RETURN(out.value, NumberOrSpecial(*value, "value"));
  return out;
}

std::string_view TrialStateName(TrialState state) {
  switch (state) {
    case TrialState::kRunning:
      return "RUNNING";
    case TrialState::kComplete:
      return "COMPLETE";
    case TrialState::kPruned:
      return "PRUNED";
    case TrialState::kFailed:
      return "FAILED";
  }
  return "RUNNING";
}

Json TrialToJson(const tuning::SearchSpace& space, const tuning::Trial& trial) {
  Json params = Json::object();
  const std::size_t n = std::min(space.params.size(), trial.params.size());
  for (std::size_t i = 0; i < n; ++i)
    params[space.params[i].name] = ParamToJson(space.params[i], trial.params[i]);
  Json intermediate = Json::object();
  for (const auto& [step, value] : trial.intermediate)
    intermediate[std::to_string(step)] = JsonDouble(value);
  return {{"number", trial.number},
          {"state", TrialStateName(trial.state)},
          {"params", std::move(params)},
          {"value", trial.value ? JsonDouble(*trial.value) : Json(nullptr)},
          {"intermediate_values", std::move(intermediate)}};
}

Json StudyToJson(const tuning::StudyInfo& study) {
  const tuning::StudyConfig& c = study.config;
  Json dists = Json::array();
  for (const ParamSpec& p : c.space.params) dists.push_back(DistToJson(p));
  Json sampler_settings = Json::object(), pruner_settings = Json::object();
  for (const auto& [k, v] : c.sampler_settings) sampler_settings[k] = v;
  for (const auto& [k, v] : c.pruner_settings) pruner_settings[k] = v;
  return {{"name", c.name},
          {"study_id", study.study_id},
          {"direction", c.direction == Direction::kMaximize ? "maximize" : "minimize"},
          {"sampler", c.sampler},
          {"sampler_settings", std::move(sampler_settings)},
          {"pruner", c.pruner},
          {"pruner_settings", std::move(pruner_settings)},
          {"seed", c.seed ? Json(*c.seed) : Json(nullptr)},
          {"metric_names", c.metric_names},
          {"distributions", std::move(dists)},
          {"created", FormatRfc3339(study.created_micros)},
          {"counts",
           {{"running", study.counts.running},
            {"complete", study.counts.complete},
            {"pruned", study.counts.pruned},
            {"failed", study.counts.failed}}},
          {"best_trial", study.best_trial ? TrialToJson(c.space, *study.best_trial) : Json(nullptr)}};
}

Status InRequestTerms(const Status& status, const tuning::SearchSpace* space) {
  const std::string& field = status.field();
  if (status.ok() || field.empty()) return status;
  std::string mapped = field;
  constexpr std::string_view kParameters = "spec.parameters";
  if (field.starts_with(kParameters)) {
    mapped = ParameterField(std::string_view(field).substr(kParameters.size()), space);
  } else if (auto sampler = AlgorithmField(field, "spec.algorithm", "sampler")) {
    mapped = *sampler;
  } else if (auto pruner = AlgorithmField(field, "spec.earlyStopping", "pruner")) {
    mapped = *pruner;
  } else if (field.starts_with("params.")) {
    mapped = "fixed_" + field;
  }
  return Status(status.code(), status.message(), mapped);
}

}  // namespace ferry::api::studies
