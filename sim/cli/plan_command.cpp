// clustersim plan: the smallest cluster of each candidate design that meets a goal
// (sim/report/cluster_plan.hpp).

#include "sim/cli/plan_command.hpp"

#include <chrono>
#include <cmath>
#include <iostream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/cli/point_pool.hpp"
#include "sim/cli/search_command.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/cluster_plan.hpp"

namespace clustersim::cli {
namespace {

using nlohmann::json;

// The command line's plan options as overrides of the plan block, each named in messages as the
// option the user wrote.
std::vector<std::pair<std::string, std::string>> plan_overrides(const PlanOptions& options) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto option = [&](const std::optional<std::string>& value, const char* key,
                          const char* flag) {
    if (value) out.emplace_back(fmt::format("plan.{}={}", key, *value), flag + (" " + *value));
  };
  option(options.tokens, "tokens", "--tokens");
  option(options.deadline_days, "deadline_days", "--deadline-days");
  option(options.budget_usd, "budget_usd", "--budget-usd");
  option(options.nodes, "nodes", "--nodes");
  if (!options.hardware.empty()) {
    std::vector<std::string> candidates;
    for (const std::string& hardware : options.hardware) {
      if (options.topology.empty()) {
        candidates.push_back(fmt::format("{{hardware: {}}}", hardware));
      }
      for (const std::string& topology : options.topology) {
        candidates.push_back(fmt::format("{{hardware: {}, topology: {}}}", hardware, topology));
      }
    }
    std::string label = fmt::format("--hardware {}", fmt::join(options.hardware, ","));
    if (!options.topology.empty()) {
      label += fmt::format(" --topology {}", fmt::join(options.topology, ","));
    }
    out.emplace_back(fmt::format("plan.candidates=[{}]", fmt::join(candidates, ", ")), label);
  }
  return out;
}

std::string goal_text(const report::PlanResult& plan) {
  std::vector<std::string> parts;
  if (plan.deadline_days) parts.push_back(fmt::format("within {:g} days", *plan.deadline_days));
  if (plan.budget_usd)
    parts.push_back(fmt::format("for at most {}", report::dollars(*plan.budget_usd)));
  return fmt::format("{}", fmt::join(parts, " and "));
}

std::string optional_usd(const std::optional<double>& usd) {
  return usd ? report::dollars(*usd) : "-";
}

json row_json(const report::PlanRow& row) {
  json out{{"candidate", row.candidate}, {"hardware", row.hardware},
           {"topology", row.topology},   {"gpus_per_node", row.gpus_per_node},
           {"meets_goal", row.meets},    {"trials", json::array()}};
  for (const report::PlanTrial& trial : row.trials) {
    json t{{"nodes", trial.nodes},
           {"gpus", trial.gpus},
           {"step_time_cap_s", trial.step_cap_s},
           {"candidates", trial.candidates},
           {"simulated", trial.simulated},
           {"best_step_time_s", nullptr},
           {"meets_goal", trial.meets()},
           {"outcome", trial.outcome}};
    if (trial.best) t["best_step_time_s"] = trial.best->step_time_s;
    out["trials"].push_back(t);
  }
  const report::PlanTrial* chosen = row.chosen_trial();
  if (chosen == nullptr) return out;
  const auto or_null = [](const std::optional<double>& value) -> json {
    return value ? json(*value) : json(nullptr);
  };
  out["nodes"] = chosen->nodes;
  out["gpus"] = chosen->gpus;
  out["layout"] = layout_json(*chosen->best);
  out["step_time_s"] = chosen->best->step_time_s;
  out["training_days"] = row.training_days;
  out["gpu_hours"] = row.gpu_hours;
  out["rental_usd"] = or_null(row.rental_usd);
  out["energy_kwh"] = row.energy ? or_null(row.energy->total_kwh) : json(nullptr);
  out["energy_usd"] = row.energy ? or_null(row.energy->total_usd()) : json(nullptr);
  out["run_usd"] = or_null(row.run_usd());
  out["capex"] = json{
      {"gpus_usd", or_null(row.capex.gpus_usd)},
      {"network_usd", row.capex.network ? json(row.capex.network->total_usd()) : json(nullptr)},
      {"total_usd", or_null(row.capex.total_usd())}};
  if (!row.capex_error.empty()) out["capex"]["error"] = row.capex_error;
  return out;
}

std::string table_text(const report::PlanResult& plan) {
  std::string out = fmt::format(
      "{:<28} {:>6} {:>7} {:>8} {:>6} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8}\n", "candidate", "nodes",
      "GPUs", "step (s)", "MFU", "days", "GPU-hours", "rental", "energy", "capex", "goal");
  for (const report::PlanRow& row : plan.rows) {
    const report::PlanTrial* chosen = row.chosen_trial();
    if (chosen == nullptr) {
      out += fmt::format("{:<28} {:>6} {:>7} {:>8} {:>6} {:>7} {:>11} {:>8} {:>8} {:>8} {:>8}\n",
                         row.candidate, "-", "-", "-", "-", "-", "-", "-", "-", "-", "no fit");
      continue;
    }
    const std::optional<double> energy_usd =
        row.energy ? row.energy->total_usd() : std::optional<double>{};
    out += fmt::format(
        "{:<28} {:>6} {:>7} {:>8.3f} {:>5.1f}% {:>7.3g} {:>11.3g} {:>8} {:>8} {:>8} {:>8}\n",
        row.candidate, chosen->nodes, chosen->gpus, chosen->best->step_time_s,
        100 * chosen->best->mfu_causal, row.training_days, row.gpu_hours,
        optional_usd(row.rental_usd), optional_usd(energy_usd), optional_usd(row.capex.total_usd()),
        row.meets ? "met" : "missed");
  }
  return out;
}

std::string details_text(const report::PlanResult& plan) {
  std::string out;
  for (const report::PlanRow& row : plan.rows) {
    out += fmt::format("\n{} ({} GPUs per node):\n", row.candidate, row.gpus_per_node);
    if (const report::PlanTrial* chosen = row.chosen_trial()) {
      out += fmt::format("  layout: {}\n", chosen->best->describe());
      if (row.energy && row.energy->total_kwh) {
        out += fmt::format("  energy: {:.3g} MWh ({:.0f} W TDP x {:g} x PUE {:g})\n",
                           *row.energy->total_kwh / 1e3, row.energy->tdp_w,
                           row.energy->power_fraction, row.energy->pue);
      }
      if (row.capex.gpus_usd || row.capex.network) {
        out +=
            fmt::format("  capex: GPUs {}, network {} ({})\n", optional_usd(row.capex.gpus_usd),
                        row.capex.network ? report::dollars(row.capex.network->total_usd()) : "-",
                        row.capex_error.empty() ? plan.cost_profile : row.capex_error);
      }
    }
    for (const report::PlanTrial& trial : row.trials) {
      out += fmt::format("  {:>6} node{} ({:>6} GPUs): {}\n", trial.nodes,
                         trial.nodes == 1 ? " " : "s", trial.gpus, trial.outcome);
    }
  }
  return out;
}

}  // namespace

int run_plan(const PlanOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (!options.topology.empty() && options.hardware.empty()) {
    std::cerr << "clustersim plan: --topology needs --hardware: the candidates are every "
                 "hardware profile on every topology given\n";
    return kExitInputError;
  }
  config::LoadOptions load;
  load.overrides = options.common.overrides;
  load.labelled_overrides = plan_overrides(options);
  load.fixes = options.fix;
  try {
    const config::Experiment base = config::load_experiment(options.experiment, load);
    report::PlanOptions plan_options;
    plan_options.jobs = options.jobs;
    plan_options.on_trial = [](const std::string& candidate, const report::PlanTrial& trial) {
      std::cerr << fmt::format("plan: {}, {} node{}: {}\n", candidate, trial.nodes,
                               trial.nodes == 1 ? "" : "s", trial.outcome);
    };
    const report::SearchRunner runner = [&](const std::vector<std::size_t>& order, int jobs,
                                            const std::function<bool(std::size_t)>& skip,
                                            const report::SearchWork& work,
                                            const report::SearchDone& done) {
      PoolOptions pool;
      pool.jobs = jobs;
      pool.label = "plan " + base.name;
      pool.quiet = true;
      (void)run_points(
          order, pool,
          [&](std::size_t i) {
            return PointOutcome{work(i), true, {}};
          },
          done, skip);
    };
    const report::PlanResult plan = report::plan_cluster(base, plan_options, runner);
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const report::PlanRow* closest = nullptr;  // of the rows that miss, the nearest
    bool any_met = false;
    for (const report::PlanRow& row : plan.rows) {
      any_met = any_met || row.meets;
      if (row.meets || row.chosen_trial() == nullptr) continue;
      if (closest == nullptr || row.training_days < closest->training_days) closest = &row;
    }
    if (options.common.json) {
      json out{{"experiment", base.name},
               {"model", base.model.name},
               {"tokens", plan.tokens},
               {"tokens_per_step", plan.tokens_per_step},
               {"deadline_days", plan.deadline_days ? json(*plan.deadline_days) : json(nullptr)},
               {"budget_usd", plan.budget_usd ? json(*plan.budget_usd) : json(nullptr)},
               {"cost_profile", plan.cost_profile},
               {"status", any_met ? "ok" : "infeasible"},
               {"wall_s", wall_s},
               {"candidates", json::array()}};
      for (const report::PlanRow& row : plan.rows) out["candidates"].push_back(row_json(row));
      std::cout << out.dump(2) << '\n';
    } else {
      std::cout << fmt::format(
          "plan {}: {} on {:.3g} tokens ({:.3g} steps of {:.3g} tokens), {}\n\n", base.name,
          base.model.name, plan.tokens, plan.tokens / plan.tokens_per_step, plan.tokens_per_step,
          goal_text(plan));
      std::cout << table_text(plan) << details_text(plan)
                << fmt::format("\n{} candidate(s) planned in {:.1f} s on {} job(s)\n",
                               plan.rows.size(), wall_s, options.jobs);
    }
    if (!any_met) {
      std::string message = fmt::format("clustersim plan: {}: no candidate meets the goal ({})",
                                        options.experiment, goal_text(plan));
      if (closest != nullptr) {
        const report::PlanTrial* trial = closest->chosen_trial();
        message += fmt::format(
            "; the closest, {} at {} nodes, takes {:.1f} days and {} ({:.4g} s per step against "
            "the {:.4g} s allowed)",
            closest->candidate, trial->nodes, closest->training_days,
            optional_usd(closest->run_usd()), trial->best->step_time_s, trial->step_cap_s);
      } else {
        message += "; no size of the ladder has a layout that can run (see the sizes tried)";
      }
      std::cerr << message << '\n';
      return kExitInfeasible;
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  } catch (const std::invalid_argument& error) {
    std::cerr << fmt::format("clustersim plan: {}: {}\n", options.experiment, error.what());
    return kExitInputError;
  }
}

}  // namespace clustersim::cli
