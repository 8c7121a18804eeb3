// A topology card (topologies/*.yaml): loading it gives the card or a ConfigError; a card that
// loads is sized and counted as `clustersim topo` does before it builds the graph, which may
// refuse it with a BuildError naming the key. Anything else is a bug. (Graphs themselves are
// built by the experiment target, for the cluster an experiment names.)

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("topologies/fuzz_input.yaml", data, size);
  try {
    const config::TopologySpec spec = config::load_topology(file);
    (void)fabric::unbuildable_reason(spec);
    (void)fabric::describe_size(spec);
    (void)fabric::count_network(spec);
  } catch (const config::ConfigError&) {
  } catch (const fabric::BuildError&) {
  }
  return 0;
}
