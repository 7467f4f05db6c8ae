// TrackingStore over store::Database (tracking_store.h), following MLflow's
// store/tracking/sqlalchemy_store.py. Every write is one transaction; reads
// of a page of runs fetch its params, tags, metrics and inputs with a few
// set-based queries (run_uuid IN (...), in chunks), never one per run.
#include "ferry/tracking/tracking_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "ferry/common/strings.h"
#include "ferry/tracking/tracking_internal.h"

namespace ferry::tracking {
namespace {

using internal::CheckStorableText;
using store::Row;
using store::Rows;
using store::Value;

// Ids per `IN (...)` list and rows per multi-row INSERT: far below SQLite's
// 32766 and PostgreSQL's 65535 bound parameters (a metric row binds 8, the
// run id is bound once per statement).
constexpr std::size_t kIdChunk = 500;
constexpr std::size_t kInsertChunkRows = 100;

constexpr std::string_view kActive = "active";
constexpr std::string_view kDeleted = "deleted";

std::int64_t NowMs(Env* env) { return env->NowMicros() / 1000; }

LifecycleStage StageOf(std::string_view s) {
  return s == kDeleted ? LifecycleStage::kDeleted : LifecycleStage::kActive;
}

// NaN is kept as value 0 with is_nan = 1, and ±Inf as ±DBL_MAX, as MLflow's
// SQL store keeps them (so both servers answer alike).
std::pair<double, std::int64_t> StoredValue(double v) {
  if (std::isnan(v)) return {0.0, 1};
  if (std::isinf(v)) return {v > 0 ? std::numeric_limits<double>::max() : std::numeric_limits<double>::lowest(), 0};
  return {v, 0};
}

double LoadedValue(double v, std::int64_t is_nan) {
  return is_nan != 0 ? std::numeric_limits<double>::quiet_NaN() : v;
}

Value OptionalText(const std::string& s) { return s.empty() ? Value(nullptr) : Value(s); }

std::string NewId(Env* env) {
  std::string uuid = env->NewUuid();
  uuid.erase(std::remove(uuid.begin(), uuid.end(), '-'), uuid.end());
  return uuid;
}

// "($1, $2, ...), (...)" for `rows` rows of `width` placeholders starting at
// parameter number `first`; with `shared` > 0 every row starts with the same
// $1..$shared (a value bound once, e.g. the run id) and the rows' own
// placeholders follow from `first`.
std::string ValuesList(std::size_t rows, std::size_t width, std::size_t first = 1, std::size_t shared = 0) {
  std::string out;
  out.reserve(rows * (width + shared) * 6);
  std::string prefix = "(";
  for (std::size_t c = 1; c <= shared; ++c) prefix += "$" + std::to_string(c) + ", ";
  std::size_t n = first;
  char digits[24];
  for (std::size_t r = 0; r < rows; ++r) {
    if (r) out += ", ";
    out += prefix;
    for (std::size_t c = 0; c < width; ++c) {
      if (c) out += ", ";
      out += '$';
      auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n++);
      out.append(digits, end);
    }
    out += ')';
  }
  return out;
}

// Inserts `n` rows with multi-row statements of at most kInsertChunkRows
// rows each: `head` + "(...), (...)" + `tail`. Each row holds the `shared`
// values (bound once per statement as $1...) and then the `width` values
// `append_row(i, values)` appends for row i. The statement text of a full
// chunk is built once per call.
template <typename AppendRow>
Status InsertChunked(store::Tx& tx, std::size_t n, std::size_t width, std::string_view head,
                     std::string_view tail, AppendRow append_row, const std::vector<store::Value>& shared = {}) {
  std::string full_sql;
  for (std::size_t start = 0; start < n; start += kInsertChunkRows) {
    const std::size_t count = std::min(kInsertChunkRows, n - start);
    std::vector<store::Value> values;
    values.reserve(shared.size() + count * width);
    values.insert(values.end(), shared.begin(), shared.end());
    for (std::size_t i = start; i < start + count; ++i) append_row(i, values);
    auto sql = [&] {
      return std::string(head) + ValuesList(count, width, shared.size() + 1, shared.size()) + std::string(tail);
    };
    if (count == kInsertChunkRows) {
      if (full_sql.empty()) full_sql = sql();
      RETURN_IF_ERROR(tx.Exec(full_sql, values));
    } else {
      RETURN_IF_ERROR(tx.Exec(sql(), values));
    }
  }
  return Status::OK();
}

std::string Placeholders(std::size_t count, std::size_t first = 1) {
  std::string out;
  for (std::size_t i = 0; i < count; ++i) out += (i ? ", $" : "$") + std::to_string(first + i);
  return out;
}

Status RunNotFound(std::string_view run_id) {
  return NotFound("Run with id=" + SanitizeForMessage(run_id, 300) + " not found");
}

Status ExperimentNotFound(std::int64_t id) {
  return NotFound("No Experiment with id=" + std::to_string(id) + " exists");
}

struct RunState {
  std::int64_t experiment_id = 0;
  std::string lifecycle_stage;
};

// Loads a run's stage inside a write; NotFound when it does not exist.
template <typename Q>
Result<RunState> LoadRunState(Q& q, std::string_view run_id) {
  RETURN_IF_ERROR(CheckStorableText(run_id, "run_id"));
  ASSIGN_OR_RETURN(Rows rows, q.Query("SELECT experiment_id, lifecycle_stage FROM runs WHERE run_uuid = $1",
                                      {std::string(run_id)}));
  if (rows.empty()) return RunNotFound(run_id);
  return RunState{rows[0].Int(0), rows[0].Text(1)};
}

template <typename Q>
Result<RunState> LoadActiveRun(Q& q, std::string_view run_id) {
  ASSIGN_OR_RETURN(RunState state, LoadRunState(q, run_id));
  if (state.lifecycle_stage != kActive) {
    return FailedPrecondition("The run " + SanitizeForMessage(run_id, 300) +
                              " must be in the 'active' state. Current state is " + state.lifecycle_stage +
                              ".");
  }
  return state;
}

Experiment ExperimentFromRow(const Row& row) {
  Experiment e;
  e.experiment_id = std::to_string(row.Int(0));
  e.name = row.Text(1);
  e.artifact_location = row.Text(2);
  e.lifecycle_stage = StageOf(row.Text(3));
  e.creation_time = row.Int(4);
  e.last_update_time = row.Int(5);
  return e;
}

constexpr std::string_view kExperimentColumns =
    "experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time";

template <typename Q>
Result<Experiment> LoadExperiment(Q& q, std::int64_t id) {
  ASSIGN_OR_RETURN(Rows rows, q.Query("SELECT " + std::string(kExperimentColumns) +
                                          " FROM experiments WHERE experiment_id = $1",
                                      {id}));
  if (rows.empty()) return ExperimentNotFound(id);
  return ExperimentFromRow(rows[0]);
}

RunInfo RunInfoFromRow(const Row& row) {
  RunInfo info;
  info.run_id = row.Text(0);
  info.run_name = row.Text(1);
  info.experiment_id = std::to_string(row.Int(2));
  info.user_id = row.Text(3);
  info.status = ParseRunStatus(row.Text(4)).ValueOr(RunStatus::kRunning);
  info.start_time = row.Int(5);
  info.end_time = row.OptInt(6);
  info.lifecycle_stage = StageOf(row.Text(7));
  info.artifact_uri = row.Text(8);
  return info;
}

// One metric point as logged, with NaN split out.
struct MetricRow {
  std::string_view key;  // into the Metric it came from
  std::int64_t step;
  std::int64_t timestamp;
  double value;  // 0 for NaN
  std::int64_t is_nan;
  const Metric* source;
};

// MLflow's "more recent" order for latest_metrics: (step, timestamp, value).
bool MoreRecent(const MetricRow& a, const MetricRow& b) {
  return std::tie(a.step, a.timestamp, a.value) > std::tie(b.step, b.timestamp, b.value);
}

class SqlTrackingStore final : public TrackingStore {
 public:
  SqlTrackingStore(store::Database* db, Env* env, std::string artifact_root)
      : db_(db), env_(env), artifact_root_(std::move(artifact_root)) {}

  Status Init() {
    const std::int64_t now = NowMs(env_);
    return db_
        ->Exec(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
            "creation_time, "
            "last_update_time) VALUES (0, $1, $2, 'active', $3, $3) ON CONFLICT DO NOTHING",
            {std::string(kDefaultExperimentName), internal::AppendToUri(artifact_root_, "0"), now})
        .status();
  }

  // ---------------------------------------------------------------------------
  // Experiments.

  Result<std::string> CreateExperiment(std::string_view name, std::string_view artifact_location,
                                       const std::vector<Tag>& tags) override {
    RETURN_IF_ERROR(internal::ValidateExperimentName(name));
    RETURN_IF_ERROR(CheckStorableText(artifact_location, "artifact_location"));
    if (internal::CodePointCount(artifact_location) > internal::kMaxArtifactLocationLength) {
      return InvalidArgument(
          "Invalid artifact path length. The length of the artifact path cannot be greater than " +
              std::to_string(internal::kMaxArtifactLocationLength) +
              " characters. To configure this limit, please set the "
              "MLFLOW_ARTIFACT_LOCATION_MAX_LENGTH environment variable.",
          "artifact_location");
    }
    std::map<std::string, std::string> tag_map;
    for (const Tag& tag : tags) {
      RETURN_IF_ERROR(internal::ValidateExperimentTag(tag));
      tag_map[tag.key] = tag.value;
    }
    std::int64_t id = 0;
    Status st = db_->Transact([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Rows taken,
                       tx.Query("SELECT 1 FROM experiments WHERE name = $1", {std::string(name)}));
      if (!taken.empty())
        return AlreadyExists("Experiment(name=" + SanitizeForMessage(name, 600) + ") already exists.");
      ASSIGN_OR_RETURN(Rows max, tx.Query("SELECT MAX(experiment_id) FROM experiments"));
      id = max.empty() || max[0].IsNull(0) ? 1 : max[0].Int(0) + 1;
      const std::string location = artifact_location.empty()
                                       ? internal::AppendToUri(artifact_root_, std::to_string(id))
                                       : std::string(artifact_location);
      const std::int64_t now = NowMs(env_);
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, "
                  "creation_time, last_update_time) VALUES ($1, $2, $3, 'active', $4, $4)",
                  {id, std::string(name), location, now}));
      return InsertExperimentTags(tx, id, tag_map);
    });
    RETURN_IF_ERROR(st);
    return std::to_string(id);
  }

  Result<Experiment> GetExperiment(std::string_view experiment_id) override {
    ASSIGN_OR_RETURN(std::int64_t id, internal::ParseExperimentId(experiment_id.empty() ? kDefaultExperimentId
                                                                                        : experiment_id));
    ASSIGN_OR_RETURN(Experiment e, LoadExperiment(*db_, id));
    std::vector<Experiment> one{std::move(e)};
    RETURN_IF_ERROR(LoadExperimentTags(one));
    return std::move(one[0]);
  }

  Result<Experiment> GetExperimentByName(std::string_view name) override {
    auto not_found = NotFound("Could not find experiment with name '" + SanitizeForMessage(name, 600) + "'");
    if (!CheckStorableText(name, "experiment_name").ok()) return not_found;
    ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT " + std::string(kExperimentColumns) +
                                               " FROM experiments WHERE name = $1",
                                           {std::string(name)}));
    if (rows.empty()) return not_found;
    std::vector<Experiment> one{ExperimentFromRow(rows[0])};
    RETURN_IF_ERROR(LoadExperimentTags(one));
    return std::move(one[0]);
  }

  Result<PageOf<Experiment>> SearchExperiments(const ExperimentSearch& search) override {
    RETURN_IF_ERROR(CheckMaxResults(search.page.max_results));
    ASSIGN_OR_RETURN(std::vector<FilterTerm> filter, ParseFilter(search.filter, ExperimentsGrammar()));
    ASSIGN_OR_RETURN(std::vector<OrderTerm> order, ParseOrderByList(search.order_by, ExperimentsGrammar()));
    std::string fingerprint_text =
        "experiments|" + std::to_string(static_cast<int>(search.view)) + "|" + search.filter;
    for (const std::string& o : search.order_by) fingerprint_text += "|" + o;
    const std::string fingerprint = internal::Fingerprint(fingerprint_text);
    ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(search.page.page_token, fingerprint));
    ASSIGN_OR_RETURN(internal::RunQuery q,
                     internal::BuildExperimentSearchQuery(db_->dialect(), search.view, filter, order));
    ASSIGN_OR_RETURN(Rows rows, QueryPage(std::move(q), search.page.max_results, offset));
    PageOf<Experiment> page;
    for (const Row& row : rows) page.items.push_back(ExperimentFromRow(row));
    if (static_cast<std::int64_t>(page.items.size()) > search.page.max_results) {
      page.items.resize(search.page.max_results);
      page.next_page_token = EncodePageToken(offset + search.page.max_results, fingerprint);
    }
    RETURN_IF_ERROR(LoadExperimentTags(page.items));
    return page;
  }

  Status RenameExperiment(std::string_view experiment_id, std::string_view new_name) override {
    RETURN_IF_ERROR(internal::ValidateExperimentName(new_name));
    ASSIGN_OR_RETURN(std::int64_t id, internal::ParseExperimentId(experiment_id));
    return db_->Transact([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Experiment e, LoadExperiment(tx, id));
      if (e.lifecycle_stage != LifecycleStage::kActive)
        return FailedPrecondition("Cannot rename a non-active experiment.");
      if (e.name == new_name) return Status::OK();
      ASSIGN_OR_RETURN(Rows taken,
                       tx.Query("SELECT 1 FROM experiments WHERE name = $1", {std::string(new_name)}));
      if (!taken.empty())
        return AlreadyExists("Experiment(name=" + SanitizeForMessage(new_name, 600) + ") already exists.");
      return tx
          .Exec("UPDATE experiments SET name = $1, last_update_time = $2 WHERE experiment_id = $3",
                {std::string(new_name), NowMs(env_), id})
          .status();
    });
  }

  Status DeleteExperiment(std::string_view experiment_id) override {
    return SetExperimentStage(experiment_id, LifecycleStage::kDeleted);
  }

  Status RestoreExperiment(std::string_view experiment_id) override {
    return SetExperimentStage(experiment_id, LifecycleStage::kActive);
  }

  Status SetExperimentTag(std::string_view experiment_id, const Tag& tag) override {
    RETURN_IF_ERROR(internal::ValidateExperimentTag(tag));
    ASSIGN_OR_RETURN(std::int64_t id, internal::ParseExperimentId(experiment_id));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveExperiment(tx, id));
      return InsertExperimentTags(tx, id, {{tag.key, tag.value}});
    });
  }

  Status DeleteExperimentTag(std::string_view experiment_id, std::string_view key) override {
    ASSIGN_OR_RETURN(std::int64_t id, internal::ParseExperimentId(experiment_id));
    RETURN_IF_ERROR(CheckStorableText(key, "key"));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveExperiment(tx, id));
      ASSIGN_OR_RETURN(std::int64_t n,
                       tx.Exec("DELETE FROM experiment_tags WHERE experiment_id = $1 AND key = $2",
                               {id, std::string(key)}));
      if (n == 0)
        return NotFound("No tag with name: " + SanitizeForMessage(key, 300) + " in experiment with id " +
                        std::to_string(id));
      return Status::OK();
    });
  }

  // ---------------------------------------------------------------------------
  // Runs.

  Result<Run> CreateRun(const CreateRunRequest& request) override {
    ASSIGN_OR_RETURN(std::int64_t experiment_id,
                     internal::ParseExperimentId(request.experiment_id.empty() ? kDefaultExperimentId
                                                                               : request.experiment_id));
    RETURN_IF_ERROR(CheckStorableText(request.user_id, "user_id"));
    RETURN_IF_ERROR(CheckStorableText(request.run_name, "run_name"));
    // Tags in order, a repeated key keeping its last value.
    std::vector<Tag> tags;
    std::map<std::string, std::size_t> tag_index;
    for (std::size_t i = 0; i < request.tags.size(); ++i) {
      ASSIGN_OR_RETURN(Tag tag, internal::ValidateRunTag(request.tags[i], "tags[" + std::to_string(i) + "]"));
      auto [it, inserted] = tag_index.emplace(tag.key, tags.size());
      if (inserted) {
        tags.push_back(std::move(tag));
      } else {
        tags[it->second].value = std::move(tag.value);
      }
    }
    std::string name_tag;
    if (auto it = tag_index.find(std::string(internal::kRunNameTag)); it != tag_index.end())
      name_tag = tags[it->second].value;
    if (!request.run_name.empty() && !name_tag.empty() && request.run_name != name_tag) {
      return InvalidArgument(
          "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
          "values (run_name='" +
              SanitizeForMessage(request.run_name, 300) + "', mlflow.runName='" +
              SanitizeForMessage(name_tag, 300) + "').",
          "run_name");
    }
    std::string run_name = !request.run_name.empty() ? request.run_name
                           : !name_tag.empty()       ? name_tag
                                                     : internal::GenerateRunName(env_);
    if (!tag_index.contains(std::string(internal::kRunNameTag)))
      tags.push_back(Tag{std::string(internal::kRunNameTag), run_name});

    Run run;
    run.info.run_id = NewId(env_);
    run.info.run_name = run_name;
    run.info.experiment_id = std::to_string(experiment_id);
    run.info.user_id = request.user_id;
    run.info.status = RunStatus::kRunning;
    run.info.start_time = request.start_time.value_or(NowMs(env_));
    run.info.lifecycle_stage = LifecycleStage::kActive;
    Status st = db_->Transact([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Experiment e, LoadExperiment(tx, experiment_id));
      if (e.lifecycle_stage != LifecycleStage::kActive) {
        return FailedPrecondition("The experiment " + e.experiment_id +
                                  " must be in the 'active' state. Current state is deleted.");
      }
      run.info.artifact_uri =
          internal::AppendToUri(internal::AppendToUri(e.artifact_location, run.info.run_id), "artifacts");
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, "
                  "end_time, deleted_time, lifecycle_stage, artifact_uri) "
                  "VALUES ($1, $2, $3, $4, 'RUNNING', $5, NULL, NULL, 'active', $6)",
                  {run.info.run_id, experiment_id, run_name, request.user_id, run.info.start_time,
                   run.info.artifact_uri}));
      return UpsertTags(tx, run.info.run_id, tags);
    });
    RETURN_IF_ERROR(st);
    std::sort(tags.begin(), tags.end(), [](const Tag& a, const Tag& b) { return a.key < b.key; });
    run.tags = std::move(tags);
    return run;
  }

  Result<Run> GetRun(std::string_view run_id) override {
    RETURN_IF_ERROR(CheckStorableText(run_id, "run_id"));
    ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT " + std::string(internal::kRunColumns) +
                                               " FROM runs r WHERE r.run_uuid = $1",
                                           {std::string(run_id)}));
    if (rows.empty()) return RunNotFound(run_id);
    std::vector<Run> runs(1);
    runs[0].info = RunInfoFromRow(rows[0]);
    RETURN_IF_ERROR(LoadRunData(runs, /*model_inputs=*/true));
    return std::move(runs[0]);
  }

  Result<RunInfo> UpdateRun(const UpdateRunRequest& request) override {
    if (request.run_name) RETURN_IF_ERROR(CheckStorableText(*request.run_name, "run_name"));
    RunInfo info;
    Status st = db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, request.run_id).status());
      const std::string run_id = request.run_id;
      if (request.status) {
        RETURN_IF_ERROR(tx.Exec("UPDATE runs SET status = $1 WHERE run_uuid = $2",
                                {std::string(RunStatusName(*request.status)), run_id}));
      }
      if (request.end_time) {
        RETURN_IF_ERROR(
            tx.Exec("UPDATE runs SET end_time = $1 WHERE run_uuid = $2", {*request.end_time, run_id}));
      }
      if (request.run_name && !request.run_name->empty())
        RETURN_IF_ERROR(SetRunName(tx, run_id, *request.run_name));
      ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT " + std::string(internal::kRunColumns) +
                                               " FROM runs r WHERE r.run_uuid = $1",
                                           {run_id}));
      if (rows.empty()) return RunNotFound(run_id);
      info = RunInfoFromRow(rows[0]);
      return Status::OK();
    });
    RETURN_IF_ERROR(st);
    return info;
  }

  Status DeleteRun(std::string_view run_id) override {
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadRunState(tx, run_id).status());
      return tx
          .Exec("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1 WHERE run_uuid = $2",
                {NowMs(env_), std::string(run_id)})
          .status();
    });
  }

  Status RestoreRun(std::string_view run_id) override {
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadRunState(tx, run_id).status());
      return tx
          .Exec("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE run_uuid = $1",
                {std::string(run_id)})
          .status();
    });
  }

  Result<PageOf<Run>> SearchRuns(const RunSearch& search) override {
    RETURN_IF_ERROR(CheckMaxResults(search.page.max_results));
    std::vector<std::int64_t> experiment_ids;
    for (const std::string& id : search.experiment_ids) {
      ASSIGN_OR_RETURN(std::int64_t parsed, internal::ParseExperimentId(id));
      experiment_ids.push_back(parsed);
    }
    ASSIGN_OR_RETURN(std::vector<FilterTerm> filter, ParseFilter(search.filter, RunsGrammar()));
    ASSIGN_OR_RETURN(std::vector<OrderTerm> order, ParseOrderByList(search.order_by, RunsGrammar()));
    std::string fingerprint_text =
        "runs|" + std::to_string(static_cast<int>(search.view)) + "|" + search.filter + "|";
    for (std::int64_t id : experiment_ids) fingerprint_text += std::to_string(id) + ",";
    for (const std::string& o : search.order_by) fingerprint_text += "|" + o;
    const std::string fingerprint = internal::Fingerprint(fingerprint_text);
    ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(search.page.page_token, fingerprint));
    ASSIGN_OR_RETURN(internal::RunQuery q,
                     internal::BuildRunSearchQuery(db_->dialect(), experiment_ids, search.view, filter, order,
                                                   search.order_by));
    ASSIGN_OR_RETURN(Rows rows, QueryPage(std::move(q), search.page.max_results, offset));
    PageOf<Run> page;
    page.items.resize(std::min<std::size_t>(rows.size(), search.page.max_results));
    for (std::size_t i = 0; i < page.items.size(); ++i) page.items[i].info = RunInfoFromRow(rows[i]);
    if (static_cast<std::int64_t>(rows.size()) > search.page.max_results)
      page.next_page_token = EncodePageToken(offset + search.page.max_results, fingerprint);
    // As MLflow's search_runs: dataset inputs and model outputs, no model inputs.
    RETURN_IF_ERROR(LoadRunData(page.items, /*model_inputs=*/false));
    return page;
  }

  // ---------------------------------------------------------------------------
  // Logging.

  Status LogMetric(std::string_view run_id, const Metric& metric) override {
    RETURN_IF_ERROR(internal::ValidateMetric(metric, ""));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      return InsertMetrics(tx, run_id, {metric});
    });
  }

  Status LogParam(std::string_view run_id, const Param& param) override {
    ASSIGN_OR_RETURN(Param p, internal::ValidateParam(param, ""));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT value FROM params WHERE run_uuid = $1 AND key = $2",
                                           {std::string(run_id), p.key}));
      if (!rows.empty()) {
        if (rows[0].Text(0) == p.value) return Status::OK();
        return InvalidArgument("Changing param values is not allowed. Param with key='" + p.key +
                                   "' was already logged with value='" +
                                   SanitizeForMessage(rows[0].Text(0), 500) + "' for run ID='" +
                                   std::string(run_id) + "'. Attempted logging new value '" +
                                   SanitizeForMessage(p.value, 500) + "'.",
                               "value");
      }
      return tx
          .Exec("INSERT INTO params (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                {std::string(run_id), p.key, p.value})
          .status();
    });
  }

  Status SetTag(std::string_view run_id, const Tag& tag) override {
    ASSIGN_OR_RETURN(Tag t, internal::ValidateRunTag(tag, ""));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      return UpsertTags(tx, run_id, {t});
    });
  }

  Status DeleteTag(std::string_view run_id, std::string_view key) override {
    RETURN_IF_ERROR(CheckStorableText(key, "key"));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      ASSIGN_OR_RETURN(std::int64_t n, tx.Exec("DELETE FROM tags WHERE run_uuid = $1 AND key = $2",
                                               {std::string(run_id), std::string(key)}));
      if (n == 0)
        return NotFound("No tag with name: " + SanitizeForMessage(key, 300) + " in run with id " +
                        SanitizeForMessage(run_id, 300));
      return Status::OK();
    });
  }

  Status LogBatch(std::string_view run_id, const std::vector<Metric>& metrics,
                  const std::vector<Param>& params, const std::vector<Tag>& tags) override {
    if (!internal::IsValidRunId(run_id))
      return InvalidArgument(internal::InvalidValueMessage("run_id", run_id, ""), "run_id");
    std::vector<Param> checked_params;
    std::vector<Tag> checked_tags;
    for (std::size_t i = 0; i < metrics.size(); ++i)
      RETURN_IF_ERROR(internal::ValidateMetric(metrics[i], "metrics[" + std::to_string(i) + "]"));
    for (std::size_t i = 0; i < params.size(); ++i) {
      ASSIGN_OR_RETURN(Param p, internal::ValidateParam(params[i], "params[" + std::to_string(i) + "]"));
      checked_params.push_back(std::move(p));
    }
    for (std::size_t i = 0; i < tags.size(); ++i) {
      ASSIGN_OR_RETURN(Tag t, internal::ValidateRunTag(tags[i], "tags[" + std::to_string(i) + "]"));
      checked_tags.push_back(std::move(t));
    }
    RETURN_IF_ERROR(CheckBatchLimit("metrics", internal::kMaxMetricsPerBatch, metrics.size()));
    RETURN_IF_ERROR(CheckBatchLimit("params", internal::kMaxParamsTagsPerBatch, params.size()));
    RETURN_IF_ERROR(CheckBatchLimit("tags", internal::kMaxParamsTagsPerBatch, tags.size()));
    RETURN_IF_ERROR(CheckBatchLimit("metrics, params, and tags", internal::kMaxEntitiesPerBatch,
                                    metrics.size() + params.size() + tags.size()));
    std::set<std::string> keys;
    std::vector<std::string> dupes;
    for (const Param& p : checked_params)
      if (!keys.insert(p.key).second) dupes.push_back(p.key);
    if (!dupes.empty()) {
      std::string list = "[";
      for (std::size_t i = 0; i < dupes.size(); ++i) list += (i ? ", '" : "'") + dupes[i] + "'";
      return InvalidArgument("Duplicate parameter keys have been submitted: " + list +
                                 "]. Please ensure the request contains only one param value per param key.",
                             "params");
    }
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      RETURN_IF_ERROR(InsertParams(tx, run_id, checked_params));
      RETURN_IF_ERROR(InsertMetrics(tx, run_id, metrics));
      return UpsertTags(tx, run_id, checked_tags);
    });
  }

  Status LogInputs(std::string_view run_id, const std::vector<DatasetInput>& datasets,
                   const std::vector<ModelInput>& models) override {
    if (!internal::IsValidRunId(run_id))
      return InvalidArgument(internal::InvalidValueMessage("run_id", run_id, ""), "run_id");
    // The first of several inputs with the same (name, digest) wins, as in MLflow.
    std::vector<const DatasetInput*> unique;
    std::set<std::pair<std::string, std::string>> seen;
    for (const DatasetInput& input : datasets) {
      RETURN_IF_ERROR(internal::ValidateDatasetInput(input));
      if (seen.emplace(input.dataset.name, input.dataset.digest).second) unique.push_back(&input);
    }
    for (const ModelInput& m : models) RETURN_IF_ERROR(CheckStorableText(m.model_id, "model_id"));
    return db_->Transact([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(RunState run, LoadActiveRun(tx, run_id));
      const std::string rid(run_id);
      ASSIGN_OR_RETURN(Rows pos, tx.Query("SELECT COALESCE(MAX(position), 0) FROM run_dataset_inputs "
                                          "WHERE run_uuid = $1",
                                          {rid}));
      std::int64_t position = pos.empty() ? 0 : pos[0].Int(0);
      for (const DatasetInput* input : unique) {
        const Dataset& d = input->dataset;
        ASSIGN_OR_RETURN(Rows found,
                         tx.Query("SELECT dataset_uuid FROM datasets WHERE experiment_id = $1 AND "
                                  "name = $2 AND digest = $3",
                                  {run.experiment_id, d.name, d.digest}));
        std::string dataset_uuid;
        if (!found.empty()) {
          dataset_uuid = found[0].Text(0);
        } else {
          dataset_uuid = NewId(env_);
          RETURN_IF_ERROR(
              tx.Exec("INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, source_type, "
                      "source, dataset_schema, profile) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                      {dataset_uuid, run.experiment_id, d.name, d.digest, d.source_type, d.source,
                       OptionalText(d.schema), OptionalText(d.profile)}));
        }
        ASSIGN_OR_RETURN(Rows linked, tx.Query("SELECT 1 FROM run_dataset_inputs WHERE run_uuid = $1 AND "
                                               "dataset_uuid = $2",
                                               {rid, dataset_uuid}));
        if (!linked.empty()) continue;
        const std::string input_uuid = NewId(env_);
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO run_dataset_inputs (input_uuid, run_uuid, dataset_uuid, position) "
                    "VALUES ($1, $2, $3, $4)",
                    {input_uuid, rid, dataset_uuid, ++position}));
        for (const Tag& tag : input->tags) {
          RETURN_IF_ERROR(
              tx.Exec("INSERT INTO input_tags (input_uuid, name, value) VALUES ($1, $2, $3) "
                      "ON CONFLICT DO NOTHING",
                      {input_uuid, tag.key, tag.value}));
        }
      }
      if (models.empty()) return Status::OK();
      ASSIGN_OR_RETURN(Rows mpos, tx.Query("SELECT COALESCE(MAX(position), 0) FROM run_model_inputs "
                                           "WHERE run_uuid = $1",
                                           {rid}));
      std::int64_t model_position = mpos.empty() ? 0 : mpos[0].Int(0);
      for (const ModelInput& m : models) {
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO run_model_inputs (run_uuid, model_id, position) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    {rid, m.model_id, ++model_position}));
      }
      return Status::OK();
    });
  }

  Status LogOutputs(std::string_view run_id, const std::vector<ModelOutput>& models) override {
    for (const ModelOutput& m : models) RETURN_IF_ERROR(CheckStorableText(m.model_id, "model_id"));
    return db_->Transact([&](store::Tx& tx) -> Status {
      RETURN_IF_ERROR(LoadActiveRun(tx, run_id).status());
      const std::string rid(run_id);
      ASSIGN_OR_RETURN(Rows pos, tx.Query("SELECT COALESCE(MAX(position), 0) FROM run_model_outputs "
                                          "WHERE run_uuid = $1",
                                          {rid}));
      std::int64_t position = pos.empty() ? 0 : pos[0].Int(0);
      for (const ModelOutput& m : models) {
        RETURN_IF_ERROR(
            tx.Exec("INSERT INTO run_model_outputs (run_uuid, model_id, step, position) "
                    "VALUES ($1, $2, $3, $4) ON CONFLICT (run_uuid, model_id) DO UPDATE SET step = "
                    "excluded.step",
                    {rid, m.model_id, m.step, ++position}));
      }
      return Status::OK();
    });
  }

  // ---------------------------------------------------------------------------
  // Metric reads.

  Result<PageOf<Metric>> GetMetricHistory(const MetricHistoryRequest& request) override {
    if (request.page.max_results <= 0) {
      return InvalidArgument("Invalid value " + std::to_string(request.page.max_results) +
                                 " for parameter 'max_results' supplied. It must be a positive integer.",
                             "max_results");
    }
    RETURN_IF_ERROR(CheckStorableText(request.run_id, "run_id"));
    RETURN_IF_ERROR(CheckStorableText(request.metric_key, "metric_key"));
    const std::string fingerprint =
        internal::Fingerprint("history|" + request.run_id + "|" + request.metric_key);
    ASSIGN_OR_RETURN(const std::int64_t offset, PageOffset(request.page.page_token, fingerprint));
    // MLflow's order: timestamp, step, value (is_nan breaks the last tie).
    ASSIGN_OR_RETURN(
        Rows rows, db_->Query("SELECT value, timestamp, step, is_nan, model_id, dataset_name, dataset_digest "
                              "FROM metrics WHERE run_uuid = $1 AND key = $2 "
                              "ORDER BY timestamp, step, value, is_nan LIMIT $3 OFFSET $4",
                              {request.run_id, request.metric_key, request.page.max_results + 1, offset}));
    PageOf<Metric> page;
    page.items.reserve(std::min<std::size_t>(rows.size(), request.page.max_results));
    for (const Row& row : rows) {
      if (static_cast<std::int64_t>(page.items.size()) == request.page.max_results) {
        page.next_page_token = EncodePageToken(offset + request.page.max_results, fingerprint);
        break;
      }
      Metric m;
      m.key = request.metric_key;
      m.value = LoadedValue(row.Double(0), row.Int(3));
      m.timestamp = row.Int(1);
      m.step = row.Int(2);
      m.run_id = request.run_id;
      m.model_id = row.Text(4);
      m.dataset_name = row.Text(5);
      m.dataset_digest = row.Text(6);
      page.items.push_back(std::move(m));
    }
    return page;
  }

  Result<std::vector<Metric>> GetMetricHistoryBulkInterval(const BulkIntervalRequest& request) override {
    if (request.run_ids.empty())
      return InvalidArgument("Missing value for required parameter 'run_ids'.", "run_ids");
    if (request.run_ids.size() > internal::kMaxBulkIntervalRuns) {
      return InvalidArgument("GetMetricHistoryBulkInterval request must specify at most " +
                                 std::to_string(internal::kMaxBulkIntervalRuns) + " run_ids. Received " +
                                 std::to_string(request.run_ids.size()) + " run_ids.",
                             "run_ids");
    }
    if (request.max_results < 1 || request.max_results > internal::kMaxBulkIntervalResults) {
      return InvalidArgument(
          "max_results must be between 1 and " + std::to_string(internal::kMaxBulkIntervalResults) + ".",
          "max_results");
    }
    if (request.start_step.has_value() != request.end_step.has_value()) {
      return InvalidArgument("If either start step or end step are specified, both must be specified.",
                             "start_step");
    }
    if (request.start_step && *request.start_step > *request.end_step) {
      return InvalidArgument("end_step must be greater than start_step. Found start_step=" +
                                 std::to_string(*request.start_step) +
                                 " and end_step=" + std::to_string(*request.end_step) + ".",
                             "end_step");
    }
    RETURN_IF_ERROR(CheckStorableText(request.metric_key, "metric_key"));
    for (const std::string& id : request.run_ids) RETURN_IF_ERROR(CheckStorableText(id, "run_ids"));
    std::vector<Metric> out;
    for (const std::string& run_id : request.run_ids) {
      RETURN_IF_ERROR(SampleHistory(run_id, request, out));
    }
    return out;
  }

  Result<std::vector<Metric>> GetModelMetrics(std::string_view model_id) override {
    RETURN_IF_ERROR(CheckStorableText(model_id, "model_id"));
    ASSIGN_OR_RETURN(Rows rows,
                     db_->Query("SELECT run_uuid, key, value, timestamp, step, is_nan, dataset_name, "
                                "dataset_digest FROM metrics WHERE model_id = $1",
                                {std::string(model_id)}));
    // The latest point per (key, dataset), by MLflow's (step, timestamp, value).
    std::map<std::tuple<std::string, std::string, std::string>, std::pair<MetricRow, Metric>> latest;
    for (const Row& row : rows) {
      MetricRow r{{}, row.Int(4), row.Int(3), row.Double(2), row.Int(5), nullptr};
      auto key = std::make_tuple(row.Text(1), row.Text(6), row.Text(7));
      auto it = latest.find(key);
      if (it != latest.end() && !MoreRecent(r, it->second.first)) continue;
      Metric m;
      m.key = row.Text(1);
      m.value = LoadedValue(row.Double(2), row.Int(5));
      m.timestamp = row.Int(3);
      m.step = row.Int(4);
      m.run_id = row.Text(0);
      m.model_id = std::string(model_id);
      m.dataset_name = row.Text(6);
      m.dataset_digest = row.Text(7);
      latest.insert_or_assign(std::move(key), std::make_pair(std::move(r), std::move(m)));
    }
    std::vector<Metric> out;
    for (auto& [key, entry] : latest) out.push_back(std::move(entry.second));
    return out;
  }

 private:
  // Runs a search query for one page: `max_results` rows from `offset`, and
  // one more when a next page exists.
  Result<Rows> QueryPage(internal::RunQuery q, std::int64_t max_results, std::int64_t offset) {
    const std::size_t n = q.params.size();
    q.params.push_back(max_results + 1);
    q.params.push_back(offset);
    return db_->Query(q.sql + " LIMIT $" + std::to_string(n + 1) + " OFFSET $" + std::to_string(n + 2), q.params);
  }

  static Status CheckMaxResults(std::int64_t max_results) {
    if (max_results < 1) {
      return InvalidArgument("Invalid value " + std::to_string(max_results) +
                                 " for parameter 'max_results' supplied. It must be a positive integer",
                             "max_results");
    }
    if (max_results > internal::kMaxSearchResults) {
      return InvalidArgument("Invalid value " + std::to_string(max_results) +
                                 " for parameter 'max_results' supplied. It must be at most " +
                                 std::to_string(internal::kMaxSearchResults),
                             "max_results");
    }
    return Status::OK();
  }

  static Status CheckBatchLimit(std::string_view entity, std::size_t limit, std::size_t length) {
    if (length <= limit) return Status::OK();
    return InvalidArgument("A batch logging request can contain at most " + std::to_string(limit) + " " +
                           std::string(entity) + ". Got " + std::to_string(length) + " " +
                           std::string(entity) + ". Please split up " + std::string(entity) +
                           " across multiple requests and try again.");
  }

  static Status LoadActiveExperiment(store::Tx& tx, std::int64_t id) {
    ASSIGN_OR_RETURN(Experiment e, LoadExperiment(tx, id));
    if (e.lifecycle_stage != LifecycleStage::kActive) {
      return FailedPrecondition("The experiment " + e.experiment_id +
                                " must be in the 'active' state. Current state is deleted.");
    }
    return Status::OK();
  }

  Status SetExperimentStage(std::string_view experiment_id, LifecycleStage target) {
    ASSIGN_OR_RETURN(std::int64_t id, internal::ParseExperimentId(experiment_id));
    return db_->Transact([&](store::Tx& tx) -> Status {
      ASSIGN_OR_RETURN(Experiment e, LoadExperiment(tx, id));
      // Deleting needs an active experiment, restoring a deleted one; MLflow
      // reports the other case as not found.
      if (e.lifecycle_stage == target) return ExperimentNotFound(id);
      const std::int64_t now = NowMs(env_);
      const std::string stage(LifecycleStageName(target));
      RETURN_IF_ERROR(
          tx.Exec("UPDATE experiments SET lifecycle_stage = $1, last_update_time = $2 "
                  "WHERE experiment_id = $3",
                  {stage, now, id}));
      if (target == LifecycleStage::kDeleted) {
        return tx
            .Exec("UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = $1 WHERE experiment_id = $2",
                  {now, id})
            .status();
      }
      return tx
          .Exec("UPDATE runs SET lifecycle_stage = 'active', deleted_time = NULL WHERE experiment_id = $1",
                {id})
          .status();
    });
  }

  static Status InsertExperimentTags(store::Tx& tx, std::int64_t id,
                                     const std::map<std::string, std::string>& tags) {
    for (const auto& [key, value] : tags) {
      RETURN_IF_ERROR(
          tx.Exec("INSERT INTO experiment_tags (experiment_id, key, value) VALUES ($1, $2, $3) "
                  "ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value",
                  {id, key, value}));
    }
    return Status::OK();
  }

  Status LoadExperimentTags(std::vector<Experiment>& experiments) {
    std::unordered_map<std::int64_t, Experiment*> by_id;
    std::vector<std::int64_t> ids;
    for (Experiment& e : experiments) {
      const std::int64_t id = std::stoll(e.experiment_id);
      by_id[id] = &e;
      ids.push_back(id);
    }
    for (std::size_t start = 0; start < ids.size(); start += kIdChunk) {
      const std::size_t count = std::min(kIdChunk, ids.size() - start);
      std::vector<Value> params(ids.begin() + start, ids.begin() + start + count);
      ASSIGN_OR_RETURN(Rows rows, db_->Query("SELECT experiment_id, key, value FROM experiment_tags WHERE "
                                             "experiment_id IN (" +
                                                 Placeholders(count) + ") ORDER BY experiment_id, key",
                                             params));
      for (const Row& row : rows) by_id[row.Int(0)]->tags.push_back(Tag{row.Text(1), row.Text(2)});
    }
    return Status::OK();
  }

  // Sets the run's name and its mlflow.runName tag (MLflow keeps both).
  static Status SetRunName(store::Tx& tx, const std::string& run_id, const std::string& name) {
    RETURN_IF_ERROR(tx.Exec("UPDATE runs SET name = $1 WHERE run_uuid = $2", {name, run_id}));
    return tx
        .Exec(
            "INSERT INTO tags (run_uuid, key, value) VALUES ($1, $2, $3) ON CONFLICT (run_uuid, key) "
            "DO UPDATE SET value = excluded.value",
            {run_id, std::string(internal::kRunNameTag), name})
        .status();
  }

  // Sets tags (last value of a repeated key wins); mlflow.runName also
  // renames the run, as MLflow's set_tag does.
  static Status UpsertTags(store::Tx& tx, std::string_view run_id, const std::vector<Tag>& tags) {
    std::map<std::string, std::string> last;
    for (const Tag& t : tags) last[t.key] = t.value;
    const std::string rid(run_id);
    if (auto it = last.find(std::string(internal::kRunNameTag)); it != last.end()) {
      RETURN_IF_ERROR(tx.Exec("UPDATE runs SET name = $1 WHERE run_uuid = $2", {it->second, rid}));
    }
    std::vector<std::pair<std::string, std::string>> rows(last.begin(), last.end());
    return InsertChunked(tx, rows.size(), 2, "INSERT INTO tags (run_uuid, key, value) VALUES ",
                         " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value",
                         [&](std::size_t i, std::vector<Value>& values) {
                           values.emplace_back(rows[i].first);
                           values.emplace_back(rows[i].second);
                         },
                         {Value(rid)});
  }

  // Params of a batch whose keys are unique: logging an existing key again
  // with its value is fine, with another value InvalidArgument.
  static Status InsertParams(store::Tx& tx, std::string_view run_id, const std::vector<Param>& params) {
    if (params.empty()) return Status::OK();
    const std::string rid(run_id);
    std::map<std::string, std::string> existing;
    for (std::size_t start = 0; start < params.size(); start += kIdChunk) {
      const std::size_t count = std::min(kIdChunk, params.size() - start);
      std::vector<Value> q{rid};
      for (std::size_t i = start; i < start + count; ++i) q.emplace_back(params[i].key);
      ASSIGN_OR_RETURN(Rows rows, tx.Query("SELECT key, value FROM params WHERE run_uuid = $1 AND key IN (" +
                                               Placeholders(count, 2) + ")",
                                           q));
      for (const Row& row : rows) existing[row.Text(0)] = row.Text(1);
    }
    std::vector<const Param*> fresh;
    std::string mismatches;
    for (const Param& p : params) {
      auto it = existing.find(p.key);
      if (it == existing.end()) {
        fresh.push_back(&p);
      } else if (it->second != p.value) {
        mismatches += std::string(mismatches.empty() ? "" : ", ") + "{'key': '" + p.key +
                      "', 'old_value': '" + SanitizeForMessage(it->second, 200) + "', 'new_value': '" +
                      SanitizeForMessage(p.value, 200) + "'}";
      }
    }
    if (!mismatches.empty()) {
      return InvalidArgument("Changing param values is not allowed. Params were already logged='[" +
                                 mismatches + "]' for run ID='" + rid + "'.",
                             "params");
    }
    return InsertChunked(tx, fresh.size(), 2, "INSERT INTO params (run_uuid, key, value) VALUES ",
                         " ON CONFLICT DO NOTHING",
                         [&](std::size_t i, std::vector<Value>& values) {
                           values.emplace_back(fresh[i]->key);
                           values.emplace_back(fresh[i]->value);
                         },
                         {Value(rid)});
  }

  // Inserts the points with multi-row INSERTs (an identical point, which
  // the primary key covers entirely, is kept once by ON CONFLICT DO
  // NOTHING), then moves latest_metrics forward with one upsert per key, in
  // key order (concurrent batches of one run lock rows in the same order).
  static Status InsertMetrics(store::Tx& tx, std::string_view run_id, const std::vector<Metric>& metrics) {
    if (metrics.empty()) return Status::OK();
    const std::string rid(run_id);
    std::vector<MetricRow> points;
    points.reserve(metrics.size());
    std::unordered_map<std::string_view, MetricRow> latest;
    for (const Metric& m : metrics) {
      auto [value, is_nan] = StoredValue(m.value);
      MetricRow row{m.key, m.step, m.timestamp, value, is_nan, &m};
      auto [it, fresh] = latest.try_emplace(row.key, row);
      if (!fresh && MoreRecent(row, it->second)) it->second = row;
      points.push_back(row);
    }
    RETURN_IF_ERROR(
        InsertChunked(tx, points.size(), 8,
                      "INSERT INTO metrics (run_uuid, key, step, timestamp, value, is_nan, model_id, "
                      "dataset_name, dataset_digest) VALUES ",
                      " ON CONFLICT DO NOTHING", [&](std::size_t i, std::vector<Value>& values) {
                        const MetricRow& p = points[i];
                        values.emplace_back(std::string(p.key));
                        values.emplace_back(p.step);
                        values.emplace_back(p.timestamp);
                        values.emplace_back(p.value);
                        values.emplace_back(p.is_nan);
                        values.emplace_back(OptionalText(p.source->model_id));
                        values.emplace_back(OptionalText(p.source->dataset_name));
                        values.emplace_back(OptionalText(p.source->dataset_digest));
                      },
                      {Value(rid)}));
    std::vector<const MetricRow*> heads;
    heads.reserve(latest.size());
    for (const auto& [key, row] : latest) heads.push_back(&row);
    std::sort(heads.begin(), heads.end(), [](const MetricRow* a, const MetricRow* b) { return a->key < b->key; });
    return InsertChunked(tx, heads.size(), 5,
                         "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES ",
                         " ON CONFLICT (run_uuid, key) DO UPDATE SET value = excluded.value, timestamp = "
                         "excluded.timestamp, step = excluded.step, is_nan = excluded.is_nan WHERE "
                         "(excluded.step, excluded.timestamp, excluded.value) > "
                         "(latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)",
                         [&](std::size_t i, std::vector<Value>& values) {
                           values.emplace_back(std::string(heads[i]->key));
                           values.emplace_back(heads[i]->value);
                           values.emplace_back(heads[i]->timestamp);
                           values.emplace_back(heads[i]->step);
                           values.emplace_back(heads[i]->is_nan);
                         },
                         {Value(rid)});
  }

  // Fills metrics, params, tags, inputs and outputs of `runs` (infos set).
  Status LoadRunData(std::vector<Run>& runs, bool model_inputs) {
    std::unordered_map<std::string, Run*> by_id;
    std::vector<std::string> ids;
    for (Run& run : runs) {
      by_id[run.info.run_id] = &run;
      ids.push_back(run.info.run_id);
    }
    for (std::size_t start = 0; start < ids.size(); start += kIdChunk) {
      const std::size_t count = std::min(kIdChunk, ids.size() - start);
      const std::vector<Value> params(ids.begin() + start, ids.begin() + start + count);
      const std::string in = "(" + Placeholders(count) + ")";
      ASSIGN_OR_RETURN(Rows metrics, db_->Query("SELECT run_uuid, key, value, timestamp, step, is_nan FROM "
                                                "latest_metrics WHERE run_uuid IN " +
                                                    in + " ORDER BY run_uuid, key",
                                                params));
      for (const Row& row : metrics) {
        Metric m;
        m.key = row.Text(1);
        m.value = LoadedValue(row.Double(2), row.Int(5));
        m.timestamp = row.Int(3);
        m.step = row.Int(4);
        m.run_id = row.Text(0);
        by_id[row.Text(0)]->metrics.push_back(std::move(m));
      }
      ASSIGN_OR_RETURN(Rows param_rows,
                       db_->Query("SELECT run_uuid, key, value FROM params WHERE run_uuid IN " + in +
                                      " ORDER BY run_uuid, key",
                                  params));
      for (const Row& row : param_rows) by_id[row.Text(0)]->params.push_back(Param{row.Text(1), row.Text(2)});
      ASSIGN_OR_RETURN(Rows tag_rows, db_->Query("SELECT run_uuid, key, value FROM tags WHERE run_uuid IN " +
                                                     in + " ORDER BY run_uuid, key",
                                                 params));
      for (const Row& row : tag_rows) by_id[row.Text(0)]->tags.push_back(Tag{row.Text(1), row.Text(2)});

      ASSIGN_OR_RETURN(
          Rows inputs,
          db_->Query("SELECT i.run_uuid, i.input_uuid, d.name, d.digest, d.source_type, d.source, "
                     "d.dataset_schema, d.profile FROM run_dataset_inputs i JOIN datasets d ON "
                     "d.dataset_uuid = i.dataset_uuid WHERE i.run_uuid IN " +
                         in + " ORDER BY i.run_uuid, i.position",
                     params));
      if (!inputs.empty()) {
        std::unordered_map<std::string, DatasetInput*> by_input;
        for (const Row& row : inputs) {
          DatasetInput input;
          input.dataset =
              Dataset{row.Text(2), row.Text(3), row.Text(4), row.Text(5), row.Text(6), row.Text(7)};
          Run* run = by_id[row.Text(0)];
          run->dataset_inputs.push_back(std::move(input));
        }
        // Pointers are taken once every run's vector is complete.
        std::unordered_map<std::string, std::size_t> next;  // run -> index of its next input
        for (const Row& row : inputs) {
          Run* run = by_id[row.Text(0)];
          by_input[row.Text(1)] = &run->dataset_inputs[next[row.Text(0)]++];
        }
        ASSIGN_OR_RETURN(
            Rows input_tags,
            db_->Query("SELECT it.input_uuid, it.name, it.value FROM input_tags it JOIN "
                       "run_dataset_inputs i ON i.input_uuid = it.input_uuid WHERE i.run_uuid IN " +
                           in + " ORDER BY it.input_uuid, it.name",
                       params));
        for (const Row& row : input_tags) {
          auto it = by_input.find(row.Text(0));
          if (it != by_input.end()) it->second->tags.push_back(Tag{row.Text(1), row.Text(2)});
        }
      }
      ASSIGN_OR_RETURN(Rows outputs,
                       db_->Query("SELECT run_uuid, model_id, step FROM run_model_outputs WHERE "
                                  "run_uuid IN " +
                                      in + " ORDER BY run_uuid, position",
                                  params));
      for (const Row& row : outputs)
        by_id[row.Text(0)]->model_outputs.push_back(ModelOutput{row.Text(1), row.Int(2)});
      if (model_inputs) {
        ASSIGN_OR_RETURN(Rows model_rows, db_->Query("SELECT run_uuid, model_id FROM run_model_inputs WHERE "
                                                     "run_uuid IN " +
                                                         in + " ORDER BY run_uuid, position",
                                                     params));
        for (const Row& row : model_rows) by_id[row.Text(0)]->model_inputs.push_back(ModelInput{row.Text(1)});
      }
    }
    return Status::OK();
  }

  // MLflow's get_metric_history_bulk_interval sampling of one run: the first
  // point of each of max_results NTILE buckets over the (step, timestamp,
  // value, is_nan) order, plus the last point.
  Status SampleHistory(const std::string& run_id, const BulkIntervalRequest& request,
                       std::vector<Metric>& out) {
    std::vector<Value> params{run_id, request.metric_key, request.max_results};
    std::string range;
    if (request.start_step) {
      range = " AND step >= $4 AND step <= $5";
      params.emplace_back(*request.start_step);
      params.emplace_back(*request.end_step);
    }
    ASSIGN_OR_RETURN(
        Rows rows,
        db_->Query(
            "SELECT value, timestamp, step, is_nan FROM (SELECT value, timestamp, step, is_nan, ROW_NUMBER() "
            "OVER (PARTITION BY bucket ORDER BY step, timestamp, value, is_nan) AS rn FROM (SELECT value, "
            "timestamp, step, is_nan, NTILE(CAST($3 AS INTEGER)) OVER (ORDER BY step, timestamp, value, "
            "is_nan) AS bucket FROM metrics WHERE run_uuid = $1 AND key = $2" +
                range + ") b) ranked WHERE rn = 1 ORDER BY step, timestamp, value, is_nan",
            params));
    params.erase(params.begin() + 2);
    std::string last_range;
    if (request.start_step) last_range = " AND step >= $3 AND step <= $4";
    ASSIGN_OR_RETURN(
        Rows last,
        db_->Query("SELECT value, timestamp, step, is_nan FROM metrics WHERE run_uuid = $1 "
                   "AND key = $2" +
                       last_range + " ORDER BY step DESC, timestamp DESC, value DESC, is_nan DESC LIMIT 1",
                   params));
    auto same = [](const Row& a, const Row& b) {
      return a.Int(2) == b.Int(2) && a.Int(1) == b.Int(1) && a.Int(3) == b.Int(3) &&
             (a.Int(3) != 0 || a.Double(0) == b.Double(0));
    };
    if (!last.empty() && (rows.empty() || !same(rows.back(), last[0]))) {
      if (static_cast<std::int64_t>(rows.size()) >= request.max_results) {
        rows.back() = last[0];
      } else {
        rows.push_back(last[0]);
      }
    }
    for (const Row& row : rows) {
      Metric m;
      m.key = request.metric_key;
      m.value = LoadedValue(row.Double(0), row.Int(3));
      m.timestamp = row.Int(1);
      m.step = row.Int(2);
      m.run_id = run_id;
      out.push_back(std::move(m));
    }
    return Status::OK();
  }

  store::Database* db_;
  Env* env_;
  std::string artifact_root_;
};

}  // namespace

std::string_view LifecycleStageName(LifecycleStage stage) {
  return stage == LifecycleStage::kDeleted ? kDeleted : kActive;
}

std::string_view RunStatusName(RunStatus status) {
  switch (status) {
    case RunStatus::kRunning:
      return "RUNNING";
    case RunStatus::kScheduled:
      return "SCHEDULED";
    case RunStatus::kFinished:
      return "FINISHED";
    case RunStatus::kFailed:
      return "FAILED";
    case RunStatus::kKilled:
      return "KILLED";
  }
  return "RUNNING";
}

Result<RunStatus> ParseRunStatus(std::string_view name) {
  for (RunStatus s : {RunStatus::kRunning, RunStatus::kScheduled, RunStatus::kFinished, RunStatus::kFailed,
                      RunStatus::kKilled}) {
    if (RunStatusName(s) == name) return s;
  }
  return InvalidArgument("Invalid run status " + QuoteForMessage(name) +
                             ". Valid values are RUNNING, SCHEDULED, FINISHED, FAILED, KILLED",
                         "status");
}

Result<ViewType> ParseViewType(std::string_view name) {
  if (name == "ACTIVE_ONLY") return ViewType::kActiveOnly;
  if (name == "DELETED_ONLY") return ViewType::kDeletedOnly;
  if (name == "ALL") return ViewType::kAll;
  return InvalidArgument(
      "Invalid view type " + QuoteForMessage(name) + ". Valid values are ACTIVE_ONLY, DELETED_ONLY, ALL",
      "view_type");
}

Result<std::unique_ptr<TrackingStore>> TrackingStore::Open(store::Database* db, Env* env,
                                                           std::string artifact_root_uri) {
  auto store = std::make_unique<SqlTrackingStore>(db, env, std::move(artifact_root_uri));
  RETURN_IF_ERROR(store->Init().WithContext("creating the Default experiment"));
  return std::unique_ptr<TrackingStore>(std::move(store));
}

}  // namespace ferry::tracking
