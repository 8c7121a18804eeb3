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
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string_view>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/cli/point_pool.hpp"
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
  FolderLock& operator=(FolderLock&& other) noexcept {
    if (this != &other) {
      release();
      path_ = std::move(other.path_);
      other.path_.clear();
    }
    return *this;
  }
  ~FolderLock() { release(); }

 private:
  explicit FolderLock(fs::path path) : path_(std::move(path)) {}
  void release() noexcept {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove(path_, ec);
    path_.clear();
  }
  fs::path path_;
};

}  // namespace

namespace {

// Rows of earlier runs whose point still has the same key, and how many rows were stale.
struct EarlierRows {
  std::map<std::size_t, report::SweepRow> rows;
  std::size_t stale = 0;
};

EarlierRows read_earlier_rows(const fs::path& jsonl, const std::vector<std::string>& keys) {
  EarlierRows earlier;
  std::ifstream previous(jsonl);
  std::string line;
  while (previous && std::getline(previous, line)) {
    if (line.empty()) continue;
    try {
      const nlohmann::json json = nlohmann::json::parse(line);
      report::SweepRow row = report::sweep_row_from_json(json);
      const std::string key = json.value("key", "");
      // A point stopped by a limit runs again: the limits may have changed since.
      if (row.status == "over_limit") continue;
      if (row.index < keys.size() && !key.empty() && key == keys[row.index]) {
        earlier.rows[row.index] = std::move(row);
      } else if (!key.empty() || row.index >= keys.size()) {
        ++earlier.stale;  // a point that does not load has no key and simply runs again
      }
    } catch (const std::exception&) {
      // A line cut short by an interrupted run: that point runs again.
    }
  }
  return earlier;
}

// What the writing rank holds while the points run.
struct SweepOutput {
  fs::path folder;
  std::optional<FolderLock> lock;
  std::vector<std::string> keys;
  std::map<std::size_t, report::SweepRow> rows;
  std::vector<std::size_t> todo;
  std::ofstream jsonl;
};

// Prepares the output folder of the writing rank: the lock, the points' keys, the rows that are
// still valid and the points to run. Prints what goes wrong and gives nullopt.
std::optional<SweepOutput> prepare_output(const SweepOptions& options,
                                          const config::SweepSpec& sweep,
                                          const std::vector<config::SweepPoint>& points,
                                          const PoolOptions& pool) {
  SweepOutput output;
  output.folder = options.out.empty() ? fs::path(sweep.name) : fs::path(options.out);
  std::error_code ec;
  fs::create_directories(output.folder, ec);
  if (ec) {
    std::cerr << fmt::format("clustersim sweep: cannot create {}: {}\n", output.folder.string(),
                             ec.message());
    return std::nullopt;
  }
  output.lock = FolderLock::take(output.folder);
  if (!output.lock) return std::nullopt;
  const fs::path jsonl = output.folder / "results.jsonl";

  // Each point's key; a point that does not load has none and always runs (it fails at once).
  output.keys.resize(points.size());
  for (std::size_t i = 0; i < points.size(); ++i) {
    output.keys[i] = point_key(sweep, points[i], options.common.overrides);
  }
  EarlierRows earlier = read_earlier_rows(jsonl, output.keys);
  output.rows = std::move(earlier.rows);
  for (std::size_t i = 0; i < points.size(); ++i) {
    if (!output.rows.contains(i)) output.todo.push_back(i);
  }
  const std::string workers =
      pool.mpi ? fmt::format("{} MPI ranks{}", mpi_world_size(),
                             pool.jobs > 1 ? fmt::format(" of {} job(s) each", pool.jobs) : "")
               : fmt::format("{} job(s)", pool.jobs);
  std::cerr << fmt::format(
      "sweep {}: {} points, {} already done, {} to run on {}{}\n", sweep.name, points.size(),
      points.size() - output.todo.size(), output.todo.size(), workers,
      earlier.stale > 0
          ? fmt::format("; {} stale row(s) (their inputs changed) replaced", earlier.stale)
          : "");
  output.jsonl.open(jsonl, std::ios::app);
  if (!output.jsonl) {
    std::cerr << fmt::format("clustersim sweep: cannot write {}\n", jsonl.string());
    return std::nullopt;
  }
  return output;
}

// One finished point for the progress output: "(parallelism.pp=16): step 18.921 s".
std::string point_summary(const report::SweepRow& row) {
  const std::string what =
      row.status == "ok" ? fmt::format("step {:.3f} s", row.result["step_time_s"].get<double>())
                         : row.status + ": " + row.reason;
  return fmt::format("({}): {}", fmt::join(row.overrides, ", "), what);
}

}  // namespace

int run_sweep(const SweepOptions& options) {
  // Under MPI every rank loads the sweep and runs points; rank 0 alone takes the folder, prints
  // and writes. Each step that can fail ends in an agreement, so that a rank that cannot go on
  // stops the others instead of leaving them waiting.
  if (options.mpi) {
    if (const std::optional<std::string> error = start_mpi("sweep")) {
      std::cerr << *error << '\n';
      return kExitInputError;
    }
  }
  const bool writer = mpi_rank() == 0;
  const PoolOptions pool{options.jobs, options.mpi, ""};
  std::optional<RunLimits> limits;
  config::SweepSpec sweep;
  std::vector<config::SweepPoint> points;
  const auto load = [&]() -> std::optional<int> {
    limits = resolve_limits(options.common, "sweep");
    if (!limits) return kExitInputError;
    try {
      config::LoadOptions load_options;
      load_options.overrides = options.common.overrides;
      sweep = config::load_sweep(options.sweep, load_options);
    } catch (const config::ConfigError& error) {
      std::cerr << (writer ? "" : fmt::format("clustersim sweep: rank {}: ", mpi_rank()))
                << error.what() << '\n';
      return error.infeasible() ? kExitInfeasible : kExitInputError;
    }
    points = sweep.points();
    return std::nullopt;
  };
  // Rank 0 first: a mistake in the sweep is reported once, by it.
  std::optional<int> failed;
  std::optional<SweepOutput> output;
  if (writer) {
    failed = load();
    if (!failed) {
      output = prepare_output(options, sweep, points, pool);
      if (!output) failed = kExitInputError;
    }
  }
  if (!mpi_all_ready(!failed)) return failed.value_or(kExitInputError);
  if (!writer) failed = load();
  if (!mpi_all_ready(!failed)) {
    if (writer) {
      std::cerr << "clustersim sweep: --mpi: a rank could not load the sweep (its message is "
                   "above)\n";
    }
    return failed.value_or(kExitInputError);
  }

  // The points running at once on this machine share its memory.
  const int at_once =
      options.mpi ? points_at_once_on_this_machine(pool)
                  : std::min<int>(pool.jobs,
                                  static_cast<int>(std::max<std::size_t>(1, output->todo.size())));
  if (limits->memory_bytes && at_once > 1) {
    *limits->memory_bytes /= at_once;
    limits->memory_source =
        fmt::format("share of one of {} jobs ({} in all) {}", at_once,
                    format_bytes(*limits->memory_bytes * at_once), limits->memory_source);
  }
  const auto work = [&](std::size_t index) {
    const report::SweepRow row =
        report::run_sweep_point(sweep, index, options.common.overrides, *limits);
    // Infeasible points are results; points that did not load or ran over a limit failed.
    return PointOutcome{report::to_json(row).dump(),
                        row.status == "ok" || row.status == "infeasible", point_summary(row)};
  };
  const auto done = [&](std::size_t index, const std::string& text) {
    nlohmann::json json = nlohmann::json::parse(text);
    json["key"] = output->keys[index];
    output->jsonl << json.dump() << '\n' << std::flush;
    output->rows[index] = report::sweep_row_from_json(json);
  };
  PoolOptions run = pool;
  run.label = "sweep " + sweep.name;
  if (!run_points(writer ? output->todo : std::vector<std::size_t>{}, run, work, done)) {
    return kExitOk;  // another rank: rank 0 writes
  }

  output->jsonl.close();
  const fs::path& folder = output->folder;
  const fs::path jsonl = folder / "results.jsonl";
  const fs::path csv = folder / "results.csv";
  // Rewritten in point order: stale and repeated rows go, and the file no longer depends on the
  // order in which points finished.
  {
    const fs::path fresh = folder / "results.jsonl.tmp";
    std::ofstream rewritten(fresh);
    for (const auto& [index, row] : output->rows) {
      nlohmann::json json = report::to_json(row);
      json["key"] = output->keys[index];
      rewritten << json.dump() << '\n';
    }
    rewritten.close();
    std::error_code ec;
    fs::rename(fresh, jsonl, ec);
  }
  std::vector<report::SweepRow> rows;
  rows.reserve(output->rows.size());
  int not_ok = 0;
  nlohmann::json all = nlohmann::json::array();
  for (const auto& [index, row] : output->rows) {
    if (row.status != "ok") ++not_ok;
    if (options.common.json) all.push_back(report::to_json(row));
    rows.push_back(row);
  }
  std::ofstream(csv) << report::sweep_csv(sweep, rows);
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
