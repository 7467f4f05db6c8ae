#include "ferry/api/client/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ferry/api/client/testing/fake_http_server.h"

namespace ferry::api::client {
namespace {

using testing::FakeHttpServer;
using testing::FakeRequest;
using testing::FakeResponse;

// A loopback port nothing listens on: bound, then closed.
int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(HttpClientTest, SendsMethodPathHeadersAndBody) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r = FakeResponse::Json(201, R"({"ok":true})");
    r.headers.emplace_back("X-Request-Id", "abc");
    return r;
  });
  HttpClient client(server.url());
  auto response = client.Request("POST", "/api/v1/namespaces/default/configmaps?x=1", R"({"a":1})",
                                 {{"Content-Type", "application/json"}});
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 201);
  EXPECT_EQ(response->body, R"({"ok":true})");
  EXPECT_EQ(response->Header("x-request-id"), "abc");
  EXPECT_EQ(response->Header("X-REQUEST-ID"), "abc");
  EXPECT_EQ(response->Header("absent"), "");

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[0].target, "/api/v1/namespaces/default/configmaps?x=1");
  EXPECT_EQ(requests[0].headers["content-type"], "application/json");
  EXPECT_EQ(requests[0].body, R"({"a":1})");
  EXPECT_EQ(requests[0].headers.count("expect"), 0u);
}

TEST(HttpClientTest, ErrorStatusesAreResponsesNotFailures) {
  FakeHttpServer server([](const FakeRequest& req) {
    if (req.method == "DELETE")
      return FakeResponse::Json(404, R"({"error":{"code":"NotFound","message":"gone"}})");
    return FakeResponse::Json(500, "boom");
  });
  HttpClient client(server.url());
  auto deleted = client.Request("DELETE", "/x");
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, 404);
  auto failed = client.Request("GET", "/y");
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(failed->body, "boom");
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].method, "DELETE");
  EXPECT_EQ(requests[0].body, "");
}

TEST(HttpClientTest, ReusesTheConnectionAcrossRequests) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse::Json(200, "{}"); });
  HttpClient client(server.url());
  for (const char* method : {"GET", "PUT", "PATCH", "DELETE", "GET"}) {
    auto response = client.Request(method, "/r", std::string(method) == "PUT" ? "{}" : "");
    ASSERT_TRUE(response.ok()) << method << ": " << response.status().ToString();
  }
  EXPECT_EQ(server.connections(), 1);
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(requests[1].method, "PUT");
  EXPECT_EQ(requests[1].body, "{}");
  EXPECT_EQ(requests[2].method, "PATCH");
  EXPECT_EQ(requests[4].method, "GET");
}

TEST(HttpClientTest, RefusedConnectionNamesTheServerAndTheCause) {
  const std::string url = "http://127.0.0.1:" + std::to_string(UnusedPort());
  HttpClient client(url);
  auto response = client.Request("GET", "/api/v1");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(), "cannot reach ferry server at " + url +
                                             ": Connection refused — is `ferry server` running? "
                                             "(set --server or FERRY_SERVER)");
}

TEST(HttpClientTest, SlowServerTimesOut) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.hang = true;
    return r;
  });
  HttpClientOptions options;
  options.request_timeout = std::chrono::milliseconds(200);
  HttpClient client(server.url(), options);
  auto response = client.Request("GET", "/slow");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(response.status().message().find("/slow"), std::string::npos);
}

TEST(HttpClientTest, DroppedConnectionIsUnavailable) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.drop = true;
    return r;
  });
  HttpClient client(server.url());
  auto response = client.Request("GET", "/drop");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(response.status().message().find("lost connection"), std::string::npos);
}

TEST(HttpClientTest, ResponseSizeIsBounded) {
  FakeHttpServer server([](const FakeRequest&) { return FakeResponse::Json(200, std::string(5000, 'x')); });
  HttpClientOptions options;
  options.max_response_bytes = 1000;
  HttpClient client(server.url(), options);
  auto response = client.Request("GET", "/big");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kResourceExhausted);
}

TEST(HttpClientTest, StreamDeliversEventsUntilTheServerCloses) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "text/event-stream"}};
    r.chunks = {": keep-alive\n\n", "event: ADDED\nid: 1\ndata: {\"n\":1}\n\nevent: MOD",
                "IFIED\nid: 2\ndata: {\"n\":2}\n\n"};
    return r;
  });
  HttpClient client(server.url());
  std::vector<SseEvent> events;
  auto response = client.Stream("/watch?watch=true", {}, [&](const SseEvent& e) {
    events.push_back(e);
    return true;
  });
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(response->status, 200);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(events[1].type, "MODIFIED");
  EXPECT_EQ(events[1].id, "2");
  EXPECT_EQ(server.requests().at(0).headers["accept"], "text/event-stream");
}

TEST(HttpClientTest, StreamStopsWhenTheCallbackSaysSo) {
  FakeHttpServer server([](const FakeRequest&) {
    FakeResponse r;
    r.headers = {{"Content-Type", "text/event-stream"}};
    r.chunks = {"data: 1\n\ndata: 2\n\n"};
    r.keep_open = true;  // only the client can end this stream
    return r;
  });
  HttpClient client(server.url());
  int seen = 0;
  auto response = client.Stream("/watch", {}, [&](const SseEvent&) {
    ++seen;
    return false;
  });
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_EQ(seen, 1);
}

TEST(HttpClientTest, StreamReturnsErrorResponsesWhole) {
  FakeHttpServer server([](const FakeRequest&) {
    return FakeResponse::Json(410, R"({"error":{"code":"Expired","message":"too old"}})");
  });
  HttpClient client(server.url());
  int seen = 0;
  auto response = client.Stream("/watch", {}, [&](const SseEvent&) { return ++seen > 0; });
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->status, 410);
  EXPECT_NE(response->body.find("Expired"), std::string::npos);
  EXPECT_EQ(seen, 0);
}

TEST(HttpClientTest, NormalizesBaseUrls) {
  EXPECT_EQ(*HttpClient::NormalizeBaseUrl("http://127.0.0.1:8080/"), "http://127.0.0.1:8080");
  EXPECT_EQ(*HttpClient::NormalizeBaseUrl("localhost:9000"), "http://localhost:9000");
  EXPECT_EQ(*HttpClient::NormalizeBaseUrl("HTTPS://ferry.example.com/prefix//"),
            "https://ferry.example.com/prefix");
  for (const char* bad : {"", "ftp://host", "http://", "http:///path", "http://host/?q=1", "http://a b"}) {
    auto r = HttpClient::NormalizeBaseUrl(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  HttpClient client("ftp://nowhere");
  auto response = client.Request("GET", "/");
  ASSERT_FALSE(response.ok());
  EXPECT_EQ(response.status().code(), StatusCode::kInvalidArgument);
}

TEST(PercentEncodeTest, KeepsUnreservedOnly) {
  EXPECT_EQ(PercentEncode("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
  EXPECT_EQ(PercentEncode("a-b_c.d~e"), "a-b_c.d~e");
  EXPECT_EQ(PercentEncode("x y/z"), "x%20y%2Fz");
  EXPECT_EQ(PercentEncode("\xC3\xA9"), "%C3%A9");
}

}  // namespace
}  // namespace ferry::api::client
