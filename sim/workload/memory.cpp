#include "sim/workload/memory.hpp"

#include <algorithm>

#include "sim/workload/layer_workload.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::workload {
namespace {

using config::Schedule;

struct BytesPerParameter {
  double weights = 2;
  double gradients = 4;
  double optimizer = 12;
};

// Weights in BF16; gradients in the stack's gradient dtype; an FP32 master weight and two moments
// (config::Experiment::moment_bytes).
BytesPerParameter recipe(const config::Experiment& e) {
  return {2, e.stack.gradient_bytes(), 4 + 2 * e.moment_bytes()};
}

int stage_count(const config::Experiment& e) {
  return e.parallelism.model_stages();
}

// Stages held by pipeline rank r.
std::vector<int> stages_of_rank(const config::Experiment& e, int rank) {
  const config::ParallelismSpec& p = e.parallelism;
  switch (p.schedule) {
    case Schedule::dualpipe:
      return rank == p.pp - 1 - rank ? std::vector<int>{rank}
                                     : std::vector<int>{rank, p.pp - 1 - rank};
    case Schedule::dualpipev:
      return {rank, 2 * p.pp - 1 - rank};
    default: {
      std::vector<int> stages;
      for (int chunk = 0; chunk < p.virtual_stages; ++chunk) stages.push_back(rank + chunk * p.pp);
      return stages;
    }
  }
}

// Micro-batches of `stage`'s activations that pipeline rank `rank` keeps at its peak.
double in_flight(const config::Experiment& e, int rank, int stage) {
  const config::ParallelismSpec& p = e.parallelism;
  const double m = static_cast<double>(e.training.micro_batches(p));
  const double pp = p.pp;
  // Megatron-Core's combined 1F1B warms up with one more forward chunk.
  const double combined = e.combined_one_f_one_b() ? 1.0 : 0.0;
  switch (p.schedule) {
    case Schedule::gpipe:
      return m;
    case Schedule::one_f_one_b:
      return std::min(pp - rank + combined, m);
    case Schedule::zb1p:
      return std::min(pp - rank, m);
    case Schedule::interleaved:
      // Spread over the rank's v chunks: (pp - r) + (pp - 1 - r) / v full stages in all.
      return std::min((pp - rank) + (pp - 1 - rank + combined) / p.virtual_stages, m) /
             p.virtual_stages;
    case Schedule::dualpipe:
    case Schedule::dualpipev: {
      // Two directions: the rank is at position r of one (pp - r chunks in flight, as in 1F1B)
      // and at position pp - 1 - r of the other (r + 1 chunks): pp + 1 in all, as published.
      const bool first_direction = stage == rank;
      return std::min(first_direction ? pp - rank : rank + 1.0, m);
    }
  }
  return pp;
}

}  // namespace

bool tied_head_has_own_copy(const config::Experiment& e) {
  return e.model.tied_embeddings && e.parallelism.pp > 1;
}

std::vector<int> stage_layer_split(const config::Experiment& e) {
  if (!e.parallelism.stage_layers.empty() &&
      static_cast<int>(e.parallelism.stage_layers.size()) == stage_count(e)) {
    return e.parallelism.stage_layers;
  }
  const int stages = stage_count(e);
  const int layers = e.model.layers;
  const config::ParallelismSpec& p = e.parallelism;
  if (const int counted = p.split_counted_blocks(); counted > 0) {
    // Megatron-Core's split with the embedding and the loss counted as layers: every stage the
    // same share, less one on the first stage for the embedding and on the last for the loss
    // (get_num_layers_to_build in megatron/core/transformer/transformer_block.py).
    std::vector<int> split(static_cast<std::size_t>(stages), (layers + counted) / stages);
    if (p.split_counts_embedding) --split.front();
    if (p.split_counts_loss) --split.back();
    return split;
  }
  std::vector<int> split(static_cast<std::size_t>(stages), layers / stages);
  int extra = layers % stages;
  // The remainder goes to the middle stages, outward from the centre, so the first and last
  // stages (embedding, head, MTP) carry the fewest layers.
  for (int offset = 0; extra > 0; ++offset) {
    for (int stage : {stages / 2 + offset, stages / 2 - 1 - offset}) {
      if (extra > 0 && stage >= 0 && stage < stages &&
          (offset > 0 || stage == stages / 2 || stage == stages / 2 - 1)) {
        ++split[static_cast<std::size_t>(stage)];
        --extra;
      }
    }
  }
  return split;
}

MemoryEstimate estimate_memory(const config::Experiment& e) {
  const config::ModelCard& card = e.model;
  const config::ParallelismSpec& p = e.parallelism;
  const BytesPerParameter bytes = recipe(e);
  const WorkloadOptions options = workload_options(e);
  const ModelStats stats = compute_model_stats(card, e.training.seq_len);
  const double dense_shards = static_cast<double>(p.dp) * p.cp;
  const double expert_shards = static_cast<double>(p.dp) * p.tp * p.cp / (p.ep * p.etp);
  const double h = static_cast<double>(card.hidden_size);

  const std::vector<int> split = stage_layer_split(e);
  std::vector<int> first_layer(split.size(), 0);
  for (std::size_t s = 1; s < split.size(); ++s) first_layer[s] = first_layer[s - 1] + split[s - 1];
  const int last_stage = static_cast<int>(split.size()) - 1;

  MemoryEstimate estimate;
  estimate.capacity = e.hardware.gpu.memory_capacity.bytes;
  for (int rank = 0; rank < p.pp; ++rank) {
    RankMemory r;
    r.rank = rank;
    r.stages = stages_of_rank(e, rank);
    double dense = 0;    // parameters replicated over data-parallel ranks
    double experts = 0;  // routed-expert parameters on this rank
    double largest_layer = 0;
    for (int stage : r.stages) {
      const auto s = static_cast<std::size_t>(stage);
      double stage_activations = 0;  // one micro-batch through this stage
      for (int layer = first_layer[s]; layer < first_layer[s] + split[s]; ++layer) {
        ++r.layers;
        double layer_dense = (attention_params(card) + 2 * h) / p.tp;
        double layer_experts = 0;
        if (is_moe_layer(card, layer)) {
          const config::MoeSpec& moe = *card.moe;
          const double expert = ffn_params(card, moe.expert_hidden_size);
          layer_experts = static_cast<double>(moe.experts) / p.ep * expert / p.etp;
          layer_dense += moe.shared_experts * expert / p.tp + h * moe.experts;
        } else {
          layer_dense += ffn_params(card, card.ffn.hidden_size) / p.tp;
        }
        dense += layer_dense;
        experts += layer_experts;
        largest_layer = std::max(largest_layer, layer_dense + layer_experts);
        stage_activations += layer_workload(card, layer, options).saved_bytes();
      }
      if (stage == 0) dense += stats.params.embedding / p.tp;
      if (stage == last_stage) {
        dense += (stats.params.output_head + h) / p.tp;
        // A tied head's own copy of the word embeddings, with its gradient and optimizer state.
        if (tied_head_has_own_copy(e)) {
          dense += static_cast<double>(card.vocab_size) * h / p.tp;
        }
        // MTP modules: their routed experts spread over EP like the main model's, the rest whole.
        const double mtp_experts = card.moe ? card.mtp_modules * card.moe->experts *
                                                  ffn_params(card, card.moe->expert_hidden_size)
                                            : 0.0;
        dense += (stats.params.mtp - mtp_experts) / p.tp;
        experts += mtp_experts / (p.ep * p.etp);
        stage_activations += head_workload(card, options).saved_bytes();
        for (int module = 0; module < card.mtp_modules; ++module) {
          stage_activations += mtp_workload(card, options).saved_bytes();
        }
      }
      const double chunks = in_flight(e, rank, stage);
      r.micro_batches_in_flight += chunks;
      r.activations += stage_activations * chunks;
    }
    const double weights = dense + experts;
    const double weight_shards =
        p.zero >= 3 ? dense / dense_shards + experts / expert_shards : weights;
    r.parameters = bytes.weights * weight_shards;
    if (p.zero >= 3) r.parameters += bytes.weights * largest_layer;  // the gathered layer
    r.gradients =
        bytes.gradients * (p.zero >= 2 ? dense / dense_shards + experts / expert_shards : weights);
    r.optimizer =
        bytes.optimizer * (p.zero >= 1 ? dense / dense_shards + experts / expert_shards : weights);
    // Buffers: EP dispatch (FP8 in FP8 training) and combine (BF16) for two micro-batches in
    // flight (DualPipe overlaps two chunks), pipeline send/receive buffers for two micro-batches.
    const double tokens = static_cast<double>(e.training.seq_len) * p.micro_batch_size / p.cp;
    if (p.ep > 1 && card.moe) {
      const double dispatch = e.training.precision == config::Precision::fp8 ? 1.0 : 2.0;
      r.communication += 2 * tokens * card.moe->top_k * h * (dispatch + 2.0) * p.etp / p.tp;
    }
    if (p.pp > 1) r.communication += 2 * 2 * tokens * h * 2.0;
    r.framework = e.training.memory_overhead.bytes;
    estimate.ranks.push_back(r);
  }
  for (std::size_t i = 0; i < estimate.ranks.size(); ++i) {
    if (estimate.ranks[i].total() > estimate.ranks[estimate.peak_rank].total()) {
      estimate.peak_rank = i;
    }
  }
  return estimate;
}

}  // namespace clustersim::workload
