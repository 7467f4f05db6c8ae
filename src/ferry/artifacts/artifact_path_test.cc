#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "ferry/artifacts/artifact_store.h"

namespace ferry::artifacts {
namespace {

using ::testing::HasSubstr;

TEST(ValidateArtifactPathTest, AcceptsOrdinaryPaths) {
  for (std::string_view path : {"a", "model.onnx", "a/b/c.txt", "run-1/metrics/loss.json", ".hidden", "a/.b",
                                "...", "a/..b/c..", "ünïcode/模型.bin", "emoji/🚀", "spaces are fine/x y"}) {
    EXPECT_TRUE(ValidateArtifactPath(path).ok()) << path << ": " << ValidateArtifactPath(path).ToString();
  }
}

TEST(ValidateArtifactPathTest, AcceptsLimits) {
  EXPECT_TRUE(ValidateArtifactPath(std::string(255, 'a')).ok());
  std::string longest;
  while (longest.size() + 200 <= kMaxArtifactPathBytes) longest += std::string(199, 'x') + "/";
  longest += std::string(kMaxArtifactPathBytes - longest.size(), 'y');
  ASSERT_EQ(longest.size(), kMaxArtifactPathBytes);
  EXPECT_TRUE(ValidateArtifactPath(longest).ok()) << ValidateArtifactPath(longest).ToString();
}

struct BadPath {
  std::string path;
  std::string expected;  // part of the message
};

class HostilePathTest : public ::testing::TestWithParam<BadPath> {};

TEST_P(HostilePathTest, IsRejectedWithReason) {
  const BadPath& bad = GetParam();
  Status status = ValidateArtifactPath(bad.path);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(bad.expected));
  // The message must be safe to embed in a JSON error body.
  EXPECT_NO_THROW((void)nlohmann::json(status.message()).dump());
}

INSTANTIATE_TEST_SUITE_P(
    Table, HostilePathTest,
    ::testing::Values(BadPath{"", "must not be empty"}, BadPath{"../x", "'..' segment"},
                      BadPath{"a/../../x", "'..' segment"}, BadPath{"a/..", "'..' segment"},
                      BadPath{"..", "'..' segment"}, BadPath{".", "'.' segment"},
                      BadPath{"a/./b", "'.' segment"}, BadPath{"/etc/passwd", "must be relative"},
                      BadPath{"/", "must be relative"}, BadPath{"a//b", "empty segment"},
                      BadPath{"a/", "must not end with '/'"},
                      BadPath{std::string("a\0b", 3), "control character U+0000"},
                      BadPath{"a\nb", "control character U+000A"},
                      BadPath{"a\tb", "control character U+0009"},
                      BadPath{"a\x7f"
                              "b",
                              "control character U+007F"},
                      BadPath{"a\xc2\x85"
                              "b",
                              "control character U+0085"},  // NEL, a C1 control
                      BadPath{"a\\b", "backslash"}, BadPath{"..\\..\\windows", "backslash"},
                      BadPath{std::string(256, 'a'), "segment of 256 bytes"},
                      BadPath{"d/" + std::string(256, 'a') + "/f", "segment of 256 bytes"},
                      BadPath{std::string(1025, 'a'), "1025 bytes long"},
                      BadPath{"a\xff"
                              "b",
                              "not valid UTF-8 (at byte 1)"},
                      BadPath{"\xc0\xaf", "not valid UTF-8"},          // overlong '/'
                      BadPath{"a\xe0\x80\xaf", "not valid UTF-8"},     // overlong '/', 3 bytes
                      BadPath{"\xed\xa0\x80", "not valid UTF-8"},      // UTF-16 surrogate
                      BadPath{"\xf4\x90\x80\x80", "not valid UTF-8"},  // above U+10FFFF
                      BadPath{"trunc\xe6\xa8", "not valid UTF-8"},     // cut multi-byte sequence
                      BadPath{"\x80", "not valid UTF-8"}));

TEST(OpenArtifactStoreTest, RejectsUnsupportedSchemesByName) {
  for (std::string_view uri : {"s3://bucket/prefix", "gs://bucket", "hdfs://nn/x", "S3://bucket"}) {
    auto store = OpenArtifactStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    std::string scheme(uri.substr(0, uri.find(':')));
    for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_THAT(store.status().message(), HasSubstr("unsupported artifact store scheme '" + scheme + "'"));
    EXPECT_THAT(store.status().message(), HasSubstr("supported: file"));
  }
}

TEST(OpenArtifactStoreTest, RejectsTextThatIsNotAUri) {
  for (std::string_view uri : {"", "relative/dir", "/abs/without/scheme", "://x", "1abc:/x"}) {
    auto store = OpenArtifactStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(store.status().message(), HasSubstr("is not a URI")) << uri;
  }
}

TEST(OpenArtifactStoreTest, RejectsMalformedFileUris) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"file:relative/dir", "names a relative path"},
      {"file:/abs", "lacks the empty authority"},
      {"file://host/abs", "names host 'host'"},
      {"file://localhost/abs", "names host 'localhost'"},
      {"file://relative", "names host 'relative'"},
      {"file://", "has no path"},
      {"file:///", "is the filesystem root"},
      {"file:///a/..", "is the filesystem root"},
      {"file:///tmp/x?y=1", "query or fragment"},
      {"file:///tmp/x#frag", "query or fragment"},
      {std::string_view("file:///tmp/a\0b", 15), "control character"},
  };
  for (const auto& [uri, expected] : cases) {
    auto store = OpenArtifactStore(uri);
    ASSERT_FALSE(store.ok()) << uri;
    EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << uri;
    EXPECT_THAT(store.status().message(), HasSubstr(expected)) << uri;
  }
}

}  // namespace
}  // namespace ferry::artifacts
