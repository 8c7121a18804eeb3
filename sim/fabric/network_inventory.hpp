#pragma once
// What a network is built from, for its cost: switches by port speed and ports used, and network
// links by speed, by how many of their ends sit in a switch, and by which nodes their ends serve.
// NVLink and PCIe links are inside a node and not counted.
//
// Where a link runs is left to the cost profile, which knows how many nodes share a rack: a link
// stays within one rack (copper) when every node its two ends serve lies in that rack. A NIC end
// serves its own node; a switch end serves the nodes of every endpoint cabled to that switch (a
// leaf that takes the NICs of one rack sits in that rack, a leaf that takes one NIC from each of
// 32 nodes does not); a switch with no endpoints (a spine) sits in a network rack of its own.

#include <optional>
#include <vector>

#include "sim/core/units.hpp"
#include "sim/fabric/topology.hpp"

namespace clustersim::fabric {

// Nodes first..last (inclusive), as numbered by the topology builders.
struct NodeSpan {
  int first = 0;
  int last = 0;
  auto operator<=>(const NodeSpan&) const = default;
};

struct SwitchGroup {
  Bandwidth port_speed;  // the fastest of the switch's links
  int ports = 0;         // network links cabled to it
  long long count = 0;
};

struct LinkGroup {
  Bandwidth speed;      // nominal, per direction
  int switch_ends = 0;  // 2: switch to switch; 1: NIC (or host) to switch; 0: NIC to NIC
  // Every node the two ends serve; absent when an end serves none (a spine) or the graph is
  // unknown.
  std::optional<NodeSpan> nodes;
  long long count = 0;
};

struct NetworkInventory {
  std::vector<SwitchGroup> switches;
  std::vector<LinkGroup> links;
  bool from_graph = true;  // false: from closed-form counts, where no link's reach is known
};

// From a built graph, groups in a deterministic order (by speed, then the rest).
[[nodiscard]] NetworkInventory take_inventory(const Topology& topology);

// From counts alone (a card whose graph is not built): every link at `speed`, every switch using
// the average number of ports (rounded up), and no reach known, so every link is optical.
[[nodiscard]] NetworkInventory inventory_from_counts(long long endpoints, long long switches,
                                                     long long switch_links, Bandwidth speed);

}  // namespace clustersim::fabric
