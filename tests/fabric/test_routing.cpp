// Routing policies on small networks, each against a closed form: a permutation that collides
// under ECMP and not under adaptive routing; spraying that reaches full bisection; D-mod-k tables
// that give each destination of a leaf its own down link; adaptive flows that re-balance when a
// path empties; Valiant and UGAL routing on a full mesh of switches (a dragonfly's global stage);
// and the networks a policy cannot be honoured on.

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <set>

#include "sim/config/loader.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::fabric {
namespace {

using config::RoutingPolicy;

constexpr double kCapacity = 10e9;  // bytes/s of a leaf-spine link
constexpr double kBytes = 1e9;

// Two leaves joined by `spines` spines, `hosts` hosts on each leaf. Host links are `host_speedup`
// times faster than the leaf-spine links, so that the spines are what flows contend for.
struct TwoLeaves {
  Topology topology{"two-leaves"};
  std::vector<VertexId> left, right;
  std::vector<VertexId> spines;
  TwoLeaves(int spine_count, int hosts, double host_speedup, RoutingPolicy routing) {
    VertexInfo leaf_info;
    leaf_info.kind = VertexKind::network_switch;
    leaf_info.tier = 0;
    const VertexId leaf_a = topology.add_vertex(leaf_info);
    const VertexId leaf_b = topology.add_vertex(leaf_info);
    for (int s = 0; s < spine_count; ++s) {
      VertexInfo spine;
      spine.kind = VertexKind::network_switch;
      spine.tier = 1;
      spines.push_back(topology.add_vertex(spine));
      for (VertexId leaf : {leaf_a, leaf_b}) {
        topology.add_duplex(leaf, spines.back(), LinkKind::network, Bandwidth{kCapacity}, 1.0,
                            SimTime::zero());
      }
    }
    for (auto [leaf, list] : {std::pair{leaf_a, &left}, std::pair{leaf_b, &right}}) {
      for (int h = 0; h < hosts; ++h) {
        VertexInfo host;
        host.kind = VertexKind::host;
        list->push_back(topology.add_vertex(host));
        topology.add_duplex(list->back(), leaf, LinkKind::network,
                            Bandwidth{kCapacity * host_speedup}, 1.0, SimTime::zero());
      }
    }
    topology.routing = routing;
  }
};

// Runs flows left[i] -> right[i] of `bytes[i]` with hash hashes[i], all started at 0; returns
// when each ends, in seconds.
std::vector<double> run(TwoLeaves& net, const std::vector<double>& bytes,
                        const std::vector<std::uint64_t>& hashes) {
  Engine engine;
  FlowModel model(engine, net.topology);
  Router router(net.topology);
  std::vector<double> done(bytes.size(), -1);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    model.start_flow(router, net.left[i], net.right[i], hashes[i], bytes[i],
                     [&done, i](SimTime t) { done[i] = t.seconds(); });
  }
  engine.run();
  return done;
}

// The spine a route crosses.
VertexId spine_of(const Topology& topology, const Route& route) {
  for (LinkId link : route.links) {
    if (topology.vertex(topology.link(link).to).tier == 1) return topology.link(link).to;
  }
  return 0;
}

// Two hashes whose ECMP routes from left[0] and left[1] cross the same spine.
std::pair<std::uint64_t, std::uint64_t> colliding_hashes(TwoLeaves& net) {
  Router router(net.topology);
  for (std::uint64_t a = 1; a < 64; ++a) {
    for (std::uint64_t b = a + 1; b < 64; ++b) {
      if (spine_of(net.topology, router.route(net.left[0], net.right[0], a)) ==
          spine_of(net.topology, router.route(net.left[1], net.right[1], b))) {
        return {a, b};
      }
    }
  }
  ADD_FAILURE() << "no two hashes collide";
  return {1, 2};
}

TEST(RoutingPolicy, APermutationCollidesUnderEcmpAndNotUnderAdaptiveRouting) {
  // Two flows, two spines: when the hash puts both on one spine they share its C and end at
  // 2 B / C; adaptive routing puts the second on the idle spine and both end at B / C.
  TwoLeaves ecmp(2, 2, 4, RoutingPolicy::ecmp);
  const auto [a, b] = colliding_hashes(ecmp);
  for (double t : run(ecmp, {kBytes, kBytes}, {a, b})) EXPECT_NEAR(t, 2 * kBytes / kCapacity, 1e-9);
  TwoLeaves adaptive(2, 2, 4, RoutingPolicy::adaptive);
  for (double t : run(adaptive, {kBytes, kBytes}, {a, b})) {
    EXPECT_NEAR(t, kBytes / kCapacity, 1e-9);
  }
}

// Adaptive routing chooses by the flows on each link, counted from the first adaptive flow on:
// the flows already started then, on fixed routes, count too, whether they still wait out
// their latency or already carry. Two spines; a flow pinned to the spine that the adaptive
// flow's hash would pick on an idle network, so that it collides unless it is counted.
TEST(RoutingPolicy, AdaptiveRoutingCountsTheFlowsStartedBeforeIt) {
  for (const SimTime later : {SimTime::zero(), SimTime::from_ps(1000)}) {
    SCOPED_TRACE(later.ps());
    TwoLeaves net(2, 2, 4, RoutingPolicy::adaptive);
    const auto [a, b] = colliding_hashes(net);
    Engine engine;
    FlowModel model(engine, net.topology);
    Router router(net.topology);
    double pinned_done = -1, adaptive_done = -1;
    model.start(router.route(net.left[0], net.right[0], a), kBytes,
                [&](SimTime t) { pinned_done = t.seconds(); });
    const auto start_adaptive = [&] {
      model.start_flow(router, net.left[1], net.right[1], b, kBytes,
                       [&](SimTime t) { adaptive_done = t.seconds(); });
    };
    if (later == SimTime::zero()) {
      start_adaptive();
    } else {
      engine.schedule_after(later, start_adaptive);
    }
    engine.run();
    EXPECT_NEAR(pinned_done, kBytes / kCapacity, 1e-9);
    EXPECT_NEAR(adaptive_done, later.seconds() + kBytes / kCapacity, 1e-9);
  }
}

TEST(RoutingPolicy, SprayReachesFullBisection) {
  // Four hosts per leaf, four spines, host links as fast as a spine link: a permutation from the
  // left leaf to the right one has a bisection of 4 C. Sprayed, every flow is four quarter-flows,
  // one per spine, and each spine carries four of them at C / 4: all end at B / C, whatever the
  // hashes. ECMP with colliding hashes cannot.
  TwoLeaves spray(4, 4, 1, RoutingPolicy::spray);
  const std::vector<double> bytes(4, kBytes);
  for (double t : run(spray, bytes, {1, 2, 3, 4})) EXPECT_NEAR(t, kBytes / kCapacity, 1e-9);
  Router router(spray.topology);
  const std::vector<Route> paths = router.routes(spray.left[0], spray.right[0], 7);
  ASSERT_EQ(paths.size(), 4U);
  std::set<VertexId> crossed;
  for (const Route& route : paths) crossed.insert(spine_of(spray.topology, route));
  EXPECT_EQ(crossed.size(), 4U) << "the paths cover every spine once";
  TwoLeaves ecmp(4, 4, 1, RoutingPolicy::ecmp);
  const auto [a, b] = colliding_hashes(ecmp);
  const std::vector<double> times = run(ecmp, bytes, {a, b, 1000, 1001});
  EXPECT_GE(*std::max_element(times.begin(), times.end()), 2 * kBytes / kCapacity - 1e-9);
}

TEST(RoutingPolicy, StaticTablesGiveEachDestinationOfALeafItsOwnSpine) {
  // D-mod-k: destination d (its index among the endpoints) goes up through spine d mod 4, from
  // any source and with any hash; the four hosts of the right leaf are endpoints 4..7, so they
  // take four different spines, and every flow to one destination takes the same one.
  TwoLeaves net(4, 4, 1, RoutingPolicy::static_);
  Router router(net.topology);
  std::set<VertexId> used;
  for (std::size_t d = 0; d < 4; ++d) {
    const VertexId spine = spine_of(net.topology, router.route(net.left[0], net.right[d], 1));
    used.insert(spine);
    EXPECT_EQ(spine, net.spines[(4 + d) % 4]);
    for (std::uint64_t hash : {2U, 99U}) {
      for (std::size_t s = 1; s < 4; ++s) {
        EXPECT_EQ(spine_of(net.topology, router.route(net.left[s], net.right[d], hash)), spine);
      }
    }
  }
  EXPECT_EQ(used.size(), 4U);
  // So a shift permutation runs at full rate, as it does in IB subnet managers' fat-tree tables.
  for (double t : run(net, std::vector<double>(4, kBytes), {5, 5, 5, 5})) {
    EXPECT_NEAR(t, kBytes / kCapacity, 1e-9);
  }
}

TEST(RoutingPolicy, AdaptiveFlowsRebalanceWhenAPathEmpties) {
  // Three flows of B over two spines. At the start two share a spine (C / 2 each) and one has
  // the other (C). When it ends at B / C, one of the two moves over at its next re-choice
  // (after at most kRebalanceBytes at C / 2), and they end near the fluid optimum 3 B / (2 C),
  // well before the 2 B / C of paths fixed at the start.
  TwoLeaves net(2, 3, 4, RoutingPolicy::adaptive);
  const std::vector<double> times = run(net, std::vector<double>(3, kBytes), {1, 2, 3});
  const double last = *std::max_element(times.begin(), times.end());
  const double step = FlowModel::kRebalanceBytes / (kCapacity / 2);
  EXPECT_GE(last, 1.5 * kBytes / kCapacity - 1e-9);
  EXPECT_LE(last, 1.5 * kBytes / kCapacity + 2 * step);
  EXPECT_LT(last, 2 * kBytes / kCapacity - 0.1 * kBytes / kCapacity);
}

TEST(RoutingPolicy, EcmpKeepsItsHashAndAdaptiveFollowsTheLoad) {
  // ECMP: the same hash, the same route, whatever the load. Adaptive: with the first spine
  // loaded, the other one.
  TwoLeaves net(2, 1, 4, RoutingPolicy::adaptive);
  Router router(net.topology);
  std::vector<double> load(net.topology.link_count(), 0.0);
  router.set_load(&load);
  const Route first = router.route(net.left[0], net.right[0], 3);
  for (LinkId link : first.links) load[link] += 1;
  const Route second = router.route(net.left[0], net.right[0], 3);
  EXPECT_NE(spine_of(net.topology, first), spine_of(net.topology, second));
  net.topology.routing = RoutingPolicy::ecmp;
  Router ecmp(net.topology);
  ecmp.set_load(&load);
  EXPECT_EQ(ecmp.route(net.left[0], net.right[0], 3).links,
            ecmp.route(net.left[0], net.right[0], 3).links);
}

TEST(RoutingPolicy, APolicyThatNeedsEqualCostPathsIsRefusedWhereThereAreNone) {
  // A rail-only network of eight nodes has one switch per rail: one path between two NICs.
  config::TopologySpec spec = config::load_topology("rail_only");
  spec.endpoints = 64;
  spec.routing = RoutingPolicy::spray;
  try {
    (void)build_network(spec);
    FAIL() << "spraying over single paths should be refused";
  } catch (const BuildError& error) {
    EXPECT_STREQ(error.what(),
                 "topology \"rail_only\": routing: spray chooses among equal-cost paths, but this "
                 "network has one shortest path between any two endpoints (ecmp or static route "
                 "it the same)");
  }
  spec.routing = RoutingPolicy::static_;
  EXPECT_NO_THROW((void)build_network(spec));
  // A fat-tree has them.
  config::TopologySpec tree = config::load_topology("ft2");
  tree.routing = RoutingPolicy::adaptive;
  EXPECT_EQ(build_network(tree).routing, RoutingPolicy::adaptive);
}

TEST(RoutingPolicy, TheDefaultPolicyIsEcmpAndOtherPoliciesChangeTheFingerprint) {
  config::TopologySpec spec = config::load_topology("ft2");
  EXPECT_EQ(spec.routing, RoutingPolicy::ecmp);
  const std::uint64_t ecmp = build_network(spec).fingerprint();
  spec.routing = RoutingPolicy::static_;
  EXPECT_NE(build_network(spec).fingerprint(), ecmp);
}

// The router keeps each switch pair's next hops and each endpoint's down-link once found; a route
// must not depend on which routes came before it. Every GPU pair of a small three-tier fat-tree
// and of MPFT, routed forwards by one router and backwards by another, gets the same links.
TEST(RoutingPolicy, ARouteDoesNotDependOnTheRoutesBeforeIt) {
  const std::string root = CLUSTERSIM_SOURCE_DIR;
  const config::HardwareProfile hw =
      config::load_hardware_profile(root + "/hardware_profiles/h800_sxm.yaml");
  config::TopologySpec small_ft3 = config::load_topology(root + "/topologies/ft3.yaml");
  small_ft3.switch_radix = 8;  // 64 NICs: 16 leaves in 4 pods, so a core tier
  const config::TopologySpec mpft = config::load_topology(root + "/topologies/mpft.yaml");
  for (const auto& [spec, routing] :
       {std::pair{small_ft3, RoutingPolicy::ecmp}, std::pair{small_ft3, RoutingPolicy::static_},
        std::pair{mpft, RoutingPolicy::ecmp}}) {
    SCOPED_TRACE(spec.name);
    Topology topology = build_cluster(spec, {8, 8, &hw});
    topology.routing = routing;
    const std::vector<VertexId> gpus = topology.gpus();
    std::vector<std::pair<VertexId, VertexId>> pairs;
    for (const VertexId from : gpus) {
      for (const VertexId to : gpus) {
        if (from != to) pairs.emplace_back(from, to);
      }
    }
    Router forwards(topology);
    Router backwards(topology);
    std::vector<Route> routes;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      routes.push_back(forwards.route(pairs[i].first, pairs[i].second, i));
    }
    for (std::size_t i = pairs.size(); i-- > 0;) {
      const Route route = backwards.route(pairs[i].first, pairs[i].second, i);
      ASSERT_EQ(route.links, routes[i].links) << "pair " << i;
      ASSERT_EQ(route.latency, routes[i].latency);
    }
  }
}

// Five switches, each joined to every other by one link (a dragonfly's groups and their global
// links, one router a group), `hosts` hosts on each on links 100x faster.
struct FullMesh {
  Topology topology{"full-mesh"};
  std::vector<VertexId> switches;
  std::vector<std::vector<VertexId>> hosts;  // by switch
  FullMesh(int host_count, RoutingPolicy routing) {
    for (int s = 0; s < 5; ++s) {
      VertexInfo info;
      info.kind = VertexKind::network_switch;
      info.tier = 0;
      switches.push_back(topology.add_vertex(info));
    }
    for (std::size_t a = 0; a < switches.size(); ++a) {
      for (std::size_t b = a + 1; b < switches.size(); ++b) {
        topology.add_duplex(switches[a], switches[b], LinkKind::network, Bandwidth{kCapacity}, 1.0,
                            SimTime::zero());
      }
    }
    hosts.resize(switches.size());
    for (std::size_t s = 0; s < switches.size(); ++s) {
      for (int h = 0; h < host_count; ++h) {
        VertexInfo host;
        host.kind = VertexKind::host;
        hosts[s].push_back(topology.add_vertex(host));
        topology.add_duplex(hosts[s].back(), switches[s], LinkKind::network,
                            Bandwidth{kCapacity * 100}, 1.0, SimTime::zero());
      }
    }
    topology.routing = routing;
  }
  // The switches a route passes, in order.
  [[nodiscard]] std::vector<VertexId> switches_of(const Route& route) const {
    std::vector<VertexId> out;
    for (LinkId link : route.links) {
      const VertexId to = topology.link(link).to;
      if (topology.vertex(to).kind == VertexKind::network_switch) out.push_back(to);
    }
    return out;
  }
};

// Runs `flows` flows of kBytes, flow i from `from(i)` to `to(i)` with hash i + 1, all started at
// 0; returns when the last ends, in seconds.
template <class From, class To>
double run_mesh(FullMesh& net, int flows, const From& from, const To& to) {
  Engine engine;
  FlowModel model(engine, net.topology);
  Router router(net.topology);
  double last = 0;
  for (int i = 0; i < flows; ++i) {
    model.start_flow(router, from(i), to(i), static_cast<std::uint64_t>(i) + 1, kBytes,
                     [&last](SimTime t) { last = std::max(last, t.seconds()); });
  }
  engine.run();
  return last;
}

TEST(RoutingPolicy, ValiantGoesThroughARandomIntermediateSwitch) {
  FullMesh net(4, RoutingPolicy::valiant);
  Router router(net.topology);
  std::set<VertexId> second_switches;
  int direct = 0;
  for (std::uint64_t hash = 1; hash <= 200; ++hash) {
    const Route route = router.route(net.hosts[0][hash % 4], net.hosts[1][hash % 4], hash);
    // A chain from the source host to the destination host.
    ASSERT_EQ(net.topology.link(route.links.front()).from, net.hosts[0][hash % 4]);
    ASSERT_EQ(net.topology.link(route.links.back()).to, net.hosts[1][hash % 4]);
    for (std::size_t i = 1; i < route.links.size(); ++i) {
      ASSERT_EQ(net.topology.link(route.links[i]).from, net.topology.link(route.links[i - 1]).to);
    }
    const std::vector<VertexId> path = net.switches_of(route);
    ASSERT_EQ(path.front(), net.switches[0]);
    ASSERT_EQ(path.back(), net.switches[1]);
    if (path.size() == 2) {
      ++direct;  // its intermediate was its own first or last switch
    } else {
      ASSERT_EQ(path.size(), 3u);  // minimal to the intermediate, minimal from it
      second_switches.insert(path[1]);
    }
  }
  // Each of the three other switches serves as an intermediate; two intermediates in five are
  // the ends themselves, so about 40 % of the flows go directly.
  EXPECT_EQ(second_switches.size(), 3u);
  EXPECT_GT(direct, 50);
  EXPECT_LT(direct, 110);
  // ECMP keeps every flow on the one shortest path.
  FullMesh minimal(4, RoutingPolicy::ecmp);
  Router ecmp(minimal.topology);
  EXPECT_EQ(minimal.switches_of(ecmp.route(minimal.hosts[0][0], minimal.hosts[1][0], 7)).size(),
            2u);
}

TEST(RoutingPolicy, ValiantAndUgalSpreadAdversarialTrafficAndUgalKeepsUniformTrafficMinimal) {
  // Adversarial: 40 flows from switch 0's hosts to switch 1's. Minimal routing puts all of them
  // on the one link between the two: 40 x 1 GB at 10 GB/s, 4 s. Valiant spreads them over the
  // direct link and the three two-hop detours; UGAL sends a flow around once the direct link
  // carries more than twice the flows of a detour.
  const auto adversarial = [](RoutingPolicy routing) {
    FullMesh net(4, routing);
    return run_mesh(
        net, 40, [&](int i) { return net.hosts[0][static_cast<std::size_t>(i) % 4]; },
        [&](int i) { return net.hosts[1][static_cast<std::size_t>(i) % 4]; });
  };
  const double ecmp = adversarial(RoutingPolicy::ecmp);
  EXPECT_NEAR(ecmp, 40 * kBytes / kCapacity, 1e-6);
  EXPECT_LT(adversarial(RoutingPolicy::valiant), 0.6 * ecmp);
  EXPECT_LT(adversarial(RoutingPolicy::ugal), 0.6 * ecmp);
  // Uniform: every switch sends to every other, 4 flows a pair (80 flows). Minimal routes load
  // each link with its pair's 4 (4 x 1 GB at 10 GB/s, 0.4 s); Valiant's detours add load to
  // links that were already full and take longer; UGAL prices a detour at twice its load and
  // keeps the flows minimal.
  const auto uniform = [](RoutingPolicy routing) {
    FullMesh net(16, routing);
    const auto source = [](int i) { return static_cast<std::size_t>(i) % 5; };
    return run_mesh(
        net, 80, [&](int i) { return net.hosts[source(i)][static_cast<std::size_t>(i) / 5]; },
        [&](int i) {
          const std::size_t to = (source(i) + 1 + static_cast<std::size_t>(i / 5) % 4) % 5;
          return net.hosts[to][static_cast<std::size_t>(i) / 5];
        });
  };
  const double uniform_ecmp = uniform(RoutingPolicy::ecmp);
  EXPECT_NEAR(uniform_ecmp, 4 * kBytes / kCapacity, 1e-6);
  EXPECT_GT(uniform(RoutingPolicy::valiant), 1.2 * uniform_ecmp);
  EXPECT_NEAR(uniform(RoutingPolicy::ugal), uniform_ecmp, 1e-6);
}

}  // namespace
}  // namespace clustersim::fabric
