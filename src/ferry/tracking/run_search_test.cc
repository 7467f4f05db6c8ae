// search_runs over a few thousand runs on both backends, checked against a
// brute-force evaluation of MLflow's semantics in C++: filters of every kind,
// order_by with MLflow's null ordering and tie-break, and paging.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "ferry/store/testing/test_database.h"
#include "ferry/tracking/search_filter.h"
#include "ferry/tracking/tracking_internal.h"
#include "ferry/tracking/tracking_store.h"

namespace ferry::tracking {
namespace {

using ::ferry::store::testing::AllBackends;
using ::ferry::store::testing::Backend;
using ::ferry::store::testing::BackendName;
using ::ferry::store::testing::TestDatabase;
using ::testing::HasSubstr;

// What the test knows about each run it made.
struct Model {
  std::string id;
  std::string experiment_id;
  std::string name;
  std::string status = "RUNNING";
  std::string user;
  std::int64_t start_time = 0;
  std::optional<std::int64_t> end_time;
  bool deleted = false;
  std::map<std::string, double> metrics;  // latest; NaN as NaN
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> tags;
  std::vector<std::pair<std::string, std::string>> datasets;  // (name, context)
};

using Predicate = std::function<bool(const Model&)>;

std::optional<double> MetricOf(const Model& m, const std::string& key) {
  auto it = m.metrics.find(key);
  if (it == m.metrics.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> ParamOf(const Model& m, const std::string& key) {
  auto it = m.params.find(key);
  if (it == m.params.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> TagOf(const Model& m, const std::string& key) {
  auto it = m.tags.find(key);
  if (it == m.tags.end()) return std::nullopt;
  return it->second;
}

// One order_by clause, evaluated as MLflow's SQL does.
struct Order {
  enum Kind { kMetric, kParam, kTag, kStart, kEnd, kName, kStatus } kind;
  std::string key;
  bool ascending;
};

// -1, 0, 1 as a < b for one clause: present values first (for metrics,
// numbers, then NaN, then missing) whatever the direction.
int CompareClause(const Order& o, const Model& a, const Model& b) {
  auto cmp = [&](auto x, auto y) { return x < y ? -1 : (y < x ? 1 : 0); };
  auto directed = [&](int c) { return o.ascending ? c : -c; };
  switch (o.kind) {
    case Order::kMetric: {
      auto rank = [&](const Model& m) {
        auto v = MetricOf(m, o.key);
        return !v ? 2 : std::isnan(*v) ? 1 : 0;
      };
      if (int c = cmp(rank(a), rank(b))) return c;
      if (rank(a) != 0) return 0;  // NaN among NaN (stored as 0), missing among missing
      return directed(cmp(*MetricOf(a, o.key), *MetricOf(b, o.key)));
    }
    case Order::kParam:
    case Order::kTag: {
      auto va = o.kind == Order::kParam ? ParamOf(a, o.key) : TagOf(a, o.key);
      auto vb = o.kind == Order::kParam ? ParamOf(b, o.key) : TagOf(b, o.key);
      if (int c = cmp(!va.has_value(), !vb.has_value())) return c;
      if (!va) return 0;
      return directed(cmp(*va, *vb));
    }
    case Order::kEnd: {
      if (int c = cmp(!a.end_time.has_value(), !b.end_time.has_value())) return c;
      if (!a.end_time) return 0;
      return directed(cmp(*a.end_time, *b.end_time));
    }
    case Order::kStart:
      return directed(cmp(a.start_time, b.start_time));
    case Order::kName:
      return directed(cmp(a.name, b.name));
    case Order::kStatus:
      return directed(cmp(a.status, b.status));
  }
  return 0;
}

std::vector<std::string> Expected(const std::vector<Model>& runs, const std::vector<std::string>& experiments,
                                  ViewType view, const Predicate& pred, const std::vector<Order>& order) {
  std::vector<const Model*> hits;
  for (const Model& m : runs) {
    if (std::find(experiments.begin(), experiments.end(), m.experiment_id) == experiments.end()) continue;
    if (view == ViewType::kActiveOnly && m.deleted) continue;
    if (view == ViewType::kDeletedOnly && !m.deleted) continue;
    if (pred(m)) hits.push_back(&m);
  }
  const bool by_start =
      std::any_of(order.begin(), order.end(), [](const Order& o) { return o.kind == Order::kStart; });
  std::sort(hits.begin(), hits.end(), [&](const Model* a, const Model* b) {
    for (const Order& o : order) {
      if (int c = CompareClause(o, *a, *b)) return c < 0;
    }
    if (!by_start && a->start_time != b->start_time) return a->start_time > b->start_time;
    return a->id < b->id;
  });
  std::vector<std::string> ids;
  for (const Model* m : hits) ids.push_back(m->id);
  return ids;
}

class RunSearchTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    tdb_ = TestDatabase::Create(GetParam());
    ASSERT_NE(tdb_, nullptr);
    auto store = TrackingStore::Open(&tdb_->db(), &env_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
  }

  // Makes `count` runs across two experiments with random data.
  void Populate(int count) {
    auto e1 = store_->CreateExperiment("one", "", {});
    auto e2 = store_->CreateExperiment("two", "", {});
    ASSERT_TRUE(e1.ok() && e2.ok());
    experiments_ = {*e1, *e2};
    std::mt19937 rng(1234);
    const char* opts[] = {"Adam", "adam", "SGD", "sgd_momentum", "ada*grad", "rms?prop", "[x]"};
    const char* teams[] = {"red", "Red", "blue", "green_1", "green%2"};
    const char* statuses[] = {"RUNNING", "FINISHED", "FAILED", "KILLED", "SCHEDULED"};
    for (int i = 0; i < count; ++i) {
      Model m;
      m.experiment_id = experiments_[rng() % 2];
      m.user = "user" + std::to_string(rng() % 4);
      // Repeated start times exercise the run_id tie-break.
      m.start_time = 1000 + static_cast<std::int64_t>(rng() % (count / 3 + 1));
      CreateRunRequest req;
      req.experiment_id = m.experiment_id;
      req.user_id = m.user;
      req.start_time = m.start_time;
      if (rng() % 4 != 0) req.run_name = "run-" + std::to_string(rng() % 50);
      auto run = store_->CreateRun(req);
      ASSERT_TRUE(run.ok()) << run.status().ToString();
      m.id = run->info.run_id;
      m.name = run->info.run_name;
      m.tags["mlflow.runName"] = m.name;

      std::vector<Metric> metrics;
      auto add_metric = [&](const std::string& key, double v) {
        Metric metric;
        metric.key = key;
        metric.value = v;
        metric.timestamp = 5;
        metric.step = 1;
        metrics.push_back(metric);
        // The store keeps ±Inf as ±DBL_MAX, as MLflow's does.
        m.metrics[key] = std::isinf(v) ? std::copysign(std::numeric_limits<double>::max(), v) : v;
      };
      if (rng() % 10 != 0) add_metric("acc", static_cast<double>(rng() % 1000) / 1000);
      if (rng() % 3 != 0) {
        const int r = rng() % 40;
        add_metric("loss", r == 0   ? std::numeric_limits<double>::quiet_NaN()
                           : r == 1 ? std::numeric_limits<double>::infinity()
                           : r == 2 ? -std::numeric_limits<double>::infinity()
                                    : static_cast<double>(rng() % 100) / 10);
      }
      std::vector<Param> params;
      if (rng() % 5 != 0) {
        params.push_back({"lr", std::to_string(rng() % 5)});
        m.params["lr"] = params.back().value;
      }
      if (rng() % 2 != 0) {
        params.push_back({"opt", opts[rng() % 7]});
        m.params["opt"] = params.back().value;
      }
      std::vector<Tag> tags;
      if (rng() % 3 != 0) {
        tags.push_back({"team", teams[rng() % 5]});
        m.tags["team"] = tags.back().value;
      }
      ASSERT_TRUE(store_->LogBatch(m.id, metrics, params, tags).ok());
      if (rng() % 2 == 0) {
        UpdateRunRequest up;
        up.run_id = m.id;
        m.status = statuses[1 + rng() % 4];
        ASSERT_TRUE(ParseRunStatus(m.status).ok());
        up.status = *ParseRunStatus(m.status);
        if (rng() % 3 != 0) {
          m.end_time = m.start_time + static_cast<std::int64_t>(rng() % 100);
          up.end_time = m.end_time;
        }
        ASSERT_TRUE(store_->UpdateRun(up).ok());
      }
      if (rng() % 8 == 0) {
        const std::string ds = "ds" + std::to_string(rng() % 3);
        const std::string ctx = rng() % 2 ? "training" : "eval";
        DatasetInput input{{ds, "d" + ds, "local", "{}", "", ""}, {{"mlflow.data.context", ctx}}};
        ASSERT_TRUE(store_->LogInputs(m.id, {input}, {}).ok());
        m.datasets.emplace_back(ds, ctx);
      }
      if (rng() % 15 == 0) {
        ASSERT_TRUE(store_->DeleteRun(m.id).ok());
        m.deleted = true;
      }
      runs_.push_back(std::move(m));
    }
  }

  // Every page of a search, following tokens.
  std::vector<std::string> AllPages(RunSearch search, std::int64_t page_size) {
    search.page.max_results = page_size;
    std::vector<std::string> ids;
    for (int guard = 0; guard < 10000; ++guard) {
      auto page = store_->SearchRuns(search);
      EXPECT_TRUE(page.ok()) << search.filter << ": " << page.status().ToString();
      if (!page.ok()) break;
      EXPECT_LE(static_cast<std::int64_t>(page->items.size()), page_size);
      for (const tracking::Run& r : page->items) ids.push_back(r.info.run_id);
      if (page->next_page_token.empty()) break;
      search.page.page_token = page->next_page_token;
    }
    return ids;
  }

  FakeEnv env_;
  std::unique_ptr<TestDatabase> tdb_;
  std::unique_ptr<TrackingStore> store_;
  std::vector<std::string> experiments_;
  std::vector<Model> runs_;
};

TEST_P(RunSearchTest, FiltersOrdersAndPagesMatchBruteForce) {
  Populate(1500);
  if (HasFatalFailure()) return;
  auto like = [](std::optional<std::string> v, const char* pattern, bool ci) {
    return v && LikeMatch(*v, pattern, ci);
  };
  struct FilterCase {
    std::string filter;
    Predicate pred;
  };
  const std::vector<FilterCase> filters = {
      {"", [](const Model&) { return true; }},
      {"metrics.acc > 0.5",
       [](const Model& m) {
         auto v = MetricOf(m, "acc");
         return v && !std::isnan(*v) && *v > 0.5;
       }},
      {"metrics.loss != 5",
       [](const Model& m) {
         auto v = MetricOf(m, "loss");
         return v && (std::isnan(*v) || *v != 5);
       }},
      {"metrics.loss <= 0",
       [](const Model& m) {
         auto v = MetricOf(m, "loss");
         return v && !std::isnan(*v) && *v <= 0;
       }},
      {"metrics.loss >= 9.5 and metrics.acc < 0.3",
       [](const Model& m) {
         auto l = MetricOf(m, "loss");
         auto a = MetricOf(m, "acc");
         return l && !std::isnan(*l) && *l >= 9.5 && a && *a < 0.3;
       }},
      {"params.lr = '3'", [](const Model& m) { return ParamOf(m, "lr") == "3"; }},
      {"params.lr != '3'",
       [](const Model& m) {
         auto v = ParamOf(m, "lr");
         return v && *v != "3";
       }},
      {"params.opt LIKE 'ada%'", [&](const Model& m) { return like(ParamOf(m, "opt"), "ada%", false); }},
      {"params.opt ILIKE 'ada%'", [&](const Model& m) { return like(ParamOf(m, "opt"), "ada%", true); }},
      {"params.opt LIKE '%*%'", [&](const Model& m) { return like(ParamOf(m, "opt"), "%*%", false); }},
      {"params.opt LIKE 'rms?prop'",
       [&](const Model& m) { return like(ParamOf(m, "opt"), "rms?prop", false); }},
      {"params.opt LIKE '[x]'", [&](const Model& m) { return like(ParamOf(m, "opt"), "[x]", false); }},
      {"params.opt LIKE 'sgd_%'", [&](const Model& m) { return like(ParamOf(m, "opt"), "sgd_%", false); }},
      {"params.opt IS NULL", [](const Model& m) { return !ParamOf(m, "opt"); }},
      {"params.lr IS NOT NULL and tags.team IS NULL",
       [](const Model& m) { return ParamOf(m, "lr") && !TagOf(m, "team"); }},
      {"tags.team = 'red'", [](const Model& m) { return TagOf(m, "team") == "red"; }},
      {"tags.team ILIKE 'RED'", [&](const Model& m) { return like(TagOf(m, "team"), "RED", true); }},
      {"tags.team LIKE 'green_%'", [&](const Model& m) { return like(TagOf(m, "team"), "green_%", false); }},
      {"tags.team != 'blue'",
       [](const Model& m) {
         auto v = TagOf(m, "team");
         return v && *v != "blue";
       }},
      {"attributes.status = 'FINISHED'", [](const Model& m) { return m.status == "FINISHED"; }},
      {"attributes.status != 'RUNNING'", [](const Model& m) { return m.status != "RUNNING"; }},
      {"attributes.user_id LIKE '%1'", [](const Model& m) { return m.user == "user1"; }},
      {"attributes.start_time >= 1200", [](const Model& m) { return m.start_time >= 1200; }},
      {"attributes.end_time < 1300",
       [](const Model& m) { return m.end_time.has_value() && *m.end_time < 1300; }},
      {"attributes.run_name = 'run-7'", [](const Model& m) { return m.name == "run-7"; }},
      {"attributes.run_name LIKE 'run-1%'", [](const Model& m) { return m.name.starts_with("run-1"); }},
      {"datasets.name = 'ds1'",
       [](const Model& m) {
         return std::any_of(m.datasets.begin(), m.datasets.end(), [](auto& d) { return d.first == "ds1"; });
       }},
      {"datasets.context = 'eval' and metrics.acc > 0.1",
       [](const Model& m) {
         auto a = MetricOf(m, "acc");
         return a && *a > 0.1 &&
                std::any_of(m.datasets.begin(), m.datasets.end(), [](auto& d) { return d.second == "eval"; });
       }},
      {"datasets.name IN ('ds0', 'ds2')",
       [](const Model& m) {
         return std::any_of(m.datasets.begin(), m.datasets.end(),
                            [](auto& d) { return d.first == "ds0" || d.first == "ds2"; });
       }},
  };
  struct OrderCase {
    std::vector<std::string> clauses;
    std::vector<Order> order;
  };
  const std::vector<OrderCase> orders = {
      {{}, {}},
      {{"metrics.loss DESC"}, {{Order::kMetric, "loss", false}}},
      {{"metrics.loss"}, {{Order::kMetric, "loss", true}}},
      {{"params.lr ASC", "metrics.acc DESC"}, {{Order::kParam, "lr", true}, {Order::kMetric, "acc", false}}},
      {{"tags.team DESC"}, {{Order::kTag, "team", false}}},
      {{"attributes.end_time ASC"}, {{Order::kEnd, "", true}}},
      {{"attributes.start_time ASC"}, {{Order::kStart, "", true}}},
      {{"attributes.run_name DESC", "attributes.status"},
       {{Order::kName, "", false}, {Order::kStatus, "", true}}},
  };
  int checked = 0;
  for (const FilterCase& f : filters) {
    for (std::size_t oi = 0; oi < orders.size(); ++oi) {
      // Every filter with the default order; every order with a few filters.
      if (oi != 0 && &f != &filters[0] && &f != &filters[1] && &f != &filters[7] && &f != &filters[15])
        continue;
      const OrderCase& o = orders[oi];
      RunSearch search;
      search.experiment_ids = experiments_;
      search.filter = f.filter;
      search.order_by = o.clauses;
      const auto expected = Expected(runs_, experiments_, ViewType::kActiveOnly, f.pred, o.order);
      EXPECT_EQ(AllPages(search, 50000), expected) << f.filter << " / order #" << oi;
      EXPECT_EQ(AllPages(search, 97), expected) << f.filter << " / order #" << oi << " in pages";
      ++checked;
    }
  }
  EXPECT_GT(checked, 50);

  // View types and one experiment only.
  RunSearch deleted;
  deleted.experiment_ids = {experiments_[1]};
  deleted.view = ViewType::kDeletedOnly;
  auto all = [](const Model&) { return true; };
  EXPECT_EQ(AllPages(deleted, 1000), Expected(runs_, {experiments_[1]}, ViewType::kDeletedOnly, all, {}));
  deleted.view = ViewType::kAll;
  deleted.filter = "metrics.acc > 0.9";
  EXPECT_EQ(AllPages(deleted, 10), Expected(runs_, {experiments_[1]}, ViewType::kAll,
                                            [](const Model& m) {
                                              auto v = MetricOf(m, "acc");
                                              return v && *v > 0.9;
                                            },
                                            {}));

  // run_id IN (...)
  RunSearch by_id;
  by_id.experiment_ids = experiments_;
  std::vector<std::string> some;
  for (int i = 0; i < 5; ++i)
    if (!runs_[i * 7].deleted) some.push_back(runs_[i * 7].id);
  by_id.filter = "attributes.run_id IN ('" + some[0];
  for (std::size_t i = 1; i < some.size(); ++i) by_id.filter += "', '" + some[i];
  by_id.filter += "')";
  by_id.order_by = {"attributes.start_time ASC"};
  EXPECT_EQ(AllPages(by_id, 2),
            Expected(runs_, experiments_, ViewType::kActiveOnly,
                     [&](const Model& m) { return std::find(some.begin(), some.end(), m.id) != some.end(); },
                     {{Order::kStart, "", true}}));
}

TEST_P(RunSearchTest, PagedResultsCarryRunData) {
  Populate(60);
  if (HasFatalFailure()) return;
  RunSearch search;
  search.experiment_ids = experiments_;
  search.view = ViewType::kAll;
  search.page.max_results = 1000;
  auto page = store_->SearchRuns(search);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), runs_.size());
  std::map<std::string, const Model*> by_id;
  for (const Model& m : runs_) by_id[m.id] = &m;
  for (const tracking::Run& r : page->items) {
    const Model& m = *by_id.at(r.info.run_id);
    EXPECT_EQ(r.info.run_name, m.name);
    EXPECT_EQ(r.info.user_id, m.user);
    EXPECT_EQ(r.info.end_time, m.end_time);
    EXPECT_EQ(r.info.lifecycle_stage, m.deleted ? LifecycleStage::kDeleted : LifecycleStage::kActive);
    ASSERT_EQ(r.metrics.size(), m.metrics.size());
    for (const Metric& metric : r.metrics) {
      const double want = m.metrics.at(metric.key);
      if (std::isnan(want)) {
        EXPECT_TRUE(std::isnan(metric.value));
      } else {
        EXPECT_EQ(metric.value, want);
      }
    }
    std::map<std::string, std::string> params, tags;
    for (const Param& p : r.params) params[p.key] = p.value;
    for (const Tag& t : r.tags) tags[t.key] = t.value;
    EXPECT_EQ(params, m.params);
    EXPECT_EQ(tags, m.tags);
    EXPECT_EQ(r.dataset_inputs.size(), m.datasets.size());
  }
}

TEST_P(RunSearchTest, BadSearchesAreInvalidArgument) {
  auto exp = store_->CreateExperiment("e", "", {});
  ASSERT_TRUE(exp.ok());
  RunSearch s;
  s.experiment_ids = {*exp};
  auto code = [&](const std::string& filter, std::vector<std::string> order = {}) {
    s.filter = filter;
    s.order_by = std::move(order);
    return store_->SearchRuns(s).status().code();
  };
  EXPECT_EQ(code("metrics.acc > 'x'"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("acc > 1"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("metrics.acc > 1 OR metrics.acc < 0"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("attributes.nope = 'x'"), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("", {"metrics.acc DESC", "metrics.acc ASC"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("", {"nonsense here now"}), StatusCode::kInvalidArgument);
  EXPECT_EQ(code("params.x = '\xff'"), StatusCode::kInvalidArgument);
  s.filter.clear();
  s.order_by.clear();
  s.page.page_token = "garbage";
  EXPECT_EQ(store_->SearchRuns(s).status().code(), StatusCode::kInvalidArgument);
  s.page.page_token.clear();
  s.page.max_results = 50001;
  EXPECT_EQ(store_->SearchRuns(s).status().code(), StatusCode::kInvalidArgument);
  s.page.max_results = 0;
  EXPECT_EQ(store_->SearchRuns(s).status().code(), StatusCode::kInvalidArgument);
  s.page.max_results = 10;
  s.experiment_ids = {"not-a-number"};
  EXPECT_EQ(store_->SearchRuns(s).status().code(), StatusCode::kInvalidArgument);
  s.experiment_ids = {};
  auto none = store_->SearchRuns(s);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->items.empty());

  // A token from one search is refused by another.
  CreateRunRequest create;
  create.experiment_id = *exp;
  ASSERT_TRUE(store_->CreateRun(create).ok());
  ASSERT_TRUE(store_->CreateRun(create).ok());
  s.experiment_ids = {*exp};
  s.page.max_results = 1;
  auto first = store_->SearchRuns(s);
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(first->next_page_token.empty());
  s.page.page_token = first->next_page_token;
  s.filter = "metrics.acc > 1";
  EXPECT_EQ(store_->SearchRuns(s).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, RunSearchTest, AllBackends(), BackendName);

TEST(RunSearchSqlTest, LikeToGlob) {
  EXPECT_EQ(LikeToGlob("a%b_c"), "a*b?c");
  EXPECT_EQ(LikeToGlob("*?[]"), "[*][?][[]]");
  EXPECT_EQ(LikeToGlob("*?[x]"), "[*][?][[]x]");
  EXPECT_EQ(LikeToGlob(""), "");
}

TEST(RunSearchSqlTest, ValuesAreBoundNeverPasted) {
  std::vector<FilterTerm> filter = {
      FilterTerm{TermKind::kParam, "x'; DROP TABLE runs; --", Comparator::kEq, std::string("v' OR '1'='1")},
      FilterTerm{TermKind::kMetric, "m", Comparator::kGt, 1.5}};
  auto q = internal::BuildRunSearchQuery(store::Dialect::kSqlite, {1}, ViewType::kActiveOnly, filter,
                                         {OrderTerm{TermKind::kTag, "t'", false}}, {"tags.`t'` DESC"});
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_THAT(q->sql, ::testing::Not(HasSubstr("DROP")));
  EXPECT_THAT(q->sql, ::testing::Not(HasSubstr("'1'='1")));
  EXPECT_EQ(q->params.size(), 6u);  // tag key, experiment, param key, value, metric key, value
}

TEST(RunSearchSqlTest, FingerprintIsStable) {
  EXPECT_EQ(internal::Fingerprint("abc"), internal::Fingerprint("abc"));
  EXPECT_NE(internal::Fingerprint("abc"), internal::Fingerprint("abd"));
  EXPECT_EQ(internal::Fingerprint("").size(), 16u);
}

}  // namespace
}  // namespace ferry::tracking
