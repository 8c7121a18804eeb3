// Kernel times of workload ops: attention from the measured curves, memory-bound ops at the
// achievable HBM bandwidth, and the GEMM shapes of each backward pass.

#include <gtest/gtest.h>

#include <cmath>

#include "sim/compute/compute_model.hpp"
#include "sim/config/loader.hpp"

namespace clustersim::compute {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

class H800 : public ::testing::Test {
 protected:
  config::HardwareProfile profile =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
};

TEST_F(H800, CurvesInterpolateInLogLogSpace) {
  const std::vector<config::RatePoint>& curve = profile.compute->attention.forward;
  EXPECT_DOUBLE_EQ(ComputeModel::interpolate(curve, 4096), 579e12);
  EXPECT_NEAR(ComputeModel::interpolate(curve, 1024 * std::sqrt(2.0)), std::sqrt(423e12 * 521e12),
              1e3);
  // Constant beyond the measured ends.
  EXPECT_DOUBLE_EQ(ComputeModel::interpolate(curve, 100), 292e12);
  EXPECT_DOUBLE_EQ(ComputeModel::interpolate(curve, 1e6), 616e12);
}

TEST_F(H800, AttentionFollowsTheFlashAttentionConvention) {
  const ComputeModel model(profile);
  // The FA3 curves were measured at a fixed 1830 MHz; the H800 sustains about 1600 MHz under
  // full tensor-core load (FlashMLA's notes), so their rates scale by 1600 / 1830.
  const double clock = 1600.0 / 1830.0;
  const double flops = 579e12 * 1e-3;  // 1 ms at the 4k forward rate and 1830 MHz
  EXPECT_NEAR(model.attention_forward_time(flops, 4096, 132).seconds(), 1e-3 / clock, 1e-12);
  // Backward: 2.5 x the forward FLOPs at the backward rate.
  EXPECT_NEAR(model.attention_backward_time(flops, 4096, 132).seconds(),
              2.5 * flops / (542e12 * clock), 1e-12);
  // Half the SMs, half the rate.
  EXPECT_NEAR(model.attention_forward_time(flops, 4096, 66).seconds(), 2e-3 / clock, 1e-12);
  // Without a sustained clock the curves are used as measured.
  config::HardwareProfile unthrottled = profile;
  unthrottled.compute->sustained_clock.reset();
  const ComputeModel plain(unthrottled);
  EXPECT_EQ(plain.attention_forward_time(flops, 4096, 132), SimTime::from_ps(1'000'000'000));
}

// FA3's charts at head dims 64, 128 and 256 (4k causal forward 420, 579, 612; non-causal
// backward 453 and 542, none at 256). Between two measured head dims the time per score, d /
// rate, is linear in d; beyond them a pass runs at the nearest measured head dim's rate.
TEST_F(H800, AttentionFollowsTheHeadDim) {
  config::HardwareProfile unthrottled = profile;
  unthrottled.compute->sustained_clock.reset();
  const ComputeModel model(unthrottled);
  const double flops = 1e12;
  const auto forward_rate = [&](double head_dim) {
    return flops / model.attention_forward_time(flops, 4096, 132, head_dim).seconds();
  };
  const auto backward_rate = [&](double head_dim) {
    return 2.5 * flops / model.attention_backward_time(flops, 4096, 132, head_dim).seconds();
  };
  EXPECT_NEAR(forward_rate(64), 420e12, 1e6);
  EXPECT_NEAR(forward_rate(128), 579e12, 1e6);
  // No head dim: the main curves'.
  EXPECT_NEAR(flops / model.attention_forward_time(flops, 4096, 132).seconds(), 579e12, 1e6);
  EXPECT_NEAR(forward_rate(256), 612e12, 1e6);
  // MLA's 192 and 128 run as 160: a quarter of the way from 128 to 256 in time per score.
  const double t160 = 128 / 579e12 + 0.25 * (256 / 612e12 - 128 / 579e12);
  EXPECT_NEAR(forward_rate(160), 160 / t160, 1e6);
  EXPECT_NEAR(forward_rate(96), 96 / (0.5 * (64 / 420e12 + 128 / 579e12)), 1e6);
  // Beyond the charts: the nearest measured head dim.
  EXPECT_NEAR(forward_rate(32), 420e12, 1e6);
  EXPECT_NEAR(forward_rate(512), 612e12, 1e6);
  EXPECT_NEAR(backward_rate(64), 453e12, 1e6);
  EXPECT_NEAR(backward_rate(96), 96 / (0.5 * (64 / 453e12 + 128 / 542e12)), 1e6);
  EXPECT_NEAR(backward_rate(192), 542e12, 1e6);  // no backward charted at 256
  // A profile whose curves measure one head dim runs every head dim at them.
  config::HardwareProfile one = unthrottled;
  one.compute->attention.head_dims.clear();
  const ComputeModel single(one);
  EXPECT_NEAR(flops / single.attention_forward_time(flops, 4096, 132, 64).seconds(), 579e12, 1e6);
}

// An attention op under a sliding window reads its rate at the window's keys, whatever the
// sequence: at 512 keys FA3's charts are slower per FLOP than at 4k, and below the charts'
// shortest sequence the rate holds there.
TEST_F(H800, SlidingWindowAttentionRunsAtTheWindowsRate) {
  const ComputeModel model(profile);
  workload::Op op;
  op.kind = workload::OpKind::attention;
  op.forward_flops = 1e12;
  op.head_dim = 64;
  const SimTime whole = model.op_time(op, OpPass::forward, 132, 4096);
  op.attention_keys = 512;
  for (const OpPass pass : {OpPass::forward, OpPass::backward_input}) {
    EXPECT_EQ(model.op_time(op, pass, 132, 4096), model.op_time(op, pass, 132, 512));
  }
  EXPECT_GT(model.op_time(op, OpPass::forward, 132, 4096), whole);
  op.attention_keys = 128;
  EXPECT_EQ(model.op_time(op, OpPass::forward, 132, 4096),
            model.op_time(op, OpPass::forward, 132, 512));
}

TEST_F(H800, MemoryBoundKernelsRunAtTheMeasuredShareOfHbm) {
  const ComputeModel model(profile);
  EXPECT_NEAR(model.memory_time(3.35e12 * 0.866).seconds(), 1.0, 1e-12);
}

TEST_F(H800, BackwardPassesTransposeTheGemm) {
  workload::Op op;
  op.kind = workload::OpKind::gemm;
  op.dtype = Dtype::fp8;
  op.m = 4096;
  op.n = 7168;
  op.k = 2048;
  const GemmShape b = pass_shape(op, OpPass::backward_input);
  const GemmShape w = pass_shape(op, OpPass::backward_weight);
  EXPECT_EQ(std::tie(b.m, b.n, b.k), std::make_tuple(4096LL, 2048LL, 7168LL));
  EXPECT_EQ(std::tie(w.m, w.n, w.k), std::make_tuple(2048LL, 7168LL, 4096LL));
  const ComputeModel model(profile);
  // The forward shape is a DeepGEMM row: 1168 TFLOP/s at the table's 1830 MHz, run at the
  // sustained 1600 MHz, after quantising its 4096 x 2048 input (3 + 1/32 bytes per value at the
  // quantise kernels' 46 % of HBM).
  const double clock = 1600.0 / 1830.0;
  const double quantize = 4096.0 * 2048 * (3 + 1.0 / 32) / (3.35e12 * 0.46);
  EXPECT_NEAR(model.op_time(op, OpPass::forward, 132, 4096).seconds(),
              2.0 * 4096 * 7168 * 2048 / (1168e12 * clock) + quantize, 1e-12);
  // W quantises both operands again: input (4096 x 2048) and output gradient (4096 x 7168), and
  // runs at the profile's 58.5 % weight-gradient share of the forward rate of its shape.
  const double w_quantize = 4096.0 * (2048 + 7168) * (3 + 1.0 / 32) / (3.35e12 * 0.46);
  EXPECT_NEAR(
      model.op_time(op, OpPass::backward_weight, 132, 4096).seconds(),
      model.gemm_time(pass_shape(op, OpPass::backward_weight), 132).seconds() / 0.585 + w_quantize,
      1e-9);
  EXPECT_NEAR(model.gemm_time(pass_shape(op, OpPass::backward_weight), 132, true).seconds(),
              model.gemm_time(pass_shape(op, OpPass::backward_weight), 132).seconds() / 0.585,
              1e-12);
}

TEST_F(H800, RecomputedOpsRunTheirForwardAgainInTheBackwardPass) {
  const ComputeModel model(profile);
  workload::Op norm;
  norm.kind = workload::OpKind::norm;
  norm.forward_bytes = 1e9;
  const SimTime forward = model.op_time(norm, OpPass::forward, 132, 4096);
  const SimTime backward = model.op_time(norm, OpPass::backward_input, 132, 4096);
  norm.recomputed = true;
  EXPECT_EQ(model.op_time(norm, OpPass::backward_input, 132, 4096), backward + forward);
  EXPECT_NEAR(backward.seconds(), 2 * forward.seconds(), 1e-12);
}

TEST(ComputeModel, AProfileWithoutComputeDataIsAClearError) {
  const config::HardwareProfile h20 =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h20.yaml");
  try {
    const ComputeModel model(h20);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 "hardware profile h20 has no compute section: kernel times need its measured "
                 "efficiencies (see hardware_profiles/h800_sxm.yaml)");
  }
}

}  // namespace
}  // namespace clustersim::compute
