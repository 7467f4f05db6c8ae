#pragma once
// FakeHttpServer: a tiny HTTP/1.1 server on 127.0.0.1 for testing clients
// of the native API without a real Ferry server. Each request goes to a
// handler that returns the canned answer; keep-alive is honoured so client
// connection reuse is exercised, and each connection has its own thread so
// several clients can hold connections at once. Header-only so that tests of other modules
// (cli/) can use it too.
//
// Thread-safety: the handler runs on one thread per connection and must be
// thread-safe when clients overlap; requests() may be read from any thread.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ferry::api::client::testing {

struct FakeRequest {
  std::string method;
  std::string target;                          // path and query, as sent
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;

  // The path without its query string.
  std::string Path() const { return target.substr(0, target.find('?')); }
  // The raw (still percent-encoded) value of query parameter `key`, or "".
  std::string Query(const std::string& key) const {
    auto q = target.find('?');
    if (q == std::string::npos) return {};
    std::string rest = target.substr(q + 1);
    std::size_t pos = 0;
    while (pos <= rest.size()) {
      std::size_t amp = rest.find('&', pos);
      std::string pair = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
      auto eq = pair.find('=');
      if (pair.substr(0, eq) == key) return eq == std::string::npos ? "" : pair.substr(eq + 1);
      if (amp == std::string::npos) break;
      pos = amp + 1;
    }
    return {};
  }
};

struct FakeResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When non-empty the body is streamed: these chunks are written one by
  // one without Content-Length, then the connection is closed.
  std::vector<std::string> chunks;
  // Never answer; the connection stays open until the server stops.
  bool hang = false;
  // Close the connection without answering.
  bool drop = false;
  // After the chunks, keep the connection open until the client closes it.
  bool keep_open = false;

  static FakeResponse Json(int status, std::string body) {
    FakeResponse r;
    r.status = status;
    r.headers = {{"Content-Type", "application/json"}};
    r.body = std::move(body);
    return r;
  }
};

class FakeHttpServer {
 public:
  using Handler = std::function<FakeResponse(const FakeRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe(wake_) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeHttpServer() {
    stopping_ = true;
    char c = 'x';
    ssize_t written = ::write(wake_[1], &c, 1);
    (void)written;
    thread_.join();
    for (auto& t : connection_threads_) t.join();
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }

  std::vector<FakeRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

  // Connections accepted so far (1 when the client reused its connection).
  int connections() const { return connections_; }

 private:
  // Waits until `fd` is readable; false when the server is stopping.
  bool WaitReadable(int fd) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    while (true) {
      int n = ::poll(fds, 2, -1);
      if (n < 0) continue;
      if (fds[1].revents != 0) return false;
      if (fds[0].revents != 0) return true;
    }
  }

  void Serve() {
    while (!stopping_) {
      if (!WaitReadable(listen_fd_)) return;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      ++connections_;
      connection_threads_.emplace_back([this, fd] {
        HandleConnection(fd);
        ::close(fd);
      });
    }
  }

  // Serves requests on one connection until the client closes it.
  void HandleConnection(int fd) {
    std::string buffer;
    while (true) {
      std::size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!Read(fd, buffer)) return;
      }
      FakeRequest request;
      std::string head = buffer.substr(0, header_end);
      std::size_t line_end = head.find("\r\n");
      std::string request_line = head.substr(0, line_end);
      std::size_t sp1 = request_line.find(' ');
      std::size_t sp2 = request_line.rfind(' ');
      request.method = request_line.substr(0, sp1);
      request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        std::size_t end = head.find("\r\n", pos);
        if (end == std::string::npos) end = head.size();
        std::string line = head.substr(pos, end - pos);
        auto colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          std::transform(name.begin(), name.end(), name.begin(),
                         [](unsigned char c) { return std::tolower(c); });
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          request.headers[name] = value;
        }
        pos = end + 2;
      }
      std::size_t length =
          request.headers.count("content-length") ? std::stoul(request.headers["content-length"]) : 0;
      buffer.erase(0, header_end + 4);
      while (buffer.size() < length) {
        if (!Read(fd, buffer)) return;
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(request);
      }
      FakeResponse response = handler_(request);
      if (response.drop) return;
      if (response.hang) {
        WaitReadable(wake_[0]);
        return;
      }
      std::string out = "HTTP/1.1 " + std::to_string(response.status) + " Fake\r\n";
      for (const auto& [name, value] : response.headers) out += name + ": " + value + "\r\n";
      if (response.chunks.empty()) {
        out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n\r\n" + response.body;
        if (!WriteAll(fd, out)) return;
        continue;
      }
      out += "Connection: close\r\n\r\n";
      if (!WriteAll(fd, out)) return;
      for (const auto& chunk : response.chunks) {
        if (!WriteAll(fd, chunk)) return;
      }
      if (response.keep_open) {
        while (Read(fd, buffer)) buffer.clear();
      }
      return;
    }
  }

  bool Read(int fd, std::string& buffer) {
    if (!WaitReadable(fd)) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  static bool WriteAll(int fd, const std::string& data) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread thread_;
  std::vector<std::thread> connection_threads_;  // touched by thread_ only, joined after it
  mutable std::mutex mu_;
  std::vector<FakeRequest> requests_;
};

}  // namespace ferry::api::client::testing
