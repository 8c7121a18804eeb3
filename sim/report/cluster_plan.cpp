#include "sim/report/cluster_plan.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "sim/config/diagnostics.hpp"
#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace clustersim::report {
namespace {

constexpr double kSecondsPerDay = 86400;
constexpr int kDefaultMaxNodes = 16384;

// The step time the goal allows on `gpus` GPUs: S steps within the deadline, and S steps of
// `gpus` GPUs at the all-in GPU-hour price within the budget.
double step_cap(const config::PlanSpec& plan, double steps, std::int64_t gpus,
                std::optional<double> usd_per_gpu_hour) {
  double cap = std::numeric_limits<double>::infinity();
  if (plan.deadline_days) cap = std::min(cap, *plan.deadline_days * kSecondsPerDay / steps);
  if (plan.budget_usd && usd_per_gpu_hour && *usd_per_gpu_hour > 0) {
    cap = std::min(
        cap, *plan.budget_usd * 3600 / (steps * static_cast<double>(gpus) * *usd_per_gpu_hour));
  }
  return cap;
}

std::string outcome_text(const PlanTrial& trial, const SearchResult& search) {
  if (trial.meets()) {
    return fmt::format("meets the goal: {:.4g} s per step, the goal allows {:.4g} s",
                       trial.best->step_time_s, trial.step_cap_s);
  }
  if (trial.best) {
    return fmt::format("the best layout takes {:.4g} s per step, the goal allows {:.4g} s",
                       trial.best->step_time_s, trial.step_cap_s);
  }
  if (std::isinf(search.least_bound_s)) {
    std::string reasons;
    for (const auto& [reason, count] : search.pruned) {
      reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", count, reason);
    }
    return fmt::format("no layout can run ({})", reasons);
  }
  return fmt::format(
      "every layout's lower bound is above the {:.4g} s the goal allows (the "
      "least is {:.4g} s)",
      trial.step_cap_s, search.least_bound_s);
}

// How far a trial is from the goal: its best step time over the cap (a lower bound's when
// nothing was simulated); infinity when nothing fits.
double shortfall(const PlanTrial& trial) {
  if (trial.best) return trial.best->step_time_s / trial.step_cap_s;
  if (std::isinf(trial.least_bound_s)) return std::numeric_limits<double>::infinity();
  return trial.least_bound_s / trial.step_cap_s;
}

}  // namespace

std::optional<double> PlanRow::run_usd() const {
  if (!rental_usd) return std::nullopt;
  double usd = *rental_usd;
  if (energy && energy->total_usd()) usd += *energy->total_usd();
  return usd;
}

std::vector<int> plan_node_ladder(const config::PlanSpec& plan) {
  if (!plan.nodes.values.empty()) {
    const std::set<int> sorted(plan.nodes.values.begin(), plan.nodes.values.end());
    return {sorted.begin(), sorted.end()};
  }
  const int low = plan.nodes.min.value_or(1);
  const int high = plan.nodes.max.value_or(kDefaultMaxNodes);
  std::set<int> ladder;
  for (long long power = 1; power <= high; power *= 2) {
    for (const long long n : {power, 3 * power / 2}) {
      if (n >= low && n <= high && n >= 1) ladder.insert(static_cast<int>(n));
    }
  }
  return {ladder.begin(), ladder.end()};
}

config::Experiment plan_candidate(const config::Experiment& base, std::size_t index, int nodes) {
  config::Experiment e = base;
  if (index < base.plan.candidates.size()) {
    const config::PlanCandidate& c = base.plan.candidates[index];
    e.hardware = c.hardware;
    if (c.topology) e.cluster.topology = c.topology;
    e.cluster.gpus_per_node =
        c.gpus_per_node > 0 ? c.gpus_per_node : std::max(1, c.hardware.scale_up.domain_size);
    // A price the experiment set was for its own hardware; a candidate's comes with it.
    e.cost.gpu_hour_usd = c.gpu_hour_usd;
    if (c.capex_per_gpu_usd) e.hardware.price.capex_per_gpu_usd = c.capex_per_gpu_usd;
  }
  e.cluster.nodes = nodes;
  return e;
}

PlanResult plan_cluster(const config::Experiment& base, const PlanOptions& options,
                        const SearchRunner& runner) {
  const config::PlanSpec& plan = base.plan;
  const std::vector<int> ladder = plan_node_ladder(plan);
  const std::size_t designs = std::max<std::size_t>(plan.candidates.size(), 1);
  {
    config::Diagnostics diagnostics;
    if (!plan.tokens && !base.training.tokens) {
      diagnostics.error(config::location_of(base.file, {"plan"}), "plan.tokens",
                        "a plan needs a token budget: give plan.tokens (or training.tokens, or "
                        "--tokens on the command line)");
    }
    if (!plan.deadline_days && !plan.budget_usd) {
      diagnostics.error(config::location_of(base.file, {"plan"}), "plan.deadline_days",
                        "a plan needs a goal: give plan.deadline_days, plan.budget_usd or both "
                        "(--deadline-days, --budget-usd on the command line)");
    }
    // A budget needs every candidate's GPU-hour price; no price is not a free GPU.
    for (std::size_t index = 0; plan.budget_usd && index < designs; ++index) {
      const config::Experiment design = plan_candidate(base, index, 1);
      if (gpu_hour_usd_all_in(design)) continue;
      const bool listed = index < plan.candidates.size();
      diagnostics.error(
          config::location_of(base.file, {"plan", listed ? "candidates" : "budget_usd"}),
          listed ? fmt::format("plan.candidates[{}]", index) : "plan.budget_usd",
          fmt::format("a budget needs a GPU-hour price, and hardware profile {} has none: give "
                      "{}gpu_hour_usd",
                      design.hardware.name,
                      listed ? fmt::format("plan.candidates[{}].", index) : "cost."));
    }
    if (ladder.empty()) {
      diagnostics.error(config::location_of(base.file, {"plan", "nodes"}), "plan.nodes",
                        fmt::format("the bounds leave no cluster size to try (the ladder runs "
                                    "from 1 to {} nodes)",
                                    kDefaultMaxNodes));
    }
    diagnostics.throw_if_any();
  }
  PlanResult result;
  result.tokens = plan.tokens ? *plan.tokens : *base.training.tokens;
  result.tokens_per_step =
      static_cast<double>(base.training.global_batch_size * base.training.seq_len);
  result.deadline_days = plan.deadline_days;
  result.budget_usd = plan.budget_usd;
  result.cost_profile = plan.cost_profile;
  const double steps = result.tokens / result.tokens_per_step;
  const config::CostProfile prices = config::load_cost_profile(plan.cost_profile);
  // The best layout of a design at one size, none slower than `cap` simulated. A search space
  // left empty by its bounds throws config::ConfigError, the same at every size.
  const auto best_layout = [&](const config::Experiment& e, std::optional<double> cap) {
    SearchOptions search;
    search.top = 1;
    search.jobs = options.jobs;
    search.step_time_cap_s = cap;
    return search_layouts(e, search, runner);
  };

  for (std::size_t index = 0; index < designs; ++index) {
    PlanRow row;
    const config::Experiment design = plan_candidate(base, index, ladder.front());
    row.hardware = design.hardware.name;
    row.topology = design.cluster.topology ? design.cluster.topology->name : "one node";
    row.gpus_per_node = design.cluster.gpus_per_node;
    row.candidate = index < plan.candidates.size() && !plan.candidates[index].label.empty()
                        ? plan.candidates[index].label
                        : fmt::format("{} on {}", row.hardware, row.topology);
    const std::optional<double> usd_per_gpu_hour = gpu_hour_usd_all_in(design);
    for (const int nodes : ladder) {
      const config::Experiment e = plan_candidate(base, index, nodes);
      PlanTrial trial;
      trial.nodes = nodes;
      trial.gpus = e.cluster.gpus();
      trial.step_cap_s = step_cap(plan, steps, trial.gpus, usd_per_gpu_hour);
      const SearchResult found = best_layout(e, trial.step_cap_s);
      trial.candidates = found.candidates;
      trial.simulated = found.simulated;
      trial.least_bound_s = found.least_bound_s;
      if (!found.best.empty()) trial.best = found.best.front();
      trial.outcome = outcome_text(trial, found);
      row.trials.push_back(trial);
      if (options.on_trial) options.on_trial(row.candidate, trial);
      if (trial.meets()) {
        row.meets = true;
        row.chosen = row.trials.size() - 1;
        break;
      }
    }
    if (!row.meets) {
      // The size nearest the goal (by its best step, or its least bound where the cap left
      // nothing to simulate), with its best layout found without the cap.
      double closest = std::numeric_limits<double>::infinity();
      for (std::size_t k = 0; k < row.trials.size(); ++k) {
        if (const double gap = shortfall(row.trials[k]); gap < closest) {
          closest = gap;
          row.chosen = k;
        }
      }
      if (row.chosen && !row.trials[*row.chosen].best) {
        PlanTrial& trial = row.trials[*row.chosen];
        const SearchResult found =
            best_layout(plan_candidate(base, index, trial.nodes), std::nullopt);
        trial.simulated += found.simulated;
        if (found.best.empty()) {
          row.chosen.reset();
        } else {
          trial.best = found.best.front();
          trial.outcome = outcome_text(trial, found);
        }
      }
    }
    if (const PlanTrial* trial = row.chosen_trial()) {
      config::Experiment e = plan_candidate(base, index, trial->nodes);
      e = apply_choice(e, trial->best->choice);
      e.training.tokens = result.tokens;
      const parallel::StepResult simulated = parallel::simulate_step(e);
      const StepFigures figures = step_figures(e, simulated);
      row.training_days = figures.training_days.value_or(0);
      row.gpu_hours = figures.total_gpu_hours.value_or(0);
      if (figures.gpu_hour_usd) row.rental_usd = row.gpu_hours * *figures.gpu_hour_usd;
      row.energy = figures.energy;
      try {
        row.capex = cluster_capex(e, simulated, &prices);
      } catch (const fabric::CostError& error) {
        row.capex_error = error.what();
        row.capex = cluster_capex(e, simulated, nullptr);
      }
    }
    result.rows.push_back(std::move(row));
  }
  return result;
}

}  // namespace clustersim::report
