#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>

#include "cuda_support.cuh"

namespace csbench {

void throw_call_failure(const char* call, const char* file, int line, const std::string& error) {
  // Only the file name: the build folder's absolute path says nothing.
  const char* slash = std::strrchr(file, '/');
  throw BenchError(std::string(slash != nullptr ? slash + 1 : file) + ":" + std::to_string(line) +
                   ": " + call + " failed: " + error);
}

void check_cuda(cudaError_t status, const char* call, const char* file, int line) {
  if (status == cudaSuccess) return;
  throw_call_failure(
      call, file, line,
      std::string(cudaGetErrorName(status)) + " (" + cudaGetErrorString(status) + ")");
}

void warn_if_failed(cudaError_t status, const char* what) noexcept {
  if (status != cudaSuccess) {
    std::fprintf(stderr, "warning: %s failed: %s\n", what, cudaGetErrorString(status));
  }
}

int run_guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& error) {  // BenchError, std::bad_alloc, std::runtime_error
    std::fprintf(stderr, "%s: %s\n", program, error.what());
    return kExitFailure;
  }
}

int count_gpus(std::string& reason) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    reason = cudaGetErrorString(status);
    return 0;
  }
  if (count == 0) reason = "cudaGetDeviceCount found 0 devices";
  return count;
}

bool skip_without_gpus(const char* program, int needed, int& gpu_count) {
  std::string reason;
  gpu_count = count_gpus(reason);
  if (gpu_count == 0) {
    std::fprintf(stderr, "%s: skipped (no CUDA GPU: %s)\n", program, reason.c_str());
    return true;
  }
  if (gpu_count < needed) {
    std::fprintf(stderr, "%s: skipped (needs %d GPUs, found %d)\n", program, needed, gpu_count);
    return true;
  }
  return false;
}

ScopedDevice::ScopedDevice(int device) {
  CS_CUDA(cudaGetDevice(&previous_));
  if (device != previous_) CS_CUDA(cudaSetDevice(device));
}

ScopedDevice::~ScopedDevice() {
  int current = previous_;
  warn_if_failed(cudaGetDevice(&current), "cudaGetDevice");
  if (current != previous_) warn_if_failed(cudaSetDevice(previous_), "cudaSetDevice");
}

namespace detail {

void StreamDestroy::operator()(cudaStream_t stream) const noexcept {
  int current = device;
  warn_if_failed(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) warn_if_failed(cudaSetDevice(device), "cudaSetDevice");
  warn_if_failed(cudaStreamDestroy(stream), "cudaStreamDestroy");
  if (current != device) warn_if_failed(cudaSetDevice(current), "cudaSetDevice");
}

void EventDestroy::operator()(cudaEvent_t event) const noexcept {
  int current = device;
  warn_if_failed(cudaGetDevice(&current), "cudaGetDevice");
  if (current != device) warn_if_failed(cudaSetDevice(device), "cudaSetDevice");
  warn_if_failed(cudaEventDestroy(event), "cudaEventDestroy");
  if (current != device) warn_if_failed(cudaSetDevice(current), "cudaSetDevice");
}

}  // namespace detail

Stream make_stream() {
  int device = 0;
  CS_CUDA(cudaGetDevice(&device));
  cudaStream_t stream = nullptr;
  CS_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  return Stream(stream, detail::StreamDestroy{device});
}

Event make_event() {
  int device = 0;
  CS_CUDA(cudaGetDevice(&device));
  cudaEvent_t event = nullptr;
  CS_CUDA(cudaEventCreate(&event));
  return Event(event, detail::EventDestroy{device});
}

double elapsed_s(const Event& start, const Event& stop) {
  float milliseconds = 0;
  CS_CUDA(cudaEventElapsedTime(&milliseconds, start.get(), stop.get()));
  return static_cast<double>(milliseconds) * 1e-3;
}

double median(std::vector<double> samples) {
  if (samples.empty()) throw BenchError("median of no samples");
  const std::size_t middle = samples.size() / 2;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(middle),
                   samples.end());
  const double upper = samples[middle];
  if (samples.size() % 2 == 1) return upper;
  const double lower =
      *std::max_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(middle));
  return (lower + upper) / 2;
}

namespace {

constexpr unsigned kThreadsPerBlock = 256;
// At least this much is read by a flush, even on a GPU with a small L2.
constexpr std::size_t kMinFlushBytes = std::size_t{64} << 20;
constexpr float kImpossibleSum = -1.0f;

// Reads every element; the store never happens for the all-zero buffer (the sum is 0), but the
// compiler cannot know that, so the loads stay.
__global__ void read_all(const float4* __restrict__ data, std::size_t count, float* sink) {
  float sum = 0;
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    const float4 value = data[i];
    sum += value.x + value.y + value.z + value.w;
  }
  if (sum == kImpossibleSum) *sink = sum;
}

// SplitMix64: a counter-based generator, so each element's value depends only on (seed, index)
// and the fill is the same on every run and every GPU.
__device__ std::uint64_t split_mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Uniform in [-1, 1) from the top 24 bits.
__device__ float uniform_pm1(std::uint64_t seed, std::size_t index) {
  const std::uint64_t bits = split_mix64(seed ^ split_mix64(index));
  return static_cast<float>(bits >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

template <typename T>
__global__ void fill_uniform_kernel(T* data, std::size_t count, float amplitude,
                                    std::uint64_t seed) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    data[i] = T(amplitude * uniform_pm1(seed, i));
  }
}

template <typename T>
__global__ void fill_constant_kernel(T* data, std::size_t count, float value) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    data[i] = T(value);
  }
}

// Enough blocks to cover every SM several times over; the kernels loop over the rest.
unsigned fill_blocks(std::size_t count) {
  constexpr std::size_t kMaxBlocks = 4096;
  return static_cast<unsigned>(
      std::clamp<std::size_t>((count + kThreadsPerBlock - 1) / kThreadsPerBlock, 1, kMaxBlocks));
}

}  // namespace

L2Flusher::L2Flusher() {
  int device = 0;
  CS_CUDA(cudaGetDevice(&device));
  int l2_bytes = 0;
  CS_CUDA(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
  int sm_count = 0;
  CS_CUDA(cudaDeviceGetAttribute(&sm_count, cudaDevAttrMultiProcessorCount, device));
  const std::size_t bytes = std::max(2 * static_cast<std::size_t>(l2_bytes), kMinFlushBytes);
  buffer_ = DeviceArray<float4>(bytes / sizeof(float4));
  sink_ = DeviceArray<float>(1);
  CS_CUDA(cudaMemset(buffer_.get(), 0, buffer_.bytes()));
  constexpr unsigned kBlocksPerSm = 4;
  blocks_ = static_cast<unsigned>(sm_count) * kBlocksPerSm;
  // One launch now loads the kernel (CUDA loads modules lazily), so that no later launch has to
  // load it while another kernel of the program holds SMs.
  enqueue(nullptr);
  CS_CUDA(cudaDeviceSynchronize());
}

void L2Flusher::enqueue(cudaStream_t stream) const {
  read_all<<<blocks_, kThreadsPerBlock, 0, stream>>>(buffer_.get(), buffer_.size(), sink_.get());
  CS_CUDA(cudaGetLastError());
}

std::vector<double> time_runs(cudaStream_t stream, const TimingPlan& plan,
                              const std::function<void()>& enqueue) {
  for (int i = 0; i < plan.warmup; ++i) {
    if (plan.flusher != nullptr) plan.flusher->enqueue(stream);
    enqueue();
  }
  std::vector<Event> starts;
  std::vector<Event> stops;
  for (int i = 0; i < plan.runs; ++i) {
    starts.push_back(make_event());
    stops.push_back(make_event());
  }
  CS_CUDA(cudaStreamSynchronize(stream));
  for (int i = 0; i < plan.runs; ++i) {
    if (plan.flusher != nullptr) plan.flusher->enqueue(stream);
    CS_CUDA(cudaEventRecord(starts[static_cast<std::size_t>(i)].get(), stream));
    enqueue();
    CS_CUDA(cudaEventRecord(stops[static_cast<std::size_t>(i)].get(), stream));
  }
  CS_CUDA(cudaStreamSynchronize(stream));
  std::vector<double> seconds;
  for (std::size_t i = 0; i < starts.size(); ++i) seconds.push_back(elapsed_s(starts[i], stops[i]));
  return seconds;
}

void fill_uniform(__nv_bfloat16* data, std::size_t count, float amplitude, std::uint64_t seed,
                  cudaStream_t stream) {
  fill_uniform_kernel<<<fill_blocks(count), kThreadsPerBlock, 0, stream>>>(data, count, amplitude,
                                                                           seed);
  CS_CUDA(cudaGetLastError());
}

void fill_uniform(__nv_fp8_e4m3* data, std::size_t count, float amplitude, std::uint64_t seed,
                  cudaStream_t stream) {
  fill_uniform_kernel<<<fill_blocks(count), kThreadsPerBlock, 0, stream>>>(data, count, amplitude,
                                                                           seed);
  CS_CUDA(cudaGetLastError());
}

void fill_constant(float* data, std::size_t count, float value, cudaStream_t stream) {
  fill_constant_kernel<<<fill_blocks(count), kThreadsPerBlock, 0, stream>>>(data, count, value);
  CS_CUDA(cudaGetLastError());
}

void fill_constant(__nv_bfloat16* data, std::size_t count, float value, cudaStream_t stream) {
  fill_constant_kernel<<<fill_blocks(count), kThreadsPerBlock, 0, stream>>>(data, count, value);
  CS_CUDA(cudaGetLastError());
}

std::string cuda_version_string(int version) {
  // The runtime and driver encode a version as 1000 * major + 10 * minor.
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

JsonObject describe_machine(int device, int gpu_count) {
  cudaDeviceProp properties{};
  CS_CUDA(cudaGetDeviceProperties(&properties, device));
  // cudaDeviceProp::clockRate is gone in CUDA 13; the attribute remains (kHz, peak SM clock).
  int clock_khz = 0;
  CS_CUDA(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
  int l2_bytes = 0;
  CS_CUDA(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
  int driver_version = 0;
  CS_CUDA(cudaDriverGetVersion(&driver_version));
  int runtime_version = 0;
  CS_CUDA(cudaRuntimeGetVersion(&runtime_version));
  JsonObject machine;
  machine.add_string("gpu", properties.name)
      .add_integer("gpu_count", gpu_count)
      .add_integer("sm_count", properties.multiProcessorCount)
      .add_integer("clock_mhz", clock_khz / 1000)
      .add_integer("memory_bytes", static_cast<std::int64_t>(properties.totalGlobalMem))
      .add_string("driver_version", cuda_version_string(driver_version))
      .add_string("cuda_runtime_version", cuda_version_string(runtime_version))
      .add_string("compute_capability",
                  std::to_string(properties.major) + "." + std::to_string(properties.minor))
      .add_integer("l2_bytes", l2_bytes);
  return machine;
}

}  // namespace csbench
