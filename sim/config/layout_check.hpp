#pragma once
// Whether a parallel layout can run a model on a cluster: the checks that need the model, the
// hardware and the cluster together (tp x pp x cp divides the GPUs, ep divides the experts and the
// expert domain, heads split over tp, the schedule's micro-batch needs, ...). The loader reports
// each problem at its key as an infeasibility; the layout search counts them as pruning reasons.

#include <string>
#include <vector>

#include "sim/config/experiment.hpp"

namespace clustersim::config {

enum class LayoutSection { cluster, parallelism, training };

struct LayoutProblem {
  LayoutSection section = LayoutSection::parallelism;
  std::string key;      // within the section: "tp", "global_batch_size"
  std::string message;  // "tp x pp x cp = 3 x 16 x 1 = 48 does not divide the 2048 GPUs ..."
};

// Every problem of the experiment's layout, none when it can run. Sets parallelism.dp to
// gpus / (tp x pp x cp) when that divides (the other checks need it).
[[nodiscard]] std::vector<LayoutProblem> check_layout(Experiment& experiment);

}  // namespace clustersim::config
