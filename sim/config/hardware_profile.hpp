#pragma once
// A hardware profile: one GPU type and the node it sits in (scale-up domain, NICs, PCIe), with
// prices as labelled assumptions. See hardware_profiles/*.yaml; every number there has its source.

#include <array>
#include <optional>
#include <string>

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

struct ScaleOutSpec {  // InfiniBand / RoCE NICs
  std::string technology;
  int nics_per_node = 0;
  Bandwidth nic_bandwidth;  // per NIC, one direction (line rate)
  double efficiency = 1;    // achievable share of the line rate, measured
  SimTime latency;          // end to end, same leaf switch

  [[nodiscard]] Bandwidth achievable() const {
    return Bandwidth{nic_bandwidth.bytes_per_s * efficiency};
  }
};

struct PcieSpec {
  int generation = 0;
  int lanes = 0;
  Bandwidth bandwidth;  // per direction
};

struct PriceSpec {  // assumptions a user overrides, not facts
  std::optional<double> gpu_hour_usd;
  std::optional<double> capex_per_gpu_usd;
};

struct HardwareProfile {
  std::string name;
  std::string description;
  GpuSpec gpu;
  ScaleUpSpec scale_up;
  std::optional<ScaleOutSpec> scale_out;
  std::optional<PcieSpec> pcie;
  PriceSpec price;
};

}  // namespace clustersim::config
