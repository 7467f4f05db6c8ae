#pragma once
// ResourceStore: durable storage of Kubernetes-style resources
// ({apiVersion, kind, metadata, spec, status}) for every Ferry kind, with a
// global revision counter as resourceVersion, optimistic concurrency, label
// selectors, paging, and watches.
//
// A resource type is identified by an opaque key, conventionally
// "<plural>.<group>" ("configmaps" for the core group). The store does not
// validate specs; ResourceTypes (resource_types.h) does that before calling.
//
// Every write bumps the revision, writes the object and appends a watch event
// in one transaction; subscribers are notified after commit, in revision order.
//
// Thread-safety: thread-safe.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

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
  std::string continue_token;  // empty when there is no more
  std::int64_t resource_version = 0;  // store revision the list was read at
};

enum class WatchEventType { kAdded, kModified, kDeleted };

struct WatchEvent {
  WatchEventType type;
  std::int64_t revision;
  Json object;  // the object after the change (before it, for kDeleted)
};

struct WatchOptions {
  std::string type_key;
  std::string ns;  // empty: all namespaces
  LabelSelector selector;
  // Replay retained events with revision > from_revision first. 0: only new
  // events. An older revision than the store retains gives kFailedPrecondition
  // with a message starting "too old resource version".
  std::int64_t from_revision = 0;
};

// Unsubscribes when destroyed.
class WatchSubscription {
 public:
  virtual ~WatchSubscription() = default;
};

class ResourceStore {
 public:
  ResourceStore(Database* db, Env* env);
  ~ResourceStore();

  // Fills metadata.uid, resourceVersion, creationTimestamp (and namespace
  // "default" if absent). kAlreadyExists if the name is taken.
  Result<Json> Create(const std::string& type_key, Json object);
  Result<Json> Get(const std::string& type_key, const std::string& ns, const std::string& name);
  Result<ListResult> List(const std::string& type_key, const ListOptions& options);
  // Replaces spec/labels/annotations/other top-level fields but keeps status.
  // When metadata.resourceVersion is set it must equal the stored one
  // (kConflict otherwise). uid and creationTimestamp are kept.
  Result<Json> Replace(const std::string& type_key, Json object);
  // Replaces only .status (same resourceVersion rule).
  Result<Json> ReplaceStatus(const std::string& type_key, Json object);
  // RFC 7386 JSON merge patch, applied atomically. Changing metadata.name,
  // namespace or uid is kInvalidArgument.
  Result<Json> Patch(const std::string& type_key, const std::string& ns, const std::string& name,
                     const Json& merge_patch);
  // Returns the deleted object. With `expected_resource_version`, a mismatch
  // is kConflict.
  Result<Json> Delete(const std::string& type_key, const std::string& ns, const std::string& name,
                      std::optional<std::int64_t> expected_resource_version = std::nullopt);

  // `sink` is called from the committing thread after each matching write and
  // must not block; it may be called concurrently with the destructor of the
  // returned subscription only until that destructor returns.
  Result<std::unique_ptr<WatchSubscription>> Watch(const WatchOptions& options,
                                                   std::function<void(const WatchEvent&)> sink);

  std::int64_t CurrentRevision();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ferry::store
