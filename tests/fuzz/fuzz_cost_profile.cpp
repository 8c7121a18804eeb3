// A cost profile (hardware_profiles/costs/*.yaml): loading it gives the profile or a ConfigError;
// a profile that loads prices a network (the shipped multi-plane fat-tree for 128 endpoints), as
// `clustersim topo --cost` does, or refuses with a CostError naming what it lacks. Anything else
// is a bug.

#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

const clustersim::fabric::TopologyStats& priced_network() {
  using namespace clustersim;
  static const fabric::TopologyStats stats = [] {
    config::TopologySpec spec =
        config::load_topology(CLUSTERSIM_SOURCE_DIR "/topologies/mpft.yaml");
    spec.endpoints = 128;
    return fabric::measure(fabric::build_network(spec));
  }();
  return stats;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const fabric::TopologyStats& network = priced_network();
  const std::string file = fuzz::write_input("hardware_profiles/costs/fuzz_input.yaml", data, size);
  try {
    const config::CostProfile prices = config::load_cost_profile(file);
    (void)fabric::network_cost(network, prices);
  } catch (const config::ConfigError&) {
  } catch (const fabric::CostError&) {
  }
  return 0;
}
