#pragma once
// Builders: a topology card (generator + parameters) becomes a Topology graph.
//
// Two modes:
//   - bare network (no hardware profile): one host vertex per network port, as large as the
//     parameters allow; this is what `clustersim topo` measures (ISCA'25 Table 3);
//   - cluster (a hardware profile and a node count): every node holds its GPUs, an NVSwitch for
//     its scale-up domain, and its NICs; GPU i reaches NIC i*nics/gpus over PCIe; the network is
//     sized for the nodes' NICs.
// Impossible parameters (too many endpoints for the radix, a Slim Fly q that is not prime, ...)
// throw BuildError with a message that names the parameter and the limit.

#include <optional>
#include <stdexcept>
#include <string>

#include "sim/config/hardware_profile.hpp"
#include "sim/config/topology_spec.hpp"
#include "sim/fabric/topology.hpp"

namespace clustersim::fabric {

class BuildError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct ClusterShape {
  int nodes = 1;
  int gpus_per_node = 8;
  const config::HardwareProfile* hardware = nullptr;  // observed; required for cluster mode
};

// The card sized for `endpoints` (absent: the most its parameters allow). Each size the card
// leaves open is chosen the way the generator's papers size it, the smallest network that holds
// the endpoints:
//   fat-tree     two levels: ceil(N / d) leaves under the fewest spines whose ports hold their
//                uplinks; three levels: ceil(N / (k/2)) leaves in ceil(leaves / (k/2)) pods, and
//                per aggregation position the fewest cores (a divisor of k/2) that hold the pods;
//   MPFT / MRFT  the same per plane / over all rails' leaves;
//   rail-only    one switch per rail, a leaf-spine tree per rail when a rail outgrows it, three
//                tiers beyond;
//   Slim Fly     the smallest buildable (prime) q with 2 q^2 routers enough, within the radix;
//   dragonfly    ceil(N / (a p)) groups, each pair joined by a h / (g - 1) global links.
// A size the card fixes (pods, q, groups, rail-only levels) is kept; when it cannot hold the
// endpoints, BuildError names the card and the key. The result has `endpoints` set.
[[nodiscard]] config::TopologySpec size_network(const config::TopologySpec& spec,
                                                std::optional<long long> endpoints);

// The sizes size_network chooses for the card, in words ("2 pods, 32 cores"), for reports.
[[nodiscard]] std::string describe_size(const config::TopologySpec& spec);

// Bare network for spec.endpoints endpoints (absent: the largest size the parameters allow).
[[nodiscard]] Topology build_network(const config::TopologySpec& spec);
// A cluster of nodes on the network, sized for the nodes' NICs.
[[nodiscard]] Topology build_cluster(const config::TopologySpec& spec, const ClusterShape& shape);

// Counts a generator implies for spec.endpoints, from closed forms (no graph): used where the
// graph cannot be built (a Slim Fly whose q is not prime) and checked against built graphs in the
// tests.
struct NetworkCounts {
  long long endpoints = 0;
  long long switches = 0;
  long long switch_links = 0;  // full-duplex switch-to-switch links
  int diameter = 0;            // switch hops between the farthest two endpoints' switches
};
[[nodiscard]] NetworkCounts count_network(const config::TopologySpec& spec);

// Sizes of the graph build_cluster makes, from the same closed forms (no graph): what a run's
// memory estimate starts from, before anything is built. Throws BuildError as build_cluster does
// for a size the card cannot hold.
struct ClusterCounts {
  long long vertices = 0;    // GPUs, NVSwitches, NICs and network switches
  long long links = 0;       // directed links (two per full-duplex link)
  long long switches = 0;    // network switches
  int network_diameter = 0;  // switch hops between the farthest two NICs' switches
};
[[nodiscard]] ClusterCounts count_cluster(const config::TopologySpec& spec,
                                          const ClusterShape& shape);

// Whether build_network can build this card (false: only count_network applies), and why not.
[[nodiscard]] std::optional<std::string> unbuildable_reason(const config::TopologySpec& spec);

}  // namespace clustersim::fabric
