// MLflow's tracking API over the TrackingStore: experiments, runs, logging,
// metric histories and artifacts/list, under /api/2.0/mlflow/ and (as
// MLflow serves both) /ajax-api/2.0/mlflow/, plus /api/3.0/mlflow/server-info.
// Each handler reads its request the way mlflow/server/handlers.py does —
// required fields, defaults, the limits checked in the handler — and
// answers in the JSON shapes of tracking_json_internal.h. Store errors map
// to MLflow's error codes in common.cc.
//
// Where MLflow's server silently ignores malformed input (an unknown run
// status or view type, tags that are not a list, a tag without a key, a
// fractional timestamp) these routes refuse it with 400 naming the field
// (DESIGN.md §1). experiments/search without max_results fails as MLflow's
// server does (its proto has no default, so 0 is refused), and get-history
// pages at 25,000 points when no max_results is given.

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/api/routes/mlflow/artifacts_internal.h"
#include "ferry/api/routes/mlflow/common.h"
#include "ferry/api/routes/mlflow/routes.h"
#include "ferry/api/routes/mlflow/log_batch_fast.h"
#include "ferry/api/routes/mlflow/tracking_json_internal.h"
#include "ferry/artifacts/artifact_store.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::api::mlflow {
namespace {

using tracking::TrackingStore;

// mlflow/store/tracking/__init__.py and server/handlers.py.
constexpr std::int64_t kDefaultSearchResults = 1000;   // SEARCH_MAX_RESULTS_DEFAULT
constexpr std::int64_t kMaxSearchResults = 50000;      // SEARCH_MAX_RESULTS_THRESHOLD
constexpr std::int64_t kMaxHistoryPage = 25000;        // MAX_RESULTS_GET_METRIC_HISTORY
constexpr std::size_t kMaxBulkIntervalRuns = 100;      // MAX_RUNS_GET_METRIC_HISTORY_BULK
constexpr std::int64_t kMaxBulkIntervalResults = 2500;  // MAX_RESULTS_PER_RUN

constexpr std::string_view kSeeDocs = " See the API docs for more information about request parameters.";

// MLflow's _assert_required: an absent field and an empty string are both
// missing.
Result<std::string> RequiredNonEmpty(const Json& request, std::string_view field) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(request, field));
  if (!value || value->empty()) return InvalidArgument(MissingParameterMessage(field), std::string(field));
  return std::move(*value);
}

// run_id, or the deprecated run_uuid that older clients still send.
Result<std::string> RunIdOf(const Json& request) {
  ASSIGN_OR_RETURN(std::optional<std::string> id, OptString(request, "run_id"));
  if (!id || id->empty()) {
    ASSIGN_OR_RETURN(id, OptString(request, "run_uuid"));
  }
  if (!id || id->empty()) return InvalidArgument(MissingParameterMessage("run_id"), "run_id");
  return std::move(*id);
}

// A ViewType as proto-JSON gives it: the enum name or its number.
Result<tracking::ViewType> ViewTypeOf(const Json& request, std::string_view field) {
  if (auto number = OptInt64(request, field); number.ok()) {
    if (!*number) return tracking::ViewType::kActiveOnly;
    if (**number >= 1 && **number <= 3) return static_cast<tracking::ViewType>(**number);
  } else {
    ASSIGN_OR_RETURN(std::optional<std::string> name, OptString(request, field));
    if (name) {
      auto parsed = tracking::ParseViewType(*name);
      if (parsed.ok()) return *parsed;
    }
  }
  return InvalidArgument("Invalid value for parameter '" + std::string(field) +
                             "': expected one of ACTIVE_ONLY, DELETED_ONLY, ALL",
                         std::string(field));
}

// `fallback` is the proto's default: 1000 for runs, none (0) for experiments.
Result<std::int64_t> SearchMaxResults(const Json& request, std::int64_t fallback) {
  ASSIGN_OR_RETURN(std::optional<std::int64_t> max_results, OptInt64(request, "max_results"));
  std::int64_t n = max_results.value_or(fallback);
  if (n <= 0)
    return InvalidArgument("Invalid value " + std::to_string(n) +
                               " for parameter 'max_results' supplied. It must be a positive integer",
                           "max_results");
  return n;
}

class TrackingApi {
 public:
  TrackingApi(TrackingStore* store, artifacts::ArtifactStore* artifacts) : store_(store), artifacts_(artifacts) {}

  // Experiments.

  Result<Json> CreateExperiment(const Json& request) {
    ASSIGN_OR_RETURN(std::string name, RequiredNonEmpty(request, "name"));
    ASSIGN_OR_RETURN(std::optional<std::string> location, OptString(request, "artifact_location"));
    ASSIGN_OR_RETURN(std::vector<tracking::Tag> tags, ParseTags(request, "tags"));
    ASSIGN_OR_RETURN(std::string id, store_->CreateExperiment(name, location.value_or(""), tags));
    return Json{{"experiment_id", id}};
  }

  Result<Json> GetExperiment(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    ASSIGN_OR_RETURN(tracking::Experiment experiment, store_->GetExperiment(id));
    return Json{{"experiment", ExperimentJson(experiment)}};
  }

  Result<Json> GetExperimentByName(const Json& request) {
    ASSIGN_OR_RETURN(std::string name, RequiredNonEmpty(request, "experiment_name"));
    ASSIGN_OR_RETURN(tracking::Experiment experiment, store_->GetExperimentByName(name));
    return Json{{"experiment", ExperimentJson(experiment)}};
  }

  Result<Json> SearchExperiments(const Json& request) {
    tracking::ExperimentSearch search;
    ASSIGN_OR_RETURN(search.view, ViewTypeOf(request, "view_type"));
    ASSIGN_OR_RETURN(search.page.max_results, SearchMaxResults(request, 0));
    if (search.page.max_results > kMaxSearchResults)
      return InvalidArgument("Invalid value " + std::to_string(search.page.max_results) +
                                 " for parameter 'max_results' supplied. It must be at most " +
                                 std::to_string(kMaxSearchResults),
                             "max_results");
    ASSIGN_OR_RETURN(std::optional<std::string> filter, OptString(request, "filter"));
    search.filter = filter.value_or("");
    ASSIGN_OR_RETURN(search.order_by, StringList(request, "order_by"));
    ASSIGN_OR_RETURN(std::optional<std::string> token, OptString(request, "page_token"));
    search.page.page_token = token.value_or("");
    ASSIGN_OR_RETURN(tracking::PageOf<tracking::Experiment> page, store_->SearchExperiments(search));
    Json out = Json::object();
    if (!page.items.empty()) {
      Json experiments = Json::array();
      for (const tracking::Experiment& experiment : page.items) experiments.push_back(ExperimentJson(experiment));
      out["experiments"] = std::move(experiments);
    }
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  Result<Json> UpdateExperiment(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    ASSIGN_OR_RETURN(std::string new_name, RequiredNonEmpty(request, "new_name"));
    RETURN_IF_ERROR(store_->RenameExperiment(id, new_name));
    return Json::object();
  }

  Result<Json> DeleteExperiment(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    RETURN_IF_ERROR(store_->DeleteExperiment(id));
    return Json::object();
  }

  Result<Json> RestoreExperiment(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    RETURN_IF_ERROR(store_->RestoreExperiment(id));
    return Json::object();
  }

  Result<Json> SetExperimentTag(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    ASSIGN_OR_RETURN(std::string key, RequiredNonEmpty(request, "key"));
    ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(request, "value"));
    RETURN_IF_ERROR(store_->SetExperimentTag(id, {std::move(key), value.value_or("")}));
    return Json::object();
  }

  Result<Json> DeleteExperimentTag(const Json& request) {
    ASSIGN_OR_RETURN(std::string id, RequiredNonEmpty(request, "experiment_id"));
    ASSIGN_OR_RETURN(std::string key, RequiredNonEmpty(request, "key"));
    RETURN_IF_ERROR(store_->DeleteExperimentTag(id, key));
    return Json::object();
  }

  // Runs.

  Result<Json> CreateRun(const Json& request) {
    tracking::CreateRunRequest create;
    ASSIGN_OR_RETURN(std::optional<std::string> experiment_id, OptString(request, "experiment_id"));
    create.experiment_id = experiment_id.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::string> user_id, OptString(request, "user_id"));
    create.user_id = user_id.value_or("");
    ASSIGN_OR_RETURN(std::optional<std::string> run_name, OptString(request, "run_name"));
    create.run_name = run_name.value_or("");
    ASSIGN_OR_RETURN(create.start_time, OptInt64(request, "start_time"));
    ASSIGN_OR_RETURN(create.tags, ParseTags(request, "tags"));
    ASSIGN_OR_RETURN(tracking::Run run, store_->CreateRun(create));
    return Json{{"run", RunJson(run, /*with_outputs=*/false)}};
  }

  Result<Json> GetRun(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(tracking::Run run, store_->GetRun(run_id));
    return Json{{"run", RunJson(run)}};
  }

  Result<Json> UpdateRun(const Json& request) {
    tracking::UpdateRunRequest update;
    ASSIGN_OR_RETURN(update.run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(std::optional<std::string> status, OptString(request, "status"));
    if (status) {
      auto parsed = tracking::ParseRunStatus(*status);
      if (!parsed.ok())
        return InvalidArgument("Invalid value \"" + *status +
                                   "\" for parameter 'status' supplied: expected one of RUNNING, SCHEDULED, "
                                   "FINISHED, FAILED, KILLED",
                               "status");
      update.status = *parsed;
    }
    ASSIGN_OR_RETURN(update.end_time, OptInt64(request, "end_time"));
    ASSIGN_OR_RETURN(update.run_name, OptString(request, "run_name"));
    ASSIGN_OR_RETURN(tracking::RunInfo info, store_->UpdateRun(update));
    return Json{{"run_info", RunInfoJson(info)}};
  }

  Result<Json> DeleteRun(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    RETURN_IF_ERROR(store_->DeleteRun(run_id));
    return Json::object();
  }

  Result<Json> RestoreRun(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    RETURN_IF_ERROR(store_->RestoreRun(run_id));
    return Json::object();
  }

  Result<Json> SearchRuns(const Json& request) {
    tracking::RunSearch search;
    ASSIGN_OR_RETURN(search.experiment_ids, StringList(request, "experiment_ids"));
    ASSIGN_OR_RETURN(std::optional<std::string> filter, OptString(request, "filter"));
    search.filter = filter.value_or("");
    ASSIGN_OR_RETURN(search.view, ViewTypeOf(request, "run_view_type"));
    ASSIGN_OR_RETURN(search.page.max_results, SearchMaxResults(request, kDefaultSearchResults));
    if (search.page.max_results > kMaxSearchResults)
      // The words of MLflow's schema check (_assert_less_than_or_equal).
      return InvalidArgument("Invalid value " + std::to_string(search.page.max_results) +
                                 " for parameter 'max_results' supplied:  Hint: Value was of type 'int'." +
                                 std::string(kSeeDocs),
                             "max_results");
    ASSIGN_OR_RETURN(search.order_by, StringList(request, "order_by"));
    ASSIGN_OR_RETURN(std::optional<std::string> token, OptString(request, "page_token"));
    search.page.page_token = token.value_or("");
    // MLflow answers a search over no experiments with no runs.
    if (search.experiment_ids.empty()) return Json::object();
    ASSIGN_OR_RETURN(tracking::PageOf<tracking::Run> page, store_->SearchRuns(search));
    Json out = Json::object();
    if (!page.items.empty()) {
      Json runs = Json::array();
      for (const tracking::Run& run : page.items) runs.push_back(RunJson(run));
      out["runs"] = std::move(runs);
    }
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  // Logging.

  Result<Json> LogMetric(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(tracking::Metric metric, ParseMetric(request, ""));
    metric.run_id = run_id;
    RETURN_IF_ERROR(store_->LogMetric(run_id, metric));
    return Json::object();
  }

  Result<Json> LogParam(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(std::string key, RequiredNonEmpty(request, "key"));
    ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(request, "value"));
    RETURN_IF_ERROR(store_->LogParam(run_id, {std::move(key), value.value_or("")}));
    return Json::object();
  }

  Result<Json> SetTag(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(std::string key, RequiredNonEmpty(request, "key"));
    ASSIGN_OR_RETURN(std::optional<std::string> value, OptString(request, "value"));
    RETURN_IF_ERROR(store_->SetTag(run_id, {std::move(key), value.value_or("")}));
    return Json::object();
  }

  Result<Json> DeleteTag(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(std::string key, RequiredNonEmpty(request, "key"));
    RETURN_IF_ERROR(store_->DeleteTag(run_id, key));
    return Json::object();
  }

  // log-batch through ParseLogBatchFast's plain shape: no JSON DOM.
  Status LogParsedBatch(const LogBatchBody& body) {
    return store_->LogBatch(body.run_id, body.metrics, body.params, body.tags);
  }

  Result<Json> LogBatch(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    std::vector<tracking::Metric> metrics;
    ASSIGN_OR_RETURN(const Json* metric_list, OptArray(request, "metrics"));
    if (metric_list != nullptr) {
      metrics.reserve(metric_list->size());
      for (std::size_t i = 0; i < metric_list->size(); ++i) {
        ASSIGN_OR_RETURN(tracking::Metric metric,
                         ParseMetric((*metric_list)[i], "metrics[" + std::to_string(i) + "]."));
        metrics.push_back(std::move(metric));
      }
    }
    ASSIGN_OR_RETURN(std::vector<tracking::Tag> param_tags, ParseTags(request, "params"));
    std::vector<tracking::Param> params;
    params.reserve(param_tags.size());
    for (tracking::Tag& p : param_tags) params.push_back({std::move(p.key), std::move(p.value)});
    ASSIGN_OR_RETURN(std::vector<tracking::Tag> tags, ParseTags(request, "tags"));
    RETURN_IF_ERROR(store_->LogBatch(run_id, metrics, params, tags));
    return Json::object();
  }

  Result<Json> LogInputs(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    std::vector<tracking::DatasetInput> datasets;
    ASSIGN_OR_RETURN(const Json* dataset_list, OptArray(request, "datasets"));
    if (dataset_list != nullptr) {
      for (std::size_t i = 0; i < dataset_list->size(); ++i) {
        std::string path = "datasets[" + std::to_string(i) + "]";
        auto input = ParseDatasetInput((*dataset_list)[i]);
        if (!input.ok()) return input.status().WithContext(path);
        datasets.push_back(std::move(input).value());
      }
    }
    std::vector<tracking::ModelInput> models;
    ASSIGN_OR_RETURN(const Json* model_list, OptArray(request, "models"));
    if (model_list != nullptr) {
      for (std::size_t i = 0; i < model_list->size(); ++i) {
        std::string path = "models[" + std::to_string(i) + "]";
        auto model_id = OptString((*model_list)[i], "model_id");
        if (!model_id.ok()) return model_id.status().WithContext(path);
        if (!*model_id || (*model_id)->empty())
          return InvalidArgument(MissingParameterMessage(path + ".model_id"), path + ".model_id");
        models.push_back({std::move(**model_id)});
      }
    }
    RETURN_IF_ERROR(store_->LogInputs(run_id, datasets, models));
    return Json::object();
  }

  Result<Json> LogOutputs(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(const Json* model_list, OptArray(request, "models"));
    if (model_list == nullptr) return InvalidArgument(MissingParameterMessage("models"), "models");
    std::vector<tracking::ModelOutput> models;
    for (std::size_t i = 0; i < model_list->size(); ++i) {
      std::string path = "models[" + std::to_string(i) + "]";
      const Json& item = (*model_list)[i];
      auto model_id = OptString(item, "model_id");
      if (!model_id.ok()) return model_id.status().WithContext(path);
      if (!*model_id || (*model_id)->empty())
        return InvalidArgument(MissingParameterMessage(path + ".model_id"), path + ".model_id");
      auto step = OptInt64(item, "step");
      if (!step.ok()) return step.status().WithContext(path);
      models.push_back({std::move(**model_id), step->value_or(0)});
    }
    RETURN_IF_ERROR(store_->LogOutputs(run_id, models));
    return Json::object();
  }

  // Metric reads.

  Result<Json> GetMetricHistory(const Json& request) {
    tracking::MetricHistoryRequest history;
    ASSIGN_OR_RETURN(history.run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(history.metric_key, RequiredNonEmpty(request, "metric_key"));
    ASSIGN_OR_RETURN(std::optional<std::int64_t> max_results, OptInt64(request, "max_results"));
    if (max_results && *max_results <= 0)
      return InvalidArgument("Invalid value " + std::to_string(*max_results) +
                                 " for parameter 'max_results' supplied. It must be a positive integer.",
                             "max_results");
    // MLflow returns the whole history when max_results is absent; pages of
    // at most 25,000 points (what the mlflow client asks for) bound the
    // response, and the client follows next_page_token.
    history.page.max_results = std::min(max_results.value_or(kMaxHistoryPage), kMaxHistoryPage);
    ASSIGN_OR_RETURN(std::optional<std::string> token, OptString(request, "page_token"));
    history.page.page_token = token.value_or("");
    ASSIGN_OR_RETURN(tracking::PageOf<tracking::Metric> page, store_->GetMetricHistory(history));
    Json out = Json::object();
    if (!page.items.empty()) {
      Json metrics = Json::array();
      for (const tracking::Metric& metric : page.items) metrics.push_back(MetricJson(metric));
      out["metrics"] = std::move(metrics);
    }
    if (!page.next_page_token.empty()) out["next_page_token"] = page.next_page_token;
    return out;
  }

  Result<Json> GetMetricHistoryBulkInterval(const Json& request) {
    tracking::BulkIntervalRequest bulk;
    ASSIGN_OR_RETURN(bulk.run_ids, StringList(request, "run_ids"));
    if (bulk.run_ids.empty()) return InvalidArgument(MissingParameterMessage("run_ids"), "run_ids");
    if (bulk.run_ids.size() > kMaxBulkIntervalRuns)
      return InvalidArgument("GetMetricHistoryBulkInterval request must specify at most " +
                                 std::to_string(kMaxBulkIntervalRuns) + " run_ids. Received " +
                                 std::to_string(bulk.run_ids.size()) + " run_ids." + std::string(kSeeDocs),
                             "run_ids");
    ASSIGN_OR_RETURN(bulk.metric_key, RequiredNonEmpty(request, "metric_key"));
    ASSIGN_OR_RETURN(bulk.start_step, OptInt64(request, "start_step"));
    ASSIGN_OR_RETURN(bulk.end_step, OptInt64(request, "end_step"));
    ASSIGN_OR_RETURN(std::optional<std::int64_t> max_results, OptInt64(request, "max_results"));
    bulk.max_results = max_results.value_or(kMaxBulkIntervalResults);
    if (bulk.max_results < 1 || bulk.max_results > kMaxBulkIntervalResults)
      return InvalidArgument("max_results must be between 1 and " + std::to_string(kMaxBulkIntervalResults) + "." +
                                 std::string(kSeeDocs),
                             "max_results");
    if (bulk.start_step.has_value() != bulk.end_step.has_value())
      return InvalidArgument("If either start step or end step are specified, both must be specified.");
    if (bulk.start_step && *bulk.start_step > *bulk.end_step)
      return InvalidArgument("end_step must be greater than start_step. Found start_step=" +
                             std::to_string(*bulk.start_step) + " and end_step=" + std::to_string(*bulk.end_step) +
                             ".");
    ASSIGN_OR_RETURN(std::vector<tracking::Metric> points, store_->GetMetricHistoryBulkInterval(bulk));
    Json out = Json::object();
    if (!points.empty()) {
      Json metrics = Json::array();
      for (const tracking::Metric& metric : points) metrics.push_back(MetricJson(metric, /*with_run_id=*/true));
      out["metrics"] = std::move(metrics);
    }
    return out;
  }

  // Artifacts of a run, one directory level (MLflow's artifacts/list).

  Result<Json> ListArtifacts(const Json& request) {
    ASSIGN_OR_RETURN(std::string run_id, RunIdOf(request));
    ASSIGN_OR_RETURN(std::optional<std::string> path_field, OptString(request, "path"));
    std::string relative = path_field.value_or("");
    while (relative.ends_with('/')) relative.pop_back();
    if (!relative.empty()) RETURN_IF_ERROR(ValidateClientPath(relative));
    ASSIGN_OR_RETURN(tracking::Run run, store_->GetRun(run_id));
    Json out = {{"root_uri", run.info.artifact_uri}};
    if (artifacts_ == nullptr || run.info.artifact_uri.empty()) return out;
    ASSIGN_OR_RETURN(std::string dir, ProxiedStorePath(run.info.artifact_uri, relative));
    ASSIGN_OR_RETURN(Json files, ListFilesJson(*artifacts_, dir, relative));
    if (!files.empty()) out["files"] = std::move(files);
    return out;
  }

 private:
  // A metric of log-metric (prefix "") or of log-batch ("metrics[3].").
  static Result<tracking::Metric> ParseMetric(const Json& object, const std::string& prefix) {
    auto in_context = [&](const Status& status) {
      return prefix.empty() ? status : status.WithContext(prefix.substr(0, prefix.size() - 1));
    };
    auto missing = [&](std::string_view field) {
      return InvalidArgument(MissingParameterMessage(prefix + std::string(field)), prefix + std::string(field));
    };
    tracking::Metric metric;
    auto key = OptString(object, "key");
    if (!key.ok()) return in_context(key.status());
    if (!*key || (*key)->empty()) return missing("key");
    metric.key = std::move(**key);
    auto value = OptDouble(object, "value");
    if (!value.ok()) return in_context(value.status());
    if (!*value) return missing("value");
    metric.value = **value;
    auto timestamp = OptInt64(object, "timestamp");
    if (!timestamp.ok()) return in_context(timestamp.status());
    if (!*timestamp) return missing("timestamp");
    metric.timestamp = **timestamp;
    auto step = OptInt64(object, "step");
    if (!step.ok()) return in_context(step.status());
    metric.step = step->value_or(0);
    for (auto [field, target] : {std::pair{"model_id", &metric.model_id},
                                 std::pair{"dataset_name", &metric.dataset_name},
                                 std::pair{"dataset_digest", &metric.dataset_digest}}) {
      auto text = OptString(object, field);
      if (!text.ok()) return in_context(text.status());
      *target = text->value_or("");
    }
    return metric;
  }

  static Result<tracking::DatasetInput> ParseDatasetInput(const Json& object) {
    tracking::DatasetInput input;
    ASSIGN_OR_RETURN(const Json* dataset, OptObject(object, "dataset"));
    if (dataset == nullptr) return InvalidArgument(MissingParameterMessage("dataset"), "dataset");
    for (auto [field, target] : {std::pair{"name", &input.dataset.name},
                                 std::pair{"digest", &input.dataset.digest},
                                 std::pair{"source_type", &input.dataset.source_type},
                                 std::pair{"source", &input.dataset.source},
                                 std::pair{"schema", &input.dataset.schema},
                                 std::pair{"profile", &input.dataset.profile}}) {
      ASSIGN_OR_RETURN(std::optional<std::string> text, OptString(*dataset, field));
      *target = text.value_or("");
    }
    ASSIGN_OR_RETURN(input.tags, ParseTags(object, "tags"));
    return input;
  }

  TrackingStore* store_;
  artifacts::ArtifactStore* artifacts_;
};

using Method = Result<Json> (TrackingApi::*)(const Json&);

Handler Wrap(std::shared_ptr<TrackingApi> api, Method method) {
  return [api = std::move(api), method](const HttpRequest& request) {
    auto object = RequestObject(request);
    if (!object.ok()) return ErrorResponse(request, object.status());
    auto result = ((*api).*method)(*object);
    if (!result.ok()) return ErrorResponse(request, result.status());
    return JsonResponse(*result);
  };
}

// log-batch takes the DOM-free parse when the body has the plain shape
// (nearly always), else the general path with its exact errors.
Handler LogBatchHandler(std::shared_ptr<TrackingApi> api) {
  Handler general = Wrap(api, &TrackingApi::LogBatch);
  return [api = std::move(api), general](const HttpRequest& request) {
    // Registered for POST only, so the body is the request.
    if (auto body = ParseLogBatchFast(request.body, request.body.capacity())) {
      Status status = api->LogParsedBatch(*body);
      if (!status.ok()) return ErrorResponse(request, status);
      return JsonResponse(Json::object());
    }
    return general(request);
  };
}

// What /api/3.0/mlflow/server-info tells clients about this server: no
// workspaces, no trace archival, no multipart or presigned artifact
// transfers (the client then uses plain PUT/GET through the proxy).
HttpResponse ServerInfo(const HttpRequest&) {
  Json body = {{"store_type", nullptr},
               {"workspaces_enabled", false},
               {"trace_archival_enabled", false},
               {"multipart_uploads_enabled", false},
               {"multipart_downloads_enabled", false},
               {"presigned_upload_run_id_supported", false},
               {"presigned_upload_model_id_supported", false},
               {"features_enabled", {{"gateway", false}}}};
  return JsonResponse(body);
}

}  // namespace

Status AddTrackingRoutes(Router& router, const ApiServices& services) {
  auto api = std::make_shared<TrackingApi>(services.tracking, services.artifacts);
  struct Endpoint {
    const char* method;
    const char* path;
    Method handler;
  };
  // Methods as mlflow.server.handlers.get_endpoints() lists them.
  static const Endpoint kEndpoints[] = {
      {"POST", "experiments/create", &TrackingApi::CreateExperiment},
      {"GET", "experiments/get", &TrackingApi::GetExperiment},
      {"GET", "experiments/get-by-name", &TrackingApi::GetExperimentByName},
      {"GET", "experiments/search", &TrackingApi::SearchExperiments},
      {"POST", "experiments/search", &TrackingApi::SearchExperiments},
      {"POST", "experiments/update", &TrackingApi::UpdateExperiment},
      {"POST", "experiments/delete", &TrackingApi::DeleteExperiment},
      {"POST", "experiments/restore", &TrackingApi::RestoreExperiment},
      {"POST", "experiments/set-experiment-tag", &TrackingApi::SetExperimentTag},
      {"POST", "experiments/delete-experiment-tag", &TrackingApi::DeleteExperimentTag},
      {"POST", "runs/create", &TrackingApi::CreateRun},
      {"GET", "runs/get", &TrackingApi::GetRun},
      {"POST", "runs/update", &TrackingApi::UpdateRun},
      {"POST", "runs/delete", &TrackingApi::DeleteRun},
      {"POST", "runs/restore", &TrackingApi::RestoreRun},
      {"POST", "runs/search", &TrackingApi::SearchRuns},
      {"POST", "runs/log-metric", &TrackingApi::LogMetric},
      {"POST", "runs/log-parameter", &TrackingApi::LogParam},
      {"POST", "runs/set-tag", &TrackingApi::SetTag},
      {"POST", "runs/delete-tag", &TrackingApi::DeleteTag},
      {"POST", "runs/log-inputs", &TrackingApi::LogInputs},
      {"POST", "runs/outputs", &TrackingApi::LogOutputs},
      {"GET", "metrics/get-history", &TrackingApi::GetMetricHistory},
      {"GET", "metrics/get-history-bulk-interval", &TrackingApi::GetMetricHistoryBulkInterval},
      {"GET", "artifacts/list", &TrackingApi::ListArtifacts},
  };
  for (std::string_view prefix : {"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"}) {
    for (const Endpoint& endpoint : kEndpoints)
      RETURN_IF_ERROR(router.Add(endpoint.method, std::string(prefix) + endpoint.path, Wrap(api, endpoint.handler)));
  }
  for (std::string_view prefix : {"/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/"})
    RETURN_IF_ERROR(router.Add("POST", std::string(prefix) + "runs/log-batch", LogBatchHandler(api)));
  for (std::string_view path : {"/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"})
    RETURN_IF_ERROR(router.Add("GET", std::string(path), ServerInfo, {.blocking = false}));
  return Status::OK();
}

}  // namespace ferry::api::mlflow
