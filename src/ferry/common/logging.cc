#include "ferry/common/logging.h"

#include <atomic>

#include <spdlog/sinks/stdout_sinks.h>

#include "ferry/common/env.h"
#include "ferry/common/time.h"

namespace ferry {
namespace {
std::atomic<LogFormat> g_format{LogFormat::kText};
}  // namespace

void InitLogging(const LogOptions& options) {
  auto logger = spdlog::stderr_logger_mt("ferry");
  logger->set_level(options.level);
  g_format = options.format;
  // JSON lines carry their own timestamp and level; text lines get a prefix.
  logger->set_pattern(options.format == LogFormat::kJson ? "%v" : "%Y-%m-%dT%H:%M:%S.%fZ %^%l%$ %v",
                      spdlog::pattern_time_type::utc);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text) {
  static constexpr std::pair<std::string_view, spdlog::level::level_enum> kLevels[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug}, {"info", spdlog::level::info},
      {"warn", spdlog::level::warn},   {"error", spdlog::level::err},   {"off", spdlog::level::off}};
  for (const auto& [name, level] : kLevels)
    if (name == text) return level;
  return InvalidArgument("unknown log level '" + std::string(text) +
                         "' (expected trace, debug, info, warn, error or off)");
}

void LogEvent(spdlog::level::level_enum level, std::string_view msg, const Json& fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  if (g_format == LogFormat::kJson) {
    Json line = {{"ts", FormatRfc3339Micros(Env::Default()->NowMicros())},
                 {"level", spdlog::level::to_string_view(level)},
                 {"msg", msg}};
    for (const auto& [k, v] : fields.items()) line[k] = v;
    logger->log(level, "{}", line.dump(-1, ' ', false, Json::error_handler_t::replace));
  } else {
    std::string text(msg);
    for (const auto& [k, v] : fields.items())
      text += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, Json::error_handler_t::replace));
    logger->log(level, "{}", text);
  }
}

}  // namespace ferry
