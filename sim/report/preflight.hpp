#pragma once
// Every check a run makes before it simulates, for `validate` (so that validate and run agree on
// what is an input error): the cluster's network builds for its nodes, the hardware profile has
// the compute data kernel times need (and its measured files read), and the model fits in the
// GPUs' memory. Each problem is located at the experiment's key in `file`.
//
// The memory fit uses the stage split as written; with `stage_layers: balanced` the simulation
// chooses the split, so only `run` can check it.

#include <string>

#include "sim/config/experiment.hpp"

namespace clustersim::report {

// Throws config::ConfigError (its diagnostics located in `file`) when a check fails.
void preflight(const config::Experiment& experiment, const std::string& file);

}  // namespace clustersim::report
