// Loading the shipped cards and the fixtures in tests/data/good: values land in the typed structs
// with their units converted, library look-ups, base chains and overrides work, and loading is
// deterministic.

#include "sim/config/loader.hpp"

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "sim/report/config_json.hpp"

namespace clustersim::config {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

TEST(ShippedCards, DeepSeekV3MatchesTheTechnicalReport) {
  const ModelCard card = load_model_card(kRoot + "/models/deepseek_v3.yaml");
  EXPECT_EQ(card.name, "deepseek_v3");
  EXPECT_EQ(card.layers, 61);
  EXPECT_EQ(card.hidden_size, 7168);
  EXPECT_EQ(card.vocab_size, 129280);
  EXPECT_EQ(card.max_seq_len, 163840);
  EXPECT_EQ(card.norm, NormType::rmsnorm);
  EXPECT_FALSE(card.tied_embeddings);
  EXPECT_EQ(card.attention.type, AttentionType::mla);
  EXPECT_EQ(card.attention.heads, 128);
  EXPECT_EQ(card.attention.q_lora_rank, 1536);
  EXPECT_EQ(card.attention.kv_lora_rank, 512);
  EXPECT_EQ(card.attention.qk_nope_head_dim, 128);
  EXPECT_EQ(card.attention.qk_rope_head_dim, 64);
  EXPECT_EQ(card.attention.v_head_dim, 128);
  EXPECT_EQ(card.attention.head_dim, 192);  // nope + rope
  EXPECT_EQ(card.ffn.activation, Activation::swiglu);
  EXPECT_EQ(card.ffn.hidden_size, 18432);
  ASSERT_TRUE(card.moe.has_value());
  EXPECT_EQ(card.moe->experts, 256);
  EXPECT_EQ(card.moe->shared_experts, 1);
  EXPECT_EQ(card.moe->top_k, 8);
  EXPECT_EQ(card.moe->expert_hidden_size, 2048);
  EXPECT_EQ(card.moe->first_dense_layers, 3);
  EXPECT_EQ(card.moe->groups, 8);
  EXPECT_EQ(card.moe->max_groups_per_token, 4);
  EXPECT_EQ(card.mtp_modules, 1);
}

TEST(ShippedCards, H800ProfileMatchesThePublishedFigures) {
  const HardwareProfile h800 = load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  EXPECT_EQ(h800.gpu.sm_count, 132);
  EXPECT_DOUBLE_EQ(h800.gpu.boost_clock.hz, 1.83e9);
  EXPECT_DOUBLE_EQ(h800.gpu.peak(Dtype::bf16)->flop_per_s, 989e12);
  EXPECT_DOUBLE_EQ(h800.gpu.peak(Dtype::fp8)->flop_per_s, 1979e12);
  EXPECT_DOUBLE_EQ(h800.gpu.memory_capacity.bytes, 80e9);
  EXPECT_DOUBLE_EQ(h800.gpu.memory_bandwidth.bytes_per_s, 3.35e12);
  // ISCA'25 §4.1/§4.3: 400 GB/s NVLink in total, 200 GB/s a direction, about 160 achievable.
  EXPECT_EQ(h800.scale_up.domain_size, 8);
  EXPECT_DOUBLE_EQ(h800.scale_up.aggregate_bandwidth.bytes_per_s, 400e9);
  EXPECT_DOUBLE_EQ(h800.scale_up.per_direction().bytes_per_s, 200e9);
  EXPECT_DOUBLE_EQ(h800.scale_up.achievable().bytes_per_s, 160e9);
  EXPECT_EQ(h800.scale_up.latency.ps(), 3'330'000);
  // Eight 400 Gb/s CX7 NICs: 50 GB/s each, 40 GB/s effective.
  ASSERT_TRUE(h800.scale_out.has_value());
  EXPECT_EQ(h800.scale_out->nics_per_node, 8);
  EXPECT_DOUBLE_EQ(h800.scale_out->nic_bandwidth.bytes_per_s, 50e9);
  EXPECT_DOUBLE_EQ(h800.scale_out->achievable().bytes_per_s, 40e9);
  EXPECT_EQ(h800.scale_out->latency.ps(), 2'800'000);
  EXPECT_EQ(h800.price.gpu_hour_usd, 2.0);
}

TEST(ShippedCards, DeepSeekV3ExperimentResolvesTheTechnicalReportLayout) {
  const Experiment e = load_experiment(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml");
  EXPECT_EQ(e.cluster.gpus(), 2048);
  EXPECT_EQ(e.parallelism.pp, 16);
  EXPECT_EQ(e.parallelism.ep, 64);
  EXPECT_EQ(e.parallelism.dp, 128);  // 2048 / 16
  EXPECT_EQ(e.parallelism.schedule, Schedule::dualpipe);
  EXPECT_EQ(e.parallelism.comm_sms, 20);
  EXPECT_EQ(e.training.micro_batches(e.parallelism), 120);  // 15360 / 128
  EXPECT_EQ(e.training.precision, Precision::fp8);
  EXPECT_EQ(e.training.recompute, RecomputeMode::ops);
  EXPECT_EQ(e.training.recompute_ops,
            (std::vector<std::string>{"rmsnorm", "mla_up_projection", "swiglu"}));
  EXPECT_DOUBLE_EQ(*e.training.tokens, 14.8e12);
  ASSERT_TRUE(e.cluster.topology.has_value());
  EXPECT_EQ(e.cluster.topology->generator, TopologyGenerator::multi_plane_fat_tree);
  EXPECT_EQ(e.cluster.topology->planes, 8);
  EXPECT_EQ(e.cluster.topology->switch_radix, 64);
  EXPECT_EQ(e.model.name, "deepseek_v3");
  EXPECT_EQ(e.hardware.name, "h800_sxm");
}

TEST(ShippedCards, MrftExperimentDiffersFromMpftOnlyInTopologyAndName) {
  const Experiment mpft = load_experiment(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml");
  const Experiment mrft = load_experiment(kRoot + "/experiments/dsv3_2048xh800_mrft.yaml");
  EXPECT_EQ(mrft.cluster.topology->generator, TopologyGenerator::multi_rail_fat_tree);
  nlohmann::json a = report::to_json(mpft);
  nlohmann::json b = report::to_json(mrft);
  for (nlohmann::json* j : {&a, &b}) {
    j->erase("name");
    j->erase("file");
    (*j)["cluster"].erase("topology");
  }
  EXPECT_EQ(a, b);
}

TEST(ShippedCards, EveryCardInTheLibraryLoads) {
  namespace fs = std::filesystem;
  int loaded = 0;
  for (const char* folder : {"models", "hardware_profiles", "hardware_profiles/costs", "topologies",
                             "experiments", "experiments/validation", "software_stacks"}) {
    for (const fs::directory_entry& entry : fs::directory_iterator(kRoot + "/" + folder)) {
      if (entry.path().extension() != ".yaml") continue;
      // Mutations.HardwareProfileNeverCrashes writes its corrupted profiles beside the shipped
      // one (so that its measured-file paths resolve) while the suite runs in parallel.
      if (entry.path().filename().string().starts_with("mutant_")) continue;
      const std::string file = entry.path().string();
      SCOPED_TRACE(file);
      try {
        switch (detect_kind(file)) {
          case CardKind::model:
            (void)load_model_card(file);
            break;
          case CardKind::hardware:
            (void)load_hardware_profile(file);
            break;
          case CardKind::topology:
            (void)load_topology(file);
            break;
          case CardKind::experiment:
            (void)load_experiment(file);
            break;
          case CardKind::sweep:
            (void)load_sweep(file);
            break;
          case CardKind::cost:
            (void)load_cost_profile(file);
            break;
          case CardKind::stack:
            (void)load_software_stack(file);
            break;
        }
        ++loaded;
      } catch (const ConfigError& error) {
        ADD_FAILURE() << error.what();
      }
    }
  }
  EXPECT_GE(loaded, 10);
}

TEST(Library, NamesResolveBesideTheFileFirst) {
  const Experiment e = load_experiment("data/good/experiments/tiny_by_name.yaml");
  EXPECT_EQ(e.model.name, "tiny_gpt");        // tests/data/good/models, not the project library
  EXPECT_EQ(e.model.attention.head_dim, 64);  // 1024 / 16
  EXPECT_EQ(e.model.attention.kv_heads, 16);
  EXPECT_EQ(e.cluster.gpus_per_node, 8);      // from the hardware profile's scale-up domain
  EXPECT_EQ(e.parallelism.dp, 2);             // 8 / (2 x 2)
  EXPECT_DOUBLE_EQ(*e.training.tokens, 1e9);  // "1B"
}

TEST(Library, LibraryRootsAreSearchedForFilesOutsideTheTree) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "clustersim_library_root_test";
  fs::create_directories(dir);
  const fs::path file = dir / "exp.yaml";
  {
    std::ofstream out(file);
    out << "name: t\nmodel: tiny_gpt\nhardware: h800_sxm\ncluster: {nodes: 1}\n"
           "training: {seq_len: 128, global_batch_size: 8}\n";
  }
  LoadOptions options;
  options.library_roots = {fs::absolute("data/good"), kRoot};
  EXPECT_EQ(load_experiment(file.string(), options).model.name, "tiny_gpt");
  options.library_roots = {kRoot};
  EXPECT_THROW((void)load_experiment(file.string(), options), ConfigError);
  fs::remove_all(dir);
}

TEST(Library, InlineCardsStartFromTheirBase) {
  const Experiment e = load_experiment("data/good/experiments/inline_cards.yaml");
  EXPECT_EQ(e.model.name, "deepseek_v3");
  EXPECT_EQ(e.model.layers, 30);
  EXPECT_EQ(e.model.moe->top_k, 6);
  EXPECT_EQ(e.model.moe->experts, 256);  // kept from the base
  EXPECT_DOUBLE_EQ(e.hardware.scale_out->nic_bandwidth.bytes_per_s, 100e9);
  EXPECT_DOUBLE_EQ(e.hardware.scale_out->achievable().bytes_per_s, 80e9);  // efficiency kept
  EXPECT_EQ(e.cluster.topology->planes, 4);
  EXPECT_EQ(e.parallelism.schedule, Schedule::dualpipev);
  EXPECT_EQ(e.training.recompute, RecomputeMode::full);
}

TEST(Overrides, SetReplacesValuesAndEntersNamedCards) {
  LoadOptions options;
  options.overrides = {"parallelism.pp=8", "model.layers=48",
                       "hardware.scale_out.nic_bandwidth=800 Gb/s", "training.tokens=1T"};
  const Experiment e = load_experiment(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml", options);
  EXPECT_EQ(e.parallelism.pp, 8);
  EXPECT_EQ(e.parallelism.dp, 256);
  EXPECT_EQ(e.model.layers, 48);
  EXPECT_EQ(e.model.name, "deepseek_v3");
  EXPECT_DOUBLE_EQ(e.hardware.scale_out->nic_bandwidth.bytes_per_s, 100e9);
  EXPECT_DOUBLE_EQ(*e.training.tokens, 1e12);
}

TEST(Overrides, FlowValuesSetLists) {
  LoadOptions options;
  options.overrides = {"parallelism.pp=2", "parallelism.stage_layers=[1, 3]"};
  const Experiment e = load_experiment("data/good/experiments/tiny_by_name.yaml", options);
  EXPECT_EQ(e.parallelism.stage_layers, (std::vector<int>{1, 3}));
}

TEST(Overrides, UnknownKeysAreReportedAgainstTheCommandLine) {
  LoadOptions options;
  options.overrides = {"parallelism.ppp=8"};
  try {
    (void)load_experiment("data/good/experiments/tiny_by_name.yaml", options);
    FAIL() << "an unknown key was accepted";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "--set parallelism.ppp=8: error: parallelism.ppp: unknown key \"ppp\"; did you "
                 "mean \"pp\"?");
    EXPECT_FALSE(error.infeasible());
  }
}

TEST(Sweep, GridExpandsWithTheLastAxisFastest) {
  const SweepSpec sweep = load_sweep("data/good/sweep_grid.yaml");
  EXPECT_EQ(sweep.mode, SweepMode::grid);
  const std::vector<SweepPoint> points = sweep.points();
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].overrides,
            (std::vector<std::string>{"parallelism.pp=1",
                                      "hardware.scale_up.aggregate_bandwidth=400 GB/s"}));
  EXPECT_EQ(points[1].overrides[1], "hardware.scale_up.aggregate_bandwidth=900 GB/s");
  EXPECT_EQ(points[3].overrides[0], "parallelism.pp=2");
  // Every point loads as an experiment through the same override path as --set.
  for (const SweepPoint& point : points) {
    LoadOptions options;
    options.overrides = point.overrides;
    EXPECT_NO_THROW((void)load_experiment(sweep.experiment, options));
  }
}

TEST(Sweep, ZipPairsValuesAndKeepsListsAsFlowYaml) {
  const SweepSpec sweep = load_sweep("data/good/sweep_zip.yaml");
  const std::vector<SweepPoint> points = sweep.points();
  ASSERT_EQ(points.size(), 3u);
  EXPECT_EQ(points[1].overrides,
            (std::vector<std::string>{"parallelism.tp=2", "parallelism.stage_layers=[1, 3]"}));
  LoadOptions options;
  options.overrides = points[2].overrides;
  const Experiment e = load_experiment(sweep.experiment, options);
  EXPECT_EQ(e.parallelism.tp, 4);
  EXPECT_EQ(e.parallelism.stage_layers, (std::vector<int>{3, 1}));
}

// An axis under another's `with:` moves with it: the shipped topology comparison has 2 scales
// (nodes with their global batch) x 7 networks = 14 points, not 2 x 2 x 7.
TEST(Sweep, AxesWrittenWithAnotherMoveWithIt) {
  const SweepSpec sweep = load_sweep(kRoot + "/experiments/topology_comparison.yaml");
  ASSERT_EQ(sweep.axes.size(), 3u);
  EXPECT_EQ(sweep.axes[1].key, "training.global_batch_size");
  EXPECT_EQ(sweep.axes[1].moves_with, 0);
  const std::vector<SweepPoint> points = sweep.points();
  ASSERT_EQ(points.size(), 14u);
  EXPECT_EQ(points[0].overrides,
            (std::vector<std::string>{"cluster.nodes=256", "training.global_batch_size=15360",
                                      "cluster.topology=ft2"}));
  EXPECT_EQ(points[13].overrides,
            (std::vector<std::string>{"cluster.nodes=2048", "training.global_batch_size=122880",
                                      "cluster.topology=dragonfly"}));
}

// Grid axes and linked axes combine: the shipped fabric-rate sweep crosses 2 pipeline depths with
// 3 line rates, each rate setting the NICs and the switch ports together (2 x 3 points).
TEST(Sweep, GridAxesCombineWithAxesThatMoveTogether) {
  const SweepSpec sweep = load_sweep(kRoot + "/experiments/sweep_dsv3_fabric_rate.yaml");
  EXPECT_EQ(sweep.mode, SweepMode::grid);
  ASSERT_EQ(sweep.axes.size(), 3u);
  EXPECT_EQ(sweep.axes[2].moves_with, 1);
  const std::vector<SweepPoint> points = sweep.points();
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(
      points[2].overrides,
      (std::vector<std::string>{"parallelism.pp=16", "hardware.scale_out.nic_bandwidth=800 Gb/s",
                                "cluster.topology.link_bandwidth=800 Gb/s"}));
  EXPECT_EQ(points[3].overrides[0], "parallelism.pp=32");
  for (const SweepPoint& point : points) {
    LoadOptions options;
    options.overrides = point.overrides;
    const Experiment e = load_experiment(sweep.experiment, options);
    ASSERT_TRUE(e.hardware.scale_out && e.cluster.topology && e.cluster.topology->link_bandwidth);
    EXPECT_EQ(e.hardware.scale_out->nic_bandwidth, *e.cluster.topology->link_bandwidth);
  }
}

TEST(Determinism, LoadingTwiceGivesTheSameResult) {
  const std::string file = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  EXPECT_EQ(report::to_json(load_experiment(file)).dump(),
            report::to_json(load_experiment(file)).dump());
}

TEST(DetectKind, ByFolderThenByKeys) {
  EXPECT_EQ(detect_kind(kRoot + "/models/deepseek_v3.yaml"), CardKind::model);
  EXPECT_EQ(detect_kind(kRoot + "/hardware_profiles/h800_sxm.yaml"), CardKind::hardware);
  EXPECT_EQ(detect_kind(kRoot + "/topologies/mpft.yaml"), CardKind::topology);
  EXPECT_EQ(detect_kind("data/good/sweep_grid.yaml"), CardKind::sweep);
  EXPECT_EQ(detect_kind(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml"), CardKind::experiment);
}

}  // namespace
}  // namespace clustersim::config

namespace clustersim::config {
namespace {

TEST(FileErrors, DirectoriesAndMissingFilesAreNamed) {
  try {
    (void)load_model_card("data");
    FAIL() << "a directory loaded";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(), "data: error: is a directory, not a YAML file");
  }
  try {
    (void)load_hardware_profile("data/none.yaml");
    FAIL() << "a missing file loaded";
  } catch (const ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "data/none.yaml: error: cannot open file: no such file or not readable");
  }
}

}  // namespace
}  // namespace clustersim::config

namespace clustersim::config {
namespace {

TEST(Library, UnknownNamesListWhatTheLibraryHas) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "clustersim_available_test";
  fs::create_directories(dir / "models");
  {
    std::ofstream(dir / "models" / "alpha.yaml") << "name: alpha\n";
    std::ofstream(dir / "models" / "beta.yaml") << "name: beta\n";
    std::ofstream(dir / "exp.yaml")
        << "name: t\nmodel: zzz\nhardware: h800_sxm\ncluster: {nodes: 1}\n"
           "training: {seq_len: 128, global_batch_size: 8}\n";
  }
  LoadOptions options;
  options.library_roots = {dir};
  try {
    (void)load_experiment((dir / "exp.yaml").string(), options);
    FAIL() << "an unknown model loaded";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("model: model \"zzz\" not found in the card library (models/); "
                           "available: alpha, beta"),
              std::string::npos)
        << message;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace clustersim::config
