// Plumbing shared by the clustersim CUDA microbenchmarks: checks that name the failed call, RAII
// owners for device memory, pinned host memory, streams and events, timing with CUDA events, the
// L2 flush that runs between timed launches, and the GPU-presence test that turns "no GPU" into
// exit status 77 (CTest's "skipped").
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "measured_file.hpp"

namespace csbench {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitSkip = 77;

// A failed CUDA, cuBLAS or NCCL call, or a wrong result. main() prints it and exits with 1.
struct BenchError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws BenchError "FILE:LINE: CALL failed: ERROR".
[[noreturn]] void throw_call_failure(const char* call, const char* file, int line,
                                     const std::string& error);
void check_cuda(cudaError_t status, const char* call, const char* file, int line);
// For destructors, which must not throw: prints a warning and goes on.
void warn_if_failed(cudaError_t status, const char* what) noexcept;

// Every CUDA runtime call of the benchmarks goes through this macro.
#define CS_CUDA(call) ::csbench::check_cuda((call), #call, __FILE__, __LINE__)

// Runs `body` and turns an exception into a message on stderr and exit status 1.
int run_guarded(const char* program, const std::function<int()>& body);

// Number of CUDA devices, or 0 when there is none or the runtime cannot be used; `reason` then
// says why.
[[nodiscard]] int count_gpus(std::string& reason);

// Prints "PROGRAM: skipped (...)" and returns true when fewer than `needed` GPUs are present.
[[nodiscard]] bool skip_without_gpus(const char* program, int needed, int& gpu_count);

// Makes `device` current for the lifetime of the guard, then restores the previous device.
class ScopedDevice {
 public:
  explicit ScopedDevice(int device);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int previous_ = 0;
};

// Device memory for `count` elements of T, on the device that was current at construction.
template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(std::size_t count) : count_(count) {
    int device = 0;
    CS_CUDA(cudaGetDevice(&device));
    void* pointer = nullptr;
    CS_CUDA(cudaMalloc(&pointer, bytes()));
    data_ = std::unique_ptr<T, Free>(static_cast<T*>(pointer), Free{device});
  }

  [[nodiscard]] T* get() const { return data_.get(); }
  [[nodiscard]] std::size_t size() const { return count_; }
  [[nodiscard]] std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  struct Free {
    int device = 0;
    void operator()(T* pointer) const noexcept {
      ScopedDevice on(device);
      warn_if_failed(cudaFree(pointer), "cudaFree");
    }
  };
  std::unique_ptr<T, Free> data_;
  std::size_t count_ = 0;
};

// Page-locked host memory mapped into the device address space (zero-copy), zero-initialised.
// The GPU and the host both read and write it while kernels run, so it carries flags.
template <typename T>
class MappedHostArray {
 public:
  explicit MappedHostArray(std::size_t count) : count_(count) {
    void* pointer = nullptr;
    CS_CUDA(cudaHostAlloc(&pointer, count * sizeof(T), cudaHostAllocMapped));
    data_.reset(static_cast<T*>(pointer));
    for (std::size_t i = 0; i < count; ++i) host()[i] = T{};
    void* device_pointer = nullptr;
    CS_CUDA(cudaHostGetDevicePointer(&device_pointer, pointer, 0));
    device_ = static_cast<T*>(device_pointer);
  }

  // volatile: the GPU changes the values behind the compiler's back.
  [[nodiscard]] volatile T* host() const { return data_.get(); }
  [[nodiscard]] T* device() const { return device_; }
  [[nodiscard]] std::size_t size() const { return count_; }

 private:
  struct FreeHost {
    void operator()(T* pointer) const noexcept {
      warn_if_failed(cudaFreeHost(pointer), "cudaFreeHost");
    }
  };
  std::unique_ptr<T, FreeHost> data_;
  T* device_ = nullptr;
  std::size_t count_ = 0;
};

namespace detail {
struct StreamDestroy {
  int device = 0;
  void operator()(cudaStream_t stream) const noexcept;
};
struct EventDestroy {
  int device = 0;
  void operator()(cudaEvent_t event) const noexcept;
};
}  // namespace detail

using Stream = std::unique_ptr<std::remove_pointer_t<cudaStream_t>, detail::StreamDestroy>;
using Event = std::unique_ptr<std::remove_pointer_t<cudaEvent_t>, detail::EventDestroy>;

// A non-blocking stream on the current device (no implicit synchronisation with stream 0).
[[nodiscard]] Stream make_stream();
// A timing event on the current device.
[[nodiscard]] Event make_event();
// Seconds between two completed events.
[[nodiscard]] double elapsed_s(const Event& start, const Event& stop);

[[nodiscard]] double median(std::vector<double> samples);

// Evicts the GPU's L2 cache by reading a buffer twice its size (reads, not writes, so that no
// dirty lines are left to be written back during the next timed kernel). Between timed launches
// it also gives the host a head start, so the queue holds the next launch when the GPU gets there.
class L2Flusher {
 public:
  L2Flusher();
  void enqueue(cudaStream_t stream) const;

 private:
  DeviceArray<float4> buffer_;
  DeviceArray<float> sink_;
  unsigned blocks_ = 0;
};

// How to time one kernel sequence: untimed warm-up launches, then `runs` launches each between
// two events. With a flusher, the L2 is flushed before every launch (outside the timed span).
struct TimingPlan {
  int warmup = 3;
  int runs = 20;
  const L2Flusher* flusher = nullptr;
};

// Times `enqueue` (which must enqueue its work on `stream`) and returns one duration in seconds
// per run.
[[nodiscard]] std::vector<double> time_runs(cudaStream_t stream, const TimingPlan& plan,
                                            const std::function<void()>& enqueue);

// Fills with uniform pseudo-random values in [-amplitude, amplitude); `seed` names the stream.
void fill_uniform(__nv_bfloat16* data, std::size_t count, float amplitude, std::uint64_t seed,
                  cudaStream_t stream);
void fill_uniform(__nv_fp8_e4m3* data, std::size_t count, float amplitude, std::uint64_t seed,
                  cudaStream_t stream);
void fill_constant(float* data, std::size_t count, float value, cudaStream_t stream);
void fill_constant(__nv_bfloat16* data, std::size_t count, float value, cudaStream_t stream);

// The "machine" object of a measured file for `device`, with the count of visible GPUs.
[[nodiscard]] JsonObject describe_machine(int device, int gpu_count);

// "13.0" from the runtime's 13000.
[[nodiscard]] std::string cuda_version_string(int version);

}  // namespace csbench
