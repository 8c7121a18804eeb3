#include "sim/report/simulator_memory.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "sim/core/run_limits.hpp"
#include "sim/fabric/router.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace clustersim::report {
namespace {

using collectives::Operation;

// Network, routing and flow bytes for `flows` flows at once on the cluster. A flow's route holds
// the network's diameter in switch hops and six more links at its ends, twice the diameter when
// the routing may detour through an intermediate switch (valiant, ugal).
SimulatorMemory on_cluster(const fabric::ClusterCounts& cluster, long long flows,
                           bool detours = false) {
  SimulatorMemory memory;
  memory.cluster = cluster;
  memory.flows = flows;
  memory.network_bytes = static_cast<double>(cluster.vertices) * kBytesPerVertex +
                         static_cast<double>(cluster.links) * kBytesPerLink;
  const auto switches = static_cast<double>(cluster.switches);
  memory.routing_bytes = switches * switches * 2;
  const double hops = (detours ? 2 : 1) * cluster.network_diameter + 6;
  memory.flow_bytes = static_cast<double>(flows) * (kBytesPerFlow + hops * kBytesPerHop);
  return memory;
}

// The most flows one collective on n ranks runs at once.
long long collective_flows(Operation operation, long long n) {
  switch (operation) {
    case Operation::all_to_all:
      return n * (n - 1);
    case Operation::send_recv:
      return 1;
    case Operation::all_reduce:
    case Operation::reduce_scatter:
    case Operation::all_gather:
      return 2 * n;  // a ring's edges, or two trees'
  }
  return n * n;
}

// Flows the network carries for `flows` transfers: spraying splits each over up to
// kMaxSprayPaths paths.
long long routed_flows(const config::TopologySpec& spec, long long flows) {
  return spec.routing == config::RoutingPolicy::spray ? flows * fabric::Router::kMaxSprayPaths
                                                      : flows;
}

// Whether the policy may route a flow off the shortest paths, through an intermediate switch.
bool detours(const config::TopologySpec& spec) {
  return spec.routing == config::RoutingPolicy::valiant ||
         spec.routing == config::RoutingPolicy::ugal;
}

}  // namespace

double SimulatorMemory::total_bytes() const {
  return kBaseBytes + network_bytes + routing_bytes + flow_bytes + schedule_bytes;
}

std::string SimulatorMemory::describe() const {
  std::string text =
      fmt::format("{}: network {} ({} vertices, {} directed links)", format_bytes(total_bytes()),
                  format_bytes(network_bytes), cluster.vertices, cluster.links);
  if (routing_bytes > 0) {
    text += fmt::format(", routing tables {} ({} switches)", format_bytes(routing_bytes),
                        cluster.switches);
  }
  if (flows > 0 && congestion_bound) {
    text += fmt::format(", transfers {} ({}, timed by their congestion bound)",
                        format_bytes(flow_bytes), flows);
  } else if (flows > 0) {
    text += fmt::format(", flows {} ({} at once)", format_bytes(flow_bytes), flows);
  }
  if (tasks > 0) {
    text += fmt::format(", pipeline schedule {} ({} tasks)", format_bytes(schedule_bytes), tasks);
  }
  return text;
}

SimulatorMemory estimate_step_memory(const config::Experiment& e) {
  const config::TopologySpec spec = parallel::cluster_topology_spec(e);
  const config::ParallelismSpec& p = e.parallelism;
  const long long gpus = e.cluster.gpus();
  // The EP all-to-alls of one pipeline stage run together, every rank to each of its group's.
  long long flows = 2 * std::max({static_cast<long long>(p.tp), static_cast<long long>(p.cp),
                                  static_cast<long long>(p.dp), static_cast<long long>(p.pp)});
  if (p.ep > 1) flows = std::max(flows, gpus / std::max(p.pp, 1) * p.ep);
  // Every replica: all groups of a kind at once (every stage's EP groups, every ring's edges).
  const bool every_replica = e.simulation.symmetry == config::Symmetry::off;
  const long long symmetric_flows = flows;
  if (every_replica) flows = std::max(2 * gpus, p.ep > 1 ? gpus * p.ep : 0LL);
  const fabric::ClusterCounts cluster =
      fabric::count_cluster(spec, {e.cluster.nodes, e.cluster.gpus_per_node, &e.hardware});
  SimulatorMemory memory = on_cluster(cluster, routed_flows(spec, flows), detours(spec));
  if (every_replica) {
    memory.smaller = fmt::format(
        "every replica runs each communication on all its groups; with simulation.symmetry: on "
        "the flows would need {}",
        format_bytes(
            on_cluster(cluster, routed_flows(spec, symmetric_flows), detours(spec)).flow_bytes));
  }
  // Each micro-batch meets each device once per model chunk it holds there (DualPipe's two
  // chunks carry different micro-batches), in a forward, a backward and, where the schedule
  // splits it off, a weight-gradient task.
  const bool split_weight = p.schedule == config::Schedule::zb1p ||
                            p.schedule == config::Schedule::dualpipe ||
                            p.schedule == config::Schedule::dualpipev;
  const double chunks =
      p.schedule == config::Schedule::interleaved ? std::max(p.virtual_stages, 1) : 1;
  const double tasks = static_cast<double>(std::max(p.pp, 1)) *
                       static_cast<double>(std::max<std::int64_t>(e.training.micro_batches(p), 1)) *
                       chunks * (split_weight ? 3 : 2);
  memory.tasks = static_cast<long long>(std::min(tasks, 9e18));
  memory.schedule_bytes = tasks * kBytesPerTask;
  return memory;
}

SimulatorMemory estimate_network_memory(const config::TopologySpec& spec) {
  const fabric::NetworkCounts network = fabric::count_network(spec);
  fabric::ClusterCounts counts;
  counts.switches = network.switches;
  counts.network_diameter = network.diameter;
  counts.vertices = network.endpoints + network.switches;
  // Each endpoint is cabled to one switch; a custom card lists every cable itself.
  counts.links = 2 * (spec.generator == config::TopologyGenerator::custom
                          ? static_cast<long long>(spec.custom_links.size())
                          : network.endpoints + network.switch_links);
  SimulatorMemory memory = on_cluster(counts, 0);
  // The statistics (bisection, diameter) search a copy of the graph of the same size, with
  // search state per vertex, and route nothing.
  memory.network_bytes =
      2 * memory.network_bytes + static_cast<double>(counts.vertices) * kBytesPerVertex;
  memory.routing_bytes = 0;
  return memory;
}

SimulatorMemory estimate_collective_memory(const config::TopologySpec& spec,
                                           const fabric::ClusterShape& shape, Operation operation,
                                           CollectiveTiming timing) {
  const long long ranks = static_cast<long long>(shape.nodes) * shape.gpus_per_node;
  const fabric::ClusterCounts cluster = fabric::count_cluster(spec, shape);
  const long long transfers = collective_flows(operation, ranks);
  // The congestion bound keeps the transfers of a phase and per-link sums, no flows.
  const auto bounded = [&] {
    SimulatorMemory memory = on_cluster(cluster, 0);
    memory.flows = transfers;
    memory.congestion_bound = true;
    memory.flow_bytes = static_cast<double>(transfers) * kBytesPerBoundTransfer;
    return memory;
  };
  if (timing == CollectiveTiming::congestion_bound) return bounded();
  SimulatorMemory memory = on_cluster(cluster, routed_flows(spec, transfers), detours(spec));
  if (timing == CollectiveTiming::flows && operation == Operation::all_to_all &&
      spec.routing != config::RoutingPolicy::adaptive &&
      spec.routing != config::RoutingPolicy::ugal) {
    memory.smaller =
        fmt::format("timed by its congestion bound (--congestion-bound) it would need {}",
                    format_bytes(bounded().total_bytes()));
  }
  if (spec.routing == config::RoutingPolicy::spray) {
    std::string spraying = fmt::format(
        "spraying splits every flow over up to {} paths; with --routing ecmp, static or adaptive "
        "it would need {}",
        fabric::Router::kMaxSprayPaths, format_bytes(on_cluster(cluster, transfers).total_bytes()));
    memory.smaller =
        memory.smaller.empty() ? spraying : fmt::format("{}; {}", spraying, memory.smaller);
  }
  return memory;
}

void check_memory_budget(const SimulatorMemory& estimate, const RunLimits& limits) {
  if (!limits.memory_bytes || estimate.total_bytes() <= *limits.memory_bytes) return;
  throw MemoryLimitError(fmt::format(
      "refused before allocating: the simulation would need an estimated {}; that is more than "
      "the {} {}{}",
      estimate.describe(), format_bytes(*limits.memory_bytes), limits.memory_source,
      estimate.smaller.empty() ? "" : " (" + estimate.smaller + ")"));
}

}  // namespace clustersim::report
