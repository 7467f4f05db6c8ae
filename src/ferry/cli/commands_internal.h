#pragma once
// Helpers the verbs share (commands.cc, apply.cc, get.cc); not part of the
// CLI's interface. Each helper that can fail prints why to ctx.err and
// returns the exit code, kExitOk meaning "carry on".

#include <string>
#include <string_view>
#include <vector>

#include "ferry/cli/commands.h"

namespace ferry::cli::internal {

// Prints a failure to get any answer from the server; returns kExitUnreachable.
int ReportUnreachable(Context& ctx, const Status& status);
// Prints "error: <message>"; returns kExitUsage.
int UsageError(Context& ctx, std::string_view message);
// Prints the server's error, after `context` when given; returns kExitFailed.
int ReportServerError(Context& ctx, const api::client::ApiError& error, std::string_view context = {});

// Fetches the server's resource types into ctx.client->resources().
int DiscoverTypes(Context& ctx);

// The type and names a verb acts on, from "KIND NAME..." or "KIND/NAME".
struct Target {
  const ApiResource* type = nullptr;
  std::vector<std::string> names;
};
// Discovers and resolves `kind`; an unknown kind is a usage error naming the known ones.
int ResolveTarget(Context& ctx, std::string_view kind, const std::vector<std::string>& names, Target& target);

// The namespace an object of a manifest lives in: its metadata.namespace,
// else -n. Empty for cluster-scoped types. Fails when metadata.namespace is
// not a string or contradicts an explicit -n.
Result<std::string> ManifestNamespace(const Context& ctx, const ApiResource& type, const Json& object);
// metadata.name of a manifest object; InvalidArgument naming the field when missing.
Result<std::string> ManifestName(const Json& object);
// The type a manifest object declares through apiVersion and kind.
Result<const ApiResource*> ManifestType(const Context& ctx, const Json& object);

}  // namespace ferry::cli::internal
