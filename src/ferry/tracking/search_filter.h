#pragma once
// MLflow's search grammar: the `filter` string and the `order_by` list of
// search_runs, search_experiments, search_registered_models,
// search_model_versions and search_logged_models, parsed into terms that a
// store turns into SQL (always with bound parameters, never by pasting
// text). The grammar and the error cases follow mlflow/utils/search_utils.py
// of the pinned mlflow release:
//
//   filter     := comparison ( AND comparison )*        (AND is case-insensitive; OR is refused)
//   comparison := identifier op value
//               | identifier IS [NOT] NULL               (only where the entity allows it)
//   identifier := [prefix '.'] key                        prefix: metric(s), param(s)/parameter(s),
//                                                         tag(s), attribute(s)/attr/run, dataset(s)
//   key        := name | `back quoted` | "double quoted"  (a quoted key may contain '.', spaces)
//   value      := 'single' | "double" quoted string | number | ( 'a', 'b', ... ) for IN / NOT IN
//
// A bare key (no prefix) is an attribute for every entity (runs included:
// MLflow reads `status = 'FINISHED'` as attributes.status). Comparisons may
// follow each other with or without AND between them, and a leading or
// trailing AND is ignored, as MLflow (sqlparse) does. Values are taken as
// written between their quotes ('it''s' stays it''s); list items of IN are
// Python string literals (escapes decoded, adjacent literals joined), as
// MLflow reads them with ast.literal_eval. Alternate attribute spellings are normalised
// ("created"/"Created" -> "start_time", "run name"/"Run name"/"Run Name"
// -> "run_name"; "creation_time" -> "creation_timestamp" and
// "last_updated_time" -> "last_updated_timestamp" for logged models).
//
// Errors are InvalidArgument with MLflow-like messages ("Invalid clause(s)
// in filter string", "Invalid comparator '~' not one of ...", "Invalid
// attribute key 'x' specified. Valid keys are ...", "Expected a quoted
// string value for attributes. Got value 1", ...), never a crash, for any
// input up to kMaxFilterBytes.
//
// Thread-safety: pure functions over immutable grammars.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::tracking {

inline constexpr std::size_t kMaxFilterBytes = 64 << 10;

enum class TermKind { kMetric, kParam, kTag, kAttribute, kDataset };

// "metric", "parameter", "tag", "attribute", "dataset" (MLflow's names).
std::string_view TermKindName(TermKind kind);

enum class Comparator { kEq, kNe, kLt, kLe, kGt, kGe, kLike, kILike, kIn, kNotIn, kIsNull, kIsNotNull };

// "=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL".
std::string_view ComparatorText(Comparator c);

struct FilterTerm {
  TermKind kind = TermKind::kAttribute;
  std::string key;  // canonical: unquoted, alternate attribute names normalised
  Comparator comparator = Comparator::kEq;
  // kIsNull / kIsNotNull: monostate. IN / NOT IN: the list. Numeric
  // comparisons (metrics, numeric attributes): double. Otherwise: string.
  std::variant<std::monostate, double, std::string, std::vector<std::string>> value;

  bool operator==(const FilterTerm&) const = default;
};

struct OrderTerm {
  TermKind kind = TermKind::kAttribute;
  std::string key;  // canonical, as in FilterTerm
  bool ascending = true;

  bool operator==(const OrderTerm&) const = default;
};

// What one search endpoint accepts. The predefined grammars below are the
// only ones the stores and routes use.
struct SearchGrammar {
  std::string entity;  // for messages: "runs", "experiments", "registered models", ...
  std::set<TermKind> kinds;                       // allowed identifier kinds
  bool bare_key_is_attribute = false;             // `name = 'x'` without a prefix
  std::set<std::string> string_attributes;        // canonical keys
  std::set<std::string> numeric_attributes;       // canonical keys, compared as numbers
  std::set<std::string> list_attributes;          // attributes that allow IN / NOT IN
  std::set<std::string> orderable_attributes;     // canonical keys allowed in order_by
  std::set<TermKind> orderable_kinds;             // kinds allowed in order_by besides attributes
  std::set<Comparator> metric_comparators;        // numeric
  std::set<Comparator> param_comparators;
  std::set<Comparator> tag_comparators;
  std::set<Comparator> string_attribute_comparators;
  std::set<Comparator> numeric_attribute_comparators;
  std::set<Comparator> dataset_comparators;       // keys: name, digest, context

  // The per-entity quirks of MLflow's parsers and stores.
  std::map<std::string, TermKind, std::less<>> prefixes;  // accepted prefix spellings
  bool backquoted_prefix = false;            // runs: `tags`.k is tags.k
  bool quoted_attribute_keys = true;         // registry: `name` (quoted) is not the attribute name
  std::map<std::string, std::string, std::less<>> attribute_aliases;        // filter key -> canonical
  std::map<std::string, std::string, std::less<>> order_attribute_aliases;  // order_by key -> canonical
  std::set<std::string> integer_string_attributes;  // experiments: experiment_id values must be integers
  bool integer_attributes = false;           // numeric attributes take integers only (no 1.5, 1e3)
  bool quoted_integer_attributes = false;    // model versions: version_number = '3'
  bool case_sensitive_keyword_comparators = false;  // experiments: like/ilike/in must be upper case
  bool unquoted_numbers_are_strings = false;  // logged models: params.lr = 0.01 compares the text '0.01'
  bool order_by_bare_keys_only = false;      // registered models: no prefixes, no quoting in order_by
  bool order_by_is_field_name = false;       // logged models: see ParseOrderBy
  bool logged_model_keys = false;            // logged models: prefix is [a-z]+, keys lose all surrounding backticks
  bool reject_duplicate_order_keys = false;  // runs, registry: the same key twice is an error
};

const SearchGrammar& RunsGrammar();
const SearchGrammar& ExperimentsGrammar();
const SearchGrammar& RegisteredModelsGrammar();
const SearchGrammar& ModelVersionsGrammar();
const SearchGrammar& LoggedModelsGrammar();

// Parses a filter; an empty filter gives no terms. An all-blank filter is
// InvalidArgument, as in MLflow ("Could not be parsed").
Result<std::vector<FilterTerm>> ParseFilter(std::string_view filter, const SearchGrammar& grammar);

// Parses one order_by clause: "metrics.acc DESC", "attributes.start_time",
// "name ASC", "`my key` desc" (bare keys are attributes where the grammar
// allows). Direction defaults to ascending. Registered models take only
// name, timestamp and last_updated_timestamp ("timestamp" is returned as
// last_updated_timestamp: MLflow sorts both by the last update time).
// For logged models the clause is an OrderBy.field_name of
// SearchLoggedModels, whose direction comes separately: "metrics.<key>"
// (key verbatim) or an attribute; `ascending` is always true then.
Result<OrderTerm> ParseOrderBy(std::string_view clause, const SearchGrammar& grammar);

// Every clause of `clauses`, in order; InvalidArgument names the bad one.
Result<std::vector<OrderTerm>> ParseOrderByList(const std::vector<std::string>& clauses,
                                                const SearchGrammar& grammar);

// SQL LIKE semantics as MLflow applies them ('%' any run, '_' one
// character; LIKE case-sensitive, ILIKE case-insensitive in ASCII), for
// stores that must match in C++ rather than in SQL (SQLite's LIKE is
// case-insensitive).
bool LikeMatch(std::string_view text, std::string_view pattern, bool case_insensitive);

// MLflow's LIKE pattern as a SQLite GLOB pattern matching the same strings
// case-sensitively: '%' -> '*', '_' -> '?', GLOB's own metacharacters
// bracketed. For SQL that must match case-sensitively on SQLite, whose LIKE
// is case-insensitive.
std::string LikeToGlob(std::string_view like_pattern);

// Page tokens: opaque to clients (base64 of a small JSON object), checked on
// the way back in. A token records the offset of the next page and a
// fingerprint of the query it belongs to, so a token from another query is
// refused rather than silently misapplied.
std::string EncodePageToken(std::int64_t offset, std::string_view query_fingerprint);
// InvalidArgument "Invalid page token, could not base64-decode" / "... for
// a different search" as MLflow words it.
Result<std::int64_t> DecodePageToken(std::string_view token, std::string_view query_fingerprint);
// The offset a search resumes at: 0 for an empty token (the first page),
// else DecodePageToken.
Result<std::int64_t> PageOffset(std::string_view token, std::string_view query_fingerprint);

}  // namespace ferry::tracking
