// Speed of the engine core: the event queue in steady state (the "hold" model: each step pops the
// earliest event and schedules one at a random later time, so the queue keeps N pending events),
// the same with half the scheduled events cancelled, and Engine::run on chains of events that
// each schedule the next. One item is one event delivered: one schedule and one pop.

#include <cstdint>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "sim/core/engine.hpp"
#include "sim/core/event_queue.hpp"

namespace {

using clustersim::Engine;
using clustersim::EventQueue;
using clustersim::SimTime;

// splitmix64: a fast, seeded stream, so that the random times cost little next to the queue.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // A delay in [0, 2^20) ps, about 1 us.
  SimTime delay() { return SimTime::from_ps(static_cast<std::int64_t>(next() >> 44)); }

 private:
  std::uint64_t state_;
};

// A queue in the steady state of the hold model. Filling it and letting it turn over once (the
// warm-up) is not timed and is done once per configuration, then reused by every run the
// framework makes: otherwise the runs would time the queue's growth to its working set (page
// faults, vector reallocation) rather than its steady state.
class HoldQueue {
 public:
  HoldQueue(std::int64_t pending, bool cancel_half)
      : pending_(pending), cancel_half_(cancel_half), random_(1) {
    for (std::int64_t i = 0; i < pending; ++i) {
      queue_.schedule(random_.delay(), [counter = &fired_] { ++*counter; });
    }
    for (std::int64_t i = 0; i < 2 * pending; ++i) step();
  }

  // One delivered event: pop the earliest, run it, schedule its successor at a random later
  // time. With `cancel_half`, also schedule a second event and cancel it at once, so half of
  // all scheduled events are cancelled and dropped lazily when they reach the top.
  void step() {
    auto event = queue_.pop();
    event->callback();
    queue_.schedule(event->time + random_.delay(), [counter = &fired_] { ++*counter; });
    if (cancel_half_) {
      queue_.cancel(
          queue_.schedule(event->time + random_.delay(), [counter = &fired_] { ++*counter; }));
    }
  }

  [[nodiscard]] bool matches(std::int64_t pending, bool cancel_half) const {
    return pending == pending_ && cancel_half == cancel_half_;
  }
  [[nodiscard]] std::uint64_t fired() const { return fired_; }

 private:
  std::int64_t pending_;
  bool cancel_half_;
  Random random_;
  std::uint64_t fired_ = 0;
  EventQueue queue_;
};

HoldQueue& hold_queue(std::int64_t pending, bool cancel_half) {
  static std::unique_ptr<HoldQueue> queue;
  if (!queue || !queue->matches(pending, cancel_half)) {
    queue.reset();  // release the previous configuration's memory first
    queue = std::make_unique<HoldQueue>(pending, cancel_half);
  }
  return *queue;
}

void bm_queue_hold(benchmark::State& state) {
  HoldQueue& queue = hold_queue(state.range(0), false);
  for (auto _ : state) queue.step();
  benchmark::DoNotOptimize(queue.fired());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_queue_hold)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// Per item: two schedules, one cancel, one pop.
void bm_queue_hold_half_cancelled(benchmark::State& state) {
  HoldQueue& queue = hold_queue(state.range(0), true);
  for (auto _ : state) queue.step();
  benchmark::DoNotOptimize(queue.fired());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_queue_hold_half_cancelled)->Arg(1'000)->Arg(100'000)->Arg(1'000'000);

// `chains` independent chains of events, 10^6 events in all: each event schedules the next of
// its chain 1 ns later. One chain keeps the queue at one event; 1,000 keep it at 1,000.
struct Chain {
  Engine* engine;
  std::int64_t remaining;
  void fire() {
    if (--remaining > 0) engine->schedule_after(SimTime::from_ps(1'000), [this] { fire(); });
  }
};

void bm_engine_chain(benchmark::State& state) {
  constexpr std::int64_t kEvents = 1'000'000;
  const std::int64_t chains = state.range(0);
  std::uint64_t events = 0;
  for (auto _ : state) {
    Engine engine;
    std::vector<Chain> all(static_cast<std::size_t>(chains), Chain{&engine, kEvents / chains});
    for (Chain& chain : all) engine.schedule_at(SimTime::zero(), [&chain] { chain.fire(); });
    const auto stats = engine.run();
    events += stats.events;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(events));
}
BENCHMARK(bm_engine_chain)->Arg(1)->Arg(1'000)->Unit(benchmark::kMillisecond);

}  // namespace
