#include "sim/fabric/network_cost.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace clustersim::fabric {
namespace {

// Bill lines in reading order: switches, NICs, then what the links are made of.
enum class PartKind { network_switch, nic, transceiver, fibre, copper_cable };

constexpr std::string_view part_name(PartKind kind) {
  switch (kind) {
    case PartKind::network_switch:
      return "switch";
    case PartKind::nic:
      return "nic";
    case PartKind::transceiver:
      return "transceiver";
    case PartKind::fibre:
      return "fibre";
    case PartKind::copper_cable:
      return "copper_cable";
  }
  return "";
}

// Units of each (part, model, speed), at its unit price.
class Bill {
 public:
  void add(PartKind kind, const std::string& model, Bandwidth speed, double units,
           double unit_usd) {
    Entry& entry = entries_[{kind, model, std::llround(speed.bytes_per_s * 8)}];
    entry.speed = speed;
    entry.units += units;
    entry.unit_usd = unit_usd;
  }
  [[nodiscard]] std::vector<CostLine> lines() const {
    std::vector<CostLine> out;
    for (const auto& [key, entry] : entries_) {
      out.push_back(CostLine{std::string(part_name(std::get<0>(key))), std::get<1>(key),
                             entry.speed, entry.units, entry.unit_usd});
    }
    return out;
  }

 private:
  struct Entry {
    Bandwidth speed;
    double units = 0;
    double unit_usd = 0;
  };
  std::map<std::tuple<PartKind, std::string, long long>, Entry> entries_;
};

const config::SpeedPrices& prices_at(const config::CostProfile& profile, Bandwidth speed) {
  if (const config::SpeedPrices* prices = profile.prices_at(speed)) return *prices;
  std::vector<std::string> priced;
  for (const config::SpeedPrices& entry : profile.speeds) {
    priced.push_back(link_speed_label(entry.speed));
  }
  throw CostError(fmt::format(
      "cost profile \"{}\" has no prices for {} links, which this network uses (it prices {})",
      profile.name, link_speed_label(speed), fmt::join(priced, ", ")));
}

// The smallest model with at least `ports` ports; of two equal ones, the cheaper.
const config::SwitchModel& switch_for(const config::CostProfile& profile,
                                      const config::SpeedPrices& prices, int ports) {
  const config::SwitchModel* best = nullptr;
  int largest = 0;
  for (const config::SwitchModel& model : prices.switches) {
    largest = std::max(largest, model.ports);
    if (model.ports < ports) continue;
    if (best == nullptr || model.ports < best->ports ||
        (model.ports == best->ports && model.usd < best->usd)) {
      best = &model;
    }
  }
  if (best == nullptr) {
    throw CostError(fmt::format(
        "cost profile \"{}\" has no {} switch with {} or more ports (its largest has {})",
        profile.name, link_speed_label(prices.speed), ports, largest));
  }
  return *best;
}

CostBreakdown flat_cost(const TopologyStats& stats, const config::CostProfile& prices) {
  CostBreakdown cost;
  cost.switches_usd = static_cast<double>(stats.switches) * prices.switch_usd;
  cost.switch_links_usd = static_cast<double>(stats.switch_links) * prices.switch_link_usd;
  cost.endpoint_links_usd = static_cast<double>(stats.endpoint_links) * prices.endpoint_link_usd;
  cost.nics_usd = static_cast<double>(stats.endpoints) * prices.nic_usd;
  cost.whole_links_usd = cost.switch_links_usd + cost.endpoint_links_usd;
  const auto line = [](const char* part, long long units, double unit_usd) {
    return CostLine{part, "flat price", std::nullopt, static_cast<double>(units), unit_usd};
  };
  cost.lines = {line("switch", stats.switches, prices.switch_usd),
                line("nic", stats.endpoints, prices.nic_usd),
                line("switch_link", stats.switch_links, prices.switch_link_usd),
                line("endpoint_link", stats.endpoint_links, prices.endpoint_link_usd)};
  cost.method = "flat prices per switch, link and NIC, whatever their speed (ISCA'25 Table 3)";
  return cost;
}

CostBreakdown cost_by_part(const NetworkInventory& inventory, const config::CostProfile& profile) {
  CostBreakdown cost;
  Bill bill;
  for (const SwitchGroup& group : inventory.switches) {
    const config::SpeedPrices& prices = prices_at(profile, group.port_speed);
    const config::SwitchModel& model = switch_for(profile, prices, group.ports);
    const auto units = static_cast<double>(group.count);
    bill.add(PartKind::network_switch, model.model, group.port_speed, units, model.usd);
    cost.switches_usd += units * model.usd;
  }
  for (const LinkGroup& group : inventory.links) {
    const config::SpeedPrices& prices = prices_at(profile, group.speed);
    const auto links = static_cast<double>(group.count);
    const auto nic_ends = static_cast<double>(2 - group.switch_ends);
    const auto switch_ends = static_cast<double>(group.switch_ends);
    if (nic_ends > 0) {
      bill.add(PartKind::nic, prices.nic.model, group.speed, links * nic_ends / prices.nic.links,
               prices.nic.usd);
      cost.nics_usd += links * nic_ends * prices.nic.usd_per_link();
    }
    const bool in_one_rack =
        group.nodes && profile.rack_nodes > 0 &&
        group.nodes->first / profile.rack_nodes == group.nodes->last / profile.rack_nodes;
    double transceivers = 0;
    double cables = 0;
    if (in_one_rack) {
      const config::PricedPart& cable = prices.copper_cable;
      bill.add(PartKind::copper_cable, cable.model, group.speed, links / cable.links, cable.usd);
      cables = links * cable.usd_per_link();
    } else {
      const config::PricedPart& at_switch = prices.switch_transceiver;
      const config::PricedPart& at_nic = prices.nic_transceiver;
      const config::PricedPart& fibre = prices.fibre;
      if (switch_ends > 0) {
        bill.add(PartKind::transceiver, at_switch.model, group.speed,
                 links * switch_ends / at_switch.links, at_switch.usd);
      }
      if (nic_ends > 0) {
        bill.add(PartKind::transceiver, at_nic.model, group.speed, links * nic_ends / at_nic.links,
                 at_nic.usd);
      }
      bill.add(PartKind::fibre, fibre.model, group.speed, links / fibre.links, fibre.usd);
      transceivers =
          links * (switch_ends * at_switch.usd_per_link() + nic_ends * at_nic.usd_per_link());
      cables = links * fibre.usd_per_link();
    }
    cost.transceivers_usd += transceivers;
    cost.cables_usd += cables;
    (group.switch_ends == 2 ? cost.switch_links_usd : cost.endpoint_links_usd) +=
        transceivers + cables;
  }
  cost.lines = bill.lines();
  cost.priced_by_part = true;
  cost.method = fmt::format(
      "parts by link speed; copper within a rack of {} nodes, optics beyond{}", profile.rack_nodes,
      inventory.from_graph ? "" : " (graph not built: every link counted as optics)");
  return cost;
}

}  // namespace

std::string link_speed_label(Bandwidth speed) {
  return fmt::format("{:g} Gb/s", speed.bytes_per_s * 8 / 1e9);
}

CostBreakdown network_cost(const TopologyStats& stats, const config::CostProfile& prices) {
  if (!prices.priced_by_part()) return flat_cost(stats, prices);
  if (!stats.inventory) {
    throw CostError(fmt::format(
        "cost profile \"{}\" prices parts by link speed, but this network's link speeds are "
        "unknown (give the topology card a link_bandwidth)",
        prices.name));
  }
  return cost_by_part(*stats.inventory, prices);
}

}  // namespace clustersim::fabric
