#include "ferry/common/env.h"

#include <cstdio>

namespace ferry {
namespace {

std::string FormatUuid(std::uint64_t hi, std::uint64_t lo) {
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xFFFF),
                static_cast<unsigned>(hi & 0xFFFF), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

class PosixEnv : public Env {
 public:
  std::int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
  std::chrono::steady_clock::time_point SteadyNow() override {
    return std::chrono::steady_clock::now();
  }
  std::string NewUuid() override {
    std::lock_guard lock(mu_);
    return FormatUuid(rng_(), rng_());
  }
  std::uint64_t Random64() override {
    std::lock_guard lock(mu_);
    return rng_();
  }

 private:
  std::mutex mu_;
  std::mt19937_64 rng_{std::random_device{}() ^
                       (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv;
  return env;
}

std::int64_t FakeEnv::NowMicros() {
  std::lock_guard lock(mu_);
  return now_;
}

std::chrono::steady_clock::time_point FakeEnv::SteadyNow() {
  std::lock_guard lock(mu_);
  return std::chrono::steady_clock::time_point(std::chrono::microseconds(steady_));
}

std::string FakeEnv::NewUuid() {
  std::lock_guard lock(mu_);
  ++counter_;
  return FormatUuid(counter_ << 32, counter_);
}

std::uint64_t FakeEnv::Random64() {
  std::lock_guard lock(mu_);
  return rng_();
}

void FakeEnv::AdvanceMicros(std::int64_t delta) {
  std::lock_guard lock(mu_);
  now_ += delta;
  steady_ += delta;
}

}  // namespace ferry
