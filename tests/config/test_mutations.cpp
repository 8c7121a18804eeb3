// Robustness: thousands of deterministic random corruptions of the shipped cards must each either
// load or fail with a ConfigError, never crash or throw anything else. Under the sanitizer build
// this also checks that no corruption reads out of bounds.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace clustersim::config {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// One random edit: delete, duplicate or insert a character or a line, or splice in a token that
// YAML or the unit parser treats specially.
std::string mutate(std::string text, std::mt19937_64& rng) {
  static const std::vector<std::string> kTokens{
      ":",      "- ",   "\t", "{",  "]",  "#",    "&a ",     "*a",
      "!!int ", "\"",   "'",  "\n", " 0", "-1",   "1e999",   "nan",
      "~",      "null", "[]", "{}", "Gb", "GB/s", " base: ", "base: deepseek_v3\n",
      "\xff",   "%",    "?",  "|",  ">",  "\\"};
  if (text.empty()) return kTokens[rng() % kTokens.size()];
  const std::size_t at = rng() % text.size();
  switch (rng() % 5) {
    case 0:
      text.erase(at, 1 + rng() % 8);
      break;
    case 1:
      text.insert(at, kTokens[rng() % kTokens.size()]);
      break;
    case 2: {
      const std::size_t start =
          text.rfind('\n', at) == std::string::npos ? 0 : text.rfind('\n', at);
      const std::size_t end = text.find('\n', at);
      text.insert(start, text.substr(start, end - start));
      break;
    }
    case 3:
      text[at] = static_cast<char>(rng() % 128);
      break;
    default: {
      const std::size_t other = rng() % text.size();
      std::swap(text[at], text[other]);
      break;
    }
  }
  return text;
}

// `beside` puts the mutant next to the original, so that relative paths and names in it still
// resolve; otherwise it goes to a temporary folder (for cards that other tests list by folder).
template <class Load>
void fuzz(const fs::path& original, Load load, int rounds, bool beside = true) {
  const std::string text = read_file(original);
  const fs::path dir =
      beside ? original.parent_path() : fs::temp_directory_path() / "clustersim_mutations";
  fs::create_directories(dir);
  const fs::path mutant = dir / ("mutant_" + original.filename().string());
  std::mt19937_64 rng(20261128);
  int rejected = 0;
  for (int round = 0; round < rounds; ++round) {
    std::string corrupted = text;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) corrupted = mutate(corrupted, rng);
    {
      std::ofstream out(mutant, std::ios::binary);
      out << corrupted;
    }
    try {
      load(mutant.string());
    } catch (const ConfigError& error) {
      ++rejected;
      EXPECT_NE(std::string(error.what()).find("error: "), std::string::npos);
    } catch (const std::exception& error) {
      ADD_FAILURE() << "round " << round << " threw " << error.what() << " for:\n" << corrupted;
    }
  }
  fs::remove(mutant);
  // Most corruptions must be caught: a loader that accepted everything would pass otherwise.
  EXPECT_GT(rejected, rounds / 3);
}

const fs::path kData = fs::path("data/good");

TEST(Mutations, ModelCardNeverCrashes) {
  fuzz(
      kData / "models/tiny_gpt.yaml", [](const std::string& f) { (void)load_model_card(f); }, 400);
}

TEST(Mutations, ExperimentNeverCrashes) {
  fuzz(
      kData / "experiments/inline_cards.yaml",
      [](const std::string& f) { (void)load_experiment(f); }, 400);
}

TEST(Mutations, HardwareProfileNeverCrashes) {
  fuzz(
      fs::path(CLUSTERSIM_SOURCE_DIR) / "hardware_profiles/h800_sxm.yaml",
      [](const std::string& f) { (void)load_hardware_profile(f); }, 400);
}

TEST(Mutations, SoftwareStackNeverCrashes) {
  fuzz(
      fs::path(CLUSTERSIM_SOURCE_DIR) / "software_stacks/megatron_core_te_2025.yaml",
      [](const std::string& f) { (void)load_software_stack(f); }, 300, false);
}

// A validation experiment corrupted, loaded and simulated: every mutant is rejected with a
// message, found infeasible, or runs; none crashes the simulation.
TEST(Mutations, ValidationExperimentNeverCrashesTheSimulation) {
  fuzz(
      fs::path(CLUSTERSIM_SOURCE_DIR) /
          "experiments/validation/korthikanti22_22b_seqpar_selective.yaml",
      [](const std::string& f) {
        const Experiment e = load_experiment(f);
        try {
          (void)parallel::simulate_step(e);
        } catch (const std::invalid_argument&) {
          // a configuration the simulator cannot run, reported as infeasible
        }
      },
      200, false);
}

TEST(Mutations, SweepNeverCrashes) {
  fuzz(
      kData / "sweep_zip.yaml", [](const std::string& f) { (void)load_sweep(f); }, 200);
}

}  // namespace
}  // namespace clustersim::config
