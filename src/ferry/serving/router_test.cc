// Router: the exact canary split of smooth weighted round-robin, the least
// loaded replica, waiting for a replica (scale from zero), Remove and
// shutdown failing waiters, leases outliving their routes, and counts that
// balance under concurrent acquire/release.

#include "ferry/serving/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ferry::serving {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr char kEp[] = "default/iris";

std::vector<RevisionRoute> TwoRevisions(int a_percent, int b_percent) {
  return {{"iris-predictor-00001", a_percent, {"127.0.0.1:1001"}},
          {"iris-predictor-00002", b_percent, {"127.0.0.1:1002"}}};
}

std::map<std::string, int> CountRevisions(Router& router, int n) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) {
    auto lease = router.Acquire(kEp, 0ms);
    EXPECT_TRUE(lease.ok()) << lease.status().ToString();
    if (!lease.ok()) break;
    ++counts[lease->revision()];
  }
  return counts;
}

// Spins (yielding) until `done` holds; the waits in these tests end as soon
// as the other thread reaches its state.
template <typename F>
void AwaitTrue(F done) {
  while (!done()) std::this_thread::yield();
}

TEST(RouterTest, SplitIsExactOverAThousandRequests) {
  struct Case {
    int a, b;
  };
  for (Case c : {Case{20, 80}, Case{0, 100}, Case{33, 67}, Case{50, 50}, Case{100, 0}}) {
    Router router;
    router.SetRoutes(kEp, TwoRevisions(c.a, c.b));
    auto counts = CountRevisions(router, 1000);
    EXPECT_EQ(counts["iris-predictor-00001"], c.a * 10) << c.a << "/" << c.b;
    EXPECT_EQ(counts["iris-predictor-00002"], c.b * 10) << c.a << "/" << c.b;
  }
}

TEST(RouterTest, EveryWindowOfAHundredFollowsThePercentsWithinOne) {
  Router router;
  router.SetRoutes(kEp, TwoRevisions(33, 67));
  std::vector<int> is_a;
  for (int i = 0; i < 500; ++i) {
    auto lease = router.Acquire(kEp, 0ms);
    ASSERT_TRUE(lease.ok());
    is_a.push_back(lease->revision() == "iris-predictor-00001" ? 1 : 0);
  }
  for (std::size_t start = 0; start + 100 <= is_a.size(); ++start) {
    int a = 0;
    for (std::size_t i = start; i < start + 100; ++i) a += is_a[i];
    EXPECT_NEAR(a, 33, 1) << "window at " << start;
  }
}

TEST(RouterTest, RepublishingTheSameSplitDoesNotBiasIt) {
  Router router;
  std::map<std::string, int> counts;
  for (int i = 0; i < 1000; ++i) {
    // The controller republishes (e.g. a replica became ready) between requests.
    router.SetRoutes(kEp, TwoRevisions(33, 67));
    auto lease = router.Acquire(kEp, 0ms);
    ASSERT_TRUE(lease.ok());
    ++counts[lease->revision()];
  }
  EXPECT_EQ(counts["iris-predictor-00001"], 330);
}

TEST(RouterTest, PicksTheReplicaWithFewestInFlight) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {"a:1", "b:2", "c:3"}}});
  // Equal loads: round-robin over all three.
  auto l1 = router.Acquire(kEp, 0ms);
  auto l2 = router.Acquire(kEp, 0ms);
  auto l3 = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(l1.ok() && l2.ok() && l3.ok());
  std::set<std::string> first{l1->address(), l2->address(), l3->address()};
  EXPECT_EQ(first.size(), 3u);
  // Free one: it is now the least loaded, whatever the round-robin says.
  const std::string freed = l2->address();
  *l2 = Router::Lease();
  for (int i = 0; i < 3; ++i) {
    auto l = router.Acquire(kEp, 0ms);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->address(), freed);
  }
  EXPECT_EQ(router.InFlight(l1->address()), 1);
  EXPECT_EQ(router.InFlight(freed), 0);  // the three above were released
  EXPECT_EQ(router.InFlight("nowhere:1"), 0);
}

TEST(RouterTest, UnknownEndpointIsNotFound) {
  Router router;
  auto lease = router.Acquire("default/nope", 1s);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(lease.status().message(), HasSubstr("endpoint 'default/nope' not found"));
}

TEST(RouterTest, AcquireWaitsForAReplicaThenSucceeds) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {}}});  // scaled to zero
  std::optional<Result<Router::Lease>> result;
  std::thread waiter([&] { result.emplace(router.Acquire(kEp, 60s)); });
  AwaitTrue([&] { return router.Waiting(kEp) == 1; });
  EXPECT_EQ(router.LoadOf(kEp, "r1").waiting, 1);
  router.SetRoutes(kEp, {{"r1", 100, {"127.0.0.1:5000"}}});
  waiter.join();
  ASSERT_TRUE(result->ok()) << result->status().ToString();
  EXPECT_EQ((*result)->address(), "127.0.0.1:5000");
  EXPECT_EQ(router.Waiting(kEp), 0);
  EXPECT_EQ(router.LoadOf(kEp, "r1").waiting, 0);
  EXPECT_EQ(router.LoadOf(kEp, "r1").in_flight, 1);
}

TEST(RouterTest, AcquireTimesOutUnavailable) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {}}});
  auto lease = router.Acquire(kEp, 20ms);
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(lease.status().message(), HasSubstr("endpoint 'default/iris' has no ready replica"));
  EXPECT_EQ(router.Waiting(kEp), 0);
  // An endpoint published with no revisions at all waits the same way.
  router.SetRoutes(kEp, {});
  EXPECT_EQ(router.Acquire(kEp, 0ms).status().code(), StatusCode::kUnavailable);
}

TEST(RouterTest, RemoveWakesWaitersWithNotFound) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {}}});
  std::vector<std::optional<Result<Router::Lease>>> results(3);
  std::vector<std::thread> waiters;
  for (auto& r : results) waiters.emplace_back([&router, &r] { r.emplace(router.Acquire(kEp, 60s)); });
  AwaitTrue([&] { return router.Waiting(kEp) == 3; });
  router.Remove(kEp);
  for (auto& t : waiters) t.join();
  for (auto& r : results) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->status().code(), StatusCode::kNotFound);
    EXPECT_THAT(r->status().message(), HasSubstr("default/iris"));
  }
  EXPECT_EQ(router.Acquire(kEp, 0ms).status().code(), StatusCode::kNotFound);
}

TEST(RouterTest, DestructorFailsWaitersUnavailable) {
  auto router = std::make_unique<Router>();
  router->SetRoutes(kEp, {{"r1", 100, {}}});
  std::optional<Result<Router::Lease>> result;
  std::thread waiter([&] { result.emplace(router->Acquire(kEp, 60s)); });
  AwaitTrue([&] { return router->Waiting(kEp) == 1; });
  router.reset();
  waiter.join();
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->status().code(), StatusCode::kUnavailable);
}

TEST(RouterTest, LeasesOutliveRemoveAndRouteChanges) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}});
  auto lease = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(lease.ok());
  // A rollout moves traffic away: the old address stays counted until its
  // last request ends, so the controller can drain it.
  router.SetRoutes(kEp, {{"r2", 100, {"b:2"}}});
  EXPECT_EQ(router.InFlight("a:1"), 1);
  router.Remove(kEp);
  EXPECT_EQ(lease->address(), "a:1");
  EXPECT_EQ(lease->revision(), "r1");
  EXPECT_EQ(router.InFlight("a:1"), 1);
  Router::Lease moved = std::move(*lease);
  *lease = Router::Lease();
  EXPECT_EQ(router.InFlight("a:1"), 1);
  moved = Router::Lease();
  EXPECT_EQ(router.InFlight("a:1"), 0);
  EXPECT_EQ(router.LoadOf(kEp, "r1").in_flight, 0);  // unknown now: zeros
}

TEST(RouterTest, CountsSurviveRepublishingOfAKeptRevision) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}});
  auto lease = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(lease.ok());
  router.SetRoutes(kEp, {{"r1", 100, {"a:1", "b:2"}}});
  EndpointLoad load = router.LoadOf(kEp, "r1");
  EXPECT_EQ(load.in_flight, 1);
  EXPECT_EQ(load.requests_total, 1);
  auto second = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->address(), "b:2");  // a:1 is busy
  EXPECT_EQ(router.LoadOf(kEp, "r1").in_flight, 2);
  EXPECT_EQ(router.LoadOf(kEp, "r1").requests_total, 2);
  EXPECT_EQ(router.LoadOf(kEp, "nope").requests_total, 0);
}

TEST(RouterTest, ConcurrentAcquireAndReleaseBalance) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 30, {"a:1", "b:2"}}, {"r2", 70, {"c:3", "d:4"}}});
  constexpr int kThreads = 8, kPerThread = 5000;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Router::Lease> held;
      for (int i = 0; i < kPerThread; ++i) {
        auto lease = router.Acquire(kEp, 1s);
        if (!lease.ok()) {
          ++failures;
          continue;
        }
        held.push_back(std::move(*lease));
        if (held.size() > static_cast<std::size_t>(t % 4)) held.erase(held.begin());
        // Republish now and then, as the controller does while scaling.
        if (t == 0 && i % 500 == 0) {
          router.SetRoutes(kEp, {{"r1", 30, {"a:1", "b:2"}}, {"r2", 70, {"c:3", "d:4"}}});
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EndpointLoad r1 = router.LoadOf(kEp, "r1"), r2 = router.LoadOf(kEp, "r2");
  EXPECT_EQ(r1.in_flight, 0);
  EXPECT_EQ(r2.in_flight, 0);
  EXPECT_EQ(r1.requests_total + r2.requests_total, kThreads * kPerThread);
  EXPECT_EQ(r1.requests_total, kThreads * kPerThread * 30 / 100);
  for (const char* a : {"a:1", "b:2", "c:3", "d:4"}) EXPECT_EQ(router.InFlight(a), 0) << a;
}

TEST(RouterTest, PayloadLoggingSample) {
  Router router;
  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}}, PayloadLogging{true, false, 1.0});
  auto all = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->log_request());
  EXPECT_FALSE(all->log_response());

  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}}, PayloadLogging{true, true, 0.0});
  for (int i = 0; i < 100; ++i) {
    auto none = router.Acquire(kEp, 0ms);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->log_request() || none->log_response());
  }

  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}}, PayloadLogging{true, true, 0.25});
  int sampled = 0;
  for (int i = 0; i < 10000; ++i) {
    auto l = router.Acquire(kEp, 0ms);
    ASSERT_TRUE(l.ok());
    EXPECT_EQ(l->log_request(), l->log_response());  // one decision per request
    sampled += l->log_request() ? 1 : 0;
  }
  EXPECT_GT(sampled, 2000);
  EXPECT_LT(sampled, 3000);

  router.SetRoutes(kEp, {{"r1", 100, {"a:1"}}});  // logging off by default
  auto off = router.Acquire(kEp, 0ms);
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->log_request() || off->log_response());
}

}  // namespace
}  // namespace ferry::serving
