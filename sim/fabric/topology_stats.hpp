#pragma once
// What `clustersim topo` reports about a network: counts, diameter, bisection bandwidth, and the
// inventory its cost is priced from (sim/fabric/network_cost.hpp).
//
// - diameter: the most switch-to-switch hops between two switches that have endpoints, found by a
//   breadth-first search from each such switch (from an evenly spaced sample of them when there
//   are more than `max_diameter_sources`, which the note then says);
// - bisection bandwidth: the maximum flow from the first half of the endpoints (in build order:
//   node-major, so every plane and rail is split in half) to the second half, by push-relabel,
//   at the links' line rates (as a network is specified and bought, not the efficiency-scaled
//   rates flows get); this is the bandwidth of that cut, the natural bisection of the regular
//   topologies built here.

#include <optional>
#include <string>

#include "sim/fabric/network_inventory.hpp"
#include "sim/fabric/topology.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::fabric {

struct StatsOptions {
  std::size_t max_diameter_sources = 256;
  std::size_t max_bisection_links = 2'000'000;  // directed links; larger graphs are not cut
};

struct TopologyStats {
  long long endpoints = 0;
  long long switches = 0;
  long long switch_links = 0;
  long long endpoint_links = 0;
  std::optional<int> diameter;
  std::string diameter_note;
  std::optional<Bandwidth> bisection;
  std::string bisection_note;
  bool graph_built = false;
  std::optional<NetworkInventory> inventory;  // absent: link speeds unknown
};

[[nodiscard]] TopologyStats measure(const Topology& topology, const StatsOptions& options = {});
// The counts alone (endpoints, switches, links) and the inventory, without diameter or bisection.
[[nodiscard]] TopologyStats count(const Topology& topology);
// From closed forms, for a card whose graph cannot be built; with the card's link speed, an
// inventory from the counts (inventory_from_counts).
[[nodiscard]] TopologyStats measure_from_counts(const NetworkCounts& counts, std::string reason,
                                                std::optional<Bandwidth> link_speed = {});

}  // namespace clustersim::fabric
