#pragma once
// HttpClient: a small libcurl-based HTTP/1.1 client for talking to a Ferry
// server (the `ferry` CLI's transport). A non-OK Status means no answer was
// obtained — the server could not be reached, or the request timed out; any
// HTTP response, 4xx and 5xx included, is an OK HttpResponse for the caller
// to interpret. One client reuses its connection across requests.
//
// Thread-safety: not thread-safe; use one HttpClient per thread.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/api/client/sse.h"
#include "ferry/common/status.h"

namespace ferry::api::client {

// Request headers in the order they are sent.
using Headers = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;
  // Response headers by lower-case name; a repeated header keeps its last value.
  std::map<std::string, std::string> headers;
  std::string body;

  // The value of header `name` (any case), or empty when absent.
  std::string Header(std::string_view name) const;
};

struct HttpClientOptions {
  std::chrono::milliseconds connect_timeout{10'000};
  // Whole-request bound for Request(); streams are bounded by idle_timeout instead.
  std::chrono::milliseconds request_timeout{60'000};
  // A stream that delivers no byte for this long is considered dead (the
  // server sends a keep-alive comment every 15 s).
  std::chrono::milliseconds idle_timeout{60'000};
  std::size_t max_response_bytes = std::size_t{256} << 20;
  std::string user_agent = "ferry";
};

class HttpClient {
 public:
  // `base_url` is "http[s]://host[:port]" optionally followed by a path prefix;
  // a URL without a scheme gets "http://". When it is malformed every
  // request fails with the NormalizeBaseUrl error.
  explicit HttpClient(std::string base_url, HttpClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Checks that `url` is an http(s) URL the client can use; returns the
  // normalised form (scheme added, trailing '/' removed).
  static Result<std::string> NormalizeBaseUrl(std::string_view url);

  // Sends `method` to base_url + `path` (path starts with '/' and carries the
  // query string) and reads the whole response.
  Result<HttpResponse> Request(std::string_view method, std::string_view path, std::string_view body = {},
                               const Headers& headers = {});

  // GETs a `text/event-stream` resource and calls `on_event` per event until
  // the server closes the stream or `on_event` returns false. When the server
  // answers with another status or content type, its response is returned
  // with the body read whole and no event delivered.
  Result<HttpResponse> Stream(std::string_view path, const Headers& headers,
                              const SseParser::EventCallback& on_event);

  // GETs a resource whose body arrives over time (a followed log) and calls
  // `on_chunk` with each piece of a 2xx body as it arrives, until the server
  // ends the body or `on_chunk` returns false. Any other status is returned
  // with the body read whole and no chunk delivered.
  Result<HttpResponse> StreamBody(std::string_view path, const Headers& headers,
                                  const std::function<bool(std::string_view)>& on_chunk);

  const std::string& base_url() const { return base_url_; }

 private:
  struct Transfer;
  Result<HttpResponse> Perform(Transfer& transfer, std::string_view method, std::string_view path,
                               std::string_view body, const Headers& headers, bool stream);

  std::string base_url_;
  Status base_url_status_;  // why base_url_ is unusable, if it is
  HttpClientOptions options_;
  void* curl_ = nullptr;  // CURL*, kept to reuse the connection
};

// Percent-encodes everything but RFC 3986 unreserved characters, for path
// segments and query values.
std::string PercentEncode(std::string_view text);

}  // namespace ferry::api::client
