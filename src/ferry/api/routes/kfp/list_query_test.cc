// KFP list semantics on plain JSON items: filter predicates, ordering with
// id tie-breaks, page tokens (including hostile ones).

#include <gtest/gtest.h>

#include "ferry/api/routes/kfp/common_internal.h"

namespace ferry::api::kfp {
namespace {

const ListFields kFields = {
    {"id", {"id"}},
    {"name", {"name"}},
    {"n", {"nested.n", FieldKind::kNumber}},
    {"created_at", {"created_at", FieldKind::kTime}},
};

std::vector<Json> Items() {
  return {{{"id", "1"}, {"name", "b"}, {"nested", {{"n", 3}}}, {"created_at", "2024-01-01T00:00:01Z"}},
          {{"id", "2"}, {"name", "a"}, {"nested", {{"n", 1}}}, {"created_at", "2024-01-01T00:00:02Z"}},
          {{"id", "3"}, {"name", "a"}, {"nested", {{"n", 2}}}, {"created_at", "2024-01-01T00:00:03Z"}}};
}

HttpRequest Request(std::vector<std::pair<std::string, std::string>> query) {
  HttpRequest r;
  r.method = "GET";
  r.query = std::move(query);
  return r;
}

std::vector<std::string> Ids(const ListPage& page) {
  std::vector<std::string> ids;
  for (const Json& j : page.items) ids.push_back(j["id"]);
  return ids;
}

TEST(KfpListQueryTest, SortsWithIdTieBreakAndPages) {
  auto q = ParseListQuery(Request({{"sort_by", "name"}, {"page_size", "2"}}), kFields, "created_at");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ListPage page = ApplyListQuery(Items(), *q, "id");
  EXPECT_EQ(Ids(page), (std::vector<std::string>{"2", "3"}));
  EXPECT_EQ(page.total_size, 3);
  ASSERT_FALSE(page.next_page_token.empty());
  auto q2 = ParseListQuery(Request({{"page_token", page.next_page_token}, {"page_size", "2"}}), kFields,
                           "created_at");
  ASSERT_TRUE(q2.ok());
  ListPage rest = ApplyListQuery(Items(), *q2, "id");
  EXPECT_EQ(Ids(rest), (std::vector<std::string>{"1"}));
  EXPECT_TRUE(rest.next_page_token.empty());

  auto desc = ParseListQuery(Request({{"sort_by", "n desc"}}), kFields, "created_at");
  ASSERT_TRUE(desc.ok());
  EXPECT_EQ(Ids(ApplyListQuery(Items(), *desc, "id")), (std::vector<std::string>{"1", "3", "2"}));
  auto by_default = ParseListQuery(Request({}), kFields, "created_at desc");
  ASSERT_TRUE(by_default.ok());
  EXPECT_EQ(Ids(ApplyListQuery(Items(), *by_default, "id")), (std::vector<std::string>{"3", "2", "1"}));
}

TEST(KfpListQueryTest, HostileTokensNeverCrash) {
  // {"o": INT64_MAX, ...}: past the end, an empty page.
  auto q =
      ParseListQuery(Request({{"page_token", "eyJvIjo5MjIzMzcyMDM2ODU0Nzc1ODA3LCJzIjoibmFtZSIsImYiOiIifQ"}}),
                     kFields, "created_at");
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  ListPage page = ApplyListQuery(Items(), *q, "id");
  EXPECT_TRUE(page.items.empty());
  EXPECT_EQ(page.total_size, 3);
  EXPECT_TRUE(page.next_page_token.empty());
  // A negative offset, bad base64, base64 of junk.
  for (const char* token : {"eyJvIjotMSwicyI6Im5hbWUiLCJmIjoiIn0", "!!!", "bm90IGpzb24", "e30"}) {
    auto bad = ParseListQuery(Request({{"page_token", token}}), kFields, "created_at");
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(bad.status().field(), "page_token");
  }
  // page_size beyond the maximum is capped, 0 is the default.
  EXPECT_EQ(ParseListQuery(Request({{"page_size", "100000"}}), kFields, "name")->page_size, kMaxPageSize);
  EXPECT_EQ(ParseListQuery(Request({{"page_size", "0"}}), kFields, "name")->page_size, kDefaultPageSize);
  EXPECT_FALSE(ParseListQuery(Request({{"page_size", "99999999999999999999"}}), kFields, "name").ok());
}

TEST(KfpListQueryTest, Predicates) {
  auto check = [](const std::string& filter, std::vector<std::string> want) {
    auto predicates = ParseFilter(filter, kFields);
    ASSERT_TRUE(predicates.ok()) << filter << ": " << predicates.status().ToString();
    std::vector<std::string> got;
    for (const Json& item : Items())
      if (Matches(item, *predicates)) got.push_back(item["id"]);
    EXPECT_EQ(got, want) << filter;
  };
  check(R"({"predicates":[{"key":"name","operation":"EQUALS","string_value":"a"}]})", {"2", "3"});
  check(R"({"predicates":[{"key":"name","operation":2,"stringValue":"a"}]})", {"1"});
  check(R"({"predicates":[{"key":"n","operation":"GREATER_THAN_EQUALS","int_value":2}]})", {"1", "3"});
  check(R"({"predicates":[{"key":"n","operation":"LESS_THAN","long_value":"2"}]})", {"2"});
  check(R"({"predicates":[{"key":"n","operation":"IN","int_values":{"values":[1,3]}}]})", {"1", "2"});
  check(R"({"predicates":[{"key":"created_at","operation":"LESS_THAN_EQUALS",
            "timestamp_value":"2024-01-01T00:00:02Z"}]})",
        {"1", "2"});
  check(R"({"predicates":[{"key":"created_at","operation":"GREATER_THAN","int_value":1704067202}]})", {"3"});
  check(R"({"predicates":[{"key":"name","operation":"IS_SUBSTRING","string_value":""},
                          {"key":"n","operation":"NOT_EQUALS","int_value":1}]})",
        {"1", "3"});
  check("", {"1", "2", "3"});
  check(R"({})", {"1", "2", "3"});

  for (const char* bad : {
           R"([])",
           R"({"predicates":{}})",
           R"({"predicates":[1]})",
           R"({"extra":1})",
           R"({"predicates":[{"key":"name","operation":"NOPE","string_value":"a"}]})",
           R"({"predicates":[{"key":"name","operation":4,"string_value":"a"}]})",
           R"({"predicates":[{"key":"name","operation":"EQUALS"}]})",
           R"({"predicates":[{"key":"name","operation":"EQUALS","string_value":"a","int_value":1}]})",
           R"({"predicates":[{"key":"name","operation":"IN","string_value":"a"}]})",
           R"({"predicates":[{"key":"name","operation":"EQUALS","string_values":{"values":["a"]}}]})",
           R"({"predicates":[{"key":"n","operation":"IS_SUBSTRING","int_value":1}]})",
           R"({"predicates":[{"key":"n","operation":"EQUALS","string_value":"x"}]})",
           R"({"predicates":[{"key":"name","operation":"EQUALS","string_value":{}}]})",
           R"({"predicates":[{"key":5,"operation":"EQUALS","string_value":"a"}]})",
           R"({"predicates":[{"key":"name","operation":"IN","string_values":{"values":"a"}}]})",
       }) {
    auto parsed = ParseFilter(bad, kFields);
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(parsed.status().field().empty()) << bad;
  }
}

}  // namespace
}  // namespace ferry::api::kfp
