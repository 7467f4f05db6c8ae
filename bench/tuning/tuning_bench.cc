// Ferry's samplers on the analytic problems of the tuning benchmark (issue 6),
// in-process, fed the way StudyService feeds them: one long-lived sampler per
// study, trials asked one at a time, each appended RUNNING before it is
// evaluated and completed before the next Ask. bench/tuning.py runs this
// beside Optuna and compares; this program only measures and prints JSON.
//
//   tuning_bench quality [--problems=branin,...] [--samplers=tpe,...]
//                        [--seeds=20] [--seed-base=0] [--trials=200]
//     per (problem, sampler, seed): the best value after --trials trials,
//     the best-so-far curve and the seconds spent in Ask.
//   tuning_bench latency [--samplers=...] [--sizes=100,1000,10000]
//                        [--asks=30] [--problem=hartmann6] [--seed=0]
//     per (sampler, size): the history is `size` complete trials at
//     uniformly random points (each with the problem's value); a fresh
//     sampler's first Ask is timed alone ("cold"), then --asks more, each
//     told before the next, as a long-lived study's are ("warm": median,
//     p90, mean, max).
//   tuning_bench problems
//     the problems: name, dimension, bounds and known minimum.
//   tuning_bench eval --problem=NAME
//     the problem's value at each point read from stdin (one point per
//     line, coordinates separated by spaces), one per line: the Python
//     side checks its own copies of the functions against these.
//
// Prints numbers; asserts nothing.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ferry/tuning/sampler.h"
#include "ferry/tuning/space.h"
#include "ferry/tuning/testing/functions.h"

namespace {

namespace tuning = ferry::tuning;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

struct Problem {
  std::string name;
  std::vector<std::pair<double, double>> bounds;  // per dimension
  std::function<double(const std::vector<double>&)> f;
  double minimum = 0;

  tuning::SearchSpace Space() const {
    tuning::SearchSpace space;
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      tuning::ParamSpec p;
      p.name = "x" + std::to_string(i);
      p.type = tuning::ParamType::kDouble;
      p.min = bounds[i].first;
      p.max = bounds[i].second;
      space.params.push_back(std::move(p));
    }
    return space;
  }
};

std::vector<std::pair<double, double>> Box(std::size_t d, double lo, double hi) {
  return std::vector<std::pair<double, double>>(d, {lo, hi});
}

// Domains as in the Virtual Library of Simulation Experiments and BoTorch's
// test functions. The minima are exact except Hartmann6's (to 6 digits).
const std::vector<Problem>& Problems() {
  namespace t = tuning::testing;
  static const std::vector<Problem> kProblems = {
      {"branin", {{-5, 10}, {0, 15}}, t::Branin, t::kBraninMin},
      {"hartmann6", Box(6, 0, 1), t::Hartmann6, -3.32237},
      {"rosenbrock10", Box(10, -5, 10), t::Rosenbrock, 0},
      {"ackley5", Box(5, -32.768, 32.768), t::Ackley, 0},
      {"levy5", Box(5, -10, 10), t::Levy, 0},
  };
  return kProblems;
}

const Problem* FindProblem(std::string_view name) {
  for (const Problem& p : Problems()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "tuning_bench: %s\n", message.c_str());
  std::exit(2);
}

std::vector<std::string> Split(std::string_view text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::size_t end = comma == std::string_view::npos ? text.size() : comma;
    if (end > start) out.emplace_back(text.substr(start, end - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

// --name=value flags after the mode; unknown names are an error.
class Flags {
 public:
  Flags(int argc, char** argv, std::map<std::string, std::string> defaults) : values_(std::move(defaults)) {
    for (int i = 2; i < argc; ++i) {
      std::string_view arg = argv[i];
      const std::size_t eq = arg.find('=');
      if (!arg.starts_with("--") || eq == std::string_view::npos)
        Fail("expected --name=value, got " + std::string(arg));
      std::string name(arg.substr(2, eq - 2));
      if (!values_.count(name)) Fail("unknown flag --" + name);
      values_[name] = std::string(arg.substr(eq + 1));
    }
  }
  const std::string& Text(const std::string& name) const { return values_.at(name); }
  std::vector<std::string> List(const std::string& name) const { return Split(Text(name)); }
  std::int64_t Int(const std::string& name) const {
    try {
      return std::stoll(Text(name));
    } catch (const std::exception&) {
      Fail("--" + name + " must be an integer");
    }
  }
  std::vector<std::int64_t> Ints(const std::string& name) const {
    std::vector<std::int64_t> out;
    for (const std::string& s : List(name)) {
      try {
        out.push_back(std::stoll(s));
      } catch (const std::exception&) {
        Fail("--" + name + " must be a list of integers");
      }
    }
    return out;
  }

 private:
  std::map<std::string, std::string> values_;
};

std::unique_ptr<tuning::Sampler> Make(const std::string& algorithm, const tuning::SearchSpace& space,
                                      std::uint64_t seed) {
  auto made = tuning::MakeSampler(algorithm, {}, space, seed);
  if (!made.ok()) Fail("sampler " + algorithm + ": " + made.status().ToString());
  return std::move(*made);
}

double Seconds(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

// Asks, records the trial as RUNNING (with the sampler's attrs), evaluates,
// completes: one trial exactly as StudyService runs it for a sequential
// worker. Returns the time spent in Ask.
double RunTrial(tuning::Sampler& sampler, const tuning::SearchSpace& space,
                std::vector<tuning::Trial>& trials,
                const std::function<double(const std::vector<double>&)>& f) {
  const tuning::StudyView view{space, tuning::Direction::kMinimize, trials};
  const auto start = Clock::now();
  auto suggestion = sampler.Ask(view);
  const auto end = Clock::now();
  if (!suggestion.ok()) Fail("Ask: " + suggestion.status().ToString());
  tuning::Trial t;
  t.number = static_cast<std::int64_t>(trials.size());
  t.state = tuning::TrialState::kRunning;
  t.params = std::move(suggestion->params);
  t.attrs = std::move(suggestion->attrs);
  trials.push_back(std::move(t));
  tuning::Trial& told = trials.back();
  told.value = f(told.params);
  told.state = tuning::TrialState::kComplete;
  return Seconds(start, end);
}

int Quality(const Flags& flags) {
  const std::int64_t seeds = flags.Int("seeds"), seed_base = flags.Int("seed-base"), n = flags.Int("trials");
  Json out;
  out["trials"] = n;
  out["runs"] = Json::array();
  for (const std::string& problem_name : flags.List("problems")) {
    const Problem* problem = FindProblem(problem_name);
    if (!problem) Fail("unknown problem " + problem_name);
    const tuning::SearchSpace space = problem->Space();
    for (const std::string& algorithm : flags.List("samplers")) {
      for (std::int64_t s = 0; s < seeds; ++s) {
        const std::int64_t seed = seed_base + s;
        auto sampler = Make(algorithm, space, static_cast<std::uint64_t>(seed));
        std::vector<tuning::Trial> trials;
        trials.reserve(static_cast<std::size_t>(n));
        Json curve = Json::array();
        double best = std::numeric_limits<double>::infinity(), ask_seconds = 0;
        const auto start = Clock::now();
        for (std::int64_t i = 0; i < n; ++i) {
          ask_seconds += RunTrial(*sampler, space, trials, problem->f);
          best = std::min(best, *trials.back().value);
          curve.push_back(best);
        }
        Json run;
        run["problem"] = problem->name;
        run["sampler"] = algorithm;
        run["seed"] = seed;
        run["best"] = best;
        run["ask_seconds"] = ask_seconds;
        run["seconds"] = Seconds(start, Clock::now());
        run["curve"] = std::move(curve);
        out["runs"].push_back(std::move(run));
        std::fprintf(stderr, "ferry %s %s seed %lld: best %.6g (%.2f s)\n", problem->name.c_str(),
                     algorithm.c_str(), static_cast<long long>(seed), best, ask_seconds);
      }
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}

double Quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double rank = q * static_cast<double>(v.size() - 1);
  const std::size_t lo = static_cast<std::size_t>(std::floor(rank));
  const std::size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (rank - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

int Latency(const Flags& flags) {
  const Problem* problem = FindProblem(flags.Text("problem"));
  if (!problem) Fail("unknown problem " + flags.Text("problem"));
  const tuning::SearchSpace space = problem->Space();
  const std::int64_t asks = flags.Int("asks"), seed = flags.Int("seed");
  if (asks < 1) Fail("--asks must be at least 1");
  Json out;
  out["problem"] = problem->name;
  out["dimension"] = problem->bounds.size();
  out["results"] = Json::array();
  for (const std::int64_t size : flags.Ints("sizes")) {
    // The same random history for every sampler at this size.
    std::vector<tuning::Trial> history;
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) * 1000003 + static_cast<std::uint64_t>(size));
    for (std::int64_t i = 0; i < size; ++i) {
      tuning::Trial t;
      t.number = i;
      t.state = tuning::TrialState::kComplete;
      for (std::size_t p = 0; p < space.params.size(); ++p) {
        const auto [lo, hi] = space.InternalBounds(p);
        t.params.push_back(space.FromInternal(p, std::uniform_real_distribution<double>(lo, hi)(rng)));
      }
      t.value = problem->f(t.params);
      history.push_back(std::move(t));
    }
    for (const std::string& algorithm : flags.List("samplers")) {
      std::vector<tuning::Trial> trials = history;
      trials.reserve(trials.size() + static_cast<std::size_t>(asks) + 1);
      auto sampler = Make(algorithm, space, static_cast<std::uint64_t>(seed));
      const double cold = RunTrial(*sampler, space, trials, problem->f);
      std::vector<double> warm;
      for (std::int64_t i = 0; i < asks; ++i) warm.push_back(RunTrial(*sampler, space, trials, problem->f));
      double sum = 0;
      for (double w : warm) sum += w;
      Json r;
      r["sampler"] = algorithm;
      r["size"] = size;
      r["asks"] = asks;
      r["cold_ms"] = cold * 1e3;
      r["median_ms"] = Quantile(warm, 0.5) * 1e3;
      r["p90_ms"] = Quantile(warm, 0.9) * 1e3;
      r["mean_ms"] = sum / static_cast<double>(warm.size()) * 1e3;
      r["max_ms"] = *std::max_element(warm.begin(), warm.end()) * 1e3;
      out["results"].push_back(std::move(r));
      std::fprintf(stderr, "ferry latency %s at %lld: median %.3f ms, cold %.3f ms\n", algorithm.c_str(),
                   static_cast<long long>(size), Quantile(warm, 0.5) * 1e3, cold * 1e3);
    }
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int ListProblems() {
  Json out = Json::array();
  for (const Problem& p : Problems()) {
    Json bounds = Json::array();
    for (const auto& [lo, hi] : p.bounds) bounds.push_back({lo, hi});
    out.push_back(
        {{"name", p.name}, {"dimension", p.bounds.size()}, {"bounds", bounds}, {"minimum", p.minimum}});
  }
  std::cout << out.dump() << "\n";
  return 0;
}

int Eval(const Flags& flags) {
  const Problem* problem = FindProblem(flags.Text("problem"));
  if (!problem) Fail("unknown problem " + flags.Text("problem"));
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<double> x;
    std::size_t at = 0;
    while (at < line.size()) {
      std::size_t used = 0;
      try {
        x.push_back(std::stod(line.substr(at), &used));
      } catch (const std::exception&) {
        break;
      }
      at += used;
    }
    if (x.size() != problem->bounds.size())
      Fail("expected " + std::to_string(problem->bounds.size()) + " numbers: " + line);
    std::printf("%.17g\n", problem->f(x));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const std::string all_problems = "branin,hartmann6,rosenbrock10,ackley5,levy5";
  const std::string samplers = "tpe,multivariate-tpe,cmaes,bayesianoptimization";
  if (mode == "quality") {
    return Quality(Flags(argc, argv,
                         {{"problems", all_problems},
                          {"samplers", samplers},
                          {"seeds", "20"},
                          {"seed-base", "0"},
                          {"trials", "200"}}));
  }
  if (mode == "latency") {
    return Latency(Flags(argc, argv,
                         {{"problem", "hartmann6"},
                          {"samplers", samplers},
                          {"sizes", "100,1000,10000"},
                          {"asks", "30"},
                          {"seed", "0"}}));
  }
  if (mode == "problems") return ListProblems();
  if (mode == "eval") return Eval(Flags(argc, argv, {{"problem", "branin"}}));
  std::fprintf(
      stderr,
      "usage: tuning_bench quality|latency|problems|eval [--flag=value ...] (see the source's header)\n");
  return 2;
}
