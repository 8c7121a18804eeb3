#include "sim/fabric/network_inventory.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

namespace clustersim::fabric {
namespace {

long long bits_per_s(Bandwidth speed) {
  return std::llround(speed.bytes_per_s * 8);
}

Bandwidth from_bits_per_s(long long bits) {
  return Bandwidth{static_cast<double>(bits) / 8};
}

std::optional<NodeSpan> join(const std::optional<NodeSpan>& a, const std::optional<NodeSpan>& b) {
  if (!a || !b) return std::nullopt;
  return NodeSpan{std::min(a->first, b->first), std::max(a->last, b->last)};
}

}  // namespace

NetworkInventory take_inventory(const Topology& topology) {
  const std::size_t n = topology.vertex_count();
  // Each switch: the nodes of the endpoints cabled to it (none: a switch that serves no node).
  std::vector<std::optional<NodeSpan>> served(n);
  std::vector<char> serves_unknown(n, 0);
  for (VertexId e : topology.endpoints()) {
    const std::optional<VertexId> s = topology.attached_switch(e);
    if (!s) continue;
    const int node = topology.vertex(e).node;
    if (node < 0) {
      serves_unknown[*s] = 1;
      continue;
    }
    served[*s] = served[*s] ? join(served[*s], NodeSpan{node, node}) : NodeSpan{node, node};
  }
  std::vector<int> ports(n, 0);
  std::vector<long long> fastest(n, 0);
  // (speed, switch ends, has nodes, first node, last node) -> links.
  std::map<std::tuple<long long, int, bool, int, int>, long long> links;
  auto end_nodes = [&](VertexId v) -> std::optional<NodeSpan> {
    const VertexInfo& info = topology.vertex(v);
    if (info.kind == VertexKind::network_switch) {
      return serves_unknown[v] != 0 ? std::nullopt : served[v];
    }
    if (info.node < 0) return std::nullopt;
    return NodeSpan{info.node, info.node};
  };
  // Links come in pairs (a -> b, then b -> a): each physical link once, by its even id.
  for (LinkId id = 0; id < topology.link_count(); id += 2) {
    const LinkInfo& link = topology.link(id);
    if (link.kind != LinkKind::network) continue;
    const long long bits = bits_per_s(link.nominal);
    int switch_ends = 0;
    for (VertexId v : {link.from, link.to}) {
      if (topology.vertex(v).kind != VertexKind::network_switch) continue;
      ++switch_ends;
      ++ports[v];
      fastest[v] = std::max(fastest[v], bits);
    }
    const std::optional<NodeSpan> nodes = join(end_nodes(link.from), end_nodes(link.to));
    ++links[{bits, switch_ends, nodes.has_value(), nodes ? nodes->first : 0,
             nodes ? nodes->last : 0}];
  }
  std::map<std::pair<long long, int>, long long> switches;
  for (VertexId s : topology.switches()) ++switches[{fastest[s], ports[s]}];

  NetworkInventory inventory;
  for (const auto& [key, count] : switches) {
    inventory.switches.push_back({from_bits_per_s(key.first), key.second, count});
  }
  for (const auto& [key, count] : links) {
    const auto& [bits, switch_ends, has_nodes, first, last] = key;
    LinkGroup group{from_bits_per_s(bits), switch_ends, std::nullopt, count};
    if (has_nodes) group.nodes = NodeSpan{first, last};
    inventory.links.push_back(group);
  }
  return inventory;
}

NetworkInventory inventory_from_counts(long long endpoints, long long switches,
                                       long long switch_links, Bandwidth speed) {
  NetworkInventory inventory;
  inventory.from_graph = false;
  if (switches > 0) {
    const long long port_ends = 2 * switch_links + endpoints;
    const auto ports = static_cast<int>((port_ends + switches - 1) / switches);
    inventory.switches.push_back({speed, ports, switches});
  }
  if (endpoints > 0) inventory.links.push_back({speed, 1, std::nullopt, endpoints});
  if (switch_links > 0) inventory.links.push_back({speed, 2, std::nullopt, switch_links});
  return inventory;
}

}  // namespace clustersim::fabric
