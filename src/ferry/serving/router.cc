#include "ferry/serving/router.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <limits>
#include <thread>
#include <utility>

namespace ferry::serving {
namespace {

// Counts of one revision. Shared with the leases and waiters that use it so
// they stay valid across SetRoutes (and after Remove, where they "go
// nowhere"): releasing a lease never takes the router's mutex.
struct RevisionCounts {
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::int64_t> waiting{0};
  std::atomic<std::int64_t> requests_total{0};
};

using AddressCount = std::atomic<std::int64_t>;

struct Replica {
  std::string address;
  std::shared_ptr<AddressCount> in_flight;  // shared by every route to the address
};

struct Revision {
  std::string name;
  int percent = 0;
  int current_weight = 0;  // smooth weighted round-robin state
  std::vector<Replica> replicas;
  std::size_t next = 0;  // where the round-robin among equally loaded replicas starts
  std::shared_ptr<RevisionCounts> counts;
};

struct Endpoint {
  std::vector<Revision> revisions;
  PayloadLogging logging;
  std::int64_t waiting = 0;  // under the router's mutex
  bool removed = false;      // under the router's mutex; tells waiters to fail
};

// What a Lease releases when destroyed: one allocation per lease.
struct Releaser {
  Releaser(std::shared_ptr<RevisionCounts> r, std::shared_ptr<AddressCount> a)
      : revision(std::move(r)), address(std::move(a)) {}
  Releaser(const Releaser&) = delete;
  Releaser& operator=(const Releaser&) = delete;
  std::shared_ptr<RevisionCounts> revision;
  std::shared_ptr<AddressCount> address;
  ~Releaser() {
    revision->in_flight.fetch_sub(1, std::memory_order_relaxed);
    address->fetch_sub(1, std::memory_order_relaxed);
  }
};

// Cheap per-thread PRNG for the payload-logging sample (xorshift64*): a
// request's path must not contend on a shared generator.
double NextUnitRandom() {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = std::hash<std::thread::id>{}(std::this_thread::get_id());
    seed ^= reinterpret_cast<std::uintptr_t>(&seed) + 0x9E3779B97F4A7C15ULL;
    return seed == 0 ? 0x9E3779B97F4A7C15ULL : seed;
  }();
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  const std::uint64_t r = state * 0x2545F4914F6CDD1DULL;
  return static_cast<double>(r >> 11) * 0x1.0p-53;
}

bool Sampled(double rate) {
  if (rate >= 1.0) return true;
  if (!(rate > 0.0)) return false;  // also NaN
  return NextUnitRandom() < rate;
}

// nginx's smooth weighted round-robin: each pick adds every weight to its
// current weight, takes the largest and subtracts the total from it.
Revision* PickRevision(std::vector<Revision>& revisions) {
  Revision* best = nullptr;
  int total = 0;
  for (Revision& r : revisions) {
    if (r.percent <= 0) continue;
    r.current_weight += r.percent;
    total += r.percent;
    if (best == nullptr || r.current_weight > best->current_weight) best = &r;
  }
  if (best != nullptr) best->current_weight -= total;
  return best;
}

// The replica with the fewest requests in flight; ties go round-robin.
Replica* PickReplica(Revision& revision) {
  const std::size_t n = revision.replicas.size();
  if (n == 0) return nullptr;
  std::size_t best = 0;
  std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t idx = (revision.next + i) % n;
    const std::int64_t load = revision.replicas[idx].in_flight->load(std::memory_order_relaxed);
    if (load < best_load) {
      best_load = load;
      best = idx;
    }
  }
  revision.next = (best + 1) % n;
  return &revision.replicas[best];
}

}  // namespace

struct Router::State {
  std::map<std::string, std::shared_ptr<Endpoint>, std::less<>> endpoints;
  // In flight per replica address, across endpoints and past Remove, so a
  // rollout can drain an address it no longer routes to.
  std::map<std::string, std::shared_ptr<AddressCount>, std::less<>> addresses;
  int acquiring = 0;  // threads inside Acquire's wait
  bool closed = false;

  // Drops idle address counters no route uses any more. A counter at zero
  // that no route names can gain no lease (leases are made under the mutex).
  void CollectAddresses() {
    for (auto it = addresses.begin(); it != addresses.end();) {
      if (it->second->load() == 0 && !Routed(it->first)) {
        it = addresses.erase(it);
      } else {
        ++it;
      }
    }
  }
  bool Routed(std::string_view address) const {
    for (const auto& [name, ep] : endpoints) {
      for (const Revision& r : ep->revisions) {
        for (const Replica& rep : r.replicas) {
          if (rep.address == address) return true;
        }
      }
    }
    return false;
  }
};

Router::Lease::Lease(Lease&& other) noexcept = default;
Router::Lease& Router::Lease::operator=(Lease&& other) noexcept = default;
Router::Lease::~Lease() = default;

Router::~Router() {
  std::unique_lock lock(mu_);
  if (!state_) return;
  state_->closed = true;
  cv_.notify_all();
  cv_.wait(lock, [&] { return state_->acquiring == 0; });
}

void Router::SetRoutes(const std::string& endpoint, std::vector<RevisionRoute> routes, PayloadLogging logging) {
  std::lock_guard lock(mu_);
  if (!state_) state_ = std::make_shared<State>();
  auto& slot = state_->endpoints[endpoint];
  std::vector<Revision> old;
  if (slot) {
    old = std::move(slot->revisions);
  } else {
    slot = std::make_shared<Endpoint>();
  }
  std::vector<Revision> revisions;
  revisions.reserve(routes.size());
  for (RevisionRoute& route : routes) {
    Revision rev;
    rev.name = std::move(route.revision);
    rev.percent = std::clamp(route.percent, 0, 100);
    auto kept = std::find_if(old.begin(), old.end(), [&](const Revision& r) { return r.name == rev.name; });
    if (kept != old.end()) {
      rev.counts = kept->counts;
      rev.next = kept->next;
      rev.current_weight = kept->current_weight;
    } else {
      rev.counts = std::make_shared<RevisionCounts>();
    }
    for (std::string& address : route.replicas) {
      auto& counter = state_->addresses[address];
      if (!counter) counter = std::make_shared<AddressCount>(0);
      rev.replicas.push_back(Replica{std::move(address), counter});
    }
    if (!rev.replicas.empty()) rev.next %= rev.replicas.size();
    revisions.push_back(std::move(rev));
  }
  // A changed split restarts the round-robin so the new percents hold from
  // the first request on; an unchanged one (new replicas only) continues it,
  // so frequent republishing does not bias the split.
  bool same_split = old.size() == revisions.size();
  for (std::size_t i = 0; same_split && i < old.size(); ++i) {
    same_split = old[i].name == revisions[i].name && old[i].percent == revisions[i].percent;
  }
  if (!same_split) {
    for (Revision& r : revisions) r.current_weight = 0;
  }
  slot->revisions = std::move(revisions);
  slot->logging = logging;
  state_->CollectAddresses();
  cv_.notify_all();
}

void Router::Remove(const std::string& endpoint) {
  std::lock_guard lock(mu_);
  if (!state_) return;
  auto it = state_->endpoints.find(endpoint);
  if (it == state_->endpoints.end()) return;
  it->second->removed = true;
  state_->endpoints.erase(it);
  state_->CollectAddresses();
  cv_.notify_all();
}

Result<Router::Lease> Router::Acquire(std::string_view endpoint, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  std::unique_lock lock(mu_);
  auto not_found = [&] { return NotFound("endpoint '" + std::string(endpoint) + "' not found"); };
  if (!state_ || state_->closed) return not_found();
  auto it = state_->endpoints.find(endpoint);
  if (it == state_->endpoints.end()) return not_found();
  std::shared_ptr<Endpoint> ep = it->second;

  while (true) {
    if (state_->closed) return Unavailable("endpoint '" + std::string(endpoint) + "' is shutting down");
    if (ep->removed) return not_found();
    Revision* rev = PickRevision(ep->revisions);
    if (rev != nullptr) {
      if (Replica* replica = PickReplica(*rev)) {
        rev->counts->in_flight.fetch_add(1, std::memory_order_relaxed);
        rev->counts->requests_total.fetch_add(1, std::memory_order_relaxed);
        replica->in_flight->fetch_add(1, std::memory_order_relaxed);
        Lease lease;
        lease.release_ = std::make_shared<Releaser>(rev->counts, replica->in_flight);
        lease.address_ = replica->address;
        lease.revision_ = rev->name;
        const PayloadLogging& logging = ep->logging;
        if ((logging.requests || logging.responses) && Sampled(logging.sample_rate)) {
          lease.log_request_ = logging.requests;
          lease.log_response_ = logging.responses;
        }
        return lease;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return Unavailable("endpoint '" + std::string(endpoint) + "' has no ready replica");
    }
    // No replica for the chosen revision (scaled to zero, or none ready
    // yet): wait, visibly, for the controller to publish one.
    std::shared_ptr<RevisionCounts> counts = rev != nullptr ? rev->counts : nullptr;
    if (counts) counts->waiting.fetch_add(1, std::memory_order_relaxed);
    ++ep->waiting;
    ++state_->acquiring;
    cv_.wait_until(lock, deadline);
    --state_->acquiring;
    --ep->waiting;
    if (counts) counts->waiting.fetch_sub(1, std::memory_order_relaxed);
    if (state_->closed) cv_.notify_all();  // the destructor waits for acquiring == 0
  }
}

EndpointLoad Router::LoadOf(std::string_view endpoint, std::string_view revision) const {
  std::lock_guard lock(mu_);
  EndpointLoad load;
  if (!state_) return load;
  auto it = state_->endpoints.find(endpoint);
  if (it == state_->endpoints.end()) return load;
  for (const Revision& r : it->second->revisions) {
    if (r.name != revision) continue;
    load.in_flight = r.counts->in_flight.load(std::memory_order_relaxed);
    load.waiting = r.counts->waiting.load(std::memory_order_relaxed);
    load.requests_total = r.counts->requests_total.load(std::memory_order_relaxed);
  }
  return load;
}

std::int64_t Router::InFlight(std::string_view address) const {
  std::lock_guard lock(mu_);
  if (!state_) return 0;
  auto it = state_->addresses.find(address);
  return it == state_->addresses.end() ? 0 : it->second->load(std::memory_order_relaxed);
}

std::int64_t Router::Waiting(std::string_view endpoint) const {
  std::lock_guard lock(mu_);
  if (!state_) return 0;
  auto it = state_->endpoints.find(endpoint);
  return it == state_->endpoints.end() ? 0 : it->second->waiting;
}

}  // namespace ferry::serving
