#include "ferry/cli/manifest.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

namespace ferry::cli {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

// True for lines that carry no document content: blank, comment, directive.
bool IsFillerLine(std::string_view line) {
  line = TrimLeft(line);
  return line.empty() || line.front() == '#' || line.front() == '%';
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Adds `value` (one document) to `out`, expanding a List into its items.
void AddDocument(Json value, const std::string& source, int index, std::vector<ManifestDocument>& out) {
  ManifestDocument doc;
  doc.source = source;
  doc.index = index;
  if (!value.is_object()) {
    doc.error = InvalidArgument("expected an object with apiVersion and kind, got " +
                                std::string(JsonTypeName(value)));
    out.push_back(std::move(doc));
    return;
  }
  auto kind = value.find("kind");
  auto items = value.find("items");
  if (kind != value.end() && *kind == "List" && items != value.end()) {
    if (!items->is_array()) {
      doc.error = InvalidArgument(
          "items of a List must be an array, got " + std::string(JsonTypeName(*items)), "items");
      out.push_back(std::move(doc));
      return;
    }
    int item = 0;
    for (Json& entry : *items) {
      ManifestDocument part;
      part.source = source;
      part.index = index;
      part.item = ++item;
      if (entry.is_object()) {
        part.object = std::move(entry);
      } else {
        part.error = InvalidArgument("expected an object with apiVersion and kind, got " +
                                     std::string(JsonTypeName(entry)));
      }
      out.push_back(std::move(part));
    }
    return;
  }
  doc.object = std::move(value);
  out.push_back(std::move(doc));
}

Result<std::string> ReadBounded(std::istream& in, const std::string& name, std::size_t max_bytes) {
  std::string text;
  char buffer[64 * 1024];
  while (in) {
    in.read(buffer, sizeof(buffer));
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_bytes) {
      return InvalidArgument(name + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) return InvalidArgument("cannot read " + name);
  return text;
}

Result<std::string> ReadFile(const std::filesystem::path& path, std::size_t max_bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return InvalidArgument("cannot open \"" + path.string() + "\"");
  return ReadBounded(file, "\"" + path.string() + "\"", max_bytes);
}

}  // namespace

std::vector<YamlDocumentText> SplitYamlDocuments(std::string_view text) {
  std::vector<YamlDocumentText> out;
  YamlDocumentText current;
  bool has_content = false;
  auto finish = [&] {
    if (has_content) out.push_back(std::move(current));
    current = YamlDocumentText();
    has_content = false;
  };
  int line_number = 0;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(pos, next - pos);
    ++line_number;
    pos = next;
    bool separator = line.substr(0, 3) == "---" && (line.size() == 3 || IsSpace(line[3]));
    if (separator) {
      finish();
      std::string_view rest = TrimLeft(line.substr(3));
      if (rest.empty() || rest.front() == '#') {
        current.first_line = line_number + 1;
        continue;
      }
      // "--- value": the line opens the next document and stays part of it.
    }
    if (current.text.empty()) current.first_line = line_number;
    current.text.append(line);
    if (!IsFillerLine(line)) has_content = true;
  }
  finish();
  return out;
}

std::string ManifestDocument::Where() const {
  std::string out = source == "<stdin>" ? source : "\"" + source + "\"";
  out += " document " + std::to_string(index);
  if (item > 0) out += " item " + std::to_string(item);
  return out;
}

std::vector<ManifestDocument> ParseManifest(std::string_view text, const std::string& source) {
  std::vector<ManifestDocument> out;
  std::string_view trimmed = TrimLeft(text);
  const bool json_name = EndsWith(Lower(source), ".json");
  if (json_name || (!trimmed.empty() && (trimmed.front() == '{' || trimmed.front() == '['))) {
    auto parsed = ParseJson(text);
    if (parsed.ok()) {
      if (parsed->is_array()) {
        int index = 0;
        for (Json& value : *parsed) AddDocument(std::move(value), source, ++index, out);
      } else {
        AddDocument(std::move(parsed).value(), source, 1, out);
      }
      return out;
    }
    if (json_name) {
      ManifestDocument doc;
      doc.source = source;
      doc.index = 1;
      doc.error = parsed.status();
      out.push_back(std::move(doc));
      return out;
    }
    // Not JSON after all: a YAML flow mapping such as "{a: 1}".
  }
  int index = 0;
  for (const auto& piece : SplitYamlDocuments(text)) {
    ++index;
    // Leading newlines make the parser's line numbers those of the whole stream.
    std::string padded(static_cast<std::size_t>(piece.first_line - 1), '\n');
    padded += piece.text;
    auto parsed = ParseYaml(padded);
    if (!parsed.ok()) {
      ManifestDocument doc;
      doc.source = source;
      doc.index = index;
      doc.error = parsed.status();
      out.push_back(std::move(doc));
      continue;
    }
    if (parsed->is_null()) continue;
    AddDocument(std::move(parsed).value(), source, index, out);
  }
  return out;
}

Result<std::vector<ManifestDocument>> ReadManifests(const std::vector<std::string>& paths, std::istream& in,
                                                    std::size_t max_file_bytes) {
  namespace fs = std::filesystem;
  std::vector<ManifestDocument> out;
  bool stdin_read = false;
  auto append = [&](std::string_view text, const std::string& source) {
    auto docs = ParseManifest(text, source);
    out.insert(out.end(), std::make_move_iterator(docs.begin()), std::make_move_iterator(docs.end()));
  };
  for (const auto& path : paths) {
    if (path == "-") {
      if (stdin_read) return InvalidArgument("standard input (-f -) can be read only once", "filename");
      stdin_read = true;
      ASSIGN_OR_RETURN(std::string text, ReadBounded(in, "standard input", max_file_bytes));
      append(text, "<stdin>");
      continue;
    }
    std::error_code ec;
    fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      return InvalidArgument("the path \"" + path + "\" does not exist", "filename");
    }
    if (fs::is_directory(status)) {
      std::vector<fs::path> files;
      for (fs::directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string ext = Lower(it->path().extension().string());
        if ((ext == ".yaml" || ext == ".yml" || ext == ".json") && it->is_regular_file(ec)) {
          files.push_back(it->path());
        }
      }
      if (ec) return InvalidArgument("cannot list directory \"" + path + "\": " + ec.message(), "filename");
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        ASSIGN_OR_RETURN(std::string text, ReadFile(file, max_file_bytes));
        append(text, file.string());
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::string text, ReadFile(path, max_file_bytes));
    append(text, path);
  }
  return out;
}

}  // namespace ferry::cli
