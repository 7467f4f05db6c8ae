#include "ferry/registry/registry_store.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "ferry/common/json.h"
#include "ferry/registry/registry_internal.h"
#include "ferry/tracking/search_filter.h"

namespace ferry::registry {
namespace {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;
using tracking::Comparator;
using tracking::FilterTerm;
using tracking::TermKind;
namespace in = internal;

constexpr std::string_view kStageDeleted = "Deleted_Internal";
constexpr std::string_view kPromptTag = "mlflow.prompt.is_prompt";
constexpr std::string_view kModelVersionsTag = "mlflow.modelVersions";
// Names per IN list when loading tags and aliases of a page.
constexpr std::size_t kBatch = 200;

constexpr const char* kVersionColumnNames[] = {
    "name",        "version",          "creation_time", "last_updated_time",
    "description", "user_id",          "current_stage", "source",
    "run_id",      "run_link",         "status",        "status_message",
    "model_id",    "storage_location", "experiment_id", "pipeline_run_id"};

// The columns VersionFromRow reads, each prefixed with `alias`.
std::string VersionColumns(std::string_view alias = "") {
  std::string out;
  for (const char* column : kVersionColumnNames) {
    if (!out.empty()) out += ", ";
    out += std::string(alias) + column;
  }
  return out;
}

ModelVersion VersionFromRow(const Row& row) {
  ModelVersion mv;
  mv.name = row.Text(0);
  mv.version = row.Int(1);
  mv.creation_timestamp = row.Int(2);
  mv.last_updated_timestamp = row.Int(3);
  mv.description = row.OptText(4);
  mv.user_id = row.OptText(5);
  mv.current_stage = row.Text(6);
  mv.source = row.OptText(7);
  mv.run_id = row.OptText(8);
  mv.run_link = row.OptText(9);
  mv.status = row.Text(10);
  mv.status_message = row.OptText(11);
  mv.model_id = row.OptText(12);
  mv.storage_location = row.Text(13);
  mv.lineage.experiment_id = row.Text(14);
  mv.lineage.pipeline_run_id = row.Text(15);
  return mv;
}

Status ModelNotFound(std::string_view name) {
  return NotFound("Registered Model with name=" + std::string(name) + " not found");
}

Status VersionNotFound(std::string_view name, std::int64_t version) {
  return NotFound("Model Version (name=" + std::string(name) + ", version=" + std::to_string(version) +
                  ") not found");
}

std::string Placeholders(std::size_t first, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) {
    if (i > 0) out += ", ";
    out += "$" + std::to_string(first + i);
  }
  return out;
}

// Python's repr of a list of strings, for MLflow's duplicate-order message.
std::string PyListRepr(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += in::PyRepr(items[i]);
  }
  return out + "]";
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// WHERE-clause building with bound parameters.
class SqlBuilder {
 public:
  explicit SqlBuilder(store::Dialect dialect) : dialect_(dialect) {}
  std::string Param(Value v) {
    params_.push_back(std::move(v));
    return "$" + std::to_string(params_.size());
  }
  // `column <op> value` for a string comparison with MLflow's semantics
  // (LIKE case-sensitive, ILIKE not, on both backends).
  Result<std::string> StringComparison(const std::string& column, const FilterTerm& term) {
    auto text = [&]() -> Result<std::string> {
      if (const auto* s = std::get_if<std::string>(&term.value)) return *s;
      return InvalidArgument("Expected a quoted string value for " + std::string(TermKindName(term.kind)) +
                             " '" + term.key + "'");
    };
    switch (term.comparator) {
      case Comparator::kEq: {
        ASSIGN_OR_RETURN(std::string v, text());
        return column + " = " + Param(v);
      }
      case Comparator::kNe: {
        ASSIGN_OR_RETURN(std::string v, text());
        return column + " <> " + Param(v);
      }
      case Comparator::kLike: {
        ASSIGN_OR_RETURN(std::string v, text());
        if (dialect_ == store::Dialect::kSqlite) return column + " GLOB " + Param(tracking::LikeToGlob(v));
        return column + " LIKE " + Param(v);
      }
      case Comparator::kILike: {
        ASSIGN_OR_RETURN(std::string v, text());
        return "LOWER(" + column + ") LIKE LOWER(" + Param(v) + ")";
      }
      case Comparator::kIn:
      case Comparator::kNotIn: {
        const auto* list = std::get_if<std::vector<std::string>>(&term.value);
        if (list == nullptr)
          return InvalidArgument("Expected a list of quoted strings for '" + term.key + "'");
        if (list->empty()) return std::string(term.comparator == Comparator::kIn ? "1 = 0" : "1 = 1");
        std::string sql = column + (term.comparator == Comparator::kIn ? " IN (" : " NOT IN (");
        for (std::size_t i = 0; i < list->size(); ++i) sql += (i > 0 ? ", " : "") + Param((*list)[i]);
        return sql + ")";
      }
      default:
        return InvalidArgument("Invalid comparator '" + std::string(ComparatorText(term.comparator)) + "'");
    }
  }
  std::vector<Value>& params() { return params_; }

 private:
  store::Dialect dialect_;
  std::vector<Value> params_;
};

bool IsQueryingPrompt(const std::vector<FilterTerm>& terms) {
  for (const FilterTerm& t : terms) {
    if (t.kind != TermKind::kTag || t.key != kPromptTag) continue;
    const auto* v = std::get_if<std::string>(&t.value);
    if (v == nullptr) return false;
    return (t.comparator == Comparator::kEq && Lower(*v) == "true") ||
           (t.comparator == Comparator::kNe && Lower(*v) == "false");
  }
  return false;
}

// Tag terms grouped by key (a model matches when, for every key, one tag of
// that key satisfies all its terms), as EXISTS sub-queries.
Status AddTagConditions(SqlBuilder& sql, std::vector<std::string>& where,
                        const std::vector<FilterTerm>& terms, bool querying_prompt,
                        const std::string& tag_table, const std::string& join) {
  std::map<std::string, std::vector<const FilterTerm*>> by_key;
  for (const FilterTerm& t : terms) {
    if (t.kind != TermKind::kTag) continue;
    if (t.comparator != Comparator::kEq && t.comparator != Comparator::kNe &&
        t.comparator != Comparator::kLike && t.comparator != Comparator::kILike)
      return InvalidArgument("Invalid comparator for tag: " + std::string(ComparatorText(t.comparator)));
    if (!querying_prompt && t.key == kPromptTag) continue;
    by_key[t.key].push_back(&t);
  }
  for (const auto& [key, key_terms] : by_key) {
    std::string clause =
        "EXISTS (SELECT 1 FROM " + tag_table + " t WHERE " + join + " AND t.key = " + sql.Param(key);
    for (const FilterTerm* t : key_terms) {
      ASSIGN_OR_RETURN(std::string cmp, sql.StringComparison("t.value", *t));
      clause += " AND " + cmp;
    }
    where.push_back(clause + ")");
  }
  return Status::OK();
}

struct OrderKey {
  std::string key;
  bool ascending = true;
};

// MLflow's _parse_order_by_string: "<key>" or "<key> ASC|DESC"; the key may
// be quoted with backticks or double quotes.
Result<OrderKey> ParseOrderClause(const std::string& clause) {
  const Status unparsable = InvalidArgument("Invalid order_by clause '" + clause + "'. Could not be parsed.");
  std::vector<std::string> tokens;
  std::string current;
  bool in_token = false;
  char quote = 0;
  for (char c : clause) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        current.push_back(c);
      }
      continue;
    }
    if (c == '`' || c == '"') {
      quote = c;
      in_token = true;
    } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_token) tokens.push_back(std::move(current));
      current.clear();
      in_token = false;
    } else {
      current.push_back(c);
      in_token = true;
    }
  }
  if (quote != 0) return unparsable;
  if (in_token) tokens.push_back(std::move(current));
  if (tokens.empty() || tokens.size() > 2) return unparsable;
  OrderKey out{tokens[0], true};
  if (tokens.size() == 2) {
    const std::string dir = Lower(tokens[1]);
    if (dir != "asc" && dir != "desc")
      return InvalidArgument("Invalid ordering key in order_by clause '" + clause + "'.");
    out.ascending = dir == "asc";
  }
  return out;
}

std::int64_t ClampOffset(std::int64_t offset) { return std::max<std::int64_t>(offset, 0); }

// MLflow's max_results checks for a registry search allowing at most `limit`.
Status CheckMaxResults(std::int64_t max_results, std::int64_t limit) {
  if (max_results > limit)
    return InvalidArgument("Invalid value for request parameter max_results. It must be at most " +
                               std::to_string(limit) + ", but got value " + std::to_string(max_results),
                           "max_results");
  if (max_results < 1)
    return InvalidArgument("Invalid value for max_results. It must be a positive integer, but got " +
                               std::to_string(max_results),
                           "max_results");
  return Status::OK();
}

// The offset `page_token` resumes at (0 without a token), checked against
// the search's fingerprint.
Result<std::int64_t> PageOffset(const std::string& page_token, const std::string& fingerprint) {
  ASSIGN_OR_RETURN(const std::int64_t offset, tracking::PageOffset(page_token, fingerprint));
  return ClampOffset(offset);
}

std::string Fingerprint(std::string_view kind, const RegistrySearch& search) {
  Json j = {{"k", kind}, {"f", search.filter}, {"o", search.order_by}};
  return j.dump();
}

class SqlRegistryStore final : public RegistryStore {
 public:
  SqlRegistryStore(store::Database* db, Env* env, RegistryDeps deps) : db_(db), env_(env), deps_(deps) {}

  // ---- registered models ----

  Result<RegisteredModel> CreateRegisteredModel(std::string_view name, const std::vector<Tag>& tags,
                                                const std::optional<std::string>& description) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    for (const Tag& tag : tags) RETURN_IF_ERROR(in::ValidateTag(tag.key, tag.value));
    // The last value of a repeated key wins, as in MLflow.
    std::map<std::string, std::string> tag_map;
    for (const Tag& tag : tags) tag_map[tag.key] = tag.value;
    const std::int64_t now = NowMs();
    RegisteredModel out;
    Status st = db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Rows existing,
                       tx.Query("SELECT 1 FROM registered_models WHERE name = $1", {std::string(name)}));
      if (!existing.empty()) return AlreadyExistsFor(tx, name, tag_map);
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
                  "VALUES ($1, $2, $2, $3)",
                  {std::string(name), now, description ? Value(*description) : Value(nullptr)}));
      for (const auto& [key, value] : tag_map)
        RETURN_IF_ERROR(tx.Exec("INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3)",
                                {std::string(name), key, value}));
      ASSIGN_OR_RETURN(out, LoadModel(tx, name));
      return Status::OK();
    });
    // A concurrent create that won the race shows up as the insert's conflict.
    if (st.code() == StatusCode::kAlreadyExists && !st.message().starts_with("Registered Model (") &&
        !st.message().starts_with("Prompt (") && !st.message().starts_with("Tried to create"))
      return AlreadyExists("Registered Model (name=" + std::string(name) + ") already exists.");
    RETURN_IF_ERROR(st);
    return out;
  }

  Result<RegisteredModel> GetRegisteredModel(std::string_view name) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RegisteredModel out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(out, LoadModel(tx, name));
      return Status::OK();
    }));
    return out;
  }

  Result<RegisteredModel> RenameRegisteredModel(std::string_view name, std::string_view new_name) override {
    RETURN_IF_ERROR(in::ValidateNewModelName(new_name));
    RETURN_IF_ERROR(in::ValidateModelName(name));
    const std::int64_t now = NowMs();
    RegisteredModel out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, name));
      if (new_name != name) {
        ASSIGN_OR_RETURN(
            Rows taken, tx.Query("SELECT 1 FROM registered_models WHERE name = $1", {std::string(new_name)}));
        if (!taken.empty())
          return AlreadyExists("Registered Model (name=" + std::string(new_name) + ") already exists.");
      }
      const std::vector<Value> args = {std::string(new_name), std::string(name)};
      RETURN_IF_ERROR(
          tx.Exec("UPDATE registered_models SET name = $1, last_updated_time = $3 WHERE name = $2",
                  {args[0], args[1], now}));
      RETURN_IF_ERROR(tx.Exec("UPDATE model_versions SET name = $1, last_updated_time = $3 WHERE name = $2",
                              {args[0], args[1], now}));
      RETURN_IF_ERROR(tx.Exec("UPDATE registered_model_tags SET name = $1 WHERE name = $2", args));
      RETURN_IF_ERROR(tx.Exec("UPDATE model_version_tags SET name = $1 WHERE name = $2", args));
      RETURN_IF_ERROR(tx.Exec("UPDATE registered_model_aliases SET name = $1 WHERE name = $2", args));
      ASSIGN_OR_RETURN(out, LoadModel(tx, new_name));
      return Status::OK();
    }));
    return out;
  }

  Result<RegisteredModel> UpdateRegisteredModel(std::string_view name,
                                                const std::optional<std::string>& description) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    const std::int64_t now = NowMs();
    RegisteredModel out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, name));
      RETURN_IF_ERROR(
          tx.Exec("UPDATE registered_models SET description = $1, last_updated_time = $2 WHERE name = $3",
                  {description ? Value(*description) : Value(nullptr), now, std::string(name)}));
      ASSIGN_OR_RETURN(out, LoadModel(tx, name));
      return Status::OK();
    }));
    return out;
  }

  Status DeleteRegisteredModel(std::string_view name) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, name));
      const std::vector<Value> args = {std::string(name)};
      RETURN_IF_ERROR(tx.Exec("DELETE FROM registered_model_aliases WHERE name = $1", args));
      RETURN_IF_ERROR(tx.Exec("DELETE FROM model_version_tags WHERE name = $1", args));
      RETURN_IF_ERROR(tx.Exec("DELETE FROM registered_model_tags WHERE name = $1", args));
      RETURN_IF_ERROR(tx.Exec("DELETE FROM model_versions WHERE name = $1", args));
      RETURN_IF_ERROR(tx.Exec("DELETE FROM registered_models WHERE name = $1", args));
      return Status::OK();
    });
  }

  Result<PageOf<RegisteredModel>> SearchRegisteredModels(const RegistrySearch& search) override {
    const std::int64_t max_results = search.page.max_results;
    RETURN_IF_ERROR(CheckMaxResults(max_results, kSearchRegisteredModelsMax));
    ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                     tracking::ParseFilter(search.filter, tracking::RegisteredModelsGrammar()));
    const std::string fingerprint = Fingerprint("registered_models", search);
    ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(search.page.page_token, fingerprint));

    SqlBuilder sql(db_->dialect());
    std::vector<std::string> where;
    for (const FilterTerm& t : terms) {
      if (t.kind == TermKind::kTag) continue;
      if (t.kind != TermKind::kAttribute)
        return InvalidArgument("Invalid token type: " + std::string(TermKindName(t.kind)));
      if (t.key != "name") return InvalidArgument("Invalid attribute name: " + t.key);
      switch (t.comparator) {
        case Comparator::kEq:
        case Comparator::kNe:
        case Comparator::kLike:
        case Comparator::kILike:
        case Comparator::kIn:
        case Comparator::kNotIn:
          break;
        default:
          return InvalidArgument("Invalid comparator for attribute: " +
                                 std::string(ComparatorText(t.comparator)));
      }
      ASSIGN_OR_RETURN(std::string cmp, sql.StringComparison("m.name", t));
      where.push_back(cmp);
    }
    const bool querying_prompt = IsQueryingPrompt(terms);
    RETURN_IF_ERROR(
        AddTagConditions(sql, where, terms, querying_prompt, "registered_model_tags", "t.name = m.name"));
    if (!querying_prompt)
      where.push_back("NOT EXISTS (SELECT 1 FROM registered_model_tags p WHERE p.name = m.name AND p.key = " +
                      sql.Param(std::string(kPromptTag)) +
                      " AND p.value = " + sql.Param(std::string("true")) + ")");

    // Order: MLflow's SQL store sorts "timestamp" and
    // "last_updated_timestamp" by the last update; "creation_timestamp" is
    // Ferry's addition.
    std::vector<std::string> order;
    std::set<std::string> seen;
    for (const std::string& clause : search.order_by) {
      std::string column;
      bool ascending = true;
      auto parsed = tracking::ParseOrderBy(clause, tracking::RegisteredModelsGrammar());
      if (parsed.ok()) {
        column = parsed->key == "name" ? "m.name" : "m.last_updated_time";
        ascending = parsed->ascending;
      } else {
        // creation_timestamp: Ferry's addition to MLflow's keys.
        auto extra = ParseOrderClause(clause);
        if (!extra.ok() || extra->key != "creation_timestamp") return parsed.status();
        column = "m.creation_time";
        ascending = extra->ascending;
      }
      if (!seen.insert(column).second)
        return InvalidArgument("`order_by` contains duplicate fields: " + PyListRepr(search.order_by));
      order.push_back(column + (ascending ? " ASC" : " DESC"));
    }
    if (!seen.count("m.name")) order.push_back("m.name ASC");

    std::string query = "SELECT m.name FROM registered_models m";
    for (std::size_t i = 0; i < where.size(); ++i) query += (i == 0 ? " WHERE " : " AND ") + where[i];
    query += " ORDER BY ";
    for (std::size_t i = 0; i < order.size(); ++i) query += (i > 0 ? ", " : "") + order[i];
    query += " LIMIT " + sql.Param(max_results + 1) + " OFFSET " + sql.Param(offset);

    PageOf<RegisteredModel> page;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      page = {};
      ASSIGN_OR_RETURN(Rows rows, tx.Query(query, sql.params()));
      std::vector<std::string> names;
      for (const Row& row : rows) names.push_back(row.Text(0));
      if (static_cast<std::int64_t>(names.size()) > max_results) {
        names.resize(static_cast<std::size_t>(max_results));
        page.next_page_token = tracking::EncodePageToken(offset + max_results, fingerprint);
      }
      ASSIGN_OR_RETURN(page.items, LoadModels(tx, names));
      return Status::OK();
    }));
    return page;
  }

  Result<std::vector<ModelVersion>> GetLatestVersions(std::string_view name,
                                                      const std::vector<std::string>& stages) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    std::set<std::string> wanted;
    for (const std::string& stage : stages) {
      ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
      wanted.insert(canonical);
    }
    std::vector<ModelVersion> out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      out.clear();
      ASSIGN_OR_RETURN(RegisteredModel model, LoadModel(tx, name));
      for (ModelVersion& mv : model.latest_versions)
        if (wanted.empty() || wanted.count(mv.current_stage)) out.push_back(std::move(mv));
      return Status::OK();
    }));
    return out;
  }

  Status SetRegisteredModelTag(std::string_view name, const Tag& tag) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RETURN_IF_ERROR(in::ValidateTag(tag.key, tag.value));
    return ExecForModel(name,
                        "INSERT INTO registered_model_tags (name, key, value) VALUES ($1, $2, $3) "
                        "ON CONFLICT (name, key) DO UPDATE SET value = excluded.value",
                        {std::string(name), tag.key, tag.value});
  }

  Status DeleteRegisteredModelTag(std::string_view name, std::string_view key) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RETURN_IF_ERROR(in::ValidateTagKey(key));
    return ExecForModel(name, "DELETE FROM registered_model_tags WHERE name = $1 AND key = $2",
                        {std::string(name), std::string(key)});
  }

  // ---- aliases ----

  Status SetRegisteredModelAlias(std::string_view name, std::string_view alias,
                                 std::string_view version) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RETURN_IF_ERROR(in::ValidateAlias(alias));
    RETURN_IF_ERROR(in::ValidateAliasNotReserved(alias));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    return ExecForVersion(name, v,
                          "INSERT INTO registered_model_aliases (name, alias, version) VALUES ($1, $2, $3) "
                          "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                          {std::string(name), std::string(alias), v});
  }

  Status DeleteRegisteredModelAlias(std::string_view name, std::string_view alias) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RETURN_IF_ERROR(in::ValidateAlias(alias));
    return ExecForModel(name, "DELETE FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                        {std::string(name), std::string(alias)});
  }

  Result<ModelVersion> GetModelVersionByAlias(std::string_view name, std::string_view alias) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    RETURN_IF_ERROR(in::ValidateAlias(alias));
    ModelVersion out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      if (Lower(alias) == "latest") {
        RETURN_IF_ERROR(RequireModel(tx, name));
        ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT MAX(version) FROM model_versions WHERE name = $1 AND "
                                             "current_stage <> $2",
                                             {std::string(name), std::string(kStageDeleted)}));
        if (rows.empty() || rows[0].IsNull(0))
          return NotFound("Latest version not found for model " + std::string(name) + ".");
        ASSIGN_OR_RETURN(out, LoadVersion(tx, name, rows[0].Int(0)));
        return Status::OK();
      }
      RETURN_IF_ERROR(RequireModel(tx, name));
      ASSIGN_OR_RETURN(Rows rows,
                       tx.Query("SELECT version FROM registered_model_aliases WHERE name = $1 AND alias = $2",
                                {std::string(name), std::string(alias)}));
      if (rows.empty())
        return InvalidArgument("Registered model alias " + std::string(alias) + " not found.", "alias");
      ASSIGN_OR_RETURN(out, LoadVersion(tx, name, rows[0].Int(0)));
      return Status::OK();
    }));
    return out;
  }

  // ---- model versions ----

  Result<ModelVersion> CreateModelVersion(const CreateModelVersionRequest& request) override;

  Result<ModelVersion> GetModelVersion(std::string_view name, std::string_view version) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    ModelVersion out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(out, LoadVersion(tx, name, v));
      return Status::OK();
    }));
    return out;
  }

  Result<ModelVersion> UpdateModelVersion(std::string_view name, std::string_view version,
                                          const std::optional<std::string>& description) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    const std::int64_t now = NowMs();
    ModelVersion out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadVersionRow(tx, name, v).status());
      RETURN_IF_ERROR(
          tx.Exec("UPDATE model_versions SET description = $1, last_updated_time = $2 WHERE name = $3 AND "
                  "version = $4",
                  {description ? Value(*description) : Value(nullptr), now, std::string(name), v}));
      ASSIGN_OR_RETURN(out, LoadVersion(tx, name, v));
      return Status::OK();
    }));
    return out;
  }

  Status DeleteModelVersion(std::string_view name, std::string_view version) override {
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    RETURN_IF_ERROR(in::ValidateModelName(name));
    const std::int64_t now = NowMs();
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadVersionRow(tx, name, v).status());
      RETURN_IF_ERROR(tx.Exec("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2",
                              {now, std::string(name)}));
      RETURN_IF_ERROR(tx.Exec("DELETE FROM registered_model_aliases WHERE name = $1 AND version = $2",
                              {std::string(name), v}));
      // MLflow keeps the row (so the number stays taken) but redacts it.
      RETURN_IF_ERROR(tx.Exec(
          "UPDATE model_versions SET current_stage = $1, last_updated_time = $2, description = NULL, user_id "
          "= NULL, "
          "source = 'REDACTED-SOURCE-PATH', run_id = 'REDACTED-RUN-ID', run_link = 'REDACTED-RUN-LINK', "
          "status_message = NULL WHERE name = $3 AND version = $4",
          {std::string(kStageDeleted), now, std::string(name), v}));
      return Status::OK();
    });
  }

  Result<PageOf<ModelVersion>> SearchModelVersions(const RegistrySearch& search) override;

  Result<ModelVersion> TransitionModelVersionStage(std::string_view name, std::string_view version,
                                                   std::string_view stage,
                                                   bool archive_existing_versions) override {
    ASSIGN_OR_RETURN(std::string canonical, CanonicalStage(stage));
    const bool active = canonical == kStageStaging || canonical == kStageProduction;
    if (archive_existing_versions && !active)
      return InvalidArgument("Model version transition cannot archive existing model versions because '" +
                             std::string(stage) +
                             "' is not an Active stage. Valid stages are ['Staging', "
                             "'Production']");
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    const std::int64_t now = NowMs();
    ModelVersion out;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadVersionRow(tx, name, v).status());
      if (archive_existing_versions)
        RETURN_IF_ERROR(
            tx.Exec("UPDATE model_versions SET current_stage = $1, last_updated_time = $2 "
                    "WHERE name = $3 AND version <> $4 AND current_stage = $5",
                    {std::string(kStageArchived), now, std::string(name), v, canonical}));
      RETURN_IF_ERROR(
          tx.Exec("UPDATE model_versions SET current_stage = $1, last_updated_time = $2 WHERE name = $3 AND "
                  "version = $4",
                  {canonical, now, std::string(name), v}));
      RETURN_IF_ERROR(tx.Exec("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2",
                              {now, std::string(name)}));
      ASSIGN_OR_RETURN(out, LoadVersion(tx, name, v));
      return Status::OK();
    }));
    return out;
  }

  Result<std::string> GetModelVersionDownloadUri(std::string_view name, std::string_view version) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    std::string uri;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Row row, LoadVersionRow(tx, name, v));
      ModelVersion mv = VersionFromRow(row);
      uri = !mv.storage_location.empty() ? mv.storage_location : mv.source.value_or("");
      return Status::OK();
    }));
    return uri;
  }

  Status SetModelVersionTag(std::string_view name, std::string_view version, const Tag& tag) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    RETURN_IF_ERROR(in::ValidateTag(tag.key, tag.value));
    return ExecForVersion(
        name, v,
        "INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
        {std::string(name), v, tag.key, tag.value});
  }

  Status DeleteModelVersionTag(std::string_view name, std::string_view version,
                               std::string_view key) override {
    RETURN_IF_ERROR(in::ValidateModelName(name));
    ASSIGN_OR_RETURN(std::int64_t v, in::ParseVersion(version));
    RETURN_IF_ERROR(in::ValidateTagKey(key));
    return ExecForVersion(name, v,
                          "DELETE FROM model_version_tags WHERE name = $1 AND version = $2 AND key = $3",
                          {std::string(name), v, std::string(key)});
  }

 private:
  std::int64_t NowMs() { return env_->NowMicros() / 1000; }

  // Runs one statement in a transaction once registered model `name` is
  // found (else NotFound).
  Status ExecForModel(std::string_view name, std::string_view sql, const std::vector<Value>& params) {
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, name));
      return tx.Exec(sql, params).status();
    });
  }

  // Runs one statement in a transaction once version `version` of `name`
  // is found and not deleted (else NotFound).
  Status ExecForVersion(std::string_view name, std::int64_t version, std::string_view sql,
                        const std::vector<Value>& params) {
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadVersionRow(tx, name, version).status());
      return tx.Exec(sql, params).status();
    });
  }

  // MLflow's handle_resource_already_exist_error: a name taken by a prompt
  // when creating a model (or the reverse) gets its own message.
  static Status AlreadyExistsFor(Tx& tx, std::string_view name,
                                 const std::map<std::string, std::string>& new_tags) {
    auto is_prompt = [](const std::string* v) { return v != nullptr && Lower(*v) == "true"; };
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Query("SELECT value FROM registered_model_tags WHERE name = $1 AND key = $2",
                              {std::string(name), std::string(kPromptTag)}));
    const bool old_prompt = !rows.empty() && is_prompt(&rows[0].Text(0));
    auto it = new_tags.find(std::string(kPromptTag));
    const bool new_prompt = it != new_tags.end() && is_prompt(&it->second);
    const std::string old_entity = old_prompt ? "Prompt" : "Registered Model";
    const std::string new_entity = new_prompt ? "Prompt" : "Registered Model";
    if (old_entity != new_entity)
      return AlreadyExists("Tried to create a " + Lower(new_entity) + " with name " + in::PyRepr(name) +
                           ", but the name is already taken by a " + Lower(old_entity) +
                           ". MLflow does not allow creating a model and a prompt with the same name.");
    return AlreadyExists(new_entity + " (name=" + std::string(name) + ") already exists.");
  }

  static Status RequireModel(Tx& tx, std::string_view name) {
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Query("SELECT 1 FROM registered_models WHERE name = $1", {std::string(name)}));
    if (rows.empty()) return ModelNotFound(name);
    return Status::OK();
  }

  static Result<Row> LoadVersionRow(Tx& tx, std::string_view name, std::int64_t version) {
    ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT " + VersionColumns() +
                                             " FROM model_versions WHERE name = $1 AND version = $2 AND "
                                             "current_stage <> $3",
                                         {std::string(name), version, std::string(kStageDeleted)}));
    if (rows.empty()) return VersionNotFound(name, version);
    return std::move(rows[0]);
  }

  static Result<ModelVersion> LoadVersion(Tx& tx, std::string_view name, std::int64_t version) {
    ASSIGN_OR_RETURN(Row row, LoadVersionRow(tx, name, version));
    std::vector<ModelVersion> mvs = {VersionFromRow(row)};
    RETURN_IF_ERROR(FillVersionDetails(tx, mvs));
    return std::move(mvs[0]);
  }

  // Tags and aliases of `mvs`, loaded a batch of model names at a time.
  static Status FillVersionDetails(Tx& tx, std::vector<ModelVersion>& mvs) {
    std::map<std::pair<std::string, std::int64_t>, ModelVersion*> index;
    std::vector<std::string> names;
    for (ModelVersion& mv : mvs) {
      mv.tags.clear();
      mv.aliases.clear();
      index.emplace(std::make_pair(mv.name, mv.version), &mv);
      names.push_back(mv.name);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    for (std::size_t start = 0; start < names.size(); start += kBatch) {
      const std::size_t n = std::min(kBatch, names.size() - start);
      std::vector<Value> args(names.begin() + start, names.begin() + start + n);
      ASSIGN_OR_RETURN(Rows tags,
                       tx.Query("SELECT name, version, key, value FROM model_version_tags WHERE name IN (" +
                                    Placeholders(1, n) + ") ORDER BY name, version, key",
                                args));
      for (const Row& row : tags) {
        auto it = index.find({row.Text(0), row.Int(1)});
        if (it != index.end()) it->second->tags.push_back({row.Text(2), row.Text(3)});
      }
      ASSIGN_OR_RETURN(Rows aliases,
                       tx.Query("SELECT name, version, alias FROM registered_model_aliases WHERE name IN (" +
                                    Placeholders(1, n) + ") ORDER BY name, alias",
                                args));
      for (const Row& row : aliases) {
        auto it = index.find({row.Text(0), row.Int(1)});
        if (it != index.end()) it->second->aliases.push_back(row.Text(2));
      }
    }
    return Status::OK();
  }

  static Result<RegisteredModel> LoadModel(Tx& tx, std::string_view name) {
    ASSIGN_OR_RETURN(std::vector<RegisteredModel> models, LoadModels(tx, {std::string(name)}));
    if (models.empty()) return ModelNotFound(name);
    return std::move(models[0]);
  }

  // The models named, in the order given (unknown names are skipped), with
  // tags, aliases and the latest version of each stage.
  static Result<std::vector<RegisteredModel>> LoadModels(Tx& tx, const std::vector<std::string>& names) {
    std::vector<RegisteredModel> out;
    std::map<std::string, RegisteredModel> by_name;
    for (std::size_t start = 0; start < names.size(); start += kBatch) {
      const std::size_t n = std::min(kBatch, names.size() - start);
      std::vector<Value> args(names.begin() + start, names.begin() + start + n);
      const std::string list = Placeholders(1, n);
      ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT name, creation_time, last_updated_time, description FROM "
                                           "registered_models WHERE name IN (" +
                                               list + ")",
                                           args));
      for (const Row& row : rows) {
        RegisteredModel m;
        m.name = row.Text(0);
        m.creation_timestamp = row.Int(1);
        m.last_updated_timestamp = row.Int(2);
        m.description = row.OptText(3);
        by_name.emplace(m.name, std::move(m));
      }
      ASSIGN_OR_RETURN(Rows tags,
                       tx.Query("SELECT name, key, value FROM registered_model_tags WHERE name IN (" + list +
                                    ") ORDER BY name, key",
                                args));
      for (const Row& row : tags) {
        auto it = by_name.find(row.Text(0));
        if (it != by_name.end()) it->second.tags.push_back({row.Text(1), row.Text(2)});
      }
      ASSIGN_OR_RETURN(Rows aliases,
                       tx.Query("SELECT name, alias, version FROM registered_model_aliases WHERE name IN (" +
                                    list + ") ORDER BY name, alias",
                                args));
      for (const Row& row : aliases) {
        auto it = by_name.find(row.Text(0));
        if (it != by_name.end()) it->second.aliases.push_back({row.Text(1), row.Int(2)});
      }
      // The newest version of each stage, stages in the order their first
      // version appeared (the order MLflow's entity builds them in).
      std::vector<Value> stage_args;
      stage_args.reserve(args.size() + 1);
      stage_args.insert(stage_args.end(), args.begin(), args.end());
      stage_args.emplace_back(std::in_place_type<std::string>, kStageDeleted);
      ASSIGN_OR_RETURN(
          Rows latest,
          tx.Query("SELECT " + VersionColumns("v.") +
                       " FROM model_versions v JOIN (SELECT name AS n, current_stage AS s, MAX(version) "
                       "AS maxv, MIN(version) AS minv FROM model_versions WHERE name IN (" +
                       list + ") AND current_stage <> $" + std::to_string(n + 1) +
                       " GROUP BY name, current_stage) g ON v.name = g.n AND v.version = g.maxv "
                       "ORDER BY v.name, g.minv",
                   stage_args));
      std::vector<ModelVersion> mvs;
      for (const Row& row : latest) mvs.push_back(VersionFromRow(row));
      RETURN_IF_ERROR(FillVersionDetails(tx, mvs));
      for (ModelVersion& mv : mvs) {
        auto it = by_name.find(mv.name);
        if (it != by_name.end()) it->second.latest_versions.push_back(std::move(mv));
      }
    }
    for (const std::string& name : names) {
      auto it = by_name.find(name);
      if (it != by_name.end()) out.push_back(std::move(it->second));
    }
    return out;
  }

  // ---- create_model_version's source handling (server/handlers.py) ----

  Result<tracking::Run> SourceRun(std::string_view run_id, std::string_view source) {
    if (deps_.tracking == nullptr) return in::InvalidSourceFor(source, "run_id");
    auto run = deps_.tracking->GetRun(run_id);
    if (!run.ok() && run.status().code() == StatusCode::kNotFound)
      return in::InvalidSourceFor(source, "run_id");
    return run;
  }

  Result<tracking::LoggedModel> SourceModel(std::string_view model_id, std::string_view source) {
    if (deps_.logged_models == nullptr) return in::InvalidSourceFor(source, "model_id");
    auto model = deps_.logged_models->Get(model_id);
    if (!model.ok() && model.status().code() == StatusCode::kNotFound)
      return in::InvalidSourceFor(source, "model_id");
    return model;
  }

  static bool LocalContains(std::string_view root_uri, std::string_view source) {
    if (!in::IsLocalUri(root_uri)) return false;
    const std::string root = in::NormPath(in::LocalPath(root_uri));
    const std::string path = in::NormPath(in::LocalPath(source));
    if (!root.starts_with("/") || !path.starts_with("/")) return false;
    return path == root || path.starts_with(root == "/" ? root : root + "/");
  }

  Status ValidateSourceRun(std::string_view source, std::string_view run_id) {
    if (in::IsLocalUri(source)) {
      if (!run_id.empty()) {
        ASSIGN_OR_RETURN(tracking::Run run, SourceRun(run_id, source));
        if (LocalContains(run.info.artifact_uri, source)) return Status::OK();
      }
      return InvalidArgument(
          "Invalid model version source: '" + std::string(source) +
              "'. To use a local path as a model version source, the run_id request parameter "
              "has to be specified and the local path has to be contained within the artifact "
              "directory of the run specified by the run_id.",
          "source");
    }
    RETURN_IF_ERROR(in::ValidateNoRelativePaths(source));
    const in::Uri uri = in::ParseUri(source);
    if (uri.scheme == "runs") {
      if (!uri.netloc.empty()) return in::InvalidSourceFor(source, "run_id");
      auto source_run = in::RunIdOfRunsUri(source);
      if (source_run.ok() && !run_id.empty() && *source_run == run_id) return Status::OK();
      if (!source_run.ok()) return source_run.status();
      return in::InvalidSourceFor(source, "run_id");
    }
    if (uri.scheme == "models") {
      if (!uri.netloc.empty()) return in::InvalidSourceFor(source, "model_id");
      auto parsed = in::ParseModelUri(source);
      if (!parsed.ok() || !parsed->model_id.empty()) return in::InvalidSourceFor(source, "model_id");
    }
    if (in::IsMlflowArtifactSource(source)) {
      if (!run_id.empty()) {
        ASSIGN_OR_RETURN(tracking::Run run, SourceRun(run_id, source));
        if (in::IsUriWithinRoot(source, run.info.artifact_uri)) return Status::OK();
      }
      return in::InvalidSourceFor(source, "run_id");
    }
    return Status::OK();
  }

  Status ValidateSourceModel(std::string_view source, std::string_view model_id) {
    if (in::IsLocalUri(source)) {
      if (!model_id.empty()) {
        ASSIGN_OR_RETURN(tracking::LoggedModel model, SourceModel(model_id, source));
        if (LocalContains(model.artifact_location, source)) return Status::OK();
      }
      return InvalidArgument(
          "Invalid model version source: '" + std::string(source) +
              "'. To use a local path as a model version source, the model_id request parameter "
              "has to be specified and the local path has to be contained within the artifact "
              "directory of the run specified by the model_id.",
          "source");
    }
    RETURN_IF_ERROR(in::ValidateNoRelativePaths(source));
    const in::Uri uri = in::ParseUri(source);
    if (uri.scheme == "models") {
      if (!uri.netloc.empty()) return in::InvalidSourceFor(source, "model_id");
      auto parsed = in::ParseModelUri(source);
      if (!parsed.ok()) return in::InvalidSourceFor(source, "model_id");
      if (!parsed->model_id.empty()) {
        if (!model_id.empty() && parsed->model_id == model_id) return Status::OK();
        return in::InvalidSourceFor(source, "model_id");
      }
    }
    if (uri.scheme == "runs") return in::InvalidSourceFor(source, "model_id");
    if (in::IsMlflowArtifactSource(source)) {
      if (!model_id.empty()) {
        ASSIGN_OR_RETURN(tracking::LoggedModel model, SourceModel(model_id, source));
        if (in::IsUriWithinRoot(source, model.artifact_location)) return Status::OK();
      }
      return in::InvalidSourceFor(source, "model_id");
    }
    return Status::OK();
  }

  // The version a models:/name/... URI names (version, alias, stage or latest).
  Result<ModelVersion> ResolveRegistryUri(const in::ModelUri& uri) {
    if (!uri.version.empty()) return GetModelVersion(uri.name, uri.version);
    if (!uri.alias.empty()) return GetModelVersionByAlias(uri.name, uri.alias);
    std::vector<std::string> stages;
    if (!uri.stage.empty()) stages.push_back(uri.stage);
    ASSIGN_OR_RETURN(std::vector<ModelVersion> latest, GetLatestVersions(uri.name, stages));
    if (latest.empty())
      return NotFound("No versions of model with name '" + uri.name + "'" +
                      (uri.stage.empty() ? "" : " and stage '" + uri.stage + "'") + " found");
    auto best =
        std::max_element(latest.begin(), latest.end(),
                         [](const ModelVersion& a, const ModelVersion& b) { return a.version < b.version; });
    return *best;
  }

  store::Database* db_;
  Env* env_;
  RegistryDeps deps_;
};

Result<ModelVersion> SqlRegistryStore::CreateModelVersion(const CreateModelVersionRequest& request) {
  std::string source = request.source;
  std::optional<std::string> run_id = request.run_id;
  std::optional<std::string> model_id = request.model_id;
  bool is_prompt = false;
  for (const Tag& tag : request.tags)
    if (tag.key == kPromptTag) is_prompt = Lower(tag.value) == "true";

  // The handler's checks (server/handlers.py _create_model_version).
  RETURN_IF_ERROR(in::ValidateSourceScheme(source));
  if (!is_prompt) {
    const in::Uri uri = in::ParseUri(source);
    if (uri.scheme == "models") {
      if (!uri.netloc.empty())
        return InvalidArgument("Invalid model version source: '" + source +
                                   "'. Registered model sources must use the active model registry.",
                               "source");
      auto parsed = in::ParseModelUri(source);
      if (!parsed.ok()) return in::InvalidSourceFor(source, "model_id");
      if (parsed->model_id.empty()) {
        ASSIGN_OR_RETURN(RegisteredModel source_model, GetRegisteredModel(parsed->name));
        for (const Tag& tag : source_model.tags)
          if (tag.key == kPromptTag && Lower(tag.value) == "true")
            return InvalidArgument("Invalid model version source: '" + source +
                                       "'. Prompt versions cannot be used as model version sources.",
                                   "source");
        ASSIGN_OR_RETURN(ModelVersion source_version, ResolveRegistryUri(*parsed));
        if ((run_id && *run_id != source_version.run_id.value_or("")) ||
            (model_id && *model_id != source_version.model_id.value_or("")))
          return InvalidArgument(
              "Invalid model version source: '" + source +
                  "'. The run_id and model_id request parameters must match the referenced "
                  "model version.",
              "source");
        source = "models:/" + source_version.name + "/" + std::to_string(source_version.version);
        if (!run_id) run_id = source_version.run_id;
        if (!model_id) model_id = source_version.model_id;
      }
    }
    if (model_id && !model_id->empty()) {
      RETURN_IF_ERROR(ValidateSourceModel(source, *model_id));
    } else {
      RETURN_IF_ERROR(ValidateSourceRun(source, run_id.value_or("")));
    }
  }

  // The store's part (sqlalchemy_store.py create_model_version).
  RETURN_IF_ERROR(in::ValidateModelName(request.name));
  for (const Tag& tag : request.tags) RETURN_IF_ERROR(in::ValidateTag(tag.key, tag.value));
  std::string storage_location = source;
  const in::Uri uri = in::ParseUri(source);
  if (uri.scheme == "models") {
    auto fetch = [&]() -> Status {
      ASSIGN_OR_RETURN(in::ModelUri parsed, in::ParseModelUri(source));
      if (!parsed.model_id.empty()) {
        if (deps_.logged_models == nullptr) return NotFound("Logged model " + parsed.model_id + " not found");
        ASSIGN_OR_RETURN(tracking::LoggedModel model, deps_.logged_models->Get(parsed.model_id));
        storage_location = model.artifact_location;
        if (run_id.value_or("").empty() && !model.source_run_id.empty()) run_id = model.source_run_id;
        if (!model_id || model_id->empty()) model_id = parsed.model_id;
      } else {
        ASSIGN_OR_RETURN(ModelVersion mv, ResolveRegistryUri(parsed));
        ASSIGN_OR_RETURN(storage_location, GetModelVersionDownloadUri(mv.name, std::to_string(mv.version)));
      }
      return Status::OK();
    };
    if (Status st = fetch(); !st.ok())
      return InvalidArgument("Unable to fetch model from model URI source artifact location '" + source +
                                 "'.Error: " + st.message(),
                             "source");
  }
  if (run_id.value_or("").empty() && model_id && !model_id->empty() && deps_.logged_models != nullptr) {
    auto model = deps_.logged_models->Get(*model_id);
    if (model.ok() && !model->source_run_id.empty()) run_id = model->source_run_id;
  }

  // The handler hands the store the proto's "" for an unset run_id.
  if (!run_id) run_id = "";

  // Lineage: the run's experiment and pipeline run.
  Lineage lineage;
  if (!run_id.value_or("").empty() && deps_.tracking != nullptr) {
    auto run = deps_.tracking->GetRun(*run_id);
    if (run.ok()) {
      lineage.experiment_id = run->info.experiment_id;
      for (const Tag& tag : run->tags)
        if (tag.key == kPipelineRunIdTag) lineage.pipeline_run_id = tag.value;
    }
  }

  std::map<std::string, std::string> tag_map;
  for (const Tag& tag : request.tags) tag_map[tag.key] = tag.value;
  auto opt = [](const std::optional<std::string>& v) { return v ? Value(*v) : Value(nullptr); };
  const std::int64_t now = NowMs();
  ModelVersion out;
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
    RETURN_IF_ERROR(RequireModel(tx, request.name));
    RETURN_IF_ERROR(
        tx.Exec("UPDATE registered_models SET last_updated_time = $1 WHERE name = $2", {now, request.name}));
    ASSIGN_OR_RETURN(Rows max_rows,
                     tx.Query("SELECT MAX(version) FROM model_versions WHERE name = $1", {request.name}));
    const std::int64_t version = (max_rows.empty() || max_rows[0].IsNull(0) ? 0 : max_rows[0].Int(0)) + 1;
    RETURN_IF_ERROR(tx.Exec(
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, "
        "current_stage, source, storage_location, run_id, run_link, status, status_message, model_id, "
        "experiment_id, "
        "pipeline_run_id) VALUES ($1, $2, $3, $3, $4, NULL, $5, $6, $7, $8, $9, 'READY', NULL, $10, $11, "
        "$12)",
        {request.name, version, now, request.description ? Value(*request.description) : Value(nullptr),
         std::string(kStageNone), source, storage_location, opt(run_id), opt(request.run_link),
         model_id.value_or("").empty() ? Value(nullptr) : Value(*model_id),
         lineage.experiment_id.empty() ? Value(nullptr) : Value(lineage.experiment_id),
         lineage.pipeline_run_id.empty() ? Value(nullptr) : Value(lineage.pipeline_run_id)}));
    for (const auto& [key, value] : tag_map)
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO model_version_tags (name, version, key, value) VALUES ($1, $2, $3, $4)",
                  {request.name, version, key, value}));
    ASSIGN_OR_RETURN(out, LoadVersion(tx, request.name, version));
    return Status::OK();
  }));

  // MLflow records the versions made from a logged model on it
  // (tracking store set_model_versions_tags).
  if (!is_prompt && model_id && !model_id->empty() && deps_.logged_models != nullptr) {
    auto model = deps_.logged_models->Get(*model_id);
    if (model.ok()) {
      Json versions = Json::array();
      for (const Tag& tag : model->tags) {
        if (tag.key != kModelVersionsTag) continue;
        auto parsed = ParseJson(tag.value);
        if (parsed.ok() && parsed->is_array()) versions = *parsed;
      }
      Json entry = {{"name", out.name}, {"version", out.version}};
      if (std::find(versions.begin(), versions.end(), entry) == versions.end()) versions.push_back(entry);
      RETURN_IF_ERROR(
          deps_.logged_models->SetTags(*model_id, {{std::string(kModelVersionsTag), versions.dump()}}));
    }
  }
  return out;
}

Result<PageOf<ModelVersion>> SqlRegistryStore::SearchModelVersions(const RegistrySearch& search) {
  const std::int64_t max_results = search.page.max_results;
  RETURN_IF_ERROR(CheckMaxResults(max_results, kSearchModelVersionsMax));
  ASSIGN_OR_RETURN(std::vector<FilterTerm> terms,
                   tracking::ParseFilter(search.filter, tracking::ModelVersionsGrammar()));
  const std::string fingerprint = Fingerprint("model_versions", search);
  ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(search.page.page_token, fingerprint));

  SqlBuilder sql(db_->dialect());
  std::vector<std::string> where = {"v.current_stage <> " + sql.Param(std::string(kStageDeleted))};
  for (const FilterTerm& t : terms) {
    if (t.kind == TermKind::kTag) continue;
    if (t.kind != TermKind::kAttribute)
      return InvalidArgument("Invalid token type: " + std::string(TermKindName(t.kind)));
    if (t.key == "version_number") {
      static const std::set<Comparator> kNumeric = {Comparator::kEq, Comparator::kNe, Comparator::kLt,
                                                    Comparator::kLe, Comparator::kGt, Comparator::kGe};
      if (!kNumeric.count(t.comparator))
        return InvalidArgument("Invalid comparator for attribute " + t.key + ": " +
                               std::string(ComparatorText(t.comparator)));
      std::int64_t number = 0;
      if (const auto* d = std::get_if<double>(&t.value)) {
        if (*d != static_cast<double>(static_cast<std::int64_t>(*d)) || std::abs(*d) > 9e18)
          return InvalidArgument("Invalid value for numeric attribute '" + t.key + "': " + Json(*d).dump());
        number = static_cast<std::int64_t>(*d);
      } else if (const auto* s = std::get_if<std::string>(&t.value)) {
        auto parsed = in::ParseVersion(*s);
        if (!parsed.ok())
          return InvalidArgument("Invalid value for numeric attribute '" + t.key + "': " + in::PyRepr(*s));
        number = *parsed;
      } else {
        return InvalidArgument("Invalid value for numeric attribute '" + t.key + "'");
      }
      std::string op = std::string(ComparatorText(t.comparator));
      if (op == "!=") op = "<>";
      where.push_back("v.version " + op + " " + sql.Param(number));
      continue;
    }
    std::string column;
    if (t.key == "name") {
      column = "v.name";
    } else if (t.key == "run_id") {
      column = "v.run_id";
    } else if (t.key == "source_path") {
      column = "v.source";
    } else {
      return InvalidArgument("Invalid attribute name: " + t.key);
    }
    static const std::set<Comparator> kString = {Comparator::kEq,    Comparator::kNe, Comparator::kLike,
                                                 Comparator::kILike, Comparator::kIn, Comparator::kNotIn};
    if (!kString.count(t.comparator) ||
        ((t.comparator == Comparator::kIn || t.comparator == Comparator::kNotIn) && t.key != "run_id" &&
         t.key != "name"))
      return InvalidArgument("Invalid comparator for attribute: " +
                             std::string(ComparatorText(t.comparator)));
    ASSIGN_OR_RETURN(std::string cmp, sql.StringComparison(column, t));
    where.push_back(cmp);
  }
  const bool querying_prompt = IsQueryingPrompt(terms);
  RETURN_IF_ERROR(AddTagConditions(sql, where, terms, querying_prompt, "model_version_tags",
                                   "t.name = v.name AND t.version = v.version"));
  // As MLflow: a name with any prompt-tagged version is a prompt.
  if (!querying_prompt)
    where.push_back("NOT EXISTS (SELECT 1 FROM model_version_tags p WHERE p.name = v.name AND p.key = " +
                    sql.Param(std::string(kPromptTag)) + " AND p.value = " + sql.Param(std::string("true")) +
                    ")");

  std::vector<std::string> clauses = search.order_by;
  if (clauses.empty()) clauses = {"last_updated_timestamp DESC", "name ASC", "version_number DESC"};
  std::vector<std::string> order;
  std::set<std::string> seen;
  ASSIGN_OR_RETURN(std::vector<tracking::OrderTerm> order_terms,
                   tracking::ParseOrderByList(clauses, tracking::ModelVersionsGrammar()));
  for (const tracking::OrderTerm& term : order_terms) {
    std::string column;
    if (term.kind != TermKind::kAttribute)
      return InvalidArgument("Invalid order_by entity: " + std::string(TermKindName(term.kind)));
    if (term.key == "name") {
      column = "v.name";
    } else if (term.key == "version_number") {
      column = "v.version";
    } else if (term.key == "creation_timestamp") {
      column = "v.creation_time";
    } else if (term.key == "last_updated_timestamp") {
      column = "v.last_updated_time";
    } else {
      return InvalidArgument("Invalid order by key '" + term.key +
                             "' specified. Valid keys are {'name', 'version_number', 'creation_timestamp', "
                             "'last_updated_timestamp'}");
    }
    if (!seen.insert(column).second)
      return InvalidArgument("`order_by` contains duplicate fields: " + PyListRepr(clauses));
    order.push_back(column + (term.ascending ? " ASC" : " DESC"));
  }
  if (!seen.count("v.name")) order.push_back("v.name ASC");
  if (!seen.count("v.version")) order.push_back("v.version DESC");

  std::string query = "SELECT " + VersionColumns("v.") + " FROM model_versions v";
  for (std::size_t i = 0; i < where.size(); ++i) query += (i == 0 ? " WHERE " : " AND ") + where[i];
  query += " ORDER BY ";
  for (std::size_t i = 0; i < order.size(); ++i) query += (i > 0 ? ", " : "") + order[i];
  query += " LIMIT " + sql.Param(max_results + 1) + " OFFSET " + sql.Param(offset);

  PageOf<ModelVersion> page;
  RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
    page = {};
    ASSIGN_OR_RETURN(Rows rows, tx.Query(query, sql.params()));
    for (const Row& row : rows) {
      if (static_cast<std::int64_t>(page.items.size()) == max_results) {
        page.next_page_token = tracking::EncodePageToken(offset + max_results, fingerprint);
        break;
      }
      page.items.push_back(VersionFromRow(row));
    }
    return FillVersionDetails(tx, page.items);
  }));
  return page;
}

}  // namespace

Result<std::string> CanonicalStage(std::string_view stage) {
  const std::string key = Lower(stage);
  for (std::string_view s : {kStageNone, kStageStaging, kStageProduction, kStageArchived})
    if (Lower(s) == key) return std::string(s);
  return InvalidArgument("Invalid Model Version stage: " + std::string(stage) +
                             ". Value must be one of None, Staging, Production, Archived.",
                         "stage");
}

Result<std::unique_ptr<RegistryStore>> RegistryStore::Open(store::Database* db, Env* env, RegistryDeps deps) {
  if (db == nullptr || env == nullptr) return InvalidArgument("RegistryStore::Open: db and env are required");
  ASSIGN_OR_RETURN(Rows rows, db->Query("SELECT COUNT(*) FROM registered_models"));
  (void)rows;
  return std::unique_ptr<RegistryStore>(new SqlRegistryStore(db, env, deps));
}

}  // namespace ferry::registry
