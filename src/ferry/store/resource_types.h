#pragma once
// ResourceTypes: the registry of kinds the native API serves, after
// Kubernetes API discovery. Each capability registers its kinds at start-up
// (server/ wires them); the API layer routes /api/v1/namespaces/{ns}/{plural}
// through it and validates every object before it reaches the ResourceStore.
//
// Thread-safety: Register() during start-up only; lookups are then safe from
// any thread.

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::store {

struct ResourceType {
  std::string group;                  // "" for the core group, "kubeflow.org", ...
  std::vector<std::string> versions;  // accepted, first is preferred: {"v1beta1"}
  std::string kind;                   // "Experiment"
  std::string plural;                 // "experiments"
  std::string singular;               // "experiment"
  std::vector<std::string> short_names;
  bool namespaced = true;
  // Top-level fields besides apiVersion/kind/metadata; default spec+status.
  std::set<std::string> body_fields = {"spec", "status"};
  // Validates the whole object (spec etc.) after metadata passed; returns
  // InvalidArgument naming the field ("spec.foo") for anything unsupported.
  std::function<Status(const Json& object)> validate;
  // Optional: checks an update against the stored object (both already
  // valid), e.g. a ConfigMap marked immutable; InvalidArgument naming the field.
  std::function<Status(const Json& old_object, const Json& new_object)> validate_update;

  // "configmaps" or "experiments.kubeflow.org": the ResourceStore key.
  std::string key() const { return group.empty() ? plural : plural + "." + group; }
  // "v1" or "kubeflow.org/v1beta1" for version `v`.
  std::string ApiVersion(const std::string& v) const { return group.empty() ? v : group + "/" + v; }
};

class ResourceTypes {
 public:
  // Adds a kind: InvalidArgument when its names are malformed, AlreadyExists
  // when its plural, singular, kind or a short name is taken by another kind
  // (Find would be ambiguous otherwise).
  Status Register(ResourceType type);

  // By plural, singular, kind, short name or key ("experiments.kubeflow.org"),
  // case-insensitively; nullptr when unknown.
  const ResourceType* Find(std::string_view name) const;
  // By exact apiVersion ("kubeflow.org/v1beta1") and kind; nullptr when unknown.
  const ResourceType* FindByApiVersionKind(std::string_view api_version, std::string_view kind) const;
  // Like FindByApiVersionKind, but explains a miss: InvalidArgument naming
  // "kind" or "apiVersion" and listing the versions served for that kind.
  Result<const ResourceType*> ResolveApiVersionKind(std::string_view api_version,
                                                    std::string_view kind) const;
  const std::vector<ResourceType>& all() const { return types_; }

  // Checks an object submitted for `type`: apiVersion/kind match, only known
  // top-level and metadata fields, name (DNS-1123), namespace, labels and
  // annotations well-formed, then type.validate. Fields are named in errors.
  // `url_namespace`/`url_name`, when non-empty, must agree with metadata.
  Status ValidateObject(const ResourceType& type, const Json& object, std::string_view url_namespace,
                        std::string_view url_name) const;
  // Runs type.validate_update, if any, for a replace or patch of `old_object`
  // by `new_object` (call ValidateObject on `new_object` first).
  Status ValidateUpdate(const ResourceType& type, const Json& old_object, const Json& new_object) const;

 private:
  std::vector<ResourceType> types_;
};

// The kinds of the foundation: ConfigMap (v1, top-level `data` and
// `immutable`; an immutable ConfigMap's data cannot change, nor can it become
// mutable again, as in Kubernetes).
void RegisterCoreTypes(ResourceTypes& types);

}  // namespace ferry::store
