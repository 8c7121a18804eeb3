#pragma once
// The subcommands of the clustersim CLI. Each returns the process exit code:
// 0 success, 1 simulation failed or the input is infeasible, 2 usage or input error, 4 stopped by
// a limit the user set (--max-memory, --time-limit).

#include <optional>
#include <string>
#include <vector>

#include "sim/config/diagnostics.hpp"
#include "sim/core/run_limits.hpp"

namespace clustersim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInfeasible = 1;
inline constexpr int kExitInputError = 2;
inline constexpr int kExitInternalError = 3;  // a bug in clustersim, never a user mistake
inline constexpr int kExitOverLimit = 4;

struct CommonOptions {
  std::vector<std::string> overrides;  // --set key=value
  bool json = false;
  std::string max_memory;  // --max-memory SIZE (empty: the machine's memory)
  std::string time_limit;  // --time-limit DURATION (empty: none)
};

// The limits --max-memory and --time-limit set (the machine's memory and no time limit by
// default). A bad value prints its error, naming `command` and the option, and gives nullopt.
[[nodiscard]] std::optional<RunLimits> resolve_limits(const CommonOptions& options,
                                                      const std::string& command);
// Prints the problems of a configuration (as JSON too) and returns the matching exit code.
int report_config_error(const config::ConfigError& error, bool as_json);
// Prints a run stopped by a limit ("clustersim run: FILE: stopped at the time limit ..."), as
// JSON too, and returns kExitOverLimit.
int report_limit_error(const LimitError& error, const std::string& what, bool as_json);

struct RunOptions {
  CommonOptions common;
  std::string experiment;
  std::optional<std::string> trace;
  std::optional<std::string> links;  // run: per-link traffic as CSV
  std::string cost;  // run: cost profile that prices the network (empty: the hardware's)
};

struct SweepOptions {
  CommonOptions common;
  std::string sweep;
  int jobs = 1;
  std::string out;  // empty: the sweep's name
  bool mpi = false;
};

struct FileOptions {  // topo, model, validate
  CommonOptions common;
  std::string file;
  std::optional<long long> seq_len;
  std::optional<long long> endpoints;  // topo: size the network for this many endpoints
  std::string cost = "ib_ndr_64port";  // topo: cost profile name or path
};

struct CrosscheckOptions {  // crosscheck and calibrate
  CommonOptions common;
  std::string measured;
  std::string hardware;  // empty: the library profile of the measured GPU
  std::string out;       // calibrate: the profile to write
  std::string name;      // calibrate: its name (default: <base>_calibrated)
};

struct PlotOptions {
  std::string results;
  std::string x;
  std::string y;
  std::string series;  // optional: one line per value of this column
  std::string out;     // SVG; default: the results file with .svg
  bool log_x = false;  // logarithmic axes (every value > 0; x numeric)
  bool log_y = false;
  std::vector<std::string> where;  // KEY=VALUE: only the rows whose column KEY holds VALUE
  std::string title;               // default: "<y's title> against <x's title>"
};

struct ReproduceOptions {
  std::string folder = "experiments/validation";
  int jobs = 1;
  bool json = false;
};

struct CardsOptions {
  std::vector<std::string> kinds;  // models, hardware, ...; empty: every kind
  bool json = false;
  std::size_t width = 100;  // a text line is cut to this many characters
};

int run_experiment(const RunOptions& options);
// The cards a name would find from the working directory, kind by kind.
int run_cards(const CardsOptions& options);
int run_reproduce(const ReproduceOptions& options);
int run_sweep(const SweepOptions& options);
int run_topo(const FileOptions& options);
int run_model(const FileOptions& options);
int run_memory(const RunOptions& options);
// `kind` empty: guess each file's kind from its folder and keys. A folder stands for every YAML
// file under it (not in hidden folders or build trees).
int run_validate(const std::vector<std::string>& files, const std::string& kind,
                 const CommonOptions& options);
int run_crosscheck(const CrosscheckOptions& options);
int run_calibrate(const CrosscheckOptions& options);
int run_plot(const PlotOptions& options);

}  // namespace clustersim::cli
