#pragma once
// Internal to sim/config: reading resolved trees into the typed cards, with every check that
// needs only the card itself. Cross-card checks (parallelism against model and cluster) are in
// experiment_reader.cpp.

#include "sim/config/cost_profile.hpp"
#include "sim/config/experiment.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/model_card.hpp"
#include "sim/config/reader.hpp"
#include "sim/config/software_stack.hpp"
#include "sim/config/topology_spec.hpp"

namespace clustersim::config::detail {

[[nodiscard]] ModelCard read_model_card(MapReader& reader);
[[nodiscard]] HardwareProfile read_hardware_profile(MapReader& reader);
[[nodiscard]] TopologySpec read_topology(MapReader& reader);
[[nodiscard]] CostProfile read_cost_profile(MapReader& reader);
[[nodiscard]] SoftwareStack read_software_stack(MapReader& reader);
// power_fraction, pue and electricity_usd_per_kwh of a profile's `price` or an experiment's `cost`.
[[nodiscard]] EnergySpec read_energy(MapReader& reader);

}  // namespace clustersim::config::detail
