#include "ferry/serving/runtimes/python/worker_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ferry::serving::python {
namespace {

using Clock = std::chrono::steady_clock;

// Waits until `fd` is ready for `events` or the deadline passes.
IoResult Wait(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return IoResult::kTimeout;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left + 1, 1 << 30)));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return IoResult::kError;
    if (n > 0) return IoResult::kOk;  // readable, writable, or hung up: the next call says which
  }
}

IoResult SendAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a dead worker is an error here, not a SIGPIPE.
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n > 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (IoResult r = Wait(fd, POLLOUT, deadline); r != IoResult::kOk) return r;
      continue;
    }
    return (errno == EPIPE || errno == ECONNRESET) ? IoResult::kEof : IoResult::kError;
  }
  return IoResult::kOk;
}

IoResult RecvAll(int fd, char* out, std::size_t size, Clock::time_point deadline) {
  while (size > 0) {
    const ssize_t n = ::recv(fd, out, size, 0);
    if (n > 0) {
      out += n;
      size -= static_cast<std::size_t>(n);
      continue;
    }
    if (n == 0) return IoResult::kEof;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (IoResult r = Wait(fd, POLLIN, deadline); r != IoResult::kOk) return r;
      continue;
    }
    return errno == ECONNRESET ? IoResult::kEof : IoResult::kError;
  }
  return IoResult::kOk;
}

uint64_t LoadLe(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void StoreLe(char* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

}  // namespace

std::string_view IoResultText(IoResult result) {
  switch (result) {
    case IoResult::kOk:
      return "ok";
    case IoResult::kEof:
      return "end of stream";
    case IoResult::kError:
      return "socket error";
    case IoResult::kTimeout:
      return "timed out";
    case IoResult::kBadFrame:
      return "bad frame";
  }
  return "unknown";
}

IoResult SendFrame(int fd, std::string_view header, const std::vector<std::string_view>& body,
                   Clock::time_point deadline) {
  uint64_t body_size = 0;
  for (std::string_view part : body) body_size += part.size();
  std::string head(12, '\0');
  StoreLe(head.data(), header.size(), 4);
  StoreLe(head.data() + 4, body_size, 8);
  head.append(header);
  if (IoResult r = SendAll(fd, head, deadline); r != IoResult::kOk) return r;
  for (std::string_view part : body)
    if (IoResult r = SendAll(fd, part, deadline); r != IoResult::kOk) return r;
  return IoResult::kOk;
}

IoResult ReadFrame(int fd, std::size_t max_header, uint64_t max_body, Clock::time_point deadline,
                   Frame* frame) {
  unsigned char prefix[12];
  if (IoResult r = RecvAll(fd, reinterpret_cast<char*>(prefix), sizeof prefix, deadline); r != IoResult::kOk)
    return r;
  const uint64_t header_size = LoadLe(prefix, 4);
  const uint64_t body_size = LoadLe(prefix + 4, 8);
  if (header_size > max_header || header_size == 0) {
    frame->error =
        "header length " + std::to_string(header_size) + " (limit " + std::to_string(max_header) + ")";
    return IoResult::kBadFrame;
  }
  if (body_size > max_body) {
    frame->error = "body length " + std::to_string(body_size) + " (limit " + std::to_string(max_body) + ")";
    return IoResult::kBadFrame;
  }
  std::string header(header_size, '\0');
  if (IoResult r = RecvAll(fd, header.data(), header.size(), deadline); r != IoResult::kOk) return r;
  frame->body.assign(body_size, '\0');
  if (IoResult r = RecvAll(fd, frame->body.data(), frame->body.size(), deadline); r != IoResult::kOk)
    return r;
  Result<Json> parsed = ParseJson(header);
  if (!parsed.ok() || !parsed->is_object()) {
    frame->error = parsed.ok() ? "the header is not a JSON object" : "header: " + parsed.status().message();
    return IoResult::kBadFrame;
  }
  frame->header = std::move(parsed).value();
  return IoResult::kOk;
}

}  // namespace ferry::serving::python
