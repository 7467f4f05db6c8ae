// LoggedModelStore over store::Database: see logged_model_store.h.
#include "ferry/tracking/logged_model_store.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>

#include "ferry/common/json.h"
#include "ferry/common/strings.h"
#include "ferry/tracking/search_filter.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking {
namespace {

using store::Row;
using store::Rows;
using store::Tx;
using store::Value;

constexpr std::int64_t kDefaultMaxResults = 100;
// MLflow sets no upper bound; Ferry caps a page as search_runs does.
constexpr std::int64_t kMaxMaxResults = 50000;
constexpr std::size_t kMaxKeyBytes = 250;
constexpr std::size_t kMaxNameBytes = 500;

constexpr char kModelColumns[] =
    "lm.model_id, lm.experiment_id, lm.name, lm.artifact_location, lm.creation_timestamp_ms, "
    "lm.last_updated_timestamp_ms, lm.status, lm.model_type, lm.source_run_id, lm.status_message";

std::string NewModelId(Env* env) {
  std::string uuid = env->NewUuid();
  std::string id = "m-";
  for (char c : uuid)
    if (c != '-') id += c;
  return id;
}

// MLflow's append_to_uri_path for the simple case of a location and
// relative segments.
std::string AppendPath(std::string base, std::string_view tail) {
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + std::string(tail);
}

std::string NotFoundMessage(std::string_view model_id) {
  return "Logged model with ID " + QuoteForMessage(model_id) + " not found.";
}

Status ValidateModelId(std::string_view model_id) {
  if (model_id.empty()) return InvalidArgument("Missing value for required parameter 'model_id'", "model_id");
  return Status::OK();
}

Status ValidateName(std::string_view name) {
  static constexpr std::string_view kBad = "/:.%\"'";
  if (name.find_first_of(kBad) != std::string_view::npos) {
    return InvalidArgument("Invalid model name (" + QuoteForMessage(name) +
                               ") provided. Model name must be a non-empty string and cannot contain the "
                               "following characters: ('/', ':', '.', '%', '\"', \"'\")",
                           "name");
  }
  // MLflow's column is String(500).
  if (name.size() > kMaxNameBytes)
    return InvalidArgument("Invalid model name (" + QuoteForMessage(name, 60) + ") provided: longer than 500 bytes",
                           "name");
  return Status::OK();
}

Status ValidateKey(std::string_view what, std::string_view key) {
  if (key.empty()) return InvalidArgument(std::string(what) + " key must be a non-empty string", "key");
  if (key.size() > kMaxKeyBytes)
    return InvalidArgument(
        std::string(what) + " key " + QuoteForMessage(key, 60) + " is longer than 250 bytes", "key");
  return Status::OK();
}

Result<std::int64_t> ParseExperimentId(std::string_view id) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
  if (id.empty() || ec != std::errc() || end != id.data() + id.size() || v < 0)
    return InvalidArgument("Invalid experiment ID " + QuoteForMessage(id), "experiment_id");
  return v;
}

LoggedModel ModelFromRow(const Row& row) {
  LoggedModel m;
  m.model_id = row.Text(0);
  m.experiment_id = std::to_string(row.Int(1));
  m.name = row.Text(2);
  m.artifact_location = row.Text(3);
  m.creation_timestamp_ms = row.Int(4);
  m.last_updated_timestamp_ms = row.Int(5);
  m.status = row.Text(6);
  m.model_type = row.Text(7);
  m.source_run_id = row.Text(8);
  m.status_message = row.Text(9);
  return m;
}

// Deduplicates params by key; a repeated key must repeat its value.
Result<std::vector<Param>> UniqueParams(const std::vector<Param>& params) {
  std::map<std::string, std::string> by_key;
  for (const Param& p : params) {
    RETURN_IF_ERROR(ValidateKey("Param", p.key));
    auto [it, inserted] = by_key.emplace(p.key, p.value);
    if (!inserted && it->second != p.value)
      return InvalidArgument("Duplicate param key " + QuoteForMessage(p.key) + " with different values",
                             "params");
  }
  std::vector<Param> out;
  for (auto& [k, v] : by_key) out.push_back({k, v});
  return out;
}

// Deduplicates tags by key; the last value wins, as MLflow.
Result<std::vector<Tag>> UniqueTags(const std::vector<Tag>& tags) {
  std::map<std::string, std::string> by_key;
  for (const Tag& t : tags) {
    RETURN_IF_ERROR(ValidateKey("Tag", t.key));
    by_key[t.key] = t.value;
  }
  std::vector<Tag> out;
  for (auto& [k, v] : by_key) out.push_back({k, v});
  return out;
}

Status InsertParams(Tx& tx, std::string_view model_id, const std::vector<Param>& params) {
  for (const Param& p : params) {
    // A param is immutable: logging it again with the same value is fine.
    ASSIGN_OR_RETURN(Rows existing, tx.Query("SELECT param_value FROM logged_model_params "
                                             "WHERE model_id = $1 AND param_key = $2",
                                             {std::string(model_id), p.key}));
    if (!existing.empty()) {
      if (existing[0].Text(0) == p.value) continue;
      return InvalidArgument(
          "Changing param values is not allowed. Param with key=" + QuoteForMessage(p.key) +
              " was already logged with value=" + QuoteForMessage(existing[0].Text(0)) +
              " for logged model " + QuoteForMessage(model_id) + ".",
          "params");
    }
    RETURN_IF_ERROR(
        tx.Exec("INSERT INTO logged_model_params (model_id, param_key, param_value) VALUES ($1, $2, $3)",
                {std::string(model_id), p.key, p.value}));
  }
  return Status::OK();
}

Status UpsertTags(Tx& tx, std::string_view model_id, const std::vector<Tag>& tags) {
  for (const Tag& t : tags) {
    RETURN_IF_ERROR(
        tx.Exec("INSERT INTO logged_model_tags (model_id, tag_key, tag_value) VALUES ($1, $2, $3) "
                "ON CONFLICT (model_id, tag_key) DO UPDATE SET tag_value = excluded.tag_value",
                {std::string(model_id), t.key, t.value}));
  }
  return Status::OK();
}

using internal::SqlBuilder;

// The column of an attribute in a filter or order_by, and whether it is
// numeric; nullopt for an unknown attribute.
struct Column {
  std::string sql;
  bool numeric;
};

std::optional<Column> AttributeColumn(std::string_view key) {
  if (key == "creation_timestamp" || key == "creation_time" || key == "creation_timestamp_ms")
    return Column{"lm.creation_timestamp_ms", true};
  if (key == "last_updated_timestamp" || key == "last_updated_time" || key == "last_updated_timestamp_ms")
    return Column{"lm.last_updated_timestamp_ms", true};
  if (key == "experiment_id") return Column{"CAST(lm.experiment_id AS TEXT)", false};
  static const std::set<std::string_view> kText = {"model_id",       "name",           "artifact_location",
                                                   "status",         "model_type",     "source_run_id",
                                                   "status_message", "lifecycle_stage"};
  if (kText.count(key) != 0) return Column{"lm." + std::string(key), false};
  return std::nullopt;
}

// SQL LIKE with MLflow's (PostgreSQL's) case-sensitive semantics on both
// backends: SQLite's LIKE ignores ASCII case, so there the pattern becomes
// an equivalent GLOB.
std::string LikeSql(store::Dialect dialect, SqlBuilder& b, const std::string& column,
                    const std::string& pattern) {
  if (dialect == store::Dialect::kPostgres) return column + " LIKE " + b.Bind(pattern);
  return column + " GLOB " + b.Bind(LikeToGlob(pattern));
}

Result<std::string> StringComparison(store::Dialect dialect, SqlBuilder& b, const std::string& column,
                                     const FilterTerm& term) {
  auto text = [&]() -> Result<std::string> {
    if (const auto* s = std::get_if<std::string>(&term.value)) return *s;
    if (const auto* d = std::get_if<double>(&term.value)) {
      // A number where a string was expected: compare its text, as MLflow.
      Json j = *d;
      return j.dump();
    }
    return InvalidArgument("Expected a string value for " + std::string(TermKindName(term.kind)) + " " +
                           QuoteForMessage(term.key));
  };
  switch (term.comparator) {
    case Comparator::kEq: {
      ASSIGN_OR_RETURN(std::string v, text());
      return column + " = " + b.Bind(v);
    }
    case Comparator::kNe: {
      ASSIGN_OR_RETURN(std::string v, text());
      return column + " <> " + b.Bind(v);
    }
    case Comparator::kLike: {
      ASSIGN_OR_RETURN(std::string v, text());
      return LikeSql(dialect, b, column, v);
    }
    case Comparator::kILike: {
      ASSIGN_OR_RETURN(std::string v, text());
      return "LOWER(" + column + ") LIKE LOWER(" + b.Bind(v) + ")";
    }
    case Comparator::kIn:
    case Comparator::kNotIn: {
      const auto* list = std::get_if<std::vector<std::string>>(&term.value);
      if (list == nullptr || list->empty())
        return InvalidArgument("Expected a non-empty list of values for " + QuoteForMessage(term.key));
      std::string sql = column + (term.comparator == Comparator::kIn ? " IN (" : " NOT IN (");
      for (std::size_t i = 0; i < list->size(); ++i) sql += (i ? ", " : "") + b.Bind((*list)[i]);
      return sql + ")";
    }
    default:
      return InvalidArgument("Invalid comparison operator for " + std::string(TermKindName(term.kind)) + " " +
                             QuoteForMessage(term.key) + ": '" +
                             std::string(ComparatorText(term.comparator)) +
                             "'. Expected one of ('=', '!=', 'LIKE', 'ILIKE', 'IN', 'NOT IN').");
  }
}

Result<std::string> NumericComparison(SqlBuilder& b, const std::string& column, const FilterTerm& term) {
  const double* v = std::get_if<double>(&term.value);
  if (v == nullptr) {
    return InvalidArgument("Expected a numeric value for " + std::string(TermKindName(term.kind)) + " " +
                           QuoteForMessage(term.key));
  }
  std::string op;
  switch (term.comparator) {
    case Comparator::kEq:
      op = " = ";
      break;
    case Comparator::kNe:
      op = " <> ";
      break;
    case Comparator::kLt:
      op = " < ";
      break;
    case Comparator::kLe:
      op = " <= ";
      break;
    case Comparator::kGt:
      op = " > ";
      break;
    case Comparator::kGe:
      op = " >= ";
      break;
    default:
      return InvalidArgument("Invalid comparison operator for " + std::string(TermKindName(term.kind)) + " " +
                             QuoteForMessage(term.key) + ": '" +
                             std::string(ComparatorText(term.comparator)) +
                             "'. Expected one of ('<', '<=', '>', '>=', '=', '!=').");
  }
  return column + op + b.Bind(*v);
}

// "(m.dataset_name = $a AND m.dataset_digest = $b) OR ...", or empty.
std::string DatasetClause(SqlBuilder& b, const std::vector<LoggedModelDatasetFilter>& datasets) {
  std::string sql;
  for (const LoggedModelDatasetFilter& d : datasets) {
    if (!sql.empty()) sql += " OR ";
    sql += "(m.dataset_name = " + b.Bind(d.dataset_name);
    if (!d.dataset_digest.empty()) sql += " AND m.dataset_digest = " + b.Bind(d.dataset_digest);
    sql += ")";
  }
  return sql;
}

std::string Fingerprint(const LoggedModelSearch& s) {
  Json order = Json::array();
  for (const LoggedModelOrder& o : s.order_by)
    order.push_back({o.field_name, o.ascending, o.dataset_name, o.dataset_digest});
  Json datasets = Json::array();
  for (const LoggedModelDatasetFilter& d : s.datasets) datasets.push_back({d.dataset_name, d.dataset_digest});
  Json fp = {{"e", s.experiment_ids}, {"f", s.filter}, {"o", order}, {"d", datasets}};
  return fp.dump();
}

class SqlLoggedModelStore final : public LoggedModelStore {
 public:
  SqlLoggedModelStore(store::Database* db, TrackingStore* tracking, Env* env)
      : db_(db), tracking_(tracking), env_(env) {}

  Result<LoggedModel> Create(const CreateLoggedModelRequest& request) override {
    if (request.experiment_id.empty())
      return InvalidArgument("Missing value for required parameter 'experiment_id'", "experiment_id");
    ASSIGN_OR_RETURN(std::int64_t experiment_number, ParseExperimentId(request.experiment_id));
    if (!request.name.empty()) RETURN_IF_ERROR(ValidateName(request.name));
    ASSIGN_OR_RETURN(std::vector<Param> params, UniqueParams(request.params));
    ASSIGN_OR_RETURN(std::vector<Tag> tags, UniqueTags(request.tags));
    ASSIGN_OR_RETURN(Experiment experiment, tracking_->GetExperiment(request.experiment_id));
    if (experiment.lifecycle_stage != LifecycleStage::kActive) {
      return FailedPrecondition("The experiment " + experiment.experiment_id +
                                " must be in the 'active' state. Current state is deleted.");
    }
    LoggedModel m;
    m.model_id = NewModelId(env_);
    m.experiment_id = experiment.experiment_id;
    m.name = request.name.empty() ? internal::GenerateRunName(env_) : request.name;
    m.artifact_location = AppendPath(experiment.artifact_location, "models/" + m.model_id + "/artifacts");
    m.source_run_id = request.source_run_id;
    m.model_type = request.model_type;
    m.status = std::string(kLoggedModelPending);
    m.creation_timestamp_ms = m.last_updated_timestamp_ms = env_->NowMicros() / 1000;
    m.tags = tags;
    m.params = params;
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(tx.Exec(
          "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, "
          "creation_timestamp_ms, "
          "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) "
          "VALUES ($1, $2, $3, $4, $5, $5, $6, 'active', $7, $8, NULL)",
          {m.model_id, experiment_number, m.name, m.artifact_location, m.creation_timestamp_ms, m.status,
           m.model_type.empty() ? Value(nullptr) : Value(m.model_type),
           m.source_run_id.empty() ? Value(nullptr) : Value(m.source_run_id)}));
      RETURN_IF_ERROR(InsertParams(tx, m.model_id, params));
      return UpsertTags(tx, m.model_id, tags);
    }));
    return m;
  }

  Result<LoggedModel> Get(std::string_view model_id) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    ASSIGN_OR_RETURN(Rows rows, db_->Query(std::string("SELECT ") + kModelColumns +
                                               " FROM logged_models lm WHERE lm.model_id = $1 AND "
                                               "lm.lifecycle_stage = 'active'",
                                           {std::string(model_id)}));
    if (rows.empty()) return NotFound(NotFoundMessage(model_id));
    std::vector<LoggedModel> models{ModelFromRow(rows[0])};
    RETURN_IF_ERROR(Fill(models));
    return std::move(models[0]);
  }

  Status Delete(std::string_view model_id) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    return db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(
          std::int64_t n,
          tx.Exec("UPDATE logged_models SET lifecycle_stage = 'deleted', last_updated_timestamp_ms = $2 "
                  "WHERE model_id = $1",
                  {std::string(model_id), NowMs()}));
      if (n == 0) return NotFound(NotFoundMessage(model_id));
      return Status::OK();
    });
  }

  Result<LoggedModel> Finalize(std::string_view model_id, std::string_view status) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    RETURN_IF_ERROR(ValidateLoggedModelStatus(status));
    RETURN_IF_ERROR(db_->Transact([&](Tx& tx) -> Status {
      ASSIGN_OR_RETURN(std::int64_t n,
                       tx.Exec("UPDATE logged_models SET status = $2, last_updated_timestamp_ms = $3 "
                               "WHERE model_id = $1",
                               {std::string(model_id), std::string(status), NowMs()}));
      if (n == 0) return NotFound(NotFoundMessage(model_id));
      return Status::OK();
    }));
    return Get(model_id);
  }

  Status SetTags(std::string_view model_id, const std::vector<Tag>& tags) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    ASSIGN_OR_RETURN(std::vector<Tag> unique, UniqueTags(tags));
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, model_id));
      return UpsertTags(tx, model_id, unique);
    });
  }

  Status DeleteTag(std::string_view model_id, std::string_view key) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, model_id));
      ASSIGN_OR_RETURN(std::int64_t n,
                       tx.Exec("DELETE FROM logged_model_tags WHERE model_id = $1 AND tag_key = $2",
                               {std::string(model_id), std::string(key)}));
      if (n == 0) {
        return NotFound("No tag with key " + QuoteForMessage(key) + " found for model with ID " +
                        QuoteForMessage(model_id) + ".");
      }
      return Status::OK();
    });
  }

  Status LogParams(std::string_view model_id, const std::vector<Param>& params) override {
    RETURN_IF_ERROR(ValidateModelId(model_id));
    ASSIGN_OR_RETURN(std::vector<Param> unique, UniqueParams(params));
    return db_->Transact([&](Tx& tx) -> Status {
      RETURN_IF_ERROR(RequireModel(tx, model_id));
      return InsertParams(tx, model_id, unique);
    });
  }

  Result<PageOf<LoggedModel>> Search(const LoggedModelSearch& search) override {
    if (search.experiment_ids.empty())
      return InvalidArgument("Missing value for required parameter 'experiment_ids'", "experiment_ids");
    std::int64_t max_results = search.max_results == 0 ? kDefaultMaxResults : search.max_results;
    if (max_results < 0 || max_results > kMaxMaxResults) {
      return InvalidArgument("Invalid value " + std::to_string(search.max_results) +
                                 " for parameter 'max_results' supplied. It must be between 1 and " +
                                 std::to_string(kMaxMaxResults),
                             "max_results");
    }
    for (const LoggedModelDatasetFilter& d : search.datasets) {
      if (d.dataset_name.empty())
        return InvalidArgument("`dataset_name` in the `datasets` clause must be specified.", "datasets");
    }
    const std::string fingerprint = Fingerprint(search);
    ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(search.page_token, fingerprint));
    ASSIGN_OR_RETURN(std::vector<FilterTerm> terms, ParseFilter(search.filter, LoggedModelsGrammar()));

    const store::Dialect dialect = db_->dialect();
    SqlBuilder b;
    std::string where = "lm.lifecycle_stage = 'active' AND lm.experiment_id IN (";
    for (std::size_t i = 0; i < search.experiment_ids.size(); ++i) {
      ASSIGN_OR_RETURN(std::int64_t id, ParseExperimentId(search.experiment_ids[i]));
      where += (i ? ", " : "") + b.Bind(id);
    }
    where += ")";

    bool has_metric_filter = false;
    for (const FilterTerm& term : terms) {
      std::string clause;
      switch (term.kind) {
        case TermKind::kAttribute: {
          std::optional<Column> col = AttributeColumn(term.key);
          if (!col)
            return InvalidArgument("Invalid attribute key " + QuoteForMessage(term.key) + " specified.");
          ASSIGN_OR_RETURN(clause, col->numeric ? NumericComparison(b, col->sql, term)
                                                : StringComparison(dialect, b, col->sql, term));
          break;
        }
        case TermKind::kMetric: {
          has_metric_filter = true;
          std::string key = b.Bind(term.key);
          ASSIGN_OR_RETURN(std::string cmp, NumericComparison(b, "m.value", term));
          // NaN points are stored as 0 with is_nan set; no comparison matches them.
          clause = "EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = lm.model_id AND m.key = " + key +
                   " AND m.is_nan = 0 AND " + cmp;
          std::string ds = DatasetClause(b, search.datasets);
          if (!ds.empty()) clause += " AND (" + ds + ")";
          clause += ")";
          break;
        }
        case TermKind::kParam: {
          std::string key = b.Bind(term.key);
          ASSIGN_OR_RETURN(std::string cmp, StringComparison(dialect, b, "p.param_value", term));
          clause =
              "EXISTS (SELECT 1 FROM logged_model_params p WHERE p.model_id = lm.model_id AND p.param_key "
              "= " +
              key + " AND " + cmp + ")";
          break;
        }
        case TermKind::kTag: {
          std::string key = b.Bind(term.key);
          ASSIGN_OR_RETURN(std::string cmp, StringComparison(dialect, b, "t.tag_value", term));
          clause =
              "EXISTS (SELECT 1 FROM logged_model_tags t WHERE t.model_id = lm.model_id AND t.tag_key = " +
              key + " AND " + cmp + ")";
          break;
        }
        case TermKind::kDataset:
          return InvalidArgument(
              "Invalid entity type 'datasets' in the filter of logged models; use the "
              "`datasets` field");
      }
      where += " AND " + clause;
    }
    if (!search.datasets.empty() && !has_metric_filter) {
      where += " AND EXISTS (SELECT 1 FROM metrics m WHERE m.model_id = lm.model_id AND (" +
               DatasetClause(b, search.datasets) + "))";
    }

    std::string order;
    bool has_creation = false, has_model_id = false;
    for (const LoggedModelOrder& o : search.order_by) {
      std::string expr;
      const std::size_t dot = o.field_name.find('.');
      if (dot == std::string::npos) {
        std::optional<Column> col = AttributeColumn(o.field_name);
        if (!col || o.field_name == "experiment_id") {
          if (o.field_name != "experiment_id")
            return InvalidArgument("Invalid order by field name: " + SanitizeForMessage(o.field_name, 200),
                                   "order_by");
          col = Column{"lm.experiment_id", true};
        }
        expr = col->sql;
        if (expr == "lm.creation_timestamp_ms") has_creation = true;
        if (expr == "lm.model_id") has_model_id = true;
      } else {
        if (o.field_name.substr(0, dot) != "metrics") {
          return InvalidArgument("Invalid order by field name: " + SanitizeForMessage(o.field_name, 200) +
                                     ". Only metrics are supported.",
                                 "order_by");
        }
        expr = "(SELECT m.value FROM metrics m WHERE m.model_id = lm.model_id AND m.key = " +
               b.Bind(o.field_name.substr(dot + 1));
        if (!o.dataset_name.empty()) expr += " AND m.dataset_name = " + b.Bind(o.dataset_name);
        if (!o.dataset_digest.empty()) expr += " AND m.dataset_digest = " + b.Bind(o.dataset_digest);
        expr += " ORDER BY m.timestamp DESC, m.step DESC, m.run_uuid ASC LIMIT 1)";
      }
      // Nulls last in both directions, on both backends.
      order +=
          "CASE WHEN " + expr + " IS NULL THEN 1 ELSE 0 END, " + expr + (o.ascending ? " ASC, " : " DESC, ");
    }
    if (!has_creation) order += "lm.creation_timestamp_ms DESC, ";
    if (!has_model_id) order += "lm.model_id ASC, ";
    order.resize(order.size() - 2);

    const std::string sql = std::string("SELECT ") + kModelColumns + " FROM logged_models lm WHERE " + where +
                            " ORDER BY " + order + " LIMIT " + b.Bind(max_results + 1) + " OFFSET " +
                            b.Bind(offset);
    ASSIGN_OR_RETURN(Rows rows, db_->Query(sql, b.params()));
    PageOf<LoggedModel> page;
    for (const Row& row : rows) {
      if (static_cast<std::int64_t>(page.items.size()) == max_results) {
        page.next_page_token = EncodePageToken(offset + max_results, fingerprint);
        break;
      }
      page.items.push_back(ModelFromRow(row));
    }
    RETURN_IF_ERROR(Fill(page.items));
    return page;
  }

 private:
  std::int64_t NowMs() { return env_->NowMicros() / 1000; }

  // NotFound unless the model exists (deleted or not, as MLflow's
  // _get_logged_model_record).
  static Status RequireModel(Tx& tx, std::string_view model_id) {
    ASSIGN_OR_RETURN(Rows rows,
                     tx.Query("SELECT 1 FROM logged_models WHERE model_id = $1", {std::string(model_id)}));
    if (rows.empty()) return NotFound(NotFoundMessage(model_id));
    return Status::OK();
  }

  // Loads tags, params and metrics of `models`.
  Status Fill(std::vector<LoggedModel>& models) {
    if (models.empty()) return Status::OK();
    std::map<std::string, LoggedModel*> by_id;
    SqlBuilder b;
    std::string in;
    for (LoggedModel& m : models) {
      by_id[m.model_id] = &m;
      in += (in.empty() ? "" : ", ") + b.Bind(m.model_id);
    }
    ASSIGN_OR_RETURN(
        Rows tags,
        db_->Query("SELECT model_id, tag_key, tag_value FROM logged_model_tags WHERE model_id IN (" + in +
                       ") ORDER BY model_id, tag_key",
                   b.params()));
    for (const Row& r : tags) by_id[r.Text(0)]->tags.push_back({r.Text(1), r.Text(2)});
    ASSIGN_OR_RETURN(
        Rows params,
        db_->Query("SELECT model_id, param_key, param_value FROM logged_model_params WHERE model_id IN (" +
                       in + ") ORDER BY model_id, param_key",
                   b.params()));
    for (const Row& r : params) by_id[r.Text(0)]->params.push_back({r.Text(1), r.Text(2)});
    for (LoggedModel& m : models) {
      ASSIGN_OR_RETURN(m.metrics, tracking_->GetModelMetrics(m.model_id));
    }
    return Status::OK();
  }

  store::Database* db_;
  TrackingStore* tracking_;
  Env* env_;
};

}  // namespace

Status ValidateLoggedModelStatus(std::string_view status) {
  if (status == kLoggedModelPending || status == kLoggedModelReady || status == kLoggedModelUploadFailed)
    return Status::OK();
  return InvalidArgument("Invalid logged model status " + QuoteForMessage(status) + "; expected one of " +
                             std::string(kLoggedModelPending) + ", " + std::string(kLoggedModelReady) + ", " +
                             std::string(kLoggedModelUploadFailed),
                         "status");
}

Result<std::unique_ptr<LoggedModelStore>> LoggedModelStore::Open(store::Database* db, TrackingStore* tracking,
                                                                 Env* env) {
  if (db == nullptr || tracking == nullptr || env == nullptr)
    return InvalidArgument("LoggedModelStore needs a database, a tracking store and an env");
  return std::unique_ptr<LoggedModelStore>(new SqlLoggedModelStore(db, tracking, env));
}

}  // namespace ferry::tracking
