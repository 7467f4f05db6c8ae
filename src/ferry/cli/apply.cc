#include <variant>

#include "ferry/cli/commands.h"
#include "ferry/cli/commands_internal.h"
#include "ferry/cli/manifest.h"
#include "ferry/cli/output.h"

namespace ferry::cli {
namespace {

bool IsEmpty(const Json& value) { return value.is_null() || (value.is_structured() && value.empty()); }

bool SameOrBothEmpty(const Json& a, const Json& b) { return (IsEmpty(a) && IsEmpty(b)) || a == b; }

const Json& MemberOrNull(const Json& object, const std::string& key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The outcome of applying one object, for the summary line.
enum class Applied { kCreated, kConfigured, kUnchanged };

}  // namespace

bool SameUserFields(const Json& applied, const Json& live) {
  const Json& applied_meta = MemberOrNull(applied, "metadata");
  const Json& live_meta = MemberOrNull(live, "metadata");
  for (const char* key : {"labels", "annotations"}) {
    if (!SameOrBothEmpty(MemberOrNull(applied_meta, key), MemberOrNull(live_meta, key))) return false;
  }
  auto server_managed = [](const std::string& key) {
    return key == "apiVersion" || key == "kind" || key == "metadata" || key == "status";
  };
  for (const Json* object : {&applied, &live}) {
    if (!object->is_object()) continue;
    for (const auto& [key, value] : object->items()) {
      if (server_managed(key)) continue;
      if (!SameOrBothEmpty(MemberOrNull(applied, key), MemberOrNull(live, key))) return false;
    }
  }
  return true;
}

namespace {

// Creates `object` or replaces the live one; `where` names the document in
// errors. Returns the outcome, or the exit code of a failure already printed.
std::variant<Applied, int> ApplyOne(Context& ctx, const ApiResource& type, const std::string& ns,
                                    const std::string& name, const Json& object, const std::string& where) {
  const std::string ref = ObjectRef(type, name);
  // One retry: a Conflict means another writer replaced the object between our read and write.
  for (int attempt = 0;; ++attempt) {
    auto live = ctx.client->Get(type, ns, name);
    if (!live.ok()) return internal::ReportUnreachable(ctx, live.status());
    if (!live->ok() && live->error->code != "NotFound") {
      return internal::ReportServerError(ctx, *live->error, "error when applying " + ref + " from " + where);
    }
    if (!live->ok()) {
      auto created = ctx.client->Create(type, ns, object);
      if (!created.ok()) return internal::ReportUnreachable(ctx, created.status());
      if (created->ok()) return Applied::kCreated;
      // Created by someone else since our read: replace it instead.
      if (created->error->code == "AlreadyExists" && attempt == 0) continue;
      return internal::ReportServerError(ctx, *created->error,
                                         "error when creating " + ref + " from " + where);
    }
    if (SameUserFields(object, live->body)) return Applied::kUnchanged;
    Json desired = object;
    const Json& live_meta = MemberOrNull(live->body, "metadata");
    desired["metadata"]["resourceVersion"] = MemberOrNull(live_meta, "resourceVersion");
    auto replaced = ctx.client->Replace(type, ns, name, desired);
    if (!replaced.ok()) return internal::ReportUnreachable(ctx, replaced.status());
    if (replaced->ok()) return Applied::kConfigured;
    if (replaced->error->code == "Conflict" && attempt == 0) continue;
    return internal::ReportServerError(ctx, *replaced->error,
                                       "error when replacing " + ref + " from " + where);
  }
}

}  // namespace

int RunApply(Context& ctx, const ApplyOptions& options) {
  auto docs = ReadManifests(options.files, *ctx.in);
  if (!docs.ok()) return internal::UsageError(ctx, docs.status().message());
  if (docs->empty()) return internal::UsageError(ctx, "no objects passed to apply");
  if (int rc = internal::DiscoverTypes(ctx); rc != kExitOk) return rc;
  int result = kExitOk;
  for (const auto& doc : *docs) {
    Status status = doc.error;
    const ApiResource* type = nullptr;
    std::string ns;
    std::string name;
    if (status.ok()) {
      auto found = internal::ManifestType(ctx, doc.object);
      auto found_name = internal::ManifestName(doc.object);
      auto found_ns =
          found.ok() ? internal::ManifestNamespace(ctx, **found, doc.object) : Result<std::string>("");
      status = !found.ok() ? found.status() : !found_name.ok() ? found_name.status() : found_ns.status();
      if (status.ok()) {
        type = *found;
        name = *found_name;
        ns = *found_ns;
      }
    }
    if (!status.ok()) {
      *ctx.err << "error: " << doc.Where() << ": " << status.message();
      if (!status.field().empty() && status.message().find(status.field()) == std::string::npos) {
        *ctx.err << " (field " << status.field() << ")";
      }
      *ctx.err << std::endl;
      result = kExitFailed;
      continue;
    }
    auto outcome = ApplyOne(ctx, *type, ns, name, doc.object, doc.Where());
    if (const int* rc = std::get_if<int>(&outcome)) {
      if (*rc == kExitUnreachable) return *rc;
      result = kExitFailed;
      continue;
    }
    static constexpr const char* kWords[] = {"created", "configured", "unchanged"};
    *ctx.out << ObjectRef(*type, name) << " " << kWords[static_cast<int>(std::get<Applied>(outcome))]
             << std::endl;
  }
  return result;
}

}  // namespace ferry::cli
