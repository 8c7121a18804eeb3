// Parameter, FLOP and KV-cache counts: closed forms on a small GPT, and the published DeepSeek-V3
// figures (targets.yaml model_facts).

#include "sim/workload/model_stats.hpp"

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"

namespace clustersim::workload {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

config::ModelCard small_gpt() {
  config::ModelCard card;
  card.name = "small";
  card.layers = 2;
  card.hidden_size = 64;
  card.vocab_size = 100;
  card.max_seq_len = 128;
  card.norm = config::NormType::rmsnorm;
  card.attention.type = config::AttentionType::mha;
  card.attention.heads = 4;
  card.attention.kv_heads = 4;
  card.attention.head_dim = 16;
  card.ffn.activation = config::Activation::gelu;
  card.ffn.hidden_size = 256;
  return card;
}

TEST(ModelStats, DenseGptClosedForms) {
  const config::ModelCard card = small_gpt();
  const ModelStats stats = compute_model_stats(card, 128);
  const double h = 64;
  // 4h^2 attention + 8h^2 FFN per layer; two RMSNorms per layer and a final one.
  EXPECT_DOUBLE_EQ(stats.params.attention, 2 * 4 * h * h);
  EXPECT_DOUBLE_EQ(stats.params.dense_ffn, 2 * 8 * h * h);
  EXPECT_DOUBLE_EQ(stats.params.norms, 2 * 2 * h + h);
  EXPECT_DOUBLE_EQ(stats.params.total(), 2 * 100 * h + 2 * 12 * h * h + 5 * h);
  EXPECT_DOUBLE_EQ(stats.params.active(), stats.params.total());
  // Forward: 2 FLOPs per weight of every GEMM (layers and head, not the embedding lookup).
  EXPECT_DOUBLE_EQ(stats.forward_matmul_flops_per_token, 2 * (2 * 12 * h * h + 100 * h));
  // Attention: 2 x context x heads x (d_qk + d_v) per layer; causal context is half the sequence.
  EXPECT_DOUBLE_EQ(stats.forward_attention_flops_noncausal, 2 * (2 * 128 * 4 * 32.0));
  EXPECT_DOUBLE_EQ(stats.forward_attention_flops_causal, 2 * (2 * 64 * 4 * 32.0));
  EXPECT_DOUBLE_EQ(
      stats.train_flops_per_token_causal(),
      3 * (stats.forward_matmul_flops_per_token + stats.forward_attention_flops_causal));
  // KV cache: K and V of 4 heads x 16 per layer, 2 bytes each.
  EXPECT_DOUBLE_EQ(stats.kv_cache_bytes_per_token, 2 * 2 * 4 * 16 * 2.0);
}

// A sliding window of w tokens over s: the band's s w - w^2 / 2 pairs, w - w^2 / (2 s) keys per
// query causal and w non-causal; full attention in every full_every-th layer and past the card's
// layers (MTP); a window as long as the sequence changes nothing.
TEST(ModelStats, SlidingWindowCountsTheBand) {
  config::ModelCard card = small_gpt();
  card.layers = 4;
  card.attention.sliding_window = config::SlidingWindow{16, 2};
  EXPECT_TRUE(slides(card, 0));
  EXPECT_FALSE(slides(card, 1));
  EXPECT_TRUE(slides(card, 2));
  EXPECT_FALSE(slides(card, 3));
  EXPECT_FALSE(slides(card, 4));  // an MTP module
  const AttentionSpan band = attention_span(card, 0, 128);
  EXPECT_DOUBLE_EQ(band.causal_keys, 16 - 16.0 * 16 / (2 * 128));
  EXPECT_DOUBLE_EQ(band.keys, 16);
  EXPECT_DOUBLE_EQ(attention_span(card, 1, 128).causal_keys, 64);
  EXPECT_DOUBLE_EQ(attention_span(card, 1, 128).keys, 128);
  EXPECT_DOUBLE_EQ(attention_span(card, 0, 16).causal_keys, 8);  // the window holds it all
  const ModelStats stats = compute_model_stats(card, 128);
  const double per_key = 2 * 4 * 32.0;  // 2 x heads x (d_qk + d_v)
  EXPECT_DOUBLE_EQ(stats.forward_attention_flops_causal, per_key * (2 * (16 - 1.0) + 2 * 64));
  EXPECT_DOUBLE_EQ(stats.forward_attention_flops_noncausal, per_key * (2 * 16.0 + 2 * 128));
  card.attention.sliding_window->full_every = 0;  // every layer slides
  EXPECT_TRUE(slides(card, 3));
  EXPECT_DOUBLE_EQ(compute_model_stats(card, 128).forward_attention_flops_causal,
                   per_key * 4 * (16 - 1.0));
}

TEST(ModelStats, TiedEmbeddingsBiasesAndLearnedPositions) {
  config::ModelCard card = small_gpt();
  card.tied_embeddings = true;
  card.linear_bias = true;
  card.position_embedding = config::PositionEmbedding::learned;
  card.norm = config::NormType::layernorm;
  const ModelStats stats = compute_model_stats(card, 128);
  const double h = 64;
  EXPECT_DOUBLE_EQ(stats.params.output_head, 0);
  EXPECT_DOUBLE_EQ(stats.params.embedding, 100 * h + 128 * h);
  EXPECT_DOUBLE_EQ(stats.params.attention, 2 * (4 * h * h + 3 * h + h));  // qkv and out biases
  EXPECT_DOUBLE_EQ(stats.params.dense_ffn, 2 * (8 * h * h + 256 + h));
  EXPECT_DOUBLE_EQ(stats.params.norms, 2 * 2 * 2 * h + 2 * h);  // weight and bias
  // The tied head is still a GEMM in the forward pass.
  EXPECT_DOUBLE_EQ(stats.forward_matmul_flops_per_token, 2 * (2 * 12 * h * h + 100 * h));
}

TEST(ModelStats, DeepSeekV3MatchesThePublishedFigures) {
  const config::ModelCard card = config::load_model_card(kRoot + "/models/deepseek_v3.yaml");
  const ModelStats stats = compute_model_stats(card, 4096);
  EXPECT_DOUBLE_EQ(stats.kv_cache_bytes_per_token, 70272);   // ISCA'25 Table 1, exact
  EXPECT_NEAR(stats.params.total(), 671e9, 0.01 * 671e9);    // TR §4.2
  EXPECT_NEAR(stats.params.active(), 37e9, 0.03 * 37e9);     // TR §4.2
  EXPECT_NEAR(stats.params.mtp, 11.5e9, 0.03 * 11.5e9);      // README_WEIGHTS: 11.5B unique
  EXPECT_NEAR(stats.params.embedding, 0.9e9, 0.05 * 0.9e9);  // README_WEIGHTS: 0.9B each
  EXPECT_NEAR(stats.params.output_head, 0.9e9, 0.05 * 0.9e9);
  EXPECT_NEAR(stats.train_flops_per_token_causal() / 1e9, 250, 0.03 * 250);  // ISCA'25 Table 2
  EXPECT_EQ(stats.layers.size(), 61u);
  EXPECT_FALSE(stats.layers[2].moe);
  EXPECT_TRUE(stats.layers[3].moe);
}

}  // namespace
}  // namespace clustersim::workload

namespace clustersim::workload {
namespace {

// targets.yaml model_facts: KV cache exact, training GFLOP per token at 4096 within 3 %.
TEST(ModelFacts, PublishedKvCacheAndTrainingFlops) {
  struct Row {
    const char* card;
    double kv_bytes;     // 0: not a target
    double train_gflop;  // 0: not a target
  };
  const Row rows[] = {{"deepseek_v3", 70272, 250},
                      {"deepseek_v2", 0, 155},
                      {"qwen2_5_72b", 327680, 0},
                      {"llama3_1_405b", 516096, 2448}};
  for (const Row& row : rows) {
    SCOPED_TRACE(row.card);
    const ModelStats stats =
        compute_model_stats(config::load_model_card(kRoot + "/models/" + row.card + ".yaml"), 4096);
    if (row.kv_bytes > 0) {
      EXPECT_DOUBLE_EQ(stats.kv_cache_bytes_per_token, row.kv_bytes);
    }
    if (row.train_gflop > 0) {
      EXPECT_NEAR(stats.train_flops_per_token_causal() / 1e9, row.train_gflop,
                  0.03 * row.train_gflop);
    }
  }
}

TEST(ModelFacts, QwenSeventyTwoBillionGapIsReportedAsItIs) {
  // ISCA'25 Table 2 gives 394 GFLOP/token for Qwen-72B; the public architecture gives ~442 under
  // the convention that reproduces the other rows (targets.yaml flops_note). Pinned so that a
  // change to the count shows up here, not to hide the gap.
  const ModelStats stats =
      compute_model_stats(config::load_model_card(kRoot + "/models/qwen_72b.yaml"), 4096);
  EXPECT_NEAR(stats.train_flops_per_token_causal() / 1e9, 442.3, 0.5);
  EXPECT_NEAR(stats.params.total(), 72.3e9, 0.1e9);
}

TEST(ModelFacts, ParameterCountsOfThePublishedModels) {
  struct Row {
    const char* card;
    double total, active;
  };
  const Row rows[] = {{"deepseek_v2", 236e9, 21e9},
                      {"llama3_1_405b", 405e9, 405e9},
                      {"qwen2_5_72b", 72.7e9, 72.7e9},
                      {"gpt3_175b", 175e9, 175e9},
                      {"mixtral_8x22b", 140.6e9, 39.1e9},
                      // Hugging Face's counts of Meta-Llama-3-8B and -70B; Qwen's model cards
                      // (30.5B / 3.3B, 235B / 22B); the Qwen2 report (57B / 14B).
                      {"llama3_8b", 8.03e9, 8.03e9},
                      {"llama3_70b", 70.6e9, 70.6e9},
                      {"qwen3_30b_a3b", 30.5e9, 3.3e9},
                      {"qwen3_235b_a22b", 235e9, 22e9},
                      {"qwen2_57b_a14b", 57e9, 14e9},
                      // Korthikanti et al. 2022, Table 3.
                      {"gpt_22b", 22e9, 22e9},
                      {"gpt_530b", 530e9, 530e9},
                      {"gpt_1t", 1e12, 1e12}};
  for (const Row& row : rows) {
    SCOPED_TRACE(row.card);
    const ModelStats stats =
        compute_model_stats(config::load_model_card(kRoot + "/models/" + row.card + ".yaml"), 4096);
    EXPECT_NEAR(stats.params.total(), row.total, 0.02 * row.total);
    EXPECT_NEAR(stats.params.active(), row.active, 0.03 * row.active);
  }
  // GPT-OSS 120B: 116.8B, 5.1B active "per forward pass" (OpenAI's model card as quoted), which
  // leaves out the embedding lookup (0.58B of a 201,088-token vocabulary).
  const ModelStats oss =
      compute_model_stats(config::load_model_card(kRoot + "/models/gpt_oss_120b.yaml"), 4096);
  EXPECT_NEAR(oss.params.total(), 116.8e9, 0.002 * 116.8e9);
  EXPECT_NEAR(oss.params.active() - oss.params.embedding, 5.1e9, 0.01 * 5.1e9);
}

ModelStats card_stats(const std::string& card) {
  return compute_model_stats(config::load_model_card(kRoot + "/models/" + card + ".yaml"), 4096);
}

// The two MoE Parallel Folding variants start from another card (base:) and change only the
// experts: what they keep is the base's, and the experts follow in closed form.
TEST(ModelFacts, FoldingVariantsChangeOnlyTheExperts) {
  const ModelStats mixtral = card_stats("mixtral_8x22b");
  const ModelStats g8t8 = card_stats("mixtral_8x22b_g8t8");
  EXPECT_EQ(g8t8.params.attention, mixtral.params.attention);
  EXPECT_EQ(g8t8.params.embedding, mixtral.params.embedding);
  // 64 experts of one eighth: the same expert weights; 8 of them a token against 2 of 8.
  EXPECT_DOUBLE_EQ(g8t8.params.routed_experts, mixtral.params.routed_experts);
  EXPECT_DOUBLE_EQ(g8t8.params.active_routed_experts, mixtral.params.active_routed_experts / 2);
  EXPECT_DOUBLE_EQ(g8t8.params.routers, 8 * mixtral.params.routers);

  const ModelStats dense = card_stats("llama3_70b");
  const ModelStats upcycled = card_stats("llama3_8x70b");
  EXPECT_EQ(upcycled.params.attention, dense.params.attention);
  EXPECT_EQ(upcycled.params.dense_ffn, 0);
  // Eight copies of the dense FFN, two of them a token.
  EXPECT_DOUBLE_EQ(upcycled.params.routed_experts, 8 * dense.params.dense_ffn);
  EXPECT_DOUBLE_EQ(upcycled.params.active_routed_experts, 2 * dense.params.dense_ffn);
}

}  // namespace
}  // namespace clustersim::workload
