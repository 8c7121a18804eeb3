#pragma once
// Running the points of a sweep: each point is the base experiment with the point's overrides,
// loaded, checked for memory, and simulated; a point that cannot run is a row with its reason,
// never a failed sweep. Rows are JSON objects (one per line in results.jsonl) and CSV rows.

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config/sweep_spec.hpp"
#include "sim/core/run_limits.hpp"

namespace clustersim::report {

struct SweepRow {
  std::size_t index = 0;
  std::vector<std::string> overrides;  // the point's, "key=value"
  std::string status;                  // "ok", "infeasible", "input_error", "over_limit"
  std::string reason;                  // why not ok
  nlohmann::json result;               // step_json of an ok point
};

// Simulates point `index` of `sweep`; `extra_overrides` (from --set) apply before the point's.
// A point that would need more memory than the limits' budget, or outlasts their time, is a row
// with status "over_limit" and the limit's message.
[[nodiscard]] SweepRow run_sweep_point(const config::SweepSpec& sweep, std::size_t index,
                                       const std::vector<std::string>& extra_overrides,
                                       const RunLimits& limits = {});

[[nodiscard]] nlohmann::json to_json(const SweepRow& row);
[[nodiscard]] SweepRow sweep_row_from_json(const nlohmann::json& json);

// CSV with one column per axis, then status and the headline results.
[[nodiscard]] std::string sweep_csv_header(const config::SweepSpec& sweep);
[[nodiscard]] std::string sweep_csv_row(const config::SweepSpec& sweep, const SweepRow& row);

}  // namespace clustersim::report
