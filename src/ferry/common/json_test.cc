#include "ferry/common/json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ferry {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::string Nested(int depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

// Error messages travel in JSON error bodies, so they must be valid UTF-8.
void ExpectJsonSafe(const Status& status) {
  EXPECT_NO_THROW((void)Json(status.message()).dump()) << status.message();
}

// ---- JSON ----

TEST(ParseJsonTest, ParsesDocuments) {
  auto j = ParseJson(R"({"a": [1, 2.5, "x", true, null], "b": {"c": -3}})");
  ASSERT_TRUE(j.ok()) << j.status().ToString();
  EXPECT_EQ((*j)["a"][0], 1);
  EXPECT_EQ((*j)["a"][1], 2.5);
  EXPECT_EQ((*j)["a"][2], "x");
  EXPECT_TRUE((*j)["a"][4].is_null());
  EXPECT_EQ((*j)["b"]["c"], -3);
}

// Depth counts the containers above a value: with max_depth 8, a value may
// sit inside 8 containers but not 9.
TEST(ParseJsonTest, DepthLimitIsExact) {
  ParseLimits limits;
  limits.max_depth = 8;
  EXPECT_TRUE(ParseJson(std::string(8, '[') + "1" + std::string(8, ']'), limits).ok());
  auto deep = ParseJson(std::string(9, '[') + "1" + std::string(9, ']'), limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(deep.status().message(), HasSubstr("nesting deeper than 8 levels"));
  EXPECT_TRUE(ParseJson(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":1}}}}}}}})", limits).ok());
  EXPECT_FALSE(ParseJson(R"({"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":1}}}}}}}}})", limits).ok());
  EXPECT_FALSE(ParseJson(Nested(10, '[', ']'), limits).ok());
}

TEST(ParseJsonTest, DefaultDepthLimitStopsHugeNesting) {
  auto deep = ParseJson(std::string(1'000'000, '['));
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.status().message(), HasSubstr("nesting deeper than 64 levels"));
}

TEST(ParseJsonTest, NodeLimitCountsValues) {
  ParseLimits limits;
  limits.max_nodes = 5;
  EXPECT_TRUE(ParseJson("[1,2,3,4]", limits).ok());
  auto many = ParseJson("[1,2,3,4,5,6]", limits);
  ASSERT_FALSE(many.ok());
  EXPECT_THAT(many.status().message(), HasSubstr("more than 5 values"));
}

TEST(ParseJsonTest, SyntaxErrorsNamePosition) {
  auto bad = ParseJson("{\"a\": 1,\n \"b\": }");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("malformed JSON"));
  EXPECT_THAT(bad.status().message(), HasSubstr("line 2, column 7"));
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("json.exception")));
}

TEST(ParseJsonTest, RejectsWithoutThrowing) {
  const std::string inputs[] = {"",
                                "   ",
                                "{",
                                "[1,]",
                                "{\"a\" 1}",
                                "{'a': 1}",
                                "tru",
                                "1 2",
                                "\"unterminated",
                                "\"\xff\"",
                                "\xff\xfe",
                                "\"\\ud800\"",
                                std::string("\"a\0b\"", 5),
                                "1e999999",
                                "-",
                                "{\"a\":1}}",
                                "[\"\\x\"]"};
  for (const std::string& input : inputs) {
    SCOPED_TRACE(::testing::PrintToString(input));
    Result<Json> parsed = Json(nullptr);
    EXPECT_NO_THROW(parsed = ParseJson(input));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    ExpectJsonSafe(parsed.status());
  }
}

TEST(ParseJsonTest, RandomBytesNeverThrow) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\",:0123456789.eE+-truefalsn \\u\n\t\xff\xc3";
  for (int i = 0; i < 2000; ++i) {
    std::string input;
    int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) input += alphabet[rng() % alphabet.size()];
    Result<Json> parsed = Json(nullptr);
    EXPECT_NO_THROW(parsed = ParseJson(input)) << input;
    if (!parsed.ok()) ExpectJsonSafe(parsed.status());
  }
}

// ---- YAML scalars (core schema) ----

Json Scalar(const std::string& text) {
  auto doc = ParseYaml("v: " + text + "\n");
  EXPECT_TRUE(doc.ok()) << text << ": " << doc.status().ToString();
  return doc.ok() ? (*doc)["v"] : Json("<error>");
}

TEST(ParseYamlTest, CoreSchemaPlainScalars) {
  EXPECT_TRUE(Scalar("~").is_null());
  EXPECT_TRUE(Scalar("null").is_null());
  EXPECT_TRUE(Scalar("NULL").is_null());
  EXPECT_TRUE(Scalar("").is_null());
  EXPECT_EQ(Scalar("true"), true);
  EXPECT_EQ(Scalar("False"), false);
  EXPECT_EQ(Scalar("yes"), "yes");  // YAML 1.1 booleans stay strings
  EXPECT_EQ(Scalar("no"), "no");
  EXPECT_EQ(Scalar("on"), "on");
  EXPECT_EQ(Scalar("42"), 42);
  EXPECT_TRUE(Scalar("42").is_number_integer());
  EXPECT_EQ(Scalar("-17"), -17);
  EXPECT_EQ(Scalar("+12"), 12);
  EXPECT_EQ(Scalar("012"), 12);  // decimal in YAML 1.2, not octal
  EXPECT_EQ(Scalar("0o17"), 15);
  EXPECT_EQ(Scalar("0x1F"), 31);
  EXPECT_EQ(Scalar("0x1f"), 31);
  EXPECT_TRUE(Scalar("1.0").is_number_float());
  EXPECT_EQ(Scalar("1.0"), 1.0);
  EXPECT_EQ(Scalar(".5"), 0.5);
  EXPECT_EQ(Scalar("-2.5e-3"), -2.5e-3);
  EXPECT_EQ(Scalar("1e3"), 1000.0);
  EXPECT_EQ(Scalar(".inf"), std::numeric_limits<double>::infinity());
  EXPECT_EQ(Scalar("-.Inf"), -std::numeric_limits<double>::infinity());
  EXPECT_TRUE(std::isnan(Scalar(".nan").get<double>()));
  EXPECT_EQ(Scalar("9223372036854775807"), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(Scalar("-9223372036854775808"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(Scalar("18446744073709551615"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(Scalar("99999999999999999999999"), "99999999999999999999999");  // too big: kept as text
  EXPECT_EQ(Scalar("0b101"), "0b101");
  EXPECT_EQ(Scalar("1_000"), "1_000");
  EXPECT_EQ(Scalar("1.2.3"), "1.2.3");
  EXPECT_EQ(Scalar("v1"), "v1");
  EXPECT_EQ(Scalar("."), ".");
  EXPECT_EQ(Scalar("2024-01-01"), "2024-01-01");  // no timestamp type in the core schema
}

TEST(ParseYamlTest, QuotedScalarsAreStrings) {
  EXPECT_EQ(Scalar("\"123\""), "123");
  EXPECT_EQ(Scalar("'123'"), "123");
  EXPECT_EQ(Scalar("\"true\""), "true");
  EXPECT_EQ(Scalar("'null'"), "null");
  EXPECT_EQ(Scalar("\"~\""), "~");
  EXPECT_EQ(Scalar("\"\""), "");
  EXPECT_EQ(Scalar("!!str 42"), "42");
  EXPECT_EQ(Scalar("!!str"), "");
  EXPECT_EQ(Scalar("! 12"), "12");           // the non-specific tag "!" makes a scalar a string
  EXPECT_EQ(Scalar("|\n  123\n"), "123\n");  // block scalars are never resolved
  EXPECT_EQ(Scalar("\"a\\0b\""), std::string("a\0b", 3));
  EXPECT_EQ(Scalar("\"\\u00e9\\U0001F680\""), "\u00e9\U0001F680");
}

TEST(ParseYamlTest, TagsOtherThanStrAreRejected) {
  const std::pair<std::string, std::string> cases[] = {
      {"!!python/object/apply:os.system [\"ls\"]\n", "'!!python/object/apply:os.system'"},
      {"a: !foo x\n", "'!foo'"},
      {"a: !!int '3'\n", "'!!int'"},
      {"a: !!binary aGk=\n", "'!!binary'"},
      {"a: !!str [1]\n", "'!!str'"},
      {"!!map {a: 1}\n", "'!!map'"},
      {"--- !foo\na: 1\n", "'!foo'"},
      {"%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", "'tag:example.com,2000:x'"},
  };
  for (const auto& [input, tag] : cases) {
    SCOPED_TRACE(input);
    auto parsed = ParseYamlDocuments(input);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("unsupported YAML tag " + tag));
  }
  auto control = ParseYaml("a: !<x%01y> v\n");  // URI escapes can put any character into a tag
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().message(), HasSubstr("'x\\x01y'"));
  ExpectJsonSafe(control.status());
  auto seq = ParseYaml("a: ! [1, 2]\n");
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_EQ((*seq)["a"], Json::array({1, 2}));
}

TEST(ParseYamlTest, MapsSequencesAndFlowStyle) {
  auto doc = ParseYaml("a:\n  - 1\n  - x: [1, 2]\n    y: {k: v}\nb: 'q'\n");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(*doc, Json::parse(R"({"a": [1, {"x": [1, 2], "y": {"k": "v"}}], "b": "q"})"));
  auto keys = ParseYaml("1: a\ntrue: b\n");
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, Json::parse(R"({"1": "a", "true": "b"})"));  // keys are always strings
}

TEST(ParseYamlTest, EmptyDocumentIsNull) {
  auto doc = ParseYaml("");
  ASSERT_TRUE(doc.ok());
  EXPECT_TRUE(doc->is_null());
  auto comment = ParseYaml("# nothing here\n");
  ASSERT_TRUE(comment.ok());
  EXPECT_TRUE(comment->is_null());
}

TEST(ParseYamlTest, MultiDocumentStreams) {
  auto docs = ParseYamlDocuments("kind: A\n---\nkind: B\n---\n---\n# only a comment\n---\nkind: C\n...\n");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0]["kind"], "A");
  EXPECT_EQ((*docs)[1]["kind"], "B");
  EXPECT_EQ((*docs)[2]["kind"], "C");

  auto leading = ParseYamlDocuments("---\nkind: A\n");
  ASSERT_TRUE(leading.ok());
  EXPECT_EQ(leading->size(), 1u);
  auto none = ParseYamlDocuments("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());

  auto two = ParseYaml("a: 1\n---\nb: 2\n");
  ASSERT_FALSE(two.ok());
  EXPECT_THAT(two.status().message(), HasSubstr("expected one YAML document, got 2"));
}

TEST(ParseYamlTest, ErrorInLaterDocumentIsReported) {
  auto docs = ParseYamlDocuments("a: 1\n---\nb: [1, 2\n");
  ASSERT_FALSE(docs.ok());
  EXPECT_THAT(docs.status().message(), HasSubstr("malformed YAML"));
  EXPECT_THAT(docs.status().message(), MatchesRegex(".*line [0-9]+, column [0-9]+.*"));
}

TEST(ParseYamlTest, DuplicateKeysAreRejected) {
  auto dup = ParseYaml("spec:\n  a: 1\n  a: 2\n");
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(dup.status().message(), HasSubstr("duplicate key 'a' (line 3)"));
  // Keys equal after resolution count as duplicates too.
  EXPECT_FALSE(ParseYaml("a: 1\n'a': 2\n").ok());
}

TEST(ParseYamlTest, NonScalarKeysAreRejected) {
  for (const char* text : {"? [a, b]\n: 1\n", "{[1, 2]: x}\n", "? {a: 1}\n: 2\n"}) {
    auto doc = ParseYaml(text);
    ASSERT_FALSE(doc.ok()) << text;
    EXPECT_THAT(doc.status().message(), HasSubstr("mapping keys must be scalars")) << text;
  }
}

TEST(ParseYamlTest, AliasBombIsStoppedByTheNodeLimit) {
  // "Billion laughs": nine levels of nine aliases expand to 9^9 strings.
  std::string bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    std::string prev(1, static_cast<char>(c - 1));
    bomb += std::string(1, c) + ": &" + std::string(1, c) + " [";
    for (int k = 0; k < 9; ++k) bomb += (k ? ", *" : "*") + prev;
    bomb += "]\n";
  }
  auto doc = ParseYaml(bomb);
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("more than 1000000 nodes"));

  ParseLimits small;
  small.max_nodes = 50;
  EXPECT_FALSE(ParseYaml("a: &x [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: [*x, *x, *x, *x, *x]\n", small).ok());
  EXPECT_TRUE(ParseYaml("a: &x [1, 2]\nb: *x\n", small).ok());
}

TEST(ParseYamlTest, AliasesExpandToCopies) {
  auto doc = ParseYaml("base: &b {cpu: 1}\nuse: *b\n");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ((*doc)["use"], Json::parse(R"({"cpu": 1})"));
  auto redefined = ParseYaml("a: &x 1\nb: &x 2\nc: *x\n");
  ASSERT_TRUE(redefined.ok()) << redefined.status().ToString();
  EXPECT_EQ((*redefined)["c"], 2);  // an alias names the latest node with that anchor
}

TEST(ParseYamlTest, AliasesAsKeys) {
  auto doc = ParseYaml("a: &k name\nn: &n 1.0\n*k : 1\n*n : 2\n");
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(*doc, Json::parse(R"({"a": "name", "n": 1.0, "name": 1, "1.0": 2})"));
  auto map_key = ParseYaml("a: &m {x: 1}\n? *m\n: 2\n");
  ASSERT_FALSE(map_key.ok());
  EXPECT_THAT(map_key.status().message(), HasSubstr("mapping keys must be scalars (line 2)"));
  auto duplicate = ParseYaml("a: &k b\nb: 1\n*k : 2\n");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(duplicate.status().message(), HasSubstr("duplicate key 'b' (line 3)"));
}

TEST(ParseYamlTest, UnknownAliasesAreRejected) {
  for (const char* input : {"a: *undefined\n", "a: &x [*x]\n", "a: &x 1\n---\nb: *x\n"}) {
    SCOPED_TRACE(input);
    auto parsed = ParseYamlDocuments(input);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.status().message(), HasSubstr("unknown alias '*"));
  }
}

// The copy kept of an anchored node for its aliases costs nodes too, so
// anchors nested in each other cannot multiply memory beyond the limit.
TEST(ParseYamlTest, AnchoredNodesAreChargedForTheirCopy) {
  ParseLimits limits;
  limits.max_nodes = 10;
  EXPECT_TRUE(ParseYaml("a: [1, 2, 3, 4]\n", limits).ok());   // 7 nodes
  auto anchored = ParseYaml("a: &x [1, 2, 3, 4]\n", limits);  // 7 + a copy of 5
  ASSERT_FALSE(anchored.ok());
  EXPECT_THAT(anchored.status().message(), HasSubstr("more than 10 nodes"));

  std::string items;
  for (int i = 0; i < 20'000; ++i) items += "1,";
  std::string plain = "[" + items + "1]", nested = plain;
  for (int level = 0; level < 60; ++level) {
    plain = "[" + plain + "]";
    nested = "&a" + std::to_string(level) + " [" + nested + "]";
  }
  EXPECT_TRUE(ParseYaml(plain).ok());
  auto copies = ParseYaml(nested);
  ASSERT_FALSE(copies.ok());
  EXPECT_THAT(copies.status().message(), HasSubstr("more than 1000000 nodes"));
}

TEST(ParseYamlTest, DepthLimit) {
  ParseLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(ParseYaml("[[[[1]]]]", limits).ok());
  auto deep = ParseYaml("[[[[[1]]]]]", limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.status().message(), HasSubstr("nesting deeper than 4 levels"));
}

TEST(ParseYamlTest, HugeNestingDoesNotCrash) {
  for (int depth : {1'000, 100'000}) {
    auto deep = ParseYaml(std::string(depth, '[') + std::string(depth, ']'));
    ASSERT_FALSE(deep.ok()) << depth;
    ExpectJsonSafe(deep.status());
    auto maps = ParseYaml(std::string(depth, '{') + std::string(depth, '}'));
    ASSERT_FALSE(maps.ok()) << depth;
    std::string block;
    for (int i = 0; i < depth; ++i) block += "- ";
    auto blocks = ParseYaml(block + "x\n");
    ASSERT_FALSE(blocks.ok()) << depth;
    EXPECT_THAT(blocks.status().message(), HasSubstr("nesting deeper than 64 levels"));
  }
}

TEST(ParseYamlTest, GarbageAndTabsGiveErrorsWithPosition) {
  const char* inputs[] = {"a:\n\tb: 1\n", "key: [1, 2\n", "{unclosed: 1\n", "a: *undefined\n",
                          "a: b: c\n",    "@reserved\n",  "\"\\q\"\n",      "a:\n  - b\n c: d\n"};
  for (const char* input : inputs) {
    SCOPED_TRACE(input);
    Result<Json> parsed = Json(nullptr);
    EXPECT_NO_THROW(parsed = ParseYaml(input));
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr("malformed YAML"));
    ExpectJsonSafe(parsed.status());
  }
  auto tab = ParseYaml("a:\n\tb: 1\n");
  EXPECT_THAT(tab.status().message(), HasSubstr("line 2"));
}

// Streams on which yaml-cpp 0.7, Ferry's earlier parser, allocated until the
// process died (jbeder/yaml-cpp#1319).
TEST(ParseYamlTest, StreamsThatStalledTheParserAreRejected) {
  for (const char* input : {",\n", ",\n|\n|.", " ,b\t}\n|\n|.  ", "a: 1\n---\n,\n"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(input)));
    auto parsed = ParseYamlDocuments(input);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.status().message(), HasSubstr("malformed YAML"));
  }
}

TEST(ParseYamlTest, ContentAfterADocumentNeedsASeparator) {
  for (const char* input : {"[1]\n[2]\n", "{a: 1}\n{b: 2}\n", "a: 1\n---\n[2]\n[3]\n", "a: 1\n... b: 2\n"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(input)));
    auto parsed = ParseYamlDocuments(input);
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(parsed.status().message(), HasSubstr("separate documents with '---'"));
  }
  // libyaml reads this one as a sequence that goes on wrongly.
  auto mixed = ParseYamlDocuments("- a\nb: c\n");
  ASSERT_FALSE(mixed.ok());
  EXPECT_THAT(mixed.status().message(), HasSubstr("line 2, column 1: did not find expected '-' indicator"));
  auto ended = ParseYamlDocuments("a: 1\n...\n# next\n\nb: 2\n");
  ASSERT_TRUE(ended.ok()) << ended.status().ToString();
  EXPECT_EQ(ended->size(), 2u);
  auto bom = ParseYamlDocuments(
      "\xEF\xBB\xBF"
      "a: 1\n---\nb: 2\n");
  ASSERT_TRUE(bom.ok()) << bom.status().ToString();
  EXPECT_EQ(bom->size(), 2u);
  auto crlf = ParseYamlDocuments("a: \"\xC3\xA9\"\r\n--- \r\nb: 2\r\n");
  ASSERT_TRUE(crlf.ok()) << crlf.status().ToString();
  EXPECT_EQ(crlf->size(), 2u);
}

// YAML 1.2 lets a document without "---" follow a "..." end marker.
TEST(ParseYamlTest, BareDocumentsAfterAnEndMarker) {
  const std::pair<std::string, std::string> cases[] = {
      {"a: 1\r\n... # end\r\nb: 2\r\n", R"([{"a": 1}, {"b": 2}])"},
      {"\xC3\xA9: 1\n...\nb: 2\n...\nc: 3\n", R"([{"\u00e9": 1}, {"b": 2}, {"c": 3}])"},
      {"...\nb: 2\n", R"([{"b": 2}])"},
      {"a: 1\n...\n...\nb: 2\n", R"([{"a": 1}, {"b": 2}])"},
      {"a: 1\n...\n---\nb: 2\n", R"([{"a": 1}, {"b": 2}])"},
      {"a: 1\n...\n  - x\n", R"([{"a": 1}, ["x"]])"},
      {"a: |\n  text\n...\nb: 2\n", R"([{"a": "text\n"}, {"b": 2}])"},
      {"a: 1\n...\n", R"([{"a": 1}])"},
  };
  for (const auto& [input, expected] : cases) {
    SCOPED_TRACE(::testing::PrintToString(input));
    auto parsed = ParseYamlDocuments(input);
    ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
    EXPECT_EQ(Json(*parsed), Json::parse(expected));
  }
  std::string many;
  for (int i = 0; i < 10'000; ++i) many += "x" + std::to_string(i) + "\n...\n";
  auto docs = ParseYamlDocuments(many);
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->size(), 10'000u);
  EXPECT_EQ(docs->back(), "x9999");

  auto directive = ParseYamlDocuments("a: 1\n...\n%YAML 1.2\nb: 2\n");  // a directive needs "---"
  ASSERT_FALSE(directive.ok());
  EXPECT_THAT(directive.status().message(), HasSubstr("line 4, column 1"));
  auto quoted = ParseYamlDocuments("key: \"x\n...\n\"\n");
  ASSERT_FALSE(quoted.ok());
  EXPECT_THAT(quoted.status().message(), HasSubstr("line 2, column 1: found unexpected document indicator"));
  auto later = ParseYamlDocuments("a: 1\n...\nb: [1\n");
  ASSERT_FALSE(later.ok());
  EXPECT_THAT(later.status().message(), HasSubstr("while parsing a flow sequence at line 3, column 4"));
}

TEST(ParseYamlTest, RejectsInvalidUtf8) {
  for (const std::string& input :
       {std::string("a: \xff\n"), std::string("\xc3: 1\n"), std::string("a: \"x\xed\xa0\x80\"\n")}) {
    SCOPED_TRACE(::testing::PrintToString(input));
    auto parsed = ParseYaml(input);
    ASSERT_FALSE(parsed.ok());
    ExpectJsonSafe(parsed.status());
  }
  auto positioned = ParseYaml("a: 1\nb: \xff\n");
  ASSERT_FALSE(positioned.ok());
  EXPECT_THAT(positioned.status().message(),
              HasSubstr("line 2, column 4: invalid leading UTF-8 octet (0xFF)"));
  auto control = ParseYaml("a: \x01\n");
  ASSERT_FALSE(control.ok());
  EXPECT_THAT(control.status().message(), HasSubstr("line 1, column 4: control characters are not allowed"));
}

TEST(ParseYamlTest, RandomBytesNeverThrow) {
  std::mt19937 rng(11);
  const std::string alphabet = "ab: -[]{},&*!|>'\"#%@`?\n\t \\~.0x1e\xff";
  for (int i = 0; i < 2000; ++i) {
    std::string input;
    int len = static_cast<int>(rng() % 40);
    for (int k = 0; k < len; ++k) input += alphabet[rng() % alphabet.size()];
    Result<std::vector<Json>> parsed = std::vector<Json>{};
    EXPECT_NO_THROW(parsed = ParseYamlDocuments(input)) << input;
    if (parsed.ok()) {
      for (const Json& doc : *parsed) EXPECT_NO_THROW((void)doc.dump()) << input;
    } else {
      ExpectJsonSafe(parsed.status());
    }
  }
}

// ---- ToYaml ----

void ExpectRoundTrip(const Json& value) {
  std::string yaml = ToYaml(value);
  auto back = ParseYaml(yaml);
  ASSERT_TRUE(back.ok()) << back.status().ToString() << "\n" << yaml;
  EXPECT_EQ(*back, value) << yaml;
}

TEST(ToYamlTest, RoundTripsStringsThatLookLikeOtherTypes) {
  for (const char* s :
       {"true", "false", "True", "null",  "Null", "~",   "",   "123", "-5",  "0x1F", "0o7", "1.0",
        ".5",   "1e3",   ".inf", "-.inf", ".nan", "yes", "no", "on",  "off", "y",    "n"}) {
    SCOPED_TRACE(s);
    ExpectRoundTrip(Json(s));
    ExpectRoundTrip(Json{{"k", s}});
    ExpectRoundTrip(Json{{s, "v"}});
    ExpectRoundTrip(Json::array({s}));
  }
}

// YAML 1.1 readers such as PyYAML, and the go-yaml behind kubectl, take
// these for booleans, numbers or dates when plain.
TEST(ToYamlTest, QuotesWhatYaml11WouldNotReadAsAString) {
  for (const char* s : {"yes", "No", "on", "OFF", "y", "N", "1_000", "12:30", "2024-01-01",
                        "2024-01-01T10:00:00Z", "+1_0", "-.5_0", "0b101", "=", "<<"}) {
    EXPECT_EQ(ToYaml(Json(s)), "\"" + std::string(s) + "\"\n");
  }
  for (const char* s : {"yesterday", "onion", "v1", "1st", "1.0.0-beta", "abc", "=="}) {
    EXPECT_EQ(ToYaml(Json(s)), std::string(s) + "\n");
  }
}

TEST(ToYamlTest, RoundTripsStringsWithYamlSyntax) {
  for (const char* s : {"a: b",
                        "- item",
                        "# not a comment",
                        "key:",
                        "[1, 2]",
                        "{a: 1}",
                        "*alias",
                        "&anchor",
                        "!tag",
                        "%directive",
                        "@at",
                        "`tick",
                        "|",
                        ">",
                        "'single'",
                        "\"double\"",
                        "a #b",
                        " leading space",
                        "trailing space ",
                        "---",
                        "...",
                        "? q",
                        "tab\there",
                        "back\\slash",
                        "C:\\path",
                        "\x01control",
                        "bell\a",
                        "del\x7F",
                        "c1\xC2\x80\xC2\x9F",
                        "nel\xC2\x85next",
                        "ls\xE2\x80\xA8next",
                        "ps\xE2\x80\xA9next",
                        "\xEF\xBB\xBF"
                        "bom",
                        "nonchar\xEF\xBF\xBE",
                        "emoji \xF0\x9F\x9A\x80",
                        "- ",
                        ":",
                        "a:b",
                        "http://example.com/a#b",
                        "-1x",
                        " ",
                        "\t"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(s)));
    ExpectRoundTrip(Json(s));
    ExpectRoundTrip(Json{{"k", s}});
    ExpectRoundTrip(Json{{s, 1}});
  }
}

TEST(ToYamlTest, RoundTripsNulAndLongText) {
  ExpectRoundTrip(Json(std::string("a\0b", 3)));
  ExpectRoundTrip(Json{{std::string("k\0", 2), "v"}});
  const std::string long_key(200, 'k');
  ExpectRoundTrip(Json{{long_key, "v"}});
  const std::string words = std::string(100, 'x') + " " + std::string(100, 'y');
  EXPECT_EQ(ToYaml(Json{{"k", words}}), "k: " + words + "\n");  // long lines are not folded
}

// Strings drawn from what YAML treats specially round-trip as values, keys
// and list items.
TEST(ToYamlTest, RoundTripsRandomStrings) {
  std::vector<std::string> pieces = {
      "---", "...", "\xC2\x85", "\xE2\x80\xA8", "\xC3\xA9", "\xF0\x9F\x9A\x80", "\xEF\xBB\xBF"};
  for (char c : std::string_view("ax01e. \n\r\t:-#'\"\\|>~[{,?&*!%@\x01\x7F")) pieces.emplace_back(1, c);
  std::mt19937 rng(13);
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    int len = static_cast<int>(rng() % 12);
    for (int k = 0; k < len; ++k) s += pieces[rng() % pieces.size()];
    SCOPED_TRACE(::testing::PrintToString(s));
    ExpectRoundTrip(Json(s));
    ExpectRoundTrip(Json{{s, s}, {"z", Json::array({s, 1})}});
  }
}

TEST(ToYamlTest, ReplacesInvalidUtf8) {
  auto back = ParseYaml(ToYaml(Json{{std::string("k\xff"), std::string("a\xc3")}}));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, Json::parse("{\"k\\ufffd\": \"a\\ufffd\"}"));
}

TEST(ToYamlTest, RoundTripsMultiLineStrings) {
  for (const char* s :
       {"line1\nline2", "line1\nline2\n", "two trailing\n\n", "\nleading newline", "  indented first\nsecond",
        "a\n  b\n    c\n", "only\n", "\n", "crlf\r\nline", "trailing spaces  \nnext"}) {
    SCOPED_TRACE(::testing::PrintToString(std::string(s)));
    ExpectRoundTrip(Json(s));
    ExpectRoundTrip(Json{{"script", s}, {"after", 1}});
    ExpectRoundTrip(Json{{"list", {s, s}}});
  }
}

TEST(ToYamlTest, RoundTripsNumbersBooleansAndNull) {
  ExpectRoundTrip(Json{{"i", 42},
                       {"neg", -7},
                       {"zero", 0},
                       {"max", std::numeric_limits<std::int64_t>::max()},
                       {"min", std::numeric_limits<std::int64_t>::min()},
                       {"umax", std::numeric_limits<std::uint64_t>::max()},
                       {"f", 0.1},
                       {"whole", 2.0},
                       {"big", 1e300},
                       {"tiny", 5e-324},
                       {"negf", -1.5},
                       {"inf", std::numeric_limits<double>::infinity()},
                       {"ninf", -std::numeric_limits<double>::infinity()},
                       {"t", true},
                       {"fl", false},
                       {"n", nullptr}});
  EXPECT_TRUE(ParseYaml(ToYaml(Json(2.0)))->is_number_float());
  auto nan = ParseYaml(ToYaml(Json(std::numeric_limits<double>::quiet_NaN())));
  ASSERT_TRUE(nan.ok());
  EXPECT_TRUE(std::isnan(nan->get<double>()));
}

TEST(ToYamlTest, RoundTripsNestedAndEmptyContainers) {
  ExpectRoundTrip(Json::object());
  ExpectRoundTrip(Json::array());
  ExpectRoundTrip(
      Json::parse(R"({"a": {}, "b": [], "c": [{}, [], [[]], {"d": {}}], "e": {"f": {"g": []}}})"));
  ExpectRoundTrip(Json::parse(R"([[1, [2, [3]]], {"x": [{"y": null}]}])"));
}

TEST(ToYamlTest, RoundTripsUnicode) {
  ExpectRoundTrip(Json{{"模型", "数据 🚀"}, {"ünï", "çødé"}, {"emoji🙂", {"ß", "€"}}});
}

TEST(ToYamlTest, WritesBlockStyle) {
  EXPECT_EQ(
      ToYaml(Json::parse(R"({"apiVersion": "v1", "items": [1, "two"]})")),
      "apiVersion: v1\nitems:\n- 1\n- two\n");  // sequences in mappings unindented, as kubectl writes them
  EXPECT_EQ(ToYaml(Json("123")), "\"123\"\n");
  EXPECT_EQ(ToYaml(Json("v1.2.3-rc")), "v1.2.3-rc\n");
  EXPECT_EQ(ToYaml(Json{{"script", "set -e\nrun\n"}}), "script: |\n  set -e\n  run\n");
}

TEST(JsonDoubleTest, WritesProtoJsonSpecialValues) {
  EXPECT_EQ(JsonDouble(1.5), Json(1.5));
  EXPECT_EQ(JsonDouble(std::nan("")), Json("NaN"));
  EXPECT_EQ(JsonDouble(std::numeric_limits<double>::infinity()), Json("Infinity"));
  EXPECT_EQ(JsonDouble(-std::numeric_limits<double>::infinity()), Json("-Infinity"));
}

}  // namespace
}  // namespace ferry
