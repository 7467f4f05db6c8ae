#pragma once
// ResourceClient: the native resource API (`/api/v1`) as the CLI's verbs
// use it — discovery, get, list (following `continue` to the end), create,
// replace, delete and watch — on top of one HttpClient.
//
// Every call distinguishes two failures: a non-OK Status means the server
// gave no answer (unreachable, timed out); a Reply carrying an ApiError means
// it answered and refused. The CLI maps them to exit codes 3 and 1.
//
// Thread-safety: not thread-safe (the HttpClient is not).

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/client/api_error.h"
#include "ferry/api/client/http_client.h"
#include "ferry/cli/discovery.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::cli {

// The server's answer: a JSON document, or the error it gave.
struct Reply {
  Json body;
  std::optional<api::client::ApiError> error;

  bool ok() const { return !error.has_value(); }
};

// One watch event: "ADDED", "MODIFIED" or "DELETED" and the object.
struct WatchEvent {
  std::string type;
  Json object;
};

class ResourceClient {
 public:
  explicit ResourceClient(api::client::HttpClient* http);

  // GET /api/v1, parsed into resources(). A document that cannot be parsed
  // is reported as an ApiError ("InvalidResponse").
  Result<Reply> Discover();
  // The resources of the last successful Discover().
  const std::vector<ApiResource>& resources() const { return resources_; }

  // One object; `ns` is ignored for cluster-scoped types.
  Result<Reply> Get(const ApiResource& type, std::string_view ns, std::string_view name);
  // Every object of `type` in `ns` (all namespaces when empty) matching the
  // label selector, following `continue` tokens. The body is the first
  // page's list with all pages' items.
  Result<Reply> List(const ApiResource& type, std::string_view ns, std::string_view label_selector);
  Result<Reply> Create(const ApiResource& type, std::string_view ns, const Json& object);
  Result<Reply> Replace(const ApiResource& type, std::string_view ns, std::string_view name,
                        const Json& object);
  Result<Reply> Delete(const ApiResource& type, std::string_view ns, std::string_view name);
  // Streams events after `resource_version` until the server ends the stream
  // or `on_event` returns false. A malformed event ends the watch with an
  // ApiError ("InvalidResponse").
  Result<Reply> Watch(const ApiResource& type, std::string_view ns, std::string_view label_selector,
                      std::string_view resource_version,
                      const std::function<bool(const WatchEvent&)>& on_event);
  // GET /version.
  Result<Reply> Version();
  // Any other JSON endpoint, e.g. the MLflow surface: `path` carries the
  // query string; `body` is sent as JSON when given.
  Result<Reply> Call(std::string_view method, const std::string& path, const Json* body);

  const std::string& server() const { return http_->base_url(); }

 private:
  api::client::HttpClient* http_;
  std::vector<ApiResource> resources_;
};

// "/api/v1/namespaces/{ns}/{plural}[/{name}]", or "/api/v1/{plural}[/{name}]"
// for cluster-scoped types and for lists across all namespaces (empty `ns`).
std::string ResourcePath(const ApiResource& type, std::string_view ns, std::string_view name = {});

}  // namespace ferry::cli
