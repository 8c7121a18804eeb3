#pragma once
// GEMM time on one GPU: an analytic model corrected by a table of measurements.
//
// Analytic model, for C[m x n] = A[m x k] B[k x n] repeated over `groups` (grouped experts), on
// S of the GPU's N SMs (the rest held by communication kernels):
//   tiles        = groups x ceil(m / tile_m) x ceil(n / tile_n)   one thread block per tile
//   waves        = ceil(tiles / S);  wave_share = tiles / (waves x S)   (wave quantisation)
//   compute time = 2 m n k groups / (peak x peak_efficiency x S / N x wave_share)
//   memory time  = (groups (m k + k n) x input bytes + groups m n x 2) / (HBM x memory_efficiency)
//   time         = max(compute time, memory time)                        (roofline)
// peak is the profile's dense peak for the dtype, peak_efficiency the share of it a large,
// wave-aligned GEMM reaches (a measured figure in the profile).
//
// Fixed cost: each table (per dtype) carries a per-kernel time t0 that does not scale with the
// work (launch, prologue, epilogue): the least time any of its measured kernels takes beyond its
// analytic time, and 0 where one runs at the analytic rate or faster. A larger t0 would make that
// kernel's compute faster than the model allows. A kernel takes t0 plus its work at the corrected
// rate; at a measured shape that is the measurement.
//
// Table correction: each measured case i (at all SMs) gives r_i = its work / (measured time - t0)
// over the analytic rate.
// For a query shape, log r is interpolated in the space (log m, log n, log k, log groups): the
// query is first held to the measured range in each coordinate (beyond it r stays at the edge),
// then its 8 nearest measured shapes are weighted by inverse distance to the fourth power. At a
// measured shape the prediction is the measurement. The corrected rate is the analytic rate (at S
// SMs) times r. Without a table, r = 1 and t0 = 0. Leave-one-out over the shipped tables
// (`clustersim crosscheck`; tests/compute/test_crosscheck.cpp pins DeepGEMM's), this predicts each
// held-out shape within 4-9 % (median per table); the earlier weighting over all points (power 2)
// erred 5-31 %, worst on the B200's wide-ranging table.

#include <array>
#include <limits>
#include <vector>

#include "sim/compute/measured_file.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"

namespace clustersim::compute {

struct GemmShape {
  long long m = 0, n = 0, k = 0;
  int groups = 1;
  Dtype dtype = Dtype::bf16;
  [[nodiscard]] double flop() const {
    return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * groups;
  }
};

class GemmModel {
 public:
  // `table` holds the measured GEMM cases (any dtype; cases with reserved SMs are not used).
  GemmModel(const config::HardwareProfile& profile, const std::vector<MeasuredCase>& table);

  [[nodiscard]] FlopRate analytic_rate(const GemmShape& shape, int sms) const;
  // The measured-to-analytic ratio interpolated at `shape` (1 without a table for its dtype).
  [[nodiscard]] double table_ratio(const GemmShape& shape) const;
  [[nodiscard]] FlopRate rate(const GemmShape& shape, int sms) const;
  [[nodiscard]] SimTime time(const GemmShape& shape, int sms) const;
  // The table's fixed per-kernel cost for `dtype` (0 without a table).
  [[nodiscard]] SimTime fixed_cost(Dtype dtype) const {
    return SimTime::from_computed_seconds(fixed_s_[dtype_index(dtype)]);
  }
  [[nodiscard]] bool has_table(Dtype dtype) const { return !tables_[dtype_index(dtype)].empty(); }
  [[nodiscard]] std::size_t table_size(Dtype dtype) const {
    return tables_[dtype_index(dtype)].size();
  }

 private:
  struct TablePoint {
    std::array<double, 4> coordinates;  // log m, log n, log k, log groups
    double log_ratio = 0;
  };

  // Per dtype: the smallest and largest of each coordinate among the measured shapes.
  struct Bounds {
    std::array<double, 4> low{kInf, kInf, kInf, kInf};
    std::array<double, 4> high{-kInf, -kInf, -kInf, -kInf};
  };
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  // The measured shapes that weigh in on a query: the nearest this many.
  static constexpr std::size_t kNearest = 8;

  const config::HardwareProfile& profile_;
  std::array<std::vector<TablePoint>, kAllDtypes.size()> tables_;
  std::array<Bounds, kAllDtypes.size()> bounds_;
  std::array<double, kAllDtypes.size()> fixed_s_{};  // per dtype, seconds
};

// Bytes of one value of a GEMM input in `dtype`.
[[nodiscard]] double input_bytes(Dtype dtype);

}  // namespace clustersim::compute
