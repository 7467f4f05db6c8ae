#pragma once
// Start-up and shutdown pieces shared by the long-running commands,
// `ferry server` (the control plane) and `ferry serve` (the inference data
// plane): the logging flags, usage-error exit codes, and the shutdown
// signals.
//
// Thread-safety: ShutdownSignals must be constructed on the main thread
// before any other thread starts; the functions are for start-up only.

#include <csignal>
#include <string>

#include <CLI/CLI.hpp>

namespace ferry::server {

// SIGTERM and SIGINT, handled by waiting for them rather than by an
// asynchronous handler. The constructor blocks them (and ignores SIGPIPE)
// in the calling thread, so every thread started after it inherits the
// mask and a signal always means a clean drain.
class ShutdownSignals {
 public:
  ShutdownSignals();
  // Waits for SIGTERM or SIGINT; returns "SIGTERM" or "SIGINT".
  const char* Wait();

 private:
  sigset_t signals_;
};

// --log-level and --log-format (with their FERRY_* variables).
void AddLoggingOptions(CLI::App& app, std::string& level, std::string& format);
// Starts logging from the values of those options.
void InitLoggingFromOptions(const std::string& level, const std::string& format);

// The exit code for a CLI11 parse outcome, after printing it: 0 for --help,
// 2 for usage errors as for the rest of the CLI (CLI11's own codes are 100+).
int UsageExitCode(CLI::App& app, const CLI::ParseError& error);

}  // namespace ferry::server
