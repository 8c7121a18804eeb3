#include "sim/parallel/step_simulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <set>
#include <stdexcept>
#include <tuple>

#include <fmt/format.h>

#include "sim/collectives/collective.hpp"
#include "sim/collectives/expert_parallel.hpp"
#include "sim/compute/compute_model.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/parallel/parallel_layout.hpp"
#include "sim/parallel/userbuffers.hpp"
#include "sim/workload/layer_workload.hpp"

namespace clustersim::parallel {

namespace {

constexpr double kBf16Bytes = 2;

// The SMs compute keeps where communication runs beside it: all but those DeepEP holds
// (parallelism.comm_sms) and, when the stack overlaps the MoE all-to-all through NCCL (Megatron-
// Core's combined 1F1B with its all-to-all dispatcher), NCCL's channels, one SM each.
int shared_sms(const config::Experiment& e) {
  const bool nccl_overlap = e.stack.overlap.moe_all_to_all && e.model.moe && e.parallelism.ep > 1 &&
                            e.stack.dispatcher != config::MoeDispatcher::deepep;
  const int nccl =
      nccl_overlap && e.hardware.communication ? e.hardware.communication->nccl_channels : 0;
  return std::max(1, e.hardware.gpu.sm_count - e.parallelism.comm_sms - nccl);
}

// The optimizer step of a device holding `local` parameters, `shard` of them its own to update, as
// its kernels in launch order: AdamW, which reads and writes the FP32 master weight and both
// moments, reads the gradient and, unless a kernel of its own copies it, writes the BF16 weight;
// and the stack's other passes (config::OptimizerSteps), each one memory-bound kernel. Under
// ZeRO-2 and -3 a device keeps only its shard's gradients, so only those are cleared; under ZeRO-3
// (FSDP) the gradients reach the optimizer without a copy (Megatron-Core distrib_optimizer.py
// leaves them to Megatron-FSDP).
std::vector<OptimizerKernel> optimizer_kernels(const config::Experiment& e,
                                               const compute::ComputeModel& model, double shard,
                                               double local) {
  const config::OptimizerSteps& steps = e.stack.optimizer;
  const double gradient = e.stack.gradient_bytes();
  const double main_gradient = steps.main_gradients ? 4 : gradient;
  const int zero = e.parallelism.zero;
  std::vector<OptimizerKernel> kernels;
  const auto pass = [&](const char* name, double parameters, double bytes) {
    if (parameters > 0) kernels.push_back({name, model.memory_time(parameters * bytes).seconds()});
  };
  if (steps.main_gradients && gradient != main_gradient && zero < 3) {
    pass("main_gradient_copy", shard, gradient + main_gradient);
  }
  if (steps.gradient_norm) pass("gradient_norm", shard, main_gradient);
  pass("adamw", shard,
       (4 + 2 * e.moment_bytes()) * 2 + main_gradient +
           (steps.separate_master_copy ? 0 : kBf16Bytes));
  if (steps.separate_master_copy) pass("master_weight_copy", shard, 4 + kBf16Bytes);
  if (steps.zero_gradients) pass("gradient_memset", zero >= 2 ? shard : local, gradient);
  return kernels;
}

struct LayerCost {
  BlockCost block;
  // Compute time by kernel class on the SMs communication leaves: forward, and backward with
  // its weight gradients (one micro-batch).
  std::map<std::string, double> forward_kernels, backward_kernels;
  // The GEMM time TP collectives can hide behind; under TE's userbuffers overlap each
  // overlapped linear's GEMMs too.
  TpLinearTimes tp;
  double attention_forward = 0, attention_backward = 0;  // the core attention, all SMs
  double forward = 0, backward_input = 0, weight = 0;
  double forward_shared = 0, backward_input_shared = 0, weight_shared = 0;
  double dense_parameters = 0, expert_parameters = 0;
  double dense_fp8_parameters = 0, expert_fp8_parameters = 0;  // of those, FP8 GEMMs' weights
  double forward_flops = 0;
};

// One pass of a layer: its kernels' seconds with every SM the pass may use and with the SMs
// communication leaves, and how many kernels it launches (a host that needs `host_s` to launch
// each keeps the GPU waiting when they are shorter than that).
struct PassTimes {
  double all = 0, shared = 0;
  int kernels = 0;
};

// `static_split`: the stack sizes its (persistent) GEMMs once for the SMs communication leaves,
// so they run on those even with no communication beside them.
LayerCost cost_of(const workload::LayerWorkload& layer, const compute::ComputeModel& model,
                  bool static_split, int shared_sms, double keys, const config::ModelCard& card,
                  double host_s) {
  LayerCost cost;
  using compute::OpPass;
  std::array<PassTimes, 3> totals{};
  for (const workload::Op& op : layer.ops) {
    const bool persistent = static_split && op.kind == workload::OpKind::gemm;
    const int all = persistent ? shared_sms : model.sm_count();
    std::array<double, 3> shared{};
    for (const OpPass pass : {OpPass::forward, OpPass::backward_input, OpPass::backward_weight}) {
      const auto p = static_cast<std::size_t>(pass);
      const std::vector<compute::KernelTime> on_shared =
          model.op_kernels(op, pass, shared_sms, keys);
      const std::vector<compute::KernelTime> on_all =
          all == shared_sms ? on_shared : model.op_kernels(op, pass, all, keys);
      for (const compute::KernelTime& k : on_all) {
        totals[p].all += k.time.seconds();
        ++totals[p].kernels;
        if (op.kind != workload::OpKind::attention) continue;
        if (pass == OpPass::forward) cost.attention_forward += k.time.seconds();
        if (pass == OpPass::backward_input) cost.attention_backward += k.time.seconds();
      }
      for (const compute::KernelTime& k : on_shared) {
        const double seconds = k.time.seconds();
        shared[p] += seconds;
        auto& by_class = pass == OpPass::forward ? cost.forward_kernels : cost.backward_kernels;
        by_class[std::string(k.kernel_class)] += seconds;
        const bool gemm = k.kernel_class.find("gemm") != std::string_view::npos;
        if (gemm) (pass == OpPass::forward ? cost.tp.all_forward : cost.tp.all_backward) += seconds;
      }
      totals[p].shared += shared[p];
    }
    if (op.tp_linear != workload::TpLinear::none) {
      const std::size_t linear = workload::tp_linear_index(op.tp_linear);
      const std::array<workload::GemmLaunch, 3> launches{op.forward_launch, op.input_grad_launch,
                                                         op.weight_grad_launch};
      for (const OpPass pass : {OpPass::forward, OpPass::backward_input, OpPass::backward_weight}) {
        const auto p = static_cast<std::size_t>(pass);
        cost.tp.gemm[linear][p] = model
                                      .gemm_time(compute::pass_shape(op, pass), launches[p],
                                                 shared_sms, pass == OpPass::backward_weight)
                                      .seconds();
      }
      cost.tp.overlapped[linear] = true;
    }
    // The routed experts run after the dispatch.
    const bool after_dispatch = op.name.starts_with("moe.experts") || op.name == "moe.sort" ||
                                op.name == "moe.unsort" || op.name == "moe.unpermute";
    (after_dispatch ? cost.block.mlp_forward : cost.block.pre_forward) += shared[0];
    (after_dispatch ? cost.block.mlp_backward : cost.block.pre_backward) += shared[1];
    (after_dispatch ? cost.block.mlp_weight : cost.block.pre_weight) += shared[2];
    cost.forward_flops += op.forward_flops;
    if (op.kind == workload::OpKind::gemm && !op.activation_operands) {
      const double weights = static_cast<double>(op.n) * static_cast<double>(op.k) * op.groups;
      const double fp8 = op.dtype == Dtype::fp8 ? weights : 0.0;
      if (op.name.starts_with("moe.experts")) {
        cost.expert_parameters += weights;
        cost.expert_fp8_parameters += fp8;
      } else {
        cost.dense_parameters += weights;
        cost.dense_fp8_parameters += fp8;
      }
    } else if (op.kind == workload::OpKind::router && op.forward_flops > 0 && card.moe) {
      cost.dense_parameters += static_cast<double>(card.hidden_size) * card.moe->experts;
    } else if (op.kind == workload::OpKind::embedding) {
      cost.dense_parameters += static_cast<double>(op.n) * static_cast<double>(op.k);
    }
  }
  // A pass whose kernels are shorter than the host needs to launch them takes the host's time.
  const auto host_bound = [&](const PassTimes& t, double seconds) {
    return std::max(seconds, t.kernels * host_s);
  };
  cost.forward = host_bound(totals[0], totals[0].all);
  cost.backward_input = host_bound(totals[1], totals[1].all);
  cost.weight = host_bound(totals[2], totals[2].all);
  cost.forward_shared = host_bound(totals[0], totals[0].shared);
  cost.backward_input_shared = host_bound(totals[1], totals[1].shared);
  cost.weight_shared = host_bound(totals[2], totals[2].shared);
  return cost;
}

void add(StageCost& stage, const LayerCost& layer) {
  for (const auto& [name, seconds] : layer.forward_kernels) stage.forward_kernels[name] += seconds;
  for (const auto& [name, seconds] : layer.backward_kernels)
    stage.backward_kernels[name] += seconds;
  stage.forward += layer.forward;
  stage.backward_input += layer.backward_input;
  stage.weight += layer.weight;
  stage.forward_shared += layer.forward_shared;
  stage.backward_input_shared += layer.backward_input_shared;
  stage.weight_shared += layer.weight_shared;
  stage.dense_parameters += layer.dense_parameters;
  stage.expert_parameters += layer.expert_parameters;
  stage.dense_fp8_parameters += layer.dense_fp8_parameters;
  stage.expert_fp8_parameters += layer.expert_fp8_parameters;
  stage.forward_flops += layer.forward_flops;
}

fabric::Topology build_topology(const config::Experiment& e) {
  return fabric::build_cluster(cluster_topology_spec(e),
                               {e.cluster.nodes, e.cluster.gpus_per_node, &e.hardware});
}

std::vector<fabric::VertexId> vertices(const fabric::Topology& topology,
                                       const std::vector<int>& gpus) {
  std::vector<fabric::VertexId> out;
  for (int g : gpus) out.push_back(topology.gpus().at(static_cast<std::size_t>(g)));
  return out;
}

// The flows of `log` between GPUs of `gpus` (the representative group's, when every group ran).
void keep_within(std::vector<collectives::FlowRecord>& log,
                 const std::vector<fabric::VertexId>& gpus) {
  const std::set<fabric::VertexId> members(gpus.begin(), gpus.end());
  std::erase_if(log, [&](const collectives::FlowRecord& flow) {
    return !members.contains(flow.from) || !members.contains(flow.to);
  });
}

// Each group `group_of` makes from `members`, once: a GPU already in a group made before is
// skipped. The groups keep `group_of`'s rank order.
template <class GroupOf>
std::vector<std::vector<int>> distinct_groups(int gpus, const std::vector<int>& members,
                                              const GroupOf& group_of) {
  std::vector<std::vector<int>> groups;
  std::vector<char> seen(static_cast<std::size_t>(gpus), 0);
  for (int gpu : members) {
    if (seen[static_cast<std::size_t>(gpu)]) continue;
    std::vector<int> group = group_of(gpu);
    for (int g : group) seen[static_cast<std::size_t>(g)] = 1;
    groups.push_back(std::move(group));
  }
  return groups;
}

// The pairs of neighbours in each group, in order: a chain's (a pipeline's stages), or with
// `ring` a ring's, the last back to the first.
std::vector<std::vector<int>> neighbour_pairs(const std::vector<std::vector<int>>& groups,
                                              bool ring) {
  std::vector<std::vector<int>> pairs;
  for (const std::vector<int>& group : groups) {
    const std::size_t count = ring ? group.size() : group.size() - 1;
    for (std::size_t i = 0; i < count; ++i) {
      pairs.push_back({group[i], group[(i + 1) % group.size()]});
    }
  }
  return pairs;
}

// A slot alone: its compute and communication one after the other.
double lone_seconds(const StageCost& c, Pass pass) {
  switch (pass) {
    case Pass::forward:
      return c.forward + c.ep_forward + c.tp_forward + c.cp_forward;
    case Pass::backward:
      return c.backward_input + c.weight + c.ep_backward + c.tp_backward + c.cp_backward;
    case Pass::backward_input:
      return c.backward_input + c.ep_backward + c.tp_backward + c.cp_backward;
    case Pass::backward_weight:
      return c.weight;
  }
  return 0.0;
}

// The load of a stage: its lone forward and full backward.
double stage_load(const StageCost& c) {
  return lone_seconds(c, Pass::forward) + lone_seconds(c, Pass::backward);
}

// Moves layers between neighbouring stages, one at a time, while that lowers the sum of the
// squared device loads (which evens them out without the plateaus of the largest one), starting
// from `split`.
template <class Build>
std::vector<int> balance_stage_layers(const PipelineSchedule& schedule, std::vector<int> split,
                                      const Build& build) {
  const auto score = [&](const std::vector<int>& candidate) {
    const std::vector<StageCost> stages = build(candidate);
    double squares = 0;
    const bool dual =
        schedule.kind == config::Schedule::dualpipe || schedule.kind == config::Schedule::dualpipev;
    for (int device = 0; device < schedule.devices; ++device) {
      const auto stage = [&](int chunk) -> const StageCost& {
        return stages.at(static_cast<std::size_t>(schedule.model_stage({device, chunk})));
      };
      double load = 0;
      if (dual) {
        // DualPipe spends most of its time in F&B slots pairing the device's two stages.
        load = overlapped_slot_seconds(stage(0), stage(1), true) +
               overlapped_slot_seconds(stage(1), stage(0), true);
      } else {
        for (int chunk = 0; chunk < schedule.chunks_per_device; ++chunk)
          load += stage_load(stage(chunk));
      }
      squares += load * load;
    }
    return squares;
  };
  auto best = score(split);
  for (bool improved = true; improved;) {
    improved = false;
    std::vector<int> best_split = split;
    for (std::size_t s = 0; s + 1 < split.size(); ++s) {
      for (const auto& [from, to] : {std::pair{s, s + 1}, std::pair{s + 1, s}}) {
        if (split[from] <= 1) continue;
        std::vector<int> candidate = split;
        --candidate[from];
        ++candidate[to];
        const auto candidate_score = score(candidate);
        if (candidate_score < best) {
          best = candidate_score;
          best_split = candidate;
          improved = true;
        }
      }
    }
    split = best_split;
  }
  return split;
}

// The blocks of model stage `s` under `split`, in forward order: the embedding on the first
// stage, its layers, and the MTP modules and the head on the last.
template <class Part>
std::vector<const Part*> stage_parts(const std::vector<int>& split, std::size_t s,
                                     const Part& embedding, const std::vector<Part>& layers,
                                     const Part& mtp, int mtp_modules, const Part& head) {
  std::vector<const Part*> parts;
  if (s == 0) parts.push_back(&embedding);
  int first_layer = 0;
  for (std::size_t before = 0; before < s; ++before) first_layer += split[before];
  for (int layer = first_layer; layer < first_layer + split[s]; ++layer) {
    parts.push_back(&layers[static_cast<std::size_t>(layer)]);
  }
  if (s + 1 == split.size()) {
    for (int m = 0; m < mtp_modules; ++m) parts.push_back(&mtp);
    parts.push_back(&head);
  }
  return parts;
}

}  // namespace

std::vector<OverlapTask> overlapped_slot_timeline(const StageCost& forward,
                                                  const StageCost& backward, bool with_weight) {
  std::vector<OverlapTask> tasks;
  std::vector<int> after;  // the previous task of each task's chain, or -1
  std::array<std::vector<std::size_t>, 2> order;
  int forward_last = -1;
  int backward_last = -1;
  const auto push = [&](int& chain, OverlapTask::Stream stream, double seconds, const char* name,
                        std::size_t block) {
    tasks.push_back({stream, fmt::format("{} {}", name, block), 0, seconds});
    after.push_back(chain);
    chain = static_cast<int>(tasks.size()) - 1;
    order[stream].push_back(tasks.size() - 1);
  };
  using enum OverlapTask::Stream;
  const std::size_t blocks = std::max(forward.blocks.size(), backward.blocks.size());
  for (std::size_t k = 0; k < blocks; ++k) {
    const BlockCost* f = k < forward.blocks.size() ? &forward.blocks[k] : nullptr;
    // The backward chain walks its stage's blocks from the last one.
    const std::size_t kb = backward.blocks.size() - 1 - k;
    const BlockCost* b = k < backward.blocks.size() ? &backward.blocks[kb] : nullptr;
    const double w = with_weight ? 1 : 0;
    // Within a pair each stream's order is the one listed in the header.
    if (b) push(backward_last, communication, b->combine_gradient, "B combine", kb);
    if (f) push(forward_last, compute, f->pre_forward, "F attention", k);
    if (f) push(forward_last, communication, f->dispatch, "F dispatch", k);
    if (b) push(backward_last, compute, b->mlp_backward + w * b->mlp_weight, "B experts", kb);
    if (b) push(backward_last, communication, b->dispatch_gradient, "B dispatch", kb);
    if (f) push(forward_last, compute, f->mlp_forward, "F experts", k);
    if (f) push(forward_last, communication, f->combine, "F combine", k);
    if (b) push(backward_last, compute, b->pre_backward + w * b->pre_weight, "B attention", kb);
  }
  std::vector<double> finish(tasks.size(), -1);
  std::array<std::size_t, 2> next{0, 0};
  std::array<double, 2> free_at{0, 0};
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t stream = 0; stream < 2; ++stream) {
      while (next[stream] < order[stream].size()) {
        const std::size_t id = order[stream][next[stream]];
        double ready = free_at[stream];
        if (after[id] >= 0) {
          const double dependency = finish[static_cast<std::size_t>(after[id])];
          if (dependency < 0) break;  // its chain's previous task has not run yet
          ready = std::max(ready, dependency);
        }
        tasks[id].start_s = ready;
        finish[id] = ready + tasks[id].seconds;
        free_at[stream] = finish[id];
        ++next[stream];
        progress = true;
      }
    }
  }
  if (next[0] != order[0].size() || next[1] != order[1].size()) {
    throw std::logic_error("overlapped slot: the stream orders contradict the chains");
  }
  return tasks;
}

double overlapped_slot_seconds(const StageCost& forward, const StageCost& backward,
                               bool with_weight) {
  double end = 0;
  for (const OverlapTask& task : overlapped_slot_timeline(forward, backward, with_weight)) {
    end = std::max(end, task.start_s + task.seconds);
  }
  return end;
}

namespace {

// One simulated step, in the order the work happens: communication on the fabric, block and
// stage costs, the pipeline on the engine, the data-parallel tail, and the phases.
class StepSimulation {
 public:
  StepSimulation(const config::Experiment& e, const StepOptions& options);

  StepResult run() &&;

 private:
  // A block (embedding, layer, MTP module, head) of one micro-batch.
  struct PartCost {
    LayerCost cost;
    bool moe = false;
    bool layer_like = false;  // a transformer layer, with its TP and CP collectives
  };

  // The TP collectives of one layer's backward: its input gradients' all-reduces, the
  // sequence-parallel re-gathers unless the stack hides them, and with full recomputation the
  // recomputed forward's all-reduces again.
  [[nodiscard]] double tp_backward_layer() const {
    const bool full = e_.training.recompute == config::RecomputeMode::full;
    return tp_layer_ + (e_.stack.overlap.sp_gather ? 0 : sp_gather_) + (full ? tp_layer_ : 0);
  }
  // One MoE layer's all-to-alls: forward dispatch and combine; backward the gradients, moving
  // the same tokens back in BF16 both ways (as long as a combine each), after the forward's
  // dispatch and combine again when the backward recomputes the layer.
  [[nodiscard]] double ep_forward_layer() const {
    return result_.ep_dispatch_s + result_.ep_combine_s;
  }
  [[nodiscard]] double ep_backward_layer() const {
    return 2 * result_.ep_combine_s + ep_recomputed();
  }
  // The recomputed forward's dispatch and combine (none unless the MoE layer is recomputed).
  [[nodiscard]] double ep_recomputed() const {
    return options_.recomputes("moe") ? ep_forward_layer() : 0.0;
  }
  // The bytes an all-gather of `parameters` moves: BF16, or with the stack's fp8_param_gather the
  // `fp8` of them that are FP8 GEMMs' weights in one byte each.
  [[nodiscard]] double gathered_bytes(double parameters, double fp8) const {
    return kBf16Bytes * parameters - (e_.stack.optimizer.fp8_param_gather ? fp8 : 0.0);
  }
  // What of `tp` seconds of TP communication stays exposed: all of it, or with the stack's TP
  // overlap what outlasts the GEMMs it hides behind.
  [[nodiscard]] double tp_exposed(double tp, double gemm) const {
    return e_.stack.overlap.tp ? std::max(0.0, tp - gemm) : tp;
  }
  // The TP communication one layer's forward (and backward, with its weight gradients) leaves
  // exposed: under TE's userbuffers overlap GEMM by GEMM (userbuffers.hpp), otherwise the
  // layer's collectives against all its GEMMs.
  [[nodiscard]] double tp_forward_exposed(const LayerCost& c) const {
    return ub_ ? ub_->forward(c.tp) : tp_exposed(tp_layer_, c.tp.all_forward);
  }
  [[nodiscard]] double tp_backward_exposed(const LayerCost& c) const {
    if (!ub_) return tp_exposed(tp_backward_layer(), c.tp.all_backward);
    const bool full = e_.training.recompute == config::RecomputeMode::full;
    return ub_->backward(c.tp) + (full ? ub_->forward(c.tp) : 0);
  }
  // Which groups of a pipeline rank run a communication at once (StepTraffic placements): the
  // rank's GPUs as a whole (the EP groups of a stage), each of its TP, ETP, DP or EDP groups,
  // every edge of its CP rings, or every GPU with its counterpart on another rank (pipeline
  // transfers).
  enum class Copies { stage, tp_groups, etp_groups, dp_groups, edp_groups, cp_ring, pp_pairs };
  // A communication simulated once, for the link report.
  struct Communication {
    Copies copies = Copies::stage;
    int pattern = -1;               // -1: not simulated, or no link report asked for
    double bytes = 0;               // the size it was simulated at
    double flow_bytes = 0;          // the bytes of all its flows
    std::vector<int> gpus;          // the representative GPUs
    std::map<int, int> placements;  // by pipeline rank (pp_pairs: from * pp + to)
  };

  void note(Communication& c, Copies copies, const std::vector<collectives::FlowRecord>& flows,
            std::vector<int> gpus, double bytes);
  [[nodiscard]] std::vector<collectives::FlowRecord>* flow_log() {
    return traffic_ ? &flow_log_ : nullptr;
  }
  [[nodiscard]] const std::vector<int>& rank_gpus(int pp_rank);
  [[nodiscard]] int placement(Communication& c, int pp_rank, int to_rank = 0);
  // `c` runs `count` times on pipeline rank `pp_rank` (to `to_rank`) during [start_s, end_s],
  // each with `size` times its simulated bytes.
  void add_run(Communication& c, int pp_rank, double count, double size, double start_s,
               double end_s, int to_rank = 0);
  // A data-parallel collective of `bytes` taking `seconds` on `pp_rank`, from `start_s`.
  void add_data_parallel_run(collectives::Operation op, const std::vector<int>& group, int pp_rank,
                             double bytes, double seconds, double start_s);
  // The communications of one task of a slot on `pp_rank` during [start_s, end_s].
  void add_task_runs(int pp_rank, const StageCost& c, Pass pass, double start_s, double end_s);
  // Every run of the step, then the link report.
  void record_traffic();

  void simulate_communication();
  void cost_blocks();
  [[nodiscard]] std::vector<StageCost> build_stages(const std::vector<int>& split) const;
  // One collective over `gpus` on the cluster, with NCCL's copy engines and the experiment's
  // departure batching; its flows are counted in result_.flows. With `flow_log`, the
  // collective's flows go there (for the link report), those of `gpus` alone. `others`: groups
  // that run the same collective at the same time (every-replica mode).
  double collective_time(collectives::Operation operation, collectives::Algorithm algorithm,
                         double bytes, const std::vector<int>& gpus,
                         std::vector<collectives::FlowRecord>* flow_log = nullptr,
                         const std::vector<std::vector<int>>& others = {});
  // A data-parallel collective over `group` (dp_group_ or edp_group_), simulated once per size.
  double timed(collectives::Operation op, double bytes, const std::vector<int>& group);
  void add_zero3_traffic();
  [[nodiscard]] const StageCost& stage_cost(StageRef where) const;
  // A slot's work (compute and the communication on its critical path) and its ZeRO-3 gathers
  // and reductions; slot_duration combines them as the stack's DP overlap says.
  struct SlotParts {
    double work = 0;
    double zero3 = 0;
  };
  [[nodiscard]] SlotParts slot_parts(StageRef where, const ScheduleSlot& slot) const;
  [[nodiscard]] SimTime slot_duration(StageRef where, const ScheduleSlot& slot) const;
  // What of a slot's ZeRO-3 traffic its compute does not hide: all of it without the stack's DP
  // overlap, what outlasts the work with it.
  [[nodiscard]] double zero3_exposed(const SlotParts& parts) const {
    return e_.stack.overlap.dp ? std::max(0.0, parts.zero3 - parts.work) : parts.zero3;
  }
  void run_pipeline_schedule();
  // A chunk's last backward task on its device: the slot it ran in.
  struct LastBackward {
    double start = 0, end = 0;
    Pass pass = Pass::backward;
    bool overlapped = false;  // beside another task (DualPipe's F&B, the combined 1F1B)
  };
  // Parameters whose gradients reduce together, and when the backward pass has produced them.
  struct GradientBucket {
    double dense = 0, experts = 0;
    double ready = 0;
  };
  // The stack's gradient buckets of `chunk` on `device`, in the order they are ready.
  [[nodiscard]] std::vector<GradientBucket> gradient_buckets(int device, int chunk,
                                                             const StageCost& c,
                                                             const LastBackward& last) const;
  void data_parallel_tail();
  void phases();
  // One layer's times, kernel time by class, and the chunk pair the published figures ask for.
  void kernel_report();

  const config::Experiment& e_;
  const config::ParallelismSpec& p_;
  const config::ModelCard& card_;
  StepResult result_;
  compute::ComputeModel model_;
  int shared_sms_;
  workload::WorkloadOptions options_;
  double keys_;
  ParallelLayout layout_;
  fabric::Topology topology_;
  collectives::CopyEngines nccl_;      // NCCL's channels and the profile's per-SM copy rates
  static constexpr int kFirstGpu = 0;  // every replica and group looks the same; use GPU 0's
  // Every-replica mode (simulation.symmetry: off): each communication runs on all its groups
  // at once, not on GPU 0's alone.
  bool every_replica_ = false;
  // In every-replica mode, every group `group_of` makes of the cluster's GPUs. Empty otherwise.
  template <class GroupOf>
  [[nodiscard]] std::vector<std::vector<int>> every_group(const GroupOf& group_of) const {
    if (!every_replica_) return {};
    std::vector<int> all(static_cast<std::size_t>(layout_.gpus()));
    std::iota(all.begin(), all.end(), 0);
    return distinct_groups(layout_.gpus(), all, group_of);
  }
  // In every-replica mode, the groups beside `representative` that run its communication at the
  // same time: every group but the representative itself. Empty otherwise.
  template <class GroupOf>
  [[nodiscard]] std::vector<std::vector<int>> others(const std::vector<int>& representative,
                                                     const GroupOf& group_of) const {
    std::vector<std::vector<int>> groups = every_group(group_of);
    std::erase(groups, representative);
    return groups;
  }
  double micro_batch_tokens_;
  double tp_layer_ = 0;                   // TP collectives of one layer and pass
  std::optional<UserBufferExposure> ub_;  // with TE's userbuffers overlap (options_.tp_overlap)
  double sp_gather_ = 0;  // sequence parallelism's re-gathers of the W pass, one layer
  double cp_hop_ = 0;     // one ring-attention hop
  PartCost embedding_, head_, mtp_;
  std::vector<PartCost> layers_;
  std::vector<int> dp_group_;
  std::vector<int> edp_group_;
  std::map<std::pair<double, int>, double> simulated_;  // (bytes, operation x group) -> seconds
  double dp_exposed_ = 0;
  // The link report, when asked for.
  StepOptions options_requested_;
  std::optional<StepTraffic> traffic_;
  std::vector<collectives::FlowRecord> flow_log_;  // the last simulation's flows
  Communication ep_dispatch_, ep_combine_, etp_gather_, etp_scatter_, tp_reduce_, sp_gather_comm_,
      cp_hop_comm_, pp_transfer_;
  std::map<int, Communication> data_parallel_;  // by operation x group, as `simulated_`
  std::vector<std::vector<int>> rank_gpus_;     // per pipeline rank, lazily
  // Pipeline transfers between devices: sender, receiver and the task whose output travels.
  std::vector<std::tuple<int, int, PipelineTask>> transfers_;
  // Blocking pipeline exchanges (the stack's overlap.pp false): the slots, by device and task,
  // that end with an exchange (of pp_transfer_s). An interleaved steady-state forward's output
  // leaves with the next backward's, after it; it is taken to arrive at the forward's end, which
  // changes nothing where the receiver still has its own exchange and slots to run first (the usual
  // case).
  using TaskKey = std::tuple<int, int, int, int>;  // device, pass, micro-batch, chunk
  static TaskKey key(int device, const PipelineTask& task) {
    return {device, static_cast<int>(task.pass), task.micro_batch, task.chunk};
  }
  std::set<TaskKey> exchanges_;
  void plan_blocking_exchanges();
};

ParallelLayout make_layout(const config::Experiment& e) {
  const config::ParallelismSpec& p = e.parallelism;
  std::array<Dimension, 4> order{Dimension::tp, Dimension::cp, Dimension::dp, Dimension::pp};
  for (std::size_t i = 0; i < p.rank_order.size() && i < order.size(); ++i) {
    for (Dimension d : {Dimension::tp, Dimension::cp, Dimension::dp, Dimension::pp}) {
      if (p.rank_order[i] == dimension_name(d)) order[i] = d;
    }
  }
  return ParallelLayout({p.tp, p.cp, static_cast<int>(p.dp), p.pp, p.ep, p.etp},
                        e.cluster.gpus_per_node, order);
}

StepSimulation::StepSimulation(const config::Experiment& e, const StepOptions& options)
    : e_(e),
      p_(e.parallelism),
      card_(e.model),
      model_(e.hardware),
      shared_sms_(shared_sms(e)),
      options_(workload::workload_options(e)),
      keys_(static_cast<double>(e.training.seq_len)),
      layout_(make_layout(e)),
      topology_(build_topology(e)),
      nccl_(collectives::nccl_copy_engines(e.hardware)),
      micro_batch_tokens_(static_cast<double>(e.parallelism.micro_batch_size * e.training.seq_len) /
                          e.parallelism.cp) {
  result_.gpus = static_cast<int>(e.cluster.gpus());
  result_.micro_batches = static_cast<int>(e.training.micro_batches(p_));
  result_.tokens_per_step = e.training.global_batch_size * e.training.seq_len;
  if (result_.micro_batches < 1) {
    throw std::invalid_argument(fmt::format(
        "global batch {} gives no micro-batch of {} sequences on {} data-parallel ranks",
        e.training.global_batch_size, p_.micro_batch_size, p_.dp));
  }
  dp_group_ = layout_.dp_cp_group(kFirstGpu);
  edp_group_ = layout_.edp_group(kFirstGpu);
  every_replica_ = e.simulation.symmetry == config::Symmetry::off;
  // The network for its cost: counts, inventory, and the bisection where the graph is small
  // enough to cut in a moment (run reports $ per Tb/s of it).
  result_.network = fabric::measure(topology_, fabric::StatsOptions{16, 400'000});
  options_requested_ = options;
  if (options.link_traffic || options.link_rows) traffic_.emplace(topology_);
}

StepResult StepSimulation::run() && {
  simulate_communication();
  cost_blocks();
  run_pipeline_schedule();
  data_parallel_tail();
  phases();
  kernel_report();
  record_traffic();
  config::Experiment placed = e_;
  placed.parallelism.stage_layers = result_.stage_layers;
  result_.memory = workload::estimate_memory(placed);
  return std::move(result_);
}

void StepSimulation::simulate_communication() {
  if (card_.moe && p_.ep > 1) {
    collectives::ExpertParallelSpec ep;
    std::vector<int> stage_gpus;
    for (const std::vector<int>& group : layout_.ep_groups(0)) {
      stage_gpus.insert(stage_gpus.end(), group.begin(), group.end());
    }
    // Every replica: the EP groups of every pipeline stage exchange at once.
    std::vector<int> exchanging = stage_gpus;
    for (int stage = 1; every_replica_ && stage < p_.pp; ++stage) {
      for (const std::vector<int>& group : layout_.ep_groups(stage)) {
        exchanging.insert(exchanging.end(), group.begin(), group.end());
      }
    }
    ep.ranks = vertices(topology_, exchanging);
    ep.group_size = p_.ep;
    ep.tokens_per_rank = static_cast<int>(micro_batch_tokens_ / p_.tp);
    ep.hidden = static_cast<int>(card_.hidden_size);
    ep.experts = card_.moe->experts;
    ep.top_k = card_.moe->top_k;
    ep.comm_sms = p_.comm_sms;
    collectives::set_copy_rates(ep, e_.hardware);
    ep.bf16_dispatch =
        e_.stack.dispatch_dtype == Dtype::bf16 || e_.training.precision == config::Precision::bf16;
    // A plain all-to-all sends every token-expert pair to its GPU, with no per-node forwarding.
    ep.low_latency = e_.stack.dispatcher != config::MoeDispatcher::deepep;
    ep.per_pair = ep.low_latency;
    ep.imbalance = e_.training.moe_zipf;
    ep.record_flows = traffic_.has_value();
    ep.departure_batching = e_.simulation.departure_batching;
    const int nodes = layout_.nodes_spanned(layout_.ep_group(kFirstGpu));
    ep.max_nodes =
        card_.moe->groups > 1
            ? std::clamp(card_.moe->max_groups_per_token * nodes / card_.moe->groups, 1, nodes)
            : nodes;
    collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology_, ep);
    if (every_replica_) {
      // The link report places stage 0's exchange on every stage, as in the symmetric mode.
      keep_within(r.dispatch.flow_log, vertices(topology_, stage_gpus));
      keep_within(r.combine.flow_log, vertices(topology_, stage_gpus));
    }
    result_.ep_dispatch_s = r.dispatch.time.seconds();
    result_.ep_combine_s = r.combine.time.seconds();
    // Megatron-Core's all-to-all dispatcher first all-gathers every EP rank's tokens per expert
    // (token_dispatcher.py, MoEAlltoAllTokenDispatcher.preprocess: the int64 counts, through
    // gather_from_sequence_parallel_region), for the all-to-all's splits; DeepEP's kernels
    // exchange their layout themselves.
    if (e_.stack.dispatcher == config::MoeDispatcher::all_to_all) {
      const std::vector<int> ep_group = layout_.ep_group(kFirstGpu);
      const double counts = 8.0 * card_.moe->experts * static_cast<double>(ep_group.size());
      result_.ep_count_gather_s = collective_time(
          collectives::Operation::all_gather, collectives::Algorithm::ring, counts, ep_group,
          nullptr, others(ep_group, [&](int gpu) { return layout_.ep_group(gpu); }));
      result_.ep_dispatch_s += result_.ep_count_gather_s;
    }
    result_.flows += r.dispatch.flows + r.combine.flows;
    note(ep_dispatch_, Copies::stage, r.dispatch.flow_log, stage_gpus, 0);
    note(ep_combine_, Copies::stage, r.combine.flow_log, stage_gpus, 0);
    if (p_.etp > 1) {
      // Expert tensor parallelism: the etp ranks of an expert all-gather the pairs they received
      // before the experts (BF16) and reduce-scatter the experts' partial outputs after them.
      const double pairs = micro_batch_tokens_ / p_.tp * card_.moe->top_k;
      const double bytes = pairs * p_.etp * static_cast<double>(card_.hidden_size) * kBf16Bytes;
      const std::vector<int> etp_group = layout_.etp_group(kFirstGpu);
      const std::vector<std::vector<int>> etp_others =
          others(etp_group, [&](int gpu) { return layout_.etp_group(gpu); });
      const double gather =
          collective_time(collectives::Operation::all_gather, collectives::Algorithm::ring, bytes,
                          etp_group, flow_log(), etp_others);
      note(etp_gather_, Copies::etp_groups, flow_log_, etp_group, bytes);
      const double scatter =
          collective_time(collectives::Operation::reduce_scatter, collectives::Algorithm::ring,
                          bytes, etp_group, flow_log(), etp_others);
      note(etp_scatter_, Copies::etp_groups, flow_log_, etp_group, bytes);
      result_.ep_dispatch_s += gather;
      result_.ep_combine_s += scatter;
    }
  }
  if (p_.tp > 1) {
    // Two all-reduces of the layer's output per pass (Megatron: attention and MLP), or with
    // sequence parallelism a reduce-scatter and an all-gather each: the same bytes on a ring.
    const double bytes = micro_batch_tokens_ * static_cast<double>(card_.hidden_size) * kBf16Bytes;
    const std::vector<int> tp_group = layout_.group(kFirstGpu, Dimension::tp);
    const std::vector<std::vector<int>> tp_others =
        others(tp_group, [&](int gpu) { return layout_.group(gpu, Dimension::tp); });
    const double reduce =
        collective_time(collectives::Operation::all_reduce, collectives::Algorithm::ring, bytes,
                        tp_group, flow_log(), tp_others);
    note(tp_reduce_, Copies::tp_groups, flow_log_, tp_group, bytes);
    tp_layer_ = 2 * reduce;
    // Sequence parallelism keeps the split input of the QKV and first FFN GEMMs: their weight
    // gradients all-gather it again (Korthikanti et al. 2022 §4.2.2).
    if (p_.sequence_parallel) {
      const double gather =
          collective_time(collectives::Operation::all_gather, collectives::Algorithm::ring, bytes,
                          tp_group, flow_log(), tp_others);
      note(sp_gather_comm_, Copies::tp_groups, flow_log_, tp_group, bytes);
      sp_gather_ = 2 * gather;
    }
    if (options_.tp_overlap) {
      // TE's userbuffers: all-gathered inputs travel in FP8 with FP8 GEMMs (its fp8_buf for the
      // all-gather overlaps), outputs and their partial sums in BF16. A ring exchange sends a
      // slice to the ring neighbour while every rank of the group does the same.
      const bool fp8 = e_.training.precision == config::Precision::fp8;
      const double gathered = fp8 ? bytes / kBf16Bytes : bytes;
      std::vector<std::vector<int>> ring = neighbour_pairs(
          every_group([&](int gpu) { return layout_.group(gpu, Dimension::tp); }), true);
      if (!every_replica_) ring = neighbour_pairs({tp_group}, true);
      std::erase(ring, std::vector<int>{tp_group[0], tp_group[1]});
      const auto send = [&](double slice) {
        return collective_time(collectives::Operation::send_recv, collectives::Algorithm::direct,
                               slice, {tp_group[0], tp_group[1]}, nullptr, ring);
      };
      UserBufferCollectives ub;
      ub.slice_send_gather = send(gathered / p_.tp);
      ub.slice_send_scatter = send(bytes / p_.tp);
      ub.sum_partials = model_.memory_time(bytes / p_.tp * (p_.tp + 1)).seconds();
      ub.all_gather =
          collective_time(collectives::Operation::all_gather, collectives::Algorithm::ring,
                          gathered, tp_group, nullptr, tp_others);
      ub.reduce_scatter =
          collective_time(collectives::Operation::reduce_scatter, collectives::Algorithm::ring,
                          bytes, tp_group, nullptr, tp_others);
      ub.layer = tp_layer_;
      ub.regather = e_.stack.overlap.sp_gather ? 0 : sp_gather_;
      ub_.emplace(*options_.tp_overlap, p_.tp, shared_sms_, ub);
    }
  }
  // Context parallelism (ring attention): each layer passes every rank's keys and values around
  // the cp ring, cp - 1 hops forward and twice that backward (keys and values again, then their
  // gradients), each hop overlapping one step of the attention; what outlasts the attention is
  // exposed. Keys and values are BF16, split over tp by heads.
  if (p_.cp > 1) {
    const config::AttentionSpec& a = card_.attention;
    const double kv_width = a.type == config::AttentionType::mla
                                ? static_cast<double>(a.heads) *
                                      (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim)
                                : 2.0 * a.kv_heads * a.head_dim;
    const std::vector<int> cp_group = layout_.group(kFirstGpu, Dimension::cp);
    const double bytes = micro_batch_tokens_ * kv_width * kBf16Bytes / p_.tp;
    // Every replica: every hop of every ring at once, beside the one timed.
    std::vector<std::vector<int>> hops = neighbour_pairs(
        every_group([&](int gpu) { return layout_.group(gpu, Dimension::cp); }), true);
    std::erase(hops, std::vector<int>{cp_group[0], cp_group[1]});
    cp_hop_ = collective_time(collectives::Operation::send_recv, collectives::Algorithm::direct,
                              bytes, {cp_group[0], cp_group[1]}, flow_log(), hops);
    note(cp_hop_comm_, Copies::cp_ring, flow_log_, {cp_group[0], cp_group[1]}, bytes);
  }
  if (p_.pp > 1) {
    const std::vector<int> pp_group = layout_.group(kFirstGpu, Dimension::pp);
    const double bytes =
        micro_batch_tokens_ * static_cast<double>(card_.hidden_size) * kBf16Bytes / p_.tp;
    // Every replica: every GPU sends to the next stage at once, beside the pair timed.
    std::vector<std::vector<int>> sends = neighbour_pairs(
        every_group([&](int gpu) { return layout_.group(gpu, Dimension::pp); }), false);
    std::erase(sends, std::vector<int>{pp_group[0], pp_group[1]});
    result_.pp_transfer_s =
        collective_time(collectives::Operation::send_recv, collectives::Algorithm::direct, bytes,
                        {pp_group[0], pp_group[1]}, flow_log(), sends);
    note(pp_transfer_, Copies::pp_pairs, flow_log_, {pp_group[0], pp_group[1]}, bytes);
  }
}

void StepSimulation::cost_blocks() {
  const auto part_cost = [&](const workload::LayerWorkload& part) {
    PartCost out{cost_of(part, model_, e_.stack.static_sm_split, shared_sms_, keys_, card_,
                         e_.stack.kernel_host_overhead.seconds()),
                 part.moe, part.ops.size() > 2};
    if (part.moe) {
      out.cost.block.dispatch = result_.ep_dispatch_s;
      out.cost.block.combine = result_.ep_combine_s;
      // The gradients travel back the same routes in BF16: as long as a combine each way. A
      // recomputed layer dispatches and combines again first.
      out.cost.block.combine_gradient = result_.ep_combine_s + ep_recomputed();
      out.cost.block.dispatch_gradient = result_.ep_combine_s;
    }
    return out;
  };
  embedding_ = part_cost(workload::embedding_workload(card_, options_));
  head_ = part_cost(workload::head_workload(card_, options_));
  // A tied output head multiplies by the embedding's table: on a single stage that is one
  // parameter, its gradient reduced once (with a pipeline the last stage keeps a copy of its own).
  if (card_.tied_embeddings && !workload::tied_head_has_own_copy(e_)) {
    head_.cost.dense_parameters -= embedding_.cost.dense_parameters;
  }
  mtp_ = part_cost(workload::mtp_workload(card_, options_));
  for (int layer = 0; layer < card_.layers; ++layer) {
    layers_.push_back(part_cost(workload::layer_workload(card_, layer, options_)));
  }
}

std::vector<StageCost> StepSimulation::build_stages(const std::vector<int>& split) const {
  std::vector<StageCost> stages;
  for (std::size_t s = 0; s < split.size(); ++s) {
    StageCost stage;
    stage.stage = static_cast<int>(s);
    stage.layers = split[s];
    for (const PartCost* part :
         stage_parts(split, s, embedding_, layers_, mtp_, card_.mtp_modules, head_)) {
      stage.blocks.push_back(part->cost.block);
      stage.block_parameters.push_back({part->cost.dense_parameters, part->cost.expert_parameters,
                                        part->cost.dense_fp8_parameters,
                                        part->cost.expert_fp8_parameters});
      add(stage, part->cost);
      if (part->moe) {
        stage.moe = true;
        ++stage.moe_blocks;
        stage.ep_forward += ep_forward_layer();
        stage.ep_backward += ep_backward_layer();
      }
      if (part->layer_like) {
        ++stage.layer_blocks;
        stage.tp_forward += tp_forward_exposed(part->cost);
        stage.tp_backward += tp_backward_exposed(part->cost);
        const double ring = (p_.cp - 1) * cp_hop_;
        stage.cp_forward += std::max(0.0, ring - part->cost.attention_forward);
        stage.cp_backward += std::max(0.0, 2 * ring - part->cost.attention_backward);
      }
    }
    stages.push_back(stage);
  }
  return stages;
}

double StepSimulation::collective_time(collectives::Operation operation,
                                       collectives::Algorithm algorithm, double bytes,
                                       const std::vector<int>& gpus,
                                       std::vector<collectives::FlowRecord>* flow_log,
                                       const std::vector<std::vector<int>>& others) {
  if (flow_log != nullptr) flow_log->clear();
  if (gpus.size() < 2 || bytes <= 0) return 0;
  collectives::CollectiveSpec spec;
  spec.operation = operation;
  spec.algorithm = algorithm;
  spec.bytes = bytes;
  spec.ranks = vertices(topology_, gpus);
  spec.copy = nccl_;
  spec.departure_batching = e_.simulation.departure_batching;
  spec.record_flows = flow_log != nullptr;
  for (const std::vector<int>& group : others) {
    spec.concurrent.push_back(vertices(topology_, group));
  }
  collectives::CollectiveResult result = collectives::run_collective(topology_, spec);
  result_.flows += result.flows;
  if (flow_log != nullptr) {
    *flow_log = std::move(result.flow_log);
    if (!others.empty()) keep_within(*flow_log, spec.ranks);
  }
  return result.time.seconds();
}

double StepSimulation::timed(collectives::Operation op, double bytes,
                             const std::vector<int>& group) {
  const auto key = std::make_pair(bytes, static_cast<int>(op) * 2 + (&group == &dp_group_));
  if (const auto it = simulated_.find(key); it != simulated_.end()) return it->second;
  // Across nodes, hierarchical (NVLink inside each node, then one ring per local rank, each on
  // its own NIC), as NCCL spreads its channels over every NIC of the node; a single flat ring
  // would push all of the group's traffic through one NIC per node boundary. Within a node, or
  // when the nodes hold unequal shares of the group, a ring.
  std::map<int, int> per_node;
  for (int gpu : group) ++per_node[layout_.node_of(gpu)];
  const bool even = std::all_of(per_node.begin(), per_node.end(), [&](const auto& entry) {
    return entry.second == per_node.begin()->second;
  });
  const collectives::Algorithm algorithm = per_node.size() > 1 && even
                                               ? collectives::Algorithm::hierarchical
                                               : collectives::Algorithm::ring;
  // The first simulation of each operation and group is the pattern the link report scales.
  const int family = key.second;
  const bool first = traffic_ && !data_parallel_.contains(family);
  const bool data_parallel = &group == &dp_group_;
  const double seconds = collective_time(
      op, algorithm, bytes, group, first ? flow_log() : nullptr, others(group, [&](int gpu) {
        return data_parallel ? layout_.dp_cp_group(gpu) : layout_.edp_group(gpu);
      }));
  if (first && !flow_log_.empty()) {
    note(data_parallel_[family], &group == &dp_group_ ? Copies::dp_groups : Copies::edp_groups,
         flow_log_, group, bytes);
  }
  simulated_.emplace(key, seconds);
  return seconds;
}

void StepSimulation::note(Communication& c, Copies copies,
                          const std::vector<collectives::FlowRecord>& flows, std::vector<int> gpus,
                          double bytes) {
  if (!traffic_ || flows.empty()) return;
  c.copies = copies;
  c.bytes = bytes;
  c.flow_bytes = 0;
  for (const collectives::FlowRecord& flow : flows) c.flow_bytes += flow.bytes;
  c.pattern = traffic_->add_pattern(flows, vertices(topology_, gpus));
  c.gpus = std::move(gpus);
}

const std::vector<int>& StepSimulation::rank_gpus(int pp_rank) {
  if (rank_gpus_.empty()) {
    rank_gpus_.resize(static_cast<std::size_t>(p_.pp));
    for (int g = 0; g < layout_.gpus(); ++g) {
      rank_gpus_[static_cast<std::size_t>(layout_.coordinates(g).pp)].push_back(g);
    }
  }
  return rank_gpus_.at(static_cast<std::size_t>(pp_rank));
}

int StepSimulation::placement(Communication& c, int pp_rank, int to_rank) {
  const int key = c.copies == Copies::pp_pairs ? pp_rank * p_.pp + to_rank : pp_rank;
  if (const auto it = c.placements.find(key); it != c.placements.end()) return it->second;
  const auto on_rank = [&](int gpu, int rank) {
    RankCoordinates at = layout_.coordinates(gpu);
    at.pp = rank;
    return layout_.gpu(at);
  };
  std::vector<std::vector<int>> copies;
  const std::vector<int>& members = rank_gpus(pp_rank);
  // Each group of the rank once, its GPUs in rank order as the representative's.
  const auto each_group = [&](const auto& group_of) {
    copies = distinct_groups(layout_.gpus(), members, group_of);
  };
  switch (c.copies) {
    case Copies::stage: {
      std::vector<int> copy;
      for (int gpu : c.gpus) copy.push_back(on_rank(gpu, pp_rank));
      copies.push_back(std::move(copy));
      break;
    }
    case Copies::tp_groups:
      each_group([&](int gpu) { return layout_.group(gpu, Dimension::tp); });
      break;
    case Copies::etp_groups:
      each_group([&](int gpu) { return layout_.etp_group(gpu); });
      break;
    case Copies::dp_groups:
      each_group([&](int gpu) { return layout_.dp_cp_group(gpu); });
      break;
    case Copies::edp_groups:
      each_group([&](int gpu) { return layout_.edp_group(gpu); });
      break;
    case Copies::cp_ring:
      each_group([&](int gpu) { return layout_.group(gpu, Dimension::cp); });
      copies = neighbour_pairs(copies, true);
      break;
    case Copies::pp_pairs:
      for (int gpu : members) copies.push_back({gpu, on_rank(gpu, to_rank)});
      break;
  }
  std::vector<std::vector<fabric::VertexId>> placed;
  placed.reserve(copies.size());
  for (const std::vector<int>& copy : copies) placed.push_back(vertices(topology_, copy));
  const int id = traffic_->add_placement(c.pattern, std::move(placed));
  c.placements.emplace(key, id);
  return id;
}

void StepSimulation::add_run(Communication& c, int pp_rank, double count, double size,
                             double start_s, double end_s, int to_rank) {
  if (!traffic_ || c.pattern < 0 || !(count > 0) || !(size > 0)) return;
  traffic_->add_run(placement(c, pp_rank, to_rank), count, size, start_s, end_s);
}

void StepSimulation::add_data_parallel_run(collectives::Operation op, const std::vector<int>& group,
                                           int pp_rank, double bytes, double seconds,
                                           double start_s) {
  if (group.size() < 2 || !(bytes > 0)) return;
  const auto it = data_parallel_.find(static_cast<int>(op) * 2 + (&group == &dp_group_));
  if (it == data_parallel_.end()) return;
  Communication& c = it->second;
  add_run(c, pp_rank, 1, bytes / c.bytes, start_s, start_s + seconds);
}

void StepSimulation::add_task_runs(int pp_rank, const StageCost& c, Pass pass, double start_s,
                                   double end_s) {
  if (pass == Pass::backward_weight && p_.zero < 3) return;
  const bool forward = pass == Pass::forward;
  const auto run = [&](Communication& comm, double count, double size = 1) {
    add_run(comm, pp_rank, count, size, start_s, end_s);
  };
  if (pass != Pass::backward_weight) {
    // EP: forward a dispatch and a combine per MoE block; backward the combine's gradient (the
    // dispatch's routes, BF16, as long as a combine) and the dispatch's (the combine's routes).
    const double moe = c.moe_blocks;
    if (forward) {
      run(ep_dispatch_, moe);
    } else if (ep_dispatch_.pattern >= 0 && ep_dispatch_.flow_bytes > 0) {
      run(ep_dispatch_, moe, ep_combine_.flow_bytes / ep_dispatch_.flow_bytes);
    }
    run(ep_combine_, moe);
    if (!forward && options_.recomputes("moe")) {  // the recomputed forward's
      run(ep_dispatch_, moe);
      run(ep_combine_, moe);
    }
    run(etp_gather_, moe);  // backward: the gradients of the gather and scatter swap
    run(etp_scatter_, moe);
    // TP: two all-reduces a layer each way, again for a full recomputation; the
    // sequence-parallel re-gathers; CP: the ring's hops, twice over backward.
    const double layers = c.layer_blocks;
    const bool full = e_.training.recompute == config::RecomputeMode::full;
    run(tp_reduce_, layers * (forward ? 2 : (full ? 4 : 2)));
    if (!forward) run(sp_gather_comm_, layers * 2);
    run(cp_hop_comm_, layers * (p_.cp - 1) * (forward ? 1 : 2));
  }
  if (p_.zero < 3) return;
  // ZeRO-3, block by block: the gathers before F and B (or B_input), the reductions after B (or
  // W).
  const bool gather = pass != Pass::backward_weight;
  const bool reduce = pass == Pass::backward || pass == Pass::backward_weight;
  double at = start_s;
  const auto collective = [&](collectives::Operation op, double bytes,
                              const std::vector<int>& group) {
    const double seconds = timed(op, bytes, group);
    add_data_parallel_run(op, group, pp_rank, bytes, seconds, at);
    at = std::min(end_s, at + seconds);
  };
  for (const auto& [dense, experts, dense_fp8, experts_fp8] : c.block_parameters) {
    if (gather) {
      collective(collectives::Operation::all_gather, gathered_bytes(dense, dense_fp8), dp_group_);
      collective(collectives::Operation::all_gather, gathered_bytes(experts, experts_fp8),
                 edp_group_);
    }
    if (reduce) {
      collective(collectives::Operation::reduce_scatter, dense * e_.stack.gradient_bytes(),
                 dp_group_);
      collective(collectives::Operation::reduce_scatter, experts * e_.stack.gradient_bytes(),
                 edp_group_);
    }
  }
}

void StepSimulation::record_traffic() {
  if (!traffic_) return;
  const PipelineSchedule& schedule = result_.schedule;
  // When each task's slot ends, for the pipeline transfers it sends.
  std::map<std::tuple<int, int, int, int>, double> task_end;
  for (int device = 0; device < schedule.devices; ++device) {
    const std::vector<ScheduleSlot>& order = schedule.order[static_cast<std::size_t>(device)];
    const std::vector<SlotTiming>& timings = result_.run.slots[static_cast<std::size_t>(device)];
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double start = (timings[i].start - result_.run.start).seconds();
      const double end = (timings[i].end - result_.run.start).seconds();
      for (const PipelineTask* task :
           {&order[i].task, order[i].overlapped ? &*order[i].overlapped : nullptr}) {
        if (task == nullptr) continue;
        add_task_runs(device, stage_cost({device, task->chunk}), task->pass, start, end);
        task_end[{device, task->chunk, task->micro_batch, static_cast<int>(task->pass)}] = end;
      }
    }
  }
  for (const auto& [from, to, task] : transfers_) {
    const auto it =
        task_end.find({from, task.chunk, task.micro_batch, static_cast<int>(task.pass)});
    const double sent = it != task_end.end() ? it->second : 0.0;
    add_run(pp_transfer_, from, 1, 1, sent, sent + result_.pp_transfer_s, to);
  }
  result_.links = traffic_->finish(result_.step_time_s, options_requested_.link_rows);
}

void StepSimulation::add_zero3_traffic() {
  // ZeRO-3 shards the parameters too: every block (layer, embedding, head) gathers its BF16
  // parameters (FP8 GEMMs' weights in FP8 with the stack's fp8_param_gather) before its forward
  // and again before its backward, and reduce-scatters its gradients after it, for every
  // micro-batch: one collective per block and kind, each paying its own latency. With the stack's
  // DP overlap the frameworks prefetch them beside the compute.
  for (StageCost& c : result_.stages) {
    double gather = 0, scatter = 0;
    for (const auto& [dense, experts, dense_fp8, experts_fp8] : c.block_parameters) {
      gather +=
          timed(collectives::Operation::all_gather, gathered_bytes(dense, dense_fp8), dp_group_) +
          timed(collectives::Operation::all_gather, gathered_bytes(experts, experts_fp8),
                edp_group_);
      scatter += timed(collectives::Operation::reduce_scatter, dense * e_.stack.gradient_bytes(),
                       dp_group_) +
                 timed(collectives::Operation::reduce_scatter, experts * e_.stack.gradient_bytes(),
                       edp_group_);
    }
    c.zero3_forward = gather;
    c.zero3_backward = gather + scatter;
  }
}

const StageCost& StepSimulation::stage_cost(StageRef where) const {
  return result_.stages.at(static_cast<std::size_t>(result_.schedule.model_stage(where)));
}

// What a pass runs of a stage's forward, input-gradient and weight-gradient times.
double pass_part(Pass pass, double forward, double backward_input, double weight) {
  switch (pass) {
    case Pass::forward:
      return forward;
    case Pass::backward:
      return backward_input + weight;
    case Pass::backward_input:
      return backward_input;
    case Pass::backward_weight:
      return weight;
  }
  return 0.0;
}

double shared_compute_seconds(const StageCost& c, Pass pass) {
  return pass_part(pass, c.forward_shared, c.backward_input_shared, c.weight_shared);
}

double ep_seconds(const StageCost& c, Pass pass) {
  if (pass == Pass::forward) return c.ep_forward;
  if (pass == Pass::backward_weight) return 0.0;
  return c.ep_backward;
}

double serial_collective_seconds(const StageCost& c, Pass pass) {
  if (pass == Pass::forward) return c.tp_forward + c.cp_forward;
  if (pass == Pass::backward_weight) return 0.0;
  return c.tp_backward + c.cp_backward;
}

double zero3_seconds(const StageCost& c, Pass pass) {
  switch (pass) {
    case Pass::forward:
      return c.zero3_forward;
    case Pass::backward:
      return c.zero3_backward;
    case Pass::backward_input:
      return c.zero3_forward;  // the gather; the gradients are reduced after W
    case Pass::backward_weight:
      return c.zero3_backward - c.zero3_forward;
  }
  return 0.0;
}

StepSimulation::SlotParts StepSimulation::slot_parts(StageRef where,
                                                     const ScheduleSlot& slot) const {
  const StageCost& first = stage_cost({where.device, slot.task.chunk});
  double work = lone_seconds(first, slot.task.pass);
  double zero3 = zero3_seconds(first, slot.task.pass);
  if (slot.overlapped) {
    const StageCost& second = stage_cost({where.device, slot.overlapped->chunk});
    const Pass a = slot.task.pass;
    const Pass b = slot.overlapped->pass;
    zero3 += zero3_seconds(second, b);
    const double comm = ep_seconds(first, a) + ep_seconds(second, b);
    const double serial =
        serial_collective_seconds(first, a) + serial_collective_seconds(second, b);
    const bool forward_backward =
        a == Pass::forward && b != Pass::forward && b != Pass::backward_weight;
    if (forward_backward && comm > 0) {
      work = overlapped_slot_seconds(first, second, b == Pass::backward) + serial;
    } else if (comm > 0) {
      work = std::max(shared_compute_seconds(first, a) + shared_compute_seconds(second, b), comm) +
             serial;
    } else {
      work = lone_seconds(first, a) + lone_seconds(second, b);
    }
  }
  if (p_.zero < 3) zero3 = 0;
  if (!slot.overlapped && exchanges_.contains(key(where.device, slot.task))) {
    work += result_.pp_transfer_s;
  }
  return {work, zero3};
}

SimTime StepSimulation::slot_duration(StageRef where, const ScheduleSlot& slot) const {
  // Overlapped, the slot lasts as long as the longer of the two; otherwise the gathers and
  // reductions wait for the compute and the compute for them.
  const SlotParts parts = slot_parts(where, slot);
  return SimTime::from_computed_seconds(parts.work + zero3_exposed(parts));
}

void StepSimulation::run_pipeline_schedule() {
  result_.schedule =
      make_schedule(p_.schedule, p_.pp, result_.micro_batches,
                    p_.schedule == config::Schedule::interleaved ? p_.virtual_stages : 1);
  // The stack's MoE all-to-all overlap: Megatron-Core pairs each steady-state forward with a
  // backward, whose all-to-alls hide behind each other's compute.
  if (e_.combined_one_f_one_b()) {
    result_.schedule = combine_forward_backward(std::move(result_.schedule));
  }
  std::vector<int> split = workload::stage_layer_split(e_);
  if (p_.balance_stages) {
    split = balance_stage_layers(result_.schedule, split,
                                 [&](const std::vector<int>& s) { return build_stages(s); });
  }
  result_.stage_layers = split;
  result_.stages = build_stages(split);
  if (p_.zero >= 3) add_zero3_traffic();
  if (e_.stack.overlap.pp_blocks(p_.schedule == config::Schedule::interleaved)) {
    plan_blocking_exchanges();
  }
  const SimTime transfer_time = SimTime::from_computed_seconds(result_.pp_transfer_s);
  result_.run = run_pipeline(
      result_.schedule,
      [&](StageRef where, const ScheduleSlot& slot) { return slot_duration(where, slot); },
      [&](StageRef from, StageRef to, const PipelineTask& task) {
        if (traffic_) transfers_.emplace_back(from.device, to.device, task);
        // Blocking: the output arrives when the exchange that ends the sending slot does.
        return exchanges_.empty() ? transfer_time : SimTime::zero();
      });
  result_.pipeline_s = result_.run.makespan.seconds();
  std::size_t slots = 0;
  for (const auto& order : result_.schedule.order) slots += order.size();
  result_.events = slots;
}

void StepSimulation::plan_blocking_exchanges() {
  const PipelineSchedule& schedule = result_.schedule;
  const int last = schedule.model_stages() - 1;
  const auto sends = [&](int device, const PipelineTask& task) {
    const int stage = schedule.model_stage({device, task.chunk});
    if (task.pass == Pass::forward) return stage < last;
    return task.pass != Pass::backward_weight && stage > 0;
  };
  // DualPipe's and the combined 1F1B's slots overlap their exchanges by design.
  for (const std::vector<ScheduleSlot>& order : schedule.order) {
    for (const ScheduleSlot& slot : order) {
      if (slot.overlapped) return;
    }
  }
  for (int device = 0; device < schedule.devices; ++device) {
    const std::vector<ScheduleSlot>& order = schedule.order[static_cast<std::size_t>(device)];
    // A device whose forwards all come first (as many micro-batches as stages) has no steady
    // state: its last forward sends on its own.
    const auto first_backward = std::find_if(order.begin(), order.end(), [](const ScheduleSlot& s) {
      return s.task.pass != Pass::forward;
    });
    const bool steady = std::any_of(first_backward, order.end(), [](const ScheduleSlot& s) {
      return s.task.pass == Pass::forward;
    });
    for (std::size_t i = 0; i < order.size(); ++i) {
      const PipelineTask& task = order[i].task;
      const bool paired = steady && schedule.chunks_per_device > 1 && task.pass == Pass::forward &&
                          i + 1 < order.size() && order[i + 1].task.pass == Pass::backward;
      if (paired) {
        const PipelineTask& backward = order[i + 1].task;
        if (sends(device, task) || sends(device, backward))
          exchanges_.insert(key(device, backward));
        ++i;
      } else if (sends(device, task)) {
        exchanges_.insert(key(device, task));
      }
    }
  }
}

std::vector<StepSimulation::GradientBucket> StepSimulation::gradient_buckets(
    int device, int chunk, const StageCost& c, const LastBackward& last) const {
  // Each bucket's gradients are ready when the backward pass has gone through its last block (in
  // backward order). Within the chunk's last backward slot, blocks finish in proportion to their
  // share of its work; an overlapped slot (two chunks' tasks at once) or a chunk left whole
  // releases everything at the slot's end.
  const config::GradientBuckets& rule = e_.stack.gradient_buckets;
  const bool cut = e_.stack.overlap.dp && rule.enabled() && !last.overlapped &&
                   (!rule.first_stage_only || (device == 0 && chunk == 0));
  const double bucket = rule.size(static_cast<int>(p_.dp * p_.cp));
  std::vector<GradientBucket> out;
  if (!cut || c.blocks.size() != c.block_parameters.size()) {
    out.push_back({c.dense_parameters, c.expert_parameters, last.end});
    return out;
  }
  const auto work = [&](const BlockCost& b) {
    const double weight = b.pre_weight + b.mlp_weight;
    if (last.pass == Pass::backward_weight) return weight;
    return b.pre_backward + b.mlp_backward + b.combine_gradient + b.dispatch_gradient +
           (last.pass == Pass::backward ? weight : 0.0);
  };
  double total = 0;
  for (const BlockCost& b : c.blocks) total += work(b);
  double done = 0;
  GradientBucket open_dense, open_experts;
  for (std::size_t i = c.blocks.size(); i-- > 0;) {
    done += work(c.blocks[i]);
    const double ready = total > 0 ? last.start + (last.end - last.start) * done / total : last.end;
    open_dense.dense += c.block_parameters[i].dense;
    open_experts.experts += c.block_parameters[i].experts;
    if (open_dense.dense >= bucket) {
      open_dense.ready = ready;
      out.push_back(std::exchange(open_dense, {}));
    }
    if (open_experts.experts >= bucket) {
      open_experts.ready = ready;
      out.push_back(std::exchange(open_experts, {}));
    }
  }
  // What is left of both (the chunk's first blocks) is ready at the slot's end.
  if (open_dense.dense + open_experts.experts > 0) {
    out.push_back({open_dense.dense, open_experts.experts, last.end});
  }
  std::stable_sort(out.begin(), out.end(), [](const GradientBucket& a, const GradientBucket& b) {
    return a.ready < b.ready;
  });
  return out;
}

void StepSimulation::data_parallel_tail() {
  // A chunk's gradients are final once the device has run its last backward task there; its
  // reduce-scatter starts then, on the communication stream, while the device runs its remaining
  // slots (Megatron's overlapped gradient reduction). With the stack's gradient buckets, a
  // chunk's buckets start one by one during that last backward (gradient_buckets). The optimizer
  // steps the shard once every reduction is done. The parameter all-gather overlaps the next step's
  // forward pass (the frameworks gather a layer's parameters during the previous layer), so only
  // what outlasts the device's first forward slot is exposed.
  const PipelineSchedule& schedule = result_.schedule;
  const bool sharded = p_.zero >= 1;
  const collectives::Operation reduction =
      sharded ? collectives::Operation::reduce_scatter : collectives::Operation::all_reduce;
  double rs_max = 0, ag_max = 0, opt_max = 0;
  for (int device = 0; device < schedule.devices; ++device) {
    const auto d = static_cast<std::size_t>(device);
    const std::vector<ScheduleSlot>& order = schedule.order[d];
    const std::vector<SlotTiming>& timings = result_.run.slots[d];
    // Each chunk's last backward task, and when the device's first forward ends.
    std::vector<LastBackward> chunk_done(static_cast<std::size_t>(schedule.chunks_per_device));
    double end = 0;
    double first_forward = -1;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double slot_end = (timings[i].end - result_.run.start).seconds();
      end = std::max(end, slot_end);
      for (const PipelineTask* task :
           {&order[i].task, order[i].overlapped ? &*order[i].overlapped : nullptr}) {
        if (task == nullptr) continue;
        if (task->pass == Pass::forward && first_forward < 0) {
          first_forward = (timings[i].end - timings[i].start).seconds();
        }
        if (task->pass != Pass::forward) {
          LastBackward& done = chunk_done[static_cast<std::size_t>(task->chunk)];
          if (slot_end >= done.end) {
            done = {(timings[i].start - result_.run.start).seconds(), slot_end, task->pass,
                    order[i].overlapped.has_value()};
          }
        }
      }
    }
    result_.device_tail_start_s.push_back(end);
    // Reduce the chunks in the order they finish.
    std::vector<int> chunks(chunk_done.size());
    for (std::size_t c = 0; c < chunks.size(); ++c) chunks[c] = static_cast<int>(c);
    std::sort(chunks.begin(), chunks.end(), [&](int a, int b) {
      return chunk_done[static_cast<std::size_t>(a)].end <
             chunk_done[static_cast<std::size_t>(b)].end;
    });
    double comm_free = 0, rs = 0, ag = 0, dense = 0, experts = 0;
    for (int chunk : chunks) {
      const StageCost& c = stage_cost({device, chunk});
      dense += c.dense_parameters;
      experts += c.expert_parameters;
      if (p_.zero >= 3) continue;  // every micro-batch reduced and gathered its own already
      // Without the stack's overlap the reduction waits for the device's last slot.
      LastBackward last = chunk_done[static_cast<std::size_t>(chunk)];
      if (!e_.stack.overlap.dp) last = {end, end, Pass::backward, true};
      const std::vector<GradientBucket> buckets = gradient_buckets(device, chunk, c, last);
      for (std::size_t k = 0; k < buckets.size(); ++k) {
        const GradientBucket& b = buckets[k];
        const double dense_bytes = b.dense * e_.stack.gradient_bytes();
        const double expert_bytes = b.experts * e_.stack.gradient_bytes();
        const double reduce_dense = b.dense > 0 ? timed(reduction, dense_bytes, dp_group_) : 0;
        const double reduce_experts =
            b.experts > 0 ? timed(reduction, expert_bytes, edp_group_) : 0;
        const double reduce = reduce_dense + reduce_experts;
        rs += reduce;
        const double reduce_start = std::max(comm_free, b.ready);
        comm_free = reduce_start + reduce;
        result_.stream_spans.push_back(
            {device, true,
             buckets.size() > 1
                 ? fmt::format("gradient {} of chunk {}, bucket {} of {}",
                               collectives::to_string(reduction), chunk, k + 1, buckets.size())
                 : fmt::format("gradient {} of chunk {}", collectives::to_string(reduction), chunk),
             reduce_start, comm_free});
        if (traffic_) {
          add_data_parallel_run(reduction, dp_group_, device, dense_bytes, reduce_dense,
                                reduce_start);
          add_data_parallel_run(reduction, edp_group_, device, expert_bytes, reduce_experts,
                                reduce_start + reduce_dense);
        }
      }
      if (sharded) {
        // The gathers overlap the next step's first forward: in a steady state of steps, the
        // start of this one.
        const double dense_bytes = gathered_bytes(c.dense_parameters, c.dense_fp8_parameters);
        const double expert_bytes = gathered_bytes(c.expert_parameters, c.expert_fp8_parameters);
        const double gather_dense =
            timed(collectives::Operation::all_gather, dense_bytes, dp_group_);
        const double gather_experts =
            timed(collectives::Operation::all_gather, expert_bytes, edp_group_);
        if (traffic_) {
          add_data_parallel_run(collectives::Operation::all_gather, dp_group_, device, dense_bytes,
                                gather_dense, ag);
          add_data_parallel_run(collectives::Operation::all_gather, edp_group_, device,
                                expert_bytes, gather_experts, ag + gather_dense);
        }
        result_.stream_spans.push_back(
            {device, true,
             fmt::format("parameter all-gather of chunk {} (for the next step)", chunk), ag,
             ag + gather_dense + gather_experts});
        ag += gather_dense + gather_experts;
      }
    }
    const double shard = sharded ? dense / static_cast<double>(dp_group_.size()) +
                                       experts / static_cast<double>(edp_group_.size())
                                 : dense + experts;
    std::vector<OptimizerKernel> kernels = optimizer_kernels(e_, model_, shard, dense + experts);
    double opt = 0;
    for (const OptimizerKernel& kernel : kernels) opt += kernel.seconds;
    const double ag_exposed = std::max(0.0, ag - std::max(0.0, first_forward));
    const double opt_start = std::max(end, comm_free);
    result_.stream_spans.push_back({device, false, "optimizer", opt_start, opt_start + opt});
    if (ag_exposed > 0) {
      result_.stream_spans.push_back({device, false, "waiting for the parameter all-gather",
                                      opt_start + opt, opt_start + opt + ag_exposed});
    }
    result_.step_time_s = std::max(result_.step_time_s, opt_start + opt + ag_exposed);
    rs_max = std::max(rs_max, rs);
    ag_max = std::max(ag_max, ag);
    if (opt > opt_max) result_.optimizer_kernels = std::move(kernels);
    opt_max = std::max(opt_max, opt);
    dp_exposed_ = std::max(dp_exposed_, std::max(0.0, comm_free - end) + ag_exposed);
  }
  result_.dp_reduce_scatter_s = rs_max;
  result_.dp_all_gather_s = ag_max;
  result_.optimizer_s = opt_max;
}

void StepSimulation::phases() {
  const PipelineSchedule& schedule = result_.schedule;
  double exposed_ep = 0, exposed_tp = 0, exposed_cp = 0, exposed_zero3 = 0;
  for (int device = 0; device < schedule.devices; ++device) {
    const std::vector<ScheduleSlot>& order = schedule.order[static_cast<std::size_t>(device)];
    const std::vector<SlotTiming>& timings = result_.run.slots[static_cast<std::size_t>(device)];
    StepPhases own;
    double busy = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double length = (timings[i].end - timings[i].start).seconds();
      busy += length;
      const ScheduleSlot& slot = order[i];
      const StageCost& c = stage_cost({device, slot.task.chunk});
      exposed_zero3 += zero3_exposed(slot_parts({device, slot.task.chunk}, slot));
      if (slot.overlapped) {
        own.overlapped += length;
        continue;
      }
      exposed_ep += ep_seconds(c, slot.task.pass);
      switch (slot.task.pass) {
        case Pass::forward:
          own.forward += length;
          exposed_tp += c.tp_forward;
          exposed_cp += c.cp_forward;
          break;
        case Pass::backward:
        case Pass::backward_input:
          own.backward += length;
          exposed_tp += c.tp_backward;
          exposed_cp += c.cp_backward;
          break;
        case Pass::backward_weight:
          own.weight += length;
          break;
      }
    }
    const double tail_start = result_.device_tail_start_s[static_cast<std::size_t>(device)];
    own.bubble = tail_start - busy;
    own.optimizer = result_.step_time_s - tail_start;
    result_.device_phases.push_back(own);
  }
  const double devices = schedule.devices;
  StepPhases& mean = result_.phases;
  for (const StepPhases& own : result_.device_phases) {
    mean.forward += own.forward / devices;
    mean.backward += own.backward / devices;
    mean.weight += own.weight / devices;
    mean.overlapped += own.overlapped / devices;
    mean.bubble += own.bubble / devices;
    mean.optimizer += own.optimizer / devices;
  }
  result_.exposed_comm_s["ep"] = exposed_ep / devices;
  result_.exposed_comm_s["tp"] = exposed_tp / devices;
  result_.exposed_comm_s["cp"] = exposed_cp / devices;
  // Data-parallel: the end of the step's, and ZeRO-3's where it outlasts the compute.
  result_.exposed_comm_s["dp"] = dp_exposed_ + exposed_zero3 / devices;
  // Pipeline transfers hide behind compute except where a device waits for one; that wait is
  // part of the bubble, so it is not counted twice here. Blocking exchanges hold their devices.
  result_.exposed_comm_s["pp"] =
      static_cast<double>(exchanges_.size()) * result_.pp_transfer_s / devices;
}

}  // namespace

std::map<std::string, double> task_kernels(const StageCost& c, Pass pass) {
  if (pass == Pass::forward) return c.forward_kernels;
  std::map<std::string, double> out;
  for (const auto& [name, seconds] : c.backward_kernels) {
    const bool weight = name == "gemm_wgrad";
    if (pass == Pass::backward_input && weight) continue;
    if (pass == Pass::backward_weight && !weight) continue;
    out[name] += seconds;
  }
  return out;
}

namespace {

void StepSimulation::kernel_report() {
  // A typical transformer layer: the middle one (an MoE layer in an MoE model).
  if (!layers_.empty()) {
    const PartCost& layer = layers_[layers_.size() / 2];
    const double ep_forward = layer.moe ? ep_forward_layer() : 0;
    const double ep_backward = layer.moe ? ep_backward_layer() : 0;
    result_.layer_forward_s = layer.cost.forward + tp_forward_exposed(layer.cost) + ep_forward;
    result_.layer_backward_s = layer.cost.backward_input + layer.cost.weight +
                               tp_backward_exposed(layer.cost) + ep_backward;
  }
  // Kernel time over the step on the busiest device: its tasks, as the schedule runs them.
  const PipelineSchedule& schedule = result_.schedule;
  double busiest = -1;
  for (int device = 0; device < schedule.devices; ++device) {
    std::map<std::string, double> by_class;
    double total = 0;
    for (const ScheduleSlot& slot : schedule.order[static_cast<std::size_t>(device)]) {
      for (const PipelineTask* task : {&slot.task, slot.overlapped ? &*slot.overlapped : nullptr}) {
        if (task == nullptr) continue;
        for (const auto& [name, seconds] :
             task_kernels(stage_cost({device, task->chunk}), task->pass)) {
          by_class[name] += seconds;
          total += seconds;
        }
      }
    }
    if (total > busiest) {
      busiest = total;
      result_.kernel_s = std::move(by_class);
    }
  }
  const int pair_layers = e_.published.chunk_pair_layers;
  if (pair_layers <= 0) return;
  // DualPipe's chunk pair: `pair_layers` MoE layers forward beside the same backward.
  StageCost chunk;
  int taken = 0;
  for (const PartCost& layer : layers_) {
    if (taken == pair_layers) break;
    if (!layer.moe && card_.moe) continue;
    chunk.blocks.push_back(layer.cost.block);
    add(chunk, layer.cost);
    ++taken;
  }
  if (taken < pair_layers) {
    throw std::invalid_argument(
        fmt::format("a chunk pair of {} MoE layers needs a model with as "
                    "many; {} has {}",
                    pair_layers, card_.name, taken));
  }
  ChunkPair pair;
  pair.layers = pair_layers;
  for (const OverlapTask& task : overlapped_slot_timeline(chunk, chunk, true)) {
    pair.span_s = std::max(pair.span_s, task.start_s + task.seconds);
    if (task.stream == OverlapTask::compute) pair.compute_s += task.seconds;
  }
  for (const auto* kernels : {&chunk.forward_kernels, &chunk.backward_kernels}) {
    for (const auto& [name, seconds] : *kernels) pair.kernel_s[name] += seconds;
  }
  if (card_.moe && p_.ep > 1) {
    // DeepEP's backward runs a dispatch kernel for the combine's gradient and a combine kernel
    // for the dispatch's.
    pair.kernel_s["ep_dispatch"] = pair_layers * (result_.ep_dispatch_s + result_.ep_combine_s);
    pair.kernel_s["ep_combine"] = pair_layers * 2 * result_.ep_combine_s;
  }
  result_.chunk_pair = pair;
}

}  // namespace

fabric::Topology build_cluster_topology(const config::Experiment& experiment) {
  return build_topology(experiment);
}

config::TopologySpec cluster_topology_spec(const config::Experiment& e) {
  if (e.cluster.topology) return *e.cluster.topology;
  config::TopologySpec spec;
  spec.name = "single_node";
  spec.generator = config::TopologyGenerator::single_node;
  return spec;
}

StepResult simulate_step(const config::Experiment& experiment, const StepOptions& options) {
  return StepSimulation(experiment, options).run();
}

namespace {

// The compute of every block of the model for one micro-batch, as the step simulation costs it
// (on the SMs communication leaves the GEMMs where the stack fixes them, all SMs otherwise).
struct PartCosts {
  LayerCost embedding, head, mtp;
  std::vector<LayerCost> layers;
};

PartCosts part_costs(const config::Experiment& e, const compute::ComputeModel& model) {
  const workload::WorkloadOptions options = workload::workload_options(e);
  const auto cost = [&](const workload::LayerWorkload& part) {
    return cost_of(part, model, e.stack.static_sm_split, shared_sms(e),
                   static_cast<double>(e.training.seq_len), e.model,
                   e.stack.kernel_host_overhead.seconds());
  };
  PartCosts parts{cost(workload::embedding_workload(e.model, options)),
                  cost(workload::head_workload(e.model, options)),
                  cost(workload::mtp_workload(e.model, options)),
                  {}};
  for (int layer = 0; layer < e.model.layers; ++layer) {
    parts.layers.push_back(cost(workload::layer_workload(e.model, layer, options)));
  }
  return parts;
}

// compute_lower_bound_s from the parts' costs.
double mean_compute_s(const config::Experiment& e, const PartCosts& parts) {
  const auto seconds = [](const LayerCost& cost) {
    return cost.forward + cost.backward_input + cost.weight;
  };
  double per_micro_batch =
      seconds(parts.embedding) + seconds(parts.head) + e.model.mtp_modules * seconds(parts.mtp);
  for (const LayerCost& layer : parts.layers) per_micro_batch += seconds(layer);
  const auto micro_batches = static_cast<double>(e.training.micro_batches(e.parallelism));
  return micro_batches * per_micro_batch / std::max(1, e.parallelism.pp);
}

}  // namespace

double compute_lower_bound_s(const config::Experiment& e, const compute::ComputeModel& model) {
  return mean_compute_s(e, part_costs(e, model));
}

std::optional<double> pipeline_lower_bound_s(const config::Experiment& e,
                                             const compute::ComputeModel& model) {
  const config::ParallelismSpec& p = e.parallelism;
  // Balanced stages take their split from the simulated communication, which is not known here.
  if (p.balance_stages) return std::nullopt;
  const PartCosts parts = part_costs(e, model);
  const std::vector<int> split = workload::stage_layer_split(e);
  std::vector<StageCost> stages;
  for (std::size_t s = 0; s < split.size(); ++s) {
    StageCost stage;
    for (const LayerCost* part : stage_parts(split, s, parts.embedding, parts.layers, parts.mtp,
                                             e.model.mtp_modules, parts.head)) {
      stage.blocks.push_back(part->block);
      add(stage, *part);
    }
    stages.push_back(std::move(stage));
  }
  const auto micro_batches = static_cast<int>(e.training.micro_batches(p));
  const PipelineSchedule schedule =
      make_schedule(p.schedule, p.pp, micro_batches,
                    p.schedule == config::Schedule::interleaved ? p.virtual_stages : 1);
  const auto stage_of = [&](int device, int chunk) -> const StageCost& {
    return stages.at(static_cast<std::size_t>(schedule.model_stage({device, chunk})));
  };
  const auto compute = [](const StageCost& c, Pass pass) {
    return pass_part(pass, c.forward, c.backward_input, c.weight);
  };
  // Each slot no longer than the simulation can make it: its compute, without communication.
  // A lone slot adds its collectives to its compute or hides the all-to-alls behind it
  // (max(work - ep, ep) >= compute). An overlapped F&B slot with all-to-alls runs the compute
  // stream's blocks one after the other, on the SMs communication leaves; without all-to-alls it
  // runs the two passes in turn. Either way it lasts at least the shorter of the two sums.
  const auto duration = [&](StageRef where, const ScheduleSlot& slot) {
    const StageCost& first = stage_of(where.device, slot.task.chunk);
    double work = compute(first, slot.task.pass);
    if (slot.overlapped) {
      const StageCost& second = stage_of(where.device, slot.overlapped->chunk);
      const Pass b = slot.overlapped->pass;
      work += compute(second, b);
      if (slot.task.pass == Pass::forward && b != Pass::forward && b != Pass::backward_weight) {
        const double w = b == Pass::backward ? 1 : 0;
        double stream = 0;
        for (const BlockCost& block : first.blocks) stream += block.pre_forward + block.mlp_forward;
        for (const BlockCost& block : second.blocks) {
          stream +=
              block.pre_backward + block.mlp_backward + w * (block.pre_weight + block.mlp_weight);
        }
        work = std::min(work, stream);
      }
    }
    return SimTime::from_computed_seconds(work);
  };
  const PipelineRun run = run_pipeline(schedule, duration);
  return std::max(mean_compute_s(e, parts), run.makespan.seconds());
}

}  // namespace clustersim::parallel
