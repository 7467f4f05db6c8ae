#pragma once
// Env: the one door to the clock and to randomness, after LevelDB's Env.
// Callers take an Env* so tests can pass a FakeEnv with a settable clock and
// deterministic ids. Env::Default() is thread-safe and lives forever.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace ferry {

class Env {
 public:
  virtual ~Env() = default;

  // Wall clock, microseconds since the Unix epoch.
  virtual std::int64_t NowMicros() = 0;
  // Monotonic clock for durations and deadlines.
  virtual std::chrono::steady_clock::time_point SteadyNow() = 0;
  // Random RFC 4122 version-4 UUID, lower case.
  virtual std::string NewUuid() = 0;
  // Uniform random 64-bit value.
  virtual std::uint64_t Random64() = 0;

  static Env* Default();
};

// Deterministic Env for tests: time moves only when told, ids count up.
// Thread-safe.
class FakeEnv : public Env {
 public:
  explicit FakeEnv(std::int64_t start_micros = 1'700'000'000'000'000) : now_(start_micros) {}

  std::int64_t NowMicros() override;
  std::chrono::steady_clock::time_point SteadyNow() override;
  std::string NewUuid() override;
  std::uint64_t Random64() override;

  void AdvanceMicros(std::int64_t delta);

 private:
  std::mutex mu_;
  std::int64_t now_;
  std::int64_t steady_ = 0;
  std::uint64_t counter_ = 0;
  std::mt19937_64 rng_{42};
};

}  // namespace ferry
