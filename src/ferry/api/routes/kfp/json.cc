#include <map>
#include <vector>

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/api/routes/kfp/json_internal.h"
#include "ferry/pipelines/pipeline_spec.h"

namespace ferry::api::kfp {
namespace {

Json Tags(const std::map<std::string, std::string>& tags) {
  Json j = Json::object();
  for (const auto& [k, v] : tags) j[k] = v;
  return j;
}

// google.rpc.Status of a run or task error; UNKNOWN, as Argo's failures map.
Json RpcError(const std::string& message) {
  return {{"code", 2}, {"message", message}, {"details", Json::array()}};
}

// {name: [{uri, ...}]} -> {name: {artifact_ids: [uri, ...]}}: KFP lists
// artifact ids (of MLMD) here; Ferry's artifacts are known by their URI.
Json ArtifactLists(const Json& artifacts) {
  Json out = Json::object();
  if (!artifacts.is_object()) return out;
  for (const auto& [name, list] : artifacts.items()) {
    Json ids = Json::array();
    if (list.is_array()) {
      for (const Json& a : list)
        if (a.is_object() && a.contains("uri") && a["uri"].is_string()) ids.push_back(a["uri"]);
    }
    out[name] = {{"artifact_ids", ids}};
  }
  return out;
}

Json ParameterMap(const std::map<std::string, Json>& params) {
  Json j = Json::object();
  for (const auto& [k, v] : params) j[k] = v;
  return j;
}

}  // namespace

Json ExperimentJson(const pipelines::Experiment& e) {
  return {{"experiment_id", e.experiment_id},
          {"display_name", e.display_name},
          {"description", e.description},
          {"created_at", Timestamp(e.created_micros)},
          {"namespace", e.namespace_},
          {"storage_state", e.archived ? "ARCHIVED" : "AVAILABLE"},
          {"last_run_created_at", Timestamp(e.last_run_created_micros)}};
}

Json PipelineJson(const pipelines::Pipeline& p) {
  Json j = {{"pipeline_id", p.pipeline_id},
            {"display_name", p.display_name},
            {"name", p.name},
            {"description", p.description},
            {"created_at", Timestamp(p.created_micros)},
            {"namespace", p.namespace_}};
  if (!p.tags.empty()) j["tags"] = Tags(p.tags);
  return j;
}

Json PipelineVersionJson(const pipelines::PipelineVersion& v) {
  Json j = {{"pipeline_id", v.pipeline_id},   {"pipeline_version_id", v.pipeline_version_id},
            {"display_name", v.display_name}, {"name", v.name},
            {"description", v.description},   {"created_at", Timestamp(v.created_micros)}};
  if (!v.code_source_url.empty()) j["code_source_url"] = v.code_source_url;
  if (!v.tags.empty()) j["tags"] = Tags(v.tags);
  if (!v.pipeline_text.empty()) {
    Json spec = PipelineSpecJson(v.pipeline_text);
    if (!spec.is_null()) j["pipeline_spec"] = std::move(spec);
  }
  return j;
}

Json PipelineSpecJson(std::string_view text) {
  auto docs = ParseYamlDocuments(text);
  if (!docs.ok() || docs->empty()) return nullptr;
  if (docs->size() == 1) return (*docs)[0];
  return {{"pipeline_spec", (*docs)[0]}, {"platform_spec", (*docs)[1]}};
}

Result<std::string> PipelineTextFromJson(const Json& spec, std::string_view field) {
  if (!spec.is_object())
    return InvalidArgument(std::string(field) + " must be an object, got " + std::string(JsonTypeName(spec)),
                           std::string(field));
  if (!spec.contains("root")) {
    for (const char* key : {"pipeline_spec", "pipelineSpec"}) {
      if (!spec.contains(key)) continue;
      std::string text = ToYaml(spec[key]);
      for (const char* platform : {"platform_spec", "platformSpec"}) {
        if (spec.contains(platform) && spec[platform].is_object() && !spec[platform].empty())
          text += "---\n" + ToYaml(spec[platform]);
      }
      return text;
    }
  }
  return spec.dump();
}

Result<PipelineInfo> CheckPipelineText(std::string_view text, std::string_view field_prefix) {
  if (text.size() >= 2 && static_cast<unsigned char>(text[0]) == 0x1f &&
      static_cast<unsigned char>(text[1]) == 0x8b)
    return InvalidArgument(
        "compressed pipeline packages (.tar.gz) are not supported; upload the compiled YAML",
        std::string(field_prefix));
  if (text.substr(0, 4) == std::string_view("PK\x03\x04", 4))
    return InvalidArgument("zip pipeline packages are not supported; upload the compiled YAML",
                           std::string(field_prefix));
  auto spec = pipelines::ParsePipelineText(text);
  if (!spec.ok()) {
    const Status& st = spec.status();
    std::string field = std::string(field_prefix);
    if (!st.field().empty()) field += (field.empty() ? "" : ".") + st.field();
    return Status(StatusCode::kInvalidArgument, "Failed to parse the pipeline spec: " + st.message(), field);
  }
  return PipelineInfo{spec->name, spec->description};
}

Json TaskJson(const std::string& run_id, const pipelines::TaskStatus& t,
              const std::vector<std::string>& child_ids) {
  Json j = {{"run_id", run_id},
            {"task_id", t.path},
            {"display_name", t.display_name},
            {"create_time", Timestamp(t.created_micros)},
            {"state", std::string(pipelines::RunStateName(t.state))},
            {"execution_id", t.path},
            {"inputs", ArtifactLists(t.input_artifacts)},
            {"outputs", ArtifactLists(t.output_artifacts)},
            {"parent_task_id", t.parent_path},
            // Beyond KFP's shape (which keeps parameters in MLMD): the
            // resolved parameters, and what Ferry knows of the execution.
            {"input_parameters", ParameterMap(t.inputs)},
            {"output_parameters", ParameterMap(t.outputs)},
            {"kind", t.kind},
            {"cached", t.cached},
            {"attempt", t.attempt}};
  if (t.started_micros != 0) j["start_time"] = Timestamp(t.started_micros);
  if (t.finished_micros != 0) j["end_time"] = Timestamp(t.finished_micros);
  if (!t.error.empty()) j["error"] = RpcError(t.error);
  if (t.kind == "container" || t.kind == "importer") j["executor_detail"] = {{"main_job", t.path}};
  Json children = Json::array();
  for (const auto& id : child_ids) children.push_back({{"task_id", id}});
  if (!children.empty()) j["child_tasks"] = std::move(children);
  Json history = Json::array();
  history.push_back({{"update_time", Timestamp(t.created_micros)}, {"state", "PENDING"}});
  if (t.started_micros != 0)
    history.push_back({{"update_time", Timestamp(t.started_micros)}, {"state", "RUNNING"}});
  if (pipelines::IsFinal(t.state))
    history.push_back({{"update_time", Timestamp(t.finished_micros ? t.finished_micros : t.created_micros)},
                       {"state", std::string(pipelines::RunStateName(t.state))}});
  j["state_history"] = std::move(history);
  return j;
}

Json RunJson(const pipelines::RunStatus& run, const pipelines::RunDetail* detail) {
  const std::string state(pipelines::RunStateName(run.state));
  Json j = {{"experiment_id", run.experiment_id},
            {"run_id", run.run_id},
            {"display_name", run.display_name},
            {"storage_state", run.archived ? "ARCHIVED" : "AVAILABLE"},
            {"description", run.description},
            {"runtime_config", {{"parameters", ParameterMap(run.parameters)}}},
            {"service_account", ""},
            {"created_at", Timestamp(run.created_micros)},
            {"scheduled_at", Timestamp(run.created_micros)},
            {"finished_at", Timestamp(run.finished_micros)},
            {"state", state}};
  if (!run.pipeline_version_id.empty()) {
    j["pipeline_version_reference"] = {{"pipeline_id", run.pipeline_id},
                                       {"pipeline_version_id", run.pipeline_version_id}};
  } else if (detail != nullptr && !detail->pipeline_text.empty()) {
    Json spec = PipelineSpecJson(detail->pipeline_text);
    if (!spec.is_null()) j["pipeline_spec"] = std::move(spec);
  }
  if (!run.recurring_run_id.empty()) j["recurring_run_id"] = run.recurring_run_id;
  if (!run.error.empty()) j["error"] = RpcError(run.error);
  Json history = Json::array();
  history.push_back({{"update_time", Timestamp(run.created_micros)}, {"state", "PENDING"}});
  if (run.state != pipelines::RunState::kPending)
    history.push_back(
        {{"update_time", Timestamp(run.finished_micros ? run.finished_micros : run.created_micros)},
         {"state", state}});
  j["state_history"] = std::move(history);
  if (detail != nullptr) {
    std::map<std::string, std::vector<std::string>> children;
    for (const auto& t : detail->tasks)
      if (!t.parent_path.empty()) children[t.parent_path].push_back(t.path);
    Json tasks = Json::array();
    for (const auto& t : detail->tasks) tasks.push_back(TaskJson(run.run_id, t, children[t.path]));
    j["run_details"] = {{"task_details", std::move(tasks)}};
  }
  return j;
}

}  // namespace ferry::api::kfp
