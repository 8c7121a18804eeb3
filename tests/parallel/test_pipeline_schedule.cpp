// Pipeline schedules as data: every task exactly once where its stage lives, the stage layouts
// of each kind, DualPipe's step structure derived by hand from the reference, and the exact
// messages for bad parameters and malformed hand-made orders.

#include "sim/parallel/pipeline_schedule.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace clustersim::parallel {
namespace {

// Compact names for pinning orders: "F3", "B5", "Bi2", "W2", a chunk suffix "c1", an
// overlapped pair "F3c0&B5c1".
std::string short_name(const PipelineTask& task) {
  const char* pass = task.pass == Pass::forward          ? "F"
                     : task.pass == Pass::backward       ? "B"
                     : task.pass == Pass::backward_input ? "Bi"
                                                         : "W";
  std::string name(pass);
  name += std::to_string(task.micro_batch);
  name += 'c';
  name += std::to_string(task.chunk);
  return name;
}

std::string order_string(const std::vector<ScheduleSlot>& order) {
  std::string text;
  for (const ScheduleSlot& slot : order) {
    if (!text.empty()) text += ' ';
    text += short_name(slot.task);
    if (slot.overlapped) {
      text += '&';
      text += short_name(*slot.overlapped);
    }
  }
  return text;
}

// An independent count of the passes run at every (micro-batch, model stage), checking that each
// task runs on the device and chunk that forward_path gives for its stage.
void expect_every_task_once(const PipelineSchedule& schedule) {
  // (micro-batch, model stage, pass) -> times seen
  std::map<std::tuple<int, int, Pass>, int> seen;
  for (int d = 0; d < schedule.devices; ++d) {
    for (const ScheduleSlot& slot : schedule.order[static_cast<std::size_t>(d)]) {
      std::vector<PipelineTask> tasks{slot.task};
      if (slot.overlapped) tasks.push_back(*slot.overlapped);
      for (const PipelineTask& task : tasks) {
        const int stage = schedule.model_stage({d, task.chunk});
        const std::vector<StageRef> path = schedule.forward_path(task.micro_batch);
        ASSERT_EQ(path[static_cast<std::size_t>(stage)], (StageRef{d, task.chunk}))
            << describe(task, d);
        ++seen[{task.micro_batch, stage, task.pass}];
      }
    }
  }
  for (int m = 0; m < schedule.micro_batches; ++m) {
    for (int s = 0; s < schedule.model_stages(); ++s) {
      const int forward = seen[{m, s, Pass::forward}];
      const int full = seen[{m, s, Pass::backward}];
      const int input = seen[{m, s, Pass::backward_input}];
      const int weight = seen[{m, s, Pass::backward_weight}];
      EXPECT_EQ(forward, 1) << "mb " << m << " stage " << s;
      const bool one_full = full == 1 && input == 0 && weight == 0;
      const bool one_split = full == 0 && input == 1 && weight == 1;
      EXPECT_TRUE(one_full || one_split) << "mb " << m << " stage " << s << ": B " << full
                                         << ", B_input " << input << ", W " << weight;
    }
  }
  EXPECT_NO_THROW(verify_schedule(schedule));
}

struct Case {
  ScheduleKind kind;
  int devices;
  int micro_batches;
  int virtual_stages;
};

TEST(MakeSchedule, EveryTaskRunsExactlyOnceWhereItsStageLives) {
  std::vector<Case> cases;
  for (const int pp : {4, 8, 16}) {
    for (const int m : {1, pp - 1, pp, 2 * pp + 3}) {
      cases.push_back({ScheduleKind::gpipe, pp, m, 1});
      cases.push_back({ScheduleKind::one_f_one_b, pp, m, 1});
      cases.push_back({ScheduleKind::zb1p, pp, m, 1});
    }
    for (const int m : {pp, 2 * pp, 3 * pp}) {
      cases.push_back({ScheduleKind::interleaved, pp, m, 2});
      cases.push_back({ScheduleKind::interleaved, pp, m, 3});
    }
    for (const int m : {2 * pp, 2 * pp + 2, 4 * pp}) {
      cases.push_back({ScheduleKind::dualpipe, pp, m, 1});
    }
    for (const int m : {pp, pp + 1, 3 * pp}) {
      cases.push_back({ScheduleKind::dualpipev, pp / 2, m, 1});
    }
  }
  cases.push_back({ScheduleKind::dualpipev, 1, 2, 1});
  cases.push_back({ScheduleKind::dualpipev, 3, 7, 1});
  cases.push_back({ScheduleKind::dualpipe, 6, 14, 1});
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(config::to_string(c.kind)) + " devices " + std::to_string(c.devices) +
                 " micro-batches " + std::to_string(c.micro_batches) + " v " +
                 std::to_string(c.virtual_stages));
    const PipelineSchedule schedule =
        make_schedule(c.kind, c.devices, c.micro_batches, c.virtual_stages);
    EXPECT_EQ(schedule.order.size(), static_cast<std::size_t>(c.devices));
    expect_every_task_once(schedule);
  }
}

TEST(MakeSchedule, OneChunkSchedulesHoldStageDOnDeviceD) {
  for (const ScheduleKind kind :
       {ScheduleKind::gpipe, ScheduleKind::one_f_one_b, ScheduleKind::zb1p}) {
    const PipelineSchedule schedule = make_schedule(kind, 4, 8);
    EXPECT_EQ(schedule.chunks_per_device, 1);
    EXPECT_EQ(schedule.model_stages(), 4);
    EXPECT_EQ(schedule.pipeline_stages(), 4);
    EXPECT_EQ(schedule.parameter_multiple(), 1.0);
    const std::vector<StageRef> path = schedule.forward_path(5);
    ASSERT_EQ(path.size(), 4u);
    for (int d = 0; d < 4; ++d) {
      EXPECT_EQ(path[static_cast<std::size_t>(d)], (StageRef{d, 0}));
      EXPECT_EQ(schedule.model_stage({d, 0}), d);
    }
  }
}

TEST(MakeSchedule, InterleavedHoldsStageCTimesPpPlusDInChunkC) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::interleaved, 4, 8, 3);
  EXPECT_EQ(schedule.chunks_per_device, 3);
  EXPECT_EQ(schedule.model_stages(), 12);
  EXPECT_EQ(schedule.pipeline_stages(), 4);
  EXPECT_EQ(schedule.parameter_multiple(), 1.0);  // three chunks of a third of a stage
  EXPECT_EQ(schedule.model_stage({1, 2}), 9);
  const std::vector<StageRef> path = schedule.forward_path(0);
  ASSERT_EQ(path.size(), 12u);
  EXPECT_EQ(path[5], (StageRef{1, 1}));
  EXPECT_EQ(path[11], (StageRef{3, 2}));
}

TEST(MakeSchedule, InterleavedGoesInGroupsOfPpMicroBatchesThroughEachChunk) {
  // Megatron-LM's order for PP = 2, v = 2, M = 4 on device 1: warm-up 2 (2 - 1 - 1) + (2 - 1) 2
  // = 2 forwards, then 1F1B; forwards F0c0 F1c0 F0c1 F1c1 F2c0 ..., backwards from chunk 1.
  const PipelineSchedule schedule = make_schedule(ScheduleKind::interleaved, 2, 4, 2);
  EXPECT_EQ(order_string(schedule.order[1]),
            "F0c0 F1c0 F0c1 B0c1 F1c1 B1c1 F2c0 B0c0 F3c0 B1c0 F2c1 B2c1 F3c1 B3c1 B2c0 B3c0");
  // Device 0 warms up with 2 (2 - 0 - 1) + 2 = 4 forwards.
  EXPECT_EQ(order_string(schedule.order[0]),
            "F0c0 F1c0 F0c1 F1c1 F2c0 B0c1 F3c0 B1c1 F2c1 B0c0 F3c1 B1c0 B2c1 B3c1 B2c0 B3c0");
}

TEST(MakeSchedule, OneFOneBWarmsUpWithPpMinusDMinusOneForwards) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::one_f_one_b, 3, 4);
  EXPECT_EQ(order_string(schedule.order[0]), "F0c0 F1c0 F2c0 B0c0 F3c0 B1c0 B2c0 B3c0");
  EXPECT_EQ(order_string(schedule.order[2]), "F0c0 B0c0 F1c0 B1c0 F2c0 B2c0 F3c0 B3c0");
}

TEST(CombineForwardBackward, WarmsUpOnceMoreThenPairsEachForwardWithTheNextBackward) {
  // Without pipeline parallelism: one forward alone, then each forward with the previous
  // micro-batch's backward.
  EXPECT_EQ(order_string(
                combine_forward_backward(make_schedule(ScheduleKind::one_f_one_b, 1, 3)).order[0]),
            "F0c0 F1c0&B0c0 F2c0&B1c0 B2c0");
  // Interleaved: device 1 of 2 (v 2) warms up with 3 forwards where the plain schedule runs 2.
  const PipelineSchedule plain = make_schedule(ScheduleKind::interleaved, 2, 4, 2);
  const PipelineSchedule combined = combine_forward_backward(plain);
  EXPECT_EQ(order_string(plain.order[1]),
            "F0c0 F1c0 F0c1 B0c1 F1c1 B1c1 F2c0 B0c0 F3c0 B1c0 F2c1 B2c1 F3c1 B3c1 B2c0 B3c0");
  EXPECT_EQ(order_string(combined.order[1]),
            "F0c0 F1c0 F0c1 F1c1&B0c1 F2c0&B1c1 F3c0&B0c0 F2c1&B1c0 F3c1&B2c1 B3c1 B2c0 B3c0");
  expect_every_task_once(combined);
  for (const Case c :
       {Case{ScheduleKind::interleaved, 4, 8, 2}, Case{ScheduleKind::interleaved, 2, 2, 3}}) {
    expect_every_task_once(combine_forward_backward(
        make_schedule(c.kind, c.devices, c.micro_batches, c.virtual_stages)));
  }
  // Megatron-Core combines no other pipeline: these come back as they are.
  for (const Case c :
       {Case{ScheduleKind::one_f_one_b, 3, 4, 1}, Case{ScheduleKind::zb1p, 4, 8, 1}}) {
    const PipelineSchedule s = make_schedule(c.kind, c.devices, c.micro_batches);
    EXPECT_EQ(combine_forward_backward(s).order, s.order);
  }
}

TEST(MakeSchedule, GpipeRunsAllForwardsThenAllBackwards) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::gpipe, 2, 3);
  EXPECT_EQ(order_string(schedule.order[1]), "F0c0 F1c0 F2c0 B0c0 B1c0 B2c0");
}

TEST(MakeSchedule, Zb1pKeepsDeviceDsWeightPassesDBehind) {
  // PP = 3, M = 4: device 0 as 1F1B with W right after each B_input; device 2 (the last) lags
  // its W passes 2 behind and runs them in the cool-down.
  const PipelineSchedule schedule = make_schedule(ScheduleKind::zb1p, 3, 4);
  EXPECT_EQ(order_string(schedule.order[0]),
            "F0c0 F1c0 F2c0 Bi0c0 W0c0 F3c0 Bi1c0 W1c0 Bi2c0 W2c0 Bi3c0 W3c0");
  EXPECT_EQ(order_string(schedule.order[2]),
            "F0c0 Bi0c0 F1c0 Bi1c0 F2c0 Bi2c0 W0c0 F3c0 Bi3c0 W1c0 W2c0 W3c0");
}

TEST(MakeSchedule, DualPipeHoldsBothDirectionsOnEveryDevice) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipe, 8, 20);
  EXPECT_EQ(schedule.chunks_per_device, 2);
  EXPECT_EQ(schedule.model_stages(), 8);
  EXPECT_EQ(schedule.pipeline_stages(), 8);
  EXPECT_EQ(schedule.parameter_multiple(), 2.0);
  // Micro-batches 0..9 go 0 -> 7 through chunk 0, 10..19 go 7 -> 0 through chunk 1.
  const std::vector<StageRef> first = schedule.forward_path(9);
  const std::vector<StageRef> second = schedule.forward_path(10);
  for (int s = 0; s < 8; ++s) {
    EXPECT_EQ(first[static_cast<std::size_t>(s)], (StageRef{s, 0}));
    EXPECT_EQ(second[static_cast<std::size_t>(s)], (StageRef{7 - s, 1}));
    EXPECT_EQ(schedule.model_stage({s, 0}), s);
    EXPECT_EQ(schedule.model_stage({s, 1}), 7 - s);
  }
}

TEST(MakeSchedule, DualPipeVFoldsTwoPpStagesIntoAV) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipev, 4, 10);
  EXPECT_EQ(schedule.chunks_per_device, 2);
  EXPECT_EQ(schedule.model_stages(), 8);
  EXPECT_EQ(schedule.pipeline_stages(), 8);
  EXPECT_EQ(schedule.parameter_multiple(), 2.0);
  const std::vector<StageRef> path = schedule.forward_path(7);
  const std::vector<StageRef> expected{{0, 0}, {1, 0}, {2, 0}, {3, 0},
                                       {3, 1}, {2, 1}, {1, 1}, {0, 1}};
  EXPECT_EQ(path, expected);
  EXPECT_EQ(schedule.model_stage({0, 1}), 7);
  EXPECT_EQ(schedule.model_stage({3, 1}), 4);
}

// The orders below were written out by hand from DualPipe.step() (deepseek-ai/DualPipe,
// dualpipe/dualpipe.py) for PP = 4, M = 8 (H = 2 half ranks, 4 micro-batches each way):
//   rank 0 (h = 0): nF0 2, nF0F1 1, nB1W1F1 1, main 4 - 4 + 0 + 1 = 1, nB1F1B0 1, nB1B0 1 (the
//     W split switches on between B1 and B0 since h is even), nWB0 1, nW 1;
//   rank 1 (h = 1, a middle rank): nF0F1 2, main 2 whose first F0 and B1 run apart, nB1B0 2
//     (switch before B1 of the second, h odd), nW 2;
//   rank 2 mirrors rank 1 with the directions swapped.
TEST(MakeSchedule, DualPipeFollowsTheReferenceSteps) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipe, 4, 8);
  EXPECT_EQ(order_string(schedule.order[0]),
            "F0c0 F1c0 F2c0 F4c1 Bi4c1 W4c1 F5c1 F3c0&B5c1 F6c1&B0c0 B6c1 F7c1&B1c0 B7c1 Bi2c0 "
            "W2c0 Bi3c0 W3c0");
  EXPECT_EQ(order_string(schedule.order[1]),
            "F0c0 F4c1 F1c0 F5c1 F2c0 B4c1 F6c1&B0c0 F3c0&B5c1 F7c1&B1c0 B6c1 B2c0 Bi7c1 Bi3c0 "
            "W7c1 W3c0");
  EXPECT_EQ(order_string(schedule.order[2]),
            "F4c1 F0c0 F5c1 F1c0 F6c1 B0c0 F2c0&B4c1 F7c1&B1c0 F3c0&B5c1 B2c0 B6c1 Bi3c0 Bi7c1 "
            "W3c0 W7c1");
}

// DualPipeV.step() (dualpipe/dualpipev.py) for 2 devices, M = 4: device 0 (h = 0) and device 1
// (h = 1, the turn of the V, which runs its first F0 and B1 apart).
TEST(MakeSchedule, DualPipeVFollowsTheReferenceSteps) {
  const PipelineSchedule schedule = make_schedule(ScheduleKind::dualpipev, 2, 4);
  EXPECT_EQ(order_string(schedule.order[0]),
            "F0c0 F1c0 F2c0 F0c1 Bi0c1 W0c1 F1c1 F3c0&B1c1 F2c1&B0c0 B2c1 F3c1&B1c0 B3c1 Bi2c0 "
            "W2c0 Bi3c0 W3c0");
  EXPECT_EQ(order_string(schedule.order[1]),
            "F0c0 F0c1 F1c0 F1c1 F2c0 B0c1 F2c1&B0c0 F3c0&B1c1 F3c1&B1c0 B2c1 B2c0 Bi3c1 Bi3c0 "
            "W3c1 W3c0");
}

// ----- Bad parameters ----------------------------------------------------------------------------

std::string schedule_error(ScheduleKind kind, int devices, int micro_batches,
                           int virtual_stages = 1) {
  try {
    (void)make_schedule(kind, devices, micro_batches, virtual_stages);
  } catch (const ScheduleError& error) {
    return error.what();
  }
  return "no error";
}

TEST(MakeSchedule, RejectsBadParametersWithExactMessages) {
  EXPECT_EQ(schedule_error(ScheduleKind::one_f_one_b, 4, 0),
            "1f1b needs at least 1 micro-batch, got 0");
  EXPECT_EQ(schedule_error(ScheduleKind::gpipe, 0, 4), "gpipe needs at least 1 device, got 0");
  EXPECT_EQ(schedule_error(ScheduleKind::zb1p, 4, 8, 2),
            "zb1p runs 1 model chunk per device; virtual stages are for interleaved, got 2");
  EXPECT_EQ(schedule_error(ScheduleKind::interleaved, 4, 8, 1),
            "interleaved needs at least 2 virtual stages per device, got 1");
  EXPECT_EQ(schedule_error(ScheduleKind::interleaved, 4, 6, 2),
            "interleaved needs micro-batches divisible by the 4 pipeline stages, got 6");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipe, 5, 20),
            "dualpipe needs an even number of pipeline stages, got 5");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipe, 1, 20),
            "dualpipe needs an even number of pipeline stages, got 1");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipe, 4, 6),
            "dualpipe needs at least 2 x 4 pipeline stages = 8 micro-batches, got 6");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipe, 4, 9),
            "dualpipe needs an even number of micro-batches (half go each way), got 9");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipev, 3, 5),
            "dualpipev needs at least 2 x 3 devices = 6 micro-batches, got 5");
  EXPECT_EQ(schedule_error(ScheduleKind::one_f_one_b, 100'000, 100'000),
            "1f1b with 100000 devices, 1 chunks each and 100000 micro-batches would hold "
            "30000000000 tasks; the limit is 50000000");
  // The smallest accepted cases.
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipe, 2, 4), "no error");
  EXPECT_EQ(schedule_error(ScheduleKind::dualpipev, 3, 7), "no error");
  EXPECT_EQ(schedule_error(ScheduleKind::interleaved, 1, 3, 2), "no error");
}

// ----- Hand-made orders --------------------------------------------------------------------------

std::string verify_error(const PipelineSchedule& schedule) {
  try {
    verify_schedule(schedule);
  } catch (const ScheduleError& error) {
    return error.what();
  }
  return "no error";
}

TEST(VerifySchedule, PinsTheFirstProblemOfAHandMadeOrder) {
  const PipelineSchedule good = make_schedule(ScheduleKind::one_f_one_b, 2, 2);
  EXPECT_EQ(verify_error(good), "no error");

  PipelineSchedule twice = good;
  twice.order[1].push_back({{Pass::forward, 1, 0}, std::nullopt});
  EXPECT_EQ(verify_error(twice), "device 1 slot 4: F mb 1 on device 1 chunk 0 runs a second time");

  PipelineSchedule missing = good;
  missing.order[0].pop_back();  // B mb 1 on device 0
  EXPECT_EQ(verify_error(missing), "the order never runs B mb 1 on device 0 chunk 0");

  PipelineSchedule split = good;
  split.order[0].back() = {{Pass::backward_input, 1, 0}, std::nullopt};
  EXPECT_EQ(verify_error(split), "the order never runs W mb 1 on device 0 chunk 0");
  split.order[0].push_back({{Pass::backward, 1, 0}, std::nullopt});
  EXPECT_EQ(verify_error(split), "B mb 1 on device 0 chunk 0 runs a full backward and a split one");

  PipelineSchedule out_of_range = good;
  out_of_range.order[0][0].task.micro_batch = 2;
  EXPECT_EQ(verify_error(out_of_range), "device 0 slot 0: micro-batch 2 is not in 0..1");
  out_of_range.order[0][0].task = {Pass::forward, 0, 1};
  EXPECT_EQ(verify_error(out_of_range), "device 0 slot 0: chunk 1 is not in 0..0");

  PipelineSchedule few_devices = good;
  few_devices.order.pop_back();
  EXPECT_EQ(verify_error(few_devices), "the order lists 1 devices, but the schedule has 2");

  // DualPipe: micro-batch 0 flows through chunk 0 only.
  PipelineSchedule wrong_direction = make_schedule(ScheduleKind::dualpipe, 2, 4);
  wrong_direction.order[0][0].task.chunk = 1;
  EXPECT_EQ(verify_error(wrong_direction),
            "device 0 slot 0: F mb 0 on device 0 chunk 1 is not on the path of mb 0");
}

TEST(Describe, NamesTasksAndOverlappedPairs) {
  EXPECT_EQ(describe(PipelineTask{Pass::backward_input, 3, 1}, 2),
            "B_input mb 3 on device 2 chunk 1");
  EXPECT_EQ(describe(ScheduleSlot{{Pass::forward, 12, 1}, PipelineTask{Pass::backward, 0, 0}}, 3),
            "F mb 12 chunk 1 & B mb 0 chunk 0 on device 3");
}

}  // namespace
}  // namespace clustersim::parallel
