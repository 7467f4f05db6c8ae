#include "ferry/tuning/testing/functions.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ferry::tuning::testing {

double Branin(const std::vector<double>& x) {
  constexpr double kPi = std::numbers::pi;
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, t = 1 / (8 * kPi);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - 6;
  return u * u + 10 * (1 - t) * std::cos(x[0]) + 10;
}

double Hartmann6(const std::vector<double>& x) {
  static const double a[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double p[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double e = 0;
    for (int j = 0; j < 6; ++j) e += a[i][j] * (x[j] - p[i][j]) * (x[j] - p[i][j]);
    sum += alpha[i] * std::exp(-e);
  }
  return -sum;
}

double Rosenbrock(const std::vector<double>& x) {
  double sum = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    sum += 100 * a * a + b * b;
  }
  return sum;
}

// As in Surjanovic & Bingham's Virtual Library of Simulation Experiments
// (a = 20, b = 0.2, c = 2 pi), which BoTorch's test functions follow.
double Ackley(const std::vector<double>& x) {
  const double d = static_cast<double>(x.size());
  double squares = 0, cosines = 0;
  for (double v : x) {
    squares += v * v;
    cosines += std::cos(2 * std::numbers::pi * v);
  }
  return -20 * std::exp(-0.2 * std::sqrt(squares / d)) - std::exp(cosines / d) + 20 + std::numbers::e;
}

double Levy(const std::vector<double>& x) {
  constexpr double kPi = std::numbers::pi;
  const std::size_t d = x.size();
  auto w = [&](std::size_t i) { return 1 + (x[i] - 1) / 4; };
  const double w0 = w(0), wd = w(d - 1);
  double sum = std::sin(kPi * w0) * std::sin(kPi * w0);
  for (std::size_t i = 0; i + 1 < d; ++i) {
    const double wi = w(i), s = std::sin(kPi * wi + 1);
    sum += (wi - 1) * (wi - 1) * (1 + 10 * s * s);
  }
  const double s = std::sin(2 * kPi * wd);
  return sum + (wd - 1) * (wd - 1) * (1 + s * s);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace ferry::tuning::testing
