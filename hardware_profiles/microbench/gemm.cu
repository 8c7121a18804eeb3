// cs_gemm: GEMM throughput through cuBLASLt in BF16 and FP8 (E4M3) on CUDA device 0.
//
// Series (each in both dtypes):
//   deepseek_v3   the DeepSeek-V3 linear layers (hidden 7168, MLA q/kv LoRA ranks 1536/512, 128
//                 heads, expert width 2048) at m = 4096 tokens and at m = 64 and 128 decode rows;
//   square_sweep  m = n = k = 256, 512, ..., 16384;
//   m_sweep       n = k = 7168 with m = 64, 128, ..., 8192.
// Each problem takes the fastest of up to 8 cuBLASLt heuristic candidates (32 MiB workspace) and
// reports the median of --runs timed launches, each after an L2 flush, so weights are read from
// HBM as they are in a training step. Problems up to 512^3 are checked against a host reference.
//
// Exit status: 0 measured, 1 a CUDA/cuBLAS call failed or a result was wrong, 2 bad command
// line, 77 no CUDA GPU.

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "lt_gemm.cuh"
#include "options.hpp"

namespace {

using csbench::GemmConfig;
using csbench::GemmDtype;
using csbench::GemmShape;

constexpr const char* kProgram = "cs_gemm";

struct LayerGemm {
  const char* layer;  // nullptr: a shape without a layer name
  std::int64_t n;
  std::int64_t k;
};

// DeepSeek-V3 (arXiv:2412.19437) linear layers as (output features n, input features k).
constexpr LayerGemm kDeepSeekV3Layers[] = {
    // fused down-projections: q LoRA 1536 + kv LoRA 512 + rope 64
    {"attn_q_a_kv_a_down", 2112, 7168},
    {"attn_q_b_up", 24576, 1536},  // 128 heads x (128 nope + 64 rope)
    {"attn_kv_b_up", 32768, 512},  // 128 heads x (128 k nope + 128 v)
    {"attn_out", 7168, 16384},     // 128 heads x 128 v -> hidden
    {"moe_gate_up", 4096, 7168},   // expert gate and up projections fused, 2 x 2048
    {"moe_down", 7168, 2048},      // expert down-projection
    {nullptr, 4096, 2048},         // a further shape, no layer attributed
};
constexpr std::int64_t kDeepSeekTokenRows[] = {4096, 64, 128};
constexpr std::int64_t kSquareMin = 256;
constexpr std::int64_t kSquareMaxDefault = 16384;
constexpr std::int64_t kMSweepMin = 64;
constexpr std::int64_t kMSweepMax = 8192;
constexpr std::int64_t kMSweepNK = 7168;
constexpr std::int64_t kQuickSize = 256;
// Problems up to this many multiply-adds are checked against the host reference.
constexpr double kVerifyMaxMacs = 512.0 * 512.0 * 512.0;
constexpr std::uint64_t kSeedStride = 1000;

struct PlannedGemm {
  std::string series;
  const char* layer = nullptr;
  GemmShape shape;
};

std::vector<PlannedGemm> plan_cases(const std::string& series, std::int64_t square_max,
                                    bool quick) {
  std::vector<PlannedGemm> cases;
  if (quick) {
    cases.push_back({"quick", nullptr, {kQuickSize, kQuickSize, kQuickSize}});
    return cases;
  }
  if (series == "all" || series == "deepseek_v3") {
    for (const std::int64_t m : kDeepSeekTokenRows) {
      for (const LayerGemm& layer : kDeepSeekV3Layers) {
        cases.push_back({"deepseek_v3", layer.layer, {m, layer.n, layer.k}});
      }
    }
  }
  if (series == "all" || series == "square_sweep") {
    for (std::int64_t size = kSquareMin; size <= square_max; size *= 2) {
      cases.push_back({"square_sweep", nullptr, {size, size, size}});
    }
  }
  if (series == "all" || series == "m_sweep") {
    for (std::int64_t m = kMSweepMin; m <= kMSweepMax; m *= 2) {
      cases.push_back({"m_sweep", nullptr, {m, kMSweepNK, kMSweepNK}});
    }
  }
  return cases;
}

bool supports_fp8(int device) {
  int major = 0;
  int minor = 0;
  CS_CUDA(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CS_CUDA(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  return major * 10 + minor >= 89;  // Ada and Hopper and later have FP8 tensor cores
}

int run(int argc, char** argv) {
  std::optional<std::string> output_path;
  bool quick = false;
  bool fast_accumulation = false;
  std::int64_t runs = 20;
  std::int64_t square_max = kSquareMaxDefault;
  std::string dtypes = "all";
  std::string series = "all";
  csbench::OptionParser options(
      kProgram,
      "GEMM throughput through cuBLASLt (BF16 and FP8 E4M3, fp32 accumulation, bf16 output) on\n"
      "CUDA device 0: DeepSeek-V3 layer shapes, a square sweep and an m sweep. Writes a\n"
      "clustersim-measured/1 JSON file.");
  options.add_path("-o", "FILE", "write the JSON to FILE instead of stdout", &output_path);
  options.add_flag("--quick", "one 256^3 problem per dtype, checked against the host (a test)",
                   &quick);
  options.add_integer("--runs", "N", "timed launches per problem; the median is reported (20)",
                      &runs, 10, 100000);
  options.add_string("--dtype", "D", "dtypes to measure", &dtypes, {"all", "bf16", "fp8"});
  options.add_string("--series", "S", "problem series to measure", &series,
                     {"all", "deepseek_v3", "square_sweep", "m_sweep"});
  options.add_integer("--max-square", "N", "largest size of the square sweep (16384)", &square_max,
                      kSquareMin, 65536);
  options.add_flag("--fp8-fast-accum", "FP8 without periodic promotion of partial sums",
                   &fast_accumulation);
  if (const std::optional<int> exit_status = options.parse(argc, argv)) return *exit_status;

  int gpu_count = 0;
  if (csbench::skip_without_gpus(kProgram, 1, gpu_count)) return csbench::kExitSkip;
  if (quick) runs = 10;

  constexpr int kDevice = 0;
  CS_CUDA(cudaSetDevice(kDevice));
  csbench::JsonObject machine = csbench::describe_machine(kDevice, gpu_count);
  machine.add_string("cublas_version", csbench::cublaslt_version_string());
  csbench::MeasuredFile measured(kProgram, machine);
  if (quick) measured.mark_quick();

  std::vector<GemmDtype> selected;
  if (dtypes != "fp8") selected.push_back(GemmDtype::kBf16);
  if (dtypes != "bf16") {
    if (supports_fp8(kDevice)) {
      selected.push_back(GemmDtype::kFp8E4m3);
    } else {
      std::fprintf(stderr, "%s: warning: no FP8 on this GPU (compute capability < 8.9)\n",
                   kProgram);
      measured.add_skipped(csbench::JsonObject()
                               .add_string("kind", "gemm")
                               .add_string("dtype", "fp8")
                               .add_string("reason", "FP8 needs compute capability 8.9 or newer"));
    }
  }

  const csbench::Stream stream = csbench::make_stream();
  const csbench::LtContext context;
  const csbench::L2Flusher flusher;
  const std::vector<PlannedGemm> planned = plan_cases(series, square_max, quick);
  std::uint64_t seed = 0;
  for (const GemmDtype dtype : selected) {
    for (const PlannedGemm& plan : planned) {
      seed += kSeedStride;
      GemmConfig config;
      config.dtype = dtype;
      config.shape = plan.shape;
      config.fp8_fast_accumulation = fast_accumulation;
      const csbench::LtGemm gemm(context, config, seed, stream.get());
      const std::optional<csbench::GemmMeasurement> measurement =
          gemm.candidate_count() == 0
              ? std::nullopt
              : csbench::measure_gemm(gemm, stream.get(), flusher, static_cast<int>(runs));
      if (!measurement) {
        const char* reason = gemm.candidate_count() == 0 ? "no cuBLASLt algorithm"
                                                         : "cuBLASLt refused every algorithm";
        std::fprintf(stderr, "%s: warning: %s m=%lld n=%lld k=%lld skipped: %s\n", kProgram,
                     csbench::dtype_name(dtype), static_cast<long long>(plan.shape.m),
                     static_cast<long long>(plan.shape.n), static_cast<long long>(plan.shape.k),
                     reason);
        measured.add_skipped(csbench::skipped_gemm_case(config, reason));
        continue;
      }
      if (plan.shape.flops() / 2 <= kVerifyMaxMacs) gemm.verify(stream.get());
      csbench::JsonObject json = csbench::gemm_case(config, *measurement);
      json.add_string("series", plan.series);
      if (plan.layer != nullptr) json.add_string("layer", plan.layer);
      measured.add_case(json);
      std::fprintf(stderr, "%s: %-4s m=%-5lld n=%-5lld k=%-5lld %10.3f us %8.1f TFLOP/s\n",
                   kProgram, csbench::dtype_name(dtype), static_cast<long long>(plan.shape.m),
                   static_cast<long long>(plan.shape.n), static_cast<long long>(plan.shape.k),
                   measurement->median_s * 1e6, plan.shape.flops() / measurement->median_s / 1e12);
    }
  }
  csbench::write_text(measured.render(), output_path);
  return csbench::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return csbench::run_guarded(kProgram, [&] { return run(argc, argv); });
}
