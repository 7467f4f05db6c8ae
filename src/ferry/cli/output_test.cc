#include "ferry/cli/output.h"

#include <sstream>

#include <gtest/gtest.h>

#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

ApiResource ConfigMaps() {
  ApiResource r;
  r.name = "configmaps";
  r.singular_name = "configmap";
  r.kind = "ConfigMap";
  r.version = "v1";
  r.api_version = "v1";
  r.short_names = {"cm"};
  return r;
}

ApiResource Experiments() {
  ApiResource r;
  r.name = "experiments";
  r.singular_name = "experiment";
  r.kind = "Experiment";
  r.group = "kubeflow.org";
  r.version = "v1beta1";
  r.api_version = "kubeflow.org/v1beta1";
  return r;
}

constexpr std::int64_t kNow = 1'700'000'000'000'000;  // 2023-11-14T22:13:20Z

TEST(FormatAgeTest, FollowsKubectl) {
  EXPECT_EQ(FormatAge(-5), "<invalid>");
  EXPECT_EQ(FormatAge(-1), "0s");
  EXPECT_EQ(FormatAge(0), "0s");
  EXPECT_EQ(FormatAge(5), "5s");
  EXPECT_EQ(FormatAge(119), "119s");
  EXPECT_EQ(FormatAge(120), "2m");
  EXPECT_EQ(FormatAge(200), "3m20s");
  EXPECT_EQ(FormatAge(599), "9m59s");
  EXPECT_EQ(FormatAge(600), "10m");
  EXPECT_EQ(FormatAge(3 * 3600 - 1), "179m");
  EXPECT_EQ(FormatAge(3 * 3600), "3h");
  EXPECT_EQ(FormatAge(2 * 3600 + 30 * 60 + 3 * 3600), "5h30m");
  EXPECT_EQ(FormatAge(8 * 3600), "8h");
  EXPECT_EQ(FormatAge(47 * 3600), "47h");
  EXPECT_EQ(FormatAge(48 * 3600), "2d");
  EXPECT_EQ(FormatAge(4 * 86400 + 5 * 3600), "4d5h");
  EXPECT_EQ(FormatAge(8 * 86400), "8d");
  EXPECT_EQ(FormatAge(729 * 86400), "729d");
  EXPECT_EQ(FormatAge(730 * 86400), "2y");
  EXPECT_EQ(FormatAge(733 * 86400), "2y3d");
  EXPECT_EQ(FormatAge(10LL * 365 * 86400), "10y");
}

TEST(ObjectAgeTest, ReadsCreationTimestamp) {
  Json obj = {{"metadata", {{"creationTimestamp", FormatRfc3339(kNow - 90'000'000)}}}};
  EXPECT_EQ(ObjectAge(obj, kNow), "90s");
  EXPECT_EQ(ObjectAge(Json{{"metadata", Json::object()}}, kNow), "<unknown>");
  EXPECT_EQ(ObjectAge(Json{{"metadata", {{"creationTimestamp", "yesterday"}}}}, kNow), "<unknown>");
  EXPECT_EQ(ObjectAge(Json{{"metadata", {{"creationTimestamp", 5}}}}, kNow), "<unknown>");
  EXPECT_EQ(ObjectAge(Json("not an object"), kNow), "<unknown>");
}

TEST(TableTest, AlignsColumnsWithoutTrailingSpaces) {
  std::string table = RenderTable({{"NAME", "DATA", "AGE"}, {"a-long-name", "2", "5s"}, {"b", "10", "3m"}});
  EXPECT_EQ(table,
            "NAME          DATA   AGE\n"
            "a-long-name   2      5s\n"
            "b             10     3m\n");
}

TEST(TableTest, CountsUtf8CharactersAndHidesControlCharacters) {
  std::string table = RenderTable({{"NAME", "X"}, {"\xC3\xA9t\xC3\xA9", "1"}, {"a\x1b[31m", "2"}});
  EXPECT_EQ(table,
            "NAME     X\n"
            "\xC3\xA9t\xC3\xA9      1\n"
            "a?[31m   2\n");
}

TEST(TableTest, RowsUnderFixedWidthsKeepAlignment) {
  auto widths = ColumnWidths({{"NAME", "AGE"}, {"abc", "1s"}});
  EXPECT_EQ(RenderRow({"x", "2s"}, widths), "x      2s\n");
  EXPECT_EQ(RenderRow({"much-longer", "2s"}, widths), "much-longer   2s\n");
}

TEST(TableTest, ConfigMapColumnsCountDataKeys) {
  ApiResource cm = ConfigMaps();
  EXPECT_EQ(TableHeader(cm, false), (TableRow{"NAME", "DATA", "AGE"}));
  EXPECT_EQ(TableHeader(cm, true), (TableRow{"NAMESPACE", "NAME", "DATA", "AGE"}));
  Json obj = {
      {"metadata",
       {{"name", "demo"}, {"namespace", "team"}, {"creationTimestamp", FormatRfc3339(kNow - 300'000'000)}}},
      {"data", {{"a", "1"}, {"b", "2"}}},
      {"binaryData", {{"c", "AA=="}}}};
  EXPECT_EQ(TableRowFor(cm, obj, false, kNow), (TableRow{"demo", "3", "5m"}));
  EXPECT_EQ(TableRowFor(cm, obj, true, kNow), (TableRow{"team", "demo", "3", "5m"}));
  Json bare = {{"metadata", {{"name", "empty"}}}};
  EXPECT_EQ(TableRowFor(cm, bare, false, kNow), (TableRow{"empty", "0", "<unknown>"}));
}

TEST(TableTest, OtherKindsShowStatus) {
  ApiResource exp = Experiments();
  EXPECT_EQ(TableHeader(exp, false), (TableRow{"NAME", "STATUS", "AGE"}));
  Json phase = {{"metadata", {{"name", "a"}}}, {"status", {{"phase", "Running"}}}};
  EXPECT_EQ(TableRowFor(exp, phase, false, kNow)[1], "Running");
  Json conditions = {{"metadata", {{"name", "b"}}},
                     {"status",
                      {{"conditions",
                        {{{"type", "Created"}, {"status", "True"}},
                         {{"type", "Succeeded"}, {"status", "True"}},
                         {{"type", "Failed"}, {"status", "False"}}}}}}};
  EXPECT_EQ(TableRowFor(exp, conditions, false, kNow)[1], "Succeeded");
  Json none = {{"metadata", {{"name", "c"}}}, {"status", "weird"}};
  EXPECT_EQ(TableRowFor(exp, none, false, kNow)[1], "");
}

TEST(ObjectRefTest, QualifiesGroups) {
  EXPECT_EQ(ObjectRef(ConfigMaps(), "demo"), "configmap/demo");
  EXPECT_EQ(ObjectRef(Experiments(), "hpo"), "experiment.kubeflow.org/hpo");
}

TEST(DescribeTest, ShowsMetadataThenBodySections) {
  Json obj = {{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata",
               {{"name", "demo"},
                {"namespace", "default"},
                {"uid", "u-1"},
                {"resourceVersion", "12"},
                {"creationTimestamp", FormatRfc3339(kNow - 3'600'000'000)},
                {"labels", {{"app", "web"}, {"tier", "front"}}}}},
              {"data", {{"greeting", "hello"}}}};
  EXPECT_EQ(Describe(obj, kNow),
            "Name:              demo\n"
            "Namespace:         default\n"
            "Labels:            app=web\n"
            "                   tier=front\n"
            "Annotations:       <none>\n"
            "UID:               u-1\n"
            "Resource Version:  12\n"
            "Created:           2023-11-14T21:13:20Z (60m ago)\n"
            "\n"
            "Data:\n"
            "  greeting: hello\n");
}

TEST(DescribeTest, BodySectionsAreIndentedYaml) {
  Json data = {{"multi", "a\nb"}, {"number-like", "1"}, {"nested", {{"x", Json::array({1, 2})}}}};
  std::string text = Describe(Json{{"metadata", {{"name", "x"}}}, {"data", data}}, kNow);
  auto start = text.find("\nData:\n");
  ASSERT_NE(start, std::string::npos) << text;
  std::string section;
  std::istringstream lines(text.substr(start + 7));
  for (std::string line; std::getline(lines, line);) {
    ASSERT_EQ(line.rfind("  ", 0), 0u) << "not indented: " << line;
    section += line.substr(2) + "\n";
  }
  auto parsed = ParseYaml(section);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, data);
}

TEST(DescribeTest, OrdersSpecBeforeOthersAndStatusLast) {
  Json obj = {{"metadata", {{"name", "x"}, {"annotations", {{"note", "line1\nline2"}}}}},
              {"status", {{"phase", "Done"}}},
              {"zeta", 3},
              {"spec", Json::object()}};
  std::string text = Describe(obj, kNow);
  EXPECT_NE(text.find("Annotations:       note: line1\n                   line2\n"), std::string::npos)
      << text;
  auto spec = text.find("\nSpec:  <none>\n");
  auto zeta = text.find("\nZeta: 3\n");
  auto status = text.find("\nStatus:\n  phase: Done\n");
  ASSERT_NE(spec, std::string::npos) << text;
  ASSERT_NE(zeta, std::string::npos) << text;
  ASSERT_NE(status, std::string::npos) << text;
  EXPECT_LT(spec, zeta);
  EXPECT_LT(zeta, status);
  EXPECT_EQ(text.find("Namespace:"), std::string::npos);
}

TEST(FormatApiErrorTest, LooksLikeKubectl) {
  api::client::ApiError not_found{404, "NotFound", "configmaps \"x\" not found", ""};
  EXPECT_EQ(FormatApiError(not_found), "Error from server (NotFound): configmaps \"x\" not found");
  api::client::ApiError invalid{400, "InvalidArgument", "must be a DNS-1123 label", "metadata.name"};
  EXPECT_EQ(
      FormatApiError(invalid, "error when creating configmap/Bad"),
      "Error from server (InvalidArgument): error when creating configmap/Bad: must be a DNS-1123 label "
      "(field metadata.name)");
  api::client::ApiError named{400, "InvalidArgument", "metadata.name: must be a DNS-1123 label",
                              "metadata.name"};
  EXPECT_EQ(FormatApiError(named),
            "Error from server (InvalidArgument): metadata.name: must be a DNS-1123 label");
}

TEST(FormatJsonTest, IndentsAndSurvivesInvalidUtf8) {
  EXPECT_EQ(FormatJson(Json{{"a", 1}}), "{\n    \"a\": 1\n}\n");
  EXPECT_NO_THROW(FormatJson(Json{{"a", std::string("\xff\xfe")}}));
}

}  // namespace
}  // namespace ferry::cli
