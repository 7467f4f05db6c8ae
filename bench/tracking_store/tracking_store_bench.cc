// Timings of the TrackingStore on SQLite (or on the PostgreSQL URL given as
// the first argument): log_batch of 1000 metrics, search_runs with a metric
// filter and a metric order_by over 10k and 100k runs, the history of a
// 100k-point metric read in pages. Prints numbers; asserts nothing. See
// README.md for how to build and run it.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "ferry/common/env.h"
#include "ferry/store/database.h"
#include "ferry/store/migrations.h"
#include "ferry/tracking/tracking_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using ferry::tracking::Metric;

double Ms(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void Check(const ferry::Status& st, const char* what) {
  if (!st.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
    std::exit(1);
  }
}

// Adds `count` runs to `experiment_id` straight through SQL (seeding is not
// what is measured): each with a start time, 3 params, 2 tags and 3 latest
// metrics, as a typical hyper-parameter sweep has.
void SeedRuns(ferry::store::Database& db, std::int64_t experiment_id, int count, std::mt19937_64& rng) {
  constexpr int kChunk = 200;
  for (int start = 0; start < count; start += kChunk) {
    Check(db.Transact([&](ferry::store::Tx& tx) -> ferry::Status {
      for (int i = start; i < std::min(count, start + kChunk); ++i) {
        char id[33];
        std::snprintf(id, sizeof(id), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                      static_cast<unsigned long long>(i));
        const std::string run(id);
        auto st = tx.Exec(
            "INSERT INTO runs (run_uuid, experiment_id, name, user_id, status, start_time, end_time, "
            "deleted_time, lifecycle_stage, artifact_uri) VALUES ($1, $2, $3, 'bench', 'FINISHED', $4, $5, "
            "NULL, 'active', $6)",
            {run, experiment_id, "run-" + std::to_string(i), static_cast<std::int64_t>(1700000000000 + i),
             static_cast<std::int64_t>(1700000000000 + i + 60000),
             "mlflow-artifacts:/1/" + run + "/artifacts"});
        if (!st.ok()) return st.status();
        st = tx.Exec(
            "INSERT INTO params (run_uuid, key, value) VALUES ($1, 'lr', $2), ($1, 'batch', $3), "
            "($1, 'optimizer', $4)",
            {run, std::to_string((rng() % 100) / 1000.0), std::to_string(16 << (rng() % 4)),
             std::string(rng() % 2 ? "adam" : "sgd")});
        if (!st.ok()) return st.status();
        st = tx.Exec(
            "INSERT INTO tags (run_uuid, key, value) VALUES ($1, 'mlflow.runName', $2), "
            "($1, 'team', $3)",
            {run, "run-" + std::to_string(i), std::string(rng() % 3 ? "red" : "blue")});
        if (!st.ok()) return st.status();
        st = tx.Exec(
            "INSERT INTO latest_metrics (run_uuid, key, value, timestamp, step, is_nan) VALUES "
            "($1, 'accuracy', $2, 1, 100, 0), ($1, 'loss', $3, 1, 100, 0), ($1, 'f1', $4, 1, 100, 0)",
            {run, static_cast<double>(rng() % 100000) / 100000.0,
             static_cast<double>(rng() % 100000) / 10000.0, static_cast<double>(rng() % 100000) / 100000.0});
        if (!st.ok()) return st.status();
      }
      return ferry::Status::OK();
    }),
          "seeding runs");
  }
}

void TimeSearch(ferry::tracking::TrackingStore& store, const std::string& experiment_id, int runs) {
  ferry::tracking::RunSearch search;
  search.experiment_ids = {experiment_id};
  search.filter = "metrics.accuracy > 0.9 and params.optimizer = 'adam'";
  search.order_by = {"metrics.loss ASC"};
  search.page.max_results = 100;
  // One warm-up, then the best of five.
  double best = 1e18;
  std::size_t found = 0;
  for (int i = 0; i < 6; ++i) {
    auto t = Clock::now();
    auto page = store.SearchRuns(search);
    Check(page.status(), "search");
    if (i > 0) best = std::min(best, Ms(t));
    found = page->items.size();
  }
  std::printf("search_runs over %6d runs, filter %s, order_by %s, first page of %zu: %.1f ms\n", runs,
              search.filter.c_str(), search.order_by[0].c_str(), found, best);
  search.filter = "metrics.accuracy > 0.5";
  search.order_by = {"metrics.accuracy DESC"};
  search.page.max_results = 1000;
  best = 1e18;
  for (int i = 0; i < 4; ++i) {
    auto t = Clock::now();
    auto page = store.SearchRuns(search);
    Check(page.status(), "search");
    if (i > 0) best = std::min(best, Ms(t));
    found = page->items.size();
  }
  std::printf("search_runs over %6d runs, filter %s, order_by %s, first page of %zu: %.1f ms\n", runs,
              search.filter.c_str(), search.order_by[0].c_str(), found, best);
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::string url;
  std::string dir;
  if (argc > 1) {
    url = argv[1];
  } else {
    dir = (std::filesystem::temp_directory_path() / ("ferry_tracking_bench_" + std::to_string(getpid())))
              .string();
    std::filesystem::create_directories(dir);
    url = "sqlite://" + dir + "/bench.db";
  }
  auto db = ferry::store::OpenDatabase(url);
  Check(db.status(), "open");
  Check(ferry::store::Migrate(**db).status(), "migrate");
  ferry::Env* env = ferry::Env::Default();
  auto store = ferry::tracking::TrackingStore::Open(db->get(), env);
  Check(store.status(), "open store");
  auto& ts = **store;

  // log_batch of 1000 metrics (10 keys x 100 steps), into one run.
  auto run = ts.CreateRun({});
  Check(run.status(), "create run");
  const std::string run_id = run->info.run_id;
  std::vector<double> times;
  for (int b = 0; b < 100; ++b) {
    std::vector<Metric> metrics;
    for (int i = 0; i < 1000; ++i) {
      Metric m;
      m.key = "metric_" + std::to_string(i % 10);
      m.value = 1.0 / (i + 1);
      m.timestamp = 1700000000000 + b * 1000 + i;
      m.step = b * 100 + i / 10;
      metrics.push_back(std::move(m));
    }
    auto t = Clock::now();
    Check(ts.LogBatch(run_id, metrics, {}, {}), "log_batch");
    times.push_back(Ms(t));
  }
  std::sort(times.begin(), times.end());
  std::printf("log_batch of 1000 metrics (10 keys): median %.2f ms, p90 %.2f ms (100 batches)\n", times[50],
              times[90]);

  // History of 100k points, in pages of 25000 (MLflow's page size).
  {
    auto r = ts.CreateRun({});
    Check(r.status(), "create run");
    auto t = Clock::now();
    for (int b = 0; b < 100; ++b) {
      std::vector<Metric> metrics;
      for (int i = 0; i < 1000; ++i) {
        Metric m;
        m.key = "loss";
        m.value = 1.0 / (b * 1000 + i + 1);
        m.timestamp = 1700000000000 + b * 1000 + i;
        m.step = b * 1000 + i;
        metrics.push_back(std::move(m));
      }
      Check(ts.LogBatch(r->info.run_id, metrics, {}, {}), "log_batch");
    }
    std::printf("logging 100k points of one key in 100 batches: %.0f ms\n", Ms(t));
    double best = 1e18;
    std::size_t total = 0;
    for (int rep = 0; rep < 3; ++rep) {
      ferry::tracking::MetricHistoryRequest req;
      req.run_id = r->info.run_id;
      req.metric_key = "loss";
      req.page.max_results = 25000;
      total = 0;
      t = Clock::now();
      for (;;) {
        auto page = ts.GetMetricHistory(req);
        Check(page.status(), "history");
        total += page->items.size();
        if (page->next_page_token.empty()) break;
        req.page.page_token = page->next_page_token;
      }
      best = std::min(best, Ms(t));
    }
    std::printf("get-history of %zu points in pages of 25000: %.1f ms\n", total, best);
    ferry::tracking::BulkIntervalRequest bulk;
    bulk.run_ids = {r->info.run_id};
    bulk.metric_key = "loss";
    bulk.max_results = 320;
    t = Clock::now();
    auto sampled = ts.GetMetricHistoryBulkInterval(bulk);
    Check(sampled.status(), "bulk interval");
    std::printf("get-history-bulk-interval, 320 of 100k points: %.1f ms\n", Ms(t));
  }

  // Searches over 10k and then 100k runs.
  std::mt19937_64 rng(1);
  auto e10 = ts.CreateExperiment("bench-10k", "", {});
  Check(e10.status(), "experiment");
  auto t = Clock::now();
  SeedRuns(**db, std::stoll(*e10), 10000, rng);
  std::printf("seeded 10k runs in %.0f ms\n", Ms(t));
  TimeSearch(ts, *e10, 10000);
  auto e100 = ts.CreateExperiment("bench-100k", "", {});
  Check(e100.status(), "experiment");
  t = Clock::now();
  SeedRuns(**db, std::stoll(*e100), 100000, rng);
  std::printf("seeded 100k runs in %.0f ms\n", Ms(t));
  TimeSearch(ts, *e100, 100000);

  if (!dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
