#include "sim/fabric/link_tier.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

namespace clustersim::fabric {
namespace {

bool is_endpoint(const VertexInfo& info) {
  return info.kind == VertexKind::nic || info.kind == VertexKind::host;
}

// Two switches of one level joined directly: routers of a direct network (Dragonfly, Slim Fly,
// custom), not levels of a tree.
bool level_peers(const VertexInfo& a, const VertexInfo& b) {
  return a.kind == VertexKind::network_switch && b.kind == VertexKind::network_switch &&
         a.tier == b.tier;
}

}  // namespace

LinkTier link_tier(const Topology& topology, LinkId link) {
  const LinkInfo& info = topology.link(link);
  if (info.kind == LinkKind::nvlink) return LinkTier::nvlink;
  if (info.kind == LinkKind::pcie) return LinkTier::pcie;
  const VertexInfo& a = topology.vertex(info.from);
  const VertexInfo& b = topology.vertex(info.to);
  if (is_endpoint(a) || is_endpoint(b)) return LinkTier::leaf;
  if (level_peers(a, b)) {
    if (a.plane >= 0 && b.plane >= 0) {
      return a.plane == b.plane ? LinkTier::dragonfly_local : LinkTier::dragonfly_global;
    }
    return LinkTier::router;
  }
  return std::max(a.tier, b.tier) >= 2 ? LinkTier::core : LinkTier::spine;
}

std::string_view to_string(LinkTier tier) {
  switch (tier) {
    case LinkTier::nvlink:
      return "nvlink";
    case LinkTier::pcie:
      return "pcie";
    case LinkTier::leaf:
      return "leaf";
    case LinkTier::spine:
      return "spine";
    case LinkTier::core:
      return "core";
    case LinkTier::dragonfly_local:
      return "dragonfly_local";
    case LinkTier::dragonfly_global:
      return "dragonfly_global";
    case LinkTier::router:
      return "router";
  }
  return "unknown";
}

std::vector<std::string> vertex_names(const Topology& topology) {
  const std::size_t count = topology.vertex_count();
  // Switches with a peer of their own level are routers of a direct network.
  std::vector<char> router(count, 0);
  for (LinkId id = 0; id < topology.link_count(); ++id) {
    const LinkInfo& link = topology.link(id);
    if (level_peers(topology.vertex(link.from), topology.vertex(link.to))) router[link.from] = 1;
  }
  std::map<std::pair<int, int>, int> next_switch;  // (level, plane) -> index; -1 level: routers
  int next_host = 0;
  std::vector<std::string> names;
  names.reserve(count);
  for (VertexId v = 0; v < count; ++v) {
    const VertexInfo& info = topology.vertex(v);
    const std::string plane = info.plane >= 0 ? fmt::format("p{}.", info.plane) : "";
    switch (info.kind) {
      case VertexKind::gpu:
        names.push_back(fmt::format("gpu n{}.g{}", info.node, info.local));
        break;
      case VertexKind::nic:
        names.push_back(fmt::format("nic n{}.{}", info.node, info.local));
        break;
      case VertexKind::nvswitch:
        names.push_back(info.node >= 0 ? fmt::format("nvswitch n{}", info.node) : "nvswitch");
        break;
      case VertexKind::host:
        names.push_back(fmt::format("host {}", next_host++));
        break;
      case VertexKind::network_switch: {
        if (router[v]) {
          const int index = next_switch[{-1, info.plane}]++;
          names.push_back(info.plane >= 0 ? fmt::format("router g{}.{}", info.plane, index)
                                          : fmt::format("switch {}", index));
          break;
        }
        const int index = next_switch[{info.tier, info.plane}]++;
        const char* level = info.tier <= 0 ? "leaf" : info.tier == 1 ? "spine" : "core";
        names.push_back(fmt::format("{} {}{}", level, plane, index));
        break;
      }
    }
  }
  return names;
}

}  // namespace clustersim::fabric
