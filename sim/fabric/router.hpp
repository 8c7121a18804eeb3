#pragma once
// Routing on a built topology.
//
// Inside a scale-up domain a route is GPU -> NVSwitch -> GPU. Between nodes it is GPU -> PCIe ->
// NIC -> network -> NIC -> PCIe -> GPU, where the network part is a shortest path between the two
// NICs' switches. Where a switch has several links on shortest paths to the destination (equal-cost
// choices), the topology's routing policy picks one:
//   ecmp      a hash of (the flow's hash, the hop's index): the flow's hash stands for its 5-tuple
//             (each flow of a communication gets its own, as each RDMA connection has its own
//             source port), so a flow keeps one path and flows spread over the links by chance,
//             colliding as hashes do;
//   static    destination-based tables (D-mod-k, as InfiniBand subnet managers build them for
//             fat-trees): going up the i-th tier, link (d / (n_1 ... n_{i-1})) mod n_i of the
//             n_i that lead up, where d is the destination's index among its plane's endpoints;
//             any other choice (down a trunk of parallel links, a flat network) link d mod n;
//             every flow to one destination shares its path, and the links down to a leaf
//             each carry distinct destinations;
//   adaptive  the link with the least load per unit of capacity, under the load view the caller
//             gives (set_load: the flow model's flows per link, or bytes in a replay), ties by the
//             hash; the flow model re-chooses the path as a flow goes on (FlowModel::start_flow);
//   spray     routes() gives every equal-cost path (up to kMaxSprayPaths, covering each choice's
//             links evenly), and the flow is split evenly over them; route() is the first;
//   valiant   the network part goes through an intermediate switch chosen by the flow's hash
//             among the switches that hold endpoints: shortest paths to it and from it, each hop
//             chosen as under ecmp (Valiant's randomised routing, the non-minimal routing of
//             dragonflies: Kim, Dally, Scott, Abts, ISCA 2008, §4.2); a flow whose intermediate
//             is its own first or last switch goes minimally;
//   ugal      per flow, the minimal path or the flow's Valiant path, whichever costs less as its
//             switch hops x its busiest network link's load with the flow per unit of capacity
//             (queue x hops, as UGAL weighs them: ibid.), under the load view the caller gives
//             (the flows routed on each link: the global view, UGAL-G); minimal on a tie and
//             without a view. The flow model chooses once, when the flow starts.
// On fabrics whose planes share no switch (multi-plane fat-tree, rail-only), a NIC reaches only
// NICs of its own plane: traffic between planes is forwarded inside a node over NVLink, on the
// sending node (to the GPU whose NIC is in the destination's plane) or on the receiving node.

#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <stdexcept>
#include <utility>
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

// Whether the network offers a choice of equal-cost paths between two endpoints of one plane
// (every pair of edge switches when there are at most 256, a spread of pairs beyond): adaptive
// routing and spraying need one.
[[nodiscard]] bool offers_equal_cost_paths(const Topology& topology);

class Router {
 public:
  // A sprayed flow's paths at most: a three-level fat-tree has (k/2)^2 between pods.
  static constexpr int kMaxSprayPaths = 64;
  // The links of the usual route between nodes (a GPU's NIC, three tiers up and down, the far
  // NIC): what a route reserves room for when it is built.
  static constexpr std::size_t kUsualPathLinks = 8;

  explicit Router(const Topology& topology);

  // A route between two GPUs, or two network endpoints (hosts or NICs) of a bare network.
  [[nodiscard]] Route route(VertexId from, VertexId to, std::uint64_t flow_hash,
                            Forwarding forwarding = Forwarding::at_source);
  // The same into `out`, in the room its links already have: a caller routing many flows one
  // after the other saves an allocation each.
  void route_into(VertexId from, VertexId to, std::uint64_t flow_hash, Route& out,
                  Forwarding forwarding = Forwarding::at_source);
  // The routes a flow takes: its spray paths under `spray`, otherwise the one route().
  [[nodiscard]] std::vector<Route> routes(VertexId from, VertexId to, std::uint64_t flow_hash,
                                          Forwarding forwarding = Forwarding::at_source);
  // Adaptive routing's view of each directed link's load (observed; null: choose by the hash).
  void set_load(const std::vector<double>* load) { load_ = load; }
  [[nodiscard]] config::RoutingPolicy policy() const { return topology_.routing; }

  // Switch hops between two switches (nullopt when no path), from the cached distance tables.
  [[nodiscard]] std::optional<int> switch_distance(VertexId from, VertexId to);
  // Whether some shortest path between two switches has a choice of links.
  [[nodiscard]] bool has_choice(VertexId from, VertexId to);

 private:
  // Which route is being built: the flow's hash, and under spray the path's index.
  struct Walk {
    std::uint64_t hash = 0;
    int path = 0;
    int combined = 1;  // spray: the product of the choices' sizes so far, at most kMaxSprayPaths
  };
  // Writes the route into `route` (emptied first).
  void build(VertexId from, VertexId to, Walk& walk, Forwarding forwarding, Route& route);
  const std::vector<std::uint16_t>& distances_to(VertexId target_switch);
  void append(Route& route, VertexId a, VertexId b);
  void append_network(Route& route, VertexId from_endpoint, VertexId to_endpoint, Walk& walk);
  // Appends a shortest path between two switches; `hop` and `stride` carry on over the walk.
  void append_switches(Route& route, VertexId from, VertexId to, VertexId to_endpoint, Walk& walk,
                       std::uint64_t& hop, std::uint64_t& stride);
  // Valiant's intermediate switch for a flow between two switches (nullopt: go minimally).
  [[nodiscard]] std::optional<VertexId> intermediate(VertexId first, VertexId last,
                                                     std::uint64_t hash);
  // UGAL's price of the route's links [from, to): their count x the busiest one's load, with
  // the flow, per unit of capacity.
  [[nodiscard]] double ugal_cost(const Route& route, std::size_t from, std::size_t to) const;
  // The links from `current` onto a shortest path to `last` (`distance` hops away), in the
  // switch's port order: from the cache, or found into `scratch` (and cached while it has room).
  [[nodiscard]] std::span<const LinkId> next_hops(VertexId current, VertexId last,
                                                  const std::vector<std::uint16_t>& distances,
                                                  std::uint16_t distance,
                                                  std::vector<LinkId>& scratch);
  [[nodiscard]] std::size_t choose(std::span<const LinkId> choices, std::uint64_t hop,
                                   VertexId to_endpoint, std::uint64_t& stride, Walk& walk) const;
  [[nodiscard]] VertexId node_nic(int node, int local) const;

  const Topology& topology_;
  const std::vector<double>* load_ = nullptr;
  std::vector<std::uint32_t> plane_index_;  // endpoint vertex -> index among its plane's endpoints
  std::vector<std::int32_t> switch_index_;  // vertex -> dense switch index, -1 otherwise
  // Endpoint vertex -> the link from its switch to it, found on first use (kNoLink before): a
  // switch has many ports, and every route ends on one of them.
  static constexpr LinkId kNoLink = std::numeric_limits<LinkId>::max();
  std::vector<LinkId> down_link_;
  // By vertex: the last two links append() found out of it (a GPU's to its NIC and its
  // NVSwitch, a NIC's to its switch and its GPU), so that a route does not search a vertex's
  // edges for each hop.
  struct LinkMemo {
    std::array<VertexId, 2> to{kNoVertex, kNoVertex};
    std::array<LinkId, 2> link{kNoLink, kNoLink};
  };
  static constexpr VertexId kNoVertex = std::numeric_limits<VertexId>::max();
  std::vector<LinkMemo> link_memo_;
  // (switch, target switch) -> where its next hops lie in hop_links_ (offset, count): a switch has
  // many ports, and an all-to-all routes a million flows through the same few switch pairs.
  // Capped at kMaxCachedHops pairs and kMaxCachedHopLinks links; beyond, hops are found each
  // time (same result).
  static constexpr std::size_t kMaxCachedHops = std::size_t{1} << 20;
  static constexpr std::size_t kMaxCachedHopLinks = std::size_t{1} << 22;
  // An open-addressed table (linear probing, at most half full): one probe, where a node-based
  // map chases a bucket and a node for each of a million routes' few hops.
  struct HopSlot {
    std::uint64_t key = kNoHopKey;
    std::uint32_t offset = 0;
    std::uint32_t count = 0;
  };
  static constexpr std::uint64_t kNoHopKey = std::numeric_limits<std::uint64_t>::max();
  [[nodiscard]] const HopSlot* find_hops(std::uint64_t key) const;
  void insert_hops(std::uint64_t key, std::uint32_t offset, std::uint32_t count);
  std::vector<HopSlot> hop_slots_;
  std::size_t hop_slots_used_ = 0;
  std::vector<LinkId> hop_links_;
  // By dense switch index: the switch's list last cached in hop_links_ (offset, count), which
  // the next target reuses when its hops are the same.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> last_hops_;
  // By target switch index: the shared table, once this router has looked it up.
  std::vector<const std::vector<std::uint16_t>*> distance_cache_;
  std::vector<std::vector<VertexId>> node_nics_;  // NICs of each node by local index
  std::vector<VertexId> edge_switches_;           // switches with endpoints, found on first use
  Route other_;                                   // ugal: the alternative being priced
};

}  // namespace clustersim::fabric
