#include "sim/collectives/collective.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <utility>

#include <fmt/format.h>

#include "sim/core/engine.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"

namespace clustersim::collectives {
namespace {

using fabric::FlowModel;
using fabric::Route;
using fabric::Router;
using fabric::Topology;
using fabric::VertexId;

// One transfer of a phase: `bytes` from one rank to another.
struct Transfer {
  VertexId from;
  VertexId to;
  double bytes;
};

// A phase: transfers that stream concurrently once the pipeline has filled `fill_hops` hops.
struct Phase {
  std::vector<Transfer> transfers;
  int fill_hops = 0;
};

std::vector<Transfer> ring_transfers(const std::vector<VertexId>& ranks, double per_edge) {
  std::vector<Transfer> out;
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    out.push_back({ranks[i], ranks[(i + 1) % ranks.size()], per_edge});
  }
  return out;
}

// NCCL's double binary tree: tree A is the in-order binary tree over ranks 0..n-1; tree B the
// same over the ranks shifted by one, so leaves of one are inner nodes of the other.
std::vector<Transfer> tree_transfers(const std::vector<VertexId>& ranks, double half, int& depth) {
  const std::size_t n = ranks.size();
  std::vector<Transfer> out;
  depth = 0;
  for (std::size_t shift : {std::size_t{0}, std::size_t{1}}) {
    // Heap layout: parent of position p (p >= 1) is (p - 1) / 2.
    for (std::size_t p = 1; p < n; ++p) {
      const VertexId child = ranks[(p + shift) % n];
      const VertexId parent = ranks[((p - 1) / 2 + shift) % n];
      out.push_back({child, parent, half});  // reduce, up
      out.push_back({parent, child, half});  // broadcast, down
      int level = 0;
      for (std::size_t q = p; q > 0; q = (q - 1) / 2) ++level;
      depth = std::max(depth, level);
    }
  }
  return out;
}

std::vector<Phase> plan(const Topology& topology, const CollectiveSpec& spec) {
  const std::vector<VertexId>& ranks = spec.ranks;
  const double n = static_cast<double>(ranks.size());
  const double s = spec.bytes;
  const int steps_ring = static_cast<int>(ranks.size()) - 1;
  switch (spec.operation) {
    case Operation::send_recv:
      return {Phase{{{ranks[0], ranks[1], s}}, 0}};
    case Operation::all_to_all: {
      Phase phase;
      phase.transfers.reserve(ranks.size() * (ranks.size() - 1));
      for (VertexId from : ranks) {
        for (VertexId to : ranks) {
          if (from != to) phase.transfers.push_back({from, to, s / n});
        }
      }
      std::vector<Phase> phases;
      phases.push_back(std::move(phase));  // a million transfers: moved, not copied
      return phases;
    }
    case Operation::reduce_scatter:
    case Operation::all_gather:
    case Operation::all_reduce:
      break;
  }
  const bool all_reduce = spec.operation == Operation::all_reduce;
  if (spec.algorithm == Algorithm::tree) {
    int depth = 0;
    std::vector<Transfer> transfers = tree_transfers(ranks, s / 2, depth);
    return {Phase{std::move(transfers), 2 * depth - 1}};
  }
  if (spec.algorithm == Algorithm::ring) {
    const double per_edge = (all_reduce ? 2 : 1) * (n - 1) / n * s;
    return {Phase{ring_transfers(ranks, per_edge), (all_reduce ? 2 : 1) * steps_ring - 1}};
  }
  // Hierarchical: group ranks by node (in rank order), then by local position.
  std::vector<std::vector<VertexId>> nodes;
  std::vector<int> node_of;
  for (VertexId rank : ranks) {
    const int node = topology.vertex(rank).node;
    auto it = std::find(node_of.begin(), node_of.end(), node);
    if (it == node_of.end()) {
      node_of.push_back(node);
      nodes.emplace_back();
      it = node_of.end() - 1;
    }
    nodes[static_cast<std::size_t>(it - node_of.begin())].push_back(rank);
  }
  const std::size_t g = nodes.front().size();
  for (const std::vector<VertexId>& members : nodes) {
    if (members.size() != g) {
      throw CollectiveError("hierarchical collectives need the same number of ranks on every node");
    }
  }
  const double gd = static_cast<double>(g);
  const double nodes_d = static_cast<double>(nodes.size());
  auto intra = [&](double per_edge) {
    Phase phase;
    phase.fill_hops = static_cast<int>(g) - 2;
    for (const std::vector<VertexId>& members : nodes) {
      if (members.size() < 2) continue;
      const std::vector<Transfer> ring = ring_transfers(members, per_edge);
      phase.transfers.insert(phase.transfers.end(), ring.begin(), ring.end());
    }
    return phase;
  };
  auto inter = [&](double per_edge, int factor) {
    Phase phase;
    phase.fill_hops = factor * (static_cast<int>(nodes.size()) - 1) - 1;
    for (std::size_t local = 0; local < g; ++local) {
      std::vector<VertexId> rail;
      for (const std::vector<VertexId>& members : nodes) rail.push_back(members[local]);
      if (rail.size() < 2) continue;
      const std::vector<Transfer> ring = ring_transfers(rail, per_edge);
      phase.transfers.insert(phase.transfers.end(), ring.begin(), ring.end());
    }
    return phase;
  };
  // Intra-node reduce-scatter or all-gather moves (g-1)/g of what each GPU holds; the
  // inter-node ring works on the 1/g shard.
  std::vector<Phase> phases;
  switch (spec.operation) {
    case Operation::reduce_scatter:
      phases.push_back(intra((gd - 1) / gd * s));
      phases.push_back(inter((nodes_d - 1) / nodes_d * s / gd, 1));
      break;
    case Operation::all_gather:
      phases.push_back(inter((nodes_d - 1) / nodes_d * s / gd, 1));
      phases.push_back(intra((gd - 1) / gd * s));
      break;
    default:
      phases.push_back(intra((gd - 1) / gd * s));
      phases.push_back(inter(2 * (nodes_d - 1) / nodes_d * s / gd, 2));
      phases.push_back(intra((gd - 1) / gd * s));
      break;
  }
  std::erase_if(phases, [](const Phase& phase) { return phase.transfers.empty(); });
  return phases;
}

void validate(const Topology& topology, const CollectiveSpec& spec) {
  if (!(spec.bytes > 0)) {
    throw CollectiveError(fmt::format("message size must be positive, got {} bytes", spec.bytes));
  }
  check_ranks(topology, spec.ranks, "a collective");
  check_departure_batching(spec.departure_batching);
  if (spec.congestion_bound) {
    if (topology.routing == config::RoutingPolicy::adaptive ||
        topology.routing == config::RoutingPolicy::ugal) {
      throw CollectiveError(fmt::format(
          "the congestion bound cannot time {} routing, which chooses each path by the flows in "
          "flight; simulate the flows (no congestion bound) or route by ecmp, static, spray or "
          "valiant",
          config::to_string(topology.routing)));
    }
    if (spec.departure_batching > 0) {
      throw CollectiveError(
          "departure batching applies to simulated flows; the congestion bound simulates none "
          "(give one or the other)");
    }
    if (spec.record_flows) {
      throw CollectiveError("the congestion bound keeps no flows to log");
    }
  }
  const bool reduction = spec.operation == Operation::all_reduce ||
                         spec.operation == Operation::reduce_scatter ||
                         spec.operation == Operation::all_gather;
  if (reduction && spec.algorithm == Algorithm::direct) {
    throw CollectiveError(
        fmt::format("{} has no direct algorithm; use ring, tree or "
                    "hierarchical",
                    to_string(spec.operation)));
  }
  if (spec.algorithm == Algorithm::tree && spec.operation != Operation::all_reduce) {
    throw CollectiveError(
        fmt::format("the tree algorithm is for all_reduce, not {}", to_string(spec.operation)));
  }
}

}  // namespace

CopyEngines nccl_copy_engines(const config::HardwareProfile& hardware) {
  if (!hardware.communication) return {};
  const config::CommunicationSpec& c = *hardware.communication;
  return {c.nccl_channels, c.nvlink_copy_per_sm.bytes_per_s, c.rdma_copy_per_sm.bytes_per_s};
}

std::vector<double> copy_bounds(const Topology& topology, const CopyEngines& copy,
                                const std::vector<std::pair<VertexId, VertexId>>& flows) {
  std::vector<double> bounds(flows.size(), fabric::kUnbounded);
  if (copy.pushing_sms <= 0) return bounds;
  const auto over_network = [&](const std::pair<VertexId, VertexId>& flow) {
    return topology.vertex(flow.first).node != topology.vertex(flow.second).node;
  };
  // Flows leaving each GPU, over NVLink (even index) and over the network (odd), by vertex.
  std::vector<std::size_t> leaving(2 * topology.vertex_count());
  const auto slot = [&](const std::pair<VertexId, VertexId>& flow) {
    return 2 * std::size_t{flow.first} + (over_network(flow) ? 1 : 0);
  };
  for (const auto& flow : flows) ++leaving[slot(flow)];
  for (std::size_t i = 0; i < flows.size(); ++i) {
    const double per_sm = over_network(flows[i]) ? copy.rdma_per_sm : copy.nvlink_per_sm;
    if (per_sm <= 0) continue;
    bounds[i] = copy.pushing_sms * per_sm / static_cast<double>(leaving[slot(flows[i])]);
  }
  return bounds;
}

void check_departure_batching(double fraction) {
  if (!fabric::valid_departure_batching(fraction)) {
    throw CollectiveError(
        fmt::format("departure batching must be a fraction in [0, 1), got {}", fraction));
  }
}

void check_ranks(const Topology& topology, const std::vector<VertexId>& ranks, const char* what) {
  if (ranks.size() < 2) {
    throw CollectiveError(fmt::format("{} needs at least 2 ranks, got {}", what, ranks.size()));
  }
  for (VertexId rank : ranks) {
    if (rank >= topology.vertex_count() || topology.vertex(rank).kind != fabric::VertexKind::gpu) {
      throw CollectiveError(
          fmt::format("rank {} is not a GPU of topology \"{}\"", rank, topology.name()));
    }
  }
}

const char* to_string(Operation operation) {
  switch (operation) {
    case Operation::all_reduce:
      return "all_reduce";
    case Operation::reduce_scatter:
      return "reduce_scatter";
    case Operation::all_gather:
      return "all_gather";
    case Operation::all_to_all:
      return "all_to_all";
    case Operation::send_recv:
      return "send_recv";
  }
  return "?";
}

const char* to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::ring:
      return "ring";
    case Algorithm::tree:
      return "tree";
    case Algorithm::hierarchical:
      return "hierarchical";
    case Algorithm::direct:
      return "direct";
  }
  return "?";
}

double bus_factor(Operation operation, std::size_t ranks) {
  const double n = static_cast<double>(ranks);
  switch (operation) {
    case Operation::all_reduce:
      return 2 * (n - 1) / n;
    case Operation::reduce_scatter:
    case Operation::all_gather:
    case Operation::all_to_all:
      return (n - 1) / n;
    case Operation::send_recv:
      return 1;
  }
  return 1;
}

namespace {

// The busiest links of a run: most bytes first (ties by link id), up to 8, each with its mean
// utilisation over the run and the peak `peak(link)` gives.
template <class Peak>
std::vector<LinkLoad> busiest_links(const Topology& topology, std::span<const double> bytes,
                                    SimTime end, Peak peak) {
  std::vector<fabric::LinkId> order;
  for (fabric::LinkId id = 0; id < bytes.size(); ++id) {
    if (bytes[id] > 0) order.push_back(id);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](fabric::LinkId a, fabric::LinkId b) { return bytes[a] > bytes[b]; });
  order.resize(std::min<std::size_t>(order.size(), 8));
  std::vector<LinkLoad> out;
  for (fabric::LinkId id : order) {
    const double capacity = topology.link(id).capacity_bytes_per_s();
    const double mean =
        capacity > 0 && end.seconds() > 0 ? bytes[id] / (capacity * end.seconds()) : 0;
    out.push_back({id, bytes[id], mean, peak(id)});
  }
  return out;
}

// The copy-engine bound of each transfer of a phase: each GPU's transfers share its channels'
// copy rate (copy_bounds).
std::vector<double> phase_copy_bounds(const Topology& topology, const CopyEngines& copy,
                                      const Phase& phase) {
  std::vector<std::pair<VertexId, VertexId>> ends;
  ends.reserve(phase.transfers.size());
  for (const Transfer& transfer : phase.transfers) ends.emplace_back(transfer.from, transfer.to);
  return copy_bounds(topology, copy, ends);
}

// The congestion bound of the phases (CollectiveSpec::congestion_bound), one after the other.
// A phase whose pipeline fills first starts its flows once it has filled, as the flow model
// does; each flow then starts carrying when its route's latency has passed. The phase ends
// when the last of these could: a link's bytes over its capacity after the first of its flows
// starts, a flow's bytes over its copy-engine bound after it starts.
CollectiveResult bound_collective(const Topology& topology, const CollectiveSpec& spec,
                                  const std::vector<Phase>& phases) {
  Router router(topology);
  const std::size_t links = topology.link_count();
  std::vector<double> run_bytes(links, 0.0);
  std::vector<double> peak(links, 0.0);
  // This phase's bytes on each link, and when its first flow there starts (ps after the phase).
  std::vector<double> phase_bytes(links, 0.0);
  std::vector<std::int64_t> first_start(links, 0);
  std::vector<fabric::LinkId> used;
  CollectiveResult result;
  std::uint64_t hash = 0;
  SimTime now;
  Route route;
  const auto ceil_ps = [](double seconds) {
    return static_cast<std::int64_t>(std::ceil(seconds * 1e12));
  };
  for (const Phase& phase : phases) {
    SimTime hop;
    if (phase.fill_hops > 0) {
      std::uint64_t h = hash;
      for (const Transfer& transfer : phase.transfers) {
        router.route_into(transfer.from, transfer.to, ++h, route);
        hop = std::max(hop, route.latency);
      }
    }
    const std::vector<double> bounds = phase_copy_bounds(topology, spec.copy, phase);
    const SimTime start = now + SimTime::from_ps(hop.ps() * std::max(0, phase.fill_hops));
    std::int64_t end_ps = 0;  // after `start`
    const auto carry = [&](const Route& path, double bytes, double bound) {
      const std::int64_t at = path.latency.ps();
      end_ps = std::max(end_ps, at);
      if (bytes <= 0) return;
      if (bound < fabric::kUnbounded) end_ps = std::max(end_ps, at + ceil_ps(bytes / bound));
      for (const fabric::LinkId link : path.links) {
        if (phase_bytes[link] == 0) {
          used.push_back(link);
          first_start[link] = at;
        } else {
          first_start[link] = std::min(first_start[link], at);
        }
        phase_bytes[link] += bytes;
      }
    };
    for (std::size_t i = 0; i < phase.transfers.size(); ++i) {
      const Transfer& transfer = phase.transfers[i];
      ++hash;
      ++result.flows;
      if (router.policy() == config::RoutingPolicy::spray) {
        const std::vector<Route> paths = router.routes(transfer.from, transfer.to, hash);
        const auto parts = static_cast<double>(paths.size());
        for (const Route& path : paths) carry(path, transfer.bytes / parts, bounds[i] / parts);
      } else {
        router.route_into(transfer.from, transfer.to, hash, route);
        carry(route, transfer.bytes, bounds[i]);
      }
    }
    std::sort(used.begin(), used.end());
    for (const fabric::LinkId link : used) {
      const double capacity = topology.link(link).capacity_bytes_per_s();
      if (!(capacity > 0)) {
        throw CollectiveError(fmt::format(
            "link {} carries {:g} bytes but has no capacity: the collective cannot finish", link,
            phase_bytes[link]));
      }
      end_ps = std::max(end_ps, first_start[link] + ceil_ps(phase_bytes[link] / capacity));
    }
    for (const fabric::LinkId link : used) {
      const double capacity = topology.link(link).capacity_bytes_per_s();
      const double busy = static_cast<double>(end_ps - first_start[link]) * 1e-12;
      if (busy > 0) peak[link] = std::max(peak[link], phase_bytes[link] / (capacity * busy));
      run_bytes[link] += phase_bytes[link];
      phase_bytes[link] = 0;
    }
    used.clear();
    now = start + SimTime::from_ps(end_ps);
  }
  result.time = now;
  result.busiest_links =
      busiest_links(topology, run_bytes, now, [&](fabric::LinkId link) { return peak[link]; });
  return result;
}

// The phases as flows on the fabric, one after the other.
CollectiveResult simulate_collective(const Topology& topology, const CollectiveSpec& spec,
                                     const std::vector<Phase>& phases) {
  Engine engine;
  FlowModel model(engine, topology);
  model.set_departure_batching(spec.departure_batching);
  model.merge_series_links();  // every flow runs between GPUs (validate)
  Router router(topology);
  CollectiveResult result;
  std::uint64_t hash = 0;
  std::size_t next_phase = 0;
  std::size_t outstanding = 0;
  // Phases run one after the other; inside a phase, transfers stream together once the
  // pipeline has filled (fill_hops x the slowest hop's latency).
  std::function<void()> start_phase;
  // What each flow's end does, behind one pointer: a callback of a pointer and an index is
  // stored inside its std::function, with no allocation per flow.
  struct Ending {
    const CollectiveSpec& spec;
    CollectiveResult& result;
    std::size_t& outstanding;
    std::function<void()>& start_phase;
    void flow_done(std::size_t logged, SimTime now) const {
      if (spec.record_flows) result.flow_log[logged].end = now;
      if (--outstanding == 0) start_phase();
    }
  };
  const Ending ending{spec, result, outstanding, start_phase};
  start_phase = [&] {
    if (next_phase == phases.size()) return;
    const Phase& phase = phases[next_phase++];
    // A phase that fills a pipeline first routes its transfers for the slowest hop, and starts
    // each on the route found; one that does not (an all-to-all) routes each as it starts, so
    // that a million routes are not held at once.
    std::vector<Route> routes;
    SimTime hop;
    if (phase.fill_hops > 0) {
      for (const Transfer& transfer : phase.transfers) {
        routes.push_back(router.route(transfer.from, transfer.to, ++hash));
        hop = std::max(hop, routes.back().latency);
      }
    } else {
      hash += phase.transfers.size();
    }
    std::vector<double> bounds = phase_copy_bounds(topology, spec.copy, phase);
    const SimTime fill = SimTime::from_ps(hop.ps() * std::max(0, phase.fill_hops));
    outstanding = phase.transfers.size();
    const std::uint64_t first_hash = hash - phase.transfers.size() + 1;
    engine.schedule_after(fill, [&, routes = std::move(routes), bounds = std::move(bounds),
                                 index = next_phase - 1, first_hash]() mutable {
      const Phase& current = phases[index];
      model.reserve_waiting(current.transfers.size(),
                            current.transfers.size() * Router::kUsualPathLinks);
      for (std::size_t i = 0; i < current.transfers.size(); ++i) {
        ++result.flows;
        const Transfer& transfer = current.transfers[i];
        const std::size_t logged = result.flow_log.size();
        if (spec.record_flows) {
          result.flow_log.push_back(
              {transfer.from, transfer.to, first_hash + i, transfer.bytes, {}, SimTime::zero()});
        }
        // The route found for the fill, or under adaptive routing (which sees the flows started
        // before it) and spraying a new one.
        const SimTime latency = model.start_flow(
            router, transfer.from, transfer.to, first_hash + i, transfer.bytes,
            [ending = &ending, logged](SimTime now) { ending->flow_done(logged, now); }, bounds[i],
            routes.empty() ? nullptr : &routes[i]);
        if (spec.record_flows) result.flow_log[logged].start = engine.now() + latency;
      }
    });
  };
  start_phase();
  const RunStats run = engine.run();
  result.time = run.end;
  const std::vector<fabric::LinkStats>& stats = model.link_stats(run.end);
  std::vector<double> bytes(stats.size());
  for (std::size_t id = 0; id < stats.size(); ++id) bytes[id] = stats[id].bytes;
  result.busiest_links = busiest_links(
      topology, bytes, run.end, [&](fabric::LinkId link) { return stats[link].peak_utilization; });
  return result;
}

}  // namespace

CollectiveResult run_collective(const Topology& topology, const CollectiveSpec& spec) {
  validate(topology, spec);
  std::vector<Phase> phases = plan(topology, spec);
  for (const std::vector<VertexId>& group : spec.concurrent) {
    if (group.size() != spec.ranks.size()) {
      throw CollectiveError(fmt::format("concurrent groups need {} ranks each, got one of {}",
                                        spec.ranks.size(), group.size()));
    }
    CollectiveSpec other = spec;
    other.ranks = group;
    other.concurrent.clear();
    validate(topology, other);
    std::vector<Phase> more = plan(topology, other);
    for (std::size_t p = 0; p < phases.size() && p < more.size(); ++p) {
      phases[p].transfers.insert(phases[p].transfers.end(), more[p].transfers.begin(),
                                 more[p].transfers.end());
      phases[p].fill_hops = std::max(phases[p].fill_hops, more[p].fill_hops);
    }
  }
  CollectiveResult result = spec.congestion_bound ? bound_collective(topology, spec, phases)
                                                  : simulate_collective(topology, spec, phases);
  const double seconds = result.time.seconds();
  result.algbw_bytes_per_s = seconds > 0 ? spec.bytes / seconds : 0;
  result.busbw_bytes_per_s =
      result.algbw_bytes_per_s * bus_factor(spec.operation, spec.ranks.size());
  return result;
}

}  // namespace clustersim::collectives
