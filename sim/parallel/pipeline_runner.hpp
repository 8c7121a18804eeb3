#pragma once
// Runs a PipelineSchedule on the engine, driven by dependencies.
//
// Each device runs its slots strictly in order. A slot starts when the device's previous slot has
// finished and every dependency of its task(s) is met:
//   F at model stage s          the activations of F at stage s - 1 have arrived (none for s = 0);
//   B or B_input at stage s     the device's own F at s has finished, and the input gradient of B
//                               or B_input at stage s + 1 has arrived (none for the last stage);
//   W at stage s                the device's own B_input at s has finished;
//   an overlapped F&B slot      the dependencies of both tasks.
// Outputs travel when their slot finishes: a stage's activations to the next stage, its input
// gradient to the previous one, through PipelineBackend::transfer when the two stages are on
// different devices, at once when they share a device (DualPipeV's turn, interleaved with one
// device). All of a slot's tasks finish together.
//
// Time is the backend's business: PipelineBackend::run_slot is told when a slot starts and calls
// back when it ends, and transfer likewise; TimedBackend does both with duration functions, and
// the step simulator can plug in compute kernels and fabric flows instead.
//
// Bubble. bubble() = max over devices d of (makespan - busy_d), where makespan runs from start()
// to the end of the last slot and busy_d is the sum of device d's slot durations (an F&B slot
// counts once, with its own duration). With uniform chunk times, no communication and enough
// micro-batches, every device of gpipe and 1f1b idles (PP - 1)(F + B), of zb1p
// (PP - 1)(F + B - 2W) (when W <= F and W <= B_input = B - W), of interleaved (PP - 1)(F + B) / v
// (F, B of a device's whole stage),
// which are the DualPipe README's and the TR Table 2's figures. DualPipe's devices differ (the
// middle ranks run more overlapped pairs, so they are busy less), and the README's
// (PP/2 - 1)(F&B + B - 3W) is the idle time of the middle ranks, i.e. the maximum, exactly when
// B_input = B - W equals F (tests/parallel/test_pipeline_runner.cpp pins the general case).
//
// Activations. A micro-batch holds one unit of activations on a device from the start of its F
// at one of the device's stages to the end of its B or B_input there (one unit = one model
// stage's activations of one micro-batch; an interleaved chunk is one stage). peak_activations
// is the most units a device holds at once; an F&B slot adds its forward's unit at its start and
// frees its backward's at its end.
//
// Deadlock. A device that cannot start its next slot registers an engine waiter naming the slot
// and what it waits for; a running slot registers one until its backend calls back. If the order
// cannot complete, Engine::run() throws DeadlockError listing them (e.g. "device 0 waits to
// start slot 1, B mb 0 on device 0 chunk 0: needs the input gradient from device 1 chunk 0").

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/parallel/pipeline_schedule.hpp"

namespace clustersim::parallel {

// What the runner asks of the world. Each call must be answered by calling its callback exactly
// once, at the simulated time the slot finishes or the data arrives: from an engine event or a
// model's completion, or from inside the call itself for a zero-time action.
class PipelineBackend {
 public:
  using Done = std::function<void()>;

  PipelineBackend() = default;
  PipelineBackend(const PipelineBackend&) = delete;
  PipelineBackend& operator=(const PipelineBackend&) = delete;
  virtual ~PipelineBackend() = default;

  // `slot` starts on `stage` (its task's device and chunk) now.
  virtual void run_slot(StageRef stage, const ScheduleSlot& slot, Done done) = 0;
  // The output of `task` (activations of an F, the input gradient of a B or B_input) leaves
  // `from` for `to`, a stage on another device, now.
  virtual void transfer(StageRef from, StageRef to, const PipelineTask& task, Done arrived) = 0;
};

using SlotDuration = std::function<SimTime(StageRef stage, const ScheduleSlot& slot)>;
using TransferTime = std::function<SimTime(StageRef from, StageRef to, const PipelineTask& task)>;

// Slots and transfers that take the times that functions give; with no `transfer`, transfers
// take no time. A negative time throws std::invalid_argument.
class TimedBackend final : public PipelineBackend {
 public:
  TimedBackend(Engine& engine, SlotDuration duration, TransferTime transfer = {});
  void run_slot(StageRef stage, const ScheduleSlot& slot, Done done) override;
  void transfer(StageRef from, StageRef to, const PipelineTask& task, Done arrived) override;

 private:
  Engine& engine_;
  SlotDuration duration_;
  TransferTime transfer_;
};

struct SlotTiming {
  SimTime start;
  SimTime end;
};

struct PipelineRun {
  SimTime start;                               // engine time of start()
  SimTime makespan;                            // from `start` to the end of the last slot
  std::vector<SimTime> busy;                   // per device, the sum of its slots' durations
  std::vector<std::vector<SlotTiming>> slots;  // per device, parallel to the schedule's order
  std::vector<int> peak_activations;           // per device, in units of one stage's micro-batch

  [[nodiscard]] SimTime idle(int device) const;
  // The largest idle time of any device (see the header comment).
  [[nodiscard]] SimTime bubble() const;
};

class PipelineRunner {
 public:
  // Checks the schedule with verify_schedule (ScheduleError). The engine and the backend are
  // observed: they, and this runner, must outlive the engine's run.
  PipelineRunner(Engine& engine, PipelineSchedule schedule, PipelineBackend& backend);
  PipelineRunner(const PipelineRunner&) = delete;
  PipelineRunner& operator=(const PipelineRunner&) = delete;

  // Lets every device begin at engine.now(); call once, then run the engine.
  void start();
  [[nodiscard]] bool finished() const;
  // The timings; throws std::logic_error before every slot has finished.
  [[nodiscard]] PipelineRun result() const;
  [[nodiscard]] const PipelineSchedule& schedule() const { return schedule_; }

 private:
  struct Device {
    std::size_t next = 0;  // index of the next slot to start
    bool running = false;
    std::optional<Engine::WaiterId> waiter;  // registered while blocked or running
    std::string waiting_for;                 // the waiter's description
    std::vector<SlotTiming> timings;
    SimTime busy;
    int activations = 0;
    int peak_activations = 0;
  };

  [[nodiscard]] std::size_t cell(int micro_batch, int stage) const;
  [[nodiscard]] int stage_of(int device, const PipelineTask& task) const;
  [[nodiscard]] bool ready(int device, const PipelineTask& task) const;
  // What `task` still waits for, for deadlock reports.
  [[nodiscard]] std::string missing(int device, const PipelineTask& task) const;
  void set_waiter(Device& device, std::string description);
  // Queues `device` to try its next slot, and tries queued devices unless already doing so.
  void wake(int device);
  void try_start(int device);
  void finish_slot(int device, std::size_t slot);
  void finish_task(int device, const PipelineTask& task);
  // Makes the output of `task` (run by `device` at model stage `stage`) available at model stage
  // `to_stage`, setting `arrived` there: at once on the same device, else through the backend.
  void send(int device, int stage, int to_stage, const PipelineTask& task,
            std::vector<char>& arrived);

  Engine& engine_;
  PipelineSchedule schedule_;
  PipelineBackend& backend_;
  int stages_ = 0;
  std::vector<std::vector<StageRef>> paths_;  // forward path of every micro-batch
  // Per (micro-batch, model stage): what has happened there.
  std::vector<char> input_arrived_;        // activations from the previous stage
  std::vector<char> gradient_arrived_;     // input gradient from the next stage
  std::vector<char> forward_done_;         // F
  std::vector<char> backward_input_done_;  // B or B_input
  std::vector<Device> devices_;
  std::deque<int> queue_;
  std::vector<char> queued_;
  bool dispatching_ = false;
  bool started_ = false;
  SimTime start_time_;
};

// Runs `schedule` on a fresh engine with TimedBackend. Throws ScheduleError for a malformed
// schedule and DeadlockError when its order cannot complete.
[[nodiscard]] PipelineRun run_pipeline(const PipelineSchedule& schedule,
                                       const SlotDuration& duration,
                                       const TransferTime& transfer = {});

}  // namespace clustersim::parallel
