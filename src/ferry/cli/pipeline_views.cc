#include "ferry/cli/pipeline_views.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "ferry/api/client/http_client.h"
#include "ferry/cli/commands_internal.h"
#include "ferry/cli/manifest.h"
#include "ferry/cli/view_fields.h"
#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

using api::client::PercentEncode;

constexpr std::string_view kRuns = "/apis/v2beta1/runs";
constexpr std::string_view kExperiments = "/apis/v2beta1/experiments";
constexpr auto kWatchInterval = std::chrono::milliseconds(500);

std::string Text(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Micros since the epoch of an RFC 3339 field; 0 when absent, unparsable or
// KFP's "not yet" (1970-01-01T00:00:00Z).
std::int64_t Micros(const Json& object, std::string_view key) {
  auto parsed = ParseRfc3339(Text(object, key));
  return parsed.ok() && *parsed > 0 ? *parsed : 0;
}

std::string Duration(std::int64_t micros) {
  if (micros < 0) return "-";
  return FormatAge(micros / 1'000'000);
}

std::string Age(std::int64_t then_micros, std::int64_t now_micros) {
  return then_micros <= 0 ? "<unknown>" : FormatAge((now_micros - then_micros) / 1'000'000);
}

// "root/a/b" -> "a/b": every task is under root.
std::string ShortPath(std::string path) {
  if (path.rfind("root/", 0) == 0) path.erase(0, 5);
  return path;
}

void Line(std::string& out, std::string_view label, std::string_view value) {
  if (value.empty()) return;
  constexpr std::size_t kValueColumn = 13;  // "Experiment:  "
  std::string head = std::string(label) + ":";
  head.resize(std::max(kValueColumn, head.size() + 1), ' ');
  out += head + std::string(value) + "\n";
}

std::string Indent(const std::string& text) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size() - 1;
    out += "  " + text.substr(start, nl - start + 1);
    start = nl + 1;
  }
  return out;
}

// Calls the KFP surface, printing failures; kExitOk when `reply` holds the body.
int CallApi(Context& ctx, std::string_view method, const std::string& path, const Json* body, Json& reply,
            std::string_view context = {}) {
  auto result = ctx.client->Call(method, path, body);
  if (!result.ok()) return internal::ReportUnreachable(ctx, result.status());
  if (!result->ok()) return internal::ReportServerError(ctx, *result->error, context);
  reply = std::move(result->body);
  return kExitOk;
}

// Every item of a paged KFP list (`path` has a query string already).
int ListAll(Context& ctx, const std::string& path, std::string_view items_key, std::int64_t limit,
            std::vector<Json>& out) {
  std::string token;
  while (true) {
    Json page;
    std::string url = path + (token.empty() ? "" : "&page_token=" + PercentEncode(token));
    if (int rc = CallApi(ctx, "GET", url, nullptr, page); rc != kExitOk) return rc;
    for (const Json& item : Array(page, items_key)) {
      if (limit > 0 && static_cast<std::int64_t>(out.size()) >= limit) return kExitOk;
      out.push_back(item);
    }
    token = Text(page, "next_page_token");
    if (token.empty()) return kExitOk;
  }
}

std::string NameFilter(const std::string& name) {
  Json filter = {{"predicates",
                  Json::array({{{"key", "display_name"}, {"operation", "EQUALS"}, {"string_value", name}}})}};
  return PercentEncode(filter.dump());
}

// The id of the experiment called `name`: found, or created when `create`.
// Empty `id` (and kExitOk) when it does not exist and is not to be created.
int ExperimentId(Context& ctx, const std::string& name, bool create, std::string& id) {
  std::vector<Json> found;
  if (int rc = ListAll(ctx, std::string(kExperiments) + "?page_size=200&filter=" + NameFilter(name),
                       "experiments", 0, found);
      rc != kExitOk)
    return rc;
  for (const Json& e : found) {
    if (Text(e, "display_name") == name) {
      id = Text(e, "experiment_id");
      return kExitOk;
    }
  }
  if (!create) return kExitOk;
  Json body = {{"display_name", name}};
  Json created;
  if (int rc = CallApi(ctx, "POST", std::string(kExperiments), &body, created, "creating experiment " + name);
      rc != kExitOk)
    return rc;
  id = Text(created, "experiment_id");
  return kExitOk;
}

std::map<std::string, std::string> ExperimentNames(Context& ctx) {
  std::map<std::string, std::string> names;
  std::vector<Json> experiments;
  auto result = ctx.client->Call("GET", std::string(kExperiments) + "?page_size=200", nullptr);
  if (result.ok() && result->ok())
    for (const Json& e : Array(result->body, "experiments"))
      names[Text(e, "experiment_id")] = Text(e, "display_name");
  return names;
}

int GetRun(Context& ctx, const std::string& id, Json& run) {
  return CallApi(ctx, "GET", std::string(kRuns) + "/" + PercentEncode(id), nullptr, run);
}

std::string ErrorMessage(const Json& run) {
  const Json& error = Member(run, "error");
  return error.is_object() ? Text(error, "message") : Text(run, "error");
}

// Prints task state changes until the run is final; the exit code says
// whether it succeeded.
int Watch(Context& ctx, const std::string& id) {
  std::map<std::string, std::string> seen;
  std::string run_state;
  while (true) {
    Json run;
    if (int rc = GetRun(ctx, id, run); rc != kExitOk) return rc;
    const std::string now = FormatRfc3339(ctx.env->NowMicros()).substr(11, 8);
    for (const auto& [path, state] : TaskStates(run)) {
      auto it = seen.find(path);
      if (it != seen.end() && it->second == state) continue;
      seen[path] = state;
      *ctx.out << now << "  " << ShortPath(path) << "  " << state << "\n";
    }
    const std::string state = Text(run, "state");
    if (state != run_state) {
      run_state = state;
      *ctx.out << now << "  pipelinerun/" << id << "  " << state << "\n";
    }
    *ctx.out << std::flush;
    if (state == "SUCCEEDED") return kExitOk;
    if (state == "FAILED" || state == "CANCELED" || state == "SKIPPED") {
      std::string error = ErrorMessage(run);
      *ctx.err << "pipelinerun/" << id << " " << state << (error.empty() ? "" : ": " + error) << std::endl;
      return kExitFailed;
    }
    std::this_thread::sleep_for(kWatchInterval);
  }
}

int RunAction(Context& ctx, const PipelineRunActionOptions& options, std::string_view action,
              std::string_view done) {
  if (options.targets.empty()) return internal::UsageError(ctx, "give the pipeline run: run/ID or ID");
  int result = kExitOk;
  for (const auto& target : options.targets) {
    auto id = PipelineRunIdOf(target);
    if (!id.ok()) return internal::UsageError(ctx, id.status().message());
    Json reply;
    Json body = Json::object();
    if (int rc =
            CallApi(ctx, "POST", std::string(kRuns) + "/" + PercentEncode(*id) + ":" + std::string(action),
                    &body, reply, "pipelinerun/" + *id);
        rc != kExitOk) {
      if (rc == kExitUnreachable) return rc;
      result = rc;
      continue;
    }
    *ctx.out << "pipelinerun/" << *id << " " << done << std::endl;
  }
  return result;
}

}  // namespace

bool IsPipelineRunKind(std::string_view kind) {
  std::string k = Lower(kind.substr(0, kind.find('/')));
  return k == "pipelineruns" || k == "pipelinerun" || k == "pr";
}

bool IsPipelineRunId(std::string_view id) {
  if (id.size() != 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

Result<std::string> PipelineRunIdOf(std::string_view target) {
  std::string_view id = target;
  if (auto slash = target.find('/'); slash != std::string_view::npos) {
    std::string kind = Lower(target.substr(0, slash));
    if (kind != "run" && kind != "runs" && !IsPipelineRunKind(kind))
      return InvalidArgument("\"" + std::string(target) + "\" is not a pipeline run: use run/ID or ID");
    id = target.substr(slash + 1);
  }
  if (!IsPipelineRunId(id))
    return InvalidArgument(
        "\"" + std::string(id) +
        "\" is not a pipeline run id (a UUID such as 0b5c3f0e-4d7a-4c1e-9a57-3e1f2b6c8d90)");
  return std::string(id);
}

Result<std::pair<std::string, std::string>> ParseParameter(std::string_view argument) {
  auto eq = argument.find('=');
  if (eq == std::string_view::npos || eq == 0)
    return InvalidArgument("-p \"" + std::string(argument) + "\": expected name=value");
  return std::make_pair(std::string(argument.substr(0, eq)), std::string(argument.substr(eq + 1)));
}

std::map<std::string, std::string> TaskStates(const Json& run) {
  std::map<std::string, std::string> states;
  for (const Json& task : Array(Member(run, "run_details"), "task_details")) {
    const std::string path = Text(task, "task_id");
    if (path.empty() || path == "root") continue;
    std::string state = Text(task, "state");
    const Json& cached = Member(task, "cached");
    if (cached.is_boolean() && cached.get<bool>()) state += " (cached)";
    states[path] = state;
  }
  return states;
}

std::vector<TableRow> PipelineRunTable(const std::vector<Json>& runs,
                                       const std::map<std::string, std::string>& experiments,
                                       std::int64_t now_micros) {
  std::vector<TableRow> rows = {{"RUN ID", "NAME", "EXPERIMENT", "STATE", "DURATION", "AGE"}};
  for (const Json& run : runs) {
    const std::int64_t created = Micros(run, "created_at");
    const std::int64_t finished = Micros(run, "finished_at");
    const std::string experiment_id = Text(run, "experiment_id");
    auto name = experiments.find(experiment_id);
    rows.push_back({Text(run, "run_id"), Text(run, "display_name"),
                    name != experiments.end() && !name->second.empty() ? name->second : experiment_id,
                    Text(run, "state"),
                    created > 0 ? Duration((finished > 0 ? finished : now_micros) - created) : "-",
                    Age(created, now_micros)});
  }
  return rows;
}

std::vector<TableRow> TaskTable(const Json& run, std::int64_t now_micros) {
  std::vector<TableRow> rows = {{"TASK", "KIND", "STATE", "DURATION", "CACHED", "ATTEMPT"}};
  for (const Json& task : Array(Member(run, "run_details"), "task_details")) {
    const std::string path = Text(task, "task_id");
    if (path.empty() || path == "root") continue;
    const std::int64_t started = Micros(task, "start_time");
    const std::int64_t ended = Micros(task, "end_time");
    const Json& cached = Member(task, "cached");
    const Json& attempt = Member(task, "attempt");
    std::string duration = "-";
    if (started > 0) duration = Duration((ended > 0 ? ended : now_micros) - started);
    rows.push_back(
        {ShortPath(path), Text(task, "kind"), Text(task, "state"), duration,
         cached.is_boolean() && cached.get<bool>() ? "yes" : "",
         attempt.is_number_integer() && attempt.get<int>() > 0 ? std::to_string(attempt.get<int>()) : ""});
  }
  return rows;
}

std::string PipelineRunText(const Json& run, std::string_view experiment_name, std::int64_t now_micros) {
  std::string out;
  const std::int64_t created = Micros(run, "created_at");
  const std::int64_t finished = Micros(run, "finished_at");
  Line(out, "Run ID", Text(run, "run_id"));
  Line(out, "Name", Text(run, "display_name"));
  std::string experiment = Text(run, "experiment_id");
  if (!experiment_name.empty()) experiment = std::string(experiment_name) + " (" + experiment + ")";
  Line(out, "Experiment", experiment);
  Line(out, "State", Text(run, "state"));
  Line(out, "Error", ErrorMessage(run));
  if (created > 0) Line(out, "Created", FormatRfc3339(created) + " (" + Age(created, now_micros) + " ago)");
  if (created > 0) Line(out, "Duration", Duration((finished > 0 ? finished : now_micros) - created));
  const Json& parameters = Member(Member(run, "runtime_config"), "parameters");
  if (parameters.is_object() && !parameters.empty()) {
    out += "Parameters:\n";
    for (const auto& [name, value] : parameters.items())
      out += "  " + name + "=" + (value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
  }
  std::vector<TableRow> tasks = TaskTable(run, now_micros);
  out += "Tasks:\n";
  out += tasks.size() <= 1 ? "  <none>\n" : Indent(RenderTable(tasks));
  return out;
}

int RunPipeline(Context& ctx, const RunPipelineOptions& options) {
  std::map<std::string, Json> parameters;
  for (const auto& argument : options.parameters) {
    auto parsed = ParseParameter(argument);
    if (!parsed.ok()) return internal::UsageError(ctx, parsed.status().message());
    if (parameters.contains(parsed->first))
      return internal::UsageError(ctx, "-p " + parsed->first + " is given more than once");
    parameters[parsed->first] = parsed->second;
  }
  auto documents = ReadManifests({options.file}, *ctx.in);
  if (!documents.ok()) {
    *ctx.err << "error: " << documents.status().message() << std::endl;
    return kExitFailed;
  }
  for (const auto& doc : *documents) {
    if (!doc.error.ok()) {
      *ctx.err << "error: " << doc.Where() << ": " << doc.error.message() << std::endl;
      return kExitFailed;
    }
  }
  if (documents->empty() || documents->size() > 2) {
    *ctx.err
        << "error: \"" << options.file
        << "\" must hold one compiled pipeline (a PipelineSpec, optionally followed by its platform spec), "
           "found "
        << documents->size() << " documents" << std::endl;
    return kExitFailed;
  }
  const Json& spec = documents->front().object;
  Json body = {{"pipeline_spec", documents->size() == 1 ? spec
                                                        : Json{{"pipeline_spec", spec},
                                                               {"platform_spec", (*documents)[1].object}}}};
  std::string name = options.name;
  if (name.empty()) name = Text(Member(spec, "pipelineInfo"), "name");
  if (name.empty())
    name = options.file == "-" ? "pipeline" : std::filesystem::path(options.file).stem().string();
  body["display_name"] = name;
  if (!parameters.empty()) body["runtime_config"] = {{"parameters", parameters}};
  if (!options.experiment.empty()) {
    std::string experiment_id;
    if (int rc = ExperimentId(ctx, options.experiment, /*create=*/true, experiment_id); rc != kExitOk)
      return rc;
    body["experiment_id"] = experiment_id;
  }
  Json run;
  if (int rc = CallApi(ctx, "POST", std::string(kRuns), &body, run, "running \"" + options.file + "\"");
      rc != kExitOk)
    return rc;
  const std::string id = Text(run, "run_id");
  *ctx.out << "pipelinerun/" << id << " created" << std::endl;
  if (!options.watch) return kExitOk;
  return Watch(ctx, id);
}

int GetPipelineRuns(Context& ctx, const std::vector<std::string>& ids, const GetOptions& options) {
  if (options.watch)
    return internal::UsageError(ctx, "--watch is not supported for pipeline runs; use ferry run --watch");
  if (!options.selector.empty()) return internal::UsageError(ctx, "pipeline runs have no labels");
  if (!options.filter.empty()) return internal::UsageError(ctx, "--filter applies to tracking kinds only");
  const std::int64_t now = ctx.env->NowMicros();
  std::vector<Json> runs;
  int result = kExitOk;
  if (ids.empty()) {
    std::string path = std::string(kRuns) + "?page_size=200&sort_by=" + PercentEncode("created_at desc");
    if (!options.experiment.empty()) {
      std::string experiment_id;
      if (int rc = ExperimentId(ctx, options.experiment, /*create=*/false, experiment_id); rc != kExitOk)
        return rc;
      if (experiment_id.empty()) {
        *ctx.err << "error: experiment \"" << options.experiment << "\" not found" << std::endl;
        return kExitFailed;
      }
      path += "&experiment_id=" + PercentEncode(experiment_id);
    }
    if (int rc = ListAll(ctx, path, "runs", options.limit, runs); rc != kExitOk) return rc;
  } else {
    for (const auto& target : ids) {
      auto id = PipelineRunIdOf(target);
      if (!id.ok()) return internal::UsageError(ctx, id.status().message());
      Json run;
      if (int rc = GetRun(ctx, *id, run); rc != kExitOk) {
        if (rc == kExitUnreachable) return rc;
        result = rc;
        continue;
      }
      runs.push_back(std::move(run));
    }
  }
  if (options.output == "json" || options.output == "yaml") {
    Json doc = runs.size() == 1 && !ids.empty() ? runs.front() : Json(runs);
    *ctx.out << (options.output == "json" ? FormatJson(doc) : ToYaml(doc)) << std::flush;
    return result;
  }
  if (options.output == "name") {
    for (const Json& run : runs) *ctx.out << "pipelinerun/" << Text(run, "run_id") << "\n";
    *ctx.out << std::flush;
    return result;
  }
  const auto experiments = ExperimentNames(ctx);
  if (!ids.empty()) {
    bool first = true;
    for (const Json& run : runs) {
      if (!first) *ctx.out << "\n";
      first = false;
      auto name = experiments.find(Text(run, "experiment_id"));
      *ctx.out << PipelineRunText(run, name == experiments.end() ? "" : name->second, now);
    }
    *ctx.out << std::flush;
    return result;
  }
  if (runs.empty()) {
    *ctx.err << "No pipeline runs found." << std::endl;
    return result;
  }
  *ctx.out << RenderTable(PipelineRunTable(runs, experiments, now)) << std::flush;
  return result;
}

int PipelineRunLogs(Context& ctx, const LogsOptions& options) {
  auto id = PipelineRunIdOf(options.target);
  if (!id.ok()) return internal::UsageError(ctx, id.status().message());
  std::string path =
      "/api/v1/namespaces/" + PercentEncode(ctx.ns) + "/pipelineruns/" + PercentEncode(*id) + "/log";
  std::vector<std::string> query;
  if (!options.task.empty()) query.push_back("task=" + PercentEncode(options.task));
  if (options.follow) query.push_back("follow=true");
  if (options.limit_bytes > 0) query.push_back("limitBytes=" + std::to_string(options.limit_bytes));
  for (std::size_t i = 0; i < query.size(); ++i) path += (i == 0 ? "?" : "&") + query[i];

  // Its own connection: a followed task may print nothing for a long time.
  api::client::HttpClientOptions http_options;
  http_options.idle_timeout = std::chrono::hours(24);
  http_options.user_agent = "ferry-cli";
  api::client::HttpClient http(ctx.client->server(), http_options);
  auto response =
      options.follow
          ? http.StreamBody(path, {},
                            [&](std::string_view chunk) {
                              ctx.out->write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                              ctx.out->flush();
                              return true;
                            })
          : http.Request("GET", path);
  if (!response.ok()) return internal::ReportUnreachable(ctx, response.status());
  if (response->status < 200 || response->status >= 300)
    return internal::ReportServerError(ctx, api::client::ParseApiError(*response));
  if (!options.follow) *ctx.out << response->body << std::flush;
  return kExitOk;
}

int CancelPipelineRuns(Context& ctx, const PipelineRunActionOptions& options) {
  return RunAction(ctx, options, "terminate", "canceled");
}

int RetryPipelineRuns(Context& ctx, const PipelineRunActionOptions& options) {
  return RunAction(ctx, options, "retry", "retried");
}

}  // namespace ferry::cli
