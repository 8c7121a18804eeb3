// Network cost: the inventory a graph gives, flat and as-bought prices against closed forms, reach
// (copper within a rack, optics beyond), NIC ports per plane, and the errors for missing prices.

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/network_inventory.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"

namespace clustersim::fabric {
namespace {

using config::TopologyGenerator;
using config::TopologySpec;

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;
constexpr Bandwidth k400G{50e9};
constexpr Bandwidth k800G{100e9};

TopologySpec fat_tree(int radix, Bandwidth speed, int planes = 1) {
  TopologySpec spec;
  spec.name = "test-fat-tree";
  spec.generator =
      planes > 1 ? TopologyGenerator::multi_plane_fat_tree : TopologyGenerator::fat_tree;
  spec.switch_radix = radix;
  spec.levels = 2;
  spec.planes = planes;
  spec.link_bandwidth = speed;
  return spec;
}

config::PricedPart part(const char* model, double usd, int links = 1) {
  return {model, usd, links, "test"};
}

// Made-up prices, distinct enough that a part counted twice or at the wrong speed shows.
config::SpeedPrices prices_at(Bandwidth speed, double scale) {
  config::SpeedPrices prices;
  prices.speed = speed;
  prices.switches = {{"small", 8, 10000 * scale, "test"}, {"large", 64, 40000 * scale, "test"}};
  prices.nic = part("nic", 1000 * scale);
  prices.switch_transceiver = part("twin-port", 600 * scale, 2);
  prices.nic_transceiver = part("single-port", 500 * scale);
  prices.fibre = part("fibre", 70 * scale);
  prices.copper_cable = part("dac", 90 * scale);
  return prices;
}

config::CostProfile test_profile(int rack_nodes) {
  config::CostProfile profile;
  profile.name = "test-prices";
  profile.rack_nodes = rack_nodes;
  profile.speeds = {prices_at(k400G, 1.0), prices_at(k800G, 2.5)};
  return profile;
}

CostBreakdown price(const TopologySpec& spec, const config::CostProfile& profile) {
  return network_cost(count(build_network(spec)), profile);
}

double units_of(const CostBreakdown& cost, const std::string& part) {
  double units = 0;
  for (const CostLine& line : cost.lines) {
    if (line.part == part) units += line.units;
  }
  return units;
}

TEST(NetworkInventory, CountsNetworkLinksOnceBySpeedAndEnds) {
  // FT2 of 8-port switches: 32 hosts, 8 leaves + 4 spines, 32 host links, 32 switch links.
  const NetworkInventory inventory = take_inventory(build_network(fat_tree(8, k400G)));
  long long switches = 0;
  for (const SwitchGroup& group : inventory.switches) {
    EXPECT_EQ(group.port_speed, k400G);
    EXPECT_EQ(group.ports, 8);
    switches += group.count;
  }
  EXPECT_EQ(switches, 12);
  long long host_links = 0;
  long long switch_links = 0;
  for (const LinkGroup& group : inventory.links) {
    EXPECT_EQ(group.speed, k400G);
    (group.switch_ends == 2 ? switch_links : host_links) += group.count;
    // A spine serves no node of its own, so a switch-to-switch link has no rack.
    if (group.switch_ends == 2) {
      EXPECT_FALSE(group.nodes.has_value());
    }
  }
  EXPECT_EQ(host_links, 32);
  EXPECT_EQ(switch_links, 32);
}

// A two-level fat-tree of k-port switches, all optics (racks of one node): S = 3k/2 switches,
// E = k^2/2 NIC links, L = k^2/2 switch links, and
//   cost = S x switch + E x (NIC + NIC transceiver + switch transceiver / 2 + fibre)
//                     + L x (2 x switch transceiver / 2 + fibre).
TEST(NetworkCost, TwoLevelFatTreeClosedFormAt400And800) {
  const config::CostProfile profile = test_profile(1);
  const int k = 8;
  const double switches = 3.0 * k / 2;
  const double host_links = k * k / 2.0;
  const double switch_links = k * k / 2.0;
  auto closed_form = [&](double scale) {
    return switches * 10000 * scale + host_links * (1000 + 500 + 600.0 / 2 + 70) * scale +
           switch_links * (2 * 600.0 / 2 + 70) * scale;
  };
  const CostBreakdown at_400 = price(fat_tree(k, k400G), profile);
  const CostBreakdown at_800 = price(fat_tree(k, k800G), profile);
  EXPECT_DOUBLE_EQ(at_400.total_usd(), closed_form(1.0));
  EXPECT_DOUBLE_EQ(at_800.total_usd(), closed_form(2.5));
  // The difference is the counts times the price differences, part by part.
  EXPECT_DOUBLE_EQ(at_800.switches_usd - at_400.switches_usd, switches * 10000 * 1.5);
  EXPECT_DOUBLE_EQ(at_800.nics_usd - at_400.nics_usd, host_links * 1000 * 1.5);
  EXPECT_DOUBLE_EQ(at_800.transceivers_usd - at_400.transceivers_usd,
                   (host_links * (500 + 300) + switch_links * 600) * 1.5);
  EXPECT_DOUBLE_EQ(at_800.cables_usd - at_400.cables_usd, (host_links + switch_links) * 70 * 1.5);
  // By role and by part add up to the same total.
  EXPECT_DOUBLE_EQ(
      at_400.switches_usd + at_400.nics_usd + at_400.transceivers_usd + at_400.cables_usd,
      at_400.total_usd());
  EXPECT_DOUBLE_EQ(at_400.whole_links_usd, 0);
  // The bill: a twin-port transceiver serves two switch ports.
  EXPECT_DOUBLE_EQ(units_of(at_400, "switch"), switches);
  EXPECT_DOUBLE_EQ(units_of(at_400, "nic"), host_links);
  EXPECT_DOUBLE_EQ(units_of(at_400, "transceiver"),
                   host_links + (host_links + 2 * switch_links) / 2);
  EXPECT_DOUBLE_EQ(units_of(at_400, "fibre"), host_links + switch_links);
}

TEST(NetworkCost, ASwitchIsTheSmallestModelWithEnoughPorts) {
  // 4-port switches use 4 ports: the 8-port model; 16-port switches: the 64-port one.
  const config::CostProfile profile = test_profile(1);
  EXPECT_DOUBLE_EQ(price(fat_tree(4, k400G), profile).switches_usd, 6 * 10000.0);
  EXPECT_DOUBLE_EQ(price(fat_tree(16, k400G), profile).switches_usd, 24 * 40000.0);
}

TEST(NetworkCost, LinksWithinOneRackAreCopper) {
  // Racks of 4 nodes; an 8-port leaf takes 4 hosts, one node each, numbered leaf by leaf: every
  // leaf sits in its hosts' rack, so host links are copper; switch links reach a spine: optics.
  const CostBreakdown cost = price(fat_tree(8, k400G), test_profile(4));
  EXPECT_DOUBLE_EQ(units_of(cost, "copper_cable"), 32);
  EXPECT_DOUBLE_EQ(units_of(cost, "fibre"), 32);
  EXPECT_DOUBLE_EQ(cost.endpoint_links_usd, 32 * 90.0);
  EXPECT_DOUBLE_EQ(cost.switch_links_usd, 32 * (600.0 + 70));
  // Racks of 2 nodes: a leaf spans two racks, so its host links are optics.
  EXPECT_DOUBLE_EQ(units_of(price(fat_tree(8, k400G), test_profile(2)), "copper_cable"), 0);
}

TEST(NetworkCost, MultiPlaneNicPortsChangeThePrice) {
  // Two planes of FT2(8): 64 endpoints, one NIC port each (ISCA'25 §5.1: one single-port NIC per
  // GPU-plane pair), as many NIC ports as a single plane of 64 endpoints buys.
  config::CostProfile profile = test_profile(1);
  const CostBreakdown one_port = price(fat_tree(8, k400G, 2), profile);
  EXPECT_DOUBLE_EQ(one_port.nics_usd, 64 * 1000.0);
  EXPECT_DOUBLE_EQ(units_of(one_port, "nic"), 64);
  // A NIC with one port per plane (ConnectX-8 style, two planes): half as many NICs to buy.
  profile.speeds[0].nic = part("dual-plane nic", 1600, 2);
  const CostBreakdown two_port = price(fat_tree(8, k400G, 2), profile);
  EXPECT_DOUBLE_EQ(units_of(two_port, "nic"), 32);
  EXPECT_DOUBLE_EQ(two_port.nics_usd, 32 * 1600.0);
  EXPECT_DOUBLE_EQ(two_port.total_usd() - one_port.total_usd(), 32 * 1600.0 - 64 * 1000.0);
}

TEST(NetworkCost, ClusterPricesNetworkPartsNotNvlinkOrPcie) {
  // 2048 H800 on the eight-plane MPFT: one NIC port per GPU; the GPU-NIC PCIe links and NVLink
  // are inside the node. A plane's leaf takes one NIC from each of 32 nodes: optics.
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const TopologySpec spec = config::load_topology(kRoot + "/topologies/mpft.yaml");
  const TopologyStats stats = count(build_cluster(spec, {256, 8, &hw}));
  const CostBreakdown cost = network_cost(stats, test_profile(4));
  EXPECT_DOUBLE_EQ(units_of(cost, "nic"), 2048);
  EXPECT_DOUBLE_EQ(units_of(cost, "copper_cable"), 0);
  EXPECT_DOUBLE_EQ(cost.nics_usd, 2048 * 1000.0);
  EXPECT_DOUBLE_EQ(cost.endpoint_links_usd, 2048 * (500.0 + 300 + 70));
  EXPECT_DOUBLE_EQ(cost.switch_links_usd, static_cast<double>(stats.switch_links) * (600.0 + 70));
}

TEST(NetworkCost, CountsAloneGiveTheGraphsPriceWhenAllLinksAreOptics) {
  const TopologySpec spec = config::load_topology(kRoot + "/topologies/ft2.yaml");
  const config::CostProfile profile = test_profile(1);
  const double from_graph = price(spec, profile).total_usd();
  const TopologyStats counted = measure_from_counts(count_network(spec), "test", k400G);
  EXPECT_DOUBLE_EQ(network_cost(counted, profile).total_usd(), from_graph);
  EXPECT_NE(network_cost(counted, profile).method.find("every link counted as optics"),
            std::string::npos);
}

TEST(NetworkCost, FlatProfileIgnoresSpeedAndReproducesTable3) {
  // ISCA'25 Table 3 FT2: 96 switches and 2048 switch links at $83k and $503, fabric only.
  const config::CostProfile flat = config::load_cost_profile("ib_ndr_64port");
  const TopologySpec spec = config::load_topology(kRoot + "/topologies/ft2.yaml");
  TopologySpec faster = spec;
  faster.link_bandwidth = k800G;
  const CostBreakdown at_400 = price(spec, flat);
  EXPECT_DOUBLE_EQ(at_400.total_usd(), 96 * 83000.0 + 2048 * 503.0);
  EXPECT_DOUBLE_EQ(price(faster, flat).total_usd(), at_400.total_usd());
  EXPECT_DOUBLE_EQ(at_400.whole_links_usd, 2048 * 503.0);
  EXPECT_FALSE(at_400.priced_by_part);
}

TEST(NetworkCost, TheLibraryProfilePrices800GAboveAnd200GBelow400G) {
  const config::CostProfile bought = config::load_cost_profile("ib_as_bought");
  TopologySpec spec = fat_tree(40, Bandwidth{25e9});
  const double at_200 = price(spec, bought).total_usd();
  spec.link_bandwidth = k400G;
  const double at_400 = price(spec, bought).total_usd();
  spec.link_bandwidth = k800G;
  const double at_800 = price(spec, bought).total_usd();
  EXPECT_LT(at_200, at_400);
  EXPECT_LT(at_400, at_800);
}

TEST(NetworkCost, AMissingSpeedNamesTheProfileAndTheSpeed) {
  config::CostProfile profile = test_profile(1);
  profile.speeds.pop_back();  // 400 Gb/s only
  try {
    (void)price(fat_tree(8, k800G), profile);
    FAIL() << "priced 800 Gb/s links without their prices";
  } catch (const CostError& error) {
    EXPECT_STREQ(error.what(),
                 "cost profile \"test-prices\" has no prices for 800 Gb/s links, which this "
                 "network uses (it prices 400 Gb/s)");
  }
}

TEST(NetworkCost, ASwitchLargerThanAnyModelIsAnError) {
  try {
    (void)price(fat_tree(72, k400G), test_profile(1));
    FAIL() << "priced 72-port switches with at most 64 ports on sale";
  } catch (const CostError& error) {
    EXPECT_STREQ(error.what(),
                 "cost profile \"test-prices\" has no 400 Gb/s switch with 72 or more ports (its "
                 "largest has 64)");
  }
}

TEST(NetworkCost, UnknownSpeedsCannotBePricedByPart) {
  const TopologyStats counted = measure_from_counts({32, 12, 32, 2}, "test");
  try {
    (void)network_cost(counted, test_profile(1));
    FAIL() << "priced parts without link speeds";
  } catch (const CostError& error) {
    EXPECT_STREQ(error.what(),
                 "cost profile \"test-prices\" prices parts by link speed, but this network's "
                 "link speeds are unknown (give the topology card a link_bandwidth)");
  }
}

}  // namespace
}  // namespace clustersim::fabric
