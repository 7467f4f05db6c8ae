// KFP placeholder resolution, ExecutorInput and executor outputs, as the KFP
// v2 launcher (backend/src/v2/component/launcher_v2.go) and kfp.local
// (placeholder_utils.py) do them:
//   - Concat/IfPresent are expanded first (kfp.local's order), then every
//     `{{$...}}` in the resulting strings is substituted in one left-to-right
//     pass, so text a value brings in is never resolved again.
//   - Values print as the launcher prints them (placeholders_internal.h).
//   - A string input parameter that itself holds placeholders (the
//     compiler's f-string inputs, `dsl.PIPELINE_JOB_NAME_PLACEHOLDER` passed
//     as an argument) is resolved once against the same context before use,
//     as kfp.local's resolve_self_references_in_executor_input and the
//     driver do; one that does not resolve is left as written.
//   - An absent optional input is a parameter whose value is null, or an
//     artifact input with no artifacts.
//   - Outputs: the executor output file has priority over the per-parameter
//     output files (collectOutputParameters); artifact uri/metadata from it
//     are merged over the defaults (mergeRuntimeArtifacts).
#include "ferry/pipelines/placeholders.h"

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include "ferry/common/strings.h"
#include "ferry/pipelines/placeholders_internal.h"

namespace ferry::pipelines {
namespace {

using internal::GoJson;
using internal::ParameterText;

constexpr int kMaxStructDepth = 32;
constexpr std::uintmax_t kMaxOutputFileBytes = 16u << 20;

// One `{{$...}}` placeholder, parsed.
struct Placeholder {
  enum class Kind {
    kExecutorInput,    // {{$}}
    kInputParameter,   // inputs.parameters['x']
    kInputArtifact,    // inputs.artifacts['x'].path|uri|metadata[...]
    kOutputParameter,  // outputs.parameters['y'].output_file
    kOutputArtifact,   // outputs.artifacts['y'].path|uri|metadata[...]
    kOutputFile,       // outputs.output_file
    kJobName,
    kJobUuid,
    kTaskName,
    kTaskUuid,
    kJobResourceName,
    kPipelineRoot,
  };
  Kind kind = Kind::kExecutorInput;
  std::string name;       // input or output name
  std::string attribute;  // path, uri, metadata, output_file
  std::optional<std::string> metadata_key;
  std::string text;  // as written, for messages
};

// A string split into literal text and placeholders.
struct Piece {
  bool is_placeholder = false;
  std::string literal;
  Placeholder placeholder;
};

// Parses the placeholder whose "{{$" starts at s[begin]; sets *end past its
// "}}". Segments are `.ident` and `['key']` (or `["key"]`).
Result<Placeholder> ParseOne(std::string_view s, std::size_t begin, std::size_t* end) {
  struct Segment {
    bool is_key;
    std::string text;
  };
  std::vector<Segment> segs;
  std::size_t i = begin + 3;
  auto malformed = [&](std::string_view why) {
    std::size_t close = s.find("}}", begin);
    std::string_view shown = s.substr(begin, close == std::string_view::npos ? 60 : close + 2 - begin);
    return InvalidArgument("malformed placeholder " + QuoteForMessage(shown) + ": " + std::string(why));
  };
  while (true) {
    if (i + 1 < s.size() && s[i] == '}' && s[i + 1] == '}') {
      i += 2;
      break;
    }
    if (i >= s.size()) return malformed("no closing '}}'");
    if (s[i] == '.') {
      std::size_t j = ++i;
      while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '_')) ++j;
      if (j == i) return malformed("expected a name after '.'");
      segs.push_back({false, std::string(s.substr(i, j - i))});
      i = j;
    } else if (s[i] == '[') {
      if (i + 1 >= s.size() || (s[i + 1] != '\'' && s[i + 1] != '"')) {
        return malformed("expected a quoted key after '['");
      }
      char quote = s[i + 1];
      std::size_t close = s.find(quote, i + 2);
      if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ']') {
        return malformed("unterminated key");
      }
      segs.push_back({true, std::string(s.substr(i + 2, close - i - 2))});
      i = close + 2;
    } else {
      return malformed(std::string("unexpected ") + QuoteForMessage(s.substr(i, 1)));
    }
  }
  *end = i;
  Placeholder p;
  p.text = std::string(s.substr(begin, i - begin));
  auto name_is = [&](std::size_t k, std::string_view want) {
    return k < segs.size() && !segs[k].is_key && segs[k].text == want;
  };
  auto key_at = [&](std::size_t k) { return k < segs.size() && segs[k].is_key; };
  using K = Placeholder::Kind;
  if (segs.empty()) {
    p.kind = K::kExecutorInput;
    return p;
  }
  if (segs.size() == 1 && !segs[0].is_key) {
    static const std::pair<std::string_view, K> kSimple[] = {
        {"pipeline_job_name", K::kJobName},
        {"pipeline_job_uuid", K::kJobUuid},
        {"pipeline_task_name", K::kTaskName},
        {"pipeline_task_uuid", K::kTaskUuid},
        {"pipeline_job_resource_name", K::kJobResourceName},
        {"pipeline_root", K::kPipelineRoot},
        {"outputMetadataUri", K::kOutputFile},
    };
    for (const auto& [word, kind] : kSimple) {
      if (segs[0].text == word) {
        p.kind = kind;
        return p;
      }
    }
  }
  bool inputs = name_is(0, "inputs");
  bool outputs = name_is(0, "outputs");
  if (outputs && segs.size() == 2 && name_is(1, "output_file")) {
    p.kind = K::kOutputFile;
    return p;
  }
  if ((inputs || outputs) && name_is(1, "parameters") && key_at(2)) {
    p.name = segs[2].text;
    if (inputs && segs.size() == 3) {
      p.kind = K::kInputParameter;
      return p;
    }
    if (outputs && segs.size() == 4 && name_is(3, "output_file")) {
      p.kind = K::kOutputParameter;
      p.attribute = "output_file";
      return p;
    }
  }
  if ((inputs || outputs) && name_is(1, "artifacts") && key_at(2) && segs.size() >= 4) {
    p.name = segs[2].text;
    p.kind = inputs ? K::kInputArtifact : K::kOutputArtifact;
    if (segs.size() == 4 && (name_is(3, "path") || name_is(3, "uri") || name_is(3, "metadata"))) {
      p.attribute = segs[3].text;
      return p;
    }
    if (segs.size() == 5 && name_is(3, "metadata") && key_at(4)) {
      p.attribute = "metadata";
      p.metadata_key = segs[4].text;
      return p;
    }
  }
  return InvalidArgument("unknown placeholder " + QuoteForMessage(p.text));
}

// Splits `s` at its placeholders. "{{$" starts one only when followed by
// "." or "}}"; other text, including a lone "{{", is literal.
Result<std::vector<Piece>> Split(std::string_view s) {
  std::vector<Piece> pieces;
  std::string literal;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t at = s.find("{{$", i);
    while (at != std::string_view::npos && !(at + 3 < s.size() && (s[at + 3] == '.' || s[at + 3] == '}'))) {
      at = s.find("{{$", at + 1);
    }
    if (at == std::string_view::npos) {
      literal.append(s.substr(i));
      break;
    }
    literal.append(s.substr(i, at - i));
    std::size_t end = 0;
    ASSIGN_OR_RETURN(Placeholder p, ParseOne(s, at, &end));
    if (!literal.empty()) pieces.push_back({false, std::move(literal), {}});
    literal.clear();
    pieces.push_back({true, {}, std::move(p)});
    i = end;
  }
  if (!literal.empty()) pieces.push_back({false, std::move(literal), {}});
  return pieces;
}

std::string LocalPath(const std::string& uri) {
  constexpr std::string_view kFile = "file://";
  if (uri.rfind(kFile, 0) == 0) return uri.substr(kFile.size());
  return uri;
}

std::string ArtifactAttribute(const RuntimeArtifact& a, const Placeholder& p) {
  if (p.attribute == "uri") return a.uri;
  if (p.attribute == "path") return LocalPath(a.uri);
  if (!p.metadata_key) return GoJson(a.metadata.is_object() ? a.metadata : Json::object(), true);
  if (!a.metadata.is_object()) return "";
  auto it = a.metadata.find(*p.metadata_key);
  return it == a.metadata.end() ? "" : ParameterText(*it);
}

bool IsPresent(const ExecutionContext& ctx, const std::string& name) {
  auto p = ctx.parameters.find(name);
  if (p != ctx.parameters.end()) return !p->second.is_null();
  auto a = ctx.artifacts.find(name);
  return a != ctx.artifacts.end() && !a->second.empty();
}

// Substitutes placeholders against one context. `params` are the effective
// parameter values (self-references resolved).
class Resolver {
 public:
  Resolver(const ExecutionContext& ctx, const std::map<std::string, Json>& params)
      : ctx_(ctx), params_(params) {}

  Result<std::string> Resolve(const Placeholder& p) {
    using K = Placeholder::Kind;
    switch (p.kind) {
      case K::kExecutorInput:
        if (!executor_input_) executor_input_ = GoJson(BuildExecutorInput(ctx_), false);
        return *executor_input_;
      case K::kJobName:
        return ctx_.pipeline_job_name;
      case K::kJobResourceName:
        return ctx_.pipeline_job_name;
      case K::kJobUuid:
        return ctx_.pipeline_job_uuid;
      case K::kTaskName:
        return ctx_.pipeline_task_name;
      case K::kTaskUuid:
        return ctx_.pipeline_task_uuid;
      case K::kPipelineRoot:
        return ctx_.pipeline_root;
      case K::kOutputFile:
        return ctx_.executor_output_file;
      case K::kInputParameter: {
        auto it = params_.find(p.name);
        if (it == params_.end()) {
          return InvalidArgument(QuoteForMessage(p.text) + " names input parameter " +
                                 QuoteForMessage(p.name) + ", which the task does not have");
        }
        return ParameterText(it->second);
      }
      case K::kInputArtifact: {
        auto it = ctx_.artifacts.find(p.name);
        if (it == ctx_.artifacts.end()) {
          return InvalidArgument(QuoteForMessage(p.text) + " names input artifact " +
                                 QuoteForMessage(p.name) + ", which the task does not have");
        }
        if (it->second.empty()) return std::string();
        return ArtifactAttribute(it->second.front(), p);
      }
      case K::kOutputParameter: {
        auto it = ctx_.output_parameter_files.find(p.name);
        if (it == ctx_.output_parameter_files.end()) {
          return InvalidArgument(QuoteForMessage(p.text) + " names output parameter " +
                                 QuoteForMessage(p.name) + ", which the task does not have");
        }
        return it->second;
      }
      case K::kOutputArtifact: {
        auto it = ctx_.output_artifacts.find(p.name);
        if (it == ctx_.output_artifacts.end()) {
          return InvalidArgument(QuoteForMessage(p.text) + " names output artifact " +
                                 QuoteForMessage(p.name) + ", which the task does not have");
        }
        return ArtifactAttribute(it->second, p);
      }
    }
    return InvalidArgument("unknown placeholder " + QuoteForMessage(p.text));
  }

  Result<std::string> ResolveString(std::string_view s) {
    ASSIGN_OR_RETURN(std::vector<Piece> pieces, Split(s));
    std::string out;
    for (const Piece& piece : pieces) {
      if (!piece.is_placeholder) {
        out += piece.literal;
        continue;
      }
      ASSIGN_OR_RETURN(std::string v, Resolve(piece.placeholder));
      out += v;
    }
    return out;
  }

 private:
  const ExecutionContext& ctx_;
  const std::map<std::string, Json>& params_;
  std::optional<std::string> executor_input_;
};

// String parameter values holding placeholders, resolved once against the
// context's own values; a value that does not resolve stays as written.
std::map<std::string, Json> EffectiveParameters(const ExecutionContext& ctx) {
  std::map<std::string, Json> params = ctx.parameters;
  for (auto& [name, value] : params) {
    if (!value.is_string() || value.get_ref<const std::string&>().find("{{$") == std::string::npos) continue;
    Result<std::vector<Piece>> pieces = Split(value.get_ref<const std::string&>());
    if (!pieces.ok()) continue;
    bool self_contained = true;
    for (const Piece& p : *pieces) {
      if (p.is_placeholder && p.placeholder.kind == Placeholder::Kind::kExecutorInput) self_contained = false;
    }
    if (!self_contained) continue;
    Resolver resolver(ctx, ctx.parameters);
    Result<std::string> resolved = resolver.ResolveString(value.get_ref<const std::string&>());
    if (resolved.ok()) value = std::move(resolved).value();
  }
  return params;
}

bool LooksLikeStructPlaceholder(std::string_view arg) {
  if (arg.empty() || arg[0] != '{') return false;
  std::size_t i = 1;
  while (i < arg.size() && (arg[i] == ' ' || arg[i] == '\n' || arg[i] == '\t' || arg[i] == '\r')) ++i;
  std::string_view rest = arg.substr(i);
  return rest.rfind("\"Concat\"", 0) == 0 || rest.rfind("\"IfPresent\"", 0) == 0;
}

// Expands Concat/IfPresent into strings whose simple placeholders are still
// unresolved. `present` decides IfPresent; with `check_all` both branches
// are visited (the static check) and `input_names` collects InputName.
class StructExpander {
 public:
  StructExpander(std::function<bool(const std::string&)> present, bool check_all)
      : present_(std::move(present)), check_all_(check_all) {}

  std::vector<std::string> input_names;

  Status Expand(const Json& node, int depth, std::vector<std::string>* out) {
    if (depth > kMaxStructDepth) {
      return InvalidArgument("Concat/IfPresent nested more than " + std::to_string(kMaxStructDepth) +
                             " deep");
    }
    if (node.is_string()) {
      out->push_back(node.get<std::string>());
      return Status::OK();
    }
    if (!node.is_object() || node.size() != 1) {
      return InvalidArgument(
          "expected a string or a {\"Concat\": ...} or {\"IfPresent\": ...} "
          "object, got " +
          std::string(JsonTypeName(node)));
    }
    auto it = node.begin();
    if (it.key() == "Concat") {
      if (!it.value().is_array()) return InvalidArgument("Concat takes a list");
      std::string joined;
      for (const Json& part : it.value()) {
        std::vector<std::string> sub;
        RETURN_IF_ERROR(Expand(part, depth + 1, &sub));
        for (const std::string& s : sub) joined += s;
      }
      out->push_back(std::move(joined));
      return Status::OK();
    }
    if (it.key() == "IfPresent") {
      const Json& spec = it.value();
      if (!spec.is_object()) return InvalidArgument("IfPresent takes an object");
      for (auto f = spec.begin(); f != spec.end(); ++f) {
        if (f.key() != "InputName" && f.key() != "Then" && f.key() != "Else") {
          return InvalidArgument("IfPresent has unknown field " + QuoteForMessage(f.key()));
        }
      }
      auto name = spec.find("InputName");
      if (name == spec.end() || !name->is_string()) {
        return InvalidArgument("IfPresent needs InputName, a string");
      }
      input_names.push_back(name->get<std::string>());
      auto then_it = spec.find("Then");
      auto else_it = spec.find("Else");
      if (check_all_) {
        if (then_it != spec.end()) RETURN_IF_ERROR(ExpandBranch(*then_it, depth, out));
        if (else_it != spec.end()) RETURN_IF_ERROR(ExpandBranch(*else_it, depth, out));
        return Status::OK();
      }
      if (present_(name->get<std::string>())) {
        if (then_it != spec.end()) return ExpandBranch(*then_it, depth, out);
      } else if (else_it != spec.end()) {
        return ExpandBranch(*else_it, depth, out);
      }
      return Status::OK();
    }
    return InvalidArgument("unknown structured placeholder " + QuoteForMessage(it.key()) +
                           " (expected Concat or IfPresent)");
  }

 private:
  Status ExpandBranch(const Json& branch, int depth, std::vector<std::string>* out) {
    if (branch.is_null()) return Status::OK();
    if (!branch.is_array()) return Expand(branch, depth + 1, out);
    for (const Json& e : branch) RETURN_IF_ERROR(Expand(e, depth + 1, out));
    return Status::OK();
  }

  std::function<bool(const std::string&)> present_;
  bool check_all_;
};

// Expands one command/args element into raw strings.
Status ExpandElement(const std::string& element, StructExpander& expander, std::vector<std::string>* out) {
  if (!LooksLikeStructPlaceholder(element)) {
    out->push_back(element);
    return Status::OK();
  }
  Result<Json> parsed = ParseJson(element, ParseLimits{kMaxStructDepth * 3, 100'000});
  if (!parsed.ok()) {
    return InvalidArgument("malformed Concat/IfPresent placeholder: " + parsed.status().message());
  }
  return expander.Expand(*parsed, 0, out);
}

Json ArtifactJson(const RuntimeArtifact& a) {
  Json j = Json::object();
  if (!a.name.empty()) j["name"] = a.name;
  Json type = Json::object();
  type["schemaTitle"] = a.type.schema_title;
  if (!a.type.schema_version.empty()) type["schemaVersion"] = a.type.schema_version;
  j["type"] = std::move(type);
  if (!a.uri.empty()) j["uri"] = a.uri;
  j["metadata"] = a.metadata.is_object() ? a.metadata : Json::object();
  return j;
}

// Reads a whole file. *found is false (and OK returned) when it does not
// exist.
Status ReadSmallFile(const std::string& path, std::string* content, bool* found, std::string_view what) {
  std::error_code ec;
  *found = false;
  if (path.empty()) return Status::OK();
  auto st = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(st)) return Status::OK();
  if (!std::filesystem::is_regular_file(st)) {
    return InvalidArgument(std::string(what) + ": " + QuoteForMessage(path) + " is not a regular file");
  }
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return InvalidArgument(std::string(what) + ": cannot read " + QuoteForMessage(path));
  if (size > kMaxOutputFileBytes) {
    return InvalidArgument(std::string(what) + ": " + QuoteForMessage(path) + " is larger than " +
                           std::to_string(kMaxOutputFileBytes) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgument(std::string(what) + ": cannot read " + QuoteForMessage(path));
  std::ostringstream buf;
  buf << in.rdbuf();
  *content = buf.str();
  if (content->size() > kMaxOutputFileBytes) {
    return InvalidArgument(std::string(what) + ": " + QuoteForMessage(path) + " is larger than " +
                           std::to_string(kMaxOutputFileBytes) + " bytes");
  }
  *found = true;
  return Status::OK();
}

// A value from the executor output's parameterValues, checked against the
// declared type (integral numbers become integers for NUMBER_INTEGER).
Result<Json> CheckOutputValue(const Json& v, ParameterType type, const std::string& name) {
  auto bad = [&]() {
    return InvalidArgument("output parameter " + QuoteForMessage(name) + " is declared " +
                           std::string(ParameterTypeName(type)) + " but the executor output holds " +
                           std::string(JsonTypeName(v)) + " " + QuoteForMessage(GoJson(v, false)));
  };
  switch (type) {
    case ParameterType::kString:
      if (!v.is_string()) return bad();
      return v;
    case ParameterType::kNumberInteger: {
      if (v.is_number_integer()) return v;
      if (!v.is_number_float()) return bad();
      double d = v.get<double>();
      if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
          d != static_cast<double>(static_cast<std::int64_t>(d))) {
        return bad();
      }
      return Json(static_cast<std::int64_t>(d));
    }
    case ParameterType::kNumberDouble:
      if (!v.is_number()) return bad();
      return Json(v.get<double>());
    case ParameterType::kBoolean:
      if (!v.is_boolean()) return bad();
      return v;
    case ParameterType::kList:
      if (!v.is_array()) return bad();
      return v;
    case ParameterType::kStruct:
    case ParameterType::kTaskFinalStatus:
      if (!v.is_object()) return bad();
      return v;
  }
  return bad();
}

}  // namespace

Json BuildExecutorInput(const ExecutionContext& ctx) {
  std::map<std::string, Json> params = EffectiveParameters(ctx);
  Json inputs = Json::object();
  Json values = Json::object();
  for (const auto& [name, value] : params) {
    if (!value.is_null()) values[name] = value;
  }
  if (!values.empty()) inputs["parameterValues"] = std::move(values);
  Json artifacts = Json::object();
  for (const auto& [name, list] : ctx.artifacts) {
    if (list.empty()) continue;
    Json arr = Json::array();
    for (const RuntimeArtifact& a : list) arr.push_back(ArtifactJson(a));
    artifacts[name] = Json{{"artifacts", std::move(arr)}};
  }
  if (!artifacts.empty()) inputs["artifacts"] = std::move(artifacts);

  Json outputs = Json::object();
  Json out_params = Json::object();
  for (const auto& [name, file] : ctx.output_parameter_files) {
    out_params[name] = Json{{"outputFile", file}};
  }
  if (!out_params.empty()) outputs["parameters"] = std::move(out_params);
  Json out_artifacts = Json::object();
  for (const auto& [name, a] : ctx.output_artifacts) {
    out_artifacts[name] = Json{{"artifacts", Json::array({ArtifactJson(a)})}};
  }
  if (!out_artifacts.empty()) outputs["artifacts"] = std::move(out_artifacts);
  if (!ctx.executor_output_file.empty()) outputs["outputFile"] = ctx.executor_output_file;
  return Json{{"inputs", std::move(inputs)}, {"outputs", std::move(outputs)}};
}

Result<std::vector<std::string>> ResolveCommand(const ContainerSpec& container, const ExecutionContext& ctx) {
  std::map<std::string, Json> params = EffectiveParameters(ctx);
  Resolver resolver(ctx, params);
  StructExpander expander([&ctx](const std::string& name) { return IsPresent(ctx, name); },
                          /*check_all=*/false);
  std::vector<std::string> argv;
  auto run = [&](const std::vector<std::string>& list, std::string_view list_name) -> Status {
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string field = std::string(list_name) + "[" + std::to_string(i) + "]";
      std::vector<std::string> raw;
      Status st = ExpandElement(list[i], expander, &raw);
      if (!st.ok()) return InvalidArgument(field + ": " + st.message(), field);
      for (const std::string& r : raw) {
        Result<std::string> resolved = resolver.ResolveString(r);
        if (!resolved.ok()) return InvalidArgument(field + ": " + resolved.status().message(), field);
        argv.push_back(std::move(resolved).value());
      }
    }
    return Status::OK();
  };
  RETURN_IF_ERROR(run(container.command, "command"));
  RETURN_IF_ERROR(run(container.args, "args"));
  return argv;
}

Status CheckPlaceholders(const ContainerSpec& container, const ComponentSpec& component,
                         std::string_view field) {
  StructExpander expander([](const std::string&) { return true; }, /*check_all=*/true);
  auto check = [&](const std::vector<std::string>& list, std::string_view list_name) -> Status {
    for (std::size_t i = 0; i < list.size(); ++i) {
      std::string path = std::string(field) + (field.empty() ? "" : ".") + std::string(list_name) + "[" +
                         std::to_string(i) + "]";
      auto fail = [&](const std::string& msg) { return InvalidArgument(msg, path); };
      std::vector<std::string> raw;
      expander.input_names.clear();
      Status st = ExpandElement(list[i], expander, &raw);
      if (!st.ok()) return fail(st.message());
      for (const std::string& name : expander.input_names) {
        if (!component.inputs.parameters.count(name) && !component.inputs.artifacts.count(name)) {
          return fail("IfPresent names input " + QuoteForMessage(name) + ", which component " +
                      QuoteForMessage(component.name) + " does not declare");
        }
      }
      for (const std::string& r : raw) {
        Result<std::vector<Piece>> pieces = Split(r);
        if (!pieces.ok()) return fail(pieces.status().message());
        for (const Piece& piece : *pieces) {
          if (!piece.is_placeholder) continue;
          const Placeholder& p = piece.placeholder;
          using K = Placeholder::Kind;
          std::string kind;
          bool declared = true;
          switch (p.kind) {
            case K::kInputParameter:
              kind = "input parameter";
              declared = component.inputs.parameters.count(p.name) > 0;
              break;
            case K::kInputArtifact:
              kind = "input artifact";
              declared = component.inputs.artifacts.count(p.name) > 0;
              break;
            case K::kOutputParameter:
              kind = "output parameter";
              declared = component.outputs.parameters.count(p.name) > 0;
              break;
            case K::kOutputArtifact:
              kind = "output artifact";
              declared = component.outputs.artifacts.count(p.name) > 0;
              break;
            default:
              break;
          }
          if (!declared) {
            return fail(QuoteForMessage(p.text) + " names " + kind + " " + QuoteForMessage(p.name) +
                        ", which component " + QuoteForMessage(component.name) + " does not declare");
          }
        }
      }
    }
    return Status::OK();
  };
  RETURN_IF_ERROR(check(container.command, "command"));
  return check(container.args, "args");
}

Result<ExecutionOutputs> ReadExecutionOutputs(const ComponentSpec& component, const ExecutionContext& ctx) {
  // The executor output file (optional): parameterValues and artifacts.
  Json executor_output = Json::object();
  {
    std::string text;
    bool found = false;
    RETURN_IF_ERROR(ReadSmallFile(ctx.executor_output_file, &text, &found, "executor output"));
    if (found) {
      Result<Json> parsed = ParseJson(text);
      if (!parsed.ok()) {
        return InvalidArgument("executor output " + QuoteForMessage(ctx.executor_output_file) +
                               " is not valid JSON: " + parsed.status().message());
      }
      if (!parsed->is_object()) {
        return InvalidArgument("executor output " + QuoteForMessage(ctx.executor_output_file) +
                               " is not a JSON object");
      }
      executor_output = std::move(parsed).value();
    }
  }
  const Json* out_values = nullptr;
  if (auto it = executor_output.find("parameterValues"); it != executor_output.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("executor output: parameterValues is not an object");
    out_values = &*it;
  }
  const Json* out_artifacts = nullptr;
  if (auto it = executor_output.find("artifacts"); it != executor_output.end() && !it->is_null()) {
    if (!it->is_object()) return InvalidArgument("executor output: artifacts is not an object");
    out_artifacts = &*it;
  }

  ExecutionOutputs result;
  for (const auto& [name, spec] : component.outputs.parameters) {
    if (out_values) {
      auto v = out_values->find(name);
      if (v != out_values->end() && !v->is_null()) {
        ASSIGN_OR_RETURN(result.parameters[name], CheckOutputValue(*v, spec.type, name));
        continue;
      }
    }
    auto file = ctx.output_parameter_files.find(name);
    std::string text;
    bool found = false;
    std::string what = "output parameter " + QuoteForMessage(name);
    if (file != ctx.output_parameter_files.end()) {
      RETURN_IF_ERROR(ReadSmallFile(file->second, &text, &found, what));
    }
    if (!found) {
      return InvalidArgument(what + " was not produced: no file at " +
                             QuoteForMessage(file == ctx.output_parameter_files.end() ? "" : file->second) +
                             " and no value in the executor output");
    }
    ASSIGN_OR_RETURN(result.parameters[name], internal::TextToParameterValue(text, spec.type, what));
  }

  for (const auto& [name, spec] : component.outputs.artifacts) {
    std::string what = "output artifact " + QuoteForMessage(name);
    std::optional<RuntimeArtifact> artifact;
    if (auto it = ctx.output_artifacts.find(name); it != ctx.output_artifacts.end()) artifact = it->second;
    const Json* written = nullptr;
    if (out_artifacts) {
      auto it = out_artifacts->find(name);
      if (it != out_artifacts->end()) {
        if (!it->is_object())
          return InvalidArgument("executor output: artifacts." + name + " is not an object");
        auto list = it->find("artifacts");
        if (list != it->end() && !list->is_null()) {
          if (!list->is_array()) {
            return InvalidArgument("executor output: artifacts." + name + ".artifacts is not a list");
          }
          if (!list->empty()) written = &list->front();
        }
      }
    }
    if (!artifact && !written) {
      return InvalidArgument(what +
                             " was not produced: the task has no such output and the executor "
                             "output does not name it");
    }
    if (!artifact) {
      artifact = RuntimeArtifact{name, spec.type, "", Json::object()};
    }
    if (!artifact->metadata.is_object()) artifact->metadata = Json::object();
    if (written) {
      if (!written->is_object()) {
        return InvalidArgument("executor output: artifacts." + name + ".artifacts[0] is not an object");
      }
      if (auto uri = written->find("uri"); uri != written->end() && !uri->is_null()) {
        if (!uri->is_string())
          return InvalidArgument("executor output: artifacts." + name + " uri is not a string");
        if (!uri->get_ref<const std::string&>().empty()) artifact->uri = uri->get<std::string>();
      }
      if (auto md = written->find("metadata"); md != written->end() && !md->is_null()) {
        if (!md->is_object()) {
          return InvalidArgument("executor output: artifacts." + name + " metadata is not an object");
        }
        for (auto f = md->begin(); f != md->end(); ++f) artifact->metadata[f.key()] = f.value();
      }
    }
    result.artifacts[name] = std::move(*artifact);
  }
  return result;
}

}  // namespace ferry::pipelines
