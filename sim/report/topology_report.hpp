#pragma once
// The report of `clustersim topo`: counts, diameter, bisection and cost of a network.

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/cost_profile.hpp"
#include "sim/config/topology_spec.hpp"
#include "sim/fabric/network_cost.hpp"

namespace clustersim::report {

// Keys (DESIGN.md): endpoints, switches, links (switch-to-switch), cost_usd,
// cost_per_endpoint_usd, cost_per_bisection_tbps_usd, cost_by_part_usd, cost_parts, diameter,
// bisection_bandwidth_Bps; plus name, generator, graph_built, endpoint_links, notes, the cost
// profile and method, and the cost by role (cost_breakdown_usd).
[[nodiscard]] nlohmann::json topology_report_json(const config::TopologySpec& spec,
                                                  const fabric::TopologyStats& stats,
                                                  const fabric::CostBreakdown& cost,
                                                  const config::CostProfile& prices);
[[nodiscard]] std::string topology_report_text(const config::TopologySpec& spec,
                                               const fabric::TopologyStats& stats,
                                               const fabric::CostBreakdown& cost,
                                               const config::CostProfile& prices);

}  // namespace clustersim::report
