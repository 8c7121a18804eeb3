// Departure batching (FlowModel::set_departure_batching), the flow model's one approximation:
// what it keeps exactly (feasible rates, every byte carried, the last completion of flows of one
// size that start together) and how far its completion times move from the exact run's on random
// instances, the bound fabric/flow_model.hpp states.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/fabric/flow_model.hpp"

namespace clustersim::fabric {
namespace {

constexpr double kHostLink = 50e9;  // bytes/s

// A two-tier Clos: `leaves` leaves of `per_leaf` hosts, each leaf linked once to each of `spines`
// spines at `uplink` bytes/s (below kHostLink x per_leaf / spines: oversubscribed).
struct Clos {
  Topology topology{"clos"};
  std::vector<VertexId> hosts, leaves, spines;
  Clos(int leaf_count, int per_leaf, int spine_count, double uplink) {
    auto add = [&](VertexKind kind) {
      VertexInfo info;
      info.kind = kind;
      return topology.add_vertex(info);
    };
    for (int s = 0; s < spine_count; ++s) spines.push_back(add(VertexKind::network_switch));
    for (int l = 0; l < leaf_count; ++l) {
      leaves.push_back(add(VertexKind::network_switch));
      for (const VertexId spine : spines) {
        topology.add_duplex(leaves.back(), spine, LinkKind::network, Bandwidth{uplink}, 1.0,
                            SimTime::zero());
      }
      for (int h = 0; h < per_leaf; ++h) {
        hosts.push_back(add(VertexKind::host));
        topology.add_duplex(hosts.back(), leaves.back(), LinkKind::network, Bandwidth{kHostLink},
                            1.0, SimTime::zero());
      }
    }
  }
  // Host `from` to host `to` through spine `spine` (ignored within one leaf).
  [[nodiscard]] Route route(std::size_t from, std::size_t to, std::size_t spine) const {
    const std::size_t per_leaf = hosts.size() / leaves.size();
    const VertexId a = leaves[from / per_leaf];
    const VertexId b = leaves[to / per_leaf];
    Route r;
    r.links.push_back(*topology.find_link(hosts[from], a));
    if (a != b) {
      r.links.push_back(*topology.find_link(a, spines[spine]));
      r.links.push_back(*topology.find_link(spines[spine], b));
    }
    r.links.push_back(*topology.find_link(b, hosts[to]));
    return r;
  }
};

struct Flow {
  Route route;
  double bytes = 0;
  SimTime start;
};

// An all-to-all among the hosts, each pair through a spine drawn at random (ECMP's collisions);
// With `varied`, each flow's bytes and start are drawn at random too.
std::vector<Flow> random_flows(const Clos& clos, std::uint32_t seed, bool varied) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> spine(0, clos.spines.size() - 1);
  std::uniform_real_distribution<double> scale(0.25, 4.0);
  std::uniform_int_distribution<std::int64_t> start_ps(0, 2'000'000);
  std::vector<Flow> flows;
  for (std::size_t a = 0; a < clos.hosts.size(); ++a) {
    for (std::size_t b = 0; b < clos.hosts.size(); ++b) {
      if (a == b) continue;
      Flow flow{clos.route(a, b, spine(rng)), 1e6, SimTime::zero()};
      if (varied) {
        flow.bytes *= scale(rng);
        flow.start = SimTime::from_ps(start_ps(rng));
      }
      flows.push_back(std::move(flow));
    }
  }
  return flows;
}

struct Outcome {
  std::vector<SimTime> done;  // by flow
  std::vector<LinkStats> stats;
  SimTime end;
};

Outcome run(const Clos& clos, const std::vector<Flow>& flows, double batching) {
  Engine engine;
  FlowModel model(engine, clos.topology);
  model.set_departure_batching(batching);
  Outcome out;
  out.done.resize(flows.size());
  for (std::size_t i = 0; i < flows.size(); ++i) {
    engine.schedule_at(flows[i].start, [&, i] {
      model.start(flows[i].route, flows[i].bytes, [&, i](SimTime t) { out.done[i] = t; });
    });
  }
  engine.run();
  out.end = engine.now();
  out.stats = model.link_stats(out.end);
  return out;
}

// 8 leaves of 4 hosts and 4 spines at half the hosts' bandwidth: 992 flows in one component.
Clos small_clos() {
  return Clos(8, 4, 4, kHostLink / 2);
}

TEST(DepartureBatching, IsAFractionBelowOne) {
  const Clos clos = small_clos();
  Engine engine;
  FlowModel model(engine, clos.topology);
  EXPECT_EQ(model.departure_batching(), 0);
  for (const double bad : {-0.1, 1.0, 2.0, std::nan("")}) {
    EXPECT_THROW(model.set_departure_batching(bad), std::invalid_argument) << bad;
  }
  model.set_departure_batching(0.05);
  EXPECT_EQ(model.departure_batching(), 0.05);
}

// Flows of one size that start together: every rate after a solve is at least the lowest fair
// share of that solve, which only grows as flows leave, so the last completion is the busiest
// link's bytes over its capacity, batched or not.
TEST(DepartureBatching, FlowsOfOneSizeStartedTogetherEndAtTheCongestionBound) {
  const Clos clos = small_clos();
  for (const std::uint32_t seed : {1U, 2U, 3U}) {
    const std::vector<Flow> flows = random_flows(clos, seed, false);
    std::vector<double> link_bytes(clos.topology.link_count(), 0.0);
    for (const Flow& flow : flows) {
      for (const LinkId link : flow.route.links) link_bytes[link] += flow.bytes;
    }
    const std::vector<double> capacity = clos.topology.capacities();
    double bound = 0;
    for (std::size_t l = 0; l < link_bytes.size(); ++l) {
      bound = std::max(bound, link_bytes[l] / capacity[l]);
    }
    const Outcome exact = run(clos, flows, 0);
    EXPECT_NEAR(exact.end.seconds(), bound, 1e-11) << seed;
    for (const double batching : {0.01, 0.05, 0.2, 0.5}) {
      const Outcome batched = run(clos, flows, batching);
      EXPECT_NEAR(batched.end.seconds(), bound, 1e-11) << seed << " " << batching;
    }
  }
}

// Between solves the flows left keep their rates and the departed flows' loads come off their
// links at once: no link is ever over its capacity, and each carries exactly the bytes of the
// flows that cross it.
TEST(DepartureBatching, RatesStayFeasibleAndEveryByteIsCarried) {
  const Clos clos = small_clos();
  const std::vector<Flow> flows = random_flows(clos, 7, true);
  std::vector<double> link_bytes(clos.topology.link_count(), 0.0);
  for (const Flow& flow : flows) {
    for (const LinkId link : flow.route.links) link_bytes[link] += flow.bytes;
  }
  for (const double batching : {0.0, 0.05, 0.3}) {
    const Outcome out = run(clos, flows, batching);
    for (std::size_t l = 0; l < link_bytes.size(); ++l) {
      EXPECT_LE(out.stats[l].peak_utilization, 1 + 1e-9) << l << " " << batching;
      EXPECT_NEAR(out.stats[l].bytes, link_bytes[l], 1e-6 * std::max(1.0, link_bytes[l]))
          << l << " " << batching;
    }
  }
}

// The stated bound. Flows of random sizes (1/4 to 4 MB) starting at random within 2 us, on an
// oversubscribed Clos with random spines, 992 flows in one component. What a collective or an EP
// exchange reports is its last completion: with a batching of 0.05 it stays within 1.5 % of the
// exact run's, and within 5 % at 0.2; the mean flow's completion time within 4 % and 10 %. A
// single flow can move much more (measured here: up to 62 % at 0.05, 90 % at 0.2), one whose
// link-mates left while the solve was held back and which waits for it at its old rate; so no
// per-flow bound is stated. (Measured over these seeds at 0.05: last 0.85 %, mean 2.4 %; at
// 0.2: last 3.7 %, mean 7.2 %.) No a-priori bound exists, max-min rates not being monotone in
// the set of flows; these are measured, with room.
TEST(DepartureBatching, CompletionTimesStayWithinTheStatedBoundOfTheExactRun) {
  struct Case {
    double batching, last, mean;
  };
  for (const Case c : {Case{0.05, 0.015, 0.04}, Case{0.2, 0.05, 0.10}}) {
    double worst_last = 0, worst_mean = 0;
    for (const std::uint32_t seed : {11U, 12U, 13U, 14U, 15U}) {
      const Clos clos = small_clos();
      const std::vector<Flow> flows = random_flows(clos, seed, true);
      const Outcome exact = run(clos, flows, 0);
      const Outcome batched = run(clos, flows, c.batching);
      double sum = 0;
      for (std::size_t i = 0; i < flows.size(); ++i) {
        const double took = (exact.done[i] - flows[i].start).seconds();
        sum += std::abs((batched.done[i] - exact.done[i]).seconds()) / took;
      }
      worst_mean = std::max(worst_mean, sum / static_cast<double>(flows.size()));
      worst_last = std::max(
          worst_last, std::abs(batched.end.seconds() - exact.end.seconds()) / exact.end.seconds());
    }
    EXPECT_LE(worst_last, c.last) << c.batching;
    EXPECT_LE(worst_mean, c.mean) << c.batching;
  }
}

}  // namespace
}  // namespace clustersim::fabric
