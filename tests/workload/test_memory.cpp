// Activation memory against Korthikanti et al. 2022 (GPT-3 175B layer, s = 2048), and the
// DeepSeek-V3 pre-training layout on 80 GB H800s.

#include <gtest/gtest.h>

#include <algorithm>

#include "sim/config/loader.hpp"
#include "sim/workload/layer_workload.hpp"
#include "sim/workload/memory.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::workload {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

// The setting of the paper's formulas: BF16, dropout, scores materialised (no flash attention).
WorkloadOptions paper_options(int tp, bool sp) {
  WorkloadOptions options;
  options.seq_len = 2048;
  options.micro_batch_size = 1;
  options.tp = tp;
  options.sequence_parallel = sp;
  options.dropout = true;
  options.flash_attention = false;
  return options;
}

class Korthikanti : public ::testing::Test {
 protected:
  config::ModelCard gpt3_ = config::load_model_card(kRoot + "/models/gpt3_175b.yaml");
  const double s_ = 2048, b_ = 1, h_ = 12288, a_ = 96;
  double saved(const WorkloadOptions& options) {
    return layer_workload(gpt3_, 0, options).saved_bytes();
  }
};

TEST_F(Korthikanti, NoParallelism) {  // sbh (34 + 5as/h)
  EXPECT_NEAR(saved(paper_options(1, false)), s_ * b_ * h_ * (34 + 5 * a_ * s_ / h_), 1.0);
}

TEST_F(Korthikanti, TensorParallel) {  // sbh (10 + 24/t + 5as/(ht))
  const double t = 8;
  EXPECT_NEAR(saved(paper_options(8, false)), s_ * b_ * h_ * (10 + 24 / t + 5 * a_ * s_ / (h_ * t)),
              1.0);
}

TEST_F(Korthikanti, TensorAndSequenceParallel) {  // sbh/t (34 + 5as/h)
  const double t = 8;
  EXPECT_NEAR(saved(paper_options(8, true)), s_ * b_ * h_ / t * (34 + 5 * a_ * s_ / h_), 1.0);
}

TEST_F(Korthikanti, SelectiveRecompute) {  // sbh 34/t with TP + SP
  WorkloadOptions options = paper_options(8, true);
  options.recompute = config::RecomputeMode::selective;
  EXPECT_NEAR(saved(options), s_ * b_ * h_ * 34 / 8, 1.0);
}

TEST_F(Korthikanti, FullRecompute) {  // 2sbh: the layer input only
  WorkloadOptions options = paper_options(1, false);
  options.recompute = config::RecomputeMode::full;
  EXPECT_NEAR(saved(options), 2 * s_ * b_ * h_, 1.0);
}

TEST(LayerWorkload, GemmFlopsMatchTheModelCount) {
  // Forward FLOPs of one micro-batch through a layer = tokens x the per-token count.
  const config::ModelCard card = config::load_model_card(kRoot + "/models/deepseek_v3.yaml");
  WorkloadOptions options;
  options.seq_len = 4096;
  const ModelStats stats = compute_model_stats(card, 4096);
  for (int layer : {0, 10}) {
    const LayerWorkload work = layer_workload(card, layer, options);
    const double expected =
        4096 * (stats.layers[static_cast<std::size_t>(layer)].forward_matmul_flops +
                stats.layers[static_cast<std::size_t>(layer)].forward_attention_flops_causal);
    EXPECT_NEAR(work.forward_flops(), expected, 1e-9 * expected);
    // W is one forward's worth of GEMMs; B two (GEMMs) plus the attention backward.
    EXPECT_LT(work.backward_weight_flops(), work.forward_flops());
    EXPECT_GT(work.backward_input_flops(), work.forward_flops());
  }
}

TEST(LayerWorkload, TensorParallelRanksShareTheRoutedTokens) {
  // Every FLOP of a MoE layer is split over the tp ranks, the routed experts included: each rank
  // dispatches its 1/tp share of the tokens.
  const config::ModelCard card = config::load_model_card(kRoot + "/models/mixtral_8x22b.yaml");
  WorkloadOptions options;
  options.seq_len = 2048;
  options.ep = 8;
  const LayerWorkload one = layer_workload(card, 5, options);
  options.tp = 8;
  options.sequence_parallel = true;
  const LayerWorkload eight = layer_workload(card, 5, options);
  const auto experts = [](const LayerWorkload& work) {
    double flops = 0;
    for (const Op& op : work.ops) {
      if (op.name.starts_with("moe.experts")) flops += op.forward_flops;
    }
    return flops;
  };
  EXPECT_NEAR(experts(eight), experts(one) / 8, 1e-9 * experts(one));
  EXPECT_NEAR(eight.forward_flops(), one.forward_flops() / 8, 0.01 * one.forward_flops());
}

TEST(Memory, DeepSeekV3FitsIn80GbH800) {
  const config::Experiment e =
      config::load_experiment(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml");
  const MemoryEstimate memory = estimate_memory(e);
  ASSERT_EQ(memory.ranks.size(), 16u);
  EXPECT_TRUE(memory.fits()) << memory.peak().total() / 1e9 << " GB";
  // DualPipe: every rank holds two stages (rank r: r and 15 - r), PP + 1 chunks in flight.
  EXPECT_EQ(memory.ranks[0].stages, (std::vector<int>{0, 15}));
  EXPECT_DOUBLE_EQ(memory.ranks[0].micro_batches_in_flight, 17);
  const std::vector<int> split = stage_layer_split(e);
  int layers = 0;
  for (int n : split) layers += n;
  EXPECT_EQ(layers, 61);
  EXPECT_EQ(split.front(), 3);
  EXPECT_EQ(split.back(), 3);
}

// Megatron-Core's --account-for-embedding-in-pipeline-split and -loss-: every stage gets
// (layers + counted) / stages layers, less one on the first stage and one on the last.
TEST(Memory, CountingTheEmbeddingAndTheLossSplitsAsMegatronCoreDoes) {
  const std::string qwen =
      kRoot + "/experiments/validation/moe_modelzoo_qwen3_235b_h100_a2a_ep8_pp32.yaml";
  const auto split_of = [](const std::string& file, std::vector<std::string> overrides) {
    config::LoadOptions options;
    options.overrides = std::move(overrides);
    return stage_layer_split(config::load_experiment(file, options));
  };
  // 94 layers + 2 over 32 x 3 chunks: an embedding-only first chunk and a loss-only last one.
  std::vector<int> split = split_of(qwen, {});
  ASSERT_EQ(split.size(), 96u);
  EXPECT_EQ(split.front(), 0);
  EXPECT_EQ(split.back(), 0);
  EXPECT_EQ(std::count(split.begin(), split.end(), 1), 94);
  // Over 8 x 4 chunks: 3 each, 2 on the first and on the last.
  split = split_of(qwen, {"parallelism.pp=8", "parallelism.virtual_stages=4"});
  ASSERT_EQ(split.size(), 32u);
  EXPECT_EQ(split.front(), 2);
  EXPECT_EQ(split.back(), 2);
  EXPECT_EQ(std::count(split.begin(), split.end(), 3), 30);
  // DeepSeek-V3's 61 layers on 2 stages, the embedding counted: 62 / 2 = 31, less one first.
  split =
      split_of(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml",
               {"parallelism.pp=2", "parallelism.schedule=1f1b", "parallelism.stage_layers=auto",
                "parallelism.pipeline_split_counts=[embedding]"});
  EXPECT_EQ(split, (std::vector<int>{30, 31}));
  // One stage: both counted blocks come off the same stage, which keeps every layer.
  split = split_of(
      kRoot + "/experiments/dsv3_2048xh800_mpft.yaml",
      {"parallelism.pp=1", "parallelism.schedule=1f1b", "parallelism.stage_layers=auto",
       "parallelism.pipeline_split_counts=[embedding, loss]", "training.global_batch_size=4096"});
  EXPECT_EQ(split, (std::vector<int>{61}));
}

// GPT-3 ties its output head to the word embeddings. On one stage the head is the table itself;
// under a pipeline the last stage keeps a copy of its own, so it holds as much as an untied head.
TEST(Memory, ATiedHeadUnderAPipelineKeepsACopyOnTheLastStage) {
  const std::string file =
      kRoot + "/experiments/validation/korthikanti22_175b_seqpar_selective.yaml";
  const auto state = [&](std::vector<std::string> overrides, std::size_t rank) {
    config::LoadOptions options;
    options.overrides = std::move(overrides);
    const RankMemory r = estimate_memory(config::load_experiment(file, options)).ranks.at(rank);
    return r.parameters + r.gradients + r.optimizer;
  };
  const std::vector<std::string> untied{"model.tied_embeddings=false"};
  // pp 8: the last rank holds the same with the head tied as untied, more than a middle rank.
  EXPECT_DOUBLE_EQ(state({}, 7), state(untied, 7));
  EXPECT_GT(state({}, 7), state({}, 3));
  // The first rank's table is the same either way.
  EXPECT_DOUBLE_EQ(state({}, 0), state(untied, 0));
}

TEST(Memory, ZeroStagesShardMoreStateOverDataParallelRanks) {
  const std::string file = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  double previous = 1e300;
  for (int zero : {0, 1, 2, 3}) {
    config::LoadOptions options;
    options.overrides = {"parallelism.zero=" + std::to_string(zero)};
    const MemoryEstimate memory = estimate_memory(config::load_experiment(file, options));
    const RankMemory& rank = memory.ranks[1];
    const double state = rank.parameters + rank.gradients + rank.optimizer;
    EXPECT_LT(state, previous) << "ZeRO-" << zero;
    previous = state;
  }
}

// A sliding layer's flash attention does the band's work and reads its rate at the window; a
// full layer, and unfused attention (which materialises every score), are as without a window.
TEST(LayerWorkload, SlidingWindowShrinksAttention) {
  config::ModelCard card = config::load_model_card(kRoot + "/models/gpt_generic.yaml");
  const auto core = [](const config::ModelCard& c, int layer, const WorkloadOptions& options) {
    for (const Op& op : layer_workload(c, layer, options).ops) {
      if (op.name == "attn.core" || op.name == "attn.scores") return op;
    }
    return Op{};
  };
  WorkloadOptions options;
  options.seq_len = 4096;
  const Op full = core(card, 0, options);
  card.attention.sliding_window = config::SlidingWindow{128, 2};
  const Op band = core(card, 0, options);
  EXPECT_DOUBLE_EQ(band.forward_flops / full.forward_flops, (128 - 128.0 * 128 / 8192) / 2048);
  EXPECT_DOUBLE_EQ(band.backward_input_flops / full.backward_input_flops,
                   band.forward_flops / full.forward_flops);
  EXPECT_EQ(band.attention_keys, 128.0);
  EXPECT_FALSE(full.attention_keys.has_value());
  const Op second = core(card, 1, options);  // every second layer attends fully
  EXPECT_DOUBLE_EQ(second.forward_flops, full.forward_flops);
  EXPECT_FALSE(second.attention_keys.has_value());
  options.cp = 2;  // each rank holds half the queries, each with its band of keys
  EXPECT_DOUBLE_EQ(core(card, 0, options).forward_flops, band.forward_flops / 2);
  options.cp = 1;
  options.flash_attention = false;
  const Op unfused = core(card, 0, options);
  card.attention.sliding_window.reset();
  EXPECT_DOUBLE_EQ(unfused.forward_flops, core(card, 0, options).forward_flops);
}

}  // namespace
}  // namespace clustersim::workload

namespace clustersim::workload {
namespace {

TEST(LayerWorkload, ContextParallelSplitsQueriesNotKeys) {
  const config::ModelCard card = config::load_model_card(kRoot + "/models/gpt_generic.yaml");
  WorkloadOptions one;
  one.seq_len = 4096;
  WorkloadOptions four = one;
  four.cp = 4;
  auto core = [&](const WorkloadOptions& options) {
    for (const Op& op : layer_workload(card, 0, options).ops) {
      if (op.name == "attn.core") return op.forward_flops;
    }
    return 0.0;
  };
  // A rank's attention work is a quarter of the whole (a quarter of the queries, all the keys),
  // as are its GEMMs.
  EXPECT_NEAR(core(four), core(one) / 4, 1e-6 * core(one));
  EXPECT_NEAR(layer_workload(card, 0, four).forward_flops(),
              layer_workload(card, 0, one).forward_flops() / 4, 1e-6);
}

}  // namespace
}  // namespace clustersim::workload

namespace clustersim::workload {
namespace {

// The attention kernel's head dim, which its rate follows: the model's for GQA, and for MLA the
// mean of the query-key (nope + rope) and value head dims.
TEST(LayerWorkload, AttentionCarriesItsHeadDim) {
  const auto head_dim = [](const config::ModelCard& card) {
    for (const Op& op : layer_workload(card, card.layers - 1, WorkloadOptions{}).ops) {
      if (op.name == "attn.core") return op.head_dim.value_or(0);
    }
    return -1.0;
  };
  const config::ModelCard gpt = config::load_model_card(kRoot + "/models/gpt_generic.yaml");
  EXPECT_EQ(head_dim(gpt), gpt.attention.head_dim);
  const config::ModelCard v3 = config::load_model_card(kRoot + "/models/deepseek_v3.yaml");
  EXPECT_EQ(head_dim(v3), (128 + 64 + 128) / 2.0);
}

}  // namespace
}  // namespace clustersim::workload
