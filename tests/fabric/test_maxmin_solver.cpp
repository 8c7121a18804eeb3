// Max-min fair sharing: closed forms on small networks, the max-min characterisation on random
// instances, independence from insertion order, and incremental solves against the full solve.

#include "sim/fabric/maxmin_solver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <vector>

namespace clustersim::fabric {
namespace {

// solve() names the re-solved flows in no particular order.
std::vector<FlowId> sorted(std::vector<FlowId> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

constexpr double kRelativeTolerance = 1e-9;

void expect_close(double actual, double expected) {
  if (std::isinf(expected)) {
    EXPECT_EQ(actual, expected);
  } else {
    EXPECT_NEAR(actual, expected, kRelativeTolerance * std::abs(expected));
  }
}

// ----- Closed forms ------------------------------------------------------------------------------

TEST(SolveMaxMin, EqualFlowsOnOneLinkEachGetAnEqualShare) {
  constexpr double kCapacity = 50e9;
  constexpr int kFlows = 7;
  const std::vector<double> capacities{kCapacity};
  const std::vector<FlowSpec> flows(kFlows, FlowSpec{{0}});
  for (const double rate : solve_max_min(capacities, flows)) {
    EXPECT_DOUBLE_EQ(rate, kCapacity / kFlows);
  }
}

TEST(SolveMaxMin, TwoLinksInSeriesTheNarrowerOneLimits) {
  // Flow 0 crosses both links, flow 1 only the wide one: the narrow link saturates first (share
  // 4 < 10/2) and flow 1 takes what flow 0 leaves of the wide link.
  const std::vector<double> capacities{10, 4};
  const std::vector<FlowSpec> flows{{{0, 1}}, {{0}}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_DOUBLE_EQ(rates[0], 4);
  EXPECT_DOUBLE_EQ(rates[1], 6);
}

TEST(SolveMaxMin, ParkingLotEveryFlowGetsHalf) {
  // One long flow across K links, one short flow per link: every link has two flows, all C/2.
  constexpr double kCapacity = 100e9;
  constexpr LinkId kLinks = 6;
  const std::vector<double> capacities(kLinks, kCapacity);
  std::vector<FlowSpec> flows(1);
  for (LinkId link = 0; link < kLinks; ++link) {
    flows[0].path.push_back(link);
    flows.push_back(FlowSpec{{link}});
  }
  for (const double rate : solve_max_min(capacities, flows)) EXPECT_DOUBLE_EQ(rate, kCapacity / 2);
}

TEST(SolveMaxMin, RingOfEqualLinksGivesHalfToEveryFlow) {
  // N links in a ring, flow i over links i and i+1: two flows per link.
  constexpr double kCapacity = 25e9;
  constexpr LinkId kLinks = 9;
  const std::vector<double> capacities(kLinks, kCapacity);
  std::vector<FlowSpec> flows;
  for (LinkId link = 0; link < kLinks; ++link) {
    flows.push_back(FlowSpec{{link, (link + 1) % kLinks}});
  }
  for (const double rate : solve_max_min(capacities, flows)) EXPECT_DOUBLE_EQ(rate, kCapacity / 2);
}

TEST(SolveMaxMin, RingWithOneNarrowLinkFillsInTwoLevels) {
  // Link 0 (capacity 2) freezes flows 3 and 0 at 1; links 1 and 3 keep 9 for one flow each, link
  // 2 keeps 10 for two flows, so flows 1 and 2 freeze at 5.
  const std::vector<double> capacities{2, 10, 10, 10};
  const std::vector<FlowSpec> flows{{{0, 1}}, {{1, 2}}, {{2, 3}}, {{3, 0}}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_DOUBLE_EQ(rates[0], 1);
  EXPECT_DOUBLE_EQ(rates[1], 5);
  EXPECT_DOUBLE_EQ(rates[2], 5);
  EXPECT_DOUBLE_EQ(rates[3], 1);
}

TEST(SolveMaxMin, BoundedFlowLeavesItsCapacityToTheOthers) {
  const std::vector<double> capacities{12};
  const std::vector<FlowSpec> flows{{{0}, 2}, {{0}}, {{0}}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_DOUBLE_EQ(rates[0], 2);
  EXPECT_DOUBLE_EQ(rates[1], 5);
  EXPECT_DOUBLE_EQ(rates[2], 5);
}

TEST(SolveMaxMin, BoundAboveTheFairShareDoesNotBind) {
  const std::vector<double> capacities{12};
  const std::vector<FlowSpec> flows{{{0}, 100}, {{0}}, {{0}}};
  for (const double rate : solve_max_min(capacities, flows)) EXPECT_DOUBLE_EQ(rate, 4);
}

TEST(SolveMaxMin, BoundEqualToTheFairShareGivesTheSameRates) {
  const std::vector<double> capacities{12};
  const std::vector<FlowSpec> flows{{{0}, 4}, {{0}}, {{0}}};
  for (const double rate : solve_max_min(capacities, flows)) EXPECT_DOUBLE_EQ(rate, 4);
}

TEST(SolveMaxMin, ZeroCapacityLinkGivesItsFlowsZero) {
  const std::vector<double> capacities{0, 10};
  const std::vector<FlowSpec> flows{{{0, 1}}, {{1}}, {{0}, 3}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_EQ(rates[0], 0);
  EXPECT_DOUBLE_EQ(rates[1], 10);
  EXPECT_EQ(rates[2], 0);
}

TEST(SolveMaxMin, EmptyPathGetsItsBoundOrInfinity) {
  const std::vector<double> capacities{10};
  const std::vector<FlowSpec> flows{{{}, 3}, {{}}, {{0}}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_EQ(rates[0], 3);
  EXPECT_EQ(rates[1], kUnbounded);
  EXPECT_EQ(rates[2], 10);
}

TEST(SolveMaxMin, InfiniteCapacityLeavesOnlyBoundsAndOtherLinks) {
  const std::vector<double> capacities{kUnbounded, 8};
  const std::vector<FlowSpec> flows{{{0}, 3}, {{0}}, {{0, 1}}};
  const std::vector<double> rates = solve_max_min(capacities, flows);
  EXPECT_EQ(rates[0], 3);
  EXPECT_EQ(rates[1], kUnbounded);
  EXPECT_EQ(rates[2], 8);
}

TEST(SolveMaxMin, NoFlowsNoRates) {
  const std::vector<double> capacities{1, 2};
  EXPECT_TRUE(solve_max_min(capacities, {}).empty());
}

#ifndef NDEBUG
TEST(SolveMaxMinDeathTest, LinkTwiceInOnePathAsserts) {
  const std::vector<double> capacities{1, 2};
  const std::vector<FlowSpec> flows{{{0, 1, 0}}};
  EXPECT_DEATH(static_cast<void>(solve_max_min(capacities, flows)),
               "a link appears twice in one path");
}

TEST(MaxMinSolverDeathTest, LinkTwiceInOnePathAsserts) {
  MaxMinSolver solver({1, 2});
  EXPECT_DEATH(solver.add_flow({1, 0, 1}), "a link appears twice in one path");
}
#endif

// ----- Incremental solver, small cases ----------------------------------------------------------

TEST(MaxMinSolver, SharesFollowArrivalsDeparturesAndCapacityChanges) {
  MaxMinSolver solver({12, 100});
  const FlowId a = solver.add_flow({0});
  const FlowId b = solver.add_flow({0, 1});
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{a, b}));
  EXPECT_DOUBLE_EQ(solver.rate(a), 6);
  EXPECT_DOUBLE_EQ(solver.rate(b), 6);
  EXPECT_DOUBLE_EQ(solver.load(0), 12);
  EXPECT_DOUBLE_EQ(solver.load(1), 6);

  const FlowId c = solver.add_flow({0});
  EXPECT_EQ(solver.solve().size(), 3U);
  EXPECT_DOUBLE_EQ(solver.rate(c), 4);
  EXPECT_DOUBLE_EQ(solver.load(1), 4);

  solver.remove_flow(a);
  EXPECT_EQ(solver.active_flows(), 2U);
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{b, c}));
  EXPECT_DOUBLE_EQ(solver.rate(b), 6);
  EXPECT_DOUBLE_EQ(solver.rate(c), 6);

  solver.set_capacity(0, 30);
  EXPECT_EQ(solver.solve().size(), 2U);
  EXPECT_DOUBLE_EQ(solver.rate(b), 15);
  EXPECT_DOUBLE_EQ(solver.load(0), 30);
  EXPECT_DOUBLE_EQ(solver.capacity(0), 30);
}

TEST(MaxMinSolver, SolveWithNothingDirtyRecomputesNothing) {
  MaxMinSolver solver({10});
  const FlowId flow = solver.add_flow({0}, 4);
  EXPECT_EQ(solver.solve().size(), 1U);
  EXPECT_TRUE(solver.solve().empty());
  EXPECT_EQ(solver.last_solve_size(), 0U);
  EXPECT_DOUBLE_EQ(solver.rate(flow), 4);
}

TEST(MaxMinSolver, OnlyTheTouchedComponentIsResolved) {
  // Links 0-1 and 2-3 carry two separate components.
  MaxMinSolver solver({10, 10, 20, 20});
  const FlowId left_a = solver.add_flow({0, 1});
  const FlowId left_b = solver.add_flow({1});
  const FlowId right_a = solver.add_flow({2});
  const FlowId right_b = solver.add_flow({2, 3});
  EXPECT_EQ(solver.solve().size(), 4U);

  const FlowId left_c = solver.add_flow({0});
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{left_a, left_b, left_c}));
  EXPECT_DOUBLE_EQ(solver.rate(right_a), 10);
  EXPECT_DOUBLE_EQ(solver.rate(right_b), 10);

  solver.set_capacity(3, 4);
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{right_a, right_b}));
  EXPECT_DOUBLE_EQ(solver.rate(right_b), 4);
  EXPECT_DOUBLE_EQ(solver.rate(right_a), 16);
}

// Links 0 and 1 of capacity 10, link 2 of capacity 3. A slow flow over links 2 and 0 gets 3 (link
// 2); a long flow over 0 and 1 and a short one on link 0 share the 7 left on link 0 (3.5 each); a
// short one on link 1 gets the 6.5 left there. When the short flow of link 0 leaves, only the
// flows at its level (3.5) or above are re-solved: the long flow and link 1's short flow split
// link 1 (5 each), and the slow flow keeps its 3 without being solved again.
TEST(MaxMinSolver, ADepartureReSolvesOnlyTheFlowsAtOrAboveItsLevel) {
  MaxMinSolver solver({10, 10, 3});
  const FlowId slow = solver.add_flow({2, 0});
  const FlowId long_flow = solver.add_flow({0, 1});
  const FlowId short0 = solver.add_flow({0});
  const FlowId short1 = solver.add_flow({1});
  EXPECT_EQ(solver.solve().size(), 4U);
  EXPECT_DOUBLE_EQ(solver.rate(slow), 3);
  EXPECT_DOUBLE_EQ(solver.rate(long_flow), 3.5);
  EXPECT_DOUBLE_EQ(solver.rate(short0), 3.5);
  EXPECT_DOUBLE_EQ(solver.rate(short1), 6.5);
  solver.remove_flow(short0);
  // The slow flow (3) is below the departed flow's level (3.5): it keeps its rate unsolved.
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{long_flow, short1}));
  EXPECT_DOUBLE_EQ(solver.rate(slow), 3);
  EXPECT_DOUBLE_EQ(solver.rate(long_flow), 5);
  EXPECT_DOUBLE_EQ(solver.rate(short1), 5);
  EXPECT_DOUBLE_EQ(solver.load(0), 8);
  EXPECT_DOUBLE_EQ(solver.load(1), 10);
  EXPECT_DOUBLE_EQ(solver.load(2), 3);
}

// Links 0 and 1 (10 each) hold two flows each, which all cross link 2 (100), with room to spare.
// A departure on link 0 re-solves its partner alone: the flows of link 1 are beyond a link that
// is no one's bottleneck, and keep their rates unsolved.
TEST(MaxMinSolver, ADepartureStopsAtALinkWithRoomToSpare) {
  MaxMinSolver solver({10, 10, 100});
  const FlowId f0 = solver.add_flow({0, 2});
  const FlowId f1 = solver.add_flow({0, 2});
  const FlowId g0 = solver.add_flow({1, 2});
  const FlowId g1 = solver.add_flow({1, 2});
  EXPECT_EQ(solver.solve().size(), 4U);
  EXPECT_DOUBLE_EQ(solver.load(2), 20);
  solver.remove_flow(f0);
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{f1}));
  EXPECT_DOUBLE_EQ(solver.rate(f1), 10);
  EXPECT_DOUBLE_EQ(solver.rate(g0), 5);
  EXPECT_DOUBLE_EQ(solver.rate(g1), 5);
  EXPECT_DOUBLE_EQ(solver.load(2), 20);
}

// The same with link 2 (14.5) nearly full, 14 of it used: f (2 of link 0's 4, beside a flow on
// link 0 alone) and g0, g1 (6 each of link 1's 12). When the lone flow leaves, f could take 4,
// which fills link 2, so the g flows (at or above the departed level, 2) are re-solved with it:
// f gets its 4 and the g flows share the 10.5 left, 5.25 each, as a full solve gives.
TEST(MaxMinSolver, ALinkTheReSolveFillsTakesTheFlowsBeyondIt) {
  MaxMinSolver solver({4, 12, 14.5});
  const FlowId lone = solver.add_flow({0});
  const FlowId f = solver.add_flow({0, 2});
  const FlowId g0 = solver.add_flow({1, 2});
  const FlowId g1 = solver.add_flow({1, 2});
  static_cast<void>(solver.solve());
  EXPECT_DOUBLE_EQ(solver.rate(f), 2);
  EXPECT_DOUBLE_EQ(solver.rate(g0), 6);
  EXPECT_DOUBLE_EQ(solver.load(2), 14);
  solver.remove_flow(lone);
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{f, g0, g1}));
  EXPECT_DOUBLE_EQ(solver.rate(f), 4);
  EXPECT_DOUBLE_EQ(solver.rate(g0), 5.25);
  EXPECT_DOUBLE_EQ(solver.rate(g1), 5.25);
  EXPECT_DOUBLE_EQ(solver.load(2), 14.5);
  const std::vector<double> full = solve_max_min(
      std::vector<double>{4, 12, 14.5}, std::vector<FlowSpec>{{{0, 2}}, {{1, 2}}, {{1, 2}}});
  EXPECT_DOUBLE_EQ(full[0], 4);
  EXPECT_DOUBLE_EQ(full[1], 5.25);
}

TEST(MaxMinSolver, RemovingTheOnlyFlowEmptiesItsLinks) {
  MaxMinSolver solver({10, 10});
  const FlowId flow = solver.add_flow({0, 1});
  static_cast<void>(solver.solve());
  EXPECT_DOUBLE_EQ(solver.load(1), 10);
  solver.remove_flow(flow);
  EXPECT_TRUE(solver.solve().empty());
  EXPECT_EQ(solver.load(0), 0);
  EXPECT_EQ(solver.load(1), 0);
}

TEST(MaxMinSolver, FlowAddedAndRemovedBeforeSolveIsNotReported) {
  MaxMinSolver solver({10});
  const FlowId kept = solver.add_flow({0});
  const FlowId gone = solver.add_flow({0});
  solver.remove_flow(gone);
  EXPECT_EQ(sorted(solver.solve()), (std::vector<FlowId>{kept}));
  EXPECT_DOUBLE_EQ(solver.rate(kept), 10);
}

TEST(MaxMinSolver, IdsAreReusedLowestFirst) {
  MaxMinSolver solver({10});
  for (FlowId expected = 0; expected < 4; ++expected) EXPECT_EQ(solver.add_flow({0}), expected);
  solver.remove_flow(2);
  solver.remove_flow(0);
  solver.remove_flow(3);
  EXPECT_EQ(solver.add_flow({0}), 0U);
  EXPECT_EQ(solver.add_flow({0}), 2U);
  EXPECT_EQ(solver.add_flow({}), 3U);
  EXPECT_EQ(solver.add_flow({0}), 4U);
  static_cast<void>(solver.solve());
  EXPECT_DOUBLE_EQ(solver.rate(1), 2.5);
  EXPECT_EQ(solver.rate(3), kUnbounded);
  EXPECT_TRUE(solver.path(3).empty());
  EXPECT_TRUE(std::ranges::equal(solver.path(4), std::vector<LinkId>{0}));
}

// ----- Random instances --------------------------------------------------------------------------

constexpr int kRandomInstances = 200;
constexpr std::size_t kMaxLinks = 50;
constexpr std::size_t kMaxFlows = 120;
constexpr std::size_t kMaxPathLength = 6;

[[nodiscard]] double random_capacity(std::mt19937_64& rng) {
  // One link in twenty is down (capacity 0).
  if (std::uniform_int_distribution<int>(0, 19)(rng) == 0) return 0;
  return std::uniform_real_distribution<double>(1e9, 100e9)(rng);
}

// `few_bounds`: a bounded flow's bound is one of three values (as a collective's copy engines
// give), rather than any.
[[nodiscard]] FlowSpec random_flow(std::mt19937_64& rng, std::size_t link_count,
                                   bool few_bounds = false) {
  FlowSpec flow;
  std::vector<LinkId> links(link_count);
  std::iota(links.begin(), links.end(), LinkId{0});
  const std::size_t length =
      std::uniform_int_distribution<std::size_t>(0, std::min(kMaxPathLength, link_count))(rng);
  for (std::size_t i = 0; i < length; ++i) {  // partial Fisher-Yates: distinct links
    const std::size_t pick = std::uniform_int_distribution<std::size_t>(i, link_count - 1)(rng);
    std::swap(links[i], links[pick]);
    flow.path.push_back(links[i]);
  }
  if (std::uniform_int_distribution<int>(0, 3)(rng) == 0) {
    flow.bound = few_bounds ? 1e9 * std::uniform_int_distribution<int>(1, 3)(rng)
                            : std::uniform_real_distribution<double>(0.1e9, 30e9)(rng);
  }
  return flow;
}

struct Instance {
  std::vector<double> capacities;
  std::vector<FlowSpec> flows;
};

[[nodiscard]] Instance random_instance(std::uint64_t seed, bool few_bounds = false) {
  std::mt19937_64 rng(seed);
  Instance instance;
  const std::size_t link_count = std::uniform_int_distribution<std::size_t>(1, kMaxLinks)(rng);
  for (std::size_t link = 0; link < link_count; ++link) {
    instance.capacities.push_back(random_capacity(rng));
  }
  const std::size_t flow_count = std::uniform_int_distribution<std::size_t>(1, kMaxFlows)(rng);
  for (std::size_t flow = 0; flow < flow_count; ++flow) {
    instance.flows.push_back(random_flow(rng, link_count, few_bounds));
  }
  return instance;
}

[[nodiscard]] std::vector<double> link_loads(const Instance& instance,
                                             const std::vector<double>& rates) {
  std::vector<double> loads(instance.capacities.size(), 0.0);
  for (std::size_t flow = 0; flow < instance.flows.size(); ++flow) {
    for (const LinkId link : instance.flows[flow].path) loads[link] += rates[flow];
  }
  return loads;
}

TEST(SolveMaxMinProperty, RatesAreFeasible) {
  for (int seed = 0; seed < kRandomInstances; ++seed) {
    SCOPED_TRACE(seed);
    const Instance instance = random_instance(static_cast<std::uint64_t>(seed));
    const std::vector<double> rates = solve_max_min(instance.capacities, instance.flows);
    ASSERT_EQ(rates.size(), instance.flows.size());
    for (std::size_t flow = 0; flow < rates.size(); ++flow) {
      EXPECT_GE(rates[flow], 0);
      EXPECT_LE(rates[flow], instance.flows[flow].bound);
    }
    const std::vector<double> loads = link_loads(instance, rates);
    for (std::size_t link = 0; link < loads.size(); ++link) {
      EXPECT_LE(loads[link], instance.capacities[link] * (1 + kRelativeTolerance)) << link;
    }
  }
}

// The max-min characterisation (Bertsekas & Gallager, Data Networks, 6.5.2): an allocation is
// max-min fair iff every flow is at its bound or crosses a saturated link on which no flow has a
// larger rate (a bottleneck link).
void expect_each_flow_at_its_bound_or_with_a_bottleneck(bool few_bounds) {
  for (int seed = 0; seed < kRandomInstances; ++seed) {
    SCOPED_TRACE(seed);
    const Instance instance = random_instance(static_cast<std::uint64_t>(seed), few_bounds);
    const std::vector<double> rates = solve_max_min(instance.capacities, instance.flows);
    const std::vector<double> loads = link_loads(instance, rates);
    for (std::size_t link = 0; link < loads.size(); ++link) {
      EXPECT_LE(loads[link], instance.capacities[link] * (1 + kRelativeTolerance)) << link;
    }
    for (std::size_t flow = 0; flow < rates.size(); ++flow) {
      EXPECT_LE(rates[flow], instance.flows[flow].bound) << flow;
    }
    std::vector<double> largest_rate(instance.capacities.size(), 0.0);
    for (std::size_t flow = 0; flow < rates.size(); ++flow) {
      for (const LinkId link : instance.flows[flow].path) {
        largest_rate[link] = std::max(largest_rate[link], rates[flow]);
      }
    }
    for (std::size_t flow = 0; flow < rates.size(); ++flow) {
      const FlowSpec& spec = instance.flows[flow];
      if (rates[flow] == spec.bound) continue;
      const bool has_bottleneck = std::any_of(spec.path.begin(), spec.path.end(), [&](LinkId link) {
        return loads[link] >= instance.capacities[link] * (1 - kRelativeTolerance) &&
               rates[flow] >= largest_rate[link] * (1 - kRelativeTolerance);
      });
      EXPECT_TRUE(has_bottleneck) << "flow " << flow << " rate " << rates[flow];
    }
  }
}

TEST(SolveMaxMinProperty, EveryFlowIsAtItsBoundOrHasABottleneck) {
  expect_each_flow_at_its_bound_or_with_a_bottleneck(false);
}

// Bounds from a few values are ordered by bucket rather than by a sort (sort_by_bound).
TEST(SolveMaxMinProperty, EveryFlowIsAtItsBoundOrHasABottleneckWithAFewBounds) {
  expect_each_flow_at_its_bound_or_with_a_bottleneck(true);
}

TEST(SolveMaxMinProperty, RatesDoNotDependOnInsertionOrder) {
  for (int seed = 0; seed < kRandomInstances; ++seed) {
    SCOPED_TRACE(seed);
    const Instance instance = random_instance(static_cast<std::uint64_t>(seed));
    const std::vector<double> rates = solve_max_min(instance.capacities, instance.flows);

    std::vector<std::size_t> order(instance.flows.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) + 1'000'000);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<FlowSpec> shuffled;
    for (const std::size_t flow : order) shuffled.push_back(instance.flows[flow]);
    const std::vector<double> shuffled_rates = solve_max_min(instance.capacities, shuffled);
    for (std::size_t i = 0; i < order.size(); ++i) {
      EXPECT_DOUBLE_EQ(shuffled_rates[i], rates[order[i]]) << "flow " << order[i];
    }
  }
}

// Components of the flow-link graph, by union-find over links (a flow joins the links it
// crosses).
class LinkComponents {
 public:
  explicit LinkComponents(std::size_t link_count) : parent_(link_count) {
    std::iota(parent_.begin(), parent_.end(), std::size_t{0});
  }
  [[nodiscard]] std::size_t root(std::size_t link) {
    while (parent_[link] != link) link = parent_[link] = parent_[parent_[link]];
    return link;
  }
  void join(std::size_t a, std::size_t b) { parent_[root(a)] = root(b); }

 private:
  std::vector<std::size_t> parent_;
};

// Replays a random sequence of batches of add_flow / remove_flow / set_capacity, solving after
// each batch, and checks the solver against a full solve of the flows it holds, and its list of
// recomputed flows against the components the batch touched.
// Departures leave holes in a link's list of flows that are closed up once they outnumber the
// flows, and a path longer than any before lays the path store out again: neither may lose a
// flow's path or its place (a removal finds its entry by that place).
TEST(MaxMinSolver, PathsSurviveClosedHolesAndALongerPath) {
  MaxMinSolver solver({12, 100, 100, 100});
  std::vector<FlowId> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(solver.add_flow({0, 1}));
  static_cast<void>(solver.solve());
  EXPECT_DOUBLE_EQ(solver.rate(ids[5]), 1);
  // Every other flow leaves, then the second: the lists of links 0 and 1 close up on this
  // seventh hole.
  for (int i = 0; i < 12; i += 2) solver.remove_flow(ids[static_cast<std::size_t>(i)]);
  solver.remove_flow(ids[1]);
  const FlowId longer = solver.add_flow({3, 2, 1, 0});  // takes id 0, widens the store
  EXPECT_EQ(longer, 0U);
  static_cast<void>(solver.solve());
  for (int i = 3; i < 12; i += 2) {
    const FlowId id = ids[static_cast<std::size_t>(i)];
    EXPECT_TRUE(std::ranges::equal(solver.path(id), std::vector<LinkId>{0, 1}));
    EXPECT_DOUBLE_EQ(solver.rate(id), 2);
  }
  EXPECT_TRUE(std::ranges::equal(solver.path(longer), std::vector<LinkId>{3, 2, 1, 0}));
  // Each of the rest leaves by its place on the closed-up lists: the last two share link 0.
  for (int i = 3; i < 11; i += 2) solver.remove_flow(ids[static_cast<std::size_t>(i)]);
  static_cast<void>(solver.solve());
  EXPECT_DOUBLE_EQ(solver.rate(ids[11]), 6);
  EXPECT_DOUBLE_EQ(solver.rate(longer), 6);
  EXPECT_DOUBLE_EQ(solver.load(0), 12);
  EXPECT_DOUBLE_EQ(solver.load(3), 6);
}

// Making room for a batch widens the path store before the batch's longer paths come; the flows
// already there keep their paths and rates, and the batch solves as without it.
TEST(MaxMinSolver, RoomMadeForABatchKeepsEveryPath) {
  MaxMinSolver solver({12, 100, 100, 100});
  const FlowId first = solver.add_flow({0, 1});
  static_cast<void>(solver.solve());
  solver.reserve(100, 4);
  std::vector<FlowId> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(solver.add_flow({3, 2, 1, 0}));
  static_cast<void>(solver.solve());
  EXPECT_TRUE(std::ranges::equal(solver.path(first), std::vector<LinkId>{0, 1}));
  for (const FlowId id : batch) {
    EXPECT_TRUE(std::ranges::equal(solver.path(id), std::vector<LinkId>{3, 2, 1, 0}));
    EXPECT_DOUBLE_EQ(solver.rate(id), 2);
  }
  EXPECT_DOUBLE_EQ(solver.rate(first), 2);
  EXPECT_DOUBLE_EQ(solver.load(0), 12);
}

TEST(ReserveGeometrically, GrowsAtLeastTwofoldAndNeverShrinks) {
  std::vector<int> v;
  reserve_geometrically(v, 10);
  EXPECT_EQ(v.capacity(), 10U);  // from nothing: exactly what is asked
  reserve_geometrically(v, 11);
  EXPECT_EQ(v.capacity(), 20U);  // a little more: twice the room
  reserve_geometrically(v, 50);
  EXPECT_EQ(v.capacity(), 50U);  // much more: what is asked
  reserve_geometrically(v, 5);
  EXPECT_EQ(v.capacity(), 50U);
}

TEST(MaxMinSolverProperty, IncrementalEqualsFullSolve) {
  constexpr int kSequences = 40;
  constexpr int kBatches = 60;
  int partial_solves = 0;       // solves that left some flows alone: the test exercises locality
  int narrower_departures = 0;  // departures that re-solved less than their components
  for (int seed = 0; seed < kSequences; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed) + 7'000'000);
    const std::size_t link_count = std::uniform_int_distribution<std::size_t>(1, kMaxLinks)(rng);
    std::vector<double> capacities;
    for (std::size_t link = 0; link < link_count; ++link) {
      capacities.push_back(random_capacity(rng));
    }
    MaxMinSolver solver(capacities);
    std::map<FlowId, FlowSpec> held;  // what the solver should hold, by id

    for (int batch = 0; batch < kBatches; ++batch) {
      SCOPED_TRACE(batch);
      std::set<FlowId> added;
      std::vector<LinkId> touched_links;
      bool only_removals = true;  // no flow added and no capacity changed in the batch
      const int operations = std::uniform_int_distribution<int>(1, 3)(rng);
      for (int op = 0; op < operations; ++op) {
        const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
        if (kind < 5 || held.empty()) {
          // Paths of at most 3 links keep several components alive.
          FlowSpec spec = random_flow(rng, link_count);
          if (spec.path.size() > 3) spec.path.resize(3);
          const FlowId id = solver.add_flow(spec.path, spec.bound);
          only_removals = false;
          EXPECT_EQ(held.count(id), 0U);
          held[id] = spec;
          added.insert(id);
        } else if (kind < 8) {
          auto victim = held.begin();
          std::advance(victim, std::uniform_int_distribution<std::size_t>(0, held.size() - 1)(rng));
          touched_links.insert(touched_links.end(), victim->second.path.begin(),
                               victim->second.path.end());
          added.erase(victim->first);
          solver.remove_flow(victim->first);
          held.erase(victim);
        } else {
          const LinkId link = static_cast<LinkId>(
              std::uniform_int_distribution<std::size_t>(0, link_count - 1)(rng));
          capacities[link] = random_capacity(rng);
          solver.set_capacity(link, capacities[link]);
          only_removals = false;
          touched_links.push_back(link);
        }
      }
      const std::vector<FlowId> recomputed = sorted(solver.solve());

      std::vector<FlowSpec> specs;
      for (const auto& [id, spec] : held) specs.push_back(spec);
      const std::vector<double> expected = solve_max_min(capacities, specs);
      ASSERT_EQ(solver.active_flows(), held.size());
      std::vector<double> loads(link_count, 0.0);
      std::size_t index = 0;
      for (const auto& [id, spec] : held) {
        EXPECT_TRUE(std::ranges::equal(solver.path(id), spec.path));
        expect_close(solver.rate(id), expected[index]);
        for (const LinkId link : spec.path) loads[link] += expected[index];
        ++index;
      }
      for (std::size_t link = 0; link < link_count; ++link) {
        EXPECT_NEAR(solver.load(static_cast<LinkId>(link)), loads[link],
                    kRelativeTolerance * capacities[link]);
      }

      // Expected recomputed flows: those added in the batch, and those in a component that holds
      // an added flow's link, a removed flow's link or a link whose capacity changed.
      LinkComponents components(link_count);
      for (const auto& [id, spec] : held) {
        for (std::size_t i = 1; i < spec.path.size(); ++i) {
          components.join(spec.path[0], spec.path[i]);
        }
      }
      std::set<std::size_t> touched_roots;
      for (const LinkId link : touched_links) touched_roots.insert(components.root(link));
      for (const FlowId id : added) {
        for (const LinkId link : held[id].path) touched_roots.insert(components.root(link));
      }
      std::vector<FlowId> expected_recomputed;
      for (const auto& [id, spec] : held) {
        const bool touched =
            added.count(id) > 0 ||
            (!spec.path.empty() && touched_roots.count(components.root(spec.path[0])) > 0);
        if (touched) expected_recomputed.push_back(id);
      }
      EXPECT_EQ(solver.last_solve_size(), recomputed.size());
      if (only_removals) {
        // Departures re-solve only the flows at or above the slowest departed flow's level: a
        // subset of the touched components (the rates above show the others kept theirs).
        EXPECT_TRUE(std::includes(expected_recomputed.begin(), expected_recomputed.end(),
                                  recomputed.begin(), recomputed.end()));
        if (recomputed.size() < expected_recomputed.size()) ++narrower_departures;
      } else {
        EXPECT_EQ(recomputed, expected_recomputed);
      }
      if (recomputed.size() < held.size()) ++partial_solves;
    }
  }
  EXPECT_GT(partial_solves, kSequences * kBatches / 4);
  EXPECT_GT(narrower_departures, kSequences * kBatches / 20);
}

}  // namespace
}  // namespace clustersim::fabric
