#include "ferry/store/label_selector.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <utility>

#include "ferry/common/names.h"

namespace ferry::store {
namespace {

// The lexer and grammar follow k8s.io/apimachinery/pkg/labels/selector.go so
// that selectors written for kubectl parse, and fail, the same way here.
enum class TokenKind {
  kEnd,
  kIdentifier,
  kComma,
  kOpenParen,
  kCloseParen,
  kEquals,        // "="
  kDoubleEquals,  // "=="
  kNotEquals,     // "!="
  kBang,          // "!"
  kIn,
  kNotIn,
  kUnsupported,  // ">" or "<": Kubernetes' numeric operators, not label selectors
};

struct Token {
  TokenKind kind;
  std::string_view text;
  std::size_t pos;
};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool IsSpecial(char c) {
  return c == ',' || c == '(' || c == ')' || c == '=' || c == '!' || c == '<' || c == '>';
}

// Renders untrusted text for an error message: bounded, control bytes masked.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 64)) {
    unsigned char u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (s.size() > 64) out += "...";
  return out + "'";
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Token Next() {
    while (pos_ < text_.size() && IsSpace(text_[pos_])) ++pos_;
    std::size_t start = pos_;
    if (pos_ >= text_.size()) return {TokenKind::kEnd, {}, start};
    char c = text_[pos_];
    auto two = [&](char second) { return pos_ + 1 < text_.size() && text_[pos_ + 1] == second; };
    switch (c) {
      case ',':
        ++pos_;
        return {TokenKind::kComma, text_.substr(start, 1), start};
      case '(':
        ++pos_;
        return {TokenKind::kOpenParen, text_.substr(start, 1), start};
      case ')':
        ++pos_;
        return {TokenKind::kCloseParen, text_.substr(start, 1), start};
      case '=':
        if (two('=')) {
          pos_ += 2;
          return {TokenKind::kDoubleEquals, text_.substr(start, 2), start};
        }
        ++pos_;
        return {TokenKind::kEquals, text_.substr(start, 1), start};
      case '!':
        if (two('=')) {
          pos_ += 2;
          return {TokenKind::kNotEquals, text_.substr(start, 2), start};
        }
        ++pos_;
        return {TokenKind::kBang, text_.substr(start, 1), start};
      case '<':
      case '>':
        ++pos_;
        return {TokenKind::kUnsupported, text_.substr(start, 1), start};
      default:
        break;
    }
    while (pos_ < text_.size() && !IsSpace(text_[pos_]) && !IsSpecial(text_[pos_])) ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    if (word == "in") return {TokenKind::kIn, word, start};
    if (word == "notin") return {TokenKind::kNotIn, word, start};
    return {TokenKind::kIdentifier, word, start};
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : lexer_(text) { Advance(); }

  Result<std::vector<LabelSelector::Requirement>> Parse() {
    std::vector<LabelSelector::Requirement> out;
    if (current_.kind == TokenKind::kEnd) return out;
    while (true) {
      ASSIGN_OR_RETURN(LabelSelector::Requirement req, ParseRequirement());
      out.push_back(std::move(req));
      if (current_.kind == TokenKind::kEnd) return out;
      if (current_.kind != TokenKind::kComma) return Unexpected("',' or end of selector");
      Advance();
    }
  }

 private:
  void Advance() { current_ = lexer_.Next(); }

  Status Error(std::string message) const {
    return InvalidArgument("labelSelector: " + message, "labelSelector");
  }

  Status Unexpected(std::string_view expected) const {
    if (current_.kind == TokenKind::kEnd)
      return Error("unexpected end of selector at " + std::to_string(current_.pos) + ", expected " +
                   std::string(expected));
    if (current_.kind == TokenKind::kUnsupported)
      return Error("operator " + Quote(current_.text) + " at " + std::to_string(current_.pos) +
                   " is not supported in label selectors");
    return Error("unexpected " + Quote(current_.text) + " at " + std::to_string(current_.pos) +
                 ", expected " + std::string(expected));
  }

  Result<std::string> ParseKey() {
    if (current_.kind != TokenKind::kIdentifier) return Unexpected("a label key");
    Token key = current_;
    Status valid = ValidateLabelKey(key.text, "label key");
    if (!valid.ok()) return Error("invalid key at " + std::to_string(key.pos) + ": " + valid.message());
    Advance();
    return std::string(key.text);
  }

  Result<std::string> ParseValue() {
    Token value = current_;
    Status valid = ValidateLabelValue(value.text, "label value");
    if (!valid.ok()) return Error("invalid value at " + std::to_string(value.pos) + ": " + valid.message());
    Advance();
    return std::string(value.text);
  }

  Result<LabelSelector::Requirement> ParseRequirement() {
    LabelSelector::Requirement req;
    if (current_.kind == TokenKind::kBang) {
      Advance();
      ASSIGN_OR_RETURN(req.key, ParseKey());
      req.op = LabelSelector::Op::kDoesNotExist;
      if (current_.kind != TokenKind::kEnd && current_.kind != TokenKind::kComma)
        return Unexpected("',' or end of selector after '!" + req.key + "'");
      return req;
    }
    ASSIGN_OR_RETURN(req.key, ParseKey());
    switch (current_.kind) {
      case TokenKind::kEnd:
      case TokenKind::kComma:
        req.op = LabelSelector::Op::kExists;
        return req;
      case TokenKind::kEquals:
      case TokenKind::kDoubleEquals:
      case TokenKind::kNotEquals: {
        req.op = current_.kind == TokenKind::kNotEquals ? LabelSelector::Op::kNotEquals
                                                        : LabelSelector::Op::kEquals;
        Advance();
        // "a=" selects an empty value, as in Kubernetes.
        if (current_.kind == TokenKind::kEnd || current_.kind == TokenKind::kComma) {
          req.values.emplace_back();
          return req;
        }
        if (current_.kind != TokenKind::kIdentifier) return Unexpected("a label value");
        ASSIGN_OR_RETURN(std::string value, ParseValue());
        req.values.push_back(std::move(value));
        return req;
      }
      case TokenKind::kIn:
      case TokenKind::kNotIn: {
        req.op = current_.kind == TokenKind::kIn ? LabelSelector::Op::kIn : LabelSelector::Op::kNotIn;
        std::string op_name(current_.text);
        Advance();
        if (current_.kind != TokenKind::kOpenParen) return Unexpected("'(' after '" + op_name + "'");
        std::size_t open_pos = current_.pos;
        Advance();
        ASSIGN_OR_RETURN(req.values, ParseValueList());
        if (req.values.empty())
          return Error("'" + op_name + "' at " + std::to_string(open_pos) + " needs at least one value");
        if (current_.kind != TokenKind::kCloseParen) return Unexpected("',' or ')'");
        Advance();
        std::sort(req.values.begin(), req.values.end());
        req.values.erase(std::unique(req.values.begin(), req.values.end()), req.values.end());
        return req;
      }
      default:
        return Unexpected("an operator ('=', '==', '!=', 'in', 'notin'), ',' or end of selector");
    }
  }

  // Values separated by commas; an empty slot ("a in (x,)") is the empty
  // value, as Kubernetes reads it. "()" yields no values.
  Result<std::vector<std::string>> ParseValueList() {
    std::vector<std::string> values;
    if (current_.kind == TokenKind::kCloseParen) return values;
    while (true) {
      if (current_.kind == TokenKind::kIdentifier) {
        ASSIGN_OR_RETURN(std::string value, ParseValue());
        values.push_back(std::move(value));
      } else if (current_.kind == TokenKind::kComma || current_.kind == TokenKind::kCloseParen) {
        values.emplace_back();
      } else {
        return Unexpected("a label value, ',' or ')'");
      }
      if (current_.kind != TokenKind::kComma) return values;
      Advance();
    }
  }

  Lexer lexer_;
  Token current_{};
};

template <typename Lookup>
bool MatchesWith(const std::vector<LabelSelector::Requirement>& requirements, const Lookup& lookup) {
  for (const auto& req : requirements) {
    std::optional<std::string_view> value = lookup(req.key);
    auto in_values = [&] {
      return value && std::find(req.values.begin(), req.values.end(), *value) != req.values.end();
    };
    bool ok = false;
    switch (req.op) {
      case LabelSelector::Op::kEquals:
      case LabelSelector::Op::kIn:
        ok = in_values();
        break;
      case LabelSelector::Op::kNotEquals:
      case LabelSelector::Op::kNotIn:
        ok = !in_values();
        break;
      case LabelSelector::Op::kExists:
        ok = value.has_value();
        break;
      case LabelSelector::Op::kDoesNotExist:
        ok = !value.has_value();
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  ASSIGN_OR_RETURN(selector.requirements_, Parser(text).Parse());
  return selector;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  return MatchesWith(requirements_, [&](const std::string& key) -> std::optional<std::string_view> {
    auto it = labels.find(key);
    if (it == labels.end()) return std::nullopt;
    return it->second;
  });
}

bool LabelSelector::MatchesObject(const Json& object) const {
  if (requirements_.empty()) return true;
  const Json* labels = nullptr;
  if (object.is_object()) {
    auto metadata = object.find("metadata");
    if (metadata != object.end() && metadata->is_object()) {
      auto it = metadata->find("labels");
      if (it != metadata->end() && it->is_object()) labels = &*it;
    }
  }
  return MatchesWith(requirements_, [&](const std::string& key) -> std::optional<std::string_view> {
    if (labels == nullptr) return std::nullopt;
    auto it = labels->find(key);
    if (it == labels->end() || !it->is_string()) return std::nullopt;
    return std::string_view(it->get_ref<const std::string&>());
  });
}

}  // namespace ferry::store
