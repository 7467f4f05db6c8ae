#include "ferry/cli/tuning_views.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "ferry/cli/commands_internal.h"
#include "ferry/cli/view_fields.h"
#include "ferry/common/names.h"
#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

constexpr std::string_view kGroup = "kubeflow.org";

// A member as text: strings as they are, numbers and booleans in JSON form,
// "" when absent or structured.
std::string Text(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || it->is_null() || it->is_structured()) return {};
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string OrDash(std::string s) { return s.empty() ? "-" : s; }

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

// Control characters show as '?' so that a value cannot drive the terminal.
std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// "Label:   value", values aligned at `column` ("Additional Metrics: ").
void Line(std::string& out, std::string_view label, std::string_view value, std::size_t column = 20) {
  if (value.empty()) return;
  std::string head = std::string(label) + ":";
  head.resize(std::max(column, head.size() + 1), ' ');
  out += head + Printable(value) + "\n";
}

// Lines indented under a section heading.
std::string Indented(const std::string& lines) {
  std::string out;
  std::size_t start = 0;
  while (start < lines.size()) {
    std::size_t nl = lines.find('\n', start);
    if (nl == std::string::npos) nl = lines.size() - 1;
    out += "  " + lines.substr(start, nl - start + 1);
    start = nl + 1;
  }
  return out;
}

std::string IndentedTable(const std::vector<TableRow>& rows) { return Indented(RenderTable(rows)); }

std::string Timestamp(const std::string& rfc3339, std::int64_t now_micros) {
  if (rfc3339.empty()) return {};
  auto micros = ParseRfc3339(rfc3339);
  if (!micros.ok()) return rfc3339;
  return rfc3339 + " (" + FormatAge((now_micros - *micros) / 1'000'000) + " ago)";
}

// The last condition whose status is "True"; null when none is.
const Json& LastTrueCondition(const Json& object) {
  static const Json kNull;
  const Json& conditions = Array(Member(object, "status"), "conditions");
  for (auto it = conditions.rbegin(); it != conditions.rend(); ++it) {
    if (Text(*it, "status") == "True") return *it;
  }
  return kNull;
}

// How the metric is summarised: its metricStrategies entry, else Katib's
// default for the objective (min when minimizing, max when maximizing).
std::string Strategy(const Json& objective, const std::string& metric) {
  for (const Json& s : Array(objective, "metricStrategies")) {
    if (Text(s, "name") == metric && !Text(s, "value").empty()) return Text(s, "value");
  }
  return Text(objective, "type") == "maximize" ? "max" : "min";
}

// A metric value as Katib writes it; "-" for none and for "unavailable".
std::string MetricText(const Json& metric, std::string_view field) {
  std::string value = Text(metric, field);
  return value.empty() || value == "unavailable" ? "-" : value;
}

// Parameter name -> assigned value, in assignment order.
std::vector<std::pair<std::string, std::string>> Assignments(const Json& holder) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Json& a : Array(holder, "parameterAssignments"))
    out.emplace_back(Text(a, "name"), Text(a, "value"));
  return out;
}

std::string AssignedValue(const Json& trial, const std::string& parameter) {
  for (const auto& [name, value] : Assignments(Member(trial, "spec")))
    if (name == parameter) return OrDash(value);
  return "-";
}

std::string CompactAssignments(const Json& holder, std::string_view separator) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : Assignments(holder)) parts.push_back(name + "=" + value);
  return parts.empty() ? "-" : Join(parts, separator);
}

std::string Counted(std::int64_t n, std::string_view what) {
  return std::to_string(n) + " " + std::string(what);
}

// "random (random_state=10)": an algorithm or early-stopping spec.
std::string AlgorithmText(const Json& algorithm) {
  std::string name = Text(algorithm, "algorithmName");
  if (name.empty()) return {};
  std::vector<std::string> settings;
  for (const Json& s : Array(algorithm, "algorithmSettings"))
    settings.push_back(Text(s, "name") + "=" + Text(s, "value"));
  return settings.empty() ? name : name + " (" + Join(settings, ", ") + ")";
}

// "[0.01, 0.05] step 0.01 (logUniform)" or "sgd, adam".
std::string FeasibleSpace(const Json& parameter) {
  const Json& space = Member(parameter, "feasibleSpace");
  std::vector<std::string> list;
  for (const Json& v : Array(space, "list")) list.push_back(v.is_string() ? v.get<std::string>() : v.dump());
  std::string out;
  if (!list.empty()) {
    out = Join(list, ", ");
  } else if (!Text(space, "min").empty() || !Text(space, "max").empty()) {
    out = "[" + OrDash(Text(space, "min")) + ", " + OrDash(Text(space, "max")) + "]";
    if (!Text(space, "step").empty()) out += " step " + Text(space, "step");
  }
  if (!Text(space, "distribution").empty())
    out += (out.empty() ? "" : " ") + ("(" + Text(space, "distribution") + ")");
  return OrDash(out);
}

// Where the number that ends a trial's name starts; name.size() when none does.
std::size_t TrialNumberStart(const std::string& name) {
  std::size_t start = name.size();
  while (start > 0 && std::isdigit(static_cast<unsigned char>(name[start - 1]))) --start;
  return name.size() - start > 18 ? name.size() : start;  // too long for an int64: not a number
}

std::string NameOf(const Json& object) { return Text(Member(object, "metadata"), "name"); }

// [NAMESPACE,] NAME, then the columns in the middle, then AGE.
TableRow WithNameAndAge(const Json& object, bool with_namespace, TableRow middle, std::int64_t now_micros) {
  TableRow row;
  if (with_namespace) row.push_back(Text(Member(object, "metadata"), "namespace"));
  row.push_back(NameOf(object));
  for (auto& cell : middle) row.push_back(std::move(cell));
  row.push_back(ObjectAge(object, now_micros));
  return row;
}

TableRow Header(bool with_namespace, std::vector<std::string> middle) {
  TableRow row;
  if (with_namespace) row.push_back("NAMESPACE");
  row.push_back("NAME");
  for (auto& cell : middle) row.push_back(std::move(cell));
  row.push_back("AGE");
  return row;
}

}  // namespace

bool IsKatibExperimentType(const ApiResource& type) {
  return type.kind == "Experiment" && type.group == kGroup;
}

bool IsKatibTrialType(const ApiResource& type) { return type.kind == "Trial" && type.group == kGroup; }

std::string KatibState(const Json& object) { return OrDash(Text(LastTrueCondition(object), "type")); }

std::string ObjectiveValue(const Json& objective, const Json& observation) {
  const std::string metric = Text(objective, "objectiveMetricName");
  if (metric.empty()) return "-";
  for (const Json& m : Array(observation, "metrics")) {
    if (Text(m, "name") == metric) return MetricText(m, Strategy(objective, metric));
  }
  return "-";
}

TableLayout ExperimentTableLayout(bool with_namespace) {
  return {Header(with_namespace, {"STATUS", "TRIALS", "RUNNING", "SUCCEEDED", "FAILED", "BEST"}),
          [with_namespace](const Json& experiment, std::int64_t now_micros) {
            const Json& status = Member(experiment, "status");
            const Json& optimal = Member(status, "currentOptimalTrial");
            std::string best = Text(optimal, "bestTrialName").empty()
                                   ? "-"
                                   : ObjectiveValue(Member(Member(experiment, "spec"), "objective"),
                                                    Member(optimal, "observation"));
            return WithNameAndAge(
                experiment, with_namespace,
                {KatibState(experiment), std::to_string(Int(status, "trials")),
                 std::to_string(Int(status, "trialsRunning")), std::to_string(Int(status, "trialsSucceeded")),
                 std::to_string(Int(status, "trialsFailed") + Int(status, "trialMetricsUnavailable")), best},
                now_micros);
          }};
}

TableLayout TrialTableLayout(const std::vector<std::string>& parameters, bool with_namespace) {
  std::vector<std::string> middle = {"STATE"};
  if (parameters.empty()) {
    middle.push_back("PARAMETERS");
  } else {
    middle.insert(middle.end(), parameters.begin(), parameters.end());
  }
  middle.push_back("OBJECTIVE");
  return {Header(with_namespace, middle),
          [parameters, with_namespace](const Json& trial, std::int64_t now_micros) {
            const Json& spec = Member(trial, "spec");
            TableRow cells = {KatibState(trial)};
            if (parameters.empty()) {
              cells.push_back(CompactAssignments(spec, ","));
            } else {
              for (const auto& p : parameters) cells.push_back(AssignedValue(trial, p));
            }
            cells.push_back(
                ObjectiveValue(Member(spec, "objective"), Member(Member(trial, "status"), "observation")));
            return WithNameAndAge(trial, with_namespace, std::move(cells), now_micros);
          }};
}

std::vector<std::string> SharedTrialParameters(const std::vector<Json>& trials) {
  if (trials.empty()) return {};
  auto owner = [](const Json& trial) {
    const Json& metadata = Member(trial, "metadata");
    return std::make_pair(Text(metadata, "namespace"),
                          Text(Member(metadata, "labels"), kKatibExperimentLabel));
  };
  const auto first = owner(trials.front());
  if (first.second.empty()) return {};
  std::vector<std::string> names;
  for (const Json& trial : trials) {
    if (owner(trial) != first) return {};
    for (const auto& [name, value] : Assignments(Member(trial, "spec")))
      if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

void SortTrialsByNumber(std::vector<Json>& trials) {
  // Numbered names first, grouped by what precedes the number (the experiment).
  auto key = [](const Json& trial) {
    std::string name = NameOf(trial);
    const std::size_t start = TrialNumberStart(name);
    const bool numbered = start < name.size();
    return std::make_tuple(!numbered, numbered ? name.substr(0, start) : name,
                           numbered ? std::stoll(name.substr(start)) : 0, name);
  };
  std::stable_sort(trials.begin(), trials.end(),
                   [&](const Json& a, const Json& b) { return key(a) < key(b); });
}

std::string DescribeKatibExperimentText(const Json& experiment, const std::vector<Json>& trials,
                                        std::int64_t now_micros, const std::string& trials_error) {
  const Json& metadata = Member(experiment, "metadata");
  const Json& spec = Member(experiment, "spec");
  const Json& status = Member(experiment, "status");
  const Json& objective = Member(spec, "objective");
  std::string out;
  Line(out, "Name", Text(metadata, "name"));
  Line(out, "Namespace", Text(metadata, "namespace"));
  Line(out, "Created", Timestamp(Text(metadata, "creationTimestamp"), now_micros));
  const Json& condition = LastTrueCondition(experiment);
  std::string state = KatibState(experiment);
  if (!Text(condition, "reason").empty()) state += " (" + Text(condition, "reason") + ")";
  if (!Text(condition, "message").empty()) state += ": " + Text(condition, "message");
  Line(out, "Status", state);
  Line(out, "Started", Timestamp(Text(status, "startTime"), now_micros));
  Line(out, "Completed", Timestamp(Text(status, "completionTime"), now_micros));

  const std::string metric = Text(objective, "objectiveMetricName");
  std::string goal = Text(objective, "goal");
  Line(out, "Objective",
       OrDash(Join({Text(objective, "type"), metric}, " ")) + (goal.empty() ? "" : ", goal " + goal));
  std::vector<std::string> additional;
  for (const Json& m : Array(objective, "additionalMetricNames"))
    if (m.is_string()) additional.push_back(m.get<std::string>());
  Line(out, "Additional Metrics", Join(additional, ", "));
  std::vector<std::string> strategies;
  for (const Json& s : Array(objective, "metricStrategies"))
    strategies.push_back(Text(s, "name") + "=" + Text(s, "value"));
  Line(out, "Metric Strategies", Join(strategies, ", "));
  Line(out, "Algorithm", OrDash(AlgorithmText(Member(spec, "algorithm"))));
  Line(out, "Early Stopping",
       AlgorithmText(Member(spec, "earlyStopping")).empty() ? "<none>"
                                                            : AlgorithmText(Member(spec, "earlyStopping")));
  // Katib defaults parallelTrialCount to 3; the others have no default.
  Line(out, "Parallel Trials",
       Text(spec, "parallelTrialCount").empty() ? "3" : Text(spec, "parallelTrialCount"));
  Line(out, "Max Trials", OrDash(Text(spec, "maxTrialCount")));
  Line(out, "Max Failed Trials", OrDash(Text(spec, "maxFailedTrialCount")));
  std::vector<std::string> counts;
  for (const auto& [field, what] :
       std::vector<std::pair<const char*, const char*>>{{"trialsPending", "pending"},
                                                        {"trialsRunning", "running"},
                                                        {"trialsSucceeded", "succeeded"},
                                                        {"trialsFailed", "failed"},
                                                        {"trialsKilled", "killed"},
                                                        {"trialsEarlyStopped", "early stopped"},
                                                        {"trialMetricsUnavailable", "metrics unavailable"}}) {
    if (std::int64_t n = Int(status, field); n != 0) counts.push_back(Counted(n, what));
  }
  std::string total = std::to_string(Int(status, "trials"));
  Line(out, "Trial Counts", counts.empty() ? total : total + " (" + Join(counts, ", ") + ")");

  // The search space, in the spec's order; its names head the trial table.
  std::vector<std::string> parameters;
  out += "\nParameters:\n";
  std::vector<TableRow> space = {{"NAME", "TYPE", "FEASIBLE SPACE"}};
  for (const Json& p : Array(spec, "parameters")) {
    parameters.push_back(Text(p, "name"));
    space.push_back({Text(p, "name"), OrDash(Text(p, "parameterType")), FeasibleSpace(p)});
  }
  out += space.size() == 1 ? "  <none>\n" : IndentedTable(space);
  if (parameters.empty()) parameters = SharedTrialParameters(trials);

  out += "\nCurrent Optimal Trial:";
  const Json& optimal = Member(status, "currentOptimalTrial");
  if (Text(optimal, "bestTrialName").empty()) {
    out += "  <none>\n";
  } else {
    out += "\n";
    std::string body;
    Line(body, "Name", Text(optimal, "bestTrialName"), 14);
    Line(body, "Assignments", CompactAssignments(optimal, ", "), 14);
    out += Indented(body);
    std::vector<TableRow> metrics = {{"METRIC", "MIN", "MAX", "LATEST"}};
    for (const Json& m : Array(Member(optimal, "observation"), "metrics"))
      metrics.push_back(
          {Text(m, "name"), MetricText(m, "min"), MetricText(m, "max"), MetricText(m, "latest")});
    if (metrics.size() > 1) out += IndentedTable(metrics);
  }

  out += "\nTrials:";
  if (!trials_error.empty()) {
    out += "  " + Printable(trials_error) + "\n";
    return out;
  }
  if (trials.empty()) {
    out += "  <none>\n";
    return out;
  }
  out += "\n";
  TableRow header = {"TRIAL", "STATE"};
  header.insert(header.end(), parameters.begin(), parameters.end());
  header.push_back(metric.empty() ? "OBJECTIVE" : metric);
  std::vector<TableRow> rows = {header};
  for (const Json& trial : trials) {
    TableRow row = {NameOf(trial), KatibState(trial)};
    for (const auto& p : parameters) row.push_back(AssignedValue(trial, p));
    row.push_back(ObjectiveValue(objective, Member(Member(trial, "status"), "observation")));
    rows.push_back(std::move(row));
  }
  out += IndentedTable(rows);
  return out;
}

int FindKatibExperiments(Context& ctx, const std::vector<std::string>& names, KatibExperimentLookup& lookup) {
  auto discovered = ctx.client->Discover();
  if (!discovered.ok()) return internal::ReportUnreachable(ctx, discovered.status());
  lookup.type = nullptr;
  // A server whose discovery fails or lists no Experiment has only MLflow's.
  if (discovered->ok()) {
    for (const auto& r : ctx.client->resources())
      if (IsKatibExperimentType(r)) lookup.type = &r;
  }
  if (lookup.type == nullptr) {
    lookup.others = names;
    return kExitOk;
  }
  int result = kExitOk;
  for (const auto& name : names) {
    if (!ValidateDns1123Label(name, "name").ok()) {
      lookup.others.push_back(name);
      continue;
    }
    auto reply = ctx.client->Get(*lookup.type, ctx.ns, name);
    if (!reply.ok()) return internal::ReportUnreachable(ctx, reply.status());
    if (reply->ok()) {
      lookup.found.push_back(std::move(reply->body));
    } else if (reply->error->code == "NotFound") {
      lookup.others.push_back(name);
    } else {
      result = internal::ReportServerError(ctx, *reply->error);
    }
  }
  return result;
}

int DescribeKatibExperiments(Context& ctx, const std::vector<Json>& experiments) {
  const ApiResource* trial_type = nullptr;
  for (const auto& r : ctx.client->resources())
    if (IsKatibTrialType(r)) trial_type = &r;
  int result = kExitOk;
  bool first = true;
  for (const Json& experiment : experiments) {
    const Json& metadata = Member(experiment, "metadata");
    std::string ns = Text(metadata, "namespace");
    if (ns.empty()) ns = ctx.ns;
    std::vector<Json> trials;
    std::string trials_error;
    if (trial_type == nullptr) {
      trials_error = "<unknown: the server has no trials.kubeflow.org type>";
    } else {
      auto reply =
          ctx.client->List(*trial_type, ns, std::string(kKatibExperimentLabel) + "=" + NameOf(experiment));
      if (!reply.ok()) return internal::ReportUnreachable(ctx, reply.status());
      if (reply->ok()) {
        for (const Json& trial : Array(reply->body, "items")) trials.push_back(trial);
      } else {
        result = internal::ReportServerError(ctx, *reply->error,
                                             "cannot list the trials of " + NameOf(experiment));
        trials_error = "<unknown: they could not be listed>";
      }
    }
    SortTrialsByNumber(trials);
    if (!first) *ctx.out << "\n\n";
    first = false;
    *ctx.out << DescribeKatibExperimentText(experiment, trials, ctx.env->NowMicros(), trials_error)
             << std::flush;
  }
  return result;
}

}  // namespace ferry::cli
