#include "sim/parallel/pipeline_runner.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <stdexcept>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace clustersim::parallel {
namespace {

std::size_t index(int value) {
  assert(value >= 0);
  return static_cast<std::size_t>(value);
}

// The slot's task(s): the first, and the overlapped one when there is one.
std::array<const PipelineTask*, 2> tasks_of(const ScheduleSlot& slot) {
  return {&slot.task, slot.overlapped ? &*slot.overlapped : nullptr};
}

bool is_backward(Pass pass) {
  return pass == Pass::backward || pass == Pass::backward_input;
}

SimTime checked(SimTime time, const char* what, const std::string& subject) {
  if (time < SimTime::zero()) {
    throw std::invalid_argument(
        fmt::format("{} of {} is negative ({} ps)", what, subject, time.ps()));
  }
  return time;
}

}  // namespace

TimedBackend::TimedBackend(Engine& engine, SlotDuration duration, TransferTime transfer)
    : engine_(engine), duration_(std::move(duration)), transfer_(std::move(transfer)) {}

void TimedBackend::run_slot(StageRef stage, const ScheduleSlot& slot, Done done) {
  const SimTime time = duration_(stage, slot);
  engine_.schedule_after(checked(time, "the duration", describe(slot, stage.device)),
                         std::move(done));
}

void TimedBackend::transfer(StageRef from, StageRef to, const PipelineTask& task, Done arrived) {
  SimTime time = SimTime::zero();
  if (transfer_) {
    time = checked(
        transfer_(from, to, task), "the transfer time",
        fmt::format("{} to device {} chunk {}", describe(task, from.device), to.device, to.chunk));
  }
  engine_.schedule_after(time, std::move(arrived));
}

SimTime PipelineRun::idle(int device) const {
  return makespan - busy[index(device)];
}

SimTime PipelineRun::bubble() const {
  SimTime largest = SimTime::zero();
  for (std::size_t d = 0; d < busy.size(); ++d) largest = std::max(largest, makespan - busy[d]);
  return largest;
}

PipelineRunner::PipelineRunner(Engine& engine, PipelineSchedule schedule, PipelineBackend& backend)
    : engine_(engine), schedule_(std::move(schedule)), backend_(backend) {
  verify_schedule(schedule_);
  stages_ = schedule_.model_stages();
  paths_.reserve(index(schedule_.micro_batches));
  for (int m = 0; m < schedule_.micro_batches; ++m) paths_.push_back(schedule_.forward_path(m));
  const std::size_t cells = index(schedule_.micro_batches * stages_);
  input_arrived_.assign(cells, 0);
  gradient_arrived_.assign(cells, 0);
  forward_done_.assign(cells, 0);
  backward_input_done_.assign(cells, 0);
  for (int m = 0; m < schedule_.micro_batches; ++m) {
    input_arrived_[cell(m, 0)] = 1;               // the first stage reads the data
    gradient_arrived_[cell(m, stages_ - 1)] = 1;  // the last stage starts from its own loss
  }
  devices_.resize(index(schedule_.devices));
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    devices_[d].timings.resize(schedule_.order[d].size());
  }
  queued_.assign(devices_.size(), 0);
}

std::size_t PipelineRunner::cell(int micro_batch, int stage) const {
  return index(micro_batch * stages_ + stage);
}

int PipelineRunner::stage_of(int device, const PipelineTask& task) const {
  return schedule_.model_stage({device, task.chunk});
}

bool PipelineRunner::ready(int device, const PipelineTask& task) const {
  const std::size_t here = cell(task.micro_batch, stage_of(device, task));
  switch (task.pass) {
    case Pass::forward:
      return input_arrived_[here] != 0;
    case Pass::backward:
    case Pass::backward_input:
      return forward_done_[here] != 0 && gradient_arrived_[here] != 0;
    case Pass::backward_weight:
      return backward_input_done_[here] != 0;
  }
  return false;
}

std::string PipelineRunner::missing(int device, const PipelineTask& task) const {
  const int stage = stage_of(device, task);
  const std::size_t here = cell(task.micro_batch, stage);
  const std::vector<StageRef>& path = paths_[index(task.micro_batch)];
  std::vector<std::string> needs;
  switch (task.pass) {
    case Pass::forward: {
      const StageRef from = path[index(stage - 1)];
      needs.push_back(
          fmt::format("the activations from device {} chunk {}", from.device, from.chunk));
      break;
    }
    case Pass::backward:
    case Pass::backward_input:
      if (forward_done_[here] == 0) {
        needs.push_back(
            describe(PipelineTask{Pass::forward, task.micro_batch, task.chunk}, device));
      }
      if (gradient_arrived_[here] == 0) {
        const StageRef from = path[index(stage + 1)];
        needs.push_back(
            fmt::format("the input gradient from device {} chunk {}", from.device, from.chunk));
      }
      break;
    case Pass::backward_weight:
      needs.push_back(
          describe(PipelineTask{Pass::backward_input, task.micro_batch, task.chunk}, device));
      break;
  }
  std::string text;
  for (const std::string& need : needs) text += (text.empty() ? "" : " and ") + need;
  return text;
}

void PipelineRunner::set_waiter(Device& device, std::string description) {
  if (device.waiter && device.waiting_for == description) return;
  if (device.waiter) engine_.resolve_waiter(*device.waiter);
  device.waiter = engine_.add_waiter(description);
  device.waiting_for = std::move(description);
}

void PipelineRunner::start() {
  if (started_) throw std::logic_error("PipelineRunner::start() called twice");
  started_ = true;
  start_time_ = engine_.now();
  for (int d = 0; d < schedule_.devices; ++d) wake(d);
}

bool PipelineRunner::finished() const {
  for (std::size_t d = 0; d < devices_.size(); ++d) {
    if (devices_[d].running || devices_[d].next < schedule_.order[d].size()) return false;
  }
  return started_;
}

void PipelineRunner::wake(int device) {
  if (queued_[index(device)] == 0) {
    queued_[index(device)] = 1;
    queue_.push_back(device);
  }
  // A backend may call back from inside run_slot; the outer loop then picks the device up.
  if (dispatching_) return;
  dispatching_ = true;
  while (!queue_.empty()) {
    const int next = queue_.front();
    queue_.pop_front();
    queued_[index(next)] = 0;
    try_start(next);
  }
  dispatching_ = false;
}

void PipelineRunner::try_start(int d) {
  Device& device = devices_[index(d)];
  const std::vector<ScheduleSlot>& order = schedule_.order[index(d)];
  if (device.running || device.next >= order.size()) return;
  const std::size_t i = device.next;
  const ScheduleSlot& slot = order[i];
  std::string waits;
  for (const PipelineTask* task : tasks_of(slot)) {
    if (task == nullptr || ready(d, *task)) continue;
    const std::string needs = missing(d, *task);
    waits += (waits.empty() ? "" : "; ") + needs;
  }
  if (!waits.empty()) {
    set_waiter(device, fmt::format("device {} waits to start slot {}, {}: needs {}", d, i,
                                   describe(slot, d), waits));
    return;
  }
  device.running = true;
  device.timings[i].start = engine_.now();
  for (const PipelineTask* task : tasks_of(slot)) {
    if (task != nullptr && task->pass == Pass::forward) {
      device.peak_activations = std::max(device.peak_activations, ++device.activations);
    }
  }
  set_waiter(device, fmt::format("device {} runs slot {}, {}, started at {} ps, and it has not "
                                 "finished",
                                 d, i, describe(slot, d), engine_.now().ps()));
  backend_.run_slot({d, slot.task.chunk}, slot, [this, d, i] { finish_slot(d, i); });
}

void PipelineRunner::finish_slot(int d, std::size_t i) {
  Device& device = devices_[index(d)];
  if (!device.running || device.next != i) {
    throw std::logic_error(
        fmt::format("the backend finished slot {} of device {} twice or out of turn", i, d));
  }
  const ScheduleSlot& slot = schedule_.order[index(d)][i];
  SlotTiming& timing = device.timings[i];
  timing.end = engine_.now();
  device.busy = device.busy + (timing.end - timing.start);
  engine_.resolve_waiter(*device.waiter);
  device.waiter.reset();
  device.waiting_for.clear();
  device.running = false;
  ++device.next;
  for (const PipelineTask* task : tasks_of(slot)) {
    if (task != nullptr) finish_task(d, *task);
  }
  wake(d);
}

void PipelineRunner::finish_task(int d, const PipelineTask& task) {
  const int stage = stage_of(d, task);
  const std::size_t here = cell(task.micro_batch, stage);
  if (task.pass == Pass::forward) {
    forward_done_[here] = 1;
    if (stage + 1 < stages_) send(d, stage, stage + 1, task, input_arrived_);
  } else if (is_backward(task.pass)) {
    backward_input_done_[here] = 1;
    --devices_[index(d)].activations;
    if (stage > 0) send(d, stage, stage - 1, task, gradient_arrived_);
  }
}

void PipelineRunner::send(int d, int stage, int to_stage, const PipelineTask& task,
                          std::vector<char>& arrived) {
  const std::vector<StageRef>& path = paths_[index(task.micro_batch)];
  const StageRef from = path[index(stage)];
  const StageRef to = path[index(to_stage)];
  const std::size_t target = cell(task.micro_batch, to_stage);
  if (to.device == d) {
    arrived[target] = 1;
    wake(to.device);
    return;
  }
  backend_.transfer(from, to, task, [this, &arrived, target, device = to.device] {
    arrived[target] = 1;
    wake(device);
  });
}

PipelineRun PipelineRunner::result() const {
  if (!finished()) {
    throw std::logic_error("the pipeline has not finished; run the engine after start()");
  }
  PipelineRun run;
  run.start = start_time_;
  SimTime last = start_time_;
  for (const Device& device : devices_) {
    run.busy.push_back(device.busy);
    run.slots.push_back(device.timings);
    run.peak_activations.push_back(device.peak_activations);
    for (const SlotTiming& timing : device.timings) last = std::max(last, timing.end);
  }
  run.makespan = last - start_time_;
  return run;
}

PipelineRun run_pipeline(const PipelineSchedule& schedule, const SlotDuration& duration,
                         const TransferTime& transfer) {
  Engine engine;
  TimedBackend backend(engine, duration, transfer);
  PipelineRunner runner(engine, schedule, backend);
  runner.start();
  engine.run();
  return runner.result();
}

}  // namespace clustersim::parallel
