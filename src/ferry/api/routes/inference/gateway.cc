#include "ferry/api/routes/inference/gateway.h"

#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "ferry/api/client/http_client.h"
#include "ferry/api/codec.h"
#include "ferry/api/errors.h"
#include "ferry/api/routes/inference/common_internal.h"
#include "ferry/common/json.h"
#include "ferry/common/strings.h"
#include "ferry/common/time.h"
#include "ferry/serving/payload_log.h"
#include "ferry/serving/protocol/infer.h"
#include "ferry/serving/router.h"

namespace ferry::api::inference {
namespace {

// Extensions named in GET /v2: the replicas' own, reached through the gateway.
constexpr const char* kExtensions[] = {"binary_tensor_data", "model_configuration", "statistics",
                                       "classification"};

// Request headers a replica needs to read the request as the client meant it.
constexpr const char* kForwardedRequestHeaders[] = {"Content-Type", "Inference-Header-Content-Length", "Accept",
                                                    "Content-Encoding"};
// Response headers the client needs to read the answer (and to back off).
constexpr const char* kForwardedResponseHeaders[] = {"Content-Type", "Inference-Header-Content-Length",
                                                     "Content-Encoding", "Retry-After"};

// Connections kept per handler thread before the map is cleared: replicas
// come and go on new ports, and a dead one's entry must not live forever.
constexpr std::size_t kMaxClientsPerThread = 64;

struct Gateway {
  serving::Router* router;
  serving::PayloadLog* payload_log;
  Env* env;
  GatewayOptions options;
  MetricFamily<Counter>* requests = nullptr;
  MetricFamily<Histogram>* duration = nullptr;
};

HttpResponse V2Status(int status, const std::string& message) {
  return TextResponse(status, "application/json", serving::protocol::EncodeError(message));
}

client::HttpClient& ClientFor(const std::string& address, const GatewayOptions& options) {
  thread_local std::map<std::string, std::unique_ptr<client::HttpClient>> clients;
  auto it = clients.find(address);
  if (it != clients.end()) return *it->second;
  if (clients.size() >= kMaxClientsPerThread) clients.clear();
  client::HttpClientOptions client_options;
  client_options.connect_timeout = std::min<std::chrono::milliseconds>(options.replica_timeout, std::chrono::seconds(5));
  client_options.request_timeout = options.replica_timeout;
  client_options.user_agent = "ferry-gateway";
  auto client = std::make_unique<client::HttpClient>("http://" + address, client_options);
  return *clients.emplace(address, std::move(client)).first->second;
}

// HttpClient reports "nothing could be sent" as Unavailable "cannot reach".
bool IsConnectFailure(const Status& status) {
  return status.code() == StatusCode::kUnavailable && status.message().starts_with("cannot reach");
}

// The JSON part of a body: all of it, or its first
// Inference-Header-Content-Length bytes for the binary extension.
std::string_view JsonPart(std::string_view body, std::string_view header_length) {
  if (header_length.empty()) return body;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(header_length.data(), header_length.data() + header_length.size(), n);
  if (ec != std::errc() || p != header_length.data() + header_length.size()) return {};
  return body.substr(0, std::min(n, body.size()));
}

// The V2 request's "id" when it has one.
std::string V2RequestId(std::string_view json) {
  Json parsed = Json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object()) {
    auto it = parsed.find("id");
    if (it != parsed.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

struct Forwarded {
  HttpResponse response;
  std::string revision;
  std::optional<serving::Router::Lease> lease;  // kept for the payload log's flags
};

// Sends the request to a replica of `endpoint`: the error responses here
// are the gateway's own (404/503/502).
Forwarded Forward(const Gateway& gw, const HttpRequest& request, const std::string& name,
                  const std::string& endpoint) {
  Forwarded out;
  client::Headers headers;
  for (const char* h : kForwardedRequestHeaders) {
    std::string_view value = request.headers.Get(h);
    if (!value.empty()) headers.emplace_back(h, std::string(value));
  }
  if (!request.request_id.empty()) headers.emplace_back("X-Request-Id", request.request_id);

  for (int attempt = 0; attempt < 2; ++attempt) {
    auto lease = gw.router->Acquire(endpoint, gw.options.acquire_wait);
    if (!lease.ok()) {
      out.lease.reset();
      if (lease.status().code() == StatusCode::kNotFound) {
        out.response = V2Status(404, "endpoint " + QuoteForMessage(name) + " not found");
      } else {
        out.response = V2Status(503, "endpoint " + QuoteForMessage(name) + " has no ready replica");
        out.response.headers.Set("Retry-After", "1");
      }
      return out;
    }
    out.revision = lease->revision();
    const std::string address = lease->address();
    client::HttpClient& client = ClientFor(address, gw.options);
    auto reply = client.Request(request.method, request.target, request.body, headers);
    out.lease.emplace(std::move(*lease));
    if (reply.ok()) {
      HttpResponse response;
      response.status = reply->status;
      response.body = std::move(reply->body);
      for (const char* h : kForwardedResponseHeaders) {
        std::string value = reply->Header(h);
        if (!value.empty()) response.headers.Set(h, std::move(value));
      }
      response.headers.Set("ferry-revision", out.revision);
      out.response = std::move(response);
      return out;
    }
    if (IsConnectFailure(reply.status()) && attempt == 0) continue;  // nothing was sent: safe to retry
    out.response = V2Status(502, "endpoint " + QuoteForMessage(name) + ": replica " + address +
                                     " of revision " + out.revision + " failed: " +
                                     SanitizeForMessage(reply.status().message()));
    out.response.headers.Set("ferry-revision", out.revision);
    return out;
  }
  return out;  // unreachable: the second attempt always returns
}

HttpResponse Handle(const Gateway& gw, const HttpRequest& request, const std::string& name) {
  const std::string endpoint = gw.options.ns + "/" + name;
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t received_micros = gw.env->NowMicros();
  Forwarded f = Forward(gw, request, name, endpoint);
  if (!f.lease) {
    // 404: unknown names stay out of the metrics' labels. 503: the
    // endpoint exists, no revision answered.
    if (f.response.status == 503 && gw.requests != nullptr) {
      gw.requests->WithLabels({endpoint, "", "503"}).Inc();
    }
    return std::move(f.response);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (gw.requests != nullptr) {
    gw.requests->WithLabels({endpoint, f.revision, std::to_string(f.response.status)}).Inc();
    gw.duration->WithLabels({endpoint, f.revision}).Observe(seconds);
  }
  if (gw.payload_log != nullptr && (f.lease->log_request() || f.lease->log_response())) {
    serving::PayloadRecord record;
    record.endpoint = endpoint;
    record.revision = f.revision;
    record.timestamp_micros = received_micros;
    record.status = f.response.status;
    const std::string_view request_json =
        JsonPart(request.body, request.headers.Get("Inference-Header-Content-Length"));
    record.request_id = V2RequestId(request_json);
    if (record.request_id.empty()) record.request_id = request.request_id;
    if (f.lease->log_request()) record.request = std::string(request_json);
    if (f.lease->log_response()) {
      record.response =
          std::string(JsonPart(f.response.body, f.response.headers.Get("Inference-Header-Content-Length")));
    }
    gw.payload_log->Append(std::move(record));
  }
  return std::move(f.response);
}

// "since"/"until": RFC 3339, or microseconds since the epoch.
Result<std::int64_t> ParseTime(const std::string& text, const std::string& field) {
  std::int64_t micros = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), micros);
  if (!text.empty() && ec == std::errc() && p == text.data() + text.size()) {
    if (micros < 0) return InvalidArgument(field + " must not be negative", field);
    return micros;
  }
  auto parsed = ParseRfc3339(text);
  if (!parsed.ok()) {
    return InvalidArgument(field + " " + QuoteForMessage(text) +
                               " is neither an RFC 3339 time nor microseconds since the epoch",
                           field);
  }
  return *parsed;
}

Json BodyJson(const std::string& text) {
  if (text.empty()) return nullptr;
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  // A truncated body is no longer JSON: it is returned as the text it is.
  return parsed.is_discarded() ? Json(text) : parsed;
}

Result<HttpResponse> Payloads(const Gateway& gw, const HttpRequest& request) {
  ASSIGN_OR_RETURN(auto query, AcceptedQuery(request, {"endpoint", "since", "until", "limit", "page_token"}));
  serving::PayloadQuery q;
  q.endpoint = query["endpoint"];
  if (q.endpoint.empty()) return InvalidArgument("endpoint is required, e.g. endpoint=default/NAME", "endpoint");
  if (q.endpoint.find('/') == std::string::npos) {
    return InvalidArgument("endpoint " + QuoteForMessage(q.endpoint) + " must be NAMESPACE/NAME", "endpoint");
  }
  if (auto it = query.find("since"); it != query.end()) {
    ASSIGN_OR_RETURN(q.since_micros, ParseTime(it->second, "since"));
  }
  if (auto it = query.find("until"); it != query.end()) {
    ASSIGN_OR_RETURN(q.until_micros, ParseTime(it->second, "until"));
  }
  if (auto it = query.find("limit"); it != query.end()) {
    const std::string& text = it->second;
    int limit = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size() || limit < 1) {
      return InvalidArgument("limit " + QuoteForMessage(text) + " is not a positive integer", "limit");
    }
    q.limit = limit;
  }
  if (auto it = query.find("page_token"); it != query.end()) q.page_token = it->second;
  ASSIGN_OR_RETURN(serving::PayloadPage page, gw.payload_log->Query(q));
  Json records = Json::array();
  for (const serving::PayloadRecord& r : page.records) {
    records.push_back({{"endpoint", r.endpoint},
                       {"revision", r.revision},
                       {"requestId", r.request_id},
                       {"timestampMicros", r.timestamp_micros},
                       {"time", FormatRfc3339Micros(r.timestamp_micros)},
                       {"status", r.status},
                       {"request", BodyJson(r.request)},
                       {"response", BodyJson(r.response)},
                       {"truncated", r.truncated}});
  }
  Json body = {{"records", std::move(records)}};
  if (!page.next_page_token.empty()) body["nextPageToken"] = page.next_page_token;
  return ObjectResponse(request, 200, body);
}

// Adds `handler` on the pattern with and without "/versions/{version}".
Status AddVersioned(Router& router, const std::string& method, const std::string& suffix, const Handler& handler) {
  RETURN_IF_ERROR(router.Add(method, "/v2/models/{model}" + suffix, handler));
  return router.Add(method, "/v2/models/{model}/versions/{version}" + suffix, handler);
}

}  // namespace

Status AddGatewayRoutes(Router& router, const ApiServices& services, const GatewayOptions& options) {
  if (services.router == nullptr) return Status::OK();
  auto gw = std::make_shared<Gateway>();
  gw->router = services.router;
  gw->payload_log = services.payload_log;
  gw->env = services.env != nullptr ? services.env : Env::Default();
  gw->options = options;
  if (services.metrics != nullptr) {
    try {
      gw->requests = &services.metrics->AddCounter("ferry_gateway_requests_total",
                                                   "Requests the serving gateway forwarded, by answer code.",
                                                   {"endpoint", "revision", "code"});
      gw->duration = &services.metrics->AddHistogram(
          "ferry_gateway_request_duration_seconds",
          "Time from a request's arrival at the gateway to its replica's answer.", {"endpoint", "revision"});
    } catch (const std::exception& e) {
      return Internal(std::string("cannot register the gateway metrics: ") + e.what());
    }
  }

  const RouteOptions cheap{.blocking = false};
  Json metadata = {{"name", "ferry"}, {"version", options.server_version}, {"extensions", kExtensions}};
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2",
      [body = metadata.dump()](const HttpRequest&) { return TextResponse(200, "application/json", body); }, cheap));
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2/health/live", [](const HttpRequest&) { return TextResponse(200, "application/json", ""); },
      cheap));
  RETURN_IF_ERROR(router.Add(
      "GET", "/v2/health/ready", [](const HttpRequest&) { return TextResponse(200, "application/json", ""); },
      cheap));

  // Forwarding blocks (waiting for a replica, the replica's answer): the
  // handler pool, never the I/O threads.
  Handler forward = [gw](const HttpRequest& r) { return Handle(*gw, r, r.Param("model")); };
  RETURN_IF_ERROR(AddVersioned(router, "GET", "", forward));
  RETURN_IF_ERROR(AddVersioned(router, "GET", "/ready", forward));
  RETURN_IF_ERROR(AddVersioned(router, "GET", "/config", forward));
  RETURN_IF_ERROR(AddVersioned(router, "GET", "/stats", forward));
  RETURN_IF_ERROR(AddVersioned(router, "POST", "/infer", forward));
  RETURN_IF_ERROR(router.Add("POST", "/v1/models/{model}", [gw](const HttpRequest& r) {
    constexpr std::string_view kPredict = ":predict";
    const std::string& segment = r.Param("model");
    if (!segment.ends_with(kPredict) || segment.size() == kPredict.size()) {
      return V2Status(404, "no V1 verb in " + QuoteForMessage(segment) + "; POST /v1/models/{model}:predict");
    }
    return Handle(*gw, r, segment.substr(0, segment.size() - kPredict.size()));
  }));

  if (services.payload_log != nullptr) {
    RETURN_IF_ERROR(router.Add("GET", "/api/v1/serving/payloads", [gw](const HttpRequest& r) {
      auto response = Payloads(*gw, r);
      return response.ok() ? std::move(*response) : ErrorResponse(r, response.status());
    }));
  }
  return Status::OK();
}

}  // namespace ferry::api::inference
