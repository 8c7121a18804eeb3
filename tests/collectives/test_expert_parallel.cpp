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

// The DeepEP benchmark's settings: 24 SMs (the README example's Buffer.set_num_sms(24)), the
// profile's per-SM copy rates; `comm_sms` 0 runs without an SM ceiling.
ExpertParallelResult run_ep(int ranks, int comm_sms = 24) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology =
      fabric::build_cluster(config::load_topology(kRoot + (ranks == 8 ? "/topologies/h800_node.yaml"
                                                                      : "/topologies/mpft.yaml")),
                            {ranks / 8, 8, &hw});
  ExpertParallelSpec spec;
  spec.ranks = topology.gpus();
  spec.max_nodes = std::min(4, ranks / 8);
  spec.comm_sms = comm_sms;
  if (comm_sms > 0) set_copy_rates(spec, hw);
  return run_expert_parallel(topology, spec);
}

TEST(ExpertParallel, RoutingMatchesTheNodeLimitedExpectation) {
  // 8 experts drawn from M nodes' experts: the expected distinct nodes per token is
  // M (1 - (1 - 1/M)^8) for large node groups (here 32 experts per node).
  const ExpertParallelResult ep64 = run_ep(64);
  EXPECT_NEAR(ep64.rdma_tokens_per_rank / 4096, 4 * (1 - std::pow(0.75, 8)), 0.03);
  EXPECT_EQ(ep64.nodes, 8);
}

// DeepEP's normal-kernel table (README 2025-04, dsv3_facts.md §4): the bottleneck bandwidth, NVLink
// for EP8 and RDMA (logical) beyond. With the SMs' copy ceiling, EP8 to EP32 are within 10 %.
// EP64 is 12 % slow: it is bound by the NIC, which the profile takes at ISCA'25's 40 GB/s, while
// the table implies 44.6 GB/s per NIC (pinned so that a change shows, not to hide it).
TEST(ExpertParallel, NormalKernelsMatchDeepEpsTable) {
  struct Row {
    int ranks;
    double dispatch, combine;  // GB/s
    double tolerance;
  };
  for (const Row& row : {Row{8, 153, 158, 0.10}, Row{16, 43, 43, 0.10}, Row{32, 58, 57, 0.10},
                         Row{64, 51, 50, 0.13}}) {
    SCOPED_TRACE(row.ranks);
    const ExpertParallelResult r = run_ep(row.ranks);
    const double dispatch =
        (row.ranks == 8 ? r.dispatch_nvl_bytes_per_s : r.dispatch_rdma_bytes_per_s) / 1e9;
    const double combine =
        (row.ranks == 8 ? r.combine_nvl_bytes_per_s : r.combine_rdma_bytes_per_s) / 1e9;
    EXPECT_NEAR(dispatch, row.dispatch, row.tolerance * row.dispatch);
    EXPECT_NEAR(combine, row.combine, row.tolerance * row.combine);
  }
}

// Few SMs starve the kernels: on one node with one channel (2 SMs), each GPU pushes its NVLink
// bytes with one SM, so the dispatch takes (bytes a GPU sends) / (11.2 GB/s); at 24 SMs the SMs
// still bind (134 of NVLink's 160 GB/s), and 64 leave NVLink as the bound.
TEST(ExpertParallel, TheSmsHeldBoundTheNormalKernels) {
  const ExpertParallelResult two = run_ep(8, 2);
  const double token_bytes = 7168 * (1 + 4.0 / 128);
  const double sent = two.nvl_tokens_per_rank * 7.0 / 8.0 * token_bytes;  // 1 in 8 stays local
  EXPECT_NEAR(two.dispatch.time.seconds(), sent / 11.2e9, 0.05 * sent / 11.2e9);
  const ExpertParallelResult four = run_ep(8, 4);
  EXPECT_NEAR(two.dispatch.time.seconds() / four.dispatch.time.seconds(), 2.0, 0.05);
  const ExpertParallelResult many = run_ep(8, 64);
  const ExpertParallelResult unbounded = run_ep(8, 0);
  // (An even split of the SMs over a GPU's flows, not a shared pool: within 1 %.)
  EXPECT_NEAR(many.dispatch.time.seconds(), unbounded.dispatch.time.seconds(),
              0.01 * unbounded.dispatch.time.seconds());
  EXPECT_GT(run_ep(8, 24).dispatch.time.seconds(), 1.05 * unbounded.dispatch.time.seconds());
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
  spec.experts = 256;
  spec.nvlink_copy_per_sm = 11.2e9;
  spec.comm_sms = 1;
  EXPECT_EQ(message(spec),
            "DeepEP's normal kernels need at least 2 SMs (one channel) to move data, got 1");
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
