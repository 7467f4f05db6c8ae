#include "ferry/common/env.h"

#include <gtest/gtest.h>

#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ferry {
namespace {

bool IsUuidV4(const std::string& id) {
  static const std::regex kV4("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  return std::regex_match(id, kV4);
}

TEST(EnvTest, DefaultIsASingleton) { EXPECT_EQ(Env::Default(), Env::Default()); }

TEST(EnvTest, DefaultUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    std::string id = Env::Default()->NewUuid();
    ASSERT_TRUE(IsUuidV4(id)) << id;
    ASSERT_TRUE(seen.insert(id).second) << "duplicate " << id;
  }
}

TEST(EnvTest, DefaultIsSafeAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2'000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ids[t].push_back(Env::Default()->NewUuid());
        (void)Env::Default()->Random64();
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(EnvTest, DefaultClocksAreReal) {
  Env* env = Env::Default();
  EXPECT_GT(env->NowMicros(), std::int64_t{1'600'000'000} * 1'000'000);  // after September 2020
  auto a = env->SteadyNow();
  auto b = env->SteadyNow();
  EXPECT_LE(a, b);
}

TEST(FakeEnvTest, TimeMovesOnlyWhenTold) {
  FakeEnv env(5'000'000);
  EXPECT_EQ(env.NowMicros(), 5'000'000);
  EXPECT_EQ(env.NowMicros(), 5'000'000);
  auto steady = env.SteadyNow();
  env.AdvanceMicros(1'500);
  EXPECT_EQ(env.NowMicros(), 5'001'500);
  EXPECT_EQ(env.SteadyNow() - steady, std::chrono::microseconds(1'500));
  EXPECT_EQ(FakeEnv().NowMicros(), 1'700'000'000'000'000);
}

TEST(FakeEnvTest, IdsAndRandomnessAreDeterministic) {
  FakeEnv a, b;
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string id = a.NewUuid();
    EXPECT_EQ(id, b.NewUuid());
    EXPECT_TRUE(IsUuidV4(id)) << id;
    EXPECT_TRUE(seen.insert(id).second) << id;
    EXPECT_EQ(a.Random64(), b.Random64());
  }
  EXPECT_EQ(FakeEnv().NewUuid(), "00000001-0000-4000-8000-000000000001");
}

TEST(FakeEnvTest, IsUsableThroughTheInterface) {
  FakeEnv fake(42);
  Env* env = &fake;
  EXPECT_EQ(env->NowMicros(), 42);
  fake.AdvanceMicros(8);
  EXPECT_EQ(env->NowMicros(), 50);
}

}  // namespace
}  // namespace ferry
