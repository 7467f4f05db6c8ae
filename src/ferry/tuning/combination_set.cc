#include <cmath>

#include "ferry/tuning/samplers_internal.h"

namespace ferry::tuning::internal {

CombinationSet::CombinationSet(const SearchSpace& space, std::int64_t limit) : space_(space) {
  std::int64_t total = 1;
  for (const ParamSpec& p : space.params) {
    std::optional<std::int64_t> c = p.Cardinality();
    if (!c || *c <= 0 || total > limit / *c) {
      sizes_.clear();
      return;
    }
    sizes_.push_back(*c);
    total *= *c;
  }
  total_ = total;
}

std::int64_t CombinationSet::Encode(const std::vector<double>& params) const {
  if (total_ == 0 || params.size() != sizes_.size()) return -1;
  std::int64_t code = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::int64_t k = IndexOf(i, params[i]);
    if (k < 0) return -1;
    code = code * sizes_[i] + k;
  }
  return code;
}

void CombinationSet::Decode(std::int64_t code, std::vector<double>& params) const {
  params.resize(sizes_.size());
  for (std::size_t i = sizes_.size(); i-- > 0;) {
    params[i] = ValueAt(i, code % sizes_[i]);
    code /= sizes_[i];
  }
}

void CombinationSet::Update(const StudyView& study) {
  const std::size_t n = study.trials.size();
  const bool extends =
      processed_ <= n && (processed_ == 0 || (study.trials[processed_ - 1].number == last_number_ &&
                                              study.trials[processed_ - 1].params == last_params_));
  if (!extends) {
    taken_.clear();
    processed_ = 0;
  }
  for (; processed_ < n; ++processed_) {
    const std::int64_t code = Encode(study.trials[processed_].params);
    if (code >= 0) taken_.insert(code);
  }
  if (n > 0) {
    last_number_ = study.trials[n - 1].number;
    last_params_ = study.trials[n - 1].params;
  }
}

std::int64_t CombinationSet::IndexOf(std::size_t i, double v) const {
  const ParamSpec& p = space_.params[i];
  if (!space_.Contains(i, v)) return -1;
  std::int64_t k = -1;
  switch (p.type) {
    case ParamType::kCategorical:
      k = static_cast<std::int64_t>(v);
      break;
    case ParamType::kDiscrete:
      for (std::size_t j = 0; j < p.values.size(); ++j) {
        if (p.values[j] == v) k = static_cast<std::int64_t>(j);
      }
      break;
    case ParamType::kDouble:
    case ParamType::kInt: {
      const double s = p.type == ParamType::kInt && p.step <= 0 ? 1 : p.step;
      k = std::llround((v - p.min) / s);
      break;
    }
  }
  return k >= 0 && k < sizes_[i] ? k : -1;
}

double CombinationSet::ValueAt(std::size_t i, std::int64_t k) const {
  const ParamSpec& p = space_.params[i];
  switch (p.type) {
    case ParamType::kCategorical:
      return static_cast<double>(k);
    case ParamType::kDiscrete:
      return p.values[static_cast<std::size_t>(k)];
    case ParamType::kDouble:
    case ParamType::kInt: {
      const double s = p.type == ParamType::kInt && p.step <= 0 ? 1 : p.step;
      const double v = p.min + static_cast<double>(k) * s;
      return p.type == ParamType::kInt ? std::round(v) : v;
    }
  }
  return 0;
}

}  // namespace ferry::tuning::internal
