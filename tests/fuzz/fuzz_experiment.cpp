// An experiment (experiments/*.yaml): loading it resolves its model, hardware, topology and
// stack cards and gives the experiment or a ConfigError; an experiment that loads then takes the
// checks `clustersim validate` and `run` make before simulating (the simulator's memory fits the
// budget, the cluster's network builds, the compute data is there, the model fits), which report
// problems as a ConfigError, or a LimitError for a cluster beyond the budget. Anything else is a
// bug.

#include "sim/config/loader.hpp"
#include "sim/core/run_limits.hpp"
#include "sim/report/preflight.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("experiments/fuzz_input.yaml", data, size);
  // Well inside the 2 GiB tools/fuzz.sh gives each target, sanitizers included.
  RunLimits limits;
  limits.memory_bytes = 512.0 * 1024 * 1024;
  limits.memory_source = "the fuzz target allows";
  try {
    const config::Experiment experiment = config::load_experiment(file);
    report::preflight(experiment, file, limits);
  } catch (const config::ConfigError&) {
  } catch (const LimitError&) {
  }
  return 0;
}
