// DeepEP-style dispatch and combine against the DeepEP normal-kernel table on H800 + CX7 400G
// (targets.yaml expert_parallel_all_to_all: 4096 tokens, hidden 7168, top-8 of 256 experts,
// at most 4 nodes per token, FP8 dispatch, BF16 combine; tolerance 15 %).

#include "sim/collectives/expert_parallel.hpp"

#include <cmath>
#include <cstdio>

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::collectives {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

ExpertParallelResult run_ep(int ranks) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology =
      fabric::build_cluster(config::load_topology(kRoot + (ranks == 8 ? "/topologies/h800_node.yaml"
                                                                      : "/topologies/mpft.yaml")),
                            {ranks / 8, 8, &hw});
  ExpertParallelSpec spec;
  spec.ranks = topology.gpus();
  spec.max_nodes = std::min(4, ranks / 8);
  return run_expert_parallel(topology, spec);
}

TEST(ExpertParallel, RoutingMatchesTheNodeLimitedExpectation) {
  // 8 experts drawn from M nodes' experts: the expected distinct nodes per token is
  // M (1 - (1 - 1/M)^8) for large node groups (here 32 experts per node).
  const ExpertParallelResult ep64 = run_ep(64);
  EXPECT_NEAR(ep64.rdma_tokens_per_rank / 4096, 4 * (1 - std::pow(0.75, 8)), 0.03);
  EXPECT_EQ(ep64.nodes, 8);
}

// RDMA-bound cases (EP32, EP64): within the 15 % tolerance.
TEST(ExpertParallel, InternodeRdmaBoundCasesMatchDeepEp) {
  struct Row {
    int ranks;
    double dispatch, combine;  // GB/s, DeepEP README (2025-04)
  };
  for (const Row& row : {Row{32, 58, 57}, Row{64, 51, 50}}) {
    SCOPED_TRACE(row.ranks);
    const ExpertParallelResult r = run_ep(row.ranks);
    EXPECT_NEAR(r.dispatch_rdma_bytes_per_s / 1e9, row.dispatch, 0.15 * row.dispatch);
    EXPECT_NEAR(r.combine_rdma_bytes_per_s / 1e9, row.combine, 0.15 * row.combine);
  }
}

// NVLink-bound cases (EP8 intranode, EP16): the model's NVLink all-to-all is faster than DeepEP
// measured (known gap, see the README); pinned so a change shows, not to hide it.
TEST(ExpertParallel, NvlinkBoundCasesKnownGap) {
  const ExpertParallelResult ep8 = run_ep(8);
  EXPECT_NEAR(ep8.dispatch_nvl_bytes_per_s / 1e9, 180.5, 2.0);  // DeepEP: 153
  EXPECT_NEAR(ep8.combine_nvl_bytes_per_s / 1e9, 180.8, 2.0);   // DeepEP: 158
  const ExpertParallelResult ep16 = run_ep(16);
  EXPECT_NEAR(ep16.dispatch_rdma_bytes_per_s / 1e9, 55.2, 1.0);  // DeepEP: 43
}

TEST(ExpertParallel, BadRequestsAreClearErrors) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology =
      fabric::build_cluster(config::load_topology(kRoot + "/topologies/mpft.yaml"), {2, 8, &hw});
  auto message = [&](ExpertParallelSpec spec) -> std::string {
    try {
      (void)run_expert_parallel(topology, spec);
    } catch (const CollectiveError& error) {
      return error.what();
    }
    return "(no error)";
  };
  ExpertParallelSpec spec;
  spec.ranks = topology.gpus();
  spec.max_nodes = 4;
  EXPECT_EQ(message(spec), "a token may go to at most 4 nodes, but the EP group spans 2");
  spec.max_nodes = 2;
  spec.tokens_per_rank = 0;
  EXPECT_EQ(message(spec), "tokens per rank and hidden size must be positive, got 0 and 7168");
  spec.tokens_per_rank = 16;
  spec.experts = 250;
  EXPECT_EQ(message(spec), "250 experts do not spread evenly over 16 EP ranks");
}

}  // namespace
}  // namespace clustersim::collectives

namespace clustersim::collectives {
namespace {

// DeepEP low-latency kernels (128 tokens, top-8, FP8 dispatch): latency grows with EP size as more
// of each token's experts sit on other nodes, and levels off (77, 118, 155, 173, 192, 194 us).
TEST(ExpertParallel, LowLatencyDispatchGrowsWithEpSizeAndLevelsOff) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  std::vector<double> times;
  for (int ranks : {8, 16, 32, 64}) {
    const fabric::Topology topology = fabric::build_cluster(
        config::load_topology(
            kRoot + (ranks == 8 ? "/topologies/h800_node.yaml" : "/topologies/mpft.yaml")),
        {ranks / 8, 8, &hw});
    ExpertParallelSpec spec;
    spec.ranks = topology.gpus();
    spec.tokens_per_rank = 128;
    spec.max_nodes = ranks / 8;  // the low-latency benchmark does not limit nodes
    spec.low_latency = true;
    times.push_back(run_expert_parallel(topology, spec).dispatch.time.seconds());
  }
  for (std::size_t i = 1; i < times.size(); ++i) EXPECT_GT(times[i], times[i - 1]);
  // Levelling off as in the table (EP32 -> EP64 adds 12 %): each doubling adds less.
  EXPECT_GT(times[2] / times[1], times[3] / times[2]);
  EXPECT_LT(times[3] / times[2], 1.25);
  // The absolute ratios to EP8 are not matched: the table's small-EP latencies carry a fixed
  // kernel overhead (EP8: 77 us for 6.5 MB) that the flow model does not have (issue notes).
  std::printf("low-latency dispatch (us): %.1f %.1f %.1f %.1f\n", times[0] * 1e6, times[1] * 1e6,
              times[2] * 1e6, times[3] * 1e6);
}

}  // namespace
}  // namespace clustersim::collectives
