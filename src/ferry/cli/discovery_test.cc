#include "ferry/cli/discovery.h"

#include <gtest/gtest.h>

namespace ferry::cli {
namespace {

Json Discovery() {
  return ParseJson(R"({"kind":"APIResourceList","groupVersion":"v1","resources":[
    {"name":"configmaps","singularName":"configmap","kind":"ConfigMap","group":"","version":"v1",
     "apiVersion":"v1","namespaced":true,"shortNames":["cm"],"verbs":["get"]},
    {"name":"configmaps/status","singularName":"","kind":"ConfigMap","apiVersion":"v1"},
    {"name":"experiments","singularName":"experiment","kind":"Experiment","group":"kubeflow.org",
     "version":"v1beta1","namespaced":true},
    {"name":"experiments","kind":"Experiment","apiVersion":"tracking.ferry.dev/v1"},
    {"name":"nodes","kind":"Node","version":"v1","namespaced":false,"shortNames":["no"]}
  ]})")
      .value();
}

TEST(ParseDiscoveryTest, ReadsResourcesAndDerivesMissingFields) {
  auto resources = ParseDiscovery(Discovery());
  ASSERT_TRUE(resources.ok()) << resources.status().ToString();
  ASSERT_EQ(resources->size(), 4u);  // the status subresource is not a type
  const auto& cm = (*resources)[0];
  EXPECT_EQ(cm.name, "configmaps");
  EXPECT_EQ(cm.api_version, "v1");
  EXPECT_EQ(cm.short_names, std::vector<std::string>{"cm"});
  const auto& exp = (*resources)[1];
  EXPECT_EQ(exp.api_version, "kubeflow.org/v1beta1");
  const auto& tracking = (*resources)[2];
  EXPECT_EQ(tracking.group, "tracking.ferry.dev");
  EXPECT_EQ(tracking.version, "v1");
  EXPECT_EQ(tracking.singular_name, "experiment");
  EXPECT_FALSE((*resources)[3].namespaced);
}

TEST(ParseDiscoveryTest, RejectsMalformedDocuments) {
  EXPECT_FALSE(ParseDiscovery(Json::array()).ok());
  EXPECT_FALSE(ParseDiscovery(Json{{"resources", 3}}).ok());
  auto bad_name = ParseDiscovery(Json{{"resources", {{{"name", 5}, {"kind", "X"}, {"version", "v1"}}}}});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_EQ(bad_name.status().field(), "resources[0].name");
  EXPECT_FALSE(ParseDiscovery(Json{{"resources", {{{"name", "x"}, {"kind", "X"}}}}}).ok());
  EXPECT_FALSE(
      ParseDiscovery(
          Json{{"resources", {{{"name", "x"}, {"kind", "X"}, {"version", "v1"}, {"shortNames", "x"}}}}})
          .ok());
}

TEST(ResolveKindTest, AcceptsEveryNameCaseInsensitively) {
  auto resources = ParseDiscovery(Discovery()).value();
  for (const char* name : {"configmaps", "configmap", "ConfigMap", "CM", "cm", "CONFIGMAPS"}) {
    auto r = ResolveKind(resources, name);
    ASSERT_TRUE(r.ok()) << name << ": " << r.status().ToString();
    EXPECT_EQ((*r)->name, "configmaps") << name;
  }
  EXPECT_EQ((*ResolveKind(resources, "no"))->kind, "Node");
}

TEST(ResolveKindTest, AmbiguousNamesNeedTheirGroup) {
  auto resources = ParseDiscovery(Discovery()).value();
  auto ambiguous = ResolveKind(resources, "experiments");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_NE(ambiguous.status().message().find("experiments.kubeflow.org"), std::string::npos);
  EXPECT_NE(ambiguous.status().message().find("experiments.tracking.ferry.dev"), std::string::npos);
  auto katib = ResolveKind(resources, "experiments.kubeflow.org");
  ASSERT_TRUE(katib.ok());
  EXPECT_EQ((*katib)->group, "kubeflow.org");
  auto tracking = ResolveKind(resources, "Experiment.tracking.ferry.dev");
  ASSERT_TRUE(tracking.ok());
  EXPECT_EQ((*tracking)->group, "tracking.ferry.dev");
}

TEST(ResolveKindTest, UnknownKindListsTheKnownOnes) {
  auto resources = ParseDiscovery(Discovery()).value();
  auto r = ResolveKind(resources, "pods");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "the server doesn't have a resource type \"pods\"; known types: configmaps (cm), "
            "experiments.kubeflow.org, experiments.tracking.ferry.dev, nodes (no)");
  EXPECT_FALSE(ResolveKind(resources, "").ok());
  EXPECT_FALSE(ResolveKind(resources, "configmaps.bogus").ok());
}

TEST(FindByApiVersionKindTest, MatchesExactly) {
  auto resources = ParseDiscovery(Discovery()).value();
  auto cm = FindByApiVersionKind(resources, "v1", "ConfigMap");
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)->name, "configmaps");
  auto katib = FindByApiVersionKind(resources, "kubeflow.org/v1beta1", "Experiment");
  ASSERT_TRUE(katib.ok());
  EXPECT_EQ((*katib)->group, "kubeflow.org");
  auto wrong = FindByApiVersionKind(resources, "v2", "ConfigMap");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kNotFound);
  EXPECT_NE(wrong.status().message().find("known types: configmaps (cm)"), std::string::npos);
  EXPECT_FALSE(FindByApiVersionKind(resources, "v1", "configmap").ok());
}

TEST(ApiResourceTest, DisplayNames) {
  auto resources = ParseDiscovery(Discovery()).value();
  EXPECT_EQ(resources[0].DisplayName(), "configmap");
  EXPECT_EQ(resources[1].DisplayName(), "experiment.kubeflow.org");
  EXPECT_EQ(resources[1].QualifiedPlural(), "experiments.kubeflow.org");
}

}  // namespace
}  // namespace ferry::cli
