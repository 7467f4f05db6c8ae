#pragma once
// Manifests: the files `ferry apply -f` and `ferry delete -f` read. A file
// holds one JSON value or a multi-document YAML stream; a directory stands
// for its *.yaml, *.yml and *.json files in name order; "-" is standard
// input. `kind: List` documents (and top-level JSON arrays) expand to their
// items. Each document is parsed on its own, so one malformed document is
// reported by its position while the others still apply.
//
// Thread-safety: pure functions, except ReadManifests, which reads files.

#include <cstddef>
#include <istream>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/json.h"
#include "ferry/common/status.h"

namespace ferry::cli {

// The text of one YAML document between `---` separator lines.
struct YamlDocumentText {
  std::string text;
  int first_line = 1;  // 1-based line of `text`'s first line in the stream
};

// Splits a YAML stream at lines that start with "---" followed by nothing,
// a space or a comment; content after "--- " stays with its document.
// Pieces holding only blank lines and comments are dropped.
std::vector<YamlDocumentText> SplitYamlDocuments(std::string_view text);

// One object of a manifest, or why that document could not be read.
struct ManifestDocument {
  std::string source;  // the path, or "<stdin>"
  int index = 0;       // 1-based position among the source's documents
  int item = 0;        // 1-based position inside a List, 0 when not from one
  Json object;         // a JSON object when error is OK
  Status error;

  // "\"app.yaml\" document 2" or "\"app.yaml\" document 2 item 1".
  std::string Where() const;
};

// Parses the text of one source. JSON is recognised by a ".json" name or a
// leading '{' or '['; anything else is read as YAML.
std::vector<ManifestDocument> ParseManifest(std::string_view text, const std::string& source);

// Reads every path ("-" meaning `in`) in order. Fails as a whole, naming the
// path, when a path does not exist or cannot be read or is too large;
// document-level problems are reported per ManifestDocument instead.
Result<std::vector<ManifestDocument>> ReadManifests(const std::vector<std::string>& paths, std::istream& in,
                                                    std::size_t max_file_bytes = std::size_t{64} << 20);

}  // namespace ferry::cli
