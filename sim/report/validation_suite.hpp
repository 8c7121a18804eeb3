#pragma once
// The validation suite: every experiment of a folder (experiments/validation/), each a measured
// public run with its `published:` figures, simulated and compared figure by figure. Errors are
// simulated / published - 1; each family (published.family) is summarised by the median and the
// 90th percentile of |error| over its figures, and so is the whole suite.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace clustersim::report {

struct ValidationFigure {
  std::string key;  // a published key, or "kernel_ms.<class>"
  double published = 0;
  double simulated = 0;
  [[nodiscard]] double error() const { return simulated / published - 1; }
  // Whether the simulation promises more than was measured: a rate (throughput, TFLOP/s, MFU,
  // tokens per day) above the published one, or a time or cost below it.
  [[nodiscard]] bool optimistic() const;
};

struct ValidationRun {
  std::string file;
  std::string name;
  std::string family;
  std::string status;  // "ok", "infeasible", "input_error"
  std::string reason;  // why not ok
  // Set when the simulated memory exceeds the GPU's: the run existed, so the memory model
  // over-counts it (it is simulated all the same).
  std::string memory_note;
  std::vector<ValidationFigure> figures;
};

struct ErrorSummary {
  std::string family;  // "" for the whole suite
  std::size_t figures = 0;
  std::size_t runs = 0;
  double median_abs_error = 0;
  double p90_abs_error = 0;
  std::size_t optimistic = 0;  // figures the simulation makes better than measured
};

// The experiment files of `folder` (*.yaml, sorted by name). Throws std::invalid_argument when
// the folder does not exist or holds none.
[[nodiscard]] std::vector<std::string> validation_files(const std::string& folder);

// Loads and simulates one file; a run that cannot run is a row with its reason (see
// run_outcome.hpp).
[[nodiscard]] ValidationRun run_validation(const std::string& file);

// Per family (sorted by name), then the whole suite last.
[[nodiscard]] std::vector<ErrorSummary> summarise(const std::vector<ValidationRun>& runs);

// The p-th percentile (0..1) of `values` by linear interpolation between order statistics.
[[nodiscard]] double percentile(std::vector<double> values, double p);

[[nodiscard]] nlohmann::json validation_json(const std::vector<ValidationRun>& runs);
// Every figure, worst |error| first, then the summaries.
[[nodiscard]] std::string validation_text(const std::vector<ValidationRun>& runs);

}  // namespace clustersim::report
