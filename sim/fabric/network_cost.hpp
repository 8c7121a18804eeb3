#pragma once
// What a network costs, from its counts (or its inventory) and a cost profile.
//
// Flat profile (ISCA'25 Table 3): switches x switch price + switch links x link price + NIC links
// x link price + NICs x NIC price; speeds and reach play no part.
//
// As-bought profile, from the inventory (sim/fabric/network_inventory.hpp), every part at the
// speed of its link (a switch at its fastest port):
//   - a switch: the smallest model on sale at that speed with at least the ports it uses (the
//     cheaper of two equal ones);
//   - a NIC end of a link: one NIC port;
//   - a link whose ends all serve one rack (racks of `rack_nodes` consecutive nodes): one copper
//     cable; any other link: a transceiver at each end (the switch or the NIC kind) and a fibre.
// A part that serves several links (a twin-port transceiver, a splitter cable) is charged to each
// link at its price / links. GPU-NIC PCIe and NVLink are inside the node: not network cost.
//
// A profile without prices for a speed the network uses, or without a switch with enough ports,
// is an error (CostError) that names the profile and the speed.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/config/cost_profile.hpp"
#include "sim/fabric/topology_stats.hpp"

namespace clustersim::fabric {

class CostError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// One line of the bill: so many units of one part at one unit price.
struct CostLine {
  std::string part;   // switch, nic, transceiver, fibre, copper_cable; flat: switch_link, ...
  std::string model;  // as the profile names it
  std::optional<Bandwidth> speed;  // absent in the flat form
  double units = 0;  // may be fractional: a twin-port transceiver counts half per link end
  double unit_usd = 0;
  [[nodiscard]] double usd() const { return units * unit_usd; }
};

struct CostBreakdown {
  // By role; their sum is the total.
  double switches_usd = 0;
  double switch_links_usd = 0;    // switch-to-switch links, with their transceivers and cables
  double endpoint_links_usd = 0;  // NIC-to-switch links, likewise
  double nics_usd = 0;
  // The links by part (as-bought profiles); a flat profile prices each link whole.
  double transceivers_usd = 0;
  double cables_usd = 0;  // fibre and copper
  double whole_links_usd = 0;
  std::vector<CostLine> lines;  // the bill of parts
  bool priced_by_part = false;  // false: a flat profile
  std::string method;           // how the parts were priced, one line for reports

  [[nodiscard]] double total_usd() const {
    return switches_usd + switch_links_usd + endpoint_links_usd + nics_usd;
  }
};

// Throws CostError for a price the profile lacks.
[[nodiscard]] CostBreakdown network_cost(const TopologyStats& stats,
                                         const config::CostProfile& prices);

// "400 Gb/s": a link speed as topology cards and cost profiles write it.
[[nodiscard]] std::string link_speed_label(Bandwidth speed);

}  // namespace clustersim::fabric
