#pragma once
// A network's cost in reports (`topo`, `run`): the total per endpoint and per Tb/s of bisection
// bandwidth, the cost by part and the bill of parts, as JSON and as text lines.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/topology_stats.hpp"

namespace clustersim::report {

// $ per endpoint; nullopt without endpoints.
[[nodiscard]] std::optional<double> cost_per_endpoint_usd(const fabric::CostBreakdown& cost,
                                                          const fabric::TopologyStats& stats);
// $ per Tb/s of bisection bandwidth (one direction, as bisection_bandwidth_Bps); nullopt when the
// bisection was not computed (stats.bisection_note says why).
[[nodiscard]] std::optional<double> cost_per_bisection_tbps_usd(const fabric::CostBreakdown& cost,
                                                                const fabric::TopologyStats& stats);

// {switches, nics, transceivers, cables, whole_links}: sums to the total.
[[nodiscard]] nlohmann::json cost_by_part_json(const fabric::CostBreakdown& cost);
// [{part, model, speed_Gbps, units, unit_usd, usd}], one per part, model and speed.
[[nodiscard]] nlohmann::json cost_parts_json(const fabric::CostBreakdown& cost);

// "switches $7.97M, NICs $3.69M, transceivers $5.2M, cables $0.3M" (flat: "switches, links").
[[nodiscard]] std::string cost_by_part_text(const fabric::CostBreakdown& cost);
// "$4.39k per endpoint, $1.2k per Tb/s of bisection" (or why the bisection is missing).
[[nodiscard]] std::string cost_ratios_text(const fabric::CostBreakdown& cost,
                                           const fabric::TopologyStats& stats);
// One line per bill entry: "  96 x NVIDIA Quantum-2 QM9700 (400 Gb/s switch) at $36.0k = $3.46M".
[[nodiscard]] std::vector<std::string> cost_parts_text(const fabric::CostBreakdown& cost);

}  // namespace clustersim::report
