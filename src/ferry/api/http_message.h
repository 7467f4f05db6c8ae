#pragma once
// HttpRequest and HttpResponse: the transport-neutral messages that route
// handlers see and produce. The server (http_server.h) builds an HttpRequest
// from the wire, the router fills in the path parameters, a handler returns
// an HttpResponse, and the server writes it back. Handlers never touch
// sockets, so routes and codecs are testable without a network.
//
// A response is either a complete body or, for watches and followed logs,
// an EventStream that the server drains until the stream ends.
//
// Thread-safety: plain values; an EventStream's methods say which thread
// may call them.

#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::api {

// HTTP header fields in arrival order; names compare case-insensitively.
class HttpHeaders {
 public:
  // Appends a field (repeats are kept, as HTTP allows).
  void Add(std::string name, std::string value);
  // Replaces every field called `name` by one with `value`.
  void Set(std::string_view name, std::string value);
  // The first value of `name`, or empty when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Source of a server-sent-events body (text/event-stream), e.g. a watch.
class EventStream {
 public:
  virtual ~EventStream() = default;
  // Called once on the connection's strand before the first Drain; the
  // stream calls `wake` (from any thread; it never blocks) when new output
  // is ready.
  virtual void Attach(std::function<void()> wake) = 0;
  // Appends the ready output (complete SSE events) to `out`. Returns false
  // when the stream has ended; `out` then holds its last output, if any.
  virtual bool Drain(std::string* out) = 0;
  // The body's media type. Only text/event-stream gets keep-alive comments;
  // any other type (a followed log, text/plain) is sent as raw bytes.
  virtual std::string content_type() const { return "text/event-stream"; }
};

struct HttpRequest {
  std::string method;                                      // as sent: "GET"
  std::string target;                                      // the raw request-target: "/api/v1/...?limit=5"
  std::string path;                                        // the target's path, still percent-encoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  HttpHeaders headers;
  std::string body;
  std::string request_id;  // the sanitised X-Request-Id of this exchange
  std::string remote;      // "ip:port" of the peer
  // Decoded `{param}` segments of the matched route.
  std::map<std::string, std::string> params;

  // The path parameter `name`, or empty when the route has none.
  const std::string& Param(const std::string& name) const;
};

struct HttpResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  // When set, the server answers 200 with the stream's content_type() and
  // streams from it; `body` is then unused.
  std::shared_ptr<EventStream> stream;
};

// A text response with the given Content-Type.
HttpResponse TextResponse(int status, std::string content_type, std::string body);

// Percent-decodes one path segment or query component ('+' stays '+' when
// `plus_as_space` is false). InvalidArgument on a malformed escape.
Result<std::string> PercentDecode(std::string_view text, bool plus_as_space);

// Splits "a=1&b=x%20y" into decoded pairs ('+' is a space, as HTML forms and
// most HTTP clients encode it). An empty string yields no pairs.
Result<std::vector<std::pair<std::string, std::string>>> ParseQuery(std::string_view query);

// The request's query parameters as a map, checked against what its route
// accepts: an unknown or repeated parameter is InvalidArgument naming it
// (not ignored).
Result<std::map<std::string, std::string>> AcceptedQuery(const HttpRequest& request,
                                                          std::initializer_list<std::string_view> accepted);

}  // namespace ferry::api
