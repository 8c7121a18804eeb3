#pragma once
// A hardware profile: one GPU type and the node it sits in (scale-up domain, NICs, PCIe), with
// prices as labelled assumptions. See hardware_profiles/*.yaml; every number there has its source.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/software_stack.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"

namespace clustersim::config {

struct GpuSpec {
  std::string model;  // "NVIDIA H800 SXM5 80GB"
  int sm_count = 0;
  Frequency boost_clock;
  std::array<std::optional<FlopRate>, kAllDtypes.size()> dense_peak;  // by dtype_index()
  DataSize memory_capacity;
  Bandwidth memory_bandwidth;
  std::optional<Power> tdp;

  [[nodiscard]] std::optional<FlopRate> peak(Dtype dtype) const {
    return dense_peak[dtype_index(dtype)];
  }
};

struct ScaleUpSpec {  // NVLink / NVSwitch domain
  std::string technology;
  int domain_size = 0;            // GPUs that share one scale-up fabric
  Bandwidth aggregate_bandwidth;  // per GPU, both directions together (spec-sheet figure)
  double efficiency = 1;          // achievable share of the per-direction bandwidth, measured
  SimTime latency;

  [[nodiscard]] Bandwidth per_direction() const {
    return Bandwidth{aggregate_bandwidth.bytes_per_s / 2};
  }
  [[nodiscard]] Bandwidth achievable() const {
    return Bandwidth{per_direction().bytes_per_s * efficiency};
  }
};

// The scale-out network's link layer: what its switches and NICs speak. It sets the latencies
// (ISCA'25 Table 5), the achievable share of the line rate, and the parts the network is priced
// with (the cost profile).
enum class LinkLayer { infiniband, roce };

inline constexpr std::array<EnumName<LinkLayer>, 2> kLinkLayerNames{
    {{"infiniband", LinkLayer::infiniband}, {"roce", LinkLayer::roce}}};

[[nodiscard]] constexpr std::string_view to_string(LinkLayer layer) {
  return name_of(kLinkLayerNames, layer);
}

struct ScaleOutSpec {  // InfiniBand / RoCE NICs
  std::string technology;
  LinkLayer link_layer = LinkLayer::infiniband;
  int nics_per_node = 0;
  Bandwidth nic_bandwidth;   // per NIC, one direction (line rate)
  double efficiency = 1;     // achievable share of the line rate, measured
  SimTime latency;           // end to end, same leaf switch (NIC -> leaf -> NIC)
  SimTime switch_latency;    // added per switch-to-switch link crossed (half the cross-leaf extra)
  std::string cost_profile;  // prices the network's parts (hardware_profiles/costs/)

  [[nodiscard]] Bandwidth achievable() const {
    return Bandwidth{nic_bandwidth.bytes_per_s * efficiency};
  }
};

struct PcieSpec {
  int generation = 0;
  int lanes = 0;
  Bandwidth bandwidth;  // per direction
};

// How fast the SMs a communication kernel holds move data: the kernel's throughput out of one GPU
// is at most (SMs pushing data) x (rate per SM), whatever the links allow. DeepEP's normal kernels
// push with half their SMs (one of the two SMs of each channel: sender or forwarder); an NCCL
// collective with one SM per channel.
struct CommunicationSpec {
  Bandwidth nvlink_copy_per_sm;  // one SM storing to peer GPUs over NVLink
  Bandwidth rdma_copy_per_sm;    // one SM copying tokens between HBM and RDMA buffers
  int nccl_channels = 0;         // the channels (SMs) NCCL's collectives run on
};

// What running the GPUs costs in energy: each draws power_fraction x its TDP on average while it
// trains, the data centre's PUE scales that to the facility's draw, and a kWh costs
// electricity_usd_per_kwh.
struct EnergySpec {
  std::optional<double> power_fraction;  // of the TDP, on average over a training run
  std::optional<double> pue;             // facility power / IT power (>= 1)
  std::optional<double> electricity_usd_per_kwh;
};

struct PriceSpec {  // assumptions a user overrides, not facts
  std::optional<double> gpu_hour_usd;
  std::optional<double> capex_per_gpu_usd;
  EnergySpec energy;
};

// One point of a measured throughput curve: at `x` (a sequence length, a message size), `rate`.
struct RatePoint {
  double x = 0;
  FlopRate rate;
};

// One attention kernel's curves at one head dim other than its main curves'.
struct HeadDimCurves {
  int head_dim = 0;
  std::vector<RatePoint> forward, backward;  // either may be empty
};

// One attention kernel's throughput against the keys a query attends to, FlashAttention FLOP
// convention (forward 4 s^2 d h, halved when causal; backward 2.5 x forward). Ascending x.
//
// The curves measure one head dim (`head_dim`); `head_dims` holds the same kernel's curves at
// others, where the source measured them (a pass may be missing at some). The rate at a head
// dim between two measured ones interpolates the time per attention score linearly in the head
// dim (a score costs the softmax's fixed work plus matrix work in proportion to d); beyond the
// measured head dims a pass runs at the nearest one's rate.
struct AttentionCurves {
  std::optional<AttentionKernel> kernel;  // the kernel the curves measured
  std::vector<RatePoint> forward, backward;
  int head_dim = 128;                    // the head dim `forward` and `backward` measure
  std::vector<HeadDimCurves> head_dims;  // at other head dims, ascending
  // The SM clock the curves were measured at, when the source fixed it.
  std::optional<Frequency> clock;
};

// How fast kernels run, as opposed to what the spec sheet says the silicon can do. Every number
// here comes from a measurement (a shipped microbenchmark file or a published table) named in the
// profile; sim/compute turns them into kernel times.
struct ComputeSpec {
  int gemm_tile_m = 128;  // output tile of one thread block of the GEMM kernels
  int gemm_tile_n = 128;
  // Share of the dense peak a large, wave-aligned GEMM reaches, by dtype_index().
  std::array<std::optional<double>, kAllDtypes.size()> gemm_peak_efficiency;
  // The W pass (weight gradient: the token dimension is the reduction) against the rate of the
  // same shape as a forward GEMM, by dtype_index(); absent: the same rate. A measured ratio
  // (FP8 weight-gradient kernels scale both operands per token along the reduction and
  // accumulate into the FP32 gradient).
  std::array<std::optional<double>, kAllDtypes.size()> gemm_weight_gradient_share;
  // The SM clock the measured GEMM tables ran at; scaled to sustained_clock like attention.
  std::optional<Frequency> gemm_clock;
  // Share of HBM bandwidth the FP8 quantise / cast / transpose kernels reach (absent: that of a
  // streaming copy, memory_efficiency).
  std::optional<double> quantize_efficiency;
  // Measured GEMM files (format clustersim-measured/1), by dtype_index(); resolved paths.
  std::array<std::optional<std::string>, kAllDtypes.size()> gemm_measured;
  // The attention curves the experiment runs at (compute.attention; the kernel a stack picks
  // from other_attention takes their place in the experiment's copy of the profile).
  AttentionCurves attention;
  // Curves of other attention kernels the GPU runs (compute.other_attention), each kernel named.
  std::vector<AttentionCurves> other_attention;
  // The clock the GPU sustains under full tensor-core load; curves measured at a fixed clock
  // are scaled by sustained / measured. Tables measured on the GPU itself (GEMM) already run at
  // its clock.
  std::optional<Frequency> sustained_clock;
  double memory_efficiency = 1;  // share of HBM bandwidth a streaming kernel reaches
  SimTime launch_latency;        // per kernel, when kernels are launched back to back

  [[nodiscard]] std::optional<double> peak_efficiency(Dtype dtype) const {
    return gemm_peak_efficiency[dtype_index(dtype)];
  }
};

struct HardwareProfile {
  std::string name;
  std::string description;
  GpuSpec gpu;
  ScaleUpSpec scale_up;
  std::optional<ScaleOutSpec> scale_out;
  std::optional<PcieSpec> pcie;
  std::optional<CommunicationSpec> communication;  // absent: no SM ceiling on communication
  std::optional<ComputeSpec> compute;
  PriceSpec price;
};

// The cost profile that prices this hardware's network: its scale-out link layer's, or the
// InfiniBand one for a profile without a network.
[[nodiscard]] inline std::string network_cost_profile(const HardwareProfile& hardware) {
  return hardware.scale_out && !hardware.scale_out->cost_profile.empty()
             ? hardware.scale_out->cost_profile
             : "ib_as_bought";
}

}  // namespace clustersim::config
