// The flow model's indexed heap of completion times against an ordered set.

#include "sim/fabric/completion_heap.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <utility>

namespace clustersim::fabric {
namespace {

TEST(CompletionHeap, TiesGoToTheLowerFlowAndAMovedEntryKeepsNoCopy) {
  CompletionHeap heap;
  heap.set(7, 100);
  heap.set(3, 100);
  heap.set(5, 50);
  EXPECT_EQ(heap.size(), 3U);
  EXPECT_EQ(heap.top().flow, 5U);
  heap.set(5, 200);  // re-rated: later now
  EXPECT_EQ(heap.size(), 3U);
  EXPECT_EQ(heap.top().flow, 3U);  // 100, the lower of 3 and 7
  heap.pop();
  EXPECT_EQ(heap.top().flow, 7U);
  heap.erase(7);
  EXPECT_FALSE(heap.contains(7));
  EXPECT_EQ(heap.top().flow, 5U);
  EXPECT_EQ(heap.top().time_ps, 200);
  heap.erase(7);  // absent: nothing happens
  heap.pop();
  EXPECT_TRUE(heap.empty());
}

// Random inserts, moves (earlier and later), erases and pops: the heap's top is always the
// least (time, flow) of an ordered set that does the same.
TEST(CompletionHeap, AgreesWithAnOrderedSetUnderRandomChanges) {
  std::mt19937_64 rng(42);
  CompletionHeap heap;
  std::set<std::pair<std::int64_t, std::uint32_t>> reference;
  std::map<std::uint32_t, std::int64_t> time_of;
  for (int step = 0; step < 20000; ++step) {
    const auto flow = static_cast<std::uint32_t>(rng() % 300);
    const auto time = static_cast<std::int64_t>(rng() % 1000);
    switch (rng() % 4) {
      case 0:
      case 1:
        if (const auto it = time_of.find(flow); it != time_of.end()) {
          reference.erase({it->second, flow});
        }
        heap.set(flow, time);
        reference.insert({time, flow});
        time_of[flow] = time;
        break;
      case 2:
        if (const auto it = time_of.find(flow); it != time_of.end()) {
          reference.erase({it->second, flow});
          time_of.erase(it);
        }
        heap.erase(flow);
        break;
      default:
        if (!reference.empty()) {
          const auto [least_time, least_flow] = *reference.begin();
          ASSERT_EQ(heap.top().flow, least_flow);
          ASSERT_EQ(heap.top().time_ps, least_time);
          heap.pop();
          reference.erase(reference.begin());
          time_of.erase(least_flow);
        }
    }
    ASSERT_EQ(heap.size(), reference.size());
    ASSERT_EQ(heap.contains(flow), time_of.contains(flow));
    if (!reference.empty()) {
      ASSERT_EQ(heap.top().flow, reference.begin()->second) << step;
      ASSERT_EQ(heap.top().time_ps, reference.begin()->first) << step;
    }
  }
}

}  // namespace
// A large re-solve moves many completions unordered and rebuilds the heap once: batches of
// unordered sets and erases, each followed by heapify(), leave the same pops as an ordered set.
TEST(CompletionHeap, UnorderedChangesAndARebuildGiveTheSamePops) {
  std::mt19937_64 rng(7);
  CompletionHeap heap;
  std::set<std::pair<std::int64_t, std::uint32_t>> reference;
  std::map<std::uint32_t, std::int64_t> time_of;
  for (int batch = 0; batch < 200; ++batch) {
    const int changes = static_cast<int>(rng() % 200);
    for (int change = 0; change < changes; ++change) {
      const auto flow = static_cast<std::uint32_t>(rng() % 500);
      if (const auto it = time_of.find(flow); it != time_of.end()) {
        reference.erase({it->second, flow});
        time_of.erase(it);
      }
      if (rng() % 5 == 0) {
        heap.erase_unordered(flow);
        continue;
      }
      const auto time = static_cast<std::int64_t>(rng() % 1000);
      heap.set_unordered(flow, time);
      reference.insert({time, flow});
      time_of[flow] = time;
    }
    heap.heapify();
    ASSERT_EQ(heap.size(), reference.size());
    for (int pop = static_cast<int>(rng() % 50); pop > 0 && !reference.empty(); --pop) {
      const auto [least_time, least_flow] = *reference.begin();
      ASSERT_EQ(heap.top().flow, least_flow) << batch;
      ASSERT_EQ(heap.top().time_ps, least_time) << batch;
      heap.pop();
      reference.erase(reference.begin());
      time_of.erase(least_flow);
    }
  }
}

}  // namespace clustersim::fabric
