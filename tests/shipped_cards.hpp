#pragma once
// The shipped cards the tests load, by name: an experiment of experiments/ (with --set style
// overrides), a topology card of topologies/ and a hardware profile of hardware_profiles/.

#include <string>
#include <utility>
#include <vector>

#include "sim/config/loader.hpp"

namespace clustersim::testing {

inline const std::string kSourceRoot = CLUSTERSIM_SOURCE_DIR;

// experiments/NAME.yaml (NAME may hold a subfolder: "validation/dsv3_chunk_pair").
inline config::Experiment shipped_experiment(const std::string& name,
                                             std::vector<std::string> overrides = {}) {
  config::LoadOptions options;
  options.overrides = std::move(overrides);
  return config::load_experiment(kSourceRoot + "/experiments/" + name + ".yaml", options);
}

// topologies/NAME.yaml.
inline config::TopologySpec shipped_topology(const std::string& name) {
  return config::load_topology(kSourceRoot + "/topologies/" + name + ".yaml");
}

// hardware_profiles/NAME.yaml.
inline config::HardwareProfile shipped_hardware(const std::string& name) {
  return config::load_hardware_profile(kSourceRoot + "/hardware_profiles/" + name + ".yaml");
}

}  // namespace clustersim::testing
