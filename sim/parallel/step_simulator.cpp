#include "sim/parallel/step_simulator.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/collectives/collective.hpp"
#include "sim/collectives/expert_parallel.hpp"
#include "sim/compute/compute_model.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/parallel/parallel_layout.hpp"
#include "sim/workload/layer_workload.hpp"

namespace clustersim::parallel {

namespace {

constexpr double kBf16Bytes = 2;
constexpr double kGradientBytes = 4;  // FP32 gradients are reduced (TR §3.3.3 keeps them FP32)

// AdamW on one parameter: read and write the FP32 master weight and both moments, read the FP32
// gradient, write the BF16 weight. Moments are BF16 in DeepSeek-V3's FP8 recipe (TR §3.3.3).
double optimizer_bytes_per_parameter(config::Precision precision) {
  const double moments = precision == config::Precision::fp8 ? 2 : 4;
  return (4 + 2 * moments) * 2 + kGradientBytes + kBf16Bytes;
}

struct LayerCost {
  BlockCost block;
  // Compute time by kernel class on the SMs communication leaves: forward, and backward with
  // its weight gradients (one micro-batch).
  std::map<std::string, double> forward_kernels, backward_kernels;
  double gemm_forward = 0, gemm_backward = 0;  // GEMM time a TP collective can hide behind
  double attention_forward = 0, attention_backward = 0;  // the core attention, all SMs
  double forward = 0, backward_input = 0, weight = 0;
  double forward_shared = 0, backward_input_shared = 0, weight_shared = 0;
  double dense_parameters = 0, expert_parameters = 0;
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
        if (gemm) (pass == OpPass::forward ? cost.gemm_forward : cost.gemm_backward) += seconds;
      }
      totals[p].shared += shared[p];
    }
    // The routed experts run after the dispatch.
    const bool after_dispatch = op.name.starts_with("moe.experts") || op.name == "moe.unpermute";
    (after_dispatch ? cost.block.mlp_forward : cost.block.pre_forward) += shared[0];
    (after_dispatch ? cost.block.mlp_backward : cost.block.pre_backward) += shared[1];
    (after_dispatch ? cost.block.mlp_weight : cost.block.pre_weight) += shared[2];
    cost.forward_flops += op.forward_flops;
    if (op.kind == workload::OpKind::gemm && !op.activation_operands) {
      const double weights = static_cast<double>(op.n) * static_cast<double>(op.k) * op.groups;
      if (op.name.starts_with("moe.experts")) {
        cost.expert_parameters += weights;
      } else {
        cost.dense_parameters += weights;
      }
    } else if (op.kind == workload::OpKind::router && op.forward_flops > 0 && card.moe) {
      cost.dense_parameters += static_cast<double>(card.hidden_size) * card.moe->experts;
    } else if (op.kind == workload::OpKind::embedding) {
      cost.dense_parameters +=
          static_cast<double>(card.hidden_size) * static_cast<double>(card.vocab_size);
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
  stage.forward_flops += layer.forward_flops;
}

fabric::Topology build_topology(const config::Experiment& e) {
  config::TopologySpec spec;
  if (e.cluster.topology) {
    spec = *e.cluster.topology;
  } else {
    spec.name = "single_node";
    spec.generator = config::TopologyGenerator::single_node;
  }
  return fabric::build_cluster(spec, {e.cluster.nodes, e.cluster.gpus_per_node, &e.hardware});
}

std::vector<fabric::VertexId> vertices(const fabric::Topology& topology,
                                       const std::vector<int>& gpus) {
  std::vector<fabric::VertexId> out;
  for (int g : gpus) out.push_back(topology.gpus().at(static_cast<std::size_t>(g)));
  return out;
}

double collective_time(const fabric::Topology& topology, const collectives::CopyEngines& copy,
                       collectives::Operation operation, collectives::Algorithm algorithm,
                       double bytes, const std::vector<int>& gpus, std::uint64_t& flows) {
  if (gpus.size() < 2 || bytes <= 0) return 0;
  collectives::CollectiveSpec spec;
  spec.operation = operation;
  spec.algorithm = algorithm;
  spec.bytes = bytes;
  spec.ranks = vertices(topology, gpus);
  spec.copy = copy;
  const collectives::CollectiveResult result = collectives::run_collective(topology, spec);
  flows += result.flows;
  return result.time.seconds();
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
  explicit StepSimulation(const config::Experiment& e);

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
  // the same tokens back in BF16 both ways (as long as a combine each).
  [[nodiscard]] double ep_forward_layer() const {
    return result_.ep_dispatch_s + result_.ep_combine_s;
  }
  [[nodiscard]] double ep_backward_layer() const { return 2 * result_.ep_combine_s; }
  // What of `tp` seconds of TP communication stays exposed: all of it, or with the stack's TP
  // overlap what outlasts the GEMMs it hides behind.
  [[nodiscard]] double tp_exposed(double tp, double gemm) const {
    return e_.stack.overlap.tp ? std::max(0.0, tp - gemm) : tp;
  }
  void simulate_communication();
  void cost_blocks();
  [[nodiscard]] std::vector<StageCost> build_stages(const std::vector<int>& split) const;
  // A data-parallel collective over `group` (dp_group_ or edp_group_), simulated once per size.
  double timed(collectives::Operation op, double bytes, const std::vector<int>& group);
  void add_zero3_traffic();
  [[nodiscard]] const StageCost& stage_cost(StageRef where) const;
  [[nodiscard]] SimTime slot_duration(StageRef where, const ScheduleSlot& slot) const;
  void run_pipeline_schedule();
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
  double micro_batch_tokens_;
  double tp_layer_ = 0;   // TP collectives of one layer and pass
  double sp_gather_ = 0;  // sequence parallelism's re-gathers of the W pass, one layer
  double cp_hop_ = 0;     // one ring-attention hop
  PartCost embedding_, head_, mtp_;
  std::vector<PartCost> layers_;
  std::vector<int> dp_group_;
  std::vector<int> edp_group_;
  std::map<std::pair<double, int>, double> simulated_;  // (bytes, operation x group) -> seconds
  double dp_exposed_ = 0;
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

StepSimulation::StepSimulation(const config::Experiment& e)
    : e_(e),
      p_(e.parallelism),
      card_(e.model),
      model_(e.hardware),
      shared_sms_(std::max(1, e.hardware.gpu.sm_count - e.parallelism.comm_sms)),
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
  dp_group_ = layout_.group(kFirstGpu, Dimension::dp);
  edp_group_ = layout_.edp_group(kFirstGpu);
  // The network for its cost: counts, inventory, and the bisection where the graph is small
  // enough to cut in a moment (run reports $ per Tb/s of it).
  result_.network = fabric::measure(topology_, fabric::StatsOptions{16, 400'000});
}

StepResult StepSimulation::run() && {
  simulate_communication();
  cost_blocks();
  run_pipeline_schedule();
  data_parallel_tail();
  phases();
  kernel_report();
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
    ep.ranks = vertices(topology_, stage_gpus);
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
    const int nodes = layout_.nodes_spanned(layout_.ep_group(kFirstGpu));
    ep.max_nodes =
        card_.moe->groups > 1
            ? std::clamp(card_.moe->max_groups_per_token * nodes / card_.moe->groups, 1, nodes)
            : nodes;
    const collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology_, ep);
    result_.ep_dispatch_s = r.dispatch.time.seconds();
    result_.ep_combine_s = r.combine.time.seconds();
    result_.flows += r.dispatch.flows + r.combine.flows;
    if (p_.etp > 1) {
      // Expert tensor parallelism: the etp ranks of an expert all-gather the pairs they received
      // before the experts (BF16) and reduce-scatter the experts' partial outputs after them.
      const double pairs = micro_batch_tokens_ / p_.tp * card_.moe->top_k;
      const double bytes = pairs * p_.etp * static_cast<double>(card_.hidden_size) * kBf16Bytes;
      const std::vector<int> etp_group = layout_.etp_group(kFirstGpu);
      result_.ep_dispatch_s +=
          collective_time(topology_, nccl_, collectives::Operation::all_gather,
                          collectives::Algorithm::ring, bytes, etp_group, result_.flows);
      result_.ep_combine_s +=
          collective_time(topology_, nccl_, collectives::Operation::reduce_scatter,
                          collectives::Algorithm::ring, bytes, etp_group, result_.flows);
    }
  }
  if (p_.tp > 1) {
    // Two all-reduces of the layer's output per pass (Megatron: attention and MLP), or with
    // sequence parallelism a reduce-scatter and an all-gather each: the same bytes on a ring.
    const double bytes = micro_batch_tokens_ * static_cast<double>(card_.hidden_size) * kBf16Bytes;
    tp_layer_ = 2 * collective_time(topology_, nccl_, collectives::Operation::all_reduce,
                                    collectives::Algorithm::ring, bytes,
                                    layout_.group(kFirstGpu, Dimension::tp), result_.flows);
    // Sequence parallelism keeps the split input of the QKV and first FFN GEMMs: their weight
    // gradients all-gather it again (Korthikanti et al. 2022 §4.2.2).
    if (p_.sequence_parallel) {
      sp_gather_ = 2 * collective_time(topology_, nccl_, collectives::Operation::all_gather,
                                       collectives::Algorithm::ring, bytes,
                                       layout_.group(kFirstGpu, Dimension::tp), result_.flows);
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
    cp_hop_ = collective_time(topology_, nccl_, collectives::Operation::send_recv,
                              collectives::Algorithm::direct,
                              micro_batch_tokens_ * kv_width * kBf16Bytes / p_.tp,
                              {cp_group[0], cp_group[1]}, result_.flows);
  }
  if (p_.pp > 1) {
    const std::vector<int> pp_group = layout_.group(kFirstGpu, Dimension::pp);
    const double bytes =
        micro_batch_tokens_ * static_cast<double>(card_.hidden_size) * kBf16Bytes / p_.tp;
    result_.pp_transfer_s = collective_time(topology_, nccl_, collectives::Operation::send_recv,
                                            collectives::Algorithm::direct, bytes,
                                            {pp_group[0], pp_group[1]}, result_.flows);
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
      // The gradients travel back the same routes in BF16: as long as a combine each way.
      out.cost.block.combine_gradient = result_.ep_combine_s;
      out.cost.block.dispatch_gradient = result_.ep_combine_s;
    }
    return out;
  };
  embedding_ = part_cost(workload::embedding_workload(card_, options_));
  head_ = part_cost(workload::head_workload(card_, options_));
  mtp_ = part_cost(workload::mtp_workload(card_, options_));
  for (int layer = 0; layer < card_.layers; ++layer) {
    layers_.push_back(part_cost(workload::layer_workload(card_, layer, options_)));
  }
}

std::vector<StageCost> StepSimulation::build_stages(const std::vector<int>& split) const {
  std::vector<StageCost> stages;
  int first_layer = 0;
  for (std::size_t s = 0; s < split.size(); ++s) {
    StageCost stage;
    stage.stage = static_cast<int>(s);
    stage.layers = split[s];
    std::vector<const PartCost*> parts;
    if (s == 0) parts.push_back(&embedding_);
    for (int layer = first_layer; layer < first_layer + split[s]; ++layer) {
      parts.push_back(&layers_[static_cast<std::size_t>(layer)]);
    }
    if (s + 1 == split.size()) {
      for (int m = 0; m < card_.mtp_modules; ++m) parts.push_back(&mtp_);
      parts.push_back(&head_);
    }
    first_layer += split[s];
    for (const PartCost* part : parts) {
      stage.blocks.push_back(part->cost.block);
      stage.block_parameters.emplace_back(part->cost.dense_parameters,
                                          part->cost.expert_parameters);
      add(stage, part->cost);
      if (part->moe) {
        stage.moe = true;
        stage.ep_forward += ep_forward_layer();
        stage.ep_backward += ep_backward_layer();
      }
      if (part->layer_like) {
        stage.tp_forward += tp_exposed(tp_layer_, part->cost.gemm_forward);
        stage.tp_backward += tp_exposed(tp_backward_layer(), part->cost.gemm_backward);
        const double ring = (p_.cp - 1) * cp_hop_;
        stage.cp_forward += std::max(0.0, ring - part->cost.attention_forward);
        stage.cp_backward += std::max(0.0, 2 * ring - part->cost.attention_backward);
      }
    }
    stages.push_back(stage);
  }
  return stages;
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
  const double seconds =
      collective_time(topology_, nccl_, op, algorithm, bytes, group, result_.flows);
  simulated_.emplace(key, seconds);
  return seconds;
}

void StepSimulation::add_zero3_traffic() {
  // ZeRO-3 shards the parameters too: every block (layer, embedding, head) gathers its BF16
  // parameters before its forward and again before its backward, and reduce-scatters its FP32
  // gradients after it, for every micro-batch: one collective per block and kind, each paying
  // its own latency. With the stack's DP overlap the frameworks prefetch them beside the compute.
  for (StageCost& c : result_.stages) {
    double gather = 0, scatter = 0;
    for (const auto& [dense, experts] : c.block_parameters) {
      gather += timed(collectives::Operation::all_gather, dense * kBf16Bytes, dp_group_) +
                timed(collectives::Operation::all_gather, experts * kBf16Bytes, edp_group_);
      scatter +=
          timed(collectives::Operation::reduce_scatter, dense * kGradientBytes, dp_group_) +
          timed(collectives::Operation::reduce_scatter, experts * kGradientBytes, edp_group_);
    }
    c.zero3_forward = gather;
    c.zero3_backward = gather + scatter;
  }
}

const StageCost& StepSimulation::stage_cost(StageRef where) const {
  return result_.stages.at(static_cast<std::size_t>(result_.schedule.model_stage(where)));
}

double shared_compute_seconds(const StageCost& c, Pass pass) {
  switch (pass) {
    case Pass::forward:
      return c.forward_shared;
    case Pass::backward:
      return c.backward_input_shared + c.weight_shared;
    case Pass::backward_input:
      return c.backward_input_shared;
    case Pass::backward_weight:
      return c.weight_shared;
  }
  return 0.0;
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

SimTime StepSimulation::slot_duration(StageRef where, const ScheduleSlot& slot) const {
  const StageCost& first = stage_cost({where.device, slot.task.chunk});
  double work = lone_seconds(first, slot.task.pass);
  if (const double ep = ep_seconds(first, slot.task.pass);
      !slot.overlapped && e_.stack.overlap.moe_all_to_all && ep > 0) {
    // The stack hides the all-to-all behind the slot's other compute (Megatron-Core's EP overlap).
    work = std::max(work - ep, ep);
  }
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
  // Overlapped, the slot lasts as long as the longer of the two; otherwise the gathers and
  // reductions wait for the compute and the compute for them.
  return SimTime::from_computed_seconds(e_.stack.overlap.dp ? std::max(work, zero3) : work + zero3);
}

void StepSimulation::run_pipeline_schedule() {
  result_.schedule =
      make_schedule(p_.schedule, p_.pp, result_.micro_batches,
                    p_.schedule == config::Schedule::interleaved ? p_.virtual_stages : 1);
  std::vector<int> split = workload::stage_layer_split(e_);
  if (p_.balance_stages) {
    split = balance_stage_layers(result_.schedule, split,
                                 [&](const std::vector<int>& s) { return build_stages(s); });
  }
  result_.stage_layers = split;
  result_.stages = build_stages(split);
  if (p_.zero >= 3) add_zero3_traffic();
  const SimTime transfer_time = SimTime::from_computed_seconds(result_.pp_transfer_s);
  result_.run = run_pipeline(
      result_.schedule,
      [&](StageRef where, const ScheduleSlot& slot) { return slot_duration(where, slot); },
      [&](StageRef, StageRef, const PipelineTask&) { return transfer_time; });
  result_.pipeline_s = result_.run.makespan.seconds();
  std::size_t slots = 0;
  for (const auto& order : result_.schedule.order) slots += order.size();
  result_.events = slots;
}

void StepSimulation::data_parallel_tail() {
  // A chunk's gradients are final once the device has run its last backward task there; its
  // reduce-scatter starts then, on the communication stream, while the device runs its remaining
  // slots (Megatron's overlapped gradient reduction). The optimizer steps the shard once every
  // reduction is done. The parameter all-gather overlaps the next step's forward pass (the
  // frameworks gather a layer's parameters during the previous layer), so only what outlasts the
  // device's first forward slot is exposed.
  const PipelineSchedule& schedule = result_.schedule;
  const bool sharded = p_.zero >= 1;
  const collectives::Operation reduction =
      sharded ? collectives::Operation::reduce_scatter : collectives::Operation::all_reduce;
  double rs_max = 0, ag_max = 0, opt_max = 0;
  for (int device = 0; device < schedule.devices; ++device) {
    const auto d = static_cast<std::size_t>(device);
    const std::vector<ScheduleSlot>& order = schedule.order[d];
    const std::vector<SlotTiming>& timings = result_.run.slots[d];
    // When each chunk's last backward task ends, and when the device's first forward ends.
    std::vector<double> chunk_done(static_cast<std::size_t>(schedule.chunks_per_device), 0);
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
          double& done = chunk_done[static_cast<std::size_t>(task->chunk)];
          done = std::max(done, slot_end);
        }
      }
    }
    result_.device_tail_start_s.push_back(end);
    // Reduce the chunks in the order they finish.
    std::vector<int> chunks(chunk_done.size());
    for (std::size_t c = 0; c < chunks.size(); ++c) chunks[c] = static_cast<int>(c);
    std::sort(chunks.begin(), chunks.end(), [&](int a, int b) {
      return chunk_done[static_cast<std::size_t>(a)] < chunk_done[static_cast<std::size_t>(b)];
    });
    double comm_free = 0, rs = 0, ag = 0, dense = 0, experts = 0;
    for (int chunk : chunks) {
      const StageCost& c = stage_cost({device, chunk});
      dense += c.dense_parameters;
      experts += c.expert_parameters;
      if (p_.zero >= 3) continue;  // every micro-batch reduced and gathered its own already
      const double reduce = timed(reduction, c.dense_parameters * kGradientBytes, dp_group_) +
                            timed(reduction, c.expert_parameters * kGradientBytes, edp_group_);
      rs += reduce;
      // Without the stack's overlap the reduction waits for the device's last slot.
      const double ready = e_.stack.overlap.dp ? chunk_done[static_cast<std::size_t>(chunk)] : end;
      comm_free = std::max(comm_free, ready) + reduce;
      if (sharded) {
        ag +=
            timed(collectives::Operation::all_gather, c.dense_parameters * kBf16Bytes, dp_group_) +
            timed(collectives::Operation::all_gather, c.expert_parameters * kBf16Bytes, edp_group_);
      }
    }
    const double shard = sharded ? dense / static_cast<double>(dp_group_.size()) +
                                       experts / static_cast<double>(edp_group_.size())
                                 : dense + experts;
    const double opt =
        model_.memory_time(shard * optimizer_bytes_per_parameter(e_.training.precision)).seconds();
    const double ag_exposed = std::max(0.0, ag - std::max(0.0, first_forward));
    result_.step_time_s =
        std::max(result_.step_time_s, std::max(end, comm_free) + opt + ag_exposed);
    rs_max = std::max(rs_max, rs);
    ag_max = std::max(ag_max, ag);
    opt_max = std::max(opt_max, opt);
    dp_exposed_ = std::max(dp_exposed_, std::max(0.0, comm_free - end) + ag_exposed);
  }
  result_.dp_reduce_scatter_s = rs_max;
  result_.dp_all_gather_s = ag_max;
  result_.optimizer_s = opt_max;
}

void StepSimulation::phases() {
  const PipelineSchedule& schedule = result_.schedule;
  double exposed_ep = 0, exposed_tp = 0, exposed_cp = 0;
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
      if (slot.overlapped) {
        own.overlapped += length;
        continue;
      }
      switch (slot.task.pass) {
        case Pass::forward:
          own.forward += length;
          exposed_ep += c.ep_forward;
          exposed_tp += c.tp_forward;
          exposed_cp += c.cp_forward;
          break;
        case Pass::backward:
        case Pass::backward_input:
          own.backward += length;
          exposed_ep += c.ep_backward;
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
  result_.exposed_comm_s["dp"] = dp_exposed_;
  // Pipeline transfers hide behind compute except where a device waits for one; that wait is
  // part of the bubble, so it is not counted twice here.
  result_.exposed_comm_s["pp"] = 0;
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
    result_.layer_forward_s =
        layer.cost.forward + tp_exposed(tp_layer_, layer.cost.gemm_forward) + ep_forward;
    result_.layer_backward_s = layer.cost.backward_input + layer.cost.weight +
                               tp_exposed(tp_backward_layer(), layer.cost.gemm_backward) +
                               ep_backward;
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

StepResult simulate_step(const config::Experiment& experiment) {
  return StepSimulation(experiment).run();
}

}  // namespace clustersim::parallel
