#include "sim/cli/commands.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/compute/measured_file.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/unit_parser.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/chart.hpp"
#include "sim/report/config_json.hpp"
#include "sim/report/config_text.hpp"
#include "sim/report/link_report.hpp"
#include "sim/report/memory_report.hpp"
#include "sim/report/model_report.hpp"
#include "sim/report/preflight.hpp"
#include "sim/report/simulator_memory.hpp"
#include "sim/report/step_report.hpp"
#include "sim/report/topology_report.hpp"
#include "sim/workload/memory.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::cli {
namespace {

using nlohmann::json;

config::LoadOptions load_options(const CommonOptions& common) {
  config::LoadOptions options;
  options.overrides = common.overrides;
  return options;
}

// A cost profile that cannot price the network: one message, as JSON too; an input error.
int report_cost_error(const fabric::CostError& error, bool as_json) {
  const std::string message = fmt::format("--cost: error: {}", error.what());
  std::cerr << message << '\n';
  if (as_json) std::cout << json{{"status", "input_error"}, {"message", message}}.dump(2) << '\n';
  return kExitInputError;
}

}  // namespace

int report_config_error(const config::ConfigError& error, bool as_json) {
  std::cerr << error.what() << '\n';
  const std::size_t count = error.diagnostics().size();
  std::cerr << fmt::format("clustersim: {} {}\n", count,
                           error.infeasible() ? (count == 1 ? "infeasibility" : "infeasibilities")
                                              : (count == 1 ? "error" : "errors"));
  if (as_json) {
    std::cout << json{{"status", error.infeasible() ? "infeasible" : "input_error"},
                      {"diagnostics", report::to_json(error)}}
                     .dump(2)
              << '\n';
  }
  return error.infeasible() ? kExitInfeasible : kExitInputError;
}

std::optional<RunLimits> resolve_limits(const CommonOptions& options, const std::string& command) {
  RunLimits limits = RunLimits::machine_defaults();
  if (!options.max_memory.empty()) {
    const config::Parsed<DataSize> size = config::parse_data_size(options.max_memory);
    if (!size.value || !(size.value->bytes > 0)) {
      std::cerr << fmt::format("clustersim {}: --max-memory \"{}\": {}\n", command,
                               options.max_memory,
                               size.value ? "must be more than zero" : size.error);
      return std::nullopt;
    }
    limits.memory_bytes = size.value->bytes;
    limits.memory_source = "that --max-memory allows";
  }
  if (!options.time_limit.empty()) {
    const config::Parsed<SimTime> time = config::parse_duration(options.time_limit);
    if (!time.value || !(time.value->seconds() > 0)) {
      std::cerr << fmt::format("clustersim {}: --time-limit \"{}\": {}\n", command,
                               options.time_limit,
                               time.value ? "must be more than zero" : time.error);
      return std::nullopt;
    }
    limits.time_s = time.value->seconds();
  }
  return limits;
}

int report_limit_error(const LimitError& error, const std::string& what, bool as_json) {
  const std::string message = fmt::format("{}: {}", what, error.what());
  std::cerr << message << '\n';
  if (as_json) std::cout << json{{"status", "over_limit"}, {"message", message}}.dump(2) << '\n';
  return kExitOverLimit;
}

int run_experiment(const RunOptions& options) {
  const std::optional<RunLimits> limits = resolve_limits(options.common, "run");
  if (!limits) return kExitInputError;
  // Counted from here; the engine checks it at every step of the simulation.
  const WallClockLimit time_limit(limits->time_s);
  try {
    const auto started = std::chrono::steady_clock::now();
    const config::Experiment experiment =
        config::load_experiment(options.experiment, load_options(options.common));
    // Loaded before the simulation, so a misspelt profile fails at once.
    const config::CostProfile prices = config::load_cost_profile(
        options.cost.empty() ? config::network_cost_profile(experiment.hardware) : options.cost,
        load_options(CommonOptions{}));
    // The checks validate makes, so that their errors name the key they come from.
    report::preflight(experiment, options.experiment, *limits, &prices);
    parallel::StepResult result;
    try {
      parallel::StepOptions step_options;
      step_options.link_traffic = true;
      step_options.link_rows = options.links.has_value();
      result = parallel::simulate_step(experiment, step_options);
    } catch (const std::invalid_argument& error) {
      // The hardware profile lacks what the experiment needs, or the schedule cannot run.
      const std::string message =
          fmt::format("clustersim run: {}: {}", options.experiment, error.what());
      std::cerr << message << '\n';
      if (options.common.json) {
        std::cout << json{{"status", "input_error"}, {"message", message}}.dump(2) << '\n';
      }
      return kExitInputError;
    }
    // Memory of the stage split the simulation used (`balanced` moves layers).
    const workload::MemoryEstimate& memory = result.memory;
    if (!memory.fits()) {
      const workload::RankMemory& peak = memory.peak();
      const std::string message = fmt::format(
          "clustersim run: {} does not fit: pipeline rank {} needs {:.1f} GB of the {:.1f} GB "
          "of one GPU (parameters {:.1f}, gradients {:.1f}, optimizer {:.1f}, activations "
          "{:.1f}); see `clustersim memory`",
          options.experiment, peak.rank, peak.total() / 1e9, memory.capacity / 1e9,
          peak.parameters / 1e9, peak.gradients / 1e9, peak.optimizer / 1e9,
          peak.activations / 1e9);
      std::cerr << message << '\n';
      if (options.common.json) {
        std::cout << json{{"status", "infeasible"}, {"message", message}}.dump(2) << '\n';
      }
      return kExitInfeasible;
    }
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    report::Capex capex;
    try {
      capex = report::cluster_capex(experiment, result, &prices);
    } catch (const fabric::CostError& error) {
      return report_cost_error(error, options.common.json);
    }
    if (options.trace) {
      std::ofstream trace(*options.trace);
      if (!trace) {
        std::cerr << fmt::format("clustersim run: cannot write the trace {}\n", *options.trace);
        return kExitInputError;
      }
      trace << report::chrome_trace(experiment, result).dump() << '\n';
    }
    if (options.links) {
      std::ofstream links(*options.links);
      if (!links || !(links << report::link_csv(*result.links))) {
        std::cerr << fmt::format("clustersim run: cannot write the link report {}\n",
                                 *options.links);
        return kExitInputError;
      }
    }
    if (options.common.json) {
      std::cout << report::step_json(experiment, result, wall_s, capex).dump(2) << '\n';
    } else {
      std::cout << report::step_text(experiment, result, wall_s, !options.common.overrides.empty(),
                                     capex);
      if (options.trace) std::cout << fmt::format("trace: {}\n", *options.trace);
      if (options.links) std::cout << fmt::format("links: {}\n", *options.links);
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  } catch (const compute::MeasuredFileError& error) {
    std::cerr << error.what() << '\n';
    return kExitInputError;
  } catch (const LimitError& error) {
    return report_limit_error(error, "clustersim run: " + options.experiment, options.common.json);
  }
}

int run_topo(const FileOptions& options) {
  const std::optional<RunLimits> limits = resolve_limits(options.common, "topo");
  if (!limits) return kExitInputError;
  try {
    config::TopologySpec spec = config::load_topology(options.file, load_options(options.common));
    if (options.endpoints) spec.endpoints = *options.endpoints;
    const config::CostProfile prices =
        config::load_cost_profile(options.cost, load_options(CommonOptions{}));
    fabric::TopologyStats stats;
    if (const std::optional<std::string> reason = fabric::unbuildable_reason(spec)) {
      stats =
          fabric::measure_from_counts(fabric::count_network(spec), *reason, spec.link_bandwidth);
    } else {
      report::check_memory_budget(report::estimate_network_memory(spec), *limits);
      stats = fabric::measure(fabric::build_network(spec));
    }
    const fabric::CostBreakdown cost = fabric::network_cost(stats, prices);
    if (options.common.json) {
      std::cout << report::topology_report_json(spec, stats, cost, prices).dump(2) << '\n';
    } else {
      std::cout << report::topology_report_text(spec, stats, cost, prices);
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  } catch (const fabric::BuildError& error) {
    std::cerr << fmt::format("{}: error: {}\n", options.file, error.what());
    return kExitInputError;
  } catch (const fabric::CostError& error) {
    return report_cost_error(error, options.common.json);
  } catch (const LimitError& error) {
    return report_limit_error(error, "clustersim topo: " + options.file, options.common.json);
  }
}

int run_model(const FileOptions& options) {
  if (options.seq_len && *options.seq_len <= 0) {
    std::cerr << fmt::format(
        "clustersim model: --seq-len must be a positive number of tokens, "
        "got {}\n",
        *options.seq_len);
    return kExitInputError;
  }
  try {
    const config::ModelCard card =
        config::load_model_card(options.file, load_options(options.common));
    const workload::ModelStats stats =
        workload::compute_model_stats(card, options.seq_len.value_or(4096));
    if (options.common.json) {
      std::cout << report::model_report_json(card, stats).dump(2) << '\n';
    } else {
      std::cout << report::model_report_text(card, stats);
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  }
}

int run_memory(const RunOptions& options) {
  try {
    const config::Experiment experiment =
        config::load_experiment(options.experiment, load_options(options.common));
    const workload::MemoryEstimate memory = workload::estimate_memory(experiment);
    if (options.common.json) {
      std::cout << report::memory_report_json(experiment, memory).dump(2) << '\n';
    } else {
      std::cout << report::memory_report_text(experiment, memory);
    }
    if (!memory.fits()) {
      std::cerr << fmt::format(
          "{}: infeasible: pipeline rank {} needs {:.2f} GB, more than the {:.2f} GB of one {}\n",
          options.experiment, memory.peak().rank, memory.peak().total() / 1e9,
          memory.capacity / 1e9, experiment.hardware.gpu.model);
      return kExitInfeasible;
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  }
}

namespace {

// The YAML files under a folder, in name order, through its subfolders but not hidden ones
// (.git) or build trees (a CMakeCache.txt), whose copies of the inputs are not the user's.
std::vector<std::string> yaml_files_under(const std::filesystem::path& folder) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(folder, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path& path = it->path();
    if (it->is_directory(ec)) {
      if (path.filename().string().starts_with('.') || fs::exists(path / "CMakeCache.txt", ec)) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (path.extension() == ".yaml" && it->is_regular_file(ec)) files.push_back(path.string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int run_validate(const std::vector<std::string>& arguments, const std::string& kind_name,
                 const CommonOptions& common) {
  const std::optional<RunLimits> limits = resolve_limits(common, "validate");
  if (!limits) return kExitInputError;
  int worst = kExitOk;
  json results = json::array();
  const auto validate_file = [&](const std::string& file) {
    const config::CardKind kind =
        kind_name.empty() ? config::detect_kind(file) : config::parse_card_kind(kind_name);
    const config::LoadOptions options = load_options(common);
    try {
      std::string name;
      switch (kind) {
        case config::CardKind::model:
          name = config::load_model_card(file, options).name;
          break;
        case config::CardKind::hardware:
          name = config::load_hardware_profile(file, options).name;
          break;
        case config::CardKind::topology:
          name = config::load_topology(file, options).name;
          break;
        case config::CardKind::experiment: {
          const config::Experiment experiment = config::load_experiment(file, options);
          // What run checks before it simulates: the network, the compute data, the memory fit.
          report::preflight(experiment, file, *limits);
          name = experiment.name;
          break;
        }
        case config::CardKind::sweep:
          name = config::load_sweep(file, options).name;
          break;
        case config::CardKind::cost:
          name = config::load_cost_profile(file, options).name;
          break;
        case config::CardKind::stack:
          name = config::load_software_stack(file, options).name;
          break;
      }
      if (common.json) {
        results.push_back({{"file", file}, {"kind", config::to_string(kind)}, {"status", "ok"}});
      } else {
        std::cout << fmt::format("{}: ok ({} {})\n", file, config::to_string(kind), name);
      }
    } catch (const config::ConfigError& error) {
      std::cerr << error.what() << '\n';
      const int code = error.infeasible() ? kExitInfeasible : kExitInputError;
      worst = std::max(worst, code);
      if (common.json) {
        results.push_back({{"file", file},
                           {"kind", config::to_string(kind)},
                           {"status", error.infeasible() ? "infeasible" : "input_error"},
                           {"diagnostics", report::to_json(error)}});
      }
    } catch (const LimitError& error) {
      const std::string message = fmt::format("{}: {}", file, error.what());
      std::cerr << message << '\n';
      worst = std::max(worst, kExitOverLimit);
      if (common.json) {
        results.push_back({{"file", file},
                           {"kind", config::to_string(kind)},
                           {"status", "over_limit"},
                           {"message", message}});
      }
    }
  };
  // A folder stands for every YAML file under it; one without any is reported in its place.
  for (const std::string& argument : arguments) {
    std::error_code ec;
    if (!std::filesystem::is_directory(argument, ec)) {
      validate_file(argument);
      continue;
    }
    const std::vector<std::string> found = yaml_files_under(argument);
    for (const std::string& file : found) validate_file(file);
    if (!found.empty()) continue;
    const std::string message = fmt::format("{}: error: no YAML files in this folder", argument);
    std::cerr << message << '\n';
    worst = std::max(worst, kExitInputError);
    if (common.json) {
      results.push_back({{"file", argument}, {"status", "input_error"}, {"message", message}});
    }
  }
  if (common.json) std::cout << results.dump(2) << '\n';
  return worst;
}

int run_plot(const PlotOptions& options) {
  namespace fs = std::filesystem;
  std::string out = options.out;
  if (out.empty()) out = fs::path(options.results).replace_extension(".svg").string();
  if (fs::path(out).extension() != ".svg") {
    std::cerr << fmt::format(
        "clustersim plot: --out {}: the CLI writes SVG; for a PNG use the dashboard: "
        "clustersim-dashboard --plot {} --x {} --y {} --screenshot {}\n",
        out, options.results, options.x, options.y, out);
    return kExitInputError;
  }
  try {
    std::vector<std::pair<std::string, std::string>> conditions;
    for (const std::string& condition : options.where) {
      const std::size_t equals = condition.find('=');
      if (equals == std::string::npos || equals == 0) {
        std::cerr << fmt::format(
            "clustersim plot: --where {}: expected KEY=VALUE, e.g. --where cluster.nodes=256\n",
            condition);
        return kExitInputError;
      }
      conditions.emplace_back(condition.substr(0, equals), condition.substr(equals + 1));
    }
    const report::CsvTable table = report::where(report::read_csv(options.results), conditions);
    const report::ChartData data = report::chart_data(
        table, options.x, options.y,
        options.series.empty() ? std::nullopt : std::optional<std::string>(options.series),
        report::LogAxes{.x = options.log_x, .y = options.log_y});
    std::ofstream stream(out);
    if (!stream) {
      std::cerr << fmt::format("clustersim plot: cannot write {}\n", out);
      return kExitInputError;
    }
    stream << report::svg_chart(data, options.title.empty()
                                          ? fmt::format("{} against {}", data.y_title, data.x_title)
                                          : options.title);
    std::cout << fmt::format(
        "wrote {} ({} series, {} points{})\n", out, data.series.size(),
        [&] {
          std::size_t points = 0;
          for (const report::ChartSeries& s : data.series) {
            points += s.x.size();
          }
          return points;
        }(),
        data.skipped_rows > 0 ? fmt::format(", {} rows without a value left out", data.skipped_rows)
                              : "");
    return kExitOk;
  } catch (const report::ChartError& error) {
    std::cerr << "clustersim plot: " << error.what() << '\n';
    return kExitInputError;
  }
}

}  // namespace clustersim::cli
