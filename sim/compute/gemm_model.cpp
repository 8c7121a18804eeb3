#include "sim/compute/gemm_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace clustersim::compute {

namespace {

constexpr double kOutputBytes = 2;  // GEMM outputs are BF16

long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

std::array<double, 4> coordinates(const GemmShape& shape) {
  return {std::log(static_cast<double>(shape.m)), std::log(static_cast<double>(shape.n)),
          std::log(static_cast<double>(shape.k)), std::log(static_cast<double>(shape.groups))};
}

}  // namespace

double input_bytes(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp8:
      return 1;
    case Dtype::bf16:
    case Dtype::fp16:
      return 2;
    case Dtype::tf32:
    case Dtype::fp32:
      return 4;
  }
  return 2;
}

GemmModel::GemmModel(const config::HardwareProfile& profile, const std::vector<MeasuredCase>& table)
    : profile_(profile) {
  const auto usable = [](const MeasuredCase& c) {
    return c.kind == CaseKind::gemm && c.reserved_sms == 0;
  };
  const auto shape_of = [](const MeasuredCase& c) {
    return GemmShape{c.m, c.n, c.k, c.groups, c.dtype};
  };
  // The fixed cost of a table: the least time any of its kernels takes beyond its analytic time.
  std::array<double, kAllDtypes.size()> least_excess;
  least_excess.fill(kInf);
  for (const MeasuredCase& c : table) {
    if (!usable(c)) continue;
    const GemmShape shape = shape_of(c);
    const double analytic = analytic_rate(shape, profile.gpu.sm_count).flop_per_s;
    double& least = least_excess[dtype_index(c.dtype)];
    least = std::min(least, shape.flop() / c.value - shape.flop() / analytic);
  }
  for (std::size_t d = 0; d < fixed_s_.size(); ++d) {
    fixed_s_[d] = std::isfinite(least_excess[d]) ? std::max(0.0, least_excess[d]) : 0.0;
  }
  // Each point's ratio is that of its time less the fixed cost.
  for (const MeasuredCase& c : table) {
    if (!usable(c)) continue;
    const GemmShape shape = shape_of(c);
    const std::size_t index = dtype_index(c.dtype);
    const double analytic = analytic_rate(shape, profile.gpu.sm_count).flop_per_s;
    const double compute_s = shape.flop() / c.value - fixed_s_[index];
    const std::array<double, 4> at = coordinates(shape);
    tables_[index].push_back({at, std::log(shape.flop() / compute_s / analytic)});
    for (std::size_t i = 0; i < at.size(); ++i) {
      bounds_[index].low[i] = std::min(bounds_[index].low[i], at[i]);
      bounds_[index].high[i] = std::max(bounds_[index].high[i], at[i]);
    }
  }
}

FlopRate GemmModel::analytic_rate(const GemmShape& shape, int sms) const {
  const config::GpuSpec& gpu = profile_.gpu;
  const std::optional<FlopRate> peak = gpu.peak(shape.dtype);
  if (!peak) {
    throw std::invalid_argument(fmt::format("hardware profile {} has no {} dense peak",
                                            profile_.name, dtype_name(shape.dtype)));
  }
  const std::optional<double> efficiency =
      profile_.compute ? profile_.compute->peak_efficiency(shape.dtype) : std::nullopt;
  if (!efficiency) {
    throw std::invalid_argument(
        fmt::format("hardware profile {} has no compute.gemm.peak_efficiency.{}", profile_.name,
                    dtype_name(shape.dtype)));
  }
  if (sms < 1 || sms > gpu.sm_count) {
    throw std::invalid_argument(fmt::format("{} SMs asked of a GPU with {}", sms, gpu.sm_count));
  }
  const config::ComputeSpec& compute = *profile_.compute;
  const long long tiles = shape.groups * ceil_div(shape.m, compute.gemm_tile_m) *
                          ceil_div(shape.n, compute.gemm_tile_n);
  const long long waves = ceil_div(tiles, sms);
  const double wave_share = static_cast<double>(tiles) / static_cast<double>(waves * sms);
  const double compute_rate = peak->flop_per_s * *efficiency * sms / gpu.sm_count * wave_share;
  const double flop = shape.flop();
  const double m = static_cast<double>(shape.m);
  const double n = static_cast<double>(shape.n);
  const double k = static_cast<double>(shape.k);
  const double bytes =
      shape.groups * ((m * k + k * n) * input_bytes(shape.dtype) + m * n * kOutputBytes);
  const double memory_rate = gpu.memory_bandwidth.bytes_per_s * compute.memory_efficiency;
  const double seconds = std::max(flop / compute_rate, bytes / memory_rate);
  return FlopRate{flop / seconds};
}

double GemmModel::table_ratio(const GemmShape& shape) const {
  const std::size_t index = dtype_index(shape.dtype);
  const std::vector<TablePoint>& table = tables_[index];
  if (table.empty()) return 1;
  // Beyond the measured range the ratio stays at the range's edge.
  std::array<double, 4> at = coordinates(shape);
  for (std::size_t i = 0; i < at.size(); ++i) {
    at[i] = std::clamp(at[i], bounds_[index].low[i], bounds_[index].high[i]);
  }
  // The nearest kNearest points, nearest first: (squared distance, log ratio).
  std::array<std::pair<double, double>, kNearest> near{};
  std::size_t count = 0;
  for (const TablePoint& point : table) {
    double distance2 = 0;
    for (std::size_t i = 0; i < at.size(); ++i) {
      const double d = at[i] - point.coordinates[i];
      distance2 += d * d;
    }
    if (distance2 < 1e-18) return std::exp(point.log_ratio);
    if (count == kNearest && distance2 >= near[kNearest - 1].first) continue;
    std::size_t slot = count < kNearest ? count++ : kNearest - 1;
    for (; slot > 0 && near[slot - 1].first > distance2; --slot) near[slot] = near[slot - 1];
    near[slot] = {distance2, point.log_ratio};
  }
  double weight_sum = 0;
  double weighted = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const double distance2 = near[i].first;
    const double weight = 1 / (distance2 * distance2);  // inverse distance to the fourth power
    weight_sum += weight;
    weighted += weight * near[i].second;
  }
  return std::exp(weighted / weight_sum);
}

FlopRate GemmModel::rate(const GemmShape& shape, int sms) const {
  const double compute = analytic_rate(shape, sms).flop_per_s * table_ratio(shape);
  const double fixed = fixed_s_[dtype_index(shape.dtype)];
  if (fixed <= 0 || tables_[dtype_index(shape.dtype)].empty()) return FlopRate{compute};
  return FlopRate{shape.flop() / (fixed + shape.flop() / compute)};
}

SimTime GemmModel::time(const GemmShape& shape, int sms) const {
  if (shape.m <= 0 || shape.n <= 0 || shape.k <= 0 || shape.groups <= 0) return SimTime::zero();
  return SimTime::from_computed_seconds(shape.flop() / rate(shape, sms).flop_per_s);
}

}  // namespace clustersim::compute
