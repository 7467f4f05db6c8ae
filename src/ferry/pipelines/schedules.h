#pragma once
// Recurring runs (KFP's RecurringRun / ScheduledWorkflow): a pipeline with
// its parameters, fired on a cron or interval trigger, kept in the Store
// (migration 0008_recurring_runs.sql) and fired through
// PipelineEngine::SubmitRun with the schedule's recurring_run_id.
//
// Semantics are KFP's (backend/src/crd/controller/scheduledworkflow, the
// API server's validation), in Unix seconds and UTC:
// - Cron expressions are robfig/cron v1's, which KFP uses: 6 fields
//   "sec min hour dom month dow", or 5 with the day of week left out
//   ("0 */5 * * *" is every 5 minutes at second 0 — the first field is
//   always seconds). Fields take *, ?, numbers, a-b ranges, /steps (a/n
//   means a-max/n), comma lists, month (JAN..DEC) and weekday (SUN..SAT)
//   names; day of month and day of week are ORed unless either is * or ?.
//   Descriptors @yearly @annually @monthly @weekly @daily @midnight
//   @hourly and "@every <Go duration>" work too.
// - Next fire: from the last fired time (or, before the first, the start
//   time if set, else the creation time), the next cron match strictly
//   after it / that time plus the interval, never before start_time; none
//   after end_time. Catch-up (the default) fires every missed time one by
//   one after downtime or a disable; no_catchup fires only the latest
//   (cron), or now (interval) when more than one interval was missed.
// - max_concurrency (1..10) caps the schedule's active (PENDING, RUNNING,
//   CANCELING) runs; a due fire waits until one ends.
// - Fired runs are named "<display name>-<index>-<fnv32a>" after KFP's
//   workflow names; the index counts fires from 1. The name makes a fire
//   idempotent: a run submitted just before a crash is found again, not
//   submitted twice.
//
// Thread-safety: thread-safe. Mutations and firing are serialised by one
// mutex; the optional background thread (Start) wakes at the next fire time
// or when a schedule changes.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/common/json.h"
#include "ferry/common/status.h"
#include "ferry/pipelines/engine.h"
#include "ferry/store/database.h"

namespace ferry::pipelines {

class CatalogStore;

inline constexpr std::int64_t kNeverEpoch = std::numeric_limits<std::int64_t>::max();

// A parsed cron expression (see the file comment). Value type.
class CronSchedule {
 public:
  // InvalidArgument with robfig/cron's reason ("Expected 5 to 6 fields,
  // found 3: ...", "End of range (60) above maximum (59): 0-60", ...).
  static Result<CronSchedule> Parse(std::string_view expression);

  // The first matching time strictly after `after_epoch`; nullopt when
  // nothing matches within five years (e.g. "0 0 0 30 2 *").
  std::optional<std::int64_t> Next(std::int64_t after_epoch) const;

 private:
  std::uint64_t second_ = 0, minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  std::int64_t every_seconds_ = 0;  // > 0 for "@every"
};

struct Trigger {
  enum class Kind { kOnce, kCron, kPeriodic };
  Kind kind = Kind::kOnce;
  std::string cron;                  // kCron
  std::int64_t interval_second = 0;  // kPeriodic, >= 1
  std::optional<std::int64_t> start_epoch, end_epoch;
};

// KFP's next scheduled time of a trigger (kNeverEpoch when there is none):
// `last_triggered` is the last fired time, `created_epoch` the schedule's
// creation. InvalidArgument when the cron does not parse.
Result<std::int64_t> NextScheduledEpoch(const Trigger& trigger, std::optional<std::int64_t> last_triggered,
                                        std::int64_t created_epoch, bool catchup, std::int64_t now_epoch);

// The name of a schedule's index-th run: "<display_name>-<index>-<fnv32a>".
std::string FiredRunName(std::string_view display_name, std::string_view recurring_run_id,
                         std::int64_t index);

struct RecurringRun {
  std::string recurring_run_id;  // UUID, set by Create
  std::string display_name;
  std::string description;
  std::string namespace_;
  std::string experiment_id;  // required
  // The pipeline: the text every fire runs (a snapshot taken at creation),
  // and the uploaded pipeline/version it came from, if any.
  std::string pipeline_id;
  std::string pipeline_version_id;
  std::string pipeline_text;
  std::map<std::string, Json> parameters;
  std::string pipeline_root;
  std::string service_account;
  Trigger trigger;
  std::int64_t max_concurrency = 1;  // 1..10
  bool no_catchup = false;
  bool enabled = true;
  std::int64_t created_micros = 0;
  std::int64_t updated_micros = 0;
  std::optional<std::int64_t> last_triggered_epoch;
  std::int64_t last_index = 0;  // fires so far
  std::string error;            // the last firing failure, or empty
};

struct SchedulerOptions {
  // How soon to look again at a schedule that is due but held back by
  // max_concurrency, or whose last fire failed.
  std::chrono::milliseconds recheck{1000};
  // Upper bound of one sleep of the background thread (wall-clock jumps).
  std::chrono::milliseconds max_sleep{30'000};
  // Fires one Tick makes at most per schedule (long catch-ups proceed
  // over several ticks, so other schedules are not starved).
  int max_fires_per_tick = 20;
};

class Scheduler {
 public:
  // Opens over a migrated database. `engine` must outlive the scheduler;
  // `catalog` (may be null) gets TouchExperiment for every fired run.
  static Result<std::unique_ptr<Scheduler>> Open(store::Database* db, Env* env, PipelineEngine* engine,
                                                 CatalogStore* catalog, SchedulerOptions options = {});
  ~Scheduler();  // Stop()
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Validates (InvalidArgument naming the field, KFP's messages), fills id
  // and times, stores (durable on return) and wakes the scheduler.
  Result<RecurringRun> Create(const RecurringRun& run);
  Result<RecurringRun> Get(std::string_view recurring_run_id);
  // Every schedule, oldest first, without pipeline_text.
  Result<std::vector<RecurringRun>> List();
  // Enable or disable; enabling resumes from the last fired time (catching
  // up unless no_catchup), as KFP.
  Status SetEnabled(std::string_view recurring_run_id, bool enabled);
  // Deletes the schedule; its runs stay.
  Status Delete(std::string_view recurring_run_id);

  // Fires every enabled schedule that is due at env->NowMicros() and
  // returns when to look again (Unix micros; kNeverEpoch when nothing is
  // scheduled). The background thread calls this; tests call it directly
  // with a FakeEnv.
  Result<std::int64_t> Tick();

  // Starts / stops the background thread. Stop waits for a running Tick.
  void Start();
  void Stop();

 private:
  Scheduler(store::Database* db, Env* env, PipelineEngine* engine, CatalogStore* catalog,
            SchedulerOptions options)
      : db_(db), env_(env), engine_(engine), catalog_(catalog), options_(options) {}
  // Fires `run` while due; returns its next wake time (micros).
  std::int64_t FireDue(RecurringRun& run, std::int64_t now_micros);
  Result<std::int64_t> CountActive(const std::string& recurring_run_id);
  // Whether the index-th run exists already: submitted just before a crash
  // that kept the row from advancing.
  Result<bool> AlreadyFired(const RecurringRun& run, std::int64_t index);
  // Submits the index-th run; reads the pipeline text into `run` if missing.
  Status SubmitFire(RecurringRun& run, std::int64_t index);
  void Loop();

  store::Database* db_;
  Env* env_;
  PipelineEngine* engine_;
  CatalogStore* catalog_;
  SchedulerOptions options_;

  std::mutex fire_mu_;  // serialises Tick and mutations

  std::mutex wake_mu_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace ferry::pipelines
