// A measured file (hardware_profiles/measured/*.json, clustersim-measured/1): reading it gives
// its cases or a MeasuredFileError. Anything else is a bug.

#include "sim/compute/measured_file.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file =
      fuzz::write_input("hardware_profiles/measured/fuzz_input.json", data, size);
  try {
    const compute::MeasuredFile measured = compute::load_measured_file(file);
    for (const compute::MeasuredCase& item : measured.cases) (void)item.describe();
  } catch (const compute::MeasuredFileError&) {
  }
  return 0;
}
