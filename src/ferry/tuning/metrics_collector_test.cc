// Tests of Katib's metrics collectors: the default filter on the formats
// Katib documents, custom Go-syntax filters (Katib's own example and test
// cases), the Go regexp engine against the hand-written default matcher,
// TEXT and JSON files (Katib's testdata), incremental feeding, bounded
// lines, and the min/max/latest summaries.
#include "ferry/tuning/metrics_collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "ferry/common/time.h"

namespace ferry::tuning {
namespace {

using ::testing::HasSubstr;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs Find(const MetricsFilter& f, std::string_view line) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  f.FindAll(line, &out);
  Pairs pairs;
  for (const auto& [n, v] : out) pairs.emplace_back(std::string(n), std::string(v));
  return pairs;
}

MetricsFilter Compiled(std::string_view pattern) {
  Result<MetricsFilter> f = MetricsFilter::Compile(pattern, "f");
  EXPECT_TRUE(f.ok()) << pattern << ": " << f.status().ToString();
  return f.ok() ? std::move(f).value() : MetricsFilter::Default();
}

std::int64_t Micros(std::string_view rfc3339) {
  Result<std::int64_t> t = ParseRfc3339(rfc3339);
  EXPECT_TRUE(t.ok()) << rfc3339;
  return t.ValueOr(0);
}

// Katib's custom filter from examples/v1beta1/metrics-collector/file-metrics-collector.yaml.
constexpr std::string_view kKatibCustomFilter = R"({metricName: ([\w|-]+), metricValue: ((-?\d+)(\.\d+)?)})";

// ------------------------------------------------------------ filters

TEST(MetricsFilterTest, DefaultFilterReadsKatibsDocumentedForms) {
  const MetricsFilter f = MetricsFilter::Default();
  // The forms listed next to DefaultFilter in Katib's common/const.go.
  EXPECT_EQ(Find(f, "loss=0.3"), (Pairs{{"loss", "0.3"}}));
  EXPECT_EQ(Find(f, "accuracy=.98"), (Pairs{{"accuracy", ".98"}}));
  EXPECT_EQ(Find(f, "Score=-7.53e-05"), (Pairs{{"Score", "-7.53e-05"}}));
  EXPECT_EQ(Find(f, "Score=-7.53e+05"), (Pairs{{"Score", "-7.53e+05"}}));
  EXPECT_EQ(Find(f, "Score=1E0"), (Pairs{{"Score", "1E0"}}));
  EXPECT_EQ(Find(f, "Score=1.23E10"), (Pairs{{"Score", "1.23E10"}}));
  // What training scripts print.
  EXPECT_EQ(Find(f, "epoch 1: accuracy=0.8 loss=0.3"), (Pairs{{"accuracy", "0.8"}, {"loss", "0.3"}}));
  EXPECT_EQ(Find(f, "INFO:root:Epoch[0] Validation-accuracy=0.926472"),
            (Pairs{{"Validation-accuracy", "0.926472"}}));
  EXPECT_EQ(Find(f, "loss = 0.25, acc =0.5"), (Pairs{{"loss", "0.25"}, {"acc", "0.5"}}));
  EXPECT_EQ(Find(f, "a|b=2"), (Pairs{{"a|b", "2"}}));  // '|' is in Katib's name class
  // The value part may be empty; such a match is still a match.
  EXPECT_EQ(Find(f, "loss="), (Pairs{{"loss", ""}}));
  EXPECT_EQ(Find(f, "a=b=3"), (Pairs{{"a", ""}, {"b", "3"}}));
  EXPECT_EQ(Find(f, "x=1.2.3"), (Pairs{{"x", "1.2"}}));
  EXPECT_EQ(Find(f, "no metrics here"), Pairs{});
}

// The hand-written default matcher must find exactly what the regexp
// finds; both are checked against each other on random text.
TEST(MetricsFilterTest, DefaultMatcherAgreesWithTheRegexpEngine) {
  const MetricsFilter hand = MetricsFilter::Default();
  const MetricsFilter engine = Compiled(kDefaultMetricsFilter);
  const std::string alphabet = "ab_-|= \t09.eE+-x:,";
  std::mt19937_64 rng(7);
  for (int iter = 0; iter < 20000; ++iter) {
    std::string s;
    const int len = static_cast<int>(rng() % 24);
    for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
    ASSERT_EQ(Find(hand, s), Find(engine, s)) << "text: '" << s << "'";
  }
}

// Long lines run on the Pike VM, short ones on the backtracker: a long
// line made of independent segments must give what the segments give.
TEST(MetricsFilterTest, BothEnginesAgree) {
  const std::string alphabet = "ab_-|= \t09.eE+-x:,{}";
  std::mt19937_64 rng(11);
  for (const std::string_view pattern : {kDefaultMetricsFilter, kKatibCustomFilter}) {
    const MetricsFilter engine = Compiled(pattern);
    for (int round = 0; round < 3; ++round) {
      std::string line;
      Pairs want;
      for (int seg = 0; seg < 2000; ++seg) {
        std::string s;
        if (rng() % 4 == 0) {
          s = "{metricName: m" + std::to_string(seg) + ", metricValue: " + std::to_string(seg % 7) + ".5}";
        } else {
          const int len = static_cast<int>(rng() % 12);
          for (int k = 0; k < len; ++k) s += alphabet[rng() % alphabet.size()];
        }
        for (auto& p : Find(engine, s)) want.push_back(std::move(p));
        line += s + " ; ";
      }
      ASSERT_GT(line.size(), 20000u);
      EXPECT_EQ(Find(engine, line), want) << pattern;
      if (pattern == kDefaultMetricsFilter) {
        EXPECT_EQ(Find(MetricsFilter::Default(), line), want);
      }
    }
  }
}

TEST(MetricsFilterTest, KatibsCustomFilter) {
  const MetricsFilter f = Compiled(kKatibCustomFilter);
  EXPECT_EQ(Find(f,
                 "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.8078};"
                 "{metricName: loss, metricValue: 0.5183}"),
            (Pairs{{"accuracy", "0.8078"}, {"loss", "0.5183"}}));
  // Katib's "invalid value" cases: none of these match.
  for (std::string_view line :
       {"{metricName: accuracy, metricValue: .333}", "{metricName: accuracy, metricValue: -.333}",
        "{metricName: accuracy, metricValue: - 345.333}", "{metricName: accuracy, metricValue: 888.}"}) {
    EXPECT_EQ(Find(f, line), Pairs{}) << line;
  }
}

TEST(MetricsFilterTest, GoSyntaxAndLeftmostFirstSemantics) {
  struct Case {
    std::string pattern, text;
    Pairs want;
  };
  const std::vector<Case> cases = {
      {R"((?P<name>\w+)=(?<value>\d+))", "a=1 bb=22", {{"a", "1"}, {"bb", "22"}}},
      {R"((?i)(LOSS):\s*(\S+))", "Loss: 0.5 loss:7", {{"Loss", "0.5"}, {"loss", "7"}}},
      {R"((a+?)(a*))", "aaa", {{"a", "aa"}}},
      {R"((a*)(a*))", "aaa", {{"aaa", ""}}},
      {R"((a|ab)(c|bcd))", "abcd", {{"a", "bcd"}}},  // leftmost-first, not longest
      {R"(^(\w+)=(\d+)$)", "x=1", {{"x", "1"}}},
      {R"(^(\w+)=(\d+)$)", "x=1 y=2", {}},
      {R"(\b(\w+)=(\d)\b)", "ab=1 c=23", {{"ab", "1"}}},
      {R"((\d{2,3})-(\d{2}))", "1234-56 12-3", {{"234", "56"}}},
      {R"(([^=\s]+)=([^ ]+))", "k1=v1 k2=v2", {{"k1", "v1"}, {"k2", "v2"}}},
      {R"((?i)([^a]+)=(\d))", "A=1", {}},  // case folding happens before negation
      {R"((?i)([a-c]+)=(\d))", "ABC=1", {{"ABC", "1"}}},
      {R"(\Q{m}\E(\w)(\d))", "{m}x1", {{"x", "1"}}},
      {R"((a*)(b*))", "xab", {{"", ""}, {"a", "b"}}},  // Go's FindAll drops an empty match after a match
      {R"(([[:alpha:]]+)[[:space:]]*:[[:space:]]*([[:digit:].]+))", "acc : 0.5", {{"acc", "0.5"}}},
      {R"((\w+)\x3d(\d+))", "n=5", {{"n", "5"}}},
      {R"((é+)=(\d))", "ééé=1", {{"ééé", "1"}}},  // runes, not bytes
      {R"((.)(.))", "é1", {{"é", "1"}}},
      {R"((?s)(a.b)(\d))", "a\nb1", {{"a\nb", "1"}}},
      {R"((a.b)(\d))", "a\nb1", {}},  // . stops at a newline without (?s)
      {R"((x{2})(y?))", "xxxxy", {{"xx", ""}, {"xx", "y"}}},
      {R"(([\w|-]+)\s*=\s*(\d+)?)", "a=", {{"a", ""}}},  // a group that did not take part is empty
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Find(Compiled(c.pattern), c.text), c.want) << c.pattern << " on '" << c.text << "'";
  }
}

TEST(MetricsFilterTest, BadFiltersAreRefusedNamingTheField) {
  struct Case {
    std::string pattern, words;
  };
  const std::vector<Case> cases = {
      {"(a)(b", "missing closing )"},
      {"(a)(b))", "unexpected )"},
      {"(a**)(b)", "invalid nested repetition operator"},
      {"*(a)(b)", "missing argument to repetition operator"},
      {"{2}(a)(b)", "missing argument to repetition operator"},
      {"([a)(b)", "missing closing ]"},
      {"([z-a])(b)", "invalid character class range"},
      {"(a{1001})(b)", "invalid repeat count"},
      {R"(\p{L}(a)(b))", "not supported"},
      {R"((a)\1(b))", "invalid escape sequence"},
      {R"((a)(b)\)", "trailing backslash"},
      {"(?z)(a)(b)", "invalid or unsupported Perl syntax"},
      {R"((\d+))", "two capture groups"},
      {"(?:a)(?:b)", "two capture groups"},
      {"", "two capture groups"},
  };
  for (const Case& c : cases) {
    Result<MetricsFilter> f =
        MetricsFilter::Compile(c.pattern, "spec.metricsCollectorSpec.source.filter.metricsFormat[0]");
    ASSERT_FALSE(f.ok()) << c.pattern;
    EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(f.status().field(), "spec.metricsCollectorSpec.source.filter.metricsFormat[0]");
    EXPECT_THAT(f.status().message(), HasSubstr(c.words)) << c.pattern;
  }
}

// A custom filter is linear in the line: a long line neither recurses
// deeply (std::regex overflows the stack near 25 KB) nor blows up.
TEST(MetricsFilterTest, LongLinesAreMatchedInLinearTime) {
  const MetricsFilter f = Compiled(R"(([\w|-]+)\s*=\s*((-?\d+)(\.\d+)?))");
  std::string line;
  for (int k = 0; k < 5000; ++k) line += "m" + std::to_string(k % 10) + "=" + std::to_string(k) + " ";
  EXPECT_EQ(Find(f, line).size(), 5000u);
  const std::string word(1 << 17, 'a');
  EXPECT_EQ(Find(f, word), Pairs{});
  EXPECT_EQ(Find(Compiled(kKatibCustomFilter), word), Pairs{});
}

// ------------------------------------------------------------ TEXT

MetricsParserOptions Text(std::vector<std::string> names, std::vector<std::string> filters = {}) {
  MetricsParserOptions o;
  o.metric_names = std::move(names);
  o.filters = std::move(filters);
  return o;
}

std::vector<MetricLog> Parse(std::string_view text, const MetricsParserOptions& o) {
  Result<std::vector<MetricLog>> logs = ParseMetrics(text, o);
  EXPECT_TRUE(logs.ok()) << logs.status().ToString();
  return logs.ok() ? std::move(logs).value() : std::vector<MetricLog>{};
}

std::vector<std::tuple<std::string, double, std::int64_t>> Brief(const std::vector<MetricLog>& logs) {
  std::vector<std::tuple<std::string, double, std::int64_t>> out;
  for (const MetricLog& l : logs) out.emplace_back(l.name, l.value, l.line);
  return out;
}

TEST(MetricsParserTest, StdOutOfAnMxnetTrial) {
  const std::string log =
      "INFO:root:start with arguments Namespace(lr=0.01, num_layers=2)\n"
      "INFO:root:Epoch[0] Batch [0-100]\tSpeed: 12345.67 samples/sec\taccuracy=0.780000\n"
      "INFO:root:Epoch[0] Train-accuracy=0.866\n"
      "INFO:root:Epoch[0] Time cost=9.1\n"
      "INFO:root:Epoch[0] Validation-accuracy=0.926\n"
      "INFO:root:Epoch[1] Train-accuracy=0.901\n"
      "INFO:root:Epoch[1] Validation-accuracy=0.944\n";
  // "accuracy" and "lr" are printed but not wanted.
  const auto logs = Parse(log, Text({"Validation-accuracy", "Train-accuracy"}));
  EXPECT_EQ(Brief(logs), (std::vector<std::tuple<std::string, double, std::int64_t>>{
                             {"Train-accuracy", 0.866, 3},
                             {"Validation-accuracy", 0.926, 5},
                             {"Train-accuracy", 0.901, 6},
                             {"Validation-accuracy", 0.944, 7},
                         }));
  for (const MetricLog& l : logs) EXPECT_FALSE(l.unix_micros.has_value());
}

// Katib's TestCollectObservationLog cases for the TEXT format.
TEST(MetricsParserTest, KatibTextCases) {
  const auto o = Text({"accuracy", "loss"}, {std::string(kKatibCustomFilter)});
  const auto good = Parse(
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.8078};{metricName: loss, "
      "metricValue: 0.5183}\n"
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.6752}\n"
      "2024-03-04T17:55:08Z INFO     {metricName: loss, metricValue: 0.3634}\n"
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 100}\n"
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 888.333}\n"
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: -0.4759}\n"
      "{metricName: loss, metricValue: 0.8671}",
      o);
  EXPECT_EQ(Brief(good), (std::vector<std::tuple<std::string, double, std::int64_t>>{
                             {"accuracy", 0.8078, 1},
                             {"loss", 0.5183, 1},
                             {"accuracy", 0.6752, 2},
                             {"loss", 0.3634, 3},
                             {"accuracy", 100, 4},
                             {"accuracy", 888.333, 5},
                             {"accuracy", -0.4759, 6},
                             {"loss", 0.8671, 7},
                         }));
  const std::int64_t t = Micros("2024-03-04T17:55:08Z");
  for (std::size_t k = 0; k + 1 < good.size(); ++k) EXPECT_EQ(good[k].unix_micros, t);
  EXPECT_FALSE(good.back().unix_micros.has_value());  // Katib's zero time

  // "Invalid timestamp": the metric is kept without a time.
  const auto ts = Parse(
      "2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.6752}\n"
      "invalid INFO     {metricName: loss, metricValue: 0.3634}",
      o);
  ASSERT_EQ(ts.size(), 2u);
  EXPECT_EQ(ts[0].unix_micros, t);
  EXPECT_FALSE(ts[1].unix_micros.has_value());

  // "Invalid formatted file": the unterminated line gives nothing.
  EXPECT_EQ(Brief(Parse("2024-03-04T17:55:08Z INFO     {metricName: accuracy, metricValue: 0.6752\n", o)),
            (std::vector<std::tuple<std::string, double, std::int64_t>>{}));
}

TEST(MetricsParserTest, ValuesThatAreNotNumbersAreSkippedAndCounted) {
  Result<MetricsParser> p = MetricsParser::Make(Text({"loss"}, {R"((\w+):\s*(\S+))"}));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  p->Feed(
      "loss: abc\nloss: nan\nloss: 0x10\nloss: inf\nloss: -Infinity\nloss: +1.5\nloss: 1e400\nloss: "
      "1e-400\n");
  p->Finish();
  const auto logs = p->TakeLogs();
  ASSERT_EQ(logs.size(), 4u);
  EXPECT_EQ(logs[0].value, std::numeric_limits<double>::infinity());
  EXPECT_EQ(logs[1].value, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(logs[2].value, 1.5);
  EXPECT_EQ(logs[3].value, 0.0);      // Go rounds an underflow to zero
  EXPECT_EQ(p->skipped_values(), 4);  // abc, nan, 0x10, 1e400

  Result<MetricsParser> d = MetricsParser::Make(Text({"loss"}));
  ASSERT_TRUE(d.ok());
  d->Feed("loss= loss=- loss=. loss=1. loss=.5\n");
  d->Finish();
  EXPECT_EQ(Brief(d->TakeLogs()),
            (std::vector<std::tuple<std::string, double, std::int64_t>>{{"loss", 1, 1}, {"loss", 0.5, 1}}));
  EXPECT_EQ(d->skipped_values(), 3);
}

// Feeding the log in arbitrary pieces gives what parsing it whole gives;
// "\r" ends a line too (progress bars), "\r\n" counts as one line end.
TEST(MetricsParserTest, IncrementalFeedingMatchesWholeParsing) {
  std::string log;
  for (int k = 0; k < 300; ++k) {
    log += "step " + std::to_string(k) + " [=====>     ] loss=" + std::to_string(1.0 / (k + 1));
    log += k % 3 == 0 ? "\r" : k % 3 == 1 ? "\r\n" : "\n";
    if (k % 10 == 0)
      log += "2024-01-01T00:00:0" + std::to_string(k % 10) + "Z eval accuracy=0." + std::to_string(k) + "\n";
  }
  log += "accuracy=0.99";  // no final newline
  const auto o = Text({"accuracy", "loss"});
  const auto whole = Parse(log, o);
  ASSERT_EQ(whole.size(), 331u);
  std::mt19937_64 rng(3);
  for (int round = 0; round < 5; ++round) {
    Result<MetricsParser> p = MetricsParser::Make(o);
    ASSERT_TRUE(p.ok());
    std::vector<MetricLog> got;
    for (std::size_t pos = 0; pos < log.size();) {
      const std::size_t n = 1 + rng() % 9;
      p->Feed(std::string_view(log).substr(pos, n));
      pos += n;
      for (MetricLog& l : p->TakeLogs()) got.push_back(std::move(l));
    }
    p->Finish();
    for (MetricLog& l : p->TakeLogs()) got.push_back(std::move(l));
    ASSERT_EQ(got.size(), whole.size());
    for (std::size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(got[k].name, whole[k].name);
      EXPECT_EQ(got[k].value, whole[k].value);
      EXPECT_EQ(got[k].line, whole[k].line);
      EXPECT_EQ(got[k].unix_micros, whole[k].unix_micros);
    }
  }
  EXPECT_EQ(whole.back().name, "accuracy");
  EXPECT_EQ(whole.back().value, 0.99);
  // 300 lines end in '\n' or "\r\n" (200) plus 30 eval lines: the last is line 231.
  EXPECT_EQ(whole.back().line, 231);
}

TEST(MetricsParserTest, LinesAreBounded) {
  MetricsParserOptions o = Text({"loss"});
  o.max_line_bytes = 64;
  Result<MetricsParser> p = MetricsParser::Make(o);
  ASSERT_TRUE(p.ok());
  p->Feed("loss=1 " + std::string(100, 'x') + " loss=2\nloss=3\n");
  p->Feed(std::string(50, 'y'));
  p->Feed(std::string(50, 'y') + "loss=4\nloss=5");
  p->Finish();
  EXPECT_EQ(Brief(p->TakeLogs()), (std::vector<std::tuple<std::string, double, std::int64_t>>{
                                      {"loss", 1, 1}, {"loss", 3, 2}, {"loss", 5, 4}}));
  EXPECT_EQ(p->long_lines(), 2);

  MetricsParserOptions j = o;
  j.format = MetricsFormat::kJson;
  Result<std::vector<MetricLog>> r =
      ParseMetrics("{\"loss\": 1}\n{\"loss\": \"" + std::string(100, '1') + "\"}\n", j);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("line 2 is longer than 64 bytes"));
}

// A log is read in one pass (the rate is printed, not asserted).
TEST(MetricsParserTest, ThroughputOnALargeLog) {
  std::string log;
  for (int k = 0; k < 10000; ++k) {
    log += "2024-01-01T00:00:00Z INFO epoch=" + std::to_string(k / 1000) + " step=" + std::to_string(k) +
           " loss=" + std::to_string(1.0 / (k + 1)) + " lr=0.001 grad_norm=1.5\n";
  }
  for (const bool custom : {false, true}) {
    MetricsParserOptions o = Text({"loss", "accuracy"});
    if (custom) o.filters = {R"(([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?))"};
    const auto start = std::chrono::steady_clock::now();
    const auto logs = Parse(log, o);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_EQ(logs.size(), 10000u);
    std::printf("[ timing ] %s filter: %.1f MB in %.3f s (%.0f MB/s)\n", custom ? "custom " : "default",
                static_cast<double>(log.size()) / 1e6, secs, static_cast<double>(log.size()) / 1e6 / secs);
  }
}

// ------------------------------------------------------------ JSON

MetricsParserOptions JsonOptions(std::vector<std::string> names) {
  MetricsParserOptions o;
  o.metric_names = std::move(names);
  o.format = MetricsFormat::kJson;
  return o;
}

// Katib's testdata/JSON/good.json through the file reader.
TEST(MetricsParserTest, KatibJsonFile) {
  Result<std::vector<MetricLog>> r =
      ParseMetricsFile("src/ferry/tuning/testdata/katib/metrics/good.json", JsonOptions({"acc", "loss"}));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const std::vector<MetricLog>& logs = *r;
  EXPECT_EQ(Brief(logs), (std::vector<std::tuple<std::string, double, std::int64_t>>{
                             {"loss", 0.22082142531871796, 1},
                             {"acc", 0.9349666833877563, 2},
                             {"loss", 0.1414974331855774, 3},
                             {"acc", 0.9586416482925415, 4},
                             {"loss", 0.10683439671993256, 5},
                         }));
  // A numeric timestamp is seconds since the epoch (exactly, unlike
  // Katib's reading of the fraction as nanoseconds).
  EXPECT_EQ(logs[0].unix_micros, 1638422847287210);
  EXPECT_EQ(logs[2].unix_micros, Micros("2021-12-02T14:27:50.000035Z"));
  EXPECT_FALSE(logs[4].unix_micros.has_value());
  // Katib's latest: the last line has no timestamp, so it counts as the
  // earliest and line 3 stays latest.
  const Observation loss = Summarise("loss", MetricStrategy::kLatest, logs);
  EXPECT_EQ(loss.latest, 0.1414974331855774);
  EXPECT_EQ(loss.min, 0.10683439671993256);
  EXPECT_EQ(loss.max, 0.22082142531871796);

  Result<std::vector<MetricLog>> inv = ParseMetricsFile(
      "src/ferry/tuning/testdata/katib/metrics/invalid-timestamp.json", JsonOptions({"acc", "loss"}));
  ASSERT_TRUE(inv.ok());
  ASSERT_EQ(inv->size(), 2u);
  EXPECT_FALSE((*inv)[0].unix_micros.has_value());
  EXPECT_EQ((*inv)[1].unix_micros, Micros("2021-12-02T05:27:27Z"));

  EXPECT_EQ(ParseMetricsFile("src/ferry/tuning/testdata/katib/metrics/missing.json", JsonOptions({"acc"}))
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST(MetricsParserTest, JsonNumbersStringsAndOtherTypes) {
  const auto logs = *ParseMetrics(
      "{\"accuracy\": 0.9, \"loss\": \"0.3\", \"timestamp\": \"2024-05-01T10:00:00.5Z\"}\r\n"
      "\n   \n"
      "{\"accuracy\": true, \"loss\": null, \"other\": 1}\n"
      "{\"accuracy\": \"high\", \"loss\": [1]}\n"
      "{\"accuracy\": 1, \"timestamp\": 1714557600}\n",
      JsonOptions({"accuracy", "loss"}));
  EXPECT_EQ(Brief(logs), (std::vector<std::tuple<std::string, double, std::int64_t>>{
                             {"accuracy", 0.9, 1}, {"loss", 0.3, 1}, {"accuracy", 1, 6}}));
  EXPECT_EQ(logs[0].unix_micros, Micros("2024-05-01T10:00:00.5Z"));
  EXPECT_EQ(logs[2].unix_micros, std::int64_t{1714557600} * 1000000);
}

TEST(MetricsParserTest, JsonLineThatIsNotAnObjectStopsTheParse) {
  Result<MetricsParser> p = MetricsParser::Make(JsonOptions({"loss"}));
  ASSERT_TRUE(p.ok());
  p->Feed("{\"loss\": 0.5}\n\"checkpoint_path\": \"\", \"loss\": \"0.2\"\n{\"loss\": 0.1}\n");
  p->Finish();
  EXPECT_EQ(p->status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(p->status().message(), HasSubstr("line 2 is not a JSON object"));
  EXPECT_EQ(Brief(p->logs()), (std::vector<std::tuple<std::string, double, std::int64_t>>{{"loss", 0.5, 1}}));
  EXPECT_FALSE(ParseMetrics("[1, 2]\n", JsonOptions({"loss"})).ok());
}

TEST(MetricsParserTest, BadOptionsAreRefused) {
  EXPECT_EQ(MetricsParser::Make(Text({})).status().field(), "metric_names");
  EXPECT_EQ(MetricsParser::Make(Text({"loss"}, {"(x)"})).status().field(), "filters[0]");
  MetricsParserOptions j = JsonOptions({"loss"});
  j.filters = {std::string(kKatibCustomFilter)};
  EXPECT_EQ(MetricsParser::Make(j).status().field(), "filters");
}

// ------------------------------------------------------------ summaries

MetricLog Log(std::string name, double value, std::int64_t line,
              std::optional<std::int64_t> ts = std::nullopt) {
  return MetricLog{std::move(name), value, line, ts};
}

TEST(MetricsSummaryTest, MinMaxLatestAsKatibsTrialController) {
  const std::vector<MetricLog> logs = {
      Log("loss", 0.9, 1),
      Log("acc", 0.1, 1),
      Log("loss", 0.4, 2),
      Log("loss", 0.6, 3),
  };
  const Observation o = Summarise("loss", MetricStrategy::kMin, logs);
  EXPECT_EQ(o.name, "loss");
  EXPECT_EQ(o.min, 0.4);
  EXPECT_EQ(o.max, 0.9);
  EXPECT_EQ(o.latest, 0.6);  // without timestamps: the last printed
  EXPECT_EQ(o.value, 0.4);
  EXPECT_EQ(Summarise("loss", MetricStrategy::kMax, logs).value, 0.9);
  EXPECT_EQ(Summarise("loss", MetricStrategy::kLatest, logs).value, 0.6);

  // Latest is by timestamp; equal times go to the later line; a line
  // without a time is earlier than any with one.
  const std::vector<MetricLog> timed = {
      Log("loss", 1, 1, 200),
      Log("loss", 2, 2, 100),
      Log("loss", 3, 3, 200),
      Log("loss", 4, 4),
  };
  EXPECT_EQ(Summarise("loss", MetricStrategy::kLatest, timed).value, 3);

  // Never reported: Katib's "unavailable".
  const Observation none = Summarise("f1", MetricStrategy::kMax, logs);
  EXPECT_FALSE(none.min || none.max || none.latest || none.value);
  // NaN never wins.
  const std::vector<MetricLog> nan = {Log("loss", std::nan(""), 1), Log("loss", 2, 2),
                                      Log("loss", std::nan(""), 3)};
  const Observation n = Summarise("loss", MetricStrategy::kLatest, nan);
  EXPECT_EQ(n.min, 2);
  EXPECT_EQ(n.latest, 2);
}

TEST(MetricsSummaryTest, IntermediateValuesCountReports) {
  const std::vector<MetricLog> logs = {Log("acc", 0.5, 1), Log("loss", 9, 2), Log("acc", 0.6, 3),
                                       Log("acc", 0.55, 7)};
  EXPECT_EQ(IntermediateValues("acc", logs), (std::map<std::int64_t, double>{{1, 0.5}, {2, 0.6}, {3, 0.55}}));
  EXPECT_TRUE(IntermediateValues("f1", logs).empty());
}

TEST(MetricsSummaryTest, StrategyNames) {
  for (MetricStrategy s : {MetricStrategy::kMin, MetricStrategy::kMax, MetricStrategy::kLatest}) {
    EXPECT_EQ(ParseMetricStrategy(MetricStrategyName(s)), s);
  }
  EXPECT_FALSE(ParseMetricStrategy("avg").has_value());
  EXPECT_EQ(MetricsFormatName(MetricsFormat::kJson), "JSON");
}

}  // namespace
}  // namespace ferry::tuning
