// Speed of the training-step simulation: the DeepSeek-V3 step on 2048 H800 GPUs (MPFT), and the
// same model on 16,384 GPUs (2048 nodes, MPFT, dp 1024); and both under each routing policy, on
// MPFT and on a single-plane fat-tree (FT2 at 2,048 GPUs, FT3 at 16,384). Peak RSS is reported as
// a counter.
// Run: build/release/bench/bench_step
#include <benchmark/benchmark.h>

#include "bench/peak_rss.hpp"

#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace {

using namespace clustersim;
using bench::peak_rss_mib;

// Times the step simulation of `experiment` and reports its size and result.
void time_step(benchmark::State& state, const config::Experiment& experiment, int nodes) {
  double step = 0;
  for (auto _ : state) {
    parallel::StepResult result = parallel::simulate_step(experiment);
    benchmark::DoNotOptimize(result);
    step = result.step_time_s;
  }
  state.counters["gpus"] = nodes * 8;
  state.counters["step_s"] = step;
  state.counters["peak_rss_MiB"] = peak_rss_mib();
}

void bm_dsv3_step(benchmark::State& state) {
  config::LoadOptions options;
  const int nodes = static_cast<int>(state.range(0));
  options.overrides = {"cluster.nodes=" + std::to_string(nodes),
                       "training.global_batch_size=" + std::to_string(15360 * nodes / 256)};
  const config::Experiment experiment =
      config::load_experiment(CLUSTERSIM_DATA_DIR "/experiments/dsv3_2048xh800_mpft.yaml", options);
  time_step(state, experiment, nodes);
}
BENCHMARK(bm_dsv3_step)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond)->Iterations(1);

// Arguments: nodes, network (0: MPFT, 1: the single-plane fat-tree), routing policy (the index in
// config::kRoutingPolicyNames: ecmp, adaptive, static, spray).
void bm_dsv3_step_routing(benchmark::State& state) {
  config::LoadOptions options;
  const int nodes = static_cast<int>(state.range(0));
  const bool single_plane = state.range(1) != 0;
  const auto policy = config::kRoutingPolicyNames[static_cast<std::size_t>(state.range(2))];
  options.overrides = {
      "cluster.nodes=" + std::to_string(nodes),
      "training.global_batch_size=" + std::to_string(15360 * nodes / 256),
      std::string("cluster.topology=") + (single_plane ? (nodes <= 256 ? "ft2" : "ft3") : "mpft"),
      "cluster.routing=" + std::string(policy.name)};
  const config::Experiment experiment =
      config::load_experiment(CLUSTERSIM_DATA_DIR "/experiments/dsv3_2048xh800_mpft.yaml", options);
  state.SetLabel(experiment.cluster.topology->name + " " + std::string(policy.name));
  time_step(state, experiment, nodes);
}
BENCHMARK(bm_dsv3_step_routing)
    ->ArgsProduct({{256, 2048}, {0, 1}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);

}  // namespace
