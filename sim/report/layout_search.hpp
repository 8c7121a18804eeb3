#pragma once
// The best parallel layouts for an experiment's model, hardware and cluster (`clustersim search`).
//
// The space: tp, pp, ep, cp (dp follows: GPUs / (tp pp cp)), the ZeRO stage, the schedule and its
// virtual stages, the micro-batch size, the recompute policy and the SMs the communication kernels
// hold. Each dimension takes the experiment's `search:` values or bounds (config::SearchSpace),
// else its defaults:
//   tp                powers of two up to the GPUs of a node;
//   pp                powers of two up to the model's layers (and 64);
//   ep                MoE: powers of two up to the experts; dense: 1;
//   cp                1, or powers of two up to 8 for sequences of 16K tokens and more;
//   zero              1 and 3 (0 and 2 on request: they move memory, not time, against 1);
//   schedule          1f1b, interleaved (2 virtual stages), zb1p, dualpipe, dualpipev; at pp = 1
//                     only the first (every schedule is the same there);
//   micro_batch_size  1, 2, 4;
//   recompute         the experiment's own policy, none, selective, full;
//   comm_sms          the experiment's value.
// Bounds ({min, max}) select the dimension's ladder (powers of two; integers for zero; multiples
// of 4 for comm_sms) within them.
//
// Every candidate is checked before anything is simulated, and pruned with its reason counted:
//   layout    config::check_layout (divisibility, heads over tp, experts over ep, the schedule's
//             micro-batch needs, ...), by the key that fails;
//   memory    the memory estimate of the even stage split does not fit the GPU;
//   bound     its step-time lower bound is no better than the N-th best step simulated so far
//             (and, with the Pareto front asked for, a simulated layout is at least as fast as
//             that bound with no more memory). The bound is the compute of every micro-batch
//             spread evenly over the devices (parallel::compute_lower_bound_s); once a layout
//             with the same EP groups and tokens has been simulated, it adds that layout's EP
//             all-to-alls where a slot waits for them (every schedule but DualPipe's, unless the
//             stack overlaps the all-to-alls). Once a layout of the same family (equal but for
//             its recompute policy) that recomputes less has been simulated, its step is a bound
//             too: more recomputation never makes a step faster.
//   goal      its bound is above SearchOptions::step_time_cap_s (the plan's goal).
// Candidates are simulated in the order of their lower bounds, so the best come first and the
// bound prunes most of the rest. With several jobs the set simulated can differ slightly between
// runs (a job may start a candidate just before a result that would prune it lands); the best
// layouts do not.

#include <cstddef>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/experiment.hpp"

namespace clustersim::report {

enum class RankBy { step_time, cost };

struct SearchOptions {
  std::size_t top = 10;
  RankBy rank_by = RankBy::step_time;
  bool pareto = false;      // also the front of step time against memory
  bool exhaustive = false;  // simulate every layout that fits (no bound pruning)
  int jobs = 1;
  // Leave out, as "goal", every layout whose lower bound (raised, once known, by its EP
  // all-to-alls and by siblings that recompute less) is above this step time: `clustersim plan`
  // needs no layout slower than its goal.
  std::optional<double> step_time_cap_s;
};

// One point of the space.
struct LayoutChoice {
  int tp = 1, pp = 1, ep = 1, cp = 1, zero = 1, virtual_stages = 1, micro_batch_size = 1,
      comm_sms = 0;
  config::Schedule schedule = config::Schedule::one_f_one_b;
  std::string recompute = "none";  // "none", "selective", "full" or "as_written"
};

struct SearchedLayout {
  std::size_t index = 0;  // in the enumeration order (ties go to the lower)
  LayoutChoice choice;
  std::int64_t dp = 1;
  double micro_batches = 0;      // per step
  double lower_bound_s = 0;      // compute only (parallel::compute_lower_bound_s)
  double memory_peak_bytes = 0;  // of the most loaded GPU (after the simulation's balancing)
  double memory_capacity_bytes = 0;
  // Simulated:
  double step_time_s = 0;
  double mfu_causal = 0;
  double tokens_per_s_per_gpu = 0;
  std::optional<double> usd_per_million_tokens;  // rental and energy
  // `--set` overrides that turn the experiment into this layout.
  [[nodiscard]] std::vector<std::string> overrides() const;
  [[nodiscard]] std::string describe() const;  // "tp 1 pp 16 ep 64 cp 1 dp 128 zero 1 ..."
};

struct SearchResult {
  std::size_t candidates = 0;
  std::size_t simulated = 0;
  // Why candidates were left out: "layout: parallelism.ep", "memory", "bound", with counts and
  // one example message each.
  std::map<std::string, std::size_t> pruned;
  std::map<std::string, std::string> pruned_example;
  // The least lower bound of the layouts that fit in memory (infinity when none does).
  double least_bound_s = std::numeric_limits<double>::infinity();
  std::vector<SearchedLayout> best;    // the top N, best first
  std::vector<SearchedLayout> pareto;  // step time against memory, fastest first
};

// Runs `work(i)` for each i of `order` on `jobs` threads, in that order; `skip(i)` (called with
// the results so far, one call at a time) may drop i before it starts; `done(i, result)` runs one
// at a time as each finishes, with the text `work` returned (skip and done lock what they share,
// so a runner may call them at once). The default runs threads in this
// process; the CLI may pass one that spreads the work over MPI ranks (the texts travel).
using SearchWork = std::function<std::string(std::size_t)>;
using SearchDone = std::function<void(std::size_t, const std::string&)>;
using SearchRunner = std::function<void(const std::vector<std::size_t>& order, int jobs,
                                        const std::function<bool(std::size_t)>& skip,
                                        const SearchWork& work, const SearchDone& done)>;
[[nodiscard]] SearchRunner thread_runner();

// Throws config::ConfigError when the space is empty before any check (a bound that excludes
// every value of a dimension).
[[nodiscard]] SearchResult search_layouts(const config::Experiment& base,
                                          const SearchOptions& options,
                                          const SearchRunner& runner = thread_runner());

// The candidate's experiment: the base with the choice applied (stage split automatic unless
// the base balances it; dp set). Used by the search and by tests that simulate every point.
[[nodiscard]] config::Experiment apply_choice(const config::Experiment& base,
                                              const LayoutChoice& choice);
// Every candidate of the base's space, in enumeration order.
[[nodiscard]] std::vector<LayoutChoice> enumerate_layouts(const config::Experiment& base);

}  // namespace clustersim::report
