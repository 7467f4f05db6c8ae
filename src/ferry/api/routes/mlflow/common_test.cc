#include "ferry/api/routes/mlflow/common.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace ferry::api::mlflow {
namespace {

HttpRequest Get(std::vector<std::pair<std::string, std::string>> query) {
  HttpRequest r;
  r.method = "GET";
  r.query = std::move(query);
  return r;
}

HttpRequest Post(std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.body = std::move(body);
  return r;
}

TEST(MlflowRequestTest, GetQueryBecomesAnObjectWithListsForRepeats) {
  auto object = RequestObject(Get({{"run_id", "abc"}, {"experiment_ids", "1"}, {"experiment_ids", "2"}}));
  ASSERT_TRUE(object.ok());
  EXPECT_EQ((*object)["run_id"], Json::array({"abc"}));
  EXPECT_EQ((*object)["experiment_ids"], Json::array({"1", "2"}));
  // A scalar getter takes the first of repeated values, as Flask's get() does.
  EXPECT_EQ(*RequiredString(*object, "experiment_ids"), "1");
  EXPECT_EQ(*StringList(*object, "experiment_ids"), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(*StringList(*object, "run_id"), (std::vector<std::string>{"abc"}));
}

TEST(MlflowRequestTest, BodiesMustBeJsonObjects) {
  EXPECT_TRUE(RequestObject(Post(""))->empty());
  EXPECT_TRUE(RequestObject(Post("  \n"))->empty());
  EXPECT_EQ((*RequestObject(Post(R"({"name": "x"})")))["name"], "x");
  for (const char* bad : {"[1]", "\"s\"", "{", "{\"a\": }", "nul"}) {
    auto object = RequestObject(Post(bad));
    ASSERT_FALSE(object.ok()) << bad;
    EXPECT_EQ(object.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(object.status().message().find("Malformed request body"), std::string::npos) << bad;
  }
}

TEST(MlflowRequestTest, RequiredFieldsUseMlflowsMessage) {
  Json object = Json::object();
  auto missing = RequiredString(object, "run_id");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "Missing value for required parameter 'run_id'. See the API docs for more information about "
            "request parameters.");
  object["run_id"] = nullptr;  // null counts as absent
  EXPECT_FALSE(RequiredString(object, "run_id").ok());
  EXPECT_FALSE(RequiredInt64(object, "x").ok());
  EXPECT_FALSE(RequiredDouble(object, "x").ok());
  EXPECT_FALSE(OptString(object, "run_id")->has_value());
}

TEST(MlflowRequestTest, Int64AcceptsNumbersAndDecimalStrings) {
  Json object = {{"a", 5}, {"b", "-12"}, {"c", 3.0}, {"d", "1.5"}, {"e", 1.5}, {"f", true},
                 {"g", "9223372036854775807"}, {"h", 18446744073709551615ULL}, {"i", ""}, {"j", "12x"}};
  EXPECT_EQ(**OptInt64(object, "a"), 5);
  EXPECT_EQ(**OptInt64(object, "b"), -12);
  EXPECT_EQ(**OptInt64(object, "c"), 3);
  EXPECT_EQ(**OptInt64(object, "g"), std::numeric_limits<std::int64_t>::max());
  for (const char* bad : {"d", "e", "f", "h", "i", "j"}) {
    auto v = OptInt64(object, bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(v.status().field(), bad);
    EXPECT_NE(v.status().message().find(std::string("'") + bad + "'"), std::string::npos);
  }
}

TEST(MlflowRequestTest, DoublesAcceptProtoJsonSpecialValues) {
  Json object = {{"a", 0.5}, {"b", "NaN"}, {"c", "Infinity"}, {"d", "-Infinity"}, {"e", "2.5"}, {"f", 3},
                 {"g", "abc"}, {"h", false}, {"i", "inf"}};
  EXPECT_EQ(**OptDouble(object, "a"), 0.5);
  EXPECT_TRUE(std::isnan(**OptDouble(object, "b")));
  EXPECT_EQ(**OptDouble(object, "c"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(**OptDouble(object, "d"), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(**OptDouble(object, "e"), 2.5);
  EXPECT_EQ(**OptDouble(object, "f"), 3.0);
  EXPECT_FALSE(OptDouble(object, "g").ok());
  EXPECT_EQ(**OptDouble(object, "i"), std::numeric_limits<double>::infinity());  // Python float() reads it too
  EXPECT_FALSE(OptDouble(object, "h").ok());
}

TEST(MlflowRequestTest, BoolsAndStringsAreTyped) {
  Json object = {{"a", true}, {"b", "false"}, {"c", 1}, {"s", 7}, {"l", Json::array({"x", 2})}};
  EXPECT_TRUE(**OptBool(object, "a"));
  EXPECT_FALSE(**OptBool(object, "b"));
  EXPECT_FALSE(OptBool(object, "c").ok());
  EXPECT_FALSE(OptString(object, "s").ok());
  EXPECT_FALSE(StringList(object, "l").ok());
  EXPECT_FALSE(StringList(object, "s").ok());
  EXPECT_FALSE(StringList(Json{{"ids", "1"}}, "ids").ok());  // a body's lone string is not a list
  EXPECT_TRUE(StringList(object, "absent")->empty());
}

TEST(MlflowRequestTest, ArraysAndObjects) {
  Json object = {{"metrics", Json::array({{{"key", "a"}}})}, {"bad", Json::array({1})}, {"o", {{"k", 1}}},
                 {"s", "x"}};
  EXPECT_EQ((*OptArray(object, "metrics"))->size(), 1u);
  EXPECT_EQ(*OptArray(object, "absent"), nullptr);
  EXPECT_FALSE(OptArray(object, "bad").ok());
  EXPECT_TRUE(OptArray(object, "bad", /*objects=*/false).ok());
  EXPECT_FALSE(OptArray(object, "s").ok());
  EXPECT_EQ((**OptObject(object, "o"))["k"], 1);
  EXPECT_FALSE(OptObject(object, "s").ok());
  EXPECT_EQ(*OptObject(object, "absent"), nullptr);
}

TEST(MlflowResponseTest, ErrorsHaveMlflowsShapeAndStatus) {
  struct Case {
    Status status;
    int http;
    const char* code;
  };
  const Case cases[] = {
      {InvalidArgument("bad"), 400, "INVALID_PARAMETER_VALUE"},
      {FailedPrecondition("deleted"), 400, "INVALID_PARAMETER_VALUE"},
      {NotFound("gone"), 404, "RESOURCE_DOES_NOT_EXIST"},
      {AlreadyExists("dup"), 400, "RESOURCE_ALREADY_EXISTS"},
      {Conflict("race"), 409, "RESOURCE_CONFLICT"},
      {PayloadTooLarge("big"), 413, "INVALID_PARAMETER_VALUE"},
      {PermissionDenied("no"), 403, "PERMISSION_DENIED"},
      {ResourceExhausted("slow down"), 429, "REQUEST_LIMIT_EXCEEDED"},
      {Unavailable("later"), 503, "TEMPORARILY_UNAVAILABLE"},
      {Unimplemented("nope"), 501, "NOT_IMPLEMENTED"},
  };
  HttpRequest request;
  for (const auto& c : cases) {
    HttpResponse response = ErrorResponse(request, c.status);
    EXPECT_EQ(response.status, c.http) << c.code;
    Json body = Json::parse(response.body);
    EXPECT_EQ(body["error_code"], c.code);
    EXPECT_EQ(body["message"], c.status.message());
    EXPECT_EQ(response.headers.Get("Content-Type"), "application/json");
  }
  EXPECT_EQ(ErrorResponse(request, Unavailable("x")).headers.Get("Retry-After"), "1");
}

TEST(MlflowResponseTest, InternalErrorsHideTheirDetail) {
  HttpRequest request;
  HttpResponse response = ErrorResponse(request, Internal("table runs is corrupt at /var/lib/x"));
  EXPECT_EQ(response.status, 500);
  Json body = Json::parse(response.body);
  EXPECT_EQ(body["error_code"], "INTERNAL_ERROR");
  EXPECT_EQ(body["message"], "internal error");
}

}  // namespace
}  // namespace ferry::api::mlflow
