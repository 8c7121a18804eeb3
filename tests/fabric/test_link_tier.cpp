// Link tiers and vertex names: per-tier link counts against the builders' closed forms on every
// kind of network, and the names the link report prints.

#include "sim/fabric/link_tier.hpp"

#include <map>
#include <set>

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::fabric {
namespace {

using config::TopologyGenerator;
using config::TopologySpec;

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

TopologySpec card(const std::string& name) {
  return testing::shipped_topology(name);
}

TopologySpec generated(TopologyGenerator generator) {
  TopologySpec spec;
  spec.name = "test";
  spec.generator = generator;
  spec.link_bandwidth = Bandwidth{50e9};
  return spec;
}

// Directed links per tier.
std::map<LinkTier, long long> tiers(const Topology& topology) {
  std::map<LinkTier, long long> count;
  for (LinkId link = 0; link < topology.link_count(); ++link) ++count[link_tier(topology, link)];
  return count;
}

TEST(LinkTier, FatTreesHaveLeafSpineAndCoreLinks) {
  TopologySpec two = generated(TopologyGenerator::fat_tree);
  two.switch_radix = 8;
  two.levels = 2;
  // k = 8: 8 leaves of 4 hosts, 4 spines, one link from every leaf to every spine.
  EXPECT_EQ(tiers(build_network(two)),
            (std::map<LinkTier, long long>{{LinkTier::leaf, 2 * 32}, {LinkTier::spine, 2 * 32}}));
  TopologySpec three = two;
  three.levels = 3;
  // k = 8: 128 hosts; 8 pods of 4 leaves and 4 aggregation switches, all joined (128 links);
  // every aggregation switch to 4 of the 16 cores (128 links).
  EXPECT_EQ(tiers(build_network(three)),
            (std::map<LinkTier, long long>{
                {LinkTier::leaf, 2 * 128}, {LinkTier::spine, 2 * 128}, {LinkTier::core, 2 * 128}}));
}

TEST(LinkTier, ClusterLinksAreNvlinkPcieAndTheNetworksTiers) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  TopologySpec small_ft3 = card("ft3");
  small_ft3.switch_radix = 8;  // 64 NICs: 16 leaves in 4 pods, so a core tier
  for (const auto& [spec, nodes] :
       {std::pair{card("mpft"), 64}, std::pair{card("mrft"), 64}, std::pair{small_ft3, 8}}) {
    SCOPED_TRACE(spec.name);
    const Topology topology = build_cluster(spec, {nodes, 8, &hw});
    const std::map<LinkTier, long long> count = tiers(topology);
    const long long gpus = 8LL * nodes;
    EXPECT_EQ(count.at(LinkTier::nvlink), 2 * gpus);
    EXPECT_EQ(count.at(LinkTier::pcie), 2 * gpus);  // one NIC per GPU
    EXPECT_EQ(count.at(LinkTier::leaf), 2 * gpus);
    const long long switch_links = static_cast<long long>(topology.switch_links());
    const long long core = count.contains(LinkTier::core) ? count.at(LinkTier::core) : 0;
    EXPECT_GT(count.at(LinkTier::spine), 0);
    EXPECT_EQ(count.at(LinkTier::spine) + core, 2 * switch_links);
    EXPECT_EQ(core > 0, spec.levels == 3);
    EXPECT_EQ(count.size(), spec.levels == 3 ? 5u : 4u);
  }
}

TEST(LinkTier, DragonflyLinksAreLocalInsideAGroupAndGlobalBetweenGroups) {
  TopologySpec spec = generated(TopologyGenerator::dragonfly);
  spec.dragonfly_p = 2;
  spec.dragonfly_a = 4;
  spec.dragonfly_h = 2;
  // a h + 1 = 9 groups of 4 routers: 6 local links per group, one global link per pair of groups.
  const Topology topology = build_network(spec);
  EXPECT_EQ(tiers(topology), (std::map<LinkTier, long long>{{LinkTier::leaf, 2 * 72},
                                                            {LinkTier::dragonfly_local, 2 * 9 * 6},
                                                            {LinkTier::dragonfly_global, 2 * 36}}));
  EXPECT_EQ(2 * count_network(spec).switch_links, 2 * 9 * 6 + 2 * 36);
}

TEST(LinkTier, SlimFlyAndCustomSwitchesAreJoinedByRouterLinks) {
  TopologySpec spec = generated(TopologyGenerator::slim_fly);
  spec.slim_fly_q = 5;
  const NetworkCounts counts = count_network(spec);
  EXPECT_EQ(tiers(build_network(spec)),
            (std::map<LinkTier, long long>{{LinkTier::leaf, 2 * counts.endpoints},
                                           {LinkTier::router, 2 * counts.switch_links}}));
  // The dumbbell: four hosts on two switches joined by one link.
  EXPECT_EQ(tiers(build_network(card("dumbbell"))),
            (std::map<LinkTier, long long>{{LinkTier::leaf, 2 * 4}, {LinkTier::router, 2 * 1}}));
}

TEST(LinkTier, VertexNamesSayWhatAndWhere) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const Topology mpft = build_cluster(card("mpft"), {2, 8, &hw});
  const std::vector<std::string> names = vertex_names(mpft);
  ASSERT_EQ(names.size(), mpft.vertex_count());
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  const VertexId gpu = mpft.gpus()[13];
  const VertexId nic = *mpft.nic_of(gpu);
  EXPECT_EQ(names[gpu], "gpu n1.g5");
  EXPECT_EQ(names[*mpft.nvswitch_of(gpu)], "nvswitch n1");
  EXPECT_EQ(names[nic], "nic n1.5");
  EXPECT_EQ(names[*mpft.attached_switch(nic)], "leaf p5.0");  // plane 5's only leaf
  const LinkId up = *mpft.find_link(nic, *mpft.attached_switch(nic));
  EXPECT_EQ(link_tier(mpft, up), LinkTier::leaf);
  EXPECT_EQ(to_string(link_tier(mpft, up)), "leaf");
  TopologySpec three = generated(TopologyGenerator::fat_tree);
  three.switch_radix = 4;
  three.levels = 3;
  const Topology ft3 = build_network(three);
  const std::vector<std::string> ft3_names = vertex_names(ft3);
  EXPECT_EQ(ft3_names[ft3.endpoints()[0]], "host 0");
  std::map<std::string, int> levels;
  for (VertexId s : ft3.switches()) ++levels[ft3_names[s].substr(0, ft3_names[s].find(' '))];
  // k = 4: 8 leaves, 8 aggregation switches, 4 cores.
  EXPECT_EQ(levels, (std::map<std::string, int>{{"core", 4}, {"leaf", 8}, {"spine", 8}}));
  TopologySpec dragonfly = generated(TopologyGenerator::dragonfly);
  dragonfly.dragonfly_p = 1;
  dragonfly.dragonfly_a = 2;
  dragonfly.dragonfly_h = 1;
  const Topology df = build_network(dragonfly);
  const std::vector<std::string> df_names = vertex_names(df);
  EXPECT_EQ(df_names[df.switches()[3]], "router g1.1");
  const Topology dumbbell = build_network(card("dumbbell"));
  EXPECT_EQ(vertex_names(dumbbell)[dumbbell.switches()[1]], "switch 1");
}

}  // namespace
}  // namespace clustersim::fabric
