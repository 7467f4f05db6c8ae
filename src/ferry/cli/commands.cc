#include "ferry/cli/commands.h"

#include <algorithm>

#include "ferry/cli/commands_internal.h"
#include "ferry/cli/manifest.h"
#include "ferry/cli/output.h"
#include "ferry/cli/tracking_views.h"
#include "ferry/cli/tuning_views.h"

namespace ferry::cli {
namespace internal {

int ReportUnreachable(Context& ctx, const Status& status) {
  *ctx.err << "error: " << status.message() << std::endl;
  return kExitUnreachable;
}

int UsageError(Context& ctx, std::string_view message) {
  *ctx.err << "error: " << message << std::endl;
  return kExitUsage;
}

int ReportServerError(Context& ctx, const api::client::ApiError& error, std::string_view context) {
  *ctx.err << FormatApiError(error, context) << std::endl;
  return kExitFailed;
}

int DiscoverTypes(Context& ctx) {
  auto reply = ctx.client->Discover();
  if (!reply.ok()) return ReportUnreachable(ctx, reply.status());
  if (!reply->ok()) return ReportServerError(ctx, *reply->error, "cannot list the server's resource types");
  return kExitOk;
}

int ResolveTarget(Context& ctx, std::string_view kind, const std::vector<std::string>& names,
                  Target& target) {
  std::string kind_part(kind);
  target.names = names;
  if (auto slash = kind.find('/'); slash != std::string_view::npos) {
    if (!names.empty()) return UsageError(ctx, "give either KIND/NAME or KIND NAME..., not both");
    kind_part = std::string(kind.substr(0, slash));
    std::string name(kind.substr(slash + 1));
    if (kind_part.empty() || name.empty())
      return UsageError(ctx, "\"" + std::string(kind) + "\" is not KIND/NAME");
    target.names = {name};
  }
  if (int rc = DiscoverTypes(ctx); rc != kExitOk) return rc;
  auto type = ResolveKind(ctx.client->resources(), kind_part);
  if (!type.ok()) return UsageError(ctx, type.status().message());
  target.type = *type;
  return kExitOk;
}

Result<std::string> ManifestNamespace(const Context& ctx, const ApiResource& type, const Json& object) {
  if (!type.namespaced) return std::string();
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return ctx.ns;
  auto it = metadata->find("namespace");
  if (it == metadata->end() || it->is_null()) return ctx.ns;
  if (!it->is_string()) {
    return InvalidArgument("metadata.namespace must be a string, got " + std::string(JsonTypeName(*it)),
                           "metadata.namespace");
  }
  std::string ns = it->get<std::string>();
  if (ns.empty()) return ctx.ns;
  if (ctx.ns_explicit && ns != ctx.ns) {
    return InvalidArgument("the object's namespace \"" + ns + "\" does not match --namespace \"" + ctx.ns +
                               "\"; pass --namespace=" + ns + " or remove one of them",
                           "metadata.namespace");
  }
  return ns;
}

Result<std::string> ManifestName(const Json& object) {
  const Json& metadata = object.contains("metadata") ? object["metadata"] : Json();
  if (!metadata.is_object()) {
    return InvalidArgument("metadata must be an object with a name", "metadata");
  }
  auto it = metadata.find("name");
  if (it == metadata.end() || !it->is_string() || it->get<std::string>().empty()) {
    return InvalidArgument("metadata.name is required and must be a string", "metadata.name");
  }
  return it->get<std::string>();
}

Result<const ApiResource*> ManifestType(const Context& ctx, const Json& object) {
  auto api_version = object.find("apiVersion");
  if (api_version == object.end() || !api_version->is_string()) {
    return InvalidArgument("apiVersion is required and must be a string", "apiVersion");
  }
  auto kind = object.find("kind");
  if (kind == object.end() || !kind->is_string()) {
    return InvalidArgument("kind is required and must be a string", "kind");
  }
  return FindByApiVersionKind(ctx.client->resources(), api_version->get<std::string>(),
                              kind->get<std::string>());
}

}  // namespace internal

using internal::ReportServerError;
using internal::ReportUnreachable;
using internal::UsageError;

int RunVersion(Context& ctx, std::string_view client_version) {
  *ctx.out << "Client Version: " << client_version << std::endl;
  auto reply = ctx.client->Version();
  if (!reply.ok()) {
    *ctx.err << "Server Version: unknown (" << reply.status().message() << ")" << std::endl;
    return kExitOk;
  }
  if (!reply->ok()) {
    *ctx.err << "Server Version: unknown (" << FormatApiError(*reply->error) << ")" << std::endl;
    return kExitOk;
  }
  const Json& body = reply->body;
  if (body.is_object() && body.contains("version") && body["version"].is_string()) {
    *ctx.out << "Server Version: " << body["version"].get<std::string>() << std::endl;
  } else {
    *ctx.err << "Server Version: unknown (the server's /version answer has no version string)" << std::endl;
  }
  return kExitOk;
}

int RunDescribe(Context& ctx, const DescribeOptions& options) {
  if (TrackingKind kind = TrackingKindOf(options.kind); kind != TrackingKind::kNone) {
    std::vector<std::string> names = options.names;
    if (auto slash = options.kind.find('/'); slash != std::string::npos)
      names.insert(names.begin(), options.kind.substr(slash + 1));
    if (names.empty()) return UsageError(ctx, "describe needs the NAME of the object");
    if (kind != TrackingKind::kExperiment) return DescribeTracking(ctx, kind, names);
    // A Katib Experiment of that name first, else the MLflow experiment.
    KatibExperimentLookup lookup;
    int result = FindKatibExperiments(ctx, names, lookup);
    if (result == kExitUnreachable) return result;
    if (!lookup.found.empty()) result = std::max(result, DescribeKatibExperiments(ctx, lookup.found));
    if (!lookup.others.empty()) {
      if (!lookup.found.empty()) *ctx.out << "\n\n";
      result = std::max(result, DescribeTracking(ctx, kind, lookup.others));
    }
    return result;
  }
  internal::Target target;
  if (int rc = internal::ResolveTarget(ctx, options.kind, options.names, target); rc != kExitOk) return rc;
  if (target.names.empty()) return UsageError(ctx, "describe needs the NAME of the object");
  int result = kExitOk;
  bool first = true;
  for (const auto& name : target.names) {
    auto reply = ctx.client->Get(*target.type, ctx.ns, name);
    if (!reply.ok()) return ReportUnreachable(ctx, reply.status());
    if (!reply->ok()) {
      result = ReportServerError(ctx, *reply->error);
      continue;
    }
    if (!first) *ctx.out << "\n\n";
    first = false;
    if (IsKatibExperimentType(*target.type)) {
      result = std::max(result, DescribeKatibExperiments(ctx, {reply->body}));
      continue;
    }
    *ctx.out << Describe(reply->body, ctx.env->NowMicros()) << std::flush;
  }
  return result;
}

int RunDelete(Context& ctx, const DeleteOptions& options) {
  struct Victim {
    const ApiResource* type;
    std::string ns;
    std::string name;
  };
  std::vector<Victim> victims;
  int result = kExitOk;
  if (!options.files.empty()) {
    if (!options.kind.empty() || !options.names.empty()) {
      return UsageError(ctx, "give either -f FILE or KIND NAME..., not both");
    }
    auto docs = ReadManifests(options.files, *ctx.in);
    if (!docs.ok()) return UsageError(ctx, docs.status().message());
    if (docs->empty()) return UsageError(ctx, "no objects passed to delete");
    if (int rc = internal::DiscoverTypes(ctx); rc != kExitOk) return rc;
    for (const auto& doc : *docs) {
      Status status = doc.error;
      Victim victim{};
      if (status.ok()) {
        auto type = internal::ManifestType(ctx, doc.object);
        auto ns = type.ok() ? internal::ManifestNamespace(ctx, **type, doc.object) : Result<std::string>("");
        auto name = internal::ManifestName(doc.object);
        status = !type.ok() ? type.status() : !ns.ok() ? ns.status() : name.status();
        if (status.ok()) victim = Victim{*type, *ns, *name};
      }
      if (!status.ok()) {
        *ctx.err << "error: " << doc.Where() << ": " << status.message() << std::endl;
        result = kExitFailed;
        continue;
      }
      victims.push_back(std::move(victim));
    }
  } else {
    if (options.kind.empty()) return UsageError(ctx, "delete needs KIND NAME... or -f FILE");
    internal::Target target;
    if (int rc = internal::ResolveTarget(ctx, options.kind, options.names, target); rc != kExitOk) return rc;
    if (target.names.empty()) return UsageError(ctx, "delete needs the NAME of at least one object");
    for (const auto& name : target.names) victims.push_back({target.type, ctx.ns, name});
  }
  for (const auto& victim : victims) {
    auto reply = ctx.client->Delete(*victim.type, victim.ns, victim.name);
    if (!reply.ok()) return ReportUnreachable(ctx, reply.status());
    if (!reply->ok()) {
      if (options.ignore_not_found && reply->error->code == "NotFound") continue;
      result = ReportServerError(ctx, *reply->error);
      continue;
    }
    *ctx.out << victim.type->DisplayName() << " \"" << victim.name << "\" deleted" << std::endl;
  }
  return result;
}

}  // namespace ferry::cli
