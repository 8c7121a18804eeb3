// Rank placement: groups along each dimension, EP groups carved from a stage's ranks, and the
// DeepSeek-V3 layout on 2048 GPUs (EP64 spanning 8 nodes, pipeline neighbours on other nodes).

#include <gtest/gtest.h>

#include <set>

#include "sim/parallel/parallel_layout.hpp"

namespace clustersim::parallel {
namespace {

TEST(ParallelLayout, CoordinatesRoundTrip) {
  const ParallelLayout layout({2, 2, 4, 3, 4}, 8);
  ASSERT_EQ(layout.gpus(), 48);
  std::set<int> seen;
  for (int g = 0; g < layout.gpus(); ++g) {
    EXPECT_EQ(layout.gpu(layout.coordinates(g)), g);
    seen.insert(g);
  }
  EXPECT_EQ(seen.size(), 48u);
}

TEST(ParallelLayout, TensorParallelGroupsAreInnermost) {
  const ParallelLayout layout({4, 1, 4, 2, 1}, 8);
  EXPECT_EQ(layout.group(5, Dimension::tp), (std::vector<int>{4, 5, 6, 7}));
  EXPECT_EQ(layout.group(5, Dimension::dp), (std::vector<int>{1, 5, 9, 13}));
  EXPECT_EQ(layout.group(5, Dimension::pp), (std::vector<int>{5, 21}));
}

TEST(ParallelLayout, DeepSeekV3On2048Gpus) {
  // PP16, EP64, DP128, no TP (TR §3.2).
  const ParallelLayout layout({1, 1, 128, 16, 64}, 8);
  ASSERT_EQ(layout.gpus(), 2048);
  for (int g : {0, 77, 1000, 2047}) {
    const std::vector<int> ep = layout.ep_group(g);
    ASSERT_EQ(ep.size(), 64u);
    EXPECT_EQ(layout.nodes_spanned(ep), 8) << g;
    EXPECT_EQ(layout.edp_group(g).size(), 2u);
    const std::vector<int> pp = layout.group(g, Dimension::pp);
    EXPECT_EQ(layout.nodes_spanned(pp), 16);
  }
  EXPECT_EQ(layout.ep_groups(3).size(), 2u);
  EXPECT_EQ(layout.ep_groups(3)[1].front(), 3 * 128 + 64);
  // The same experts sit 64 GPUs apart, on the other 8 nodes of the stage.
  EXPECT_EQ(layout.edp_group(130), (std::vector<int>{130, 194}));
}

TEST(ParallelLayout, GradientsReduceOverDataAndContextParallelRanks) {
  // tp 2 x cp 2 x dp 2 x pp 2 on 8-GPU nodes: g = tp + 2 (cp + 2 (dp + 2 pp)). The ranks summing
  // a GPU's dense gradients share its tp position and stage: every cp and dp rank, in placement
  // order (Megatron-Core's dp_cp group).
  const ParallelLayout layout({2, 2, 2, 2, 1}, 8);
  EXPECT_EQ(layout.dp_cp_group(0), (std::vector<int>{0, 2, 4, 6}));
  EXPECT_EQ(layout.dp_cp_group(13), (std::vector<int>{9, 11, 13, 15}));
  EXPECT_EQ(layout.group(13, Dimension::dp), (std::vector<int>{9, 13}));
  // Without CP it is the data-parallel group.
  const ParallelLayout no_cp({4, 1, 4, 2, 1}, 8);
  for (int g : {0, 5, 22}) EXPECT_EQ(no_cp.dp_cp_group(g), no_cp.group(g, Dimension::dp)) << g;
  // Another order keeps the members and their placement order.
  const ParallelLayout dp_inside({2, 2, 2, 1, 1}, 8,
                                 {Dimension::tp, Dimension::dp, Dimension::cp, Dimension::pp});
  EXPECT_EQ(dp_inside.dp_cp_group(1), (std::vector<int>{1, 3, 5, 7}));
}

TEST(ParallelLayout, OtherOrdersPlaceDimensionsDifferently) {
  const ParallelLayout layout({2, 1, 2, 4, 1}, 8,
                              {Dimension::pp, Dimension::tp, Dimension::cp, Dimension::dp});
  EXPECT_EQ(layout.group(0, Dimension::pp), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(layout.group(0, Dimension::tp), (std::vector<int>{0, 4}));
}

TEST(ParallelLayout, ExpertTensorParallelismFoldsInsideTheStage) {
  // tp 2 x dp 8 on 8-GPU nodes, ep 4 x etp 2: each expert's FFN is split over two neighbours,
  // an EP group's ranks are etp apart, and two replicas hold the same experts.
  const ParallelLayout layout({2, 1, 8, 1, 4, 2}, 8);
  EXPECT_EQ(layout.etp_group(0), (std::vector<int>{0, 1}));
  EXPECT_EQ(layout.ep_group(0), (std::vector<int>{0, 2, 4, 6}));
  EXPECT_EQ(layout.ep_group(3), (std::vector<int>{1, 3, 5, 7}));
  EXPECT_EQ(layout.edp_group(0), (std::vector<int>{0, 8}));
  EXPECT_EQ(layout.ep_groups(0).size(), 4u);  // 16 ranks in groups of 4
  EXPECT_EQ(layout.coordinates(5).etp, 1);
  EXPECT_EQ(layout.coordinates(5).ep, 2);
  EXPECT_EQ(layout.coordinates(13).edp, 1);
  EXPECT_THROW(ParallelLayout({2, 1, 8, 1, 4, 8}, 8), std::invalid_argument);
}

TEST(ParallelLayout, BadSizesAreRejected) {
  EXPECT_THROW(ParallelLayout({1, 1, 6, 2, 4}, 8), std::invalid_argument);
  EXPECT_THROW(ParallelLayout({1, 1, 4, 2, 1}, 8,
                              {Dimension::tp, Dimension::tp, Dimension::dp, Dimension::pp}),
               std::invalid_argument);
}

}  // namespace
}  // namespace clustersim::parallel
