#include "ferry/cli/tracking_views.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include "ferry/api/client/http_client.h"
#include "ferry/cli/commands_internal.h"
#include "ferry/cli/view_fields.h"
#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

using api::client::PercentEncode;

constexpr std::string_view kApi = "/api/2.0/mlflow/";
constexpr std::string_view kKfpRuns = "/apis/v2beta1/runs/";
// The tags a run logged from a pipeline task carries (python/ferry/tracking_context.py).
constexpr std::string_view kPipelineRunIdTag = "ferry.pipeline_run_id";
constexpr std::string_view kPipelineTaskTag = "ferry.pipeline_task";
// Runs `get runs` shows unless --limit says otherwise.
constexpr std::int64_t kDefaultRunLimit = 100;

std::string Text(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<std::int64_t>());
  return {};
}

std::string Age(std::int64_t then_ms, std::int64_t now_ms) {
  if (then_ms <= 0) return "<unknown>";
  return FormatAge((now_ms - then_ms) / 1000);
}

std::string Duration(std::int64_t ms) {
  if (ms < 0) return "-";
  if (ms < 10'000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  return FormatAge(ms / 1000);
}

std::string MetricValue(const Json& value) {
  if (value.is_string()) return value.get<std::string>();  // NaN, Infinity
  if (!value.is_number()) return "?";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value.get<double>());
  return buf;
}

std::string TagValue(const Json& tags, std::string_view key) {
  for (const Json& tag : tags.is_array() ? tags : Json::array())
    if (Text(tag, "key") == key) return Text(tag, "value");
  return {};
}

// "acc=0.93 loss=0.12" for up to `max` metrics, by key.
std::string MetricSummary(const Json& metrics, std::size_t max) {
  std::string out;
  std::size_t shown = 0;
  for (const Json& m : metrics.is_array() ? metrics : Json::array()) {
    if (shown == max) {
      out += " …";
      break;
    }
    if (!out.empty()) out += " ";
    out += Text(m, "key") + "=" + MetricValue(Member(m, "value"));
    ++shown;
  }
  return out;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A string literal of MLflow's filter grammar.
std::string FilterString(std::string_view value) {
  const char quote = value.find('\'') == std::string_view::npos ? '\'' : '"';
  return quote + std::string(value) + quote;
}

void Line(std::string& out, std::string_view label, std::string_view value) {
  if (value.empty()) return;
  constexpr std::size_t kValueColumn = 16;  // "Pipeline Run:   "
  std::string head = std::string(label) + ":";
  head.resize(std::max(kValueColumn, head.size() + 1), ' ');
  out += head + std::string(value) + "\n";
}

std::string Timestamp(std::int64_t ms, std::int64_t now_ms) {
  if (ms <= 0) return {};
  return FormatRfc3339(ms * 1000) + " (" + Age(ms, now_ms) + " ago)";
}

// Calls the MLflow surface, printing failures; kExitOk when `reply` holds the body.
int CallApi(Context& ctx, std::string_view method, const std::string& path, const Json* body, Json& reply) {
  auto result = ctx.client->Call(method, std::string(kApi) + path, body);
  if (!result.ok()) return internal::ReportUnreachable(ctx, result.status());
  if (!result->ok()) return internal::ReportServerError(ctx, *result->error);
  reply = std::move(result->body);
  return kExitOk;
}

// Every item of a paged MLflow search, up to `limit` (0: all).
int SearchAll(Context& ctx, const std::string& path, Json request, std::string_view items_key,
              std::int64_t limit, std::vector<Json>& out) {
  while (true) {
    Json page;
    if (int rc = CallApi(ctx, "POST", path, &request, page); rc != kExitOk) return rc;
    for (const Json& item : Array(page, items_key)) {
      if (limit > 0 && static_cast<std::int64_t>(out.size()) >= limit) return kExitOk;
      out.push_back(item);
    }
    std::string token = Text(page, "next_page_token");
    if (token.empty() || (limit > 0 && static_cast<std::int64_t>(out.size()) >= limit)) return kExitOk;
    request["page_token"] = token;
  }
}

// The experiment named or numbered `ref`.
int ResolveExperiment(Context& ctx, const std::string& ref, Json& experiment) {
  Json reply;
  const bool numeric = !ref.empty() && std::all_of(ref.begin(), ref.end(), [](unsigned char c) {
    return std::isdigit(c) != 0;
  });
  if (numeric) {
    auto byid = ctx.client->Call("GET", std::string(kApi) + "experiments/get?experiment_id=" + ref, nullptr);
    if (!byid.ok()) return internal::ReportUnreachable(ctx, byid.status());
    if (byid->ok()) {
      experiment = Member(byid->body, "experiment");
      return kExitOk;
    }
  }
  if (int rc = CallApi(ctx, "GET", "experiments/get-by-name?experiment_name=" + PercentEncode(ref), nullptr, reply);
      rc != kExitOk)
    return rc;
  experiment = Member(reply, "experiment");
  return kExitOk;
}

int Print(Context& ctx, const GetOptions& options, const std::vector<Json>& items,
          const std::vector<TableRow>& table, std::string_view kind_plural) {
  if (options.output == "json" || options.output == "yaml") {
    Json doc = items.size() == 1 && !options.names.empty() ? items.front() : Json(items);
    *ctx.out << (options.output == "json" ? FormatJson(doc) : ToYaml(doc)) << std::flush;
    return kExitOk;
  }
  if (options.output == "name") {
    for (std::size_t i = 1; i < table.size(); ++i)
      *ctx.out << kind_plural.substr(0, kind_plural.size() - 1) << "/" << table[i].front() << "\n";
    *ctx.out << std::flush;
    return kExitOk;
  }
  if (table.size() <= 1) {
    *ctx.err << "No " << kind_plural << " found." << std::endl;
    return kExitOk;
  }
  *ctx.out << RenderTable(table) << std::flush;
  return kExitOk;
}

int GetExperiments(Context& ctx, const std::vector<std::string>& names, const GetOptions& options,
                   std::vector<Json>& items) {
  if (names.empty()) {
    Json request = {{"max_results", 1000}, {"view_type", "ACTIVE_ONLY"}};
    if (!options.filter.empty()) request["filter"] = options.filter;
    return SearchAll(ctx, "experiments/search", request, "experiments", options.limit, items);
  }
  int result = kExitOk;
  for (const auto& name : names) {
    Json experiment;
    if (int rc = ResolveExperiment(ctx, name, experiment); rc != kExitOk) {
      result = rc;
      continue;
    }
    items.push_back(experiment);
  }
  return result;
}

int GetRuns(Context& ctx, const std::vector<std::string>& names, const GetOptions& options,
            std::vector<Json>& items) {
  if (!names.empty()) {
    int result = kExitOk;
    for (const auto& id : names) {
      Json reply;
      if (int rc = CallApi(ctx, "GET", "runs/get?run_id=" + PercentEncode(id), nullptr, reply); rc != kExitOk) {
        result = rc;
        continue;
      }
      items.push_back(Member(reply, "run"));
    }
    return result;
  }
  Json ids = Json::array();
  if (!options.experiment.empty()) {
    Json experiment;
    if (int rc = ResolveExperiment(ctx, options.experiment, experiment); rc != kExitOk) return rc;
    ids.push_back(Text(experiment, "experiment_id"));
  } else {
    std::vector<Json> experiments;
    if (int rc = SearchAll(ctx, "experiments/search", {{"max_results", 1000}}, "experiments", 0, experiments);
        rc != kExitOk)
      return rc;
    for (const Json& e : experiments) ids.push_back(Text(e, "experiment_id"));
    if (ids.empty()) return kExitOk;
  }
  Json request = {{"experiment_ids", ids},
                  {"max_results", std::min<std::int64_t>(options.limit > 0 ? options.limit : 1000, 1000)},
                  {"order_by", Json::array({"attributes.start_time DESC"})}};
  if (!options.filter.empty()) request["filter"] = options.filter;
  return SearchAll(ctx, "runs/search", request, "runs", options.limit > 0 ? options.limit : kDefaultRunLimit,
                   items);
}

int GetModels(Context& ctx, const std::vector<std::string>& names, const GetOptions& options,
              std::vector<Json>& items) {
  if (names.empty()) {
    std::string path = "registered-models/search?max_results=1000";
    if (!options.filter.empty()) path += "&filter=" + PercentEncode(options.filter);
    while (true) {
      Json page;
      if (int rc = CallApi(ctx, "GET", path, nullptr, page); rc != kExitOk) return rc;
      for (const Json& m : Array(page, "registered_models")) items.push_back(m);
      std::string token = Text(page, "next_page_token");
      if (token.empty()) return kExitOk;
      path = "registered-models/search?max_results=1000&page_token=" + PercentEncode(token);
      if (!options.filter.empty()) path += "&filter=" + PercentEncode(options.filter);
    }
  }
  int result = kExitOk;
  for (const auto& name : names) {
    Json reply;
    if (int rc = CallApi(ctx, "GET", "registered-models/get?name=" + PercentEncode(name), nullptr, reply);
        rc != kExitOk) {
      result = rc;
      continue;
    }
    items.push_back(Member(reply, "registered_model"));
  }
  return result;
}

// Splits "kind/name" as the native verbs accept it.
std::vector<std::string> WithInlineName(std::string_view kind, const std::vector<std::string>& names) {
  std::vector<std::string> out;
  if (auto slash = kind.find('/'); slash != std::string_view::npos) out.emplace_back(kind.substr(slash + 1));
  out.insert(out.end(), names.begin(), names.end());
  return out;
}

}  // namespace

TrackingKind TrackingKindOf(std::string_view kind) {
  std::string k = Lower(kind.substr(0, kind.find('/')));
  if (k == "experiments" || k == "experiment" || k == "exp") return TrackingKind::kExperiment;
  if (k == "runs" || k == "run") return TrackingKind::kRun;
  if (k == "models" || k == "model" || k == "registeredmodels" || k == "registeredmodel" || k == "rm")
    return TrackingKind::kModel;
  return TrackingKind::kNone;
}

std::vector<TableRow> ExperimentTable(const std::vector<Json>& experiments, std::int64_t now_ms) {
  std::vector<TableRow> rows = {{"ID", "NAME", "STAGE", "ARTIFACT LOCATION", "AGE"}};
  for (const Json& e : experiments)
    rows.push_back({Text(e, "experiment_id"), Text(e, "name"), Text(e, "lifecycle_stage"),
                    Text(e, "artifact_location"), Age(Int(e, "creation_time"), now_ms)});
  return rows;
}

std::vector<TableRow> RunTable(const std::vector<Json>& runs, std::int64_t now_ms) {
  std::vector<TableRow> rows = {{"RUN ID", "NAME", "EXPERIMENT", "STATUS", "DURATION", "METRICS", "AGE"}};
  for (const Json& run : runs) {
    const Json& info = Member(run, "info");
    std::int64_t start = Int(info, "start_time");
    std::int64_t end = Member(info, "end_time").is_null() ? now_ms : Int(info, "end_time");
    rows.push_back({Text(info, "run_id"), Text(info, "run_name"), Text(info, "experiment_id"),
                    Text(info, "status"), start > 0 ? Duration(end - start) : "-",
                    MetricSummary(Member(Member(run, "data"), "metrics"), 3), Age(start, now_ms)});
  }
  return rows;
}

std::vector<TableRow> ModelTable(const std::vector<Json>& models, std::int64_t now_ms) {
  std::vector<TableRow> rows = {{"NAME", "LATEST", "ALIASES", "DESCRIPTION", "AGE"}};
  for (const Json& m : models) {
    std::int64_t latest = 0;
    for (const Json& v : Array(m, "latest_versions")) latest = std::max(latest, Int(v, "version"));
    std::string aliases;
    for (const Json& a : Array(m, "aliases")) {
      if (!aliases.empty()) aliases += ",";
      aliases += Text(a, "alias") + "=" + Text(a, "version");
    }
    std::string description = Text(m, "description");
    if (description.size() > 40) description = description.substr(0, 39) + "…";
    rows.push_back({Text(m, "name"), latest > 0 ? "v" + std::to_string(latest) : "-", aliases, description,
                    Age(Int(m, "creation_timestamp"), now_ms)});
  }
  return rows;
}

std::string DescribeExperimentText(const Json& experiment, std::int64_t run_count, std::int64_t now_ms) {
  std::string out;
  Line(out, "Name", Text(experiment, "name"));
  Line(out, "ID", Text(experiment, "experiment_id"));
  Line(out, "Stage", Text(experiment, "lifecycle_stage"));
  Line(out, "Artifacts", Text(experiment, "artifact_location"));
  Line(out, "Created", Timestamp(Int(experiment, "creation_time"), now_ms));
  Line(out, "Updated", Timestamp(Int(experiment, "last_update_time"), now_ms));
  Line(out, "Runs", run_count >= 0 ? std::to_string(run_count) : "");
  const Json& tags = Array(experiment, "tags");
  if (!tags.empty()) {
    out += "Tags:\n";
    for (const Json& t : tags) out += "  " + Text(t, "key") + "=" + Text(t, "value") + "\n";
  }
  return out;
}

std::string DescribeRunText(const Json& run, const Json& experiment, std::int64_t now_ms) {
  const Json& info = Member(run, "info");
  const Json& data = Member(run, "data");
  std::string out;
  Line(out, "Run ID", Text(info, "run_id"));
  Line(out, "Name", Text(info, "run_name"));
  std::string exp = Text(info, "experiment_id");
  if (!Text(experiment, "name").empty()) exp += " (" + Text(experiment, "name") + ")";
  Line(out, "Experiment", exp);
  Line(out, "Status", Text(info, "status"));
  Line(out, "User", Text(info, "user_id"));
  Line(out, "Started", Timestamp(Int(info, "start_time"), now_ms));
  if (!Member(info, "end_time").is_null())
    Line(out, "Duration", Duration(Int(info, "end_time") - Int(info, "start_time")));
  Line(out, "Artifacts", Text(info, "artifact_uri"));
  Line(out, "Pipeline Run", TagValue(Member(data, "tags"), kPipelineRunIdTag));
  // System tags (mlflow.*) are left out; a section with nothing to show is too.
  auto section = [&](std::string_view title, const Json& items, bool metric) {
    std::string lines;
    for (const Json& item : items.is_array() ? items : Json::array()) {
      std::string key = Text(item, "key");
      if (!metric && key.starts_with("mlflow.")) continue;
      lines += "  " + key + "=" + (metric ? MetricValue(Member(item, "value")) : Text(item, "value"));
      if (metric) lines += " (step " + std::to_string(Int(item, "step")) + ")";
      lines += "\n";
    }
    if (!lines.empty()) out += std::string(title) + ":\n" + lines;
  };
  section("Params", Member(data, "params"), false);
  section("Metrics", Member(data, "metrics"), true);
  section("Tags", Member(data, "tags"), false);
  const Json& datasets = Array(Member(run, "inputs"), "dataset_inputs");
  if (!datasets.empty()) {
    out += "Inputs:\n";
    for (const Json& input : datasets) {
      const Json& d = Member(input, "dataset");
      std::string context = TagValue(Member(input, "tags"), "mlflow.data.context");
      out += "  dataset " + Text(d, "name") + "@" + Text(d, "digest");
      if (!context.empty()) out += " (" + context + ")";
      out += "\n";
    }
  }
  const Json& outputs = Array(Member(run, "outputs"), "model_outputs");
  if (!outputs.empty()) {
    out += "Outputs:\n";
    for (const Json& o : outputs) out += "  model " + Text(o, "model_id") + "\n";
  }
  return out;
}

std::string DescribeModelText(const Json& model, const std::vector<Json>& versions,
                              const std::map<std::string, Json>& runs,
                              const std::map<std::string, Json>& pipeline_runs, std::int64_t now_ms) {
  std::string out;
  Line(out, "Name", Text(model, "name"));
  Line(out, "Description", Text(model, "description"));
  Line(out, "Created", Timestamp(Int(model, "creation_timestamp"), now_ms));
  Line(out, "Updated", Timestamp(Int(model, "last_updated_timestamp"), now_ms));
  const Json& tags = Array(model, "tags");
  if (!tags.empty()) {
    out += "Tags:\n";
    for (const Json& t : tags) out += "  " + Text(t, "key") + "=" + Text(t, "value") + "\n";
  }
  const Json& aliases = Array(model, "aliases");
  if (!aliases.empty()) {
    out += "Aliases:\n";
    for (const Json& a : aliases) out += "  " + Text(a, "alias") + " -> version " + Text(a, "version") + "\n";
  }

  std::vector<Json> sorted = versions;
  std::sort(sorted.begin(), sorted.end(),
            [](const Json& a, const Json& b) { return Int(a, "version") > Int(b, "version"); });
  std::vector<TableRow> rows = {{"VERSION", "STAGE", "STATUS", "RUN", "SOURCE", "AGE"}};
  for (const Json& v : sorted)
    rows.push_back({Text(v, "version"), Text(v, "current_stage"), Text(v, "status"), Text(v, "run_id"),
                    Text(v, "source"), Age(Int(v, "creation_timestamp"), now_ms)});
  out += "Versions:\n";
  if (sorted.empty()) {
    out += "  <none>\n";
  } else {
    for (std::string line : std::vector<std::string>{RenderTable(rows)}) {
      std::size_t start = 0;
      while (start < line.size()) {
        std::size_t nl = line.find('\n', start);
        out += "  " + line.substr(start, nl - start + 1);
        start = nl + 1;
      }
    }
  }

  // Lineage, newest version first: data -> run -> version (-> pipeline run).
  out += "Lineage:\n";
  if (sorted.empty()) out += "  <none>\n";
  for (const Json& v : sorted) {
    out += "  version " + Text(v, "version");
    std::string run_id = Text(v, "run_id");
    auto it = runs.find(run_id);
    if (run_id.empty()) {
      out += " <- (no run recorded)\n";
      continue;
    }
    out += " <- run " + run_id;
    if (it == runs.end()) {
      out += " (not found)\n";
      continue;
    }
    const Json& info = Member(it->second, "info");
    const Json& data = Member(it->second, "data");
    if (!Text(info, "run_name").empty()) out += " \"" + Text(info, "run_name") + "\"";
    out += " in experiment " + Text(info, "experiment_id") + "\n";
    std::string pipeline = TagValue(Member(data, "tags"), kPipelineRunIdTag);
    if (!pipeline.empty()) {
      std::string task = TagValue(Member(data, "tags"), kPipelineTaskTag);
      out += "      part of pipeline run " + pipeline;
      auto p = pipeline_runs.find(pipeline);
      if (p != pipeline_runs.end() && !Text(p->second, "display_name").empty())
        out += " \"" + Text(p->second, "display_name") + "\"";
      if (p != pipeline_runs.end() && !Text(p->second, "state").empty())
        out += " (" + Text(p->second, "state") + ")";
      if (!task.empty()) out += ", task " + task;
      out += "\n";
      // The artifacts the logging task consumed, as KFP lists them: input
      // name -> {artifact_ids: [uri, ...]}.
      if (p != pipeline_runs.end() && !task.empty()) {
        for (const Json& t : Array(Member(p->second, "run_details"), "task_details")) {
          if (Text(t, "task_id") != task) continue;
          const Json& inputs = Member(t, "inputs");
          if (!inputs.is_object()) break;
          for (const auto& [name, list] : inputs.items())
            for (const Json& uri : Array(list, "artifact_ids"))
              if (uri.is_string()) out += "      <- artifact " + name + " " + uri.get<std::string>() + "\n";
          break;
        }
      }
    }
    for (const Json& input : Array(Member(it->second, "inputs"), "dataset_inputs")) {
      const Json& d = Member(input, "dataset");
      out += "      <- dataset " + Text(d, "name") + "@" + Text(d, "digest");
      if (!Text(d, "source_type").empty()) out += " (" + Text(d, "source_type") + ")";
      out += "\n";
    }
  }
  return out;
}

int GetTracking(Context& ctx, TrackingKind kind, const std::vector<std::string>& names,
                const GetOptions& options) {
  if (options.watch) return internal::UsageError(ctx, "--watch is not supported for tracking kinds");
  if (!options.selector.empty())
    return internal::UsageError(ctx, "tracking kinds have no labels; use --filter with MLflow's search syntax");
  if (!options.experiment.empty() && kind != TrackingKind::kRun)
    return internal::UsageError(ctx, "--experiment applies to runs only");
  const std::vector<std::string> all_names = WithInlineName(options.kind, names);
  const std::int64_t now_ms = ctx.env->NowMicros() / 1000;
  std::vector<Json> items;
  int rc = kExitOk;
  switch (kind) {
    case TrackingKind::kExperiment:
      rc = GetExperiments(ctx, all_names, options, items);
      if (!items.empty() || rc == kExitOk) Print(ctx, options, items, ExperimentTable(items, now_ms), "experiments");
      break;
    case TrackingKind::kRun:
      rc = GetRuns(ctx, all_names, options, items);
      if (!items.empty() || rc == kExitOk) Print(ctx, options, items, RunTable(items, now_ms), "runs");
      break;
    case TrackingKind::kModel:
      rc = GetModels(ctx, all_names, options, items);
      if (!items.empty() || rc == kExitOk) Print(ctx, options, items, ModelTable(items, now_ms), "models");
      break;
    case TrackingKind::kNone:
      return kExitUsage;
  }
  return rc;
}

int DescribeTracking(Context& ctx, TrackingKind kind, const std::vector<std::string>& names_in) {
  const std::int64_t now_ms = ctx.env->NowMicros() / 1000;
  int result = kExitOk;
  bool first = true;
  for (const auto& name : names_in) {
    std::string text;
    if (kind == TrackingKind::kExperiment) {
      Json experiment;
      if (int rc = ResolveExperiment(ctx, name, experiment); rc != kExitOk) {
        result = rc;
        continue;
      }
      std::vector<Json> runs;
      Json request = {{"experiment_ids", Json::array({Text(experiment, "experiment_id")})}, {"max_results", 1000}};
      std::int64_t count = SearchAll(ctx, "runs/search", request, "runs", 0, runs) == kExitOk
                               ? static_cast<std::int64_t>(runs.size())
                               : -1;
      text = DescribeExperimentText(experiment, count, now_ms);
    } else if (kind == TrackingKind::kRun) {
      Json reply;
      if (int rc = CallApi(ctx, "GET", "runs/get?run_id=" + PercentEncode(name), nullptr, reply); rc != kExitOk) {
        result = rc;
        continue;
      }
      const Json& run = Member(reply, "run");
      Json experiment;
      auto exp = ctx.client->Call(
          "GET",
          std::string(kApi) + "experiments/get?experiment_id=" + PercentEncode(Text(Member(run, "info"), "experiment_id")),
          nullptr);
      if (exp.ok() && exp->ok()) experiment = Member(exp->body, "experiment");
      text = DescribeRunText(run, experiment, now_ms);
    } else {
      Json reply;
      if (int rc = CallApi(ctx, "GET", "registered-models/get?name=" + PercentEncode(name), nullptr, reply);
          rc != kExitOk) {
        result = rc;
        continue;
      }
      Json model = Member(reply, "registered_model");
      std::vector<Json> versions;
      std::string path = "model-versions/search?max_results=1000&filter=" +
                         PercentEncode("name = " + FilterString(Text(model, "name")));
      Json page;
      if (int rc = CallApi(ctx, "GET", path, nullptr, page); rc != kExitOk) {
        result = rc;
        continue;
      }
      for (const Json& v : Array(page, "model_versions")) versions.push_back(v);
      std::map<std::string, Json> runs;
      for (const Json& v : versions) {
        std::string run_id = Text(v, "run_id");
        if (run_id.empty() || runs.contains(run_id)) continue;
        auto run = ctx.client->Call("GET", std::string(kApi) + "runs/get?run_id=" + PercentEncode(run_id), nullptr);
        if (!run.ok()) return internal::ReportUnreachable(ctx, run.status());
        if (run->ok()) runs[run_id] = Member(run->body, "run");
      }
      // One KFP call per pipeline run; lineage without it still names the run.
      std::map<std::string, Json> pipeline_runs;
      for (const auto& [run_id, run] : runs) {
        std::string pipeline = TagValue(Member(Member(run, "data"), "tags"), kPipelineRunIdTag);
        if (pipeline.empty() || pipeline_runs.contains(pipeline)) continue;
        auto reply = ctx.client->Call("GET", std::string(kKfpRuns) + PercentEncode(pipeline), nullptr);
        if (!reply.ok()) return internal::ReportUnreachable(ctx, reply.status());
        if (reply->ok()) pipeline_runs[pipeline] = reply->body;
      }
      text = DescribeModelText(model, versions, runs, pipeline_runs, now_ms);
    }
    if (!first) *ctx.out << "\n\n";
    first = false;
    *ctx.out << text << std::flush;
  }
  return result;
}

}  // namespace ferry::cli
