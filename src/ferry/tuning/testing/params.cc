#include "ferry/tuning/testing/params.h"

#include <utility>

namespace ferry::tuning::testing {

ParamSpec Double(std::string name, double min, double max, double step, Distribution d) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::kDouble;
  p.min = min;
  p.max = max;
  p.step = step;
  p.distribution = d;
  return p;
}

ParamSpec Int(std::string name, double min, double max, double step, Distribution d) {
  ParamSpec p = Double(std::move(name), min, max, step, d);
  p.type = ParamType::kInt;
  return p;
}

ParamSpec Discrete(std::string name, std::vector<double> values) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::kDiscrete;
  p.values = std::move(values);
  return p;
}

ParamSpec Categorical(std::string name, std::vector<std::string> choices) {
  ParamSpec p;
  p.name = std::move(name);
  p.type = ParamType::kCategorical;
  p.choices = std::move(choices);
  return p;
}

}  // namespace ferry::tuning::testing
