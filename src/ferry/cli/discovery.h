#pragma once
// The resource types a server serves, as its discovery document
// (`GET /api/v1`) lists them, and how the CLI resolves what a user types
// ("cm", "configmaps", "ConfigMap", "experiments.kubeflow.org") or what a
// manifest declares (apiVersion + kind) to one of them.
//
// Thread-safety: values and pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::cli {

struct ApiResource {
  std::string name;           // plural, the URL segment: "configmaps"
  std::string singular_name;  // "configmap"
  std::string kind;           // "ConfigMap"
  std::string group;          // "" for the core group
  std::string version;        // "v1"
  std::string api_version;    // "v1", "kubeflow.org/v1beta1"
  bool namespaced = true;
  std::vector<std::string> short_names;

  // "configmap" or "experiment.kubeflow.org": the type as `apply` and `-o name` print it.
  std::string DisplayName() const;
  // "configmaps" or "experiments.kubeflow.org": the type as error messages name it.
  std::string QualifiedPlural() const;
};

// Reads an APIResourceList document; errors name the offending entry.
Result<std::vector<ApiResource>> ParseDiscovery(const Json& document);

// Finds the type a user named by plural, singular, kind or short name, case
// insensitively, optionally qualified by group ("experiments.kubeflow.org").
// An unknown or ambiguous name is an InvalidArgument that lists the choices.
Result<const ApiResource*> ResolveKind(const std::vector<ApiResource>& resources, std::string_view name);

// Finds the type a manifest declares; NotFound, listing the known types, when none matches.
Result<const ApiResource*> FindByApiVersionKind(const std::vector<ApiResource>& resources,
                                                std::string_view api_version, std::string_view kind);

// "configmaps (cm), experiments.kubeflow.org": the known types for error messages.
std::string KnownKinds(const std::vector<ApiResource>& resources);

}  // namespace ferry::cli
