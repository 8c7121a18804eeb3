#include "sim/workload/moe_routing.hpp"

#include <gtest/gtest.h>

namespace clustersim::workload {
namespace {

ExpertLoadSpec spec(int experts, int ep, double zipf = 0, std::uint64_t seed = 1) {
  ExpertLoadSpec s;
  s.experts = experts;
  s.ep = ep;
  s.zipf = zipf;
  s.seed = seed;
  return s;
}

TEST(ExpertLoad, UniformRoutingLoadsEveryRankEvenly) {
  const ExpertLoad load = expert_load(spec(256, 64));
  EXPECT_DOUBLE_EQ(load.load_factor, 1.0);
  EXPECT_DOUBLE_EQ(load.dropped, 0.0);
}

TEST(ExpertLoad, TheBusiestRankSetsThePace) {
  // Ranks hold experts {0, 1} and {2, 3}: 3 and 1 tokens against a mean of 2.
  const ExpertLoad load = expert_load({.experts = 4, .ep = 2, .histogram = {2, 1, 1, 0}});
  EXPECT_DOUBLE_EQ(load.load_factor, 1.5);
  EXPECT_DOUBLE_EQ(load.dropped, 0.0);
}

TEST(ExpertLoad, CapacityRoutingDropsWhatExceedsTheCapacity) {
  // Capacity 1 x the mean expert's 1 token: expert 0 keeps 1 of its 2.
  const ExpertLoad load = expert_load(
      {.experts = 4, .ep = 2, .histogram = {2, 1, 1, 0}, .capacity = true, .capacity_factor = 1});
  EXPECT_DOUBLE_EQ(load.load_factor, 1.0);
  EXPECT_DOUBLE_EQ(load.dropped, 0.25);
}

TEST(ExpertLoad, ZipfSkewGrowsWithItsExponentAndIsSeeded) {
  const auto factor = [](double exponent) {
    return expert_load(spec(256, 64, exponent)).load_factor;
  };
  EXPECT_GT(factor(0.2), 1.0);
  EXPECT_GT(factor(0.6), factor(0.2));
  EXPECT_DOUBLE_EQ(factor(0.4), factor(0.4));
  EXPECT_NE(expert_load(spec(256, 64, 0.4, 2)).load_factor, factor(0.4));
}

}  // namespace
}  // namespace clustersim::workload
