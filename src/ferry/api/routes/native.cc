#include "ferry/api/routes/native.h"

#include <deque>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "ferry/api/codec.h"
#include "ferry/api/errors.h"
#include "ferry/common/logging.h"
#include "ferry/common/names.h"

namespace ferry::api {
namespace {

using store::ResourceType;

constexpr char kDiscovery[] = "/api/v1";
constexpr char kAllNamespaces[] = "/api/v1/{plural}";
constexpr char kCollection[] = "/api/v1/namespaces/{ns}/{plural}";
constexpr char kObject[] = "/api/v1/namespaces/{ns}/{plural}/{name}";
constexpr char kStatus[] = "/api/v1/namespaces/{ns}/{plural}/{name}/status";

constexpr int kDefaultLimit = 500;
constexpr int kMaxLimit = 1000;

// Untrusted text in an error message: bounded and quoted.
std::string Quote(std::string_view s) {
  constexpr std::size_t kMax = 100;
  std::string out = Json(std::string(s.substr(0, kMax))).dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > kMax) out += "...";
  return out;
}

HttpResponse Respond(const HttpRequest& request, Result<HttpResponse> result) {
  if (result.ok()) return std::move(result).value();
  return ErrorResponse(request, result.status());
}

// The query parameters of one request, checked against what its route
// accepts: an unknown or repeated parameter is an error, not ignored.
class Query {
 public:
  static Result<Query> From(const HttpRequest& request, std::initializer_list<std::string_view> accepted) {
    Query query;
    ASSIGN_OR_RETURN(query.values_, AcceptedQuery(request, accepted));
    return query;
  }

  const std::string* Get(const std::string& name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, std::string> values_;
};

// A decimal integer in [min, max]; `what` describes the expected value.
Result<std::int64_t> ParseInteger(const std::string& text, const std::string& field, std::int64_t min,
                                  std::int64_t max, std::string_view what) {
  auto bad = [&] {
    return InvalidArgument(field + " must be " + std::string(what) + ", got " + Quote(text), field);
  };
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  std::int64_t value = std::stoll(text);
  if (value < min || value > max) return bad();
  return value;
}

Result<bool> ParseBool(const Query& query, const std::string& name) {
  const std::string* text = query.Get(name);
  if (text == nullptr || *text == "false" || *text == "0") return false;
  if (*text == "true" || *text == "1") return true;
  return InvalidArgument(name + " must be true or false, got " + Quote(*text), name);
}

bool HasStatus(const ResourceType& type) { return type.body_fields.count("status") > 0; }

const char* EventTypeName(store::WatchEventType type) {
  switch (type) {
    case store::WatchEventType::kAdded:
      return "ADDED";
    case store::WatchEventType::kModified:
      return "MODIFIED";
    case store::WatchEventType::kDeleted:
      return "DELETED";
  }
  return "MODIFIED";
}

// A watch as an event stream. The store's sink only appends to a bounded
// queue (it runs on the committing thread and must not block); the
// connection drains the queue. A client that lags more than `max_backlog`
// events gets what was queued, then the end of the stream, and resumes with
// ?resourceVersion=<last id>.
class WatchStream : public EventStream {
 public:
  static Result<std::shared_ptr<WatchStream>> Open(store::ResourceStore* store,
                                                   const store::WatchOptions& options,
                                                   std::size_t max_backlog) {
    auto stream = std::shared_ptr<WatchStream>(new WatchStream(max_backlog));
    auto queue = stream->queue_;
    ASSIGN_OR_RETURN(stream->subscription_,
                     store->Watch(options, [queue](const store::WatchEvent& event) { queue->Push(event); }));
    return stream;
  }

  void Attach(std::function<void()> wake) override {
    std::lock_guard lock(queue_->mu);
    queue_->wake = std::move(wake);
  }

  bool Drain(std::string* out) override {
    std::deque<store::WatchEvent> events;
    bool overflowed;
    {
      std::lock_guard lock(queue_->mu);
      events.swap(queue_->events);
      overflowed = queue_->overflowed;
      queue_->wake_pending = false;
    }
    for (const auto& event : events) {
      const char* type = EventTypeName(event.type);
      Json data = {{"type", type}, {"object", event.object}};
      *out += "event: ";
      *out += type;
      *out += "\nid: " + std::to_string(event.revision) + "\ndata: ";
      *out += data.dump(-1, ' ', false, Json::error_handler_t::replace);
      *out += "\n\n";
    }
    if (overflowed) {
      LogEvent(spdlog::level::warn, "watch stream ended: client fell behind",
               {{"max_backlog", queue_->max_backlog}});
    }
    return !overflowed;
  }

 private:
  struct Queue {
    explicit Queue(std::size_t max) : max_backlog(max) {}

    void Push(const store::WatchEvent& event) {
      std::function<void()> wake_now;
      {
        std::lock_guard lock(mu);
        if (overflowed) return;
        if (events.size() >= max_backlog)
          overflowed = true;
        else
          events.push_back(event);
        if (wake && !wake_pending) {
          wake_pending = true;
          wake_now = wake;
        }
      }
      if (wake_now) wake_now();
    }

    const std::size_t max_backlog;
    std::mutex mu;
    std::deque<store::WatchEvent> events;  // guarded by mu
    bool overflowed = false;               // guarded by mu
    bool wake_pending = false;             // guarded by mu
    std::function<void()> wake;            // guarded by mu
  };

  explicit WatchStream(std::size_t max_backlog) : queue_(std::make_shared<Queue>(max_backlog)) {}

  std::shared_ptr<Queue> queue_;
  // Declared last so it unsubscribes first, while the queue is still alive.
  std::unique_ptr<store::WatchSubscription> subscription_;
};

class NativeApi {
 public:
  NativeApi(const ApiServices& services, std::size_t max_watch_backlog)
      : store_(services.resources), types_(services.types), max_watch_backlog_(max_watch_backlog) {}

  HttpResponse Discovery(const HttpRequest& request) const {
    Json resources = Json::array();
    for (const auto& type : types_->all()) {
      const std::string& version = type.versions.front();
      resources.push_back({{"name", type.plural},
                           {"singularName", type.singular},
                           {"kind", type.kind},
                           {"group", type.group},
                           {"version", version},
                           {"apiVersion", type.ApiVersion(version)},
                           {"namespaced", type.namespaced},
                           {"shortNames", type.short_names},
                           {"verbs", {"create", "delete", "get", "list", "patch", "update", "watch"}}});
    }
    return ObjectResponse(
        request, 200,
        {{"kind", "APIResourceList"}, {"groupVersion", "v1"}, {"resources", std::move(resources)}});
  }

  HttpResponse List(const HttpRequest& request, bool all_namespaces) const {
    return Respond(request, DoList(request, all_namespaces));
  }

  HttpResponse Create(const HttpRequest& request) const {
    auto format = RequestBodyFormat(request, BodyKind::kObject);
    if (const auto* error = std::get_if<ApiError>(&format)) return ErrorResponse(*error);
    return Respond(request, DoCreate(request, std::get<BodyFormat>(format)));
  }

  HttpResponse Get(const HttpRequest& request, bool status_subresource) const {
    return Respond(request, DoGet(request, status_subresource));
  }

  HttpResponse Replace(const HttpRequest& request, bool status_subresource) const {
    auto format = RequestBodyFormat(request, BodyKind::kObject);
    if (const auto* error = std::get_if<ApiError>(&format)) return ErrorResponse(*error);
    return Respond(request, DoReplace(request, std::get<BodyFormat>(format), status_subresource));
  }

  HttpResponse Patch(const HttpRequest& request) const {
    auto format = RequestBodyFormat(request, BodyKind::kMergePatch);
    if (const auto* error = std::get_if<ApiError>(&format)) return ErrorResponse(*error);
    return Respond(request, DoPatch(request));
  }

  HttpResponse Delete(const HttpRequest& request) const { return Respond(request, DoDelete(request)); }

 private:
  // The kind named by the URL's {plural}: its plural ("configmaps") or its
  // fully qualified key ("experiments.kubeflow.org"), as kubectl accepts.
  Result<const ResourceType*> TypeOf(const HttpRequest& request) const {
    const std::string& plural = request.Param("plural");
    for (const auto& type : types_->all())
      if (type.plural == plural || type.key() == plural) return &type;
    return NotFound("the server has no resource type " + Quote(plural) + "; GET /api/v1 lists them");
  }

  // The URL's namespace and, for object routes, name, validated.
  Status CheckUrlNames(const HttpRequest& request, bool with_name) const {
    RETURN_IF_ERROR(ValidateDns1123Label(request.Param("ns"), "metadata.namespace"));
    if (with_name) RETURN_IF_ERROR(ValidateDns1123Label(request.Param("name"), "metadata.name"));
    return Status::OK();
  }

  static Status NoStatus(const ResourceType& type) {
    return NotFound(type.plural + " have no status subresource");
  }

  HttpResponse ListResponse(const HttpRequest& request, const ResourceType& type,
                            store::ListResult list) const {
    Json metadata = {{"resourceVersion", std::to_string(list.resource_version)}};
    if (!list.continue_token.empty()) metadata["continue"] = list.continue_token;
    return ObjectResponse(request, 200,
                          {{"apiVersion", type.ApiVersion(type.versions.front())},
                           {"kind", type.kind + "List"},
                           {"metadata", std::move(metadata)},
                           {"items", std::move(list.items)}});
  }

  Result<HttpResponse> DoList(const HttpRequest& request, bool all_namespaces) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    if (!all_namespaces) RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/false));
    ASSIGN_OR_RETURN(Query query, Query::From(request, {"limit", "continue", "labelSelector", "watch",
                                                        "resourceVersion"}));
    ASSIGN_OR_RETURN(bool watch, ParseBool(query, "watch"));

    store::LabelSelector selector;
    if (const std::string* text = query.Get("labelSelector")) {
      auto parsed = store::LabelSelector::Parse(*text);
      if (!parsed.ok()) return Status(parsed.status().code(), parsed.status().message(), "labelSelector");
      selector = std::move(parsed).value();
    }
    std::string ns = all_namespaces ? std::string() : request.Param("ns");
    if (watch) return Watch(request, *type, std::move(ns), std::move(selector), query);

    if (query.Get("resourceVersion") != nullptr)
      return InvalidArgument("resourceVersion is only supported with watch=true", "resourceVersion");
    store::ListOptions options;
    options.ns = std::move(ns);
    options.selector = std::move(selector);
    options.limit = kDefaultLimit;
    if (const std::string* text = query.Get("limit")) {
      ASSIGN_OR_RETURN(std::int64_t limit,
                       ParseInteger(*text, "limit", 1, kMaxLimit, "an integer from 1 to 1000"));
      options.limit = static_cast<int>(limit);
    }
    if (const std::string* token = query.Get("continue")) {
      if (token->empty()) return InvalidArgument("continue must not be empty", "continue");
      options.continue_token = *token;
    }
    auto list = store_->List(type->key(), options);
    if (!list.ok()) {
      Status status = list.status();
      // The token is the only caller-supplied input the store interprets.
      if (status.code() == StatusCode::kInvalidArgument && status.field().empty() &&
          !options.continue_token.empty())
        return Status(status.code(), status.message(), "continue");
      return status;
    }
    return ListResponse(request, *type, std::move(list).value());
  }

  Result<HttpResponse> Watch(const HttpRequest& request, const ResourceType& type, std::string ns,
                             store::LabelSelector selector, const Query& query) const {
    for (const char* name : {"limit", "continue"}) {
      if (query.Get(name) != nullptr)
        return InvalidArgument(std::string(name) + " is not supported with watch=true", name);
    }
    store::WatchOptions options;
    options.type_key = type.key();
    options.ns = std::move(ns);
    options.selector = std::move(selector);
    if (const std::string* text = query.Get("resourceVersion")) {
      ASSIGN_OR_RETURN(options.from_revision,
                       ParseInteger(*text, "resourceVersion", 0, std::numeric_limits<std::int64_t>::max(),
                                    "a decimal revision as returned by the server"));
    }
    // As in Kubernetes, a watch without a resourceVersion (or with "0")
    // starts with the current objects as ADDED events.
    options.initial_state = options.from_revision == 0;
    auto stream = WatchStream::Open(store_, options, max_watch_backlog_);
    if (!stream.ok()) {
      if (IsExpiredWatchStatus(stream.status())) {
        return ErrorResponse(ExpiredError(stream.status().message() +
                                          "; list again and watch from the list's " +
                                          "metadata.resourceVersion"));
      }
      return stream.status();
    }
    HttpResponse response;
    response.stream = std::move(stream).value();
    return response;
  }

  Result<HttpResponse> DoCreate(const HttpRequest& request, BodyFormat format) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/false));
    RETURN_IF_ERROR(Query::From(request, {}).status());
    ASSIGN_OR_RETURN(Json object, DecodeObject(request.body, format));
    const std::string& ns = request.Param("ns");
    RETURN_IF_ERROR(types_->ValidateObject(*type, object, ns, ""));
    SetNamespace(object, ns);
    // The store drops .status: as in Kubernetes, only the status
    // subresource writes it.
    ASSIGN_OR_RETURN(Json created, store_->Create(type->key(), std::move(object)));
    return ObjectResponse(request, 201, created);
  }

  Result<HttpResponse> DoGet(const HttpRequest& request, bool status_subresource) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/true));
    RETURN_IF_ERROR(Query::From(request, {}).status());
    if (status_subresource && !HasStatus(*type)) return NoStatus(*type);
    ASSIGN_OR_RETURN(Json object, store_->Get(type->key(), request.Param("ns"), request.Param("name")));
    return ObjectResponse(request, 200, object);
  }

  Result<HttpResponse> DoReplace(const HttpRequest& request, BodyFormat format,
                                 bool status_subresource) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/true));
    RETURN_IF_ERROR(Query::From(request, {}).status());
    if (status_subresource && !HasStatus(*type)) return NoStatus(*type);
    ASSIGN_OR_RETURN(Json object, DecodeObject(request.body, format));
    const std::string& ns = request.Param("ns");
    RETURN_IF_ERROR(types_->ValidateObject(*type, object, ns, request.Param("name")));
    SetNamespace(object, ns);
    Result<Json> replaced =
        status_subresource ? store_->ReplaceStatus(type->key(), std::move(object))
                           : store_->Replace(type->key(), std::move(object),
                                             [this, type](const Json& old_object, const Json& new_object) {
                                               return types_->ValidateUpdate(*type, old_object, new_object);
                                             });
    if (!replaced.ok()) return replaced.status();
    return ObjectResponse(request, 200, *replaced);
  }

  Result<HttpResponse> DoPatch(const HttpRequest& request) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/true));
    RETURN_IF_ERROR(Query::From(request, {}).status());
    ASSIGN_OR_RETURN(Json patch, DecodeObject(request.body, BodyFormat::kJson));
    auto metadata = patch.find("metadata");
    if (metadata != patch.end() && !metadata->is_object() && !metadata->is_null())
      return InvalidArgument("metadata must be an object, got " + std::string(JsonTypeName(*metadata)),
                             "metadata");
    const std::string& ns = request.Param("ns");
    const std::string& name = request.Param("name");
    if (metadata != patch.end() && metadata->is_object() && metadata->contains("uid")) {
      // The store reads a uid as a precondition (409); a patch that would
      // change it is a malformed request instead.
      ASSIGN_OR_RETURN(Json current, store_->Get(type->key(), ns, name));
      const Json& uid = (*metadata)["uid"];
      if (uid != current["metadata"].value("uid", Json()))
        return InvalidArgument("metadata.uid cannot be changed", "metadata.uid");
    }
    // The merged object is validated inside the store's transaction, before
    // it is written, exactly as a PUT of it would be.
    ASSIGN_OR_RETURN(
        Json patched,
        store_->Patch(type->key(), ns, name, patch, [&](const Json& old_object, const Json& new_object) {
          RETURN_IF_ERROR(types_->ValidateObject(*type, new_object, ns, name));
          return types_->ValidateUpdate(*type, old_object, new_object);
        }));
    return ObjectResponse(request, 200, patched);
  }

  Result<HttpResponse> DoDelete(const HttpRequest& request) const {
    ASSIGN_OR_RETURN(const ResourceType* type, TypeOf(request));
    RETURN_IF_ERROR(CheckUrlNames(request, /*with_name=*/true));
    ASSIGN_OR_RETURN(Query query, Query::From(request, {"resourceVersion"}));
    std::optional<std::int64_t> expected;
    if (const std::string* text = query.Get("resourceVersion")) {
      ASSIGN_OR_RETURN(expected,
                       ParseInteger(*text, "resourceVersion", 1, std::numeric_limits<std::int64_t>::max(),
                                    "a decimal revision as returned by the server"));
    }
    ASSIGN_OR_RETURN(Json deleted,
                     store_->Delete(type->key(), request.Param("ns"), request.Param("name"), expected));
    return ObjectResponse(request, 200, deleted);
  }

  // Objects are stored with their namespace; the URL's when the body has none.
  static void SetNamespace(Json& object, const std::string& ns) {
    Json& metadata = object["metadata"];
    auto it = metadata.find("namespace");
    if (it == metadata.end() || it->is_null() ||
        (it->is_string() && it->get_ref<const std::string&>().empty()))
      metadata["namespace"] = ns;
  }

  store::ResourceStore* store_;
  const store::ResourceTypes* types_;
  std::size_t max_watch_backlog_;
};

}  // namespace

Status AddNativeRoutes(Router& router, const ApiServices& services, std::size_t max_watch_backlog) {
  auto api = std::make_shared<NativeApi>(services, max_watch_backlog);
  // Discovery reads only the in-memory type registry.
  RETURN_IF_ERROR(router.Add("GET", kDiscovery, [api](const HttpRequest& r) { return api->Discovery(r); },
                             {.blocking = false}));
  RETURN_IF_ERROR(
      router.Add("GET", kAllNamespaces, [api](const HttpRequest& r) { return api->List(r, true); }));
  RETURN_IF_ERROR(
      router.Add("GET", kCollection, [api](const HttpRequest& r) { return api->List(r, false); }));
  RETURN_IF_ERROR(router.Add("POST", kCollection, [api](const HttpRequest& r) { return api->Create(r); }));
  RETURN_IF_ERROR(router.Add("GET", kObject, [api](const HttpRequest& r) { return api->Get(r, false); }));
  RETURN_IF_ERROR(router.Add("PUT", kObject, [api](const HttpRequest& r) { return api->Replace(r, false); }));
  RETURN_IF_ERROR(router.Add("PATCH", kObject, [api](const HttpRequest& r) { return api->Patch(r); }));
  RETURN_IF_ERROR(router.Add("DELETE", kObject, [api](const HttpRequest& r) { return api->Delete(r); }));
  RETURN_IF_ERROR(router.Add("GET", kStatus, [api](const HttpRequest& r) { return api->Get(r, true); }));
  RETURN_IF_ERROR(router.Add("PUT", kStatus, [api](const HttpRequest& r) { return api->Replace(r, true); }));
  return Status::OK();
}

}  // namespace ferry::api
