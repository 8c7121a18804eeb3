#include <algorithm>
#include <cmath>
#include <cstdio>

#include "lt_gemm.cuh"

namespace csbench {

namespace {

// Per-tensor FP8 scales: not 1, so that a wrong scale shows in verify().
constexpr float kFp8ScaleA = 0.5f;
constexpr float kFp8ScaleB = 0.25f;
// Brief timing of each heuristic candidate, to pick the fastest.
constexpr int kSelectionWarmup = 1;
constexpr int kSelectionRuns = 5;
constexpr int kFinalWarmup = 3;
// verify() accepts |d - ref| <= kRelativeTolerance * |ref| + kAbsoluteTolerance * max |ref|:
// bf16 rounding of D alone is 2^-9 relative.
constexpr double kRelativeTolerance = 1e-2;
constexpr double kAbsoluteTolerance = 1e-3;

cudaDataType_t input_type(GemmDtype dtype) {
  return dtype == GemmDtype::kBf16 ? CUDA_R_16BF : CUDA_R_8F_E4M3;
}

template <typename T>
std::vector<double> to_host_doubles(const DeviceArray<T>& array, cudaStream_t stream) {
  std::vector<T> host(array.size());
  CS_CUDA(cudaMemcpyAsync(host.data(), array.get(), array.bytes(), cudaMemcpyDeviceToHost, stream));
  CS_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> values(host.size());
  for (std::size_t i = 0; i < host.size(); ++i) values[i] = static_cast<float>(host[i]);
  return values;
}

}  // namespace

void check_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  throw_call_failure(
      call, file, line,
      std::string(cublasLtGetStatusName(status)) + " (" + cublasLtGetStatusString(status) + ")");
}

const char* dtype_name(GemmDtype dtype) {
  return dtype == GemmDtype::kBf16 ? "bf16" : "fp8";
}

void LtContext::Destroy::operator()(cublasLtHandle_t handle) const noexcept {
  if (cublasLtDestroy(handle) != CUBLAS_STATUS_SUCCESS) {
    std::fputs("warning: cublasLtDestroy failed\n", stderr);
  }
}

LtContext::LtContext() : workspace_(kWorkspaceBytes) {
  cublasLtHandle_t handle = nullptr;
  CS_CUBLAS(cublasLtCreate(&handle));
  handle_.reset(handle);
}

std::string cublaslt_version_string() {
  // 10000 * major + 100 * minor + patch.
  const std::size_t version = cublasLtGetVersion();
  return std::to_string(version / 10000) + "." + std::to_string(version / 100 % 100) + "." +
         std::to_string(version % 100);
}

void LtGemm::DescDestroy::operator()(cublasLtMatmulDesc_t desc) const noexcept {
  if (cublasLtMatmulDescDestroy(desc) != CUBLAS_STATUS_SUCCESS) {
    std::fputs("warning: cublasLtMatmulDescDestroy failed\n", stderr);
  }
}

void LtGemm::LayoutDestroy::operator()(cublasLtMatrixLayout_t layout) const noexcept {
  if (cublasLtMatrixLayoutDestroy(layout) != CUBLAS_STATUS_SUCCESS) {
    std::fputs("warning: cublasLtMatrixLayoutDestroy failed\n", stderr);
  }
}

LtGemm::LtGemm(const LtContext& context, const GemmConfig& config, std::uint64_t seed,
               cudaStream_t stream)
    : context_(context), config_(config) {
  const GemmShape& shape = config.shape;
  const auto count = [](std::int64_t rows, std::int64_t cols) {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  };
  if (config.dtype == GemmDtype::kBf16) {
    a_bf16_ = DeviceArray<__nv_bfloat16>(count(shape.k, shape.m));
    b_bf16_ = DeviceArray<__nv_bfloat16>(count(shape.k, shape.n));
    fill_uniform(a_bf16_.get(), a_bf16_.size(), 1.0f, seed, stream);
    fill_uniform(b_bf16_.get(), b_bf16_.size(), 1.0f, seed + 1, stream);
  } else {
    a_fp8_ = DeviceArray<__nv_fp8_e4m3>(count(shape.k, shape.m));
    b_fp8_ = DeviceArray<__nv_fp8_e4m3>(count(shape.k, shape.n));
    fill_uniform(a_fp8_.get(), a_fp8_.size(), 1.0f, seed, stream);
    fill_uniform(b_fp8_.get(), b_fp8_.size(), 1.0f, seed + 1, stream);
    scale_a_ = DeviceArray<float>(1);
    scale_b_ = DeviceArray<float>(1);
    fill_constant(scale_a_.get(), 1, kFp8ScaleA, stream);
    fill_constant(scale_b_.get(), 1, kFp8ScaleB, stream);
  }
  d_ = DeviceArray<__nv_bfloat16>(count(shape.m, shape.n));
  CS_CUDA(cudaMemsetAsync(d_.get(), 0, d_.bytes(), stream));
  CS_CUDA(cudaStreamSynchronize(stream));

  cublasLtMatmulDesc_t desc = nullptr;
  CS_CUBLAS(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  desc_.reset(desc);
  const cublasOperation_t transpose = CUBLAS_OP_T;
  const cublasOperation_t no_transpose = CUBLAS_OP_N;
  CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                           sizeof transpose));
  CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &no_transpose,
                                           sizeof no_transpose));
  if (config.dtype == GemmDtype::kFp8E4m3) {
    const float* scale_a = scale_a_.get();
    const float* scale_b = scale_b_.get();
    CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &scale_a,
                                             sizeof scale_a));
    CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &scale_b,
                                             sizeof scale_b));
    const std::int8_t fast_accumulation = config.fp8_fast_accumulation ? 1 : 0;
    CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_FAST_ACCUM,
                                             &fast_accumulation, sizeof fast_accumulation));
  }
  if (config.sm_count_target) {
    const std::int32_t sm_count = *config.sm_count_target;
    CS_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, &sm_count,
                                             sizeof sm_count));
  }

  // Column-major: A is stored k x m (ld k) and read transposed, op(A) = A^T is m x k; B is stored
  // and read k x n (ld k); D is m x n (ld m).
  const auto make_layout = [](cudaDataType_t type, std::int64_t rows, std::int64_t cols) {
    cublasLtMatrixLayout_t layout = nullptr;
    CS_CUBLAS(cublasLtMatrixLayoutCreate(&layout, type, static_cast<std::uint64_t>(rows),
                                         static_cast<std::uint64_t>(cols), rows));
    return Layout(layout);
  };
  a_layout_ = make_layout(input_type(config.dtype), shape.k, shape.m);
  b_layout_ = make_layout(input_type(config.dtype), shape.k, shape.n);
  d_layout_ = make_layout(CUDA_R_16BF, shape.m, shape.n);

  cublasLtMatmulPreference_t preference = nullptr;
  CS_CUBLAS(cublasLtMatmulPreferenceCreate(&preference));
  const std::uint64_t workspace_bytes = LtContext::kWorkspaceBytes;
  const cublasStatus_t set_status =
      cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                           &workspace_bytes, sizeof workspace_bytes);
  cublasLtMatmulHeuristicResult_t results[kHeuristicCandidates] = {};
  int returned = 0;
  const cublasStatus_t heuristic_status =
      set_status != CUBLAS_STATUS_SUCCESS
          ? set_status
          : cublasLtMatmulAlgoGetHeuristic(context.handle(), desc, a_layout_.get(), b_layout_.get(),
                                           d_layout_.get(), d_layout_.get(), preference,
                                           kHeuristicCandidates, results, &returned);
  CS_CUBLAS(cublasLtMatmulPreferenceDestroy(preference));
  // NOT_SUPPORTED means "no algorithm for this problem": the caller reports it as skipped.
  if (heuristic_status == CUBLAS_STATUS_NOT_SUPPORTED) return;
  CS_CUBLAS(heuristic_status);
  for (int i = 0; i < returned; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS) candidates_.push_back(results[i].algo);
  }
}

const void* LtGemm::a_data() const {
  return config_.dtype == GemmDtype::kBf16 ? static_cast<const void*>(a_bf16_.get())
                                           : static_cast<const void*>(a_fp8_.get());
}

const void* LtGemm::b_data() const {
  return config_.dtype == GemmDtype::kBf16 ? static_cast<const void*>(b_bf16_.get())
                                           : static_cast<const void*>(b_fp8_.get());
}

cublasStatus_t LtGemm::enqueue(int candidate, cudaStream_t stream) const {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  // beta = 0: C is never read; it aliases D, as cuBLASLt allows for in-place problems.
  return cublasLtMatmul(context_.handle(), desc_.get(), &alpha, a_data(), a_layout_.get(), b_data(),
                        b_layout_.get(), &beta, d_.get(), d_layout_.get(), d_.get(),
                        d_layout_.get(), &candidates_.at(static_cast<std::size_t>(candidate)),
                        context_.workspace(), LtContext::kWorkspaceBytes, stream);
}

void LtGemm::load_candidates(cudaStream_t stream) const {
  // A candidate that cuBLASLt refuses is left out here; measure_gemm reports it.
  for (int candidate = 0; candidate < candidate_count(); ++candidate) {
    (void)enqueue(candidate, stream);
  }
  CS_CUDA(cudaStreamSynchronize(stream));
}

void LtGemm::verify(cudaStream_t stream) const {
  const GemmShape& shape = config_.shape;
  const bool fp8 = config_.dtype == GemmDtype::kFp8E4m3;
  const std::vector<double> a =
      fp8 ? to_host_doubles(a_fp8_, stream) : to_host_doubles(a_bf16_, stream);
  const std::vector<double> b =
      fp8 ? to_host_doubles(b_fp8_, stream) : to_host_doubles(b_bf16_, stream);
  const std::vector<double> d = to_host_doubles(d_, stream);
  const double scale = fp8 ? static_cast<double>(kFp8ScaleA) * kFp8ScaleB : 1.0;
  const auto m = static_cast<std::size_t>(shape.m);
  const auto n = static_cast<std::size_t>(shape.n);
  const auto k = static_cast<std::size_t>(shape.k);

  std::vector<double> reference(m * n);
  double largest = 0;
  for (std::size_t j = 0; j < n; ++j) {
    for (std::size_t i = 0; i < m; ++i) {
      double sum = 0;
      for (std::size_t l = 0; l < k; ++l) sum += a[l + i * k] * b[l + j * k];
      reference[i + j * m] = scale * sum;
      largest = std::max(largest, std::abs(reference[i + j * m]));
    }
  }
  if (largest == 0) throw BenchError("verify: the reference GEMM is all zeros (inputs not filled)");
  for (std::size_t index = 0; index < m * n; ++index) {
    const double error = std::abs(d[index] - reference[index]);
    if (error > kRelativeTolerance * std::abs(reference[index]) + kAbsoluteTolerance * largest) {
      char message[256];
      std::snprintf(message, sizeof message,
                    "%s GEMM m=%lld n=%lld k=%lld is wrong: D[%zu, %zu] = %.6g, expected %.6g",
                    dtype_name(config_.dtype), static_cast<long long>(shape.m),
                    static_cast<long long>(shape.n), static_cast<long long>(shape.k), index % m,
                    index / m, d[index], reference[index]);
      throw BenchError(message);
    }
  }
}

std::optional<GemmMeasurement> measure_gemm(const LtGemm& gemm, cudaStream_t stream,
                                            const L2Flusher& flusher, int runs) {
  std::optional<int> best;
  double best_s = 0;
  int usable = 0;
  for (int candidate = 0; candidate < gemm.candidate_count(); ++candidate) {
    // A candidate that cuBLASLt refuses at launch is passed over; a failed kernel is not.
    const cublasStatus_t status = gemm.enqueue(candidate, stream);
    if (status != CUBLAS_STATUS_SUCCESS) {
      std::fprintf(stderr, "warning: %s GEMM m=%lld n=%lld k=%lld: candidate %d refused: %s\n",
                   dtype_name(gemm.config().dtype), static_cast<long long>(gemm.config().shape.m),
                   static_cast<long long>(gemm.config().shape.n),
                   static_cast<long long>(gemm.config().shape.k), candidate,
                   cublasLtGetStatusString(status));
      continue;
    }
    CS_CUDA(cudaStreamSynchronize(stream));
    ++usable;
    const TimingPlan plan{kSelectionWarmup, kSelectionRuns, &flusher};
    const double seconds =
        median(time_runs(stream, plan, [&] { CS_CUBLAS(gemm.enqueue(candidate, stream)); }));
    if (!best || seconds < best_s) {
      best = candidate;
      best_s = seconds;
    }
  }
  if (!best) return std::nullopt;
  const int chosen = *best;
  const TimingPlan plan{kFinalWarmup, runs, &flusher};
  const std::vector<double> samples =
      time_runs(stream, plan, [&] { CS_CUBLAS(gemm.enqueue(chosen, stream)); });
  GemmMeasurement measurement;
  measurement.median_s = median(samples);
  measurement.min_s = *std::min_element(samples.begin(), samples.end());
  measurement.runs = runs;
  measurement.candidates = usable;
  measurement.chosen_candidate = chosen;
  return measurement;
}

JsonObject gemm_case(const GemmConfig& config, const GemmMeasurement& measurement) {
  JsonObject json;
  json.add_string("kind", "gemm")
      .add_string("dtype", dtype_name(config.dtype))
      .add_integer("m", config.shape.m)
      .add_integer("n", config.shape.n)
      .add_integer("k", config.shape.k)
      .add_number("time_s", measurement.median_s)
      .add_number("tflops", config.shape.flops() / measurement.median_s / 1e12)
      .add_number("min_time_s", measurement.min_s)
      .add_integer("runs", measurement.runs)
      .add_integer("algo_candidates", measurement.candidates)
      .add_integer("algo_chosen", measurement.chosen_candidate)
      .add_string("l2", "flushed");
  if (config.dtype == GemmDtype::kFp8E4m3) {
    json.add_bool("fp8_fast_accum", config.fp8_fast_accumulation);
  }
  return json;
}

JsonObject skipped_gemm_case(const GemmConfig& config, const std::string& reason) {
  JsonObject json;
  json.add_string("kind", "gemm")
      .add_string("dtype", dtype_name(config.dtype))
      .add_integer("m", config.shape.m)
      .add_integer("n", config.shape.n)
      .add_integer("k", config.shape.k)
      .add_string("reason", reason);
  return json;
}

}  // namespace csbench
