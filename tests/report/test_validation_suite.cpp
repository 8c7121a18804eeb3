#include "sim/report/validation_suite.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace clustersim::report {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

TEST(ValidationSuite, PercentileInterpolatesBetweenOrderStatistics) {
  EXPECT_DOUBLE_EQ(percentile({3, 1, 2}, 0.5), 2);
  EXPECT_DOUBLE_EQ(percentile({1, 2, 3, 4}, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(percentile({0, 10}, 0.9), 9);
  EXPECT_DOUBLE_EQ(percentile({}, 0.9), 0);
}

ValidationRun run_of(const std::string& family, std::vector<ValidationFigure> figures) {
  ValidationRun run;
  run.family.assign(family);
  run.figures = std::move(figures);
  return run;
}

TEST(ValidationSuite, SummariesArePerFamilyThenOverall) {
  const std::vector<ValidationRun> runs{run_of("a", {{"step_time_s", 1.0, 1.1}, {"1F", 2.0, 1.0}}),
                                        run_of("a", {{"step_time_s", 1.0, 1.0}}), run_of("b", {})};
  const std::vector<ErrorSummary> s = summarise(runs);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].family, "a");
  EXPECT_EQ(s[0].figures, 3u);
  EXPECT_EQ(s[0].runs, 2u);
  EXPECT_NEAR(s[0].median_abs_error, 0.1, 1e-12);  // |errors| 0.1, 0.5, 0
  EXPECT_EQ(s[1].family, "b");
  EXPECT_EQ(s[1].figures, 0u);
  EXPECT_EQ(s[2].family, "");
  EXPECT_EQ(s[2].figures, 3u);
}

TEST(ValidationSuite, MissingFolderIsAnError) {
  EXPECT_THROW((void)validation_files(kRoot + "/no-such-folder"), std::invalid_argument);
}

TEST(ValidationSuite, BrokenExperimentIsARowWithItsReason) {
  const ValidationRun run = run_validation(kRoot + "/tests/data/bad/79_dropout_one.yaml");
  EXPECT_EQ(run.status, "input_error");
  EXPECT_NE(run.reason.find("a dropout probability must be below 1"), std::string::npos);
}

}  // namespace
}  // namespace clustersim::report
