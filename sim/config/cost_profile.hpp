#pragma once
// A cost profile: prices of network parts, each a stated assumption or a sourced figure (see
// hardware_profiles/costs/*.yaml). Every price is required: a missing one is an input error, never
// a silent zero.
//
// Two forms:
//   - flat (the ISCA'25 Table 3 method): one price per switch, per switch-to-switch link, per
//     NIC-to-switch link and per NIC, whatever their speed;
//   - as bought: for each link speed, the switches on sale (by port count), one NIC port, the
//     transceiver at a switch port and at a NIC port, the fibre between two transceivers and the
//     direct-attach copper cable that replaces both within a rack; and how many nodes a rack holds.
//     Where each link runs (copper or optics) is decided from the topology graph
//     (sim/fabric/network_cost.hpp).

#include <cmath>
#include <string>
#include <vector>

#include "sim/core/units.hpp"

namespace clustersim::config {

// One part as sold: a unit price, and how many links one unit serves (a twin-port transceiver or a
// 1:2 splitter cable serves two; its price is split evenly over them).
struct PricedPart {
  std::string model;
  double usd = 0;
  int links = 1;
  std::string source;  // where the price comes from, or "assumption: ..."
  [[nodiscard]] double usd_per_link() const { return usd / links; }
};

// A switch model at one port speed.
struct SwitchModel {
  std::string model;
  int ports = 0;
  double usd = 0;
  std::string source;
};

// The parts of a network whose links run at `speed`.
struct SpeedPrices {
  Bandwidth speed;                    // per direction, as link_bandwidth in topology cards
  std::vector<SwitchModel> switches;  // a switch is bought as the smallest model with enough ports
  PricedPart nic;                     // one NIC port (a network endpoint)
  PricedPart switch_transceiver;      // the optics in a switch port
  PricedPart nic_transceiver;         // the optics in a NIC port
  PricedPart fibre;                   // the optical cable between two transceivers
  PricedPart copper_cable;            // a direct-attach copper cable, both ends, within a rack
};

// Speeds as topology cards write them compare equal when they round to the same bit per second.
[[nodiscard]] inline bool same_speed(Bandwidth a, Bandwidth b) {
  return std::llround(a.bytes_per_s * 8) == std::llround(b.bytes_per_s * 8);
}

struct CostProfile {
  std::string name;
  std::string description;
  // Flat form.
  double switch_usd = 0;         // one network switch
  double switch_link_usd = 0;    // one switch-to-switch link (cable and its two optics)
  double endpoint_link_usd = 0;  // one NIC-to-switch link
  double nic_usd = 0;            // one NIC (network endpoint)
  // As-bought form: one entry per link speed; empty in the flat form.
  std::vector<SpeedPrices> speeds;
  int rack_nodes = 0;  // nodes per rack: a link whose ends all serve one rack is copper

  [[nodiscard]] bool priced_by_part() const { return !speeds.empty(); }
  [[nodiscard]] const SpeedPrices* prices_at(Bandwidth speed) const {
    for (const SpeedPrices& prices : speeds) {
      if (same_speed(prices.speed, speed)) return &prices;
    }
    return nullptr;
  }
};

}  // namespace clustersim::config
