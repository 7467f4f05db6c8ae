#include "ferry/api/process_metrics.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ferry::api {
namespace {

Result<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return Unavailable(std::string("cannot read ") + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<ProcessStats> ReadProcessStatsOrThrow() {
  ProcessStats stats;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

  ASSIGN_OR_RETURN(std::string stat, ReadFile("/proc/self/stat"));
  // The command name (field 2) is parenthesised and may itself contain
  // spaces or ')'; fields are counted from after its last ')'.
  std::size_t close = stat.rfind(')');
  if (close == std::string::npos) return Unavailable("malformed /proc/self/stat");
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0, start_ticks = 0;
  // After ')' come field 3 (state) onwards; utime is 14, stime 15, starttime 22.
  for (int index = 3; index <= 22 && fields >> field; ++index) {
    if (index == 14) utime = std::stoull(field);
    if (index == 15) stime = std::stoull(field);
    if (index == 22) start_ticks = std::stoull(field);
  }
  stats.cpu_seconds = static_cast<double>(utime + stime) / ticks;

  ASSIGN_OR_RETURN(std::string statm, ReadFile("/proc/self/statm"));
  std::istringstream statm_fields(statm);
  unsigned long long size_pages = 0, resident_pages = 0;
  statm_fields >> size_pages >> resident_pages;
  stats.resident_bytes = static_cast<double>(resident_pages) * page;

  ASSIGN_OR_RETURN(std::string proc_stat, ReadFile("/proc/stat"));
  std::size_t btime = proc_stat.find("\nbtime ");
  if (btime == std::string::npos) return Unavailable("no btime in /proc/stat");
  double boot_seconds = std::stod(proc_stat.substr(btime + 7));
  stats.start_time_seconds = boot_seconds + static_cast<double>(start_ticks) / ticks;

  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec))
    ++fds;
  if (ec) return Unavailable("cannot list /proc/self/fd: " + ec.message());
  stats.open_fds = fds - 1;  // the directory handle used for listing

  return stats;
}

}  // namespace

Result<ProcessStats> ReadProcessStats() {
  try {
    return ReadProcessStatsOrThrow();
  } catch (const std::exception& e) {
    // std::stoull and friends on text the kernel did not format as expected.
    return Unavailable(std::string("malformed /proc data: ") + e.what());
  }
}

void RegisterProcessMetrics(MetricsRegistry* registry) {
  auto read = [](double ProcessStats::*field) {
    return [field] {
      auto stats = ReadProcessStats();
      return stats.ok() ? (*stats).*field : 0.0;
    };
  };
  registry->AddCallbackGauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                             read(&ProcessStats::cpu_seconds));
  registry->AddCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                             read(&ProcessStats::resident_bytes));
  registry->AddCallbackGauge("process_open_fds", "Number of open file descriptors.",
                             read(&ProcessStats::open_fds));
  registry->AddCallbackGauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             read(&ProcessStats::start_time_seconds));
}

}  // namespace ferry::api
