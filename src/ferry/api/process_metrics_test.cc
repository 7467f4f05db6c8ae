#include "ferry/api/process_metrics.h"

#include <gtest/gtest.h>

#include <ctime>

namespace ferry::api {
namespace {

TEST(ProcessStatsTest, ReadsPlausibleValues) {
  auto stats = ReadProcessStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GT(stats->resident_bytes, 1024 * 1024);  // a gtest binary is more than 1 MiB resident
  EXPECT_GE(stats->open_fds, 3);                  // stdin, stdout, stderr
  EXPECT_GE(stats->cpu_seconds, 0);
  double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(stats->start_time_seconds, now + 1);
  EXPECT_GT(stats->start_time_seconds, now - 24 * 3600);  // this test process started recently
}

TEST(ProcessMetricsTest, RendersStandardNamesAndTypes) {
  MetricsRegistry registry;
  RegisterProcessMetrics(&registry);
  std::string text = registry.Render();
  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter", "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_open_fds gauge", "# TYPE process_start_time_seconds gauge"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

}  // namespace
}  // namespace ferry::api
