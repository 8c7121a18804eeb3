// Speed of the flow-level fabric: an all-to-all inside every 64-GPU group (8 nodes) of an H800
// cluster on the multi-plane fat-tree, 16 MiB per flow, simulated to completion. Sizes from 256
// to 16,384 GPUs show how wall time and memory grow; counters give flows, solves and peak RSS.
// Run: build/release/bench/bench_fabric --benchmark_min_time=0.01

#include <benchmark/benchmark.h>

#include "bench/peak_rss.hpp"

#include "sim/config/loader.hpp"
#include "sim/core/engine.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace {

using namespace clustersim;
using bench::peak_rss_mib;
using namespace clustersim::fabric;

void bm_group_all_to_all(benchmark::State& state) {
  const int gpus = static_cast<int>(state.range(0));
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const config::TopologySpec spec =
      config::load_topology(CLUSTERSIM_DATA_DIR "/topologies/mpft.yaml");
  const Topology topology = build_cluster(spec, ClusterShape{gpus / 8, 8, &hw});
  constexpr int kGroup = 64;
  constexpr double kBytes = 16.0 * 1024 * 1024;
  std::uint64_t flows = 0;
  std::uint64_t solves = 0;
  double simulated_s = 0;
  for (auto _ : state) {
    Engine engine;
    FlowModel model(engine, topology);
    Router router(topology);
    const std::vector<VertexId>& all = topology.gpus();
    std::uint64_t hash = 0;
    for (std::size_t base = 0; base < all.size(); base += kGroup) {
      for (std::size_t i = base; i < base + kGroup; ++i) {
        for (std::size_t j = base; j < base + kGroup; ++j) {
          if (i != j) model.start(router.route(all[i], all[j], ++hash), kBytes, {});
        }
      }
    }
    const RunStats run = engine.run();
    flows = model.flows_completed();
    solves = model.solves();
    simulated_s = run.end.seconds();
  }
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["solves"] = static_cast<double>(solves);
  state.counters["simulated_ms"] = simulated_s * 1e3;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}
// Ascending sizes, so the process's peak RSS after each is that size's peak.
BENCHMARK(bm_group_all_to_all)
    ->Arg(256)
    ->Arg(512)
    ->Arg(1024)
    ->Arg(2048)
    ->Arg(4096)
    ->Arg(8192)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
