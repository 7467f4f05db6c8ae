// MLflow's search grammar by hand: a tokenizer that reproduces the token
// boundaries sqlparse draws for the inputs MLflow accepts, and a parser
// that applies the accept/reject decisions of mlflow/utils/search_utils.py
// and of the SQLAlchemy stores behind it, per entity. The shapes MLflow's
// code goes through (identifier text split at the first '.', quotes
// stripped from the ends, order_by clauses run through shlex) are
// reproduced on the identifier's raw text so that odd keys ("tags. k",
// "tags.`a``b`") come out as MLflow reads them.
//
// Nothing here recurses on input structure, so deep nesting cannot
// overflow the stack.

#include "ferry/tracking/search_filter.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "ferry/common/json.h"
#include "ferry/common/strings.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking {

std::string_view TermKindName(TermKind kind) {
  switch (kind) {
    case TermKind::kMetric: return "metric";
    case TermKind::kParam: return "parameter";
    case TermKind::kTag: return "tag";
    case TermKind::kAttribute: return "attribute";
    case TermKind::kDataset: return "dataset";
  }
  return "attribute";
}

std::string_view ComparatorText(Comparator c) {
  switch (c) {
    case Comparator::kEq: return "=";
    case Comparator::kNe: return "!=";
    case Comparator::kLt: return "<";
    case Comparator::kLe: return "<=";
    case Comparator::kGt: return ">";
    case Comparator::kGe: return ">=";
    case Comparator::kLike: return "LIKE";
    case Comparator::kILike: return "ILIKE";
    case Comparator::kIn: return "IN";
    case Comparator::kNotIn: return "NOT IN";
    case Comparator::kIsNull: return "IS NULL";
    case Comparator::kIsNotNull: return "IS NOT NULL";
  }
  return "=";
}

namespace {

using C = Comparator;

const std::set<Comparator> kNumericComparators = {C::kEq, C::kNe, C::kLt, C::kLe, C::kGt, C::kGe};
const std::set<Comparator> kStringComparators = {C::kEq, C::kNe, C::kLike, C::kILike};
const std::set<Comparator> kStringListComparators = {C::kEq,    C::kNe, C::kLike, C::kILike,
                                                     C::kIn,    C::kNotIn};
const std::set<Comparator> kNullableStringComparators = {C::kEq,   C::kNe,     C::kLike,
                                                         C::kILike, C::kIsNull, C::kIsNotNull};

std::map<std::string, TermKind, std::less<>> RunPrefixes() {
  return {{"metric", TermKind::kMetric},       {"metrics", TermKind::kMetric},
          {"parameter", TermKind::kParam},     {"parameters", TermKind::kParam},
          {"param", TermKind::kParam},         {"params", TermKind::kParam},
          {"tag", TermKind::kTag},             {"tags", TermKind::kTag},
          {"attribute", TermKind::kAttribute}, {"attributes", TermKind::kAttribute},
          {"attr", TermKind::kAttribute},      {"run", TermKind::kAttribute},
          {"dataset", TermKind::kDataset},     {"datasets", TermKind::kDataset}};
}

// The registry's and experiments' _get_identifier accept exactly these.
std::map<std::string, TermKind, std::less<>> ModelPrefixes() {
  return {{"attribute", TermKind::kAttribute}, {"tag", TermKind::kTag}, {"tags", TermKind::kTag}};
}

SearchGrammar MakeRunsGrammar() {
  SearchGrammar g;
  g.entity = "runs";
  g.kinds = {TermKind::kMetric, TermKind::kParam, TermKind::kTag, TermKind::kAttribute, TermKind::kDataset};
  g.bare_key_is_attribute = true;
  g.string_attributes = {"artifact_uri", "run_id", "run_name", "status", "user_id"};
  g.numeric_attributes = {"start_time", "end_time"};
  g.list_attributes = {"run_id"};
  g.orderable_attributes = {"artifact_uri", "end_time", "run_id", "run_name", "start_time", "status", "user_id"};
  g.orderable_kinds = {TermKind::kMetric, TermKind::kParam, TermKind::kTag};
  g.metric_comparators = kNumericComparators;
  g.param_comparators = kNullableStringComparators;
  g.tag_comparators = kNullableStringComparators;
  g.string_attribute_comparators = kStringListComparators;
  g.numeric_attribute_comparators = kNumericComparators;
  g.dataset_comparators = kStringListComparators;
  g.prefixes = RunPrefixes();
  g.backquoted_prefix = true;
  g.attribute_aliases = {{"created", "start_time"},  {"Created", "start_time"}, {"run name", "run_name"},
                         {"Run name", "run_name"},   {"Run Name", "run_name"}};
  g.order_attribute_aliases = {{"created", "start_time"}, {"Created", "start_time"}};
  g.reject_duplicate_order_keys = true;
  return g;
}

SearchGrammar MakeExperimentsGrammar() {
  SearchGrammar g;
  g.entity = "experiments";
  g.kinds = {TermKind::kTag, TermKind::kAttribute};
  g.bare_key_is_attribute = true;
  g.string_attributes = {"name", "experiment_id"};
  g.numeric_attributes = {"creation_time", "last_update_time"};
  g.list_attributes = {"experiment_id"};
  g.orderable_attributes = {"name", "experiment_id", "creation_time", "last_update_time"};
  g.tag_comparators = kNullableStringComparators;
  g.string_attribute_comparators = kStringListComparators;
  g.numeric_attribute_comparators = kNumericComparators;
  g.prefixes = ModelPrefixes();
  g.integer_string_attributes = {"experiment_id"};
  g.integer_attributes = true;
  g.case_sensitive_keyword_comparators = true;
  return g;
}

SearchGrammar MakeRegisteredModelsGrammar() {
  SearchGrammar g;
  g.entity = "registered models";
  g.kinds = {TermKind::kTag, TermKind::kAttribute};
  g.bare_key_is_attribute = true;
  g.string_attributes = {"name"};
  g.list_attributes = {"name"};
  g.orderable_attributes = {"name", "last_updated_timestamp"};
  g.tag_comparators = kStringComparators;
  g.string_attribute_comparators = kStringListComparators;
  g.prefixes = ModelPrefixes();
  g.quoted_attribute_keys = false;
  g.order_by_bare_keys_only = true;
  g.order_attribute_aliases = {{"timestamp", "last_updated_timestamp"}};
  g.reject_duplicate_order_keys = true;
  return g;
}

SearchGrammar MakeModelVersionsGrammar() {
  SearchGrammar g;
  g.entity = "model versions";
  g.kinds = {TermKind::kTag, TermKind::kAttribute};
  g.bare_key_is_attribute = true;
  g.string_attributes = {"name", "run_id", "source_path"};
  g.numeric_attributes = {"version_number"};
  g.list_attributes = {"name", "run_id"};
  g.orderable_attributes = {"name", "version_number", "creation_timestamp", "last_updated_timestamp"};
  g.tag_comparators = kStringComparators;
  g.string_attribute_comparators = kStringListComparators;
  g.numeric_attribute_comparators = kNumericComparators;
  g.prefixes = ModelPrefixes();
  g.quoted_attribute_keys = false;
  g.integer_attributes = true;
  g.quoted_integer_attributes = true;
  g.reject_duplicate_order_keys = true;
  return g;
}

SearchGrammar MakeLoggedModelsGrammar() {
  SearchGrammar g;
  g.entity = "logged models";
  g.kinds = {TermKind::kMetric, TermKind::kParam, TermKind::kTag, TermKind::kAttribute};
  g.bare_key_is_attribute = true;
  g.string_attributes = {"name",   "model_id",      "model_type",     "status",           "source_run_id",
                         "experiment_id", "artifact_location", "status_message", "lifecycle_stage"};
  g.numeric_attributes = {"creation_timestamp", "last_updated_timestamp"};
  g.list_attributes = g.string_attributes;
  g.orderable_attributes = {"name",          "model_id",          "model_type",     "status",
                            "source_run_id", "experiment_id",     "artifact_location",
                            "status_message", "lifecycle_stage",  "creation_timestamp",
                            "last_updated_timestamp"};
  g.orderable_kinds = {TermKind::kMetric};
  g.metric_comparators = kNumericComparators;
  g.param_comparators = kStringListComparators;
  g.tag_comparators = kStringListComparators;
  g.string_attribute_comparators = kStringListComparators;
  g.numeric_attribute_comparators = kNumericComparators;
  g.prefixes = {{"attributes", TermKind::kAttribute},
                {"metrics", TermKind::kMetric},
                {"params", TermKind::kParam},
                {"tags", TermKind::kTag}};
  g.attribute_aliases = {{"creation_time", "creation_timestamp"},
                         {"last_updated_time", "last_updated_timestamp"}};
  g.order_attribute_aliases = g.attribute_aliases;
  g.unquoted_numbers_are_strings = true;
  g.order_by_is_field_name = true;
  g.logged_model_keys = true;
  return g;
}

// ---------------------------------------------------------------------------
// Tokenizer.

enum class Tok {
  kWord,       // \w+ (ASCII word characters and any byte >= 0x80)
  kBacktick,   // `...`
  kDouble,     // "..."
  kSingle,     // '...'
  kInteger,    // -?\d+
  kFloat,      // -?\d+.\d*, -?.\d+, with or without an exponent
  kHex,        // -?0x...
  kCompare,    // a run of <>=~!
  kLikeOp,     // [NOT] LIKE|ILIKE|RLIKE, REGEXP (one sqlparse token)
  kNotNull,    // NOT NULL (one sqlparse token)
  kOrder,      // ASC|DESC [NULLS FIRST|LAST]
  kLParen,
  kRParen,
  kComma,
  kDot,
  kStar,
  kOther,      // anything sqlparse would not make part of a filter (';', '-', '--', ...)
};

struct Token {
  Tok type;
  std::size_t begin;
  std::size_t end;
  bool space_before;  // whitespace between this token and the previous one
};

bool IsWordByte(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c >= 0x80; }
bool IsLetterByte(unsigned char c) { return std::isalpha(c) != 0 || c == '_' || c >= 0x80; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
bool IsSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

std::string ToUpperAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    bool space = false;
    while (i_ < s_.size()) {
      const unsigned char c = s_[i_];
      if (IsSpace(c)) {
        ++i_;
        space = true;
        continue;
      }
      const std::size_t start = i_;
      const Tok type = Next(out);
      out.push_back(Token{type, start, i_, space});
      space = false;
    }
    return out;
  }

 private:
  unsigned char At(std::size_t i) const { return i < s_.size() ? static_cast<unsigned char>(s_[i]) : 0; }

  // The word starting at i_ (without consuming it).
  std::size_t WordEnd(std::size_t i) const {
    while (i < s_.size() && IsWordByte(At(i))) ++i;
    return i;
  }

  // sqlparse's quoted-token regexes: `q(qq|\\q|[^q])*q`, with the regex
  // engine's backtracking when the greedy reading finds no closing quote.
  // Returns the end (past the closing quote) or npos.
  std::size_t QuotedEnd(std::size_t i, char q, bool backslash_escapes) const {
    std::size_t fallback = std::string_view::npos;
    std::size_t j = i + 1;
    while (j < s_.size()) {
      const char c = s_[j];
      if (c == q && At(j + 1) == static_cast<unsigned char>(q)) {
        fallback = j + 1;  // the first quote of the pair could close
        j += 2;
      } else if (backslash_escapes && c == '\\' && At(j + 1) == static_cast<unsigned char>(q)) {
        fallback = j + 2;  // the quote after the backslash could close
        j += 2;
      } else if (c == q) {
        return j + 1;
      } else {
        ++j;
      }
    }
    return fallback;
  }

  // -?\d+(\.\d+)?[eE]-?\d+ at i; end or npos.
  std::size_t ExponentFloatEnd(std::size_t i) const {
    if (At(i) == '-') ++i;
    if (!IsDigit(At(i))) return std::string_view::npos;
    while (IsDigit(At(i))) ++i;
    if (At(i) == '.' && IsDigit(At(i + 1))) {
      ++i;
      while (IsDigit(At(i))) ++i;
    }
    if (At(i) != 'e' && At(i) != 'E') return std::string_view::npos;
    ++i;
    if (At(i) == '-') ++i;
    if (!IsDigit(At(i))) return std::string_view::npos;
    while (IsDigit(At(i))) ++i;
    return i;
  }

  Tok Number() {
    // At a digit, '-' followed by a digit or ".digit", or ".digit".
    std::size_t j = i_;
    if (At(j) == '-') ++j;
    if (At(j) == '0' && (At(j + 1) == 'x' || At(j + 1) == 'X') && std::isxdigit(At(j + 2))) {
      j += 2;
      while (std::isxdigit(At(j))) ++j;
      i_ = j;
      return Tok::kHex;
    }
    if (std::size_t e = ExponentFloatEnd(i_); e != std::string_view::npos) {
      i_ = e;
      return Tok::kFloat;
    }
    const bool starts_with_digit = IsDigit(At(j));
    while (IsDigit(At(j))) ++j;
    bool is_float = false;
    if (At(j) == '.') {
      is_float = true;
      ++j;
      while (IsDigit(At(j))) ++j;
    }
    if (IsLetterByte(At(j))) {
      // sqlparse's number regexes refuse a trailing letter; the text is
      // then a word ("1acc") or, with a fraction, garbage for a filter.
      if (!is_float && starts_with_digit && s_[i_] != '-') {
        i_ = WordEnd(i_);
        return Tok::kWord;
      }
      i_ = WordEnd(j);
      return Tok::kOther;
    }
    i_ = j;
    return is_float ? Tok::kFloat : Tok::kInteger;
  }

  Tok Word(const std::vector<Token>& out) {
    const std::size_t end = WordEnd(i_);
    const std::string_view w = s_.substr(i_, end - i_);
    const bool after_dot = !out.empty() && out.back().type == Tok::kDot && out.back().end == i_;
    // A word glued to a preceding '.' is a name unless it is one of the
    // keywords sqlparse matches before names.
    if (after_dot) {
      static constexpr std::array<std::string_view, 6> kHard = {"CASE", "IN", "VALUES", "USING", "FROM", "AS"};
      for (std::string_view k : kHard) {
        if (EqualsIgnoreCase(w, k)) {
          i_ = end;
          return Tok::kOther;
        }
      }
      i_ = end;
      return Tok::kWord;
    }
    // A word followed by '.' (not ".digit") is a name.
    std::size_t k = end;
    while (IsSpace(At(k))) ++k;
    if (At(k) == '.' && !IsDigit(At(k + 1))) {
      i_ = end;
      return Tok::kWord;
    }
    // Multi-word operators and keywords.
    auto next_word = [&](std::size_t from) -> std::pair<std::size_t, std::size_t> {
      std::size_t a = from;
      if (a >= s_.size() || !IsSpace(At(a))) return {std::string_view::npos, 0};
      while (IsSpace(At(a))) ++a;
      std::size_t b = WordEnd(a);
      if (b == a) return {std::string_view::npos, 0};
      return {a, b};
    };
    if (EqualsIgnoreCase(w, "NOT")) {
      auto [a, b] = next_word(end);
      if (a != std::string_view::npos) {
        std::string_view w2 = s_.substr(a, b - a);
        if (EqualsIgnoreCase(w2, "NULL")) {
          i_ = b;
          return Tok::kNotNull;
        }
        if (EqualsIgnoreCase(w2, "LIKE") || EqualsIgnoreCase(w2, "ILIKE") || EqualsIgnoreCase(w2, "RLIKE") ||
            EqualsIgnoreCase(w2, "REGEXP")) {
          i_ = b;
          return Tok::kLikeOp;
        }
      }
    }
    if (EqualsIgnoreCase(w, "LIKE") || EqualsIgnoreCase(w, "ILIKE") || EqualsIgnoreCase(w, "RLIKE") ||
        EqualsIgnoreCase(w, "REGEXP")) {
      i_ = end;
      return Tok::kLikeOp;
    }
    if (EqualsIgnoreCase(w, "ASC") || EqualsIgnoreCase(w, "DESC")) {
      i_ = end;
      auto [a, b] = next_word(end);
      if (a != std::string_view::npos && EqualsIgnoreCase(s_.substr(a, b - a), "NULLS")) {
        auto [c, d] = next_word(b);
        if (c != std::string_view::npos &&
            (EqualsIgnoreCase(s_.substr(c, d - c), "FIRST") || EqualsIgnoreCase(s_.substr(c, d - c), "LAST"))) {
          i_ = d;
        }
      }
      return Tok::kOrder;
    }
    i_ = end;
    return Tok::kWord;
  }

  Tok Next(const std::vector<Token>& out) {
    const unsigned char c = At(i_);
    if (c == '`' || c == '"' || c == '\'') {
      const std::size_t end = QuotedEnd(i_, static_cast<char>(c), c != '`');
      if (end == std::string_view::npos) {
        ++i_;  // sqlparse emits an error token for the lone quote
        return Tok::kOther;
      }
      i_ = end;
      return c == '`' ? Tok::kBacktick : c == '"' ? Tok::kDouble : Tok::kSingle;
    }
    if (IsDigit(c) || (c == '-' && (IsDigit(At(i_ + 1)) || (At(i_ + 1) == '.' && IsDigit(At(i_ + 2)))))) {
      return Number();
    }
    if (c == '.') {
      if (IsDigit(At(i_ + 1))) {
        std::size_t j = i_ + 1;
        while (IsDigit(At(j))) ++j;
        if (!IsLetterByte(At(j))) {
          i_ = j;
          return Tok::kFloat;
        }
      }
      ++i_;
      return Tok::kDot;
    }
    if (IsWordByte(c)) return Word(out);
    if (c == '<' || c == '>' || c == '=' || c == '~' || c == '!') {
      while (At(i_) == '<' || At(i_) == '>' || At(i_) == '=' || At(i_) == '~' || At(i_) == '!') ++i_;
      return Tok::kCompare;
    }
    ++i_;
    switch (c) {
      case '(': return Tok::kLParen;
      case ')': return Tok::kRParen;
      case ',': return Tok::kComma;
      case '*': return Tok::kStar;
      default: return Tok::kOther;
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// ---------------------------------------------------------------------------
// MLflow's string helpers, on raw identifier text.

bool IsQuoted(std::string_view v, char q) { return v.size() >= 2 && v.front() == q && v.back() == q; }
std::string_view TrimEnds(std::string_view v) { return v.substr(1, v.size() - 2); }
std::string_view TrimBackticks(std::string_view v) { return IsQuoted(v, '`') ? TrimEnds(v) : v; }
std::string_view StripQuotes(std::string_view v) {
  return IsQuoted(v, '\'') || IsQuoted(v, '"') ? TrimEnds(v) : v;
}

// Python's str.strip() of ASCII whitespace.
std::string_view StripSpace(std::string_view v) {
  while (!v.empty() && IsSpace(v.front())) v.remove_prefix(1);
  while (!v.empty() && IsSpace(v.back())) v.remove_suffix(1);
  return v;
}

std::string Quote(std::string_view v) { return QuoteForMessage(v); }

std::string JoinComparators(const std::set<Comparator>& set) {
  std::string out = "{";
  bool first = true;
  for (Comparator c : set) {
    if (!first) out += ", ";
    first = false;
    out += "'" + std::string(ComparatorText(c)) + "'";
  }
  return out + "}";
}

std::string JoinKeys(const std::set<std::string>& set) {
  std::string out = "{";
  bool first = true;
  for (const std::string& k : set) {
    if (!first) out += ", ";
    first = false;
    out += "'" + k + "'";
  }
  return out + "}";
}

Status InvalidClause(std::string_view text) {
  return InvalidArgument("Invalid clause(s) in filter string: " + Quote(text));
}

// The list of an IN comparison, read as MLflow reads it: Python's
// ast.literal_eval of the parenthesised text, which must give a non-empty
// tuple of strings (or one string). Python string literals: adjacent
// literals concatenate, backslash escapes are decoded.
Result<std::vector<std::string>> ParsePythonStringList(std::string_view text) {
  const Status ill_formed = InvalidArgument(
      "While parsing a list in the query, expected a non-empty list of string values, but got ill-formed list.");
  const Status not_strings = InvalidArgument(
      "While parsing a list in the query, expected string value, punctuation, or whitespace, but got "
      "different type in list: " +
      Quote(text));
  std::size_t i = 0;
  auto skip = [&] {
    while (i < text.size() && IsSpace(text[i])) ++i;
  };
  skip();
  if (i >= text.size() || text[i] != '(') return ill_formed;
  ++i;
  skip();
  std::vector<std::string> items;
  while (true) {
    skip();
    if (i >= text.size()) return ill_formed;
    if (text[i] == ')') break;
    // Parentheses around one string are only grouping in Python: ('a', ('b')).
    std::size_t open = 0;
    while (i < text.size() && text[i] == '(') {
      ++open;
      ++i;
      skip();
    }
    if (i >= text.size() || (text[i] != '\'' && text[i] != '"')) {
      // A number, name or nested tuple: literal_eval either fails or
      // gives something that is not a string.
      return not_strings;
    }
    std::string item;
    while (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      const char q = text[i++];
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i];
        if (c == q) {
          ++i;
          closed = true;
          break;
        }
        if (c == '\n' || c == '\r') return ill_formed;
        if (c != '\\') {
          item += c;
          ++i;
          continue;
        }
        if (i + 1 >= text.size()) return ill_formed;
        const char e = text[i + 1];
        i += 2;
        switch (e) {
          case '\\': item += '\\'; break;
          case '\'': item += '\''; break;
          case '"': item += '"'; break;
          case 'a': item += '\a'; break;
          case 'b': item += '\b'; break;
          case 'f': item += '\f'; break;
          case 'n': item += '\n'; break;
          case 'r': item += '\r'; break;
          case 't': item += '\t'; break;
          case 'v': item += '\v'; break;
          case '\n': break;
          case 'x':
          case 'u':
          case 'U': {
            const std::size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
            if (i + n > text.size()) return ill_formed;
            char32_t cp = 0;
            for (std::size_t k = 0; k < n; ++k) {
              const int d = HexDigit(text[i + k]);
              if (d < 0) return ill_formed;
              cp = cp * 16 + static_cast<char32_t>(d);
            }
            i += n;
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return ill_formed;
            AppendUtf8(item, cp);
            break;
          }
          case 'N': return ill_formed;  // \N{name}: not supported
          default:
            if (e >= '0' && e <= '7') {
              char32_t cp = static_cast<char32_t>(e - '0');
              for (int k = 0; k < 2 && i < text.size() && text[i] >= '0' && text[i] <= '7'; ++k, ++i) {
                cp = cp * 8 + static_cast<char32_t>(text[i] - '0');
              }
              AppendUtf8(item, cp);
            } else {
              item += '\\';  // Python keeps unknown escapes
              item += e;
            }
        }
      }
      if (!closed) return ill_formed;
      skip();
    }
    for (; open > 0; --open) {
      skip();
      if (i >= text.size()) return ill_formed;
      if (text[i] == ',') return not_strings;  // a nested tuple
      if (text[i] != ')') return ill_formed;
      ++i;
    }
    items.push_back(std::move(item));
    skip();
    if (i >= text.size()) return ill_formed;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] != ')') return ill_formed;
    break;
  }
  if (items.empty()) {
    return InvalidArgument(
        "While parsing a list in the query, expected a non-empty list of string values, but got empty list");
  }
  ++i;
  skip();
  if (i != text.size()) return ill_formed;
  return items;
}

// Python's int() of a string: optional sign, digits with single '_'
// between them, surrounding whitespace.
std::optional<double> PythonInt(std::string_view s) {
  s = StripSpace(s);
  std::string digits;
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) digits += s[i++];
  bool prev_digit = false;
  bool any = false;
  for (; i < s.size(); ++i) {
    if (IsDigit(s[i])) {
      digits += s[i];
      prev_digit = true;
      any = true;
    } else if (s[i] == '_' && prev_digit && i + 1 < s.size() && IsDigit(s[i + 1])) {
      prev_digit = false;
    } else {
      return std::nullopt;
    }
  }
  if (!any) return std::nullopt;
  return std::strtod(digits.c_str(), nullptr);
}

double ParseDouble(std::string_view text) {
  const std::string s(text);
  return std::strtod(s.c_str(), nullptr);
}

// ---------------------------------------------------------------------------
// Parser.

struct RawValue {
  enum Kind { kString, kBareName, kInteger, kFloat, kHex, kKeyword, kList } kind;
  std::string text;  // string content, number text or the raw token
  std::vector<std::string> list;
};

class FilterParser {
 public:
  FilterParser(std::string_view text, const SearchGrammar& g) : s_(text), g_(g), toks_(Lexer(text).Run()) {}

  Result<std::vector<FilterTerm>> Run() {
    std::vector<FilterTerm> terms;
    while (p_ < toks_.size()) {
      const Token& t = toks_[p_];
      if (t.type == Tok::kWord && EqualsIgnoreCase(Text(t), "AND")) {
        ++p_;
        continue;
      }
      ASSIGN_OR_RETURN(FilterTerm term, Comparison());
      terms.push_back(std::move(term));
    }
    return terms;
  }

 private:
  std::string_view Text(const Token& t) const { return s_.substr(t.begin, t.end - t.begin); }
  std::string_view Span(std::size_t from_tok, std::size_t to_tok) const {
    const std::size_t b = toks_[from_tok].begin;
    const std::size_t e = to_tok < toks_.size() ? toks_[to_tok].end : s_.size();
    return s_.substr(b, e - b);
  }
  // The rest of the filter from token p, for error messages.
  std::string_view Rest(std::size_t p) const {
    return p < toks_.size() ? s_.substr(toks_[p].begin) : std::string_view();
  }

  bool IsKeyword(const Token& t, std::string_view kw) const {
    return t.type == Tok::kWord && EqualsIgnoreCase(Text(t), kw);
  }

  bool IsReservedWord(const Token& t) const {
    static constexpr std::array<std::string_view, 6> kWords = {"AND", "OR", "NOT", "IS", "NULL", "IN"};
    if (t.type != Tok::kWord) return false;
    for (std::string_view k : kWords) {
      if (EqualsIgnoreCase(Text(t), k)) return true;
    }
    return false;
  }

  // identifier := part ('.' part)*: the raw text, or nullopt when the
  // tokens at p_ do not form one.
  std::optional<std::string_view> Identifier() {
    if (p_ >= toks_.size()) return std::nullopt;
    const Token& first = toks_[p_];
    const bool first_ok = first.type == Tok::kBacktick || first.type == Tok::kDouble ||
                          (first.type == Tok::kWord && !IsReservedWord(first));
    if (!first_ok) return std::nullopt;
    const std::size_t start = p_;
    ++p_;
    while (p_ < toks_.size() && toks_[p_].type == Tok::kDot && !toks_[p_].space_before) {
      const bool part_ok =
          p_ + 1 < toks_.size() &&
          (toks_[p_ + 1].type == Tok::kBacktick || toks_[p_ + 1].type == Tok::kDouble ||
           toks_[p_ + 1].type == Tok::kSingle || toks_[p_ + 1].type == Tok::kStar ||
           (toks_[p_ + 1].type == Tok::kWord && (!toks_[p_ + 1].space_before || !IsReservedWord(toks_[p_ + 1]))));
      if (!part_ok) {
        // sqlparse keeps a dangling '.' in the identifier ("tags." has key "").
        ++p_;
        break;
      }
      p_ += 2;
    }
    return Span(start, p_ - 1);
  }

  struct Key {
    TermKind kind;
    std::string key;
  };

  // MLflow's _get_identifier for the grammar, on the identifier's raw text.
  Result<Key> ResolveKey(std::string_view raw) const {
    std::string_view prefix, key;
    bool has_prefix = false;
    if (g_.logged_model_keys) {
      // search_logged_model_utils: ^([a-z]+)\.(.+)$, else the whole text is an attribute.
      std::size_t i = 0;
      while (i < raw.size() && raw[i] >= 'a' && raw[i] <= 'z') ++i;
      if (i > 0 && i + 1 < raw.size() && raw[i] == '.') {
        prefix = raw.substr(0, i);
        key = raw.substr(i + 1);
        has_prefix = true;
      } else {
        key = raw;
      }
    } else if (std::size_t dot = raw.find('.'); dot != std::string_view::npos) {
      prefix = raw.substr(0, dot);
      key = raw.substr(dot + 1);
      has_prefix = true;
    } else {
      key = raw;
    }
    TermKind kind = TermKind::kAttribute;
    if (has_prefix) {
      std::string_view p = g_.backquoted_prefix ? TrimBackticks(prefix) : prefix;
      auto it = g_.prefixes.find(p);
      if (it == g_.prefixes.end() || g_.kinds.count(it->second) == 0) {
        std::string valid;
        for (const auto& [name, k] : g_.prefixes) {
          if (g_.kinds.count(k) == 0) continue;
          valid += (valid.empty() ? "" : ", ") + ("'" + name + "'");
        }
        return InvalidArgument("Invalid entity type " + Quote(p) + ". Valid values are [" + valid + "]");
      }
      kind = it->second;
    } else if (!g_.bare_key_is_attribute) {
      return InvalidArgument("Invalid identifier " + Quote(raw) +
                             ". Columns should be specified as 'attribute.<key>', 'metric.<key>', "
                             "'tag.<key>', 'dataset.<key>', or 'param.<key>'.");
    }
    std::string k;
    if (kind == TermKind::kAttribute && !g_.quoted_attribute_keys) {
      k = std::string(key);
    } else if (g_.logged_model_keys) {
      // str.strip("`"), and (unlike MLflow) double quotes as elsewhere.
      std::string_view v = key;
      while (!v.empty() && v.front() == '`') v.remove_prefix(1);
      while (!v.empty() && v.back() == '`') v.remove_suffix(1);
      k = std::string(IsQuoted(v, '"') ? TrimEnds(v) : v);
    } else {
      k = std::string(TrimBackticks(StripQuotes(key)));
    }
    if (kind == TermKind::kAttribute) {
      if (auto a = g_.attribute_aliases.find(k); a != g_.attribute_aliases.end()) k = a->second;
      if (g_.string_attributes.count(k) == 0 && g_.numeric_attributes.count(k) == 0) {
        std::set<std::string> valid = g_.string_attributes;
        valid.insert(g_.numeric_attributes.begin(), g_.numeric_attributes.end());
        return InvalidArgument("Invalid attribute key " + Quote(k) + " specified. Valid keys are " +
                               JoinKeys(valid));
      }
    }
    if (kind == TermKind::kDataset && k != "name" && k != "digest" && k != "context") {
      return InvalidArgument("Invalid dataset key " + Quote(k) +
                             " specified. Valid keys are {'name', 'digest', 'context'}");
    }
    return Key{kind, std::move(k)};
  }

  Result<Comparator> ParseComparator(const Token& t) const {
    const std::string_view text = Text(t);
    std::string upper = ToUpperAscii(text);
    if (t.type == Tok::kCompare) {
      if (text == "=") return C::kEq;
      if (text == "!=") return C::kNe;
      if (text == "<") return C::kLt;
      if (text == "<=") return C::kLe;
      if (text == ">") return C::kGt;
      if (text == ">=") return C::kGe;
    } else if (t.type == Tok::kLikeOp) {
      if (!g_.case_sensitive_keyword_comparators || upper == text) {
        if (upper == "LIKE") return C::kLike;
        if (upper == "ILIKE") return C::kILike;
      }
    }
    return InvalidArgument("Invalid comparator " + Quote(text) +
                           " not one of '=', '!=', '<', '<=', '>', '>=', 'LIKE', 'ILIKE', 'IN', 'NOT IN', "
                           "'IS NULL', 'IS NOT NULL'");
  }

  // The parenthesised list at p_ (an LParen): its raw text, balanced over
  // tokens so that parentheses inside strings do not count.
  Result<std::string_view> Parenthesis() {
    const std::size_t start = p_;
    std::size_t depth = 0;
    for (; p_ < toks_.size(); ++p_) {
      if (toks_[p_].type == Tok::kLParen) {
        ++depth;
      } else if (toks_[p_].type == Tok::kRParen) {
        if (--depth == 0) {
          ++p_;
          return Span(start, p_ - 1);
        }
      }
    }
    return InvalidClause(Rest(start));
  }

  Result<RawValue> Value() {
    if (p_ >= toks_.size()) return InvalidArgument("Invalid comparison clause: a value is missing at the end");
    const Token& t = toks_[p_];
    RawValue v{RawValue::kString, {}, {}};
    switch (t.type) {
      case Tok::kSingle:
        v.text = std::string(TrimEnds(Text(t)));
        ++p_;
        return v;
      case Tok::kDouble:
      case Tok::kBacktick:
      case Tok::kWord: {
        if (IsReservedWord(t)) {
          v.kind = RawValue::kKeyword;
          v.text = std::string(Text(t));
          ++p_;
          return v;
        }
        std::optional<std::string_view> ident = Identifier();
        if (!ident) return InvalidClause(Rest(p_));
        if (IsQuoted(*ident, '"') && t.type == Tok::kDouble && ident->size() == Text(t).size()) {
          v.text = std::string(TrimEnds(*ident));
        } else {
          v.kind = RawValue::kBareName;
          v.text = std::string(*ident);
        }
        return v;
      }
      case Tok::kInteger:
      case Tok::kFloat:
      case Tok::kHex:
        v.kind = t.type == Tok::kInteger ? RawValue::kInteger : t.type == Tok::kFloat ? RawValue::kFloat : RawValue::kHex;
        v.text = std::string(Text(t));
        ++p_;
        return v;
      case Tok::kLParen: {
        ASSIGN_OR_RETURN(std::string_view raw, Parenthesis());
        v.kind = RawValue::kList;
        v.text = std::string(raw);
        return v;
      }
      default:
        return InvalidArgument("Invalid comparison clause. Expected value token found " + Quote(Text(t)));
    }
  }

  Result<FilterTerm> Comparison() {
    const std::size_t start = p_;
    std::optional<std::string_view> ident = Identifier();
    if (!ident) return InvalidClause(Rest(start));
    if (p_ >= toks_.size()) return InvalidClause(Rest(start));
    const Token& op = toks_[p_];
    Comparator comparator;
    RawValue value{RawValue::kKeyword, {}, {}};
    if (IsKeyword(op, "IS")) {
      ++p_;
      if (p_ < toks_.size() && IsKeyword(toks_[p_], "NULL")) {
        comparator = C::kIsNull;
      } else if (p_ < toks_.size() && toks_[p_].type == Tok::kNotNull &&
                 ToUpperAscii(Text(toks_[p_])) == "NOT NULL") {
        // MLflow compares the token's text with "NOT NULL": one space only.
        comparator = C::kIsNotNull;
      } else {
        return InvalidClause(Rest(start));
      }
      ++p_;
    } else if (IsKeyword(op, "IN") || (IsKeyword(op, "NOT") && p_ + 1 < toks_.size() && IsKeyword(toks_[p_ + 1], "IN"))) {
      const bool negated = IsKeyword(op, "NOT");
      if (g_.case_sensitive_keyword_comparators && !negated && Text(op) != "IN") {
        return InvalidArgument("Invalid comparator " + Quote(Text(op)) + " for " + g_.entity +
                               "; write IN in upper case");
      }
      p_ += negated ? 2 : 1;
      if (p_ >= toks_.size() || toks_[p_].type != Tok::kLParen) return InvalidClause(Rest(start));
      comparator = negated ? C::kNotIn : C::kIn;
      ASSIGN_OR_RETURN(std::string_view raw, Parenthesis());
      value.kind = RawValue::kList;
      value.text = std::string(raw);
    } else if (op.type == Tok::kCompare || op.type == Tok::kLikeOp) {
      ++p_;
      ASSIGN_OR_RETURN(comparator, ParseComparator(op));
      ASSIGN_OR_RETURN(value, Value());
    } else {
      return InvalidClause(Rest(start));
    }
    ASSIGN_OR_RETURN(Key key, ResolveKey(*ident));
    return Build(std::move(key), comparator, std::move(value));
  }

  const std::set<Comparator>& ComparatorsFor(TermKind kind, bool numeric_attribute) const {
    switch (kind) {
      case TermKind::kMetric: return g_.metric_comparators;
      case TermKind::kParam: return g_.param_comparators;
      case TermKind::kTag: return g_.tag_comparators;
      case TermKind::kDataset: return g_.dataset_comparators;
      case TermKind::kAttribute:
        return numeric_attribute ? g_.numeric_attribute_comparators : g_.string_attribute_comparators;
    }
    return g_.tag_comparators;
  }

  std::string Describe(const Key& key) const {
    return std::string(TermKindName(key.kind)) + " " + Quote(key.key);
  }

  Result<FilterTerm> Build(Key key, Comparator comparator, RawValue value) const {
    const bool numeric_attribute = key.kind == TermKind::kAttribute && g_.numeric_attributes.count(key.key) != 0;
    const bool numeric = key.kind == TermKind::kMetric || numeric_attribute;
    const std::set<Comparator>& allowed = ComparatorsFor(key.kind, numeric_attribute);
    if (allowed.count(comparator) == 0) {
      return InvalidArgument("Invalid comparator '" + std::string(ComparatorText(comparator)) + "' for " +
                             Describe(key) + ", not one of " + JoinComparators(allowed));
    }
    const bool list_comparator = comparator == C::kIn || comparator == C::kNotIn;
    if (key.kind == TermKind::kAttribute && list_comparator && g_.list_attributes.count(key.key) == 0) {
      return InvalidArgument("Only " + JoinKeys(g_.list_attributes) +
                             " attributes support comparison with a list of quoted string values.");
    }
    if (key.kind == TermKind::kAttribute && g_.integer_string_attributes.count(key.key) != 0 &&
        (comparator == C::kLike || comparator == C::kILike)) {
      return InvalidArgument("Invalid comparator '" + std::string(ComparatorText(comparator)) + "' for " +
                             Describe(key) + ", not one of {'=', '!=', 'IN', 'NOT IN'}");
    }
    FilterTerm term;
    term.kind = key.kind;
    term.key = std::move(key.key);
    term.comparator = comparator;
    if (comparator == C::kIsNull || comparator == C::kIsNotNull) {
      term.value = std::monostate{};
      return term;
    }
    if (list_comparator) {
      if (value.kind != RawValue::kList) {
        return InvalidArgument("Expected a list of quoted string values for " +
                               std::string(ComparatorText(comparator)) + ", got " + Quote(value.text));
      }
      ASSIGN_OR_RETURN(std::vector<std::string> items, ParsePythonStringList(value.text));
      if (g_.integer_string_attributes.count(term.key) != 0) {
        for (const std::string& item : items) {
          if (!PythonInt(item)) {
            return InvalidArgument("Invalid experiment ID " + Quote(item) +
                                   ". Experiment ID must be a valid integer.");
          }
        }
      }
      term.value = std::move(items);
      return term;
    }
    if (value.kind == RawValue::kList) {
      return InvalidArgument("A list of values is only allowed with IN and NOT IN, not with '" +
                             std::string(ComparatorText(comparator)) + "'");
    }
    if (numeric) {
      if (value.kind == RawValue::kInteger || (value.kind == RawValue::kFloat && !g_.integer_attributes) ||
          (value.kind == RawValue::kFloat && key.kind == TermKind::kMetric)) {
        term.value = ParseDouble(value.text);
        return term;
      }
      if (numeric_attribute && g_.quoted_integer_attributes && value.kind == RawValue::kString) {
        if (std::optional<double> d = PythonInt(value.text)) {
          term.value = *d;
          return term;
        }
      }
      if (numeric_attribute && value.kind == RawValue::kFloat) {
        return InvalidArgument("Invalid value for numeric attribute " + Quote(term.key) + ": " + Quote(value.text) +
                               ". Expected an integer.");
      }
      return InvalidArgument("Expected numeric value type for " + std::string(TermKindName(term.kind)) + " " +
                             Quote(term.key) + ". Found " + Quote(value.text));
    }
    if (value.kind == RawValue::kString) {
      if (g_.integer_string_attributes.count(term.key) != 0 && !PythonInt(value.text)) {
        return InvalidArgument("Invalid experiment ID " + Quote(value.text) +
                               ". Experiment ID must be a valid integer.");
      }
      term.value = std::move(value.text);
      return term;
    }
    if (g_.unquoted_numbers_are_strings && (value.kind == RawValue::kInteger || value.kind == RawValue::kFloat)) {
      term.value = std::move(value.text);
      return term;
    }
    return InvalidArgument("Expected a quoted string value for " + std::string(TermKindName(term.kind)) + " " +
                           Quote(term.key) + " (e.g. 'my-value'). Got value " + Quote(value.text));
  }

  std::string_view s_;
  const SearchGrammar& g_;
  std::vector<Token> toks_;
  std::size_t p_ = 0;
};

Status CheckText(std::string_view text, std::string_view what) {
  if (text.size() > kMaxFilterBytes) {
    return InvalidArgument(std::string(what) + " is too long: " + std::to_string(text.size()) +
                           " bytes, at most " + std::to_string(kMaxFilterBytes));
  }
  if (std::size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  }
  if (text.find('\0') != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " contains a NUL character");
  }
  return Status::OK();
}

// shlex.split (POSIX mode) of an order_by clause; nullopt when a quote is
// not closed.
std::optional<std::vector<std::string>> ShlexSplit(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  bool in_token = false;
  std::size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (IsSpace(c)) {
      if (in_token) out.push_back(std::move(cur));
      cur.clear();
      in_token = false;
      ++i;
    } else if (c == '\'') {
      const std::size_t e = s.find('\'', i + 1);
      if (e == std::string_view::npos) return std::nullopt;
      cur.append(s.substr(i + 1, e - i - 1));
      in_token = true;
      i = e + 1;
    } else if (c == '"') {
      ++i;
      bool closed = false;
      while (i < s.size()) {
        if (s[i] == '"') {
          closed = true;
          ++i;
          break;
        }
        if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '$' ||
                                                 s[i + 1] == '`' || s[i + 1] == '\n')) {
          cur += s[i + 1];
          i += 2;
          continue;
        }
        cur += s[i++];
      }
      if (!closed) return std::nullopt;
      in_token = true;
    } else if (c == '\\') {
      if (i + 1 >= s.size()) return std::nullopt;
      cur += s[i + 1];
      in_token = true;
      i += 2;
    } else {
      cur += c;
      in_token = true;
      ++i;
    }
  }
  if (in_token) out.push_back(std::move(cur));
  return out;
}

Status InvalidOrderBy(std::string_view clause) {
  return InvalidArgument("Invalid order_by clause " + Quote(clause) + ". Could not be parsed.");
}

Result<OrderTerm> ParseLoggedModelOrderBy(std::string_view field, const SearchGrammar& g) {
  OrderTerm t;
  if (std::size_t dot = field.find('.'); dot != std::string_view::npos) {
    if (field.substr(0, dot) != "metrics") {
      return InvalidArgument("Invalid order by field name: " + Quote(field) + ". Only metrics are supported.");
    }
    t.kind = TermKind::kMetric;
    t.key = std::string(field.substr(dot + 1));
    return t;
  }
  std::string key(field);  // mlflow's SQL store looks the name up as given
  if (auto a = g.order_attribute_aliases.find(key); a != g.order_attribute_aliases.end()) key = a->second;
  if (g.orderable_attributes.count(key) == 0) {
    return InvalidArgument("Invalid order by field name: " + Quote(field) + ".");
  }
  t.kind = TermKind::kAttribute;
  t.key = std::move(key);
  return t;
}

}  // namespace

const SearchGrammar& RunsGrammar() {
  static const SearchGrammar g = MakeRunsGrammar();
  return g;
}
const SearchGrammar& ExperimentsGrammar() {
  static const SearchGrammar g = MakeExperimentsGrammar();
  return g;
}
const SearchGrammar& RegisteredModelsGrammar() {
  static const SearchGrammar g = MakeRegisteredModelsGrammar();
  return g;
}
const SearchGrammar& ModelVersionsGrammar() {
  static const SearchGrammar g = MakeModelVersionsGrammar();
  return g;
}
const SearchGrammar& LoggedModelsGrammar() {
  static const SearchGrammar g = MakeLoggedModelsGrammar();
  return g;
}

Result<std::vector<FilterTerm>> ParseFilter(std::string_view filter, const SearchGrammar& grammar) {
  if (filter.empty()) return std::vector<FilterTerm>{};
  RETURN_IF_ERROR(CheckText(filter, "filter"));
  if (StripSpace(filter).empty()) {
    return InvalidArgument("Invalid filter " + Quote(filter) + ". Could not be parsed.");
  }
  return FilterParser(filter, grammar).Run();
}

Result<OrderTerm> ParseOrderBy(std::string_view clause, const SearchGrammar& grammar) {
  RETURN_IF_ERROR(CheckText(clause, "order_by clause"));
  if (grammar.order_by_is_field_name) return ParseLoggedModelOrderBy(clause, grammar);

  // Structure, as sqlparse must see it: one identifier, optionally followed
  // by ASC or DESC, with nothing around them.
  const std::vector<Token> toks = Lexer(clause).Run();
  if (toks.empty() || toks.front().begin != 0 || toks.back().end != clause.size()) return InvalidOrderBy(clause);
  std::size_t p = 0;
  auto part_ok = [&](const Token& t) {
    return t.type == Tok::kWord || t.type == Tok::kBacktick || t.type == Tok::kDouble;
  };
  if (!part_ok(toks[p])) return InvalidOrderBy(clause);
  ++p;
  while (p < toks.size() && toks[p].type == Tok::kDot && !toks[p].space_before) {
    if (p + 1 < toks.size() &&
        (part_ok(toks[p + 1]) || toks[p + 1].type == Tok::kSingle || toks[p + 1].type == Tok::kStar)) {
      p += 2;
    } else {
      ++p;  // a dangling '.' stays in the identifier, as in sqlparse
      break;
    }
  }
  const std::size_t ident_end = toks[p - 1].end;
  std::string_view direction;
  if (p < toks.size() && (toks[p].type == Tok::kOrder || toks[p].type == Tok::kWord) && toks[p].space_before) {
    direction = clause.substr(toks[p].begin, toks[p].end - toks[p].begin);
    ++p;
  }
  if (p != toks.size()) return InvalidOrderBy(clause);

  std::string ident(clause.substr(0, ident_end));
  bool ascending = true;
  if (!direction.empty()) {
    std::string with_quotes(clause);
    std::replace(with_quotes.begin(), with_quotes.end(), '`', '"');
    std::optional<std::vector<std::string>> words = ShlexSplit(with_quotes);
    if (!words || words->size() != 2) return InvalidOrderBy(clause);
    const std::string dir = ToUpperAscii((*words)[1]);
    if (dir != "ASC" && dir != "DESC") {
      return InvalidArgument("Invalid ordering key in order_by clause " + Quote(clause) + ".");
    }
    ascending = dir == "ASC";
    ident = (*words)[0];
  }

  OrderTerm term;
  term.ascending = ascending;
  if (grammar.order_by_bare_keys_only) {
    std::string key(StripSpace(ident));
    if (auto a = grammar.order_attribute_aliases.find(key); a != grammar.order_attribute_aliases.end()) {
      key = a->second;
    }
    if (grammar.orderable_attributes.count(key) == 0 && key != "timestamp") {
      return InvalidArgument("Invalid order by key " + Quote(key) + " specified. Valid keys are " +
                             JoinKeys(grammar.orderable_attributes));
    }
    term.kind = TermKind::kAttribute;
    term.key = std::move(key);
    return term;
  }

  std::string_view raw = StripSpace(ident);
  std::string_view prefix, key = raw;
  TermKind kind = TermKind::kAttribute;
  if (std::size_t dot = raw.find('.'); dot != std::string_view::npos) {
    prefix = raw.substr(0, dot);
    key = raw.substr(dot + 1);
    std::string_view pre = grammar.backquoted_prefix ? TrimBackticks(prefix) : prefix;
    auto it = grammar.prefixes.find(pre);
    if (it == grammar.prefixes.end()) {
      return InvalidArgument("Invalid entity type " + Quote(pre) + " in order_by clause " + Quote(clause));
    }
    kind = it->second;
  }
  std::string k(TrimBackticks(StripQuotes(key)));
  if (kind == TermKind::kAttribute) {
    if (auto a = grammar.order_attribute_aliases.find(k); a != grammar.order_attribute_aliases.end()) k = a->second;
    if (grammar.orderable_attributes.count(k) == 0) {
      return InvalidArgument("Invalid attribute key " + Quote(k) + " specified. Valid keys are " +
                             JoinKeys(grammar.orderable_attributes));
    }
  } else if (grammar.orderable_kinds.count(kind) == 0) {
    return InvalidArgument("Invalid order_by entity type '" + std::string(TermKindName(kind)) + "' for " +
                           grammar.entity);
  }
  term.kind = kind;
  term.key = std::move(k);
  return term;
}

Result<std::vector<OrderTerm>> ParseOrderByList(const std::vector<std::string>& clauses, const SearchGrammar& grammar) {
  std::vector<OrderTerm> out;
  out.reserve(clauses.size());
  for (const std::string& clause : clauses) {
    ASSIGN_OR_RETURN(OrderTerm t, ParseOrderBy(clause, grammar));
    if (grammar.reject_duplicate_order_keys) {
      for (const OrderTerm& seen : out) {
        if (seen.kind == t.kind && seen.key == t.key) {
          return InvalidArgument("`order_by` contains duplicate fields: " + Quote(clause));
        }
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool LikeMatch(std::string_view text, std::string_view pattern, bool case_insensitive) {
  // Greedy wildcard matching with one backtrack point (the last '%'),
  // stepping over whole UTF-8 characters for '_'.
  auto char_len = [](std::string_view s, std::size_t i) -> std::size_t {
    const std::size_t n = DecodeUtf8(s, i);
    return n == 0 ? 1 : n;
  };
  auto same = [&](std::size_t ti, std::size_t pi, std::size_t len) {
    if (ti + len > text.size()) return false;
    for (std::size_t k = 0; k < len; ++k) {
      unsigned char a = text[ti + k], b = pattern[pi + k];
      if (case_insensitive) {
        a = static_cast<unsigned char>(std::tolower(a));
        b = static_cast<unsigned char>(std::tolower(b));
      }
      if (a != b) return false;
    }
    return true;
  };
  std::size_t t = 0, p = 0;
  std::size_t star_p = std::string_view::npos, star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '%') {
      star_p = ++p;
      star_t = t;
      continue;
    }
    if (p < pattern.size()) {
      const std::size_t tl = char_len(text, t);
      if (pattern[p] == '_') {
        t += tl;
        ++p;
        continue;
      }
      const std::size_t pl = char_len(pattern, p);
      if (pl == tl && same(t, p, pl)) {
        t += tl;
        p += pl;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    star_t += char_len(text, star_t);
    t = star_t;
    p = star_p;
  }
  while (p < pattern.size() && pattern[p] == '%') ++p;
  return p == pattern.size();
}

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i + 2 < in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
    i += 3;
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  unsigned acc = 0;
  int bits = 0;
  std::size_t pad = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '=') {
      if (i + 2 < in.size()) return std::nullopt;
      ++pad;
      continue;
    }
    if (pad != 0) return std::nullopt;
    const char* pos = std::strchr(kB64, c);
    if (c == '\0' || pos == nullptr) return std::nullopt;
    acc = (acc << 6) | static_cast<unsigned>(pos - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

constexpr std::int64_t kMaxPageOffset = std::int64_t{1} << 53;

}  // namespace

std::string EncodePageToken(std::int64_t offset, std::string_view query_fingerprint) {
  Json j = {{"offset", offset}, {"search", internal::Fingerprint(query_fingerprint)}};
  return Base64Encode(j.dump());
}

Result<std::int64_t> DecodePageToken(std::string_view token, std::string_view query_fingerprint) {
  if (token.size() > 4096) return InvalidArgument("Invalid page token, could not base64-decode");
  std::optional<std::string> decoded = Base64Decode(token);
  if (!decoded) return InvalidArgument("Invalid page token, could not base64-decode");
  Result<Json> parsed = ParseJson(*decoded);
  if (!parsed.ok() || !parsed->is_object()) {
    return InvalidArgument("Invalid page token, decoded value=" + QuoteForMessage(*decoded));
  }
  const Json& j = *parsed;
  auto offset = j.find("offset");
  if (offset == j.end() || !offset->is_number_integer() || offset->get<std::int64_t>() <= 0 ||
      offset->get<std::int64_t>() > kMaxPageOffset) {
    return InvalidArgument("Invalid page token, parsed value=" + QuoteForMessage(j.dump()));
  }
  auto search = j.find("search");
  if (search == j.end() || !search->is_string() ||
      search->get<std::string>() != internal::Fingerprint(query_fingerprint)) {
    return InvalidArgument("Invalid page token: it was issued for a different search");
  }
  return offset->get<std::int64_t>();
}

Result<std::int64_t> PageOffset(std::string_view token, std::string_view query_fingerprint) {
  if (token.empty()) return std::int64_t{0};
  return DecodePageToken(token, query_fingerprint);
}

std::string LikeToGlob(std::string_view like_pattern) {
  std::string out;
  out.reserve(like_pattern.size() + 8);
  for (char c : like_pattern) {
    switch (c) {
      case '%':
        out += '*';
        break;
      case '_':
        out += '?';
        break;
      case '*':
        out += "[*]";
        break;
      case '?':
        out += "[?]";
        break;
      case '[':
        out += "[[]";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace ferry::tracking
