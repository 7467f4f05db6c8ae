#pragma once
// Framing between the server and its Python workers (pyfunc_worker.py):
//
//   u32 header length (LE) | u64 body length (LE) | header (JSON) | body
//
// over a non-blocking socket, every call bounded by a deadline, so that a
// stuck worker can hold a request up only until its timeout.
//
// Thread-safety: plain functions; one thread uses a socket at a time.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"

namespace ferry::serving::python {

enum class IoResult {
  kOk,
  kEof,       // the peer closed its end (it exited, usually)
  kError,     // a socket error (the peer reset it)
  kTimeout,   // the deadline passed
  kBadFrame,  // a length over its limit or a header that is not a JSON object
};
std::string_view IoResultText(IoResult result);

struct Frame {
  Json header;
  std::string body;
  std::string error;  // what was wrong, for kBadFrame
};

// Sends one frame whose body is the concatenation of `body`.
IoResult SendFrame(int fd, std::string_view header, const std::vector<std::string_view>& body,
                   std::chrono::steady_clock::time_point deadline);

// Reads one frame; kBadFrame when a length exceeds its limit or the header
// is not a JSON object.
IoResult ReadFrame(int fd, std::size_t max_header, uint64_t max_body,
                   std::chrono::steady_clock::time_point deadline, Frame* frame);

}  // namespace ferry::serving::python
