// MLflow's registry validation and URI handling; see registry_internal.h.

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <vector>

#include "ferry/common/strings.h"
#include "ferry/registry/registry_internal.h"
#include "ferry/registry/registry_store.h"

namespace ferry::registry::internal {
namespace {

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Strip(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool IsAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Python's \w on str: letters and digits of any script and '_'. Non-ASCII
// code points are taken as word characters (Ferry does not carry Unicode's
// category tables; names are matched, not interpreted).
bool IsWordByte(unsigned char c) { return c >= 0x80 || IsAsciiAlnum(static_cast<char>(c)) || c == '_'; }

std::string InvalidValue(std::string_view path, std::string_view value, std::string_view message) {
  return "Invalid value " + JsonQuote(value) + " for parameter '" + std::string(path) +
         "' supplied: " + std::string(message);
}

std::string BadPathMessage(std::string_view name) {
  return "Names may be treated as files in certain cases, and must not resolve to other names when treated "
         "as such. This name would resolve to " +
         PyRepr(NormPath(name));
}

std::string ExceedsMaximumLength(std::string_view path, std::size_t limit) {
  return "'" + std::string(path) + "' exceeds the maximum length of " + std::to_string(limit) + " characters";
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// urllib.parse.unquote (and unquote_plus when `plus`), once.
std::string Unquote(std::string_view text, bool plus) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else if (plus && text[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string UnquoteFully(std::string_view text, bool plus) {
  std::string current(text);
  for (int i = 0; i < 64; ++i) {  // each pass shortens the text, so this ends; bound it anyway
    std::string next = Unquote(current, plus);
    if (next == current) break;
    current = std::move(next);
  }
  return current;
}

std::vector<std::string> SplitNonEmpty(std::string_view path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) parts.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

std::string ToLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The hostname urlparse reports: netloc without userinfo and port, lower case.
std::string HostName(std::string_view netloc) {
  std::size_t at = netloc.rfind('@');
  if (at != std::string_view::npos) netloc.remove_prefix(at + 1);
  if (!netloc.empty() && netloc.front() == '[') {
    std::size_t close = netloc.find(']');
    return ToLower(netloc.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  std::size_t colon = netloc.find(':');
  return ToLower(netloc.substr(0, colon));
}

}  // namespace

std::string JsonQuote(std::string_view text) {
  std::string out = "\"";
  std::size_t i = 0;
  while (i < text.size()) {
    char32_t cp = 0;
    std::size_t n = DecodeUtf8(text, i, &cp);
    if (n == 0) {  // invalid byte: show it as U+FFFD, as a decoder would
      cp = 0xFFFD;
      n = 1;
    }
    i += n;
    char buf[16];
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp >= 0x20 && cp < 0x7f) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x10000) {
      std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      char32_t v = cp - 0x10000;
      std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                    static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      out += buf;
    }
  }
  return out + "\"";
}

std::string PyRepr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += quote;
  return out;
}

std::size_t CodePoints(std::string_view text) {
  std::size_t n = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::string NormPath(std::string_view path) {
  if (path.empty()) return ".";
  std::size_t initial = 0;
  while (initial < path.size() && path[initial] == '/') ++initial;
  // POSIX allows one implementation-defined meaning for exactly two leading slashes.
  const std::string prefix = initial == 0 ? "" : (initial == 2 ? "//" : "/");
  std::vector<std::string> parts;
  for (std::string& comp : SplitNonEmpty(path)) {
    if (comp == ".") continue;
    if (comp != ".." || (prefix.empty() && parts.empty()) || (!parts.empty() && parts.back() == "..")) {
      parts.push_back(std::move(comp));
    } else if (!parts.empty()) {
      parts.pop_back();
    }
  }
  std::string out = prefix;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += '/';
    out += parts[i];
  }
  return out.empty() ? "." : out;
}

bool PathNotUnique(std::string_view name) {
  const std::string norm = NormPath(name);
  return norm != name || norm == "." || norm.starts_with("..") || norm.starts_with("/");
}

Status ValidateModelName(std::string_view name) {
  if (Strip(name).empty()) return InvalidArgument("Missing value for required parameter 'name'.", "name");
  if (name.find('/') != std::string_view::npos || name.find(':') != std::string_view::npos)
    return InvalidArgument("Invalid model name '" + std::string(name) + "'. Names cannot contain '/' or ':'.",
                           "name");
  if (PathNotUnique(name)) return InvalidArgument(InvalidValue("name", name, BadPathMessage(name)), "name");
  return Status::OK();
}

Status ValidateNewModelName(std::string_view new_name) {
  if (Strip(new_name).empty())
    return InvalidArgument("Missing value for required parameter 'new_name'.", "new_name");
  return ValidateModelName(new_name);
}

Status ValidateTagKey(std::string_view key) {
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (!(IsWordByte(u) || c == '/' || c == '.' || c == '-' || c == ' ' || c == ':'))
      return InvalidArgument(
          InvalidValue(
              "key", key,
              "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
              "colon(:) and slashes (/)."),
          "key");
  }
  if (PathNotUnique(key)) return InvalidArgument(InvalidValue("key", key, BadPathMessage(key)), "key");
  return Status::OK();
}

Status ValidateTag(std::string_view key, std::string_view value) {
  RETURN_IF_ERROR(ValidateTagKey(key));
  if (CodePoints(key) > kMaxTagKeyLength)
    return InvalidArgument(ExceedsMaximumLength("key", kMaxTagKeyLength), "key");
  if (CodePoints(value) > kMaxTagValueLength)
    return InvalidArgument(ExceedsMaximumLength("value", kMaxTagValueLength), "value");
  return Status::OK();
}

Status ValidateAlias(std::string_view alias) {
  if (alias.empty()) return InvalidArgument("Registered model alias name cannot be empty.", "alias");
  for (char c : alias) {
    if (!(IsWordByte(static_cast<unsigned char>(c)) || c == '-'))
      return InvalidArgument("Invalid alias name: '" + std::string(alias) +
                                 "'. Names may only contain alphanumerics, underscores (_), and dashes (-).",
                             "alias");
  }
  if (CodePoints(alias) > kMaxAliasLength)
    return InvalidArgument(ExceedsMaximumLength("Registered model alias name", kMaxAliasLength), "alias");
  return Status::OK();
}

Status ValidateAliasNotReserved(std::string_view alias) {
  if (ToLower(alias) == "latest")
    return InvalidArgument("'latest' alias name (case insensitive) is reserved.", "alias");
  if (alias.size() >= 2 && (alias[0] == 'v' || alias[0] == 'V') &&
      std::all_of(alias.begin() + 1, alias.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgument("Version alias name '" + std::string(alias) + "' is reserved.", "alias");
  return Status::OK();
}

Result<std::int64_t> ParseVersion(std::string_view version) {
  std::string_view text = Strip(version);
  std::string digits;
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  // Python's int() also takes '_' between digits.
  bool ok = !text.empty() && text.front() != '_' && text.back() != '_';
  for (std::size_t i = 0; ok && i < text.size(); ++i) {
    if (text[i] >= '0' && text[i] <= '9') {
      digits.push_back(text[i]);
    } else if (text[i] != '_' || text[i + 1] == '_') {
      ok = false;
    }
  }
  std::int64_t value = 0;
  if (ok) {
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    ok = ec == std::errc() && end == digits.data() + digits.size();
  }
  if (!ok)
    return InvalidArgument("Parameter 'version' must be an integer, got '" + std::string(version) + "'.",
                           "version");
  return negative ? -value : value;
}

Uri ParseUri(std::string_view uri, bool allow_fragments) {
  Uri out;
  std::string_view rest = uri;
  std::size_t colon = rest.find(':');
  if (colon != std::string_view::npos && colon > 0 &&
      ((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z')) &&
      std::all_of(rest.begin(), rest.begin() + colon,
                  [](char c) { return IsAsciiAlnum(c) || c == '+' || c == '-' || c == '.'; })) {
    out.scheme = ToLower(rest.substr(0, colon));
    rest.remove_prefix(colon + 1);
  }
  if (rest.starts_with("//")) {
    rest.remove_prefix(2);
    std::size_t end = rest.find_first_of(allow_fragments ? "/?#" : "/?");
    out.netloc = std::string(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (allow_fragments) {
    std::size_t hash = rest.find('#');
    if (hash != std::string_view::npos) {
      out.fragment = std::string(rest.substr(hash + 1));
      rest = rest.substr(0, hash);
    }
  }
  std::size_t q = rest.find('?');
  if (q != std::string_view::npos) {
    out.query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  out.path = std::string(rest);
  return out;
}

Result<ModelUri> ParseModelUri(std::string_view uri) {
  const Status improper = InvalidArgument(
      "Not a proper models:/ URI: " + std::string(uri) +
      ". Models URIs must be of the form 'models:/name/suffix' or 'models:/name@alias' where suffix is a "
      "version, stage, or the string 'latest' and where alias is a registered model alias. Only one of "
      "suffix or alias can be defined at a time.");
  Uri parsed = ParseUri(uri, /*allow_fragments=*/false);
  if (parsed.scheme != "models") return improper;
  std::string_view path = parsed.path;
  if (!path.starts_with("/") || path.size() <= 1) return improper;
  while (path.starts_with("/")) path.remove_prefix(1);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = path.find('/', start);
    parts.emplace_back(
        path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  if (parts.size() > 2 || Strip(parts[0]).empty()) return improper;
  ModelUri out;
  if (parts.size() == 2) {
    out.name = parts[0];
    const std::string& suffix = parts[1];
    if (Strip(suffix).empty()) return improper;
    if (std::all_of(suffix.begin(), suffix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      out.version = suffix;
    } else if (ToLower(suffix) != "latest") {
      out.stage = suffix;
    }
    return out;
  }
  std::size_t at = parts[0].rfind('@');
  if (path.find('@') != std::string_view::npos && at != std::string::npos) {
    out.name = parts[0].substr(0, at);
    out.alias = parts[0].substr(at + 1);
    if (Strip(out.alias).empty()) return improper;
    return out;
  }
  out.model_id = parts[0];
  return out;
}

Result<std::string> RunIdOfRunsUri(std::string_view uri) {
  const Status improper = InvalidArgument("Not a proper runs:/ URI: " + std::string(uri) +
                                          ". Runs URIs must be of the form "
                                          "'runs:/<run_id>/run-relative/path/to/artifact'");
  Uri parsed = ParseUri(uri);
  if (parsed.scheme != "runs" || !parsed.path.starts_with("/") || parsed.path.size() <= 1) return improper;
  std::string_view path = std::string_view(parsed.path).substr(1);
  std::string run_id(path.substr(0, path.find('/')));
  if (run_id.empty()) return improper;
  return run_id;
}

Status ValidateSourceScheme(std::string_view source) {
  static const char* const kHostAddressed[] = {
      "ftp", "sftp", "hdfs", "viewfs", "http", "https", "r2", "mlflow-artifacts", "b2", "abfss"};
  Uri parsed = ParseUri(source);
  for (const char* scheme : kHostAddressed) {
    if (parsed.scheme != scheme) continue;
    if (parsed.scheme == "mlflow-artifacts" && parsed.netloc.empty()) return Status::OK();
    return InvalidArgument(
        "'source' cannot use the '" + parsed.scheme + "' scheme: the '" + parsed.scheme +
            "' scheme addresses a host other than the tracking server's configured artifact "
            "storage, so the server would connect to the host named in the URI.",
        "source");
  }
  return Status::OK();
}

Status ValidateNoRelativePaths(std::string_view source) {
  const Status invalid = InvalidArgument("Invalid model version source: '" + std::string(source) +
                                             "'. If supplying a source as an http, https, local file path, "
                                             "ftp, objectstore, or mlflow-artifacts "
                                             "uri, an absolute path must be provided without relative path "
                                             "references present. Please provide an "
                                             "absolute path.",
                                         "source");
  const std::string unquoted = UnquoteFully(source, /*plus=*/true);
  std::string path = ParseUri(unquoted).path;
  while (!path.empty() && path.back() == '/') path.pop_back();
  std::string collapsed;
  for (char c : path)
    if (!(c == '/' && !collapsed.empty() && collapsed.back() == '/')) collapsed.push_back(c);
  if (collapsed.find('\0') != std::string::npos) return invalid;
  std::size_t start = 0;
  while (start <= unquoted.size()) {
    std::size_t end = unquoted.find('/', start);
    if (end == std::string::npos) end = unquoted.size();
    if (std::string_view(unquoted).substr(start, end - start) == "..") return invalid;
    start = end + 1;
  }
  // pathlib's resolve() of the path must give the path back: absolute, no
  // "." components, not empty.
  if (!collapsed.starts_with("/")) return invalid;
  for (const std::string& part : SplitNonEmpty(collapsed))
    if (part == ".") return invalid;
  return Status::OK();
}

bool IsLocalUri(std::string_view uri) {
  Uri parsed = ParseUri(uri);
  if (parsed.scheme.empty()) return true;
  if (parsed.scheme != "file") return false;
  const std::string host = HostName(parsed.netloc);
  return host.empty() || host == "." || host.starts_with("localhost") || host.starts_with("127.0.0.1");
}

std::string LocalPath(std::string_view uri) {
  Uri parsed = ParseUri(uri);
  if (parsed.scheme == "file") return Unquote(parsed.path, false);
  return std::string(uri);
}

bool IsMlflowArtifactSource(std::string_view source) {
  Uri parsed = ParseUri(source);
  if (parsed.scheme == "mlflow-artifacts") return true;
  if (parsed.scheme != "http" && parsed.scheme != "https") return false;
  std::vector<std::string> parts;
  for (const std::string& part : SplitNonEmpty(parsed.path)) parts.push_back(UnquoteFully(part, false));
  static const std::vector<std::string> kRoute = {"api", "2.0", "mlflow-artifacts", "artifacts"};
  return std::search(parts.begin(), parts.end(), kRoute.begin(), kRoute.end()) != parts.end();
}

bool IsUriWithinRoot(std::string_view source, std::string_view root) {
  auto parts = [](std::string_view uri) {
    Uri parsed = ParseUri(uri);
    std::vector<std::string> out;
    for (const std::string& part : SplitNonEmpty(parsed.path)) out.push_back(UnquoteFully(part, false));
    return std::make_tuple(parsed.scheme, ToLower(parsed.netloc), out);
  };
  auto [s_scheme, s_netloc, s_parts] = parts(source);
  auto [r_scheme, r_netloc, r_parts] = parts(root);
  return s_scheme == r_scheme && s_netloc == r_netloc && !r_parts.empty() &&
         s_parts.size() >= r_parts.size() && std::equal(r_parts.begin(), r_parts.end(), s_parts.begin());
}

Status InvalidSourceFor(std::string_view source, std::string_view id_name) {
  return InvalidArgument("Invalid model version source: '" + std::string(source) + "'. The " +
                             std::string(id_name) +
                             " request parameter must identify the resource that contains the source.",
                         "source");
}

}  // namespace ferry::registry::internal
