#pragma once
// The report of `clustersim topo`: counts, diameter, bisection and cost of a network.

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/cost_profile.hpp"
#include "sim/config/topology_spec.hpp"
#include "sim/fabric/topology_stats.hpp"

namespace clustersim::report {

// Keys (DESIGN.md): endpoints, switches, links (switch-to-switch), cost_usd,
// cost_per_endpoint_usd, diameter, bisection_bandwidth_Bps; plus name, generator, graph_built,
// endpoint_links, notes and the cost breakdown.
[[nodiscard]] nlohmann::json topology_report_json(const config::TopologySpec& spec,
                                                  const fabric::TopologyStats& stats,
                                                  const fabric::CostBreakdown& cost,
                                                  const config::CostProfile& prices);
[[nodiscard]] std::string topology_report_text(const config::TopologySpec& spec,
                                               const fabric::TopologyStats& stats,
                                               const fabric::CostBreakdown& cost,
                                               const config::CostProfile& prices);

}  // namespace clustersim::report
