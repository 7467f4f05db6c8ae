#include "ferry/common/metrics.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

#include <prometheus/check_names.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace ferry {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// prometheus-cpp 1.0 writes HELP text unescaped, so it must be one plain line.
void CheckHelp(const std::string& name, const std::string& help) {
  if (help.find_first_of("\n\\") != std::string::npos)
    throw std::logic_error("help of metric '" + name + "' must be one line without backslashes");
}

void CheckName(const std::string& name, const std::string& help, bool counter) {
  CheckHelp(name, help);
  // Triton's metrics keep Triton's names (nv_inference_count, a counter
  // without _total), so that Triton's dashboards read ferry serve as is.
  if (name.rfind("nv_", 0) == 0) return;
  if (name.rfind("ferry_", 0) != 0 && name.rfind("process_", 0) != 0)
    throw std::logic_error("metric '" + name + "' must start with ferry_ (or process_)");
  if (counter != EndsWith(name, "_total"))
    throw std::logic_error("metric '" + name + (counter ? "' is a counter and must end in _total"
                                                        : "' ends in _total but is not a counter"));
}

// prometheus-cpp would throw only when the first child is added, which may be
// deep inside a request; check label names when the family is registered.
void CheckLabelNames(const std::string& name, const std::vector<std::string>& label_names, bool histogram) {
  for (const auto& label : label_names) {
    if (!prometheus::CheckLabelName(label) || (histogram && label == "le"))
      throw std::logic_error("metric '" + name + "' has invalid label name '" + label + "'");
  }
}

}  // namespace

void Counter::Inc(double by) { impl_->Increment(by); }
double Counter::Value() const { return impl_->Value(); }
void Gauge::Set(double v) { impl_->Set(v); }
void Gauge::Add(double by) { impl_->Increment(by); }
double Gauge::Value() const { return impl_->Value(); }
void Histogram::Observe(double v) { impl_->Observe(v); }

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
  return kBuckets;
}

// Gauges (and counters) read at scrape time, e.g. process RSS.
class MetricsRegistry::Callbacks : public prometheus::Collectable {
 public:
  void Add(std::string name, std::string help, std::function<double()> read) {
    std::lock_guard lock(mu_);
    entries_.push_back({std::move(name), std::move(help), std::move(read)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::lock_guard lock(mu_);
    std::vector<prometheus::MetricFamily> out;
    for (const auto& e : entries_) {
      prometheus::MetricFamily family;
      family.name = e.name;
      family.help = e.help;
      prometheus::ClientMetric metric;
      if (EndsWith(e.name, "_total")) {
        family.type = prometheus::MetricType::Counter;
        metric.counter.value = e.read();
      } else {
        family.type = prometheus::MetricType::Gauge;
        metric.gauge.value = e.read();
      }
      family.metric.push_back(std::move(metric));
      out.push_back(std::move(family));
    }
    return out;
  }

 private:
  struct Entry {
    std::string name, help;
    std::function<double()> read;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
};

MetricsRegistry::MetricsRegistry()
    : registry_(std::make_shared<prometheus::Registry>(prometheus::Registry::InsertBehavior::Throw)),
      callbacks_(std::make_shared<Callbacks>()) {}

MetricsRegistry::~MetricsRegistry() = default;

MetricFamily<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                                   std::vector<std::string> label_names) {
  CheckName(name, help, true);
  CheckLabelNames(name, label_names, false);
  auto& family = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mu_);
  counters_.push_back(std::make_unique<MetricFamily<Counter>>(
      label_names, [&family](const auto& labels) { return Counter(&family.Add(labels)); }));
  // An unlabelled metric exists from the start (at 0), so scrapes and
  // rate() see it before the first event instead of an absent series.
  if (label_names.empty()) counters_.back()->WithLabels();
  return *counters_.back();
}

MetricFamily<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names) {
  CheckName(name, help, false);
  CheckLabelNames(name, label_names, false);
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mu_);
  gauges_.push_back(std::make_unique<MetricFamily<Gauge>>(
      label_names, [&family](const auto& labels) { return Gauge(&family.Add(labels)); }));
  if (label_names.empty()) gauges_.back()->WithLabels();
  return *gauges_.back();
}

MetricFamily<Histogram>& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                       std::vector<std::string> label_names,
                                                       std::vector<double> bounds) {
  CheckName(name, help, false);
  CheckLabelNames(name, label_names, true);
  // prometheus-cpp demands strictly increasing bounds and would throw on the
  // first Observe otherwise.
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());
  auto& family = prometheus::BuildHistogram().Name(name).Help(help).Register(*registry_);
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<MetricFamily<Histogram>>(
      label_names, [&family, bounds = std::move(bounds)](const auto& labels) {
        return Histogram(&family.Add(labels, prometheus::Histogram::BucketBoundaries(bounds)));
      }));
  if (label_names.empty()) histograms_.back()->WithLabels();
  return *histograms_.back();
}

void MetricsRegistry::AddCallbackGauge(const std::string& name, const std::string& help,
                                       std::function<double()> read) {
  CheckName(name, help, EndsWith(name, "_total"));
  callbacks_->Add(name, help, std::move(read));
}

std::string MetricsRegistry::Render() const {
  auto families = registry_->Collect();
  auto more = callbacks_->Collect();
  families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace ferry
