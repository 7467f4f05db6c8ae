#include "ferry/cli/deploy.h"

#include <gtest/gtest.h>

namespace ferry::cli {
namespace {

TEST(Deploy, BuildsAKServeInferenceService) {
  DeployOptions options;
  options.model_uri = "models:/iris@champion";
  options.name = "iris";
  options.min_replicas = 0;
  options.max_replicas = 3;
  auto object = BuildInferenceService(options, "team-a");
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  const Json want = ParseJson(R"({
    "apiVersion": "serving.kserve.io/v1beta1",
    "kind": "InferenceService",
    "metadata": {"name": "iris", "namespace": "team-a"},
    "spec": {"predictor": {
      "model": {"modelFormat": {"name": "mlflow"}, "storageUri": "models:/iris@champion"},
      "minReplicas": 0, "maxReplicas": 3}}})").value();
  EXPECT_EQ(*object, want) << object->dump(2);
}

TEST(Deploy, FirstDeployLeavesCanaryOut) {
  DeployOptions options{"models:/iris/2", "iris", 10, std::nullopt, std::nullopt, ""};
  auto object = BuildInferenceService(options, "default");
  ASSERT_TRUE(object.ok());
  EXPECT_FALSE((*object)["spec"]["predictor"].contains("canaryTrafficPercent"));
  EXPECT_FALSE((*object)["spec"]["predictor"].contains("minReplicas"));
}

TEST(Deploy, ModelFormat) {
  EXPECT_EQ(DeployModelFormat({"file:///models/iris.onnx", "e", {}, {}, {}, ""}), "onnx");
  EXPECT_EQ(DeployModelFormat({"file:///models/iris", "e", {}, {}, {}, ""}), "mlflow");
  EXPECT_EQ(DeployModelFormat({"runs:/abc/model", "e", {}, {}, {}, ""}), "mlflow");
  EXPECT_EQ(DeployModelFormat({"models:/iris/1", "e", {}, {}, {}, "sklearn"}), "sklearn");
}

TEST(Deploy, RefusesBadOptions) {
  const std::vector<DeployOptions> bad = {
      {"", "iris", {}, {}, {}, ""},
      {"models:/iris/1", "", {}, {}, {}, ""},
      {"models:/iris/1", "Iris_EP", {}, {}, {}, ""},
      {"models:/iris/1", "iris", 101, {}, {}, ""},
      {"models:/iris/1", "iris", -1, {}, {}, ""},
      {"models:/iris/1", "iris", {}, -1, {}, ""},
      {"models:/iris/1", "iris", {}, {}, -2, ""},
      {"models:/iris/1", "iris", {}, 3, 2, ""},
  };
  for (const DeployOptions& options : bad) {
    auto object = BuildInferenceService(options, "default");
    EXPECT_EQ(object.status().code(), StatusCode::kInvalidArgument) << options.model_uri << " " << options.name;
  }
  // maxReplicas 0 is KServe's "as many as minReplicas".
  EXPECT_TRUE(BuildInferenceService({"models:/iris/1", "iris", {}, 3, 0, ""}, "default").ok());
}

TEST(Deploy, PatchRollsOutAndClearsALeftoverCanary) {
  const Json live = ParseJson(R"({"spec": {"predictor": {
      "canaryTrafficPercent": 10, "minReplicas": 2,
      "model": {"modelFormat": {"name": "sklearn", "version": "1"}, "storageUri": "models:/iris/1"}}}})")
                        .value();
  DeployOptions options{"models:/iris/2", "iris", std::nullopt, std::nullopt, std::nullopt, ""};
  const Json patch = BuildDeployPatch(options, live);
  const Json want = ParseJson(R"({"spec": {"predictor": {
      "canaryTrafficPercent": null,
      "model": {"modelFormat": {"name": "mlflow", "version": null}, "storageUri": "models:/iris/2"}}}})")
                        .value();
  EXPECT_EQ(patch, want) << patch.dump(2);
}

TEST(Deploy, PatchWithCanaryAndReplacingAnOldStylePredictor) {
  const Json live = ParseJson(R"({"spec": {"predictor": {"sklearn": {"storageUri": "file:///m"}}}})").value();
  DeployOptions options{"models:/iris@challenger", "iris", 20, 1, 4, ""};
  const Json patch = BuildDeployPatch(options, live);
  const Json& predictor = patch["spec"]["predictor"];
  EXPECT_TRUE(predictor.contains("sklearn"));
  EXPECT_TRUE(predictor["sklearn"].is_null());
  EXPECT_FALSE(predictor.contains("xgboost"));
  EXPECT_EQ(predictor["canaryTrafficPercent"], 20);
  EXPECT_EQ(predictor["minReplicas"], 1);
  EXPECT_EQ(predictor["maxReplicas"], 4);
  EXPECT_EQ(predictor["model"]["storageUri"], "models:/iris@challenger");
}

}  // namespace
}  // namespace ferry::cli
