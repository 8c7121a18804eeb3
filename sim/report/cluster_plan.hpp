#pragma once
// Sizing a cluster for a goal (`clustersim plan EXP.yaml`): for each candidate design (a hardware
// profile, its scale-out network, GPUs per node), the smallest cluster whose best layout trains
// the token budget within the deadline and / or the dollar budget.
//
// The goal, per cluster size. With S = tokens / (global batch x sequence length) steps and G GPUs:
//   deadline D days      step time <= D x 86400 / S
//   budget B dollars     step time <= B x 3600 / (S x G x P), where P is the all-in price of a
//                        GPU-hour: the rental price plus TDP x power fraction x PUE x $/kWh
// Both goals given: the smaller cap. At each size of the ladder (plan.nodes, default 1, 2, 3, 4,
// 6, 8, 12, ... nodes up to 16,384) the layout search (layout_search.hpp) runs with that cap:
// layouts whose lower bound is above it are left out unsimulated (reason "goal"), so sizes far
// too small cost only the checks. The first size whose best layout meets the cap is the answer;
// the search keeps the experiment's `search:` block and the plan's --fix choices.
//
// For the answer, the best layout is simulated once more for the figures: training days,
// GPU-hours, rental $, energy (kWh and $), and capex (the GPUs at the profile's, or the
// candidate's, price and the network sized for the cluster, priced by plan.cost_profile).
// A candidate that meets the goal at no size of the ladder reports how close it came: the size
// whose best layout came nearest to the cap.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/experiment.hpp"
#include "sim/report/layout_search.hpp"
#include "sim/report/step_report.hpp"

namespace clustersim::report {

struct PlanTrial;

struct PlanOptions {
  int jobs = 1;  // threads of each layout search
  // Called after each size is tried (candidate label, trial): for a progress line.
  std::function<void(const std::string&, const PlanTrial&)> on_trial;
};

// One cluster size tried for a candidate.
struct PlanTrial {
  int nodes = 0;
  std::int64_t gpus = 0;
  double step_cap_s = 0;               // the step time the goal allows at this size
  std::optional<SearchedLayout> best;  // the fastest layout simulated, if any was
  double least_bound_s = 0;            // over the layouts that fit in memory (inf: none)
  std::size_t candidates = 0, simulated = 0;
  std::string outcome;  // why it does or does not meet the goal
  [[nodiscard]] bool meets() const { return best && best->step_time_s <= step_cap_s; }
};

struct PlanRow {
  std::string candidate;  // the candidate's label
  std::string hardware, topology;
  int gpus_per_node = 0;
  std::vector<PlanTrial> trials;  // in the order tried
  bool meets = false;
  // The smallest size that meets the goal; when none does, the size that came closest (absent
  // when no size had a layout that fits).
  std::optional<std::size_t> chosen;  // index into trials
  // Figures of the chosen trial's layout over the whole token budget:
  double training_days = 0;
  double gpu_hours = 0;
  std::optional<double> rental_usd;
  std::optional<EnergyFigures> energy;  // total_kwh and total_usd() for the budget
  Capex capex;
  std::string capex_error;                              // the network could not be priced
  [[nodiscard]] std::optional<double> run_usd() const;  // rental + energy
  [[nodiscard]] const PlanTrial* chosen_trial() const {
    return chosen ? &trials[*chosen] : nullptr;
  }
};

struct PlanResult {
  double tokens = 0;
  double tokens_per_step = 0;
  std::optional<double> deadline_days;
  std::optional<double> budget_usd;
  std::string cost_profile;
  std::vector<PlanRow> rows;  // in the order of the plan's candidates
};

// The node counts tried, ascending: plan.nodes's values, else the ladder 1, 2, 3, 4, 6, 8, ...
// within its bounds (default 1 to 16,384).
[[nodiscard]] std::vector<int> plan_node_ladder(const config::PlanSpec& plan);

// The base with candidate `index` of its plan applied (the experiment's own design when the plan
// lists none), at `nodes` nodes.
[[nodiscard]] config::Experiment plan_candidate(const config::Experiment& base, std::size_t index,
                                                int nodes);

// Throws config::ConfigError when the plan has no token budget (plan.tokens or training.tokens)
// or no goal.
[[nodiscard]] PlanResult plan_cluster(const config::Experiment& base, const PlanOptions& options,
                                      const SearchRunner& runner = thread_runner());

}  // namespace clustersim::report
