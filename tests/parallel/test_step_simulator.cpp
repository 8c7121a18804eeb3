// The training-step simulation: the DeepSeek-V3 reproduction pinned, MPFT against MRFT, a closed
// form without pipelining, SM coupling, and the EP symmetry the simulation relies on.

#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>

#include "sim/collectives/collective.hpp"
#include "sim/collectives/expert_parallel.hpp"
#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/parallel/parallel_layout.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/step_report.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::parallel {
namespace {

config::Experiment load(const std::string& name, std::vector<std::string> overrides = {}) {
  return testing::shipped_experiment(name, std::move(overrides));
}

TEST(StepSimulator, DeepSeekV3On2048H800IsPinned) {
  const config::Experiment e = load("dsv3_2048xh800_mpft");
  const StepResult r = simulate_step(e);
  // Golden values of this model (ISCA'25 Table 4 publishes 19.926 s; the gap is in the README
  // and the issue notes).
  EXPECT_NEAR(r.step_time_s, 18.92, 0.05);
  EXPECT_EQ(r.micro_batches, 120);
  EXPECT_EQ(r.tokens_per_step, 15360LL * 4096);
  const double phases = r.phases.forward + r.phases.bubble + r.phases.backward + r.phases.weight +
                        r.phases.overlapped + r.phases.optimizer;
  EXPECT_NEAR(phases, r.step_time_s, 1e-9);  // the phases partition the step
  ASSERT_EQ(r.device_phases.size(), 16u);
  double mean_bubble = 0;
  for (const StepPhases& d : r.device_phases) {
    EXPECT_NEAR(d.forward + d.bubble + d.backward + d.weight + d.overlapped + d.optimizer,
                r.step_time_s, 1e-9);
    mean_bubble += d.bubble / 16;
  }
  EXPECT_NEAR(mean_bubble, r.phases.bubble, 1e-9);
  EXPECT_NEAR(r.phases.overlapped, 13.19, 0.05);
  EXPECT_NEAR(r.phases.forward, 1.06, 0.02);
  EXPECT_NEAR(r.phases.bubble, 1.95, 0.03);
  EXPECT_NEAR(r.phases.backward, 1.98, 0.02);
  EXPECT_NEAR(r.phases.weight, 0.49, 0.02);
  EXPECT_EQ(r.stage_layers, (std::vector<int>{3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 2}));
  const report::StepFigures f = report::step_figures(e, r);
  EXPECT_NEAR(f.mfu_causal, 0.412, 0.003);
  // MFU counts the same FLOPs per token as `clustersim model`: 250.4 GFLOP causal.
  EXPECT_NEAR(
      f.tflops_causal * 1e12 * r.gpus * r.step_time_s / static_cast<double>(r.tokens_per_step),
      250.4e9, 0.2e9);
}

StageCost one_block(double pre_f, double mlp_f, double mlp_b, double pre_b, double comb_g,
                    double disp, double disp_g, double comb) {
  StageCost stage;
  BlockCost block;
  block.pre_forward = pre_f;
  block.mlp_forward = mlp_f;
  block.mlp_backward = mlp_b;
  block.pre_backward = pre_b;
  block.combine_gradient = comb_g;
  block.dispatch = disp;
  block.dispatch_gradient = disp_g;
  block.combine = comb;
  stage.blocks.push_back(block);
  return stage;
}

TEST(OverlappedSlot, TwoChainsOnTwoStreams) {
  // Balanced: every task 1; compute and communication hide each other completely.
  const StageCost even = one_block(1, 1, 1, 1, 1, 1, 1, 1);
  EXPECT_DOUBLE_EQ(overlapped_slot_seconds(even, even, false), 4);
  // Communication-bound: all-to-alls of 2 against compute of 1: the slot is the communication.
  const StageCost comm = one_block(1, 1, 1, 1, 2, 2, 2, 2);
  EXPECT_DOUBLE_EQ(overlapped_slot_seconds(comm, comm, false), 8);
  // A long combine-gradient at the start stalls the backward chain: compute waits for it
  // (B.mlp starts at 3), then the chains ripple: 6, more than max(compute 4, comm 4.5).
  const StageCost stall = one_block(1, 1, 1, 1, 3, 0.5, 0.5, 0.5);
  EXPECT_DOUBLE_EQ(overlapped_slot_seconds(stall, stall, false), 6);
  // Weight gradients join their part of the backward chain when the slot runs a full B.
  StageCost with_w = even;
  with_w.blocks[0].pre_weight = 2;
  EXPECT_DOUBLE_EQ(overlapped_slot_seconds(with_w, with_w, true), 6);
  EXPECT_DOUBLE_EQ(overlapped_slot_seconds(with_w, with_w, false), 4);
}

TEST(StepSimulator, BalancedStagesMoveLayersOffTheHeavyLastStage) {
  // Qwen2.5-72B on pp 8: the even split gives every stage 10 layers, and the last one also the
  // 152K-token output head; balancing moves a layer off it and shortens the step.
  std::vector<std::string> overrides{"parallelism.stage_layers=auto",
                                     "model=qwen2_5_72b",
                                     "parallelism.ep=1",
                                     "parallelism.tp=8",
                                     "parallelism.pp=8",
                                     "parallelism.schedule=1f1b",
                                     "training.global_batch_size=1024",
                                     "training.precision=bf16",
                                     "training.recompute=full"};
  const StepResult even = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  overrides.push_back("parallelism.stage_layers=balanced");
  const StepResult balanced = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  EXPECT_EQ(even.stage_layers, (std::vector<int>{10, 10, 10, 10, 10, 10, 10, 10}));
  EXPECT_EQ(balanced.stage_layers, (std::vector<int>{10, 10, 10, 10, 10, 10, 11, 9}));
  EXPECT_LT(balanced.step_time_s, even.step_time_s);
  // DeepSeek-V3 under DualPipe: the devices holding the last stage (head and MTP module) are the
  // busiest with the even split; balancing by the F&B slot time halves the idle time.
  const StepResult dsv3_even =
      simulate_step(load("dsv3_2048xh800_mpft", {"parallelism.stage_layers=auto"}));
  const StepResult dsv3 = simulate_step(load("dsv3_2048xh800_mpft"));
  EXPECT_EQ(dsv3_even.stage_layers,
            (std::vector<int>{3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3}));
  EXPECT_LT(dsv3.phases.bubble, 0.6 * dsv3_even.phases.bubble);
  EXPECT_LT(dsv3.step_time_s, dsv3_even.step_time_s);
}

TEST(StepSimulator, PlacingThePipelineInnermostSpreadsEpGroupsOverMoreNodes) {
  // rank_order pp, tp, cp, dp puts a stage's GPUs on different nodes: EP64 then spans 16 nodes
  // instead of 8 and its all-to-all crosses InfiniBand far more.
  // (A smaller cut of the same layout: 32 nodes, pp 4, so a stage's 64 GPUs are one EP group.)
  const std::vector<std::string> small{"cluster.nodes=32", "parallelism.pp=4",
                                       "training.global_batch_size=512"};
  std::vector<std::string> pipeline_inner = small;
  pipeline_inner.push_back("parallelism.rank_order=[pp,tp,cp,dp]");
  const StepResult inner = simulate_step(load("dsv3_2048xh800_mpft", small));
  const StepResult outer = simulate_step(load("dsv3_2048xh800_mpft", pipeline_inner));
  EXPECT_GT(outer.ep_dispatch_s, 1.5 * inner.ep_dispatch_s);
  EXPECT_GT(outer.step_time_s, inner.step_time_s);
}

// GPT-3 175B on 64 nodes, tp 8 x pp 8 x dp 8 under 1F1B, as the DeepSeek-V3 experiment's
// overrides; `more` are added after them.
std::vector<std::string> gpt3_on_512_gpus(std::initializer_list<std::string> more) {
  std::vector<std::string> overrides{"parallelism.stage_layers=auto",
                                     "model=gpt3_175b",
                                     "cluster.nodes=64",
                                     "parallelism.pp=8",
                                     "parallelism.ep=1",
                                     "parallelism.tp=8",
                                     "parallelism.schedule=1f1b",
                                     "training.global_batch_size=256",
                                     "training.seq_len=2048",
                                     "training.precision=bf16"};
  overrides.insert(overrides.end(), more);
  return overrides;
}

TEST(StepSimulator, ZeroThreeTradesMemoryForTrafficEveryMicroBatch) {
  // ZeRO-3 gathers each chunk's parameters for every micro-batch over the 8 data-parallel
  // nodes, which costs far more time than the memory it saves.
  std::vector<std::string> overrides = gpt3_on_512_gpus(
      {"parallelism.sequence_parallel=true", "training.recompute=full", "parallelism.zero=1"});
  const StepResult one = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  overrides.back() = "parallelism.zero=3";
  const StepResult three = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  EXPECT_LT(three.memory.peak().total(), 0.5 * one.memory.peak().total());
  EXPECT_GT(three.step_time_s, 3 * one.step_time_s);
  // No reduce-scatter or all-gather is left for the end of the step.
  EXPECT_EQ(three.dp_reduce_scatter_s, 0);
  EXPECT_EQ(three.dp_all_gather_s, 0);
  EXPECT_GT(one.dp_reduce_scatter_s, 0);
}

TEST(StepSimulator, ZeroThreeGathersBlockByBlockAndOverlapsOnlyWhenTheStackDoes) {
  std::vector<std::string> overrides = gpt3_on_512_gpus({"parallelism.zero=3"});
  const StepResult hidden = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  overrides.emplace_back("stack.overlap.dp=false");
  const StepResult serial = simulate_step(load("dsv3_2048xh800_mpft", overrides));
  EXPECT_GT(serial.step_time_s, hidden.step_time_s);
  // A middle stage of 12 layers: one gather per layer, so as many parameter blocks as layers.
  const StageCost& stage = hidden.stages.at(3);
  EXPECT_EQ(stage.block_parameters.size(), 12u);
  EXPECT_GT(stage.zero3_forward, 0);
  EXPECT_NEAR(stage.zero3_backward - stage.zero3_forward,
              serial.stages.at(3).zero3_backward - serial.stages.at(3).zero3_forward, 1e-12);
  // Without the overlap every gather and reduction is exposed: each of the 8 devices runs its
  // stage's forward and backward once per micro-batch (1F1B, one stage a device).
  double zero3 = 0;
  for (const StageCost& s : serial.stages) {
    zero3 += serial.micro_batches * (s.zero3_forward + s.zero3_backward);
  }
  ASSERT_EQ(serial.stages.size(), 8u);
  EXPECT_NEAR(serial.exposed_comm_s.at("dp"), zero3 / 8, 1e-9 * zero3);
  // With it, only what outlasts the compute, which here is less.
  EXPECT_GE(hidden.exposed_comm_s.at("dp"), 0);
  EXPECT_LT(hidden.exposed_comm_s.at("dp"), serial.exposed_comm_s.at("dp"));
}

// A pipeline split that counts the embedding as a layer can leave the first chunk with the
// embedding alone (Megatron-Core's layout for Qwen3-235B on 32 x 3 chunks): it runs as a chunk
// of its own, and the step carries every layer once.
TEST(StepSimulator, AChunkWithTheEmbeddingAloneRuns) {
  const StepResult r = simulate_step(load("validation/moe_modelzoo_qwen3_235b_h100_a2a_ep8_pp32"));
  ASSERT_EQ(r.stage_layers.size(), 96u);
  EXPECT_EQ(r.stage_layers.front(), 0);
  EXPECT_EQ(r.stages.front().layer_blocks, 0);
  EXPECT_EQ(r.stages.front().block_parameters.size(), 1u);  // the embedding
  EXPECT_EQ(r.stages.front().moe_blocks, 0);
  int layers = 0, moe = 0;
  for (int n : r.stage_layers) layers += n;
  for (const StageCost& s : r.stages) moe += s.moe_blocks;
  EXPECT_EQ(layers, 94);
  EXPECT_EQ(moe, 94);  // every Qwen3 layer is MoE
  EXPECT_GT(r.step_time_s, 0);
}

TEST(StepSimulator, DataParallelGroupsAcrossNodesUseEveryNic) {
  // tp 2 on two 8-GPU nodes: each data-parallel group is 4 GPUs on each node. Its gradient
  // reduce-scatter runs hierarchically (NVLink, then one ring per local rank on its own NIC),
  // not as one flat ring whose node crossings go through a single NIC each.
  const config::Experiment e =
      load("dsv3_2048xh800_mpft",
           {"model=gpt_generic", "cluster.nodes=2", "parallelism.pp=1", "parallelism.ep=1",
            "parallelism.tp=2", "parallelism.schedule=1f1b", "parallelism.stage_layers=auto",
            "training.global_batch_size=64", "training.precision=bf16", "training.recompute=none"});
  const StepResult r = simulate_step(e);
  const fabric::Topology topology = fabric::build_cluster(*e.cluster.topology, {2, 8, &e.hardware});
  collectives::CollectiveSpec spec;
  spec.operation = collectives::Operation::reduce_scatter;
  spec.bytes = r.stages.at(0).dense_parameters * 4;  // FP32 gradients
  for (std::size_t g = 0; g < 16; g += 2) spec.ranks.push_back(topology.gpus()[g]);
  spec.algorithm = collectives::Algorithm::hierarchical;
  const double hierarchical = collectives::run_collective(topology, spec).time.seconds();
  spec.algorithm = collectives::Algorithm::ring;
  const double ring = collectives::run_collective(topology, spec).time.seconds();
  EXPECT_NEAR(r.dp_reduce_scatter_s, hierarchical, 1e-9);
  EXPECT_LT(hierarchical, 0.5 * ring);
}

TEST(StepSimulator, ContextParallelRanksReduceGradientsWithTheDataParallelOnes) {
  // tp 2 x cp 2 x dp 4 on two 8-GPU nodes: a context-parallel rank computes the gradients of
  // other tokens of the same sequences, so Megatron-Core sums the dense gradients (and shards the
  // distributed optimizer) over dp x cp = 8 ranks, every one with the same tp position, 4 on each
  // node; the data-parallel ranks alone would be 4, 2 on each node.
  const config::Experiment e =
      load("dsv3_2048xh800_mpft",
           {"model=gpt_generic", "cluster.nodes=2", "parallelism.pp=1", "parallelism.ep=1",
            "parallelism.tp=2", "parallelism.cp=2", "parallelism.schedule=1f1b",
            "parallelism.stage_layers=auto", "training.global_batch_size=64",
            "training.precision=bf16", "training.recompute=none"});
  const StepResult r = simulate_step(e);
  const fabric::Topology topology = fabric::build_cluster(*e.cluster.topology, {2, 8, &e.hardware});
  collectives::CollectiveSpec spec;
  spec.operation = collectives::Operation::reduce_scatter;
  spec.bytes = r.stages.at(0).dense_parameters * 4;  // FP32 gradients
  spec.algorithm = collectives::Algorithm::hierarchical;
  for (std::size_t g = 0; g < 16; g += 2) spec.ranks.push_back(topology.gpus()[g]);
  const double dp_cp = collectives::run_collective(topology, spec).time.seconds();
  spec.ranks.clear();
  for (std::size_t g = 0; g < 16; g += 4) spec.ranks.push_back(topology.gpus()[g]);
  const double dp_only = collectives::run_collective(topology, spec).time.seconds();
  EXPECT_NEAR(r.dp_reduce_scatter_s, dp_cp, 1e-9);
  EXPECT_GT(std::abs(dp_cp - dp_only), 0.05 * dp_only);
}

TEST(StepSimulator, Fp8ParameterGatherMovesTheFp8GemmsWeightsInOneByte) {
  // Llama 3 8B in FP8 on two nodes, tp 2, one stage: with the stack's fp8_param_gather the
  // distributed optimizer all-gathers the FP8 GEMMs' weights in one byte and the rest (embedding
  // and the BF16 output head, vocab x hidden / tp each) in two; without it, all in BF16.
  const auto experiment = [&](const std::string& precision, bool fp8_gather) {
    return load(
        "dsv3_2048xh800_mpft",
        {"model=llama3_8b", "cluster.nodes=2", "parallelism.pp=1", "parallelism.ep=1",
         "parallelism.tp=2", "parallelism.schedule=1f1b", "parallelism.stage_layers=auto",
         "training.global_batch_size=64", "training.precision=" + precision,
         "training.recompute=none",
         std::string("stack.optimizer.fp8_param_gather=") + (fp8_gather ? "true" : "false")});
  };
  const config::Experiment e = experiment("fp8", true);
  const StepResult fp8 = simulate_step(e);
  const StepResult bf16_gather = simulate_step(experiment("fp8", false));
  const StageCost& stage = fp8.stages.at(0);
  const double rest = 2.0 * 128256 * 4096 / 2;  // embedding and head, per GPU
  EXPECT_NEAR(stage.dense_parameters - stage.dense_fp8_parameters, rest, 1e-6 * rest);
  const fabric::Topology topology = fabric::build_cluster(*e.cluster.topology, {2, 8, &e.hardware});
  collectives::CollectiveSpec spec;
  spec.operation = collectives::Operation::all_gather;
  spec.algorithm = collectives::Algorithm::hierarchical;
  for (std::size_t g = 0; g < 16; g += 2) spec.ranks.push_back(topology.gpus()[g]);
  spec.bytes = 2 * stage.dense_parameters - stage.dense_fp8_parameters;
  EXPECT_NEAR(fp8.dp_all_gather_s, collectives::run_collective(topology, spec).time.seconds(),
              1e-9);
  spec.bytes = 2 * stage.dense_parameters;
  EXPECT_NEAR(bf16_gather.dp_all_gather_s,
              collectives::run_collective(topology, spec).time.seconds(), 1e-9);
  EXPECT_LT(fp8.dp_all_gather_s, 0.6 * bf16_gather.dp_all_gather_s);
  // BF16 training has no FP8 weights to gather in one byte.
  const StepResult bf16 = simulate_step(experiment("bf16", true));
  EXPECT_EQ(bf16.stages.at(0).dense_fp8_parameters, 0);
  EXPECT_EQ(bf16.dp_all_gather_s, simulate_step(experiment("bf16", false)).dp_all_gather_s);
}

TEST(StepSimulator, ATiedHeadOnTheEmbeddingsStageIsOneParameter) {
  // GPT 22B (tied embeddings, vocabulary 51200, hidden 6144) at tp 8: on one stage the head's
  // weight is the embedding's table, reduced once; over a pipeline the last stage keeps a copy.
  const auto dense = [&](int pp, bool tied) {
    const StepResult r = simulate_step(
        load("dsv3_2048xh800_mpft",
             {"model=gpt_22b", "cluster.nodes=2", "parallelism.pp=" + std::to_string(pp),
              "parallelism.ep=1", "parallelism.tp=8", "parallelism.schedule=1f1b",
              "parallelism.stage_layers=auto", "training.global_batch_size=64",
              "training.seq_len=2048", "training.precision=bf16", "training.recompute=none",
              std::string("model.tied_embeddings=") + (tied ? "true" : "false")}));
    double total = 0;
    for (const StageCost& stage : r.stages) total += stage.dense_parameters;
    return total;
  };
  const double table = 51200.0 / 8 * 6144;
  EXPECT_NEAR(dense(1, false) - dense(1, true), table, 1e-6 * table);
  EXPECT_NEAR(dense(2, false), dense(2, true), 1e-6 * table);
}

TEST(StepSimulator, RingAttentionHidesBehindLongSequencesOnly) {
  // LLaMA-3.1 405B with cp 8: the keys and values a rank passes grow with s / cp, the attention
  // with s^2 / cp, so the ring is exposed at 4K tokens and nearly hidden at 32K. (At 4K each
  // ring step's attention kernel sees 512 keys, where the kernel is at half its long-sequence
  // rate, which hides part of the ring.)
  const auto exposed = [&](int seq_len) {
    const StepResult r = simulate_step(load(
        "dsv3_2048xh800_mpft",
        {"parallelism.stage_layers=auto", "model=llama3_1_405b", "cluster.nodes=128",
         "parallelism.pp=8", "parallelism.ep=1", "parallelism.tp=8", "parallelism.cp=8",
         "parallelism.sequence_parallel=true", "parallelism.schedule=1f1b",
         "training.global_batch_size=128", "training.seq_len=" + std::to_string(seq_len),
         "training.recompute=full", "training.precision=bf16", "stack.static_sm_split=false"}));
    return r.exposed_comm_s.at("cp") / r.step_time_s;
  };
  EXPECT_GT(exposed(4096), 0.005);
  EXPECT_LT(exposed(32768), 0.001);
}

TEST(StepSimulator, MultiPlaneAndMultiRailAgreeWithinOnePercent) {
  const StepResult mpft = simulate_step(load("dsv3_2048xh800_mpft"));
  const StepResult mrft = simulate_step(load("dsv3_2048xh800_mrft"));
  EXPECT_LT(std::abs(mpft.step_time_s / mrft.step_time_s - 1), 0.01);
}

TEST(StepSimulator, WithoutPipeliningTheStepIsTheSumOfItsMicroBatches) {
  // One node, no pipeline, no EP, no data parallelism: every micro-batch runs F, B and W of the
  // one stage back to back, then the optimizer.
  const config::Experiment e =
      load("dsv3_2048xh800_mpft",
           {"model=gpt_generic", "cluster.nodes=1", "cluster.gpus_per_node=1", "parallelism.pp=1",
            "parallelism.ep=1", "parallelism.schedule=1f1b", "parallelism.zero=0",
            "training.global_batch_size=4", "training.seq_len=2048", "training.precision=bf16",
            "training.recompute=none"});
  const StepResult r = simulate_step(e);
  ASSERT_EQ(r.stages.size(), 1u);
  const StageCost& c = r.stages[0];
  EXPECT_NEAR(r.pipeline_s, 4 * (c.forward + c.backward_input + c.weight), 1e-9);
  EXPECT_NEAR(r.step_time_s, r.pipeline_s + r.optimizer_s, 1e-9);
  EXPECT_NEAR(r.phases.bubble, 0, 1e-9);
}

TEST(StepSimulator, SmsHeldByCommunicationSlowTheOverlappedCompute) {
  const std::string dynamic = "stack.static_sm_split=false";
  const StepResult held = simulate_step(load("dsv3_2048xh800_mpft", {dynamic}));
  const StepResult few =
      simulate_step(load("dsv3_2048xh800_mpft", {dynamic, "parallelism.comm_sms=2"}));
  const StageCost& a = held.stages[5];
  const StageCost& b = few.stages[5];
  EXPECT_NEAR(a.forward, b.forward, 1e-12);  // alone, a chunk has every SM
  EXPECT_GT(a.forward_shared, 1.1 * b.forward_shared);
  // ... and the all-to-all the SMs move: one channel instead of ten.
  EXPECT_GT(few.ep_dispatch_s, 5 * held.ep_dispatch_s);
  // DeepSeek's stack sizes its GEMMs for the 112 SMs once: a lone chunk's GEMMs run on them too,
  // its attention on every SM.
  const StepResult fixed = simulate_step(load("dsv3_2048xh800_mpft"));
  const StageCost& c = fixed.stages[5];
  EXPECT_GT(c.forward, a.forward);
  EXPECT_LT(c.forward, c.forward_shared);
  EXPECT_NEAR(c.forward_shared, a.forward_shared, 1e-12);
}

// The trade-off DeepSeek chose 20 SMs for: too few starve the all-to-all, too many slow the GEMMs.
TEST(StepSimulator, CommunicationSmsTradeAllToAllAgainstGemms) {
  std::vector<std::pair<int, double>> steps;
  for (int sms : {4, 12, 20, 32, 48}) {
    const std::string set = "parallelism.comm_sms=" + std::to_string(sms);
    steps.emplace_back(sms, simulate_step(load("dsv3_2048xh800_mpft", {set})).step_time_s);
  }
  const auto best = std::min_element(
      steps.begin(), steps.end(), [](const auto& x, const auto& y) { return x.second < y.second; });
  EXPECT_GE(best->first, 12);
  EXPECT_LE(best->first, 32);
  EXPECT_GT(steps.front().second, 1.3 * best->second);  // 4 SMs: the all-to-all is exposed
  EXPECT_GT(steps.back().second, 1.1 * best->second);   // 48 SMs: the GEMMs are slower
}

TEST(StepSimulator, OneStagesEpGroupsTakeAsLongAsEveryStagesTogether) {
  // Symmetry check: the simulation times the EP groups of one pipeline stage; on the fat-tree
  // every stage's groups running at once take the same time (4 nodes, pp 2, EP 16).
  const config::Experiment e = load("dsv3_2048xh800_mpft");
  config::TopologySpec spec = *e.cluster.topology;
  const fabric::Topology topology = fabric::build_cluster(spec, {4, 8, &e.hardware});
  const ParallelLayout layout({1, 1, 16, 2, 16}, 8);
  const auto run = [&](const std::vector<int>& gpus) {
    collectives::ExpertParallelSpec ep;
    for (int g : gpus) ep.ranks.push_back(topology.gpus()[static_cast<std::size_t>(g)]);
    ep.group_size = 16;
    ep.tokens_per_rank = 4096;
    ep.max_nodes = 2;
    return collectives::run_expert_parallel(topology, ep);
  };
  const std::vector<int> stage0 = layout.ep_groups(0)[0];
  std::vector<int> all = stage0;
  const std::vector<int> stage1 = layout.ep_groups(1)[0];
  all.insert(all.end(), stage1.begin(), stage1.end());
  const collectives::ExpertParallelResult one = run(stage0);
  const collectives::ExpertParallelResult both = run(all);
  EXPECT_NEAR(one.dispatch.time.seconds() / both.dispatch.time.seconds(), 1.0, 0.02);
  EXPECT_NEAR(one.combine.time.seconds() / both.combine.time.seconds(), 1.0, 0.02);
}

// A 7B dense GPT on 2 nodes: tp 8 inside each node, dp 2 across them, no pipeline; on a fat-tree
// of `radix`-port switches with `oversubscription`, symmetric or every replica.
std::vector<std::string> two_replicas(int radix, int oversubscription,
                                      const std::string& symmetry) {
  return {"model=gpt_generic",
          "parallelism.stage_layers=auto",
          "cluster.nodes=2",
          "parallelism.pp=1",
          "parallelism.ep=1",
          "parallelism.tp=8",
          "parallelism.schedule=1f1b",
          "training.global_batch_size=16",
          "training.seq_len=2048",
          "training.precision=bf16",
          "cluster.topology=ft2",
          "cluster.topology.switch_radix=" + std::to_string(radix),
          "cluster.topology.oversubscription=" + std::to_string(oversubscription),
          "simulation.symmetry=" + symmetry};
}

TEST(StepSimulator, EveryReplicaEqualsTheSymmetricRunWhereReplicasShareNoLink) {
  // Each node's TP group has its own NVSwitch links; the 8 data-parallel pairs (GPU i of node 0
  // and of node 1) each use their own NICs, and all 16 NICs sit under one 64-port leaf, whose
  // links no two pairs share. Running every group at once changes nothing, to the picosecond.
  const StepResult symmetric =
      simulate_step(load("dsv3_2048xh800_mpft", two_replicas(64, 1, "on")));
  const StepResult every = simulate_step(load("dsv3_2048xh800_mpft", two_replicas(64, 1, "off")));
  EXPECT_EQ(every.step_time_s, symmetric.step_time_s);
  EXPECT_EQ(every.dp_reduce_scatter_s, symmetric.dp_reduce_scatter_s);
  EXPECT_EQ(every.dp_all_gather_s, symmetric.dp_all_gather_s);
  EXPECT_GT(every.flows, symmetric.flows) << "every replica ran";
}

TEST(StepSimulator, EveryReplicaShowsReplicasContendingOnAnOversubscribedNetwork) {
  // 8-port leaves at 3:1 (6 NICs down, 2 links up): the 16 NICs take three leaves, and most data-
  // parallel pairs cross between leaves. The symmetric run times GPU 0's pair alone, which has
  // an uplink to itself; with every pair at once, the pairs that cross share each leaf's two
  // uplinks, and the gradient reduce-scatter and all-gather take several times as long.
  const StepResult symmetric = simulate_step(load("dsv3_2048xh800_mpft", two_replicas(8, 3, "on")));
  const StepResult every = simulate_step(load("dsv3_2048xh800_mpft", two_replicas(8, 3, "off")));
  EXPECT_GT(every.dp_reduce_scatter_s, 3 * symmetric.dp_reduce_scatter_s);
  EXPECT_GT(every.dp_all_gather_s, 3 * symmetric.dp_all_gather_s);
  EXPECT_GT(every.step_time_s, 1.3 * symmetric.step_time_s);
  // The symmetric run on the oversubscribed network is the non-blocking one's.
  const StepResult blocking_free =
      simulate_step(load("dsv3_2048xh800_mpft", two_replicas(64, 1, "on")));
  EXPECT_NEAR(symmetric.dp_reduce_scatter_s, blocking_free.dp_reduce_scatter_s,
              1e-4 * blocking_free.dp_reduce_scatter_s);
}

}  // namespace
}  // namespace clustersim::parallel
