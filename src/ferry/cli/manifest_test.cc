#include "ferry/cli/manifest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ferry::cli {
namespace {

namespace fs = std::filesystem;

TEST(SplitYamlDocumentsTest, SplitsOnSeparatorLines) {
  auto docs = SplitYamlDocuments("a: 1\n---\nb: 2\n--- # comment\nc: 3\n");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].text, "a: 1\n");
  EXPECT_EQ(docs[0].first_line, 1);
  EXPECT_EQ(docs[1].text, "b: 2\n");
  EXPECT_EQ(docs[1].first_line, 3);
  EXPECT_EQ(docs[2].text, "c: 3\n");
  EXPECT_EQ(docs[2].first_line, 5);
}

TEST(SplitYamlDocumentsTest, DropsEmptyPiecesAndKeepsInlineContent) {
  auto docs = SplitYamlDocuments("---\n# only a comment\n---\n\n---\n--- {a: 1}\n---\r\nb: 2\r\n");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].text, "--- {a: 1}\n");
  EXPECT_EQ(docs[0].first_line, 6);
  EXPECT_EQ(docs[1].text, "b: 2\r\n");
  EXPECT_EQ(docs[1].first_line, 8);
}

TEST(SplitYamlDocumentsTest, DashesInsideContentAreNotSeparators) {
  auto docs = SplitYamlDocuments("a: |\n  ---\n  x\nb: ----\n----\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_TRUE(SplitYamlDocuments("").empty());
  EXPECT_TRUE(SplitYamlDocuments("\n\n# nothing\n").empty());
}

TEST(ParseManifestTest, ReadsMultiDocumentYaml) {
  auto docs = ParseManifest(
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n"
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
      "app.yaml");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_TRUE(docs[0].error.ok());
  EXPECT_EQ(docs[0].object["metadata"]["name"], "a");
  EXPECT_EQ(docs[1].index, 2);
  EXPECT_EQ(docs[1].Where(), "\"app.yaml\" document 2");
}

TEST(ParseManifestTest, OneMalformedDocumentDoesNotSpoilTheOthers) {
  auto docs = ParseManifest("a: 1\n---\nb: [unclosed\n---\n- just\n- a list\n---\nc: 3\n", "<stdin>");
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_TRUE(docs[0].error.ok());
  EXPECT_FALSE(docs[1].error.ok());
  // Line numbers count from the top of the stream, not of the document.
  EXPECT_NE(docs[1].error.message().find("line "), std::string::npos) << docs[1].error.message();
  EXPECT_EQ(docs[1].Where(), "<stdin> document 2");
  EXPECT_FALSE(docs[2].error.ok());
  EXPECT_NE(docs[2].error.message().find("got array"), std::string::npos);
  EXPECT_TRUE(docs[3].error.ok());
  EXPECT_EQ(docs[3].index, 4);
}

TEST(ParseManifestTest, ErrorLinesAreAbsolute) {
  auto docs = ParseManifest("a: 1\n---\nb: 2\nc: [x\n", "f.yaml");
  ASSERT_EQ(docs.size(), 2u);
  ASSERT_FALSE(docs[1].error.ok());
  // The error is at or after line 4 of the stream, never at the document-relative line 1 or 2.
  const std::string& msg = docs[1].error.message();
  EXPECT_EQ(msg.find("line 1,"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("line 2,"), std::string::npos) << msg;
}

TEST(ParseManifestTest, ReadsJsonObjectsArraysAndLists) {
  auto single = ParseManifest(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}})", "-");
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].object["metadata"]["name"], "a");

  auto array = ParseManifest(R"([{"kind":"A"},{"kind":"B"}])", "x.json");
  ASSERT_EQ(array.size(), 2u);
  EXPECT_EQ(array[1].index, 2);

  auto list = ParseManifest(R"({"apiVersion":"v1","kind":"List","items":[{"kind":"A"},3]})", "l.json");
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0].error.ok());
  EXPECT_EQ(list[0].item, 1);
  EXPECT_FALSE(list[1].error.ok());
  EXPECT_EQ(list[1].Where(), "\"l.json\" document 1 item 2");

  auto bad = ParseManifest("{not json", "broken.json");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_FALSE(bad[0].error.ok());
  EXPECT_NE(bad[0].error.message().find("JSON"), std::string::npos);
}

TEST(ParseManifestTest, YamlFlowMappingIsNotMistakenForJson) {
  auto docs = ParseManifest("{kind: ConfigMap, metadata: {name: a}}\n", "flow.yaml");
  ASSERT_EQ(docs.size(), 1u);
  ASSERT_TRUE(docs[0].error.ok()) << docs[0].error.message();
  EXPECT_EQ(docs[0].object["kind"], "ConfigMap");
}

TEST(ParseManifestTest, YamlListKindExpandsItems) {
  auto docs = ParseManifest("kind: List\nitems:\n- kind: A\n- kind: B\n", "l.yaml");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1].object["kind"], "B");
  auto bad = ParseManifest("kind: List\nitems: 3\n", "l.yaml");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].error.field(), "items");
}

class ReadManifestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ferry_manifest_test_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) { std::ofstream(dir_ / name) << text; }

  fs::path dir_;
};

TEST_F(ReadManifestsTest, ReadsFilesDirectoriesAndStdinInOrder) {
  Write("b.yaml", "kind: B\n");
  Write("a.yml", "kind: A1\n---\nkind: A2\n");
  Write("c.json", R"({"kind":"C"})");
  Write("notes.txt", "kind: Ignored\n");
  std::istringstream in("kind: S\n");
  auto docs = ReadManifests({dir_.string(), "-"}, in);
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  std::vector<std::string> kinds;
  for (const auto& d : *docs) kinds.push_back(d.object["kind"].get<std::string>());
  EXPECT_EQ(kinds, (std::vector<std::string>{"A1", "A2", "B", "C", "S"}));
  EXPECT_EQ(docs->back().source, "<stdin>");
}

TEST_F(ReadManifestsTest, MissingPathIsAnError) {
  std::istringstream in;
  auto docs = ReadManifests({(dir_ / "absent.yaml").string()}, in);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.status().message().find("does not exist"), std::string::npos);
}

TEST_F(ReadManifestsTest, StdinOnlyOnceAndBounded) {
  std::istringstream in("kind: A\n");
  EXPECT_FALSE(ReadManifests({"-", "-"}, in).ok());
  std::istringstream big(std::string(2000, 'x'));
  auto docs = ReadManifests({"-"}, big, 1000);
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.status().message().find("larger than"), std::string::npos);
  Write("big.yaml", std::string(2000, 'x'));
  std::istringstream none;
  EXPECT_FALSE(ReadManifests({(dir_ / "big.yaml").string()}, none, 1000).ok());
}

}  // namespace
}  // namespace ferry::cli
