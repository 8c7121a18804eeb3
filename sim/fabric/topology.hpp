#pragma once
// A cluster's network as a Boost.Graph directed graph: GPUs, NVSwitch domains, NICs and network
// switches as vertices; every physical link as two directed edges (full duplex = two capacities),
// each edge carrying its LinkId. Capacities here are what a flow can actually get: the nominal
// rate times the efficiency the hardware profile gives for that link type.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/graph/adjacency_list.hpp>

#include "sim/config/topology_spec.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"
#include "sim/fabric/maxmin_solver.hpp"

namespace clustersim::fabric {

using VertexId = std::uint32_t;

enum class VertexKind { gpu, nvswitch, nic, host, network_switch };
enum class LinkKind { nvlink, pcie, network };

struct VertexInfo {
  VertexKind kind = VertexKind::gpu;
  int node = -1;   // server the vertex sits in (GPUs, NVSwitch, NICs, hosts); -1 for switches
  int local = -1;  // index inside the node (GPU i, NIC j)
  int plane = -1;  // network plane or rail (NICs, hosts, switches of a plane); -1 for shared
  int tier = -1;   // switches: 0 leaf / top-of-rack, 1 spine or aggregation, 2 core
};

struct LinkInfo {
  VertexId from = 0;
  VertexId to = 0;
  LinkKind kind = LinkKind::network;
  Bandwidth nominal;  // line rate, one direction
  double efficiency = 1;
  SimTime latency;
  [[nodiscard]] double capacity_bytes_per_s() const { return nominal.bytes_per_s * efficiency; }
};

struct EdgeProperty {
  LinkId id = 0;
};

using Graph =
    boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, VertexInfo, EdgeProperty>;

// Switch-to-switch hop counts towards each switch, filled in as routers ask (sim/fabric/router):
// one table per target switch, shared by every Router of a topology and of its copies, so that
// the many communications of a step search each table once. Thread-safe.
struct SwitchDistanceCache {
  std::mutex mutex;
  std::vector<std::vector<std::uint16_t>> by_target;  // by dense switch index; empty: not yet
  // The switches' neighbouring switches (dense indices) as one array: those of switch i are
  // neighbours[offsets[i] .. offsets[i + 1]); built with the first table.
  std::vector<std::uint32_t> offsets;
  std::vector<std::uint32_t> neighbours;
};

class Topology {
 public:
  explicit Topology(std::string name)
      : name_(std::move(name)), distances_(std::make_shared<SwitchDistanceCache>()) {}

  VertexId add_vertex(const VertexInfo& info);
  // One physical full-duplex link: two directed edges with the same properties. Returns the id of
  // the a -> b direction; b -> a is that id + 1.
  LinkId add_duplex(VertexId a, VertexId b, LinkKind kind, Bandwidth nominal, double efficiency,
                    SimTime latency);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const Graph& graph() const { return graph_; }
  [[nodiscard]] const VertexInfo& vertex(VertexId v) const { return graph_[v]; }
  [[nodiscard]] const LinkInfo& link(LinkId id) const { return links_[id]; }
  [[nodiscard]] std::size_t vertex_count() const { return boost::num_vertices(graph_); }
  [[nodiscard]] std::size_t link_count() const { return links_.size(); }  // directed
  [[nodiscard]] std::vector<double> capacities() const;
  // A hash of every vertex and link (kinds, places, rates, latencies): equal for two graphs built
  // the same way, so results computed on one can be reused on the other. O(vertices + links).
  [[nodiscard]] std::uint64_t fingerprint() const;

  // Vertices by role, in creation order (node-major for GPUs and NICs).
  [[nodiscard]] const std::vector<VertexId>& gpus() const { return gpus_; }
  [[nodiscard]] const std::vector<VertexId>& nics() const { return nics_; }
  [[nodiscard]] const std::vector<VertexId>& switches() const { return switches_; }
  // Network endpoints: NICs when nodes are modelled, otherwise bare hosts.
  [[nodiscard]] const std::vector<VertexId>& endpoints() const { return endpoints_; }

  // Full-duplex links between two network switches (ISCA'25 Table 3 counts these).
  [[nodiscard]] std::size_t switch_links() const { return switch_links_; }
  // The NVSwitch of a node's scale-up domain, the NIC a GPU uses, a node's NIC in a plane.
  [[nodiscard]] std::optional<VertexId> nvswitch_of(VertexId gpu) const;
  [[nodiscard]] std::optional<VertexId> nic_of(VertexId gpu) const;
  [[nodiscard]] std::optional<VertexId> gpu_of(VertexId nic) const;
  // The switch a NIC or host is cabled to.
  [[nodiscard]] std::optional<VertexId> attached_switch(VertexId endpoint) const;
  // Switches with at least one endpoint cabled to them, in creation order.
  [[nodiscard]] std::vector<VertexId> edge_switches() const;
  // The directed link from a to b (the first, if there are parallel ones).
  [[nodiscard]] std::optional<LinkId> find_link(VertexId a, VertexId b) const;
  // The routers' shared distance tables (see SwitchDistanceCache).
  [[nodiscard]] SwitchDistanceCache& switch_distances() const { return *distances_; }

  // Planes that do not share switches (multi-plane fat-tree, rail-only): traffic between NICs of
  // different planes must be forwarded inside a node.
  bool planes_disjoint = false;
  int planes = 1;
  // How switches choose among equal-cost paths (sim/fabric/router.hpp).
  config::RoutingPolicy routing = config::RoutingPolicy::ecmp;

 private:
  std::string name_;
  Graph graph_;
  std::vector<LinkInfo> links_;
  std::vector<VertexId> gpus_, nics_, switches_, endpoints_;
  std::vector<std::optional<VertexId>> nvswitch_of_, nic_of_, gpu_of_, attached_;
  std::size_t switch_links_ = 0;
  std::shared_ptr<SwitchDistanceCache> distances_;
};

}  // namespace clustersim::fabric
