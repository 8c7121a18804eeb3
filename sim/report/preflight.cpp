#include "sim/report/preflight.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "sim/compute/compute_model.hpp"
#include "sim/compute/measured_file.hpp"
#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/simulator_memory.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::report {

void preflight(const config::Experiment& experiment, const std::string& file,
               const RunLimits& limits, const config::CostProfile* prices) {
  config::Diagnostics diagnostics;
  try {
    check_memory_budget(estimate_step_memory(experiment), limits);
    const fabric::Topology topology = parallel::build_cluster_topology(experiment);
    if (prices != nullptr && !topology.switches().empty()) {
      try {
        // Counts and parts only: no diameter or bisection search.
        (void)fabric::network_cost(fabric::measure(topology, fabric::StatsOptions{1, 0}), *prices);
      } catch (const fabric::CostError& error) {
        diagnostics.error(config::location_of(file, {"cluster", "topology"}), "cluster.topology",
                          fmt::format("{} (--cost names another cost profile)", error.what()));
      }
    }
  } catch (const fabric::BuildError& error) {
    diagnostics.error(config::location_of(file, {"cluster", "topology"}), "cluster.topology",
                      error.what());
  }
  try {
    const compute::ComputeModel compute(experiment.hardware);
  } catch (const compute::MeasuredFileError& error) {
    diagnostics.error(config::location_of(file, {"hardware"}), "hardware", error.what());
  } catch (const std::invalid_argument& error) {
    diagnostics.error(config::location_of(file, {"hardware"}), "hardware", error.what());
  }
  if (!experiment.parallelism.balance_stages) {
    const workload::MemoryEstimate memory = workload::estimate_memory(experiment);
    if (!memory.fits()) {
      const workload::RankMemory& peak = memory.peak();
      diagnostics.infeasible(
          config::location_of(file, {"parallelism"}), "parallelism",
          fmt::format("the model does not fit: pipeline rank {} needs {:.1f} GB of the {:.1f} GB "
                      "of one GPU (parameters {:.1f}, gradients {:.1f}, optimizer {:.1f}, "
                      "activations {:.1f}); see `clustersim memory`",
                      peak.rank, peak.total() / 1e9, memory.capacity / 1e9, peak.parameters / 1e9,
                      peak.gradients / 1e9, peak.optimizer / 1e9, peak.activations / 1e9));
    }
  }
  diagnostics.throw_if_any();
}

}  // namespace clustersim::report
