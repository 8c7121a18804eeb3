// clustersim reproduce DIR: the validation suite, every experiment of a folder simulated in
// parallel and held against its published figures.

#include <algorithm>
#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/cli/commands.hpp"
#include "sim/core/parallel_for.hpp"
#include "sim/report/validation_suite.hpp"

namespace clustersim::cli {

int run_reproduce(const ReproduceOptions& options) {
  std::vector<std::string> files;
  try {
    files = report::validation_files(options.folder);
  } catch (const std::invalid_argument& error) {
    std::cerr << fmt::format("clustersim reproduce: {}\n", error.what());
    return kExitInputError;
  }
  std::vector<report::ValidationRun> runs(files.size());
  parallel_for(files.size(), static_cast<std::size_t>(std::max(1, options.jobs)),
               [&](std::size_t k) {
                 try {
                   runs[k] = report::run_validation(files[k]);
                 } catch (const std::exception& error) {  // a bug: reported, and the others run
                   runs[k].file = files[k];
                   runs[k].name = files[k];
                   runs[k].status = "internal_error";
                   runs[k].reason = error.what();
                 }
               });
  if (options.json) {
    std::cout << report::validation_json(runs).dump(2) << '\n';
  } else {
    std::cout << report::validation_text(runs);
  }
  for (const report::ValidationRun& run : runs) {
    if (run.status == "internal_error") return kExitInternalError;
  }
  for (const report::ValidationRun& run : runs) {
    if (run.status == "input_error") return kExitInputError;
  }
  for (const report::ValidationRun& run : runs) {
    if (run.status != "ok") return kExitInfeasible;
  }
  return kExitOk;
}

}  // namespace clustersim::cli
