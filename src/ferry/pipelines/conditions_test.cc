// Tests of the CEL subset: literals, precedence, CEL's typing (numbers bound
// from parameters are doubles, as structpb makes them), short-circuit
// logic, the expressions the real kfp compiler writes (testdata/), and
// malformed input, which must give an error naming the column and never
// crash.
#include "ferry/pipelines/conditions.h"

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>
#include <sstream>

namespace ferry::pipelines {
namespace {

// Evaluated as a selector over null, so any result type can be checked.
Result<Json> Eval(const std::string& expr) { return EvaluateSelector(expr, nullptr); }

TEST(Cel, LiteralsAndOperators) {
  struct Case {
    std::string expr;
    Json want;
  };
  const Case cases[] = {
      {"1", 1},
      {"-1", -1},
      {"-9223372036854775808", INT64_MIN},
      {"0x1F", 31},
      {"1.5", 1.5},
      {"1e3", 1000.0},
      {"2.5e-1", 0.25},
      {"'a'", "a"},
      {"\"b\"", "b"},
      {R"('it\'s \"q\" \\ \n \x41\u00e9\101')",
       "it's \"q\" \\ \n A\xc3\xa9"
       "A"},
      {"r'raw\\n'", "raw\\n"},
      {"'''tri'ple'''", "tri'ple"},
      {"true", true},
      {"false", false},
      {"null", nullptr},
      {"[1, 'a', true]", Json::array({1, "a", true})},
      {"[]", Json::array()},
      {"1 + 2 * 3", 7},
      {"(1 + 2) * 3", 9},
      {"10 - 4 - 3", 3},
      {"7 / 2", 3},
      {"-7 / 2", -3},
      {"7 % 3", 1},
      {"-7 % 3", -1},
      {"7.0 / 2.0", 3.5},
      {"'ab' + 'cd'", "abcd"},
      {"[1] + [2]", Json::array({1, 2})},
      {"1 < 2", true},
      {"2 <= 2", true},
      {"3 > 4", false},
      {"1 < 1.5", true},
      {"2 == 2.0", true},
      {"2 != 2.0", false},
      {"'a' < 'b'", true},
      {"'b' >= 'ab'", true},
      {"false < true", true},
      {"null == null", true},
      {"[1, 'a'] == [1.0, 'a']", true},
      {"[1, 'a'] == [1, 'b']", false},
      {"!true", false},
      {"!!true", true},
      {"- -3", 3},
      {"-(2.5)", -2.5},
      {"2 in [1, 2, 3]", true},
      {"'x' in ['a']", false},
      {"'k' in parseJson('{\"k\": 1}')", true},
      {"1 < 2 && 2 < 3", true},
      {"1 < 2 && 3 < 2", false},
      {"false || true", true},
      {"true || false && false", true},  // && binds tighter
      {"(true || false) && false", false},
      {"!(1 == 2) && 'a' == 'a'", true},
      {"1 + 1 == 2 && 2 * 2 == 4", true},
      {"1 == 1 == true", true},  // relations are left-associative
      {"int(2.9)", 2},
      {"int(-2.9)", -2},
      {"int('42')", 42},
      {"int('-5')", -5},
      {"int(7)", 7},
      {"double(3)", 3.0},
      {"double('2.5')", 2.5},
      {"string(5)", "5"},
      {"string(2.5)", "2.5"},
      {"string(1e6)", "1e+06"},
      {"string(true)", "true"},
      {"string('s')", "s"},
      {"parseJson('{\"a\": {\"b\": [10, 20]}}')['a']['b'][1]", 20.0},
      {"parseJson('{\"a\": {\"b\": [10, 20]}}').a.b[1.0]", 20.0},
      {"parseJson('[1, 2]')[0] == 1", true},
      {"parseJson('\"s\"')", "s"},
      {"  1 +\n 2 // comment\n", 3},
  };
  for (const Case& c : cases) {
    Result<Json> r = Eval(c.expr);
    ASSERT_TRUE(r.ok()) << c.expr << ": " << r.status().ToString();
    EXPECT_EQ(*r, c.want) << c.expr;
    EXPECT_EQ(r->type(), c.want.type()) << c.expr << " gave " << r->dump();
    EXPECT_TRUE(CheckCelExpression(c.expr).ok()) << c.expr;
  }
}

TEST(Cel, TypeErrorsAreErrors) {
  struct Case {
    std::string expr;
    std::string message_part;
  };
  const Case cases[] = {
      {"1 + 1.0", "no such overload: int + double"},
      {"'a' + 1", "no such overload: string + int"},
      {"'a' == 1", "no such overload: string == int"},
      {"null == 0", "no such overload"},
      {"true < 1", "no such overload"},
      {"[1] < [2]", "no such overload"},
      {"!1", "no such overload: !(int)"},
      {"-'a'", "no such overload"},
      {"1.5 % 1.0", "no such overload"},
      {"1 / 0", "division by zero"},
      {"1 % 0", "modulus by zero"},
      {"9223372036854775807 + 1", "integer overflow"},
      {"-9223372036854775808 / -1", "integer overflow"},
      {"-(-9223372036854775808)", "integer overflow"},
      {"int('5.5')", "cannot convert"},
      {"int('')", "cannot convert"},
      {"int(1e300)", "range error"},
      {"int(true)", "no such overload"},
      {"double('x')", "cannot convert"},
      {"string(null)", "no such overload"},
      {"string([1])", "no such overload"},
      {"parseJson(1)", "no such overload"},
      {"parseJson('{')", "parseJson"},
      {"parseJson('{}')['missing']", "no such key: 'missing'"},
      {"parseJson('{}')[1]", "no such key"},
      {"[1][5]", "index out of range"},
      {"[1][-1]", "index out of range"},
      {"[1]['a']", "no such overload"},
      {"'abc'[0]", "does not support"},
      {"(1).x", "does not support"},
      {"1 in 'abc'", "no such overload"},
      {"1 in parseJson('{}')", "no such overload"},
      {"x", "undeclared reference to 'x'"},
      {"1 && true", "no such overload"},
      {"false || 1", "no such overload: bool || int"},
  };
  for (const Case& c : cases) {
    Result<Json> r = Eval(c.expr);
    ASSERT_FALSE(r.ok()) << c.expr << " gave " << r->dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.message_part), std::string::npos)
        << c.expr << " -> " << r.status().message();
    EXPECT_NE(r.status().message().find(" at column "), std::string::npos) << r.status().message();
  }
}

TEST(Cel, LogicShortCircuitsAndAbsorbsErrors) {
  // CEL's && and || are commutative: a decisive side wins over an error.
  EXPECT_EQ(*Eval("false && 1 / 0 == 1"), false);
  EXPECT_EQ(*Eval("1 / 0 == 1 && false"), false);
  EXPECT_EQ(*Eval("true || undefined_name"), true);
  EXPECT_EQ(*Eval("undefined_name || true"), true);
  EXPECT_EQ(*Eval("1 || true"), true);
  Result<Json> r = Eval("true && 1 / 0 == 1");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("division by zero at column 11"), std::string::npos)
      << r.status().message();
  r = Eval("1 / 0 == 1 || false");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("division by zero"), std::string::npos);
}

TEST(Cel, ParametersAreBoundAsStructpbValues) {
  std::map<std::string, Json> p = {
      {"pipelinechannel--n", 7},  // arrives as a Json integer...
      {"pipelinechannel--s", "heads"},
      {"pipelinechannel--f", 0.5},
      {"pipelinechannel--b", true},
      {"pipelinechannel--num_text", "12"},
      {"pipelinechannel--list", Json::array({1, 2})},
      {"pipelinechannel--obj", Json{{"k", 3}}},
  };
  auto cond = [&](const std::string& e) { return EvaluateCondition(e, p); };
  // ...but is a double in CEL, as structpb makes every number.
  Result<bool> r = cond("inputs.parameter_values['pipelinechannel--n'] == 7.0");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(*r);
  EXPECT_TRUE(*cond("inputs.parameter_values['pipelinechannel--n'] > 6"));  // double vs int compares
  EXPECT_FALSE(cond("inputs.parameter_values['pipelinechannel--n'] + 1 == 8").ok());  // double + int
  EXPECT_TRUE(*cond("int(inputs.parameter_values['pipelinechannel--n']) + 1 == 8"));
  EXPECT_TRUE(*cond("int(inputs.parameter_values['pipelinechannel--num_text']) > 5"));
  EXPECT_TRUE(*cond("inputs.parameter_values['pipelinechannel--f'] < 1.0"));
  EXPECT_TRUE(*cond("inputs.parameter_values['pipelinechannel--b'] == true"));
  EXPECT_TRUE(*cond("inputs.parameters['pipelinechannel--s'] == 'heads'"));
  EXPECT_TRUE(*cond("inputs.parameter_values['pipelinechannel--list'][1] == 2"));
  EXPECT_TRUE(*cond("inputs.parameter_values['pipelinechannel--obj'].k == 3.0"));
  EXPECT_TRUE(*cond("'pipelinechannel--s' in inputs.parameter_values"));

  Result<bool> missing = cond("inputs.parameter_values['nope'] == 'x'");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no such key: 'nope'"), std::string::npos);
  EXPECT_EQ(missing.status().message().rfind("condition: ", 0), 0u) << missing.status().message();

  Result<bool> not_bool = cond("int(inputs.parameter_values['pipelinechannel--n'])");
  ASSERT_FALSE(not_bool.ok());
  EXPECT_NE(not_bool.status().message().find("not bool"), std::string::npos);

  Result<bool> wrong_type = cond("inputs.parameter_values['pipelinechannel--s'] == 1");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("string == int"), std::string::npos);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void CollectConditions(const Json& j, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "triggerPolicy" && it->is_object() && it->contains("condition")) {
        out->push_back((*it)["condition"].get<std::string>());
      }
      CollectConditions(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const Json& e : j) CollectConditions(e, out);
  }
}

TEST(Cel, EveryConditionTheCompilerWroteParses) {
  std::vector<std::string> conditions;
  for (const char* f : {"condition", "oneof"}) {
    Result<std::vector<Json>> docs =
        ParseYamlDocuments(ReadText(std::string("src/ferry/pipelines/testdata/") + f + ".yaml"));
    ASSERT_TRUE(docs.ok()) << f << ": " << docs.status().ToString();
    CollectConditions((*docs)[0], &conditions);
  }
  ASSERT_GE(conditions.size(), 5u);
  for (const std::string& c : conditions) EXPECT_TRUE(CheckCelExpression(c).ok()) << c;
}

TEST(Cel, CompilerExpressionsEvaluate) {
  // Verbatim from testdata/condition.yaml and oneof.yaml (kfp 2.16.1).
  const std::string heads = "inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads'";
  const std::string elif_tails =
      "!(inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads') && "
      "inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'tails'";
  const std::string otherwise =
      "!(inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads') && "
      "!(inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'tails')";
  const std::string greater =
      "int(inputs.parameter_values['pipelinechannel--random-number-Output']) > "
      "int(inputs.parameter_values['pipelinechannel--threshold'])";
  const std::string at_most =
      "int(inputs.parameter_values['pipelinechannel--random-number-Output']) <= "
      "int(inputs.parameter_values['pipelinechannel--threshold'])";
  for (const char* coin : {"heads", "tails", "edge"}) {
    std::map<std::string, Json> p = {{"pipelinechannel--flip-coin-Output", coin}};
    std::string c = coin;
    EXPECT_EQ(*EvaluateCondition(heads, p), c == "heads");
    EXPECT_EQ(*EvaluateCondition(elif_tails, p), c == "tails");
    EXPECT_EQ(*EvaluateCondition(otherwise, p), c == "edge");
  }
  for (int n : {3, 5, 8}) {
    // The random number is an int output (a double once in structpb); the
    // threshold a pipeline parameter.
    std::map<std::string, Json> p = {{"pipelinechannel--random-number-Output", n},
                                     {"pipelinechannel--threshold", 5}};
    EXPECT_EQ(*EvaluateCondition(greater, p), n > 5) << n;
    EXPECT_EQ(*EvaluateCondition(at_most, p), n <= 5) << n;
  }
  // What the compiler writes for a double compared with an int literal.
  EXPECT_TRUE(*EvaluateCondition("inputs.parameter_values['pipelinechannel--x'] > double(2)",
                                 {{"pipelinechannel--x", 2.5}}));
}

TEST(Cel, SelectorsAsTheCompilerWritesThem) {
  // parameterExpressionSelector of a ParallelFor over a list of dicts
  // (kfp 2.16.1: `item.a` inside `dsl.ParallelFor(items)`).
  Json item = Json::parse(R"({"a": "1", "b": 2})");
  Result<Json> a = EvaluateSelector("parseJson(string_value)[\"a\"]", item);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(*a, "1");
  Result<Json> b = EvaluateSelector("parseJson(string_value)[\"b\"]", item);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, 2.0);
  EXPECT_TRUE(b->is_number_float());
  // The item may also arrive as JSON text (a string value).
  Result<Json> from_text = EvaluateSelector("parseJson(string_value)[\"a\"]", Json(R"({"a": "x"})"));
  ASSERT_TRUE(from_text.ok());
  EXPECT_EQ(*from_text, "x");
  // string_value is the launcher's text of the value.
  EXPECT_EQ(*EvaluateSelector("string_value", 5.0), "5");
  EXPECT_EQ(*EvaluateSelector("string_value", Json::array({1, "<"})), R"([1,"\u003c"])");
  // The set field of the structpb.Value is bound too.
  EXPECT_EQ(*EvaluateSelector("number_value + 1.0", 2), 3.0);
  EXPECT_EQ(*EvaluateSelector("struct_value.b", item), 2.0);
  Result<Json> bad = EvaluateSelector("parseJson(string_value)[\"zz\"]", item);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("expression selector: no such key: 'zz' at column", 0), 0u)
      << bad.status().message();
}

TEST(Cel, MalformedInputNamesTheColumn) {
  struct Case {
    std::string expr;
    std::string message;  // exact, after "condition: "
  };
  const Case cases[] = {
      {"", "unexpected end of expression at column 1"},
      {"(1 + 2", "unexpected end of expression at column 7"},
      {"(1 + 2))", "unexpected ')' at column 8"},
      {"inputs.parameter_values['x'] == 'heads')", "unexpected ')' at column 40"},
      {"1 +", "unexpected end of expression at column 4"},
      {"'abc", "unterminated string at column 1"},
      {"x == \"abc", "unterminated string at column 6"},
      {"'a\nb'", "unterminated string at column 1"},
      {"'\\q'", "invalid escape sequence at column 2"},
      {"'\\x4'", "invalid escape sequence at column 2"},
      {"'\\uD800'", "invalid code point at column 2"},
      {"1 = 2", "unexpected character '=' at column 3"},
      {"a & b", "unexpected character '&' at column 3"},
      {"a | b", "unexpected character '|' at column 3"},
      {"1 2", "unexpected number at column 3"},
      {"foo(1)", "unknown function 'foo' at column 1"},
      {"int(1, 2)", "int() takes 1 argument, got 2 at column 1"},
      {"int()", "int() takes 1 argument, got 0 at column 1"},
      {"a.size()", "method calls are not supported at column 2"},
      {"a.", "unexpected end of expression at column 3"},
      {"a[1", "unexpected end of expression at column 4"},
      {"1u", "unsigned literals are not supported at column 1"},
      {"99999999999999999999", "integer literal out of range at column 1"},
      {"9223372036854775808", "integer literal out of range at column 1"},
      {"1e", "malformed exponent at column 1"},
      {"1.2.3", "malformed number at column 1"},
      {"1abc", "malformed number at column 1"},
      {"b'x'", "bytes literals are not supported at column 1"},
      {"{}", "unexpected '{' at column 1"},
      {"a ? b : c", "unexpected '?' at column 3"},
      {"in", "unexpected 'in' at column 1"},
      {"#", "unexpected character '#' at column 1"},
  };
  for (const Case& c : cases) {
    Status st = CheckCelExpression(c.expr);
    ASSERT_FALSE(st.ok()) << c.expr;
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), "condition: " + c.message) << c.expr;
    Result<bool> r = EvaluateCondition(c.expr, {});
    ASSERT_FALSE(r.ok()) << c.expr;
    EXPECT_EQ(r.status().message(), st.message());
  }
}

TEST(Cel, DepthAndLengthAreBounded) {
  auto nested = [](int n, const std::string& open, const std::string& mid, const std::string& close) {
    std::string s;
    for (int i = 0; i < n; ++i) s += open;
    s += mid;
    for (int i = 0; i < n; ++i) s += close;
    return s;
  };
  EXPECT_TRUE(CheckCelExpression(nested(60, "(", "1", ")")).ok());
  for (const std::string& deep :
       {nested(30000, "(", "1", ")"), nested(100, "(", "1", ")"), nested(20000, "!", "true", ""),
        nested(100, "-", "1", ""), nested(100, "int(", "1", ")"), nested(100, "[", "1", "]"),
        "a" + nested(100, "[", "1", "]"), nested(5000, "", "1", " + 1")}) {
    Status st = CheckCelExpression(deep);
    ASSERT_FALSE(st.ok()) << deep.substr(0, 40);
    EXPECT_NE(st.message().find("nested more than"), std::string::npos)
        << deep.substr(0, 40) << ": " << st.message();
  }
  EXPECT_NE(CheckCelExpression(std::string(70000, ' ') + "1").message().find("longer than"),
            std::string::npos);
  EXPECT_NE(CheckCelExpression("'\xff'").message().find("invalid UTF-8 at column 2"), std::string::npos);
  // parseJson input is bounded by the JSON parser's limits.
  Result<Json> r = EvaluateSelector("parseJson(string_value)", Json(nested(1000, "[", "", "]")));
  EXPECT_FALSE(r.ok());
}

TEST(Cel, NeverCrashOnGarbage) {
  const std::string seeds[] = {
      "!(inputs.parameter_values['pipelinechannel--flip-coin-Output'] == 'heads') && "
      "int(inputs.parameter_values['pipelinechannel--n']) > 5",
      "parseJson(string_value)[\"a\"]",
      "[1, 2.5, 'x', true, null] + [0x10] == [-1] || 1 in [1]",
      "'\\u00e9\\x41\\101' + r'x' + '''y''' < \"z\"",
  };
  const std::string alphabet = "()[]!-+*/%<>=&|.,'\"\\0123456789eEx uabinintdoublestringparseJson";
  std::mt19937 rng(11);
  std::map<std::string, Json> params = {{"pipelinechannel--flip-coin-Output", "heads"},
                                        {"pipelinechannel--n", 7}};
  for (int round = 0; round < 5000; ++round) {
    std::string e = seeds[rng() % std::size(seeds)];
    int edits = 1 + static_cast<int>(rng() % 5);
    for (int k = 0; k < edits && !e.empty(); ++k) {
      std::size_t at = rng() % e.size();
      switch (rng() % 3) {
        case 0:
          e.erase(at, 1 + rng() % 4);
          break;
        case 1:
          e.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        default:
          e[at] = static_cast<char>(rng() % 2 ? alphabet[rng() % alphabet.size()] : rng() % 256);
          break;
      }
    }
    Status st = CheckCelExpression(e);
    Result<bool> c = EvaluateCondition(e, params);
    Result<Json> s = EvaluateSelector(e, Json{{"a", 1}});
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << e;
      EXPECT_FALSE(c.ok()) << e;
    }
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << e;
    }
    if (!s.ok()) {
      EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << e;
    }
  }
}

}  // namespace
}  // namespace ferry::pipelines
