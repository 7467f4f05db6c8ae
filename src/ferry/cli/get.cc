#include <algorithm>

#include "ferry/cli/commands.h"
#include "ferry/cli/commands_internal.h"
#include "ferry/cli/output.h"
#include "ferry/cli/pipeline_views.h"
#include "ferry/cli/tracking_views.h"
#include "ferry/cli/tuning_views.h"
#include "ferry/common/names.h"

namespace ferry::cli {
namespace {

std::string ResourceVersionOf(const Json& document) {
  if (!document.is_object() || !document.contains("metadata")) return {};
  const Json& metadata = document["metadata"];
  if (!metadata.is_object() || !metadata.contains("resourceVersion") ||
      !metadata["resourceVersion"].is_string()) {
    return {};
  }
  return metadata["resourceVersion"].get<std::string>();
}

std::string NameOf(const Json& object) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) return {};
  const Json& metadata = object["metadata"];
  return metadata.contains("name") && metadata["name"].is_string() ? metadata["name"].get<std::string>() : "";
}

// Prints objects one at a time in the chosen format: the initial result of
// `get`, then each watch event.
class Printer {
 public:
  Printer(Context& ctx, const ApiResource& type, const GetOptions& options, TableLayout layout)
      : ctx_(ctx), type_(type), options_(options), layout_(std::move(layout)) {}

  // The initial result: one object when `single`, else a List.
  void PrintResult(const std::vector<Json>& items, bool single, const std::string& resource_version) {
    const std::string& format = options_.output;
    if (format == "table") {
      std::vector<TableRow> rows = {layout_.header};
      for (const auto& item : items) rows.push_back(layout_.row(item, Now()));
      widths_ = ColumnWidths(rows);
      if (items.empty() && !options_.watch) return;
      for (const auto& row : rows) *ctx_.out << RenderRow(row, widths_);
    } else if (format == "name") {
      for (const auto& item : items) PrintObject(item);
    } else if (single && items.size() == 1) {
      PrintObject(items.front());
    } else {
      Json list = {{"apiVersion", "v1"},
                   {"kind", "List"},
                   {"items", items},
                   {"metadata", {{"resourceVersion", resource_version}}}};
      *ctx_.out << (format == "json" ? FormatJson(list) : ToYaml(list));
    }
    *ctx_.out << std::flush;
  }

  // One object as a table row (under the initial table's widths), a name,
  // or a JSON/YAML document.
  void PrintObject(const Json& object) {
    const std::string& format = options_.output;
    if (format == "table") {
      *ctx_.out << RenderRow(layout_.row(object, Now()), widths_);
    } else if (format == "name") {
      *ctx_.out << ObjectRef(type_, NameOf(object)) << "\n";
    } else if (format == "json") {
      *ctx_.out << FormatJson(object);
    } else {
      // Successive watch events form one multi-document YAML stream.
      if (yaml_documents_++ > 0) *ctx_.out << "---\n";
      *ctx_.out << ToYaml(object);
    }
    *ctx_.out << std::flush;
  }

 private:
  std::int64_t Now() const { return ctx_.env->NowMicros(); }

  Context& ctx_;
  const ApiResource& type_;
  const GetOptions& options_;
  TableLayout layout_;
  std::vector<std::size_t> widths_;
  int yaml_documents_ = 0;
};

// The table's columns: kind-specific for Katib's kinds. Trials get a column
// per parameter when they are one experiment's, unless a watch may bring
// another experiment's.
TableLayout LayoutFor(const ApiResource& type, const std::vector<Json>& items, const GetOptions& options,
                      bool with_namespace) {
  if (IsKatibExperimentType(type)) return ExperimentTableLayout(with_namespace);
  if (IsKatibTrialType(type)) {
    std::vector<std::string> parameters;
    if (!options.watch || !options.experiment.empty()) parameters = SharedTrialParameters(items);
    return TrialTableLayout(parameters, with_namespace);
  }
  return DefaultTableLayout(type, with_namespace);
}

// `get` of a native type: the named objects, else the list; then the watch.
int GetObjects(Context& ctx, const ApiResource& type, const std::vector<std::string>& names,
               const GetOptions& options) {
  std::string selector = options.selector;
  if (!options.experiment.empty()) {
    if (!IsKatibTrialType(type))
      return internal::UsageError(ctx, "--experiment applies to runs, pipelineruns and trials only");
    if (!names.empty())
      return internal::UsageError(ctx, "--experiment lists an experiment's trials; it takes no trial names");
    if (Status valid = ValidateLabelValue(options.experiment, "--experiment"); !valid.ok())
      return internal::UsageError(ctx, valid.message());
    // The label the experiment controller puts on its trials.
    selector += (selector.empty() ? "" : ",") + std::string(kKatibExperimentLabel) + "=" + options.experiment;
  }
  if (!names.empty() && options.all_namespaces) {
    return internal::UsageError(ctx, "a resource cannot be retrieved by name across all namespaces (-A)");
  }
  if (!names.empty() && !options.selector.empty()) {
    return internal::UsageError(ctx, "a label selector (-l) cannot be combined with resource names");
  }
  if (options.watch && names.size() > 1) {
    return internal::UsageError(ctx, "--watch takes at most one NAME");
  }
  const bool all_namespaces = options.all_namespaces && type.namespaced;
  const std::string ns = all_namespaces || !type.namespaced ? "" : ctx.ns;

  int result = kExitOk;
  std::vector<Json> items;
  std::string resource_version;
  if (names.empty()) {
    auto reply = ctx.client->List(type, ns, selector);
    if (!reply.ok()) return internal::ReportUnreachable(ctx, reply.status());
    if (!reply->ok()) return internal::ReportServerError(ctx, *reply->error);
    items = reply->body["items"].get<std::vector<Json>>();
    if (IsKatibTrialType(type)) SortTrialsByNumber(items);  // exp-2 before exp-10
    resource_version = ResourceVersionOf(reply->body);
  } else {
    for (const auto& name : names) {
      auto reply = ctx.client->Get(type, ns, name);
      if (!reply.ok()) return internal::ReportUnreachable(ctx, reply.status());
      if (!reply->ok()) {
        result = internal::ReportServerError(ctx, *reply->error);
        continue;
      }
      resource_version = ResourceVersionOf(reply->body);
      items.push_back(std::move(reply->body));
    }
  }

  Printer printer(ctx, type, options, LayoutFor(type, items, options, all_namespaces));
  if (items.empty() && names.empty() && !options.watch &&
      (options.output == "table" || options.output == "name")) {
    *ctx.err << (ns.empty() ? std::string("No resources found")
                            : "No resources found in " + ns + " namespace")
             << "." << std::endl;
  }
  if (!items.empty() || names.empty() || options.watch) {
    printer.PrintResult(items, names.size() == 1, resource_version);
  }
  if (!options.watch || result != kExitOk) return result;

  const std::string only_name = names.empty() ? "" : names.front();
  auto watched = ctx.client->Watch(type, ns, selector, resource_version, [&](const WatchEvent& event) {
    if (!only_name.empty() && NameOf(event.object) != only_name) return true;
    if (event.type != "ADDED" && event.type != "MODIFIED" && event.type != "DELETED") {
      *ctx.err << "warning: ignoring watch event of unknown type \"" << event.type << "\"" << std::endl;
      return true;
    }
    printer.PrintObject(event.object);
    return true;
  });
  if (!watched.ok()) return internal::ReportUnreachable(ctx, watched.status());
  if (!watched->ok()) return internal::ReportServerError(ctx, *watched->error);
  return kExitOk;
}

// `get experiment NAME...`: the Katib Experiments of those names, then the
// MLflow experiments of the others.
int GetExperimentsByName(Context& ctx, const std::vector<std::string>& names, const GetOptions& options) {
  KatibExperimentLookup lookup;
  int result = FindKatibExperiments(ctx, names, lookup);
  if (result == kExitUnreachable) return result;
  if (!lookup.found.empty()) {
    std::vector<std::string> katib_names;
    for (const Json& e : lookup.found) katib_names.push_back(NameOf(e));
    GetOptions katib = options;
    katib.kind = lookup.type->QualifiedPlural();
    katib.names = katib_names;
    katib.filter.clear();  // as for MLflow experiments by name: they select nothing
    katib.limit = 0;
    result = std::max(result, GetObjects(ctx, *lookup.type, katib_names, katib));
  }
  if (!lookup.others.empty()) {
    GetOptions mlflow = options;
    mlflow.kind = "experiments";
    mlflow.names = lookup.others;
    result = std::max(result, GetTracking(ctx, TrackingKind::kExperiment, lookup.others, mlflow));
  }
  return result;
}

}  // namespace

int RunGet(Context& ctx, const GetOptions& options) {
  // Pipeline runs: their own kind, and `get run ID` when every ID is a
  // pipeline run's UUID (tracking run ids have no dashes).
  std::vector<std::string> names = options.names;
  if (auto slash = options.kind.find('/'); slash != std::string::npos)
    names.insert(names.begin(), options.kind.substr(slash + 1));
  if (IsPipelineRunKind(options.kind)) return GetPipelineRuns(ctx, names, options);
  if (TrackingKind kind = TrackingKindOf(options.kind); kind != TrackingKind::kNone) {
    if (kind == TrackingKind::kRun && !names.empty() &&
        std::all_of(names.begin(), names.end(), IsPipelineRunId))
      return GetPipelineRuns(ctx, names, options);
    if (kind == TrackingKind::kExperiment && !names.empty()) return GetExperimentsByName(ctx, names, options);
    return GetTracking(ctx, kind, options.names, options);
  }
  if (!options.filter.empty() || options.limit != 0)
    return internal::UsageError(
        ctx, "--filter and --limit apply to experiments, runs, models and pipelineruns only");
  internal::Target target;
  if (int rc = internal::ResolveTarget(ctx, options.kind, options.names, target); rc != kExitOk) return rc;
  return GetObjects(ctx, *target.type, target.names, options);
}

}  // namespace ferry::cli
