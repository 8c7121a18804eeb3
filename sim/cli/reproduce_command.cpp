// clustersim reproduce DIR: the validation suite, every experiment of a folder simulated in
// parallel and held against its published figures.

#include <atomic>
#include <iostream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "sim/cli/commands.hpp"
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
  std::atomic<std::size_t> next{0};
  const auto worker = [&] {
    for (std::size_t k = next++; k < files.size(); k = next++) {
      try {
        runs[k] = report::run_validation(files[k]);
      } catch (const std::exception& error) {  // a bug: reported, and the others still run
        runs[k].file = files[k];
        runs[k].name = files[k];
        runs[k].status = "internal_error";
        runs[k].reason = error.what();
      }
    }
  };
  std::vector<std::thread> threads;
  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(files.size())));
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();
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
