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

// The results table (results.csv), a header and a line per row in the order given: the point,
// one column per axis, the status, the headline results (step_time_s, tokens_per_day,
// tflops_causal, tflops_noncausal, mfu_causal, mfu_noncausal, memory_peak_bytes,
// gpu_hours_per_trillion_tokens, usd_per_trillion_tokens, network_capex_usd) and the reason; then
// every other scalar of the rows' results under its dotted key path ("cost.capex_usd.total",
// "cost.energy.total_kwh"), in the JSON's order. A column exists when any row has the key. Arrays
// of numbers are one field, their JSON text; arrays of objects (per stage, per device, per network
// part) are left out, results.jsonl has them. Numbers are written in full: a double reads back the
// same.
[[nodiscard]] std::string sweep_csv(const config::SweepSpec& sweep,
                                    const std::vector<SweepRow>& rows);

}  // namespace clustersim::report
