// A sweep file (experiments/sweep_*.yaml): loading it checks every axis value against its base
// experiment and gives the sweep or a ConfigError. Anything else is a bug.

#include "sim/config/loader.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("experiments/fuzz_input.yaml", data, size);
  try {
    (void)config::load_sweep(file);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
