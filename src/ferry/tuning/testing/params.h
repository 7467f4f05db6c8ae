#pragma once
// Builders of search-space parameters for the tuning tests.
//
// Thread-safety: pure functions.
#include <string>
#include <vector>

#include "ferry/tuning/space.h"

namespace ferry::tuning::testing {

ParamSpec Double(std::string name, double min, double max, double step = 0,
                 Distribution d = Distribution::kUniform);
ParamSpec Int(std::string name, double min, double max, double step = 0, Distribution d = Distribution::kUniform);
ParamSpec Discrete(std::string name, std::vector<double> values);
ParamSpec Categorical(std::string name, std::vector<std::string> choices);

}  // namespace ferry::tuning::testing
