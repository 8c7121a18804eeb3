#include "sim/report/topology_report.hpp"

#include <fmt/format.h>

#include "sim/fabric/topology_builder.hpp"
#include "sim/report/network_cost_report.hpp"

namespace clustersim::report {

nlohmann::json topology_report_json(const config::TopologySpec& spec,
                                    const fabric::TopologyStats& stats,
                                    const fabric::CostBreakdown& cost,
                                    const config::CostProfile& prices) {
  using nlohmann::json;
  const std::optional<double> per_tbps = cost_per_bisection_tbps_usd(cost, stats);
  return json{{"name", spec.name},
              {"generator", config::to_string(spec.generator)},
              {"endpoints", stats.endpoints},
              {"size", fabric::describe_size(spec)},
              {"routing", config::to_string(spec.routing)},
              {"switches", stats.switches},
              {"links", stats.switch_links},
              {"endpoint_links", stats.endpoint_links},
              {"diameter", stats.diameter ? json(*stats.diameter) : json(nullptr)},
              {"diameter_note", stats.diameter_note},
              {"bisection_bandwidth_Bps",
               stats.bisection ? json(stats.bisection->bytes_per_s) : json(nullptr)},
              {"bisection_note", stats.bisection_note},
              {"graph_built", stats.graph_built},
              {"cost_usd", cost.total_usd()},
              {"cost_per_endpoint_usd", cost_per_endpoint_usd(cost, stats).value_or(0.0)},
              {"cost_per_bisection_tbps_usd", per_tbps ? json(*per_tbps) : json(nullptr)},
              {"cost_profile", prices.name},
              {"cost_method", cost.method},
              {"cost_breakdown_usd",
               {{"switches", cost.switches_usd},
                {"switch_links", cost.switch_links_usd},
                {"endpoint_links", cost.endpoint_links_usd},
                {"nics", cost.nics_usd}}},
              {"cost_by_part_usd", cost_by_part_json(cost)},
              {"cost_parts", cost_parts_json(cost)}};
}

std::string topology_report_text(const config::TopologySpec& spec,
                                 const fabric::TopologyStats& stats,
                                 const fabric::CostBreakdown& cost,
                                 const config::CostProfile& prices) {
  std::string text =
      fmt::format("topology {} ({})\n", spec.name, config::to_string(spec.generator));
  auto line = [&text](std::string_view key, const std::string& value) {
    text += fmt::format("  {:<22} {}\n", key, value);
  };
  line("endpoints", fmt::format("{}", stats.endpoints));
  line("size", fabric::describe_size(spec));
  line("routing", std::string(config::to_string(spec.routing)));
  line("switches", fmt::format("{}", stats.switches));
  line("switch-to-switch links", fmt::format("{}", stats.switch_links));
  line("diameter", stats.diameter
                       ? fmt::format("{} switch hops ({})", *stats.diameter, stats.diameter_note)
                       : stats.diameter_note);
  line("bisection bandwidth",
       stats.bisection ? fmt::format("{} ({})", to_string(*stats.bisection), stats.bisection_note)
                       : stats.bisection_note);
  line("cost", fmt::format("${:.2f}M ({}: {})", cost.total_usd() / 1e6, prices.name,
                           cost_by_part_text(cost)));
  line("cost per", cost_ratios_text(cost, stats));
  line("priced", cost.method);
  if (cost.priced_by_part) {
    for (const std::string& part : cost_parts_text(cost)) line("", part);
  }
  if (!stats.graph_built) line("note", "counts from closed forms; the graph was not built");
  return text;
}

}  // namespace clustersim::report
