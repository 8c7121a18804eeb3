// cs_hbm: HBM bandwidth and kernel launch latency of CUDA device 0.
//
// Bandwidth: STREAM's copy (a[i] = b[i]) and triad (a[i] = b[i] + s * c[i]) over float arrays of
// 1 GiB each (fewer when memory is short), far larger than any L2. The kernels move float4s in a
// grid-stride loop with 4 independent loads in flight per thread, on every SM at full occupancy.
// Bytes counted: copy 2 arrays, triad 3 (each array read or written once per launch). The median
// of --runs launches, each timed with CUDA events, is reported; the results are checked on the
// GPU element by element.
//
// Launch latency of an empty kernel: "async" is the mean time per launch over 10,000 launches
// queued back to back (events around the whole batch), "sync" the median host round trip of one
// launch followed by cudaStreamSynchronize.
//
// Exit status: 0 measured, 1 a CUDA call failed or a result was wrong, 2 bad command line,
// 77 no CUDA GPU.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "cuda_support.cuh"
#include "options.hpp"

namespace {

constexpr const char* kProgram = "cs_hbm";
constexpr std::int64_t kArrayBytesDefault = std::int64_t{1} << 30;
constexpr std::int64_t kArrayBytesQuick = std::int64_t{64} << 20;
// At most this share of the free memory goes to the three arrays.
constexpr double kMaxFreeShare = 0.8;
constexpr int kArrays = 3;
constexpr unsigned kThreadsPerBlock = 256;
constexpr int kUnroll = 4;
constexpr float kTriadScalar = 3.0f;
constexpr int kAsyncLaunchesDefault = 10000;
constexpr int kSyncLaunchesDefault = 1000;
constexpr int kLaunchWarmup = 100;

// Inputs are small multiples of 1/2, so b + 3c is exact in float and the check asks for equality.
__device__ __host__ float input_b(std::size_t i) {
  return static_cast<float>(i % 1024);
}
__device__ __host__ float input_c(std::size_t i) {
  return 0.5f * static_cast<float>(i % 977);
}

__global__ void fill_inputs(float* b, float* c, std::size_t count) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    b[i] = input_b(i);
    c[i] = input_c(i);
  }
}

// Each thread handles kUnroll float4s per step, `stride` apart, all loads issued before the
// stores: enough bytes in flight per SM to cover HBM latency.
__global__ void copy_kernel(float4* __restrict__ a, const float4* __restrict__ b,
                            std::size_t count) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t base = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; base < count;
       base += kUnroll * stride) {
    float4 value[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t i = base + u * stride;
      if (i < count) value[u] = b[i];
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t i = base + u * stride;
      if (i < count) a[i] = value[u];
    }
  }
}

__global__ void triad_kernel(float4* __restrict__ a, const float4* __restrict__ b,
                             const float4* __restrict__ c, float scalar, std::size_t count) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t base = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; base < count;
       base += kUnroll * stride) {
    float4 vb[kUnroll];
    float4 vc[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t i = base + u * stride;
      if (i < count) {
        vb[u] = b[i];
        vc[u] = c[i];
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const std::size_t i = base + u * stride;
      if (i < count) {
        a[i] = make_float4(vb[u].x + scalar * vc[u].x, vb[u].y + scalar * vc[u].y,
                           vb[u].z + scalar * vc[u].z, vb[u].w + scalar * vc[u].w);
      }
    }
  }
}

// Counts elements of a that differ from b + scalar * c (scalar 0 checks the copy).
__global__ void count_mismatches(const float* a, std::size_t count, float scalar,
                                 unsigned long long* mismatches) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  unsigned long long local = 0;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    if (a[i] != input_b(i) + scalar * input_c(i)) ++local;
  }
  if (local > 0) atomicAdd(mismatches, local);
}

__global__ void empty_kernel() {}

struct Arrays {
  csbench::DeviceArray<float> a;
  csbench::DeviceArray<float> b;
  csbench::DeviceArray<float> c;
};

// Elements per array: the requested bytes, or less to fit in free memory; a multiple of 4 floats.
std::size_t array_elements(std::int64_t requested_bytes) {
  std::size_t free_bytes = 0;
  std::size_t total_bytes = 0;
  CS_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
  const auto fitting =
      static_cast<std::size_t>(kMaxFreeShare * static_cast<double>(free_bytes) / kArrays);
  const std::size_t bytes = std::min(static_cast<std::size_t>(requested_bytes), fitting);
  return bytes / sizeof(float4) * 4;
}

void check_result(const Arrays& arrays, float scalar, cudaStream_t stream, const char* pattern) {
  csbench::DeviceArray<unsigned long long> mismatches(1);
  CS_CUDA(cudaMemsetAsync(mismatches.get(), 0, mismatches.bytes(), stream));
  count_mismatches<<<1024, kThreadsPerBlock, 0, stream>>>(arrays.a.get(), arrays.a.size(), scalar,
                                                          mismatches.get());
  CS_CUDA(cudaGetLastError());
  unsigned long long wrong = 0;
  CS_CUDA(cudaMemcpyAsync(&wrong, mismatches.get(), sizeof wrong, cudaMemcpyDeviceToHost, stream));
  CS_CUDA(cudaStreamSynchronize(stream));
  if (wrong != 0) {
    throw csbench::BenchError(std::string(pattern) + ": " + std::to_string(wrong) + " of " +
                              std::to_string(arrays.a.size()) + " elements are wrong");
  }
}

csbench::JsonObject bandwidth_case(const char* pattern, std::size_t bytes,
                                   const std::vector<double>& seconds) {
  const double median_s = csbench::median(seconds);
  csbench::JsonObject json;
  json.add_string("kind", "hbm")
      .add_string("pattern", pattern)
      .add_integer("bytes", static_cast<std::int64_t>(bytes))
      .add_number("time_s", median_s)
      .add_number("bandwidth_Bps", static_cast<double>(bytes) / median_s)
      .add_number("min_time_s", *std::min_element(seconds.begin(), seconds.end()))
      .add_integer("runs", static_cast<std::int64_t>(seconds.size()));
  std::fprintf(stderr, "%s: %-5s %12zu bytes %10.3f us %8.1f GB/s\n", kProgram, pattern, bytes,
               median_s * 1e6, static_cast<double>(bytes) / median_s / 1e9);
  return json;
}

void measure_bandwidth(csbench::MeasuredFile& measured, std::int64_t array_bytes, int runs,
                       cudaStream_t stream) {
  const std::size_t elements = array_elements(array_bytes);
  const Arrays arrays{csbench::DeviceArray<float>(elements), csbench::DeviceArray<float>(elements),
                      csbench::DeviceArray<float>(elements)};
  fill_inputs<<<1024, kThreadsPerBlock, 0, stream>>>(arrays.b.get(), arrays.c.get(), elements);
  CS_CUDA(cudaGetLastError());

  int device = 0;
  CS_CUDA(cudaGetDevice(&device));
  int sm_count = 0;
  CS_CUDA(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  int copy_blocks_per_sm = 0;
  CS_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&copy_blocks_per_sm, copy_kernel,
                                                        kThreadsPerBlock, 0));
  int triad_blocks_per_sm = 0;
  CS_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&triad_blocks_per_sm, triad_kernel,
                                                        kThreadsPerBlock, 0));
  const auto copy_blocks = static_cast<unsigned>(sm_count * copy_blocks_per_sm);
  const auto triad_blocks = static_cast<unsigned>(sm_count * triad_blocks_per_sm);

  auto* const a4 = reinterpret_cast<float4*>(arrays.a.get());
  const auto* const b4 = reinterpret_cast<const float4*>(arrays.b.get());
  const auto* const c4 = reinterpret_cast<const float4*>(arrays.c.get());
  const std::size_t count4 = elements / 4;
  const csbench::TimingPlan plan{3, runs, nullptr};

  const std::vector<double> copy_s = csbench::time_runs(stream, plan, [&] {
    copy_kernel<<<copy_blocks, kThreadsPerBlock, 0, stream>>>(a4, b4, count4);
    CS_CUDA(cudaGetLastError());
  });
  check_result(arrays, 0.0f, stream, "copy");
  measured.add_case(bandwidth_case("copy", 2 * arrays.a.bytes(), copy_s));

  const std::vector<double> triad_s = csbench::time_runs(stream, plan, [&] {
    triad_kernel<<<triad_blocks, kThreadsPerBlock, 0, stream>>>(a4, b4, c4, kTriadScalar, count4);
    CS_CUDA(cudaGetLastError());
  });
  check_result(arrays, kTriadScalar, stream, "triad");
  measured.add_case(bandwidth_case("triad", 3 * arrays.a.bytes(), triad_s));
}

void measure_launch_latency(csbench::MeasuredFile& measured, int async_launches, int sync_launches,
                            cudaStream_t stream) {
  using Clock = std::chrono::steady_clock;
  for (int i = 0; i < kLaunchWarmup; ++i) empty_kernel<<<1, 1, 0, stream>>>();
  CS_CUDA(cudaGetLastError());
  CS_CUDA(cudaStreamSynchronize(stream));

  const csbench::Event start = csbench::make_event();
  const csbench::Event stop = csbench::make_event();
  const Clock::time_point submit_begin = Clock::now();
  CS_CUDA(cudaEventRecord(start.get(), stream));
  for (int i = 0; i < async_launches; ++i) empty_kernel<<<1, 1, 0, stream>>>();
  CS_CUDA(cudaGetLastError());
  CS_CUDA(cudaEventRecord(stop.get(), stream));
  const Clock::time_point submit_end = Clock::now();
  CS_CUDA(cudaEventSynchronize(stop.get()));
  const double async_s = csbench::elapsed_s(start, stop) / async_launches;
  const double submit_s =
      std::chrono::duration<double>(submit_end - submit_begin).count() / async_launches;
  measured.add_case(csbench::JsonObject()
                        .add_string("kind", "launch_latency")
                        .add_string("mode", "async")
                        .add_number("time_s", async_s)
                        .add_number("host_submit_s", submit_s)
                        .add_integer("launches", async_launches));

  std::vector<double> round_trips;
  for (int i = 0; i < sync_launches; ++i) {
    const Clock::time_point begin = Clock::now();
    empty_kernel<<<1, 1, 0, stream>>>();
    CS_CUDA(cudaGetLastError());
    CS_CUDA(cudaStreamSynchronize(stream));
    round_trips.push_back(std::chrono::duration<double>(Clock::now() - begin).count());
  }
  const double sync_s = csbench::median(round_trips);
  const double mean_s =
      std::accumulate(round_trips.begin(), round_trips.end(), 0.0) / sync_launches;
  measured.add_case(csbench::JsonObject()
                        .add_string("kind", "launch_latency")
                        .add_string("mode", "sync")
                        .add_number("time_s", sync_s)
                        .add_number("mean_s", mean_s)
                        .add_integer("launches", sync_launches));
  std::fprintf(stderr, "%s: launch latency async %.3f us (host submit %.3f us), sync %.3f us\n",
               kProgram, async_s * 1e6, submit_s * 1e6, sync_s * 1e6);
}

int run(int argc, char** argv) {
  std::optional<std::string> output_path;
  bool quick = false;
  std::int64_t runs = 20;
  std::int64_t array_bytes = kArrayBytesDefault;
  std::int64_t async_launches = kAsyncLaunchesDefault;
  std::int64_t sync_launches = kSyncLaunchesDefault;
  csbench::OptionParser options(kProgram,
                                "HBM bandwidth (STREAM copy and triad) and kernel launch latency "
                                "of CUDA device 0.\nWrites a clustersim-measured/1 JSON file.");
  options.add_path("-o", "FILE", "write the JSON to FILE instead of stdout", &output_path);
  options.add_flag("--quick", "64 MiB arrays and 1000 launches (a test, not a measurement)",
                   &quick);
  options.add_integer("--runs", "N", "timed launches per pattern; the median is reported (20)",
                      &runs, 10, 100000);
  options.add_integer("--array-bytes", "BYTES", "bytes per array, e.g. 512Mi (1Gi)", &array_bytes,
                      std::int64_t{1} << 20, std::int64_t{1} << 40);
  options.add_integer("--async-launches", "N", "launches in the async batch (10000)",
                      &async_launches, 100, 10000000);
  options.add_integer("--sync-launches", "N", "launch + synchronize round trips (1000)",
                      &sync_launches, 10, 1000000);
  if (const std::optional<int> exit_status = options.parse(argc, argv)) return *exit_status;

  int gpu_count = 0;
  if (csbench::skip_without_gpus(kProgram, 1, gpu_count)) return csbench::kExitSkip;
  if (quick) {
    runs = 10;
    array_bytes = kArrayBytesQuick;
    async_launches = 1000;
    sync_launches = 100;
  }

  constexpr int kDevice = 0;
  CS_CUDA(cudaSetDevice(kDevice));
  csbench::MeasuredFile measured(kProgram, csbench::describe_machine(kDevice, gpu_count));
  if (quick) measured.mark_quick();
  const csbench::Stream stream = csbench::make_stream();
  measure_bandwidth(measured, array_bytes, static_cast<int>(runs), stream.get());
  measure_launch_latency(measured, static_cast<int>(async_launches),
                         static_cast<int>(sync_launches), stream.get());
  csbench::write_text(measured.render(), output_path);
  return csbench::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return csbench::run_guarded(kProgram, [&] { return run(argc, argv); });
}
