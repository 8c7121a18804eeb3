#include "sim/report/run_outcome.hpp"

#include <stdexcept>

#include "sim/compute/measured_file.hpp"
#include "sim/config/diagnostics.hpp"
#include "sim/core/run_limits.hpp"

namespace clustersim::report {

RunOutcome run_captured(const std::function<void()>& work) {
  RunOutcome outcome;
  try {
    work();
  } catch (const config::ConfigError& error) {
    outcome.status = error.infeasible() ? "infeasible" : "input_error";
    for (const config::Diagnostic& d : error.diagnostics()) {
      if (!outcome.reason.empty()) outcome.reason += "; ";
      if (!d.key_path.empty()) {
        outcome.reason.append(d.key_path);
        outcome.reason.append(": ");
      }
      outcome.reason.append(d.message);
    }
  } catch (const compute::MeasuredFileError& error) {
    outcome.status = "input_error";
    outcome.reason = error.what();
  } catch (const std::invalid_argument& error) {
    outcome.status = "infeasible";
    outcome.reason = error.what();
  } catch (const LimitError& error) {
    outcome.status = "over_limit";
    outcome.reason = error.what();
  }
  return outcome;
}

}  // namespace clustersim::report
