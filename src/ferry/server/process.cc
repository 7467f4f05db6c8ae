#include "ferry/server/process.h"

#include <pthread.h>

#include <csignal>

#include "ferry/common/logging.h"

namespace ferry::server {

ShutdownSignals::ShutdownSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

const char* ShutdownSignals::Wait() {
  int sig = 0;
  sigwait(&signals_, &sig);
  return sig == SIGTERM ? "SIGTERM" : "SIGINT";
}

void AddLoggingOptions(CLI::App& app, std::string& level, std::string& format) {
  app.add_option("--log-level", level, "trace, debug, info, warn, error or off")
      ->envname("FERRY_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", format, "text or json (one JSON object a line)")
      ->envname("FERRY_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

void InitLoggingFromOptions(const std::string& level, const std::string& format) {
  LogOptions options;
  options.level = ParseLogLevel(level).ValueOr(spdlog::level::info);
  options.format = format == "json" ? LogFormat::kJson : LogFormat::kText;
  InitLogging(options);
}

int UsageExitCode(CLI::App& app, const CLI::ParseError& error) { return app.exit(error) == 0 ? 0 : 2; }

}  // namespace ferry::server
