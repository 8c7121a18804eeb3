// device_probe: the first clustersim microbenchmark. It names the GPU (model, SMs, clock, driver
// and runtime versions) and estimates its HBM bandwidth from a vector add c = a + b over 64 Mi
// floats: each launch reads two vectors and writes one, 3 x 256 MiB of DRAM traffic, far more than
// any L2 cache holds. The result is one JSON object on stdout (or in the file given with -o).
//
// Exit status: 0 on success, 77 when there is no usable CUDA GPU (CTest's "skipped"), 1 when a
// CUDA call fails, memory runs out or the results are wrong, 2 for a bad command line.

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "measured_file.hpp"

namespace {

constexpr int kSkipExit = 77;
constexpr int kUsageExit = 2;
constexpr std::size_t kElements = std::size_t{64} << 20;  // 64 Mi floats: 256 MiB per vector
constexpr std::size_t kVectorBytes = kElements * sizeof(float);
// DRAM bytes one launch moves: a and b read once, c written once.
constexpr std::size_t kBytesPerLaunch = 3 * kVectorBytes;
constexpr unsigned kThreadsPerBlock = 256;
// The mean over several launches smooths out launch overhead and clock ramp-up; one untimed launch
// before them pays for module loading and first-touch page mapping.
constexpr int kTimedLaunches = 20;
constexpr double kMsPerSecond = 1000.0;

struct CudaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws CudaError naming the call that failed; main turns it into exit status 1.
void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    throw CudaError(std::string(what) + " failed: " + cudaGetErrorName(status) + " (" +
                    cudaGetErrorString(status) + ")");
  }
}

// Releases run in destructors, which cannot throw: a failure there is reported and otherwise
// ignored, since the measurement is already complete or already failed.
void warn_if_failed(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "device_probe: warning: %s failed: %s\n", what,
                 cudaGetErrorString(status));
  }
}

struct DeviceFree {
  void operator()(float* pointer) const { warn_if_failed(cudaFree(pointer), "cudaFree"); }
};
using DeviceBuffer = std::unique_ptr<float, DeviceFree>;

struct EventDestroy {
  void operator()(cudaEvent_t event) const {
    warn_if_failed(cudaEventDestroy(event), "cudaEventDestroy");
  }
};
using Event = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, EventDestroy>;

DeviceBuffer device_alloc(std::size_t bytes) {
  void* pointer = nullptr;
  check(cudaMalloc(&pointer, bytes), "cudaMalloc");
  return DeviceBuffer(static_cast<float*>(pointer));
}

Event make_event() {
  cudaEvent_t event = nullptr;
  check(cudaEventCreate(&event), "cudaEventCreate");
  return Event(event);
}

__global__ void vector_add(const float* __restrict__ a, const float* __restrict__ b,
                           float* __restrict__ c, std::size_t n) {
  const std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

struct ProbeResult {
  std::string gpu_name;
  int sm_count = 0;
  int clock_khz = 0;
  int driver_version = 0;   // e.g. 13000 for CUDA 13.0
  int runtime_version = 0;  // same encoding
  double vector_add_s = 0;  // mean time of one launch
};

// Inputs are small integers, so every sum is exact in float and the check can ask for equality.
float input_a(std::size_t i) {
  return static_cast<float>(i % 4096);
}
float input_b(std::size_t i) {
  return static_cast<float>((i * 7) % 4096);
}

ProbeResult run_probe() {
  ProbeResult result;
  constexpr int kDevice = 0;
  check(cudaSetDevice(kDevice), "cudaSetDevice");
  cudaDeviceProp properties{};
  check(cudaGetDeviceProperties(&properties, kDevice), "cudaGetDeviceProperties");
  result.gpu_name = properties.name;
  result.sm_count = properties.multiProcessorCount;
  // cudaDeviceProp::clockRate is gone in CUDA 13; the attribute remains (kHz, peak clock).
  check(cudaDeviceGetAttribute(&result.clock_khz, cudaDevAttrClockRate, kDevice),
        "cudaDeviceGetAttribute(cudaDevAttrClockRate)");
  check(cudaDriverGetVersion(&result.driver_version), "cudaDriverGetVersion");
  check(cudaRuntimeGetVersion(&result.runtime_version), "cudaRuntimeGetVersion");

  std::vector<float> host_a(kElements);
  std::vector<float> host_b(kElements);
  for (std::size_t i = 0; i < kElements; ++i) {
    host_a[i] = input_a(i);
    host_b[i] = input_b(i);
  }
  DeviceBuffer a = device_alloc(kVectorBytes);
  DeviceBuffer b = device_alloc(kVectorBytes);
  DeviceBuffer c = device_alloc(kVectorBytes);
  check(cudaMemcpy(a.get(), host_a.data(), kVectorBytes, cudaMemcpyHostToDevice), "cudaMemcpy a");
  check(cudaMemcpy(b.get(), host_b.data(), kVectorBytes, cudaMemcpyHostToDevice), "cudaMemcpy b");
  check(cudaMemset(c.get(), 0, kVectorBytes), "cudaMemset c");

  const unsigned blocks =
      static_cast<unsigned>((kElements + kThreadsPerBlock - 1) / kThreadsPerBlock);
  vector_add<<<blocks, kThreadsPerBlock>>>(a.get(), b.get(), c.get(), kElements);
  check(cudaGetLastError(), "vector_add launch (warm-up)");
  check(cudaDeviceSynchronize(), "vector_add (warm-up)");

  Event start = make_event();
  Event stop = make_event();
  check(cudaEventRecord(start.get()), "cudaEventRecord start");
  for (int launch = 0; launch < kTimedLaunches; ++launch) {
    vector_add<<<blocks, kThreadsPerBlock>>>(a.get(), b.get(), c.get(), kElements);
  }
  check(cudaGetLastError(), "vector_add launch");
  check(cudaEventRecord(stop.get()), "cudaEventRecord stop");
  check(cudaEventSynchronize(stop.get()), "cudaEventSynchronize");
  float elapsed_ms = 0;
  check(cudaEventElapsedTime(&elapsed_ms, start.get(), stop.get()), "cudaEventElapsedTime");
  result.vector_add_s = static_cast<double>(elapsed_ms) / kMsPerSecond / kTimedLaunches;

  std::vector<float> host_c(kElements);
  check(cudaMemcpy(host_c.data(), c.get(), kVectorBytes, cudaMemcpyDeviceToHost), "cudaMemcpy c");
  for (std::size_t i = 0; i < kElements; ++i) {
    if (host_c[i] != host_a[i] + host_b[i]) {
      throw CudaError("vector_add gave c[" + std::to_string(i) +
                      "] = " + std::to_string(host_c[i]) + ", expected " +
                      std::to_string(host_a[i] + host_b[i]));
    }
  }
  return result;
}

std::string to_json(const ProbeResult& result) {
  const double bandwidth = static_cast<double>(kBytesPerLaunch) / result.vector_add_s;
  char numbers[512];
  std::snprintf(numbers, sizeof numbers,
                "\"sm_count\":%d,\"clock_khz\":%d,\"driver_version\":%d,\"runtime_version\":%d,"
                "\"vector_add_bytes\":%zu,\"vector_add_s\":%.9g,"
                "\"hbm_bandwidth_bytes_per_s\":%.9g",
                result.sm_count, result.clock_khz, result.driver_version, result.runtime_version,
                kBytesPerLaunch, result.vector_add_s, bandwidth);
  return "{\"benchmark\":\"device_probe\",\"gpu\":" + csbench::json_quote(result.gpu_name) + "," +
         numbers + "}\n";
}

bool write_output(const std::string& json, const char* path) {
  if (path == nullptr) return std::fputs(json.c_str(), stdout) >= 0 && std::fflush(stdout) == 0;
  std::FILE* file = std::fopen(path, "w");
  if (file == nullptr) return false;
  const bool written = std::fputs(json.c_str(), file) >= 0;
  return std::fclose(file) == 0 && written;
}

void print_usage(std::FILE* stream) {
  std::fputs(
      "usage: cs_device_probe [-o FILE]\n"
      "Probes CUDA device 0 and measures HBM bandwidth with a vector add; prints one JSON\n"
      "object to stdout, or writes it to FILE. Exits 77 when there is no CUDA GPU.\n",
      stream);
}

}  // namespace

int main(int argc, char* argv[]) {
  const char* output_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-o" && i + 1 < argc) {
      output_path = argv[++i];
    } else if (arg == "-h" || arg == "--help") {
      print_usage(stdout);
      return 0;
    } else {
      print_usage(stderr);
      return kUsageExit;
    }
  }

  int device_count = 0;
  const cudaError_t count_status = cudaGetDeviceCount(&device_count);
  if (count_status != cudaSuccess || device_count == 0) {
    const char* reason = count_status != cudaSuccess ? cudaGetErrorString(count_status)
                                                     : "cudaGetDeviceCount found 0 devices";
    std::fprintf(stderr, "device_probe: skipped (no CUDA GPU: %s)\n", reason);
    return kSkipExit;
  }

  try {
    const std::string json = to_json(run_probe());
    if (!write_output(json, output_path)) {
      std::fprintf(stderr, "device_probe: cannot write %s\n",
                   output_path != nullptr ? output_path : "stdout");
      return 1;
    }
  } catch (const std::exception& error) {  // CudaError, or std::bad_alloc for the host vectors
    std::fprintf(stderr, "device_probe: %s\n", error.what());
    return 1;
  }
  return 0;
}
