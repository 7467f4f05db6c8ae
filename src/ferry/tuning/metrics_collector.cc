// Katib's metrics collectors (pkg/metricscollector/v1beta1/file-metricscollector
// and the trial controller's getMetrics), as pure parsers.
//
// Follows Katib v1beta1:
// - TEXT (StdOut and File collectors): lines are parsed in order; a line
//   that contains none of the wanted metric names (as a substring) is
//   skipped before any matching, as Katib does. The line's first
//   space-separated token, when it is an RFC 3339 time, is its timestamp.
//   Each filter, in order, is run over the line (Go's FindAllStringSubmatch
//   semantics); group 1 is the name and group 2 the value, both trimmed; a
//   match whose name is not wanted is dropped.
// - JSON (File collector): each non-blank line is one JSON object; wanted
//   metrics are its keys of the same name; "timestamp" is an RFC 3339
//   string or seconds since the epoch.
// - Summaries follow getMetrics in the trial controller: min/max over the
//   numeric values, latest by timestamp (see Summarise in the header).
//
// Decisions where Katib was silent, loose, or where we differ on purpose:
// - A value that is not a number (the default filter happily matches
//   "loss=" with an empty value, or "acc=-") is skipped and counted. Katib
//   stores it in its observation log as text; getMetrics leaves it out of
//   min/max but may still pick it as "latest" (which then makes the
//   objective unparseable downstream). Skipping it keeps "latest" the last
//   number reported. NaN is skipped as well (Katib's min/max would stick at
//   "NaN"); +-Inf are kept. Numbers parse as Go's strconv.ParseFloat does
//   (sign, decimal, exponent, inf/infinity), except hexadecimal floats.
// - JSON values may be numbers as well as numeric strings. Katib's reader
//   takes only strings (the hypertune logger writes strings) and silently
//   ignores {"accuracy": 0.9}; accepting numbers is what users expect.
// - A numeric JSON timestamp is converted exactly. Katib splits its decimal
//   text at '.' and reads the fraction digits as nanoseconds (1.5 becomes
//   1 s + 5 ns); we use 1.5 s.
// - A JSON line that is not an object stops parsing with an error naming
//   the line, as Katib fails the whole file; earlier observations are kept.
// - '\r' also ends a line (progress bars rewrite a line with '\r'; without
//   this one tqdm bar is one multi-MB line). Line numbers count '\n'.
// - Lines are bounded (max_line_bytes): a TEXT line's remainder is not
//   parsed; a JSON line that long is an error. Katib reads the whole file
//   into memory; we stream it.
//
// Filters are Go regular expressions. std::regex is ECMAScript, which
// rejects Katib's own example filter ("{metricName: ...}" uses a literal
// '{'), and libstdc++'s backtracking matcher recurses per input character
// (it overflows an 8 MB stack on ~25 KB lines). So filters are compiled
// here and run on the two linear-time engines Go's regexp and RE2 use: a
// bit-state backtracker (visited bitmap over instruction x position) for
// short lines and a Pike VM for long ones; both leftmost-first, neither
// recursive. Supported: literals and escapes, ., [] classes with ranges,
// negation, Perl (\d \s \w) and POSIX ([:alpha:]) classes, groups ((),
// (?:), (?P<name>), (?<name>)), flags (?imsU) and (?i:...), * + ? {n,m}
// and their lazy forms, ^ $ \A \z \b \B, \Q...\E. Unicode classes (\pN)
// are refused at Compile; (?i) folds ASCII letters only.
//
// Cost: the default filter is one pass over the line. A custom filter is
// O(line length x program size); a literal prefix ("{metricName: ") lets
// the matcher skip to candidate positions with a substring search. On a
// log where every line carries metrics, a release build reads about
// 60 MB/s with the default filter and 11 MB/s with a custom one.
#include "ferry/tuning/metrics_collector.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include "ferry/common/json.h"
#include "ferry/common/strings.h"
#include "ferry/common/time.h"

namespace ferry::tuning {

std::string_view MetricStrategyName(MetricStrategy s) {
  switch (s) {
    case MetricStrategy::kMin:
      return "min";
    case MetricStrategy::kMax:
      return "max";
    case MetricStrategy::kLatest:
      return "latest";
  }
  return "latest";
}

std::optional<MetricStrategy> ParseMetricStrategy(std::string_view text) {
  if (text == "min") return MetricStrategy::kMin;
  if (text == "max") return MetricStrategy::kMax;
  if (text == "latest") return MetricStrategy::kLatest;
  return std::nullopt;
}

std::string_view MetricsFormatName(MetricsFormat f) { return f == MetricsFormat::kJson ? "JSON" : "TEXT"; }

// ------------------------------------------------------------ Go regexp

namespace internal {
namespace {

constexpr char32_t kMaxRune = 0x10FFFF;
constexpr int kMaxRepeat = 1000;            // Go's limit on {n,m}
constexpr int kMaxNesting = 200;            // parentheses deep
constexpr std::size_t kMaxProgram = 20000;  // instructions, after {n,m} expansion
// Groups whose offsets are tracked: Katib reads the name and the value.
constexpr int kTrackedGroups = 2;
// The backtracker's visited bitmap (program x text) above which the Pike
// VM runs instead, as RE2 bounds its BitState.
constexpr std::size_t kBitStateBits = 256 * 1024;

enum AssertFlag : int {
  kBeginText = 1,
  kEndText = 2,
  kBeginLine = 4,
  kEndLine = 8,
  kWordBoundary = 16,
  kNoWordBoundary = 32,
};

using Ranges = std::vector<std::pair<char32_t, char32_t>>;

bool IsWordByte(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

// The rune at text[p] and its width; an invalid byte is U+FFFD, width 1.
std::size_t RuneAt(std::string_view text, std::size_t p, char32_t* r) {
  const auto b = static_cast<unsigned char>(text[p]);
  if (b < 0x80) {
    *r = b;
    return 1;
  }
  const std::size_t w = DecodeUtf8(text, p, r);
  if (w == 0) {
    *r = 0xFFFD;
    return 1;
  }
  return w;
}

void Normalise(Ranges& r) {
  std::sort(r.begin(), r.end());
  Ranges out;
  for (const auto& [lo, hi] : r) {
    if (!out.empty() && lo <= out.back().second + 1) {
      out.back().second = std::max(out.back().second, hi);
    } else {
      out.emplace_back(lo, hi);
    }
  }
  r = std::move(out);
}

Ranges Negate(Ranges r) {
  Normalise(r);
  Ranges out;
  char32_t next = 0;
  for (const auto& [lo, hi] : r) {
    if (lo > next) out.emplace_back(next, lo - 1);
    next = hi + 1;
  }
  if (next <= kMaxRune) out.emplace_back(next, kMaxRune);
  return out;
}

// ASCII case folding: every letter range gains its other case.
void FoldCase(Ranges& r) {
  Ranges extra;
  for (const auto& [lo, hi] : r) {
    char32_t a = std::max<char32_t>(lo, 'a'), b = std::min<char32_t>(hi, 'z');
    if (a <= b) extra.emplace_back(a - 32, b - 32);
    a = std::max<char32_t>(lo, 'A');
    b = std::min<char32_t>(hi, 'Z');
    if (a <= b) extra.emplace_back(a + 32, b + 32);
  }
  r.insert(r.end(), extra.begin(), extra.end());
  Normalise(r);
}

const Ranges& PerlClass(char c) {
  static const Ranges kDigit = {{'0', '9'}};
  static const Ranges kSpace = {{'\t', '\n'}, {'\f', '\r'}, {' ', ' '}};
  static const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
  return c == 'd' ? kDigit : c == 's' ? kSpace : kWord;
}

bool PosixClass(std::string_view name, Ranges* out) {
  static const std::pair<std::string_view, Ranges> kClasses[] = {
      {"alnum", {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}}},
      {"alpha", {{'A', 'Z'}, {'a', 'z'}}},
      {"ascii", {{0, 0x7F}}},
      {"blank", {{'\t', '\t'}, {' ', ' '}}},
      {"cntrl", {{0, 0x1F}, {0x7F, 0x7F}}},
      {"digit", {{'0', '9'}}},
      {"graph", {{'!', '~'}}},
      {"lower", {{'a', 'z'}}},
      {"print", {{' ', '~'}}},
      {"punct", {{'!', '/'}, {':', '@'}, {'[', '`'}, {'{', '~'}}},
      {"space", {{'\t', '\r'}, {' ', ' '}}},
      {"upper", {{'A', 'Z'}}},
      {"word", {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}},
      {"xdigit", {{'0', '9'}, {'A', 'F'}, {'a', 'f'}}},
  };
  for (const auto& [n, r] : kClasses) {
    if (n == name) {
      *out = r;
      return true;
    }
  }
  return false;
}

struct Node {
  enum Kind { kEmpty, kClass, kAnyNotNL, kAny, kAssert, kCapture, kConcat, kAlternate, kRepeat };
  Kind kind = kEmpty;
  int arg = 0;            // kClass: class index; kAssert: flag; kCapture: group
  int min = 0, max = -1;  // kRepeat; max -1 = unbounded
  bool greedy = true;
  std::vector<std::unique_ptr<Node>> subs;
};

std::unique_ptr<Node> MakeNode(Node::Kind kind, int arg = 0) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->arg = arg;
  return n;
}

struct Flags {
  bool fold = false;       // i
  bool multiline = false;  // m
  bool dot_nl = false;     // s
  bool ungreedy = false;   // U
};

// Recursive descent over Go's regexp/syntax grammar (Perl flags, as
// regexp.Compile uses). Recursion is bounded by kMaxNesting.
class Parser {
 public:
  Parser(std::string_view pattern, std::vector<Ranges>* classes) : p_(pattern), classes_(classes) {}

  Result<std::unique_ptr<Node>> Parse() {
    Flags flags;
    ASSIGN_OR_RETURN(std::unique_ptr<Node> root, ParseAlternation(flags, 0));
    if (pos_ < p_.size()) return Error("unexpected )");
    return root;
  }
  int groups() const { return groups_; }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("invalid regular expression: " + what + " at offset " + std::to_string(pos_));
  }
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek(std::size_t ahead = 0) const { return pos_ + ahead < p_.size() ? p_[pos_ + ahead] : '\0'; }

  // A rune of the pattern (invalid UTF-8 is taken byte by byte).
  char32_t NextRune() {
    char32_t cp = 0;
    std::size_t n = DecodeUtf8(p_, pos_, &cp);
    if (n == 0) {
      cp = static_cast<unsigned char>(p_[pos_]);
      n = 1;
    }
    pos_ += n;
    return cp;
  }

  int AddClass(Ranges r, bool fold) {
    if (fold) FoldCase(r);
    Normalise(r);
    classes_->push_back(std::move(r));
    return static_cast<int>(classes_->size()) - 1;
  }
  std::unique_ptr<Node> Literal(char32_t c, const Flags& flags) {
    return MakeNode(Node::kClass, AddClass({{c, c}}, flags.fold));
  }

  Result<std::unique_ptr<Node>> ParseAlternation(Flags flags, int depth) {
    if (depth > kMaxNesting) return Error("nesting too deep");
    std::vector<std::unique_ptr<Node>> branches;
    std::vector<std::unique_ptr<Node>> concat;
    auto close_branch = [&] {
      auto c = MakeNode(Node::kConcat);
      c->subs = std::move(concat);
      concat.clear();
      branches.push_back(std::move(c));
    };
    while (!AtEnd()) {
      const char c = Peek();
      if (c == '|') {
        ++pos_;
        close_branch();
        continue;
      }
      if (c == ')') break;
      std::unique_ptr<Node> atom;
      RETURN_IF_ERROR(ParseAtom(flags, depth, &atom));
      if (!atom) continue;  // a flag group such as (?i)
      RETURN_IF_ERROR(ParseRepeats(flags, &atom));
      concat.push_back(std::move(atom));
    }
    close_branch();
    if (branches.size() == 1) return std::move(branches[0]);
    auto alt = MakeNode(Node::kAlternate);
    alt->subs = std::move(branches);
    return alt;
  }

  // {n}, {n,} or {n,m} at pos_; false (pos_ unchanged) when the text is
  // not a repeat, which Go then reads as a literal '{'.
  bool ParseBraces(int* min, int* max, bool* too_big) {
    std::size_t i = pos_ + 1;
    auto number = [&](int* out) {
      std::size_t start = i;
      long v = 0;
      while (i < p_.size() && p_[i] >= '0' && p_[i] <= '9') {
        v = std::min<long>(v * 10 + (p_[i] - '0'), 100000);
        ++i;
      }
      *out = static_cast<int>(v);
      return i > start;
    };
    if (!number(min)) return false;
    if (i < p_.size() && p_[i] == '}') {
      *max = *min;
    } else if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (i < p_.size() && p_[i] == '}') {
        *max = -1;
      } else if (!number(max) || i >= p_.size() || p_[i] != '}') {
        return false;
      }
    } else {
      return false;
    }
    *too_big = *min > kMaxRepeat || *max > kMaxRepeat || (*max >= 0 && *max < *min);
    pos_ = i + 1;
    return true;
  }

  Status ParseRepeats(const Flags& flags, std::unique_ptr<Node>* atom) {
    bool repeated = false;
    while (!AtEnd()) {
      int min = 0, max = -1;
      const char c = Peek();
      const std::size_t start = pos_;
      if (c == '*') {
        ++pos_;
      } else if (c == '+') {
        min = 1;
        ++pos_;
      } else if (c == '?') {
        max = 1;
        ++pos_;
      } else if (c == '{') {
        bool too_big = false;
        if (!ParseBraces(&min, &max, &too_big)) break;
        if (too_big) return Error("invalid repeat count");
      } else {
        break;
      }
      if (repeated) {
        pos_ = start;
        return Error("invalid nested repetition operator");
      }
      repeated = true;
      bool greedy = true;
      if (Peek() == '?') {
        greedy = false;
        ++pos_;
      }
      if (flags.ungreedy) greedy = !greedy;
      auto rep = MakeNode(Node::kRepeat);
      rep->min = min;
      rep->max = max;
      rep->greedy = greedy;
      rep->subs.push_back(std::move(*atom));
      *atom = std::move(rep);
    }
    return Status::OK();
  }

  Status ParseAtom(Flags& flags, int depth, std::unique_ptr<Node>* out) {
    const char c = Peek();
    switch (c) {
      case '(':
        return ParseGroup(flags, depth, out);
      case '[': {
        ++pos_;
        Ranges r;
        RETURN_IF_ERROR(ParseClass(flags.fold, &r));
        *out = MakeNode(Node::kClass, AddClass(std::move(r), false));
        return Status::OK();
      }
      case '.':
        ++pos_;
        *out = MakeNode(flags.dot_nl ? Node::kAny : Node::kAnyNotNL);
        return Status::OK();
      case '^':
        ++pos_;
        *out = MakeNode(Node::kAssert, flags.multiline ? kBeginLine : kBeginText);
        return Status::OK();
      case '$':
        ++pos_;
        *out = MakeNode(Node::kAssert, flags.multiline ? kEndLine : kEndText);
        return Status::OK();
      case '*':
      case '+':
      case '?':
        return Error("missing argument to repetition operator");
      case '{': {
        int min = 0, max = 0;
        bool too_big = false;
        const std::size_t save = pos_;
        if (ParseBraces(&min, &max, &too_big)) {
          pos_ = save;
          return Error("missing argument to repetition operator");
        }
        ++pos_;
        *out = Literal('{', flags);
        return Status::OK();
      }
      case '\\':
        return ParseEscape(flags, out);
      default:
        *out = Literal(NextRune(), flags);
        return Status::OK();
    }
  }

  Status ParseGroup(Flags& flags, int depth, std::unique_ptr<Node>* out) {
    ++pos_;  // '('
    int group = -1;
    Flags inner = flags;
    if (Peek() == '?') {
      if (Peek(1) == 'P' && Peek(2) == '<') {
        pos_ += 3;
        RETURN_IF_ERROR(GroupName());
        group = ++groups_;
      } else if (Peek(1) == '<') {
        pos_ += 2;
        RETURN_IF_ERROR(GroupName());
        group = ++groups_;
      } else {
        ++pos_;
        bool negate = false, any = false;
        Flags f = flags;
        while (!AtEnd()) {
          const char ch = p_[pos_++];
          switch (ch) {
            case 'i':
              f.fold = !negate;
              any = true;
              break;
            case 'm':
              f.multiline = !negate;
              any = true;
              break;
            case 's':
              f.dot_nl = !negate;
              any = true;
              break;
            case 'U':
              f.ungreedy = !negate;
              any = true;
              break;
            case '-':
              if (negate) return Error("invalid or unsupported Perl syntax");
              negate = true;
              any = false;
              break;
            case ')':
              if (negate && !any) return Error("invalid or unsupported Perl syntax");
              flags = f;  // (?i): the rest of the enclosing group
              *out = nullptr;
              return Status::OK();
            case ':':
              if (negate && !any) return Error("invalid or unsupported Perl syntax");
              inner = f;
              goto body;
            default:
              return Error("invalid or unsupported Perl syntax");
          }
        }
        return Error("missing closing )");
      }
    } else {
      group = ++groups_;
    }
  body:
    ASSIGN_OR_RETURN(std::unique_ptr<Node> sub, ParseAlternation(inner, depth + 1));
    if (Peek() != ')') return Error("missing closing )");
    ++pos_;
    if (group < 0) {
      *out = std::move(sub);
    } else {
      auto cap = MakeNode(Node::kCapture, group);
      cap->subs.push_back(std::move(sub));
      *out = std::move(cap);
    }
    return Status::OK();
  }

  Status GroupName() {
    const std::size_t start = pos_;
    while (!AtEnd() && (IsWordByte(static_cast<unsigned char>(Peek())))) ++pos_;
    if (pos_ == start || Peek() != '>') return Error("invalid named capture");
    ++pos_;
    return Status::OK();
  }
  // The escape after a backslash: a rune, or a Perl class into *ranges.
  // The escape after a '\\': a rune, or a Perl class into *ranges.
  Status EscapeRune(char32_t* rune, Ranges* ranges, bool* is_class) {
    *is_class = false;
    if (AtEnd()) return Error("trailing backslash at end of expression");
    const char c = p_[pos_++];
    switch (c) {
      case 'a':
        *rune = 7;
        return Status::OK();
      case 'f':
        *rune = 12;
        return Status::OK();
      case 'n':
        *rune = 10;
        return Status::OK();
      case 'r':
        *rune = 13;
        return Status::OK();
      case 't':
        *rune = 9;
        return Status::OK();
      case 'v':
        *rune = 11;
        return Status::OK();
      case 'd':
      case 's':
      case 'w':
        *ranges = PerlClass(c);
        *is_class = true;
        return Status::OK();
      case 'D':
      case 'S':
      case 'W':
        *ranges = Negate(PerlClass(static_cast<char>(c + 32)));
        *is_class = true;
        return Status::OK();
      case 'x': {
        std::uint32_t v = 0;
        if (Peek() == '{') {
          ++pos_;
          std::size_t digits = 0;
          while (!AtEnd() && HexDigit(Peek()) >= 0) {
            v = v * 16 + static_cast<std::uint32_t>(HexDigit(p_[pos_++]));
            if (v > kMaxRune) return Error("invalid escape sequence");
            ++digits;
          }
          if (digits == 0 || Peek() != '}') return Error("invalid escape sequence");
          ++pos_;
        } else {
          if (HexDigit(Peek()) < 0 || HexDigit(Peek(1)) < 0) return Error("invalid escape sequence");
          v = static_cast<std::uint32_t>(HexDigit(Peek()) * 16 + HexDigit(Peek(1)));
          pos_ += 2;
        }
        *rune = v;
        return Status::OK();
      }
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7':
        // A lone non-zero digit is a backreference, which Go refuses.
        if (Peek() < '0' || Peek() > '7') return Error("invalid escape sequence");
        [[fallthrough]];
      case '0': {
        std::uint32_t v = static_cast<std::uint32_t>(c - '0');
        for (int k = 0; k < 2 && Peek() >= '0' && Peek() <= '7'; ++k)
          v = v * 8 + static_cast<std::uint32_t>(p_[pos_++] - '0');
        *rune = v;
        return Status::OK();
      }
      case 'p':
      case 'P':
        return Error("Unicode classes (\\p) are not supported");
      default:
        break;
    }
    const auto uc = static_cast<unsigned char>(c);
    if (uc < 0x80 && !(IsWordByte(uc) && uc != '_')) {
      *rune = uc;
      return Status::OK();
    }
    --pos_;
    return Error("invalid escape sequence");
  }

  Status ParseEscape(const Flags& flags, std::unique_ptr<Node>* out) {
    ++pos_;  // '\'
    switch (Peek()) {
      case 'A':
        ++pos_;
        *out = MakeNode(Node::kAssert, kBeginText);
        return Status::OK();
      case 'z':
        ++pos_;
        *out = MakeNode(Node::kAssert, kEndText);
        return Status::OK();
      case 'b':
        ++pos_;
        *out = MakeNode(Node::kAssert, kWordBoundary);
        return Status::OK();
      case 'B':
        ++pos_;
        *out = MakeNode(Node::kAssert, kNoWordBoundary);
        return Status::OK();
      case 'Q': {
        ++pos_;
        std::size_t end = p_.find("\\E", pos_);
        if (end == std::string_view::npos) end = p_.size();
        auto concat = MakeNode(Node::kConcat);
        while (pos_ < end) concat->subs.push_back(Literal(NextRune(), flags));
        pos_ = std::min(p_.size(), end + 2);
        *out = std::move(concat);
        return Status::OK();
      }
      default:
        break;
    }
    char32_t rune = 0;
    Ranges ranges;
    bool is_class = false;
    RETURN_IF_ERROR(EscapeRune(&rune, &ranges, &is_class));
    if (is_class) {
      *out = MakeNode(Node::kClass, AddClass(std::move(ranges), flags.fold));
    } else {
      *out = Literal(rune, flags);
    }
    return Status::OK();
  }

  // After '['; consumes through ']'. Folds case before negating, as Go.
  Status ParseClass(bool fold, Ranges* out) {
    bool negate = false;
    if (Peek() == '^') {
      negate = true;
      ++pos_;
    }
    Ranges r;
    bool first = true;
    while (true) {
      if (AtEnd()) return Error("missing closing ]");
      char c = Peek();
      if (c == ']' && !first) {
        ++pos_;
        break;
      }
      first = false;
      if (c == '[' && Peek(1) == ':') {
        const std::size_t close = p_.find(":]", pos_ + 2);
        if (close != std::string_view::npos) {
          std::string_view name = p_.substr(pos_ + 2, close - pos_ - 2);
          bool neg = !name.empty() && name[0] == '^';
          if (neg) name.remove_prefix(1);
          Ranges posix;
          if (PosixClass(name, &posix)) {
            if (neg) posix = Negate(std::move(posix));
            r.insert(r.end(), posix.begin(), posix.end());
            pos_ = close + 2;
            continue;
          }
          return Error("invalid character class range");
        }
      }
      char32_t lo = 0;
      if (c == '\\') {
        ++pos_;
        Ranges perl;
        bool is_class = false;
        RETURN_IF_ERROR(EscapeRune(&lo, &perl, &is_class));
        if (is_class) {
          r.insert(r.end(), perl.begin(), perl.end());
          continue;
        }
      } else {
        lo = NextRune();
      }
      char32_t hi = lo;
      if (Peek() == '-' && Peek(1) != ']' && pos_ + 1 < p_.size()) {
        ++pos_;
        if (Peek() == '\\') {
          ++pos_;
          Ranges perl;
          bool is_class = false;
          RETURN_IF_ERROR(EscapeRune(&hi, &perl, &is_class));
          if (is_class) return Error("invalid character class range");
        } else {
          hi = NextRune();
        }
        if (hi < lo) return Error("invalid character class range");
      }
      r.emplace_back(lo, hi);
    }
    if (fold) FoldCase(r);
    *out = negate ? Negate(std::move(r)) : std::move(r);
    return Status::OK();
  }

  std::string_view p_;
  std::size_t pos_ = 0;
  std::vector<Ranges>* classes_;
  int groups_ = 0;
};

enum class Op : std::uint8_t { kRune, kAnyNotNL, kAny, kSplit, kJmp, kSave, kAssert, kMatch };

struct Inst {
  Op op;
  int x = 0;  // kRune: class; kSplit: preferred; kJmp: target; kSave: slot; kAssert: flag
  int y = 0;  // kSplit: the other branch
};

struct RuneClass {
  Ranges ranges;
  std::array<std::uint64_t, 2> ascii{};

  bool Has(char32_t c) const {
    if (c < 128) return (ascii[c >> 6] >> (c & 63)) & 1;
    auto it = std::upper_bound(ranges.begin(), ranges.end(), std::make_pair(c, kMaxRune),
                               [](const auto& a, const auto& b) { return a.first < b.first; });
    return it != ranges.begin() && std::prev(it)->second >= c;
  }
};

}  // namespace

// A compiled Go regular expression. Two engines, as RE2 and Go's regexp
// have: a backtracker with a visited bitmap for short texts (each
// (instruction, position) is explored at most once, so it is linear, and
// captures are saved and restored on its stack instead of copied), and a
// Pike VM for long ones. Both give leftmost-first matches. Immutable.
class GoRegexp {
 public:
  static Result<std::shared_ptr<const GoRegexp>> Compile(std::string_view pattern) {
    std::vector<Ranges> classes;
    Parser parser(pattern, &classes);
    ASSIGN_OR_RETURN(std::unique_ptr<Node> root, parser.Parse());
    auto re = std::shared_ptr<GoRegexp>(new GoRegexp());
    re->groups_ = parser.groups();
    re->ncap_ = 2 * (std::min(re->groups_, kTrackedGroups) + 1);
    for (Ranges& r : classes) {
      RuneClass rc;
      for (const auto& [lo, hi] : r) {
        for (char32_t c = lo; c <= hi && c < 128; ++c) rc.ascii[c >> 6] |= std::uint64_t{1} << (c & 63);
      }
      rc.ranges = std::move(r);
      re->classes_.push_back(std::move(rc));
    }
    re->Push({Op::kSave, 0});
    RETURN_IF_ERROR(re->Emit(*root));
    re->Push({Op::kSave, 1});
    re->Push({Op::kMatch});
    if (re->prog_.size() > kMaxProgram) {
      return InvalidArgument("invalid regular expression: expression too large");
    }
    re->prefix_ = re->LiteralPrefix(*root);
    return std::shared_ptr<const GoRegexp>(std::move(re));
  }

  int groups() const { return groups_; }

  // Per-search working memory, reused across the searches of a FindAll.
  struct Scratch {
    struct List {
      std::vector<int> sparse, dense;
      std::vector<int> caps;  // dense.size() * ncap
      int size = 0;
      bool Contains(int pc) const {
        const int i = sparse[pc];
        return i < size && dense[i] == pc;
      }
      int Insert(int pc) {
        sparse[pc] = size;
        dense[size] = pc;
        return size++;
      }
    };
    List lists[2];
    std::vector<int> stack;
    std::vector<int> tmp;
    bool pike_ready = false;
    // The backtracker's.
    struct Job {
      int pc;  // -1: restore capture `slot` to `p`
      int slot;
      std::int64_t p;
    };
    std::vector<Job> jobs;
    std::vector<std::uint64_t> visited;
    std::vector<int> cap;
  };

  // The leftmost-first match starting at or after `pos` (context before
  // `pos` counts for \b and ^). caps gets the offsets of the match and of
  // groups 1 and 2, -1 for a group that did not take part.
  bool Search(std::string_view text, std::size_t pos, Scratch* s, std::vector<int>* caps) const {
    if ((text.size() - pos + 1) * prog_.size() <= kBitStateBits) return SearchBacktrack(text, pos, s, caps);
    if (!s->pike_ready) InitPike(s);
    return SearchPike(text, pos, s, caps);
  }

 private:
  void InitPike(Scratch* s) const {
    s->pike_ready = true;
    for (auto& l : s->lists) {
      l.sparse.assign(prog_.size(), 0);
      l.dense.assign(prog_.size(), 0);
      l.caps.assign(prog_.size() * static_cast<std::size_t>(ncap_), -1);
      l.size = 0;
    }
    s->tmp.assign(static_cast<std::size_t>(ncap_), -1);
  }

  bool SearchBacktrack(std::string_view text, std::size_t pos, Scratch* s, std::vector<int>* caps) const {
    const std::size_t n = text.size();
    s->visited.assign((prog_.size() * (n - pos + 1) + 63) / 64, 0);
    s->cap.assign(static_cast<std::size_t>(ncap_), -1);
    for (std::size_t start = pos; start <= n;) {
      if (!prefix_.empty()) {
        start = text.find(prefix_, start);
        if (start == std::string_view::npos) return false;
      }
      if (TryBacktrack(text, pos, start, s, caps)) return true;
      if (start >= n) break;
      char32_t r = 0;
      start += RuneAt(text, start, &r);
    }
    return false;
  }

  // Depth first in priority order from (instruction 0, start): the first
  // match reached is the leftmost-first one. A state visited before (from
  // this start or an earlier one) failed then and would fail again.
  bool TryBacktrack(std::string_view text, std::size_t base, std::size_t start, Scratch* s,
                    std::vector<int>* caps) const {
    const std::size_t n = text.size();
    const std::size_t len = n - base + 1;
    auto& jobs = s->jobs;
    auto& cap = s->cap;
    jobs.clear();
    jobs.push_back({0, 0, static_cast<std::int64_t>(start)});
    while (!jobs.empty()) {
      const Scratch::Job job = jobs.back();
      jobs.pop_back();
      if (job.pc < 0) {
        cap[static_cast<std::size_t>(job.slot)] = static_cast<int>(job.p);
        continue;
      }
      int pc = job.pc;
      auto p = static_cast<std::size_t>(job.p);
      bool alive = true;
      while (alive) {
        const std::size_t bit = static_cast<std::size_t>(pc) * len + (p - base);
        std::uint64_t& word = s->visited[bit >> 6];
        const std::uint64_t mask = std::uint64_t{1} << (bit & 63);
        if (word & mask) break;
        word |= mask;
        const Inst& inst = prog_[static_cast<std::size_t>(pc)];
        char32_t r = 0;
        switch (inst.op) {
          case Op::kRune:
          case Op::kAnyNotNL:
          case Op::kAny: {
            if (p >= n) {
              alive = false;
              break;
            }
            const std::size_t w = RuneAt(text, p, &r);
            alive = inst.op == Op::kAny || (inst.op == Op::kAnyNotNL ? r != '\n' : classes_[inst.x].Has(r));
            ++pc;
            p += w;
            break;
          }
          case Op::kSplit:
            jobs.push_back({inst.y, 0, static_cast<std::int64_t>(p)});
            pc = inst.x;
            break;
          case Op::kJmp:
            pc = inst.x;
            break;
          case Op::kSave:
            jobs.push_back({-1, inst.x, cap[static_cast<std::size_t>(inst.x)]});
            cap[static_cast<std::size_t>(inst.x)] = static_cast<int>(p);
            ++pc;
            break;
          case Op::kAssert:
            alive = (EmptyFlags(text, p) & inst.x) != 0;
            ++pc;
            break;
          case Op::kMatch:
            caps->assign(cap.begin(), cap.end());
            return true;
        }
      }
    }
    return false;
  }

  bool SearchPike(std::string_view text, std::size_t pos, Scratch* s, std::vector<int>* caps) const {
    Scratch::List* clist = &s->lists[0];
    Scratch::List* nlist = &s->lists[1];
    clist->size = 0;
    bool matched = false;
    const std::size_t n = text.size();
    std::size_t p = pos;
    std::vector<int> init(static_cast<std::size_t>(ncap_), -1);
    while (true) {
      if (!matched) {
        if (clist->size == 0 && !prefix_.empty()) {
          const std::size_t q = text.find(prefix_, p);
          if (q == std::string_view::npos) break;
          p = q;
        }
        AddThread(text, clist, 0, p, init.data(), s);
      }
      if (clist->size == 0) break;
      char32_t r = 0;
      const std::size_t w = p < n ? RuneAt(text, p, &r) : 0;
      nlist->size = 0;
      for (int i = 0; i < clist->size; ++i) {
        const int pc = clist->dense[i];
        const Inst& inst = prog_[pc];
        const int* tc = &clist->caps[static_cast<std::size_t>(i) * ncap_];
        if (inst.op == Op::kMatch) {
          // Leftmost-first: the threads after this one have lower priority
          // and lose to it; the ones before it are already in nlist.
          matched = true;
          caps->assign(tc, tc + ncap_);
          break;
        }
        bool advance = false;
        switch (inst.op) {
          case Op::kRune:
            advance = p < n && classes_[inst.x].Has(r);
            break;
          case Op::kAnyNotNL:
            advance = p < n && r != '\n';
            break;
          case Op::kAny:
            advance = p < n;
            break;
          default:
            break;
        }
        if (advance) AddThread(text, nlist, pc + 1, p + w, tc, s);
      }
      std::swap(clist, nlist);
      if (p >= n) break;
      p += w;
    }
    return matched;
  }

  GoRegexp() = default;

  void Push(Inst inst) { prog_.push_back(inst); }
  int Pc() const { return static_cast<int>(prog_.size()); }

  Status Emit(const Node& n) {
    if (prog_.size() > kMaxProgram) {
      return InvalidArgument("invalid regular expression: expression too large");
    }
    switch (n.kind) {
      case Node::kEmpty:
        return Status::OK();
      case Node::kClass:
        Push({Op::kRune, n.arg});
        return Status::OK();
      case Node::kAnyNotNL:
        Push({Op::kAnyNotNL});
        return Status::OK();
      case Node::kAny:
        Push({Op::kAny});
        return Status::OK();
      case Node::kAssert:
        Push({Op::kAssert, n.arg});
        return Status::OK();
      case Node::kCapture:
        if (n.arg > kTrackedGroups) return Emit(*n.subs[0]);
        Push({Op::kSave, 2 * n.arg});
        RETURN_IF_ERROR(Emit(*n.subs[0]));
        Push({Op::kSave, 2 * n.arg + 1});
        return Status::OK();
      case Node::kConcat:
        for (const auto& s : n.subs) RETURN_IF_ERROR(Emit(*s));
        return Status::OK();
      case Node::kAlternate: {
        std::vector<int> jumps;
        for (std::size_t k = 0; k + 1 < n.subs.size(); ++k) {
          const int split = Pc();
          Push({Op::kSplit, split + 1, 0});
          RETURN_IF_ERROR(Emit(*n.subs[k]));
          jumps.push_back(Pc());
          Push({Op::kJmp});
          prog_[split].y = Pc();
        }
        RETURN_IF_ERROR(Emit(*n.subs.back()));
        for (int j : jumps) prog_[j].x = Pc();
        return Status::OK();
      }
      case Node::kRepeat:
        return EmitRepeat(n);
    }
    return Status::OK();
  }

  // A split whose preferred branch is the next instruction when greedy.
  int PushSplit(bool greedy) {
    const int pc = Pc();
    Push({Op::kSplit, pc + 1, 0});
    if (!greedy) std::swap(prog_[pc].x, prog_[pc].y);
    return pc;
  }
  // Points the split's "leave" branch at `target`.
  void PatchSplit(int split, bool greedy, int target) {
    if (greedy) {
      prog_[split].y = target;
    } else {
      prog_[split].x = target;
    }
  }

  Status EmitRepeat(const Node& n) {
    const Node& sub = *n.subs[0];
    const int copies = n.max < 0 ? std::max(0, n.min - 1) : n.min;
    for (int k = 0; k < copies; ++k) RETURN_IF_ERROR(Emit(sub));
    if (n.max < 0) {
      if (n.min == 0) {  // x*
        const int split = PushSplit(n.greedy);
        RETURN_IF_ERROR(Emit(sub));
        Push({Op::kJmp, split});
        PatchSplit(split, n.greedy, Pc());
      } else {  // x+
        const int start = Pc();
        RETURN_IF_ERROR(Emit(sub));
        const int split = Pc();
        Push({Op::kSplit, start, split + 1});
        if (!n.greedy) std::swap(prog_[split].x, prog_[split].y);
      }
      return Status::OK();
    }
    // x{n,m}: (x(x(x)?)?)? for the optional m - n, as RE2 nests them.
    std::vector<int> splits;
    for (int k = n.min; k < n.max; ++k) {
      splits.push_back(PushSplit(n.greedy));
      RETURN_IF_ERROR(Emit(sub));
    }
    for (int s : splits) PatchSplit(s, n.greedy, Pc());
    return Status::OK();
  }

  // The literal text every match starts with (leading single-rune classes
  // of the top-level concatenation), for skipping ahead with find().
  std::string LiteralPrefix(const Node& root) const {
    std::string prefix;
    const Node* concat = &root;
    std::vector<const Node*> items;
    if (concat->kind == Node::kConcat) {
      for (const auto& s : concat->subs) items.push_back(s.get());
    } else {
      items.push_back(concat);
    }
    for (const Node* item : items) {
      if (item->kind != Node::kClass) break;
      const Ranges& r = classes_[item->arg].ranges;
      if (r.size() != 1 || r[0].first != r[0].second) break;
      AppendUtf8(prefix, r[0].first);
    }
    return prefix;
  }

  int EmptyFlags(std::string_view text, std::size_t p) const {
    int f = 0;
    const std::size_t n = text.size();
    if (p == 0) {
      f |= kBeginText | kBeginLine;
    } else if (text[p - 1] == '\n') {
      f |= kBeginLine;
    }
    if (p >= n) {
      f |= kEndText | kEndLine;
    } else if (text[p] == '\n') {
      f |= kEndLine;
    }
    const bool before = p > 0 && IsWordByte(static_cast<unsigned char>(text[p - 1]));
    const bool after = p < n && IsWordByte(static_cast<unsigned char>(text[p]));
    f |= before != after ? kWordBoundary : kNoWordBoundary;
    return f;
  }

  // Follows the empty transitions from pc at position p, in priority order,
  // adding each thread that waits for input (or matches) to `list` with its
  // captures. An explicit stack: the depth is the program's, not the text's.
  void AddThread(std::string_view text, Scratch::List* list, int pc0, std::size_t p, const int* caps,
                 Scratch* s) const {
    constexpr int kRestore = -1;
    std::vector<int>& stack = s->stack;
    std::vector<int>& tmp = s->tmp;
    std::copy(caps, caps + ncap_, tmp.begin());
    stack.clear();
    stack.push_back(pc0);
    int flags = -1;
    while (!stack.empty()) {
      const int pc = stack.back();
      stack.pop_back();
      if (pc == kRestore) {  // [slot, value, kRestore]
        const int value = stack.back();
        stack.pop_back();
        const int slot = stack.back();
        stack.pop_back();
        tmp[static_cast<std::size_t>(slot)] = value;
        continue;
      }
      if (list->Contains(pc)) continue;
      const int idx = list->Insert(pc);
      const Inst& inst = prog_[pc];
      switch (inst.op) {
        case Op::kJmp:
          stack.push_back(inst.x);
          break;
        case Op::kSplit:
          stack.push_back(inst.y);
          stack.push_back(inst.x);
          break;
        case Op::kSave:
          stack.push_back(inst.x);
          stack.push_back(tmp[static_cast<std::size_t>(inst.x)]);
          stack.push_back(kRestore);
          tmp[static_cast<std::size_t>(inst.x)] = static_cast<int>(p);
          stack.push_back(pc + 1);
          break;
        case Op::kAssert:
          if (flags < 0) flags = EmptyFlags(text, p);
          if (flags & inst.x) stack.push_back(pc + 1);
          break;
        default:
          std::copy(tmp.begin(), tmp.end(), list->caps.begin() + static_cast<std::ptrdiff_t>(idx) * ncap_);
          break;
      }
    }
  }

  std::vector<Inst> prog_;
  std::vector<RuneClass> classes_;
  int groups_ = 0;
  int ncap_ = 2;
  std::string prefix_;
};

}  // namespace internal

// ------------------------------------------------------------ filters

namespace {

bool IsGoSpace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }
// [\w|-]: Katib's name characters, '|' included (it sits in the class).
bool IsNameChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '|' ||
         c == '-';
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (IsGoSpace(static_cast<unsigned char>(s.front())) || s.front() == '\v'))
    s.remove_prefix(1);
  while (!s.empty() && (IsGoSpace(static_cast<unsigned char>(s.back())) || s.back() == '\v'))
    s.remove_suffix(1);
  return s;
}

// kDefaultMetricsFilter by hand. A match needs a run of name characters
// followed by optional space and '='; since '=' is not a name character,
// no shorter name inside the run can match either, so a run without '='
// is skipped whole. The value part can be empty and all its pieces are
// greedy, so the first path the regexp would try is the one taken.
void FindAllDefault(std::string_view s, std::vector<std::pair<std::string_view, std::string_view>>* out) {
  const std::size_t n = s.size();
  auto at = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  std::size_t i = 0;
  while (i < n) {
    if (!IsNameChar(at(i))) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    while (i < n && IsNameChar(at(i))) ++i;
    const std::size_t end = i;
    std::size_t j = i;
    while (j < n && IsGoSpace(at(j))) ++j;
    if (j >= n || s[j] != '=') continue;
    ++j;
    while (j < n && IsGoSpace(at(j))) ++j;
    const std::size_t vstart = j;
    if (j < n && (s[j] == '+' || s[j] == '-')) ++j;
    while (j < n && IsDigit(at(j))) ++j;
    if (j + 1 < n && s[j] == '.' && IsDigit(at(j + 1))) {
      j += 2;
      while (j < n && IsDigit(at(j))) ++j;
    }
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
      std::size_t k = j + 1;
      if (k < n && (s[k] == '+' || s[k] == '-')) ++k;
      if (k < n && IsDigit(at(k))) {
        while (k < n && IsDigit(at(k))) ++k;
        j = k;
      }
    }
    out->emplace_back(s.substr(start, end - start), s.substr(vstart, j - vstart));
    i = j;
  }
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

// Go's strconv.ParseFloat(s, 64) == nil, without hexadecimal floats.
bool ParseGoFloat(std::string_view s, double* out) {
  if (s.empty()) return false;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (EqualsIgnoreCase(s, "inf") || EqualsIgnoreCase(s, "infinity")) {
    *out = negative ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (EqualsIgnoreCase(s, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // Digits with at most one '.', then an optional exponent.
  std::size_t i = 0, digits = 0;
  bool dot = false;
  for (; i < s.size(); ++i) {
    if (IsDigit(static_cast<unsigned char>(s[i]))) {
      ++digits;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  if (digits == 0) return false;
  if (i < s.size()) {
    if (s[i] != 'e' && s[i] != 'E') return false;
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    const std::size_t exp_start = i;
    while (i < s.size() && IsDigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == exp_start || i != s.size()) return false;
  }
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range) {
    // Go rounds an underflow to zero and refuses only an overflow.
    v = std::strtod(std::string(s).c_str(), nullptr);
    if (std::isinf(v)) return false;
  } else if (ec != std::errc() || ptr != s.data() + s.size()) {
    return false;
  }
  *out = negative ? -v : v;
  return true;
}

}  // namespace

Result<MetricsFilter> MetricsFilter::Compile(std::string_view pattern, std::string field) {
  Result<std::shared_ptr<const internal::GoRegexp>> re = internal::GoRegexp::Compile(pattern);
  if (!re.ok()) {
    return InvalidArgument("metrics filter " + QuoteForMessage(pattern) + ": " + re.status().message(),
                           std::move(field));
  }
  if ((*re)->groups() < 2) {
    return InvalidArgument("metrics filter " + QuoteForMessage(pattern) +
                               " needs two capture groups, the metric's name and its value",
                           std::move(field));
  }
  MetricsFilter f;
  f.pattern_ = std::string(pattern);
  f.re_ = std::move(re).value();
  return f;
}

MetricsFilter MetricsFilter::Default() {
  MetricsFilter f;
  f.pattern_ = std::string(kDefaultMetricsFilter);
  return f;
}

void MetricsFilter::FindAll(std::string_view line,
                            std::vector<std::pair<std::string_view, std::string_view>>* out) const {
  if (!re_) {
    const std::size_t first = out->size();
    FindAllDefault(line, out);
    for (std::size_t k = first; k < out->size(); ++k) {
      (*out)[k] = {TrimSpace((*out)[k].first), TrimSpace((*out)[k].second)};
    }
    return;
  }
  internal::GoRegexp::Scratch scratch;
  std::vector<int> caps;
  auto group = [&](int g) -> std::string_view {
    const int a = caps[static_cast<std::size_t>(2 * g)], b = caps[static_cast<std::size_t>(2 * g + 1)];
    if (a < 0 || b < a) return {};
    return TrimSpace(line.substr(static_cast<std::size_t>(a), static_cast<std::size_t>(b - a)));
  };
  // Go's allMatches: an empty match right after the previous match is
  // dropped and the search moves on by one rune.
  std::size_t pos = 0;
  long prev_end = -1;
  while (pos <= line.size()) {
    if (!re_->Search(line, pos, &scratch, &caps)) break;
    bool accept = true;
    const auto begin = static_cast<std::size_t>(caps[0]), end = static_cast<std::size_t>(caps[1]);
    if (end == pos) {
      if (static_cast<long>(begin) == prev_end) accept = false;
      if (pos >= line.size()) {
        pos = line.size() + 1;
      } else {
        const std::size_t w = DecodeUtf8(line, pos);
        pos += w == 0 ? 1 : w;
      }
    } else {
      pos = end;
    }
    prev_end = static_cast<long>(end);
    if (accept) out->emplace_back(group(1), group(2));
  }
}

// ------------------------------------------------------------ parser

Result<MetricsParser> MetricsParser::Make(MetricsParserOptions options) {
  if (options.metric_names.empty()) return InvalidArgument("no metric names to collect", "metric_names");
  if (options.max_line_bytes == 0) {
    return InvalidArgument("max_line_bytes must be positive", "max_line_bytes");
  }
  MetricsParser p;
  if (options.format == MetricsFormat::kJson) {
    if (!options.filters.empty()) {
      return InvalidArgument("filters do not apply to the JSON format", "filters");
    }
  } else if (options.filters.empty()) {
    p.filters_.push_back(MetricsFilter::Default());
  } else {
    for (std::size_t i = 0; i < options.filters.size(); ++i) {
      ASSIGN_OR_RETURN(MetricsFilter f,
                       MetricsFilter::Compile(options.filters[i], "filters[" + std::to_string(i) + "]"));
      p.filters_.push_back(std::move(f));
    }
  }
  p.options_ = std::move(options);
  return p;
}

void MetricsParser::Feed(std::string_view chunk) {
  std::size_t start = 0;
  while (start <= chunk.size() && status_.ok()) {
    std::size_t end = start;
    while (end < chunk.size() && chunk[end] != '\n' && chunk[end] != '\r') ++end;
    std::string_view piece = chunk.substr(start, end - start);
    const std::size_t room = options_.max_line_bytes - std::min(options_.max_line_bytes, partial_.size());
    if (piece.size() > room) {
      partial_cut_ = true;
      piece = piece.substr(0, room);
    }
    if (end == chunk.size()) {  // no line end yet: keep the tail for the next chunk
      partial_.append(piece);
      return;
    }
    if (partial_cut_) ++long_lines_;
    if (partial_.empty()) {
      ParseLine(piece);
    } else {
      partial_.append(piece);
      ParseLine(partial_);
    }
    partial_.clear();
    partial_cut_ = false;
    if (chunk[end] == '\n') ++line_;
    start = end + 1;
  }
}

void MetricsParser::Finish() {
  if (!status_.ok()) return;
  if (partial_cut_) ++long_lines_;
  if (!partial_.empty() || partial_cut_) ParseLine(partial_);
  partial_.clear();
  partial_cut_ = false;
}

std::vector<MetricLog> MetricsParser::TakeLogs() {
  std::vector<MetricLog> out;
  out.swap(logs_);
  return out;
}

void MetricsParser::Add(std::string_view name, double value, std::optional<std::int64_t> unix_micros) {
  logs_.push_back(MetricLog{std::string(name), value, line_, unix_micros});
}

void MetricsParser::ParseLine(std::string_view line) {
  if (options_.format == MetricsFormat::kJson) {
    ParseJsonLine(line);
  } else {
    ParseTextLine(line);
  }
}

void MetricsParser::ParseTextLine(std::string_view line) {
  bool mentions = false;
  for (const std::string& m : options_.metric_names) {
    if (line.find(m) != std::string_view::npos) {
      mentions = true;
      break;
    }
  }
  if (!mentions) return;
  std::optional<std::int64_t> ts;
  const std::size_t space = line.find(' ');
  if (space != std::string_view::npos) {
    Result<std::int64_t> t = ParseRfc3339(line.substr(0, space));
    if (t.ok()) ts = *t;
  }
  for (const MetricsFilter& f : filters_) {
    matches_.clear();
    f.FindAll(line, &matches_);
    for (const auto& [name, text] : matches_) {
      if (std::find(options_.metric_names.begin(), options_.metric_names.end(), name) ==
          options_.metric_names.end()) {
        continue;
      }
      double v = 0;
      if (!ParseGoFloat(text, &v) || std::isnan(v)) {
        ++skipped_values_;
        continue;
      }
      Add(name, v, ts);
    }
  }
}

void MetricsParser::ParseJsonLine(std::string_view line) {
  const std::string where = "line " + std::to_string(line_);
  if (partial_cut_) {
    status_ =
        InvalidArgument(where + " is longer than " + std::to_string(options_.max_line_bytes) + " bytes");
    return;
  }
  line = TrimSpace(line);
  if (line.empty()) return;
  Result<Json> parsed = ParseJson(line);
  if (!parsed.ok() || !parsed->is_object()) {
    status_ = InvalidArgument(where + " is not a JSON object" +
                              (parsed.ok() ? std::string() : ": " + parsed.status().message()));
    return;
  }
  const Json& obj = *parsed;
  std::optional<std::int64_t> ts;
  if (auto it = obj.find("timestamp"); it != obj.end()) {
    if (it->is_string()) {
      Result<std::int64_t> t = ParseRfc3339(it->get_ref<const std::string&>());
      if (t.ok()) ts = *t;
    } else if (it->is_number()) {
      const double secs = it->get<double>();
      if (std::isfinite(secs) && std::abs(secs) < 9.0e12) ts = std::llround(secs * 1e6);
    }
  }
  for (const std::string& m : options_.metric_names) {
    auto it = obj.find(m);
    if (it == obj.end()) continue;
    double v = 0;
    bool ok = false;
    if (it->is_string()) {
      ok = ParseGoFloat(TrimSpace(it->get_ref<const std::string&>()), &v);
    } else if (it->is_number()) {
      v = it->get<double>();
      ok = true;
    }
    if (!ok || std::isnan(v)) {
      ++skipped_values_;
      continue;
    }
    Add(m, v, ts);
  }
}

Result<std::vector<MetricLog>> ParseMetrics(std::string_view text, const MetricsParserOptions& options) {
  ASSIGN_OR_RETURN(MetricsParser p, MetricsParser::Make(options));
  p.Feed(text);
  p.Finish();
  if (!p.status().ok()) return p.status();
  return p.TakeLogs();
}

Result<std::vector<MetricLog>> ParseMetricsFile(const std::string& path,
                                                const MetricsParserOptions& options) {
  ASSIGN_OR_RETURN(MetricsParser p, MetricsParser::Make(options));
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open metrics file " + QuoteForMessage(path));
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const std::streamsize got = in.gcount();
    if (got <= 0) break;
    p.Feed(std::string_view(buf.data(), static_cast<std::size_t>(got)));
    if (!p.status().ok()) break;
  }
  if (in.bad()) return Internal("error reading metrics file " + QuoteForMessage(path));
  p.Finish();
  if (!p.status().ok()) return p.status();
  return p.TakeLogs();
}

// ------------------------------------------------------------ summaries

Observation Summarise(std::string_view name, MetricStrategy strategy, std::span<const MetricLog> logs) {
  Observation o;
  o.name = std::string(name);
  o.strategy = strategy;
  std::int64_t latest_ts = 0;
  for (const MetricLog& log : logs) {
    if (log.name != name || std::isnan(log.value)) continue;
    if (!o.min || log.value < *o.min) o.min = log.value;
    if (!o.max || log.value > *o.max) o.max = log.value;
    const std::int64_t ts = log.unix_micros.value_or(std::numeric_limits<std::int64_t>::min());
    if (!o.latest || !(latest_ts > ts)) {
      o.latest = log.value;
      latest_ts = ts;
    }
  }
  switch (strategy) {
    case MetricStrategy::kMin:
      o.value = o.min;
      break;
    case MetricStrategy::kMax:
      o.value = o.max;
      break;
    case MetricStrategy::kLatest:
      o.value = o.latest;
      break;
  }
  return o;
}

std::map<std::int64_t, double> IntermediateValues(std::string_view name, std::span<const MetricLog> logs) {
  std::map<std::int64_t, double> out;
  std::int64_t step = 0;
  for (const MetricLog& log : logs) {
    if (log.name == name && !std::isnan(log.value)) out.emplace_hint(out.end(), ++step, log.value);
  }
  return out;
}

}  // namespace ferry::tuning
