#include "ferry/api/routes/mlflow/tracking_json_internal.h"

#include "ferry/api/routes/mlflow/common.h"

namespace ferry::api::mlflow {

Json TagsJson(const std::vector<tracking::Tag>& tags) {
  Json out = Json::array();
  for (const tracking::Tag& tag : tags) out.push_back({{"key", tag.key}, {"value", tag.value}});
  return out;
}

Json ExperimentJson(const tracking::Experiment& experiment) {
  Json out = {{"experiment_id", experiment.experiment_id},
              {"name", experiment.name},
              {"artifact_location", experiment.artifact_location},
              {"lifecycle_stage", tracking::LifecycleStageName(experiment.lifecycle_stage)}};
  if (experiment.creation_time != 0) out["creation_time"] = experiment.creation_time;
  if (experiment.last_update_time != 0) out["last_update_time"] = experiment.last_update_time;
  if (!experiment.tags.empty()) out["tags"] = TagsJson(experiment.tags);
  // MLflow 3 servers name the workspace of every experiment; without
  // workspaces enabled it is always "default".
  out["workspace"] = "default";
  return out;
}

Json MetricJson(const tracking::Metric& metric, bool with_run_id) {
  Json out = {{"key", metric.key},
              {"value", JsonDouble(metric.value)},
              {"timestamp", metric.timestamp},
              {"step", metric.step}};
  if (!metric.model_id.empty()) out["model_id"] = metric.model_id;
  if (!metric.dataset_name.empty()) out["dataset_name"] = metric.dataset_name;
  if (!metric.dataset_digest.empty()) out["dataset_digest"] = metric.dataset_digest;
  if (with_run_id && !metric.run_id.empty()) out["run_id"] = metric.run_id;
  return out;
}

Json RunInfoJson(const tracking::RunInfo& info) {
  Json out = {{"run_uuid", info.run_id},
              {"run_id", info.run_id},
              {"run_name", info.run_name},
              {"experiment_id", info.experiment_id},
              {"user_id", info.user_id},
              {"status", tracking::RunStatusName(info.status)},
              {"start_time", info.start_time},
              {"lifecycle_stage", tracking::LifecycleStageName(info.lifecycle_stage)}};
  if (info.end_time && *info.end_time != 0) out["end_time"] = *info.end_time;
  if (!info.artifact_uri.empty()) out["artifact_uri"] = info.artifact_uri;
  return out;
}

namespace {

Json DatasetJson(const tracking::Dataset& dataset) {
  Json out = {{"name", dataset.name},
              {"digest", dataset.digest},
              {"source_type", dataset.source_type},
              {"source", dataset.source}};
  if (!dataset.schema.empty()) out["schema"] = dataset.schema;
  if (!dataset.profile.empty()) out["profile"] = dataset.profile;
  return out;
}

}  // namespace

Json RunJson(const tracking::Run& run, bool with_outputs) {
  Json data = Json::object();
  if (!run.metrics.empty()) {
    Json metrics = Json::array();
    for (const tracking::Metric& metric : run.metrics) metrics.push_back(MetricJson(metric));
    data["metrics"] = std::move(metrics);
  }
  if (!run.params.empty()) {
    Json params = Json::array();
    for (const tracking::Param& param : run.params) params.push_back({{"key", param.key}, {"value", param.value}});
    data["params"] = std::move(params);
  }
  if (!run.tags.empty()) data["tags"] = TagsJson(run.tags);

  Json inputs = Json::object();
  if (!run.dataset_inputs.empty()) {
    Json datasets = Json::array();
    for (const tracking::DatasetInput& input : run.dataset_inputs) {
      Json item = {{"dataset", DatasetJson(input.dataset)}};
      if (!input.tags.empty()) item["tags"] = TagsJson(input.tags);
      datasets.push_back(std::move(item));
    }
    inputs["dataset_inputs"] = std::move(datasets);
  }
  if (!run.model_inputs.empty()) {
    Json models = Json::array();
    for (const tracking::ModelInput& input : run.model_inputs) models.push_back({{"model_id", input.model_id}});
    inputs["model_inputs"] = std::move(models);
  }

  Json out = {{"info", RunInfoJson(run.info)}, {"data", std::move(data)}, {"inputs", std::move(inputs)}};
  if (with_outputs) {
    Json outputs = Json::object();
    if (!run.model_outputs.empty()) {
      Json models = Json::array();
      for (const tracking::ModelOutput& output : run.model_outputs)
        models.push_back({{"model_id", output.model_id}, {"step", output.step}});
      outputs["model_outputs"] = std::move(models);
    }
    out["outputs"] = std::move(outputs);
  }
  return out;
}

Result<std::vector<tracking::Tag>> ParseTags(const Json& request, std::string_view field) {
  std::vector<tracking::Tag> tags;
  ASSIGN_OR_RETURN(const Json* list, OptArray(request, field));
  if (list == nullptr) return tags;
  tags.reserve(list->size());
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    std::string path = std::string(field) + "[" + std::to_string(i) + "]";
    auto key = OptString(item, "key");
    if (!key.ok()) return key.status().WithContext(path);
    auto value = OptString(item, "value");
    if (!value.ok()) return value.status().WithContext(path);
    if (!*key || (*key)->empty()) return InvalidArgument(MissingParameterMessage(path + ".key"), path + ".key");
    tags.push_back({std::move(**key), value->value_or("")});
  }
  return tags;
}

}  // namespace ferry::api::mlflow
