// Tests of the search grammar: every case of testdata/search_cases.json
// (what the pinned mlflow release decides for a corpus of filters and
// order_by clauses, written by testdata/gen_search_cases.py), plus page
// tokens, LikeMatch, size limits and hostile input.

#include "ferry/tracking/search_filter.h"

#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "ferry/common/json.h"

namespace ferry::tracking {
namespace {

const SearchGrammar& GrammarFor(const std::string& entity) {
  static const std::map<std::string, const SearchGrammar*> kGrammars = {
      {"runs", &RunsGrammar()},
      {"experiments", &ExperimentsGrammar()},
      {"registered_models", &RegisteredModelsGrammar()},
      {"model_versions", &ModelVersionsGrammar()},
      {"logged_models", &LoggedModelsGrammar()},
  };
  return *kGrammars.at(entity);
}

Json LoadCases() {
  std::ifstream in("src/ferry/tracking/testdata/search_cases.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Json> j = ParseJson(ss.str(), ParseLimits{.max_depth = 16, .max_nodes = 1'000'000});
  EXPECT_TRUE(j.ok()) << j.status().ToString();
  return j.ok() ? *j : Json::object();
}

const Json& Cases() {
  static const Json cases = LoadCases();
  return cases;
}

TermKind KindFromName(const std::string& name) {
  if (name == "metric") return TermKind::kMetric;
  if (name == "parameter") return TermKind::kParam;
  if (name == "tag") return TermKind::kTag;
  if (name == "dataset") return TermKind::kDataset;
  return TermKind::kAttribute;
}

Comparator ComparatorFromText(const std::string& text) {
  for (Comparator c : {Comparator::kEq, Comparator::kNe, Comparator::kLt, Comparator::kLe, Comparator::kGt,
                       Comparator::kGe, Comparator::kLike, Comparator::kILike, Comparator::kIn, Comparator::kNotIn,
                       Comparator::kIsNull, Comparator::kIsNotNull}) {
    if (ComparatorText(c) == text) return c;
  }
  ADD_FAILURE() << "unknown comparator " << text;
  return Comparator::kEq;
}

FilterTerm TermFromJson(const Json& j) {
  FilterTerm t;
  t.kind = KindFromName(j.at("kind").get<std::string>());
  t.key = j.at("key").get<std::string>();
  t.comparator = ComparatorFromText(j.at("comparator").get<std::string>());
  const Json& v = j.at("value");
  const std::string type = v.at("type").get<std::string>();
  if (type == "none") {
    t.value = std::monostate{};
  } else if (type == "string") {
    t.value = v.at("value").get<std::string>();
  } else if (type == "list") {
    t.value = v.at("value").get<std::vector<std::string>>();
  } else if (v.at("value").is_string()) {
    t.value = v.at("value").get<std::string>() == "inf" ? HUGE_VAL : -HUGE_VAL;
  } else {
    t.value = v.at("value").get<double>();
  }
  return t;
}

std::string Describe(const FilterTerm& t) {
  std::string out = std::string(TermKindName(t.kind)) + ":" + t.key + " " + std::string(ComparatorText(t.comparator)) + " ";
  if (const auto* d = std::get_if<double>(&t.value)) out += "double " + std::to_string(*d);
  if (const auto* s = std::get_if<std::string>(&t.value)) out += "'" + *s + "'";
  if (const auto* l = std::get_if<std::vector<std::string>>(&t.value)) {
    out += "(";
    for (const std::string& s : *l) out += "'" + s + "',";
    out += ")";
  }
  return out;
}

std::string Describe(const std::vector<FilterTerm>& terms) {
  std::string out = "[";
  for (const FilterTerm& t : terms) out += Describe(t) + "; ";
  return out + "]";
}

TEST(SearchFilterCorpusTest, EveryFilterCaseMatchesMlflow) {
  const Json& cases = Cases();
  ASSERT_TRUE(cases.contains("filters"));
  int checked = 0;
  for (const auto& [entity, list] : cases.at("filters").items()) {
    const SearchGrammar& g = GrammarFor(entity);
    for (const Json& c : list) {
      const std::string filter = c.at("filter").get<std::string>();
      SCOPED_TRACE(entity + ": " + filter);
      Result<std::vector<FilterTerm>> got = ParseFilter(filter, g);
      const Json& expect = c.at("expect");
      if (expect.is_string()) {
        ASSERT_EQ(expect.get<std::string>(), "error");
        EXPECT_FALSE(got.ok()) << "accepted as " << Describe(*got);
        if (!got.ok()) {
          EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
          EXPECT_FALSE(got.status().message().empty());
        }
      } else {
        std::vector<FilterTerm> want;
        for (const Json& t : expect) want.push_back(TermFromJson(t));
        if (!got.ok()) {
          ADD_FAILURE() << got.status().ToString();
        } else {
          EXPECT_EQ(*got, want) << "got " << Describe(*got) << "\nwant " << Describe(want);
        }
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 5 * 150);
}

TEST(SearchFilterCorpusTest, EveryOrderByCaseMatchesMlflow) {
  const Json& cases = Cases();
  ASSERT_TRUE(cases.contains("order_by"));
  int checked = 0;
  for (const auto& [entity, list] : cases.at("order_by").items()) {
    const SearchGrammar& g = GrammarFor(entity);
    for (const Json& c : list) {
      const std::string clause = c.at("clause").get<std::string>();
      SCOPED_TRACE(entity + ": " + clause);
      Result<OrderTerm> got = ParseOrderBy(clause, g);
      const Json& expect = c.at("expect");
      if (expect.is_string()) {
        EXPECT_FALSE(got.ok()) << "accepted as " << TermKindName(got->kind) << ":" << got->key;
        if (!got.ok()) {
          EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
        }
      } else {
        if (!got.ok()) {
          ADD_FAILURE() << got.status().ToString();
          continue;
        }
        OrderTerm want{KindFromName(expect.at("kind").get<std::string>()), expect.at("key").get<std::string>(),
                       expect.at("ascending").get<bool>()};
        EXPECT_EQ(*got, want) << "got " << TermKindName(got->kind) << ":" << got->key << " " << got->ascending;
      }
      ++checked;
    }
  }
  EXPECT_GE(checked, 5 * 40);
}

TEST(SearchFilterTest, ParsesTypicalRunFilter) {
  Result<std::vector<FilterTerm>> got =
      ParseFilter("metrics.acc > 0.9 and params.lr = '0.1' AND tags.`mlflow.runName` LIKE 'x%' "
                  "AND attributes.run_id IN ('a', \"b\") AND tags.t IS NOT NULL",
                  RunsGrammar());
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 5u);
  EXPECT_EQ((*got)[0], (FilterTerm{TermKind::kMetric, "acc", Comparator::kGt, 0.9}));
  EXPECT_EQ((*got)[1], (FilterTerm{TermKind::kParam, "lr", Comparator::kEq, std::string("0.1")}));
  EXPECT_EQ((*got)[2], (FilterTerm{TermKind::kTag, "mlflow.runName", Comparator::kLike, std::string("x%")}));
  EXPECT_EQ((*got)[3], (FilterTerm{TermKind::kAttribute, "run_id", Comparator::kIn,
                                   std::vector<std::string>{"a", "b"}}));
  EXPECT_EQ((*got)[4], (FilterTerm{TermKind::kTag, "t", Comparator::kIsNotNull, std::monostate{}}));
}

TEST(SearchFilterTest, ErrorMessagesNameTheProblem) {
  auto message = [](std::string_view filter, const SearchGrammar& g) {
    Result<std::vector<FilterTerm>> r = ParseFilter(filter, g);
    EXPECT_FALSE(r.ok()) << filter;
    return r.ok() ? std::string() : r.status().message();
  };
  EXPECT_NE(message("metrics.a > 1 OR metrics.b < 2", RunsGrammar()).find("Invalid clause(s)"), std::string::npos);
  EXPECT_NE(message("attributes.nope = 'x'", RunsGrammar()).find("Invalid attribute key 'nope'"), std::string::npos);
  EXPECT_NE(message("params.p = 1", RunsGrammar()).find("Expected a quoted string value"), std::string::npos);
  EXPECT_NE(message("metrics.m = 'x'", RunsGrammar()).find("Expected numeric value"), std::string::npos);
  EXPECT_NE(message("tags.k ~ 'v'", RunsGrammar()).find("Invalid comparator '~'"), std::string::npos);
  EXPECT_NE(message("foo.k = 'v'", RunsGrammar()).find("Invalid entity type 'foo'"), std::string::npos);
  EXPECT_NE(message("experiment_id = 'abc'", ExperimentsGrammar()).find("Experiment ID must be a valid integer"),
            std::string::npos);
  EXPECT_NE(message("name IN ()", RegisteredModelsGrammar()).find("empty list"), std::string::npos);
}

TEST(SearchFilterTest, OrderByListRejectsDuplicatesWhereMlflowDoes) {
  EXPECT_FALSE(ParseOrderByList({"metrics.a", "metrics.a DESC"}, RunsGrammar()).ok());
  EXPECT_FALSE(ParseOrderByList({"timestamp", "last_updated_timestamp DESC"}, RegisteredModelsGrammar()).ok());
  Result<std::vector<OrderTerm>> ok = ParseOrderByList({"metrics.a DESC", "params.b", "start_time"}, RunsGrammar());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, (std::vector<OrderTerm>{{TermKind::kMetric, "a", false},
                                         {TermKind::kParam, "b", true},
                                         {TermKind::kAttribute, "start_time", true}}));
  Result<std::vector<OrderTerm>> bad = ParseOrderByList({"name", "bogus DESC"}, ExperimentsGrammar());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("bogus"), std::string::npos);
  EXPECT_TRUE(ParseOrderByList({}, ExperimentsGrammar()).ok());
}

TEST(SearchFilterTest, LimitsAndHostileInputNeverCrash) {
  const std::vector<const SearchGrammar*> grammars = {&RunsGrammar(), &ExperimentsGrammar(),
                                                      &RegisteredModelsGrammar(), &ModelVersionsGrammar(),
                                                      &LoggedModelsGrammar()};
  const std::string big_parens(kMaxFilterBytes, '(');
  const std::string nested = std::string(20000, '(') + "tags.k = 'v'" + std::string(20000, ')');
  const std::string in_list = "name IN " + std::string(30000, '(') + "'a'" + std::string(30000, ')');
  std::string many_terms;
  while (many_terms.size() + 20 < kMaxFilterBytes) many_terms += "tags.k = 'v' AND ";
  many_terms += "tags.k = 'v'";
  const std::vector<std::string> inputs = {
      std::string("tags.k = 'a\0b'", 14),
      std::string("tags.k\0 = 'v'", 13),
      "tags.k = '\xff\xfe'",
      "tags.\xc3 = 'v'",
      big_parens,
      nested,
      in_list,
      many_terms,
      std::string(kMaxFilterBytes + 1, ' '),
      std::string(kMaxFilterBytes, '\''),
      std::string(kMaxFilterBytes, '`'),
      std::string(kMaxFilterBytes, '.'),
      std::string(kMaxFilterBytes, '-'),
      "name IN ('\\x4', '\\U00110000', '\\ud800', '\\N{DASH}', '\\",
      "tags.k = 'v' AND",
      "''''''''''",
      "tags.`",
      "tags.",
      ".",
      "IN",
      "NOT",
      "tags.k IS NOT",
  };
  for (const SearchGrammar* g : grammars) {
    for (const std::string& in : inputs) {
      Result<std::vector<FilterTerm>> r = ParseFilter(in, *g);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << g->entity;
      }
      Result<OrderTerm> o = ParseOrderBy(in, *g);
      if (!o.ok()) {
        EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument) << g->entity;
      }
    }
  }
  Result<std::vector<FilterTerm>> big = ParseFilter(many_terms, RunsGrammar());
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_GT(big->size(), 3000u);
  EXPECT_FALSE(ParseFilter(std::string(kMaxFilterBytes + 1, ' '), RunsGrammar()).ok());
  EXPECT_FALSE(ParseFilter(std::string("tags.k = 'a\0b'", 14), RunsGrammar()).ok());
  EXPECT_FALSE(ParseFilter("tags.k = '\xff'", RunsGrammar()).ok());
  EXPECT_FALSE(ParseFilter(nested, RunsGrammar()).ok());
}

TEST(LikeMatchTest, SqlLikeSemantics) {
  EXPECT_TRUE(LikeMatch("abc", "abc", false));
  EXPECT_FALSE(LikeMatch("abc", "ABC", false));
  EXPECT_TRUE(LikeMatch("abc", "ABC", true));
  EXPECT_TRUE(LikeMatch("abc", "a%", false));
  EXPECT_TRUE(LikeMatch("abc", "%c", false));
  EXPECT_TRUE(LikeMatch("abc", "%b%", false));
  EXPECT_TRUE(LikeMatch("abc", "%", false));
  EXPECT_TRUE(LikeMatch("", "%", false));
  EXPECT_TRUE(LikeMatch("", "", false));
  EXPECT_FALSE(LikeMatch("a", "", false));
  EXPECT_FALSE(LikeMatch("", "_", false));
  EXPECT_TRUE(LikeMatch("abc", "a_c", false));
  EXPECT_FALSE(LikeMatch("abbc", "a_c", false));
  EXPECT_TRUE(LikeMatch("abbc", "a%%c", false));
  EXPECT_TRUE(LikeMatch("a\nb", "a%b", false));
  EXPECT_TRUE(LikeMatch("mississippi", "%iss%ppi", false));
  EXPECT_FALSE(LikeMatch("mississippi", "%iss%ppx", false));
  EXPECT_TRUE(LikeMatch("caf\xc3\xa9", "caf_", false));    // '_' is one character, not one byte
  EXPECT_FALSE(LikeMatch("caf\xc3\xa9", "caf__", false));
  EXPECT_TRUE(LikeMatch("a.b*c", "a.b*c", false));          // no regex or glob meaning
  EXPECT_FALSE(LikeMatch("axbxc", "a.b*c", false));
  EXPECT_TRUE(LikeMatch("a\\b", "a\\b", false));            // backslash is not an escape
  EXPECT_TRUE(LikeMatch("MiXeD", "m%d", true));
  EXPECT_FALSE(LikeMatch("MiXeD", "m%d", false));
  const std::string long_text(5000, 'a');
  EXPECT_FALSE(LikeMatch(long_text, "%a%a%a%a%a%b", false));  // no exponential backtracking
  EXPECT_TRUE(LikeMatch(long_text, "%a%a%a%a%a%", false));
}

TEST(PageTokenTest, RoundTripsAndIsOpaque) {
  const std::string token = EncodePageToken(100, "runs|exp=1|filter=x");
  EXPECT_EQ(token.find("100"), std::string::npos);  // base64, not plain text
  Result<std::int64_t> back = DecodePageToken(token, "runs|exp=1|filter=x");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, 100);
  Result<std::int64_t> big = DecodePageToken(EncodePageToken(1LL << 40, ""), "");
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(*big, 1LL << 40);
}

TEST(PageTokenTest, RefusesTokensOfAnotherSearch) {
  const std::string token = EncodePageToken(10, "a");
  Result<std::int64_t> r = DecodePageToken(token, "b");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("different search"), std::string::npos);
}

TEST(PageTokenTest, RefusesMalformedTokens) {
  auto code = [](std::string_view token) {
    Result<std::int64_t> r = DecodePageToken(token, "q");
    return r.ok() ? StatusCode::kOk : r.status().code();
  };
  auto b64 = [](std::string_view json) {
    // Base64 of arbitrary text, to forge tokens EncodePageToken never makes.
    static constexpr char k[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    std::size_t i = 0;
    for (; i + 2 < json.size(); i += 3) {
      unsigned v = (unsigned char)json[i] << 16 | (unsigned char)json[i + 1] << 8 | (unsigned char)json[i + 2];
      out += {k[v >> 18 & 63], k[v >> 12 & 63], k[v >> 6 & 63], k[v & 63]};
    }
    if (json.size() - i == 1) {
      unsigned v = (unsigned char)json[i] << 16;
      out += {k[v >> 18 & 63], k[v >> 12 & 63], '=', '='};
    } else if (json.size() - i == 2) {
      unsigned v = (unsigned char)json[i] << 16 | (unsigned char)json[i + 1] << 8;
      out += {k[v >> 18 & 63], k[v >> 12 & 63], k[v >> 6 & 63], '='};
    }
    return out;
  };
  EXPECT_EQ(code("not base64!"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("abc"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("===="), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(std::string("ab\0d", 4)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("not json")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("[1,2]")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("{\"offset\": 5}")), StatusCode::kInvalidArgument);  // no search fingerprint
  EXPECT_EQ(code(b64("{\"offset\": \"5\"}")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("{\"offset\": -1}")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("{\"offset\": 0}")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("{\"offset\": 1.5}")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(b64("{\"offset\": 1e300}")), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(std::string(100000, 'A')), StatusCode::kInvalidArgument);
  // A well-formed token of the same search decodes.
  const std::string good = EncodePageToken(7, "q");
  EXPECT_EQ(code(good), StatusCode::kOk);
  // Flipping a byte of a valid token never crashes.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string t = good;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    (void)DecodePageToken(t, "q");
  }
}

}  // namespace
}  // namespace ferry::tracking
