#include "sim/fabric/topology_stats.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <limits>

#include <fmt/format.h>
#include <boost/graph/push_relabel_max_flow.hpp>

namespace clustersim::fabric {
namespace {

// Largest switch-hop distance from `source` to any switch in `targets` it can reach.
int eccentricity(const Topology& topology, VertexId source, const std::vector<char>& is_target,
                 std::vector<int>& distance) {
  std::fill(distance.begin(), distance.end(), -1);
  const Graph& graph = topology.graph();
  std::deque<VertexId> queue{source};
  distance[source] = 0;
  int farthest = 0;
  while (!queue.empty()) {
    const VertexId v = queue.front();
    queue.pop_front();
    if (is_target[v] != 0) farthest = std::max(farthest, distance[v]);
    for (const auto& edge : boost::make_iterator_range(boost::out_edges(v, graph))) {
      const auto w = static_cast<VertexId>(boost::target(edge, graph));
      if (distance[w] >= 0 || topology.vertex(w).kind != VertexKind::network_switch) continue;
      distance[w] = distance[v] + 1;
      queue.push_back(w);
    }
  }
  return farthest;
}

using FlowTraits = boost::adjacency_list_traits<boost::vecS, boost::vecS, boost::directedS>;
using FlowGraph = boost::adjacency_list<
    boost::vecS, boost::vecS, boost::directedS, boost::no_property,
    boost::property<
        boost::edge_capacity_t, std::int64_t,
        boost::property<boost::edge_residual_capacity_t, std::int64_t,
                        boost::property<boost::edge_reverse_t, FlowTraits::edge_descriptor>>>>;

// Capacities in whole bytes per second: integers keep push-relabel's arithmetic exact.
void add_flow_edge(FlowGraph& graph, std::size_t from, std::size_t to, std::int64_t capacity) {
  auto capacity_map = boost::get(boost::edge_capacity, graph);
  auto reverse_map = boost::get(boost::edge_reverse, graph);
  const auto forward = boost::add_edge(from, to, graph).first;
  const auto backward = boost::add_edge(to, from, graph).first;
  capacity_map[forward] = capacity;
  capacity_map[backward] = 0;
  reverse_map[forward] = backward;
  reverse_map[backward] = forward;
}

double bisection_max_flow(const Topology& topology) {
  const std::size_t n = topology.vertex_count();
  FlowGraph graph(n + 2);
  const std::size_t source = n;
  const std::size_t sink = n + 1;
  // An endpoint can send (receive) at most what its own links carry: that, not infinity, is the
  // capacity of its edge from the source (to the sink), which keeps the excesses small.
  std::vector<std::int64_t> out_capacity(n, 0);
  std::vector<std::int64_t> in_capacity(n, 0);
  for (LinkId id = 0; id < topology.link_count(); ++id) {
    const LinkInfo& link = topology.link(id);
    const auto capacity = static_cast<std::int64_t>(std::llround(link.nominal.bytes_per_s));
    add_flow_edge(graph, link.from, link.to, capacity);
    out_capacity[link.from] += capacity;
    in_capacity[link.to] += capacity;
  }
  const std::vector<VertexId>& endpoints = topology.endpoints();
  const std::size_t half = endpoints.size() / 2;
  for (std::size_t i = 0; i < 2 * half; ++i) {
    const VertexId e = endpoints[i];
    if (i < half) {
      add_flow_edge(graph, source, e, out_capacity[e]);
    } else {
      add_flow_edge(graph, e, sink, in_capacity[e]);
    }
  }
  return static_cast<double>(boost::push_relabel_max_flow(graph, source, sink));
}

}  // namespace

TopologyStats count(const Topology& topology) {
  TopologyStats stats;
  stats.graph_built = true;
  stats.endpoints = static_cast<long long>(topology.endpoints().size());
  stats.switches = static_cast<long long>(topology.switches().size());
  stats.switch_links = static_cast<long long>(topology.switch_links());
  for (VertexId e : topology.endpoints()) {
    if (topology.attached_switch(e)) ++stats.endpoint_links;
  }
  stats.inventory = take_inventory(topology);
  return stats;
}

TopologyStats measure(const Topology& topology, const StatsOptions& options) {
  TopologyStats stats = count(topology);

  const std::vector<VertexId> sources = topology.edge_switches();
  if (!sources.empty()) {
    std::vector<char> is_target(topology.vertex_count(), 0);
    for (VertexId s : sources) is_target[s] = 1;
    std::vector<int> distance(topology.vertex_count(), -1);
    const std::size_t step =
        (sources.size() + options.max_diameter_sources - 1) / options.max_diameter_sources;
    int diameter = 0;
    std::size_t searched = 0;
    for (std::size_t i = 0; i < sources.size(); i += step) {
      diameter = std::max(diameter, eccentricity(topology, sources[i], is_target, distance));
      ++searched;
    }
    stats.diameter = diameter;
    stats.diameter_note = step == 1 ? fmt::format("from all {} edge switches", sources.size())
                                    : fmt::format("from {} of {} edge switches, evenly spaced",
                                                  searched, sources.size());
    if (topology.planes_disjoint) stats.diameter_note += ", within each plane";
  }

  if (topology.endpoints().size() < 2) {
    stats.bisection_note = "fewer than two endpoints";
  } else if (topology.link_count() > options.max_bisection_links) {
    stats.bisection_note = fmt::format("not computed: {} directed links exceed the limit of {}",
                                       topology.link_count(), options.max_bisection_links);
  } else {
    stats.bisection = Bandwidth{bisection_max_flow(topology)};
    stats.bisection_note = "max flow from the first half of the endpoints to the second";
  }
  return stats;
}

TopologyStats measure_from_counts(const NetworkCounts& counts, std::string reason,
                                  std::optional<Bandwidth> link_speed) {
  TopologyStats stats;
  stats.endpoints = counts.endpoints;
  stats.switches = counts.switches;
  stats.switch_links = counts.switch_links;
  stats.endpoint_links = counts.endpoints;
  stats.diameter = counts.diameter;
  stats.diameter_note = "from the generator's closed form (graph not built: " + reason + ")";
  stats.bisection_note = "not computed: graph not built";
  if (link_speed) {
    stats.inventory =
        inventory_from_counts(counts.endpoints, counts.switches, counts.switch_links, *link_speed);
  }
  return stats;
}

}  // namespace clustersim::fabric
