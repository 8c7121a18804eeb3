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
  double attention_forward = 0, attention_backward = 0;  // the core attention, all SMs
  double forward = 0, backward_input = 0, weight = 0;
  double forward_shared = 0, backward_input_shared = 0, weight_shared = 0;
  double dense_parameters = 0, expert_parameters = 0;
  double forward_flops = 0;
};

LayerCost cost_of(const workload::LayerWorkload& layer, const compute::ComputeModel& model,
                  int shared_sms, double keys, const config::ModelCard& card) {
  LayerCost cost;
  const int all = model.sm_count();
  for (const workload::Op& op : layer.ops) {
    using compute::OpPass;
    const double forward_all = model.op_time(op, OpPass::forward, all, keys).seconds();
    const double backward_all = model.op_time(op, OpPass::backward_input, all, keys).seconds();
    cost.forward += forward_all;
    cost.backward_input += backward_all;
    if (op.kind == workload::OpKind::attention) {
      cost.attention_forward += forward_all;
      cost.attention_backward += backward_all;
    }
    cost.weight += model.op_time(op, OpPass::backward_weight, all, keys).seconds();
    const double forward_shared = model.op_time(op, OpPass::forward, shared_sms, keys).seconds();
    const double backward_shared =
        model.op_time(op, OpPass::backward_input, shared_sms, keys).seconds();
    const double weight_shared =
        model.op_time(op, OpPass::backward_weight, shared_sms, keys).seconds();
    cost.forward_shared += forward_shared;
    cost.backward_input_shared += backward_shared;
    cost.weight_shared += weight_shared;
    // The routed experts and the combine's weighted sum run after the dispatch.
    const bool after_dispatch = op.name.starts_with("moe.experts") || op.name == "moe.combine";
    (after_dispatch ? cost.block.mlp_forward : cost.block.pre_forward) += forward_shared;
    (after_dispatch ? cost.block.mlp_backward : cost.block.pre_backward) += backward_shared;
    (after_dispatch ? cost.block.mlp_weight : cost.block.pre_weight) += weight_shared;
    cost.forward_flops += op.forward_flops;
    if (op.kind == workload::OpKind::gemm) {
      const double weights = static_cast<double>(op.n) * static_cast<double>(op.k) * op.groups;
      if (op.name.starts_with("moe.experts")) {
        cost.expert_parameters += weights;
      } else {
        cost.dense_parameters += weights;
      }
    } else if (op.kind == workload::OpKind::router && card.moe) {
      cost.dense_parameters += static_cast<double>(card.hidden_size) * card.moe->experts;
    } else if (op.kind == workload::OpKind::embedding) {
      cost.dense_parameters +=
          static_cast<double>(card.hidden_size) * static_cast<double>(card.vocab_size);
    }
  }
  return cost;
}

void add(StageCost& stage, const LayerCost& layer) {
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

double collective_time(const fabric::Topology& topology, collectives::Operation operation,
                       collectives::Algorithm algorithm, double bytes, const std::vector<int>& gpus,
                       std::uint64_t& flows) {
  if (gpus.size() < 2 || bytes <= 0) return 0;
  collectives::CollectiveSpec spec;
  spec.operation = operation;
  spec.algorithm = algorithm;
  spec.bytes = bytes;
  spec.ranks = vertices(topology, gpus);
  const collectives::CollectiveResult result = collectives::run_collective(topology, spec);
  flows += result.flows;
  return result.time.seconds();
}

// The load of a stage: its lone forward and full backward, compute and communication.
double stage_load(const StageCost& c) {
  return c.forward + c.backward_input + c.weight + c.ep_forward + c.ep_backward + c.tp_forward +
         c.tp_backward + c.cp_forward + c.cp_backward;
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

StepResult simulate_step(const config::Experiment& e) {
  const config::ParallelismSpec& p = e.parallelism;
  const config::ModelCard& card = e.model;
  StepResult result;
  result.gpus = static_cast<int>(e.cluster.gpus());
  result.micro_batches = static_cast<int>(e.training.micro_batches(p));
  result.tokens_per_step = e.training.global_batch_size * e.training.seq_len;
  if (result.micro_batches < 1) {
    throw std::invalid_argument(fmt::format(
        "global batch {} gives no micro-batch of {} sequences on {} data-parallel ranks",
        e.training.global_batch_size, p.micro_batch_size, p.dp));
  }

  const compute::ComputeModel model(e.hardware);
  const int shared_sms = std::max(1, e.hardware.gpu.sm_count - p.comm_sms);
  const workload::WorkloadOptions options = workload::workload_options(e);
  const double keys = static_cast<double>(e.training.seq_len);
  std::array<Dimension, 4> rank_order{Dimension::tp, Dimension::cp, Dimension::dp, Dimension::pp};
  for (std::size_t i = 0; i < p.rank_order.size() && i < rank_order.size(); ++i) {
    for (Dimension d : {Dimension::tp, Dimension::cp, Dimension::dp, Dimension::pp}) {
      if (p.rank_order[i] == dimension_name(d)) rank_order[i] = d;
    }
  }
  const ParallelLayout layout({p.tp, p.cp, static_cast<int>(p.dp), p.pp, p.ep},
                              e.cluster.gpus_per_node, rank_order);
  const fabric::Topology topology = build_topology(e);

  // Communication, simulated once on the fabric.
  const int first_gpu = 0;
  const double micro_batch_tokens =
      static_cast<double>(p.micro_batch_size * e.training.seq_len) / p.cp;
  if (card.moe && p.ep > 1) {
    collectives::ExpertParallelSpec ep;
    std::vector<int> stage_gpus;
    for (const std::vector<int>& group : layout.ep_groups(0)) {
      stage_gpus.insert(stage_gpus.end(), group.begin(), group.end());
    }
    ep.ranks = vertices(topology, stage_gpus);
    ep.group_size = p.ep;
    ep.tokens_per_rank = static_cast<int>(micro_batch_tokens / p.tp);
    ep.hidden = static_cast<int>(card.hidden_size);
    ep.experts = card.moe->experts;
    ep.top_k = card.moe->top_k;
    ep.comm_sms = p.comm_sms;
    const int nodes = layout.nodes_spanned(layout.ep_group(first_gpu));
    ep.max_nodes =
        card.moe->groups > 1
            ? std::clamp(card.moe->max_groups_per_token * nodes / card.moe->groups, 1, nodes)
            : nodes;
    const collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology, ep);
    result.ep_dispatch_s = r.dispatch.time.seconds();
    result.ep_combine_s = r.combine.time.seconds();
    result.flows += r.dispatch.flows + r.combine.flows;
  }
  const double ep_forward_layer = result.ep_dispatch_s + result.ep_combine_s;
  const double ep_backward_layer = 2 * result.ep_combine_s;

  double tp_layer = 0;
  if (p.tp > 1) {
    // Two all-reduces of the layer's output per pass (Megatron: attention and MLP), or with
    // sequence parallelism a reduce-scatter and an all-gather each: the same bytes on a ring.
    const double bytes = micro_batch_tokens * static_cast<double>(card.hidden_size) * kBf16Bytes;
    tp_layer = 2 * collective_time(topology, collectives::Operation::all_reduce,
                                   collectives::Algorithm::ring, bytes,
                                   layout.group(first_gpu, Dimension::tp), result.flows);
  }

  // Context parallelism (ring attention): each layer passes every rank's keys and values around
  // the cp ring, cp - 1 hops forward and twice that backward (keys and values again, then their
  // gradients), each hop overlapping one step of the attention; what outlasts the attention is
  // exposed. Keys and values are BF16, split over tp by heads.
  double cp_hop = 0;
  if (p.cp > 1) {
    const config::AttentionSpec& a = card.attention;
    const double kv_width = a.type == config::AttentionType::mla
                                ? static_cast<double>(a.heads) *
                                      (a.qk_nope_head_dim + a.qk_rope_head_dim + a.v_head_dim)
                                : 2.0 * a.kv_heads * a.head_dim;
    const std::vector<int> cp_group = layout.group(first_gpu, Dimension::cp);
    cp_hop =
        collective_time(topology, collectives::Operation::send_recv, collectives::Algorithm::direct,
                        micro_batch_tokens * kv_width * kBf16Bytes / p.tp,
                        {cp_group[0], cp_group[1]}, result.flows);
  }

  if (p.pp > 1) {
    const std::vector<int> pp_group = layout.group(first_gpu, Dimension::pp);
    const double bytes =
        micro_batch_tokens * static_cast<double>(card.hidden_size) * kBf16Bytes / p.tp;
    result.pp_transfer_s =
        collective_time(topology, collectives::Operation::send_recv, collectives::Algorithm::direct,
                        bytes, {pp_group[0], pp_group[1]}, result.flows);
  }

  // Every block's cost, once: the embedding, each layer, the MTP modules and the head.
  struct PartCost {
    LayerCost cost;
    bool moe = false;
    bool layer_like = false;  // a transformer layer, with its TP collectives
  };
  const auto part_cost = [&](const workload::LayerWorkload& part) {
    PartCost out{cost_of(part, model, shared_sms, keys, card), part.moe, part.ops.size() > 2};
    if (part.moe) {
      out.cost.block.dispatch = result.ep_dispatch_s;
      out.cost.block.combine = result.ep_combine_s;
      // The gradients travel back the same routes in BF16: as long as a combine each way.
      out.cost.block.combine_gradient = result.ep_combine_s;
      out.cost.block.dispatch_gradient = result.ep_combine_s;
    }
    return out;
  };
  const PartCost embedding = part_cost(workload::embedding_workload(card, options));
  const PartCost head = part_cost(workload::head_workload(card, options));
  const PartCost mtp = part_cost(workload::mtp_workload(card, options));
  std::vector<PartCost> layers;
  for (int layer = 0; layer < card.layers; ++layer) {
    layers.push_back(part_cost(workload::layer_workload(card, layer, options)));
  }
  const auto build_stages = [&](const std::vector<int>& split) {
    std::vector<StageCost> stages;
    int first_layer = 0;
    for (std::size_t s = 0; s < split.size(); ++s) {
      StageCost stage;
      stage.stage = static_cast<int>(s);
      stage.layers = split[s];
      std::vector<const PartCost*> parts;
      if (s == 0) parts.push_back(&embedding);
      for (int layer = first_layer; layer < first_layer + split[s]; ++layer) {
        parts.push_back(&layers[static_cast<std::size_t>(layer)]);
      }
      if (s + 1 == split.size()) {
        for (int m = 0; m < card.mtp_modules; ++m) parts.push_back(&mtp);
        parts.push_back(&head);
      }
      first_layer += split[s];
      for (const PartCost* part : parts) {
        stage.blocks.push_back(part->cost.block);
        add(stage, part->cost);
        if (part->moe) {
          stage.moe = true;
          stage.ep_forward += ep_forward_layer;
          stage.ep_backward += ep_backward_layer;
        }
        if (part->layer_like) {
          stage.tp_forward += tp_layer;
          stage.tp_backward += tp_layer;
          const double ring = (p.cp - 1) * cp_hop;
          stage.cp_forward += std::max(0.0, ring - part->cost.attention_forward);
          stage.cp_backward += std::max(0.0, 2 * ring - part->cost.attention_backward);
        }
      }
      stages.push_back(stage);
    }
    return stages;
  };

  // Data-parallel collectives, simulated once per size and group.
  const std::vector<int> dp_group = layout.group(first_gpu, Dimension::dp);
  const std::vector<int> edp_group = layout.edp_group(first_gpu);
  const bool sharded = p.zero >= 1;
  // Hierarchical (NVLink inside the node, then across nodes) for groups larger than a node.
  const auto algorithm = [&](const std::vector<int>& group) {
    return layout.nodes_spanned(group) > 1 &&
                   group.size() > static_cast<std::size_t>(e.cluster.gpus_per_node)
               ? collectives::Algorithm::hierarchical
               : collectives::Algorithm::ring;
  };
  std::map<std::pair<double, int>, double> simulated;  // (bytes, operation) -> seconds, per group
  const auto timed = [&](collectives::Operation op, double bytes, const std::vector<int>& group) {
    const auto key = std::make_pair(bytes, static_cast<int>(op) * 2 + (&group == &dp_group));
    if (const auto it = simulated.find(key); it != simulated.end()) return it->second;
    const double seconds =
        collective_time(topology, op, algorithm(group), bytes, group, result.flows);
    simulated.emplace(key, seconds);
    return seconds;
  };

  // The pipeline.
  result.schedule =
      make_schedule(p.schedule, p.pp, result.micro_batches,
                    p.schedule == config::Schedule::interleaved ? p.virtual_stages : 1);
  std::vector<int> split = workload::stage_layer_split(e);
  if (p.balance_stages) split = balance_stage_layers(result.schedule, split, build_stages);
  result.stage_layers = split;
  result.stages = build_stages(split);
  if (p.zero >= 3) {
    // ZeRO-3 shards the parameters too: every chunk gathers its BF16 parameters before its
    // forward and again before its backward, and reduce-scatters its FP32 gradients after it,
    // for every micro-batch. The frameworks prefetch the gathers, so they overlap the compute.
    for (StageCost& c : result.stages) {
      const double gather =
          timed(collectives::Operation::all_gather, c.dense_parameters * kBf16Bytes, dp_group) +
          timed(collectives::Operation::all_gather, c.expert_parameters * kBf16Bytes, edp_group);
      const double scatter = timed(collectives::Operation::reduce_scatter,
                                   c.dense_parameters * kGradientBytes, dp_group) +
                             timed(collectives::Operation::reduce_scatter,
                                   c.expert_parameters * kGradientBytes, edp_group);
      c.zero3_forward = gather;
      c.zero3_backward = gather + scatter;
    }
  }
  const PipelineSchedule& schedule = result.schedule;
  const auto stage_cost = [&](StageRef where) -> const StageCost& {
    return result.stages.at(static_cast<std::size_t>(schedule.model_stage(where)));
  };
  const auto lone = [&](const StageCost& c, Pass pass) {
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
  };
  const SlotDuration slot_work = [&](StageRef where, const ScheduleSlot& slot) {
    const StageCost& first = stage_cost({where.device, slot.task.chunk});
    if (!slot.overlapped) return SimTime::from_computed_seconds(lone(first, slot.task.pass));
    const StageCost& second = stage_cost({where.device, slot.overlapped->chunk});
    const auto shared = [](const StageCost& c, Pass pass) {
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
    };
    const auto communication = [](const StageCost& c, Pass pass) {
      if (pass == Pass::forward) return c.ep_forward;
      if (pass == Pass::backward_weight) return 0.0;
      return c.ep_backward;
    };
    const double comm =
        communication(first, slot.task.pass) + communication(second, slot.overlapped->pass);
    const double tp =
        (slot.task.pass == Pass::forward ? first.tp_forward + first.cp_forward
                                         : first.tp_backward + first.cp_backward) +
        (slot.overlapped->pass == Pass::forward ? second.tp_forward + second.cp_forward
                                                : second.tp_backward + second.cp_backward);
    const bool pair = slot.task.pass == Pass::forward && slot.overlapped->pass != Pass::forward &&
                      slot.overlapped->pass != Pass::backward_weight;
    double compute;
    if (pair && comm > 0) {
      compute = overlapped_slot_seconds(first, second, slot.overlapped->pass == Pass::backward);
      return SimTime::from_computed_seconds(compute + tp);
    }
    if (comm > 0) {
      compute = shared(first, slot.task.pass) + shared(second, slot.overlapped->pass);
    } else {
      compute = lone(first, slot.task.pass) + lone(second, slot.overlapped->pass) - tp;
    }
    return SimTime::from_computed_seconds(std::max(compute, comm) + tp);
  };
  // ZeRO-3's parameter traffic runs beside the slot's work; the slot lasts as long as the longer.
  const SlotDuration duration = [&](StageRef where, const ScheduleSlot& slot) {
    const SimTime work = slot_work(where, slot);
    if (p.zero < 3) return work;
    const auto traffic = [&](const PipelineTask& task) {
      const StageCost& c = stage_cost({where.device, task.chunk});
      switch (task.pass) {
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
    };
    double zero3 = traffic(slot.task);
    if (slot.overlapped) zero3 += traffic(*slot.overlapped);
    return std::max(work, SimTime::from_computed_seconds(zero3));
  };
  const SimTime transfer_time = SimTime::from_computed_seconds(result.pp_transfer_s);
  const TransferTime transfer = [&](StageRef, StageRef, const PipelineTask&) {
    return transfer_time;
  };
  result.run = run_pipeline(schedule, duration, transfer);
  result.pipeline_s = result.run.makespan.seconds();

  // Data-parallel tail per device. A chunk's gradients are final once the device has run its
  // last backward task there; its reduce-scatter starts then, on the communication stream, while
  // the device runs its remaining slots (Megatron's overlapped gradient reduction). The optimizer
  // steps the shard once every reduction is done. The parameter all-gather overlaps the next
  // step's forward pass (the frameworks gather a layer's parameters during the previous layer),
  // so only what outlasts the device's first forward slot is exposed.
  const collectives::Operation reduction =
      sharded ? collectives::Operation::reduce_scatter : collectives::Operation::all_reduce;
  double step = 0;
  double rs_max = 0, ag_max = 0, opt_max = 0, dp_exposed = 0;
  for (int device = 0; device < schedule.devices; ++device) {
    const auto d = static_cast<std::size_t>(device);
    const std::vector<ScheduleSlot>& order = schedule.order[d];
    const std::vector<SlotTiming>& timings = result.run.slots[d];
    // When each chunk's last backward task ends, and when the device's first forward ends.
    std::vector<double> chunk_done(static_cast<std::size_t>(schedule.chunks_per_device), 0);
    double end = 0;
    double first_forward = -1;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double slot_end = (timings[i].end - result.run.start).seconds();
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
    result.device_tail_start_s.push_back(end);
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
      // ZeRO-3 reduced every micro-batch's gradients already.
      const double reduce =
          p.zero >= 3 ? 0.0
                      : timed(reduction, c.dense_parameters * kGradientBytes, dp_group) +
                            timed(reduction, c.expert_parameters * kGradientBytes, edp_group);
      rs += reduce;
      comm_free = std::max(comm_free, chunk_done[static_cast<std::size_t>(chunk)]) + reduce;
      if (sharded && p.zero < 3) {  // ZeRO-3 gathers before every chunk instead
        ag +=
            timed(collectives::Operation::all_gather, c.dense_parameters * kBf16Bytes, dp_group) +
            timed(collectives::Operation::all_gather, c.expert_parameters * kBf16Bytes, edp_group);
      }
    }
    const double shard = sharded ? dense / static_cast<double>(dp_group.size()) +
                                       experts / static_cast<double>(edp_group.size())
                                 : dense + experts;
    const double opt =
        model.memory_time(shard * optimizer_bytes_per_parameter(e.training.precision)).seconds();
    const double ag_exposed = std::max(0.0, ag - std::max(0.0, first_forward));
    const double device_step = std::max(end, comm_free) + opt + ag_exposed;
    step = std::max(step, device_step);
    rs_max = std::max(rs_max, rs);
    ag_max = std::max(ag_max, ag);
    opt_max = std::max(opt_max, opt);
    dp_exposed = std::max(dp_exposed, std::max(0.0, comm_free - end) + ag_exposed);
  }
  result.dp_reduce_scatter_s = rs_max;
  result.dp_all_gather_s = ag_max;
  result.optimizer_s = opt_max;
  result.step_time_s = step;

  // Phases, averaged over devices.
  StepPhases& phases = result.phases;
  double exposed_ep = 0, exposed_tp = 0, exposed_cp = 0;
  for (int device = 0; device < schedule.devices; ++device) {
    const std::vector<ScheduleSlot>& order = schedule.order[static_cast<std::size_t>(device)];
    const std::vector<SlotTiming>& timings = result.run.slots[static_cast<std::size_t>(device)];
    double busy = 0;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double length = (timings[i].end - timings[i].start).seconds();
      busy += length;
      const ScheduleSlot& slot = order[i];
      const StageCost& c = stage_cost({device, slot.task.chunk});
      if (slot.overlapped) {
        phases.overlapped += length;
        continue;
      }
      switch (slot.task.pass) {
        case Pass::forward:
          phases.forward += length;
          exposed_ep += c.ep_forward;
          exposed_tp += c.tp_forward;
          exposed_cp += c.cp_forward;
          break;
        case Pass::backward:
        case Pass::backward_input:
          phases.backward += length;
          exposed_ep += c.ep_backward;
          exposed_tp += c.tp_backward;
          exposed_cp += c.cp_backward;
          break;
        case Pass::backward_weight:
          phases.weight += length;
          break;
      }
    }
    phases.bubble += result.device_tail_start_s[static_cast<std::size_t>(device)] - busy;
  }
  const double devices = schedule.devices;
  phases.forward /= devices;
  phases.backward /= devices;
  phases.weight /= devices;
  phases.overlapped /= devices;
  phases.bubble /= devices;
  const double mean_tail_start = [&] {
    double sum = 0;
    for (double t : result.device_tail_start_s) sum += t;
    return sum / devices;
  }();
  phases.optimizer = result.step_time_s - mean_tail_start;
  result.exposed_comm_s["ep"] = exposed_ep / devices;
  result.exposed_comm_s["tp"] = exposed_tp / devices;
  result.exposed_comm_s["cp"] = exposed_cp / devices;
  result.exposed_comm_s["dp"] = dp_exposed;
  // Pipeline transfers hide behind compute except where a device waits for one; that wait is
  // part of the bubble, so it is not counted twice here.
  result.exposed_comm_s["pp"] = 0;
  std::size_t slots = 0;
  for (const auto& order : schedule.order) slots += order.size();
  result.events = slots;
  config::Experiment placed = e;
  placed.parallelism.stage_layers = split;
  result.memory = workload::estimate_memory(placed);
  return result;
}

}  // namespace clustersim::parallel
