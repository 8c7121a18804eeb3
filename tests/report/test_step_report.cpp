// Step figures against their closed forms: training days and energy for a token budget.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "sim/parallel/step_simulator.hpp"
#include "sim/report/model_report.hpp"
#include "sim/report/step_report.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::report {
namespace {

// A step of 20 s for 2048 GPUs and 61.9M tokens (15360 sequences of 4096).
parallel::StepResult twenty_second_step() {
  parallel::StepResult result;
  result.step_time_s = 20;
  result.gpus = 2048;
  result.tokens_per_step = 15360LL * 4096;
  return result;
}

TEST(StepFigures, TrainingDaysAndEnergyForTheTokenBudget) {
  const config::Experiment e = testing::shipped_experiment("dsv3_2048xh800_mpft");
  ASSERT_EQ(e.training.tokens, 14.8e12);
  const StepFigures f = step_figures(e, twenty_second_step());
  const double steps = 14.8e12 / (15360.0 * 4096);
  ASSERT_TRUE(f.training_days);
  EXPECT_NEAR(*f.training_days, steps * 20 / 86400, 1e-9);
  // H800 profile: 700 W TDP, 0.8 of it drawn, PUE 1.2, $0.08 per kWh (assumptions).
  ASSERT_TRUE(f.energy);
  const double gpu_hours = steps * 20 * 2048 / 3600;
  EXPECT_NEAR(*f.energy->total_kwh, gpu_hours * 0.7 * 0.8 * 1.2, 1e-6 * gpu_hours);
  EXPECT_NEAR(*f.energy->total_usd(), *f.energy->total_kwh * 0.08, 1e-6 * gpu_hours);
  EXPECT_NEAR(f.energy->kwh_per_trillion_tokens, *f.energy->total_kwh / 14.8, 1e-6 * gpu_hours);
}

TEST(StepFigures, TheExperimentsEnergyAssumptionsWinOverTheProfiles) {
  const config::Experiment e = testing::shipped_experiment(
      "dsv3_2048xh800_mpft", {"cost.pue=1.5", "cost.electricity_usd_per_kwh=0.2"});
  const StepFigures f = step_figures(e, twenty_second_step());
  ASSERT_TRUE(f.energy);
  EXPECT_EQ(f.energy->pue, 1.5);
  EXPECT_EQ(f.energy->power_fraction, 0.8);  // the profile's
  EXPECT_EQ(f.energy->usd_per_kwh, 0.2);
  // The GPU-hour price is the hardware profile's: the experiment sets none.
  EXPECT_EQ(f.gpu_hour_usd, 2.0);
  const config::Experiment h200 =
      testing::shipped_experiment("dsv3_2048xh800_mpft", {"hardware=h200_sxm"});
  EXPECT_EQ(step_figures(h200, twenty_second_step()).gpu_hour_usd, 3.5);
}

TEST(StepFigures, NoEnergyWithoutAPowerFraction) {
  const config::Experiment e = testing::shipped_experiment(
      "dsv3_2048xh800_mpft", {"hardware={base: h800_sxm, price: {power_fraction: null}}"});
  EXPECT_FALSE(e.hardware.price.energy.power_fraction);
  EXPECT_FALSE(step_figures(e, twenty_second_step()).energy);
}

// The end of step names the optimizer's kernels in launch order, in the text and in --json, and
// they add up to the optimizer's time; one fused AdamW pass is not broken down in the text.
TEST(StepReport, NamesTheOptimizersKernels) {
  const config::Experiment e =
      testing::shipped_experiment("validation/korthikanti22_22b_seqpar_selective");
  const parallel::StepResult r = parallel::simulate_step(e);
  ASSERT_EQ(r.optimizer_kernels.size(), 4u);
  std::string listed;
  double sum = 0;
  for (const parallel::OptimizerKernel& kernel : r.optimizer_kernels) {
    listed +=
        fmt::format("{}{} {:.1f}", listed.empty() ? "" : ", ", kernel.name, kernel.seconds * 1e3);
    sum += kernel.seconds;
  }
  EXPECT_NEAR(sum, r.optimizer_s, 1e-12);
  EXPECT_EQ(listed.substr(0, 14), "gradient_norm ");
  const std::string text = step_text(e, r, 0);
  EXPECT_NE(text.find(fmt::format("optimizer {:.1f} ms ({}), parameter all-gather",
                                  r.optimizer_s * 1e3, listed)),
            std::string::npos)
      << text;
  const nlohmann::json json = step_json(e, r, 0);
  EXPECT_EQ(json.at("optimizer_kernels_s").size(), 4u);
  EXPECT_DOUBLE_EQ(json.at("optimizer_kernels_s").at("adamw").get<double>(),
                   r.optimizer_kernels.at(1).seconds);
  const config::Experiment fused = testing::shipped_experiment(
      "validation/korthikanti22_22b_seqpar_selective",
      {"stack.optimizer={gradient_norm: false, master_weight_copy: fused, zero_gradients: false}"});
  const parallel::StepResult one = parallel::simulate_step(fused);
  ASSERT_EQ(one.optimizer_kernels.size(), 1u);
  EXPECT_NE(
      step_text(fused, one, 0)
          .find(fmt::format("optimizer {:.1f} ms, parameter all-gather", one.optimizer_s * 1e3)),
      std::string::npos);
}

// `clustersim model` shows a sliding window: in the card, and per row of layers the work of its
// sliding and its full layers (every second layer attends fully here).
TEST(ModelReport, ShowsTheSlidingAndTheFullLayers) {
  config::ModelCard card =
      config::load_model_card(testing::kSourceRoot + "/models/gpt_generic.yaml");
  card.attention.sliding_window = config::SlidingWindow{1024, 2};
  const std::string text = model_report_text(card, workload::compute_model_stats(card, 4096));
  EXPECT_NE(text.find("sliding window of 1024 tokens, every 2 layers one attends fully"),
            std::string::npos)
      << text;
  const workload::ModelStats stats = workload::compute_model_stats(card, 4096);
  const auto gflop = [&](int layer) {
    const workload::LayerStats& row = stats.layers[static_cast<std::size_t>(layer)];
    return (row.forward_matmul_flops + row.forward_attention_flops_causal) / 1e9;
  };
  EXPECT_LT(gflop(0), gflop(1));
  EXPECT_NE(text.find(fmt::format("{:.3f} GFLOP sliding, {:.3f} full", gflop(0), gflop(1))),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace clustersim::report
