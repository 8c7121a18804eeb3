#include "sim/parallel/pipeline_schedule.hpp"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <deque>

#include <fmt/format.h>

namespace clustersim::parallel {
namespace {

// A schedule of more tasks than this is refused rather than built (memory, not correctness).
constexpr std::int64_t kMaxTasks = 50'000'000;

ScheduleSlot single(Pass pass, int micro_batch, int chunk) {
  return {{pass, micro_batch, chunk}, std::nullopt};
}

std::size_t index(int value) {
  assert(value >= 0);
  return static_cast<std::size_t>(value);
}

// GPipe (Huang et al. 2019): all forwards, then all backwards, in micro-batch order.
void build_gpipe(PipelineSchedule& schedule) {
  for (std::vector<ScheduleSlot>& order : schedule.order) {
    for (int m = 0; m < schedule.micro_batches; ++m) order.push_back(single(Pass::forward, m, 0));
    for (int m = 0; m < schedule.micro_batches; ++m) order.push_back(single(Pass::backward, m, 0));
  }
}

// 1F1B (PipeDream-Flush, Narayanan et al. 2021; Megatron-LM's non-interleaved schedule): device
// d runs PP - d - 1 warm-up forwards, then one forward and one backward at a time, then drains.
void build_one_f_one_b(PipelineSchedule& schedule) {
  const int stages = schedule.devices;
  const int micro_batches = schedule.micro_batches;
  for (int d = 0; d < stages; ++d) {
    std::vector<ScheduleSlot>& order = schedule.order[index(d)];
    const int warm_up = std::min(stages - d - 1, micro_batches);
    int forwards = 0;
    int backwards = 0;
    while (forwards < warm_up) order.push_back(single(Pass::forward, forwards++, 0));
    while (forwards < micro_batches) {
      order.push_back(single(Pass::forward, forwards++, 0));
      order.push_back(single(Pass::backward, backwards++, 0));
    }
    while (backwards < micro_batches) order.push_back(single(Pass::backward, backwards++, 0));
  }
}

// ZB-H1 (Zero Bubble Pipeline Parallelism, Qi et al. 2023, §3.1 and Figure 3): 1F1B's order of
// F and B_input, with device d's W passes lagging d B_input passes behind. Device 0 runs each W
// right after its B_input; the later devices, which in 1F1B idle in the cool-down while the last
// gradients travel back, keep W passes to fill it, and pass their first gradients back sooner.
// Micro-batches from F to W stay at most PP per device, 1F1B's peak. With uniform chunk times,
// W <= min(F, B_input) and M >= PP the bubble is (PP - 1)(F + B - 2W) on every device.
void build_zb1p(PipelineSchedule& schedule) {
  const int stages = schedule.devices;
  const int micro_batches = schedule.micro_batches;
  for (int d = 0; d < stages; ++d) {
    std::vector<ScheduleSlot>& order = schedule.order[index(d)];
    const int warm_up = std::min(stages - d - 1, micro_batches);
    const int lag = d;
    int forwards = 0;
    int backwards = 0;
    int weights = 0;
    const auto backward = [&] {
      order.push_back(single(Pass::backward_input, backwards++, 0));
      if (backwards - weights > lag) order.push_back(single(Pass::backward_weight, weights++, 0));
    };
    while (forwards < warm_up) order.push_back(single(Pass::forward, forwards++, 0));
    while (forwards < micro_batches) {
      order.push_back(single(Pass::forward, forwards++, 0));
      backward();
    }
    while (backwards < micro_batches) backward();
    while (weights < micro_batches) order.push_back(single(Pass::backward_weight, weights++, 0));
  }
}

// Megatron-LM interleaved 1F1B (Narayanan et al. 2021, §2.2; forward_backward_pipelining_with_
// interleaving in Megatron-LM): the k-th forward of a device is micro-batch
// (k / (PP v)) PP + k % PP in chunk (k / PP) % v; backwards go the same way with the chunks
// reversed. Device d warms up with 2 (PP - d - 1) + (v - 1) PP forwards, or all of them when
// M == PP. With uniform chunk times the bubble is (PP - 1)(F + B) / v of a device's full stage.
void build_interleaved(PipelineSchedule& schedule) {
  const int stages = schedule.devices;
  const int chunks = schedule.chunks_per_device;
  const int micro_batches = schedule.micro_batches;
  const int total = micro_batches * chunks;
  const int group = stages * chunks;
  const auto task = [&](Pass pass, int k) {
    const int chunk_in_order = (k % group) / stages;
    const int chunk = pass == Pass::forward ? chunk_in_order : chunks - 1 - chunk_in_order;
    return single(pass, (k / group) * stages + k % stages, chunk);
  };
  for (int d = 0; d < stages; ++d) {
    std::vector<ScheduleSlot>& order = schedule.order[index(d)];
    const int warm_up = micro_batches == stages
                            ? total
                            : std::min(2 * (stages - d - 1) + (chunks - 1) * stages, total);
    int forwards = 0;
    int backwards = 0;
    while (forwards < warm_up) order.push_back(task(Pass::forward, forwards++));
    while (forwards < total) {
      order.push_back(task(Pass::forward, forwards++));
      order.push_back(task(Pass::backward, backwards++));
    }
    while (backwards < total) order.push_back(task(Pass::backward, backwards++));
  }
}

// One device's DualPipe or DualPipeV order. The reference speaks of two phases per rank: phase 0
// is the direction whose micro-batches reach the rank first, phase 1 the other. Forwards and
// backwards of each chunk go in micro-batch order; W passes run in the order of their B_input
// (the reference's WeightGradStore is a FIFO).
class DualPipeDevice {
 public:
  // `swap_phases`: phase p is chunk p ^ 1 (DualPipe's second half of the ranks).
  // `first_micro_batch`: the first micro-batch of each chunk's direction.
  DualPipeDevice(std::vector<ScheduleSlot>& order, bool swap_phases,
                 std::array<int, 2> first_micro_batch)
      : order_(order), swap_phases_(swap_phases), first_micro_batch_(first_micro_batch) {}

  void forward(int phase) { order_.push_back({next_forward(phase), std::nullopt}); }
  // `split`: the reference's enable_zb; the W part is deferred to a later weight().
  void backward(int phase, bool split) {
    order_.push_back({next_backward(phase, split), std::nullopt});
  }
  void weight() {
    assert(!pending_weights_.empty());
    order_.push_back({pending_weights_.front(), std::nullopt});
    pending_weights_.pop_front();
  }
  // A forward of one phase overlapped with a full backward of the other (F&B).
  void overlapped(int forward_phase, int backward_phase) {
    const PipelineTask f = next_forward(forward_phase);
    order_.push_back({f, next_backward(backward_phase, false)});
  }
  [[nodiscard]] bool weights_drained() const { return pending_weights_.empty(); }

 private:
  [[nodiscard]] int chunk_of(int phase) const { return swap_phases_ ? phase ^ 1 : phase; }
  PipelineTask next_forward(int phase) {
    const int chunk = chunk_of(phase);
    const std::size_t c = index(chunk);
    return {Pass::forward, first_micro_batch_[c] + forwards_[c]++, chunk};
  }
  PipelineTask next_backward(int phase, bool split) {
    const int chunk = chunk_of(phase);
    const std::size_t c = index(chunk);
    const int micro_batch = first_micro_batch_[c] + backwards_[c]++;
    if (!split) return {Pass::backward, micro_batch, chunk};
    pending_weights_.push_back({Pass::backward_weight, micro_batch, chunk});
    return {Pass::backward_input, micro_batch, chunk};
  }

  std::vector<ScheduleSlot>& order_;
  bool swap_phases_;
  std::array<int, 2> first_micro_batch_;
  std::array<int, 2> forwards_{0, 0};
  std::array<int, 2> backwards_{0, 0};
  std::deque<PipelineTask> pending_weights_;
};

// The eight steps of DualPipe.step() (deepseek-ai/DualPipe, dualpipe/dualpipe.py) and of
// DualPipeV.step() (dualpipe/dualpipev.py), which share them. `half_ranks` is H (PP / 2 for
// DualPipe, the device count for DualPipeV), `rank` is h (DualPipe: min(d, PP - 1 - d); V: d),
// `per_direction` is the micro-batches that go each way through each phase (M / 2; V: M).
// `middle`: the rank where the two phases meet (DualPipe: h = H - 1; V: the last device), which
// runs its first F0 and B1 of the main step apart rather than overlapped.
void build_dualpipe_device(DualPipeDevice& device, int half_ranks, int rank, int per_direction,
                           bool middle) {
  const int h = rank;
  const int rest = half_ranks - h - 1;
  // Step 1, nF0: forwards of the near direction while the far one is still on its way.
  for (int i = 0; i < 2 * rest; ++i) device.forward(0);
  // Step 2, nF0F1: both directions, alternately.
  for (int i = 0; i < h + 1; ++i) {
    device.forward(0);
    device.forward(1);
  }
  // Step 3, nB1W1F1: zero-bubble backwards of the far direction, W right away.
  for (int i = 0; i < rest; ++i) {
    device.backward(1, true);
    device.weight();
    device.forward(1);
  }
  // Step 4, the main step nF0B1F1B0: overlapped pairs of one direction's forward and the other's
  // full backward.
  const int main_steps = per_direction - 2 * half_ranks + h + 1;
  for (int i = 0; i < main_steps; ++i) {
    if (i == 0 && middle) {
      // The reference: "We don't overlap these two chunks to further reduce bubble size."
      device.forward(0);
      device.backward(1, false);
    } else {
      device.overlapped(0, 1);
    }
    device.overlapped(1, 0);
  }
  // Step 5, nB1F1B0.
  for (int i = 0; i < rest; ++i) {
    device.backward(1, false);
    device.overlapped(1, 0);
  }
  // Step 6, nB1B0: the second half of these backwards defer their W (zero bubble); the switch
  // falls before B1 on odd ranks and between B1 and B0 on even ones.
  bool split = false;
  for (int i = 0; i < h + 1; ++i) {
    if (i == (h + 1) / 2 && h % 2 == 1) split = true;
    device.backward(1, split);
    if (i == (h + 1) / 2 && h % 2 == 0) split = true;
    device.backward(0, split);
  }
  // Step 7, nWB0: a deferred W, then a zero-bubble backward of the near direction.
  for (int i = 0; i < rest; ++i) {
    device.weight();
    device.backward(0, true);
  }
  // Step 8, nW: the remaining W passes.
  for (int i = 0; i < h + 1; ++i) device.weight();
  assert(device.weights_drained());
}

void build_dualpipe(PipelineSchedule& schedule) {
  const int stages = schedule.devices;
  const int half_ranks = stages / 2;
  const int per_direction = schedule.micro_batches / 2;
  for (int d = 0; d < stages; ++d) {
    const int h = std::min(d, stages - 1 - d);
    DualPipeDevice device(schedule.order[index(d)], d >= half_ranks, {0, per_direction});
    build_dualpipe_device(device, half_ranks, h, per_direction, h == half_ranks - 1);
  }
}

void build_dualpipev(PipelineSchedule& schedule) {
  const int devices = schedule.devices;
  for (int d = 0; d < devices; ++d) {
    DualPipeDevice device(schedule.order[index(d)], false, {0, 0});
    build_dualpipe_device(device, devices, d, schedule.micro_batches, d == devices - 1);
  }
}

void check_parameters(ScheduleKind kind, int devices, int micro_batches, int virtual_stages) {
  const std::string_view name = config::to_string(kind);
  if (devices < 1)
    throw ScheduleError(fmt::format("{} needs at least 1 device, got {}", name, devices));
  if (micro_batches < 1) {
    throw ScheduleError(
        fmt::format("{} needs at least 1 micro-batch, got {}", name, micro_batches));
  }
  if (kind == ScheduleKind::interleaved) {
    if (virtual_stages < 2) {
      throw ScheduleError(fmt::format(
          "interleaved needs at least 2 virtual stages per device, got {}", virtual_stages));
    }
  } else if (virtual_stages != 1) {
    throw ScheduleError(
        fmt::format("{} runs 1 model chunk per device; virtual stages are for interleaved, got {}",
                    name, virtual_stages));
  }
  switch (kind) {
    case ScheduleKind::interleaved:
      if (micro_batches % devices != 0) {
        throw ScheduleError(fmt::format(
            "interleaved needs micro-batches divisible by the {} pipeline stages, got {}", devices,
            micro_batches));
      }
      break;
    case ScheduleKind::dualpipe:
      // The reference asserts num_ranks % 2 == 0, num_chunks % 2 == 0, num_chunks >= 2 num_ranks.
      if (devices % 2 != 0) {
        throw ScheduleError(
            fmt::format("dualpipe needs an even number of pipeline stages, got {}", devices));
      }
      if (micro_batches < 2 * devices) {
        throw ScheduleError(
            fmt::format("dualpipe needs at least 2 x {} pipeline stages = {} micro-batches, got {}",
                        devices, 2 * devices, micro_batches));
      }
      if (micro_batches % 2 != 0) {
        throw ScheduleError(
            fmt::format("dualpipe needs an even number of micro-batches (half go each way), got {}",
                        micro_batches));
      }
      break;
    case ScheduleKind::dualpipev:
      // The reference asserts num_chunks >= 2 num_ranks; it does not need an even count.
      if (micro_batches < 2 * devices) {
        throw ScheduleError(
            fmt::format("dualpipev needs at least 2 x {} devices = {} micro-batches, got {}",
                        devices, 2 * devices, micro_batches));
      }
      break;
    case ScheduleKind::gpipe:
    case ScheduleKind::one_f_one_b:
    case ScheduleKind::zb1p:
      break;
  }
  const std::int64_t chunks = kind == ScheduleKind::interleaved ? virtual_stages
                              : kind == ScheduleKind::dualpipe || kind == ScheduleKind::dualpipev
                                  ? 2
                                  : 1;
  const std::int64_t tasks = std::int64_t{devices} * chunks * micro_batches * 3;
  if (tasks > kMaxTasks) {
    throw ScheduleError(fmt::format(
        "{} with {} devices, {} chunks each and {} micro-batches would hold {} tasks; the limit "
        "is {}",
        name, devices, chunks, micro_batches, tasks, kMaxTasks));
  }
}

}  // namespace

std::string_view to_string(Pass pass) {
  switch (pass) {
    case Pass::forward:
      return "F";
    case Pass::backward:
      return "B";
    case Pass::backward_input:
      return "B_input";
    case Pass::backward_weight:
      return "W";
  }
  return "?";
}

std::string describe(const PipelineTask& task, int device) {
  return fmt::format("{} mb {} on device {} chunk {}", to_string(task.pass), task.micro_batch,
                     device, task.chunk);
}

std::string describe(const ScheduleSlot& slot, int device) {
  if (!slot.overlapped) return describe(slot.task, device);
  const PipelineTask& first = slot.task;
  const PipelineTask& second = *slot.overlapped;
  return fmt::format("{} mb {} chunk {} & {} mb {} chunk {} on device {}", to_string(first.pass),
                     first.micro_batch, first.chunk, to_string(second.pass), second.micro_batch,
                     second.chunk, device);
}

std::vector<StageRef> PipelineSchedule::forward_path(int micro_batch) const {
  std::vector<StageRef> path;
  path.reserve(index(model_stages()));
  switch (kind) {
    case ScheduleKind::interleaved:
      for (int c = 0; c < chunks_per_device; ++c) {
        for (int d = 0; d < devices; ++d) path.push_back({d, c});
      }
      break;
    case ScheduleKind::dualpipe:
      if (micro_batch < micro_batches / 2) {
        for (int d = 0; d < devices; ++d) path.push_back({d, 0});
      } else {
        for (int d = devices - 1; d >= 0; --d) path.push_back({d, 1});
      }
      break;
    case ScheduleKind::dualpipev:
      for (int d = 0; d < devices; ++d) path.push_back({d, 0});
      for (int d = devices - 1; d >= 0; --d) path.push_back({d, 1});
      break;
    case ScheduleKind::gpipe:
    case ScheduleKind::one_f_one_b:
    case ScheduleKind::zb1p:
      for (int d = 0; d < devices; ++d) path.push_back({d, 0});
      break;
  }
  return path;
}

int PipelineSchedule::model_stage(StageRef stage) const {
  assert(stage.device >= 0 && stage.device < devices);
  assert(stage.chunk >= 0 && stage.chunk < chunks_per_device);
  switch (kind) {
    case ScheduleKind::interleaved:
      return stage.chunk * devices + stage.device;
    case ScheduleKind::dualpipe:
      return stage.chunk == 0 ? stage.device : devices - 1 - stage.device;
    case ScheduleKind::dualpipev:
      return stage.chunk == 0 ? stage.device : 2 * devices - 1 - stage.device;
    case ScheduleKind::gpipe:
    case ScheduleKind::one_f_one_b:
    case ScheduleKind::zb1p:
      break;
  }
  return stage.device;
}

int PipelineSchedule::model_stages() const {
  return kind == ScheduleKind::dualpipe ? devices : devices * chunks_per_device;
}

int PipelineSchedule::pipeline_stages() const {
  return kind == ScheduleKind::dualpipev ? 2 * devices : devices;
}

double PipelineSchedule::parameter_multiple() const {
  // Stages held per device, each model_stages() / pipeline_stages() times smaller than a stage
  // of 1F1B on pipeline_stages() devices.
  return static_cast<double>(chunks_per_device) * pipeline_stages() / model_stages();
}

PipelineSchedule make_schedule(ScheduleKind kind, int devices, int micro_batches,
                               int virtual_stages) {
  check_parameters(kind, devices, micro_batches, virtual_stages);
  PipelineSchedule schedule;
  schedule.kind = kind;
  schedule.devices = devices;
  schedule.micro_batches = micro_batches;
  schedule.chunks_per_device = kind == ScheduleKind::interleaved ? virtual_stages
                               : kind == ScheduleKind::dualpipe || kind == ScheduleKind::dualpipev
                                   ? 2
                                   : 1;
  schedule.order.resize(index(devices));
  switch (kind) {
    case ScheduleKind::gpipe:
      build_gpipe(schedule);
      break;
    case ScheduleKind::one_f_one_b:
      build_one_f_one_b(schedule);
      break;
    case ScheduleKind::interleaved:
      build_interleaved(schedule);
      break;
    case ScheduleKind::zb1p:
      build_zb1p(schedule);
      break;
    case ScheduleKind::dualpipe:
      build_dualpipe(schedule);
      break;
    case ScheduleKind::dualpipev:
      build_dualpipev(schedule);
      break;
  }
  return schedule;
}

PipelineSchedule combine_forward_backward(PipelineSchedule schedule) {
  const bool combinable = schedule.kind == ScheduleKind::interleaved ||
                          (schedule.kind == ScheduleKind::one_f_one_b && schedule.devices == 1);
  if (!combinable) return schedule;
  for (std::vector<ScheduleSlot>& order : schedule.order) {
    // The forwards before the first backward: the warm-up and the first steady-state forward,
    // which the combined schedule runs alone as its one extra warm-up forward.
    std::vector<PipelineTask> forwards, backwards;
    std::size_t warm_up = 0;
    for (const ScheduleSlot& slot : order) {
      if (slot.task.pass == Pass::forward) {
        if (backwards.empty()) ++warm_up;
        forwards.push_back(slot.task);
      } else {
        backwards.push_back(slot.task);
      }
    }
    std::vector<ScheduleSlot> combined;
    combined.reserve(order.size());
    std::size_t f = 0, b = 0;
    for (; f < warm_up; ++f) combined.push_back({forwards[f], {}});
    for (; f < forwards.size(); ++f, ++b) combined.push_back({forwards[f], backwards[b]});
    for (; b < backwards.size(); ++b) combined.push_back({backwards[b], {}});
    order = std::move(combined);
  }
  return schedule;
}

void verify_schedule(const PipelineSchedule& schedule) {
  if (schedule.devices < 1 || schedule.micro_batches < 1 || schedule.chunks_per_device < 1) {
    throw ScheduleError(fmt::format(
        "a schedule needs at least 1 device, 1 micro-batch and 1 chunk per device, got {}, {} "
        "and {}",
        schedule.devices, schedule.micro_batches, schedule.chunks_per_device));
  }
  const bool two_chunks =
      schedule.kind == ScheduleKind::dualpipe || schedule.kind == ScheduleKind::dualpipev;
  if ((two_chunks && schedule.chunks_per_device != 2) ||
      (schedule.kind != ScheduleKind::interleaved && !two_chunks &&
       schedule.chunks_per_device != 1)) {
    throw ScheduleError(fmt::format("{} has {} chunks per device, got {}",
                                    config::to_string(schedule.kind), two_chunks ? 2 : 1,
                                    schedule.chunks_per_device));
  }
  if (schedule.kind == ScheduleKind::dualpipe && schedule.devices % 2 != 0) {
    throw ScheduleError(
        fmt::format("dualpipe needs an even number of pipeline stages, got {}", schedule.devices));
  }
  if (schedule.order.size() != index(schedule.devices)) {
    throw ScheduleError(fmt::format("the order lists {} devices, but the schedule has {}",
                                    schedule.order.size(), schedule.devices));
  }
  const int stages = schedule.model_stages();
  std::vector<std::vector<StageRef>> paths;
  paths.reserve(index(schedule.micro_batches));
  for (int m = 0; m < schedule.micro_batches; ++m) paths.push_back(schedule.forward_path(m));

  // Times each pass of each (micro-batch, model stage) appears, indexed by Pass.
  std::vector<std::array<int, 4>> seen(index(schedule.micro_batches * stages), {0, 0, 0, 0});
  for (int d = 0; d < schedule.devices; ++d) {
    const std::vector<ScheduleSlot>& order = schedule.order[index(d)];
    for (std::size_t i = 0; i < order.size(); ++i) {
      std::array<const PipelineTask*, 2> tasks{&order[i].task, nullptr};
      if (order[i].overlapped) tasks[1] = &*order[i].overlapped;
      for (const PipelineTask* task : tasks) {
        if (task == nullptr) continue;
        if (task->micro_batch < 0 || task->micro_batch >= schedule.micro_batches) {
          throw ScheduleError(fmt::format("device {} slot {}: micro-batch {} is not in 0..{}", d, i,
                                          task->micro_batch, schedule.micro_batches - 1));
        }
        if (task->chunk < 0 || task->chunk >= schedule.chunks_per_device) {
          throw ScheduleError(fmt::format("device {} slot {}: chunk {} is not in 0..{}", d, i,
                                          task->chunk, schedule.chunks_per_device - 1));
        }
        const StageRef where{d, task->chunk};
        const int stage = schedule.model_stage(where);
        if (!(paths[index(task->micro_batch)][index(stage)] == where)) {
          throw ScheduleError(fmt::format("device {} slot {}: {} is not on the path of mb {}", d, i,
                                          describe(*task, d), task->micro_batch));
        }
        int& count =
            seen[index(task->micro_batch * stages + stage)][static_cast<std::size_t>(task->pass)];
        if (++count > 1) {
          throw ScheduleError(
              fmt::format("device {} slot {}: {} runs a second time", d, i, describe(*task, d)));
        }
      }
    }
  }
  for (int m = 0; m < schedule.micro_batches; ++m) {
    for (int s = 0; s < stages; ++s) {
      const std::array<int, 4>& count = seen[index(m * stages + s)];
      const StageRef where = paths[index(m)][index(s)];
      const auto missing = [&](Pass pass) {
        return ScheduleError(fmt::format(
            "the order never runs {}", describe(PipelineTask{pass, m, where.chunk}, where.device)));
      };
      const int full = count[static_cast<std::size_t>(Pass::backward)];
      const int input = count[static_cast<std::size_t>(Pass::backward_input)];
      const int weight = count[static_cast<std::size_t>(Pass::backward_weight)];
      if (count[static_cast<std::size_t>(Pass::forward)] == 0) throw missing(Pass::forward);
      if (full == 1 && (input == 1 || weight == 1)) {
        throw ScheduleError(
            fmt::format("{} runs a full backward and a split one",
                        describe(PipelineTask{Pass::backward, m, where.chunk}, where.device)));
      }
      if (full == 0 && input == 0 && weight == 0) throw missing(Pass::backward);
      if (full == 0 && input == 0) throw missing(Pass::backward_input);
      if (full == 0 && weight == 0) throw missing(Pass::backward_weight);
    }
  }
}

}  // namespace clustersim::parallel
