// clustersim sweep: every point of a sweep file, in parallel, resumable.
//
// Output folder (default: the sweep's name): results.jsonl (one JSON object per finished point,
// appended as points finish, then rewritten in point order) and results.csv (written from all
// rows, in point order, at the end). Each row carries its point's key: a hash of the point's
// fully resolved experiment (cards inlined) and the program version. A row is reused only for a
// point with the same key, so an interrupted sweep resumes, and a row whose inputs changed (an
// edited experiment, card or axis value) is reported as stale and run again; nothing is doubled.
// A lock file (.lock, holding the writer's pid) stops a second sweep from writing to the folder.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/sweep_runner.hpp"

namespace clustersim::cli {

namespace fs = std::filesystem;

namespace {

// FNV-1a, 64 bits, as 16 hex digits.
std::string fnv1a_hex(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

std::string point_key(const config::SweepSpec& sweep, const config::SweepPoint& point,
                      const std::vector<std::string>& extra_overrides) {
  config::LoadOptions load;
  load.overrides = extra_overrides;
  load.overrides.insert(load.overrides.end(), point.overrides.begin(), point.overrides.end());
  try {
    return fnv1a_hex(std::string("clustersim " CLUSTERSIM_VERSION "\n") +
                     config::resolved_experiment_text(sweep.experiment, load));
  } catch (const config::ConfigError&) {
    return "";
  }
}

// Whether `pid` is a running clustersim program (not a zombie left by a killed sweep, nor another
// program that reuses the pid).
bool running_clustersim(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) {
    // No such process, or no /proc to ask: then a signal-0 probe is all there is.
    std::error_code ec;
    return !fs::exists("/proc/self", ec) && ::kill(static_cast<pid_t>(pid), 0) == 0;
  }
  std::string text;
  std::getline(stat, text);
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= text.size()) {
    return false;
  }
  const std::string name = text.substr(open + 1, close - open - 1);
  const char state = text[close + 2];
  return name.starts_with("clustersim") && state != 'Z' && state != 'X';
}

// One writer per output folder: .lock holds its pid. A lock whose process is gone (a sweep that
// was killed) is taken over.
class FolderLock {
 public:
  static std::optional<FolderLock> take(const fs::path& folder) {
    const fs::path path = folder / ".lock";
    for (int attempt = 0; attempt < 2; ++attempt) {
      const int fd = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644);
      if (fd >= 0) {
        const std::string pid = std::to_string(::getpid()) + "\n";
        const ssize_t written = ::write(fd, pid.data(), pid.size());
        ::close(fd);
        if (written != static_cast<ssize_t>(pid.size())) break;
        return FolderLock(path);
      }
      long owner = 0;
      if (std::ifstream in(path); in) in >> owner;
      if (owner > 0 && running_clustersim(owner)) {
        std::cerr << fmt::format(
            "clustersim sweep: {} is being written by another sweep (pid {}); wait for it, or "
            "give --out another folder\n",
            folder.string(), owner);
        return std::nullopt;
      }
      std::error_code ec;
      fs::remove(path, ec);  // its writer is gone
    }
    std::cerr << fmt::format("clustersim sweep: cannot create the lock file {}\n", path.string());
    return std::nullopt;
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  FolderLock(FolderLock&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  FolderLock& operator=(FolderLock&&) = delete;
  ~FolderLock() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove(path_, ec);
  }

 private:
  explicit FolderLock(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

}  // namespace

int run_sweep(const SweepOptions& options) {
  std::optional<RunLimits> limits = resolve_limits(options.common, "sweep");
  if (!limits) return kExitInputError;
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
  const fs::path folder = options.out.empty() ? fs::path(sweep.name) : fs::path(options.out);
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) {
    std::cerr << fmt::format("clustersim sweep: cannot create {}: {}\n", folder.string(),
                             ec.message());
    return kExitInputError;
  }
  const std::optional<FolderLock> folder_lock = FolderLock::take(folder);
  if (!folder_lock) return kExitInputError;
  const fs::path jsonl = folder / "results.jsonl";
  const fs::path csv = folder / "results.csv";

  // Each point's key; a point that does not load has none and always runs (it fails at once).
  std::vector<std::string> keys(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    keys[i] = point_key(sweep, points[i], options.common.overrides);
  }
  // Rows of earlier runs whose point still has the same key.
  std::map<std::size_t, report::SweepRow> rows;
  std::size_t stale = 0;
  if (std::ifstream previous(jsonl); previous) {
    std::string line;
    while (std::getline(previous, line)) {
      if (line.empty()) continue;
      try {
        const nlohmann::json json = nlohmann::json::parse(line);
        report::SweepRow row = report::sweep_row_from_json(json);
        const std::string key = json.value("key", "");
        // A point stopped by a limit runs again: the limits may have changed since.
        if (row.status == "over_limit") continue;
        if (row.index < points.size() && !key.empty() && key == keys[row.index]) {
          rows[row.index] = std::move(row);
        } else if (!key.empty() || row.index >= points.size()) {
          ++stale;  // a point that does not load has no key and simply runs again
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
  std::cerr << fmt::format("sweep {}: {} points, {} already done, {} to run on {} job(s){}\n",
                           sweep.name, points.size(), points.size() - todo.size(), todo.size(),
                           options.jobs,
                           stale > 0 ? fmt::format("; {} stale row(s) (their inputs changed) "
                                                   "replaced",
                                                   stale)
                                     : "");

  std::ofstream out(jsonl, std::ios::app);
  if (!out) {
    std::cerr << fmt::format("clustersim sweep: cannot write {}\n", jsonl.string());
    return kExitInputError;
  }
  const int jobs = std::max(1, std::min<int>(options.jobs, static_cast<int>(todo.size())));
  // The points running at once share the memory budget.
  if (limits->memory_bytes && jobs > 1) {
    *limits->memory_bytes /= jobs;
    limits->memory_source =
        fmt::format("share of one of {} jobs ({} in all) {}", jobs,
                    format_bytes(*limits->memory_bytes * jobs), limits->memory_source);
  }
  std::mutex mutex;
  std::atomic<std::size_t> next{0};
  std::size_t finished = 0;
  const auto worker = [&] {
    for (std::size_t k = next++; k < todo.size(); k = next++) {
      report::SweepRow row =
          report::run_sweep_point(sweep, todo[k], options.common.overrides, *limits);
      const std::lock_guard lock(mutex);
      nlohmann::json json = report::to_json(row);
      json["key"] = keys[row.index];
      out << json.dump() << '\n' << std::flush;
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
  for (int j = 0; j < jobs; ++j) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();

  out.close();
  // Rewritten in point order: stale and repeated rows go, and the file no longer depends on the
  // order in which jobs finished.
  {
    const fs::path fresh = folder / "results.jsonl.tmp";
    std::ofstream rewritten(fresh);
    for (const auto& [index, row] : rows) {
      nlohmann::json json = report::to_json(row);
      json["key"] = keys[index];
      rewritten << json.dump() << '\n';
    }
    rewritten.close();
    fs::rename(fresh, jsonl, ec);
  }
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
    std::cout << fmt::format(
        "sweep {}: {} points, {} ok, {} infeasible, invalid or over a limit; {} and {}\n",
        sweep.name, rows.size(), rows.size() - static_cast<std::size_t>(not_ok), not_ok,
        csv.string(), jsonl.string());
  }
  return kExitOk;
}

}  // namespace clustersim::cli
