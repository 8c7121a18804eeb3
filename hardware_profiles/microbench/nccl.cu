// cs_nccl: NCCL collective bandwidth over all GPUs of the machine, driven from one process and one
// thread (ncclCommInitAll, one communicator per GPU, one group call per collective).
//
// Collectives: all_reduce (sum), all_gather, reduce_scatter (sum) and all_to_all (ncclSend and
// ncclRecv to every peer, grouped), in bf16, out of place, over sizes 1 MiB, 4 MiB, ... up to
// --max-bytes (4 GiB, less when memory is short). The conventions are nccl-tests': "bytes" is the
// per-rank buffer size, for all_gather the output and for reduce_scatter the input (the total over
// ranks); time_s is the mean of --iters back-to-back iterations after 5 warm-up ones, measured on
// the host around the whole batch; algbw = bytes / time_s, busbw = algbw * 2(n-1)/n for all_reduce
// and algbw * (n-1)/n for the others. The all_reduce result is checked once.
//
// Exit status: 0 measured, 1 a CUDA/NCCL call failed or a result was wrong, 2 bad command line,
// 77 fewer than 2 GPUs (except with --machine-only, which needs 1).

#include <nccl.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda_support.cuh"
#include "options.hpp"

namespace {

constexpr const char* kProgram = "cs_nccl";
constexpr std::int64_t kMinBytes = std::int64_t{1} << 20;
constexpr std::int64_t kMaxBytesDefault = std::int64_t{4} << 30;
constexpr std::int64_t kSizeFactor = 4;
constexpr int kWarmupIterations = 5;
// At most this share of a GPU's free memory goes to its send and receive buffers.
constexpr double kMaxFreeShare = 0.8;
constexpr unsigned kThreadsPerBlock = 256;

void check_nccl(ncclResult_t result, const char* call, const char* file, int line) {
  if (result == ncclSuccess) return;
  csbench::throw_call_failure(call, file, line, ncclGetErrorString(result));
}

#define CS_NCCL(call) check_nccl((call), #call, __FILE__, __LINE__)

std::string nccl_version_string() {
  int version = 0;
  CS_NCCL(ncclGetVersion(&version));
  // NCCL_VERSION_CODE: 10000 * major + 100 * minor + patch since 2.9, 1000 * major + 100 * minor
  // + patch before.
  constexpr int kNewEncoding = 20900;
  const bool new_encoding = version >= kNewEncoding;
  const int major = new_encoding ? version / 10000 : version / 1000;
  const int minor = new_encoding ? version / 100 % 100 : version / 100 % 10;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(version % 100);
}

// One communicator per GPU 0..count-1, created together and destroyed together.
class Communicators {
 public:
  explicit Communicators(int count) : comms_(static_cast<std::size_t>(count)) {
    std::vector<int> devices(comms_.size());
    for (int i = 0; i < count; ++i) devices[static_cast<std::size_t>(i)] = i;
    CS_NCCL(ncclCommInitAll(comms_.data(), count, devices.data()));
  }
  ~Communicators() {
    for (const ncclComm_t comm : comms_) {
      if (comm != nullptr && ncclCommDestroy(comm) != ncclSuccess) {
        std::fprintf(stderr, "%s: warning: ncclCommDestroy failed\n", kProgram);
      }
    }
  }
  Communicators(const Communicators&) = delete;
  Communicators& operator=(const Communicators&) = delete;

  [[nodiscard]] ncclComm_t operator[](std::size_t rank) const { return comms_[rank]; }

 private:
  std::vector<ncclComm_t> comms_;
};

struct Rank {
  int device = 0;
  csbench::DeviceArray<__nv_bfloat16> send;
  csbench::DeviceArray<__nv_bfloat16> receive;
  csbench::Stream stream;
};

enum class Collective { kAllReduce, kAllGather, kReduceScatter, kAllToAll };

struct CollectiveInfo {
  Collective collective;
  const char* name;
};

constexpr CollectiveInfo kCollectives[] = {
    {Collective::kAllReduce, "all_reduce"},
    {Collective::kAllGather, "all_gather"},
    {Collective::kReduceScatter, "reduce_scatter"},
    {Collective::kAllToAll, "all_to_all"},
};

// nccl-tests' bus-bandwidth factor: the share of the data each rank must send over its links.
double bus_factor(Collective collective, int ranks) {
  const double n = ranks;
  return collective == Collective::kAllReduce ? 2 * (n - 1) / n : (n - 1) / n;
}

// Enqueues one collective on every rank. `count` is nccl-tests' element count: the all_reduce
// buffer, the all_gather output, the reduce_scatter input, the all_to_all buffer (a multiple of
// the rank count).
void enqueue(Collective collective, const std::vector<Rank>& ranks, const Communicators& comms,
             std::size_t count) {
  const std::size_t n = ranks.size();
  const std::size_t chunk = count / n;
  CS_NCCL(ncclGroupStart());
  for (std::size_t r = 0; r < n; ++r) {
    const Rank& rank = ranks[r];
    cudaStream_t stream = rank.stream.get();
    switch (collective) {
      case Collective::kAllReduce:
        CS_NCCL(ncclAllReduce(rank.send.get(), rank.receive.get(), count, ncclBfloat16, ncclSum,
                              comms[r], stream));
        break;
      case Collective::kAllGather:
        CS_NCCL(ncclAllGather(rank.send.get(), rank.receive.get(), chunk, ncclBfloat16, comms[r],
                              stream));
        break;
      case Collective::kReduceScatter:
        CS_NCCL(ncclReduceScatter(rank.send.get(), rank.receive.get(), chunk, ncclBfloat16, ncclSum,
                                  comms[r], stream));
        break;
      case Collective::kAllToAll:
        for (std::size_t peer = 0; peer < n; ++peer) {
          CS_NCCL(ncclSend(rank.send.get() + peer * chunk, chunk, ncclBfloat16,
                           static_cast<int>(peer), comms[r], stream));
          CS_NCCL(ncclRecv(rank.receive.get() + peer * chunk, chunk, ncclBfloat16,
                           static_cast<int>(peer), comms[r], stream));
        }
        break;
    }
  }
  CS_NCCL(ncclGroupEnd());
}

void synchronize_all(const std::vector<Rank>& ranks) {
  for (const Rank& rank : ranks) {
    const csbench::ScopedDevice on(rank.device);
    CS_CUDA(cudaStreamSynchronize(rank.stream.get()));
  }
}

// Mean seconds per iteration of `iterations` back-to-back collectives (nccl-tests' timing).
double time_collective(Collective collective, const std::vector<Rank>& ranks,
                       const Communicators& comms, std::size_t count, int warmup, int iterations) {
  for (int i = 0; i < warmup; ++i) enqueue(collective, ranks, comms, count);
  synchronize_all(ranks);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) enqueue(collective, ranks, comms, count);
  synchronize_all(ranks);
  const auto end = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(end - begin).count() / iterations;
}

__global__ void count_not_equal(const __nv_bfloat16* data, std::size_t count, float expected,
                                unsigned long long* mismatches) {
  const std::size_t stride = std::size_t{gridDim.x} * blockDim.x;
  unsigned long long local = 0;
  for (std::size_t i = std::size_t{blockIdx.x} * blockDim.x + threadIdx.x; i < count; i += stride) {
    if (__bfloat162float(data[i]) != expected) ++local;
  }
  if (local > 0) atomicAdd(mismatches, local);
}

// Every send buffer holds ones, so an all_reduce (sum) must give the rank count everywhere
// (exact in bf16 up to 256 ranks).
void check_all_reduce(const std::vector<Rank>& ranks, const Communicators& comms,
                      std::size_t count) {
  enqueue(Collective::kAllReduce, ranks, comms, count);
  synchronize_all(ranks);
  const auto expected = static_cast<float>(ranks.size());
  for (const Rank& rank : ranks) {
    const csbench::ScopedDevice on(rank.device);
    csbench::DeviceArray<unsigned long long> mismatches(1);
    CS_CUDA(cudaMemset(mismatches.get(), 0, mismatches.bytes()));
    count_not_equal<<<256, kThreadsPerBlock>>>(rank.receive.get(), count, expected,
                                               mismatches.get());
    CS_CUDA(cudaGetLastError());
    unsigned long long wrong = 0;
    CS_CUDA(cudaMemcpy(&wrong, mismatches.get(), sizeof wrong, cudaMemcpyDeviceToHost));
    if (wrong != 0) {
      throw csbench::BenchError("all_reduce gave " + std::to_string(wrong) +
                                " wrong elements on GPU " + std::to_string(rank.device));
    }
  }
}

// The largest size of the series 1 MiB * 4^i that is at most `requested` and whose two buffers
// fit in every GPU's free memory.
std::int64_t fitting_max_bytes(std::int64_t requested, int gpu_count) {
  std::size_t smallest_free = SIZE_MAX;
  for (int device = 0; device < gpu_count; ++device) {
    const csbench::ScopedDevice on(device);
    std::size_t free_bytes = 0;
    std::size_t total_bytes = 0;
    CS_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
    smallest_free = std::min(smallest_free, free_bytes);
  }
  const double budget = kMaxFreeShare * static_cast<double>(smallest_free) / 2;
  std::int64_t bytes = kMinBytes;
  while (bytes * kSizeFactor <= requested && static_cast<double>(bytes * kSizeFactor) <= budget) {
    bytes *= kSizeFactor;
  }
  return bytes;
}

int run(int argc, char** argv) {
  std::optional<std::string> output_path;
  bool quick = false;
  bool machine_only = false;
  std::int64_t iterations = 20;
  std::int64_t max_bytes = kMaxBytesDefault;
  std::string only = "all";
  csbench::OptionParser options(
      kProgram,
      "NCCL all_reduce, all_gather, reduce_scatter and all_to_all bandwidth over all GPUs (one\n"
      "process, ncclCommInitAll), bf16, 1 MiB to 4 GiB. Needs 2 GPUs. Writes a\n"
      "clustersim-measured/1 JSON file.");
  options.add_path("-o", "FILE", "write the JSON to FILE instead of stdout", &output_path);
  options.add_flag("--quick", "1 MiB only, 5 iterations (a test, not a measurement)", &quick);
  options.add_integer("--iters", "N", "timed iterations per size; the mean is reported (20)",
                      &iterations, 1, 100000);
  options.add_integer("--max-bytes", "BYTES", "largest size, e.g. 1Gi (4Gi)", &max_bytes, kMinBytes,
                      std::int64_t{1} << 40);
  options.add_string("--op", "OP", "collectives to measure", &only,
                     {"all", "all_reduce", "all_gather", "reduce_scatter", "all_to_all"});
  options.add_flag("--machine-only",
                   "write the machine description (with nccl_version) and no cases; needs 1 GPU",
                   &machine_only);
  if (const std::optional<int> exit_status = options.parse(argc, argv)) return *exit_status;

  int gpu_count = 0;
  if (csbench::skip_without_gpus(kProgram, machine_only ? 1 : 2, gpu_count)) {
    return csbench::kExitSkip;
  }
  CS_CUDA(cudaSetDevice(0));
  csbench::JsonObject machine = csbench::describe_machine(0, gpu_count);
  machine.add_string("nccl_version", nccl_version_string());
  csbench::MeasuredFile measured(kProgram, machine);
  if (machine_only) {
    csbench::write_text(measured.render(), output_path);
    return csbench::kExitSuccess;
  }
  int warmup = kWarmupIterations;
  if (quick) {
    measured.mark_quick();
    max_bytes = kMinBytes;
    iterations = 5;
    warmup = 1;
  }
  max_bytes = fitting_max_bytes(max_bytes, gpu_count);

  const auto n = static_cast<std::size_t>(gpu_count);
  const std::size_t max_count = static_cast<std::size_t>(max_bytes) / sizeof(__nv_bfloat16);
  std::vector<Rank> ranks;
  for (int device = 0; device < gpu_count; ++device) {
    const csbench::ScopedDevice on(device);
    Rank rank{device, csbench::DeviceArray<__nv_bfloat16>(max_count),
              csbench::DeviceArray<__nv_bfloat16>(max_count), csbench::make_stream()};
    csbench::fill_constant(rank.send.get(), max_count, 1.0f, rank.stream.get());
    CS_CUDA(cudaMemsetAsync(rank.receive.get(), 0, rank.receive.bytes(), rank.stream.get()));
    ranks.push_back(std::move(rank));
  }
  synchronize_all(ranks);
  const Communicators comms(gpu_count);
  const std::size_t min_count = static_cast<std::size_t>(kMinBytes) / sizeof(__nv_bfloat16) / n * n;
  check_all_reduce(ranks, comms, min_count);

  for (const CollectiveInfo& info : kCollectives) {
    if (only != "all" && only != info.name) continue;
    for (std::int64_t size = kMinBytes; size <= max_bytes; size *= kSizeFactor) {
      const std::size_t count = static_cast<std::size_t>(size) / sizeof(__nv_bfloat16) / n * n;
      const double seconds = time_collective(info.collective, ranks, comms, count, warmup,
                                             static_cast<int>(iterations));
      const auto bytes = static_cast<double>(count * sizeof(__nv_bfloat16));
      const double algbw = bytes / seconds;
      const double busbw = algbw * bus_factor(info.collective, gpu_count);
      std::fprintf(stderr, "%s: %-14s %12.0f bytes %10.3f us algbw %7.1f GB/s busbw %7.1f GB/s\n",
                   kProgram, info.name, bytes, seconds * 1e6, algbw / 1e9, busbw / 1e9);
      measured.add_case(csbench::JsonObject()
                            .add_string("kind", "nccl")
                            .add_string("op", info.name)
                            .add_integer("ranks", gpu_count)
                            .add_string("dtype", "bf16")
                            .add_integer("bytes", static_cast<std::int64_t>(bytes))
                            .add_number("time_s", seconds)
                            .add_number("algbw_Bps", algbw)
                            .add_number("busbw_Bps", busbw)
                            .add_integer("iterations", iterations)
                            .add_string("timing", "mean"));
    }
  }
  csbench::write_text(measured.render(), output_path);
  return csbench::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return csbench::run_guarded(kProgram, [&] { return run(argc, argv); });
}
