// ISCA'25 §2.3.2: the communication-bound upper bound of EP decoding. Every device holds one
// expert and 32 tokens; each token goes to 9 experts (8 routed + 1 shared) on other devices;
// dispatch moves 1 byte per value, combine 2, of a hidden size of 7000 bytes; latency off and full
// line rate for the bound, then with the profiles' latency and efficiency on. TPOT = 61 layers x
// 2 micro-batches x the EP step time (dual micro-batch overlap).

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/core/engine.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::fabric {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;
constexpr double kTokens = 32;
constexpr int kFanout = 9;
constexpr double kHidden = 7000;  // bytes per value of 1 B ("7K", ISCA'25 §2.3.2)

// One EP step (dispatch then combine) where device (node n, slot l) sends its tokens to the
// devices (n + 1 .. n + 9, l): every transfer leaves one device and lands on another.
double ep_step_seconds(const Topology& topology, int nodes, int per_node) {
  auto device = [&](int node, int slot) {
    return topology.gpus()[static_cast<std::size_t>(node * per_node + slot)];
  };
  Router router(topology);
  double total = 0;
  for (double bytes_per_value : {1.0, 2.0}) {  // FP8 dispatch, BF16 combine
    Engine engine;
    FlowModel model(engine, topology);
    std::uint64_t hash = 0;
    for (int n = 0; n < nodes; ++n) {
      for (int l = 0; l < per_node; ++l) {
        for (int k = 1; k <= kFanout; ++k) {
          model.start(router.route(device(n, l), device((n + k) % nodes, l), ++hash),
                      kTokens * kHidden * bytes_per_value, {});
        }
      }
    }
    total += engine.run().end.seconds();
  }
  return total;
}

// The EP step on `nodes` x `per_node` devices of a hardware profile and topology card, with
// `overrides` applied to the profile.
double step_on(const std::string& profile, const std::string& topology_card, int nodes,
               int per_node, const std::vector<std::string>& overrides) {
  config::LoadOptions options;
  options.overrides = overrides;
  const config::HardwareProfile hw =
      config::load_hardware_profile(kRoot + "/hardware_profiles/" + profile + ".yaml", options);
  const Topology topology =
      build_cluster(config::load_topology(kRoot + "/topologies/" + topology_card + ".yaml"),
                    {nodes, per_node, &hw});
  return ep_step_seconds(topology, nodes, per_node);
}

double ib_step(const std::vector<std::string>& overrides) {
  return step_on("h800_sxm", "mpft", 10, 8, overrides);
}

double nvl72_step(const std::vector<std::string>& overrides) {
  return step_on("gb200_nvl72", "nvl72", 18, 4, overrides);
}

TEST(InferenceSpeedLimit, InfiniBand400GBound) {
  const double step =
      ib_step({"scale_out.efficiency=1", "scale_out.latency=0 us", "scale_up.latency=0 us"});
  EXPECT_NEAR(step * 1e6, 120.96, 120.96 * 0.02);  // targets.yaml: 2 %
  const double tpot = 61 * 2 * step;
  EXPECT_NEAR(tpot * 1e3, 14.76, 14.76 * 0.02);
  EXPECT_NEAR(1 / tpot, 67, 67 * 0.02);
}

TEST(InferenceSpeedLimit, Nvl72Bound) {
  const double step = nvl72_step({"scale_up.latency=0 us"});
  EXPECT_NEAR(step * 1e6, 6.72, 6.72 * 0.02);
  const double tpot = 61 * 2 * step;
  EXPECT_NEAR(tpot * 1e3, 0.82, 0.82 * 0.02);
  EXPECT_NEAR(1 / tpot, 1200, 1200 * 0.03);  // the paper rounds 1220 to "about 1200"
}

TEST(InferenceSpeedLimit, LatencyAndEfficiencyMoveTheBound) {
  // With the H800 profile as it is (40 of 50 GB/s, 2.8 us same-leaf and 3.7 us cross-leaf
  // latency): the bandwidth term grows by 1/0.8 and each of the two transfers pays its latency.
  const double step = ib_step({});
  EXPECT_GT(step, 120.96e-6 / 0.8);
  EXPECT_LT(step, 120.96e-6 / 0.8 + 2 * 4e-6);
}

}  // namespace
}  // namespace clustersim::fabric
