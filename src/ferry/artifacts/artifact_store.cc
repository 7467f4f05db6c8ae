#include "ferry/artifacts/artifact_store.h"

#include <cstdio>

#include "ferry/artifacts/file_artifact_store.h"
#include "ferry/common/strings.h"

namespace ferry::artifacts {


ArtifactWriter::~ArtifactWriter() = default;
ArtifactReader::~ArtifactReader() = default;
ArtifactStore::~ArtifactStore() = default;

Status ValidateArtifactPath(std::string_view path) {
  auto bad = [&](std::string problem) {
    return InvalidArgument("artifact path " + QuoteForMessage(path) + " " + problem);
  };
  if (path.empty()) return InvalidArgument("artifact path must not be empty");
  if (path.size() > kMaxArtifactPathBytes)
    return bad("is " + std::to_string(path.size()) + " bytes long; at most " +
               std::to_string(kMaxArtifactPathBytes) + " are allowed");
  for (std::size_t i = 0; i < path.size();) {
    char32_t cp = 0;
    std::size_t len = DecodeUtf8(path, i, &cp);
    if (len == 0) return bad("is not valid UTF-8 (at byte " + std::to_string(i) + ")");
    if (IsControlCodePoint(cp)) {
      char code[16];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(cp));
      return bad("contains control character " + std::string(code) + " at byte " + std::to_string(i));
    }
    if (cp == '\\') return bad("contains a backslash; directories are separated by '/'");
    i += len;
  }
  if (path.front() == '/') return bad("must be relative, not start with '/'");
  if (path.back() == '/') return bad("must not end with '/'");
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return bad("has an empty segment ('//')");
    if (segment == "." || segment == "..")
      return bad("has a '" + std::string(segment) + "' segment; paths may not step outside their directory");
    if (segment.size() > kMaxArtifactSegmentBytes)
      return bad("has a segment of " + std::to_string(segment.size()) + " bytes; at most " +
                 std::to_string(kMaxArtifactSegmentBytes) + " are allowed");
    start = end + 1;
  }
  return Status::OK();
}

Result<std::unique_ptr<ArtifactStore>> OpenArtifactStore(std::string_view uri) {
  // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
  std::size_t colon = uri.find(':');
  bool has_scheme = colon != std::string_view::npos && colon > 0;
  for (std::size_t i = 0; has_scheme && i < colon; ++i) {
    char c = uri[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    has_scheme = alpha || (i > 0 && other);
  }
  if (!has_scheme)
    return InvalidArgument("artifact root " + QuoteForMessage(uri) + " is not a URI; expected file:///absolute/path");
  std::string scheme(uri.substr(0, colon));
  for (char& c : scheme) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  if (scheme == "file") {
    ASSIGN_OR_RETURN(auto store, FileArtifactStore::Open(uri));
    return std::unique_ptr<ArtifactStore>(std::move(store));
  }
  return InvalidArgument("unsupported artifact store scheme " + QuoteForMessage(scheme) + " in " + QuoteForMessage(uri) +
                         "; supported: file");
}

}  // namespace ferry::artifacts
