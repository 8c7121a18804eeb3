#include "sim/workload/layer_workload.hpp"

#include <algorithm>
#include <optional>

#include "sim/workload/model_stats.hpp"
#include "sim/workload/moe_routing.hpp"

namespace clustersim::workload {
namespace {

using config::Activation;
using config::AttentionType;
using config::ModelCard;
using config::Precision;
using config::RecomputeMode;

double d(std::int64_t v) {
  return static_cast<double>(v);
}

constexpr double kActivationBytes = 2;  // BF16
// FP8 caching: one byte per value and one FP32 scale per 1 x 128 tile (TR §3.3).
constexpr double kFp8Bytes = 1.0 + 4.0 / 128.0;
constexpr double kE5m6Bytes = 1.5 + 4.0 / 128.0;  // 12-bit E5M6 (TR §3.3.3) with its scales
constexpr double kMaskBytes = 1;                  // a dropout mask keeps one byte per value
constexpr double kLogSumExpBytes = 4;             // FP32 per query row and head (flash attention)

class Builder {
 public:
  Builder(const ModelCard& card, const WorkloadOptions& options) : card_(card), options_(options) {
    tokens_ = d(options.seq_len) * d(options.micro_batch_size) / options.cp;
    // Norms, dropouts and residuals run on a 1/tp slice of the tokens with sequence parallelism.
    sp_tokens_ = options.sequence_parallel ? tokens_ / options.tp : tokens_;
    fp8_ = options.precision == Precision::fp8;
  }

  [[nodiscard]] bool recomputes(std::string_view op) const { return options_.recomputes(op); }
  // Whether the op named `name` runs its forward again in the backward pass under a list-mode
  // recompute (full and selective set it in finish() and core_attention()).
  [[nodiscard]] bool recomputed_by_list(std::string_view name) const {
    if (options_.recompute != RecomputeMode::ops) return false;
    if (name == "attn.q_up" || name == "attn.kv_up") return recomputes("mla_up_projection");
    if (name.ends_with("norm")) return recomputes(norm_name());
    if (name.ends_with(".swiglu")) return recomputes("swiglu");
    if (name.ends_with(".gelu") || name.ends_with(".bias_gelu")) return recomputes("gelu");
    if (name == "moe.router" || name == "moe.topk") return recomputes("moe_gate");
    return false;
  }
  // Inputs gathered from a sequence-parallel region are kept split.
  [[nodiscard]] double gathered() const {
    return options_.sequence_parallel ? 1.0 / options_.tp : 1.0;
  }
  [[nodiscard]] std::string_view norm_name() const {
    return card_.norm == config::NormType::rmsnorm ? "rmsnorm" : "layernorm";
  }
  // Bytes per value of a GEMM input kept for the weight gradient.
  [[nodiscard]] double gemm_input_bytes() const { return fp8_ ? kFp8Bytes : kActivationBytes; }

  // A GEMM [m x k] x [k x n] (x groups): forward 2mnk, B 2mnk, W 2mnk; it keeps its input.
  // `kept_fraction` < 1 when the input was all-gathered from a sequence-parallel region: the
  // sequence-split copy is what is kept (and gathered again in the backward pass).
  void gemm(std::string name, double m, std::int64_t n, std::int64_t k, int groups = 1,
            std::optional<double> input_bytes = std::nullopt, bool keeps_input = true,
            double kept_fraction = 1.0) {
    Op op;
    op.name = std::move(name);
    op.kind = OpKind::gemm;
    op.dtype = fp8_ ? Dtype::fp8 : Dtype::bf16;
    op.m = static_cast<std::int64_t>(m);
    op.n = n;
    op.k = k;
    op.groups = groups;
    const double flops = 2 * m * d(n) * d(k) * groups;
    op.forward_flops = flops;
    op.backward_input_flops = flops;
    op.backward_weight_flops = flops;
    op.forward_bytes = (m * d(k) + m * d(n)) * groups * kActivationBytes;
    if (keeps_input) {
      op.saved_bytes = m * d(k) * groups * input_bytes.value_or(gemm_input_bytes()) * kept_fraction;
    }
    mark_recomputed(op);
    ops_.push_back(std::move(op));
  }

  // The GEMM just added is TE's `linear`, run beside TP communication under the userbuffers
  // overlap (when the options have one): its forward, input-gradient and (column-parallel GEMMs)
  // weight-gradient launches.
  void tp_overlapped(TpLinear linear) {
    if (!options_.tp_overlap) return;
    const auto launch = [&](config::TpGemm gemm) {
      const config::TpOverlapGemm& g = (*options_.tp_overlap)[static_cast<std::size_t>(gemm)];
      switch (g.method) {
        case config::TpOverlapMethod::ring_exchange:
          return GemmLaunch{options_.tp, g.held_sms()};
        case config::TpOverlapMethod::pipeline:
          return GemmLaunch{g.splits, g.held_sms()};
        case config::TpOverlapMethod::bulk:
          return GemmLaunch{1, g.held_sms()};
      }
      return GemmLaunch{};
    };
    const TpLinearGemms gemms = tp_linear_gemms(linear);
    Op& op = ops_.back();
    op.tp_linear = linear;
    op.forward_launch = launch(gemms.fprop);
    op.input_grad_launch = launch(gemms.dgrad);
    if (gemms.wgrad) op.weight_grad_launch = launch(*gemms.wgrad);
  }

  void mark_recomputed(Op& op) const {
    if (!recomputed_by_list(op.name)) return;
    op.recomputed = true;
    op.backward_input_flops += op.forward_flops;
  }

  // An element-wise or normalisation op over `values`; `saved` values of `bytes` kept.
  // `traffic` is the forward's bytes per value (default: read and write BF16).
  void pointwise(std::string name, OpKind kind, double values, double saved, double bytes,
                 bool recomputed, double traffic = 2 * kActivationBytes) {
    Op op;
    op.name = std::move(name);
    op.kind = kind;
    op.forward_bytes = values * traffic;
    op.saved_bytes = recomputed ? 0 : saved * bytes;
    op.recomputed = recomputed;
    if (!recomputed) mark_recomputed(op);
    ops_.push_back(std::move(op));
  }

  // The backward traffic of the op just added: `per_value` bytes for each of its values (what
  // its input-gradient kernel reads and writes).
  void backward_traffic(double values, double per_value) {
    ops_.back().backward_bytes = values * per_value;
  }

  // A tensor the backward pass reads that an op listed elsewhere makes: memory, no kernel.
  void saved(std::string name, double values, double bytes) {
    Op op;
    op.name = std::move(name);
    op.kind = OpKind::saved;
    op.saved_bytes = values * bytes;
    ops_.push_back(std::move(op));
  }

  // What follows a sublayer's output projection (Megatron's bias-dropout-add): its bias, dropout
  // and the residual add, one fused kernel or one kernel each. The dropout keeps its mask.
  void residual(const std::string& prefix) {
    const double values = sp_tokens_ * d(card_.hidden_size);
    const double mask = options_.dropout ? values : 0;
    if (options_.fused_bias_dropout_add) {
      // Read the output and the residual, write the sum (and the mask).
      pointwise(prefix + ".bias_dropout_add", OpKind::elementwise, values, mask, kMaskBytes, false,
                3 * kActivationBytes + (options_.dropout ? kMaskBytes : 0));
      // Backward: the dropout's mask applied to the gradient (read it and the mask, write), and
      // the residual stream's two gradients summed (read two, write one).
      backward_traffic(values, (options_.dropout ? 2 * kActivationBytes + kMaskBytes : 0) +
                                   3 * kActivationBytes);
      return;
    }
    if (card_.linear_bias) {
      pointwise(prefix + ".bias", OpKind::elementwise, values, 0, 0, false);
      backward_traffic(values, kActivationBytes);  // the bias gradient reads the output's
    }
    if (options_.dropout) {
      pointwise(prefix + ".dropout", OpKind::dropout, values, mask, kMaskBytes, false,
                2 * kActivationBytes + kMaskBytes);
      backward_traffic(values, 2 * kActivationBytes + kMaskBytes);
    }
    pointwise(prefix + ".residual_add", OpKind::elementwise, values, 0, 0, false,
              3 * kActivationBytes);
    backward_traffic(values, 3 * kActivationBytes);
  }

  void norm(const std::string& name, double tokens, std::int64_t width) {
    // The norm's input is kept (it is the residual stream); its output is what the following
    // GEMM keeps, unless the norm is recomputed in the backward pass.
    pointwise(name, OpKind::norm, tokens * d(width), tokens * d(width), kActivationBytes, false);
    backward_traffic(tokens * d(width), 3 * kActivationBytes);  // read x and dy, write dx
  }

  void attention_block(int layer) {
    const AttentionSpan span = attention_span(card_, layer, options_.seq_len);
    const config::AttentionSpec& a = card_.attention;
    const int tp = options_.tp;
    const double heads = static_cast<double>(a.heads) / tp;
    const bool norm_recomputed = recomputes(norm_name());
    norm("attn.norm", sp_tokens_, card_.hidden_size);
    // The GEMMs after the norm read its output; with sequence parallelism it is all-gathered,
    // and the gathered (full) copy is what the GEMM keeps.
    if (a.type == AttentionType::mla) {
      const bool up_recomputed = recomputes("mla_up_projection");
      const std::int64_t qk = a.qk_nope_head_dim + a.qk_rope_head_dim;
      if (a.q_lora_rank) {
        gemm("attn.q_down", tokens_, *a.q_lora_rank, card_.hidden_size, 1, std::nullopt,
             !norm_recomputed, gathered());
        norm("attn.q_norm", tokens_, *a.q_lora_rank);
        gemm("attn.q_up", tokens_, static_cast<std::int64_t>(heads * d(qk)), *a.q_lora_rank, 1,
             std::nullopt, !norm_recomputed);
      } else {
        gemm("attn.q", tokens_, static_cast<std::int64_t>(heads * d(qk)), card_.hidden_size, 1,
             std::nullopt, !norm_recomputed, gathered());
      }
      // q_down and kv_down read the same normalised input: it is kept once.
      gemm("attn.kv_down", tokens_, a.kv_lora_rank + a.qk_rope_head_dim, card_.hidden_size, 1,
           std::nullopt, false);
      norm("attn.kv_norm", tokens_, a.kv_lora_rank);
      gemm("attn.kv_up", tokens_,
           static_cast<std::int64_t>(heads * (a.qk_nope_head_dim + a.v_head_dim)), a.kv_lora_rank,
           1, std::nullopt, !norm_recomputed);
      // Q, K and V for attention's backward pass, unless the up-projections are recomputed
      // (then only the decoupled RoPE key, which no up-projection makes, is kept).
      const double qkv = tokens_ * heads * d(qk + qk + a.v_head_dim);
      const double kept = up_recomputed ? tokens_ * a.qk_rope_head_dim : qkv;
      saved("attn.qkv_for_backward", kept, kActivationBytes);
      core_attention(span, heads, static_cast<double>(qk), a.v_head_dim,
                     heads * d(qk + a.v_head_dim));
      gemm("attn.out", tokens_, card_.hidden_size, static_cast<std::int64_t>(heads * a.v_head_dim),
           1, fp8_ ? kE5m6Bytes : kActivationBytes);
      tp_overlapped(TpLinear::proj);
    } else {
      const double kv_heads = std::max(1.0, static_cast<double>(a.kv_heads) / tp);
      gemm("attn.qkv", tokens_, static_cast<std::int64_t>((heads + 2 * kv_heads) * a.head_dim),
           card_.hidden_size, 1, std::nullopt, !norm_recomputed, gathered());
      tp_overlapped(TpLinear::qkv);
      // Q and K feed QK^T, V feeds the value product.
      saved("attn.qkv_for_backward", tokens_ * (heads + 2 * kv_heads) * a.head_dim,
            kActivationBytes);
      core_attention(span, heads, a.head_dim, a.head_dim, 2 * kv_heads * a.head_dim);
      gemm("attn.out", tokens_, card_.hidden_size, static_cast<std::int64_t>(heads * a.head_dim), 1,
           fp8_ ? kE5m6Bytes : kActivationBytes);
      tp_overlapped(TpLinear::proj);
    }
    residual("attn");
  }

  // `span`: the keys a query of the layer attends to (attention_span); `kv_width`: a token's key
  // and value values on this rank.
  void core_attention(const AttentionSpan& span, double heads, double d_qk, double d_v,
                      double kv_width) {
    // With context parallelism a rank holds s / cp queries, which attend to all s keys (ring
    // attention brings the other ranks' keys and values to it); causal: half of the pairs, or
    // under a sliding window the band's (attention_span).
    const double queries = d(options_.seq_len) / options_.cp;
    const double keys = d(options_.seq_len);
    const double b = d(options_.micro_batch_size);
    if (!options_.flash_attention) {
      // The scores are materialised whole, the mask applied to them: a window saves nothing.
      unfused_attention(heads, d_qk, d_v, queries, keys);
      return;
    }
    const double score_pairs = b * queries * span.causal_keys * heads;
    Op op;
    op.name = "attn.core";
    op.kind = OpKind::attention;
    op.dtype = Dtype::bf16;  // attention stays in BF16 in FP8 training (TR §3.3)
    op.forward_flops = 2 * score_pairs * (d_qk + d_v);
    op.head_dim = (d_qk + d_v) / 2;
    if (span.keys < keys) op.attention_keys = span.keys;
    op.backward_input_flops = 2 * op.forward_flops;  // dQ, dK, dV: twice the forward
    op.recomputed = recomputes("attention");
    // Flash attention keeps its output and the row log-sum-exp; it recomputes the scores.
    op.backward_input_flops += op.forward_flops;
    op.saved_bytes = tokens_ * heads * kLogSumExpBytes;
    if (op.recomputed) op.backward_input_flops += op.forward_flops;
    ops_.push_back(std::move(op));
    if (options_.cp > 1) ring_attention_steps(heads * d_v * b * queries, kv_width * b * queries);
  }

  // Context parallelism as Transformer Engine runs it (AttnFuncWithCPAndKVP2P, load-balanced
  // causal): cp steps, each one attention kernel between this rank's s / cp queries and one
  // rank's keys (the diagonal step causal, the others a full block of half the queries or half
  // the keys: equal work), read at the rate for s / cp keys. Each step's partial output is merged
  // into the output (BF16: read both, write; the first a scaled copy), and in backward each
  // step's query gradient and half block of key-value gradients are added into the running
  // sums. Counted for the rank that merges every step over all its queries, the last.
  void ring_attention_steps(double out_values, double kv_values) {
    const int cp = options_.cp;
    Op& attention = ops_.back();
    attention.attention_steps = cp;
    attention.attention_keys =
        std::min(attention.attention_keys.value_or(d(options_.seq_len)), d(options_.seq_len) / cp);
    Op merge;
    merge.name = "attn.cp_merge";
    merge.kind = OpKind::elementwise;
    merge.forward_bytes = out_values * (2 * kActivationBytes + (cp - 1) * 3 * kActivationBytes);
    merge.backward_bytes = (cp - 1) * 3 * kActivationBytes * (out_values + kv_values / 2);
    merge.recomputed = attention.recomputed;
    ops_.push_back(std::move(merge));
  }

  // Megatron-LM's attention before flash kernels (Korthikanti et al. 2022 §4.1): S = Q K^T and
  // O = P V as batched GEMMs over (micro-batch x heads), the full s x s scores (the causal mask
  // is applied, not skipped), scale + mask + softmax (one fused kernel or three) and dropout on
  // the probabilities. Kept for the backward pass: the softmax output (2 bytes a score), and
  // with dropout its mask and output (1 + 2); selective recompute keeps none of them and runs
  // the whole block again.
  void unfused_attention(double heads, double d_qk, double d_v, double queries, double keys) {
    const bool again = recomputes("attention");
    const int batch = static_cast<int>(d(options_.micro_batch_size) * heads);
    const double scores = batch * queries * keys;
    const auto batched = [&](std::string name, double m, double n, double k) {
      Op op;
      op.name = std::move(name);
      op.kind = OpKind::gemm;
      op.dtype = Dtype::bf16;
      op.m = static_cast<std::int64_t>(m);
      op.n = static_cast<std::int64_t>(n);
      op.k = static_cast<std::int64_t>(k);
      op.groups = batch;
      op.activation_operands = true;
      op.forward_flops = 2 * m * n * k * batch;
      op.backward_input_flops = 2 * op.forward_flops;  // both operands' gradients
      op.forward_bytes = (m * k + k * n + m * n) * batch * kActivationBytes;
      op.recomputed = again;
      if (again) op.backward_input_flops += op.forward_flops;
      ops_.push_back(std::move(op));
    };
    batched("attn.scores", queries, keys, d_qk);
    const auto scores_op = [&](std::string name, OpKind kind, double kept_bytes, double traffic) {
      pointwise(std::move(name), kind, scores, again ? 0 : scores, kept_bytes, again, traffic);
    };
    // Softmax backward reads its output and the gradient and writes one; dropout's reads the
    // gradient and the mask and writes one.
    if (options_.fused_softmax) {
      scores_op("attn.softmax", OpKind::softmax, kActivationBytes, 2 * kActivationBytes);
      backward_traffic(scores, 3 * kActivationBytes);
    } else {
      scores_op("attn.scale", OpKind::softmax, 0, 2 * kActivationBytes);
      scores_op("attn.mask", OpKind::softmax, 0, 2 * kActivationBytes + 1);
      scores_op("attn.softmax", OpKind::softmax, kActivationBytes, 2 * kActivationBytes);
      backward_traffic(scores, 3 * kActivationBytes);
    }
    if (options_.dropout) {
      scores_op("attn.probs_dropout", OpKind::dropout, kMaskBytes + kActivationBytes,
                2 * kActivationBytes + kMaskBytes);
      backward_traffic(scores, 2 * kActivationBytes + kMaskBytes);
    }
    batched("attn.context", queries, d_v, keys);
  }

  // SwiGLU over `values` inputs (both halves): forward reads them and writes half as many
  // (3 bytes a value in BF16), backward reads them and the output's gradient and writes their
  // gradients (5 bytes a value). Both halves are kept (in FP8 in FP8 training).
  void swiglu(const std::string& name, double values) {
    pointwise(name, OpKind::elementwise, values, values, fp8_ ? kFp8Bytes : kActivationBytes, false,
              1.5 * kActivationBytes);
    backward_traffic(values, 2.5 * kActivationBytes);
  }

  // GeLU (with the bias when fused): backward reads the input and the gradient, writes one.
  void gelu(const std::string& name, double values) {
    pointwise(name, OpKind::elementwise, values, values, kActivationBytes, false);
    backward_traffic(values, 3 * kActivationBytes);
  }

  // A dense FFN; `overlapped`: its GEMMs are TE's fc1 and fc2, overlapped with the TP
  // collectives (a dense layer's MLP; not an MoE layer's shared experts, whose tokens the MoE
  // layer gathers itself).
  void dense_mlp(const std::string& prefix, std::int64_t intermediate, double tokens,
                 bool input_kept, bool overlapped) {
    const std::int64_t f = intermediate / options_.tp;
    const auto overlap = [&](TpLinear linear) {
      if (overlapped) tp_overlapped(linear);
    };
    if (card_.ffn.activation == Activation::swiglu) {
      gemm(prefix + ".gate_up", tokens, 2 * f, card_.hidden_size, 1, std::nullopt, input_kept,
           gathered());
      overlap(TpLinear::fc1);
      // SwiGLU reads both halves in backward (kept in FP8 in FP8 training); its output feeds the
      // down projection unless SwiGLU is recomputed.
      swiglu(prefix + ".swiglu", tokens * d(f) * 2);
      gemm(prefix + ".down", tokens, card_.hidden_size, f, 1, std::nullopt, !recomputes("swiglu"));
      overlap(TpLinear::fc2);
    } else {
      gemm(prefix + ".up", tokens, f, card_.hidden_size, 1, std::nullopt, input_kept, gathered());
      overlap(TpLinear::fc1);
      if (card_.linear_bias && !options_.fused_bias_activation) {
        pointwise(prefix + ".bias", OpKind::elementwise, tokens * d(f), 0, 0, false);
      }
      gelu(prefix + ".gelu", tokens * d(f));
      gemm(prefix + ".down", tokens, card_.hidden_size, f, 1, std::nullopt, !recomputes("gelu"));
      overlap(TpLinear::fc2);
    }
  }

  void ffn_block(int layer) {
    const bool norm_recomputed = recomputes(norm_name());
    norm("mlp.norm", sp_tokens_, card_.hidden_size);
    const double h = d(card_.hidden_size);
    if (!is_moe_layer(card_, layer)) {
      dense_mlp("mlp", card_.ffn.hidden_size, tokens_, !norm_recomputed, true);
    } else {
      const config::MoeSpec& moe = *card_.moe;
      const std::size_t moe_begin = ops_.size();
      Op router;
      router.name = "moe.router";
      router.kind = OpKind::router;
      router.dtype = Dtype::bf16;  // gating stays in higher precision (TR §3.3)
      router.forward_flops = 2 * tokens_ * h * moe.experts;
      router.backward_input_flops = router.forward_flops;
      router.backward_weight_flops = router.forward_flops;
      router.saved_bytes = recomputes("moe_gate") ? 0 : tokens_ * moe.experts * 4;  // FP32 scores
      router.recomputed = recomputes("moe_gate");
      ops_.push_back(std::move(router));
      // Top-k selection over the FP32 scores and the normalised gate weights.
      pointwise("moe.topk", OpKind::router, tokens_ / options_.tp * moe.experts, 0, 0, false,
                2 * 4.0);
      if (moe.shared_experts > 0) {
        dense_mlp("moe.shared", moe.expert_hidden_size * moe.shared_experts, tokens_,
                  !norm_recomputed, false);
      }
      // Routed experts: this rank's experts see, on average, as many token-expert pairs as the
      // rank routes (balanced routing): tokens x top_k, grouped over its local experts. With
      // tensor parallelism each TP rank routes its 1/tp share of the tokens (Megatron-Core's MoE
      // layer splits them, as sequence parallelism does, before the dispatch), so the experts are
      // not computed tp times over.
      const int local_experts = std::max(1, moe.experts / options_.ep);
      const double pairs = tokens_ / options_.tp * moe.top_k;  // the rank's own tokens' pairs
      const std::int64_t e = moe.expert_hidden_size / options_.etp;
      // The pairs this rank's experts compute: the busiest rank's, which sets the pace. With
      // expert tensor parallelism each of the etp ranks of an expert computes all its pairs
      // (gathered over the etp group) on 1/etp of its hidden units.
      const double expert_pairs = pairs * options_.etp * options_.expert_load_factor;
      const double m = expert_pairs / local_experts;
      const double dispatched_bytes = fp8_ ? kFp8Bytes : kActivationBytes;
      if (options_.dispatcher != config::MoeDispatcher::deepep) {
        // The token-expert pairs are gathered into expert order before the all-to-all (read a
        // token, write each of its copies).
        pointwise("moe.permute", OpKind::permute, pairs * h, 0, 0, false,
                  kActivationBytes + kActivationBytes / moe.top_k);
      }
      // With FP8, what the first expert GEMM quantises: the rank's own tokens before an FP8
      // dispatch (once per token, not per copy), or the pairs on arrival.
      const double quantized = options_.dispatch_dtype == Dtype::fp8 &&
                                       options_.dispatcher == config::MoeDispatcher::deepep
                                   ? tokens_ / options_.tp * h
                                   : pairs * h;
      // Megatron-Core's all-to-all dispatcher receives the pairs grouped by source rank and sorts
      // them by local expert for the grouped GEMM (its "permutation 2"), then restores the order
      // before the combine: one copy of every received pair each way, and the same copies of
      // their gradients in backward. One local expert needs no sort; the all-gather dispatcher's
      // layout comes out grouped by expert. DeepEP's received tokens (one copy per rank) are
      // permuted into the pairs, and back, where the stack says so: counted as a copy of every
      // pair, an upper bound on the read side when a token's experts share a rank.
      const bool sorts =
          (options_.dispatcher == config::MoeDispatcher::all_to_all && local_experts > 1) ||
          (options_.dispatcher == config::MoeDispatcher::deepep && options_.permute_received);
      const auto sort_copy = [&](const char* name) {
        pointwise(name, OpKind::permute, expert_pairs * h, 0, 0, false);
        backward_traffic(expert_pairs * h, 2 * kActivationBytes);
      };
      if (sorts) sort_copy("moe.sort");
      if (card_.ffn.activation == Activation::swiglu) {
        gemm("moe.experts.gate_up", m, 2 * e, card_.hidden_size, local_experts, dispatched_bytes);
        ops_.back().forward_quantized_values = quantized;
        swiglu("moe.experts.swiglu", expert_pairs * d(e) * 2);
        gemm("moe.experts.down", m, card_.hidden_size, e, local_experts, std::nullopt,
             !recomputes("swiglu"));
      } else {
        gemm("moe.experts.up", m, e, card_.hidden_size, local_experts, dispatched_bytes);
        ops_.back().forward_quantized_values = quantized;
        gelu("moe.experts.gelu", expert_pairs * d(e));
        gemm("moe.experts.down", m, card_.hidden_size, e, local_experts, std::nullopt,
             !recomputes("gelu"));
      }
      if (sorts) sort_copy("moe.unsort");
      // Combine: the gate weights' gradient needs each expert's output, kept in BF16 — unless
      // SwiGLU is recomputed: then the weight is applied to the SwiGLU output on the expert's
      // rank (DeepSeek-V3 recomputes SwiGLU, TR §3.3.3), its gradient comes from the recomputed
      // output, and the combine is a plain sum that keeps nothing. DeepEP's combine kernel does
      // the weighted sum itself; the other dispatchers unpermute the pairs and weight them in
      // a kernel of their own.
      const bool weighted_in_expert = recomputes("swiglu");
      const double kept = weighted_in_expert ? 0 : pairs * h;
      if (options_.dispatcher == config::MoeDispatcher::deepep) {
        saved("moe.combine", kept, kActivationBytes);
      } else {
        pointwise("moe.unpermute", OpKind::permute, pairs * h, kept, kActivationBytes, false,
                  kActivationBytes + kActivationBytes / moe.top_k);
      }
      // "moe" in the recompute list: the layer keeps only its input (the normalised hidden
      // states, sequence-split), and every op from the router to the combine runs its forward
      // again in the backward pass (Megatron-Core's MoELayer checkpoints route, dispatch,
      // experts and combine as one function; the step repeats the all-to-alls).
      if (options_.recompute == RecomputeMode::ops && recomputes("moe")) {
        for (std::size_t i = moe_begin; i < ops_.size(); ++i) {
          Op& op = ops_[i];
          op.saved_bytes = 0;
          if (!op.recomputed) op.backward_input_flops += op.forward_flops;
          op.recomputed = true;
        }
        saved("moe.input", sp_tokens_ * h, kActivationBytes);
      }
    }
    residual("mlp");
  }

  LayerWorkload finish(int layer, bool moe) {
    LayerWorkload out;
    out.layer = layer;
    out.moe = moe;
    if (options_.recompute == RecomputeMode::full) {
      // Only the layer's input is kept; everything else runs again in the backward pass.
      for (Op& op : ops_) {
        op.saved_bytes = 0;
        if (!op.recomputed) op.backward_input_flops += op.forward_flops;
        op.recomputed = true;
      }
      ops_.front().saved_bytes = sp_tokens_ * d(card_.hidden_size) * kActivationBytes;
    }
    out.ops = std::move(ops_);
    return out;
  }

  [[nodiscard]] double tokens() const { return tokens_; }

 private:
  const ModelCard& card_;
  const WorkloadOptions& options_;
  double tokens_ = 0;
  double sp_tokens_ = 0;
  bool fp8_ = false;
  std::vector<Op> ops_;
};

}  // namespace

bool WorkloadOptions::recomputes(std::string_view op) const {
  if (recompute == RecomputeMode::full) return true;
  if (recompute == RecomputeMode::selective) return op == "attention";
  if (recompute != RecomputeMode::ops) return false;
  return std::find(recompute_ops.begin(), recompute_ops.end(), op) != recompute_ops.end();
}

namespace {

double sum(const std::vector<Op>& ops, double Op::*field) {
  double total = 0;
  for (const Op& op : ops) total += op.*field;
  return total;
}

}  // namespace

double LayerWorkload::forward_flops() const {
  return sum(ops, &Op::forward_flops);
}
double LayerWorkload::backward_input_flops() const {
  return sum(ops, &Op::backward_input_flops);
}
double LayerWorkload::backward_weight_flops() const {
  return sum(ops, &Op::backward_weight_flops);
}
double LayerWorkload::saved_bytes() const {
  return sum(ops, &Op::saved_bytes);
}

WorkloadOptions workload_options(const config::Experiment& experiment) {
  WorkloadOptions options;
  options.seq_len = experiment.training.seq_len;
  options.micro_batch_size = experiment.parallelism.micro_batch_size;
  options.tp = experiment.parallelism.tp;
  options.cp = experiment.parallelism.cp;
  options.ep = experiment.parallelism.ep;
  options.etp = experiment.parallelism.etp;
  options.sequence_parallel = experiment.parallelism.sequence_parallel;
  options.precision = experiment.training.precision;
  options.recompute = experiment.training.recompute;
  options.recompute_ops = experiment.training.recompute_ops;
  const config::SoftwareStack& stack = experiment.stack;
  options.flash_attention = stack.attention != config::AttentionKernel::unfused;
  options.dropout = experiment.training.dropout > 0;
  options.fused_softmax = stack.fused_softmax;
  options.fused_bias_activation = stack.fused_bias_activation;
  options.fused_bias_dropout_add = stack.fused_bias_dropout_add;
  options.dispatcher = stack.dispatcher;
  options.dispatch_dtype = stack.dispatch_dtype;
  options.permute_received = stack.permute_received;
  if (stack.overlap.tp && options.tp > 1 && options.sequence_parallel) {
    options.tp_overlap = stack.tp_overlap;
  }
  if (experiment.model.moe) {
    ExpertLoadSpec load;
    load.experts = experiment.model.moe->experts;
    load.ep = experiment.parallelism.ep;
    load.zipf = experiment.training.moe_zipf;
    load.histogram = experiment.training.moe_histogram;
    load.capacity = stack.routing == config::MoeRouting::capacity;
    load.capacity_factor = stack.capacity_factor;
    options.expert_load_factor = expert_load(load).load_factor;
  }
  return options;
}

LayerWorkload layer_workload(const ModelCard& card, int layer, const WorkloadOptions& options) {
  Builder builder(card, options);
  builder.attention_block(layer);
  builder.ffn_block(layer);
  return builder.finish(layer, is_moe_layer(card, layer));
}

LayerWorkload embedding_workload(const ModelCard& card, const WorkloadOptions& options) {
  LayerWorkload out;
  out.layer = -1;
  Op op;
  op.name = "embedding";
  op.kind = OpKind::embedding;
  op.n = card.vocab_size / options.tp;  // vocabulary-parallel over TP
  op.k = card.hidden_size;
  const double tokens = d(options.seq_len) * d(options.micro_batch_size) / options.cp;
  op.forward_bytes = 2 * tokens * d(card.hidden_size) * kActivationBytes;
  out.ops.push_back(std::move(op));
  return out;
}

LayerWorkload head_workload(const ModelCard& card, const WorkloadOptions& options) {
  Builder builder(card, options);
  builder.norm("final.norm", builder.tokens(), card.hidden_size);
  // The output head stays in BF16 (TR §3.3); its logits are kept in FP32 for the loss.
  WorkloadOptions bf16 = options;
  bf16.precision = Precision::bf16;
  Builder head(card, bf16);
  head.gemm("head", head.tokens(), card.vocab_size / options.tp, card.hidden_size);
  head.pointwise("loss", OpKind::elementwise, head.tokens() * d(card.vocab_size) / options.tp,
                 head.tokens() * d(card.vocab_size) / options.tp, 4, false);
  LayerWorkload out = builder.finish(-2, false);
  LayerWorkload rest = head.finish(-2, false);
  out.ops.insert(out.ops.end(), rest.ops.begin(), rest.ops.end());
  return out;
}

LayerWorkload mtp_workload(const ModelCard& card, const WorkloadOptions& options) {
  Builder projection(card, options);
  projection.norm("mtp.hidden_norm", projection.tokens(), card.hidden_size);
  projection.norm("mtp.embedding_norm", projection.tokens(), card.hidden_size);
  projection.gemm("mtp.projection", projection.tokens(), card.hidden_size, 2 * card.hidden_size);
  LayerWorkload out = projection.finish(card.layers, false);
  // The module's block is a layer after the dense ones (an MoE layer when the model has experts).
  const LayerWorkload block = layer_workload(card, card.layers, options);
  const LayerWorkload head = head_workload(card, options);
  out.moe = block.moe;
  out.ops.insert(out.ops.end(), block.ops.begin(), block.ops.end());
  out.ops.insert(out.ops.end(), head.ops.begin(), head.ops.end());
  return out;
}

}  // namespace clustersim::workload
