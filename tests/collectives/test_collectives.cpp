// Collectives on the fabric: closed forms on one 8 x H800 NVSwitch node, bus-bandwidth
// conventions, MPFT against MRFT, bad requests.

#include "sim/collectives/collective.hpp"

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::collectives {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

class OneNode : public ::testing::Test {
 protected:
  config::HardwareProfile hw_ =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  fabric::Topology node_ = fabric::build_cluster(
      config::load_topology(kRoot + "/topologies/h800_node.yaml"), {1, 8, &hw_});
  const double nvlink_ = 160e9;  // achievable per direction (profile)
  const double hop_ = 3.33e-6;   // GPU -> NVSwitch -> GPU latency (profile)
  const double s_ = 1024.0 * 1024 * 1024;

  CollectiveResult run(Operation op, Algorithm algorithm, double bytes) {
    return run_collective(node_, CollectiveSpec{op, algorithm, bytes, node_.gpus(), {}});
  }
};

TEST_F(OneNode, RingAllReduceClosedForm) {
  // t = 2(n-1)/n * S/B + 2(n-1) * alpha
  const double n = 8;
  const CollectiveResult r = run(Operation::all_reduce, Algorithm::ring, s_);
  const double expected = 2 * (n - 1) / n * s_ / nvlink_ + 2 * (n - 1) * hop_;
  EXPECT_NEAR(r.time.seconds(), expected, 1e-9);
  // Bus bandwidth approaches the 160 GB/s NVLink allows per direction.
  EXPECT_NEAR(r.busbw_bytes_per_s / 1e9, 160, 160 * 0.005);
  EXPECT_NEAR(r.algbw_bytes_per_s, s_ / r.time.seconds(), 1e-6);
  EXPECT_EQ(r.flows, 8u);
}

// NCCL's channels bound a ring by the SMs that push it: with c channels of r bytes/s each, the
// ring's bus bandwidth is min(c r, the link), the closed form above with c r for the link rate.
TEST_F(OneNode, RingAllReduceIsBoundByItsChannels) {
  const double n = 8;
  for (int channels : {1, 4, 8}) {
    SCOPED_TRACE(channels);
    const CopyEngines copy{channels, 11.2e9, 11.0e9};
    const CollectiveResult r = run_collective(
        node_, CollectiveSpec{Operation::all_reduce, Algorithm::ring, s_, node_.gpus(), copy});
    const double rate = std::min(nvlink_, channels * 11.2e9);
    const double expected = 2 * (n - 1) / n * s_ / rate + 2 * (n - 1) * hop_;
    EXPECT_NEAR(r.time.seconds(), expected, 1e-9);
  }
  // The profile's 32 channels leave the 160 GB/s NVLink as the bound (32 x 11.2 = 358 GB/s).
  const CollectiveResult nccl =
      run_collective(node_, CollectiveSpec{Operation::all_reduce, Algorithm::ring, s_, node_.gpus(),
                                           nccl_copy_engines(hw_)});
  EXPECT_NEAR(nccl.busbw_bytes_per_s / 1e9, 160, 160 * 0.005);
}

TEST_F(OneNode, RingReduceScatterAndAllGatherClosedForms) {
  const double n = 8;
  for (Operation op : {Operation::reduce_scatter, Operation::all_gather}) {
    const CollectiveResult r = run(op, Algorithm::ring, s_);
    EXPECT_NEAR(r.time.seconds(), (n - 1) / n * s_ / nvlink_ + (n - 1) * hop_, 1e-9);
  }
}

TEST_F(OneNode, DirectAllToAllClosedForm) {
  // Every GPU sends S/n to each of the 7 others over its one NVLink port.
  const CollectiveResult r = run(Operation::all_to_all, Algorithm::direct, s_);
  EXPECT_NEAR(r.time.seconds(), 7.0 / 8 * s_ / nvlink_ + hop_, 1e-9);
  EXPECT_EQ(r.flows, 56u);
}

TEST_F(OneNode, SendRecvIsOneFlowAtLinkRate) {
  const CollectiveResult r = run(Operation::send_recv, Algorithm::direct, s_);
  EXPECT_NEAR(r.time.seconds(), s_ / nvlink_ + hop_, 1e-9);
  EXPECT_DOUBLE_EQ(bus_factor(Operation::send_recv, 2), 1.0);
}

TEST_F(OneNode, SmallMessagesAreLatencyBound) {
  const CollectiveResult small = run(Operation::all_reduce, Algorithm::ring, 8 * 1024);
  EXPECT_LT(small.busbw_bytes_per_s, 1e9);  // 14 hops of 3.33 us dominate
  const CollectiveResult tree = run(Operation::all_reduce, Algorithm::tree, 8 * 1024);
  EXPECT_LT(tree.time, small.time);  // log-depth trees beat rings on latency
}

TEST_F(OneNode, TheBusiestLinksAreReported) {
  const CollectiveResult r = run(Operation::all_reduce, Algorithm::ring, s_);
  ASSERT_FALSE(r.busiest_links.empty());
  EXPECT_NEAR(r.busiest_links.front().bytes, 2 * 7.0 / 8 * s_, 1.0);
  EXPECT_GT(r.busiest_links.front().mean_utilization, 0.99);
}

TEST_F(OneNode, BadRequestsAreClearErrors) {
  auto message = [&](CollectiveSpec spec) -> std::string {
    try {
      (void)run_collective(node_, spec);
    } catch (const CollectiveError& error) {
      return error.what();
    }
    return "(no error)";
  };
  EXPECT_EQ(message({Operation::all_reduce, Algorithm::ring, 0, node_.gpus(), {}}),
            "message size must be positive, got 0 bytes");
  EXPECT_EQ(message({Operation::all_reduce, Algorithm::ring, -1, node_.gpus(), {}}),
            "message size must be positive, got -1 bytes");
  EXPECT_EQ(message({Operation::all_reduce, Algorithm::ring, 1, {node_.gpus()[0]}, {}}),
            "a collective needs at least 2 ranks, got 1");
  EXPECT_EQ(message({Operation::all_reduce, Algorithm::ring, 1, {node_.gpus()[0], 0}, {}}),
            "rank 0 is not a GPU of topology \"h800_node\"");
  EXPECT_EQ(message({Operation::all_reduce, Algorithm::direct, 1, node_.gpus(), {}}),
            "all_reduce has no direct algorithm; use ring, tree or hierarchical");
  EXPECT_EQ(message({Operation::all_gather, Algorithm::tree, 1, node_.gpus(), {}}),
            "the tree algorithm is for all_reduce, not all_gather");
}

// ISCA'25 §5.1.2: multi-plane and multi-rail fat-trees perform alike at 16 to 128 GPUs.
TEST(Fabrics, MultiPlaneAndMultiRailPerformAlike) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  for (int gpus : {16, 64, 128}) {
    SCOPED_TRACE(gpus);
    const fabric::Topology mpft = fabric::build_cluster(
        config::load_topology(kRoot + "/topologies/mpft.yaml"), {gpus / 8, 8, &hw});
    const fabric::Topology mrft = fabric::build_cluster(
        config::load_topology(kRoot + "/topologies/mrft.yaml"), {gpus / 8, 8, &hw});
    for (auto [op, algorithm] : {std::pair{Operation::all_to_all, Algorithm::direct},
                                 std::pair{Operation::all_reduce, Algorithm::hierarchical}}) {
      const double bytes = 256.0 * 1024 * 1024;
      const CollectiveResult a = run_collective(mpft, {op, algorithm, bytes, mpft.gpus(), {}});
      const CollectiveResult b = run_collective(mrft, {op, algorithm, bytes, mrft.gpus(), {}});
      EXPECT_NEAR(a.busbw_bytes_per_s / b.busbw_bytes_per_s, 1.0, 0.02) << to_string(op);
    }
  }
}

TEST(Fabrics, HierarchicalAllReduceUsesNvlinkThenTheNetwork) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology mpft =
      fabric::build_cluster(config::load_topology(kRoot + "/topologies/mpft.yaml"), {4, 8, &hw});
  const double s = 1024.0 * 1024 * 1024;
  const CollectiveResult r =
      run_collective(mpft, {Operation::all_reduce, Algorithm::hierarchical, s, mpft.gpus(), {}});
  // NVLink phases move 2 x 7/8 S at 160 GB/s; the network phase 2 x 3/4 x S/8 at 40 GB/s.
  const double nvlink = 2 * 7.0 / 8 * s / 160e9;
  const double network = 2 * 3.0 / 4 * s / 8 / 40e9;
  EXPECT_NEAR(r.time.seconds(), nvlink + network, 0.002 * (nvlink + network) + 1e-4);
}

}  // namespace
}  // namespace clustersim::collectives
