#include "ferry/common/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ferry {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// The sample value of the line starting with `series + " "`.
std::string SampleValue(const std::string& text, const std::string& series) {
  for (const auto& line : Lines(text)) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return "<absent>";
}

TEST(MetricsTest, RendersCountersWithHelpTypeAndLabels) {
  MetricsRegistry registry;
  auto& requests =
      registry.AddCounter("ferry_http_requests_total", "HTTP requests served.", {"method", "code"});
  requests.WithLabels({"GET", "200"}).Inc();
  requests.WithLabels({"GET", "200"}).Inc(2);
  requests.WithLabels({"POST", "201"}).Inc(0.5);
  std::string out = registry.Render();
  auto lines = Lines(out);
  ASSERT_EQ(lines.size(), 4u) << out;
  EXPECT_EQ(lines[0], "# HELP ferry_http_requests_total HTTP requests served.");
  EXPECT_EQ(lines[1], "# TYPE ferry_http_requests_total counter");
  // Labels appear sorted by name; series order is unspecified by the format.
  EXPECT_THAT(lines, Contains("ferry_http_requests_total{code=\"200\",method=\"GET\"} 3"));
  EXPECT_THAT(lines, Contains("ferry_http_requests_total{code=\"201\",method=\"POST\"} 0.5"));
  EXPECT_EQ(requests.WithLabels({"GET", "200"}).Value(), 3);
}

TEST(MetricsTest, UnlabelledMetricsAreExposedBeforeFirstUse) {
  MetricsRegistry registry;
  registry.AddCounter("ferry_runs_total", "Runs started.");
  registry.AddGauge("ferry_queue_depth", "Tasks waiting.");
  registry.AddHistogram("ferry_wait_seconds", "Wait.", {}, {1});
  registry.AddCounter("ferry_labelled_total", "Appears on first use.", {"kind"});
  std::string out = registry.Render();
  EXPECT_EQ(SampleValue(out, "ferry_runs_total"), "0");
  EXPECT_EQ(SampleValue(out, "ferry_queue_depth"), "0");
  EXPECT_EQ(SampleValue(out, "ferry_wait_seconds_count"), "0");
  EXPECT_EQ(SampleValue(out, "ferry_wait_seconds_bucket{le=\"+Inf\"}"), "0");
  EXPECT_THAT(out, Not(HasSubstr("ferry_labelled_total{")));
}

TEST(MetricsTest, RendersGaugesAndSpecialValues) {
  MetricsRegistry registry;
  auto& gauge = registry.AddGauge("ferry_g", "g", {"k"});
  gauge.WithLabels({"int"}).Set(-3);
  gauge.WithLabels({"frac"}).Set(0.25);
  gauge.WithLabels({"inf"}).Set(std::numeric_limits<double>::infinity());
  gauge.WithLabels({"ninf"}).Set(-std::numeric_limits<double>::infinity());
  gauge.WithLabels({"nan"}).Set(std::numeric_limits<double>::quiet_NaN());
  gauge.WithLabels({"big"}).Set(1e20);
  gauge.WithLabels({"add"}).Add(1.5);
  gauge.WithLabels({"add"}).Add(-0.5);
  std::string out = registry.Render();
  EXPECT_THAT(Lines(out), Contains("# TYPE ferry_g gauge"));
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"int\"}"), "-3");
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"frac\"}"), "0.25");
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"inf\"}"), "+Inf");
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"ninf\"}"), "-Inf");
  // Prometheus parses the value case-insensitively; prometheus-cpp writes "Nan".
  std::string nan = SampleValue(out, "ferry_g{k=\"nan\"}");
  std::transform(nan.begin(), nan.end(), nan.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_EQ(nan, "nan");
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"big\"}"), "1e+20");
  EXPECT_EQ(SampleValue(out, "ferry_g{k=\"add\"}"), "1");
  EXPECT_EQ(gauge.WithLabels({"add"}).Value(), 1);
}

TEST(MetricsTest, EscapesLabelValues) {
  MetricsRegistry registry;
  registry.AddCounter("ferry_c_total", "Requests by path.", {"path"}).WithLabels({"C:\\dir\n\"x\""}).Inc();
  EXPECT_THAT(Lines(registry.Render()), Contains("ferry_c_total{path=\"C:\\\\dir\\n\\\"x\\\"\"} 1"));
}

TEST(MetricsTest, MissingLabelValuesAreEmpty) {
  MetricsRegistry registry;
  registry.AddGauge("ferry_g", "g", {"a", "b"}).WithLabels({"x"}).Set(2);
  EXPECT_EQ(SampleValue(registry.Render(), "ferry_g{a=\"x\",b=\"\"}"), "2");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  // Bounds unsorted and repeated on purpose; values chosen to be exact in binary.
  auto& latency = registry.AddHistogram("ferry_request_seconds", "Latency.", {"route"}, {0.5, 0.125, 1, 0.5});
  auto& h = latency.WithLabels({"/x"});
  for (double v : {0.0625, 0.125, 0.25, 0.5, 0.75, 2.0, 3.0}) h.Observe(v);
  EXPECT_THAT(registry.Render(), HasSubstr("# HELP ferry_request_seconds Latency.\n"
                                           "# TYPE ferry_request_seconds histogram\n"
                                           "ferry_request_seconds_count{route=\"/x\"} 7\n"
                                           "ferry_request_seconds_sum{route=\"/x\"} 6.6875\n"
                                           "ferry_request_seconds_bucket{route=\"/x\",le=\"0.125\"} 2\n"
                                           "ferry_request_seconds_bucket{route=\"/x\",le=\"0.5\"} 4\n"
                                           "ferry_request_seconds_bucket{route=\"/x\",le=\"1\"} 5\n"
                                           "ferry_request_seconds_bucket{route=\"/x\",le=\"+Inf\"} 7\n"));
}

TEST(MetricsTest, DefaultLatencyBucketsAreSortedSeconds) {
  const auto& buckets = DefaultLatencyBuckets();
  ASSERT_FALSE(buckets.empty());
  EXPECT_DOUBLE_EQ(buckets.front(), 0.0005);
  EXPECT_DOUBLE_EQ(buckets.back(), 10);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end()));
  MetricsRegistry registry;
  registry.AddHistogram("ferry_default_seconds", "d").WithLabels().Observe(0.003);
  std::string out = registry.Render();
  EXPECT_EQ(SampleValue(out, "ferry_default_seconds_bucket{le=\"0.0025\"}"), "0");
  EXPECT_EQ(SampleValue(out, "ferry_default_seconds_bucket{le=\"0.005\"}"), "1");
}

TEST(MetricsTest, CallbackGaugeIsReadAtScrape) {
  MetricsRegistry registry;
  double value = 1;
  registry.AddCallbackGauge("process_open_fds", "Open descriptors.", [&] { return value; });
  registry.AddCallbackGauge("process_cpu_seconds_total", "CPU time.", [] { return 2.5; });
  std::string out = registry.Render();
  EXPECT_THAT(Lines(out), Contains("# TYPE process_open_fds gauge"));
  EXPECT_EQ(SampleValue(out, "process_open_fds"), "1");
  EXPECT_THAT(Lines(out), Contains("# TYPE process_cpu_seconds_total counter"));
  EXPECT_EQ(SampleValue(out, "process_cpu_seconds_total"), "2.5");
  value = 7;
  EXPECT_EQ(SampleValue(registry.Render(), "process_open_fds"), "7");
}

TEST(MetricsTest, NamingViolationsThrowAtRegistration) {
  MetricsRegistry registry;
  EXPECT_THROW(registry.AddCounter("ferry_runs", "no _total"), std::logic_error);
  EXPECT_THROW(registry.AddGauge("ferry_runs_total", "gauge named like a counter"), std::logic_error);
  EXPECT_THROW(registry.AddGauge("runs", "no prefix"), std::logic_error);
  EXPECT_THROW(registry.AddGauge("ferry_g", "two\nlines"), std::logic_error);
  EXPECT_THROW(registry.AddGauge("ferry_g", "back\\slash"), std::logic_error);
  EXPECT_THROW(registry.AddGauge("ferry_g", "bad label", {"bad-label"}), std::logic_error);
  EXPECT_THROW(registry.AddGauge("ferry_g", "reserved label", {"__name"}), std::logic_error);
  EXPECT_THROW(registry.AddHistogram("ferry_h_seconds", "le is the bucket label", {"le"}), std::logic_error);
  registry.AddGauge("ferry_g", "fine");
  EXPECT_THROW(registry.AddGauge("ferry_g", "twice"), std::logic_error);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  MetricsRegistry registry;
  auto& counter = registry.AddCounter("ferry_ops_total", "ops", {"worker"});
  auto& hist = registry.AddHistogram("ferry_op_seconds", "op", {}, {0.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.WithLabels({std::to_string(t % 2)}).Inc();
        hist.WithLabels().Observe(i % 2 == 0 ? 0.25 : 1.0);
        if (i % 1000 == 0) (void)registry.Render();  // scrapes race with updates
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.WithLabels({"0"}).Value() + counter.WithLabels({"1"}).Value(), kThreads * kPerThread);
  std::string out = registry.Render();
  EXPECT_EQ(SampleValue(out, "ferry_op_seconds_bucket{le=\"0.5\"}"), "80000");
  EXPECT_EQ(SampleValue(out, "ferry_op_seconds_bucket{le=\"+Inf\"}"), "160000");
  EXPECT_EQ(SampleValue(out, "ferry_op_seconds_count"), "160000");
  EXPECT_EQ(SampleValue(out, "ferry_op_seconds_sum"), "100000");
}

}  // namespace
}  // namespace ferry
