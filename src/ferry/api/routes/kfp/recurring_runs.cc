// RecurringRunService: /apis/v2beta1/recurringruns[/{id}[:enable|:disable]].
// Schedules are the pipelines::Scheduler's (pipelines/schedules.h); the
// catalog supplies experiments and the text of uploaded pipeline versions,
// which a schedule snapshots when it is created.

#include <algorithm>
#include <cctype>
#include <set>

#include "ferry/api/routes/kfp/common_internal.h"
#include "ferry/api/routes/kfp/json_internal.h"
#include "ferry/api/routes/kfp/routes.h"
#include "ferry/common/strings.h"
#include "ferry/common/time.h"
#include "ferry/pipelines/catalog_store.h"
#include "ferry/pipelines/schedules.h"

namespace ferry::api::kfp {
namespace {

using pipelines::RecurringRun;
using pipelines::Scheduler;
using pipelines::Trigger;

const ListFields& RecurringRunFields() {
  static const auto* fields = new ListFields{
      {"recurring_run_id", {"recurring_run_id"}},
      {"id", {"recurring_run_id"}},
      {"display_name", {"display_name"}},
      {"name", {"display_name"}},
      {"description", {"description"}},
      {"experiment_id", {"experiment_id"}},
      {"namespace", {"namespace"}},
      {"created_at", {"created_at", FieldKind::kTime}},
      {"updated_at", {"updated_at", FieldKind::kTime}},
      {"mode", {"mode"}},
      {"status", {"status"}},
      {"pipeline_version_id", {"pipeline_version_reference.pipeline_version_id"}},
      {"pipeline_id", {"pipeline_version_reference.pipeline_id"}},
  };
  return *fields;
}

std::string SnakeCase(const std::string& key) {
  std::string snake;
  for (char c : key) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      snake.push_back('_');
      snake.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      snake.push_back(c);
    }
  }
  return snake;
}

// The fields of V2beta1RecurringRun (proto JSON takes snake_case and
// camelCase); anything else is refused, as grpc-gateway does.
Status CheckFields(const Json& object, const std::set<std::string>& known, const std::string& path) {
  for (const auto& [key, value] : object.items()) {
    if (!known.count(key) && !known.count(SnakeCase(key)))
      return InvalidArgument("unknown field " + QuoteForMessage(key) + " in " + path, path + "." + key);
  }
  return Status::OK();
}

// The value of `name` or its camelCase spelling, or nullptr (absent or null).
const Json* Field(const Json& object, const std::string& name) {
  auto it = object.find(name);
  if (it == object.end()) {
    std::string camel;
    bool up = false;
    for (char c : name) {
      if (c == '_') {
        up = true;
      } else {
        camel.push_back(up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c);
        up = false;
      }
    }
    it = object.find(camel);
  }
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// An int64 as proto JSON has it: a number or a decimal string.
Result<std::optional<std::int64_t>> Int64Field(const Json& object, const std::string& name,
                                               const std::string& path) {
  const Json* v = Field(object, name);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (v->is_number_integer()) return std::optional<std::int64_t>(v->get<std::int64_t>());
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
    if (s.size() > i && s.size() <= 19 &&
        std::all_of(s.begin() + static_cast<std::ptrdiff_t>(i), s.end(),
                    [](char c) { return c >= '0' && c <= '9'; }))
      return std::optional<std::int64_t>(std::stoll(s));
  }
  return InvalidArgument(path + " must be an integer", path);
}

Result<std::optional<std::int64_t>> TimeField(const Json& object, const std::string& name,
                                              const std::string& path) {
  const Json* v = Field(object, name);
  if (v == nullptr) return std::optional<std::int64_t>();
  if (!v->is_string()) return InvalidArgument(path + " must be an RFC 3339 time string", path);
  auto micros = ParseRfc3339(v->get_ref<const std::string&>());
  if (!micros.ok())
    return InvalidArgument(
        path + " is not an RFC 3339 time: " + QuoteForMessage(v->get_ref<const std::string&>()), path);
  // KFP keeps whole seconds.
  std::int64_t secs = *micros / 1'000'000;
  if (*micros < 0 && *micros % 1'000'000 != 0) --secs;
  return std::optional<std::int64_t>(secs);
}

Result<Trigger> ParseTrigger(const Json* trigger) {
  Trigger t;
  if (trigger == nullptr) return t;  // a one-off run, as KFP
  if (!trigger->is_object())
    return InvalidArgument("recurring_run.trigger must be an object", "recurring_run.trigger");
  RETURN_IF_ERROR(CheckFields(*trigger, {"cron_schedule", "periodic_schedule"}, "recurring_run.trigger"));
  const Json* cron = Field(*trigger, "cron_schedule");
  const Json* periodic = Field(*trigger, "periodic_schedule");
  if (cron != nullptr && periodic != nullptr)
    return InvalidArgument("a trigger has either cron_schedule or periodic_schedule, not both",
                           "recurring_run.trigger");
  const Json* schedule = cron != nullptr ? cron : periodic;
  if (schedule == nullptr) return t;
  const std::string path =
      std::string("recurring_run.trigger.") + (cron != nullptr ? "cron_schedule" : "periodic_schedule");
  if (!schedule->is_object()) return InvalidArgument(path + " must be an object", path);
  if (cron != nullptr) {
    RETURN_IF_ERROR(CheckFields(*cron, {"start_time", "end_time", "cron"}, path));
    t.kind = Trigger::Kind::kCron;
    ASSIGN_OR_RETURN(t.cron, StringField(*cron, "cron", path + ".cron"));
  } else {
    RETURN_IF_ERROR(CheckFields(*periodic, {"start_time", "end_time", "interval_second"}, path));
    t.kind = Trigger::Kind::kPeriodic;
    ASSIGN_OR_RETURN(auto interval, Int64Field(*periodic, "interval_second", path + ".interval_second"));
    t.interval_second = interval.value_or(0);
  }
  ASSIGN_OR_RETURN(t.start_epoch, TimeField(*schedule, "start_time", path + ".start_time"));
  ASSIGN_OR_RETURN(t.end_epoch, TimeField(*schedule, "end_time", path + ".end_time"));
  return t;
}

Result<RecurringRun> ParseCreate(const ApiServices& s, const HttpRequest& request) {
  ASSIGN_OR_RETURN(Json body, BodyObject(request));
  ASSIGN_OR_RETURN(const Json* wrapped, ObjectField(body, "recurring_run", "recurring_run"));
  const Json& object = wrapped != nullptr && body.size() == 1 ? *wrapped : body;
  RETURN_IF_ERROR(
      CheckFields(object,
                  {"recurring_run_id", "display_name", "description", "pipeline_version_id", "pipeline_spec",
                   "pipeline_version_reference", "runtime_config", "service_account", "max_concurrency",
                   "trigger", "mode", "created_at", "updated_at", "status", "error", "no_catchup",
                   "namespace", "experiment_id", "plugins_input"},
                  "recurring_run"));
  RecurringRun r;
  ASSIGN_OR_RETURN(r.display_name, StringField(object, "display_name", "recurring_run.display_name"));
  ASSIGN_OR_RETURN(r.description, StringField(object, "description", "recurring_run.description"));
  ASSIGN_OR_RETURN(r.experiment_id, StringField(object, "experiment_id", "recurring_run.experiment_id"));
  ASSIGN_OR_RETURN(r.namespace_, StringField(object, "namespace", "recurring_run.namespace"));
  ASSIGN_OR_RETURN(r.service_account,
                   StringField(object, "service_account", "recurring_run.service_account"));
  if (r.display_name.find_first_not_of(" \t\r\n") == std::string::npos)
    return InvalidArgument("Recurring run name is empty. Please specify a valid name",
                           "recurring_run.display_name");

  // Mode: ENABLE fires; DISABLE and MODE_UNSPECIFIED do not (KFP).
  ASSIGN_OR_RETURN(std::string mode, StringField(object, "mode", "recurring_run.mode"));
  if (mode == "ENABLE")
    r.enabled = true;
  else if (mode.empty() || mode == "DISABLE" || mode == "MODE_UNSPECIFIED")
    r.enabled = false;
  else
    return InvalidArgument(
        "unknown recurring run mode " + QuoteForMessage(mode) + " (want ENABLE or DISABLE)",
        "recurring_run.mode");

  if (const Json* no_catchup = Field(object, "no_catchup")) {
    if (!no_catchup->is_boolean())
      return InvalidArgument("recurring_run.no_catchup must be a boolean", "recurring_run.no_catchup");
    r.no_catchup = no_catchup->get<bool>();
  }
  ASSIGN_OR_RETURN(auto max_concurrency,
                   Int64Field(object, "max_concurrency", "recurring_run.max_concurrency"));
  // proto3 leaves 0 out; KFP then rejects it (range 1..10).
  r.max_concurrency = max_concurrency.value_or(0);
  ASSIGN_OR_RETURN(r.trigger, ParseTrigger(Field(object, "trigger")));

  // The pipeline: inline, or an uploaded version (the pipeline's latest
  // when only the pipeline is named).
  const Json* spec = Field(object, "pipeline_spec");
  ASSIGN_OR_RETURN(const Json* ref, ObjectField(object, "pipeline_version_reference",
                                                "recurring_run.pipeline_version_reference"));
  ASSIGN_OR_RETURN(std::string version_id,
                   StringField(object, "pipeline_version_id", "recurring_run.pipeline_version_id"));
  std::string pipeline_id;
  if (ref != nullptr) {
    ASSIGN_OR_RETURN(pipeline_id, StringField(*ref, "pipeline_id",
                                              "recurring_run.pipeline_version_reference.pipeline_id"));
    ASSIGN_OR_RETURN(std::string v,
                     StringField(*ref, "pipeline_version_id",
                                 "recurring_run.pipeline_version_reference.pipeline_version_id"));
    if (!v.empty()) version_id = v;
  }
  const bool from_catalog = !pipeline_id.empty() || !version_id.empty();
  if ((spec != nullptr) == from_catalog)
    return InvalidArgument(
        "a recurring run needs either pipeline_spec or pipeline_version_reference, not both",
        "recurring_run.pipeline_spec");
  if (spec != nullptr) {
    ASSIGN_OR_RETURN(r.pipeline_text, PipelineTextFromJson(*spec, "recurring_run.pipeline_spec"));
    RETURN_IF_ERROR(CheckPipelineText(r.pipeline_text, "recurring_run.pipeline_spec").status());
  } else {
    pipelines::PipelineVersion version;
    if (!version_id.empty()) {
      ASSIGN_OR_RETURN(version, s.pipeline_catalog->GetPipelineVersion(pipeline_id, version_id));
    } else {
      ASSIGN_OR_RETURN(version, s.pipeline_catalog->LatestPipelineVersion(pipeline_id));
    }
    r.pipeline_text = version.pipeline_text;
    r.pipeline_id = version.pipeline_id;
    r.pipeline_version_id = version.pipeline_version_id;
  }

  ASSIGN_OR_RETURN(const Json* config, ObjectField(object, "runtime_config", "recurring_run.runtime_config"));
  if (config != nullptr) {
    ASSIGN_OR_RETURN(const Json* params,
                     ObjectField(*config, "parameters", "recurring_run.runtime_config.parameters"));
    if (params != nullptr)
      for (const auto& [k, v] : params->items()) r.parameters[k] = v;
    ASSIGN_OR_RETURN(r.pipeline_root,
                     StringField(*config, "pipeline_root", "recurring_run.runtime_config.pipeline_root"));
  }

  // KFP: the experiment must exist; "Default" when none is named.
  if (r.experiment_id.empty()) {
    ASSIGN_OR_RETURN(r.experiment_id, s.pipeline_catalog->DefaultExperimentId());
  }
  ASSIGN_OR_RETURN(pipelines::Experiment experiment, s.pipeline_catalog->GetExperiment(r.experiment_id));
  if (experiment.archived)
    return FailedPrecondition("Experiment " + experiment.experiment_id +
                              " is archived; unarchive it to create recurring runs in it");
  return r;
}

std::string EpochTimestamp(std::int64_t epoch) { return Timestamp(epoch * 1'000'000); }

Json RecurringRunJson(const RecurringRun& r) {
  Json j = {{"recurring_run_id", r.recurring_run_id},
            {"display_name", r.display_name},
            {"description", r.description},
            {"service_account", r.service_account},
            {"max_concurrency", std::to_string(r.max_concurrency)},
            {"mode", r.enabled ? "ENABLE" : "DISABLE"},
            {"status", r.enabled ? "ENABLED" : "DISABLED"},
            {"created_at", Timestamp(r.created_micros)},
            {"updated_at", Timestamp(r.updated_micros)},
            {"no_catchup", r.no_catchup},
            {"namespace", r.namespace_},
            {"experiment_id", r.experiment_id}};
  Json params = Json::object();
  for (const auto& [k, v] : r.parameters) params[k] = v;
  Json config = {{"parameters", std::move(params)}};
  if (!r.pipeline_root.empty()) config["pipeline_root"] = r.pipeline_root;
  j["runtime_config"] = std::move(config);
  if (!r.pipeline_version_id.empty()) {
    j["pipeline_version_reference"] = {{"pipeline_id", r.pipeline_id},
                                       {"pipeline_version_id", r.pipeline_version_id}};
  } else if (!r.pipeline_text.empty()) {
    Json spec = PipelineSpecJson(r.pipeline_text);
    if (!spec.is_null()) j["pipeline_spec"] = std::move(spec);
  }
  Json trigger = Json::object();
  const Trigger& t = r.trigger;
  if (t.kind != Trigger::Kind::kOnce) {
    Json schedule = Json::object();
    if (t.start_epoch) schedule["start_time"] = EpochTimestamp(*t.start_epoch);
    if (t.end_epoch) schedule["end_time"] = EpochTimestamp(*t.end_epoch);
    if (t.kind == Trigger::Kind::kCron) {
      schedule["cron"] = t.cron;
      trigger["cron_schedule"] = std::move(schedule);
    } else {
      schedule["interval_second"] = std::to_string(t.interval_second);
      trigger["periodic_schedule"] = std::move(schedule);
    }
  }
  j["trigger"] = std::move(trigger);
  if (!r.error.empty()) j["error"] = {{"code", 2}, {"message", r.error}, {"details", Json::array()}};
  return j;
}

Result<Json> List(const ApiServices& s, const HttpRequest& request) {
  ASSIGN_OR_RETURN(ListQuery query, ParseListQuery(request, RecurringRunFields(), "created_at"));
  const std::string experiment_id = QueryParam(request, "experiment_id");
  const std::string namespace_ = QueryParam(request, "namespace");
  ASSIGN_OR_RETURN(std::vector<RecurringRun> all, s.pipeline_schedules->List());
  std::vector<Json> items;
  for (const RecurringRun& r : all) {
    if (!experiment_id.empty() && r.experiment_id != experiment_id) continue;
    if (!namespace_.empty() && r.namespace_ != namespace_) continue;
    items.push_back(RecurringRunJson(r));
  }
  ListPage page = ApplyListQuery(std::move(items), query, "recurring_run_id");
  // The proto field is recurringRuns, and grpc-gateway keeps proto names.
  Json body = {{"total_size", page.total_size}};
  if (!page.items.empty()) body["recurringRuns"] = std::move(page.items);
  if (!page.next_page_token.empty()) body["next_page_token"] = page.next_page_token;
  return body;
}

}  // namespace

Status AddRecurringRunRoutes(Router& router, const ApiServices& services) {
  if (services.pipeline_schedules == nullptr) return Status::OK();
  const std::string base = std::string(kApi) + "/recurringruns";
  ApiServices s = services;
  Scheduler* scheduler = services.pipeline_schedules;
  RETURN_IF_ERROR(router.Add("POST", base, [s, scheduler](const HttpRequest& request) {
    auto parsed = ParseCreate(s, request);
    if (!parsed.ok()) return ErrorResponse(request, parsed.status());
    auto created = scheduler->Create(*parsed);
    return created.ok() ? JsonResponse(RecurringRunJson(*created)) : ErrorResponse(request, created.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base, [s](const HttpRequest& request) {
    auto body = List(s, request);
    return body.ok() ? JsonResponse(*body) : ErrorResponse(request, body.status());
  }));
  RETURN_IF_ERROR(router.Add("GET", base + "/{id}", [scheduler](const HttpRequest& request) {
    auto got = scheduler->Get(request.Param("id"));
    return got.ok() ? JsonResponse(RecurringRunJson(*got)) : ErrorResponse(request, got.status());
  }));
  RETURN_IF_ERROR(router.Add("DELETE", base + "/{id}", [scheduler](const HttpRequest& request) {
    Status st = scheduler->Delete(request.Param("id"));
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  }));
  return router.Add("POST", base + "/{id}", [scheduler](const HttpRequest& request) {
    const std::string& target = request.Param("id");
    const std::size_t colon = target.rfind(':');
    const std::string verb = colon == std::string::npos ? "" : target.substr(colon + 1);
    if (verb != "enable" && verb != "disable")
      return ErrorResponse(request, NotFound("Not Found: no API endpoint for POST " + request.path));
    Status st = scheduler->SetEnabled(target.substr(0, colon), verb == "enable");
    return st.ok() ? JsonResponse(Json::object()) : ErrorResponse(request, st);
  });
}

}  // namespace ferry::api::kfp
