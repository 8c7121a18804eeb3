#pragma once
// How a run that cannot go on ends, in sweeps and in the validation suite alike: a status and a
// one-line reason, never a failed batch.

#include <functional>
#include <string>

namespace clustersim::report {

struct RunOutcome {
  std::string status = "ok";  // "ok", "infeasible", "input_error", "over_limit"
  std::string reason;         // why not ok
};

// Runs `work`. A configuration error becomes "input_error" (or "infeasible" when every
// diagnostic is an infeasibility) with its diagnostics joined into the reason; a bad measured
// file "input_error"; std::invalid_argument (a configuration the simulator cannot run)
// "infeasible"; a limit the user set (LimitError: --max-memory, --time-limit) "over_limit".
// Anything else propagates: it is a bug.
[[nodiscard]] RunOutcome run_captured(const std::function<void()>& work);

}  // namespace clustersim::report
