#include "ferry/store/resource_types.h"

#include <cassert>
#include <cstddef>
#include <string_view>
#include <utility>

#include "ferry/common/names.h"
#include "ferry/common/time.h"

namespace ferry::store {
namespace {

constexpr std::size_t kMaxAnnotationsBytes = 256 * 1024;     // Kubernetes' TotalAnnotationSizeLimitB
constexpr std::size_t kMaxConfigMapDataBytes = 1024 * 1024;  // Kubernetes' ConfigMap limit
constexpr std::size_t kMaxConfigMapKeyLength = 253;

// Renders untrusted text for an error message: JSON-quoted, bounded, and safe
// for any bytes (invalid UTF-8 is replaced rather than thrown on).
std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 100;
  std::string text(s.substr(0, kMax));
  std::string out = Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > kMax) out += "...";
  return out;
}

bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

// "data.foo" for identifier-like keys, `metadata.labels["app/x"]` otherwise,
// so every key gives an unambiguous path. An empty prefix is the top level.
std::string FieldPath(std::string_view prefix, std::string_view key) {
  if (IsIdentifier(key))
    return prefix.empty() ? std::string(key) : std::string(prefix) + "." + std::string(key);
  return std::string(prefix) + "[" +
         Json(std::string(key)).dump(-1, ' ', false, Json::error_handler_t::replace) + "]";
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// JSON null reads as "not set", as Kubernetes decodes it (YAML `labels:`
// with nothing under it is null).
const Json* OptionalField(const Json& object, std::string_view key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ExpectString(const Json& value, const std::string& field) {
  if (!value.is_string())
    return InvalidArgument(field + " must be a string, got " + std::string(JsonTypeName(value)), field);
  return Status::OK();
}

Status ValidateStringMap(const Json& map, const std::string& field, bool label_values,
                         std::size_t* total_bytes) {
  if (!map.is_object())
    return InvalidArgument(field + " must be an object of strings, got " + std::string(JsonTypeName(map)),
                           field);
  for (const auto& [key, value] : map.items()) {
    std::string path = FieldPath(field, key);
    RETURN_IF_ERROR(ValidateLabelKey(key, path));
    RETURN_IF_ERROR(ExpectString(value, path));
    const std::string& text = value.get_ref<const std::string&>();
    if (label_values) RETURN_IF_ERROR(ValidateLabelValue(text, path));
    *total_bytes += key.size() + text.size();
  }
  return Status::OK();
}

Status ValidateMetadata(const ResourceType& type, const Json& object, std::string_view url_namespace,
                        std::string_view url_name) {
  auto it = object.find("metadata");
  if (it == object.end() || it->is_null())
    return InvalidArgument("metadata is required (metadata.name names the object)", "metadata");
  const Json& metadata = *it;
  if (!metadata.is_object())
    return InvalidArgument("metadata must be an object, got " + std::string(JsonTypeName(metadata)),
                           "metadata");
  for (const auto& [key, value] : metadata.items()) {
    if (key == "name" || key == "namespace" || key == "uid" || key == "labels" || key == "annotations" ||
        key == "resourceVersion" || key == "creationTimestamp")
      continue;
    std::string path = FieldPath("metadata", key);
    if (key == "generateName")
      return InvalidArgument("metadata.generateName is not supported; set metadata.name", path);
    return InvalidArgument("unknown field " + Quote(path), path);
  }

  const Json* name = OptionalField(metadata, "name");
  if (name == nullptr) return InvalidArgument("metadata.name is required", "metadata.name");
  RETURN_IF_ERROR(ExpectString(*name, "metadata.name"));
  const std::string& name_text = name->get_ref<const std::string&>();
  RETURN_IF_ERROR(ValidateDns1123Label(name_text, "metadata.name"));
  if (!url_name.empty() && name_text != url_name)
    return InvalidArgument(
        "metadata.name " + Quote(name_text) + " does not match the name in the URL " + Quote(url_name),
        "metadata.name");

  if (const Json* ns = OptionalField(metadata, "namespace")) {
    RETURN_IF_ERROR(ExpectString(*ns, "metadata.namespace"));
    const std::string& ns_text = ns->get_ref<const std::string&>();
    if (!type.namespaced && !ns_text.empty())
      return InvalidArgument(type.kind + " is not namespaced; remove metadata.namespace",
                             "metadata.namespace");
    if (type.namespaced && !ns_text.empty()) {
      RETURN_IF_ERROR(ValidateDns1123Label(ns_text, "metadata.namespace"));
      if (!url_namespace.empty() && ns_text != url_namespace)
        return InvalidArgument("metadata.namespace " + Quote(ns_text) +
                                   " does not match the namespace in the URL " + Quote(url_namespace),
                               "metadata.namespace");
    }
  }

  if (const Json* uid = OptionalField(metadata, "uid")) RETURN_IF_ERROR(ExpectString(*uid, "metadata.uid"));

  if (const Json* rv = OptionalField(metadata, "resourceVersion")) {
    RETURN_IF_ERROR(ExpectString(*rv, "metadata.resourceVersion"));
    const std::string& text = rv->get_ref<const std::string&>();
    bool digits = text.size() <= 18;  // fits an int64
    for (char c : text) digits = digits && c >= '0' && c <= '9';
    if (!digits)
      return InvalidArgument(
          "metadata.resourceVersion " + Quote(text) + " must be a decimal number, as returned by the server",
          "metadata.resourceVersion");
  }

  if (const Json* ts = OptionalField(metadata, "creationTimestamp")) {
    RETURN_IF_ERROR(ExpectString(*ts, "metadata.creationTimestamp"));
    Status parsed = ParseRfc3339(ts->get_ref<const std::string&>()).status();
    if (!parsed.ok())
      return InvalidArgument("metadata.creationTimestamp: " + parsed.message(), "metadata.creationTimestamp");
  }

  std::size_t total = 0;
  if (const Json* labels = OptionalField(metadata, "labels"))
    RETURN_IF_ERROR(ValidateStringMap(*labels, "metadata.labels", /*label_values=*/true, &total));
  total = 0;
  if (const Json* annotations = OptionalField(metadata, "annotations")) {
    RETURN_IF_ERROR(ValidateStringMap(*annotations, "metadata.annotations", /*label_values=*/false, &total));
    if (total > kMaxAnnotationsBytes)
      return InvalidArgument("metadata.annotations total " + std::to_string(total) +
                                 " bytes, more than the limit of " + std::to_string(kMaxAnnotationsBytes),
                             "metadata.annotations");
  }
  return Status::OK();
}

std::string AcceptedApiVersions(const ResourceType& type) {
  std::string out;
  for (const auto& v : type.versions) {
    if (!out.empty()) out += ", ";
    out += type.ApiVersion(v);
  }
  return out;
}

Status ValidateConfigMapKey(std::string_view key, const std::string& path) {
  if (key.empty()) return InvalidArgument(path + ": a key must not be empty", path);
  if (key.size() > kMaxConfigMapKeyLength)
    return InvalidArgument(path + ": a key must be no more than 253 characters", path);
  for (char c : key) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '_';
    if (!ok) return InvalidArgument(path + ": a key must consist of letters, digits, '-', '_' or '.'", path);
  }
  // Keys become file names when mounted; Kubernetes forbids these for that reason.
  if (key == "." || key == ".." || key.substr(0, 2) == "..")
    return InvalidArgument(path + ": a key must not be '.' or '..' or start with '..'", path);
  return Status::OK();
}

Status ValidateConfigMap(const Json& object) {
  if (const Json* data = OptionalField(object, "data")) {
    if (!data->is_object())
      return InvalidArgument("data must be an object of strings, got " + std::string(JsonTypeName(*data)),
                             "data");
    std::size_t total = 0;
    for (const auto& [key, value] : data->items()) {
      std::string path = FieldPath("data", key);
      RETURN_IF_ERROR(ValidateConfigMapKey(key, path));
      RETURN_IF_ERROR(ExpectString(value, path));
      total += key.size() + value.get_ref<const std::string&>().size();
    }
    if (total > kMaxConfigMapDataBytes)
      return InvalidArgument("data total " + std::to_string(total) + " bytes, more than the limit of " +
                                 std::to_string(kMaxConfigMapDataBytes),
                             "data");
  }
  if (const Json* immutable = OptionalField(object, "immutable")) {
    if (!immutable->is_boolean())
      return InvalidArgument("immutable must be a boolean, got " + std::string(JsonTypeName(*immutable)),
                             "immutable");
  }
  return Status::OK();
}

bool IsImmutable(const Json& object) {
  const Json* immutable = OptionalField(object, "immutable");
  return immutable != nullptr && immutable->is_boolean() && immutable->get<bool>();
}

Json ConfigMapData(const Json& object) {
  const Json* data = OptionalField(object, "data");
  return data == nullptr ? Json::object() : *data;
}

Status ValidateConfigMapUpdate(const Json& old_object, const Json& new_object) {
  if (!IsImmutable(old_object)) return Status::OK();
  if (!IsImmutable(new_object))
    return InvalidArgument("immutable: field is immutable when `immutable` is set", "immutable");
  if (ConfigMapData(old_object) != ConfigMapData(new_object))
    return InvalidArgument("data: field is immutable when `immutable` is set", "data");
  return Status::OK();
}

}  // namespace

Status ResourceTypes::Register(ResourceType type) {
  if (!type.group.empty()) RETURN_IF_ERROR(ValidateDns1123Subdomain(type.group, "group"));
  if (type.versions.empty())
    return InvalidArgument("resource type " + type.kind + " has no versions", "versions");
  for (const auto& v : type.versions) RETURN_IF_ERROR(ValidateDns1123Label(v, "versions"));
  if (!IsIdentifier(type.kind))
    return InvalidArgument("kind " + Quote(type.kind) + " is not an identifier", "kind");
  RETURN_IF_ERROR(ValidateDns1123Label(type.plural, "plural"));
  RETURN_IF_ERROR(ValidateDns1123Label(type.singular, "singular"));
  for (const auto& s : type.short_names) RETURN_IF_ERROR(ValidateDns1123Label(s, "short_names"));
  for (const auto& field : type.body_fields) {
    if (field == "apiVersion" || field == "kind" || field == "metadata")
      return InvalidArgument("body field " + Quote(field) + " is reserved", "body_fields");
  }

  std::vector<std::string> names = {type.plural, type.singular, ToLower(type.kind), type.key()};
  names.insert(names.end(), type.short_names.begin(), type.short_names.end());
  for (const auto& name : names) {
    if (const ResourceType* other = Find(name))
      return AlreadyExists("resource name " + Quote(name) + " of kind " + type.kind +
                           " is already used by kind " + other->kind);
  }
  types_.push_back(std::move(type));
  return Status::OK();
}

const ResourceType* ResourceTypes::Find(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& type : types_) {
    if (lower == type.plural || lower == type.singular || lower == ToLower(type.kind) || lower == type.key())
      return &type;
    for (const auto& s : type.short_names)
      if (lower == s) return &type;
  }
  return nullptr;
}

const ResourceType* ResourceTypes::FindByApiVersionKind(std::string_view api_version,
                                                        std::string_view kind) const {
  for (const auto& type : types_) {
    if (type.kind != kind) continue;
    for (const auto& v : type.versions)
      if (type.ApiVersion(v) == api_version) return &type;
  }
  return nullptr;
}

Result<const ResourceType*> ResourceTypes::ResolveApiVersionKind(std::string_view api_version,
                                                                 std::string_view kind) const {
  if (api_version.empty()) return InvalidArgument("apiVersion is required", "apiVersion");
  if (kind.empty()) return InvalidArgument("kind is required", "kind");
  if (const ResourceType* type = FindByApiVersionKind(api_version, kind)) return type;
  std::string_view group = api_version.find('/') == std::string_view::npos
                               ? std::string_view()
                               : api_version.substr(0, api_version.find('/'));
  for (const auto& type : types_) {
    if (type.kind == kind && type.group == group)
      return InvalidArgument("apiVersion " + Quote(api_version) + " is not served for kind " + type.kind +
                                 "; use " + AcceptedApiVersions(type),
                             "apiVersion");
  }
  return InvalidArgument("no kind " + Quote(kind) + " is registered for apiVersion " + Quote(api_version),
                         "kind");
}

Status ResourceTypes::ValidateObject(const ResourceType& type, const Json& object,
                                     std::string_view url_namespace, std::string_view url_name) const {
  if (!object.is_object())
    return InvalidArgument("a " + type.kind + " must be a JSON object, got " +
                           std::string(JsonTypeName(object)));

  const Json* api_version = OptionalField(object, "apiVersion");
  if (api_version == nullptr)
    return InvalidArgument("apiVersion is required; use " + AcceptedApiVersions(type), "apiVersion");
  RETURN_IF_ERROR(ExpectString(*api_version, "apiVersion"));
  bool served = false;
  for (const auto& v : type.versions) served = served || type.ApiVersion(v) == *api_version;
  if (!served)
    return InvalidArgument("apiVersion " + Quote(api_version->get_ref<const std::string&>()) +
                               " is not served for kind " + type.kind + "; use " + AcceptedApiVersions(type),
                           "apiVersion");

  const Json* kind = OptionalField(object, "kind");
  if (kind == nullptr) return InvalidArgument("kind is required; use " + type.kind, "kind");
  RETURN_IF_ERROR(ExpectString(*kind, "kind"));
  if (*kind != type.kind)
    return InvalidArgument("kind " + Quote(kind->get_ref<const std::string&>()) + " does not match " +
                               type.kind + ", the kind of " + type.plural,
                           "kind");

  for (const auto& [key, value] : object.items()) {
    if (key == "apiVersion" || key == "kind" || key == "metadata" || type.body_fields.count(key)) continue;
    std::string path = FieldPath("", key);
    return InvalidArgument("unknown field " + Quote(path) + " in " + type.kind, path);
  }

  RETURN_IF_ERROR(ValidateMetadata(type, object, url_namespace, url_name));
  if (type.validate) RETURN_IF_ERROR(type.validate(object));
  return Status::OK();
}

Status ResourceTypes::ValidateUpdate(const ResourceType& type, const Json& old_object,
                                     const Json& new_object) const {
  if (!type.validate_update) return Status::OK();
  return type.validate_update(old_object, new_object);
}

void RegisterCoreTypes(ResourceTypes& types) {
  ResourceType config_map;
  config_map.group = "";
  config_map.versions = {"v1"};
  config_map.kind = "ConfigMap";
  config_map.plural = "configmaps";
  config_map.singular = "configmap";
  config_map.short_names = {"cm"};
  config_map.body_fields = {"data", "immutable"};
  config_map.validate = ValidateConfigMap;
  config_map.validate_update = ValidateConfigMapUpdate;
  // Core types are registered first, so their names cannot be taken yet.
  [[maybe_unused]] Status registered = types.Register(std::move(config_map));
  assert(registered.ok());
}

}  // namespace ferry::store
