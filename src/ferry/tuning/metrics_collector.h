#pragma once
// Katib's metrics collectors as pure parsers: what a trial printed (StdOut,
// File in TEXT format) or wrote as JSON lines (File in JSON format) becomes
// a list of observations (metric name, value, where and when), and the
// observations become a metric's min/max/latest and the trial's objective
// value, as Katib's metrics collector and trial controller compute them.
//
// Parsing is incremental (Feed chunks as a log grows) with a bounded line
// length, so a trial's log of hundreds of MB is read in one pass with
// memory independent of its size. Filters are Go (RE2) regular
// expressions, as Katib's are, run by a linear-time matcher (see
// MetricsFilter); Katib's default filter has a hand-written matcher.
//
// Thread-safety: MetricsFilter is immutable and may be shared; a
// MetricsParser is used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::tuning {

// Katib's metricStrategies values.
enum class MetricStrategy { kMin, kMax, kLatest };
std::string_view MetricStrategyName(MetricStrategy s);  // "min", "max", "latest"
// The strategy named `text`, or nullopt.
std::optional<MetricStrategy> ParseMetricStrategy(std::string_view text);

// Katib's metricsCollectorSpec.source.fileSystemPath.format.
enum class MetricsFormat { kText, kJson };
std::string_view MetricsFormatName(MetricsFormat f);  // "TEXT", "JSON"

// Katib's DefaultFilter (pkg/metricscollector/v1beta1/common/const.go):
// "name=value" pairs such as "loss=0.3", "accuracy = .98", "Score=-7.53e-05".
inline constexpr std::string_view kDefaultMetricsFilter =
    R"(([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?))";

namespace internal {
class GoRegexp;
}  // namespace internal

// A metrics filter: a Go regular expression (RE2 syntax, as Katib's Go
// collector compiles it) whose first capture group is the metric's name and
// second its value.
class MetricsFilter {
 public:
  // InvalidArgument naming `field` when the pattern is not a valid Go
  // regular expression, uses what the matcher does not support (\p Unicode
  // classes), or has fewer than two capture groups. Katib's webhook asks
  // for "two top subexpressions"; its own example filter has four groups
  // (name, value and two inside the value), so two is a minimum.
  static Result<MetricsFilter> Compile(std::string_view pattern, std::string field = {});
  // kDefaultMetricsFilter, with its hand-written matcher.
  static MetricsFilter Default();

  // Every match in `line`, leftmost-first and non-overlapping as Go's
  // FindAllStringSubmatch finds them, as (group 1, group 2) with ASCII
  // whitespace trimmed (Katib trims both). Appends to `out`; the views
  // point into `line`.
  void FindAll(std::string_view line, std::vector<std::pair<std::string_view, std::string_view>>* out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  std::string pattern_;
  std::shared_ptr<const internal::GoRegexp> re_;  // null: the default filter's matcher
};

// One observation of a metric in a trial's output.
struct MetricLog {
  std::string name;
  double value = 0;
  std::int64_t line = 0;  // 1-based line of the log or file it came from
  // The line's timestamp (TEXT: a leading RFC 3339 token; JSON: the
  // "timestamp" field), microseconds since the Unix epoch; nullopt when it
  // had none, which Katib records as the zero time (earlier than any).
  std::optional<std::int64_t> unix_micros;
};

struct MetricsParserOptions {
  // The metrics the experiment wants (objective first); others are dropped.
  std::vector<std::string> metric_names;
  MetricsFormat format = MetricsFormat::kText;
  // TEXT only: Katib's metricsFormat; empty means kDefaultMetricsFilter.
  std::vector<std::string> filters;
  // A longer line is cut: TEXT parses its first max_line_bytes, JSON
  // refuses it.
  std::size_t max_line_bytes = 64 * 1024;
};

// An incremental parser of a trial's output. Feed it the log as it grows
// and take the observations of every complete line.
class MetricsParser {
 public:
  // InvalidArgument for a bad filter (field "filters[i]") or no metric names.
  static Result<MetricsParser> Make(MetricsParserOptions options);

  // Parses every line `chunk` completes; keeps the unfinished tail.
  void Feed(std::string_view chunk);
  // Parses the unfinished last line, if any (the log ended without '\n').
  void Finish();

  // Observations parsed so far and not yet taken, in log order.
  std::vector<MetricLog> TakeLogs();
  const std::vector<MetricLog>& logs() const { return logs_; }

  // JSON only: InvalidArgument naming the first line that is not a JSON
  // object; parsing stops there, as Katib's collector fails the whole file
  // (the observations before it are kept).
  const Status& status() const { return status_; }
  // Matches of a wanted metric whose value is not a number (Katib records
  // them; see Summarise).
  std::int64_t skipped_values() const { return skipped_values_; }
  // Lines cut at max_line_bytes.
  std::int64_t long_lines() const { return long_lines_; }

 private:
  MetricsParser() = default;
  void ParseLine(std::string_view line);
  void ParseTextLine(std::string_view line);
  void ParseJsonLine(std::string_view line);
  void Add(std::string_view name, double value, std::optional<std::int64_t> unix_micros);

  MetricsParserOptions options_;
  std::vector<MetricsFilter> filters_;
  std::vector<MetricLog> logs_;
  std::string partial_;
  bool partial_cut_ = false;  // the current line passed max_line_bytes
  std::int64_t line_ = 1;
  Status status_;
  std::int64_t skipped_values_ = 0;
  std::int64_t long_lines_ = 0;
  std::vector<std::pair<std::string_view, std::string_view>> matches_;  // reused per line
};

// The observations in `text` (a whole log), or the parser's error.
Result<std::vector<MetricLog>> ParseMetrics(std::string_view text, const MetricsParserOptions& options);
// The same over a file read in chunks (the only I/O here): NotFound when
// it cannot be opened.
Result<std::vector<MetricLog>> ParseMetricsFile(const std::string& path, const MetricsParserOptions& options);

// Katib's Metric: a metric's min, max and latest value over a trial's
// observations, and the one its strategy picks. nullopt is Katib's
// "unavailable" (the metric was never reported with a numeric value).
struct Observation {
  std::string name;
  MetricStrategy strategy = MetricStrategy::kLatest;
  std::optional<double> min, max, latest;
  std::optional<double> value;  // min, max or latest, per `strategy`
};

// Summarises the observations of `name` in `logs` as Katib's trial
// controller does: min and max over every value; latest is the value with
// the latest timestamp, a line without one counting as earlier than any
// with one and ties going to the later line (so without timestamps it is
// the last value printed). NaN values are ignored.
Observation Summarise(std::string_view name, MetricStrategy strategy, std::span<const MetricLog> logs);

// The intermediate values of `name` for a pruner: step k (1-based) is the
// k-th value reported, in log order (Katib's median stop counts reports).
std::map<std::int64_t, double> IntermediateValues(std::string_view name, std::span<const MetricLog> logs);

}  // namespace ferry::tuning
