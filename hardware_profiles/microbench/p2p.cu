// cs_p2p: peer-to-peer copy bandwidth between GPU 0 and every other GPU, with cudaMemcpyPeerAsync.
//
// For each GPU d > 0: "uni" 0 -> d (and d -> 0 with --reverse), and "bi" (0 -> d and d -> 0 at
// once, on one stream per GPU). Peer access is enabled where cudaDeviceCanAccessPeer allows it
// (NVLink or PCIe P2P); without it the driver stages copies through the host, and the case says
// "peer_access": false. The median of --runs copies, each timed with CUDA events on GPU 0's
// stream, is reported. "bytes" is the data moved by one timed copy: the buffer size for "uni",
// twice that for "bi"; bandwidth_Bps = bytes / time_s.
//
// Exit status: 0 measured, 1 a CUDA call failed, 2 bad command line, 77 fewer than 2 GPUs.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda_support.cuh"
#include "options.hpp"

namespace {

constexpr const char* kProgram = "cs_p2p";
constexpr std::int64_t kBytesDefault = std::int64_t{256} << 20;
constexpr std::int64_t kBytesQuick = std::int64_t{8} << 20;
constexpr int kWarmup = 2;

// Enables peer access from `device` to `peer` for the guard's lifetime, when the hardware allows.
class PeerAccess {
 public:
  PeerAccess(int device, int peer) : device_(device), peer_(peer) {
    int possible = 0;
    CS_CUDA(cudaDeviceCanAccessPeer(&possible, device, peer));
    if (possible == 0) return;
    const csbench::ScopedDevice on(device);
    const cudaError_t status = cudaDeviceEnablePeerAccess(peer, 0);
    if (status == cudaErrorPeerAccessAlreadyEnabled) {
      (void)cudaGetLastError();  // clears the error; access stays enabled, and not by us
      enabled_ = true;
      return;
    }
    CS_CUDA(status);
    enabled_ = true;
    owned_ = true;
  }
  ~PeerAccess() {
    if (!owned_) return;
    const csbench::ScopedDevice on(device_);
    csbench::warn_if_failed(cudaDeviceDisablePeerAccess(peer_), "cudaDeviceDisablePeerAccess");
  }
  PeerAccess(const PeerAccess&) = delete;
  PeerAccess& operator=(const PeerAccess&) = delete;

  [[nodiscard]] bool enabled() const { return enabled_; }

 private:
  int device_;
  int peer_;
  bool enabled_ = false;
  bool owned_ = false;
};

// A source and a destination buffer and a stream on one GPU.
struct GpuSide {
  int device = 0;
  csbench::DeviceArray<std::uint8_t> source;
  csbench::DeviceArray<std::uint8_t> destination;
  csbench::Stream stream;
};

GpuSide make_side(int device, std::size_t bytes) {
  const csbench::ScopedDevice on(device);
  GpuSide side{device, csbench::DeviceArray<std::uint8_t>(bytes),
               csbench::DeviceArray<std::uint8_t>(bytes), csbench::make_stream()};
  CS_CUDA(cudaMemset(side.source.get(), device + 1, bytes));
  CS_CUDA(cudaMemset(side.destination.get(), 0, bytes));
  return side;
}

void copy(const GpuSide& from, const GpuSide& to, cudaStream_t stream) {
  CS_CUDA(cudaMemcpyPeerAsync(to.destination.get(), to.device, from.source.get(), from.device,
                              from.source.bytes(), stream));
}

csbench::JsonObject p2p_case(int src, int dst, const char* direction, std::size_t bytes,
                             bool peer_access, const std::vector<double>& seconds) {
  const double median_s = csbench::median(seconds);
  std::fprintf(stderr, "%s: %d -> %d %-3s %12zu bytes %10.3f us %8.1f GB/s\n", kProgram, src, dst,
               direction, bytes, median_s * 1e6, static_cast<double>(bytes) / median_s / 1e9);
  csbench::JsonObject json;
  json.add_string("kind", "p2p")
      .add_integer("src", src)
      .add_integer("dst", dst)
      .add_string("direction", direction)
      .add_integer("bytes", static_cast<std::int64_t>(bytes))
      .add_number("time_s", median_s)
      .add_number("bandwidth_Bps", static_cast<double>(bytes) / median_s)
      .add_number("min_time_s", *std::min_element(seconds.begin(), seconds.end()))
      .add_integer("runs", static_cast<std::int64_t>(seconds.size()))
      .add_bool("peer_access", peer_access);
  return json;
}

void measure_pair(csbench::MeasuredFile& measured, int peer, std::size_t bytes, int runs,
                  bool reverse) {
  const PeerAccess forward(0, peer);
  const PeerAccess backward(peer, 0);
  const bool peer_access = forward.enabled() && backward.enabled();
  const GpuSide zero = make_side(0, bytes);
  const GpuSide other = make_side(peer, bytes);
  CS_CUDA(cudaSetDevice(0));
  const csbench::TimingPlan plan{kWarmup, runs, nullptr};

  const std::vector<double> forward_s =
      csbench::time_runs(zero.stream.get(), plan, [&] { copy(zero, other, zero.stream.get()); });
  measured.add_case(p2p_case(0, peer, "uni", bytes, peer_access, forward_s));

  if (reverse) {
    // Timed on GPU 0's stream as well, so that every event of this program lives on GPU 0.
    const std::vector<double> backward_s =
        csbench::time_runs(zero.stream.get(), plan, [&] { copy(other, zero, zero.stream.get()); });
    measured.add_case(p2p_case(peer, 0, "uni", bytes, peer_access, backward_s));
  }

  // Both directions at once: GPU `peer`'s stream waits for the start on GPU 0's stream, and GPU 0's
  // stream waits for the peer's copy before the stop event.
  const csbench::Event go = csbench::make_event();
  const csbench::Event peer_done = [peer] {
    const csbench::ScopedDevice on(peer);
    return csbench::make_event();
  }();
  const std::vector<double> both_s = csbench::time_runs(zero.stream.get(), plan, [&] {
    CS_CUDA(cudaEventRecord(go.get(), zero.stream.get()));
    copy(zero, other, zero.stream.get());
    {
      const csbench::ScopedDevice on(peer);
      CS_CUDA(cudaStreamWaitEvent(other.stream.get(), go.get(), 0));
      copy(other, zero, other.stream.get());
      CS_CUDA(cudaEventRecord(peer_done.get(), other.stream.get()));
    }
    CS_CUDA(cudaStreamWaitEvent(zero.stream.get(), peer_done.get(), 0));
  });
  measured.add_case(p2p_case(0, peer, "bi", 2 * bytes, peer_access, both_s));
  {
    const csbench::ScopedDevice on(peer);
    CS_CUDA(cudaStreamSynchronize(other.stream.get()));
  }
}

int run(int argc, char** argv) {
  std::optional<std::string> output_path;
  bool quick = false;
  std::int64_t runs = 20;
  std::int64_t bytes = kBytesDefault;
  bool reverse = false;
  csbench::OptionParser options(kProgram,
                                "Peer-to-peer copy bandwidth (cudaMemcpyPeerAsync) between GPU 0 "
                                "and each other GPU,\none way and both ways. Needs 2 GPUs. Writes "
                                "a clustersim-measured/1 JSON file.");
  options.add_path("-o", "FILE", "write the JSON to FILE instead of stdout", &output_path);
  options.add_flag("--quick", "8 MiB copies (a test, not a measurement)", &quick);
  options.add_integer("--runs", "N", "timed copies per case; the median is reported (20)", &runs,
                      10, 100000);
  options.add_integer("--bytes", "BYTES", "bytes per copy, e.g. 1Gi (256Mi)", &bytes,
                      std::int64_t{1} << 10, std::int64_t{1} << 40);
  options.add_flag("--reverse", "also measure d -> 0 one way", &reverse);
  if (const std::optional<int> exit_status = options.parse(argc, argv)) return *exit_status;

  int gpu_count = 0;
  if (csbench::skip_without_gpus(kProgram, 2, gpu_count)) return csbench::kExitSkip;
  if (quick) {
    runs = 10;
    bytes = kBytesQuick;
  }

  CS_CUDA(cudaSetDevice(0));
  csbench::MeasuredFile measured(kProgram, csbench::describe_machine(0, gpu_count));
  if (quick) measured.mark_quick();
  for (int peer = 1; peer < gpu_count; ++peer) {
    measure_pair(measured, peer, static_cast<std::size_t>(bytes), static_cast<int>(runs), reverse);
  }
  csbench::write_text(measured.render(), output_path);
  return csbench::kExitSuccess;
}

}  // namespace

int main(int argc, char** argv) {
  return csbench::run_guarded(kProgram, [&] { return run(argc, argv); });
}
