#pragma once
// Analytic test objectives for the samplers' quality tests (and their known
// optima), and small statistics over seeds.
//
// Thread-safety: pure functions.
#include <vector>

namespace ferry::tuning::testing {

// Branin on x1 in [-5, 10], x2 in [0, 15]; minimum kBraninMin.
double Branin(const std::vector<double>& x);
inline constexpr double kBraninMin = 0.397887357729739;

// Hartmann 6-D on [0, 1]^6; minimum about -3.32237.
double Hartmann6(const std::vector<double>& x);

// The upper median (v[n / 2] after sorting).
double Median(std::vector<double> v);

}  // namespace ferry::tuning::testing
