// The dependency-driven pipeline executor: the bubbles of the DualPipe README / TR Table 2 with
// uniform chunk times and no communication, activation peaks, transfers, pluggable backends, and
// deadlock reports for orders that cannot complete.

#include "sim/parallel/pipeline_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/parallel/pipeline_schedule.hpp"

namespace clustersim::parallel {
namespace {

SimTime ps(std::int64_t value) {
  return SimTime::from_ps(value);
}

// Uniform chunk times, in ps. B is the full backward, B_input + W.
struct ChunkTimes {
  std::int64_t f = 0;
  std::int64_t b_input = 0;
  std::int64_t w = 0;
  std::int64_t f_and_b = 0;  // an overlapped forward and full backward
  [[nodiscard]] std::int64_t b() const { return b_input + w; }
};

// The brief's values: F = 10, B = 20 (B_input 12 + W 8), F&B = 25.
constexpr ChunkTimes kTimes{10, 12, 8, 25};

SlotDuration uniform(ChunkTimes t) {
  return [t](StageRef, const ScheduleSlot& slot) {
    if (slot.overlapped) return ps(t.f_and_b);
    switch (slot.task.pass) {
      case Pass::forward:
        return ps(t.f);
      case Pass::backward:
        return ps(t.b());
      case Pass::backward_input:
        return ps(t.b_input);
      case Pass::backward_weight:
        return ps(t.w);
    }
    return ps(0);
  };
}

PipelineRun run(ScheduleKind kind, int devices, int micro_batches, ChunkTimes t,
                int virtual_stages = 1) {
  return run_pipeline(make_schedule(kind, devices, micro_batches, virtual_stages), uniform(t));
}

std::string label(int pp, int m) {
  return "PP " + std::to_string(pp) + ", " + std::to_string(m) + " micro-batches";
}

// ----- Bubbles: TR Table 2 and the DualPipe README
// ------------------------------------------------

TEST(PipelineBubble, OneFOneBIsPpMinusOneTimesFPlusBOnEveryDevice) {
  for (const int pp : {4, 8, 16}) {
    for (const int m : {1, pp - 1, pp, 2 * pp, 3 * pp + 1}) {
      SCOPED_TRACE(label(pp, m));
      const PipelineRun result = run(ScheduleKind::one_f_one_b, pp, m, kTimes);
      const std::int64_t bubble = (pp - 1) * (kTimes.f + kTimes.b());
      EXPECT_EQ(result.bubble(), ps(bubble));
      for (int d = 0; d < pp; ++d) EXPECT_EQ(result.idle(d), ps(bubble));
      EXPECT_EQ(result.makespan, ps(m * (kTimes.f + kTimes.b()) + bubble));
    }
  }
}

TEST(PipelineBubble, GpipeIsPpMinusOneTimesFPlusBToo) {
  for (const int pp : {4, 8, 16}) {
    for (const int m : {1, pp, 2 * pp + 3}) {
      SCOPED_TRACE(label(pp, m));
      EXPECT_EQ(run(ScheduleKind::gpipe, pp, m, kTimes).bubble(),
                ps((pp - 1) * (kTimes.f + kTimes.b())));
    }
  }
}

TEST(PipelineBubble, Zb1pIsPpMinusOneTimesFPlusBMinusTwoW) {
  for (const ChunkTimes t : {kTimes, ChunkTimes{10, 10, 10, 0}, ChunkTimes{20, 10, 5, 0}}) {
    for (const int pp : {4, 8, 16}) {
      for (const int m : {pp, 2 * pp, 3 * pp + 1}) {
        SCOPED_TRACE(label(pp, m) + ", W " + std::to_string(t.w));
        const PipelineRun result = run(ScheduleKind::zb1p, pp, m, t);
        const std::int64_t bubble = (pp - 1) * (t.f + t.b() - 2 * t.w);
        for (int d = 0; d < pp; ++d) EXPECT_EQ(result.idle(d), ps(bubble));
      }
    }
  }
}

TEST(PipelineBubble, Zb1pNeedsWNoLongerThanFOrBInputAndEnoughMicroBatches) {
  // ZB-H1 hides one W in each gap that a forward or a backward input leaves, so a W longer than
  // either hides only partly: the bubble is (PP - 1)(F + B_input - min(W, F, B_input)), which is
  // (PP - 1)(F + B - 2W) exactly when W <= min(F, B_input).
  for (const ChunkTimes t :
       {ChunkTimes{10, 10, 15, 0}, ChunkTimes{10, 5, 8, 0}, ChunkTimes{10, 20, 15, 0}}) {
    for (const int pp : {4, 8}) {
      SCOPED_TRACE(label(pp, 2 * pp) + ", B_input " + std::to_string(t.b_input) + ", W " +
                   std::to_string(t.w));
      const std::int64_t hidden = std::min({t.w, t.f, t.b_input});
      EXPECT_EQ(run(ScheduleKind::zb1p, pp, 2 * pp, t).bubble(),
                ps((pp - 1) * (t.f + t.b_input - hidden)));
      EXPECT_GT(run(ScheduleKind::zb1p, pp, 2 * pp, t).bubble(),
                ps((pp - 1) * (t.f + t.b() - 2 * t.w)));
    }
  }
  // One micro-batch: no W can fill anything, (PP - 1)(F + B_input) = (PP - 1)(F + B - W).
  EXPECT_EQ(run(ScheduleKind::zb1p, 4, 1, kTimes).bubble(), ps(3 * (kTimes.f + kTimes.b_input)));
}

TEST(PipelineBubble, InterleavedIsPpMinusOneTimesFPlusBOverV) {
  // F and B here are one chunk's, 1/v of a device's stage: (PP - 1)(vF + vB) / v.
  for (const int v : {2, 4}) {
    for (const int pp : {4, 8, 16}) {
      for (const int m : {pp, 2 * pp, 3 * pp}) {
        SCOPED_TRACE(label(pp, m) + ", v " + std::to_string(v));
        const PipelineRun result = run(ScheduleKind::interleaved, pp, m, kTimes, v);
        const std::int64_t bubble = (pp - 1) * (v * kTimes.f + v * kTimes.b()) / v;
        for (int d = 0; d < pp; ++d) EXPECT_EQ(result.idle(d), ps(bubble));
      }
    }
  }
}

// DualPipe's README bubble (PP/2 - 1)(F&B + B - 3W), with PP = pipeline stages.
std::int64_t readme_dualpipe_bubble(int pp, ChunkTimes t) {
  return (pp / 2 - 1) * (t.f_and_b + t.b() - 3 * t.w);
}

// When B_input = B - W equals F (the README's figure draws every chunk one cell wide), the
// largest idle time, that of the middle ranks, is the README's formula for every PP and every
// micro-batch count: the bubble does not grow with the micro-batches (TR §3.2.1).
TEST(PipelineBubble, DualPipeIsTheReadmeFormulaWhenBackwardInputEqualsForward) {
  for (const ChunkTimes t : {ChunkTimes{10, 10, 6, 22}, ChunkTimes{10, 10, 3, 18},
                             ChunkTimes{10, 10, 10, 20}, ChunkTimes{10, 10, 5, 25}}) {
    for (const int pp : {4, 8, 16}) {
      for (const int m : {2 * pp, 2 * pp + 2, 3 * pp, 4 * pp}) {
        SCOPED_TRACE(label(pp, m) + ", W " + std::to_string(t.w) + ", F&B " +
                     std::to_string(t.f_and_b));
        const PipelineRun dual = run(ScheduleKind::dualpipe, pp, m, t);
        EXPECT_EQ(dual.bubble(), ps(readme_dualpipe_bubble(pp, t)));
        EXPECT_EQ(dual.idle(pp / 2 - 1), dual.bubble());  // a middle rank
        EXPECT_EQ(dual.idle(pp / 2), dual.bubble());
        // DualPipeV is DualPipe cut in half: PP / 2 devices, the same bubble.
        const PipelineRun v = run(ScheduleKind::dualpipev, pp / 2, m / 2 + pp / 2, t);
        EXPECT_EQ(v.bubble(), ps(readme_dualpipe_bubble(pp, t)));
        EXPECT_EQ(v.idle(pp / 2 - 1), v.bubble());  // the turn of the V
      }
    }
  }
}

// In general the middle rank's idle time is
//   (H - 1) F                          at the start: micro-batch 0 crosses H - 1 ranks to reach
//                                      it (H = PP / 2);
//   + (H - 1)(F&B - 2W)                in the cool-down (nB1B0 and nW), independent of B_input;
//   + max(0, (H - 1)(B_input - F) - F) before its first backward: every rank runs 2H forwards
//                                      (the middle one 2H + 1) before its first backward, which
//                                      is enough only while a gradient crosses a rank
//                                      (B_input) no slower than a forward (F) plus slack.
// The README writes (H - 1)(F&B + B - 3W) = (H - 1)(F&B + B_input - 2W): the same when
// B_input = F. The brief's F = 10, B_input = 12 differ, so the README's figure is off by
// (H - 1)(F - B_input) plus the late-backward wait, which appears from PP = 16. The closed form
// is checked for the chunk times below (W <= F, max(F, B) <= F&B <= F + B), not claimed beyond.
std::int64_t simulated_dualpipe_bubble(int pp, ChunkTimes t) {
  const std::int64_t h = pp / 2;
  return (h - 1) * (t.f_and_b + t.f - 2 * t.w) +
         std::max<std::int64_t>(0, (h - 1) * (t.b_input - t.f) - t.f);
}

TEST(PipelineBubble, DualPipeDiffersFromTheReadmeWhenBackwardInputIsNotForward) {
  struct Expected {
    int pp;
    std::int64_t simulated;
    std::int64_t readme;
  };
  // F = 10, B_input = 12, W = 8, F&B = 25.
  for (const Expected e : {Expected{4, 19, 21}, Expected{8, 57, 63}, Expected{16, 137, 147}}) {
    SCOPED_TRACE(label(e.pp, 3 * e.pp));
    EXPECT_EQ(readme_dualpipe_bubble(e.pp, kTimes), e.readme);
    EXPECT_EQ(simulated_dualpipe_bubble(e.pp, kTimes), e.simulated);
    const PipelineRun dual = run(ScheduleKind::dualpipe, e.pp, 3 * e.pp, kTimes);
    EXPECT_EQ(dual.bubble(), ps(e.simulated));
    EXPECT_EQ(run(ScheduleKind::dualpipev, e.pp / 2, 2 * e.pp, kTimes).bubble(), ps(e.simulated));
    // The start of the explanation: the middle rank's first slot starts after H - 1 forwards.
    EXPECT_EQ(dual.slots[static_cast<std::size_t>(e.pp / 2 - 1)][0].start,
              ps((e.pp / 2 - 1) * kTimes.f));
  }
  // B_input shorter than F: the README's figure is short by (H - 1)(F - B_input).
  const ChunkTimes slow_forward{12, 10, 8, 25};
  for (const int pp : {4, 8, 16}) {
    SCOPED_TRACE(label(pp, 2 * pp));
    const std::int64_t expected =
        readme_dualpipe_bubble(pp, slow_forward) + (pp / 2 - 1) * (slow_forward.f - 10);
    EXPECT_EQ(simulated_dualpipe_bubble(pp, slow_forward), expected);
    EXPECT_EQ(run(ScheduleKind::dualpipe, pp, 2 * pp, slow_forward).bubble(), ps(expected));
  }
  // A much slower backward input (B_input = 2F): the late first backward dominates.
  const ChunkTimes slow_backward{10, 20, 10, 35};
  for (const int pp : {4, 8, 16}) {
    SCOPED_TRACE(label(pp, 2 * pp));
    EXPECT_EQ(run(ScheduleKind::dualpipe, pp, 2 * pp, slow_backward).bubble(),
              ps(simulated_dualpipe_bubble(pp, slow_backward)));
  }
}

// ----- Activations and parameters ----------------------------------------------------------------

TEST(PipelineActivations, OneFOneBAndZb1pHoldPpMinusDMicroBatches) {
  for (const ScheduleKind kind : {ScheduleKind::one_f_one_b, ScheduleKind::zb1p}) {
    for (const int pp : {4, 8, 16}) {
      const PipelineRun result = run(kind, pp, 2 * pp, kTimes);
      for (int d = 0; d < pp; ++d) {
        EXPECT_EQ(result.peak_activations[static_cast<std::size_t>(d)], pp - d)
            << config::to_string(kind) << " PP " << pp << " device " << d;
      }
    }
  }
}

TEST(PipelineActivations, CombinedOneFOneBHoldsOneMoreChunk) {
  // Megatron-Core's combined 1F1B warms up with one more forward chunk: two micro-batches without
  // pipeline parallelism, interleaved's device 0 one chunk more. Every combination runs to the
  // end.
  const PipelineRun alone = run_pipeline(
      combine_forward_backward(make_schedule(ScheduleKind::one_f_one_b, 1, 5)), uniform(kTimes));
  EXPECT_EQ(alone.peak_activations[0], 2);
  for (const int v : {2, 3}) {
    for (const int pp : {2, 4, 8}) {
      SCOPED_TRACE(label(pp, 2 * pp));
      const PipelineRun result = run_pipeline(
          combine_forward_backward(make_schedule(ScheduleKind::interleaved, pp, 2 * pp, v)),
          uniform(kTimes));
      EXPECT_EQ(result.peak_activations[0], 2 * (pp - 1) + (v - 1) * pp + 2);
    }
  }
}

TEST(PipelineBubble, CombinedInterleavedGainsWhatTheOverlappedSlotSaves) {
  // F&B (25) shorter than F + B (30): the combined schedule ends sooner; as long as F + B, at the
  // same time as the plain one (its extra warm-up forward never waits).
  for (const int pp : {4, 8}) {
    SCOPED_TRACE(label(pp, 4 * pp));
    const PipelineSchedule plain = make_schedule(ScheduleKind::interleaved, pp, 4 * pp, 2);
    const PipelineSchedule combined = combine_forward_backward(plain);
    EXPECT_LT(run_pipeline(combined, uniform(kTimes)).makespan,
              run_pipeline(plain, uniform(kTimes)).makespan);
    ChunkTimes serial = kTimes;
    serial.f_and_b = serial.f + serial.b();
    EXPECT_EQ(run_pipeline(combined, uniform(serial)).makespan,
              run_pipeline(plain, uniform(serial)).makespan);
  }
}

TEST(PipelineActivations, GpipeHoldsEveryMicroBatch) {
  const PipelineRun result = run(ScheduleKind::gpipe, 4, 9, kTimes);
  for (const int peak : result.peak_activations) EXPECT_EQ(peak, 9);
}

TEST(PipelineActivations, InterleavedDeviceZeroHoldsItsWarmUpPlusOneChunks) {
  // 2 (PP - 1) + (v - 1) PP + 1 chunks (each 1/v of a stage) when M > PP.
  for (const int v : {2, 3}) {
    for (const int pp : {4, 8}) {
      const PipelineRun result = run(ScheduleKind::interleaved, pp, 2 * pp, kTimes, v);
      EXPECT_EQ(result.peak_activations[0], 2 * (pp - 1) + (v - 1) * pp + 1);
    }
  }
}

TEST(PipelineActivations, DualPipeAndDualPipeVHoldPpPlusOneOnEveryDevice) {
  for (const int pp : {4, 8, 16}) {
    for (const int m : {2 * pp, 4 * pp}) {
      SCOPED_TRACE(label(pp, m));
      const PipelineSchedule dual = make_schedule(ScheduleKind::dualpipe, pp, m);
      EXPECT_EQ(dual.parameter_multiple(), 2.0);
      for (const int peak : run_pipeline(dual, uniform(kTimes)).peak_activations) {
        EXPECT_EQ(peak, pp + 1);
      }
      // DualPipeV: PP / 2 devices of two stages; the unit is one of its PP stages.
      const PipelineSchedule v = make_schedule(ScheduleKind::dualpipev, pp / 2, m);
      EXPECT_EQ(v.parameter_multiple(), 2.0);
      for (const int peak : run_pipeline(v, uniform(kTimes)).peak_activations) {
        EXPECT_EQ(peak, pp + 1);
      }
    }
  }
}

TEST(PipelineParameters, OneFOneBAndZb1pHoldOneCopyDualPipesTwo) {
  EXPECT_EQ(make_schedule(ScheduleKind::one_f_one_b, 8, 16).parameter_multiple(), 1.0);
  EXPECT_EQ(make_schedule(ScheduleKind::zb1p, 8, 16).parameter_multiple(), 1.0);
  EXPECT_EQ(make_schedule(ScheduleKind::dualpipe, 8, 16).parameter_multiple(), 2.0);
  EXPECT_EQ(make_schedule(ScheduleKind::dualpipev, 4, 16).parameter_multiple(), 2.0);
}

// ----- Trace, transfers and backends -------------------------------------------------------------

TEST(PipelineRunner, TraceRunsEachDevicesSlotsInOrderWithoutOverlap) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipe, 8, 20);
  const PipelineRun result = run_pipeline(schedule, uniform(kTimes));
  SimTime last_end;
  for (std::size_t d = 0; d < result.slots.size(); ++d) {
    ASSERT_EQ(result.slots[d].size(), schedule.order[d].size());
    SimTime previous_end = SimTime::zero();
    SimTime busy = SimTime::zero();
    for (const SlotTiming& timing : result.slots[d]) {
      EXPECT_GE(timing.start, previous_end);
      EXPECT_GE(timing.end, timing.start);
      busy = busy + (timing.end - timing.start);
      previous_end = timing.end;
    }
    EXPECT_EQ(busy, result.busy[d]);
    last_end = std::max(last_end, previous_end);
  }
  EXPECT_EQ(result.makespan, last_end);
}

TEST(PipelineRunner, OneFOneBStartsDeviceDAfterDForwards) {
  const PipelineRun result = run(ScheduleKind::one_f_one_b, 4, 8, kTimes);
  for (std::size_t d = 0; d < 4; ++d) {
    EXPECT_EQ(result.slots[d][0].start, ps(static_cast<std::int64_t>(d) * kTimes.f));
  }
}

TEST(PipelineRunner, TransfersDelayTheConsumer) {
  // Two stages, one micro-batch: F, transfer, F, B, transfer, B.
  const PipelineSchedule schedule = make_schedule(ScheduleKind::one_f_one_b, 2, 1);
  const TransferTime hop = [](StageRef, StageRef, const PipelineTask&) { return ps(7); };
  const PipelineRun result = run_pipeline(schedule, uniform(kTimes), hop);
  EXPECT_EQ(result.makespan, ps(2 * kTimes.f + 2 * kTimes.b() + 2 * 7));
}

TEST(PipelineRunner, StagesOnTheSameDeviceHandOverWithoutATransfer) {
  // DualPipeV on one device: both stages on device 0, nothing crosses devices.
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipev, 1, 4);
  const TransferTime slow = [](StageRef, StageRef, const PipelineTask&) { return ps(1000); };
  EXPECT_EQ(run_pipeline(schedule, uniform(kTimes), slow).makespan,
            run_pipeline(schedule, uniform(kTimes)).makespan);
}

// Delegates to TimedBackend and counts the calls.
class CountingBackend final : public PipelineBackend {
 public:
  explicit CountingBackend(Engine& engine) : timed_(engine, uniform(kTimes)) {}
  void run_slot(StageRef stage, const ScheduleSlot& slot, Done done) override {
    ++slots;
    timed_.run_slot(stage, slot, std::move(done));
  }
  void transfer(StageRef from, StageRef to, const PipelineTask& task, Done arrived) override {
    EXPECT_NE(from.device, to.device);
    ++transfers;
    timed_.transfer(from, to, task, std::move(arrived));
  }
  int slots = 0;
  int transfers = 0;

 private:
  TimedBackend timed_;
};

TEST(PipelineRunner, CallsTheBackendOncePerSlotAndPerCrossDeviceHop) {
  struct Expected {
    ScheduleKind kind;
    int devices;
    int micro_batches;
    int transfers;
  };
  // 1F1B: 3 hops each way per micro-batch. DualPipeV on 2 devices: the path 0 -> 1 -> 1 -> 0
  // crosses devices twice each way.
  for (const Expected e : {Expected{ScheduleKind::one_f_one_b, 4, 8, 3 * 2 * 8},
                           Expected{ScheduleKind::dualpipev, 2, 4, 2 * 2 * 4}}) {
    Engine engine;
    CountingBackend backend(engine);
    const PipelineSchedule schedule = make_schedule(e.kind, e.devices, e.micro_batches);
    PipelineRunner runner(engine, schedule, backend);
    runner.start();
    engine.run();
    ASSERT_TRUE(runner.finished());
    std::size_t slots = 0;
    for (const std::vector<ScheduleSlot>& order : schedule.order) slots += order.size();
    EXPECT_EQ(static_cast<std::size_t>(backend.slots), slots);
    EXPECT_EQ(backend.transfers, e.transfers);
    EXPECT_EQ(runner.result().makespan, run_pipeline(schedule, uniform(kTimes)).makespan);
  }
}

// Finishes every slot and transfer from inside the call: zero time, no engine events.
class ImmediateBackend final : public PipelineBackend {
 public:
  void run_slot(StageRef, const ScheduleSlot&, Done done) override { done(); }
  void transfer(StageRef, StageRef, const PipelineTask&, Done arrived) override { arrived(); }
};

TEST(PipelineRunner, AcceptsABackendThatCallsBackFromInsideTheCall) {
  Engine engine;
  ImmediateBackend backend;
  PipelineRunner runner(engine, make_schedule(ScheduleKind::dualpipe, 8, 32), backend);
  runner.start();
  EXPECT_TRUE(runner.finished());  // everything ran inside start()
  engine.run();
  EXPECT_EQ(runner.result().makespan, SimTime::zero());
}

TEST(PipelineRunner, StartsAtTheEnginesCurrentTime) {
  Engine engine;
  TimedBackend backend(engine, uniform(kTimes));
  PipelineRunner runner(engine, make_schedule(ScheduleKind::one_f_one_b, 4, 4), backend);
  engine.schedule_at(ps(1000), [&runner] { runner.start(); });
  EXPECT_THROW((void)runner.result(), std::logic_error);
  engine.run();
  const PipelineRun result = runner.result();
  EXPECT_EQ(result.start, ps(1000));
  EXPECT_EQ(result.slots[0][0].start, ps(1000));
  EXPECT_EQ(result.makespan, ps(4 * 30 + 3 * 30));
}

TEST(PipelineRunner, RejectsNegativeDurations) {
  const SlotDuration negative = [](StageRef, const ScheduleSlot&) { return ps(-1); };
  try {
    (void)run_pipeline(make_schedule(ScheduleKind::gpipe, 2, 2), negative);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& error) {
    EXPECT_STREQ(error.what(), "the duration of F mb 0 on device 0 chunk 0 is negative (-1 ps)");
  }
}

// ----- Deadlocks ---------------------------------------------------------------------------------

TEST(PipelineRunner, ReportsTheStuckTasksOfAnOrderThatCannotComplete) {
  // Device 0 wants the gradient of micro-batch 0 before it sends micro-batch 1 forward; device 1
  // wants micro-batch 1 forward before it runs micro-batch 0 at all.
  PipelineSchedule schedule = make_schedule(ScheduleKind::one_f_one_b, 2, 2);
  const auto slot = [](Pass pass, int m) { return ScheduleSlot{{pass, m, 0}, std::nullopt}; };
  schedule.order[0] = {slot(Pass::forward, 0), slot(Pass::backward, 0), slot(Pass::forward, 1),
                       slot(Pass::backward, 1)};
  schedule.order[1] = {slot(Pass::forward, 1), slot(Pass::forward, 0), slot(Pass::backward, 0),
                       slot(Pass::backward, 1)};
  try {
    (void)run_pipeline(schedule, uniform(kTimes));
    FAIL() << "no exception";
  } catch (const DeadlockError& error) {
    EXPECT_EQ(error.time(), ps(kTimes.f));
    const std::vector<std::string> expected{
        "device 1 waits to start slot 0, F mb 1 on device 1 chunk 0: needs the activations from "
        "device 0 chunk 0",
        "device 0 waits to start slot 1, B mb 0 on device 0 chunk 0: needs the input gradient "
        "from device 1 chunk 0"};
    EXPECT_EQ(error.waiting(), expected);
  }
}

TEST(PipelineRunner, ReportsASplitBackwardWaitingForItsWeightOrder) {
  // W before its own B_input on the same device can never run.
  PipelineSchedule schedule = make_schedule(ScheduleKind::zb1p, 1, 1);
  ASSERT_EQ(schedule.order[0].size(), 3u);
  std::swap(schedule.order[0][1], schedule.order[0][2]);
  try {
    (void)run_pipeline(schedule, uniform(kTimes));
    FAIL() << "no exception";
  } catch (const DeadlockError& error) {
    ASSERT_EQ(error.waiting().size(), 1u);
    EXPECT_EQ(error.waiting()[0],
              "device 0 waits to start slot 1, W mb 0 on device 0 chunk 0: needs B_input mb 0 "
              "on device 0 chunk 0");
  }
}

// Never calls back.
class StuckBackend final : public PipelineBackend {
 public:
  void run_slot(StageRef, const ScheduleSlot&, Done) override {}
  void transfer(StageRef, StageRef, const PipelineTask&, Done) override {}
};

TEST(PipelineRunner, ReportsASlotTheBackendNeverFinishes) {
  Engine engine;
  StuckBackend backend;
  PipelineRunner runner(engine, make_schedule(ScheduleKind::one_f_one_b, 2, 1), backend);
  runner.start();
  try {
    engine.run();
    FAIL() << "no exception";
  } catch (const DeadlockError& error) {
    const std::vector<std::string> expected{
        "device 0 runs slot 0, F mb 0 on device 0 chunk 0, started at 0 ps, and it has not "
        "finished",
        "device 1 waits to start slot 0, F mb 0 on device 1 chunk 0: needs the activations from "
        "device 0 chunk 0"};
    EXPECT_EQ(error.waiting(), expected);
  }
  EXPECT_FALSE(runner.finished());
}

TEST(PipelineRunner, ChecksAHandMadeOrderBeforeRunning) {
  PipelineSchedule schedule = make_schedule(ScheduleKind::one_f_one_b, 2, 2);
  schedule.order[1].pop_back();
  Engine engine;
  TimedBackend backend(engine, uniform(kTimes));
  EXPECT_THROW(PipelineRunner(engine, schedule, backend), ScheduleError);
}

}  // namespace
}  // namespace clustersim::parallel
