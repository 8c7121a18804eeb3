#pragma once
// A topology card: which generator builds the scale-out network and with which parameters. The
// graph itself is built by sim/fabric; this is only the validated description.

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/enum_names.hpp"

#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"

namespace clustersim::config {

enum class TopologyGenerator {
  single_node,           // one scale-up domain, no scale-out network
  fat_tree,              // two- or three-layer folded Clos (FT2, FT3)
  multi_plane_fat_tree,  // one independent fat-tree per NIC plane (MPFT)
  multi_rail_fat_tree,   // rails joined by shared spines (MRFT)
  rail_only,             // one switch per rail, no spine
  slim_fly,              // MMS graph, diameter 2
  dragonfly,             // canonical dragonfly (groups of routers, global links)
  nvl72,                 // a 72-GPU NVLink scale-up domain
  custom,                // explicit lists of hosts, switches and links
};

// How the network's switches choose among equal-cost paths (sim/fabric/router.hpp).
enum class RoutingPolicy {
  ecmp,      // a hash of the flow and the hop: a flow keeps one path, flows spread by chance
  adaptive,  // the least-loaded equal-cost link at each hop, re-chosen as the flow goes on
  static_,   // destination-based tables (D-mod-k), as InfiniBand subnet managers build them
  spray,     // every flow split evenly over the equal-cost paths
  valiant,   // every flow through a random intermediate switch, minimal to it and from it
  ugal,      // each flow minimal or Valiant, whichever the flows already routed load less
};

inline constexpr std::array<EnumName<RoutingPolicy>, 6> kRoutingPolicyNames{
    {{"ecmp", RoutingPolicy::ecmp},
     {"adaptive", RoutingPolicy::adaptive},
     {"static", RoutingPolicy::static_},
     {"spray", RoutingPolicy::spray},
     {"valiant", RoutingPolicy::valiant},
     {"ugal", RoutingPolicy::ugal}}};

[[nodiscard]] constexpr std::string_view to_string(RoutingPolicy policy) {
  return name_of(kRoutingPolicyNames, policy);
}

struct CustomNode {
  std::string name;
  bool is_switch = false;  // else a host (a network endpoint)
};

struct CustomLink {
  std::size_t a = 0;  // indices into TopologySpec::custom_nodes
  std::size_t b = 0;
  Bandwidth bandwidth;  // per direction
  SimTime latency;
};

struct TopologySpec {
  std::string name;
  std::string description;
  TopologyGenerator generator = TopologyGenerator::single_node;
  int switch_radix = 0;  // ports per switch (Slim Fly: 0 = no bound on q)
  int levels = 0;        // fat-tree layers (2 or 3); rail-only: 0 = sized
  // The endpoints the network is built for; absent: the most its parameters allow. A cluster
  // sets it to its NIC count; `topo --endpoints N` to N.
  std::optional<long long> endpoints;
  std::optional<int> pods;      // three-level fat-tree: a fixed pod count (absent: sized)
  int planes = 1;               // independent planes (MPFT), or rails (MRFT)
  double oversubscription = 1;  // down:up port ratio at the leaves
  std::optional<Bandwidth> link_bandwidth;  // absent: the NIC line rate of the hardware profile
  std::optional<SimTime> switch_latency;    // per switch-to-switch link; absent: the link layer's
  RoutingPolicy routing = RoutingPolicy::ecmp;
  int slim_fly_q = 0;   // Slim Fly: prime q (0: the smallest that holds the endpoints)
  int dragonfly_p = 0;  // Dragonfly: endpoints per router
  int dragonfly_a = 0;  // routers per group
  int dragonfly_h = 0;  // global links per router
  std::optional<int> dragonfly_groups;  // absent: as many as the endpoints need (at most a*h + 1)
  std::optional<int> endpoints_per_switch;  // Slim Fly: absent means half the network ports
  int domain_size = 0;                      // NVL72-style domain: GPUs on one NVSwitch fabric
  std::vector<CustomNode> custom_nodes;     // custom: in the order written
  std::vector<CustomLink> custom_links;
};

inline constexpr std::array<EnumName<TopologyGenerator>, 9> kTopologyGeneratorNames{
    {{"single_node", TopologyGenerator::single_node},
     {"fat_tree", TopologyGenerator::fat_tree},
     {"multi_plane_fat_tree", TopologyGenerator::multi_plane_fat_tree},
     {"multi_rail_fat_tree", TopologyGenerator::multi_rail_fat_tree},
     {"rail_only", TopologyGenerator::rail_only},
     {"slim_fly", TopologyGenerator::slim_fly},
     {"dragonfly", TopologyGenerator::dragonfly},
     {"nvl72", TopologyGenerator::nvl72},
     {"custom", TopologyGenerator::custom}}};

[[nodiscard]] constexpr std::string_view to_string(TopologyGenerator generator) {
  return name_of(kTopologyGeneratorNames, generator);
}

// Slim Fly's MMS graph is built over GF(q) for a prime q >= 5 (q = 4w + 1 or 4w - 1).
[[nodiscard]] constexpr bool slim_fly_buildable(int q) {
  if (q < 5) return false;
  for (int d = 2; d * d <= q; ++d) {
    if (q % d == 0) return false;
  }
  return true;
}

// The nearest buildable q below `q` (0 when none) and above it.
[[nodiscard]] constexpr std::pair<int, int> nearest_buildable_slim_fly_q(int q) {
  int below = q - 1;
  while (below >= 5 && !slim_fly_buildable(below)) --below;
  int above = q + 1;
  while (!slim_fly_buildable(above)) ++above;
  return {below >= 5 ? below : 0, above};
}

}  // namespace clustersim::config
