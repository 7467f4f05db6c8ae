#include "ferry/common/names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace ferry {
namespace {

using ::testing::HasSubstr;

TEST(Dns1123LabelTest, AcceptsKubernetesNames) {
  for (const std::string& name : {std::string("a"), std::string("my-run-1"), std::string("123"),
                                  std::string("0-a"), std::string(63, 'x')}) {
    EXPECT_TRUE(ValidateDns1123Label(name, "metadata.name").ok()) << name;
  }
}

TEST(Dns1123LabelTest, RejectsWithFieldAndReason) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "must not be empty"},
      {std::string(64, 'x'), "longer than 63 characters"},
      {"My-Run", "lower case letters, digits and '-'"},
      {"a_b", "lower case letters, digits and '-'"},
      {"a.b", "lower case letters, digits and '-'"},
      {"a b", "lower case letters, digits and '-'"},
      {"-a", "must start and end with a letter or digit"},
      {"a-", "must start and end with a letter or digit"},
      {"-", "must start and end with a letter or digit"},
      {"ünï", "lower case letters, digits and '-'"},
  };
  for (const auto& [name, reason] : cases) {
    Status status = ValidateDns1123Label(name, "metadata.name");
    ASSERT_FALSE(status.ok()) << name;
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(status.field(), "metadata.name");
    EXPECT_THAT(status.message(), HasSubstr("metadata.name")) << name;
    EXPECT_THAT(status.message(), HasSubstr(reason)) << name;
  }
}

TEST(Dns1123LabelTest, MessagesQuoteHostileInputSafely) {
  Status control = ValidateDns1123Label(std::string("a\nb\0c", 5), "metadata.name");
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.message(), ::testing::Not(HasSubstr("\n")));
  EXPECT_EQ(control.message().find('\0'), std::string::npos);

  Status long_name = ValidateDns1123Label(std::string(10'000, 'A'), "metadata.name");
  ASSERT_FALSE(long_name.ok());
  EXPECT_LT(long_name.message().size(), 300u);
  EXPECT_THAT(long_name.message(), HasSubstr("..."));

  // Invalid UTF-8, and valid UTF-8 cut at the quoting limit, must not make
  // the message unencodable as JSON.
  for (const std::string& name : {std::string("bad\xff"), std::string(79, 'a') + "\xc3\xa9" + "zzz"}) {
    Status status = ValidateDns1123Label(name, "metadata.name");
    ASSERT_FALSE(status.ok());
    EXPECT_NO_THROW((void)nlohmann::json(status.message()).dump()) << status.message();
  }
}

TEST(Dns1123SubdomainTest, AcceptsAndRejects) {
  EXPECT_TRUE(ValidateDns1123Subdomain("example.com", "f").ok());
  EXPECT_TRUE(ValidateDns1123Subdomain("a", "f").ok());
  EXPECT_TRUE(ValidateDns1123Subdomain("a-1.b-2.c3", "f").ok());
  std::string long_ok;
  while (long_ok.size() < 253) long_ok += "abcdefghi.";
  long_ok.resize(253);  // ends in "abc"
  ASSERT_TRUE(ValidateDns1123Subdomain(long_ok, "f").ok())
      << ValidateDns1123Subdomain(long_ok, "f").ToString();
  EXPECT_THAT(ValidateDns1123Subdomain(long_ok + "z", "f").message(), HasSubstr("longer than 253"));
  for (const char* bad : {"", ".a", "a.", "a..b", "A.b", "a_b.c", "-a.b", "a.-b", "a.b-"}) {
    Status status = ValidateDns1123Subdomain(bad, "spec.host");
    EXPECT_FALSE(status.ok()) << bad;
    EXPECT_EQ(status.field(), "spec.host") << bad;
  }
}

TEST(LabelKeyTest, AcceptsPlainAndPrefixedKeys) {
  for (const char* key : {"app", "App.Name_1-x", "example.com/app", "kubeflow.org/run-id", "a/b"}) {
    EXPECT_TRUE(ValidateLabelKey(key, "metadata.labels").ok()) << key;
  }
  EXPECT_TRUE(ValidateLabelKey(std::string(63, 'k'), "f").ok());
}

TEST(LabelKeyTest, RejectsBadKeys) {
  for (const std::string& key :
       {std::string(""), std::string("/app"), std::string("example.com/"), std::string("a/b/c"),
        std::string("Example.com/app"), std::string("_app"), std::string("app_"), std::string("a b"),
        std::string(64, 'k'), std::string("ex ample.com/app"), std::string("app:1")}) {
    Status status = ValidateLabelKey(key, "metadata.labels");
    EXPECT_FALSE(status.ok()) << key;
    EXPECT_EQ(status.field(), "metadata.labels") << key;
  }
}

TEST(LabelValueTest, AllowsEmptyAndQualifiedValues) {
  for (const std::string& value : {std::string(""), std::string("v1"), std::string("1.0_rc-2"),
                                   std::string("A"), std::string(63, 'v')}) {
    EXPECT_TRUE(ValidateLabelValue(value, "f").ok()) << value;
  }
  for (const std::string& value : {std::string("-v"), std::string("v."), std::string("a/b"),
                                   std::string("with space"), std::string(64, 'v')}) {
    EXPECT_FALSE(ValidateLabelValue(value, "f").ok()) << value;
  }
}

}  // namespace
}  // namespace ferry
