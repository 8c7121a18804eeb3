// The flow model's queue of completion times (a sorted run plus an indexed heap) against an
// ordered set.

#include "sim/fabric/completion_queue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

namespace clustersim::fabric {
namespace {

TEST(CompletionQueue, TiesGoToTheLowerFlowAndAMovedEntryKeepsNoCopy) {
  CompletionQueue queue;
  queue.set(7, 100);
  queue.set(3, 100);
  queue.set(5, 50);
  EXPECT_EQ(queue.size(), 3U);
  EXPECT_EQ(queue.top().flow, 5U);
  queue.set(5, 200);  // re-rated: later now
  EXPECT_EQ(queue.size(), 3U);
  EXPECT_EQ(queue.top().flow, 3U);  // 100, the lower of 3 and 7
  queue.pop();
  EXPECT_EQ(queue.top().flow, 7U);
  queue.erase(7);
  EXPECT_FALSE(queue.contains(7));
  EXPECT_EQ(queue.top().flow, 5U);
  EXPECT_EQ(queue.top().time_ps, 200);
  queue.erase(7);  // absent: nothing happens
  queue.pop();
  EXPECT_TRUE(queue.empty());
}

// Sorted into the run (a threshold of 1), entries leave it when moved one by one: the moved
// entry goes to the heap, its copy in the run is dead, and the run's front passes it.
TEST(CompletionQueue, AnEntryMovedOutOfTheRunLeavesNoCopyThere) {
  CompletionQueue queue(1);
  for (std::uint32_t flow = 0; flow < 6; ++flow) queue.set_unordered(flow, 10 * (6 - flow));
  queue.rebuild();  // run: 5@10 4@20 3@30 2@40 1@50 0@60
  EXPECT_EQ(queue.size(), 6U);
  queue.set(5, 45);  // the run's front, moved later
  queue.erase(3);
  EXPECT_EQ(queue.size(), 5U);
  EXPECT_FALSE(queue.contains(3));
  const std::pair<std::uint32_t, std::int64_t> expected[] = {
      {4, 20}, {2, 40}, {5, 45}, {1, 50}, {0, 60}};
  for (const auto& [flow, time] : expected) {
    ASSERT_FALSE(queue.empty());
    EXPECT_EQ(queue.top().flow, flow);
    EXPECT_EQ(queue.top().time_ps, time);
    queue.pop();
  }
  EXPECT_TRUE(queue.empty());
  // A popped flow's id may come back: nothing of its old entry is left.
  queue.set(4, 5);
  EXPECT_EQ(queue.size(), 1U);
  EXPECT_EQ(queue.top().flow, 4U);
}

// Random ordered inserts, moves, erases and pops, and now and then a batch of unordered changes
// followed by rebuild(): the queue pops what an ordered set that does the same pops. Run with
// thresholds that keep it a heap, that sort nearly every batch into the run, and in between.
void agrees_with_an_ordered_set(std::size_t run_at_least, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  CompletionQueue queue(run_at_least);
  std::set<std::pair<std::int64_t, std::uint32_t>> reference;
  std::map<std::uint32_t, std::int64_t> time_of;
  const auto forget = [&](std::uint32_t flow) {
    if (const auto it = time_of.find(flow); it != time_of.end()) {
      reference.erase({it->second, flow});
      time_of.erase(it);
    }
  };
  const auto remember = [&](std::uint32_t flow, std::int64_t time) {
    reference.insert({time, flow});
    time_of[flow] = time;
  };
  for (int step = 0; step < 20000; ++step) {
    const auto flow = static_cast<std::uint32_t>(rng() % 300);
    const auto time = static_cast<std::int64_t>(rng() % 1000);
    switch (rng() % 9) {
      case 0:
      case 1:
      case 2:
        forget(flow);
        queue.set(flow, time);
        remember(flow, time);
        break;
      case 3:
        forget(flow);
        queue.erase(flow);
        break;
      case 4: {  // a large re-solve: many changes unordered, then one rebuild
        for (int change = static_cast<int>(rng() % 200); change > 0; --change) {
          const auto moved = static_cast<std::uint32_t>(rng() % 300);
          forget(moved);
          if (rng() % 5 == 0) {
            queue.erase_unordered(moved);
          } else {
            const auto at = static_cast<std::int64_t>(rng() % 1000);
            queue.set_unordered(moved, at);
            remember(moved, at);
          }
        }
        queue.rebuild();
        break;
      }
      default:
        if (!reference.empty()) {
          const auto [least_time, least_flow] = *reference.begin();
          ASSERT_EQ(queue.top().flow, least_flow) << step;
          ASSERT_EQ(queue.top().time_ps, least_time) << step;
          queue.pop();
          forget(least_flow);
        }
    }
    ASSERT_EQ(queue.size(), reference.size()) << step;
    ASSERT_EQ(queue.empty(), reference.empty()) << step;
    ASSERT_EQ(queue.contains(flow), time_of.contains(flow)) << step;
    if (!reference.empty()) {
      ASSERT_EQ(queue.top().flow, reference.begin()->second) << step;
      ASSERT_EQ(queue.top().time_ps, reference.begin()->first) << step;
    }
  }
}

// The radix sort of a large re-solve's completions orders as a comparison sort does: times
// spread wide and narrow, all equal, and far from zero; ids dense and sparse; entries given in
// ascending flow order (as a whole component's re-solve gives them, when the sort skips its
// passes over the ids) or not (the cases with ties in time fail if it skips them wrongly).
TEST(CompletionQueue, RadixSortOrdersAsAComparisonSort) {
  std::mt19937_64 rng(3);
  struct Case {
    std::size_t count;
    std::int64_t earliest, span;
    std::uint32_t ids;
    bool by_flow = false;  // given in ascending flow order
  };
  const Case cases[] = {{kRadixSortAtLeast, 0, 1'000'000, 5000},
                        {50'000, 7'000'000'000'000, 30'000'000, 60'000},
                        {50'000, 123, 0, 4'000'000'000U},  // one instant: ids alone order
                        {20'000, 0, std::int64_t{1} << 62, 1U << 31},
                        {kRadixSortAtLeast - 1, 5, 10, 100'000},
                        {50'000, 1'000, 40, 60'000, true},  // many ties in time
                        {50'000, 1'000, 40, 60'000, false},
                        {30'000, 0, 1'000'000'000, 1U << 31, true}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << c.count << (c.by_flow ? " by flow" : ""));
    std::vector<Completion> entries, buffer;
    std::set<std::uint32_t> used;
    while (entries.size() < c.count) {
      const auto flow = static_cast<std::uint32_t>(rng() % c.ids);
      if (!used.insert(flow).second) continue;
      const auto offset =
          c.span == 0 ? 0 : static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(c.span));
      entries.push_back(Completion{c.earliest + offset, flow});
    }
    if (c.by_flow) {
      std::sort(entries.begin(), entries.end(),
                [](const Completion& x, const Completion& y) { return x.flow < y.flow; });
    }
    std::vector<Completion> expected = entries;
    std::sort(expected.begin(), expected.end(), CompletionBefore{});
    sort_completions(entries, buffer);
    ASSERT_EQ(entries.size(), expected.size());
    for (std::size_t i = 0; i < entries.size(); ++i) {
      ASSERT_EQ(entries[i].time_ps, expected[i].time_ps) << i;
      ASSERT_EQ(entries[i].flow, expected[i].flow) << i;
    }
  }
}

TEST(CompletionQueue, AgreesWithAnOrderedSetAsAHeap) {
  agrees_with_an_ordered_set(CompletionQueue::kRunAtLeast, 42);
}

TEST(CompletionQueue, AgreesWithAnOrderedSetWithARun) {
  agrees_with_an_ordered_set(1, 7);
}

TEST(CompletionQueue, AgreesWithAnOrderedSetSwitchingBetweenTheTwo) {
  agrees_with_an_ordered_set(150, 11);
}

}  // namespace
}  // namespace clustersim::fabric
