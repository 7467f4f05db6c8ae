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

// Rosenbrock in any dimension (the benchmark uses [-5, 10]^10); minimum 0 at (1, ..., 1).
double Rosenbrock(const std::vector<double>& x);

// Ackley in any dimension on [-32.768, 32.768]^d; minimum 0 at the origin.
double Ackley(const std::vector<double>& x);

// Levy in any dimension on [-10, 10]^d; minimum 0 at (1, ..., 1).
double Levy(const std::vector<double>& x);

// The upper median (v[n / 2] after sorting).
double Median(std::vector<double> v);

}  // namespace ferry::tuning::testing
