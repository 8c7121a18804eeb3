// Topology builders against closed forms and ISCA'25 Table 3; routing; statistics; build errors.

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::fabric {
namespace {

using config::TopologyGenerator;
using config::TopologySpec;

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

TopologySpec card(const std::string& name) {
  return testing::shipped_topology(name);
}

TopologySpec fat_tree(int radix, int levels, double oversubscription = 1.0) {
  TopologySpec spec;
  spec.name = "test-fat-tree";
  spec.generator = TopologyGenerator::fat_tree;
  spec.switch_radix = radix;
  spec.levels = levels;
  spec.oversubscription = oversubscription;
  spec.link_bandwidth = Bandwidth{50e9};
  return spec;
}

TopologySpec slim_fly(int q) {
  TopologySpec spec;
  spec.name = "test-slim-fly";
  spec.generator = TopologyGenerator::slim_fly;
  spec.slim_fly_q = q;
  spec.link_bandwidth = Bandwidth{50e9};
  return spec;
}

TopologySpec dragonfly(int p, int a, int h, std::optional<int> groups) {
  TopologySpec spec;
  spec.name = "test-dragonfly";
  spec.generator = TopologyGenerator::dragonfly;
  spec.dragonfly_p = p;
  spec.dragonfly_a = a;
  spec.dragonfly_h = h;
  spec.dragonfly_groups = groups;
  spec.link_bandwidth = Bandwidth{50e9};
  return spec;
}

void expect_counts_match_graph(const TopologySpec& spec) {
  SCOPED_TRACE(spec.name);
  const NetworkCounts counts = count_network(spec);
  const TopologyStats stats = measure(build_network(spec), StatsOptions{100000, 0});
  EXPECT_EQ(stats.endpoints, counts.endpoints);
  EXPECT_EQ(stats.switches, counts.switches);
  EXPECT_EQ(stats.switch_links, counts.switch_links);
  EXPECT_EQ(stats.diameter, counts.diameter);
}

// ISCA'25 Table 3 (targets.yaml topology_cost): counts exactly, cost within 3 %.
TEST(Table3, CountsAndCostsOfTheFivePublishedNetworks) {
  struct Row {
    const char* card;
    long long endpoints, switches, links;
    double cost_musd, cost_per_endpoint_kusd;
  };
  const Row rows[] = {{"ft2", 2048, 96, 2048, 9, 4.39},
                      {"mpft", 16384, 768, 16384, 72, 4.39},
                      {"ft3", 65536, 5120, 131072, 491, 7.5},
                      {"slimfly", 32928, 1568, 32928, 146, 4.4},
                      {"dragonfly", 261632, 16352, 384272, 1522, 5.8}};
  const config::CostProfile prices = config::load_cost_profile("ib_ndr_64port");
  for (const Row& row : rows) {
    SCOPED_TRACE(row.card);
    // Each network sized for its own endpoint count; Table 3's Slim Fly is q = 28, which is not
    // a prime: counted from the MMS formulas, as the paper did.
    TopologySpec spec = card(row.card);
    spec.endpoints = row.endpoints;
    if (std::string(row.card) == "slimfly") spec.slim_fly_q = 28;
    const NetworkCounts counts = count_network(spec);
    EXPECT_EQ(counts.endpoints, row.endpoints);
    EXPECT_EQ(counts.switches, row.switches);
    EXPECT_EQ(counts.switch_links, row.links);
    TopologyStats stats = measure_from_counts(counts, "closed form");
    const CostBreakdown cost = network_cost(stats, prices);
    EXPECT_NEAR(cost.total_usd() / 1e6, row.cost_musd, 0.03 * row.cost_musd);
    EXPECT_NEAR(cost.total_usd() / static_cast<double>(counts.endpoints) / 1e3,
                row.cost_per_endpoint_kusd, 0.03 * row.cost_per_endpoint_kusd);
  }
}

// count_cluster (the memory estimate's starting point) against the graph build_cluster makes,
// for every shipped card at two cluster sizes.
TEST(ClusterCounts, MatchTheBuiltClusterForEveryShippedCard) {
  const config::HardwareProfile h800 =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const config::HardwareProfile gb200 =
      config::load_hardware_profile(kRoot + "/hardware_profiles/gb200_nvl72.yaml");
  for (const char* name : {"ft2", "ft3", "mpft", "mrft", "rail_only", "slimfly", "dragonfly",
                           "dumbbell", "h800_node", "nvl72"}) {
    const TopologySpec spec = card(name);
    const bool one_node = spec.generator == TopologyGenerator::single_node;
    const bool domain = spec.generator == TopologyGenerator::nvl72;
    // The dumbbell's four hosts take one node of four NICs.
    config::HardwareProfile four_nics = h800;
    four_nics.scale_out->nics_per_node = 4;
    const bool custom = spec.generator == TopologyGenerator::custom;
    const config::HardwareProfile& hw = domain ? gb200 : custom ? four_nics : h800;
    for (int nodes : {1, 3, 40}) {
      if ((one_node || custom) && nodes != 1) continue;
      if (domain && nodes * 4 > spec.domain_size) continue;
      SCOPED_TRACE(fmt::format("{} with {} nodes", name, nodes));
      const ClusterShape shape{nodes, domain || custom ? 4 : 8, &hw};
      const Topology built = build_cluster(spec, shape);
      const ClusterCounts counts = count_cluster(spec, shape);
      EXPECT_EQ(counts.vertices, static_cast<long long>(built.vertex_count()));
      EXPECT_EQ(counts.links, static_cast<long long>(built.link_count()));
      EXPECT_EQ(counts.switches, static_cast<long long>(built.switches().size()));
    }
  }
}

TEST(Table3, BuiltGraphsHaveThePublishedCounts) {
  // The graphs themselves, at full size, for the cards that can be built quickly.
  for (const char* name : {"ft2", "mpft", "mrft"}) expect_counts_match_graph(card(name));
  const TopologyStats ft3 = measure(build_network(card("ft3")), StatsOptions{64, 0});
  EXPECT_EQ(ft3.endpoints, 65536);
  EXPECT_EQ(ft3.switches, 5120);
  EXPECT_EQ(ft3.switch_links, 131072);
  EXPECT_EQ(ft3.diameter, 4);
}

TEST(Builders, FatTreesMatchTheirClosedForms) {
  for (int k : {4, 8, 16}) {
    expect_counts_match_graph(fat_tree(k, 2));
    expect_counts_match_graph(fat_tree(k, 3));
  }
  expect_counts_match_graph(fat_tree(8, 2, 3.0));  // 6 down, 2 up per leaf
}

TEST(Builders, SlimFlyIsTheMmsGraph) {
  for (int q : {5, 7, 11, 13}) {
    SCOPED_TRACE(q);
    const TopologySpec spec = slim_fly(q);
    const Topology topology = build_network(spec);
    expect_counts_match_graph(spec);
    // Every router has network degree (3q - delta) / 2.
    const int delta = q % 4 == 1 ? 1 : -1;
    for (VertexId router : topology.switches()) {
      int network_degree = 0;
      for (const auto& edge :
           boost::make_iterator_range(boost::out_edges(router, topology.graph()))) {
        if (topology.vertex(static_cast<VertexId>(boost::target(edge, topology.graph()))).kind ==
            VertexKind::network_switch) {
          ++network_degree;
        }
      }
      ASSERT_EQ(network_degree, (3 * q - delta) / 2);
    }
  }
}

TEST(Builders, DragonflyMatchesItsClosedForm) {
  expect_counts_match_graph(dragonfly(2, 4, 2, std::nullopt));  // 9 groups, every port used
  expect_counts_match_graph(dragonfly(2, 4, 2, 7));             // 2 spare ports per group
  expect_counts_match_graph(dragonfly(1, 3, 1, 3));
}

TopologySpec sized(TopologySpec spec, long long endpoints) {
  spec.endpoints = endpoints;
  spec.name += "-" + std::to_string(endpoints);
  return spec;
}

// Networks sized for fewer endpoints than their largest size: the graphs match the closed forms.
TEST(Sizing, SizedGraphsMatchTheirClosedForms) {
  for (long long n : {1, 5, 20, 32}) expect_counts_match_graph(sized(fat_tree(8, 2), n));
  for (long long n : {3, 5, 40, 100, 128}) expect_counts_match_graph(sized(fat_tree(8, 3), n));
  for (long long n : {1, 5, 20, 72}) {
    expect_counts_match_graph(sized(dragonfly(2, 4, 2, std::nullopt), n));
  }
  TopologySpec slim = slim_fly(0);
  slim.switch_radix = 32;
  for (long long n : {10, 150, 1000}) expect_counts_match_graph(sized(slim, n));
  TopologySpec rails = card("rail_only");
  rails.switch_radix = 8;
  for (long long n : {16, 64, 65, 300}) expect_counts_match_graph(sized(rails, n));
  TopologySpec multi_rail = card("mrft");
  multi_rail.switch_radix = 8;
  for (long long n : {16, 32, 33, 100}) expect_counts_match_graph(sized(multi_rail, n));
  TopologySpec planes = card("mpft");
  planes.switch_radix = 8;
  for (long long n : {16, 100, 256}) expect_counts_match_graph(sized(planes, n));
}

// The 2048-GPU cluster on each card: the counts the sizing rules give by hand.
TEST(Sizing, TwoThousandEndpointsOnEachCard) {
  struct Row {
    const char* card;
    long long switches, links;
  };
  // ft3: 64 leaves in 2 pods (64 aggregation switches), 32 cores (one per aggregation
  //   position), each aggregation switch with 32 parallel links to its core: 64 x 32 + 2 x 32 x 32;
  // dragonfly: 4 groups of 32 routers, 4 x 496 local links, 6 pairs x 170 global + 4 spare;
  // slimfly: q = 11 (the smallest prime with 2 q^2 x 9 >= 2048), 242 routers of degree 17;
  // rail_only: 256 endpoints per rail, a leaf-spine per rail (8 x (8 leaves + 4 spines)).
  const Row rows[] = {{"ft2", 96, 2048},      {"ft3", 160, 4096},       {"mpft", 96, 2048},
                      {"mrft", 96, 2048},     {"dragonfly", 128, 3008}, {"slimfly", 242, 2057},
                      {"rail_only", 96, 2048}};
  for (const Row& row : rows) {
    SCOPED_TRACE(row.card);
    const NetworkCounts counts = count_network(sized(card(row.card), 2048));
    EXPECT_EQ(counts.endpoints, 2048);
    EXPECT_EQ(counts.switches, row.switches);
    EXPECT_EQ(counts.switch_links, row.links);
  }
  EXPECT_EQ(size_network(card("dragonfly"), 2048).dragonfly_groups, 4);
  EXPECT_EQ(size_network(card("slimfly"), 2048).slim_fly_q, 11);
  EXPECT_EQ(size_network(card("rail_only"), 2048).levels, 2);
  EXPECT_EQ(size_network(card("rail_only"), 512).levels, 1);
  EXPECT_EQ(size_network(card("mrft"), 2048).levels, 2);
  EXPECT_EQ(size_network(card("mrft"), 16384).levels, 3);
  // Sized for Table 3's Slim Fly endpoints, the smallest buildable q is 29.
  EXPECT_EQ(size_network(card("slimfly"), 32928).slim_fly_q, 29);
  // A cluster gets the network sized for its NICs.
  const config::HardwareProfile hw = config::load_hardware_profile("h800_sxm");
  const Topology cluster = build_cluster(card("ft3"), ClusterShape{256, 8, &hw});
  EXPECT_EQ(cluster.switches().size(), 160U);
  EXPECT_EQ(cluster.switch_links(), 4096U);
}

TEST(Stats, SampledDiameterEqualsTheFullSearch) {
  for (const TopologySpec& spec : {fat_tree(8, 3), dragonfly(2, 4, 2, 7), slim_fly(7)}) {
    const Topology topology = build_network(spec);
    EXPECT_EQ(measure(topology, StatsOptions{3, 0}).diameter,
              measure(topology, StatsOptions{100000, 0}).diameter);
  }
}

TEST(Stats, BisectionOfFatTreesIsHalfTheEndpointsOverOversubscription) {
  const TopologyStats full = measure(build_network(fat_tree(8, 2)));
  EXPECT_EQ(full.endpoints, 32);
  EXPECT_DOUBLE_EQ(full.bisection->bytes_per_s, 16 * 50e9);
  const TopologyStats oversubscribed = measure(build_network(fat_tree(8, 2, 3.0)));
  EXPECT_EQ(oversubscribed.endpoints, 48);
  EXPECT_DOUBLE_EQ(oversubscribed.bisection->bytes_per_s, 24 * 50e9 / 3);
  const TopologyStats three = measure(build_network(fat_tree(8, 3)));
  EXPECT_DOUBLE_EQ(three.bisection->bytes_per_s, 64 * 50e9);
}

config::HardwareProfile h800() {
  return config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
}

TEST(Cluster, DeepSeekV3ClusterOnMpftAndMrft) {
  const config::HardwareProfile hw = h800();
  const ClusterShape shape{256, 8, &hw};
  const Topology mpft = build_cluster(card("mpft"), shape);
  EXPECT_EQ(mpft.gpus().size(), 2048u);
  EXPECT_EQ(mpft.nics().size(), 2048u);
  // Per plane 256 NICs: 8 leaves of 32, and 4 spines taking the 8 x 32 uplinks 8 links each.
  EXPECT_EQ(mpft.switches().size(), 8u * (8 + 4));
  EXPECT_EQ(mpft.switch_links(), 8u * 8 * 32);
  const Topology mrft = build_cluster(card("mrft"), shape);
  // All rails: 64 leaves and 32 shared spines, exactly FT2.
  EXPECT_EQ(mrft.switches().size(), 96u);
  EXPECT_EQ(mrft.switch_links(), 2048u);
  // Effective capacities: 160 GB/s NVLink per direction, 40 GB/s per NIC (80 % efficiency).
  const VertexId gpu0 = mpft.gpus()[0];
  const LinkInfo& nvlink = mpft.link(*mpft.find_link(gpu0, *mpft.nvswitch_of(gpu0)));
  EXPECT_DOUBLE_EQ(nvlink.capacity_bytes_per_s(), 160e9);
  const VertexId nic0 = *mpft.nic_of(gpu0);
  const LinkInfo& ib = mpft.link(*mpft.find_link(nic0, *mpft.attached_switch(nic0)));
  EXPECT_DOUBLE_EQ(ib.capacity_bytes_per_s(), 40e9);
}

class Routing : public ::testing::Test {
 protected:
  config::HardwareProfile hw_ = h800();
  Topology mpft_ = build_cluster(card("mpft"), ClusterShape{16, 8, &hw_});
  Topology mrft_ = build_cluster(card("mrft"), ClusterShape{16, 8, &hw_});

  static VertexId gpu(const Topology& t, int node, int local) {
    return t.gpus()[static_cast<std::size_t>(node * 8 + local)];
  }
  static std::vector<LinkKind> kinds(const Topology& t, const Route& route) {
    std::vector<LinkKind> out;
    for (LinkId id : route.links) out.push_back(t.link(id).kind);
    return out;
  }
};

TEST_F(Routing, InsideANodeOverNvlink) {
  Router router(mpft_);
  const Route route = router.route(gpu(mpft_, 3, 1), gpu(mpft_, 3, 6), 42);
  EXPECT_EQ(kinds(mpft_, route), (std::vector<LinkKind>{LinkKind::nvlink, LinkKind::nvlink}));
  EXPECT_EQ(route.latency.ps(), 3'330'000);  // ISCA'25 Table 5: 3.33 us
}

TEST_F(Routing, SamePlaneAcrossNodesStaysInThePlane) {
  Router router(mpft_);
  // 16 nodes: each plane has one leaf of 16 NICs, so same-plane traffic turns at the leaf.
  const Route route = router.route(gpu(mpft_, 0, 2), gpu(mpft_, 9, 2), 7);
  EXPECT_EQ(kinds(mpft_, route), (std::vector<LinkKind>{LinkKind::pcie, LinkKind::network,
                                                        LinkKind::network, LinkKind::pcie}));
  EXPECT_EQ(route.latency.ps(), 2'800'000);  // same leaf: ISCA'25 Table 5, 2.8 us
}

TEST_F(Routing, CrossPlaneTrafficIsForwardedOverNvlink) {
  Router router(mpft_);
  const VertexId from = gpu(mpft_, 0, 2);
  const VertexId to = gpu(mpft_, 9, 5);
  const Route sender_side = router.route(from, to, 7, Forwarding::at_source);
  EXPECT_EQ(kinds(mpft_, sender_side),
            (std::vector<LinkKind>{LinkKind::nvlink, LinkKind::nvlink, LinkKind::pcie,
                                   LinkKind::network, LinkKind::network, LinkKind::pcie}));
  // The relay is GPU 5 of the sending node, whose NIC is in the destination's plane.
  EXPECT_EQ(mpft_.link(sender_side.links[1]).to, gpu(mpft_, 0, 5));
  const Route receiver_side = router.route(from, to, 7, Forwarding::at_destination);
  EXPECT_EQ(kinds(mpft_, receiver_side),
            (std::vector<LinkKind>{LinkKind::pcie, LinkKind::network, LinkKind::network,
                                   LinkKind::pcie, LinkKind::nvlink, LinkKind::nvlink}));
  EXPECT_EQ(mpft_.link(receiver_side.links[3]).to, gpu(mpft_, 9, 2));
}

TEST_F(Routing, MultiRailCrossesRailsThroughTheSpines) {
  Router router(mrft_);
  const Route route = router.route(gpu(mrft_, 0, 2), gpu(mrft_, 9, 5), 7);
  EXPECT_EQ(kinds(mrft_, route),
            (std::vector<LinkKind>{LinkKind::pcie, LinkKind::network, LinkKind::network,
                                   LinkKind::network, LinkKind::network, LinkKind::pcie}));
  EXPECT_EQ(route.latency.ps(), 3'700'000);  // cross leaf: ISCA'25 Table 5, 3.7 us
}

TEST_F(Routing, EcmpSpreadsFlowsOverEverySpineAndIsDeterministic) {
  Router router(mrft_);
  std::set<VertexId> spines;
  for (std::uint64_t flow = 0; flow < 400; ++flow) {
    const Route route = router.route(gpu(mrft_, 0, 0), gpu(mrft_, 1, 3), flow);
    spines.insert(mrft_.link(route.links[2]).to);
    EXPECT_EQ(route.links, router.route(gpu(mrft_, 0, 0), gpu(mrft_, 1, 3), flow).links);
  }
  // 8 leaves x 32 uplinks over 4 spines: every spine carries some of the flows.
  EXPECT_EQ(spines.size(), 4u);
}

// One router caches each switch's next hops towards each target, a target's list shared with the
// switch's previous one when they are the same. Across four FT3 pods (leaf, aggregation and core
// choices), a router that has routed thousands of flows routes each exactly as a fresh one does.
TEST_F(Routing, CachedHopsRouteAsFreshOnes) {
  const Topology ft3 = build_cluster(card("ft3"), ClusterShape{512, 8, &hw_});
  Router warm(ft3);
  const std::vector<VertexId>& gpus = ft3.gpus();
  const std::size_t step = 37;  // coprime to 8 and to a pod's 1,024 GPUs
  std::uint64_t flow = 0;
  std::set<std::size_t> lengths;
  for (std::size_t i = 0; i < 64; ++i) {
    const VertexId from = gpus[(i * 613) % gpus.size()];
    for (std::size_t j = 0; j < gpus.size(); j += step) {
      const VertexId to = gpus[(j + i) % gpus.size()];
      if (to == from) continue;
      ++flow;
      const Route route = warm.route(from, to, flow);
      lengths.insert(route.links.size());
      if (flow % 50 != 0) continue;  // a fresh router for one flow in fifty
      Router fresh(ft3);
      const Route expected = fresh.route(from, to, flow);
      ASSERT_EQ(route.links, expected.links) << "flow " << flow;
      ASSERT_EQ(route.latency, expected.latency);
    }
  }
  // Same node, same leaf, same pod and across pods: 2, 4, 6 and 8 links.
  EXPECT_EQ(lengths, (std::set<std::size_t>{2, 4, 6, 8}));
}

TEST_F(Routing, BadEndpointsAreClearErrors) {
  Router router(mpft_);
  try {
    (void)router.route(gpu(mpft_, 0, 0), 999999, 1);
    FAIL();
  } catch (const RoutingError& error) {
    // 16 nodes: one leaf per plane, so no spine tier.
    EXPECT_STREQ(error.what(), "unknown endpoint 999999: the topology has 280 vertices");
  }
  const VertexId nvswitch = *mpft_.nvswitch_of(gpu(mpft_, 0, 0));
  try {
    (void)router.route(gpu(mpft_, 0, 0), nvswitch, 1);
    FAIL();
  } catch (const RoutingError& error) {
    EXPECT_STREQ(error.what(), "NVSwitch of node 0 is not an endpoint (a GPU, NIC or host)");
  }
  // Bare multi-plane network: hosts of different planes have no path without NVLink.
  const Topology bare = build_network(card("mpft"));
  Router bare_router(bare);
  try {
    (void)bare_router.route(bare.endpoints()[0], bare.endpoints()[1], 1);
    FAIL();
  } catch (const RoutingError& error) {
    EXPECT_STREQ(error.what(), "no network path from endpoint 0 to endpoint 1");
  }
}

TEST(BuildErrors, ImpossibleParametersAreNamed) {
  auto message = [](const auto& build) -> std::string {
    try {
      build();
    } catch (const BuildError& error) {
      return error.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(message([] { (void)build_network(slim_fly(28)); }),
            "slim_fly: q = 28 cannot be built; the construction needs a prime q >= 5 (q = 4w + 1 "
            "or 4w - 1): the nearest buildable values are 23 and 29");
  EXPECT_EQ(message([] { (void)build_network(dragonfly(2, 4, 2, 10)); }),
            "dragonfly: 10 groups need 9 global ports per group, but a group has a * h = 8");
  TopologySpec no_bandwidth = fat_tree(8, 2);
  no_bandwidth.link_bandwidth.reset();
  EXPECT_EQ(message([&] { (void)build_network(no_bandwidth); }),
            "topology \"test-fat-tree\": link_bandwidth is needed to build the network without a "
            "hardware profile");
  const config::HardwareProfile hw = h800();
  EXPECT_EQ(message([&] {
              (void)build_cluster(fat_tree(8, 2), ClusterShape{5, 8, &hw});
            }),
            "topology \"test-fat-tree\": a two-level fat-tree of 8-port switches holds at most 32 "
            "endpoints; 40 are needed (levels: 3 holds 128)");
  EXPECT_EQ(message([&] {
              (void)build_cluster(fat_tree(8, 3), ClusterShape{17, 8, &hw});
            }),
            "topology \"test-fat-tree\": a three-level fat-tree of 8-port switches holds at most "
            "128 endpoints; 136 are needed");
  EXPECT_EQ(message([&] {
              (void)build_cluster(card("h800_node"), ClusterShape{2, 8, &hw});
            }),
            "topology \"h800_node\" is a single node, but the cluster has 2 nodes");
  EXPECT_EQ(message([&] {
              (void)build_cluster(card("nvl72"), ClusterShape{10, 8, &hw});
            }),
            "topology \"nvl72\" is one scale-up domain of 72 GPUs, but the cluster has 80");
  EXPECT_EQ(message([] { (void)build_network(card("nvl72")); }),
            "topology \"nvl72\" is a scale-up domain (nvl72); it has no network to build without "
            "a hardware profile");
  EXPECT_EQ(message([&] { (void)build_network(fat_tree(8, 2, 16.0)); }),
            "oversubscription 16:1 leaves no port of a 8-port switch for endpoints or uplinks");
  TopologySpec one_switch_per_rail = card("rail_only");
  one_switch_per_rail.levels = 1;
  EXPECT_EQ(message([&] {
              (void)build_cluster(one_switch_per_rail, ClusterShape{65, 8, &hw});
            }),
            "topology \"rail_only\" fixes levels: 1, but a rail of 65 endpoints needs 2 on "
            "64-port switches");
  TopologySpec four_groups = card("dragonfly");
  four_groups.dragonfly_groups = 4;
  EXPECT_EQ(message([&] {
              (void)build_cluster(four_groups, ClusterShape{512, 8, &hw});
            }),
            "topology \"dragonfly\" fixes groups: 4, which holds 2048 endpoints; 4096 are needed");
  TopologySpec two_pods = card("ft3");
  two_pods.pods = 2;
  EXPECT_EQ(message([&] {
              (void)build_cluster(two_pods, ClusterShape{512, 8, &hw});
            }),
            "topology \"ft3\" fixes pods: 2, which holds 2048 endpoints; 4096 are needed");
  TopologySpec small_slim_fly = card("slimfly");
  small_slim_fly.slim_fly_q = 5;
  EXPECT_EQ(message([&] {
              (void)build_cluster(small_slim_fly, ClusterShape{512, 8, &hw});
            }),
            "topology \"slimfly\" fixes q: 5, which holds 200 endpoints; 4096 are needed");
  EXPECT_EQ(message([&] {
              (void)build_cluster(card("slimfly"), ClusterShape{8192, 8, &hw});
            }),
            "topology \"slimfly\": no buildable Slim Fly of 64-port routers holds 65536 endpoints "
            "(q = 29 holds 35322)");
  EXPECT_EQ(message([&] {
              (void)build_cluster(card("dragonfly"), ClusterShape{40000, 8, &hw});
            }),
            "topology \"dragonfly\": 320000 endpoints need 625 dragonfly groups of 512, but "
            "a * h + 1 = 513 is the most that can be fully connected");
  EXPECT_EQ(message([&] {
              (void)build_cluster(card("mrft"), ClusterShape{9000, 8, &hw});
            }),
            "topology \"mrft\": a three-level multi-rail fat-tree of 64-port switches holds at "
            "most 2048 leaves; 8 rails of 9000 endpoints need 2256");
}

}  // namespace
}  // namespace clustersim::fabric

namespace clustersim::fabric {
namespace {

TEST(Custom, ExplicitNodesAndLinksBuildAsWritten) {
  const config::TopologySpec spec =
      config::load_topology(std::string(CLUSTERSIM_SOURCE_DIR) + "/topologies/dumbbell.yaml");
  const NetworkCounts counts = count_network(spec);
  EXPECT_EQ(counts.endpoints, 4);
  EXPECT_EQ(counts.switches, 2);
  EXPECT_EQ(counts.switch_links, 1);
  const Topology topology = build_network(spec);
  const TopologyStats stats = measure(topology);
  EXPECT_EQ(stats.endpoints, 4);
  EXPECT_EQ(stats.switch_links, 1);
  EXPECT_EQ(stats.diameter, 1);
  // The bisection of a0, a1 | b0, b1 is the one 400 Gb/s link between the switches.
  EXPECT_DOUBLE_EQ(stats.bisection->bytes_per_s, 50e9);
  Router router(topology);
  const Route route = router.route(topology.endpoints()[0], topology.endpoints()[3], 1);
  EXPECT_EQ(route.links.size(), 3u);
  EXPECT_EQ(route.latency.ps(), 2'500'000);  // 1 + 0.5 + 1 us
}

}  // namespace
}  // namespace clustersim::fabric
