#include "sim/core/event_queue.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace clustersim {
namespace {

SimTime ps(std::int64_t value) {
  return SimTime::from_ps(value);
}

// Pops every pending event, runs its callback, and returns the pop times in order.
std::vector<std::int64_t> drain(EventQueue& queue) {
  std::vector<std::int64_t> times;
  while (auto fired = queue.pop()) {
    times.push_back(fired->time.ps());
    fired->callback();
  }
  return times;
}

TEST(EventQueue, PopsByTimeThenInsertionOrder) {
  EventQueue queue;
  std::vector<std::string> log;
  queue.schedule(ps(30), [&] { log.push_back("c@30"); });
  queue.schedule(ps(10), [&] { log.push_back("a@10"); });
  queue.schedule(ps(20), [&] { log.push_back("b@20"); });
  queue.schedule(ps(10), [&] { log.push_back("d@10"); });
  EXPECT_EQ(drain(queue), (std::vector<std::int64_t>{10, 10, 20, 30}));
  EXPECT_EQ(log, (std::vector<std::string>{"a@10", "d@10", "b@20", "c@30"}));
}

TEST(EventQueue, EqualTimesKeepInsertionOrder) {
  EventQueue queue;
  std::vector<int> order;
  for (int i = 0; i < 100; ++i) queue.schedule(ps(7), [&order, i] { order.push_back(i); });
  std::vector<std::uint64_t> sequences;
  while (auto fired = queue.pop()) {
    EXPECT_EQ(fired->time.ps(), 7);
    sequences.push_back(fired->sequence);
    fired->callback();
  }
  std::vector<int> expected(100);
  for (int i = 0; i < 100; ++i) expected[static_cast<std::size_t>(i)] = i;
  EXPECT_EQ(order, expected);
  for (std::size_t i = 0; i < sequences.size(); ++i) EXPECT_EQ(sequences[i], i);
}

// 10,000 events at random times with many ties: the queue must pop them exactly as a stable sort
// by time orders them (equal times in insertion order).
TEST(EventQueue, MatchesStableSortOnTenThousandRandomEvents) {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::int64_t> time(0, 999);  // ~10 events per time value
  EventQueue queue;
  struct Scheduled {
    std::int64_t time_ps;
    int id;
  };
  std::vector<Scheduled> oracle;
  std::vector<int> popped_ids;
  for (int id = 0; id < 10'000; ++id) {
    const std::int64_t at = time(rng);
    oracle.push_back({at, id});
    queue.schedule(ps(at), [&popped_ids, id] { popped_ids.push_back(id); });
  }
  EXPECT_EQ(queue.size(), 10'000U);
  std::stable_sort(oracle.begin(), oracle.end(),
                   [](const Scheduled& a, const Scheduled& b) { return a.time_ps < b.time_ps; });
  const std::vector<std::int64_t> times = drain(queue);
  ASSERT_EQ(times.size(), oracle.size());
  ASSERT_EQ(popped_ids.size(), oracle.size());
  for (std::size_t i = 0; i < oracle.size(); ++i) {
    ASSERT_EQ(times[i], oracle[i].time_ps) << "at position " << i;
    ASSERT_EQ(popped_ids[i], oracle[i].id) << "at position " << i;
  }
  EXPECT_TRUE(queue.empty());
}

// The same with three quarters of the events cancelled. Once cancelled entries outnumber
// pending ones (here after 15,001 cancels), the queue rebuilds its heap without them; the
// survivors keep their handles and still come out in stable-sort order.
TEST(EventQueue, MatchesStableSortWhenMostEventsAreCancelled) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> time(0, 4'999);
  EventQueue queue;
  struct Scheduled {
    std::int64_t time_ps;
    int id;
    EventHandle handle;
    bool cancelled;
  };
  std::vector<Scheduled> events;
  std::vector<int> popped_ids;
  for (int id = 0; id < 30'000; ++id) {
    const std::int64_t at = time(rng);
    events.push_back(
        {at, id, queue.schedule(ps(at), [&popped_ids, id] { popped_ids.push_back(id); }), false});
  }
  std::size_t cancelled = 0;
  for (Scheduled& event : events) {
    if (rng() % 4 != 0) {
      ASSERT_TRUE(queue.cancel(event.handle));
      event.cancelled = true;
      ++cancelled;
    }
  }
  ASSERT_GT(cancelled, 15'001U);
  EXPECT_EQ(queue.size(), events.size() - cancelled);
  std::vector<Scheduled> oracle;
  for (const Scheduled& event : events) {
    EXPECT_EQ(queue.is_pending(event.handle), !event.cancelled);
    if (!event.cancelled) oracle.push_back(event);
  }
  std::stable_sort(oracle.begin(), oracle.end(),
                   [](const Scheduled& a, const Scheduled& b) { return a.time_ps < b.time_ps; });
  const std::vector<std::int64_t> times = drain(queue);
  ASSERT_EQ(popped_ids.size(), oracle.size());
  for (std::size_t i = 0; i < oracle.size(); ++i) {
    ASSERT_EQ(times[i], oracle[i].time_ps) << "at position " << i;
    ASSERT_EQ(popped_ids[i], oracle[i].id) << "at position " << i;
  }
  for (const Scheduled& event : events) EXPECT_FALSE(queue.cancel(event.handle));
}

TEST(EventQueue, CancelPendingEventSkipsIt) {
  EventQueue queue;
  std::vector<std::string> log;
  queue.schedule(ps(1), [&] { log.push_back("a"); });
  const EventHandle b = queue.schedule(ps(2), [&] { log.push_back("b"); });
  queue.schedule(ps(3), [&] { log.push_back("c"); });
  EXPECT_TRUE(queue.is_pending(b));
  EXPECT_TRUE(queue.cancel(b));
  EXPECT_FALSE(queue.is_pending(b));
  EXPECT_EQ(queue.size(), 2U);
  EXPECT_EQ(drain(queue), (std::vector<std::int64_t>{1, 3}));
  EXPECT_EQ(log, (std::vector<std::string>{"a", "c"}));
}

TEST(EventQueue, CancelOfFiredEventReturnsFalse) {
  EventQueue queue;
  const EventHandle a = queue.schedule(ps(1), [] {});
  ASSERT_TRUE(queue.pop().has_value());
  EXPECT_FALSE(queue.is_pending(a));
  EXPECT_FALSE(queue.cancel(a));
  EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, SecondCancelReturnsFalse) {
  EventQueue queue;
  const EventHandle a = queue.schedule(ps(1), [] {});
  EXPECT_TRUE(queue.cancel(a));
  EXPECT_FALSE(queue.cancel(a));
  EXPECT_EQ(queue.size(), 0U);
  EXPECT_FALSE(queue.pop().has_value());
}

TEST(EventQueue, DefaultHandleIsNeverPending) {
  EventQueue queue;
  EXPECT_FALSE(queue.cancel(EventHandle{}));
  EXPECT_FALSE(queue.is_pending(EventHandle{}));
  queue.schedule(ps(1), [] {});  // slot 0 in use: a default handle still names nothing
  EXPECT_FALSE(queue.cancel(EventHandle{}));
  EXPECT_FALSE(queue.is_pending(EventHandle{}));
  EXPECT_EQ(queue.size(), 1U);
}

TEST(EventQueue, HandleOfReusedSlotIsStale) {
  EventQueue queue;
  const EventHandle fired = queue.schedule(ps(1), [] {});
  ASSERT_TRUE(queue.pop().has_value());
  const EventHandle reuser = queue.schedule(ps(2), [] {});  // takes the freed slot
  EXPECT_FALSE(queue.is_pending(fired));
  EXPECT_FALSE(queue.cancel(fired));
  EXPECT_TRUE(queue.is_pending(reuser));
  EXPECT_EQ(queue.size(), 1U);
  EXPECT_TRUE(queue.cancel(reuser));
}

TEST(EventQueue, HandleOfCancelledThenReusedSlotIsStale) {
  EventQueue queue;
  const EventHandle cancelled = queue.schedule(ps(1), [] {});
  ASSERT_TRUE(queue.cancel(cancelled));
  EXPECT_FALSE(queue.next_time().has_value());  // drops the entry and frees its slot
  const EventHandle reuser = queue.schedule(ps(2), [] {});
  EXPECT_FALSE(queue.cancel(cancelled));
  EXPECT_TRUE(queue.is_pending(reuser));
  const auto fired = queue.pop();
  ASSERT_TRUE(fired.has_value());
  EXPECT_EQ(fired->time.ps(), 2);
}

TEST(EventQueue, CancelReleasesCapturesImmediately) {
  EventQueue queue;
  auto token = std::make_shared<int>(0);
  const EventHandle handle = queue.schedule(ps(5), [token] {});
  EXPECT_EQ(token.use_count(), 2);
  queue.cancel(handle);
  EXPECT_EQ(token.use_count(), 1);
}

TEST(EventQueue, NextTimeSkipsCancelledTop) {
  EventQueue queue;
  const EventHandle first = queue.schedule(ps(1), [] {});
  const EventHandle second = queue.schedule(ps(2), [] {});
  queue.schedule(ps(3), [] {});
  EXPECT_EQ(queue.next_time(), ps(1));
  queue.cancel(first);
  queue.cancel(second);
  EXPECT_EQ(queue.next_time(), ps(3));
  EXPECT_EQ(queue.size(), 1U);
}

TEST(EventQueue, EmptyQueueHasNoNextTimeAndPopsNothing) {
  EventQueue queue;
  EXPECT_TRUE(queue.empty());
  EXPECT_FALSE(queue.next_time().has_value());
  EXPECT_FALSE(queue.pop().has_value());
}

TEST(EventQueue, CallbackMayScheduleAndCancelAtTheSameTime) {
  EventQueue queue;
  std::vector<std::string> log;
  EventHandle victim;
  EventHandle self;
  self = queue.schedule(ps(10), [&] {
    log.push_back("first");
    // The slot of the running event is already free: its own handle is stale.
    EXPECT_FALSE(queue.is_pending(self));
    EXPECT_FALSE(queue.cancel(self));
    EXPECT_TRUE(queue.cancel(victim));
    queue.schedule(ps(10), [&] { log.push_back("same time, scheduled by first"); });
    queue.schedule(ps(11), [&] { log.push_back("later, scheduled by first"); });
  });
  victim = queue.schedule(ps(10), [&] { log.push_back("victim"); });
  queue.schedule(ps(10), [&] { log.push_back("second"); });
  EXPECT_EQ(drain(queue), (std::vector<std::int64_t>{10, 10, 10, 11}));
  EXPECT_EQ(log, (std::vector<std::string>{"first", "second", "same time, scheduled by first",
                                           "later, scheduled by first"}));
}

TEST(EventQueue, SizeCountsOnlyPendingEvents) {
  EventQueue queue;
  const EventHandle a = queue.schedule(ps(1), [] {});
  queue.schedule(ps(2), [] {});
  queue.schedule(ps(3), [] {});
  EXPECT_EQ(queue.size(), 3U);
  queue.cancel(a);
  EXPECT_EQ(queue.size(), 2U);
  ASSERT_TRUE(queue.pop().has_value());
  EXPECT_EQ(queue.size(), 1U);
  EXPECT_FALSE(queue.empty());
  ASSERT_TRUE(queue.pop().has_value());
  EXPECT_TRUE(queue.empty());
}

TEST(EventQueue, SequenceNumbersCountEverySchedule) {
  EventQueue queue;
  const EventHandle cancelled = queue.schedule(ps(1), [] {});  // sequence 0
  queue.schedule(ps(1), [] {});                                // sequence 1
  queue.cancel(cancelled);
  queue.schedule(ps(0), [] {});  // sequence 2
  const auto first = queue.pop();
  const auto second = queue.pop();
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->sequence, 2U);
  EXPECT_EQ(second->sequence, 1U);
}

TEST(EventQueue, RejectsEmptyCallback) {
  EventQueue queue;
  try {
    queue.schedule(ps(1), EventQueue::Callback{});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "cannot schedule an empty callback");
  }
  EXPECT_TRUE(queue.empty());
}

}  // namespace
}  // namespace clustersim
