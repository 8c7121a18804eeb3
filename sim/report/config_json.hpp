#pragma once
// JSON forms of the resolved configuration, in SI base units with the unit in each key name
// (bytes_per_s, bytes, flop_per_s, s), for `--json` output and result files.

#include <nlohmann/json.hpp>

#include "sim/config/diagnostics.hpp"
#include "sim/config/experiment.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/model_card.hpp"
#include "sim/config/topology_spec.hpp"

namespace clustersim::report {

[[nodiscard]] nlohmann::json to_json(const config::ModelCard& card);
[[nodiscard]] nlohmann::json to_json(const config::HardwareProfile& profile);
[[nodiscard]] nlohmann::json to_json(const config::TopologySpec& spec);
[[nodiscard]] nlohmann::json to_json(const config::Experiment& experiment);
// {"file", "line", "column", "key", "message", "infeasible"} per diagnostic.
[[nodiscard]] nlohmann::json to_json(const config::ConfigError& error);

}  // namespace clustersim::report
