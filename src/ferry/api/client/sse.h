#pragma once
// SseParser: incremental parser of a `text/event-stream` body (the WHATWG
// server-sent events format) as the native API's watch streams send it:
//
//   event: ADDED
//   id: 42
//   data: {"type":"ADDED","object":{...}}
//
// Bytes arrive in arbitrary chunks; a line ending may be split between two
// chunks. Comment lines (": keep-alive") are skipped. Because the stream
// comes from the network, one event's size is bounded.
//
// Thread-safety: none; one parser per stream.

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "ferry/common/status.h"

namespace ferry::api::client {

struct SseEvent {
  std::string type = "message";  // the `event:` field, "message" when absent
  std::string id;                // the last `id:` seen on the stream, if any
  std::string data;              // `data:` lines joined by '\n'
};

class SseParser {
 public:
  // Called once per complete event; returning false stops parsing.
  using EventCallback = std::function<bool(const SseEvent&)>;

  explicit SseParser(EventCallback on_event, std::size_t max_event_bytes = 16 << 20);

  // Consumes the next chunk. Returns kResourceExhausted when a line or an
  // event exceeds the size bound; returns OK with stopped() set when the
  // callback asked to stop.
  Status Feed(std::string_view chunk);

  // True once the callback returned false.
  bool stopped() const { return stopped_; }

 private:
  void ProcessLine(std::string_view line);
  void Dispatch();

  EventCallback on_event_;
  std::size_t max_event_bytes_;
  std::string line_;
  bool last_was_cr_ = false;
  bool stopped_ = false;
  std::string event_type_;
  std::string data_;
  bool has_data_ = false;
  std::string last_id_;
};

}  // namespace ferry::api::client
