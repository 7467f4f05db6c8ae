#pragma once
// Router: where the control plane's gateway sends a request for an
// endpoint (an InferenceService): which revision — the canary split — and
// which of that revision's ready replicas, counting requests in flight so
// the autoscaler can size each revision and a rollout can drain a replica
// before stopping it. It knows addresses only; the gateway (api/) does the
// HTTP, the DeploymentController (deployments/) publishes the routes.
//
// Split: smooth weighted round-robin over the revisions with percent > 0
// (nginx's algorithm), so any window of 100 requests follows the percents
// to within one request; then the ready replica of that revision with the
// fewest requests in flight (ties: round-robin).
//
// Scale from zero: Acquire on an endpoint whose chosen revision has no
// ready replica counts the request as waiting (LoadOf().waiting, which the
// controller reads to start one) and blocks until SetRoutes publishes a
// replica or `wait` passes.
//
// Thread-safety: thread-safe. Acquire is on every request's path: one
// mutex, no allocation beyond the Lease.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/common/status.h"

namespace ferry::serving {

struct RevisionRoute {
  std::string revision;               // "<endpoint>-predictor-00002"
  int percent = 0;                    // traffic share, 0..100; the percents of
                                      // an endpoint sum to 100
  std::vector<std::string> replicas;  // ready replicas, "127.0.0.1:PORT"
};

// Which requests of an endpoint the gateway logs (KServe's logger mode and
// Ferry's sample rate); decided per request at Acquire.
struct PayloadLogging {
  bool requests = false;
  bool responses = false;
  double sample_rate = 1.0;  // 0..1
};

struct EndpointLoad {
  std::int64_t in_flight = 0;       // requests holding a Lease now
  std::int64_t waiting = 0;         // requests blocked for want of a replica
  std::int64_t requests_total = 0;  // leases ever granted
};

class Router {
 public:
  Router() = default;
  ~Router();  // wakes and fails every waiter (Unavailable)
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  // A granted request: the replica to send it to. Releases its in-flight
  // count when destroyed. Movable.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();
    const std::string& address() const { return address_; }
    const std::string& revision() const { return revision_; }
    // Whether this request was sampled for the payload log, and what of it.
    bool log_request() const { return log_request_; }
    bool log_response() const { return log_response_; }

   private:
    friend class Router;
    std::shared_ptr<void> release_;  // decrements the counts when reset
    std::string address_, revision_;
    bool log_request_ = false, log_response_ = false;
  };

  // Publishes (replaces) the routes of `endpoint` ("ns/name"). Counts of
  // revisions and replicas that stay are kept; waiters are woken.
  void SetRoutes(const std::string& endpoint, std::vector<RevisionRoute> routes, PayloadLogging logging = {});
  // Forgets `endpoint`; its waiters fail with NotFound. Leases out keep
  // working (their counts go nowhere).
  void Remove(const std::string& endpoint);

  // NotFound "endpoint 'x' not found" when no routes were published;
  // Unavailable "endpoint 'x' has no ready replica" when none became ready
  // within `wait`.
  Result<Lease> Acquire(std::string_view endpoint, std::chrono::milliseconds wait);

  // The load of one revision of an endpoint (zeros when unknown), and of
  // one replica address (in flight only): for autoscaling and draining.
  EndpointLoad LoadOf(std::string_view endpoint, std::string_view revision) const;
  std::int64_t InFlight(std::string_view address) const;
  // Requests waiting on `endpoint` for a revision that has no replica.
  std::int64_t Waiting(std::string_view endpoint) const;

 private:
  struct State;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<State> state_;
};

}  // namespace ferry::serving
