#pragma once
// How the CLI shows resources and errors: kubectl-style ages, aligned
// tables with kind-specific columns, `describe` sections, JSON/YAML
// documents, and "Error from server (Code): ..." lines. Pure functions of
// their inputs (the clock is a parameter), so they are unit-tested alone.
//
// Thread-safety: pure functions.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/api/client/api_error.h"
#include "ferry/cli/discovery.h"
#include "ferry/common/json.h"

namespace ferry::cli {

// kubectl's human duration: "5s", "119s", "3m20s", "15m", "2h30m", "12h",
// "3d4h", "40d", "2y3d"; "<invalid>" when the time lies in the future by
// more than a second of clock skew.
std::string FormatAge(std::int64_t elapsed_seconds);

// Age of metadata.creationTimestamp at `now_micros`; "<unknown>" when the
// timestamp is absent or malformed.
std::string ObjectAge(const Json& object, std::int64_t now_micros);

using TableRow = std::vector<std::string>;

// Display width of each column over all rows (UTF-8 aware).
std::vector<std::size_t> ColumnWidths(const std::vector<TableRow>& rows);
// One line: cells padded to `widths`, three spaces apart, no trailing
// spaces. Control characters in cells show as '?' so a value cannot break
// the layout or drive the terminal.
std::string RenderRow(const TableRow& row, const std::vector<std::size_t>& widths);
// Every row, aligned.
std::string RenderTable(const std::vector<TableRow>& rows);

// Header row for `resource`: [NAMESPACE,] NAME, kind-specific columns, AGE.
TableRow TableHeader(const ApiResource& resource, bool with_namespace);
// The row of one object under TableHeader's columns.
TableRow TableRowFor(const ApiResource& resource, const Json& object, bool with_namespace,
                     std::int64_t now_micros);

// The columns of a `get` table: its header, and the row of one object
// under it (at `now_micros`). Kinds whose columns depend on what is listed
// (a trial's parameters) build their own.
struct TableLayout {
  TableRow header;
  std::function<TableRow(const Json& object, std::int64_t now_micros)> row;
};
// TableHeader and TableRowFor as a layout.
TableLayout DefaultTableLayout(const ApiResource& resource, bool with_namespace);

// "configmap/demo": how `apply` and `-o name` refer to an object.
std::string ObjectRef(const ApiResource& resource, std::string_view name);

// The multi-section `describe` view of one object.
std::string Describe(const Json& object, std::int64_t now_micros);

// Indented JSON (4 spaces, like kubectl) followed by a newline.
std::string FormatJson(const Json& value);

// "Error from server (NotFound): configmaps \"x\" not found", with
// `context` ("error when creating ...") before the message when given and
// the field appended when the message does not already name it.
std::string FormatApiError(const api::client::ApiError& error, std::string_view context = {});

}  // namespace ferry::cli
