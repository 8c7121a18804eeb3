#include "sim/workload/moe_routing.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace clustersim::workload {

namespace {

// A small deterministic generator (splitmix64) for the popularity permutation.
std::uint64_t next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

}  // namespace

ExpertLoad expert_load(const ExpertLoadSpec& spec) {
  ExpertLoad out;
  if (spec.experts <= 0 || spec.ep <= 0) return out;
  const auto experts = static_cast<std::size_t>(spec.experts);
  std::vector<double> load(experts, 1.0);
  if (!spec.histogram.empty()) {
    load = spec.histogram;
    load.resize(experts, 0.0);
  } else if (spec.zipf > 0) {
    std::vector<std::size_t> order(experts);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::uint64_t state = spec.seed;
    for (std::size_t i = experts; i > 1; --i) {
      std::swap(order[i - 1], order[next(state) % i]);
    }
    for (std::size_t i = 0; i < experts; ++i) {
      load[order[i]] = 1.0 / std::pow(static_cast<double>(i + 1), spec.zipf);
    }
  }
  const double total = std::accumulate(load.begin(), load.end(), 0.0);
  if (total <= 0) return out;
  const double mean_expert = total / static_cast<double>(experts);
  double kept = 0;
  if (spec.capacity) {
    for (double& l : load) l = std::min(l, spec.capacity_factor * mean_expert);
  }
  kept = std::accumulate(load.begin(), load.end(), 0.0);
  out.dropped = 1 - kept / total;
  const std::size_t per_rank =
      std::max<std::size_t>(1, experts / static_cast<std::size_t>(spec.ep));
  double busiest = 0;
  for (std::size_t first = 0; first < experts; first += per_rank) {
    const auto end = static_cast<std::ptrdiff_t>(std::min(first + per_rank, experts));
    busiest = std::max(busiest, std::accumulate(load.begin() + static_cast<std::ptrdiff_t>(first),
                                                load.begin() + end, 0.0));
  }
  // Against the mean rank of the routed (not dropped) pairs of a balanced layer.
  out.load_factor =
      busiest / (total / static_cast<double>(experts) * static_cast<double>(per_rank));
  return out;
}

}  // namespace clustersim::workload
