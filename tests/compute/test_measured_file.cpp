// Measured files: the shipped ones load; broken ones give one exact message naming the case.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sim/compute/measured_file.hpp"

namespace clustersim::compute {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

std::string error_of(const std::string& name, const std::string& cases,
                     const std::string& machine = R"({"gpu": "NVIDIA H200"})") {
  const std::string path = write_temp(name, R"({"format": "clustersim-measured/1", "machine": )" +
                                                machine + R"(, "cases": [)" + cases + "]}");
  try {
    (void)load_measured_file(path);
  } catch (const MeasuredFileError& e) {
    const std::string message = e.what();
    return message.substr(path.size());
  }
  return "(no error)";
}

TEST(MeasuredFile, TheDeepGemmTableLoads) {
  const MeasuredFile file =
      load_measured_file(kRoot + "/hardware_profiles/measured/h800_sxm-deepgemm-2025-04-09.json");
  EXPECT_EQ(file.machine.gpu, "NVIDIA H800 SXM5 80GB");
  ASSERT_EQ(file.cases.size(), 22u);
  EXPECT_EQ(file.cases[15].describe(), "fp8 4096x7168x16384");
  EXPECT_DOUBLE_EQ(file.cases[15].value, 1520e12);
  EXPECT_EQ(file.cases[18].describe(), "fp8 4x8192x4096x7168");
}

TEST(MeasuredFile, RatesComeFromTimesWhenOnlyTimesAreGiven) {
  const std::string path =
      write_temp("cs_measured_time.json",
                 R"({"format": "clustersim-measured/1", "machine": {"gpu": "X"}, "cases": [
          {"kind": "gemm", "dtype": "bf16", "m": 1000, "n": 1000, "k": 1000, "time_s": 2e-6},
          {"kind": "hbm", "pattern": "copy", "bytes": 1e9, "time_s": 5e-4}]})");
  const MeasuredFile file = load_measured_file(path);
  EXPECT_DOUBLE_EQ(file.cases[0].value, 1e15);
  EXPECT_DOUBLE_EQ(file.cases[1].value, 2e12);
}

TEST(MeasuredFile, BadFilesGiveExactMessages) {
  EXPECT_EQ(error_of("cs_m1.json", R"({"kind": "gemm", "dtype": "fp8", "m": 64, "n": 64, "k": 64,
                                       "tflops": -2})"),
            ": cases[0].tflops: must be positive, got -2");
  EXPECT_EQ(error_of("cs_m2.json", R"({"kind": "gemv"})"),
            ": cases[0].kind: unknown value \"gemv\"; expected one of gemm, hbm, launch_latency, "
            "p2p, nccl");
  EXPECT_EQ(error_of("cs_m3.json", R"({"kind": "gemm", "dtype": "fp4", "m": 1, "n": 1, "k": 1})"),
            ": cases[0].dtype: unknown value \"fp4\"; expected one of fp8, bf16, fp16, tf32, fp32");
  EXPECT_EQ(error_of("cs_m4.json", R"({"kind": "hbm", "pattern": "copy", "bytes": 1e9})"),
            ": cases[0]: gives neither bandwidth_Bps nor time_s");
  EXPECT_EQ(error_of("cs_m5.json", R"({"kind": "hbm", "pattern": "copy", "bytes": 1e9, "time_s": 1},
                                      {"kind": "hbm", "pattern": "copy", "bytes": 1e9, "time_s": 2})"),
            ": cases[1]: hbm copy 954 MiB was already measured in cases[0]");
  EXPECT_EQ(error_of("cs_m6.json", R"({"kind": "nccl", "op": "all_reduce", "ranks": 1,
                                       "bytes": 1e6, "busbw_Bps": 1e9})"),
            ": cases[0].ranks: a collective needs 2 or more, got 1");
  EXPECT_EQ(error_of("cs_m7.json", "", "{}"),
            ": machine.gpu: missing: the GPU the cases were measured on");
  EXPECT_EQ(error_of("cs_m8.json", R"({"kind": "gemm", "dtype": "fp8", "m": 1.5, "n": 1, "k": 1,
                                       "tflops": 1})"),
            ": cases[0].m: expected a whole number, got 1.5");
}

TEST(MeasuredFile, NotJsonOrWrongFormat) {
  const std::string garbage = write_temp("cs_m9.json", "{not json");
  try {
    (void)load_measured_file(garbage);
    FAIL();
  } catch (const MeasuredFileError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, garbage.size() + 16), garbage + ": not valid JSON");
  }
  const std::string wrong = write_temp("cs_m10.json", R"({"format": "other/2"})");
  try {
    (void)load_measured_file(wrong);
    FAIL();
  } catch (const MeasuredFileError& e) {
    EXPECT_EQ(std::string(e.what()),
              wrong + ": format: expected \"clustersim-measured/1\", got \"other/2\"");
  }
}

}  // namespace
}  // namespace clustersim::compute
