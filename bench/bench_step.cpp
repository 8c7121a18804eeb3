// Speed of the training-step simulation: the DeepSeek-V3 step on 2048 H800 GPUs (MPFT), and the
// same model on 16,384 GPUs (2048 nodes, MPFT, dp 1024). Peak RSS is reported as a counter.
// Run: build/release/bench/bench_step
#include <benchmark/benchmark.h>

#include "bench/peak_rss.hpp"

#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace {

using namespace clustersim;
using bench::peak_rss_mib;

void bm_dsv3_step(benchmark::State& state) {
  config::LoadOptions options;
  const int nodes = static_cast<int>(state.range(0));
  options.overrides = {"cluster.nodes=" + std::to_string(nodes),
                       "training.global_batch_size=" + std::to_string(15360 * nodes / 256)};
  const config::Experiment experiment =
      config::load_experiment(CLUSTERSIM_DATA_DIR "/experiments/dsv3_2048xh800_mpft.yaml", options);
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
BENCHMARK(bm_dsv3_step)->Arg(256)->Arg(2048)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
