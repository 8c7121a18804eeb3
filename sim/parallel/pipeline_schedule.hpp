#pragma once
// Pipeline-parallel schedules as data: for every device, the order in which it runs the forward
// and backward chunks of every micro-batch. A schedule says nothing about time; PipelineRunner
// (pipeline_runner.hpp) executes one on the engine with durations and transfers plugged in.
//
// Terms. A model stage is a contiguous slice of layers (stage 0 holds the first layers); a device
// holds `chunks_per_device` of them, one per chunk. Micro-batch m visits the stages 0, 1, ...,
// model_stages() - 1 in its forward pass (forward_path(m) says where each one lives) and the same
// stages in reverse in its backward pass. A task is one pass of one micro-batch through one
// chunk; a full backward (B) may be split into backward for input (B_input, the gradient that
// the previous stage waits for) and backward for weights (W, needed by no other stage), as Zero
// Bubble Pipeline Parallelism (Qi et al. 2023) does.
//
// Schedules (PP pipeline stages, M micro-batches; `devices` is PP except for dualpipev):
//   gpipe        every forward, then every backward (Huang et al. 2019).
//   one_f_one_b  PipeDream-Flush / Megatron-LM 1F1B: device d runs min(PP - d - 1, M) warm-up
//                forwards, then alternates one forward and one backward, then drains the rest
//                (Narayanan et al. 2021).
//   interleaved  Megatron-LM interleaved 1F1B with v virtual stages per device (Narayanan et al.
//                2021, §2.2): model stage c x PP + d lives in chunk c of device d; micro-batches go
//                in groups of PP through chunk 0, then chunk 1, ...; device d warms up with
//                2 (PP - d - 1) + (v - 1) PP forwards (all of them when M == PP). M must be a
//                multiple of PP.
//   zb1p         ZB-H1 (Qi et al. 2023, §3.1): 1F1B's order of forwards and B_input passes, with
//                device d keeping its W passes d behind its B_input passes, so that the W passes
//                of the later stages fill their cool-down. Same activation peak as 1F1B.
//   dualpipe     DualPipe (DeepSeek-V3 TR §3.2.1; README and dualpipe/dualpipe.py of
//                deepseek-ai/DualPipe): PP even, M even and M >= 2 PP. Micro-batches 0 .. M/2 - 1
//                flow from device 0 to PP - 1 through chunk 0 (device d holds model stage d);
//                micro-batches M/2 .. M - 1 flow from device PP - 1 to 0 through chunk 1, a second
//                copy of the model laid out the other way (device d holds stage PP - 1 - d), so
//                every device holds two stages' parameters. The eight phases are those of the
//                reference's step(), see make_schedule() in the source.
//   dualpipev    DualPipeV, the "cut-in-half" DualPipe (credited to Sea AI Lab in the DualPipe
//                README; dualpipe/dualpipev.py): PP = 2 x devices stages folded into a V; device
//                d holds stages d (chunk 0) and PP - 1 - d (chunk 1), every micro-batch goes down
//                the chunk 0s and back up the chunk 1s. M >= PP = 2 x devices.
//
// DualPipe's overlapped forward-and-backward pairs (one forward chunk of one direction run
// together with one full backward chunk of the other, "F&B") are one slot with two tasks.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/experiment.hpp"

namespace clustersim::parallel {

// The configuration's schedule names ("gpipe", "1f1b", "interleaved", "zb1p", "dualpipe",
// "dualpipev"); config::to_string prints them.
using ScheduleKind = config::Schedule;

enum class Pass {
  forward,          // F
  backward,         // B: input and weight gradients in one pass, as 1F1B does it
  backward_input,   // B_input: the input gradient only (zero-bubble split)
  backward_weight,  // W: the weight gradient of an earlier B_input of the same micro-batch
};

// "F", "B", "B_input", "W".
[[nodiscard]] std::string_view to_string(Pass pass);

struct StageRef {
  int device = 0;
  int chunk = 0;  // which of the device's model chunks (virtual stage, DualPipe direction)
  friend bool operator==(const StageRef&, const StageRef&) = default;
};

struct PipelineTask {
  Pass pass = Pass::forward;
  int micro_batch = 0;
  int chunk = 0;
  friend bool operator==(const PipelineTask&, const PipelineTask&) = default;
};

struct ScheduleSlot {
  PipelineTask task;
  // DualPipe's F&B: a second task run together with `task` (the forward), taking one duration.
  std::optional<PipelineTask> overlapped;
  friend bool operator==(const ScheduleSlot&, const ScheduleSlot&) = default;
};

// Names used in messages: "F mb 3 on device 2 chunk 0"; an overlapped slot
// "F mb 12 chunk 1 & B mb 0 chunk 0 on device 3".
[[nodiscard]] std::string describe(const PipelineTask& task, int device);
[[nodiscard]] std::string describe(const ScheduleSlot& slot, int device);

// A malformed request or order: bad parameters for a schedule, or a hand-made order that does
// not run every task exactly once where it belongs. Messages are pinned by tests.
class ScheduleError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

struct PipelineSchedule {
  ScheduleKind kind = ScheduleKind::one_f_one_b;
  int devices = 0;
  int micro_batches = 0;
  int chunks_per_device = 1;  // v for interleaved, 2 for dualpipe and dualpipev, otherwise 1
  std::vector<std::vector<ScheduleSlot>> order;  // per device, in execution order

  // The (device, chunk) of model stages 0, 1, ... as micro-batch m meets them going forward.
  [[nodiscard]] std::vector<StageRef> forward_path(int micro_batch) const;
  // The model stage held at `stage` (0 = first layers).
  [[nodiscard]] int model_stage(StageRef stage) const;
  [[nodiscard]] int model_stages() const;
  // PP as the DualPipe README counts it: devices, except dualpipev's 2 x devices.
  [[nodiscard]] int pipeline_stages() const;
  // Parameters a device holds relative to 1F1B on the same number of pipeline stages: 2 for
  // dualpipe and dualpipev (two stages per device), 1 otherwise (interleaved's v chunks are each
  // 1/v of a stage).
  [[nodiscard]] double parameter_multiple() const;
};

// Builds the schedule. `devices` is PP for every kind but dualpipev, where it is PP / 2.
// `virtual_stages` is v for interleaved (>= 2) and must be 1 otherwise. Throws ScheduleError.
[[nodiscard]] PipelineSchedule make_schedule(ScheduleKind kind, int devices, int micro_batches,
                                             int virtual_stages = 1);

// Megatron-Core's combined 1F1B (overlap_moe_expert_parallel_comm; combined_1f1b.py): on every
// device one more warm-up forward than `schedule` runs, then each forward runs in one slot with
// the next backward (the two micro-batches' all-to-alls hide behind each other's compute, as in
// DualPipe's F&B), then the rest of the backwards drain. The order of the forwards and of the
// backwards is unchanged. Megatron-Core runs it with interleaved pipelines and without pipeline
// parallelism only ("virtual_pipeline_model_parallel_size must be specified when
// pipeline_model_parallel_size > 1"): interleaved and one-device one_f_one_b are combined, every
// other schedule comes back as it is (its all-to-alls stay in their slots; DualPipe overlaps its
// own). Over several devices a combined slot sends its forward's output only at its end, which
// 1F1B's one-stage skew cannot absorb, so a plain 1F1B would stall every other slot.
[[nodiscard]] PipelineSchedule combine_forward_backward(PipelineSchedule schedule);

// Checks a schedule's shape and that its order runs every task exactly once where it belongs:
// for every micro-batch and model stage on its path, one F and either one B or one B_input and
// one W, on the device and chunk that hold that stage. Throws ScheduleError naming the first
// problem. make_schedule's results always pass; PipelineRunner checks hand-made orders with it.
void verify_schedule(const PipelineSchedule& schedule);

}  // namespace clustersim::parallel
