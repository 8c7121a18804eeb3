#pragma once
// How unevenly routed tokens load the expert-parallel ranks. Every rank of an EP group waits
// for the slowest in the all-to-all, so a dropless MoE layer runs at the pace of the busiest
// rank: its experts compute `load_factor` x the mean token-expert pairs. With capacity routing
// each expert takes at most capacity_factor x its even share; the rest are dropped.
//
// Expert popularity is either a stated distribution, Zipf with exponent s (popularity of the
// i-th most popular expert proportional to i^-s, over a seeded permutation of the experts, as
// the EP all-to-all simulation draws it), or a measured histogram (tokens per expert, experts in
// order, expert e on rank e / experts_per_rank).

#include <cstdint>
#include <vector>

namespace clustersim::workload {

struct ExpertLoadSpec {
  int experts = 0;
  int ep = 1;
  double zipf = 0;                // 0: uniform
  std::vector<double> histogram;  // when given, replaces zipf
  bool capacity = false;          // capacity routing (else dropless)
  double capacity_factor = 1;
  std::uint64_t seed = 1;
};

struct ExpertLoad {
  // The busiest rank's token-expert pairs over the mean rank's (>= 1 dropless).
  double load_factor = 1;
  // Share of the pairs capacity routing drops (0 dropless).
  double dropped = 0;
};

[[nodiscard]] ExpertLoad expert_load(const ExpertLoadSpec& spec);

}  // namespace clustersim::workload
