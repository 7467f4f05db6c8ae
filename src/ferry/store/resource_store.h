#pragma once
// ResourceStore: durable storage of Kubernetes-style resources
// ({apiVersion, kind, metadata, spec, status}) for every Ferry kind, with a
// global revision counter as resourceVersion, optimistic concurrency, label
// selectors, paging, and watches.
//
// A resource type is identified by an opaque key, conventionally
// "<plural>.<group>" ("configmaps" for the core group). The store does not
// validate specs; ResourceTypes (resource_types.h) does that before calling,
// and through an UpdateCheck for what only exists inside the write (a patched
// object, the stored object an update replaces).
//
// Every write bumps the revision, writes the object and appends a watch event
// in one transaction; subscribers are notified after commit, in revision order,
// each event exactly once. Writes are serialised within one ResourceStore;
// watches see only the writes made through the same ResourceStore, so one
// process (the control plane) owns a database's resources.
//
// Thread-safety: thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/json.h"
#include "ferry/store/database.h"
#include "ferry/store/label_selector.h"

namespace ferry::store {

struct ListOptions {
  std::string ns;  // empty: all namespaces
  LabelSelector selector;
  int limit = 0;  // 0: no limit (the API layer caps it)
  std::string continue_token;
};

struct ListResult {
  std::vector<Json> items;
  std::string continue_token;         // empty when there is no more
  std::int64_t resource_version = 0;  // store revision the list was read at
};

enum class WatchEventType { kAdded, kModified, kDeleted };

// "ADDED", "MODIFIED", "DELETED", as in Kubernetes watch streams.
std::string_view WatchEventTypeName(WatchEventType type);

// With a label selector, an object whose labels start to match arrives as
// kAdded and one whose labels stop matching as kDeleted (with its new state),
// as Kubernetes' watch cache reports them.
struct WatchEvent {
  WatchEventType type;
  std::int64_t revision;
  // The object after the change; for kDeleted, its last state with
  // resourceVersion set to the deletion's revision.
  Json object;
};

struct WatchOptions {
  std::string type_key;
  std::string ns;  // empty: all namespaces
  LabelSelector selector;
  // Replay retained events with revision > from_revision first. 0: only new
  // events. An older revision than the store retains gives kFailedPrecondition
  // with a message starting "too old resource version".
  std::int64_t from_revision = 0;
  // With from_revision 0: first deliver every matching object as an ADDED
  // event (at its own resourceVersion), then live events, with no gap between
  // them — Kubernetes' "get state and start at most recent".
  bool initial_state = false;
};

// Unsubscribes when destroyed; once the destructor returns the sink is not
// called again. It may be destroyed from inside the sink, and may outlive the
// store.
class WatchSubscription {
 public:
  virtual ~WatchSubscription() = default;
};

struct ResourceStoreOptions {
  // Watch events kept for replay; a watch from an older revision gets "too
  // old resource version" and must list again.
  std::int64_t event_retention = 10'000;
  // Older events are pruned on every prune_interval-th revision.
  std::int64_t prune_interval = 100;
  // Rows read per query while listing or replaying: bounds the memory of one
  // step when a selector skips most rows or a watch replays many events.
  std::int64_t batch_rows = 500;
};

// Called inside an update's transaction with the stored object and the one
// about to replace it (uid, creationTimestamp and status already settled); a
// non-OK status aborts the update and is returned as is. The API layer passes
// ResourceTypes::ValidateObject + ValidateUpdate here.
using UpdateCheck = std::function<Status(const Json& old_object, const Json& new_object)>;

class ResourceStore {
 public:
  ResourceStore(Database* db, Env* env);
  ResourceStore(Database* db, Env* env, const ResourceStoreOptions& options);
  ~ResourceStore();

  // In the single-object calls an empty namespace means "default".

  // Fills metadata.uid, resourceVersion, creationTimestamp (and namespace
  // "default" if absent or empty), discarding any the client sent; drops
  // .status, which only ReplaceStatus/PatchStatus write (as Kubernetes does
  // for kinds with a status subresource). kAlreadyExists if the name is taken.
  Result<Json> Create(const std::string& type_key, Json object);
  // The stored object, or kNotFound (`configmaps "x" not found`).
  Result<Json> Get(const std::string& type_key, const std::string& ns, const std::string& name);
  // A page of objects ordered by (namespace, name). `limit` counts matches of
  // the selector; a malformed or foreign continue token is kInvalidArgument.
  // Later pages carry the first page's resource_version, from which a watch
  // misses nothing.
  Result<ListResult> List(const std::string& type_key, const ListOptions& options);
  // Replaces spec/labels/annotations/other top-level fields but keeps status.
  // When metadata.resourceVersion (or uid) is set it must equal the stored one
  // (kConflict otherwise). uid and creationTimestamp are kept. An update that
  // changes nothing returns the stored object without a new revision.
  Result<Json> Replace(const std::string& type_key, Json object, const UpdateCheck& check = nullptr);
  // Replaces only .status (same resourceVersion rule).
  Result<Json> ReplaceStatus(const std::string& type_key, Json object, const UpdateCheck& check = nullptr);
  // RFC 7386 JSON merge patch (an object), applied atomically; .status is
  // kept as for Replace. A metadata.resourceVersion in the patch is a
  // precondition. Changing metadata.name, namespace or uid is kInvalidArgument.
  Result<Json> Patch(const std::string& type_key, const std::string& ns, const std::string& name,
                     const Json& merge_patch, const UpdateCheck& check = nullptr);
  // Like Patch, but only the .status of the patched object is kept.
  Result<Json> PatchStatus(const std::string& type_key, const std::string& ns, const std::string& name,
                           const Json& merge_patch, const UpdateCheck& check = nullptr);
  // Returns the deleted object. With `expected_resource_version`, a mismatch
  // is kConflict.
  Result<Json> Delete(const std::string& type_key, const std::string& ns, const std::string& name,
                      std::optional<std::int64_t> expected_resource_version = std::nullopt);

  // Replays retained events after options.from_revision, then delivers live
  // ones, with neither gap nor duplicate between the two. `sink` is called
  // from the committing thread (or this one, for the replay) while writes are
  // held, so it must not block nor call this store's writes or Watch; it may
  // be called concurrently with the destructor of the returned subscription
  // only until that destructor returns.
  Result<std::unique_ptr<WatchSubscription>> Watch(const WatchOptions& options,
                                                   std::function<void(const WatchEvent&)> sink);

  // The revision of the last write (0 before any), from the database; the
  // last one seen if the database cannot be read.
  std::int64_t CurrentRevision();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::store
