#include "ferry/api/testing/test_client.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <cctype>
#include <stdexcept>

namespace ferry::api::testing {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;

namespace {
// Far beyond anything a passing test waits for; only a hung server hits it.
constexpr std::chrono::seconds kReadTimeout{20};
}  // namespace

template <typename Start>
beast::error_code TestConnection::RunWithTimeout(Start start) {
  beast::error_code result = net::error::timed_out;
  bool done = false;
  start([&](beast::error_code ec, std::size_t) {
    result = ec;
    done = true;
  });
  ioc_.restart();
  ioc_.run_for(kReadTimeout);
  if (!done) {
    socket_.cancel();
    ioc_.restart();
    ioc_.run();
    result = net::error::timed_out;
  }
  return result;
}

TestConnection::TestConnection(const std::string& url) {
  std::size_t colon = url.rfind(':');
  if (url.rfind("http://", 0) != 0 || colon == std::string::npos) throw std::runtime_error("bad url " + url);
  std::string host = url.substr(7, colon - 7);
  std::string port = url.substr(colon + 1);
  net::ip::tcp::resolver resolver(ioc_);
  net::connect(socket_, resolver.resolve(host, port));
}

void TestConnection::Write(std::string_view bytes) {
  net::write(socket_, net::buffer(bytes.data(), bytes.size()));
}

void TestConnection::Send(std::string_view method, std::string_view target, std::string_view body,
                          const std::map<std::string, std::string>& headers) {
  std::string text = std::string(method) + " " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n";
  for (const auto& [name, value] : headers) text += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
    text += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  text += "\r\n";
  text += body;
  Write(text);
}

std::optional<Response> TestConnection::Read() {
  http::response_parser<http::string_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code ec =
      RunWithTimeout([&](auto handler) { http::async_read(socket_, buffer_, parser, handler); });
  if (ec) return std::nullopt;
  return parser.release();
}

std::optional<Response> TestConnection::Request(std::string_view method, std::string_view target,
                                                std::string_view body,
                                                const std::map<std::string, std::string>& headers) {
  Send(method, target, body, headers);
  return Read();
}

bool TestConnection::ReadHeader() {
  stream_parser_.emplace();
  stream_parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code ec = RunWithTimeout(
      [&](auto handler) { http::async_read_header(socket_, buffer_, *stream_parser_, handler); });
  return !ec;
}

bool TestConnection::ReadBodyUntil(const std::function<bool(const std::string&)>& done) {
  while (!done(stream_parser_->get().body())) {
    if (stream_parser_->is_done()) return false;
    beast::error_code ec = RunWithTimeout(
        [&](auto handler) { http::async_read_some(socket_, buffer_, *stream_parser_, handler); });
    if (ec) return done(stream_parser_->get().body());
  }
  return true;
}

bool TestConnection::WaitForClose() {
  char scratch[4096];
  while (true) {
    beast::error_code ec =
        RunWithTimeout([&](auto handler) { socket_.async_read_some(net::buffer(scratch), handler); });
    if (!ec) continue;
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
}

bool HasMetricSample(const std::string& text, const std::string& name,
                     const std::map<std::string, std::string>& labels, const std::string& value) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    bool all = true;
    for (const auto& [key, label_value] : labels)
      all = all && line.find(key + "=\"" + label_value + "\"") != std::string::npos;
    if (all && line.size() > value.size() &&
        line.compare(line.size() - value.size() - 1, std::string::npos, " " + value) == 0)
      return true;
  }
  return false;
}

std::vector<std::map<std::string, std::string>> ParseSse(const std::string& body) {
  std::vector<std::map<std::string, std::string>> events;
  std::map<std::string, std::string> current;
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t end = body.find('\n', pos);
    if (end == std::string::npos) break;  // incomplete line
    std::string line = body.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) {
      if (!current.empty()) events.push_back(std::move(current));
      current.clear();
      continue;
    }
    if (line[0] == ':') continue;
    std::size_t colon = line.find(':');
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.erase(0, 1);
    current[line.substr(0, colon)] = value;
  }
  return events;
}

namespace {

std::string Encode(std::string_view text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

std::string Query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [key, value] : params)
    out += (out.empty() ? "?" : "&") + Encode(key) + "=" + Encode(value);
  return out;
}

Json BodyOf(const Response& response) {
  auto body = ParseJson(response.body());
  EXPECT_TRUE(body.ok()) << response.body();
  return body.ok() ? *body : Json();
}

}  // namespace ferry::api::testing
