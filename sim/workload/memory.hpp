#pragma once
// Memory per GPU for training: parameters, gradients and optimizer state (with ZeRO sharding over
// data-parallel ranks and experts spread over expert-parallel ranks), activations of the
// micro-batches a pipeline schedule keeps in flight, communication buffers, and an allowance for
// the framework, for every pipeline rank.
//
// Precision recipes (bytes per parameter):
//   bf16 (Megatron mixed precision): weights 2, gradients 4 (FP32 main grads), optimizer 4 + 4 + 4
//     (FP32 master weights and Adam moments);
//   fp8 (DeepSeek-V3, TR §3.3.3): weights 2, gradients 4 (FP32), optimizer 4 + 2 + 2 (FP32 master
//     weights, BF16 moments).
// ZeRO-1 shards the optimizer state, ZeRO-2 also the gradients, ZeRO-3 also the weights (plus one
// gathered layer), over the dp x cp ranks that hold the same dense parameters, or the
// dp x tp x cp / ep ranks that hold the same experts.
//
// Micro-batches in flight on pipeline rank r (0-based) of pp, m micro-batches, v virtual stages:
//   gpipe m; 1f1b and zb1p min(pp - r, m); interleaved (pp - r) + (pp - 1 - r) / v of a full
//   stage (Korthikanti et al. 2022 §4.2.3 for r = 0); dualpipe and dualpipev: each rank holds two
//   stages (dualpipe: r and pp-1-r of pp, so parameters twice; dualpipev: r and 2pp-1-r of 2pp),
//   at position r of one direction (pp - r chunks in flight, as in 1F1B) and pp - 1 - r of the
//   other (r + 1 chunks): pp + 1 chunks per rank, as the DualPipe README gives.
// Layers split over stages as `stage_layers` says, or evenly with the remainder on the middle
// stages (the first and last stages carry the embedding, head and MTP modules); the embedding is
// on stage 0, the head, final norm and MTP modules on the last stage (TR §3.2.3).

#include <string>
#include <vector>

#include "sim/config/experiment.hpp"

namespace clustersim::workload {

struct RankMemory {
  int rank = 0;             // pipeline rank
  std::vector<int> stages;  // stages it holds
  int layers = 0;
  double micro_batches_in_flight = 0;  // in units of one stage's activations of one micro-batch
  double parameters = 0;               // bytes
  double gradients = 0;
  double optimizer = 0;
  double activations = 0;
  double communication = 0;
  double framework = 0;
  [[nodiscard]] double total() const {
    return parameters + gradients + optimizer + activations + communication + framework;
  }
};

struct MemoryEstimate {
  std::vector<RankMemory> ranks;
  std::size_t peak_rank = 0;  // index into ranks of the most loaded one
  double capacity = 0;        // bytes of one GPU
  [[nodiscard]] const RankMemory& peak() const { return ranks[peak_rank]; }
  [[nodiscard]] bool fits() const { return peak().total() <= capacity; }
};

// Layers of every pipeline stage (pp x virtual_stages, or 2 pp for dualpipev).
[[nodiscard]] std::vector<int> stage_layer_split(const config::Experiment& experiment);
// Whether a tied output head keeps a copy of its own of the word embeddings on the last stage
// (under a pipeline, as Megatron does, its gradient all-reduced with the first stage's); on one
// stage the head multiplies by the embedding's table itself.
[[nodiscard]] bool tied_head_has_own_copy(const config::Experiment& experiment);

[[nodiscard]] MemoryEstimate estimate_memory(const config::Experiment& experiment);

}  // namespace clustersim::workload
