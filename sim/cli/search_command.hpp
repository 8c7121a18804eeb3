#pragma once
// `clustersim search EXP.yaml`: the best parallel layouts for the experiment's model, hardware and
// cluster, ranked by step time or cost per token, with the reasons candidates were left out and,
// asked, the Pareto front of step time against memory.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/report/layout_search.hpp"

namespace clustersim::cli {

struct SearchOptions {
  CommonOptions common;
  std::string experiment;
  std::vector<std::string> fix;  // "parallelism.tp=1": the search block's key, fixed
  std::size_t top = 10;
  std::string by = "step_time";  // or "cost"
  bool pareto = false;
  bool show_pruned = false;  // an example of each reason
  bool exhaustive = false;
  int jobs = 1;
  bool mpi = false;
};

int run_search(const SearchOptions& options);

// One layout as `search --json` and `plan --json` print it: its choices, figures and overrides.
[[nodiscard]] nlohmann::json layout_json(const report::SearchedLayout& layout);

}  // namespace clustersim::cli
