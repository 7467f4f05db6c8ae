// The V2 REST routes through the Router, without a network: the JSON
// shapes tritonclient and perf_analyzer read, the binary extension's
// headers, and each bad request answered 4xx with a V2 {"error"} naming the
// problem. The model is a test double of our own Model interface;
// tests/serving drives the real binary with the real clients.

#include "ferry/api/routes/inference/routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "ferry/api/routes/inference/common_internal.h"
#include "ferry/common/json.h"

namespace ferry::api::inference {
namespace {

using serving::protocol::DataType;
using serving::protocol::Tensor;
using ::testing::HasSubstr;

// y = x + 1 over FP32 [-1, 4], batching up to 8.
class AddOne : public serving::Model {
 public:
  AddOne() {
    signature_.platform = "onnxruntime_onnx";
    signature_.inputs = {{"x", DataType::kFp32, {-1, 4}}};
    signature_.outputs = {{"y", DataType::kFp32, {-1, 4}}};
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
      f += 1;
      std::memcpy(y.data.data() + i, &f, 4);
    }
    return std::vector<Tensor>{y};
  }

 private:
  serving::ModelSignature signature_;
};

class InferenceRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(repo_.AddModel("add", "1", std::make_shared<AddOne>()).ok());
    ASSERT_TRUE(repo_.AddModel("other", "3", std::make_shared<AddOne>()).ok());
    InferenceRouteOptions options;
    options.server_version = "9.9.9";
    options.ready = [this] { return ready_; };
    ASSERT_TRUE(AddInferenceRoutes(router_, &service_, options).ok());
  }

  HttpResponse Call(const std::string& method, const std::string& target, std::string body = {},
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest request;
    request.method = method;
    request.target = target;
    request.path = target.substr(0, target.find('?'));
    if (target.find('?') != std::string::npos) request.query = *ParseQuery(target.substr(target.find('?') + 1));
    request.body = std::move(body);
    for (auto& [name, value] : headers) request.headers.Add(name, value);
    RouteMatch match = router_.Match(method, request.path);
    EXPECT_EQ(match.kind, RouteMatch::Kind::kFound) << method << " " << target;
    if (match.kind != RouteMatch::Kind::kFound) return {};
    request.params = match.params;
    return match.route->handler(request);
  }

  static Json BodyJson(const HttpResponse& response) {
    auto parsed = ParseJson(response.body);
    EXPECT_TRUE(parsed.ok()) << response.body;
    return parsed.ok() ? *parsed : Json();
  }

  // Expects a V2 error: `status`, {"error": "...<fragment>..."}.
  static void ExpectError(const HttpResponse& response, int status, const std::string& fragment) {
    EXPECT_EQ(response.status, status) << response.body;
    Json body = BodyJson(response);
    ASSERT_TRUE(body.is_object() && body.contains("error") && body["error"].is_string()) << response.body;
    EXPECT_THAT(body["error"].get<std::string>(), HasSubstr(fragment));
  }

  serving::ModelRepository repo_{""};
  serving::InferenceService service_{&repo_};
  Router router_;
  bool ready_ = true;
};

TEST_F(InferenceRoutesTest, ServerMetadataAndHealth) {
  Json meta = BodyJson(Call("GET", "/v2"));
  EXPECT_EQ(meta["name"], "ferry");
  EXPECT_EQ(meta["version"], "9.9.9");
  EXPECT_THAT(meta["extensions"].dump(), HasSubstr("binary_tensor_data"));
  EXPECT_EQ(Call("GET", "/v2/health/live").status, 200);
  EXPECT_EQ(Call("GET", "/v2/health/ready").status, 200);
  ready_ = false;
  EXPECT_EQ(Call("GET", "/v2/health/ready").status, 400);
}

TEST_F(InferenceRoutesTest, ModelMetadataConfigAndReady) {
  Json meta = BodyJson(Call("GET", "/v2/models/add"));
  EXPECT_EQ(meta, Json::parse(R"({"name": "add", "versions": ["1"], "platform": "onnxruntime_onnx",
      "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}],
      "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 4]}]})"));
  Json config = BodyJson(Call("GET", "/v2/models/add/versions/1/config"));
  EXPECT_EQ(config["max_batch_size"], 8);
  EXPECT_EQ(config["backend"], "onnxruntime");
  EXPECT_EQ(config["input"][0]["data_type"], "TYPE_FP32");
  EXPECT_EQ(config["input"][0]["dims"], Json::parse("[4]"));
  EXPECT_EQ(config["output"][0]["dims"], Json::parse("[4]"));
  EXPECT_EQ(Call("GET", "/v2/models/add/ready").status, 200);
  ExpectError(Call("GET", "/v2/models/add/versions/2/ready"), 404, "has no version '2'");
  ExpectError(Call("GET", "/v2/models/nope"), 404, "'nope'");
  ExpectError(Call("GET", "/v2/models/nope/config"), 404, "'nope'");
}

TEST_F(InferenceRoutesTest, InferJson) {
  HttpResponse r = Call("POST", "/v2/models/add/infer",
                        R"({"id": "abc", "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32",
                            "data": [[1, 2, 3, 4]]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/json");
  Json out = BodyJson(r);
  EXPECT_EQ(out["id"], "abc");
  EXPECT_EQ(out["model_version"], "1");
  EXPECT_EQ(out["outputs"][0]["data"], Json::parse("[2, 3, 4, 5]"));
}

TEST_F(InferenceRoutesTest, InferBinaryBothWays) {
  const std::string header =
      R"({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}],
          "parameters": {"binary_data_output": true}})";
  std::string body = header;
  const float x[4] = {1, 2, 3, 4};
  body.append(reinterpret_cast<const char*>(x), 16);
  HttpResponse r = Call("POST", "/v2/models/add/versions/1/infer", body,
                        {{"Inference-Header-Content-Length", std::to_string(header.size())}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers.Get("Content-Type"), "application/octet-stream");
  const std::size_t json_size = std::stoul(std::string(r.headers.Get("Inference-Header-Content-Length")));
  ASSERT_EQ(r.body.size(), json_size + 16);
  float y[4];
  std::memcpy(y, r.body.data() + json_size, 16);
  EXPECT_EQ(y[0], 2);
  EXPECT_EQ(y[3], 5);
}

TEST_F(InferenceRoutesTest, BadInferRequestsAreNamed) {
  const std::string ok_body = R"({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]})";
  ExpectError(Call("POST", "/v2/models/add/infer", "{not json"), 400, "");
  ExpectError(Call("POST", "/v2/models/add/infer",
                   R"({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]})"),
              400, "'x'");
  ExpectError(Call("POST", "/v2/models/add/infer",
                   R"({"inputs": [{"name": "x", "shape": [1, 4], "datatype": "INT32", "data": [1, 2, 3, 4]}]})"),
              400, "'x'");
  ExpectError(Call("POST", "/v2/models/add/infer", ok_body, {{"Inference-Header-Content-Length", "abc"}}), 400,
              "Inference-Header-Content-Length 'abc' is not a non-negative integer");
  ExpectError(Call("POST", "/v2/models/add/infer", ok_body, {{"Inference-Header-Content-Length", "99999"}}), 400,
              "exceeds the body");
  ExpectError(Call("POST", "/v2/models/add/infer", ok_body, {{"Content-Encoding", "gzip"}}), 400,
              "Content-Encoding 'gzip' is not supported");
  ExpectError(Call("POST", "/v2/models/add/infer?x=1", ok_body), 400, "x");
  ExpectError(Call("POST", "/v2/models/nope/infer", ok_body), 404, "'nope'");
  ExpectError(Call("POST", "/v2/models/add/versions/7/infer", ok_body), 404, "'7'");
}

TEST_F(InferenceRoutesTest, StatisticsShape) {
  Call("POST", "/v2/models/add/infer",
       R"({"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6, 7, 8]}]})");
  Json all = BodyJson(Call("GET", "/v2/models/stats"));
  ASSERT_EQ(all["model_stats"].size(), 2u);
  Json one = BodyJson(Call("GET", "/v2/models/add/versions/1/stats"))["model_stats"][0];
  EXPECT_EQ(one["name"], "add");
  EXPECT_EQ(one["version"], "1");
  EXPECT_EQ(one["inference_count"], 2);
  EXPECT_EQ(one["execution_count"], 1);
  EXPECT_EQ(one["inference_stats"]["success"]["count"], 1);
  EXPECT_TRUE(one["inference_stats"]["cache_miss"]["ns"].is_number_unsigned());
  ExpectError(Call("GET", "/v2/models/add/versions/5/stats"), 404, "'5'");
}

TEST_F(InferenceRoutesTest, RepositoryRoutes) {
  Json index = BodyJson(Call("POST", "/v2/repository/index"));
  EXPECT_EQ(index, Json::parse(R"([{"name": "add", "version": "1", "state": "READY"},
                                   {"name": "other", "version": "3", "state": "READY"}])"));
  ExpectError(Call("POST", "/v2/repository/index", R"({"ready": 1})"), 400, "'ready' must be a boolean");
  ExpectError(Call("POST", "/v2/repository/index", "[]"), 400, "JSON object");
  ExpectError(Call("POST", "/v2/repository/models/..%2Fetc/load"), 400, "model name");
  ExpectError(Call("POST", "/v2/repository/models/a%2Fb/load"), 400, "path separators");
  ExpectError(Call("POST", "/v2/repository/models/add/load", R"({"parameters": {"config": "{}"}})"), 400,
              "parameter 'config' is not supported");
  ExpectError(Call("POST", "/v2/repository/models/add/unload", R"({"parameters": {"unload_dependents": 3}})"),
              400, "must be a boolean");
  EXPECT_EQ(Call("POST", "/v2/repository/models/add/unload", R"({"parameters": {"unload_dependents": false}})")
                .status,
            200);
  ExpectError(Call("GET", "/v2/models/add/ready"), 404, "not loaded");
  ExpectError(Call("POST", "/v2/repository/models/add/unload"), 404, "not loaded");
}

TEST_F(InferenceRoutesTest, KServeV1) {
  EXPECT_EQ(BodyJson(Call("GET", "/v1/models/add")), Json::parse(R"({"name": "add", "ready": true})"));
  EXPECT_EQ(BodyJson(Call("GET", "/v1/models")), Json::parse(R"({"models": ["add", "other"]})"));
  HttpResponse r = Call("POST", "/v1/models/add:predict", R"({"instances": [[1, 2, 3, 4]]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(BodyJson(r), Json::parse(R"({"predictions": [[2, 3, 4, 5]]})"));
  ExpectError(Call("POST", "/v1/models/add", "{}"), 404, "POST /v1/models/{model}:predict");
  ExpectError(Call("POST", "/v1/models/nope:predict", R"({"instances": [[1, 2, 3, 4]]})"), 404, "'nope'");
}

TEST(InferenceJsonTest, ConfigOfABatchOnlyTensorIsReshaped) {
  class Scalar : public serving::Model {
   public:
    Scalar() {
      signature_.platform = "onnxruntime_onnx";
      signature_.inputs = {{"x", DataType::kInt64, {-1}}};
      signature_.outputs = {{"label", DataType::kBytes, {-1}}};
      signature_.max_batch_size = 4;
    }
    const serving::ModelSignature& signature() const override { return signature_; }
    Result<std::vector<Tensor>> Infer(const std::vector<Tensor>&, const std::vector<std::string>&) const override {
      return Internal("unused");
    }

   private:
    serving::ModelSignature signature_;
  };
  serving::LoadedModel loaded;
  loaded.name = "s";
  loaded.version = "1";
  loaded.model = std::make_shared<Scalar>();
  Json config = ModelConfigJson(loaded);
  EXPECT_EQ(config["input"][0]["dims"], Json::parse("[1]"));
  EXPECT_EQ(config["input"][0]["reshape"], Json::parse(R"({"shape": []})"));
  EXPECT_EQ(config["input"][0]["data_type"], "TYPE_INT64");
  EXPECT_EQ(config["output"][0]["data_type"], "TYPE_STRING");
}

}  // namespace
}  // namespace ferry::api::inference
