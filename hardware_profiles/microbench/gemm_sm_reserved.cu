// cs_gemm_sm_reserved: GEMM throughput while N SMs are taken by something else, the co-design
// question of the DeepSeek-V3 ISCA'25 paper (section 4.4): DeepSeek-V3 gives 20 of the H800's 132
// SMs to communication kernels, and the GEMMs run on what is left.
//
// Methods (the case's "method"):
//   spinner                  a persistent "holder" kernel occupies N SMs: N blocks, each with the
//                            largest shared-memory allocation a block may have (more than half an
//                            SM's, so no other block that needs shared memory fits beside it) and
//                            the largest block size, spin on a flag in mapped host memory. Every
//                            block records its SM id; the GEMM is timed only once all N blocks
//                            run, on N distinct SMs. The GEMM uses cuBLASLt's usual heuristics.
//   sm_count_target          no holder; the GEMM is planned for sm_count - N SMs with cuBLASLt's
//                            CUBLASLT_MATMUL_DESC_SM_COUNT_TARGET, the rest of the GPU idle.
//   spinner+sm_count_target  both: the holder takes N SMs and the GEMM is planned for the rest,
//                            what a GEMM overlapped with a communication kernel would do.
// N = 0 is the baseline of each method (no holder, no target). Shapes: three DeepSeek-V3 layers
// at 4096 tokens, in BF16 and FP8; timing as in cs_gemm (best of 8 candidates, median of --runs,
// L2 flushed before each launch).
//
// Exit status: 0 measured, 1 a CUDA/cuBLAS call failed, a result was wrong or the holder blocks
// did not all become resident, 2 bad command line, 77 no CUDA GPU.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lt_gemm.cuh"
#include "options.hpp"

namespace {

using csbench::GemmConfig;
using csbench::GemmDtype;
using csbench::GemmShape;

constexpr const char* kProgram = "cs_gemm_sm_reserved";

struct LayerGemm {
  const char* layer;
  GemmShape shape;
};

// DeepSeek-V3 layers at 4096 tokens (see cs_gemm).
constexpr LayerGemm kShapes[] = {
    {"moe_down", {4096, 7168, 2048}},
    {"moe_gate_up", {4096, 4096, 7168}},
    {"attn_q_b_up", {4096, 24576, 1536}},
};
constexpr LayerGemm kQuickShape = {nullptr, {256, 256, 256}};
const std::vector<std::int64_t> kReservedDefault = {0, 8, 16, 20, 24, 32};
const std::vector<std::int64_t> kReservedQuick = {8};
constexpr double kVerifyMaxMacs = 512.0 * 512.0 * 512.0;
constexpr std::uint64_t kSeedStride = 1000;
// How long the host waits for the holder blocks to start.
constexpr std::chrono::seconds kArrivalTimeout{10};
// The holder gives up by itself after this long, so that a host that never releases it (a bug,
// or a kernel load that waits for the device) cannot hang the GPU; the case then fails.
constexpr std::uint64_t kMaxHoldNs = 60'000'000'000ull;
constexpr unsigned kPollSleepNs = 1000;

enum class Method { kSpinner, kSmCountTarget, kSpinnerAndTarget };

const char* method_name(Method method) {
  switch (method) {
    case Method::kSpinner:
      return "spinner";
    case Method::kSmCountTarget:
      return "sm_count_target";
    case Method::kSpinnerAndTarget:
      return "spinner+sm_count_target";
  }
  return "?";
}

__device__ std::uint64_t global_timer_ns() {
  std::uint64_t now = 0;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
  return now;
}

// One block per SM (see the file comment). Thread 0 records the SM and spins; the other threads
// wait at the barrier, which costs no issue slots. The dynamic shared memory is never touched:
// it is there only to keep other blocks off the SM.
//   flags[0]: release (host -> GPU), flags[1]: expired (GPU -> host), flags[2 + b]: SM id + 1 of
//   block b (GPU -> host).
__global__ void hold_sm(volatile int* flags, std::uint64_t max_hold_ns) {
  if (threadIdx.x == 0) {
    unsigned sm_id = 0;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm_id));
    flags[2 + blockIdx.x] = static_cast<int>(sm_id) + 1;
    __threadfence_system();
    const std::uint64_t start = global_timer_ns();
    while (flags[0] == 0) {
      if (global_timer_ns() - start > max_hold_ns) {
        flags[1] = 1;
        __threadfence_system();
        break;
      }
      __nanosleep(kPollSleepNs);
    }
  }
  __syncthreads();
}

// How a holder block is sized on this GPU.
struct HolderShape {
  int threads = 0;
  std::size_t shared_bytes = 0;
};

HolderShape holder_shape(int device) {
  HolderShape shape;
  CS_CUDA(cudaDeviceGetAttribute(&shape.threads, cudaDevAttrMaxThreadsPerBlock, device));
  int block_optin = 0;
  CS_CUDA(cudaDeviceGetAttribute(&block_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  int per_sm = 0;
  CS_CUDA(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  if (2 * block_optin <= per_sm) {
    throw csbench::BenchError("a block can take at most " + std::to_string(block_optin) +
                              " bytes of shared memory, not more than half of the SM's " +
                              std::to_string(per_sm) + ": cannot hold an SM alone");
  }
  shape.shared_bytes = static_cast<std::size_t>(block_optin);
  CS_CUDA(cudaFuncSetAttribute(hold_sm, cudaFuncAttributeMaxDynamicSharedMemorySize, block_optin));
  int blocks_per_sm = 0;
  CS_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, hold_sm, shape.threads,
                                                        shape.shared_bytes));
  if (blocks_per_sm != 1) {
    throw csbench::BenchError("holder blocks per SM: " + std::to_string(blocks_per_sm) +
                              ", expected 1");
  }
  return shape;
}

// N holder blocks, running from construction until release() (or destruction).
class SmHolder {
 public:
  SmHolder(int blocks, const HolderShape& shape)
      : stream_(csbench::make_stream()), flags_(2 + static_cast<std::size_t>(blocks)) {
    hold_sm<<<static_cast<unsigned>(blocks), static_cast<unsigned>(shape.threads),
              shape.shared_bytes, stream_.get()>>>(flags_.device(), kMaxHoldNs);
    CS_CUDA(cudaGetLastError());
    running_ = true;
    const std::string problem = wait_for_arrival(blocks);
    if (!problem.empty()) {
      release_quietly();
      throw csbench::BenchError(problem);
    }
  }
  ~SmHolder() { release_quietly(); }
  SmHolder(const SmHolder&) = delete;
  SmHolder& operator=(const SmHolder&) = delete;

  // Lets the blocks finish, waits for them and fails if they gave up before (the GEMM then ran
  // partly without them).
  void release() {
    signal_release();
    CS_CUDA(cudaStreamSynchronize(stream_.get()));
    running_ = false;
    if (flags_.host()[1] != 0) {
      throw csbench::BenchError("the holder blocks expired before the GEMM timing ended");
    }
  }

 private:
  void signal_release() {
    flags_.host()[0] = 1;
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }

  void release_quietly() noexcept {
    if (!running_) return;
    signal_release();
    csbench::warn_if_failed(cudaStreamSynchronize(stream_.get()), "cudaStreamSynchronize(holder)");
    running_ = false;
  }

  // Empty when all blocks run on distinct SMs; else what went wrong.
  std::string wait_for_arrival(int blocks) {
    const auto deadline = std::chrono::steady_clock::now() + kArrivalTimeout;
    int arrived = 0;
    while (true) {
      arrived = 0;
      for (int b = 0; b < blocks; ++b) arrived += flags_.host()[2 + b] != 0 ? 1 : 0;
      if (arrived == blocks) break;
      const cudaError_t status = cudaStreamQuery(stream_.get());
      if (status != cudaErrorNotReady) {
        return std::string("the holder kernel ended before all its blocks arrived: ") +
               cudaGetErrorString(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        return "only " + std::to_string(arrived) + " of " + std::to_string(blocks) +
               " holder blocks became resident";
      }
      std::this_thread::yield();
    }
    std::set<int> sms;
    for (int b = 0; b < blocks; ++b) sms.insert(static_cast<int>(flags_.host()[2 + b]));
    if (static_cast<int>(sms.size()) != blocks) {
      return std::to_string(blocks) + " holder blocks share " + std::to_string(sms.size()) + " SMs";
    }
    return {};
  }

  csbench::Stream stream_;
  csbench::MappedHostArray<int> flags_;
  bool running_ = false;
};

struct Context {
  const csbench::LtContext& lt;
  const csbench::L2Flusher& flusher;
  cudaStream_t stream;
  HolderShape holder;
  int sm_count;
  int runs;
  bool fast_accumulation;
};

// Measures one case; std::nullopt (after a warning) when cuBLASLt has no algorithm for it.
std::optional<csbench::JsonObject> measure_case(const Context& context, const LayerGemm& layer,
                                                GemmDtype dtype, Method method, int reserved,
                                                std::uint64_t seed,
                                                csbench::MeasuredFile& measured) {
  GemmConfig config;
  config.dtype = dtype;
  config.shape = layer.shape;
  config.fp8_fast_accumulation = context.fast_accumulation;
  const bool hold = reserved > 0 && method != Method::kSmCountTarget;
  if (reserved > 0 && method != Method::kSpinner) {
    config.sm_count_target = context.sm_count - reserved;
  }
  const csbench::LtGemm gemm(context.lt, config, seed, context.stream);
  if (gemm.candidate_count() == 0) {
    std::fprintf(stderr, "%s: warning: no cuBLASLt algorithm for %s m=%lld n=%lld k=%lld\n",
                 kProgram, csbench::dtype_name(dtype), static_cast<long long>(layer.shape.m),
                 static_cast<long long>(layer.shape.n), static_cast<long long>(layer.shape.k));
    measured.add_skipped(csbench::skipped_gemm_case(config, "no cuBLASLt algorithm"));
    return std::nullopt;
  }
  // Every kernel must be loaded before the holder runs (see LtGemm::load_candidates).
  gemm.load_candidates(context.stream);
  std::optional<csbench::GemmMeasurement> measurement;
  if (hold) {
    SmHolder holder(reserved, context.holder);
    measurement = csbench::measure_gemm(gemm, context.stream, context.flusher, context.runs);
    holder.release();
  } else {
    measurement = csbench::measure_gemm(gemm, context.stream, context.flusher, context.runs);
  }
  if (!measurement) {
    measured.add_skipped(csbench::skipped_gemm_case(config, "cuBLASLt refused every algorithm"));
    return std::nullopt;
  }
  if (layer.shape.flops() / 2 <= kVerifyMaxMacs) gemm.verify(context.stream);
  csbench::JsonObject json = csbench::gemm_case(config, *measurement);
  json.add_integer("reserved_sms", reserved)
      .add_string("method", method_name(method))
      .add_integer("gemm_sms", context.sm_count - reserved);
  if (layer.layer != nullptr) json.add_string("layer", layer.layer);
  std::fprintf(stderr,
               "%s: %-4s m=%-5lld n=%-5lld k=%-5lld %-23s reserved %2d %10.3f us %8.1f "
               "TFLOP/s\n",
               kProgram, csbench::dtype_name(dtype), static_cast<long long>(layer.shape.m),
               static_cast<long long>(layer.shape.n), static_cast<long long>(layer.shape.k),
               method_name(method), reserved, measurement->median_s * 1e6,
               layer.shape.flops() / measurement->median_s / 1e12);
  return json;
}

int run(int argc, char** argv) {
  std::optional<std::string> output_path;
  bool quick = false;
  bool fast_accumulation = false;
  std::int64_t runs = 20;
  std::vector<std::int64_t> reserved_list = kReservedDefault;
  std::string dtypes = "all";
  std::string methods = "all";
  csbench::OptionParser options(
      kProgram,
      "GEMM throughput (cuBLASLt, BF16 and FP8) on CUDA device 0 while N SMs are reserved, by a\n"
      "persistent holder kernel and/or cuBLASLt's SM count target. Writes a\n"
      "clustersim-measured/1 JSON file.");
  options.add_path("-o", "FILE", "write the JSON to FILE instead of stdout", &output_path);
  options.add_flag("--quick", "one 256^3 problem with 8 SMs reserved (a test)", &quick);
  options.add_integer("--runs", "N", "timed launches per case; the median is reported (20)", &runs,
                      10, 100000);
  options.add_integer_list("--reserved", "N,N,...", "reserved SM counts (0,8,16,20,24,32)",
                           &reserved_list, 0, 1024);
  options.add_string("--dtype", "D", "dtypes to measure", &dtypes, {"all", "bf16", "fp8"});
  options.add_string("--method", "M", "how SMs are reserved (all = the three)", &methods,
                     {"all", "spinner", "sm_count_target", "spinner+sm_count_target"});
  options.add_flag("--fp8-fast-accum", "FP8 without periodic promotion of partial sums",
                   &fast_accumulation);
  if (const std::optional<int> exit_status = options.parse(argc, argv)) return *exit_status;

  int gpu_count = 0;
  if (csbench::skip_without_gpus(kProgram, 1, gpu_count)) return csbench::kExitSkip;
  if (quick) {
    runs = 10;
    reserved_list = kReservedQuick;
  }

  constexpr int kDevice = 0;
  CS_CUDA(cudaSetDevice(kDevice));
  csbench::JsonObject machine = csbench::describe_machine(kDevice, gpu_count);
  machine.add_string("cublas_version", csbench::cublaslt_version_string());
  csbench::MeasuredFile measured(kProgram, machine);
  if (quick) measured.mark_quick();
  int sm_count = 0;
  CS_CUDA(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, kDevice));
  int cc_major = 0;
  int cc_minor = 0;
  CS_CUDA(cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, kDevice));
  CS_CUDA(cudaDeviceGetAttribute(&cc_minor, cudaDevAttrComputeCapabilityMinor, kDevice));

  std::vector<GemmDtype> selected;
  if (dtypes != "fp8") selected.push_back(GemmDtype::kBf16);
  if (dtypes != "bf16") {
    if (cc_major * 10 + cc_minor >= 89) {
      selected.push_back(GemmDtype::kFp8E4m3);
    } else {
      std::fprintf(stderr, "%s: warning: no FP8 on this GPU (compute capability < 8.9)\n",
                   kProgram);
    }
  }
  std::vector<Method> selected_methods;
  for (const Method method :
       {Method::kSpinner, Method::kSmCountTarget, Method::kSpinnerAndTarget}) {
    if (methods == "all" || methods == method_name(method)) selected_methods.push_back(method);
  }

  const csbench::Stream stream = csbench::make_stream();
  const csbench::LtContext lt;
  const csbench::L2Flusher flusher;
  const Context context{lt,
                        flusher,
                        stream.get(),
                        holder_shape(kDevice),
                        sm_count,
                        static_cast<int>(runs),
                        fast_accumulation};
  const std::vector<LayerGemm> shapes =
      quick ? std::vector<LayerGemm>{kQuickShape}
            : std::vector<LayerGemm>(std::begin(kShapes), std::end(kShapes));
  std::uint64_t seed = 0;
  for (const LayerGemm& layer : shapes) {
    for (const GemmDtype dtype : selected) {
      for (const Method method : selected_methods) {
        for (const std::int64_t reserved : reserved_list) {
          if (reserved >= sm_count) {
            std::fprintf(stderr, "%s: warning: cannot reserve %lld of %d SMs; skipped\n", kProgram,
                         static_cast<long long>(reserved), sm_count);
            continue;
          }
          seed += kSeedStride;
          std::optional<csbench::JsonObject> json = measure_case(
              context, layer, dtype, method, static_cast<int>(reserved), seed, measured);
          if (json) measured.add_case(*json);
        }
      }
    }
  }
  csbench::write_text(measured.render(), output_path);
  return csbench::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return csbench::run_guarded(kProgram, [&] { return run(argc, argv); });
}
