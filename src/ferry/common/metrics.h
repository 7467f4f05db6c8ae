#pragma once
// Ferry's metrics facade over prometheus-cpp (Debian's prometheus-cpp-dev),
// rendering text exposition format 0.0.4. The facade keeps Ferry's naming
// rules in one place: every Ferry metric is prefixed `ferry_`, counters end
// in `_total`, durations are in seconds, sizes in bytes. Standard process
// metrics (`process_*`) are exempt from the prefix.
//
// Thread-safety: all methods are thread-safe. Child lookups take a mutex, so
// hot paths should keep the returned reference (children live as long as the
// registry).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
template <typename T>
class Family;
}  // namespace prometheus

namespace ferry {

class Counter {
 public:
  explicit Counter(prometheus::Counter* impl) : impl_(impl) {}
  void Inc(double by = 1);
  double Value() const;

 private:
  prometheus::Counter* impl_;
};

class Gauge {
 public:
  explicit Gauge(prometheus::Gauge* impl) : impl_(impl) {}
  void Set(double v);
  void Add(double by);
  double Value() const;

 private:
  prometheus::Gauge* impl_;
};

class Histogram {
 public:
  explicit Histogram(prometheus::Histogram* impl) : impl_(impl) {}
  void Observe(double v);

 private:
  prometheus::Histogram* impl_;
};

// Default latency buckets in seconds, 0.5 ms to 10 s.
const std::vector<double>& DefaultLatencyBuckets();

template <typename T>
class MetricFamily {
 public:
  MetricFamily(std::vector<std::string> label_names, std::function<T(const std::map<std::string, std::string>&)> add)
      : label_names_(std::move(label_names)), add_(std::move(add)) {}

  // The child for these label values, in the order of the family's label
  // names; missing values are empty strings.
  T& WithLabels(const std::vector<std::string>& values = {}) {
    std::lock_guard lock(mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::map<std::string, std::string> labels;
    for (std::size_t i = 0; i < label_names_.size(); ++i) labels[label_names_[i]] = i < values.size() ? values[i] : "";
    return *children_.emplace(values, std::make_unique<T>(add_(labels))).first->second;
  }

 private:
  std::vector<std::string> label_names_;
  std::function<T(const std::map<std::string, std::string>&)> add_;
  std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

class MetricsRegistry {
 public:
  MetricsRegistry();
  ~MetricsRegistry();

  // Names are checked against Ferry's conventions (see above) and help must
  // be one line; a violation is
  // a programming error and throws std::logic_error at registration.
  MetricFamily<Counter>& AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> label_names = {});
  MetricFamily<Gauge>& AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> label_names = {});
  MetricFamily<Histogram>& AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> label_names = {},
                                        std::vector<double> bounds = DefaultLatencyBuckets());
  // A gauge whose value is read at scrape time. A name ending in `_total` is
  // exposed as a counter (e.g. process_cpu_seconds_total).
  void AddCallbackGauge(const std::string& name, const std::string& help, std::function<double()> read);

  // Text exposition format 0.0.4.
  std::string Render() const;

 private:
  class Callbacks;
  std::shared_ptr<prometheus::Registry> registry_;
  std::shared_ptr<Callbacks> callbacks_;
  std::vector<std::unique_ptr<MetricFamily<Counter>>> counters_;
  std::vector<std::unique_ptr<MetricFamily<Gauge>>> gauges_;
  std::vector<std::unique_ptr<MetricFamily<Histogram>>> histograms_;
  std::mutex mu_;
};

}  // namespace ferry
