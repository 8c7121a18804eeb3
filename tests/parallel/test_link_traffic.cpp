// A step's traffic on the links: the ledger's arithmetic on a hand-made pattern, closed forms of
// TP all-reduces and data-parallel reductions in a simulated step (with the groups the simulation
// does not run placed as copies), and what DeepSeek-V3's step puts on every link of its cluster.

#include "sim/parallel/link_traffic.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/link_report.hpp"
#include "sim/report/step_report.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::parallel {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

config::Experiment load(const std::string& name, std::vector<std::string> overrides = {}) {
  return testing::shipped_experiment(name, std::move(overrides));
}

StepOptions every_link() {
  StepOptions options;
  options.link_traffic = true;
  options.link_rows = true;
  return options;
}

const TierUse& tier(const StepLinks& links, fabric::LinkTier which) {
  for (const TierUse& use : links.tiers) {
    if (use.tier == which) return use;
  }
  throw std::logic_error("no such tier");
}

// The dumbbell: a0, a1 on switch left, b0, b1 on switch right, one 50 GB/s link between them.
TEST(StepTraffic, CopiesShareLinksAndRunsScaleTheirBytes) {
  const fabric::Topology topology =
      fabric::build_network(config::load_topology(kRoot + "/topologies/dumbbell.yaml"));
  const std::vector<fabric::VertexId>& hosts = topology.endpoints();  // a0, a1, b0, b1
  const fabric::VertexId left = topology.switches()[0];
  const fabric::VertexId right = topology.switches()[1];
  StepTraffic traffic(topology);
  // One flow a0 -> b0 of 1e9 bytes, carrying them over [1 s, 3 s].
  collectives::FlowRecord flow{hosts[0],
                               hosts[2],
                               7,
                               1e9,
                               SimTime::from_ps(1'000'000'000'000),
                               SimTime::from_ps(3'000'000'000'000)};
  const int pattern = traffic.add_pattern({flow}, {hosts[0], hosts[2]});
  // Placed on a0 -> b0 and a1 -> b1 at once: both cross the middle link.
  const int placement =
      traffic.add_placement(pattern, {{hosts[0], hosts[2]}, {hosts[1], hosts[3]}});
  traffic.add_run(placement, 3, 2, 0, 10);  // three times, each twice the bytes, over [0, 10 s]
  const StepLinks links = traffic.finish(20, true);
  ASSERT_EQ(links.rows.size(), topology.link_count());
  const auto use = [&](fabric::VertexId a, fabric::VertexId b) {
    return links.rows.at(*topology.find_link(a, b)).use;
  };
  EXPECT_DOUBLE_EQ(use(left, right).bytes, 3 * 2 * 2e9);
  EXPECT_DOUBLE_EQ(use(right, left).bytes, 0);
  EXPECT_DOUBLE_EQ(use(hosts[1], left).bytes, 3 * 2 * 1e9);
  EXPECT_DOUBLE_EQ(use(left, right).mean_utilization, 12e9 / (50e9 * 20));
  // Busy: the two copies' flows overlap, 2 s a run, twice as long at twice the bytes.
  EXPECT_DOUBLE_EQ(use(left, right).busy_s, 3 * 2 * 2.0);
  // Peak: the two copies' 0.5 GB/s each, over 50 GB/s.
  EXPECT_DOUBLE_EQ(use(left, right).peak_utilization, 2e9 / 2 / 50e9);
  EXPECT_DOUBLE_EQ(use(hosts[1], left).peak_utilization, 1e9 / 2 / 50e9);
  // Tiers: 8 host links, 2 router links; the series holds the bytes in the first half.
  const TierUse& router = tier(links, fabric::LinkTier::router);
  EXPECT_EQ(router.links, 2);
  EXPECT_DOUBLE_EQ(router.bytes, 12e9);
  EXPECT_DOUBLE_EQ(router.max_utilization, 12e9 / (50e9 * 20));
  EXPECT_DOUBLE_EQ(router.mean_utilization, 12e9 / (50e9 * 20) / 2);
  EXPECT_EQ(tier(links, fabric::LinkTier::leaf).links, 8);
  ASSERT_EQ(router.utilization.size(), static_cast<std::size_t>(StepTraffic::kTimeBuckets));
  EXPECT_DOUBLE_EQ(links.bucket_s, 0.1);
  for (std::size_t b = 0; b < router.utilization.size(); ++b) {
    EXPECT_NEAR(router.utilization[b], b < 100 ? 12e9 / 10 / 50e9 / 2 : 0, 1e-12) << b;
  }
}

// Sixteen H800s on two nodes, tp 8 inside each node, dp 2 across them (ZeRO-1), no pipeline.
config::Experiment two_nodes() {
  return load(
      "dsv3_2048xh800_mpft",
      {"model=gpt_generic", "cluster.nodes=2", "parallelism.pp=1", "parallelism.ep=1",
       "parallelism.tp=8", "parallelism.schedule=1f1b", "parallelism.stage_layers=auto",
       "training.global_batch_size=64", "training.precision=bf16", "training.recompute=none"});
}

TEST(StepLinks, TensorAndDataParallelBytesHaveTheirClosedForms) {
  const config::Experiment e = two_nodes();
  const StepResult r = simulate_step(e, every_link());
  ASSERT_TRUE(r.links);
  const StepLinks& links = *r.links;
  const fabric::Topology topology = fabric::build_cluster(*e.cluster.topology, {2, 8, &e.hardware});
  ASSERT_EQ(links.rows.size(), topology.link_count());
  ASSERT_EQ(r.stages.size(), 1u);
  // The step charges the output head (norm, GEMM, loss) a layer's TP collectives too.
  const int layers = e.model.layers + 1;
  EXPECT_EQ(r.stages[0].layer_blocks, layers);
  // TP: per micro-batch and layer, two ring all-reduces forward and two backward of the layer's
  // output, S = tokens x hidden x 2 bytes; a ring edge (one NVLink each way) carries 2 (n-1)/n S.
  const double s =
      static_cast<double>(e.training.seq_len) * static_cast<double>(e.model.hidden_size) * 2;
  const double tp_bytes = r.micro_batches * layers * 4 * (2 * 7.0 / 8 * s);
  // DP: every GPU's data-parallel group is itself and its twin on the other node; the ring of two
  // sends half the FP32 gradients (reduce-scatter) and half the BF16 parameters (all-gather) one
  // way, over the GPU's own NIC. Only GPU 0's group is simulated; the other 7 are its copies.
  const double dp_bytes = r.stages[0].dense_parameters * (4 + 2) / 2;
  for (fabric::VertexId gpu : topology.gpus()) {
    SCOPED_TRACE(gpu);
    const fabric::VertexId nvswitch = *topology.nvswitch_of(gpu);
    const fabric::VertexId nic = *topology.nic_of(gpu);
    const fabric::VertexId leaf = *topology.attached_switch(nic);
    for (const auto& [a, b, bytes] :
         {std::tuple{gpu, nvswitch, tp_bytes}, std::tuple{nvswitch, gpu, tp_bytes},
          std::tuple{gpu, nic, dp_bytes}, std::tuple{nic, leaf, dp_bytes},
          std::tuple{leaf, nic, dp_bytes}, std::tuple{nic, gpu, dp_bytes}}) {
      const LinkRow& row = links.rows.at(*topology.find_link(a, b));
      EXPECT_NEAR(row.use.bytes / bytes, 1, 1e-9) << row.from << " -> " << row.to;
      EXPECT_NEAR(row.use.mean_utilization,
                  row.use.bytes / (row.capacity_bytes_per_s * r.step_time_s), 1e-15);
      EXPECT_GT(row.use.busy_s, 0);
      EXPECT_LT(row.use.busy_s, r.step_time_s);
      EXPECT_GT(row.use.peak_utilization, 0.3);  // a ring fills its links
      EXPECT_LE(row.use.peak_utilization, 1 + 1e-9);
    }
  }
  // Two nodes fit one leaf per plane: no spines. Every link of the cluster is in a tier.
  std::map<fabric::LinkTier, int> count;
  for (fabric::LinkId link = 0; link < topology.link_count(); ++link) {
    ++count[fabric::link_tier(topology, link)];
  }
  ASSERT_EQ(links.tiers.size(), 3u);
  for (const TierUse& use : links.tiers) EXPECT_EQ(use.links, count.at(use.tier));
  EXPECT_EQ(tier(links, fabric::LinkTier::nvlink).links, 32);
  EXPECT_EQ(tier(links, fabric::LinkTier::leaf).links, 32);
  EXPECT_NEAR(tier(links, fabric::LinkTier::nvlink).bytes / (32 * tp_bytes), 1, 1e-9);
  EXPECT_NEAR(tier(links, fabric::LinkTier::pcie).bytes / (32 * dp_bytes), 1, 1e-9);
  // Without rows asked for, the tiers alone, the same.
  StepOptions tiers_only;
  tiers_only.link_traffic = true;
  const StepResult lean = simulate_step(e, tiers_only);
  ASSERT_TRUE(lean.links);
  EXPECT_TRUE(lean.links->rows.empty());
  EXPECT_DOUBLE_EQ(lean.links->tiers[0].bytes, links.tiers[0].bytes);
  EXPECT_FALSE(simulate_step(e).links);
  EXPECT_DOUBLE_EQ(simulate_step(e).step_time_s, r.step_time_s);  // asking changes no time
}

TEST(StepLinks, DeepSeekV3PutsTrafficOnEveryNicOfItsCluster) {
  const config::Experiment e = load("dsv3_2048xh800_mpft");
  const StepResult r = simulate_step(e, every_link());
  ASSERT_TRUE(r.links);
  const StepLinks& links = *r.links;
  const fabric::Topology topology =
      fabric::build_cluster(*e.cluster.topology, {256, 8, &e.hardware});
  ASSERT_EQ(links.rows.size(), topology.link_count());
  std::set<fabric::LinkTier> tiers;
  for (const TierUse& use : links.tiers) tiers.insert(use.tier);
  EXPECT_EQ(tiers, (std::set<fabric::LinkTier>{fabric::LinkTier::nvlink, fabric::LinkTier::pcie,
                                               fabric::LinkTier::leaf, fabric::LinkTier::spine}));
  // The simulation times one pipeline stage's EP groups and GPU 0's data-parallel group; every
  // stage and group runs them, so every NIC sends and receives. A NIC's only GPU is the only
  // source and sink of its traffic.
  for (fabric::VertexId nic : topology.nics()) {
    const fabric::VertexId gpu = *topology.gpu_of(nic);
    const fabric::VertexId leaf = *topology.attached_switch(nic);
    const LinkUse& out = links.rows.at(*topology.find_link(nic, leaf)).use;
    const LinkUse& in = links.rows.at(*topology.find_link(leaf, nic)).use;
    ASSERT_GT(out.bytes, 1e11) << links.rows.at(*topology.find_link(nic, leaf)).from;
    ASSERT_GT(in.bytes, 1e11);
    EXPECT_NEAR(links.rows.at(*topology.find_link(gpu, nic)).use.bytes / out.bytes, 1, 1e-9);
    EXPECT_NEAR(links.rows.at(*topology.find_link(nic, gpu)).use.bytes / in.bytes, 1, 1e-9);
    EXPECT_LE(out.peak_utilization, 1 + 1e-9);
  }
  // Whatever leaves NICs arrives at NICs; tiers hold their links' bytes and mean utilisations.
  double sent = 0, received = 0;
  std::map<fabric::LinkTier, double> bytes, utilization;
  for (const LinkRow& row : links.rows) {
    const fabric::VertexInfo& from = topology.vertex(topology.link(row.link).from);
    const fabric::VertexInfo& to = topology.vertex(topology.link(row.link).to);
    if (from.kind == fabric::VertexKind::nic && to.kind == fabric::VertexKind::network_switch) {
      sent += row.use.bytes;
    }
    if (to.kind == fabric::VertexKind::nic && from.kind == fabric::VertexKind::network_switch) {
      received += row.use.bytes;
    }
    bytes[row.tier] += row.use.bytes;
    utilization[row.tier] += row.use.mean_utilization;
    EXPECT_LE(row.use.busy_s, r.step_time_s);
  }
  EXPECT_NEAR(sent / received, 1, 1e-9);
  for (const TierUse& use : links.tiers) {
    SCOPED_TRACE(fabric::to_string(use.tier));
    EXPECT_NEAR(use.bytes / bytes.at(use.tier), 1, 1e-9);
    EXPECT_NEAR(use.mean_utilization, utilization.at(use.tier) / use.links, 1e-12);
    EXPECT_LE(use.mean_utilization, use.p99_utilization);
    EXPECT_LE(use.p99_utilization, use.max_utilization);
    EXPECT_LT(use.max_utilization, 1);
    // The time series spreads the same bytes over the step.
    double integral = 0;
    for (double u : use.utilization) integral += u * links.bucket_s;
    EXPECT_NEAR(integral / r.step_time_s, use.mean_utilization, 1e-9);
  }
  // DeepEP's all-to-alls keep the NICs busy most of the step (DualPipe overlaps them), and the
  // EP groups stay inside one leaf each: the spines carry only pipeline transfers.
  EXPECT_GT(tier(links, fabric::LinkTier::leaf).mean_utilization, 0.2);
  EXPECT_LT(tier(links, fabric::LinkTier::spine).mean_utilization,
            0.1 * tier(links, fabric::LinkTier::leaf).mean_utilization);
}

TEST(StepLinks, ReportsHaveOneCsvRowPerLinkAndCounterTracksPerTier) {
  const config::Experiment e = two_nodes();
  const StepResult r = simulate_step(e, every_link());
  const std::string csv = report::link_csv(*r.links);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "link,from,to,tier,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization");
  EXPECT_EQ(static_cast<std::size_t>(std::count(csv.begin(), csv.end(), '\n')),
            r.links->rows.size() + 1);
  EXPECT_NE(csv.find("\n0,gpu n0.g0,nvswitch n0,nvlink,160000000000,"), std::string::npos);
  const nlohmann::json trace = report::chrome_trace(e, r);
  std::map<std::string, int> counters;
  for (const nlohmann::json& event : trace["traceEvents"]) {
    if (event.at("ph") != "C") continue;
    ++counters[event.at("name").get_ref<const std::string&>()];
    const double percent = event.at("args").value("utilisation", -1.0);
    EXPECT_GE(percent, 0);
    EXPECT_LE(percent, 100);
  }
  EXPECT_EQ(counters, (std::map<std::string, int>{{"leaf utilisation (%)", 201},
                                                  {"nvlink utilisation (%)", 201},
                                                  {"pcie utilisation (%)", 201}}));
  const nlohmann::json json = report::step_json(e, r, 0);
  EXPECT_EQ(json["link_tiers"]["nvlink"]["links"], 32);
  EXPECT_DOUBLE_EQ(json["link_tiers"]["leaf"]["bytes"].get<double>(),
                   tier(*r.links, fabric::LinkTier::leaf).bytes);
  const std::string text = report::step_text(e, r, 0);
  const std::size_t line = text.find("\n  nvlink ");
  ASSERT_NE(line, std::string::npos) << text;
  EXPECT_NE(text.substr(line, text.find('\n', line + 1) - line).find(" 32 links"),
            std::string::npos)
      << text;
}

TEST(StepTraffic, EveryRoutingPolicyPutsTheSameBytesOnEachTierOfAFatTree) {
  // On a two-level fat-tree every shortest path between leaves crosses one leaf uplink and one
  // spine downlink, so a minimal policy moves bytes between links but not between tiers: the leaf
  // and spine tiers carry the same bytes under ecmp, static, adaptive and spray (each flow's
  // bytes split evenly over its paths). What changes is how evenly: the busiest spine link.
  // Valiant routing detours through a random leaf: its flows between leaves cross the spine tier
  // twice.
  std::map<config::RoutingPolicy, StepLinks> by_policy;
  for (const auto& entry : config::kRoutingPolicyNames) {
    const config::Experiment experiment =
        load("dsv3_2048xh800_mpft",
             {"cluster.topology=ft2", "cluster.routing=" + std::string(entry.name)});
    by_policy[entry.value] = simulate_step(experiment, every_link()).links.value();
  }
  const StepLinks& ecmp = by_policy[config::RoutingPolicy::ecmp];
  EXPECT_GT(tier(by_policy[config::RoutingPolicy::valiant], fabric::LinkTier::spine).bytes,
            1.5 * tier(ecmp, fabric::LinkTier::spine).bytes);
  for (const auto& [policy, links] : by_policy) {
    if (policy == config::RoutingPolicy::valiant || policy == config::RoutingPolicy::ugal) continue;
    for (fabric::LinkTier which : {fabric::LinkTier::leaf, fabric::LinkTier::spine}) {
      EXPECT_NEAR(tier(links, which).bytes, tier(ecmp, which).bytes, 1e-9 * tier(ecmp, which).bytes)
          << config::to_string(policy);
    }
  }
  const auto busiest = [&](config::RoutingPolicy policy) {
    return tier(by_policy[policy], fabric::LinkTier::spine).max_utilization;
  };
  for (config::RoutingPolicy balanced :
       {config::RoutingPolicy::adaptive, config::RoutingPolicy::static_,
        config::RoutingPolicy::spray}) {
    EXPECT_LT(busiest(balanced), 0.75 * busiest(config::RoutingPolicy::ecmp))
        << config::to_string(balanced);
  }
}

}  // namespace
}  // namespace clustersim::parallel
