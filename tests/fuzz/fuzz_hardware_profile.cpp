// A hardware profile (hardware_profiles/*.yaml): loading it gives the profile or a ConfigError;
// a profile that loads gives its compute model, or the errors `validate` reports for an
// experiment's hardware (a measured file it cannot read, compute data it lacks). Anything else is
// a bug.

#include <optional>
#include <stdexcept>

#include "sim/compute/compute_model.hpp"
#include "sim/compute/measured_file.hpp"
#include "sim/config/loader.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("hardware_profiles/fuzz_input.yaml", data, size);
  std::optional<config::HardwareProfile> profile;
  try {
    profile = config::load_hardware_profile(file);
  } catch (const config::ConfigError&) {
    return 0;
  }
  // As report::preflight takes them.
  try {
    const compute::ComputeModel compute(*profile);
  } catch (const compute::MeasuredFileError&) {
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
