// A software stack card (software_stacks/*.yaml): loading it gives the stack or a ConfigError.
// Anything else is a bug.

#include "sim/config/loader.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("software_stacks/fuzz_input.yaml", data, size);
  try {
    (void)config::load_software_stack(file);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
