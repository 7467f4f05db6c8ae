#pragma once
// Process metrics as the official Prometheus client libraries export them
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_open_fds, process_start_time_seconds), read from /proc at scrape
// time, so existing dashboards work unchanged.
//
// Thread-safety: thread-safe.

#include "ferry/common/metrics.h"
#include "ferry/common/status.h"

namespace ferry::api {

struct ProcessStats {
  double cpu_seconds = 0;  // user + system time
  double resident_bytes = 0;
  double open_fds = 0;
  double start_time_seconds = 0;  // since the Unix epoch
};

// Reads this process's stats from /proc; Unavailable when /proc cannot be read.
Result<ProcessStats> ReadProcessStats();

// Registers the four metrics in `registry`, read from /proc at each scrape
// (0 while /proc cannot be read).
void RegisterProcessMetrics(MetricsRegistry* registry);

}  // namespace ferry::api
