// One cuBLASLt GEMM problem, D = alpha * A^T B in cuBLAS's column-major terms ("TN", the layout
// FP8 requires on Hopper), and its timing: the fastest of cuBLASLt's heuristic candidates, then the
// median of timed launches with the L2 flushed before each.
//
// In row-major terms it is Y[m x n] = X[m x k] W[n x k]^T, a linear layer with m tokens, k input
// and n output features, both operands K-major. BF16: bf16 x bf16, fp32 accumulation, bf16 out.
// FP8: e4m3 x e4m3 with a per-tensor scale for each operand, fp32 accumulation, bf16 out.
#pragma once

#include <cublasLt.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cuda_support.cuh"

namespace csbench {

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line);

#define CS_CUBLAS(call) ::csbench::check_cublas((call), #call, __FILE__, __LINE__)

enum class GemmDtype { kBf16, kFp8E4m3 };

// "bf16" or "fp8", as in the measured file.
[[nodiscard]] const char* dtype_name(GemmDtype dtype);

struct GemmShape {
  std::int64_t m = 0;  // rows of the output (tokens)
  std::int64_t n = 0;  // columns of the output (output features)
  std::int64_t k = 0;  // reduction length (input features)

  [[nodiscard]] double flops() const {
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  }
};

struct GemmConfig {
  GemmDtype dtype = GemmDtype::kBf16;
  GemmShape shape;
  // CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET: the heuristics plan for this many SMs instead of all.
  std::optional<int> sm_count_target;
  // CUBLASLT_MATMUL_DESC_FAST_ACCUM (FP8 only): no periodic promotion of partial sums.
  bool fp8_fast_accumulation = false;
};

// A cuBLASLt handle and the workspace every GEMM of a program shares.
class LtContext {
 public:
  // NVIDIA recommends 32 MiB of workspace on Hopper.
  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;

  LtContext();
  [[nodiscard]] cublasLtHandle_t handle() const { return handle_.get(); }
  [[nodiscard]] void* workspace() const { return workspace_.get(); }

 private:
  struct Destroy {
    void operator()(cublasLtHandle_t handle) const noexcept;
  };
  std::unique_ptr<std::remove_pointer_t<cublasLtHandle_t>, Destroy> handle_;
  DeviceArray<std::uint8_t> workspace_;
};

// "13.1.0" from cublasLtGetVersion().
[[nodiscard]] std::string cublaslt_version_string();

// Inputs filled with uniform random values in [-1, 1), descriptors, and the heuristic's
// candidate algorithms for one GemmConfig.
class LtGemm {
 public:
  static constexpr int kHeuristicCandidates = 8;

  LtGemm(const LtContext& context, const GemmConfig& config, std::uint64_t seed,
         cudaStream_t stream);

  [[nodiscard]] const GemmConfig& config() const { return config_; }
  // 0 when cuBLASLt has no algorithm for this problem.
  [[nodiscard]] int candidate_count() const { return static_cast<int>(candidates_.size()); }
  // Enqueues one GEMM with candidate `candidate` (0 = the heuristic's first choice).
  [[nodiscard]] cublasStatus_t enqueue(int candidate, cudaStream_t stream) const;
  // Runs every candidate once, so that CUDA has loaded its kernels (it loads them lazily, at the
  // first launch, which may wait for the whole device: a deadlock while another kernel of the
  // program spins on the GPU until the host releases it).
  void load_candidates(cudaStream_t stream) const;
  // Compares D (from the last GEMM) with a host reference in double precision; throws
  // BenchError on a mismatch. Meant for small problems: it costs m*n*k host operations.
  void verify(cudaStream_t stream) const;

 private:
  struct DescDestroy {
    void operator()(cublasLtMatmulDesc_t desc) const noexcept;
  };
  struct LayoutDestroy {
    void operator()(cublasLtMatrixLayout_t layout) const noexcept;
  };
  using MatmulDesc = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>, DescDestroy>;
  using Layout = std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>, LayoutDestroy>;

  [[nodiscard]] const void* a_data() const;
  [[nodiscard]] const void* b_data() const;

  const LtContext& context_;
  GemmConfig config_;
  // Exactly one pair of input arrays is allocated, by dtype.
  DeviceArray<__nv_bfloat16> a_bf16_;
  DeviceArray<__nv_bfloat16> b_bf16_;
  DeviceArray<__nv_fp8_e4m3> a_fp8_;
  DeviceArray<__nv_fp8_e4m3> b_fp8_;
  DeviceArray<__nv_bfloat16> d_;
  DeviceArray<float> scale_a_;  // FP8 only: per-tensor scales, each in its own allocation
  DeviceArray<float> scale_b_;
  MatmulDesc desc_;
  Layout a_layout_;
  Layout b_layout_;
  Layout d_layout_;
  std::vector<cublasLtMatmulAlgo_t> candidates_;
};

struct GemmMeasurement {
  double median_s = 0;
  double min_s = 0;
  int runs = 0;
  int candidates = 0;        // heuristic candidates that ran
  int chosen_candidate = 0;  // index of the fastest, in the heuristic's order
};

// Times each candidate briefly, keeps the fastest and times it `runs` times. std::nullopt when no
// candidate runs (the problem is then reported as skipped).
[[nodiscard]] std::optional<GemmMeasurement> measure_gemm(const LtGemm& gemm, cudaStream_t stream,
                                                          const L2Flusher& flusher, int runs);

// The measured-file case: kind, dtype, m, n, k, time_s, tflops and the details of the timing.
[[nodiscard]] JsonObject gemm_case(const GemmConfig& config, const GemmMeasurement& measurement);

// A skipped_cases entry for a problem that could not be measured.
[[nodiscard]] JsonObject skipped_gemm_case(const GemmConfig& config, const std::string& reason);

}  // namespace csbench
