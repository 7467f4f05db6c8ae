#pragma once
// TestConnection: a blocking HTTP/1.1 client on one TCP connection, built on
// Beast, for tests that need control over the wire: keep-alive reuse,
// pipelining, partial requests, reading server-sent events as they arrive.
// Reads give up after a generous timeout so that a broken server fails a
// test instead of hanging it.
//
// Thread-safety: one connection per thread.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/json.h"

namespace ferry::api::testing {

using Response = boost::beast::http::response<boost::beast::http::string_body>;

class TestConnection {
 public:
  // Connects to "http://127.0.0.1:PORT"; throws std::runtime_error on failure.
  explicit TestConnection(const std::string& url);

  // Sends raw bytes.
  void Write(std::string_view bytes);
  // Sends one request (Content-Length set from the body).
  void Send(std::string_view method, std::string_view target, std::string_view body = {},
            const std::map<std::string, std::string>& headers = {});
  // Reads one complete response; nullopt if the server closed the connection
  // (or the read timed out) first.
  std::optional<Response> Read();
  // Send + Read.
  std::optional<Response> Request(std::string_view method, std::string_view target,
                                  std::string_view body = {},
                                  const std::map<std::string, std::string>& headers = {});

  // Reads a response header and then body bytes as they arrive, until
  // `done(body so far)` is true; false if the stream ended or timed out
  // first. For event streams.
  bool ReadHeader();
  bool ReadBodyUntil(const std::function<bool(const std::string&)>& done);
  // True once the streamed response ended with its terminating chunk.
  bool StreamComplete() const { return stream_parser_ && stream_parser_->is_done(); }
  const std::string& StreamBody() const { return stream_parser_->get().body(); }
  const Response& StreamHeader() const { return stream_parser_->get(); }

  // True when the server closes the connection (EOF or reset) before the
  // read timeout, reading and discarding anything sent before.
  bool WaitForClose();

 private:
  // Runs one asynchronous read started by `start(handler)` to completion or
  // timeout.
  template <typename Start>
  boost::beast::error_code RunWithTimeout(Start start);

  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket socket_{ioc_};
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> stream_parser_;
};

// True when Prometheus text `text` has a sample of `name` carrying all of
// `labels` (in any order) whose value is `value`.
bool HasMetricSample(const std::string& text, const std::string& name,
                     const std::map<std::string, std::string>& labels, const std::string& value);

// Parses the events of a text/event-stream body: {event, id, data} each.
std::vector<std::map<std::string, std::string>> ParseSse(const std::string& body);

// "?k=v&k2=v2" from (key, value) pairs, percent-encoded; a key may repeat;
// "" when there are none.
std::string Query(const std::vector<std::pair<std::string, std::string>>& params);

// The response body parsed as JSON; records a test failure (and returns
// null) when it is not JSON.
Json BodyOf(const Response& response);

}  // namespace ferry::api::testing
