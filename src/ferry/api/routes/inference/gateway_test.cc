// The gateway over real HTTP: a client talks to an in-process server with
// the gateway routes, which forwards through serving::Router to replicas
// that are in-process servers with the V2 inference routes (what `ferry
// serve` runs). Covers forwarding of V2 and V1, the revision header, the
// canary split, unknown endpoints, no ready replica, a dead replica (retried
// once, then 502), the payload log and its read-back API, and the metrics.

#include "ferry/api/routes/inference/gateway.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "ferry/api/client/http_client.h"
#include "ferry/api/http_server.h"
#include "ferry/api/routes/inference/routes.h"
#include "ferry/common/json.h"
#include "ferry/serving/inference_service.h"
#include "ferry/serving/model_repository.h"
#include "ferry/serving/payload_log.h"
#include "ferry/serving/router.h"
#include "ferry/store/testing/test_database.h"

namespace ferry::api::inference {
namespace {

using serving::protocol::DataType;
using serving::protocol::Tensor;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// y = x + `add` over FP32 [-1, 2]: which replica answered shows in the data.
class AddConst : public serving::Model {
 public:
  explicit AddConst(float add) : add_(add) {
    signature_.platform = "onnxruntime_onnx";
    signature_.inputs = {{"x", DataType::kFp32, {-1, 2}}};
    signature_.outputs = {{"y", DataType::kFp32, {-1, 2}}};
    signature_.max_batch_size = 8;
  }
  const serving::ModelSignature& signature() const override { return signature_; }
  Result<std::vector<Tensor>> Infer(const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>&) const override {
    Tensor y = inputs[0];
    y.name = "y";
    for (std::size_t i = 0; i + 4 <= y.data.size(); i += 4) {
      float f;
      std::memcpy(&f, y.data.data() + i, 4);
      f += add_;
      std::memcpy(y.data.data() + i, &f, 4);
    }
    return std::vector<Tensor>{y};
  }

 private:
  float add_;
  serving::ModelSignature signature_;
};

ApiOptions LocalOptions() {
  ApiOptions options;
  options.listen = "127.0.0.1:0";
  options.threads = 1;
  options.handler_threads = 4;
  options.log_requests = false;
  return options;
}

// One `ferry serve`-like replica hosting model "iris" (y = x + add).
struct Replica {
  explicit Replica(float add) {
    EXPECT_TRUE(repo.AddModel("iris", "1", std::make_shared<AddConst>(add)).ok());
    InferenceRouteOptions options;
    options.server_version = "replica";
    EXPECT_TRUE(AddInferenceRoutes(router, &service, options).ok());
    auto started = HttpServer::Start(LocalOptions(), &router, &metrics, Env::Default());
    EXPECT_TRUE(started.ok()) << started.status().ToString();
    if (started.ok()) server = std::move(*started);
  }
  std::string address() const { return server->url().substr(std::strlen("http://")); }

  serving::ModelRepository repo{""};
  serving::InferenceService service{&repo};
  Router router;
  MetricsRegistry metrics;
  std::unique_ptr<HttpServer> server;
};

constexpr char kInfer[] = R"({"id":"req-7","inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,2]}]})";

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tdb_ = store::testing::TestDatabase::Create(store::testing::Backend::kSqlite);
    ASSERT_TRUE(tdb_);
    auto log = serving::PayloadLog::Open(&tdb_->db(), Env::Default());
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    payload_log_ = std::move(*log);
    ApiServices services{};
    services.metrics = &metrics_;
    services.env = Env::Default();
    services.router = &serving_router_;
    services.payload_log = payload_log_.get();
    GatewayOptions options;
    options.server_version = "1.2.3";
    options.acquire_wait = 50ms;
    ASSERT_TRUE(AddGatewayRoutes(router_, services, options).ok());
    auto started = HttpServer::Start(LocalOptions(), &router_, &metrics_, Env::Default());
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    server_ = std::move(*started);
    client_ = std::make_unique<client::HttpClient>(server_->url());
  }

  client::HttpResponse Send(const std::string& method, const std::string& path, const std::string& body = "",
                            client::Headers headers = {{"Content-Type", "application/json"}}) {
    auto response = client_->Request(method, path, body, headers);
    EXPECT_TRUE(response.ok()) << response.status().ToString();
    return response.ok() ? *response : client::HttpResponse{};
  }

  static Json BodyOf(const client::HttpResponse& response) {
    auto parsed = ParseJson(response.body);
    EXPECT_TRUE(parsed.ok()) << response.body;
    return parsed.ok() ? *parsed : Json();
  }

  std::unique_ptr<store::testing::TestDatabase> tdb_;
  std::unique_ptr<serving::PayloadLog> payload_log_;
  serving::Router serving_router_;
  MetricsRegistry metrics_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<client::HttpClient> client_;
};

TEST_F(GatewayTest, ServerMetadataAndHealthAreLocal) {
  auto v2 = Send("GET", "/v2");
  EXPECT_EQ(v2.status, 200);
  EXPECT_EQ(BodyOf(v2)["version"], "1.2.3");
  EXPECT_EQ(Send("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Send("GET", "/v2/health/ready").status, 200);
}

TEST_F(GatewayTest, ForwardsTheV2SurfaceAndV1) {
  Replica replica(10);
  serving_router_.SetRoutes("default/iris", {{"iris-predictor-00001", 100, {replica.address()}}});

  auto infer = Send("POST", "/v2/models/iris/infer", kInfer);
  ASSERT_EQ(infer.status, 200) << infer.body;
  EXPECT_EQ(infer.Header("ferry-revision"), "iris-predictor-00001");
  EXPECT_THAT(infer.Header("Content-Type"), HasSubstr("application/json"));
  Json body = BodyOf(infer);
  EXPECT_EQ(body["id"], "req-7");
  EXPECT_EQ(body["outputs"][0]["data"], Json::parse("[11.0, 12.0]"));

  auto versioned = Send("POST", "/v2/models/iris/versions/1/infer", kInfer);
  EXPECT_EQ(versioned.status, 200) << versioned.body;
  EXPECT_EQ(Send("GET", "/v2/models/iris").status, 200);
  EXPECT_EQ(BodyOf(Send("GET", "/v2/models/iris"))["name"], "iris");
  EXPECT_EQ(Send("GET", "/v2/models/iris/ready").status, 200);
  EXPECT_EQ(Send("GET", "/v2/models/iris/versions/1/ready").status, 200);
  EXPECT_EQ(BodyOf(Send("GET", "/v2/models/iris/config"))["name"], "iris");
  EXPECT_TRUE(BodyOf(Send("GET", "/v2/models/iris/stats")).contains("model_stats"));
  // The replica's own errors come back as they are.
  auto missing_version = Send("GET", "/v2/models/iris/versions/9/ready");
  EXPECT_EQ(missing_version.status, 404);
  EXPECT_TRUE(BodyOf(missing_version).contains("error"));
  auto bad = Send("POST", "/v2/models/iris/infer", R"({"inputs": 5})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(BodyOf(bad)["error"].get<std::string>(), HasSubstr("inputs"));

  auto v1 = Send("POST", "/v1/models/iris:predict", R"({"instances": [[1, 2], [3, 4]]})");
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(BodyOf(v1)["predictions"], Json::parse("[[11.0, 12.0], [13.0, 14.0]]"));
  auto no_verb = Send("POST", "/v1/models/iris", "{}");
  EXPECT_EQ(no_verb.status, 404);
  EXPECT_THAT(BodyOf(no_verb)["error"].get<std::string>(), HasSubstr(":predict"));
}

TEST_F(GatewayTest, BinaryExtensionRoundTrips) {
  Replica replica(1);
  serving_router_.SetRoutes("default/iris", {{"r1", 100, {replica.address()}}});
  const std::string header =
      R"({"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}],)"
      R"("outputs":[{"name":"y","parameters":{"binary_data":true}}]})";
  float values[2] = {5, 6};
  std::string body = header + std::string(reinterpret_cast<const char*>(values), 8);
  auto response = Send("POST", "/v2/models/iris/infer", body,
                       {{"Content-Type", "application/octet-stream"},
                        {"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(response.status, 200) << response.body;
  const std::string length = response.Header("Inference-Header-Content-Length");
  ASSERT_FALSE(length.empty());
  const std::size_t json_size = std::stoul(length);
  ASSERT_EQ(response.body.size(), json_size + 8);
  float out[2];
  std::memcpy(out, response.body.data() + json_size, 8);
  EXPECT_EQ(out[0], 6);
  EXPECT_EQ(out[1], 7);
}

TEST_F(GatewayTest, CanarySplitAcrossRevisions) {
  Replica stable(100), canary(200);
  serving_router_.SetRoutes("default/iris", {{"iris-predictor-00001", 80, {stable.address()}},
                                             {"iris-predictor-00002", 20, {canary.address()}}});
  std::map<std::string, int> by_revision;
  for (int i = 0; i < 50; ++i) {
    auto r = Send("POST", "/v2/models/iris/infer", kInfer);
    ASSERT_EQ(r.status, 200);
    const std::string revision = r.Header("ferry-revision");
    ++by_revision[revision];
    const double y = BodyOf(r)["outputs"][0]["data"][0].get<double>();
    EXPECT_EQ(y, revision == "iris-predictor-00002" ? 201 : 101);
  }
  EXPECT_EQ(by_revision["iris-predictor-00001"], 40);
  EXPECT_EQ(by_revision["iris-predictor-00002"], 10);
  // Every lease was released once its answer was returned.
  EXPECT_EQ(serving_router_.InFlight(stable.address()), 0);
  EXPECT_EQ(serving_router_.InFlight(canary.address()), 0);
}

TEST_F(GatewayTest, UnknownEndpointIs404NamingIt) {
  auto r = Send("POST", "/v2/models/nope/infer", kInfer);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(BodyOf(r)["error"], "endpoint 'nope' not found");
  auto meta = Send("GET", "/v2/models/nope");
  EXPECT_EQ(meta.status, 404);
  EXPECT_EQ(BodyOf(meta)["error"], "endpoint 'nope' not found");
  auto v1 = Send("POST", "/v1/models/nope:predict", "{}");
  EXPECT_EQ(v1.status, 404);
  EXPECT_EQ(BodyOf(v1)["error"], "endpoint 'nope' not found");
}

TEST_F(GatewayTest, NoReadyReplicaIs503WithRetryAfter) {
  serving_router_.SetRoutes("default/iris", {{"r1", 100, {}}});
  auto r = Send("POST", "/v2/models/iris/infer", kInfer);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.Header("Retry-After"), "1");
  EXPECT_THAT(BodyOf(r)["error"].get<std::string>(), HasSubstr("endpoint 'iris' has no ready replica"));
  EXPECT_THAT(metrics_.Render(), HasSubstr(R"(ferry_gateway_requests_total{code="503",endpoint="default/iris")"));
}

TEST_F(GatewayTest, DeadReplicaIsRetriedOnceThen502) {
  std::string dead;
  {
    Replica gone(0);
    dead = gone.address();
  }  // stopped: its port refuses connections
  Replica live(1);
  // Two replicas, one dead: the connect failure is retried on the other.
  serving_router_.SetRoutes("default/iris", {{"r1", 100, {dead, live.address()}}});
  for (int i = 0; i < 4; ++i) {
    auto r = Send("POST", "/v2/models/iris/infer", kInfer);
    EXPECT_EQ(r.status, 200) << r.body;
  }
  // Only the dead one: 502 naming the endpoint.
  serving_router_.SetRoutes("default/iris", {{"r1", 100, {dead}}});
  auto r = Send("POST", "/v2/models/iris/infer", kInfer);
  EXPECT_EQ(r.status, 502);
  EXPECT_THAT(BodyOf(r)["error"].get<std::string>(), HasSubstr("endpoint 'iris'"));
  EXPECT_EQ(serving_router_.InFlight(dead), 0);
}

TEST_F(GatewayTest, SampledPayloadsAreLoggedAndReadBack) {
  Replica replica(10);
  serving_router_.SetRoutes("default/iris", {{"iris-predictor-00001", 100, {replica.address()}}},
                            serving::PayloadLogging{true, true, 1.0});
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Send("POST", "/v2/models/iris/infer", kInfer).status, 200);
  ASSERT_TRUE(payload_log_->Flush().ok());

  auto page = Send("GET", "/api/v1/serving/payloads?endpoint=default/iris&limit=2");
  ASSERT_EQ(page.status, 200) << page.body;
  Json body = BodyOf(page);
  ASSERT_EQ(body["records"].size(), 2u);
  const Json& record = body["records"][0];
  EXPECT_EQ(record["endpoint"], "default/iris");
  EXPECT_EQ(record["revision"], "iris-predictor-00001");
  EXPECT_EQ(record["requestId"], "req-7");
  EXPECT_EQ(record["status"], 200);
  EXPECT_EQ(record["request"]["inputs"][0]["data"], Json::parse("[1, 2]"));
  EXPECT_EQ(record["response"]["outputs"][0]["data"], Json::parse("[11.0, 12.0]"));
  ASSERT_TRUE(body.contains("nextPageToken"));
  auto rest = Send("GET", "/api/v1/serving/payloads?endpoint=default/iris&page_token=" +
                              client::PercentEncode(body["nextPageToken"].get<std::string>()));
  ASSERT_EQ(rest.status, 200) << rest.body;
  EXPECT_EQ(BodyOf(rest)["records"].size(), 1u);
  EXPECT_FALSE(BodyOf(rest).contains("nextPageToken"));

  // Requests only: the response is left out.
  serving_router_.SetRoutes("default/iris", {{"iris-predictor-00001", 100, {replica.address()}}},
                            serving::PayloadLogging{true, false, 1.0});
  ASSERT_EQ(Send("POST", "/v2/models/iris/infer", kInfer).status, 200);
  ASSERT_TRUE(payload_log_->Flush().ok());
  Json all = BodyOf(Send("GET", "/api/v1/serving/payloads?endpoint=default/iris"));
  ASSERT_EQ(all["records"].size(), 4u);
  EXPECT_TRUE(all["records"][3]["response"].is_null());

  EXPECT_THAT(metrics_.Render(),
              HasSubstr(R"(ferry_gateway_requests_total{code="200",endpoint="default/iris",)"
                        R"(revision="iris-predictor-00001"} 4)"));
  EXPECT_THAT(metrics_.Render(), HasSubstr("ferry_gateway_request_duration_seconds_bucket"));
}

TEST_F(GatewayTest, PayloadQueryBadParamsAre400NamingThem) {
  struct Case {
    std::string query, field;
  };
  for (const Case& c : {Case{"", "endpoint"}, Case{"endpoint=iris", "endpoint"},
                        Case{"endpoint=default/iris&limit=0", "limit"},
                        Case{"endpoint=default/iris&limit=abc", "limit"},
                        Case{"endpoint=default/iris&since=yesterday", "since"},
                        Case{"endpoint=default/iris&until=-4", "until"},
                        Case{"endpoint=default/iris&page_token=zzz", "page_token"},
                        Case{"endpoint=default/iris&colour=red", "colour"}}) {
    auto r = Send("GET", "/api/v1/serving/payloads?" + c.query);
    EXPECT_EQ(r.status, 400) << c.query;
    EXPECT_THAT(r.body, HasSubstr(c.field)) << c.query;
  }
  auto since = Send("GET", "/api/v1/serving/payloads?endpoint=default/iris&since=2024-01-01T00:00:00Z");
  EXPECT_EQ(since.status, 200) << since.body;
}

TEST(GatewayRoutesTest, NotAddedWithoutARouter) {
  Router router;
  ApiServices services{};
  ASSERT_TRUE(AddGatewayRoutes(router, services).ok());
  EXPECT_EQ(router.Match("GET", "/v2").kind, RouteMatch::Kind::kNotFound);
}

}  // namespace
}  // namespace ferry::api::inference
