#pragma once
// A cost profile: prices of network parts, each a stated assumption or a sourced figure (see
// hardware_profiles/costs/*.yaml). Every price is required: a missing one is an input error, never
// a silent zero.

#include <string>

namespace clustersim::config {

struct CostProfile {
  std::string name;
  std::string description;
  double switch_usd = 0;         // one network switch
  double switch_link_usd = 0;    // one switch-to-switch link (cable and its two optics)
  double endpoint_link_usd = 0;  // one NIC-to-switch link
  double nic_usd = 0;            // one NIC (network endpoint)
};

}  // namespace clustersim::config
