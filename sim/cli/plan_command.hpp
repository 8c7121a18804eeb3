#pragma once
// `clustersim plan EXP.yaml`: the smallest cluster of each candidate design that trains the
// experiment's model on a token budget within a deadline and / or a dollar budget, with its best
// layout, days, GPU-hours, rental $, energy and capex (sim/report/cluster_plan.hpp).

#include <optional>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"

namespace clustersim::cli {

struct PlanOptions {
  CommonOptions common;
  std::string experiment;
  std::optional<std::string> tokens;         // --tokens: plan.tokens
  std::optional<std::string> deadline_days;  // --deadline-days: plan.deadline_days
  std::optional<std::string> budget_usd;     // --budget-usd: plan.budget_usd
  std::optional<std::string> nodes;          // --nodes: plan.nodes
  std::vector<std::string> hardware;         // --hardware: candidates (with --topology, crossed)
  std::vector<std::string> topology;         // --topology
  std::vector<std::string> fix;              // as search --fix
  int jobs = 1;
};

int run_plan(const PlanOptions& options);

}  // namespace clustersim::cli
