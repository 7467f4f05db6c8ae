#include "ferry/tuning/sampler.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning {

AlgorithmSettings::AlgorithmSettings(std::map<std::string, std::string> values, std::string field_prefix)
    : values_(std::move(values)), prefix_(std::move(field_prefix)) {}

Result<std::int64_t> AlgorithmSettings::Int(const std::string& name, std::int64_t fallback, std::int64_t min,
                                            std::int64_t max) {
  read_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidArgument("setting " + name + " must be an integer, not '" + text + "'", Field(name));
  }
  if (v < min || v > max) {
    return InvalidArgument("setting " + name + " must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", not " + text,
                           Field(name));
  }
  return v;
}

Result<double> AlgorithmSettings::Double(const std::string& name, double fallback, double min, double max) {
  read_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& text = it->second;
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(v)) {
    return InvalidArgument("setting " + name + " must be a number, not '" + text + "'", Field(name));
  }
  if (v < min || v > max) {
    return InvalidArgument("setting " + name + " must be between " + std::to_string(min) + " and " +
                               std::to_string(max) + ", not " + text,
                           Field(name));
  }
  return v;
}

Result<bool> AlgorithmSettings::Bool(const std::string& name, bool fallback) {
  read_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  const std::string& t = it->second;
  if (t == "true" || t == "True" || t == "1") return true;
  if (t == "false" || t == "False" || t == "0") return false;
  return InvalidArgument("setting " + name + " must be true or false, not '" + t + "'", Field(name));
}

Result<std::string> AlgorithmSettings::Choice(const std::string& name, const std::string& fallback,
                                              const std::vector<std::string>& allowed) {
  read_.insert(name);
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  for (const std::string& a : allowed) {
    if (a == it->second) return a;
  }
  std::string list;
  for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return InvalidArgument("setting " + name + " must be one of " + list + ", not '" + it->second + "'",
                         Field(name));
}

Status AlgorithmSettings::Finish() const {
  for (const auto& [name, value] : values_) {
    (void)value;
    if (!read_.count(name)) return InvalidArgument("unknown setting " + name, Field(name));
  }
  return Status::OK();
}

Result<std::uint64_t> SeedFrom(AlgorithmSettings& settings, std::uint64_t fallback) {
  if (!settings.Has("random_state")) return fallback;
  ASSIGN_OR_RETURN(std::int64_t seed,
                   settings.Int("random_state", 0, 0, std::numeric_limits<std::int64_t>::max()));
  return static_cast<std::uint64_t>(seed);
}

const std::vector<std::string>& SamplerNames() {
  static const std::vector<std::string> kNames = {"random", "grid",  "sobol", "tpe", "multivariate-tpe",
                                                  "cmaes",  "bayesianoptimization", "hyperband"};
  return kNames;
}

Result<std::unique_ptr<Sampler>> MakeSampler(std::string_view algorithm,
                                             const std::map<std::string, std::string>& values,
                                             const SearchSpace& space, std::uint64_t default_seed) {
  AlgorithmSettings settings(values);
  ASSIGN_OR_RETURN(std::uint64_t seed, SeedFrom(settings, default_seed));
  Result<std::unique_ptr<Sampler>> made = InvalidArgument("", "");
  if (algorithm == "random") {
    made = internal::MakeRandomSampler(settings, space, seed);
  } else if (algorithm == "grid") {
    made = internal::MakeGridSampler(settings, space, seed);
  } else if (algorithm == "sobol") {
    made = internal::MakeSobolSampler(settings, space, seed);
  } else if (algorithm == "tpe") {
    made = internal::MakeTpeSampler(settings, space, seed, false);
  } else if (algorithm == "multivariate-tpe") {
    made = internal::MakeTpeSampler(settings, space, seed, true);
  } else if (algorithm == "cmaes") {
    made = internal::MakeCmaEsSampler(settings, space, seed);
  } else if (algorithm == "bayesianoptimization") {
    made = internal::MakeGpSampler(settings, space, seed);
  } else if (algorithm == "hyperband") {
    made = internal::MakeHyperbandSampler(settings, space, seed);
  } else {
    std::string list;
    for (const std::string& n : SamplerNames()) list += (list.empty() ? "" : ", ") + n;
    return InvalidArgument("unknown algorithm '" + std::string(algorithm) + "' (known: " + list + ")",
                           "spec.algorithm.algorithmName");
  }
  if (!made.ok()) return made.status();
  RETURN_IF_ERROR(settings.Finish());
  return made;
}

}  // namespace ferry::tuning
