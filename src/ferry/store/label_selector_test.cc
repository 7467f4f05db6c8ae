#include "ferry/store/label_selector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ferry::store {

void PrintTo(const LabelSelector::Requirement& r, std::ostream* os) {
  *os << r.key << " op=" << static_cast<int>(r.op) << " values=" << ::testing::PrintToString(r.values);
}

namespace {

using Op = LabelSelector::Op;
using ::testing::HasSubstr;

struct ParseCase {
  std::string text;
  std::vector<LabelSelector::Requirement> want;
};

TEST(LabelSelectorTest, ParsesEveryOperator) {
  const std::vector<ParseCase> cases = {
      {"", {}},
      {"   ", {}},
      {"a=b", {{"a", Op::kEquals, {"b"}}}},
      {"a==b", {{"a", Op::kEquals, {"b"}}}},
      {"a!=b", {{"a", Op::kNotEquals, {"b"}}}},
      {"a=", {{"a", Op::kEquals, {""}}}},
      {"a in (x,y)", {{"a", Op::kIn, {"x", "y"}}}},
      {"a in (y, x, y)", {{"a", Op::kIn, {"x", "y"}}}},
      {"a in (x,)", {{"a", Op::kIn, {"", "x"}}}},
      {"a notin (z)", {{"a", Op::kNotIn, {"z"}}}},
      {"a", {{"a", Op::kExists, {}}}},
      {"!a", {{"a", Op::kDoesNotExist, {}}}},
      {" ! a ", {{"a", Op::kDoesNotExist, {}}}},
      {"app.kubernetes.io/name = web , tier!=db,!canary, env in (prod,staging), zone notin (a),gpu",
       {{"app.kubernetes.io/name", Op::kEquals, {"web"}},
        {"tier", Op::kNotEquals, {"db"}},
        {"canary", Op::kDoesNotExist, {}},
        {"env", Op::kIn, {"prod", "staging"}},
        {"zone", Op::kNotIn, {"a"}},
        {"gpu", Op::kExists, {}}}},
      {"a=b,a=c", {{"a", Op::kEquals, {"b"}}, {"a", Op::kEquals, {"c"}}}},
      {"a\tin\n(\tx )", {{"a", Op::kIn, {"x"}}}},
  };
  for (const auto& c : cases) {
    Result<LabelSelector> s = LabelSelector::Parse(c.text);
    ASSERT_TRUE(s.ok()) << c.text << ": " << s.status().ToString();
    EXPECT_EQ(s->requirements(), c.want) << c.text;
    EXPECT_EQ(s->empty(), c.want.empty()) << c.text;
  }
}

TEST(LabelSelectorTest, ErrorsNameTheTermAndPosition) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a=b)", "unexpected ')' at 3"},
      {")", "unexpected ')' at 0, expected a label key"},
      {"a=b,", "unexpected end of selector at 4, expected a label key"},
      {",a", "unexpected ',' at 0"},
      {"a b", "unexpected 'b' at 2"},
      {"a in x", "unexpected 'x' at 5, expected '(' after 'in'"},
      {"a in (x", "unexpected end of selector at 7, expected ',' or ')'"},
      {"a in (x y)", "unexpected 'y' at 8"},
      {"a in ()", "'in' at 5 needs at least one value"},
      {"a notin ()", "'notin' at 8 needs at least one value"},
      {"a=(", "unexpected '(' at 2, expected a label value"},
      {"a=b=c", "unexpected '=' at 3"},
      {"!a=b", "unexpected '=' at 2"},
      {"!", "unexpected end of selector at 1, expected a label key"},
      {"a>1", "operator '>' at 1 is not supported"},
      {"a<1", "operator '<' at 1 is not supported"},
      {"in", "unexpected 'in' at 0, expected a label key"},
      {"A B=c", "unexpected 'B' at 2"},
      {"-a=b", "invalid key at 0"},
      {"a=-b", "invalid value at 2"},
      {"a/b/c=d", "invalid key at 0"},
      {"a=" + std::string(64, 'x'), "longer than 63 characters"},
      {"a in (ok, b@d)", "invalid value at 10"},
  };
  for (const auto& [text, want] : cases) {
    Result<LabelSelector> s = LabelSelector::Parse(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(s.status().message(), HasSubstr(want)) << text;
    EXPECT_THAT(s.status().message(), ::testing::StartsWith("labelSelector: ")) << text;
    EXPECT_EQ(s.status().field(), "labelSelector") << text;
  }
}

TEST(LabelSelectorTest, MatchesKubernetesSemantics) {
  const std::map<std::string, std::string> labels = {{"app", "web"}, {"tier", "front"}, {"empty", ""}};
  const std::vector<std::pair<std::string, bool>> cases = {
      {"", true},
      {"app=web", true},
      {"app==web", true},
      {"app=db", false},
      {"app!=db", true},
      {"app!=web", false},
      {"missing!=x", true},  // absent keys satisfy != and notin
      {"missing notin (x)", true},
      {"missing=x", false},
      {"missing in (x)", false},
      {"app in (db,web)", true},
      {"app in (db)", false},
      {"app notin (db)", true},
      {"app notin (web)", false},
      {"app", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"empty=", true},
      {"empty", true},
      {"empty in (,x)", true},
      {"app=web,tier=front", true},
      {"app=web,tier=back", false},
      {"app=web,app=db", false},
  };
  for (const auto& [text, want] : cases) {
    Result<LabelSelector> s = LabelSelector::Parse(text);
    ASSERT_TRUE(s.ok()) << text << ": " << s.status().ToString();
    EXPECT_EQ(s->Matches(labels), want) << text;
    Json object = {{"metadata", {{"labels", labels}}}};
    EXPECT_EQ(s->MatchesObject(object), want) << text;
  }
}

TEST(LabelSelectorTest, MatchesObjectToleratesOddShapes) {
  LabelSelector exists = *LabelSelector::Parse("app");
  LabelSelector absent = *LabelSelector::Parse("!app");
  const std::vector<Json> objects = {
      Json(),
      Json::array(),
      Json("x"),
      Json::object(),
      Json{{"metadata", 1}},
      Json{{"metadata", Json::object()}},
      Json{{"metadata", {{"labels", nullptr}}}},
      Json{{"metadata", {{"labels", {1, 2}}}}},
      Json{{"metadata", {{"labels", {{"app", 7}}}}}},  // a non-string value reads as absent
  };
  for (const Json& object : objects) {
    EXPECT_FALSE(exists.MatchesObject(object)) << object.dump();
    EXPECT_TRUE(absent.MatchesObject(object)) << object.dump();
  }
  EXPECT_TRUE(LabelSelector().MatchesObject(Json(42)));
}

// Whatever bytes arrive in ?labelSelector=, Parse returns (never crashes), and
// what it accepts holds only valid keys and values.
TEST(LabelSelectorTest, HostileInputNeverCrashes) {
  const std::string alphabet = "ab=!,() \t\nin notin/.-_<>Z9\x01\xff\"\\";
  std::mt19937 rng(7);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text;
    const int length = static_cast<int>(rng() % 24);
    for (int j = 0; j < length; ++j) text += alphabet[rng() % alphabet.size()];
    Result<LabelSelector> s = LabelSelector::Parse(text);
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << text;
      continue;
    }
    ++accepted;
    for (const auto& r : s->requirements()) {
      EXPECT_FALSE(r.key.empty()) << text;
      EXPECT_EQ(r.key.find_first_of(" \t\n=!,()<>"), std::string::npos) << text;
      for (const auto& v : r.values) EXPECT_EQ(v.find_first_of(" \t\n=!,()<>"), std::string::npos) << text;
    }
  }
  EXPECT_GT(accepted, 100);  // the generator also reaches the accepting paths

  const std::vector<std::string> big = {
      std::string(1 << 20, '('), std::string(1 << 20, ','),
      std::string(1 << 20, 'a'), "a in (" + std::string(1 << 20, ','),
      std::string(1 << 20, '!'), std::string("a=b\0c", 5),
  };
  for (const auto& text : big) EXPECT_FALSE(LabelSelector::Parse(text).ok());
}

}  // namespace
}  // namespace ferry::store
