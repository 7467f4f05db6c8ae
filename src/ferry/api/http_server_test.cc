#include "ferry/api/http_server.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <future>
#include <sstream>
#include <thread>

#include "ferry/api/errors.h"
#include "ferry/api/testing/test_client.h"

namespace ferry::api {
namespace {

using testing::TestConnection;

// An event stream the test feeds by hand.
class PushStream : public EventStream {
 public:
  void Attach(std::function<void()> wake) override {
    std::lock_guard lock(mu_);
    wake_ = std::move(wake);
    attached_.notify_all();
  }
  bool Drain(std::string* out) override {
    std::lock_guard lock(mu_);
    *out += std::move(pending_);
    pending_.clear();
    return !ended_;
  }
  void Push(std::string text, bool end = false) {
    std::function<void()> wake;
    {
      std::unique_lock lock(mu_);
      attached_.wait(lock, [&] { return wake_ != nullptr; });
      pending_ += text;
      ended_ = end;
      wake = wake_;
    }
    wake();
  }

 private:
  std::mutex mu_;
  std::condition_variable attached_;
  std::function<void()> wake_;
  std::string pending_;
  bool ended_ = false;
};

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.listen = "127.0.0.1:0";
    options_.threads = 2;
    options_.handler_threads = 2;
    release_future_ = release_.get_future().share();
    Add("GET", "/echo/{id}", [](const HttpRequest& r) {
      return TextResponse(200, "text/plain", r.Param("id") + ":" + std::to_string(r.body.size()));
    });
    Add("POST", "/echo/{id}", [](const HttpRequest& r) {
      return TextResponse(200, "text/plain", r.Param("id") + ":" + std::to_string(r.body.size()));
    });
    Add("GET", "/block", [this](const HttpRequest&) {
      entered_.set_value();
      release_future_.wait();
      return TextResponse(200, "text/plain", "released");
    });
    Add("GET", "/throw", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); });
    Add("GET", "/stream", [this](const HttpRequest&) {
      HttpResponse response;
      response.stream = stream_;
      return response;
    });
    ASSERT_TRUE(router_
                    .Add("GET", "/live",
                         [](const HttpRequest&) { return TextResponse(200, "text/plain", "ok"); },
                         {.blocking = false})
                    .ok());
  }

  void TearDown() override {
    // Unblock a handler a failed test left waiting, so Shutdown can join.
    try {
      release_.set_value();
    } catch (const std::future_error&) {
    }
  }

  void Add(const char* method, const char* pattern, Handler handler) {
    ASSERT_TRUE(router_.Add(method, pattern, std::move(handler)).ok());
  }

  void StartServer() {
    auto server = HttpServer::Start(options_, &router_, &metrics_, Env::Default());
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  std::string Metrics() const { return metrics_.Render(); }

  ApiOptions options_;
  Router router_;
  MetricsRegistry metrics_;
  std::promise<void> entered_;
  std::promise<void> release_;
  std::shared_future<void> release_future_;
  std::shared_ptr<PushStream> stream_ = std::make_shared<PushStream>();
  std::unique_ptr<HttpServer> server_;
};

Json ErrorOf(const testing::Response& response) {
  auto body = ParseJson(response.body());
  EXPECT_TRUE(body.ok()) << response.body();
  return body.ok() ? (*body)["error"] : Json();
}

TEST_F(HttpServerTest, KeepAliveReusesOneConnection) {
  StartServer();
  TestConnection conn(server_->url());
  for (int i = 0; i < 3; ++i) {
    auto response = conn.Request("GET", "/echo/x" + std::to_string(i));
    ASSERT_TRUE(response) << i;
    EXPECT_EQ(response->result_int(), 200);
    EXPECT_EQ(response->body(), "x" + std::to_string(i) + ":0");
    EXPECT_TRUE(response->keep_alive());
  }
  EXPECT_TRUE(testing::HasMetricSample(Metrics(), "ferry_http_connections_open", {}, "1")) << Metrics();
  EXPECT_TRUE(testing::HasMetricSample(Metrics(), "ferry_http_requests_total",
                                       {{"method", "GET"}, {"route", "/echo/{id}"}, {"code", "200"}}, "3"))
      << Metrics();
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  StartServer();
  TestConnection conn(server_->url());
  std::string requests;
  for (const char* id : {"a", "b", "c"})
    requests +=
        std::string("GET /echo/") + id + " HTTP/1.1\r\nHost: t\r\nX-Request-Id: req-" + id + "\r\n\r\n";
  conn.Write(requests);
  for (const char* id : {"a", "b", "c"}) {
    auto response = conn.Read();
    ASSERT_TRUE(response) << id;
    EXPECT_EQ(response->body(), std::string(id) + ":0");
    EXPECT_EQ((*response)["X-Request-Id"], std::string("req-") + id);
  }
}

TEST_F(HttpServerTest, RequestIdIsEchoedWhenSaneElseGenerated) {
  StartServer();
  TestConnection conn(server_->url());
  auto sane = conn.Request("GET", "/echo/a", "", {{"X-Request-Id", "abc-123_x.y"}});
  ASSERT_TRUE(sane);
  EXPECT_EQ((*sane)["X-Request-Id"], "abc-123_x.y");
  auto insane = conn.Request("GET", "/echo/a", "", {{"X-Request-Id", "has space"}});
  ASSERT_TRUE(insane);
  EXPECT_EQ((*insane)["X-Request-Id"].size(), 36u);
  auto none = conn.Request("GET", "/nowhere");
  ASSERT_TRUE(none);
  EXPECT_EQ((*none)["X-Request-Id"].size(), 36u);
  EXPECT_NE((*none)["X-Request-Id"], (*insane)["X-Request-Id"]);
}

TEST_F(HttpServerTest, ContentLengthOverLimitIs413BeforeTheBody) {
  options_.max_body_bytes = 1024;
  StartServer();
  TestConnection conn(server_->url());
  // Only the header is sent: the answer must not wait for the body.
  conn.Write("POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
  auto response = conn.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 413);
  EXPECT_EQ(ErrorOf(*response)["code"], "PayloadTooLarge");
  EXPECT_FALSE(response->keep_alive());
  EXPECT_FALSE((*response)["X-Request-Id"].empty());
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, BodyAtTheLimitIsAccepted) {
  options_.max_body_bytes = 1024;
  StartServer();
  TestConnection conn(server_->url());
  auto response = conn.Request("POST", "/echo/a", std::string(1024, 'x'));
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 200);
  EXPECT_EQ(response->body(), "a:1024");
}

TEST_F(HttpServerTest, ChunkedBodyIsCutOffAtTheLimit) {
  options_.max_body_bytes = 1024;
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("POST /echo/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string chunk = "200\r\n" + std::string(0x200, 'x') + "\r\n";
  for (int i = 0; i < 3; ++i) conn.Write(chunk);  // 1536 bytes > 1024
  auto response = conn.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 413);
  EXPECT_EQ(ErrorOf(*response)["code"], "PayloadTooLarge");
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, RouteMayRaiseItsOwnBodyLimit) {
  options_.max_body_bytes = 1024;
  ASSERT_TRUE(router_
                  .Add("PUT", "/upload/{id}",
                       [](const HttpRequest& r) {
                         return TextResponse(200, "text/plain", std::to_string(r.body.size()));
                       },
                       {.max_body_bytes = 4096})
                  .ok());
  StartServer();
  TestConnection conn(server_->url());
  auto big = conn.Request("PUT", "/upload/a", std::string(4096, 'x'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->result_int(), 200);
  EXPECT_EQ(big->body(), "4096");
  // Other routes keep the server's limit, and the upload route has its own.
  auto other = conn.Request("POST", "/echo/a", std::string(2048, 'x'));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->result_int(), 413);
  TestConnection conn2(server_->url());
  auto too_big = conn2.Request("PUT", "/upload/a", std::string(4097, 'x'));
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->result_int(), 413);
  EXPECT_NE(ErrorOf(*too_big)["message"].get<std::string>().find("4096"), std::string::npos);
}

TEST_F(HttpServerTest, ChunkedBodyWithinTheLimitIsDelivered) {
  options_.max_body_bytes = 1024;
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("POST /echo/a HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  auto response = conn.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "a:5");
}

TEST_F(HttpServerTest, ExpectContinueGets100ThenTheAnswer) {
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
  auto interim = conn.Read();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->result_int(), 100);
  conn.Write("abc");
  auto response = conn.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "a:3");
}

TEST_F(HttpServerTest, MalformedRequestIs400AndClose) {
  StartServer();
  for (const char* garbage :
       {"NOT-HTTP\r\n\r\n", "GET /echo/a HTTP/9.9\r\n\r\n", "GET /echo/a HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST /echo/a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"}) {
    TestConnection conn(server_->url());
    conn.Write(garbage);
    auto response = conn.Read();
    ASSERT_TRUE(response) << garbage;
    EXPECT_EQ(response->result_int(), 400) << garbage;
    EXPECT_EQ(ErrorOf(*response)["code"], "InvalidArgument") << garbage;
    EXPECT_FALSE((*response)["X-Request-Id"].empty());
    EXPECT_TRUE(conn.WaitForClose()) << garbage;
  }
}

TEST_F(HttpServerTest, OversizedHeaderIs400) {
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("GET /echo/a HTTP/1.1\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  auto response = conn.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 400);
  EXPECT_NE(ErrorOf(*response)["message"].get<std::string>().find("header"), std::string::npos);
}

TEST_F(HttpServerTest, HeaderTimeoutClosesTheConnection) {
  options_.header_timeout = std::chrono::seconds(1);
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("GET /echo/a HTTP/1.1\r\nHost:");  // never finished
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, SilentConnectionIsClosedAfterTheHeaderTimeout) {
  options_.header_timeout = std::chrono::seconds(1);
  StartServer();
  TestConnection conn(server_->url());
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, BodyTimeoutClosesTheConnection) {
  options_.body_timeout = std::chrono::seconds(1);
  StartServer();
  TestConnection conn(server_->url());
  conn.Write("POST /echo/a HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  options_.idle_timeout = std::chrono::seconds(1);
  StartServer();
  TestConnection conn(server_->url());
  ASSERT_TRUE(conn.Request("GET", "/echo/a"));
  EXPECT_TRUE(conn.WaitForClose());
}

TEST_F(HttpServerTest, UnknownRouteAndWrongMethodUseTheErrorShape) {
  StartServer();
  TestConnection conn(server_->url());
  auto missing = conn.Request("GET", "/nowhere?x=1");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->result_int(), 404);
  EXPECT_EQ(ErrorOf(*missing)["code"], "NotFound");
  EXPECT_EQ((*missing)[boost::beast::http::field::content_type], "application/json");

  auto wrong = conn.Request("DELETE", "/echo/a");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->result_int(), 405);
  EXPECT_EQ(ErrorOf(*wrong)["code"], "MethodNotAllowed");
  EXPECT_EQ((*wrong)["Allow"], "GET, POST");

  auto bad_path = conn.Request("GET", "/echo/%zz");
  ASSERT_TRUE(bad_path);
  EXPECT_EQ(bad_path->result_int(), 400);

  auto bad_query = conn.Request("GET", "/echo/a?limit=%zz");
  ASSERT_TRUE(bad_query);
  EXPECT_EQ(bad_query->result_int(), 400);
  EXPECT_EQ(ErrorOf(*bad_query)["field"], "limit");

  EXPECT_TRUE(testing::HasMetricSample(Metrics(), "ferry_http_requests_total",
                                       {{"method", "GET"}, {"route", "unmatched"}, {"code", "404"}}, "1"))
      << Metrics();
  EXPECT_EQ(Metrics().find("/nowhere"), std::string::npos) << "raw paths must not become labels";
}

TEST_F(HttpServerTest, AccessLogRecordsTheExchangeButNotTheQuery) {
  std::ostringstream log;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(
      std::make_shared<spdlog::logger>("capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(log)));
  StartServer();
  {
    TestConnection conn(server_->url());
    ASSERT_TRUE(conn.Request("GET", "/echo/abc?token=s3cr3t", "", {{"X-Request-Id", "log-probe-1"}}));
  }
  server_->Shutdown(std::chrono::seconds(5));  // the line is written once the exchange ends
  spdlog::set_default_logger(previous);
  std::string text = log.str();
  EXPECT_NE(text.find("request_id=log-probe-1"), std::string::npos) << text;
  EXPECT_NE(text.find("path=/echo/abc"), std::string::npos) << text;
  EXPECT_NE(text.find("route=/echo/{id}"), std::string::npos) << text;
  EXPECT_NE(text.find("status=200"), std::string::npos) << text;
  EXPECT_NE(text.find("method=GET"), std::string::npos) << text;
  EXPECT_NE(text.find("duration_ms="), std::string::npos) << text;
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
}

TEST_F(HttpServerTest, HandlerExceptionIs500) {
  StartServer();
  TestConnection conn(server_->url());
  auto response = conn.Request("GET", "/throw");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->result_int(), 500);
  EXPECT_EQ(ErrorOf(*response)["code"], "Internal");
  EXPECT_EQ(response->body().find("boom"), std::string::npos);
  // The server lives on.
  ASSERT_TRUE(conn.Request("GET", "/echo/a"));
}

TEST_F(HttpServerTest, OverloadIs503WithRetryAfterAndLivenessStillAnswers) {
  options_.max_in_flight = 1;
  StartServer();
  TestConnection busy(server_->url());
  busy.Send("GET", "/block");
  entered_.get_future().wait();

  TestConnection other(server_->url());
  auto rejected = other.Request("GET", "/echo/a");
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->result_int(), 503);
  EXPECT_EQ((*rejected)["Retry-After"], "1");
  EXPECT_EQ(ErrorOf(*rejected)["code"], "Unavailable");
  auto live = other.Request("GET", "/live");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->result_int(), 200);
  EXPECT_TRUE(testing::HasMetricSample(Metrics(), "ferry_http_requests_in_flight", {}, "1")) << Metrics();

  release_.set_value();
  auto released = busy.Read();
  ASSERT_TRUE(released);
  EXPECT_EQ(released->body(), "released");
  // Capacity is back.
  auto again = other.Request("GET", "/echo/a");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->result_int(), 200);
}

TEST_F(HttpServerTest, ConnectionsBeyondTheLimitGet503) {
  options_.max_connections = 1;
  StartServer();
  TestConnection first(server_->url());
  ASSERT_TRUE(first.Request("GET", "/echo/a"));  // accepted and counted
  TestConnection second(server_->url());
  second.Send("GET", "/echo/b");
  auto rejected = second.Read();
  ASSERT_TRUE(rejected);
  EXPECT_EQ(rejected->result_int(), 503);
  EXPECT_EQ((*rejected)["Retry-After"], "1");
  EXPECT_TRUE(second.WaitForClose());
  auto still = first.Request("GET", "/echo/a");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->result_int(), 200);
}

TEST_F(HttpServerTest, ShutdownFinishesInFlightRequestsAndClosesIdleConnections) {
  StartServer();
  TestConnection idle(server_->url());
  ASSERT_TRUE(idle.Request("GET", "/echo/a"));
  TestConnection busy(server_->url());
  busy.Send("GET", "/block");
  entered_.get_future().wait();

  std::thread shutdown([&] { server_->Shutdown(std::chrono::seconds(20)); });
  EXPECT_TRUE(idle.WaitForClose());
  release_.set_value();
  auto response = busy.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->body(), "released");
  EXPECT_FALSE(response->keep_alive());
  shutdown.join();
  EXPECT_THROW(TestConnection(server_->url()), std::exception);  // no longer listening
  server_->Shutdown(std::chrono::seconds(1));                    // idempotent
}

TEST_F(HttpServerTest, StreamsEventsInOrderWithKeepAlivesAndEndsOnShutdown) {
  options_.sse_keepalive = std::chrono::milliseconds(50);
  StartServer();
  TestConnection conn(server_->url());
  conn.Send("GET", "/stream");
  ASSERT_TRUE(conn.ReadHeader());
  EXPECT_EQ(conn.StreamHeader().result_int(), 200);
  EXPECT_EQ(conn.StreamHeader()[boost::beast::http::field::content_type], "text/event-stream");
  EXPECT_FALSE(conn.StreamHeader()["X-Request-Id"].empty());

  for (int i = 1; i <= 5; ++i) stream_->Push("event: E\nid: " + std::to_string(i) + "\ndata: {}\n\n");
  ASSERT_TRUE(
      conn.ReadBodyUntil([](const std::string& body) { return testing::ParseSse(body).size() >= 5; }));
  auto events = testing::ParseSse(conn.StreamBody());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(events[i]["id"], std::to_string(i + 1));

  ASSERT_TRUE(conn.ReadBodyUntil(
      [](const std::string& body) { return body.find(": keep-alive\n\n") != std::string::npos; }));

  server_->Shutdown(std::chrono::seconds(20));
  conn.ReadBodyUntil([](const std::string&) { return false; });
  EXPECT_TRUE(conn.StreamComplete()) << "the stream must end with its last chunk";
}

TEST_F(HttpServerTest, StreamEndsWhenTheSourceEnds) {
  StartServer();
  TestConnection conn(server_->url());
  conn.Send("GET", "/stream");
  ASSERT_TRUE(conn.ReadHeader());
  stream_->Push("data: last\n\n", /*end=*/true);
  conn.ReadBodyUntil([](const std::string&) { return false; });
  EXPECT_TRUE(conn.StreamComplete());
  EXPECT_EQ(conn.StreamBody(), "data: last\n\n");
}

TEST_F(HttpServerTest, BindFailureNamesTheAddress) {
  StartServer();
  std::string url = server_->url();
  ApiOptions taken = options_;
  taken.listen = url.substr(std::string("http://").size());
  MetricsRegistry other_metrics;
  auto second = HttpServer::Start(taken, &router_, &other_metrics, Env::Default());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find(taken.listen), std::string::npos) << second.status().message();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status().message();
}

TEST_F(HttpServerTest, MetricsTwiceInOneRegistryIsAnError) {
  StartServer();
  ApiOptions again = options_;
  auto second = HttpServer::Start(again, &router_, &metrics_, Env::Default());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kInternal);
}

TEST(ParseListenAddressTest, AcceptsHostPort) {
  auto v4 = ParseListenAddress("127.0.0.1:8080");
  ASSERT_TRUE(v4.ok());
  EXPECT_EQ(v4->first, "127.0.0.1");
  EXPECT_EQ(v4->second, 8080);
  auto v6 = ParseListenAddress("[::1]:0");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->first, "::1");
  EXPECT_EQ(v6->second, 0);
  EXPECT_TRUE(ParseListenAddress("localhost:1").ok());
}

TEST(ParseListenAddressTest, RejectsMalformed) {
  for (const char* bad : {"", "8080", "127.0.0.1", "127.0.0.1:", ":8080", "host:http", "host:65536",
                          "host:-1", "::1:80", "host:123456"}) {
    auto parsed = ParseListenAddress(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().field(), "listen") << bad;
  }
}

}  // namespace
}  // namespace ferry::api
