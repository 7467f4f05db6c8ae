#include "ferry/api/errors.h"

#include <gtest/gtest.h>

namespace ferry::api {
namespace {

TEST(HttpStatusForTest, MapsEveryCode) {
  const std::pair<StatusCode, int> cases[] = {
      {StatusCode::kInvalidArgument, 400},    {StatusCode::kNotFound, 404},
      {StatusCode::kAlreadyExists, 409},      {StatusCode::kConflict, 409},
      {StatusCode::kFailedPrecondition, 400}, {StatusCode::kUnauthenticated, 401},
      {StatusCode::kPermissionDenied, 403},   {StatusCode::kResourceExhausted, 429},
      {StatusCode::kPayloadTooLarge, 413},    {StatusCode::kDeadlineExceeded, 504},
      {StatusCode::kUnavailable, 503},        {StatusCode::kUnimplemented, 501},
      {StatusCode::kInternal, 500},
  };
  for (const auto& [code, http] : cases) EXPECT_EQ(HttpStatusFor(code), http) << StatusCodeName(code);
}

TEST(ToApiErrorTest, KeepsCodeMessageAndField) {
  ApiError error = ToApiError(InvalidArgument("metadata.name must not be empty", "metadata.name"));
  EXPECT_EQ(error.http_status, 400);
  EXPECT_EQ(error.code, "InvalidArgument");
  EXPECT_EQ(error.message, "metadata.name must not be empty");
  EXPECT_EQ(error.field, "metadata.name");
  EXPECT_EQ(ToApiError(Conflict("stale")).code, "Conflict");
  EXPECT_EQ(ToApiError(AlreadyExists("taken")).http_status, 409);
}

TEST(ToApiErrorTest, HidesInternalDetail) {
  ApiError error = ToApiError(Internal("sqlite: no such table resources at /var/lib/ferry/db"));
  EXPECT_EQ(error.http_status, 500);
  EXPECT_EQ(error.code, "Internal");
  EXPECT_EQ(error.message.find("sqlite"), std::string::npos);
  EXPECT_NE(error.message.find("X-Request-Id"), std::string::npos);
}

TEST(ToApiErrorTest, OkStatusIsNeverSuccess) { EXPECT_EQ(ToApiError(Status::OK()).http_status, 500); }

TEST(ErrorBodyTest, FieldOnlyWhenKnown) {
  Json with = ErrorBody(ApiError{400, "InvalidArgument", "bad", "spec.x"});
  EXPECT_EQ(with, Json::parse(R"({"error":{"code":"InvalidArgument","message":"bad","field":"spec.x"}})"));
  Json without = ErrorBody(ApiError{404, "NotFound", "gone", ""});
  EXPECT_FALSE(without["error"].contains("field"));
}

TEST(ErrorResponseTest, JsonWithRetryAfterForOverload) {
  HttpResponse response = ErrorResponse(ApiError{503, "Unavailable", "busy", ""});
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.headers.Get("Content-Type"), "application/json");
  EXPECT_EQ(response.headers.Get("Retry-After"), "1");
  EXPECT_EQ(Json::parse(response.body)["error"]["code"], "Unavailable");
  EXPECT_EQ(ErrorResponse(ApiError{429, "ResourceExhausted", "quota", ""}).headers.Get("Retry-After"), "1");
  EXPECT_FALSE(ErrorResponse(ApiError{400, "InvalidArgument", "x", ""}).headers.Has("Retry-After"));
}

TEST(ErrorResponseTest, InvalidUtf8InMessageIsSafe) {
  HttpResponse response = ErrorResponse(ApiError{400, "InvalidArgument", std::string("bad \xff name"), ""});
  EXPECT_TRUE(ParseJson(response.body).ok()) << response.body;
}

TEST(ErrorResponseTest, FromStatus) {
  HttpRequest request;
  request.request_id = "r1";
  HttpResponse response = ErrorResponse(request, NotFound("configmaps \"x\" not found"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(Json::parse(response.body)["error"]["message"], "configmaps \"x\" not found");
}

TEST(MethodNotAllowedTest, SetsAllow) {
  HttpResponse response = MethodNotAllowedResponse("PUT", {"GET", "POST"});
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers.Get("Allow"), "GET, POST");
  EXPECT_EQ(Json::parse(response.body)["error"]["code"], "MethodNotAllowed");
}

TEST(ExpiredTest, RecognisesTheStoreError) {
  EXPECT_TRUE(IsExpiredWatchStatus(FailedPrecondition("too old resource version: 5 (oldest kept 90)")));
  EXPECT_FALSE(IsExpiredWatchStatus(FailedPrecondition("something else")));
  EXPECT_FALSE(IsExpiredWatchStatus(InvalidArgument("too old resource version")));
  ApiError error = ExpiredError("too old resource version: 5");
  EXPECT_EQ(error.http_status, 410);
  EXPECT_EQ(error.code, "Expired");
}

TEST(UnsupportedMediaTypeTest, NamesTheType) {
  ApiError error = UnsupportedMediaTypeError("text/plain", "application/json");
  EXPECT_EQ(error.http_status, 415);
  EXPECT_NE(error.message.find("text/plain"), std::string::npos);
}

}  // namespace
}  // namespace ferry::api
