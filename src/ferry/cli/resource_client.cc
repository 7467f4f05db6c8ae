#include "ferry/cli/resource_client.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace ferry::cli {
namespace {

using api::client::ApiError;
using api::client::HttpResponse;
using api::client::PercentEncode;

const api::client::Headers kJsonHeaders = {{"Accept", "application/json"},
                                           {"Content-Type", "application/json"}};

Reply InvalidResponse(std::string message) {
  Reply reply;
  reply.error = ApiError{0, "InvalidResponse", std::move(message), {}};
  return reply;
}

// Reads a response: its JSON body when 2xx, its error otherwise.
Reply ToReply(const HttpResponse& response, std::string_view what) {
  Reply reply;
  if (response.status < 200 || response.status >= 300) {
    reply.error = api::client::ParseApiError(response);
    return reply;
  }
  auto body = ParseJson(response.body);
  if (!body.ok())
    return InvalidResponse("the server's answer to " + std::string(what) +
                           " is not JSON: " + body.status().message());
  reply.body = std::move(body).value();
  return reply;
}

}  // namespace

std::string ResourcePath(const ApiResource& type, std::string_view ns, std::string_view name) {
  std::string path = "/api/v1";
  if (type.namespaced && !ns.empty()) path += "/namespaces/" + PercentEncode(ns);
  path += "/" + PercentEncode(type.name);
  if (!name.empty()) path += "/" + PercentEncode(name);
  return path;
}

ResourceClient::ResourceClient(api::client::HttpClient* http) : http_(http) {}

Result<Reply> ResourceClient::Call(std::string_view method, const std::string& path, const Json* body) {
  std::string text;
  if (body != nullptr) text = body->dump(-1, ' ', false, Json::error_handler_t::replace);
  ASSIGN_OR_RETURN(HttpResponse response, http_->Request(method, path, text, kJsonHeaders));
  return ToReply(response, std::string(method) + " " + path);
}

Result<Reply> ResourceClient::Discover() {
  ASSIGN_OR_RETURN(Reply reply, Call("GET", "/api/v1", nullptr));
  if (!reply.ok()) return reply;
  auto resources = ParseDiscovery(reply.body);
  if (!resources.ok()) {
    return InvalidResponse("the server's discovery document (GET /api/v1) is malformed: " +
                           resources.status().message());
  }
  resources_ = std::move(resources).value();
  return reply;
}

Result<Reply> ResourceClient::Get(const ApiResource& type, std::string_view ns, std::string_view name) {
  return Call("GET", ResourcePath(type, ns, name), nullptr);
}

Result<Reply> ResourceClient::List(const ApiResource& type, std::string_view ns,
                                   std::string_view label_selector) {
  const std::string base = ResourcePath(type, ns);
  Reply combined;
  std::string token;
  std::set<std::string> seen_tokens;
  while (true) {
    std::string path = base + "?limit=500";
    if (!label_selector.empty()) path += "&labelSelector=" + PercentEncode(label_selector);
    if (!token.empty()) path += "&continue=" + PercentEncode(token);
    ASSIGN_OR_RETURN(Reply page, Call("GET", path, nullptr));
    if (!page.ok()) return page;
    if (!page.body.is_object() || !page.body.contains("items") || !page.body["items"].is_array()) {
      return InvalidResponse("the server's list of " + type.QualifiedPlural() + " has no items array");
    }
    if (combined.body.is_null()) {
      combined.body = page.body;
    } else {
      for (auto& item : page.body["items"]) combined.body["items"].push_back(std::move(item));
    }
    const Json& metadata = page.body.contains("metadata") ? page.body["metadata"] : Json();
    token = metadata.is_object() && metadata.contains("continue") && metadata["continue"].is_string()
                ? metadata["continue"].get<std::string>()
                : "";
    if (token.empty()) break;
    // A token the server already gave would loop forever.
    if (!seen_tokens.insert(token).second) {
      return InvalidResponse("the server repeated a continue token while listing " + type.QualifiedPlural());
    }
  }
  if (combined.body.contains("metadata") && combined.body["metadata"].is_object()) {
    combined.body["metadata"].erase("continue");
  }
  return combined;
}

Result<Reply> ResourceClient::Create(const ApiResource& type, std::string_view ns, const Json& object) {
  return Call("POST", ResourcePath(type, ns), &object);
}

Result<Reply> ResourceClient::Replace(const ApiResource& type, std::string_view ns, std::string_view name,
                                      const Json& object) {
  return Call("PUT", ResourcePath(type, ns, name), &object);
}

Result<Reply> ResourceClient::Delete(const ApiResource& type, std::string_view ns, std::string_view name) {
  return Call("DELETE", ResourcePath(type, ns, name), nullptr);
}

Result<Reply> ResourceClient::Watch(const ApiResource& type, std::string_view ns,
                                    std::string_view label_selector, std::string_view resource_version,
                                    const std::function<bool(const WatchEvent&)>& on_event) {
  std::string path = ResourcePath(type, ns) + "?watch=true";
  if (!label_selector.empty()) path += "&labelSelector=" + PercentEncode(label_selector);
  if (!resource_version.empty()) path += "&resourceVersion=" + PercentEncode(resource_version);
  std::optional<Reply> bad_event;
  auto handle = [&](const api::client::SseEvent& sse) {
    auto data = ParseJson(sse.data);
    if (!data.ok() || !data->is_object() || !data->contains("object") || !(*data)["object"].is_object()) {
      bad_event = InvalidResponse("malformed watch event from the server: " +
                                  (data.ok() ? std::string("no object") : data.status().message()));
      return false;
    }
    WatchEvent event;
    event.type =
        data->contains("type") && (*data)["type"].is_string() ? (*data)["type"].get<std::string>() : sse.type;
    event.object = std::move((*data)["object"]);
    return on_event(event);
  };
  ASSIGN_OR_RETURN(HttpResponse response, http_->Stream(path, {}, handle));
  if (bad_event) return *bad_event;
  if (response.status < 200 || response.status >= 300) return ToReply(response, "watch");
  std::string content_type = response.Header("content-type");
  std::transform(content_type.begin(), content_type.end(), content_type.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (content_type.rfind("text/event-stream", 0) != 0) {
    return InvalidResponse("the server answered a watch with content type \"" +
                           response.Header("content-type") + "\" instead of text/event-stream");
  }
  return Reply{};
}

Result<Reply> ResourceClient::Version() { return Call("GET", "/version", nullptr); }

}  // namespace ferry::cli
