// clustersim sweep: every point of a sweep file, in parallel, resumable.
//
// Output folder: results.jsonl (one JSON object per finished point, appended as points finish)
// and results.csv (rewritten from all rows, in point order, at the end). A point already in
// results.jsonl with the same overrides is not run again, so an interrupted sweep resumes.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/sweep_runner.hpp"

namespace clustersim::cli {

namespace fs = std::filesystem;

int run_sweep(const SweepOptions& options) {
  config::SweepSpec sweep;
  try {
    config::LoadOptions load;
    load.overrides = options.common.overrides;
    sweep = config::load_sweep(options.sweep, load);
  } catch (const config::ConfigError& error) {
    std::cerr << error.what() << '\n';
    return error.infeasible() ? kExitInfeasible : kExitInputError;
  }
  if (options.mpi) {
    std::cerr << "clustersim sweep: --mpi: this build has no MPI support; use -j to run points "
                 "in parallel on one machine\n";
    return kExitInputError;
  }
  const std::vector<config::SweepPoint> points = sweep.points();
  std::error_code ec;
  fs::create_directories(options.out, ec);
  if (ec) {
    std::cerr << fmt::format("clustersim sweep: cannot create {}: {}\n", options.out, ec.message());
    return kExitInputError;
  }
  const fs::path jsonl = fs::path(options.out) / "results.jsonl";
  const fs::path csv = fs::path(options.out) / "results.csv";

  // Rows of an earlier run of the same points.
  std::map<std::size_t, report::SweepRow> rows;
  if (std::ifstream previous(jsonl); previous) {
    std::string line;
    while (std::getline(previous, line)) {
      if (line.empty()) continue;
      try {
        report::SweepRow row = report::sweep_row_from_json(nlohmann::json::parse(line));
        if (row.index < points.size() && points[row.index].overrides == row.overrides) {
          rows[row.index] = std::move(row);
        }
      } catch (const std::exception&) {
        // A line cut short by an interrupted run: that point runs again.
      }
    }
  }
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!rows.contains(i)) todo.push_back(i);
  }
  std::cerr << fmt::format("sweep {}: {} points, {} already done, {} to run on {} job(s)\n",
                           sweep.name, points.size(), points.size() - todo.size(), todo.size(),
                           options.jobs);

  std::ofstream out(jsonl, std::ios::app);
  if (!out) {
    std::cerr << fmt::format("clustersim sweep: cannot write {}\n", jsonl.string());
    return kExitInputError;
  }
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  std::size_t finished = 0;
  const auto worker = [&] {
    for (std::size_t k = next++; k < todo.size(); k = next++) {
      report::SweepRow row = report::run_sweep_point(sweep, todo[k], options.common.overrides);
      const std::lock_guard lock(mutex);
      out << report::to_json(row).dump() << '\n' << std::flush;
      ++finished;
      std::string what = row.status == "ok"
                             ? fmt::format("step {:.3f} s", row.result["step_time_s"].get<double>())
                             : row.status + ": " + row.reason;
      std::cerr << fmt::format("[{}/{}] point {} ({}): {}\n", finished, todo.size(), row.index,
                               fmt::join(row.overrides, ", "), what);
      rows[row.index] = std::move(row);
    }
  };
  std::vector<std::thread> threads;
  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(todo.size())));
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();

  std::ofstream table(csv);
  table << report::sweep_csv_header(sweep);
  int not_ok = 0;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [index, row] : rows) {
    table << report::sweep_csv_row(sweep, row);
    if (row.status != "ok") ++not_ok;
    if (options.common.json) all.push_back(report::to_json(row));
  }
  if (options.common.json) {
    std::cout << all.dump(2) << '\n';
  } else {
    std::cout << fmt::format("sweep {}: {} points, {} ok, {} infeasible or invalid; {} and {}\n",
                             sweep.name, rows.size(),
                             rows.size() - static_cast<std::size_t>(not_ok), not_ok, csv.string(),
                             jsonl.string());
  }
  return kExitOk;
}

}  // namespace clustersim::cli
