#pragma once
// Structured logging on spdlog. In JSON mode every line is one JSON object
// {"ts", "level", "msg", ...fields}; in text mode fields follow as key=value.
// Secrets never go into fields: callers pass only what is safe to keep.
//
// Thread-safety: thread-safe after InitLogging.

#include <string_view>

#include <spdlog/spdlog.h>

#include "ferry/common/json.h"

namespace ferry {

enum class LogFormat { kText, kJson };

struct LogOptions {
  spdlog::level::level_enum level = spdlog::level::info;
  LogFormat format = LogFormat::kText;
};

// Configures the default logger to write to stderr. Call once at start-up.
void InitLogging(const LogOptions& options);

// Parses "trace|debug|info|warn|error|off".
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// One structured event, e.g. LogEvent(info, "request", {{"status", 200}}).
void LogEvent(spdlog::level::level_enum level, std::string_view msg, const Json& fields = Json::object());

}  // namespace ferry
