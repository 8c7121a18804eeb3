#include "sim/report/validation_suite.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "sim/config/experiment.hpp"

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
  EXPECT_EQ(s[0].optimistic, 1u);  // the step faster than published; 1F slower; one equal
  EXPECT_EQ(s[1].family, "b");
  EXPECT_EQ(s[1].figures, 0u);
  EXPECT_EQ(s[2].family, "");
  EXPECT_EQ(s[2].figures, 3u);
}

// Optimistic: a rate above the published one, a time or a cost below it.
TEST(ValidationSuite, OptimisticMeansARateAboveOrATimeBelow) {
  EXPECT_TRUE((ValidationFigure{"tokens_per_s_per_gpu", 100, 120}.optimistic()));
  EXPECT_FALSE((ValidationFigure{"model_tflops_per_gpu", 100, 90}.optimistic()));
  EXPECT_TRUE((ValidationFigure{"mfu_noncausal", 0.4, 0.5}.optimistic()));
  EXPECT_TRUE((ValidationFigure{"step_time_s", 20, 19}.optimistic()));
  EXPECT_FALSE((ValidationFigure{"kernel_ms.ep_combine", 49, 50}.optimistic()));
  EXPECT_TRUE((ValidationFigure{"gpu_hours_per_trillion_tokens", 180e3, 170e3}.optimistic()));
  EXPECT_FALSE((ValidationFigure{"step_time_s", 20, 20}.optimistic()));
  // Every rate is a published key (a misspelt one would count its figures as times).
  for (const std::string_view rate : config::kPublishedRates) {
    EXPECT_NE(std::find(config::kPublishedKeys.begin(), config::kPublishedKeys.end(), rate),
              config::kPublishedKeys.end())
        << rate;
  }
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

namespace clustersim::report {
namespace {

// The shipped suite (experiments/validation), simulated: its summary is pinned so that a change
// to the model that moves any family shows here. Update the figures, and the README's table,
// when a change is meant to move them.
TEST(ValidationSuite, ShippedSuiteSummaryIsPinned) {
  const std::vector<std::string> files = validation_files(kRoot + "/experiments/validation");
  std::vector<ValidationRun> runs(files.size());
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t k = next++; k < files.size(); k = next++) runs[k] = run_validation(files[k]);
  };
  std::thread a(worker);
  std::thread b(worker);
  a.join();
  b.join();
  for (const ValidationRun& run : runs)
    EXPECT_EQ(run.status, "ok") << run.file << ": " << run.reason;
  struct Pinned {
    const char* family;
    std::size_t runs, figures;
    double median, p90;
    std::size_t optimistic;
  };
  const Pinned pinned[] = {{"dsv3_chunk_pair", 1, 10, 0.0431, 0.2322, 4},
                           {"dsv3_table4", 2, 28, 0.0551, 0.0596, 26},
                           {"korthikanti22", 11, 15, 0.0438, 0.0668, 15},
                           {"korthikanti22_layer", 5, 10, 0.0302, 0.0464, 5},
                           {"moe_folding", 50, 50, 0.0877, 0.1689, 37},
                           {"moe_modelzoo", 10, 15, 0.2396, 0.4713, 9},
                           {"nemo_blackwell", 5, 15, 0.1963, 0.4993, 15},
                           {"nemo_h100", 17, 51, 0.0721, 1.0695, 43},
                           {"", 101, 194, 0.0604, 0.3803, 154}};
  const std::vector<ErrorSummary> summaries = summarise(runs);
  ASSERT_EQ(summaries.size(), std::size(pinned));
  for (std::size_t i = 0; i < summaries.size(); ++i) {
    SCOPED_TRACE(pinned[i].family);
    EXPECT_EQ(summaries[i].family, pinned[i].family);
    EXPECT_EQ(summaries[i].runs, pinned[i].runs);
    EXPECT_EQ(summaries[i].figures, pinned[i].figures);
    EXPECT_NEAR(summaries[i].median_abs_error, pinned[i].median, 0.0006);
    EXPECT_NEAR(summaries[i].p90_abs_error, pinned[i].p90, 0.0006);
    EXPECT_EQ(summaries[i].optimistic, pinned[i].optimistic);
  }
}

}  // namespace
}  // namespace clustersim::report
