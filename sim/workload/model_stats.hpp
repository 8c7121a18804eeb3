#pragma once
// What a model card implies before any hardware is involved: parameter counts (total and active
// per token), training FLOPs per token, and KV-cache bytes per token.
//
// FLOP convention (see README "Which FLOPs are counted"):
//   forward FLOPs per token = 2 x (weights of every matrix multiplication a token passes through:
//     attention projections, the dense FFN or the shared and top-k routed experts and the router,
//     and the output head; not the embedding lookup, norms or element-wise work)
//   + attention scores and values: 2 x context x heads x (d_qk + d_v) per layer, where context is
//     the sequence length (non-causal, Megatron convention) or half of it (causal, the lower
//     triangle only, FlashAttention convention); in a layer with a sliding window of w tokens
//     (attention_span), w keys per query non-causal and w - w^2 / (2 s) causal;
//   training FLOPs per token = 3 x forward (backward = input gradients + weight gradients).
// The multi-token-prediction modules are excluded from totals and FLOPs (reported apart).

#include <cstdint>
#include <string>
#include <vector>

#include "sim/config/model_card.hpp"

namespace clustersim::workload {

struct ParameterCounts {
  double embedding = 0;       // token embeddings (+ learned positions)
  double output_head = 0;     // 0 when tied to the embedding
  double attention = 0;       // projections of every layer (with their biases and inner norms)
  double dense_ffn = 0;       // FFNs of the dense layers
  double routed_experts = 0;  // every routed expert of every MoE layer
  double shared_experts = 0;
  double routers = 0;
  double norms = 0;  // the layers' pre-norms and the final norm
  double mtp = 0;    // the MTP modules' own parameters (embedding and head are shared)
  double active_routed_experts = 0;  // the top_k routed experts a token uses, every MoE layer

  [[nodiscard]] double total() const {
    return embedding + output_head + attention + dense_ffn + routed_experts + shared_experts +
           routers + norms;
  }
  [[nodiscard]] double active() const { return total() - routed_experts + active_routed_experts; }
};

struct LayerStats {
  int index = 0;
  bool moe = false;
  double params = 0;
  double active_params = 0;
  double forward_matmul_flops = 0;            // per token
  double forward_attention_flops_causal = 0;  // per token, at the given sequence length
  double forward_attention_flops_noncausal = 0;
};

struct ModelStats {
  std::int64_t seq_len = 0;
  ParameterCounts params;
  double kv_cache_bytes_per_token = 0;  // BF16 (2 bytes per element), all layers
  double forward_matmul_flops_per_token = 0;
  double forward_attention_flops_causal = 0;
  double forward_attention_flops_noncausal = 0;
  std::vector<LayerStats> layers;

  [[nodiscard]] double train_flops_per_token_causal() const {
    return 3 * (forward_matmul_flops_per_token + forward_attention_flops_causal);
  }
  [[nodiscard]] double train_flops_per_token_noncausal() const {
    return 3 * (forward_matmul_flops_per_token + forward_attention_flops_noncausal);
  }
};

[[nodiscard]] ModelStats compute_model_stats(const config::ModelCard& card, std::int64_t seq_len);

// Parameters of one attention block, one dense FFN, one expert (used by the memory model too).
[[nodiscard]] double attention_params(const config::ModelCard& card);
[[nodiscard]] double ffn_params(const config::ModelCard& card, std::int64_t intermediate);
[[nodiscard]] bool is_moe_layer(const config::ModelCard& card, int layer);

// Whether the layer's attention slides (the card's sliding_window; the layers past the card's,
// its MTP modules, attend fully).
[[nodiscard]] bool slides(const config::ModelCard& card, int layer);

// The keys a query of the layer attends to over a sequence of `seq_len` tokens: on average under
// the causal mask (s / 2 for full attention; with a sliding window of w < s tokens, the band's
// s w - w^2 / 2 pairs over s queries, w - w^2 / (2 s)), and at most (s, or w: the non-causal
// count, and the length the attention kernel's rate is read at).
struct AttentionSpan {
  double causal_keys = 0;
  double keys = 0;
};
[[nodiscard]] AttentionSpan attention_span(const config::ModelCard& card, int layer,
                                           std::int64_t seq_len);

}  // namespace clustersim::workload
