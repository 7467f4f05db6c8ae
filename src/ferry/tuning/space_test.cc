#include "ferry/tuning/space.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "ferry/tuning/sampler.h"
#include "ferry/tuning/testing/params.h"

namespace ferry::tuning {
namespace {

using testing::Categorical;
using testing::Discrete;
using testing::Double;
using testing::Int;

using ::testing::HasSubstr;

TEST(SearchSpaceTest, ValidateNamesTheField) {
  struct Case {
    ParamSpec p;
    std::string field;
    std::string words;
  };
  std::vector<Case> cases = {
      {Double("lr", 2, 1), "spec.parameters[0].feasibleSpace.min", "greater than max"},
      {Double("lr", 0, 1, 0, Distribution::kLogUniform), "spec.parameters[0].feasibleSpace.min", "positive"},
      {Int("n", 1.5, 4), "spec.parameters[0].feasibleSpace.min", "integer"},
      {Int("n", 1, 4, 0.5), "spec.parameters[0].feasibleSpace.step", "integer"},
      {Double("x", 0, 1, 2), "spec.parameters[0].feasibleSpace.step", "larger than the range"},
      {Double("x", 0, 1, -1), "spec.parameters[0].feasibleSpace.step", "positive"},
      {Double("x", 0, std::nan("")), "spec.parameters[0].feasibleSpace.max", "finite"},
      {Categorical("opt", {}), "spec.parameters[0].feasibleSpace.list", "empty"},
      {Categorical("opt", {"a", "a"}), "spec.parameters[0].feasibleSpace.list[1]", "twice"},
      {Discrete("k", {1, 2, 2}), "spec.parameters[0].feasibleSpace.list[2]", "twice"},
      {Double("", 0, 1), "spec.parameters[0].name", "empty"},
  };
  for (const Case& c : cases) {
    SearchSpace s{{c.p}};
    Status st = s.Validate();
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.field;
    EXPECT_EQ(st.field(), c.field);
    EXPECT_THAT(st.message(), HasSubstr(c.words));
  }
  SearchSpace dup{{Double("x", 0, 1), Double("x", 0, 2)}};
  EXPECT_EQ(dup.Validate("distributions").field(), "distributions[1].name");
  EXPECT_EQ(SearchSpace{}.Validate().code(), StatusCode::kInvalidArgument);
  SearchSpace ok{{Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform), Int("layers", 1, 8),
                  Categorical("opt", {"sgd", "adam"}), Discrete("batch", {16, 32, 64}), Double("d", 0, 1, 0.25)}};
  EXPECT_TRUE(ok.Validate().ok()) << ok.Validate().ToString();
}

TEST(SearchSpaceTest, FromInternalAlwaysGivesAFeasibleValue) {
  SearchSpace s{{Double("lr", 1e-4, 1e-1, 0, Distribution::kLogUniform), Int("layers", 1, 8),
                 Categorical("opt", {"sgd", "adam", "rmsprop"}), Discrete("batch", {16, 32, 64}),
                 Double("d", 0, 1, 0.25), Int("big", 10, 1000, 10, Distribution::kLogUniform)}};
  ASSERT_TRUE(s.Validate().ok());
  std::mt19937_64 rng = TrialRng(1, 0);
  for (std::size_t i = 0; i < s.params.size(); ++i) {
    auto [lo, hi] = s.InternalBounds(i);
    ASSERT_LT(lo, hi) << s.params[i].name;
    for (double x : {lo - 100, lo, hi, hi + 100, (lo + hi) / 2, std::nan("")}) {
      EXPECT_TRUE(s.Contains(i, s.FromInternal(i, x))) << s.params[i].name << " " << x;
    }
    std::uniform_real_distribution<double> u(lo, hi);
    for (int k = 0; k < 200; ++k) {
      double v = s.FromInternal(i, u(rng));
      EXPECT_TRUE(s.Contains(i, v)) << s.params[i].name << " " << v;
      // Round trip: the internal coordinate of a feasible value maps back to it.
      EXPECT_DOUBLE_EQ(s.FromInternal(i, s.ToInternal(i, v)), v) << s.params[i].name;
    }
  }
  EXPECT_EQ(s.Format(2, 1), "adam");
  EXPECT_EQ(s.Format(1, 3), "3");
  EXPECT_EQ(s.Format(4, 0.25), "0.25");
  EXPECT_EQ(*s.Parse(2, "rmsprop"), 2);
  EXPECT_EQ(*s.Parse(3, "32"), 32);
  EXPECT_EQ(s.Parse(3, "33").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Parse(1, "x").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Parse(2, "adamw").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.params[4].Cardinality(), 5);
  EXPECT_EQ(s.params[1].Cardinality(), 8);
  EXPECT_FALSE(s.params[0].Cardinality().has_value());
}

TEST(SearchSpaceTest, TrialRngDependsOnSeedNumberAndSalt) {
  EXPECT_EQ(TrialRng(1, 5)(), TrialRng(1, 5)());
  EXPECT_NE(TrialRng(1, 5)(), TrialRng(2, 5)());
  EXPECT_NE(TrialRng(1, 5)(), TrialRng(1, 6)());
  EXPECT_NE(TrialRng(1, 5, 0)(), TrialRng(1, 5, 1)());
}

TEST(AlgorithmSettingsTest, TypedReadsAndUnknownNames) {
  AlgorithmSettings s(std::map<std::string, std::string>{{"n", "5"}, {"x", "0.5"}, {"b", "true"}, {"c", "ipop"}, {"typo", "1"}});
  EXPECT_EQ(*s.Int("n", 1, 1, 10), 5);
  EXPECT_EQ(*s.Double("x", 0, 0, 1), 0.5);
  EXPECT_TRUE(*s.Bool("b", false));
  EXPECT_EQ(*s.Choice("c", "none", {"none", "ipop", "bipop"}), "ipop");
  EXPECT_EQ(*s.Int("absent", 7, 0, 10), 7);
  Status unknown = s.Finish();
  EXPECT_EQ(unknown.field(), "spec.algorithm.algorithmSettings[typo]");
  AlgorithmSettings bad(std::map<std::string, std::string>{{"n", "five"}, {"m", "50"}});
  EXPECT_EQ(bad.Int("n", 1, 1, 10).status().field(), "spec.algorithm.algorithmSettings[n]");
  EXPECT_THAT(bad.Int("m", 1, 1, 10).status().message(), HasSubstr("between 1 and 10"));
}

TEST(MakeSamplerTest, UnknownAlgorithmNamesTheField) {
  SearchSpace s{{Double("x", 0, 1)}};
  auto made = MakeSampler("annealing", {}, s, 1);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().field(), "spec.algorithm.algorithmName");
  EXPECT_THAT(made.status().message(), HasSubstr("annealing"));
  EXPECT_THAT(made.status().message(), HasSubstr("multivariate-tpe"));
}

}  // namespace
}  // namespace ferry::tuning
