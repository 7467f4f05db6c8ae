#include "ferry/cli/discovery.h"

#include <algorithm>
#include <cctype>

namespace ferry::cli {
namespace {

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Reads an optional string member; InvalidArgument naming `path` when it has another type.
Status ReadString(const Json& object, const char* key, const std::string& path, std::string& out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return Status::OK();
  if (!it->is_string()) {
    return InvalidArgument(path + "." + key + " must be a string, got " + std::string(JsonTypeName(*it)),
                           path + "." + key);
  }
  out = it->get<std::string>();
  return Status::OK();
}

bool NamedBy(const ApiResource& r, const std::string& lower) {
  if (lower == r.name || lower == r.singular_name || lower == ToLower(r.kind)) return true;
  return std::any_of(r.short_names.begin(), r.short_names.end(),
                     [&](const std::string& s) { return ToLower(s) == lower; });
}

}  // namespace

std::string ApiResource::DisplayName() const {
  return group.empty() ? singular_name : singular_name + "." + group;
}

std::string ApiResource::QualifiedPlural() const { return group.empty() ? name : name + "." + group; }

Result<std::vector<ApiResource>> ParseDiscovery(const Json& document) {
  if (!document.is_object()) {
    return InvalidArgument("discovery document must be an object, got " +
                           std::string(JsonTypeName(document)));
  }
  auto list = document.find("resources");
  if (list == document.end() || !list->is_array()) {
    return InvalidArgument("discovery document has no \"resources\" array", "resources");
  }
  std::vector<ApiResource> out;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const Json& item = (*list)[i];
    const std::string path = "resources[" + std::to_string(i) + "]";
    if (!item.is_object()) return InvalidArgument(path + " must be an object", path);
    ApiResource r;
    RETURN_IF_ERROR(ReadString(item, "name", path, r.name));
    RETURN_IF_ERROR(ReadString(item, "singularName", path, r.singular_name));
    RETURN_IF_ERROR(ReadString(item, "kind", path, r.kind));
    RETURN_IF_ERROR(ReadString(item, "group", path, r.group));
    RETURN_IF_ERROR(ReadString(item, "version", path, r.version));
    RETURN_IF_ERROR(ReadString(item, "apiVersion", path, r.api_version));
    if (r.name.empty()) return InvalidArgument(path + ".name is missing", path + ".name");
    if (r.kind.empty()) return InvalidArgument(path + ".kind is missing", path + ".kind");
    // Subresources ("configmaps/status") are not types of their own.
    if (r.name.find('/') != std::string::npos) continue;
    if (r.singular_name.empty()) r.singular_name = ToLower(r.kind);
    if (r.api_version.empty()) {
      if (r.version.empty()) {
        return InvalidArgument(path + " has neither apiVersion nor version", path + ".apiVersion");
      }
      r.api_version = r.group.empty() ? r.version : r.group + "/" + r.version;
    } else if (r.version.empty()) {
      auto slash = r.api_version.find('/');
      r.version = slash == std::string::npos ? r.api_version : r.api_version.substr(slash + 1);
      if (slash != std::string::npos) r.group = r.api_version.substr(0, slash);
    }
    if (auto it = item.find("namespaced"); it != item.end() && !it->is_null()) {
      if (!it->is_boolean())
        return InvalidArgument(path + ".namespaced must be a boolean", path + ".namespaced");
      r.namespaced = it->get<bool>();
    }
    if (auto it = item.find("shortNames"); it != item.end() && !it->is_null()) {
      if (!it->is_array())
        return InvalidArgument(path + ".shortNames must be an array", path + ".shortNames");
      for (const Json& s : *it) {
        if (!s.is_string()) {
          return InvalidArgument(path + ".shortNames must hold strings", path + ".shortNames");
        }
        r.short_names.push_back(s.get<std::string>());
      }
    }
    r.name = ToLower(r.name);
    r.singular_name = ToLower(r.singular_name);
    out.push_back(std::move(r));
  }
  return out;
}

Result<const ApiResource*> ResolveKind(const std::vector<ApiResource>& resources, std::string_view name) {
  const std::string lower = ToLower(name);
  std::vector<const ApiResource*> matches;
  for (const auto& r : resources) {
    if (NamedBy(r, lower)) matches.push_back(&r);
  }
  if (matches.empty()) {
    // "experiments.kubeflow.org": a name qualified by its group.
    for (std::size_t dot = lower.find('.'); dot != std::string::npos; dot = lower.find('.', dot + 1)) {
      const std::string head = lower.substr(0, dot);
      const std::string group = lower.substr(dot + 1);
      for (const auto& r : resources) {
        if (ToLower(r.group) == group && NamedBy(r, head)) matches.push_back(&r);
      }
      if (!matches.empty()) break;
    }
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    return InvalidArgument("the server doesn't have a resource type \"" + std::string(name) +
                           "\"; known types: " + KnownKinds(resources));
  }
  std::string choices;
  for (const auto* r : matches) {
    if (!choices.empty()) choices += ", ";
    choices += r->QualifiedPlural();
  }
  return InvalidArgument("resource type \"" + std::string(name) + "\" is ambiguous; use one of: " + choices);
}

Result<const ApiResource*> FindByApiVersionKind(const std::vector<ApiResource>& resources,
                                                std::string_view api_version, std::string_view kind) {
  for (const auto& r : resources) {
    if (r.api_version == api_version && r.kind == kind) return &r;
  }
  return NotFound("the server has no resource type for apiVersion \"" + std::string(api_version) +
                  "\" and kind \"" + std::string(kind) + "\"; known types: " + KnownKinds(resources));
}

std::string KnownKinds(const std::vector<ApiResource>& resources) {
  if (resources.empty()) return "(none)";
  std::vector<std::string> names;
  for (const auto& r : resources) {
    std::string entry = r.QualifiedPlural();
    if (!r.short_names.empty()) {
      entry += " (";
      for (std::size_t i = 0; i < r.short_names.size(); ++i) entry += (i ? ", " : "") + r.short_names[i];
      entry += ")";
    }
    names.push_back(std::move(entry));
  }
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace ferry::cli
