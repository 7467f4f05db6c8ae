// The CEL subset of conditions.h: a lexer, a recursive-descent parser to a
// small AST, and an evaluator over Json values, following cel-go as the KFP
// v2 driver (backend/src/v2/expression/expression.go) uses it:
//   - values are CEL int (Json integer), double (Json float), string, bool,
//     null, list and map; parameter values are bound as structpb gives them,
//     so every number in them is a double (hence the compiler's int(...));
//     parseJson likewise yields doubles (Go's json.Unmarshal);
//   - arithmetic needs operands of one type (int + double is an error, as in
//     CEL); int arithmetic is checked for overflow; comparisons accept int
//     against double;
//   - `a && b` is false if either side is false, even when the other is an
//     error, and the right side is not evaluated when the left is false;
//     `||` likewise with true (CEL's commutative logic);
//   - int(double) truncates toward zero; int('5') parses base 10;
//     string(double) prints as Go's 'g' format.
// Input is bounded: kMaxLength bytes, kMaxNesting levels of parentheses,
// unary operators, calls and indexes, kMaxHeight for the tree.
#include "ferry/pipelines/conditions.h"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/pipelines/placeholders_internal.h"

namespace ferry::pipelines {
namespace {

constexpr std::size_t kMaxLength = 64 * 1024;
constexpr int kMaxNesting = 64;
constexpr int kMaxHeight = 256;

Status ErrorAt(std::string message, int column) {
  return InvalidArgument(std::move(message) + " at column " + std::to_string(column));
}

// ---------------------------------------------------------------- lexer

struct Token {
  enum class Kind { kEnd, kInt, kDouble, kString, kIdent, kPunct };
  Kind kind = Kind::kEnd;
  std::string text;  // identifier, punctuation, or string contents
  std::uint64_t int_value = 0;
  double double_value = 0;
  int column = 1;
};

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      SkipSpace();
      Token t;
      t.column = static_cast<int>(pos_) + 1;
      if (pos_ >= src_.size()) {
        tokens.push_back(t);
        return tokens;
      }
      char c = src_[pos_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        RETURN_IF_ERROR(Number(&t));
      } else if (c == '\'' || c == '"') {
        RETURN_IF_ERROR(String(&t, /*raw=*/false));
      } else if ((c == 'r' || c == 'R') && pos_ + 1 < src_.size() &&
                 (src_[pos_ + 1] == '\'' || src_[pos_ + 1] == '"')) {
        ++pos_;
        RETURN_IF_ERROR(String(&t, /*raw=*/true));
      } else if ((c == 'b' || c == 'B') && pos_ + 1 < src_.size() &&
                 (src_[pos_ + 1] == '\'' || src_[pos_ + 1] == '"')) {
        return ErrorAt("bytes literals are not supported", t.column);
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        std::size_t start = pos_;
        while (pos_ < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_')) {
          ++pos_;
        }
        t.kind = Token::Kind::kIdent;
        t.text = std::string(src_.substr(start, pos_ - start));
      } else {
        RETURN_IF_ERROR(Punct(&t));
      }
      tokens.push_back(std::move(t));
    }
  }

 private:
  void SkipSpace() {
    while (pos_ < src_.size()) {
      char c = src_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f') {
        ++pos_;
      } else if (c == '/' && pos_ + 1 < src_.size() && src_[pos_ + 1] == '/') {  // CEL comment
        while (pos_ < src_.size() && src_[pos_] != '\n') ++pos_;
      } else {
        return;
      }
    }
  }

  Status Number(Token* t) {
    std::size_t start = pos_;
    if (src_[pos_] == '0' && pos_ + 1 < src_.size() && (src_[pos_ + 1] == 'x' || src_[pos_ + 1] == 'X')) {
      pos_ += 2;
      std::size_t digits = pos_;
      std::uint64_t v = 0;
      while (pos_ < src_.size() && HexDigit(src_[pos_]) >= 0) {
        if (v > (std::numeric_limits<std::uint64_t>::max() >> 4)) {
          return ErrorAt("integer literal out of range", t->column);
        }
        v = (v << 4) | static_cast<std::uint64_t>(HexDigit(src_[pos_++]));
      }
      if (pos_ == digits) return ErrorAt("malformed hexadecimal literal", t->column);
      t->kind = Token::Kind::kInt;
      t->int_value = v;
      return CheckSuffix(t);
    }
    while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    bool is_double = false;
    if (pos_ + 1 < src_.size() && src_[pos_] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[pos_ + 1]))) {
      is_double = true;
      ++pos_;
      while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    }
    if (pos_ < src_.size() && (src_[pos_] == 'e' || src_[pos_] == 'E')) {
      std::size_t e = pos_ + 1;
      if (e < src_.size() && (src_[e] == '+' || src_[e] == '-')) ++e;
      if (e >= src_.size() || !std::isdigit(static_cast<unsigned char>(src_[e]))) {
        return ErrorAt("malformed exponent", t->column);
      }
      is_double = true;
      pos_ = e;
      while (pos_ < src_.size() && std::isdigit(static_cast<unsigned char>(src_[pos_]))) ++pos_;
    }
    std::string_view text = src_.substr(start, pos_ - start);
    if (is_double) {
      double v = 0;
      if (!internal::ParseGoFloat(text, &v)) return ErrorAt("double literal out of range", t->column);
      t->kind = Token::Kind::kDouble;
      t->double_value = v;
    } else {
      std::uint64_t v = 0;
      auto res = std::from_chars(text.data(), text.data() + text.size(), v);
      if (res.ec != std::errc()) return ErrorAt("integer literal out of range", t->column);
      t->kind = Token::Kind::kInt;
      t->int_value = v;
    }
    return CheckSuffix(t);
  }

  Status CheckSuffix(Token* t) {
    if (pos_ < src_.size() && (src_[pos_] == 'u' || src_[pos_] == 'U')) {
      return ErrorAt("unsigned literals are not supported", t->column);
    }
    if (pos_ < src_.size() &&
        (std::isalpha(static_cast<unsigned char>(src_[pos_])) || src_[pos_] == '_' || src_[pos_] == '.')) {
      if (src_[pos_] != '.' || t->kind == Token::Kind::kDouble) {
        return ErrorAt("malformed number", t->column);
      }
    }
    return Status::OK();
  }

  Status String(Token* t, bool raw) {
    char quote = src_[pos_];
    bool triple = pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote;
    pos_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) return ErrorAt("unterminated string", t->column);
      char c = src_[pos_];
      if (c == quote) {
        if (!triple) {
          ++pos_;
          break;
        }
        if (pos_ + 2 < src_.size() && src_[pos_ + 1] == quote && src_[pos_ + 2] == quote) {
          pos_ += 3;
          break;
        }
      }
      if (!triple && (c == '\n' || c == '\r')) return ErrorAt("unterminated string", t->column);
      if (c != '\\' || raw) {
        out += c;
        ++pos_;
        continue;
      }
      int esc_col = static_cast<int>(pos_) + 1;
      if (pos_ + 1 >= src_.size()) return ErrorAt("unterminated string", t->column);
      char e = src_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '\\':
          out += '\\';
          continue;
        case '\'':
          out += '\'';
          continue;
        case '"':
          out += '"';
          continue;
        case '`':
          out += '`';
          continue;
        case '?':
          out += '?';
          continue;
        case 'a':
          out += '\a';
          continue;
        case 'b':
          out += '\b';
          continue;
        case 'f':
          out += '\f';
          continue;
        case 'n':
          out += '\n';
          continue;
        case 'r':
          out += '\r';
          continue;
        case 't':
          out += '\t';
          continue;
        case 'v':
          out += '\v';
          continue;
        default:
          break;
      }
      int digits = 0;
      int base = 16;
      if (e == 'x' || e == 'X') {
        digits = 2;
      } else if (e == 'u') {
        digits = 4;
      } else if (e == 'U') {
        digits = 8;
      } else if (e >= '0' && e <= '3') {
        digits = 2;
        base = 8;
        --pos_;  // the first octal digit is part of the value
        ++digits;
      } else {
        return ErrorAt("invalid escape sequence", esc_col);
      }
      std::uint32_t cp = 0;
      for (int i = 0; i < digits; ++i) {
        if (pos_ >= src_.size()) return ErrorAt("invalid escape sequence", esc_col);
        int d = HexDigit(src_[pos_]);
        if (d < 0 || d >= base) return ErrorAt("invalid escape sequence", esc_col);
        cp = cp * static_cast<std::uint32_t>(base) + static_cast<std::uint32_t>(d);
        ++pos_;
      }
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return ErrorAt("invalid code point", esc_col);
      AppendUtf8(out, cp);
    }
    t->kind = Token::Kind::kString;
    t->text = std::move(out);
    return Status::OK();
  }

  Status Punct(Token* t) {
    static const std::string_view kTwo[] = {"<=", ">=", "==", "!=", "&&", "||"};
    for (std::string_view p : kTwo) {
      if (src_.substr(pos_, 2) == p) {
        t->kind = Token::Kind::kPunct;
        t->text = std::string(p);
        pos_ += 2;
        return Status::OK();
      }
    }
    char c = src_[pos_];
    static constexpr std::string_view kOne = "()[].,!-+*/%<>?:{}";
    if (kOne.find(c) != std::string_view::npos) {
      t->kind = Token::Kind::kPunct;
      t->text = std::string(1, c);
      ++pos_;
      return Status::OK();
    }
    return ErrorAt("unexpected character " + QuoteForMessage(src_.substr(pos_, 1)), t->column);
  }

  std::string_view src_;
  std::size_t pos_ = 0;
};

// ---------------------------------------------------------------- parser

struct Node {
  enum class Kind { kLiteral, kIdent, kSelect, kIndex, kCall, kUnary, kBinary, kList };
  Kind kind = Kind::kLiteral;
  int column = 1;
  int height = 1;
  Json literal;
  std::string name;  // identifier, field, function or operator
  std::vector<std::unique_ptr<Node>> args;
};
using NodePtr = std::unique_ptr<Node>;

bool IsFunction(const std::string& name) {
  return name == "int" || name == "double" || name == "string" || name == "parseJson";
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<NodePtr> Parse() {
    ASSIGN_OR_RETURN(NodePtr root, Or());
    if (Peek().kind != Token::Kind::kEnd) return Unexpected(Peek());
    return root;
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  bool IsPunct(std::string_view p) const { return Peek().kind == Token::Kind::kPunct && Peek().text == p; }
  bool IsWord(std::string_view w) const { return Peek().kind == Token::Kind::kIdent && Peek().text == w; }
  const Token& Next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }

  static Status Unexpected(const Token& t) {
    switch (t.kind) {
      case Token::Kind::kEnd:
        return ErrorAt("unexpected end of expression", t.column);
      case Token::Kind::kString:
        return ErrorAt("unexpected string", t.column);
      case Token::Kind::kInt:
      case Token::Kind::kDouble:
        return ErrorAt("unexpected number", t.column);
      default:
        return ErrorAt("unexpected " + QuoteForMessage(t.text), t.column);
    }
  }

  Status Expect(std::string_view p) {
    if (!IsPunct(p)) return Unexpected(Peek());
    Next();
    return Status::OK();
  }

  Result<NodePtr> Make(Node::Kind kind, std::string name, int column, std::vector<NodePtr> args) {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->name = std::move(name);
    n->column = column;
    for (const NodePtr& a : args) n->height = std::max(n->height, a->height + 1);
    n->args = std::move(args);
    if (n->height > kMaxHeight) {
      return ErrorAt("expression nested more than " + std::to_string(kMaxHeight) + " deep", column);
    }
    return n;
  }

  Result<NodePtr> Binary(std::string op, int column, NodePtr l, NodePtr r) {
    std::vector<NodePtr> args;
    args.push_back(std::move(l));
    args.push_back(std::move(r));
    return Make(Node::Kind::kBinary, std::move(op), column, std::move(args));
  }

  // Nesting guard for every recursive descent back to Or() or Unary().
  struct Guard {
    explicit Guard(int* depth) : depth_(depth) { ++*depth_; }
    ~Guard() { --*depth_; }
    int* depth_;
  };
  Status CheckNesting(int column) const {
    if (depth_ > kMaxNesting) {
      return ErrorAt("expression nested more than " + std::to_string(kMaxNesting) + " deep", column);
    }
    return Status::OK();
  }

  Result<NodePtr> Or() {
    ASSIGN_OR_RETURN(NodePtr l, And());
    while (IsPunct("||")) {
      int col = Next().column;
      ASSIGN_OR_RETURN(NodePtr r, And());
      ASSIGN_OR_RETURN(l, Binary("||", col, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<NodePtr> And() {
    ASSIGN_OR_RETURN(NodePtr l, Relation());
    while (IsPunct("&&")) {
      int col = Next().column;
      ASSIGN_OR_RETURN(NodePtr r, Relation());
      ASSIGN_OR_RETURN(l, Binary("&&", col, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<NodePtr> Relation() {
    ASSIGN_OR_RETURN(NodePtr l, Additive());
    while (IsPunct("<") || IsPunct("<=") || IsPunct(">") || IsPunct(">=") || IsPunct("==") || IsPunct("!=") ||
           IsWord("in")) {
      const Token& t = Next();
      std::string op = t.text;
      ASSIGN_OR_RETURN(NodePtr r, Additive());
      ASSIGN_OR_RETURN(l, Binary(op, t.column, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<NodePtr> Additive() {
    ASSIGN_OR_RETURN(NodePtr l, Multiplicative());
    while (IsPunct("+") || IsPunct("-")) {
      const Token& t = Next();
      std::string op = t.text;
      ASSIGN_OR_RETURN(NodePtr r, Multiplicative());
      ASSIGN_OR_RETURN(l, Binary(op, t.column, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<NodePtr> Multiplicative() {
    ASSIGN_OR_RETURN(NodePtr l, Unary());
    while (IsPunct("*") || IsPunct("/") || IsPunct("%")) {
      const Token& t = Next();
      std::string op = t.text;
      ASSIGN_OR_RETURN(NodePtr r, Unary());
      ASSIGN_OR_RETURN(l, Binary(op, t.column, std::move(l), std::move(r)));
    }
    return l;
  }

  Result<NodePtr> Unary() {
    if (IsPunct("!") || IsPunct("-")) {
      const Token& t = Next();
      std::string op = t.text;
      int col = t.column;
      // A negative integer literal: -9223372036854775808 is in range.
      if (op == "-" && Peek().kind == Token::Kind::kInt) {
        std::uint64_t mag = Peek().int_value;
        if (mag > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) {
          return ErrorAt("integer literal out of range", Peek().column);
        }
        Next();
        auto n = std::make_unique<Node>();
        n->column = col;
        n->literal = mag == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1
                         ? std::numeric_limits<std::int64_t>::min()
                         : -static_cast<std::int64_t>(mag);
        return Member(std::move(n));
      }
      Guard guard(&depth_);
      RETURN_IF_ERROR(CheckNesting(col));
      ASSIGN_OR_RETURN(NodePtr operand, Unary());
      std::vector<NodePtr> args;
      args.push_back(std::move(operand));
      return Make(Node::Kind::kUnary, op, col, std::move(args));
    }
    ASSIGN_OR_RETURN(NodePtr primary, Primary());
    return Member(std::move(primary));
  }

  Result<NodePtr> Member(NodePtr n) {
    while (true) {
      if (IsPunct(".")) {
        int col = Next().column;
        if (Peek().kind != Token::Kind::kIdent) return Unexpected(Peek());
        std::string field = Next().text;
        if (IsPunct("(")) return ErrorAt("method calls are not supported", col);
        std::vector<NodePtr> args;
        args.push_back(std::move(n));
        ASSIGN_OR_RETURN(n, Make(Node::Kind::kSelect, field, col, std::move(args)));
      } else if (IsPunct("[")) {
        int col = Next().column;
        Guard guard(&depth_);
        RETURN_IF_ERROR(CheckNesting(col));
        ASSIGN_OR_RETURN(NodePtr index, Or());
        RETURN_IF_ERROR(Expect("]"));
        std::vector<NodePtr> args;
        args.push_back(std::move(n));
        args.push_back(std::move(index));
        ASSIGN_OR_RETURN(n, Make(Node::Kind::kIndex, "[]", col, std::move(args)));
      } else {
        return n;
      }
    }
  }

  Result<NodePtr> Primary() {
    const Token& t = Peek();
    auto n = std::make_unique<Node>();
    n->column = t.column;
    switch (t.kind) {
      case Token::Kind::kInt:
        if (t.int_value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          return ErrorAt("integer literal out of range", t.column);
        }
        n->literal = static_cast<std::int64_t>(t.int_value);
        Next();
        return n;
      case Token::Kind::kDouble:
        n->literal = t.double_value;
        Next();
        return n;
      case Token::Kind::kString:
        n->literal = t.text;
        Next();
        return n;
      case Token::Kind::kIdent: {
        std::string name = Next().text;
        if (name == "true" || name == "false") {
          n->literal = name == "true";
          return n;
        }
        if (name == "null") {
          n->literal = nullptr;
          return n;
        }
        if (name == "in") return ErrorAt("unexpected 'in'", n->column);
        if (IsPunct("(")) {
          if (!IsFunction(name)) return ErrorAt("unknown function " + QuoteForMessage(name), n->column);
          Next();
          Guard guard(&depth_);
          RETURN_IF_ERROR(CheckNesting(n->column));
          std::vector<NodePtr> args;
          if (!IsPunct(")")) {
            while (true) {
              ASSIGN_OR_RETURN(NodePtr a, Or());
              args.push_back(std::move(a));
              if (!IsPunct(",")) break;
              Next();
            }
          }
          RETURN_IF_ERROR(Expect(")"));
          if (args.size() != 1) {
            return ErrorAt(name + "() takes 1 argument, got " + std::to_string(args.size()), n->column);
          }
          return Make(Node::Kind::kCall, name, n->column, std::move(args));
        }
        n->kind = Node::Kind::kIdent;
        n->name = std::move(name);
        return n;
      }
      case Token::Kind::kPunct:
        if (t.text == "(") {
          Next();
          Guard guard(&depth_);
          RETURN_IF_ERROR(CheckNesting(n->column));
          ASSIGN_OR_RETURN(NodePtr inner, Or());
          RETURN_IF_ERROR(Expect(")"));
          return inner;
        }
        if (t.text == "[") {
          int col = Next().column;
          Guard guard(&depth_);
          RETURN_IF_ERROR(CheckNesting(col));
          std::vector<NodePtr> items;
          while (!IsPunct("]")) {
            ASSIGN_OR_RETURN(NodePtr item, Or());
            items.push_back(std::move(item));
            if (!IsPunct(",")) break;
            Next();
          }
          RETURN_IF_ERROR(Expect("]"));
          return Make(Node::Kind::kList, "[]", col, std::move(items));
        }
        return Unexpected(t);
      case Token::Kind::kEnd:
        return Unexpected(t);
    }
    return Unexpected(t);
  }

  std::vector<Token> tokens_;
  std::size_t pos_ = 0;
  int depth_ = 0;
};

Result<NodePtr> ParseCel(std::string_view expression) {
  if (expression.size() > kMaxLength) {
    return InvalidArgument("expression is longer than " + std::to_string(kMaxLength) + " bytes");
  }
  if (FindInvalidUtf8(expression) != std::string_view::npos) {
    return ErrorAt("invalid UTF-8", static_cast<int>(FindInvalidUtf8(expression)) + 1);
  }
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(expression).Run());
  return Parser(std::move(tokens)).Parse();
}

// ---------------------------------------------------------------- evaluator

std::string TypeName(const Json& v) {
  switch (v.type()) {
    case Json::value_t::null:
      return "null_type";
    case Json::value_t::boolean:
      return "bool";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "int";
    case Json::value_t::number_float:
      return "double";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "list";
    case Json::value_t::object:
      return "map";
    default:
      return "unknown";
  }
}

bool IsInt(const Json& v) { return v.is_number_integer(); }  // includes unsigned

std::int64_t AsInt(const Json& v) {
  if (v.is_number_unsigned()) {
    std::uint64_t u = v.get<std::uint64_t>();
    return u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(u);
  }
  return v.get<std::int64_t>();
}

// structpb: every number is a double.
Json AsStructpb(const Json& v) {
  if (v.is_number()) return Json(v.get<double>());
  if (v.is_array()) {
    Json out = Json::array();
    for (const Json& e : v) out.push_back(AsStructpb(e));
    return out;
  }
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) out[it.key()] = AsStructpb(it.value());
    return out;
  }
  return v;
}

// Numeric comparison across int and double: -1, 0, 1; nullopt for NaN.
std::optional<int> CompareNumbers(const Json& a, const Json& b) {
  if (IsInt(a) && IsInt(b)) {
    std::int64_t x = AsInt(a), y = AsInt(b);
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  double x = a.get<double>(), y = b.get<double>();
  if (std::isnan(x) || std::isnan(y)) return std::nullopt;
  return x < y ? -1 : (x > y ? 1 : 0);
}

// CEL's heterogeneous equality for elements of lists and maps.
bool DeepEqual(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) {
    auto c = CompareNumbers(a, b);
    return c && *c == 0;
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!DeepEqual(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto it = a.begin(); it != a.end(); ++it) {
      auto other = b.find(it.key());
      if (other == b.end() || !DeepEqual(it.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

Status NoOverload(std::string_view op, const Json& a, const Json* b, int column) {
  std::string msg = "no such overload: ";
  if (b) {
    msg += TypeName(a) + " " + std::string(op) + " " + TypeName(*b);
  } else {
    msg += std::string(op) + "(" + TypeName(a) + ")";
  }
  return ErrorAt(std::move(msg), column);
}

class Evaluator {
 public:
  explicit Evaluator(const std::map<std::string, Json>& vars) : vars_(vars) {}

  Result<Json> Eval(const Node& n) {
    switch (n.kind) {
      case Node::Kind::kLiteral:
        return n.literal;
      case Node::Kind::kIdent: {
        auto it = vars_.find(n.name);
        if (it == vars_.end()) return ErrorAt("undeclared reference to " + QuoteForMessage(n.name), n.column);
        return it->second;
      }
      case Node::Kind::kList: {
        Json out = Json::array();
        for (const NodePtr& a : n.args) {
          ASSIGN_OR_RETURN(Json v, Eval(*a));
          out.push_back(std::move(v));
        }
        return out;
      }
      case Node::Kind::kSelect: {
        ASSIGN_OR_RETURN(Json target, Eval(*n.args[0]));
        return Lookup(target, Json(n.name), n.column);
      }
      case Node::Kind::kIndex: {
        ASSIGN_OR_RETURN(Json target, Eval(*n.args[0]));
        ASSIGN_OR_RETURN(Json key, Eval(*n.args[1]));
        return Lookup(target, key, n.column);
      }
      case Node::Kind::kCall: {
        ASSIGN_OR_RETURN(Json arg, Eval(*n.args[0]));
        return Call(n.name, arg, n.column);
      }
      case Node::Kind::kUnary: {
        ASSIGN_OR_RETURN(Json v, Eval(*n.args[0]));
        if (n.name == "!") {
          if (!v.is_boolean()) return NoOverload("!", v, nullptr, n.column);
          return Json(!v.get<bool>());
        }
        if (IsInt(v)) {
          std::int64_t x = AsInt(v);
          if (x == std::numeric_limits<std::int64_t>::min()) return ErrorAt("integer overflow", n.column);
          return Json(-x);
        }
        if (v.is_number_float()) return Json(-v.get<double>());
        return NoOverload("-", v, nullptr, n.column);
      }
      case Node::Kind::kBinary:
        return EvalBinary(n);
    }
    return ErrorAt("unsupported expression", n.column);
  }

 private:
  Result<Json> Lookup(const Json& target, const Json& key, int column) {
    if (target.is_object()) {
      if (!key.is_string()) return ErrorAt("no such key: " + GoKey(key), column);
      auto it = target.find(key.get<std::string>());
      if (it == target.end())
        return ErrorAt("no such key: " + QuoteForMessage(key.get<std::string>()), column);
      return *it;
    }
    if (target.is_array()) {
      std::int64_t i = 0;
      if (IsInt(key)) {
        i = AsInt(key);
      } else if (key.is_number_float() && std::trunc(key.get<double>()) == key.get<double>() &&
                 std::fabs(key.get<double>()) < 9.2e18) {
        i = static_cast<std::int64_t>(key.get<double>());
      } else {
        return ErrorAt("no such overload: list[" + TypeName(key) + "]", column);
      }
      if (i < 0 || static_cast<std::uint64_t>(i) >= target.size()) {
        return ErrorAt("index out of range: " + std::to_string(i), column);
      }
      return target[static_cast<std::size_t>(i)];
    }
    return ErrorAt("type " + TypeName(target) + " does not support field selection or indexing", column);
  }

  static std::string GoKey(const Json& key) { return internal::GoJson(key, false); }

  Result<Json> Call(const std::string& fn, const Json& v, int column) {
    if (fn == "int") {
      if (IsInt(v)) return Json(AsInt(v));
      if (v.is_number_float()) {
        double d = v.get<double>();
        if (!(d > -9223372036854775809.0 && d < 9223372036854775808.0)) {
          return ErrorAt("int() range error converting " + internal::FormatFloatG(d), column);
        }
        return Json(static_cast<std::int64_t>(d));
      }
      if (v.is_string()) {
        std::int64_t i = 0;
        if (!internal::ParseGoInt(v.get_ref<const std::string&>(), &i)) {
          return ErrorAt("int() cannot convert " + QuoteForMessage(v.get<std::string>()), column);
        }
        return Json(i);
      }
      return NoOverload("int", v, nullptr, column);
    }
    if (fn == "double") {
      if (v.is_number()) return Json(v.get<double>());
      if (v.is_string()) {
        double d = 0;
        if (!internal::ParseGoFloat(v.get_ref<const std::string&>(), &d)) {
          return ErrorAt("double() cannot convert " + QuoteForMessage(v.get<std::string>()), column);
        }
        return Json(d);
      }
      return NoOverload("double", v, nullptr, column);
    }
    if (fn == "string") {
      if (v.is_string()) return v;
      if (IsInt(v)) return Json(std::to_string(AsInt(v)));
      if (v.is_number_float()) return Json(internal::FormatFloatG(v.get<double>()));
      if (v.is_boolean()) return Json(v.get<bool>() ? "true" : "false");
      return NoOverload("string", v, nullptr, column);
    }
    if (fn == "parseJson") {
      if (!v.is_string()) return NoOverload("parseJson", v, nullptr, column);
      Result<Json> parsed = ParseJson(v.get_ref<const std::string&>());
      if (!parsed.ok()) return ErrorAt("parseJson: " + parsed.status().message(), column);
      return AsStructpb(*parsed);
    }
    return ErrorAt("unknown function " + QuoteForMessage(fn), column);
  }

  Result<Json> EvalBinary(const Node& n) {
    const std::string& op = n.name;
    if (op == "&&" || op == "||") {
      bool absorbing = op == "||";  // the value that decides the result
      Result<Json> l = Eval(*n.args[0]);
      if (l.ok() && l->is_boolean() && l->get<bool>() == absorbing) return Json(absorbing);
      Result<Json> r = Eval(*n.args[1]);
      if (r.ok() && r->is_boolean() && r->get<bool>() == absorbing) return Json(absorbing);
      if (!l.ok()) return l.status();
      if (!l->is_boolean()) return NoOverload(op, *l, r.ok() ? &*r : &*l, n.column);
      if (!r.ok()) return r.status();
      if (!r->is_boolean()) return NoOverload(op, *l, &*r, n.column);
      return Json(!absorbing);
    }
    ASSIGN_OR_RETURN(Json a, Eval(*n.args[0]));
    ASSIGN_OR_RETURN(Json b, Eval(*n.args[1]));
    if (op == "==" || op == "!=") {
      bool same_kind = (a.is_number() && b.is_number()) || a.type() == b.type() || (IsInt(a) && IsInt(b));
      if (!same_kind) return NoOverload(op, a, &b, n.column);
      bool eq = DeepEqual(a, b);
      return Json(op == "==" ? eq : !eq);
    }
    if (op == "in") {
      if (b.is_array()) {
        for (const Json& e : b) {
          if (DeepEqual(a, e)) return Json(true);
        }
        return Json(false);
      }
      if (b.is_object()) {
        if (!a.is_string()) return NoOverload(op, a, &b, n.column);
        return Json(b.contains(a.get<std::string>()));
      }
      return NoOverload(op, a, &b, n.column);
    }
    if (op == "<" || op == "<=" || op == ">" || op == ">=") {
      int c = 0;
      if (a.is_number() && b.is_number()) {
        auto cmp = CompareNumbers(a, b);
        if (!cmp) return Json(false);  // NaN compares false
        c = *cmp;
      } else if (a.is_string() && b.is_string()) {
        int r = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
        c = r < 0 ? -1 : (r > 0 ? 1 : 0);
      } else if (a.is_boolean() && b.is_boolean()) {
        c = static_cast<int>(a.get<bool>()) - static_cast<int>(b.get<bool>());
      } else {
        return NoOverload(op, a, &b, n.column);
      }
      bool result = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
      return Json(result);
    }
    // Arithmetic: both operands of one type.
    if (IsInt(a) && IsInt(b)) {
      std::int64_t x = AsInt(a), y = AsInt(b), r = 0;
      bool overflow = false;
      if (op == "+") {
        overflow = __builtin_add_overflow(x, y, &r);
      } else if (op == "-") {
        overflow = __builtin_sub_overflow(x, y, &r);
      } else if (op == "*") {
        overflow = __builtin_mul_overflow(x, y, &r);
      } else {
        if (y == 0) return ErrorAt(op == "/" ? "division by zero" : "modulus by zero", n.column);
        if (x == std::numeric_limits<std::int64_t>::min() && y == -1) {
          overflow = op == "/";
          r = 0;
        } else {
          r = op == "/" ? x / y : x % y;
        }
      }
      if (overflow) return ErrorAt("integer overflow", n.column);
      return Json(r);
    }
    if (a.is_number_float() && b.is_number_float() && op != "%") {
      double x = a.get<double>(), y = b.get<double>();
      return Json(op == "+" ? x + y : op == "-" ? x - y : op == "*" ? x * y : x / y);
    }
    if (op == "+" && a.is_string() && b.is_string()) {
      return Json(a.get<std::string>() + b.get<std::string>());
    }
    if (op == "+" && a.is_array() && b.is_array()) {
      Json out = a;
      for (const Json& e : b) out.push_back(e);
      return out;
    }
    return NoOverload(op, a, &b, n.column);
  }

  const std::map<std::string, Json>& vars_;
};

}  // namespace

Status CheckCelExpression(std::string_view expression) {
  Result<NodePtr> ast = ParseCel(expression);
  if (!ast.ok()) return ast.status().WithContext("condition");
  return Status::OK();
}

Result<bool> EvaluateCondition(std::string_view expression,
                               const std::map<std::string, Json>& parameter_values) {
  Result<NodePtr> ast = ParseCel(expression);
  if (!ast.ok()) return ast.status().WithContext("condition");
  Json params = Json::object();
  for (const auto& [name, value] : parameter_values) params[name] = AsStructpb(value);
  std::map<std::string, Json> vars;
  vars["inputs"] = Json{{"parameter_values", params}, {"parameters", params}};
  Result<Json> result = Evaluator(vars).Eval(**ast);
  if (!result.ok()) return result.status().WithContext("condition");
  if (!result->is_boolean()) {
    return InvalidArgument("condition: result is " + TypeName(*result) + ", not bool");
  }
  return result->get<bool>();
}

Result<Json> EvaluateSelector(std::string_view expression, const Json& value) {
  Result<NodePtr> ast = ParseCel(expression);
  if (!ast.ok()) return ast.status().WithContext("expression selector");
  // The set field of the structpb.Value, plus string_value always.
  std::map<std::string, Json> vars;
  Json v = AsStructpb(value);
  switch (v.type()) {
    case Json::value_t::null:
      vars["null_value"] = nullptr;
      break;
    case Json::value_t::boolean:
      vars["bool_value"] = v;
      break;
    case Json::value_t::number_float:
      vars["number_value"] = v;
      break;
    case Json::value_t::array:
      vars["list_value"] = v;
      break;
    case Json::value_t::object:
      vars["struct_value"] = v;
      break;
    default:
      break;
  }
  vars["string_value"] = internal::ParameterText(value);
  Result<Json> result = Evaluator(vars).Eval(**ast);
  if (!result.ok()) return result.status().WithContext("expression selector");
  return std::move(result).value();
}

}  // namespace ferry::pipelines
