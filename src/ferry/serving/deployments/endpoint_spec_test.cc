#include "ferry/serving/deployments/endpoint_spec.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ferry/store/resource_types.h"

namespace ferry::serving::deployments {
namespace {

Json Yaml(const std::string& text) {
  auto parsed = ParseYaml(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : Json();
}

// An InferenceService whose spec.predictor is `predictor` (YAML, indented by four).
Json WithPredictor(const std::string& predictor) {
  return Yaml("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n  name: ep\n"
              "spec:\n  predictor:\n" +
              predictor);
}

constexpr char kModel[] =
    "    model:\n"
    "      modelFormat: {name: sklearn}\n"
    "      storageUri: models:/iris@champion\n";

TEST(EndpointSpec, Defaults) {
  auto spec = ParseEndpointSpec(WithPredictor(kModel));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->model_format, "sklearn");
  EXPECT_EQ(spec->storage_uri, "models:/iris@champion");
  EXPECT_EQ(spec->min_replicas, 1);
  EXPECT_EQ(spec->max_replicas, 1);
  EXPECT_EQ(spec->scale_target, 100);
  EXPECT_FALSE(spec->canary_traffic_percent.has_value());
  EXPECT_EQ(spec->batcher.max_batch_size, 0);
  EXPECT_EQ(spec->batcher.max_latency_us, 0);
  EXPECT_EQ(spec->logger.mode, LogMode::kNone);
  EXPECT_DOUBLE_EQ(spec->logger.sample_rate, 1.0);
}

TEST(EndpointSpec, EveryField) {
  Json object = Yaml(R"(
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata:
  name: ep
  annotations:
    serving.ferry.dev/log-sample-rate: "0.25"
spec:
  predictor:
    minReplicas: 2
    maxReplicas: 5
    scaleTarget: 8
    scaleMetric: concurrency
    canaryTrafficPercent: 10
    batcher:
      maxBatchSize: 64
      maxLatency: 3
    logger:
      mode: request
    model:
      modelFormat:
        name: ONNX
        version: "1"
      runtime: ""
      protocolVersion: v2
      storageUri: file:///models/iris.onnx
      resources:
        requests: {cpu: 100m, memory: 256Mi}
        limits: {cpu: 1, memory: 1Gi}
)");
  auto spec = ParseEndpointSpec(object);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->model_format, "onnx");
  EXPECT_EQ(spec->storage_uri, "file:///models/iris.onnx");
  EXPECT_EQ(spec->min_replicas, 2);
  EXPECT_EQ(spec->max_replicas, 5);
  EXPECT_EQ(spec->scale_target, 8);
  EXPECT_EQ(spec->canary_traffic_percent, 10);
  EXPECT_EQ(spec->batcher.max_batch_size, 64);
  EXPECT_EQ(spec->batcher.max_latency_us, 3000);
  EXPECT_EQ(spec->logger.mode, LogMode::kRequest);
  EXPECT_DOUBLE_EQ(spec->logger.sample_rate, 0.25);
}

TEST(EndpointSpec, ReplicaDefaultsFollowKServe) {
  struct Case {
    std::string fields;
    int min, max;
  };
  const std::vector<Case> cases = {
      {"", 1, 1},
      {"    minReplicas: 0\n", 0, 1},                     // scale to zero, max(min, 1)
      {"    minReplicas: 3\n", 3, 3},                     // maxReplicas 0: as many as min
      {"    minReplicas: 3\n    maxReplicas: 0\n", 3, 3},
      {"    maxReplicas: 4\n", 1, 4},
      {"    minReplicas: 0\n    maxReplicas: 2\n", 0, 2},
      {"    minReplicas: 2\n    maxReplicas: 2\n", 2, 2},
  };
  for (const Case& c : cases) {
    auto spec = ParseEndpointSpec(WithPredictor(c.fields + kModel));
    ASSERT_TRUE(spec.ok()) << c.fields << spec.status().ToString();
    EXPECT_EQ(spec->min_replicas, c.min) << c.fields;
    EXPECT_EQ(spec->max_replicas, c.max) << c.fields;
  }
}

TEST(EndpointSpec, BatcherAndLoggerDefaults) {
  auto spec = ParseEndpointSpec(WithPredictor(std::string("    batcher: {}\n    logger: {}\n") + kModel));
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->batcher.max_batch_size, 32);          // KServe's batcher defaults
  EXPECT_EQ(spec->batcher.max_latency_us, 5'000'000);  // 5000 ms
  EXPECT_EQ(spec->logger.mode, LogMode::kAll);
  for (const auto& [mode, want] : std::vector<std::pair<std::string, LogMode>>{
           {"all", LogMode::kAll}, {"request", LogMode::kRequest}, {"response", LogMode::kResponse}}) {
    auto logged = ParseEndpointSpec(WithPredictor("    logger: {mode: " + mode + "}\n" + kModel));
    ASSERT_TRUE(logged.ok()) << logged.status().ToString();
    EXPECT_EQ(logged->logger.mode, want) << mode;
  }
}

TEST(EndpointSpec, FrameworkPredictorsMapToModelFormat) {
  for (const std::string framework : {"sklearn", "xgboost", "lightgbm", "onnx"}) {
    auto spec = ParseEndpointSpec(WithPredictor("    " + framework +
                                                ":\n      storageUri: runs:/abc/model\n"
                                                "      protocolVersion: v1\n"
                                                "      resources: {limits: {cpu: 1}}\n"));
    ASSERT_TRUE(spec.ok()) << framework << ": " << spec.status().ToString();
    EXPECT_EQ(spec->model_format, framework);
    EXPECT_EQ(spec->storage_uri, "runs:/abc/model");
  }
}

TEST(EndpointSpec, EveryModelFormatAndScheme) {
  for (const std::string format : {"onnx", "sklearn", "xgboost", "lightgbm", "mlflow", "MLflow"}) {
    for (const std::string uri : {"models:/iris/3", "models:/iris@champion", "models:/m-0123",
                                  "runs:/r1/model", "mlflow-artifacts:/1/r1/artifacts/model",
                                  "file:///tmp/model.onnx"}) {
      auto spec = ParseEndpointSpec(WithPredictor("    model:\n      modelFormat: {name: " + format +
                                                  "}\n      storageUri: \"" + uri + "\"\n"));
      ASSERT_TRUE(spec.ok()) << format << " " << uri << ": " << spec.status().ToString();
      EXPECT_EQ(spec->storage_uri, uri);
    }
  }
}

// A refused object: the error is InvalidArgument and names `field`.
struct Refusal {
  std::string predictor;  // YAML under spec.predictor (indent 4); or a whole object when it starts with "apiVersion"
  std::string field;
};

TEST(EndpointSpec, Refusals) {
  const std::string model = kModel;
  const std::vector<Refusal> cases = {
      // unsupported components and implementations
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\nspec:\n"
       "  predictor:\n" + model + "  transformer:\n    containers: [{image: t}]\n",
       "spec.transformer"},
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\nspec:\n"
       "  predictor:\n" + model + "  explainer: {art: {}}\n",
       "spec.explainer"},
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\nspec:\n"
       "  predictor:\n" + model + "  router: {}\n",
       "spec.router"},
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\n", "spec"},
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\nspec: {}\n",
       "spec.predictor"},
      {"apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: ep}\nspec: 3\n",
       "spec"},
      {"    containers:\n      - name: kserve-container\n        image: x\n", "spec.predictor.containers"},
      {"    tensorflow: {storageUri: \"file:///m\"}\n", "spec.predictor.tensorflow"},
      {"    pytorch: {storageUri: \"file:///m\"}\n", "spec.predictor.pytorch"},
      {"    triton: {storageUri: \"file:///m\"}\n", "spec.predictor.triton"},
      {"    huggingface: {storageUri: \"file:///m\"}\n", "spec.predictor.huggingface"},
      {"    minReplicas: 1\n", "spec.predictor.model"},
      {model + "    sklearn: {storageUri: \"file:///m\"}\n", "spec.predictor.sklearn"},
      {model + "    serviceAccountName: sa\n", "spec.predictor.serviceAccountName"},
      {model + "    containerConcurrency: 4\n", "spec.predictor.containerConcurrency"},
      {model + "    timeout: 60\n", "spec.predictor.timeout"},
      {"    model: file:///m\n", "spec.predictor.model"},
      // model
      {"    model:\n      storageUri: models:/iris/1\n", "spec.predictor.model.modelFormat"},
      {"    model:\n      modelFormat: {}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.name"},
      {"    model:\n      modelFormat: {name: \"\"}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.name"},
      {"    model:\n      modelFormat: {name: tensorflow}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.name"},
      {"    model:\n      modelFormat: {name: 3}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.name"},
      {"    model:\n      modelFormat: {name: onnx, version: 1}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.version"},
      {"    model:\n      modelFormat: {name: onnx, flavor: x}\n      storageUri: models:/iris/1\n",
       "spec.predictor.model.modelFormat.flavor"},
      {"    model:\n      modelFormat: {name: onnx}\n", "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: \"\"\n",
       "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: gs://kfserving-examples/models/sklearn\n",
       "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: s3://bucket/model\n",
       "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: /abs/path\n",
       "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: 7\n", "spec.predictor.model.storageUri"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      runtime: kserve-mlserver\n",
       "spec.predictor.model.runtime"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      protocolVersion: grpc-v2\n",
       "spec.predictor.model.protocolVersion"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      protocolVersion: v3\n",
       "spec.predictor.model.protocolVersion"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      runtimeVersion: \"1\"\n",
       "spec.predictor.model.runtimeVersion"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      env: []\n",
       "spec.predictor.model.env"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      resources: {claims: []}\n",
       "spec.predictor.model.resources.claims"},
      {"    model:\n      modelFormat: {name: onnx}\n      storageUri: models:/a/1\n      resources: {limits: {cpu: [1]}}\n",
       "spec.predictor.model.resources.limits.cpu"},
      {"    sklearn: {}\n", "spec.predictor.sklearn.storageUri"},
      {"    xgboost: {storageUri: \"file:///m\", runtimeVersion: \"1.5\"}\n",
       "spec.predictor.xgboost.runtimeVersion"},
      {"    lightgbm: {storageUri: \"https://example.com/m\"}\n", "spec.predictor.lightgbm.storageUri"},
      // replicas, scaling, canary
      {"    minReplicas: -1\n" + model, "spec.predictor.minReplicas"},
      {"    maxReplicas: -1\n" + model, "spec.predictor.maxReplicas"},
      {"    minReplicas: 3\n    maxReplicas: 2\n" + model, "spec.predictor.maxReplicas"},
      {"    minReplicas: \"1\"\n" + model, "spec.predictor.minReplicas"},
      {"    minReplicas: 1.5\n" + model, "spec.predictor.minReplicas"},
      {"    maxReplicas: 99999999999\n" + model, "spec.predictor.maxReplicas"},
      {"    scaleMetric: cpu\n" + model, "spec.predictor.scaleMetric"},
      {"    scaleMetric: memory\n" + model, "spec.predictor.scaleMetric"},
      {"    scaleMetric: rps\n" + model, "spec.predictor.scaleMetric"},
      {"    scaleMetric: qps\n" + model, "spec.predictor.scaleMetric"},
      {"    scaleTarget: 0\n" + model, "spec.predictor.scaleTarget"},
      {"    canaryTrafficPercent: 150\n" + model, "spec.predictor.canaryTrafficPercent"},
      {"    canaryTrafficPercent: -1\n" + model, "spec.predictor.canaryTrafficPercent"},
      {"    canaryTrafficPercent: ten\n" + model, "spec.predictor.canaryTrafficPercent"},
      // batcher
      {"    batcher: 5\n" + model, "spec.predictor.batcher"},
      {"    batcher: {maxBatchSize: 0}\n" + model, "spec.predictor.batcher.maxBatchSize"},
      {"    batcher: {maxLatency: 0}\n" + model, "spec.predictor.batcher.maxLatency"},
      {"    batcher: {maxLatency: 99999999}\n" + model, "spec.predictor.batcher.maxLatency"},
      {"    batcher: {timeout: 60}\n" + model, "spec.predictor.batcher.timeout"},
      {"    batcher: {maxBatchSize: 8, size: 3}\n" + model, "spec.predictor.batcher.size"},
      // logger
      {"    logger: {url: \"http://message-dumper\"}\n" + model, "spec.predictor.logger.url"},
      {"    logger: {mode: all, metadataHeaders: [a]}\n" + model, "spec.predictor.logger.metadataHeaders"},
      {"    logger: {storage: {path: /x}}\n" + model, "spec.predictor.logger.storage"},
      {"    logger: {mode: everything}\n" + model, "spec.predictor.logger.mode"},
      {"    logger: {mode: 1}\n" + model, "spec.predictor.logger.mode"},
  };
  for (const Refusal& c : cases) {
    const Json object = c.predictor.starts_with("apiVersion") ? Yaml(c.predictor) : WithPredictor(c.predictor);
    auto spec = ParseEndpointSpec(object);
    ASSERT_FALSE(spec.ok()) << "accepted:\n" << c.predictor;
    EXPECT_EQ(spec.status().code(), StatusCode::kInvalidArgument) << c.predictor;
    EXPECT_EQ(spec.status().field(), c.field) << c.predictor << spec.status().ToString();
    EXPECT_NE(spec.status().message().find(c.field), std::string::npos) << spec.status().message();
  }
}

TEST(EndpointSpec, SampleRateAnnotation) {
  const std::string field = "metadata.annotations[serving.ferry.dev/log-sample-rate]";
  for (const std::string bad : {"1.5", "-0.1", "abc", "", "0.5 ", "nan", "0x1"}) {
    Json object = WithPredictor(kModel);
    object["metadata"]["annotations"][kLogSampleRateAnnotation] = bad;
    auto spec = ParseEndpointSpec(object);
    ASSERT_FALSE(spec.ok()) << bad;
    EXPECT_EQ(spec.status().field(), field) << bad;
  }
  Json object = WithPredictor(kModel);
  object["metadata"]["annotations"][kLogSampleRateAnnotation] = 0.5;
  EXPECT_EQ(ParseEndpointSpec(object).status().field(), field);
  for (const auto& [text, want] : std::vector<std::pair<std::string, double>>{{"0", 0}, {"1", 1}, {"0.01", 0.01}}) {
    object["metadata"]["annotations"][kLogSampleRateAnnotation] = text;
    auto spec = ParseEndpointSpec(object);
    ASSERT_TRUE(spec.ok()) << text << spec.status().ToString();
    EXPECT_DOUBLE_EQ(spec->logger.sample_rate, want);
  }
}

// KServe's canary example (kserve.github.io, "Canary Rollout Example",
// v0.16), as published: its gs:// storageUri is the one thing refused, and
// with a registry URI in its place the rest is accepted unchanged.
constexpr char kKServeCanaryExample[] = R"(
apiVersion: "serving.kserve.io/v1beta1"
kind: "InferenceService"
metadata:
  name: "sklearn-iris"
  namespace: kserve-test
spec:
  predictor:
    model:
      modelFormat:
        name: sklearn
      storageUri: "gs://kserve-examples/models/sklearn/1.0/model-2"
      resources:
        requests:
          cpu: 100m
          memory: 256Mi
        limits:
          cpu: 100m
          memory: 256Mi
    canaryTrafficPercent: 10
)";

TEST(EndpointSpec, KServeDocsExample) {
  Json object = Yaml(kKServeCanaryExample);
  auto refused = ParseEndpointSpec(object);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().field(), "spec.predictor.model.storageUri");
  EXPECT_NE(refused.status().message().find("gs://"), std::string::npos);

  object["spec"]["predictor"]["model"]["storageUri"] = "models:/iris@champion";
  auto spec = ParseEndpointSpec(object);
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  EXPECT_EQ(spec->model_format, "sklearn");
  EXPECT_EQ(spec->canary_traffic_percent, 10);
  EXPECT_EQ(spec->min_replicas, 1);
  EXPECT_EQ(spec->max_replicas, 1);
}

TEST(EndpointSpec, StatusIsNotValidated) {
  // The controller writes status; whatever it holds, the spec decides.
  Json object = WithPredictor(kModel);
  object["status"] = {{"url", "http://x"}, {"anything", {1, 2}}};
  EXPECT_TRUE(ParseEndpointSpec(object).ok());
}

TEST(EndpointSpec, RegisterServingTypes) {
  store::ResourceTypes types;
  ASSERT_TRUE(RegisterServingTypes(types).ok());
  for (const char* name : {"isvc", "inferenceservice", "inferenceservices", "InferenceService",
                           "inferenceservices.serving.kserve.io"}) {
    const store::ResourceType* type = types.Find(name);
    ASSERT_NE(type, nullptr) << name;
    EXPECT_EQ(type->key(), kInferenceServicesKey);
    EXPECT_EQ(type->ApiVersion("v1beta1"), "serving.kserve.io/v1beta1");
  }
  const store::ResourceType* type = types.FindByApiVersionKind("serving.kserve.io/v1beta1", "InferenceService");
  ASSERT_NE(type, nullptr);
  EXPECT_TRUE(types.ValidateObject(*type, WithPredictor(kModel), "default", "ep").ok());
  Status refused = types.ValidateObject(*type, WithPredictor(std::string("    scaleMetric: cpu\n") + kModel),
                                        "default", "ep");
  EXPECT_EQ(refused.field(), "spec.predictor.scaleMetric");
  // A second registration collides.
  EXPECT_FALSE(RegisterServingTypes(types).ok());
}

}  // namespace
}  // namespace ferry::serving::deployments
