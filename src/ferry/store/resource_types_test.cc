#include "ferry/store/resource_types.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::store {
namespace {

using ::testing::HasSubstr;

ResourceType ExperimentType() {
  ResourceType type;
  type.group = "kubeflow.org";
  type.versions = {"v1beta1", "v1alpha3"};
  type.kind = "Experiment";
  type.plural = "experiments";
  type.singular = "experiment";
  type.short_names = {"exp"};
  type.validate = [](const Json& object) -> Status {
    if (object.contains("spec") && object["spec"].contains("bogus"))
      return InvalidArgument("spec.bogus is not supported", "spec.bogus");
    return Status::OK();
  };
  return type;
}

class ResourceTypesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RegisterCoreTypes(types_);
    ASSERT_TRUE(types_.Register(ExperimentType()).ok());
    config_map_ = types_.Find("configmaps");
    experiment_ = types_.Find("experiments");
    ASSERT_NE(config_map_, nullptr);
    ASSERT_NE(experiment_, nullptr);
  }

  ResourceTypes types_;
  const ResourceType* config_map_ = nullptr;
  const ResourceType* experiment_ = nullptr;
};

Json ConfigMap(Json data = Json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", {{"name", "settings"}, {"namespace", "team-a"}}},
          {"data", std::move(data)}};
}

TEST_F(ResourceTypesTest, FindsByEveryName) {
  for (const char* name : {"configmaps", "configmap", "ConfigMap", "CONFIGMAPS", "configMap", "cm", "CM"})
    EXPECT_EQ(types_.Find(name), config_map_) << name;
  for (const char* name : {"experiments", "Experiment", "exp", "experiments.kubeflow.org"})
    EXPECT_EQ(types_.Find(name), experiment_) << name;
  for (const char* name : {"", "configmapz", "c", "pods", "kubeflow.org"})
    EXPECT_EQ(types_.Find(name), nullptr) << name;
  EXPECT_EQ(config_map_->key(), "configmaps");
  EXPECT_EQ(experiment_->key(), "experiments.kubeflow.org");
  EXPECT_EQ(types_.all().size(), 2u);
}

TEST_F(ResourceTypesTest, FindsByApiVersionAndKind) {
  EXPECT_EQ(types_.FindByApiVersionKind("v1", "ConfigMap"), config_map_);
  EXPECT_EQ(types_.FindByApiVersionKind("kubeflow.org/v1beta1", "Experiment"), experiment_);
  EXPECT_EQ(types_.FindByApiVersionKind("kubeflow.org/v1alpha3", "Experiment"), experiment_);
  EXPECT_EQ(types_.FindByApiVersionKind("kubeflow.org/v1", "Experiment"), nullptr);
  EXPECT_EQ(types_.FindByApiVersionKind("v1", "configmap"), nullptr);  // kinds are case-sensitive
  EXPECT_EQ(types_.FindByApiVersionKind("/v1", "ConfigMap"), nullptr);
  EXPECT_EQ(types_.FindByApiVersionKind("v1beta1", "Experiment"), nullptr);

  Result<const ResourceType*> found = types_.ResolveApiVersionKind("kubeflow.org/v1beta1", "Experiment");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, experiment_);

  Result<const ResourceType*> wrong_version = types_.ResolveApiVersionKind("kubeflow.org/v2", "Experiment");
  ASSERT_FALSE(wrong_version.ok());
  EXPECT_EQ(wrong_version.status().field(), "apiVersion");
  EXPECT_THAT(wrong_version.status().message(), HasSubstr("kubeflow.org/v1beta1, kubeflow.org/v1alpha3"));

  Result<const ResourceType*> unknown = types_.ResolveApiVersionKind("v1", "Pod");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().field(), "kind");
  EXPECT_THAT(unknown.status().message(), HasSubstr("no kind \"Pod\""));
  EXPECT_EQ(types_.ResolveApiVersionKind("", "Pod").status().field(), "apiVersion");
  EXPECT_EQ(types_.ResolveApiVersionKind("v1", "").status().field(), "kind");
}

TEST_F(ResourceTypesTest, RegisterRejectsCollisionsAndBadNames) {
  struct Case {
    std::string what;
    std::function<void(ResourceType&)> edit;
    StatusCode code;
  };
  auto fresh = [] {
    ResourceType type;
    type.versions = {"v1"};
    type.kind = "Widget";
    type.plural = "widgets";
    type.singular = "widget";
    return type;
  };
  const std::vector<Case> cases = {
      {"same plural", [](ResourceType& t) { t.plural = "configmaps"; }, StatusCode::kAlreadyExists},
      {"plural is a kind", [](ResourceType& t) { t.plural = "experiment"; }, StatusCode::kAlreadyExists},
      {"same kind", [](ResourceType& t) { t.kind = "ConfigMap"; }, StatusCode::kAlreadyExists},
      {"kind differs in case", [](ResourceType& t) { t.kind = "Configmap"; }, StatusCode::kAlreadyExists},
      {"same short name", [](ResourceType& t) { t.short_names = {"cm"}; }, StatusCode::kAlreadyExists},
      {"short name is a plural", [](ResourceType& t) { t.short_names = {"experiments"}; },
       StatusCode::kAlreadyExists},
      {"same singular", [](ResourceType& t) { t.singular = "experiment"; }, StatusCode::kAlreadyExists},
      {"no versions", [](ResourceType& t) { t.versions.clear(); }, StatusCode::kInvalidArgument},
      {"bad version", [](ResourceType& t) { t.versions = {"V1"}; }, StatusCode::kInvalidArgument},
      {"bad group", [](ResourceType& t) { t.group = "Kubeflow.org"; }, StatusCode::kInvalidArgument},
      {"empty kind", [](ResourceType& t) { t.kind = ""; }, StatusCode::kInvalidArgument},
      {"kind with a dot", [](ResourceType& t) { t.kind = "Wid.get"; }, StatusCode::kInvalidArgument},
      {"upper-case plural", [](ResourceType& t) { t.plural = "Widgets"; }, StatusCode::kInvalidArgument},
      {"empty singular", [](ResourceType& t) { t.singular = ""; }, StatusCode::kInvalidArgument},
      {"reserved body field",
       [](ResourceType& t) {
         t.body_fields = {"spec", "metadata"};
       },
       StatusCode::kInvalidArgument},
  };
  for (const auto& c : cases) {
    ResourceType type = fresh();
    c.edit(type);
    Status st = types_.Register(type);
    EXPECT_EQ(st.code(), c.code) << c.what << ": " << st.ToString();
  }
  EXPECT_EQ(types_.all().size(), 2u);
  ResourceType widget = fresh();
  widget.group = "example.com";
  EXPECT_TRUE(types_.Register(widget).ok());
  EXPECT_EQ(types_.Find("widgets.example.com")->kind, "Widget");
}

struct ValidationCase {
  std::string what;
  Json object;
  std::string field;    // empty: the object is valid
  std::string message;  // substring of the error message
  std::string url_namespace = "";
  std::string url_name = "";
};

Json With(Json object, const Json::json_pointer& at, Json value) {
  object[at] = std::move(value);
  return object;
}

Json Without(Json object, const Json::json_pointer& at) {
  object[at.parent_pointer()].erase(at.back());
  return object;
}

TEST_F(ResourceTypesTest, ValidateObjectNamesTheField) {
  using P = Json::json_pointer;
  const Json ok = ConfigMap({{"a", "1"}});
  const std::vector<ValidationCase> cases = {
      {"valid", ok, "", ""},
      {"valid with everything",
       With(With(With(With(ok, P("/metadata/labels"), {{"app", "web"}, {"example.com/tier", ""}}),
                      P("/metadata/annotations"), {{"note", "any text: at all"}}),
                 P("/metadata/resourceVersion"), "12"),
            P("/metadata/creationTimestamp"), "2026-11-22T15:00:00Z"),
       "", ""},
      {"nulls read as unset",
       With(With(With(ok, P("/metadata/labels"), nullptr), P("/metadata/namespace"), nullptr), P("/data"),
            nullptr),
       "", ""},
      {"matching url", ok, "", "", "team-a", "settings"},
      {"empty resourceVersion", With(ok, P("/metadata/resourceVersion"), ""), "", ""},
      {"not an object", Json::array(), "", "must be a JSON object, got array"},
      {"missing apiVersion", Without(ok, P("/apiVersion")), "apiVersion", "apiVersion is required; use v1"},
      {"numeric apiVersion", With(ok, P("/apiVersion"), 1), "apiVersion", "must be a string, got integer"},
      {"unserved apiVersion", With(ok, P("/apiVersion"), "v2"), "apiVersion",
       "\"v2\" is not served for kind ConfigMap; use v1"},
      {"missing kind", Without(ok, P("/kind")), "kind", "kind is required"},
      {"wrong kind", With(ok, P("/kind"), "Secret"), "kind", "\"Secret\" does not match ConfigMap"},
      {"unknown top-level field", With(ok, P("/binaryData"), Json::object()), "binaryData",
       "unknown field \"binaryData\""},
      {"spec is not a ConfigMap field", With(ok, P("/spec"), Json::object()), "spec", "unknown field"},
      {"odd top-level key", With(ok, P("/a b"), 1), "[\"a b\"]", "unknown field"},
      {"missing metadata", Without(ok, P("/metadata")), "metadata", "metadata is required"},
      {"metadata not an object", With(ok, P("/metadata"), "x"), "metadata", "must be an object, got string"},
      {"unknown metadata field", With(ok, P("/metadata/finalizers"), Json::array()), "metadata.finalizers",
       "unknown field \"metadata.finalizers\""},
      {"generateName", With(ok, P("/metadata/generateName"), "x-"), "metadata.generateName",
       "generateName is not supported"},
      {"missing name", Without(ok, P("/metadata/name")), "metadata.name", "metadata.name is required"},
      {"numeric name", With(ok, P("/metadata/name"), 5), "metadata.name", "must be a string"},
      {"bad name", With(ok, P("/metadata/name"), "Settings"), "metadata.name", "lower case"},
      {"long name", With(ok, P("/metadata/name"), std::string(64, 'a')), "metadata.name", "longer than 63"},
      {"name differs from url", ok, "metadata.name", "does not match the name in the URL \"other\"", "",
       "other"},
      {"bad namespace", With(ok, P("/metadata/namespace"), "team_a"), "metadata.namespace", "RFC 1123"},
      {"namespace differs from url", ok, "metadata.namespace",
       "does not match the namespace in the URL \"team-b\"", "team-b", ""},
      {"numeric uid", With(ok, P("/metadata/uid"), 1), "metadata.uid", "must be a string"},
      {"numeric resourceVersion", With(ok, P("/metadata/resourceVersion"), 12), "metadata.resourceVersion",
       "must be a string"},
      {"non-decimal resourceVersion", With(ok, P("/metadata/resourceVersion"), "12a"),
       "metadata.resourceVersion", "decimal"},
      {"huge resourceVersion", With(ok, P("/metadata/resourceVersion"), std::string(19, '9')),
       "metadata.resourceVersion", "decimal"},
      {"bad creationTimestamp", With(ok, P("/metadata/creationTimestamp"), "yesterday"),
       "metadata.creationTimestamp", "invalid RFC 3339"},
      {"labels not an object", With(ok, P("/metadata/labels"), Json::array()), "metadata.labels",
       "must be an object of strings, got array"},
      {"bad label key", With(ok, P("/metadata/labels"), {{"app/x/y", "v"}}), "metadata.labels[\"app/x/y\"]",
       ""},
      {"numeric label value", With(ok, P("/metadata/labels"), {{"app", 1}}), "metadata.labels.app",
       "must be a string"},
      {"bad label value", With(ok, P("/metadata/labels"), {{"example.com/app", "a b"}}),
       "metadata.labels[\"example.com/app\"]", "may contain only"},
      {"bad annotation key", With(ok, P("/metadata/annotations"), {{"-x", "v"}}),
       "metadata.annotations[\"-x\"]", "start and end"},
      {"numeric annotation", With(ok, P("/metadata/annotations"), {{"x", true}}), "metadata.annotations.x",
       "must be a string, got boolean"},
      {"annotations too large", With(ok, P("/metadata/annotations"), {{"big", std::string(256 * 1024, 'x')}}),
       "metadata.annotations", "more than the limit of 262144"},
      {"data not an object", With(ok, P("/data"), "x"), "data", "must be an object of strings, got string"},
      {"numeric data value", With(ok, P("/data"), {{"foo", 1}}), "data.foo", "must be a string, got integer"},
      {"bad data key", With(ok, P("/data"), {{"a/b", "x"}}), "data[\"a/b\"]", "letters, digits"},
      {"dot-dot data key", With(ok, P("/data"), {{"..x", "x"}}), "data[\"..x\"]", "start with '..'"},
      {"long data key", With(ok, P("/data"), {{std::string(254, 'k'), "x"}}), "", "253 characters"},
      {"data too large", With(ok, P("/data"), {{"a", std::string(1024 * 1024, 'x')}}), "data",
       "more than the limit of 1048576"},
      {"immutable not boolean", With(ok, P("/immutable"), "yes"), "immutable", "must be a boolean"},
  };
  for (const auto& c : cases) {
    Status st = types_.ValidateObject(*config_map_, c.object, c.url_namespace, c.url_name);
    if (c.field.empty() && c.message.empty()) {
      EXPECT_TRUE(st.ok()) << c.what << ": " << st.ToString();
      continue;
    }
    ASSERT_FALSE(st.ok()) << c.what;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.what;
    if (!c.field.empty()) {
      EXPECT_EQ(st.field(), c.field) << c.what << ": " << st.ToString();
    }
    EXPECT_THAT(st.message(), HasSubstr(c.message)) << c.what;
  }
}

TEST_F(ResourceTypesTest, ValidateObjectRunsTheTypeValidator) {
  Json experiment = {{"apiVersion", "kubeflow.org/v1beta1"},
                     {"kind", "Experiment"},
                     {"metadata", {{"name", "tune"}}},
                     {"spec", {{"objective", Json::object()}}},
                     {"status", Json::object()}};
  EXPECT_TRUE(types_.ValidateObject(*experiment_, experiment, "default", "tune").ok());
  experiment["spec"]["bogus"] = 1;
  Status st = types_.ValidateObject(*experiment_, experiment, "default", "tune");
  EXPECT_EQ(st.field(), "spec.bogus");
  experiment["apiVersion"] = "v1";
  st = types_.ValidateObject(*experiment_, experiment, "", "");
  EXPECT_EQ(st.field(), "apiVersion");
  EXPECT_THAT(st.message(), HasSubstr("use kubeflow.org/v1beta1, kubeflow.org/v1alpha3"));
}

TEST_F(ResourceTypesTest, ClusterScopedKindsRejectANamespace) {
  ResourceType type;
  type.versions = {"v1"};
  type.kind = "Tenant";
  type.plural = "tenants";
  type.singular = "tenant";
  type.namespaced = false;
  ASSERT_TRUE(types_.Register(type).ok());
  Json object = {{"apiVersion", "v1"}, {"kind", "Tenant"}, {"metadata", {{"name", "acme"}}}};
  EXPECT_TRUE(types_.ValidateObject(*types_.Find("tenants"), object, "", "").ok());
  object["metadata"]["namespace"] = "default";
  Status st = types_.ValidateObject(*types_.Find("tenants"), object, "", "");
  EXPECT_EQ(st.field(), "metadata.namespace");
  EXPECT_THAT(st.message(), HasSubstr("Tenant is not namespaced"));
}

TEST_F(ResourceTypesTest, ImmutableConfigMapsCannotChange) {
  Json mutable_cm = ConfigMap({{"a", "1"}});
  Json immutable_cm = With(mutable_cm, Json::json_pointer("/immutable"), true);
  // Mutable maps change freely, and may become immutable.
  EXPECT_TRUE(types_.ValidateUpdate(*config_map_, mutable_cm, ConfigMap({{"a", "2"}})).ok());
  EXPECT_TRUE(types_.ValidateUpdate(*config_map_, mutable_cm, immutable_cm).ok());
  // Immutable ones keep their data and their immutability; labels may change.
  Json relabelled = With(immutable_cm, Json::json_pointer("/metadata/labels"), {{"x", "y"}});
  EXPECT_TRUE(types_.ValidateUpdate(*config_map_, immutable_cm, relabelled).ok());
  Status st = types_.ValidateUpdate(*config_map_, immutable_cm,
                                    With(immutable_cm, Json::json_pointer("/data/a"), "2"));
  EXPECT_EQ(st.field(), "data");
  EXPECT_THAT(st.message(), HasSubstr("field is immutable when `immutable` is set"));
  st = types_.ValidateUpdate(*config_map_, immutable_cm, mutable_cm);
  EXPECT_EQ(st.field(), "immutable");
  st = types_.ValidateUpdate(*config_map_, immutable_cm,
                             Without(immutable_cm, Json::json_pointer("/immutable")));
  EXPECT_EQ(st.field(), "immutable");
  // A kind without an update rule accepts any update.
  EXPECT_TRUE(types_.ValidateUpdate(*experiment_, Json::object(), Json::array()).ok());
}

}  // namespace
}  // namespace ferry::store
