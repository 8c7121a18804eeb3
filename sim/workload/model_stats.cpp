#include "sim/workload/model_stats.hpp"

namespace clustersim::workload {
namespace {

using config::Activation;
using config::AttentionType;
using config::ModelCard;

double d(std::int64_t value) {
  return static_cast<double>(value);
}

// Weight and bias count of a norm over `width` features.
double norm_params(const ModelCard& card, std::int64_t width) {
  return card.norm == config::NormType::layernorm ? 2 * d(width) : d(width);
}

// Attention weights a token multiplies by (everything but the inner norms).
double attention_matmul_params(const ModelCard& card) {
  const config::AttentionSpec& a = card.attention;
  const double h = d(card.hidden_size);
  const double heads = a.heads;
  if (a.type == AttentionType::mla) {
    const double qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
    const double q =
        a.q_lora_rank ? h * d(*a.q_lora_rank) + d(*a.q_lora_rank) * heads * qk : h * heads * qk;
    const double kv_down = h * (d(a.kv_lora_rank) + a.qk_rope_head_dim);
    const double kv_up = d(a.kv_lora_rank) * heads * (a.qk_nope_head_dim + a.v_head_dim);
    const double out = heads * a.v_head_dim * h;
    return q + kv_down + kv_up + out;
  }
  const double q = h * heads * a.head_dim;
  const double kv = 2 * h * a.kv_heads * a.head_dim;
  const double out = heads * a.head_dim * h;
  return q + kv + out;
}

double attention_bias_params(const ModelCard& card) {
  const config::AttentionSpec& a = card.attention;
  if (a.type == AttentionType::mla) return 0;
  const double qkv = (double{1} * a.heads + 2.0 * a.kv_heads) * a.head_dim;
  if (card.linear_bias) return qkv + d(card.hidden_size);
  return a.qkv_bias ? qkv : 0;
}

double attention_norm_params(const ModelCard& card) {
  const config::AttentionSpec& a = card.attention;
  if (a.type != AttentionType::mla) return 0;
  return (a.q_lora_rank ? norm_params(card, *a.q_lora_rank) : 0) +
         norm_params(card, a.kv_lora_rank);
}

double ffn_matmul_params(const ModelCard& card, std::int64_t intermediate) {
  const double matrices = card.ffn.activation == Activation::swiglu ? 3 : 2;
  return matrices * d(card.hidden_size) * d(intermediate);
}

// Attention FLOPs per token for one layer at `context` keys per query.
double attention_score_flops(const ModelCard& card, double context) {
  const config::AttentionSpec& a = card.attention;
  const double qk =
      a.type == AttentionType::mla ? a.qk_nope_head_dim + a.qk_rope_head_dim : a.head_dim;
  const double v = a.type == AttentionType::mla ? a.v_head_dim : a.head_dim;
  return 2 * context * a.heads * (qk + v);
}

}  // namespace

bool is_moe_layer(const ModelCard& card, int layer) {
  return card.moe && layer >= card.moe->first_dense_layers;
}

bool slides(const ModelCard& card, int layer) {
  const std::optional<config::SlidingWindow>& window = card.attention.sliding_window;
  if (!window || layer >= card.layers) return false;
  return window->full_every == 0 || (layer + 1) % window->full_every != 0;
}

AttentionSpan attention_span(const ModelCard& card, int layer, std::int64_t seq_len) {
  const double s = static_cast<double>(seq_len);
  if (slides(card, layer)) {
    const double w = static_cast<double>(card.attention.sliding_window->tokens);
    if (w < s) return {w - w * w / (2 * s), w};
  }
  return {s / 2, s};
}

double attention_params(const ModelCard& card) {
  return attention_matmul_params(card) + attention_bias_params(card) + attention_norm_params(card);
}

double ffn_params(const ModelCard& card, std::int64_t intermediate) {
  double params = ffn_matmul_params(card, intermediate);
  if (card.linear_bias) params += d(intermediate) + d(card.hidden_size);
  return params;
}

ModelStats compute_model_stats(const ModelCard& card, std::int64_t seq_len) {
  ModelStats stats;
  stats.seq_len = seq_len;
  ParameterCounts& p = stats.params;
  const double h = d(card.hidden_size);
  p.embedding = d(card.vocab_size) * h;
  if (card.position_embedding == config::PositionEmbedding::learned) {
    p.embedding += d(card.max_seq_len) * h;
  }
  p.output_head = card.tied_embeddings ? 0 : d(card.vocab_size) * h;
  const double head_matmul = d(card.vocab_size) * h;  // the head is a GEMM even when tied

  const double attention = attention_params(card);
  const double attention_matmul = attention_matmul_params(card);
  const double layer_norms = 2 * norm_params(card, card.hidden_size);
  for (int layer = 0; layer < card.layers; ++layer) {
    LayerStats row;
    row.index = layer;
    row.moe = is_moe_layer(card, layer);
    double ffn_total = 0;
    double ffn_active = 0;
    double ffn_matmul_active = 0;
    if (row.moe) {
      const config::MoeSpec& moe = *card.moe;
      const double expert = ffn_params(card, moe.expert_hidden_size);
      const double expert_matmul = ffn_matmul_params(card, moe.expert_hidden_size);
      const double router = h * moe.experts;
      p.routed_experts += moe.experts * expert;
      p.shared_experts += moe.shared_experts * expert;
      p.routers += router;
      p.active_routed_experts += moe.top_k * expert;
      ffn_total = (moe.experts + moe.shared_experts) * expert + router;
      ffn_active = (moe.top_k + moe.shared_experts) * expert + router;
      ffn_matmul_active = (moe.top_k + moe.shared_experts) * expert_matmul + router;
    } else {
      ffn_total = ffn_params(card, card.ffn.hidden_size);
      p.dense_ffn += ffn_total;
      ffn_active = ffn_total;
      ffn_matmul_active = ffn_matmul_params(card, card.ffn.hidden_size);
    }
    p.attention += attention;
    p.norms += layer_norms;
    row.params = attention + ffn_total + layer_norms;
    row.active_params = attention + ffn_active + layer_norms;
    row.forward_matmul_flops = 2 * (attention_matmul + ffn_matmul_active);
    const AttentionSpan span = attention_span(card, layer, seq_len);
    row.forward_attention_flops_causal = attention_score_flops(card, span.causal_keys);
    row.forward_attention_flops_noncausal = attention_score_flops(card, span.keys);
    stats.forward_matmul_flops_per_token += row.forward_matmul_flops;
    stats.forward_attention_flops_causal += row.forward_attention_flops_causal;
    stats.forward_attention_flops_noncausal += row.forward_attention_flops_noncausal;
    stats.layers.push_back(row);
  }
  p.norms += norm_params(card, card.hidden_size);  // final norm
  stats.forward_matmul_flops_per_token += 2 * head_matmul;

  if (card.mtp_modules > 0) {
    // DeepSeek-V3 MTP module (TR §2.2): a projection of [h; embedding] (2h -> h), two RMSNorms on
    // its inputs, one transformer layer (MoE when the model has experts) and a norm before the
    // shared output head.
    const double block = card.moe ? (card.moe->experts + card.moe->shared_experts) *
                                            ffn_params(card, card.moe->expert_hidden_size) +
                                        h * card.moe->experts
                                  : ffn_params(card, card.ffn.hidden_size);
    const double module =
        2 * h * h + 3 * norm_params(card, card.hidden_size) + attention + layer_norms + block;
    p.mtp = card.mtp_modules * module;
  }

  const config::AttentionSpec& a = card.attention;
  const double cached_per_layer = a.type == AttentionType::mla
                                      ? d(a.kv_lora_rank) + a.qk_rope_head_dim
                                      : 2.0 * a.kv_heads * a.head_dim;
  stats.kv_cache_bytes_per_token = card.layers * cached_per_layer * 2;  // BF16
  return stats;
}

}  // namespace clustersim::workload
