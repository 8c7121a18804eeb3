#pragma once
// Every check a run makes before it simulates, for `validate` (so that validate and run agree on
// what is an input error): the cluster's network builds for its nodes, the hardware profile has
// the compute data kernel times need (and its measured files read), and the model fits in the
// GPUs' memory. Each problem is located at the experiment's key in `file`.
//
// First of all, the simulator's own memory (sim/report/simulator_memory.hpp) is checked against
// the limits' budget, so that nothing is built for a cluster the machine cannot hold.
//
// The memory fit uses the stage split as written; with `stage_layers: balanced` the simulation
// chooses the split, so only `run` can check it.

#include <string>

#include "sim/config/cost_profile.hpp"
#include "sim/config/experiment.hpp"
#include "sim/core/run_limits.hpp"

namespace clustersim::report {

// Throws MemoryLimitError when the simulation would need more than the budget, and
// config::ConfigError (its diagnostics located in `file`) when a check fails. With `prices`, the
// network must be one the cost profile can price (a missing speed or switch size fails here, not
// after the simulation).
void preflight(const config::Experiment& experiment, const std::string& file,
               const RunLimits& limits = RunLimits::machine_defaults(),
               const config::CostProfile* prices = nullptr);

}  // namespace clustersim::report
