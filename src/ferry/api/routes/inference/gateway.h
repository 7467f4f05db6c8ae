#pragma once
// The serving gateway of `ferry server`: every endpoint (an InferenceService
// in namespace "default") answers its whole V2 surface at the server's own
// address, so a client needs only the server URL — KServe's ingress and
// Knative's activator in one. The gateway owns no model: it asks
// serving::Router for a replica (the canary split; waiting while a
// scaled-to-zero revision starts) and forwards the request to that
// replica's `ferry serve` over a kept-alive HTTP connection.
//
//   GET  /v2, /v2/health/live, /v2/health/ready      answered here
//   GET  /v2/models/{EP}[/versions/{v}][/ready|/config|/stats]
//   POST /v2/models/{EP}[/versions/{v}]/infer
//   POST /v1/models/{EP}:predict                     forwarded to a replica
//   GET  /api/v1/serving/payloads?endpoint=default/EP&since=&until=&limit=&page_token=
//        the payload log, oldest first: {"records": [...], "nextPageToken"}
//        (native error shape; since/until: RFC 3339 or microseconds)
//
// Forwarded: method, path and query as sent, the body, Content-Type,
// Inference-Header-Content-Length, Accept, Content-Encoding and the request
// id (X-Request-Id). Returned: the replica's status and body with those
// headers and Retry-After, plus `ferry-revision: <revision>`. A replica that
// cannot be connected to (nothing was sent) is retried once on another
// Acquire; any other failure is 502. Errors on the /v2 and /v1 paths are
// V2's {"error": "..."}: 404 "endpoint 'EP' not found", 503 with Retry-After
// when no replica became ready in time, 502 naming the endpoint.
//
// Payload log: when the Router's lease samples a request, the gateway
// appends a PayloadRecord with the bodies as JSON text. A binary-extension
// body (Inference-Header-Content-Length) is logged as its JSON header only;
// that header names each binary tensor's size (parameters.binary_data_size),
// the tensor bytes are not logged.
//
// Metrics (in ApiServices::metrics): ferry_gateway_requests_total
// {endpoint, revision, code} and ferry_gateway_request_duration_seconds
// {endpoint, revision}, for requests to published endpoints only (so
// unknown names cannot grow the label set).
//
// Thread-safety: the handlers are thread-safe; each handler thread keeps
// its own HTTP connection per replica address.

#include <chrono>
#include <string>

#include "ferry/api/api_server.h"
#include "ferry/api/router.h"
#include "ferry/common/status.h"

namespace ferry::api::inference {

struct GatewayOptions {
  std::string server_version = "";  // in GET /v2
  std::string ns = "default";       // the namespace whose endpoints are served
  // How long a request waits for a replica (scale from zero) before 503.
  std::chrono::milliseconds acquire_wait{60'000};
  // Bound on one forwarded request, connection included.
  std::chrono::milliseconds replica_timeout{120'000};
};

// Adds the gateway routes when services.router is set (the payload
// read-back route when services.payload_log is also set); a no-op
// otherwise. Internal if the gateway metrics are already registered.
Status AddGatewayRoutes(Router& router, const ApiServices& services, const GatewayOptions& options = {});

}  // namespace ferry::api::inference
