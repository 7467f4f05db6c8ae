#include "ferry/api/router.h"

#include <gtest/gtest.h>

namespace ferry::api {
namespace {

Handler Named(std::string name) {
  return [name](const HttpRequest&) { return TextResponse(200, "text/plain", name); };
}

std::string HandlerOf(const RouteMatch& match) {
  HttpRequest request;
  return match.route->handler(request).body;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(router_.Add("GET", "/api/v1", Named("discovery")).ok());
    ASSERT_TRUE(router_.Add("GET", "/api/v1/{plural}", Named("all")).ok());
    ASSERT_TRUE(router_.Add("GET", "/api/v1/namespaces/{ns}/{plural}", Named("list")).ok());
    ASSERT_TRUE(router_.Add("POST", "/api/v1/namespaces/{ns}/{plural}", Named("create")).ok());
    ASSERT_TRUE(router_.Add("GET", "/api/v1/namespaces/{ns}/{plural}/{name}", Named("get")).ok());
    ASSERT_TRUE(router_.Add("DELETE", "/api/v1/namespaces/{ns}/{plural}/{name}", Named("delete")).ok());
    ASSERT_TRUE(router_.Add("GET", "/api/v1/namespaces/default/special/{name}", Named("special")).ok());
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralRoute) {
  RouteMatch m = router_.Match("GET", "/api/v1");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(m), "discovery");
  EXPECT_EQ(m.pattern, "/api/v1");
  EXPECT_TRUE(m.params.empty());
}

TEST_F(RouterTest, BindsParameters) {
  RouteMatch m = router_.Match("GET", "/api/v1/namespaces/team-a/configmaps/x1");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(m), "get");
  EXPECT_EQ(m.pattern, "/api/v1/namespaces/{ns}/{plural}/{name}");
  EXPECT_EQ(m.params.at("ns"), "team-a");
  EXPECT_EQ(m.params.at("plural"), "configmaps");
  EXPECT_EQ(m.params.at("name"), "x1");
}

TEST_F(RouterTest, DecodesParametersAfterSplitting) {
  // An encoded slash stays inside its segment; the name check rejects it later.
  RouteMatch m = router_.Match("GET", "/api/v1/namespaces/default/configmaps/..%2Fx");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.params.at("name"), "../x");
}

TEST_F(RouterTest, LiteralSegmentBeatsParameter) {
  RouteMatch m = router_.Match("GET", "/api/v1/namespaces/default/special/x");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(m), "special");
  RouteMatch other = router_.Match("GET", "/api/v1/namespaces/other/special/x");
  ASSERT_EQ(other.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(other), "get");
}

TEST_F(RouterTest, FallsBackToLessSpecificPatternForOtherMethods) {
  // DELETE is registered only on the parameterised pattern.
  RouteMatch m = router_.Match("DELETE", "/api/v1/namespaces/default/special/x");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(m), "delete");
}

TEST_F(RouterTest, WrongMethodListsAllowedMethods) {
  RouteMatch m = router_.Match("PUT", "/api/v1/namespaces/default/configmaps");
  ASSERT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_EQ(m.pattern, "/api/v1/namespaces/{ns}/{plural}");
}

TEST_F(RouterTest, UnknownPathIsNotFound) {
  for (const char* path : {"/", "/api", "/api/v2", "/api/v1/namespaces/default/configmaps/x/y/z",
                           "/api/v1/namespaces//configmaps", "/api/v1/"}) {
    RouteMatch m = router_.Match("GET", path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound) << path;
    EXPECT_EQ(m.pattern, kUnmatchedRoute) << path;
  }
}

TEST_F(RouterTest, MalformedPathIsBadPath) {
  for (const char* path : {"", "api/v1", "/api/v1/%zz", "/api/v1/%4"}) {
    RouteMatch m = router_.Match("GET", path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kBadPath) << path;
    EXPECT_EQ(m.error.code(), StatusCode::kInvalidArgument) << path;
  }
}

TEST(RouterRestTest, RestParameterTakesTheRemainingSegments) {
  Router router;
  ASSERT_TRUE(router.Add("GET", "/files/{path...}", Named("file")).ok());
  ASSERT_TRUE(router.Add("GET", "/files/{id}/meta", Named("meta")).ok());
  ASSERT_TRUE(router.Add("GET", "/files/{id}", Named("one")).ok());

  RouteMatch deep = router.Match("GET", "/files/a/b%20c/d.txt");
  ASSERT_EQ(deep.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(HandlerOf(deep), "file");
  EXPECT_EQ(deep.params.at("path"), "a/b c/d.txt");

  // More specific patterns win over the rest parameter.
  EXPECT_EQ(HandlerOf(router.Match("GET", "/files/x/meta")), "meta");
  EXPECT_EQ(HandlerOf(router.Match("GET", "/files/x")), "one");

  // A fixed-length pattern that matches the path takes it from the rest
  // parameter even for methods it lacks.
  ASSERT_TRUE(router.Add("PUT", "/files/{path...}", Named("put")).ok());
  RouteMatch wrong = router.Match("PUT", "/files/x/meta");
  EXPECT_EQ(wrong.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(wrong.allowed, (std::vector<std::string>{"GET"}));
  EXPECT_EQ(HandlerOf(router.Match("PUT", "/files/x/y/z")), "put");

  // The rest parameter needs at least one segment, and none may be empty.
  EXPECT_EQ(router.Match("GET", "/files").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/files/a//b").kind, RouteMatch::Kind::kNotFound);
  EXPECT_EQ(router.Match("GET", "/files/a/").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterAddTest, RejectsMalformedAndDuplicatePatterns) {
  Router router;
  EXPECT_EQ(router.Add("GET", "no-slash", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{x}/{x}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/b{x}", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{x...}/b", Named("x")).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Add("GET", "/a/{...}", Named("x")).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(router.Add("GET", "/a/{x}", Named("x")).ok());
  EXPECT_EQ(router.Add("GET", "/a/{x}", Named("y")).code(), StatusCode::kAlreadyExists);
  EXPECT_TRUE(router.Add("POST", "/a/{x}", Named("y")).ok());
}

TEST(SplitPathTest, SplitsAndDecodes) {
  auto segments = SplitPath("/a/b%20c/%2F/");
  ASSERT_TRUE(segments.ok());
  EXPECT_EQ(*segments, (std::vector<std::string>{"a", "b c", "/", ""}));
  auto plus = SplitPath("/a+b");
  ASSERT_TRUE(plus.ok());
  EXPECT_EQ(plus->front(), "a+b");  // '+' is a space only in queries
}

}  // namespace
}  // namespace ferry::api
