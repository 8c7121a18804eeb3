#pragma once
// The operators one micro-batch runs through one transformer layer on one GPU, with their GEMM
// shapes, FLOPs for the forward, input-backward (B) and weight-backward (W) passes, memory
// traffic, and the activation bytes each keeps for the backward pass under the recompute policy.
//
// Parallel splits (Megatron conventions): tensor parallelism (tp) splits heads and FFN columns;
// sequence parallelism (sp) splits the tokens of norms, dropouts and residuals over tp; context
// parallelism (cp) splits the sequence; expert parallelism (ep) spreads experts over ranks, each
// rank computing on average its own share of the routed tokens (balanced routing).
//
// Activation bytes follow Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
// Transformer Models", §4): every tensor a backward pass reads is kept, unless the op that makes
// it is recomputed. With dropout, no flash attention, BF16 and a 4h GELU FFN this gives their
// sbh(34 + 5as/h) per layer, and their TP, SP and selective-recompute variants (tests pin them).
// FP8 training (DeepSeek-V3, TR §3.3) keeps the inputs of FP8 linears in FP8 with one FP32 scale
// per 128 values, the input of the attention output projection in E5M6 (12 bits), and the SwiGLU
// inputs in FP8.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/config/experiment.hpp"
#include "sim/config/model_card.hpp"
#include "sim/core/dtype.hpp"

namespace clustersim::workload {

// `saved` is a tensor kept for the backward pass that no kernel of its own makes (it is the output
// of an op listed elsewhere); it costs memory, not time.
enum class OpKind {
  gemm,
  attention,
  norm,
  elementwise,
  router,
  embedding,
  softmax,
  dropout,
  permute,
  loss,
  saved
};

// How one pass of a GEMM is launched: as `splits` kernels over 1/splits of its tokens each, on the
// GPU's SMs less `held_sms` that a communication kernel beside it holds (TE's TP overlap,
// config::TpOverlapMethod). One kernel on every SM by default.
struct GemmLaunch {
  int splits = 1;
  int held_sms = 0;
  [[nodiscard]] bool operator==(const GemmLaunch&) const = default;
};

// The four GEMMs of a layer that Transformer Engine overlaps with its TP collectives (TE's buffer
// names): qkv and fc1 after the all-gather of their input, proj and fc2 before the reduce-scatter
// of their output.
enum class TpLinear { none, qkv, proj, fc1, fc2 };
inline constexpr int kTpLinears = 4;  // qkv..fc2, as array indices (tp_linear_index)
// A linear's index in arrays of kTpLinears (qkv 0 .. fc2 3).
[[nodiscard]] constexpr std::size_t tp_linear_index(TpLinear linear) {
  return static_cast<std::size_t>(linear) - 1;
}
inline constexpr std::array<TpLinear, kTpLinears> kTpLinearOrder{TpLinear::qkv, TpLinear::proj,
                                                                 TpLinear::fc1, TpLinear::fc2};

// A linear's three GEMMs by TE's names; the row-parallel proj and fc2 run no collective beside
// their weight gradient (wgrad nullopt).
struct TpLinearGemms {
  config::TpGemm fprop, dgrad;
  std::optional<config::TpGemm> wgrad;
};
[[nodiscard]] constexpr TpLinearGemms tp_linear_gemms(TpLinear linear) {
  using config::TpGemm;
  switch (linear) {
    case TpLinear::qkv:
      return {TpGemm::qkv_fprop, TpGemm::qkv_dgrad, TpGemm::qkv_wgrad};
    case TpLinear::proj:
      return {TpGemm::proj_fprop, TpGemm::proj_dgrad, std::nullopt};
    case TpLinear::fc1:
      return {TpGemm::fc1_fprop, TpGemm::fc1_dgrad, TpGemm::fc1_wgrad};
    case TpLinear::fc2:
    case TpLinear::none:
      break;
  }
  return {TpGemm::fc2_fprop, TpGemm::fc2_dgrad, std::nullopt};
}
// Column-parallel (qkv, fc1): the input is all-gathered before the forward GEMM.
[[nodiscard]] constexpr bool column_parallel(TpLinear linear) {
  return linear == TpLinear::qkv || linear == TpLinear::fc1;
}

struct Op {
  std::string name;  // "attn.q_up", "mlp.down", ...
  OpKind kind = OpKind::elementwise;
  Dtype dtype = Dtype::bf16;
  // GEMM shape per group: [m x k] x [k x n]; `groups` equal GEMMs (grouped experts). The
  // embedding lookup: its table's share on one GPU, n = vocab / tp rows of k = hidden.
  std::int64_t m = 0, n = 0, k = 0;
  int groups = 1;
  double forward_flops = 0;
  double backward_input_flops = 0;       // B
  double backward_weight_flops = 0;      // W
  double forward_bytes = 0;              // memory traffic of the forward pass (non-GEMM ops)
  std::optional<double> backward_bytes;  // of its input-gradient pass; absent: twice the forward
  double saved_bytes = 0;                // activations kept for the backward pass
  bool recomputed = false;               // its forward runs again during the backward pass
  // A GEMM of two activations (unfused attention's Q K^T and P V): both gradient GEMMs are input
  // gradients, so its W-shaped GEMM runs in the B pass and it has no W pass.
  bool activation_operands = false;
  // FP8 activation values quantised before the forward GEMM when that differs from its input
  // (m x k x groups): routed experts whose tokens arrive quantised by the dispatch.
  std::optional<double> forward_quantized_values;
  // How its forward, input-gradient and weight-gradient GEMMs are launched.
  GemmLaunch forward_launch, input_grad_launch, weight_grad_launch;
  TpLinear tp_linear = TpLinear::none;  // set when TE's userbuffers overlap runs it
  // Attention: the kernel's head dim, the mean of the query-key and value head dims (its work
  // per score is in proportion to their sum; MLA's 192 and 128 run as 160).
  std::optional<double> head_dim;
  // Attention under a sliding window: the keys a query sees, the length the kernel's rate is
  // read at (absent: the sequence's). Under ring attention, one step's keys.
  std::optional<double> attention_keys;
  // Attention launched as this many kernels of equal work (ring attention: one per step).
  int attention_steps = 1;
};

struct WorkloadOptions {
  std::int64_t seq_len = 4096;
  std::int64_t micro_batch_size = 1;  // sequences
  int tp = 1;
  int cp = 1;
  int ep = 1;
  int etp = 1;
  bool sequence_parallel = false;
  config::Precision precision = config::Precision::bf16;
  config::RecomputeMode recompute = config::RecomputeMode::none;
  std::vector<std::string> recompute_ops;  // with RecomputeMode::ops
  bool flash_attention = true;             // scores are not materialised
  bool dropout = false;                    // dropout after attention and FFN (GPT-3 style)
  bool fused_softmax = true;               // see config::SoftwareStack
  bool fused_bias_activation = true;
  bool fused_bias_dropout_add = true;
  config::MoeDispatcher dispatcher = config::MoeDispatcher::deepep;
  Dtype dispatch_dtype = Dtype::fp8;
  bool permute_received = false;  // see config::SoftwareStack
  // The busiest EP rank's token-expert pairs over the mean (sim/workload/moe_routing.hpp): its
  // experts set the layer's pace.
  double expert_load_factor = 1;
  // TE's userbuffers overlap of the TP collectives with the GEMMs beside them (the stack's
  // tp_overlap), when the stack overlaps TP communication with tp > 1 and sequence parallelism.
  std::optional<std::array<config::TpOverlapGemm, config::kTpGemms>> tp_overlap;

  // Whether the recompute policy reruns the op (a recompute-list name): full recomputation
  // every op, selective the attention, a list its names. recomputes("moe"): the backward runs
  // an MoE layer's forward again, token dispatch and combine included (Megatron-Core's
  // --recompute-modules moe checkpoints the MoE layer from the router to the combine).
  [[nodiscard]] bool recomputes(std::string_view op) const;
};

struct LayerWorkload {
  int layer = 0;
  bool moe = false;
  std::vector<Op> ops;
  [[nodiscard]] double forward_flops() const;
  [[nodiscard]] double backward_input_flops() const;  // including recomputation
  [[nodiscard]] double backward_weight_flops() const;
  [[nodiscard]] double saved_bytes() const;
};

[[nodiscard]] WorkloadOptions workload_options(const config::Experiment& experiment);

// One transformer layer (attention + dense FFN or MoE) of one micro-batch on one rank.
[[nodiscard]] LayerWorkload layer_workload(const config::ModelCard& card, int layer,
                                           const WorkloadOptions& options);
// The embedding lookup (first stage) and the output head with its loss (last stage).
[[nodiscard]] LayerWorkload embedding_workload(const config::ModelCard& card,
                                               const WorkloadOptions& options);
[[nodiscard]] LayerWorkload head_workload(const config::ModelCard& card,
                                          const WorkloadOptions& options);
// One multi-token-prediction module (DeepSeek-V3 TR §2.2): the projection of the normalised hidden
// state and next-token embedding (2h -> h), one transformer layer, and the shared output head
// with its loss.
[[nodiscard]] LayerWorkload mtp_workload(const config::ModelCard& card,
                                         const WorkloadOptions& options);

}  // namespace clustersim::workload
