#pragma once
// The simulator's prediction for every case of a measured file (clustersim-measured/1), next to
// the measurement, and a calibrated profile written from the measurements.
//
// Predictions per kind:
//   gemm            ComputeModel's GEMM rate on the SMs the case left free (sm_count minus the
//                   SMs a persistent kernel held). Leave-one-out: a shape that the profile's own
//                   GEMM tables contain is predicted from the other table points, so a file that
//                   was calibrated into the profile still shows how well the table interpolates.
//   hbm             HBM bandwidth x the profile's memory efficiency.
//   launch_latency  the profile's launch latency (no prediction when it has none).
//   p2p             the scale-up bandwidth one GPU achieves per direction (x2 both ways).
//   nccl            the collective simulated on one scale-up domain of `ranks` GPUs (ring, or
//                   direct all-to-all), bus bandwidth as nccl-tests defines it.
// Error = predicted / measured - 1.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/compute/measured_file.hpp"
#include "sim/config/hardware_profile.hpp"

namespace clustersim::report {

class CrosscheckError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CrosscheckRow {
  compute::MeasuredCase measured;
  std::string unit;  // of measured and predicted values: "TFLOP/s", "GB/s", "us"
  double measured_value = 0;
  std::optional<double> predicted_value;
  std::string note;  // why there is no prediction, or how it was made
  [[nodiscard]] std::optional<double> error() const {
    if (!predicted_value) return std::nullopt;
    return *predicted_value / measured_value - 1;
  }
};

struct KindSummary {
  std::string kind;
  int cases = 0;
  int predicted = 0;
  double median_abs_error = 0;
  double worst_error = 0;  // signed, the largest in magnitude
  std::string worst_case;
};

struct Crosscheck {
  std::string measured_path;
  std::string gpu;
  std::string profile;
  std::vector<CrosscheckRow> rows;
  std::vector<KindSummary> summary;
  // The GEMM table's fixed per-kernel cost per dtype, from the profile's whole table (seconds).
  std::vector<std::pair<Dtype, double>> gemm_fixed_cost_s;
};

// The model token of a GPU name ("NVIDIA H200 SXM 141GB" -> "h200").
[[nodiscard]] std::string gpu_key(std::string_view name);
// Throws CrosscheckError when the file was measured on another GPU than the profile describes.
void check_same_gpu(const compute::MeasuredFile& file, const config::HardwareProfile& profile);

[[nodiscard]] Crosscheck crosscheck(const compute::MeasuredFile& file,
                                    const config::HardwareProfile& profile);

[[nodiscard]] std::string to_text(const Crosscheck& result);
[[nodiscard]] nlohmann::json to_json(const Crosscheck& result);

// A hardware profile that starts from `base_reference` (a library name or a path relative to the
// output) and sets the efficiencies the measurements show: GEMM peak efficiency per dtype (best
// measured rate over the dense peak) and the measured file as the GEMM table; HBM efficiency
// (best copy or triad); launch latency (async); scale-up efficiency (best ring collective or
// unidirectional peer copy over the per-direction bandwidth). `measured_reference` is the
// measured file's path relative to the output file.
[[nodiscard]] std::string calibrated_profile(const compute::MeasuredFile& file,
                                             const config::HardwareProfile& profile,
                                             const std::string& base_reference,
                                             const std::string& measured_reference,
                                             const std::string& name);

}  // namespace clustersim::report
