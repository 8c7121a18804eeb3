// Speed of the configuration layer: parsing one quantity with its unit, and loading a model card
// and a whole experiment (which pulls in its model, hardware and topology cards). A benchmark
// whose card is missing or invalid is reported as an error, with the loader's message, and the
// others still run.

#include <benchmark/benchmark.h>

#include "sim/config/diagnostics.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/unit_parser.hpp"

namespace {

constexpr const char* kModelCard = CLUSTERSIM_DATA_DIR "/models/deepseek_v3.yaml";
constexpr const char* kExperiment = CLUSTERSIM_DATA_DIR "/experiments/dsv3_2048xh800_mpft.yaml";

void bm_parse_bandwidth(benchmark::State& state) {
  for (auto _ : state) {
    auto parsed = clustersim::config::parse_bandwidth("400 Gb/s");
    benchmark::DoNotOptimize(parsed);
  }
}
BENCHMARK(bm_parse_bandwidth);

// Runs `load` once outside the timing, so that a bad card skips the benchmark with its message
// instead of ending the program with an uncaught exception, then times it.
template <class Load>
void time_load(benchmark::State& state, Load load) {
  try {
    benchmark::DoNotOptimize(load());
  } catch (const clustersim::config::ConfigError& error) {
    state.SkipWithError(error.what());
    return;
  }
  for (auto _ : state) {
    auto loaded = load();
    benchmark::DoNotOptimize(loaded);
  }
}

void bm_load_model_card(benchmark::State& state) {
  time_load(state, [] { return clustersim::config::load_model_card(kModelCard); });
}
BENCHMARK(bm_load_model_card);

void bm_load_experiment(benchmark::State& state) {
  time_load(state, [] { return clustersim::config::load_experiment(kExperiment); });
}
BENCHMARK(bm_load_experiment);

}  // namespace
