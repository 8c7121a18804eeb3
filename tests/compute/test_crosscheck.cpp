// Cross-check and calibration on the shipped measured files, without a GPU.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/compute/compute_model.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/crosscheck.hpp"

namespace clustersim::report {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;
const std::string kDeepGemm =
    kRoot + "/hardware_profiles/measured/h800_sxm-deepgemm-2025-04-09.json";
const std::string kH200 = kRoot + "/hardware_profiles/measured/h200_sxm-published.json";

config::HardwareProfile profile(const std::string& name) {
  return config::load_hardware_profile(kRoot + "/hardware_profiles/" + name + ".yaml");
}

const KindSummary& summary_of(const Crosscheck& result, std::string_view kind) {
  for (const KindSummary& s : result.summary) {
    if (s.kind == kind) return s;
  }
  throw std::runtime_error("no summary for " + std::string(kind));
}

TEST(Crosscheck, GpuNamesMatchOnTheirModelToken) {
  EXPECT_EQ(gpu_key("NVIDIA H200"), "h200");
  EXPECT_EQ(gpu_key("NVIDIA H800 SXM5 80GB"), "h800");
  EXPECT_EQ(gpu_key("NVIDIA A100-SXM4-80GB"), "a100");
}

TEST(Crosscheck, DeepGemmTableIsPredictedLeavingEachShapeOut) {
  const config::HardwareProfile h800 = profile("h800_sxm");
  const Crosscheck result = crosscheck(compute::load_measured_file(kDeepGemm), h800);
  ASSERT_EQ(result.rows.size(), 22u);
  for (const CrosscheckRow& row : result.rows) {
    ASSERT_TRUE(row.predicted_value) << row.measured.describe();
    EXPECT_EQ(row.note, "leave-one-out");
    // Leaving a point out must change the prediction: the table is not read back.
    EXPECT_GT(std::abs(*row.error()), 1e-6) << row.measured.describe();
  }
  const KindSummary& gemm = summary_of(result, "gemm");
  EXPECT_EQ(gemm.predicted, 22);
  // Pinned: the interpolation of the other 21 points predicts a shape within 5.3 % (median; 6.6 %
  // with every point weighted by inverse distance squared).
  EXPECT_NEAR(gemm.median_abs_error, 0.053, 0.005);
}

TEST(Crosscheck, PublishedH200FiguresAgainstTheH200Profile) {
  const Crosscheck result = crosscheck(compute::load_measured_file(kH200), profile("h200_sxm"));
  // Ring collectives on one NVSwitch node come from the fabric simulation at the profile's
  // NVLink efficiency: within 1 % of nccl-tests.
  const KindSummary& nccl = summary_of(result, "nccl");
  EXPECT_EQ(nccl.predicted, 7);
  EXPECT_LT(std::abs(nccl.worst_error), 0.01);
  EXPECT_LT(std::abs(summary_of(result, "hbm").worst_error), 0.04);
  // The profile's FP8 table is this file, so each GEMM is predicted from the others (leave-one-
  // out): median 2.8 %, with the table's fixed cost of 4.34 us a kernel (6.9 % as a rate ratio
  // alone, whose 1024^3 took its neighbours' floor and came out 37 % too fast). The worst is the
  // skinny 802816 x 192 x 768, beyond every other shape's m.
  for (const CrosscheckRow& row : result.rows) {
    if (row.measured.kind == compute::CaseKind::gemm) {
      EXPECT_EQ(row.note, "leave-one-out");
    }
  }
  EXPECT_NEAR(summary_of(result, "gemm").median_abs_error, 0.028, 0.005);
  EXPECT_NEAR(summary_of(result, "gemm").worst_error, 0.321, 0.01);
  EXPECT_EQ(summary_of(result, "gemm").worst_case, "fp8 802816x192x768");
  ASSERT_EQ(result.gemm_fixed_cost_s.size(), 2u);  // FP8 (this file) and BF16 (sm_90)
  EXPECT_EQ(result.gemm_fixed_cost_s[0].first, Dtype::fp8);
  EXPECT_NEAR(result.gemm_fixed_cost_s[0].second * 1e6, 4.34, 0.01);
  EXPECT_EQ(result.gemm_fixed_cost_s[1].second, 0);  // a kernel there beats the analytic rate
}

TEST(Crosscheck, PublishedA100AllReduceBySizeShowsTheMidSizeGap) {
  const Crosscheck result =
      crosscheck(compute::load_measured_file(
                     kRoot + "/hardware_profiles/measured/a100_sxm_80gb-published.json"),
                 profile("a100_sxm_80gb"));
  // Azure's nccl-tests all-reduce on 8 x A100, 1 KiB to 8 GiB. The fabric simulation (NVLink at
  // the profile's 77 %, each hop's latency) meets the latency-bound end and the bandwidth-bound
  // end, and is too fast in between, where nccl-tests reaches 31-76 % of its large-message bus
  // bandwidth (4-128 MiB): a known gap, pinned here so that a change to it shows.
  const KindSummary& nccl = summary_of(result, "nccl");
  EXPECT_EQ(nccl.predicted, 18);
  for (const CrosscheckRow& row : result.rows) {
    if (row.measured.kind != compute::CaseKind::nccl) continue;
    ASSERT_TRUE(row.predicted_value) << row.measured.describe();
    const double bytes = row.measured.bytes;
    const double error = *row.error();
    if (bytes <= 1 << 20) {
      EXPECT_LT(std::abs(error), 0.10) << row.measured.describe();
    } else if (bytes >= 1 << 30) {
      EXPECT_LT(std::abs(error), 0.01) << row.measured.describe();
    } else if (bytes >= 4 << 20 && bytes <= 128 << 20) {
      EXPECT_GT(error, 0.25) << row.measured.describe();
    }
  }
  EXPECT_NEAR(nccl.worst_error, 0.547, 0.01);
  EXPECT_EQ(nccl.worst_case, "all_reduce x8 16 MiB");
}

TEST(Crosscheck, AFileFromAnotherGpuIsRefused) {
  try {
    (void)crosscheck(compute::load_measured_file(kDeepGemm), profile("h200_sxm"));
    FAIL() << "expected an error";
  } catch (const CrosscheckError& e) {
    EXPECT_EQ(std::string(e.what()),
              kDeepGemm +
                  ": measured on \"NVIDIA H800 SXM5 80GB\", but hardware profile h200_sxm "
                  "describes \"NVIDIA H200 SXM 141GB\"; pass the profile of the measured GPU "
                  "with --hardware");
  }
}

TEST(Calibrate, TheCalibratedProfileLoadsAndMatchesTheMeasurements) {
  const config::HardwareProfile h200 = profile("h200_sxm");
  const compute::MeasuredFile file = compute::load_measured_file(kH200);
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cs_calibrate";
  std::filesystem::create_directories(dir);
  const std::filesystem::path out = dir / "h200_calibrated.yaml";
  const std::string measured = std::filesystem::relative(kH200, dir).string();
  std::ofstream(out) << calibrated_profile(file, h200, kRoot + "/hardware_profiles/h200_sxm.yaml",
                                           measured, "h200_calibrated");
  const config::HardwareProfile calibrated = config::load_hardware_profile(out.string());
  EXPECT_EQ(calibrated.name, "h200_calibrated");
  // Best FP8 GEMM 1366.3 of 1979; best HBM triad 4.15 of 4.8 TB/s; best ring busbw 367.2 of 450
  // (the unidirectional copy, 396.4, is higher and wins).
  EXPECT_NEAR(*calibrated.compute->peak_efficiency(Dtype::fp8), 0.690, 0.0005);
  EXPECT_NEAR(calibrated.compute->memory_efficiency, 0.865, 0.0005);
  EXPECT_NEAR(calibrated.scale_up.efficiency, 0.881, 0.0005);
  // The base's attention curves survive the override.
  EXPECT_EQ(calibrated.compute->attention.forward.size(), 6u);
  // The measured file is the calibrated profile's FP8 GEMM table: every measured GEMM is then
  // predicted from its neighbours (leave-one-out), within 10 % at the median.
  const Crosscheck after = crosscheck(file, calibrated);
  EXPECT_EQ(compute::ComputeModel(calibrated).gemm().table_size(Dtype::fp8), 9u);
  EXPECT_LT(summary_of(after, "gemm").median_abs_error, 0.10);
  // HBM: the best measurement (triad) is now predicted exactly; copy runs 3.5 % slower than it.
  for (const CrosscheckRow& row : after.rows) {
    if (row.measured.kind == compute::CaseKind::hbm && row.measured.variant == "triad") {
      EXPECT_NEAR(*row.error(), 0.0, 1e-3);
    }
  }
}

}  // namespace
}  // namespace clustersim::report
