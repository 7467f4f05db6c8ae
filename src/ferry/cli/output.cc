#include "ferry/cli/output.h"

#include <algorithm>
#include <map>

#include "ferry/common/time.h"

namespace ferry::cli {
namespace {

// A member as text: strings as they are, other scalars in JSON form, "" when absent.
std::string Text(const Json& object, std::string_view key) {
  if (!object.is_object()) return {};
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_structured()) return {};
  return it->dump();
}

const Json& Member(const Json& object, std::string_view key) {
  static const Json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::size_t DisplayWidth(std::string_view s) {
  // Counts code points: every byte that is not a UTF-8 continuation byte.
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string Printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

// A kind-specific table column: its header and how an object fills it.
struct Column {
  std::string header;
  std::string (*value)(const Json& object);
};

std::string ConfigMapData(const Json& object) {
  std::size_t keys = 0;
  for (const char* field : {"data", "binaryData"}) {
    if (const Json& data = Member(object, field); data.is_object()) keys += data.size();
  }
  return std::to_string(keys);
}

// status.phase or status.state when the kind has one, else the type of the
// last condition that holds ("Ready", "Succeeded"), as Kubeflow kinds report it.
std::string GenericStatus(const Json& object) {
  const Json& status = Member(object, "status");
  for (const char* key : {"phase", "state"}) {
    if (std::string s = Text(status, key); !s.empty()) return s;
  }
  const Json& conditions = Member(status, "conditions");
  if (conditions.is_array()) {
    for (auto it = conditions.rbegin(); it != conditions.rend(); ++it) {
      if (Text(*it, "status") == "True") return Text(*it, "type");
    }
  }
  return {};
}

const std::vector<Column>& ColumnsFor(const ApiResource& resource) {
  static const std::map<std::string, std::vector<Column>> kByKind = {
      {"ConfigMap", {{"DATA", &ConfigMapData}}},
  };
  static const std::vector<Column> kDefault = {{"STATUS", &GenericStatus}};
  auto it = kByKind.find(resource.group.empty() ? resource.kind : resource.kind + "." + resource.group);
  return it == kByKind.end() ? kDefault : it->second;
}

std::string Indent(std::string_view text, std::string_view prefix) {
  std::string out;
  bool at_line_start = true;
  for (char c : text) {
    if (at_line_start && c != '\n') out += prefix;
    out.push_back(c);
    at_line_start = c == '\n';
  }
  return out;
}

std::string Capitalize(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

// "Labels:" style line whose continuation lines align under the first value.
void Field(std::string& out, std::string_view label, const std::vector<std::string>& values) {
  constexpr std::size_t kValueColumn = 19;  // "Resource Version:  "
  std::string head = std::string(label) + ":";
  head.resize(std::max(kValueColumn, head.size() + 1), ' ');
  const std::string pad(head.size(), ' ');
  if (values.empty()) {
    out += head + "<none>\n";
    return;
  }
  for (std::size_t i = 0; i < values.size(); ++i) {
    out += i == 0 ? head : pad;
    for (char c : values[i]) {
      if (c == '\n') {
        out += "\n" + pad;
      } else {
        out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
      }
    }
    out += "\n";
  }
}

std::vector<std::string> KeyValues(const Json& map, std::string_view separator) {
  std::vector<std::string> out;
  if (!map.is_object()) return out;
  for (const auto& [key, value] : map.items()) {
    out.push_back(key + std::string(separator) +
                  (value.is_string() ? value.get<std::string>() : value.dump()));
  }
  return out;
}

}  // namespace

std::string FormatAge(std::int64_t s) {
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  const std::int64_t minutes = s / 60;
  if (minutes < 10) {
    return s % 60 == 0 ? std::to_string(minutes) + "m"
                       : std::to_string(minutes) + "m" + std::to_string(s % 60) + "s";
  }
  if (minutes < 180) return std::to_string(minutes) + "m";
  const std::int64_t hours = s / 3600;
  if (hours < 8) {
    return minutes % 60 == 0 ? std::to_string(hours) + "h"
                             : std::to_string(hours) + "h" + std::to_string(minutes % 60) + "m";
  }
  if (hours < 48) return std::to_string(hours) + "h";
  if (hours < 24 * 8) {
    return hours % 24 == 0 ? std::to_string(hours / 24) + "d"
                           : std::to_string(hours / 24) + "d" + std::to_string(hours % 24) + "h";
  }
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24) + "d";
  if (hours < 24 * 365 * 8) {
    const std::int64_t days = (hours / 24) % 365;
    return days == 0 ? std::to_string(hours / 24 / 365) + "y"
                     : std::to_string(hours / 24 / 365) + "y" + std::to_string(days) + "d";
  }
  return std::to_string(hours / 24 / 365) + "y";
}

std::string ObjectAge(const Json& object, std::int64_t now_micros) {
  std::string created = Text(Member(object, "metadata"), "creationTimestamp");
  if (created.empty()) return "<unknown>";
  auto micros = ParseRfc3339(created);
  if (!micros.ok()) return "<unknown>";
  return FormatAge((now_micros - *micros) / 1'000'000);
}

std::vector<std::size_t> ColumnWidths(const std::vector<TableRow>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  return widths;
}

std::string RenderRow(const TableRow& row, const std::vector<std::size_t>& widths) {
  std::string line;
  for (std::size_t i = 0; i < row.size(); ++i) {
    std::string cell = Printable(row[i]);
    if (i + 1 < row.size()) {
      const std::size_t width = i < widths.size() ? widths[i] : 0;
      cell.append(width > DisplayWidth(cell) ? width - DisplayWidth(cell) : 0, ' ');
      cell += "   ";
    }
    line += cell;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line + "\n";
}

std::string RenderTable(const std::vector<TableRow>& rows) {
  const auto widths = ColumnWidths(rows);
  std::string out;
  for (const auto& row : rows) out += RenderRow(row, widths);
  return out;
}

TableRow TableHeader(const ApiResource& resource, bool with_namespace) {
  TableRow row;
  if (with_namespace) row.push_back("NAMESPACE");
  row.push_back("NAME");
  for (const auto& column : ColumnsFor(resource)) row.push_back(column.header);
  row.push_back("AGE");
  return row;
}

TableRow TableRowFor(const ApiResource& resource, const Json& object, bool with_namespace,
                     std::int64_t now_micros) {
  const Json& metadata = Member(object, "metadata");
  TableRow row;
  if (with_namespace) row.push_back(Text(metadata, "namespace"));
  row.push_back(Text(metadata, "name"));
  for (const auto& column : ColumnsFor(resource)) row.push_back(column.value(object));
  row.push_back(ObjectAge(object, now_micros));
  return row;
}

TableLayout DefaultTableLayout(const ApiResource& resource, bool with_namespace) {
  return {TableHeader(resource, with_namespace),
          [resource, with_namespace](const Json& object, std::int64_t now) {
            return TableRowFor(resource, object, with_namespace, now);
          }};
}

std::string ObjectRef(const ApiResource& resource, std::string_view name) {
  return resource.DisplayName() + "/" + std::string(name);
}

std::string Describe(const Json& object, std::int64_t now_micros) {
  const Json& metadata = Member(object, "metadata");
  std::string out;
  auto single = [](std::string value) {
    return value.empty() ? std::vector<std::string>{} : std::vector{value};
  };
  Field(out, "Name", single(Text(metadata, "name")));
  if (!Text(metadata, "namespace").empty()) Field(out, "Namespace", single(Text(metadata, "namespace")));
  Field(out, "Labels", KeyValues(Member(metadata, "labels"), "="));
  Field(out, "Annotations", KeyValues(Member(metadata, "annotations"), ": "));
  Field(out, "UID", single(Text(metadata, "uid")));
  Field(out, "Resource Version", single(Text(metadata, "resourceVersion")));
  std::string created = Text(metadata, "creationTimestamp");
  if (!created.empty()) created += " (" + ObjectAge(object, now_micros) + " ago)";
  Field(out, "Created", single(created));

  // The body in a stable order: what users edit first, status last.
  std::vector<std::string> sections;
  if (object.is_object()) {
    for (const auto& [key, value] : object.items()) {
      if (key != "apiVersion" && key != "kind" && key != "metadata") sections.push_back(key);
    }
  }
  auto rank = [](const std::string& key) {
    return key == "data" ? 0 : key == "spec" ? 1 : key == "status" ? 3 : 2;
  };
  std::stable_sort(sections.begin(), sections.end(),
                   [&](const std::string& a, const std::string& b) { return rank(a) < rank(b); });
  for (const auto& key : sections) {
    const Json& value = object.at(key);
    out += "\n" + Capitalize(key) + ":";
    if (value.is_null() || (value.is_structured() && value.empty())) {
      out += "  <none>\n";
    } else if (value.is_structured()) {
      out += "\n" + Indent(ToYaml(value), "  ");
    } else {
      out += " " + (value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
    }
  }
  return out;
}

std::string FormatJson(const Json& value) {
  return value.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string FormatApiError(const api::client::ApiError& error, std::string_view context) {
  std::string out = "Error from server (" + error.code + "): ";
  if (!context.empty()) out += std::string(context) + ": ";
  out += error.message;
  if (!error.field.empty() && error.message.find(error.field) == std::string::npos) {
    out += " (field " + error.field + ")";
  }
  return out;
}

}  // namespace ferry::cli
