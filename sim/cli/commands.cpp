#include "sim/cli/commands.hpp"

#include <chrono>
#include <fstream>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/compute/measured_file.hpp"
#include "sim/config/loader.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/config_json.hpp"
#include "sim/report/config_text.hpp"
#include "sim/report/memory_report.hpp"
#include "sim/report/model_report.hpp"
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

// Prints the problems of a configuration and returns the matching exit code.
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

// A subcommand whose engine is not built yet says so, plainly, with the issue that brings it.
int not_yet(std::string_view command, std::string_view what, std::string_view issue, bool as_json) {
  const std::string message = fmt::format(
      "clustersim {}: {} is not implemented yet (it arrives with {})", command, what, issue);
  std::cerr << message << '\n';
  if (as_json)
    std::cout << json{{"status", "not_implemented"}, {"message", message}}.dump(2) << '\n';
  return kExitInfeasible;
}

}  // namespace

int run_experiment(const RunOptions& options) {
  try {
    const auto started = std::chrono::steady_clock::now();
    const config::Experiment experiment =
        config::load_experiment(options.experiment, load_options(options.common));
    const workload::MemoryEstimate memory = workload::estimate_memory(experiment);
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
    parallel::StepResult result;
    try {
      result = parallel::simulate_step(experiment);
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
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (options.trace) {
      std::ofstream trace(*options.trace);
      if (!trace) {
        std::cerr << fmt::format("clustersim run: cannot write the trace {}\n", *options.trace);
        return kExitInputError;
      }
      trace << report::chrome_trace(experiment, result).dump() << '\n';
    }
    if (options.common.json) {
      std::cout << report::step_json(experiment, result, wall_s).dump(2) << '\n';
    } else {
      std::cout << report::step_text(experiment, result, wall_s, !options.common.overrides.empty());
      if (options.trace) std::cout << fmt::format("trace: {}\n", *options.trace);
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  } catch (const compute::MeasuredFileError& error) {
    std::cerr << error.what() << '\n';
    return kExitInputError;
  }
}

int run_topo(const FileOptions& options) {
  try {
    const config::TopologySpec spec =
        config::load_topology(options.file, load_options(options.common));
    const config::CostProfile prices =
        config::load_cost_profile(options.cost, load_options(CommonOptions{}));
    fabric::TopologyStats stats;
    if (const std::optional<std::string> reason = fabric::unbuildable_reason(spec)) {
      stats = fabric::measure_from_counts(fabric::count_network(spec), *reason);
    } else {
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

int run_validate(const std::vector<std::string>& files, const std::string& kind_name,
                 const CommonOptions& common) {
  int worst = kExitOk;
  json results = json::array();
  for (const std::string& file : files) {
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
        case config::CardKind::experiment:
          name = config::load_experiment(file, options).name;
          break;
        case config::CardKind::sweep:
          name = config::load_sweep(file, options).name;
          break;
        case config::CardKind::cost:
          name = config::load_cost_profile(file, options).name;
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
    }
  }
  if (common.json) std::cout << results.dump(2) << '\n';
  return worst;
}

int run_plot(const PlotOptions& options) {
  (void)options;
  return not_yet("plot", "plotting sweep results", "the sweep and dashboard work", false);
}

}  // namespace clustersim::cli
