#pragma once
// Plain-text forms of the resolved configuration for the terminal: one "key  value" line each,
// quantities with their units.

#include <string>

#include "sim/config/experiment.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/model_card.hpp"
#include "sim/config/topology_spec.hpp"

namespace clustersim::report {

[[nodiscard]] std::string to_text(const config::ModelCard& card);
[[nodiscard]] std::string to_text(const config::HardwareProfile& profile);
[[nodiscard]] std::string to_text(const config::TopologySpec& spec);
[[nodiscard]] std::string to_text(const config::Experiment& experiment);

}  // namespace clustersim::report
