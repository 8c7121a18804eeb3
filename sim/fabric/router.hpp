#pragma once
// Routing on a built topology.
//
// Inside a scale-up domain a route is GPU -> NVSwitch -> GPU. Between nodes it is GPU -> PCIe ->
// NIC -> network -> NIC -> PCIe -> GPU, where the network part is a shortest path between the two
// NICs' switches, with equal-cost multi-path (ECMP) choices made by a hash of the flow and the hop,
// so a flow always takes the same path and different flows spread over the equal-cost links.
// On fabrics whose planes share no switch (multi-plane fat-tree, rail-only), a NIC reaches only
// NICs of its own plane: traffic between planes is forwarded inside a node over NVLink, on the
// sending node (to the GPU whose NIC is in the destination's plane) or on the receiving node.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <vector>

#include "sim/fabric/topology.hpp"

namespace clustersim::fabric {

class RoutingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Forwarding { at_source, at_destination };

struct Route {
  std::vector<LinkId> links;
  SimTime latency;  // sum of the links' latencies
};

class Router {
 public:
  explicit Router(const Topology& topology);

  // A route between two GPUs, or two network endpoints (hosts or NICs) of a bare network.
  [[nodiscard]] Route route(VertexId from, VertexId to, std::uint64_t flow_hash,
                            Forwarding forwarding = Forwarding::at_source);

  // Switch hops between two switches (nullopt when no path), from the cached distance tables.
  [[nodiscard]] std::optional<int> switch_distance(VertexId from, VertexId to);

 private:
  const std::vector<std::uint16_t>& distances_to(VertexId target_switch);
  void append(Route& route, VertexId a, VertexId b) const;
  void append_network(Route& route, VertexId from_endpoint, VertexId to_endpoint,
                      std::uint64_t flow_hash);
  [[nodiscard]] VertexId node_nic(int node, int local) const;

  const Topology& topology_;
  std::vector<std::int32_t> switch_index_;  // vertex -> dense switch index, -1 otherwise
  std::vector<std::vector<std::uint16_t>> distance_cache_;  // by target switch index; lazily
  std::vector<std::vector<VertexId>> node_nics_;            // NICs of each node by local index
};

}  // namespace clustersim::fabric
