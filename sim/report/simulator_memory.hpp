#pragma once
// How much memory the simulator itself needs for a run, estimated before anything is allocated,
// so that a run whose network, flows or schedule would not fit in the machine refuses at once
// (`--max-memory`, sim/core/run_limits.hpp) instead of being killed half-way.
//
// The estimate is a sum over what grows with the input:
//   network   V x kBytesPerVertex + L x kBytesPerLink: the cluster's graph (GPUs, NVSwitches,
//             NICs, network switches; directed links, with the flow model's per-link state),
//             counted by fabric::count_cluster from closed forms;
//   routing   the router's distance tables, S^2 x 2 bytes for S network switches when every
//             switch is a destination (an upper bound: they are filled as routes need them);
//   flows     F x (kBytesPerFlow + hops x kBytesPerHop) for the most flows one communication
//             runs at once: F = ranks x ep for an EP all-to-all over a pipeline stage, n (n - 1)
//             for an all-to-all on n ranks, 2 n for rings and trees; hops = the network's
//             diameter + 6 (GPU, PCIe, NIC and the NVLink forwarding of multi-plane fabrics);
//   schedule  the pipeline's tasks (devices x micro-batches x interleaved chunks x 2 passes, 3
//             where the weight gradients are a task of their own) x kBytesPerTask.
// The per-item constants are what the allocator hands out for each item on x86-64 with
// libstdc++, measured by tests/memory (which fails when an estimate stops bounding what a run
// allocates, or overshoots it more than threefold).

#include <string>

#include "sim/collectives/collective.hpp"
#include "sim/config/experiment.hpp"
#include "sim/core/run_limits.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::report {

inline constexpr double kBytesPerVertex = 160;
inline constexpr double kBytesPerLink = 200;
inline constexpr double kBytesPerFlow = 450;
inline constexpr double kBytesPerHop = 24;
// A transfer timed by the congestion bound: its ends and size, its copy bound and its ends again
// for the bounds (16 + 8 + 8 bytes), and room for a phase's list to grow.
inline constexpr double kBytesPerBoundTransfer = 48;
inline constexpr double kBytesPerTask = 200;
// The program, its libraries and the loaded cards, before any of the above.
inline constexpr double kBaseBytes = 8.0 * 1024 * 1024;

struct SimulatorMemory {
  fabric::ClusterCounts cluster;
  long long flows = 0;  // the most flows one communication runs at once
  // Timed by the congestion bound: `flows` are transfers, kept without flow state.
  bool congestion_bound = false;
  long long tasks = 0;  // pipeline tasks
  double network_bytes = 0;
  double routing_bytes = 0;
  double flow_bytes = 0;
  double schedule_bytes = 0;
  // What would make it smaller, when the estimate knows ("without spraying: 210 MiB").
  std::string smaller;

  [[nodiscard]] double total_bytes() const;
  // "1.2 GiB: network 310 MiB (1,000,000 vertices, 4,000,000 links), routing ..., flows ..."
  [[nodiscard]] std::string describe() const;
};

// One training step of the experiment (`clustersim run`).
[[nodiscard]] SimulatorMemory estimate_step_memory(const config::Experiment& experiment);

// A bare network of the card (`clustersim topo`): its graph, and the statistics' search state (a
// copy of the graph's size and kBytesPerVertex more per vertex).
[[nodiscard]] SimulatorMemory estimate_network_memory(const config::TopologySpec& spec);

// How `clustersim collective` times what it runs.
enum class CollectiveTiming {
  flows,             // simulated flows; the congestion bound could time it instead
  flows_only,        // simulated flows, with no bound to offer (an EP exchange)
  congestion_bound,  // no flows (CollectiveSpec::congestion_bound): kBytesPerBoundTransfer each
};

// One collective on every GPU of the cluster (`clustersim collective`); an EP exchange counts
// as an all-to-all.
[[nodiscard]] SimulatorMemory estimate_collective_memory(
    const config::TopologySpec& spec, const fabric::ClusterShape& shape,
    collectives::Operation operation, CollectiveTiming timing = CollectiveTiming::flows);

// Throws MemoryLimitError when the estimate exceeds the limits' memory budget, with the
// estimate, the budget and where it comes from.
void check_memory_budget(const SimulatorMemory& estimate, const RunLimits& limits);

}  // namespace clustersim::report
