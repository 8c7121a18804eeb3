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

// Bare network at the largest size the parameters allow.
[[nodiscard]] Topology build_network(const config::TopologySpec& spec);
// A cluster of nodes on the network.
[[nodiscard]] Topology build_cluster(const config::TopologySpec& spec, const ClusterShape& shape);

// Counts a generator implies, from closed forms (no graph): used where the graph cannot be built
// (a Slim Fly whose q is not prime) and checked against built graphs in the tests.
struct NetworkCounts {
  long long endpoints = 0;
  long long switches = 0;
  long long switch_links = 0;  // full-duplex switch-to-switch links
  int diameter = 0;            // switch hops between the farthest two endpoints' switches
};
[[nodiscard]] NetworkCounts count_network(const config::TopologySpec& spec);

// Whether build_network can build this card (false: only count_network applies), and why not.
[[nodiscard]] std::optional<std::string> unbuildable_reason(const config::TopologySpec& spec);

}  // namespace clustersim::fabric
