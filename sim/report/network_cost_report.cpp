#include "sim/report/network_cost_report.hpp"

#include <fmt/format.h>

namespace clustersim::report {
namespace {

// "$36.0k", "$3.46M": dollars at a readable scale.
std::string dollars(double usd) {
  if (usd >= 1e6) return fmt::format("${:.2f}M", usd / 1e6);
  if (usd >= 1e3) return fmt::format("${:.2f}k", usd / 1e3);
  return fmt::format("${:.0f}", usd);
}

}  // namespace

std::optional<double> cost_per_endpoint_usd(const fabric::CostBreakdown& cost,
                                            const fabric::TopologyStats& stats) {
  if (stats.endpoints <= 0) return std::nullopt;
  return cost.total_usd() / static_cast<double>(stats.endpoints);
}

std::optional<double> cost_per_bisection_tbps_usd(const fabric::CostBreakdown& cost,
                                                  const fabric::TopologyStats& stats) {
  if (!stats.bisection || stats.bisection->bytes_per_s <= 0) return std::nullopt;
  return cost.total_usd() / (stats.bisection->bytes_per_s * 8 / 1e12);
}

nlohmann::json cost_by_part_json(const fabric::CostBreakdown& cost) {
  return {{"switches", cost.switches_usd},
          {"nics", cost.nics_usd},
          {"transceivers", cost.transceivers_usd},
          {"cables", cost.cables_usd},
          {"whole_links", cost.whole_links_usd}};
}

nlohmann::json cost_parts_json(const fabric::CostBreakdown& cost) {
  nlohmann::json parts = nlohmann::json::array();
  for (const fabric::CostLine& line : cost.lines) {
    parts.push_back({{"part", line.part},
                     {"model", line.model},
                     {"speed_Gbps", line.speed ? nlohmann::json(line.speed->bytes_per_s * 8 / 1e9)
                                               : nlohmann::json(nullptr)},
                     {"units", line.units},
                     {"unit_usd", line.unit_usd},
                     {"usd", line.usd()}});
  }
  return parts;
}

std::string cost_by_part_text(const fabric::CostBreakdown& cost) {
  if (!cost.priced_by_part) {
    std::string text = fmt::format("switches {}, links {}", dollars(cost.switches_usd),
                                   dollars(cost.whole_links_usd));
    if (cost.nics_usd > 0) text += fmt::format(", NICs {}", dollars(cost.nics_usd));
    return text;
  }
  return fmt::format("switches {}, NICs {}, transceivers {}, cables {}", dollars(cost.switches_usd),
                     dollars(cost.nics_usd), dollars(cost.transceivers_usd),
                     dollars(cost.cables_usd));
}

std::string cost_ratios_text(const fabric::CostBreakdown& cost,
                             const fabric::TopologyStats& stats) {
  std::string text;
  if (const std::optional<double> per_endpoint = cost_per_endpoint_usd(cost, stats)) {
    text = fmt::format("{} per endpoint", dollars(*per_endpoint));
  }
  if (!text.empty()) text += ", ";
  if (const std::optional<double> per_tbps = cost_per_bisection_tbps_usd(cost, stats)) {
    text += fmt::format("{} per Tb/s of bisection", dollars(*per_tbps));
  } else {
    text += fmt::format("per Tb/s of bisection: {}", stats.bisection_note);
  }
  return text;
}

std::vector<std::string> cost_parts_text(const fabric::CostBreakdown& cost) {
  std::vector<std::string> lines;
  for (const fabric::CostLine& line : cost.lines) {
    if (line.units == 0) continue;
    const std::string what =
        line.speed ? fmt::format("{} {}", fabric::link_speed_label(*line.speed), line.part)
                   : line.part;
    lines.push_back(fmt::format("{:g} x {}, {}, at {} = {}", line.units, line.model, what,
                                dollars(line.unit_usd), dollars(line.usd())));
  }
  return lines;
}

}  // namespace clustersim::report
