#include "ferry/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace ferry {
namespace {

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!out.empty()) out += ',';
    out += names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!out.empty()) out += ',';
    out += extra;
  }
  return out.empty() ? out : "{" + out + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i] = 0;
}

void Histogram::Observe(double v) {
  std::size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

const std::vector<double>& DefaultLatencyBuckets() {
  static const std::vector<double> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                               0.05,   0.1,   0.25,   0.5,   1,    2.5, 5, 10};
  return kBuckets;
}

MetricsRegistry::Entry& MetricsRegistry::Add(const std::string& name, const std::string& help,
                                             const std::string& type) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries_)
    if (e->name == name) throw std::logic_error("metric registered twice: " + name);
  entries_.push_back(std::make_unique<Entry>());
  Entry& e = *entries_.back();
  e.name = name;
  e.help = help;
  e.type = type;
  return e;
}

MetricFamily<Counter>& MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                                   std::vector<std::string> label_names) {
  Entry& e = Add(name, help, "counter");
  e.counter = std::make_unique<MetricFamily<Counter>>(std::move(label_names),
                                                      [] { return std::make_unique<Counter>(); });
  return *e.counter;
}

MetricFamily<Gauge>& MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                               std::vector<std::string> label_names) {
  Entry& e = Add(name, help, "gauge");
  e.gauge = std::make_unique<MetricFamily<Gauge>>(std::move(label_names),
                                                  [] { return std::make_unique<Gauge>(); });
  return *e.gauge;
}

MetricFamily<Histogram>& MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                                       std::vector<std::string> label_names,
                                                       std::vector<double> bounds) {
  Entry& e = Add(name, help, "histogram");
  e.histogram = std::make_unique<MetricFamily<Histogram>>(
      std::move(label_names), [bounds] { return std::make_unique<Histogram>(bounds); });
  return *e.histogram;
}

void MetricsRegistry::AddCallbackGauge(const std::string& name, const std::string& help,
                                       std::function<double()> read) {
  Add(name, help, "gauge").callback = std::move(read);
}

std::string MetricsRegistry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " " + EscapeHelp(e->help) + "\n";
    out += "# TYPE " + e->name + " " + e->type + "\n";
    if (e->callback) {
      out += e->name + " " + FormatValue(e->callback()) + "\n";
    } else if (e->counter) {
      e->counter->ForEach([&](const auto& values, const Counter& c) {
        out += e->name + Labels(e->counter->label_names(), values) + " " + FormatValue(c.Value()) + "\n";
      });
    } else if (e->gauge) {
      e->gauge->ForEach([&](const auto& values, const Gauge& g) {
        out += e->name + Labels(e->gauge->label_names(), values) + " " + FormatValue(g.Value()) + "\n";
      });
    } else if (e->histogram) {
      e->histogram->ForEach([&](const auto& values, const Histogram& h) {
        const auto& names = e->histogram->label_names();
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < h.bounds().size(); ++i) {
          cumulative += h.BucketCount(i);
          out += e->name + "_bucket" + Labels(names, values, "le=\"" + FormatValue(h.bounds()[i]) + "\"") +
                 " " + std::to_string(cumulative) + "\n";
        }
        cumulative += h.BucketCount(h.bounds().size());
        out += e->name + "_bucket" + Labels(names, values, "le=\"+Inf\"") + " " +
               std::to_string(cumulative) + "\n";
        out += e->name + "_sum" + Labels(names, values) + " " + FormatValue(h.Sum()) + "\n";
        out += e->name + "_count" + Labels(names, values) + " " + std::to_string(cumulative) + "\n";
      });
    }
  }
  return out;
}

}  // namespace ferry
