// Flows on the engine: closed forms for shared links, the parking lot, a ring, latency, NVLink
// forwarding on a multi-plane fabric; statistics; stalls reported as deadlocks; determinism.

#include "sim/fabric/flow_model.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::fabric {
namespace {

constexpr double kCapacity = 10e9;  // bytes/s
constexpr double kBytes = 1e9;

// A line of `count` switches with one host on each; every link has kCapacity and `latency`.
struct Line {
  Topology topology{"line"};
  std::vector<VertexId> hosts, switches;
  explicit Line(int count, SimTime latency = SimTime::zero()) {
    for (int i = 0; i < count; ++i) {
      VertexInfo host;
      host.kind = VertexKind::host;
      hosts.push_back(topology.add_vertex(host));
      VertexInfo sw;
      sw.kind = VertexKind::network_switch;
      switches.push_back(topology.add_vertex(sw));
      topology.add_duplex(hosts.back(), switches.back(), LinkKind::network, Bandwidth{kCapacity},
                          1.0, latency);
      if (i > 0) {
        topology.add_duplex(switches[static_cast<std::size_t>(i - 1)], switches.back(),
                            LinkKind::network, Bandwidth{kCapacity}, 1.0, latency);
      }
    }
  }
  Route route(std::size_t from, std::size_t to) {
    Router router(topology);
    return router.route(hosts[from], hosts[to], 0);
  }
};

config::HardwareProfile h800() {
  return testing::shipped_hardware("h800_sxm");
}

// A cluster of `nodes` 8-GPU nodes on the shipped topology card.
Topology shipped_cluster(const std::string& card, int nodes, const config::HardwareProfile& hw) {
  return build_cluster(testing::shipped_topology(card), {nodes, 8, &hw});
}

TEST(FlowModel, EqualFlowsOnOneLinkShareItEqually) {
  for (int n : {1, 2, 5, 16}) {
    Line line(2);
    Engine engine;
    FlowModel model(engine, line.topology);
    std::vector<SimTime> done;
    for (int i = 0; i < n; ++i) {
      model.start(line.route(0, 1), kBytes, [&](SimTime t) { done.push_back(t); });
    }
    engine.run();
    ASSERT_EQ(done.size(), static_cast<std::size_t>(n));
    for (SimTime t : done) EXPECT_NEAR(t.seconds(), n * kBytes / kCapacity, 1e-12);
  }
}

// Processor sharing on one link: n flows of sizes 1..n MB started together, the k-th smallest
// ends at t_k = t_(k-1) + (s_k - s_(k-1)) (n - k + 1) / C. With n = 3,000 each departure
// re-solves thousands of flows, so the completion queue is ordered once after the solve rather than
// moved flow by flow (FlowModel::kRebuildAtLeast): the times must be the same either way.
TEST(FlowModel, ManyFlowsOnOneLinkEndByProcessorSharing) {
  constexpr int kFlows = 3000;
  static_assert(kFlows > 2 * FlowModel::kRebuildAtLeast);
  Line line(2);
  Engine engine;
  FlowModel model(engine, line.topology);
  std::vector<SimTime> done(kFlows);
  const Route route = line.route(0, 1);
  for (int i = 0; i < kFlows; ++i) {
    model.start(route, (i + 1) * 1e6,
                [&done, i](SimTime t) { done[static_cast<std::size_t>(i)] = t; });
  }
  engine.run();
  double expected = 0;
  for (int k = 0; k < kFlows; ++k) {
    expected += 1e6 * (kFlows - k) / kCapacity;
    // Each end rounds up to a picosecond, and the next starts from there.
    EXPECT_NEAR(done[static_cast<std::size_t>(k)].seconds(), expected, 1e-12 * (k + 1)) << k;
  }
  EXPECT_GE(model.solves(), static_cast<std::uint64_t>(kFlows));
}

// More flows wait out their latency at once than the model keeps slots for, so it gives the
// slots back once they have all started; a second wave, started from the first's last end,
// takes new ones. Each wave of n equal flows on one link ends n x size / C after its latency.
TEST(FlowModel, WavesLargerThanTheKeptSlotsEachEndTogether) {
  constexpr std::size_t kFlows = FlowModel::kKeepPendingSlots + 100;
  const SimTime latency = SimTime::from_ps(1'000'000);  // 1 us per link, 3 links
  Line line(2, latency);
  Engine engine;
  FlowModel model(engine, line.topology);
  const Route route = line.route(0, 1);
  const double size = 1e6;
  std::vector<SimTime> first, second;
  std::size_t left = kFlows;
  for (std::size_t i = 0; i < kFlows; ++i) {
    model.start(route, size, [&](SimTime t) {
      first.push_back(t);
      if (--left > 0) return;
      for (std::size_t j = 0; j < kFlows; ++j) {
        model.start(route, size, [&](SimTime u) { second.push_back(u); });
      }
    });
  }
  engine.run();
  ASSERT_EQ(first.size(), kFlows);
  ASSERT_EQ(second.size(), kFlows);
  const double wave = 3 * latency.seconds() + kFlows * size / kCapacity;
  for (SimTime t : first) EXPECT_NEAR(t.seconds(), wave, 1e-11);
  for (SimTime t : second) EXPECT_NEAR(t.seconds(), 2 * wave, 1e-11);
  EXPECT_EQ(model.flows_completed(), 2 * kFlows);
  EXPECT_EQ(model.active_flows(), 0U);
}

// The waiting flows' links sit back to back in one store, closed up once three quarters are of
// flows that have started. Here 6,000 flows of 3 links start at 3 us and leave 1,000 flows of 4
// links waiting until 4 us, taking turns on two routes that share no link with each other or
// with the first flows: the store is closed up under them, and each group must still end as n
// equal flows on their own links do, n x size / C after its latency, its bytes on its links.
TEST(FlowModel, WaitingFlowsKeepTheirLinksWhenTheStoreIsClosedUp) {
  constexpr std::size_t kEarly = 6000, kLate = 1000;
  static_assert(3 * kEarly + 4 * kLate >= FlowModel::kKeepPendingSlots);
  static_assert(4 * 3 * kEarly >= 3 * (3 * kEarly + 4 * kLate));
  const SimTime latency = SimTime::from_ps(1'000'000);
  Line line(4, latency);
  Engine engine;
  FlowModel model(engine, line.topology);
  const Route early = line.route(1, 0);                                 // 3 links, 3 us
  const std::array<Route, 2> late{line.route(0, 2), line.route(3, 1)};  // 4 links, 4 us
  ASSERT_EQ(early.links.size(), 3U);
  const double size = 1e6;
  std::vector<SimTime> early_done;
  std::array<std::vector<SimTime>, 2> late_done;
  for (std::size_t i = 0; i < kEarly; ++i) {
    model.start(early, size, [&](SimTime t) { early_done.push_back(t); });
  }
  for (std::size_t i = 0; i < kLate; ++i) {
    model.start(late[i % 2], size, [&late_done, i](SimTime t) { late_done[i % 2].push_back(t); });
  }
  engine.run();
  ASSERT_EQ(early_done.size(), kEarly);
  for (SimTime t : early_done) {
    EXPECT_NEAR(t.seconds(), 3 * latency.seconds() + kEarly * size / kCapacity, 1e-11);
  }
  const std::vector<LinkStats>& stats = model.link_stats(engine.now());
  for (LinkId link : early.links) EXPECT_NEAR(stats[link].bytes, kEarly * size, 1e-3 * size);
  for (std::size_t route = 0; route < 2; ++route) {
    SCOPED_TRACE(route);
    ASSERT_EQ(late[route].links.size(), 4U);
    ASSERT_EQ(late_done[route].size(), kLate / 2);
    for (SimTime t : late_done[route]) {
      EXPECT_NEAR(t.seconds(), 4 * latency.seconds() + kLate / 2 * size / kCapacity, 1e-11);
    }
    for (LinkId link : late[route].links) {
      EXPECT_NEAR(stats[link].bytes, kLate / 2 * size, 1e-3 * size);
    }
  }
}

// A rate so low that the flow would end beyond the engine's time range is an input error with a
// message, not an overflow into negative times.
TEST(FlowModel, AFlowBeyondTheTimeRangeIsAClearError) {
  Line line(2);
  Engine engine;
  FlowModel model(engine, line.topology);
  model.start(line.route(0, 1), kBytes, {}, 1e-200);
  try {
    engine.run();
    FAIL() << "the flow ran";
  } catch (const TimeRangeError& error) {
    EXPECT_STREQ(error.what(),
                 "a flow of 1e+09 bytes at 1e-200 bytes/s would end beyond the simulator's time "
                 "range (about 106 days): a rate near zero or a size far too large in the input?");
  }
}

TEST(FlowModel, LatencyIsAPhaseBeforeTheTransfer) {
  Line line(2, SimTime::from_ps(1'000'000));  // 1 us per link, 3 links from host to host
  Engine engine;
  FlowModel model(engine, line.topology);
  SimTime done;
  model.start(line.route(0, 1), kBytes, [&](SimTime t) { done = t; });
  engine.run();
  EXPECT_NEAR(done.seconds(), 3e-6 + kBytes / kCapacity, 1e-12);
}

TEST(FlowModel, ParkingLot) {
  // One long flow over every inter-switch link, one short flow per link: everyone gets C/2 while
  // they share; the long flow (twice the bytes) then finishes alone at full rate.
  constexpr int kSwitches = 5;
  Line line(kSwitches);
  Engine engine;
  FlowModel model(engine, line.topology);
  SimTime long_done;
  std::vector<SimTime> short_done;
  model.start(line.route(0, kSwitches - 1), 2 * kBytes, [&](SimTime t) { long_done = t; });
  for (std::size_t i = 0; i + 1 < kSwitches; ++i) {
    // Short flow i crosses inter-switch link i; every link carries at most two flows.
    model.start(line.route(i, i + 1), kBytes, [&](SimTime t) { short_done.push_back(t); });
  }
  engine.run();
  ASSERT_EQ(short_done.size(), static_cast<std::size_t>(kSwitches - 1));
  for (SimTime t : short_done) EXPECT_NEAR(t.seconds(), 2 * kBytes / kCapacity, 1e-12);
  EXPECT_NEAR(long_done.seconds(), 3 * kBytes / kCapacity, 1e-12);
}

TEST(FlowModel, RingOfTwoHopFlows) {
  // A ring of N switches, each with a host; every host sends two hops clockwise, so every
  // inter-switch link carries two flows: C/2 each.
  constexpr int kNodes = 6;
  Line line(kNodes);
  line.topology.add_duplex(line.switches.back(), line.switches.front(), LinkKind::network,
                           Bandwidth{kCapacity}, 1.0, SimTime::zero());
  Engine engine;
  FlowModel model(engine, line.topology);
  std::vector<SimTime> done;
  Router router(line.topology);
  for (std::size_t i = 0; i < kNodes; ++i) {
    // Build the clockwise route by hand: host -> s_i -> s_i+1 -> s_i+2 -> host.
    Route route;
    const std::size_t a = i, b = (i + 1) % kNodes, c = (i + 2) % kNodes;
    for (auto [x, y] :
         {std::pair{line.hosts[a], line.switches[a]}, std::pair{line.switches[a], line.switches[b]},
          std::pair{line.switches[b], line.switches[c]},
          std::pair{line.switches[c], line.hosts[c]}}) {
      route.links.push_back(*line.topology.find_link(x, y));
    }
    model.start(route, kBytes, [&](SimTime t) { done.push_back(t); });
  }
  engine.run();
  ASSERT_EQ(done.size(), static_cast<std::size_t>(kNodes));
  for (SimTime t : done) EXPECT_NEAR(t.seconds(), 2 * kBytes / kCapacity, 1e-12);
}

TEST(FlowModel, CrossPlaneFlowIsForwardedOverNvlinkAndSharesTheRelayNic) {
  const config::HardwareProfile hw = h800();
  const Topology topology = shipped_cluster("mpft", 2, hw);
  Router router(topology);
  auto gpu = [&](int node, int local) {
    return topology.gpus()[static_cast<std::size_t>(node * 8 + local)];
  };
  Engine engine;
  FlowModel model(engine, topology);
  const Route forwarded = router.route(gpu(0, 2), gpu(1, 5), 1);
  const Route direct = router.route(gpu(0, 5), gpu(1, 5), 2);
  SimTime forwarded_done, direct_done;
  model.start(forwarded, kBytes, [&](SimTime t) { forwarded_done = t; });
  model.start(direct, kBytes, [&](SimTime t) { direct_done = t; });
  engine.run();
  // Both cross NIC 5 of node 0 (40 GB/s effective). The direct flow starts first (shorter
  // latency) and has the NIC alone until the forwarded one arrives; then 20 GB/s each; then the
  // forwarded flow finishes alone.
  const double nic = 40e9;
  const double head_start = (forwarded.latency - direct.latency).seconds();
  const double shared_from = forwarded.latency.seconds();
  const double direct_end = shared_from + (kBytes - nic * head_start) / (nic / 2);
  EXPECT_NEAR(direct_done.seconds(), direct_end, 1e-11);
  EXPECT_NEAR(forwarded_done.seconds(), direct_end + head_start, 1e-11);
  EXPECT_GT(forwarded.latency, direct.latency);  // the NVLink detour adds 3.33 us
}

TEST(FlowModel, LinkStatisticsIntegrateTheLoad) {
  Line line(2);
  Engine engine;
  FlowModel model(engine, line.topology);
  const Route route = line.route(0, 1);
  model.start(route, kBytes, {});
  const RunStats run = engine.run();
  const SimTime end = SimTime::from_ps(run.end.ps() * 2);  // observe over twice the busy time
  const std::vector<LinkStats>& stats = model.link_stats(end);
  const LinkStats& first = stats[route.links.front()];
  EXPECT_NEAR(first.bytes, kBytes, 1e-3);
  EXPECT_NEAR(first.busy.seconds(), kBytes / kCapacity, 1e-12);
  EXPECT_DOUBLE_EQ(first.peak_utilization, 1.0);
  EXPECT_NEAR(model.mean_utilization(route.links.front(), end), 0.5, 1e-9);
  EXPECT_EQ(model.link_stats_csv(end).substr(0, 30), "link,from,to,kind,capacity_Bps");
}

// An all-to-all of flows of 1-7 MB on 32 GPUs of a fat-tree, each GPU with a NIC of its own: its
// completions, and every link's statistics, with and without the series links merged.
struct SeriesRun {
  std::vector<std::int64_t> done;  // by flow, picoseconds
  std::vector<LinkStats> stats;
  std::vector<double> mean;
  std::size_t merged = 0;
};

SeriesRun run_all_to_all(const Topology& topology, bool merge) {
  Engine engine;
  FlowModel model(engine, topology);
  if (merge) model.merge_series_links();
  Router router(topology);
  SeriesRun out;
  const std::size_t gpus = topology.gpus().size();
  out.done.assign(gpus * (gpus - 1), -1);
  std::uint64_t flow = 0;
  for (VertexId from : topology.gpus()) {
    for (VertexId to : topology.gpus()) {
      if (from == to) continue;
      const std::size_t index = flow++;
      model.start_flow(router, from, to, flow, 1e6 * static_cast<double>(flow % 7 + 1),
                       [&out, index](SimTime t) { out.done[index] = t.ps(); });
    }
  }
  const RunStats run = engine.run();
  out.stats = model.link_stats(run.end);
  for (LinkId link = 0; link < topology.link_count(); ++link) {
    out.mean.push_back(model.mean_utilization(link, run.end));
  }
  out.merged = model.merged_links();
  return out;
}

// The GPU-NIC and NIC-switch links of a NIC with one of each carry the same flows, so the solver
// needs only the one with less capacity: PCIe 5.0 (64 GB/s) beside a 400G NIC at 40 GB/s keeps
// the NIC's, PCIe at 25 GB/s keeps the PCIe one, and at 40 GB/s, a tie, either would do. Every
// way every completion is the same to the picosecond, and the dropped link's statistics, read off
// its partner, are the same to rounding.
TEST(FlowModel, MergedSeriesLinksChangeNoCompletionAndNoStatistic) {
  for (const double pcie : {64e9, 40e9, 25e9}) {
    SCOPED_TRACE(pcie);
    config::HardwareProfile hw = h800();
    hw.pcie->bandwidth = Bandwidth{pcie};
    const Topology topology = shipped_cluster("ft2", 4, hw);
    const SeriesRun whole = run_all_to_all(topology, false);
    const SeriesRun merged = run_all_to_all(topology, true);
    EXPECT_EQ(whole.merged, 0u);
    EXPECT_EQ(merged.merged, 2 * topology.gpus().size());  // one link each way per NIC
    EXPECT_EQ(std::count(whole.done.begin(), whole.done.end(), -1), 0);
    EXPECT_EQ(merged.done, whole.done);
    for (LinkId link = 0; link < topology.link_count(); ++link) {
      SCOPED_TRACE(link);
      const LinkStats& a = whole.stats[link];
      const LinkStats& b = merged.stats[link];
      EXPECT_NEAR(b.bytes, a.bytes, 1e-12 * a.bytes);
      EXPECT_EQ(b.busy, a.busy);
      EXPECT_NEAR(b.peak_utilization, a.peak_utilization, 1e-12);
      EXPECT_NEAR(merged.mean[link], whole.mean[link], 1e-12);
    }
  }
}

TEST(FlowModel, AFlowEndingAtANicCannotRunWhereSeriesLinksAreMerged) {
  const config::HardwareProfile hw = h800();
  const Topology topology = shipped_cluster("ft2", 2, hw);
  const VertexId gpu = topology.gpus().front();
  const VertexId nic = *topology.nic_of(gpu);
  const LinkId to_nic = *topology.find_link(gpu, nic);
  Engine engine;
  FlowModel model(engine, topology);
  model.merge_series_links();
  try {
    model.start(Route{{to_nic}, SimTime::zero()}, kBytes, {});
    FAIL() << "no error";
  } catch (const std::logic_error& error) {
    EXPECT_EQ(
        std::string(error.what()),
        fmt::format("a route crosses link {} ({} -> {}) without its series partner {}: a "
                    "flow that starts or ends at a NIC cannot run where series links are "
                    "merged",
                    to_nic, gpu, nic, *topology.find_link(nic, *topology.attached_switch(nic))));
  }
  // Merging once flows have started would leave theirs unmerged.
  Engine other_engine;
  FlowModel started(other_engine, topology);
  started.start(Route{{to_nic}, SimTime::zero()}, kBytes, {});
  EXPECT_THROW(started.merge_series_links(), std::logic_error);
}

TEST(FlowModel, AFlowThatCanNeverFinishIsADeadlock) {
  Topology topology("dead-link");
  VertexInfo host;
  host.kind = VertexKind::host;
  const VertexId a = topology.add_vertex(host);
  const VertexId b = topology.add_vertex(host);
  topology.add_duplex(a, b, LinkKind::network, Bandwidth{0}, 1.0, SimTime::zero());
  Engine engine;
  FlowModel model(engine, topology);
  model.start(Route{{*topology.find_link(a, b)}, SimTime::zero()}, kBytes, {}, kUnbounded, "a->b");
  try {
    engine.run();
    FAIL() << "no deadlock reported";
  } catch (const DeadlockError& error) {
    EXPECT_STREQ(error.what(),
                 "deadlock at 0 s: nothing left to run, but 1 still waiting:\n"
                 "  - fabric: flow 0 (a->b) stalled with 1000000000 bytes left (rate 0)");
  }
}

TEST(FlowModel, RunsAreDeterministic) {
  const config::HardwareProfile hw = h800();
  const Topology topology = shipped_cluster("mrft", 4, hw);
  auto run_once = [&] {
    Engine engine;
    FlowModel model(engine, topology);
    Router router(topology);
    std::vector<std::int64_t> done;
    std::uint64_t flow = 0;
    for (VertexId from : topology.gpus()) {
      for (VertexId to : topology.gpus()) {
        if (from == to) continue;
        ++flow;
        model.start(router.route(from, to, flow), 1e6 * static_cast<double>(flow % 7 + 1),
                    [&done](SimTime t) { done.push_back(t.ps()); });
      }
    }
    engine.run();
    return done;
  };
  const std::vector<std::int64_t> first = run_once();
  EXPECT_EQ(first.size(), 32u * 31u);
  EXPECT_EQ(first, run_once());
}

}  // namespace
}  // namespace clustersim::fabric
