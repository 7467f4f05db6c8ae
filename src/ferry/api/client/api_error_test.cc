#include "ferry/api/client/api_error.h"

#include <gtest/gtest.h>

namespace ferry::api::client {
namespace {

HttpResponse Response(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

TEST(ApiErrorTest, ReadsTheNativeShape) {
  ApiError e = ParseApiError(
      Response(400, R"({"error":{"code":"InvalidArgument","message":"bad name","field":"metadata.name"}})"));
  EXPECT_EQ(e.http_status, 400);
  EXPECT_EQ(e.code, "InvalidArgument");
  EXPECT_EQ(e.message, "bad name");
  EXPECT_EQ(e.field, "metadata.name");
}

TEST(ApiErrorTest, KeepsApiLevelCodes) {
  ApiError e = ParseApiError(Response(405, R"({"error":{"code":"MethodNotAllowed","message":"use GET"}})"));
  EXPECT_EQ(e.code, "MethodNotAllowed");
  EXPECT_EQ(e.field, "");
}

TEST(ApiErrorTest, ReadsTheKfpShape) {
  ApiError e = ParseApiError(Response(400, R"({"code":3,"message":"unknown parameter 'x'","details":[]})"));
  EXPECT_EQ(e.code, "BadRequest");
  EXPECT_EQ(e.message, "unknown parameter 'x'");
}

TEST(ApiErrorTest, FallsBackForForeignBodies) {
  ApiError html = ParseApiError(Response(502, "<html>Bad Gateway</html>\nmore"));
  EXPECT_EQ(html.code, "Internal");
  EXPECT_EQ(html.message, "the server answered HTTP 502: <html>Bad Gateway</html>");

  ApiError empty = ParseApiError(Response(404, ""));
  EXPECT_EQ(empty.code, "NotFound");
  EXPECT_EQ(empty.message, "the server answered HTTP 404 with no details");

  ApiError wrong_types = ParseApiError(Response(409, R"({"error":{"code":7,"message":["x"]}})"));
  EXPECT_EQ(wrong_types.code, "Conflict");
  EXPECT_NE(wrong_types.message.find("HTTP 409"), std::string::npos);

  ApiError escape = ParseApiError(Response(500, "\x1b[31mred"));
  EXPECT_EQ(escape.message.find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace ferry::api::client
