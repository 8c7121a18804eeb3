// Speed of the collectives on the fabric: EP64 dispatch + combine with 4096 tokens per GPU on a
// 2048-GPU H800 MPFT cluster (all 32 EP groups at once), a 1 GiB ring all-reduce over 2,048 and
// 16,384 GPUs, and a 1 MiB direct all-to-all over a three-level fat-tree on 64 to 256 GPUs (one
// set of N x (N - 1) flows sharing links: the flow model's hard case), exact and with a departure
// batching of 0.05 up to 1,024 GPUs and of 0.5 up to 2,048 (where the flow lifecycle, not the
// solves, is the cost), and one EP group of 256 to 2,048 ranks batched the same
// way. Run: build/release/bench/bench_collectives
#include <benchmark/benchmark.h>

#include "bench/peak_rss.hpp"

#include "sim/collectives/collective.hpp"
#include "sim/collectives/expert_parallel.hpp"
#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace {

using namespace clustersim;
using bench::peak_rss_mib;

fabric::Topology cluster(int gpus, const config::HardwareProfile& hw,
                         const char* card = CLUSTERSIM_DATA_DIR "/topologies/mpft.yaml") {
  return fabric::build_cluster(config::load_topology(card), {gpus / 8, 8, &hw});
}

void bm_ep64_dispatch_combine(benchmark::State& state) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology = cluster(2048, hw);
  collectives::ExpertParallelSpec spec;
  spec.ranks = topology.gpus();
  spec.group_size = 64;
  double simulated = 0;
  std::uint64_t flows = 0;
  for (auto _ : state) {
    const collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology, spec);
    simulated = (r.dispatch.time + r.combine.time).seconds();
    flows = r.dispatch.flows + r.combine.flows;
  }
  state.counters["simulated_ms"] = simulated * 1e3;
  state.counters["flows"] = static_cast<double>(flows);
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(bm_ep64_dispatch_combine)->Unit(benchmark::kMillisecond)->Iterations(1);

void bm_ring_all_reduce_1gib(benchmark::State& state) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology = cluster(static_cast<int>(state.range(0)), hw);
  double simulated = 0;
  for (auto _ : state) {
    const collectives::CollectiveResult r = collectives::run_collective(
        topology, {collectives::Operation::all_reduce, collectives::Algorithm::ring,
                   1024.0 * 1024 * 1024, topology.gpus(), collectives::nccl_copy_engines(hw)});
    simulated = r.time.seconds();
  }
  state.counters["simulated_ms"] = simulated * 1e3;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(bm_ring_all_reduce_1gib)
    ->Arg(2048)
    ->Arg(16384)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// Args: GPUs, departure batching in thousandths (0: exact).
void bm_all_to_all_1mib_ft3(benchmark::State& state) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology =
      cluster(static_cast<int>(state.range(0)), hw, CLUSTERSIM_DATA_DIR "/topologies/ft3.yaml");
  collectives::CollectiveSpec spec{collectives::Operation::all_to_all,
                                   collectives::Algorithm::direct, 1024.0 * 1024, topology.gpus(),
                                   collectives::nccl_copy_engines(hw)};
  spec.departure_batching = static_cast<double>(state.range(1)) / 1000;
  double simulated = 0;
  for (auto _ : state) {
    simulated = collectives::run_collective(topology, spec).time.seconds();
  }
  state.counters["simulated_us"] = simulated * 1e6;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(bm_all_to_all_1mib_ft3)
    ->Args({64, 0})
    ->Args({128, 0})
    ->Args({256, 0})
    ->Args({256, 50})
    ->Args({512, 50})
    ->Args({1024, 50})
    ->Args({1024, 500})
    ->Args({2048, 500})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

// One EP group of all the GPUs (4,096 tokens per rank, one expert per rank, MPFT), batched 0.05.
void bm_one_ep_group_batched(benchmark::State& state) {
  const config::HardwareProfile hw =
      config::load_hardware_profile(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  const fabric::Topology topology = cluster(static_cast<int>(state.range(0)), hw);
  collectives::ExpertParallelSpec spec;
  spec.ranks = topology.gpus();
  spec.experts = static_cast<int>(state.range(0));
  spec.comm_sms = 20;
  collectives::set_copy_rates(spec, hw);
  spec.departure_batching = 0.05;
  double simulated = 0;
  for (auto _ : state) {
    const collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology, spec);
    simulated = (r.dispatch.time + r.combine.time).seconds();
  }
  state.counters["simulated_ms"] = simulated * 1e3;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(bm_one_ep_group_batched)
    ->Arg(256)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
