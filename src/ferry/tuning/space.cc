#include "ferry/tuning/space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "ferry/common/strings.h"

namespace ferry::tuning {
namespace {

std::string Num(double v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}

double EffectiveStep(const ParamSpec& p) {
  if (p.type == ParamType::kInt) return p.step > 0 ? p.step : 1;
  return p.step;
}

// SplitMix64: decorrelates nearby seeds.
std::uint64_t Mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

}  // namespace

std::string_view ParamTypeName(ParamType t) {
  switch (t) {
    case ParamType::kDouble: return "double";
    case ParamType::kInt: return "int";
    case ParamType::kDiscrete: return "discrete";
    case ParamType::kCategorical: return "categorical";
  }
  return "double";
}

std::string_view DistributionName(Distribution d) {
  switch (d) {
    case Distribution::kUniform: return "uniform";
    case Distribution::kLogUniform: return "logUniform";
    case Distribution::kNormal: return "normal";
    case Distribution::kLogNormal: return "logNormal";
  }
  return "uniform";
}

std::optional<std::int64_t> ParamSpec::Cardinality() const {
  switch (type) {
    case ParamType::kDiscrete: return static_cast<std::int64_t>(values.size());
    case ParamType::kCategorical: return static_cast<std::int64_t>(choices.size());
    case ParamType::kInt:
    case ParamType::kDouble: {
      double s = EffectiveStep(*this);
      if (s <= 0) return std::nullopt;
      const double steps = std::floor((max - min) / s + 1e-9);
      // Beyond what a double counts exactly it is as good as continuous.
      if (!(steps < 9.0e15)) return std::nullopt;
      return static_cast<std::int64_t>(steps) + 1;
    }
  }
  return std::nullopt;
}

Status SearchSpace::Validate(std::string_view prefix) const {
  if (params.empty()) return InvalidArgument("the search space has no parameters", std::string(prefix));
  std::set<std::string> names;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const ParamSpec& p = params[i];
    const std::string at = std::string(prefix) + "[" + std::to_string(i) + "]";
    const std::string fs = at + ".feasibleSpace";
    if (p.name.empty()) return InvalidArgument("parameter name is empty", at + ".name");
    if (!names.insert(p.name).second) {
      return InvalidArgument("parameter " + p.name + " appears twice", at + ".name");
    }
    const std::string who = "parameter " + p.name + ": ";
    switch (p.type) {
      case ParamType::kDouble:
      case ParamType::kInt: {
        if (!std::isfinite(p.min)) return InvalidArgument(who + "min must be a finite number", fs + ".min");
        if (!std::isfinite(p.max)) return InvalidArgument(who + "max must be a finite number", fs + ".max");
        if (p.min > p.max) {
          return InvalidArgument(who + "min " + Num(p.min) + " is greater than max " + Num(p.max), fs + ".min");
        }
        if (p.type == ParamType::kInt && (p.min != std::floor(p.min) || std::abs(p.min) > 9.0e15)) {
          return InvalidArgument(who + "min of an int parameter must be an integer", fs + ".min");
        }
        if (p.type == ParamType::kInt && (p.max != std::floor(p.max) || std::abs(p.max) > 9.0e15)) {
          return InvalidArgument(who + "max of an int parameter must be an integer", fs + ".max");
        }
        if (!std::isfinite(p.step) || p.step < 0) {
          return InvalidArgument(who + "step must be a positive number", fs + ".step");
        }
        if (p.type == ParamType::kInt && p.step != 0 && p.step != std::floor(p.step)) {
          return InvalidArgument(who + "step of an int parameter must be an integer", fs + ".step");
        }
        if (p.step > 0 && p.step > p.max - p.min && p.max > p.min) {
          return InvalidArgument(who + "step " + Num(p.step) + " is larger than the range", fs + ".step");
        }
        if (p.IsLog() && p.min <= 0) {
          return InvalidArgument(who + "min must be positive for the " +
                                     std::string(DistributionName(p.distribution)) + " distribution",
                                 fs + ".min");
        }
        if (p.IsLog() && p.step > 0 && p.type == ParamType::kDouble) {
          return InvalidArgument(who + "a log-scaled double cannot have a step", fs + ".step");
        }
        break;
      }
      case ParamType::kDiscrete: {
        if (p.values.empty()) return InvalidArgument(who + "the list of values is empty", fs + ".list");
        std::set<double> seen;
        for (std::size_t k = 0; k < p.values.size(); ++k) {
          const std::string item = fs + ".list[" + std::to_string(k) + "]";
          if (!std::isfinite(p.values[k])) return InvalidArgument(who + "values must be finite numbers", item);
          if (!seen.insert(p.values[k]).second) {
            return InvalidArgument(who + "value " + Num(p.values[k]) + " is listed twice", item);
          }
          if (p.IsLog() && p.values[k] <= 0) {
            return InvalidArgument(who + "values must be positive for a log distribution", item);
          }
        }
        break;
      }
      case ParamType::kCategorical: {
        if (p.choices.empty()) return InvalidArgument(who + "the list of choices is empty", fs + ".list");
        std::set<std::string> seen;
        for (std::size_t k = 0; k < p.choices.size(); ++k) {
          if (!seen.insert(p.choices[k]).second) {
            return InvalidArgument(who + "choice '" + p.choices[k] + "' is listed twice",
                                   fs + ".list[" + std::to_string(k) + "]");
          }
        }
        break;
      }
    }
  }
  return Status::OK();
}

std::pair<double, double> SearchSpace::InternalBounds(std::size_t i) const {
  const ParamSpec& p = params[i];
  switch (p.type) {
    case ParamType::kDiscrete: return {-0.5, static_cast<double>(p.values.size()) - 0.5};
    case ParamType::kCategorical: return {-0.5, static_cast<double>(p.choices.size()) - 0.5};
    case ParamType::kDouble:
    case ParamType::kInt: {
      const double s = EffectiveStep(p);
      if (p.IsLog()) {
        // An int on a log scale: half a unit around each end, in log space.
        if (p.type == ParamType::kInt) return {std::log(std::max(p.min - 0.5 * s, p.min * 0.5)), std::log(p.max + 0.5 * s)};
        return {std::log(p.min), std::log(p.max)};
      }
      if (s > 0) return {p.min - 0.5 * s, p.max + 0.5 * s};
      return {p.min, p.max};
    }
  }
  return {0, 0};
}

double SearchSpace::ToInternal(std::size_t i, double value) const {
  const ParamSpec& p = params[i];
  switch (p.type) {
    case ParamType::kDiscrete: {
      auto it = std::find(p.values.begin(), p.values.end(), value);
      if (it != p.values.end()) return static_cast<double>(it - p.values.begin());
      // Not listed: the nearest entry.
      std::size_t best = 0;
      for (std::size_t k = 1; k < p.values.size(); ++k) {
        if (std::abs(p.values[k] - value) < std::abs(p.values[best] - value)) best = k;
      }
      return static_cast<double>(best);
    }
    case ParamType::kCategorical: return value;
    case ParamType::kDouble:
    case ParamType::kInt: return p.IsLog() ? std::log(std::max(value, 1e-300)) : value;
  }
  return value;
}

double SearchSpace::FromInternal(std::size_t i, double internal) const {
  const ParamSpec& p = params[i];
  auto [lo, hi] = InternalBounds(i);
  double x = std::isnan(internal) ? lo : std::clamp(internal, lo, hi);
  switch (p.type) {
    case ParamType::kDiscrete:
    case ParamType::kCategorical: {
      const double n = static_cast<double>(p.type == ParamType::kDiscrete ? p.values.size() : p.choices.size());
      double k = std::clamp(std::round(x), 0.0, n - 1);
      return p.type == ParamType::kDiscrete ? p.values[static_cast<std::size_t>(k)] : k;
    }
    case ParamType::kDouble:
    case ParamType::kInt: {
      double v = p.IsLog() ? std::exp(x) : x;
      const double s = EffectiveStep(p);
      if (s > 0) v = p.min + std::round((v - p.min) / s) * s;
      if (p.type == ParamType::kInt) v = std::round(v);
      // Clamp to the last value on the grid, not to max itself.
      if (v > p.max) v = s > 0 ? p.min + std::floor((p.max - p.min) / s + 1e-9) * s : p.max;
      if (v < p.min) v = p.min;
      return v;
    }
  }
  return x;
}

bool SearchSpace::Contains(std::size_t i, double value) const {
  const ParamSpec& p = params[i];
  if (!std::isfinite(value)) return false;
  switch (p.type) {
    case ParamType::kDiscrete: return std::find(p.values.begin(), p.values.end(), value) != p.values.end();
    case ParamType::kCategorical:
      return value == std::floor(value) && value >= 0 && value < static_cast<double>(p.choices.size());
    case ParamType::kDouble:
    case ParamType::kInt: {
      if (value < p.min || value > p.max) return false;
      if (p.type == ParamType::kInt && value != std::floor(value)) return false;
      const double s = EffectiveStep(p);
      if (s > 0) {
        double k = (value - p.min) / s;
        if (std::abs(k - std::round(k)) > 1e-6) return false;
      }
      return true;
    }
  }
  return false;
}

std::string SearchSpace::Format(std::size_t i, double value) const {
  const ParamSpec& p = params[i];
  if (p.type == ParamType::kCategorical) {
    auto k = static_cast<std::size_t>(std::clamp(value, 0.0, static_cast<double>(p.choices.size() - 1)));
    return p.choices[k];
  }
  if (p.type == ParamType::kInt) return std::to_string(static_cast<std::int64_t>(std::llround(value)));
  return Num(value);
}

Result<double> SearchSpace::Parse(std::size_t i, std::string_view text) const {
  const ParamSpec& p = params[i];
  if (p.type == ParamType::kCategorical) {
    for (std::size_t k = 0; k < p.choices.size(); ++k) {
      if (p.choices[k] == text) return static_cast<double>(k);
    }
    return InvalidArgument("parameter " + p.name + ": '" + std::string(text) + "' is not one of its choices");
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument("parameter " + p.name + ": '" + std::string(text) + "' is not a number");
  }
  if (!Contains(i, v)) {
    return InvalidArgument("parameter " + p.name + ": " + std::string(text) + " is outside its feasible space");
  }
  return v;
}

std::optional<double> StudyView::Loss(const Trial& t) const {
  if (t.state != TrialState::kComplete || !t.value || !std::isfinite(*t.value)) return std::nullopt;
  return direction == Direction::kMinimize ? *t.value : -*t.value;
}

std::mt19937_64 TrialRng(std::uint64_t seed, std::int64_t number, std::uint64_t salt) {
  std::uint64_t s = Mix(Mix(seed) ^ Mix(static_cast<std::uint64_t>(number) + 0x5851F42D4C957F2DULL) ^ Mix(salt + 7));
  return std::mt19937_64(s);
}

}  // namespace ferry::tuning
