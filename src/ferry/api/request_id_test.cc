#include "ferry/api/request_id.h"

#include <gtest/gtest.h>

namespace ferry::api {
namespace {

TEST(RequestIdTest, KeepsSaneIds) {
  FakeEnv env;
  for (const char* id : {"abc", "A-b_c.9", "0f8fad5b-d9cb-469f-a165-70867728950e"}) {
    EXPECT_TRUE(IsSaneRequestId(id)) << id;
    EXPECT_EQ(RequestIdFor(id, env), id);
  }
  std::string longest(kMaxRequestIdLength, 'a');
  EXPECT_EQ(RequestIdFor(longest, env), longest);
}

TEST(RequestIdTest, ReplacesUnsafeIds) {
  FakeEnv env;
  for (std::string id : {std::string(), std::string(kMaxRequestIdLength + 1, 'a'), std::string("a b"),
                         std::string("x\r\nSet-Cookie: y"), std::string("{\"json\":1}"),
                         std::string("caf\xc3\xa9"), std::string("a/b"), std::string(1, '\0')}) {
    EXPECT_FALSE(IsSaneRequestId(id)) << id;
    std::string generated = RequestIdFor(id, env);
    EXPECT_NE(generated, id);
    EXPECT_TRUE(IsSaneRequestId(generated)) << generated;
    EXPECT_EQ(generated.size(), 36u) << generated;  // a UUID
  }
}

TEST(RequestIdTest, GeneratedIdsDiffer) {
  FakeEnv env;
  EXPECT_NE(RequestIdFor("", env), RequestIdFor("", env));
}

}  // namespace
}  // namespace ferry::api
