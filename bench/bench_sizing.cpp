// Speed of sizing and building a network for a large cluster: 16,384 nodes of 8 H800 GPUs
// (131,072 GPUs, 131,072 NICs) on a three-level fat-tree of 128-port switches and on the
// canonical dragonfly (p = 16, a = 32, h = 16: 256 groups), each sized for its NICs. Counters
// give the switches and switch links built and the process's peak RSS.
// Run: build/release/bench/bench_sizing --benchmark_min_time=0.01

#include <benchmark/benchmark.h>

#include "bench/peak_rss.hpp"

#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace {

using namespace clustersim;
using bench::peak_rss_mib;

void size_and_build(benchmark::State& state, config::TopologySpec spec) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const int nodes = static_cast<int>(state.range(0)) / 8;
  std::size_t switches = 0;
  std::size_t links = 0;
  for (auto _ : state) {
    const fabric::Topology topology = fabric::build_cluster(spec, {nodes, 8, &hw});
    switches = topology.switches().size();
    links = topology.switch_links();
    benchmark::DoNotOptimize(topology.link_count());
  }
  state.counters["switches"] = static_cast<double>(switches);
  state.counters["switch_links"] = static_cast<double>(links);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void bm_dragonfly(benchmark::State& state) {
  size_and_build(state, config::load_topology(CLUSTERSIM_DATA_DIR "/topologies/dragonfly.yaml"));
}

void bm_fat_tree_three_levels(benchmark::State& state) {
  config::TopologySpec spec = config::load_topology(CLUSTERSIM_DATA_DIR "/topologies/ft3.yaml");
  spec.switch_radix = 128;  // 64-port switches hold 65,536 endpoints in three levels
  size_and_build(state, spec);
}

BENCHMARK(bm_dragonfly)->Arg(131072)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_fat_tree_three_levels)->Arg(131072)->Unit(benchmark::kMillisecond);

}  // namespace
