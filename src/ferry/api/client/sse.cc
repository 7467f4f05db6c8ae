#include "ferry/api/client/sse.h"

#include <utility>

namespace ferry::api::client {

SseParser::SseParser(EventCallback on_event, std::size_t max_event_bytes)
    : on_event_(std::move(on_event)), max_event_bytes_(max_event_bytes) {}

Status SseParser::Feed(std::string_view chunk) {
  for (char c : chunk) {
    if (stopped_) return Status::OK();
    // "\r\n" is one line ending even when the two bytes arrive in different chunks.
    if (c == '\n' && last_was_cr_) {
      last_was_cr_ = false;
      continue;
    }
    last_was_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      ProcessLine(line_);
      line_.clear();
      continue;
    }
    line_.push_back(c);
    if (line_.size() + data_.size() > max_event_bytes_) {
      return ResourceExhausted("server-sent event larger than " + std::to_string(max_event_bytes_) +
                               " bytes");
    }
  }
  return Status::OK();
}

void SseParser::ProcessLine(std::string_view line) {
  if (line.empty()) {
    Dispatch();
    return;
  }
  if (line.front() == ':') return;  // comment, e.g. the server's keep-alive
  std::string_view field = line;
  std::string_view value;
  if (auto colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "event") {
    event_type_ = value;
  } else if (field == "data") {
    if (has_data_) data_.push_back('\n');
    data_.append(value);
    has_data_ = true;
  } else if (field == "id") {
    // The standard ignores ids containing NUL: they cannot be sent back in Last-Event-ID.
    if (value.find('\0') == std::string_view::npos) last_id_ = value;
  }
  // Other fields ("retry", unknown names) do not affect a watch.
}

void SseParser::Dispatch() {
  if (has_data_) {
    SseEvent event;
    if (!event_type_.empty()) event.type = std::move(event_type_);
    event.id = last_id_;
    event.data = std::move(data_);
    if (!on_event_(event)) stopped_ = true;
  }
  event_type_.clear();
  data_.clear();
  has_data_ = false;
}

}  // namespace ferry::api::client
