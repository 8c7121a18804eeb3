// Every broken file in tests/data/bad gives exactly the messages its header pins, and is reported
// as an input error or an infeasibility as the header says: never a crash, never a silent default.

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/config/loader.hpp"
#include "tests/config/bad_input_corpus.hpp"

namespace clustersim::config {
namespace {

using testing::BadInputCase;

// Loads the case the way its kind says; returns the error, or nullopt if it loaded.
std::optional<ConfigError> load_case(const BadInputCase& item) {
  LoadOptions options;
  options.overrides = item.overrides;
  try {
    if (item.kind == "model") (void)load_model_card(item.path, options);
    if (item.kind == "hardware") (void)load_hardware_profile(item.path, options);
    if (item.kind == "topology") (void)load_topology(item.path, options);
    if (item.kind == "experiment") (void)load_experiment(item.path, options);
    if (item.kind == "sweep") (void)load_sweep(item.path, options);
    if (item.kind == "cost") (void)load_cost_profile(item.path, options);
  } catch (const ConfigError& error) {
    return error;
  }
  return std::nullopt;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);) lines.push_back(line);
  return lines;
}

class BadInput : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(BadInput, GivesItsPinnedMessages) {
  const BadInputCase& item = GetParam();
  const std::optional<ConfigError> error = load_case(item);
  ASSERT_TRUE(error.has_value()) << item.path << " loaded without an error";
  if (std::getenv("CLUSTERSIM_PRINT_ACTUAL") != nullptr) {
    std::cout << "=== " << item.path << "\n" << error->what() << "\n";
  }
  EXPECT_FALSE(item.expected.empty()) << item.path << " pins no message";
  EXPECT_EQ(lines_of(error->what()), item.expected);
  EXPECT_EQ(error->infeasible() ? 1 : 2, item.exit_code);
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadInput, ::testing::ValuesIn(testing::load_bad_input_corpus()),
                         [](const ::testing::TestParamInfo<BadInputCase>& param_info) {
                           return "f" + param_info.param.name;
                         });

TEST(BadInputCorpus, HasAtLeastTwentyCases) {
  EXPECT_GE(testing::load_bad_input_corpus().size(), 20u);
}

}  // namespace
}  // namespace clustersim::config

namespace clustersim::config {
namespace {

// A file of many keys is read in linear time (duplicates are found with a hash set), and its
// errors stop at Diagnostics::kMaxShown lines plus one that counts the rest.
TEST(BadInputSize, ManyUnknownKeysGiveFiftyMessagesAndACount) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "clustersim_many_keys.yaml";
  {
    std::ofstream out(path);
    out << "name: many\n";
    for (int i = 0; i < 20000; ++i) out << "k" << i << ": " << i << "\n";
  }
  try {
    (void)load_model_card(path.string());
    FAIL() << "the file was accepted";
  } catch (const ConfigError& error) {
    ASSERT_EQ(error.diagnostics().size(), Diagnostics::kMaxShown + 1);
    const std::string& last = error.diagnostics().back().message;
    EXPECT_EQ(last.rfind("... and ", 0), 0u) << last;
    EXPECT_NE(last.find(" more (only the first 50 are shown)"), std::string::npos) << last;
  }
  // A duplicate among 20,000 keys is found (the file is read before its keys are checked).
  {
    std::ofstream out(path, std::ios::app);
    out << "k7: again\n";
  }
  try {
    (void)load_model_card(path.string());
    FAIL() << "the file was accepted";
  } catch (const ConfigError& error) {
    ASSERT_EQ(error.diagnostics().size(), 1u);
    EXPECT_EQ(error.diagnostics().front().message, "duplicate key (first defined at line 9)");
    EXPECT_EQ(error.diagnostics().front().location.line, 20002);
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace clustersim::config
