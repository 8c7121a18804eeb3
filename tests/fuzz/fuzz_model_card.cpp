// A model card (models/*.yaml): loading it gives the card or a ConfigError, and a card that loads
// gives its counts (what `clustersim model` prints). Any other exception, a crash or a sanitizer
// report is a bug.

#include "sim/config/loader.hpp"
#include "sim/workload/model_stats.hpp"
#include "tests/fuzz/fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  const std::string file = fuzz::write_input("models/fuzz_input.yaml", data, size);
  try {
    const config::ModelCard card = config::load_model_card(file);
    (void)workload::compute_model_stats(card, 4096);
  } catch (const config::ConfigError&) {
  }
  return 0;
}
