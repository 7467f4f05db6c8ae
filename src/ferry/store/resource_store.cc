#include "ferry/store/resource_store.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "ferry/common/logging.h"
#include "ferry/common/time.h"

namespace ferry::store {
namespace {

constexpr char kDefaultNamespace[] = "default";
std::string Dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

// `configmaps "x"`, the way Kubernetes names an object in messages.
std::string ObjectRef(const std::string& type_key, const std::string& name) {
  return type_key + " " + Dump(Json(name));
}

Status NotFoundError(const std::string& type_key, const std::string& name) {
  return NotFound(ObjectRef(type_key, name) + " not found");
}

Status ConflictError(const std::string& type_key, const std::string& name) {
  return Conflict("Operation cannot be fulfilled on " + ObjectRef(type_key, name) +
                  ": the object has been modified; please apply your changes to the latest version "
                  "and try again");
}

Status InvalidContinue() { return InvalidArgument("invalid continue token", "continue"); }

constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint8_t>(in[i]) << 16) | (static_cast<std::uint8_t>(in[i + 1]) << 8) |
                      static_cast<std::uint8_t>(in[i + 2]);
    out += kBase64Url[(n >> 18) & 63];
    out += kBase64Url[(n >> 12) & 63];
    out += kBase64Url[(n >> 6) & 63];
    out += kBase64Url[n & 63];
  }
  if (i + 1 == in.size()) {
    std::uint32_t n = static_cast<std::uint8_t>(in[i]) << 16;
    out += kBase64Url[(n >> 18) & 63];
    out += kBase64Url[(n >> 12) & 63];
  } else if (i + 2 == in.size()) {
    std::uint32_t n = (static_cast<std::uint8_t>(in[i]) << 16) | (static_cast<std::uint8_t>(in[i + 1]) << 8);
    out += kBase64Url[(n >> 18) & 63];
    out += kBase64Url[(n >> 12) & 63];
    out += kBase64Url[(n >> 6) & 63];
  }
  return out;
}

// Unpadded base64url only, as Base64UrlEncode writes it.
Result<std::string> Base64UrlDecode(std::string_view in) {
  if (in.size() % 4 == 1) return InvalidContinue();
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const char* p = c == '\0' ? nullptr : std::strchr(kBase64Url, c);
    if (p == nullptr) return InvalidContinue();
    acc = (acc << 6) | static_cast<std::uint32_t>(p - kBase64Url);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

// Where a list page ended: the key of its last item, and the revision of the
// list's first page.
struct ContinueToken {
  std::string type_key;
  std::string ns;
  std::string name;
  std::int64_t revision = 0;
};

std::string EncodeContinue(const ContinueToken& token) {
  Json j = {{"t", token.type_key}, {"ns", token.ns}, {"n", token.name}, {"rv", token.revision}};
  return Base64UrlEncode(Dump(j));
}

Result<ContinueToken> DecodeContinue(std::string_view text) {
  constexpr std::size_t kMaxTokenBytes = 4096;
  if (text.size() > kMaxTokenBytes) return InvalidContinue();
  ASSIGN_OR_RETURN(std::string raw, Base64UrlDecode(text));
  Result<Json> parsed = ParseJson(raw, ParseLimits{.max_depth = 2, .max_nodes = 16});
  if (!parsed.ok()) return InvalidContinue();
  const Json& j = *parsed;
  if (!j.is_object() || !j.contains("t") || !j["t"].is_string() || !j.contains("ns") ||
      !j["ns"].is_string() || !j.contains("n") || !j["n"].is_string() || !j.contains("rv") ||
      !j["rv"].is_number_integer())
    return InvalidContinue();
  ContinueToken token;
  token.type_key = j["t"].get<std::string>();
  token.ns = j["ns"].get<std::string>();
  token.name = j["n"].get<std::string>();
  token.revision = j["rv"].get<std::int64_t>();
  // A forged token must not smuggle what the database cannot bind.
  if (token.revision < 0 || token.ns.find('\0') != std::string::npos ||
      token.name.find('\0') != std::string::npos)
    return InvalidContinue();
  return token;
}

Result<WatchEventType> ParseEventType(std::string_view name) {
  for (WatchEventType type : {WatchEventType::kAdded, WatchEventType::kModified, WatchEventType::kDeleted})
    if (WatchEventTypeName(type) == name) return type;
  return Internal("unknown event type in resource_events: " + std::string(name));
}

Result<Json> ParseStored(const std::string& text, const std::string& type_key, const std::string& name) {
  Json object = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded() || !object.is_object())
    return Internal("stored object " + ObjectRef(type_key, name) + " is not a JSON object");
  return object;
}

std::string NormalizeNamespace(const std::string& ns) { return ns.empty() ? kDefaultNamespace : ns; }

// Checks the shape the store itself relies on; ResourceTypes checks the rest.
Status CheckShape(const Json& object) {
  if (!object.is_object())
    return InvalidArgument("an object must be a JSON object, got " + std::string(JsonTypeName(object)));
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object())
    return InvalidArgument("metadata must be an object", "metadata");
  auto name = metadata->find("name");
  if (name == metadata->end() || !name->is_string() || name->get_ref<const std::string&>().empty())
    return InvalidArgument("metadata.name is required", "metadata.name");
  auto ns = metadata->find("namespace");
  if (ns != metadata->end() && !ns->is_null() && !ns->is_string())
    return InvalidArgument("metadata.namespace must be a string", "metadata.namespace");
  return Status::OK();
}

// Null metadata fields mean "not set" (Kubernetes decodes them so); dropping
// them keeps stored objects canonical.
void DropNullMetadata(Json& metadata) {
  for (auto it = metadata.begin(); it != metadata.end();) {
    if (it->is_null())
      it = metadata.erase(it);
    else
      ++it;
  }
}

std::string NamespaceOf(const Json& metadata) {
  auto ns = metadata.find("namespace");
  if (ns == metadata.end() || !ns->is_string()) return kDefaultNamespace;
  return NormalizeNamespace(ns->get<std::string>());
}

Json LabelsOf(const Json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return Json::object();
  auto labels = metadata->find("labels");
  if (labels == metadata->end() || !labels->is_object()) return Json::object();
  return *labels;
}

// metadata.resourceVersion as a precondition; nullopt when not set.
Result<std::optional<std::int64_t>> ResourceVersionOf(const Json& metadata) {
  auto rv = metadata.find("resourceVersion");
  if (rv == metadata.end() || rv->is_null()) return std::optional<std::int64_t>();
  if (!rv->is_string())
    return InvalidArgument("metadata.resourceVersion must be a string", "metadata.resourceVersion");
  const std::string& text = rv->get_ref<const std::string&>();
  if (text.empty()) return std::optional<std::int64_t>();
  bool digits = text.size() <= 18;
  for (char c : text) digits = digits && c >= '0' && c <= '9';
  if (!digits)
    return InvalidArgument("metadata.resourceVersion must be a decimal number", "metadata.resourceVersion");
  return std::optional<std::int64_t>(std::stoll(text));
}

// The optimistic-concurrency preconditions a client's metadata may carry.
Status CheckPreconditions(const Json& metadata, const Json& stored, std::int64_t stored_rv,
                          const std::string& type_key, const std::string& name) {
  ASSIGN_OR_RETURN(std::optional<std::int64_t> rv, ResourceVersionOf(metadata));
  if (rv && *rv != stored_rv) return ConflictError(type_key, name);
  auto uid = metadata.find("uid");
  if (uid != metadata.end() && uid->is_string() && !uid->get_ref<const std::string&>().empty()) {
    const Json stored_uid = stored.value("metadata", Json::object()).value("uid", Json());
    if (*uid != stored_uid)
      return Conflict("Precondition failed on " + ObjectRef(type_key, name) + ": UID in object meta " +
                      Dump(*uid) + " is not the stored UID " + Dump(stored_uid));
  }
  return Status::OK();
}

void CopyStatus(const Json& from, Json& to) {
  auto status = from.find("status");
  if (status == from.end())
    to.erase("status");
  else
    to["status"] = *status;
}

// A committed change before each watch's namespace and selector apply.
struct Change {
  WatchEventType type = WatchEventType::kAdded;
  std::int64_t revision = 0;
  std::string type_key;
  std::string ns;
  std::string name;
  Json object;
  // For kModified, the labels before the change, and the same wrapped as
  // {"metadata": {"labels": ...}} for LabelSelector::MatchesObject.
  Json before_labels;
  Json before;

  void SetBefore(Json labels) {
    before = {{"metadata", {{"labels", labels}}}};
    before_labels = std::move(labels);
  }
};

Change NewChange(WatchEventType type, std::int64_t revision, const std::string& type_key, const std::string& ns,
                 const std::string& name, Json object) {
  Change change;
  change.type = type;
  change.revision = revision;
  change.type_key = type_key;
  change.ns = ns;
  change.name = name;
  change.object = std::move(object);
  return change;
}

// What one watch sees of a change: with a selector, objects entering or
// leaving the selected set appear as added or deleted.
std::optional<WatchEvent> Filter(const WatchOptions& options, const Change& change) {
  if (change.type_key != options.type_key) return std::nullopt;
  if (!options.ns.empty() && change.ns != options.ns) return std::nullopt;
  if (options.selector.empty()) return WatchEvent{change.type, change.revision, change.object};
  bool now = options.selector.MatchesObject(change.object);
  if (change.type != WatchEventType::kModified) {
    if (!now) return std::nullopt;
    return WatchEvent{change.type, change.revision, change.object};
  }
  bool before = options.selector.MatchesObject(change.before);
  if (now)
    return WatchEvent{before ? WatchEventType::kModified : WatchEventType::kAdded, change.revision,
                      change.object};
  if (before) return WatchEvent{WatchEventType::kDeleted, change.revision, change.object};
  return std::nullopt;
}

struct Subscriber {
  WatchOptions options;
  std::function<void(const WatchEvent&)> sink;
  // Held while the sink runs, so unsubscribing waits for a running call;
  // recursive so the sink may drop its own subscription.
  std::recursive_mutex mu;
  bool active = true;
};

struct Hub {
  std::mutex mu;
  std::vector<std::shared_ptr<Subscriber>> subscribers;
};

class Subscription final : public WatchSubscription {
 public:
  Subscription(std::weak_ptr<Hub> hub, std::shared_ptr<Subscriber> subscriber)
      : hub_(std::move(hub)), subscriber_(std::move(subscriber)) {}

  ~Subscription() override {
    {
      std::lock_guard lock(subscriber_->mu);
      subscriber_->active = false;
    }
    if (std::shared_ptr<Hub> hub = hub_.lock()) {
      std::lock_guard lock(hub->mu);
      std::erase(hub->subscribers, subscriber_);
    }
  }

 private:
  std::weak_ptr<Hub> hub_;
  std::shared_ptr<Subscriber> subscriber_;
};

// Transact rolls back on a non-OK status; an update that changes nothing
// returns this one, and says so in a flag, to undo its revision bump.
Status Unchanged() { return Status(StatusCode::kFailedPrecondition, "unchanged"); }

}  // namespace

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
  }
  return "UNKNOWN";
}

struct ResourceStore::Impl {
  using Compute = std::function<Result<Json>(const Json& stored, std::int64_t stored_rv)>;

  Impl(Database* db, Env* env, const ResourceStoreOptions& options) : db(db), env(env), options(options) {
    this->options.batch_rows = std::max<std::int64_t>(1, options.batch_rows);
  }

  Result<std::int64_t> BumpRevision(Tx& tx) {
    ASSIGN_OR_RETURN(
        Rows rows,
        tx.Query("UPDATE resource_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision"));
    if (rows.empty()) return Internal("resource_revision has no row; is the resources migration applied?");
    return rows[0].Int(0);
  }

  Status AppendEvent(Tx& tx, const Change& change) {
    Value before = nullptr;
    if (change.type == WatchEventType::kModified) before = Dump(change.before_labels);
    return tx
        .Exec(
            "INSERT INTO resource_events (revision, type, namespace, name, event_type, object, prev_labels) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7)",
            {change.revision, change.type_key, change.ns, change.name,
             std::string(WatchEventTypeName(change.type)), Dump(change.object), before})
        .status();
  }

  // Keeps the last options.event_retention revisions of events.
  Status MaybePrune(Tx& tx, std::int64_t revision) {
    if (options.prune_interval <= 0 || revision % options.prune_interval != 0) return Status::OK();
    std::int64_t cutoff = revision - options.event_retention;
    if (cutoff <= 0) return Status::OK();
    RETURN_IF_ERROR(tx.Exec("DELETE FROM resource_events WHERE revision <= $1", {cutoff}).status());
    return tx
        .Exec("UPDATE resource_revision SET compacted_revision = $1 WHERE id = 1 AND compacted_revision < $1",
              {cutoff})
        .status();
  }

  // Runs `write` in a transaction under the write lock and, once committed,
  // tells the watchers. `write` fills `change`.
  Status Commit(const std::function<Status(Tx& tx, Change& change)>& write) {
    std::lock_guard lock(write_mu);
    Change change;
    Status status = db->Transact([&](Tx& tx) -> Status {
      change = Change();
      RETURN_IF_ERROR(write(tx, change));
      return MaybePrune(tx, change.revision);
    });
    RETURN_IF_ERROR(status);
    last_revision.store(change.revision);
    Notify(change);
    return Status::OK();
  }

  void Notify(const Change& change) {
    std::vector<std::shared_ptr<Subscriber>> subscribers;
    {
      std::lock_guard lock(hub->mu);
      subscribers = hub->subscribers;
    }
    for (const auto& subscriber : subscribers) {
      std::lock_guard lock(subscriber->mu);
      if (!subscriber->active || change.revision <= subscriber->options.from_revision) continue;
      if (std::optional<WatchEvent> event = Filter(subscriber->options, change)) subscriber->sink(*event);
    }
  }

  Result<Json> Update(const std::string& type_key, const std::string& ns, const std::string& name,
                      const Compute& compute, const UpdateCheck& check) {
    Json result;
    bool unchanged = false;
    Status status = Commit([&](Tx& tx, Change& change) -> Status {
      unchanged = false;
      ASSIGN_OR_RETURN(std::int64_t revision, BumpRevision(tx));
      ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT object, resource_version FROM resources "
                                           "WHERE type = $1 AND namespace = $2 AND name = $3",
                                           {type_key, ns, name}));
      if (rows.empty()) return NotFoundError(type_key, name);
      ASSIGN_OR_RETURN(Json stored, ParseStored(rows[0].Text(0), type_key, name));
      const std::int64_t stored_rv = rows[0].Int(1);
      ASSIGN_OR_RETURN(Json updated, compute(stored, stored_rv));
      // Identity and bookkeeping fields always come from the store.
      Json& metadata = updated["metadata"];
      const Json& stored_metadata = stored["metadata"];
      metadata["name"] = name;
      metadata["namespace"] = ns;
      metadata["uid"] = stored_metadata.value("uid", Json());
      metadata["creationTimestamp"] = stored_metadata.value("creationTimestamp", Json());
      metadata["resourceVersion"] = std::to_string(stored_rv);
      DropNullMetadata(metadata);
      if (updated == stored) {
        result = std::move(stored);
        unchanged = true;
        return Unchanged();
      }
      if (check) RETURN_IF_ERROR(check(stored, updated));
      metadata["resourceVersion"] = std::to_string(revision);
      RETURN_IF_ERROR(tx.Exec("UPDATE resources SET resource_version = $1, object = $2 "
                              "WHERE type = $3 AND namespace = $4 AND name = $5",
                              {revision, Dump(updated), type_key, ns, name})
                          .status());
      change = NewChange(WatchEventType::kModified, revision, type_key, ns, name, updated);
      change.SetBefore(LabelsOf(stored));
      RETURN_IF_ERROR(AppendEvent(tx, change));
      result = std::move(updated);
      return Status::OK();
    });
    if (unchanged) return result;
    RETURN_IF_ERROR(status);
    return result;
  }

  // Replace keeps the stored status and takes the rest from `object`;
  // ReplaceStatus takes only the status from it.
  Result<Json> ReplaceWith(const std::string& type_key, Json object, const UpdateCheck& check, bool status_only) {
    RETURN_IF_ERROR(CheckShape(object));
    const std::string ns = NamespaceOf(object["metadata"]);
    const std::string name = object["metadata"]["name"].get<std::string>();
    return Update(
        type_key, ns, name,
        [&](const Json& stored, std::int64_t stored_rv) -> Result<Json> {
          RETURN_IF_ERROR(CheckPreconditions(object["metadata"], stored, stored_rv, type_key, name));
          Json updated = status_only ? stored : object;
          CopyStatus(status_only ? object : stored, updated);
          return updated;
        },
        check);
  }

  Result<Json> PatchWith(const std::string& type_key, const std::string& ns_in, const std::string& name,
                         const Json& merge_patch, bool status_only, const UpdateCheck& check) {
    if (!merge_patch.is_object())
      return InvalidArgument("a merge patch must be a JSON object, got " +
                             std::string(JsonTypeName(merge_patch)));
    const std::string ns = NormalizeNamespace(ns_in);
    auto compute = [&](const Json& stored, std::int64_t stored_rv) -> Result<Json> {
      auto patch_metadata = merge_patch.find("metadata");
      if (patch_metadata != merge_patch.end() && patch_metadata->is_object())
        RETURN_IF_ERROR(CheckPreconditions(*patch_metadata, stored, stored_rv, type_key, name));
      Json patched = stored;
      patched.merge_patch(merge_patch);
      if (!patched.contains("metadata") || !patched["metadata"].is_object())
        return InvalidArgument("metadata cannot be removed", "metadata");
      const Json& metadata = patched["metadata"];
      if (metadata.value("name", Json()) != name)
        return InvalidArgument("metadata.name cannot be changed", "metadata.name");
      if (metadata.value("namespace", Json()) != ns)
        return InvalidArgument("metadata.namespace cannot be changed", "metadata.namespace");
      if (!metadata.value("uid", Json()).is_null() &&
          metadata["uid"] != stored["metadata"].value("uid", Json()))
        return InvalidArgument("metadata.uid cannot be changed", "metadata.uid");
      if (!status_only) {
        CopyStatus(stored, patched);
        return patched;
      }
      Json updated = stored;
      CopyStatus(patched, updated);
      return updated;
    };
    return Update(type_key, ns, name, compute, check);
  }

  Database* db;
  Env* env;
  ResourceStoreOptions options;
  // Serialises writes and the notification that follows each commit, and
  // watch registration, so every watcher sees each revision once, in order.
  std::mutex write_mu;
  std::shared_ptr<Hub> hub = std::make_shared<Hub>();
  std::atomic<std::int64_t> last_revision{0};
};

ResourceStore::ResourceStore(Database* db, Env* env) : ResourceStore(db, env, ResourceStoreOptions()) {}

ResourceStore::ResourceStore(Database* db, Env* env, const ResourceStoreOptions& options)
    : impl_(std::make_unique<Impl>(db, env, options)) {}

ResourceStore::~ResourceStore() = default;

Result<Json> ResourceStore::Create(const std::string& type_key, Json object) {
  RETURN_IF_ERROR(CheckShape(object));
  Json& metadata = object["metadata"];
  DropNullMetadata(metadata);
  const std::string ns = NamespaceOf(metadata);
  const std::string name = metadata["name"].get<std::string>();
  const std::int64_t created_at = impl_->env->NowMicros();
  metadata["namespace"] = ns;
  metadata["uid"] = impl_->env->NewUuid();
  metadata["creationTimestamp"] = FormatRfc3339(created_at);
  object.erase("status");

  RETURN_IF_ERROR(impl_->Commit([&](Tx& tx, Change& change) -> Status {
    ASSIGN_OR_RETURN(std::int64_t revision, impl_->BumpRevision(tx));
    metadata["resourceVersion"] = std::to_string(revision);
    ASSIGN_OR_RETURN(
        std::int64_t inserted,
        tx.Exec(
            "INSERT INTO resources (type, namespace, name, uid, resource_version, created_at, "
            "object) VALUES ($1, $2, $3, $4, $5, $6, $7) "
            "ON CONFLICT (type, namespace, name) DO NOTHING",
            {type_key, ns, name, metadata["uid"].get<std::string>(), revision, created_at, Dump(object)}));
    if (inserted == 0) return AlreadyExists(ObjectRef(type_key, name) + " already exists");
    change = NewChange(WatchEventType::kAdded, revision, type_key, ns, name, object);
    return impl_->AppendEvent(tx, change);
  }));
  return object;
}

Result<Json> ResourceStore::Get(const std::string& type_key, const std::string& ns, const std::string& name) {
  ASSIGN_OR_RETURN(Rows rows,
                   impl_->db->Query("SELECT object FROM resources WHERE type = $1 AND namespace = $2 "
                                    "AND name = $3",
                                    {type_key, NormalizeNamespace(ns), name}));
  if (rows.empty()) return NotFoundError(type_key, name);
  return ParseStored(rows[0].Text(0), type_key, name);
}

Result<ListResult> ResourceStore::List(const std::string& type_key, const ListOptions& options) {
  if (options.limit < 0) return InvalidArgument("limit must not be negative", "limit");
  ListResult out;
  // The revision is read before the rows: a watch from it may then repeat a
  // change the rows already show, but cannot miss one.
  ASSIGN_OR_RETURN(Rows revision_rows,
                   impl_->db->Query("SELECT revision FROM resource_revision WHERE id = 1"));
  if (revision_rows.empty())
    return Internal("resource_revision has no row; is the resources migration applied?");
  out.resource_version = revision_rows[0].Int(0);

  std::optional<std::pair<std::string, std::string>> after;
  if (!options.continue_token.empty()) {
    ASSIGN_OR_RETURN(ContinueToken token, DecodeContinue(options.continue_token));
    if (token.type_key != type_key || (!options.ns.empty() && token.ns != options.ns))
      return InvalidContinue();
    after = std::make_pair(token.ns, token.name);
    out.resource_version = token.revision;
  }

  const std::size_t limit = static_cast<std::size_t>(options.limit);
  // Without a selector every row is a match, so one more than the page tells
  // whether another page follows.
  const std::int64_t batch =
      options.selector.empty() && limit > 0
          ? std::min<std::int64_t>(static_cast<std::int64_t>(limit) + 1, impl_->options.batch_rows)
          : impl_->options.batch_rows;
  bool more = false;
  while (!more) {
    std::string sql = "SELECT namespace, name, object FROM resources WHERE type = $1";
    std::vector<Value> params = {type_key};
    if (!options.ns.empty()) {
      params.emplace_back(options.ns);
      sql += " AND namespace = $2";
      if (after) {
        params.emplace_back(after->second);
        sql += " AND name > $3";
      }
    } else if (after) {
      params.emplace_back(after->first);
      params.emplace_back(after->second);
      sql += " AND (namespace, name) > ($2, $3)";
    }
    params.emplace_back(batch);
    sql += " ORDER BY namespace, name LIMIT $" + std::to_string(params.size());
    ASSIGN_OR_RETURN(Rows rows, impl_->db->Query(sql, params));
    for (const Row& row : rows) {
      ASSIGN_OR_RETURN(Json object, ParseStored(row.Text(2), type_key, row.Text(1)));
      if (!options.selector.MatchesObject(object)) {
        after = std::make_pair(row.Text(0), row.Text(1));
        continue;
      }
      if (limit > 0 && out.items.size() == limit) {
        more = true;
        break;
      }
      out.items.push_back(std::move(object));
      after = std::make_pair(row.Text(0), row.Text(1));
    }
    if (static_cast<std::int64_t>(rows.size()) < batch) break;
  }
  if (more) {
    const Json& last = out.items.back()["metadata"];
    out.continue_token = EncodeContinue({type_key, last["namespace"].get<std::string>(),
                                         last["name"].get<std::string>(), out.resource_version});
  }
  return out;
}

Result<Json> ResourceStore::Replace(const std::string& type_key, Json object, const UpdateCheck& check) {
  return impl_->ReplaceWith(type_key, std::move(object), check, /*status_only=*/false);
}

Result<Json> ResourceStore::ReplaceStatus(const std::string& type_key, Json object,
                                          const UpdateCheck& check) {
  return impl_->ReplaceWith(type_key, std::move(object), check, /*status_only=*/true);
}

Result<Json> ResourceStore::Patch(const std::string& type_key, const std::string& ns, const std::string& name,
                                  const Json& merge_patch, const UpdateCheck& check) {
  return impl_->PatchWith(type_key, ns, name, merge_patch, /*status_only=*/false, check);
}

Result<Json> ResourceStore::PatchStatus(const std::string& type_key, const std::string& ns,
                                        const std::string& name, const Json& merge_patch,
                                        const UpdateCheck& check) {
  return impl_->PatchWith(type_key, ns, name, merge_patch, /*status_only=*/true, check);
}

Result<Json> ResourceStore::Delete(const std::string& type_key, const std::string& ns_in,
                                   const std::string& name,
                                   std::optional<std::int64_t> expected_resource_version) {
  const std::string ns = NormalizeNamespace(ns_in);
  Json deleted;
  RETURN_IF_ERROR(impl_->Commit([&](Tx& tx, Change& change) -> Status {
    ASSIGN_OR_RETURN(std::int64_t revision, impl_->BumpRevision(tx));
    ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT object, resource_version FROM resources "
                                         "WHERE type = $1 AND namespace = $2 AND name = $3",
                                         {type_key, ns, name}));
    if (rows.empty()) return NotFoundError(type_key, name);
    if (expected_resource_version && *expected_resource_version != rows[0].Int(1))
      return ConflictError(type_key, name);
    ASSIGN_OR_RETURN(deleted, ParseStored(rows[0].Text(0), type_key, name));
    RETURN_IF_ERROR(tx.Exec("DELETE FROM resources WHERE type = $1 AND namespace = $2 AND name = $3",
                            {type_key, ns, name})
                        .status());
    change = NewChange(WatchEventType::kDeleted, revision, type_key, ns, name, deleted);
    change.object["metadata"]["resourceVersion"] = std::to_string(revision);
    return impl_->AppendEvent(tx, change);
  }));
  return deleted;
}

Result<std::unique_ptr<WatchSubscription>> ResourceStore::Watch(const WatchOptions& options,
                                                                std::function<void(const WatchEvent&)> sink) {
  if (options.type_key.empty()) return InvalidArgument("a watch needs a resource type");
  if (options.from_revision < 0)
    return InvalidArgument("resourceVersion must not be negative", "resourceVersion");
  if (!sink) return InvalidArgument("a watch needs a sink");
  auto subscriber = std::make_shared<Subscriber>();
  subscriber->options = options;
  subscriber->sink = std::move(sink);

  std::lock_guard lock(impl_->write_mu);
  if (options.initial_state && options.from_revision == 0) {
    // Writes are held, so nothing can slip between this list and the
    // subscription below.
    ListOptions list_options;
    list_options.ns = options.ns;
    list_options.selector = options.selector;
    ASSIGN_OR_RETURN(ListResult current, List(options.type_key, list_options));
    for (Json& object : current.items) {
      std::int64_t revision = 0;
      const Json& rv = object["metadata"]["resourceVersion"];
      if (rv.is_string()) revision = std::strtoll(rv.get_ref<const std::string&>().c_str(), nullptr, 10);
      subscriber->sink(WatchEvent{WatchEventType::kAdded, revision, std::move(object)});
    }
  }
  if (options.from_revision > 0) {
    ASSIGN_OR_RETURN(Rows revision_rows,
                     impl_->db->Query("SELECT compacted_revision FROM resource_revision WHERE id = 1"));
    if (revision_rows.empty())
      return Internal("resource_revision has no row; is the resources migration applied?");
    const std::int64_t compacted = revision_rows[0].Int(0);
    if (options.from_revision < compacted)
      return FailedPrecondition("too old resource version: " + std::to_string(options.from_revision) + " (" +
                                std::to_string(compacted) + ")");
    std::int64_t after = options.from_revision;
    while (true) {
      std::string sql =
          "SELECT revision, namespace, event_type, object, prev_labels FROM resource_events "
          "WHERE type = $1 AND revision > $2";
      std::vector<Value> params = {options.type_key, after};
      if (!options.ns.empty()) {
        params.emplace_back(options.ns);
        sql += " AND namespace = $3";
      }
      params.emplace_back(impl_->options.batch_rows);
      sql += " ORDER BY revision LIMIT $" + std::to_string(params.size());
      ASSIGN_OR_RETURN(Rows rows, impl_->db->Query(sql, params));
      for (const Row& row : rows) {
        Change change;
        change.revision = row.Int(0);
        change.type_key = options.type_key;
        change.ns = row.Text(1);
        ASSIGN_OR_RETURN(change.type, ParseEventType(row.Text(2)));
        ASSIGN_OR_RETURN(change.object, ParseStored(row.Text(3), options.type_key,
                                                    "event " + std::to_string(change.revision)));
        if (!row.IsNull(4)) {
          Json labels = Json::parse(row.Text(4), nullptr, /*allow_exceptions=*/false);
          change.SetBefore(labels.is_discarded() ? Json::object() : std::move(labels));
        }
        if (std::optional<WatchEvent> event = Filter(options, change)) subscriber->sink(*event);
        after = change.revision;
      }
      if (static_cast<std::int64_t>(rows.size()) < impl_->options.batch_rows) break;
    }
  }
  {
    std::lock_guard hub_lock(impl_->hub->mu);
    impl_->hub->subscribers.push_back(subscriber);
  }
  return std::unique_ptr<WatchSubscription>(std::make_unique<Subscription>(impl_->hub, subscriber));
}

std::int64_t ResourceStore::CurrentRevision() {
  Result<Rows> rows = impl_->db->Query("SELECT revision FROM resource_revision WHERE id = 1");
  if (!rows.ok() || rows->empty()) {
    LogEvent(spdlog::level::warn, "cannot read the resource revision",
             {{"error", rows.ok() ? std::string("no row") : rows.status().ToString()}});
    return impl_->last_revision.load();
  }
  std::int64_t revision = (*rows)[0].Int(0);
  impl_->last_revision.store(revision);
  return revision;
}

}  // namespace ferry::store
