#pragma once
// HttpServer: the HTTP/1.1 transport under ApiServer, on Boost.Beast. It
// owns the listening socket, the connections and the threads; it reads
// requests within the limits of ApiOptions, asks the Router for a handler,
// runs it (blocking handlers on a bounded worker pool, cheap ones inline),
// and writes the response or streams an EventStream as server-sent events.
//
// Per request it assigns the X-Request-Id, writes one structured access-log
// line and updates ferry_http_requests_total, _request_duration_seconds,
// _requests_in_flight and _connections_open.
//
// Connections handle one request at a time, in order, so pipelined
// requests are answered in the order they were sent.
//
// Thread-safety: thread-safe; Shutdown() must not be called from a handler.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/env.h"
#include "ferry/common/metrics.h"
#include "ferry/common/status.h"

namespace ferry::api {

class HttpServer {
 public:
  // Binds `options.listen` and starts serving `router`, which must outlive
  // the server. Errors as ApiServer::Start.
  static Result<std::unique_ptr<HttpServer>> Start(const ApiOptions& options, const Router* router,
                                                   MetricsRegistry* metrics, Env* env);
  ~HttpServer();  // Shutdown(0) if still running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "http://HOST:PORT" with the bound port.
  std::string url() const;

  // As ApiServer::Shutdown.
  void Shutdown(std::chrono::milliseconds drain);

  // The server's state, shared with its connections (http_server.cc).
  struct Core;

 private:
  explicit HttpServer(std::unique_ptr<Core> core);
  std::unique_ptr<Core> core_;
};

// Splits "host:port" ("[::1]:8080" for IPv6; port 0 = any free port).
// InvalidArgument naming `listen` when malformed.
Result<std::pair<std::string, unsigned short>> ParseListenAddress(std::string_view listen);

}  // namespace ferry::api
