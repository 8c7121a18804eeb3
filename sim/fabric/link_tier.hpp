#pragma once
// Where a directed link sits in the cluster, and readable names for the vertices it joins: what the
// per-link reports (`clustersim run --links`) and the per-tier summaries print.
//
// Tiers, from the vertices a link joins (both directions of a cable share the tier):
//   nvlink            a GPU and its NVSwitch (scale-up)
//   pcie              a GPU and its NIC
//   leaf              a network endpoint (NIC or bare host) and the switch it is cabled to: a
//                     fat-tree leaf, a rail switch, a Dragonfly or Slim Fly router
//   spine             a leaf and a spine (aggregation) switch of a fat-tree or multi-rail tree
//   core              a spine (aggregation) switch and a core switch of a three-level fat-tree
//   dragonfly_local   two routers of one Dragonfly group
//   dragonfly_global  routers of two Dragonfly groups
//   router            two switches without levels: a Slim Fly, or a custom topology's switches
// The builders record a switch's level (VertexInfo::tier) and plane, rail or Dragonfly group
// (VertexInfo::plane); routers of direct networks are all level 0, Dragonfly's with their group.

#include <string>
#include <string_view>
#include <vector>

#include "sim/fabric/topology.hpp"

namespace clustersim::fabric {

enum class LinkTier {
  nvlink,
  pcie,
  leaf,
  spine,
  core,
  dragonfly_local,
  dragonfly_global,
  router,
};

inline constexpr std::size_t kLinkTiers = 8;

[[nodiscard]] LinkTier link_tier(const Topology& topology, LinkId link);
[[nodiscard]] std::string_view to_string(LinkTier tier);

// One name per vertex, by VertexId: "gpu n3.g5" (GPU 5 of node 3), "nic n3.0", "nvswitch n3"
// ("nvswitch" for a domain shared by several nodes), "host 12", switches by level and plane with
// their index among the switches of that level and plane: "leaf p2.7", "spine p2.1", "core 3",
// Dragonfly routers by group ("router g4.1"), other level-less switches "switch 17".
[[nodiscard]] std::vector<std::string> vertex_names(const Topology& topology);

}  // namespace clustersim::fabric
