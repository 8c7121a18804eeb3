// clustersim search: the best parallel layouts of an experiment (sim/report/layout_search.hpp).

#include "sim/cli/search_command.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/cli/point_pool.hpp"
#include "sim/config/loader.hpp"
#include "sim/report/layout_search.hpp"

namespace clustersim::cli {

using nlohmann::json;

json layout_json(const report::SearchedLayout& layout) {
  const report::LayoutChoice& c = layout.choice;
  json out{{"tp", c.tp},
           {"pp", c.pp},
           {"ep", c.ep},
           {"cp", c.cp},
           {"dp", layout.dp},
           {"zero", c.zero},
           {"schedule", config::to_string(c.schedule)},
           {"virtual_stages", c.virtual_stages},
           {"micro_batch_size", c.micro_batch_size},
           {"recompute", c.recompute},
           {"comm_sms", c.comm_sms},
           {"step_time_s", layout.step_time_s},
           {"lower_bound_s", layout.lower_bound_s},
           {"mfu_causal", layout.mfu_causal},
           {"tokens_per_s_per_gpu", layout.tokens_per_s_per_gpu},
           {"usd_per_million_tokens", nullptr},
           {"memory_peak_gb", layout.memory_peak_bytes / 1e9},
           {"memory_headroom_gb", (layout.memory_capacity_bytes - layout.memory_peak_bytes) / 1e9},
           {"overrides", layout.overrides()}};
  if (layout.usd_per_million_tokens) out["usd_per_million_tokens"] = *layout.usd_per_million_tokens;
  return out;
}

namespace {

// A word as a POSIX shell reads it back: as it is when it holds nothing the shell treats
// specially, otherwise in single quotes ('\'' for a quote inside).
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("_-.,=/:+@%").find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

std::string layout_row(std::size_t rank, const report::SearchedLayout& layout) {
  return fmt::format(
      "{:>4}  {:>8.3f}  {:>5.1f} %  {:>8}  {:>7.1f}  {:>8.1f}   {}\n", rank, layout.step_time_s,
      100 * layout.mfu_causal,
      layout.usd_per_million_tokens ? fmt::format("{:.3f}", *layout.usd_per_million_tokens) : "-",
      layout.memory_peak_bytes / 1e9,
      (layout.memory_capacity_bytes - layout.memory_peak_bytes) / 1e9, layout.describe());
}

std::string table_header() {
  return fmt::format("{:>4}  {:>8}  {:>7}  {:>8}  {:>7}  {:>8}   {}\n", "rank", "step (s)", "MFU",
                     "$/M tok", "mem (GB)", "headroom", "layout");
}

std::string pruned_text(const report::SearchResult& result, bool examples) {
  std::string out;
  for (const auto& [reason, count] : result.pruned) {
    out += fmt::format("  {:>7}  {}", count, reason);
    if (examples) out += fmt::format(" (e.g. {})", result.pruned_example.at(reason));
    out += '\n';
  }
  return out;
}

}  // namespace

int run_search(const SearchOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  if (options.mpi) {
    if (const std::optional<std::string> error = start_mpi("search")) {
      std::cerr << *error << '\n';
      return kExitInputError;
    }
  }
  config::LoadOptions load;
  load.overrides = options.common.overrides;
  load.fixes = options.fix;
  try {
    const config::Experiment base = config::load_experiment(options.experiment, load);
    report::SearchOptions search;
    search.top = options.top;
    search.rank_by = options.by == "cost" ? report::RankBy::cost : report::RankBy::step_time;
    search.pareto = options.pareto;
    search.exhaustive = options.exhaustive;
    search.jobs = options.jobs;
    // The layouts go out to the jobs (or the MPI ranks) as they ask, with a progress line; the
    // writing rank decides what the results so far prune.
    bool writer = true;
    const report::SearchRunner runner = [&](const std::vector<std::size_t>& order, int jobs,
                                            const std::function<bool(std::size_t)>& skip,
                                            const report::SearchWork& work,
                                            const report::SearchDone& done) {
      PoolOptions pool;
      pool.jobs = jobs;
      pool.mpi = options.mpi;
      pool.label = "search " + base.name;
      writer = run_points(
          order, pool,
          [&](std::size_t i) {
            return PointOutcome{work(i), true, {}};
          },
          done, skip);
    };
    const report::SearchResult result = report::search_layouts(base, search, runner);
    if (!writer) return kExitOk;  // another rank prints
    const double wall_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::size_t pruned = 0;
    for (const auto& [reason, count] : result.pruned) pruned += count;
    if (options.common.json) {
      json out{{"experiment", base.name},       {"candidates", result.candidates},
               {"simulated", result.simulated}, {"pruned", result.pruned},
               {"rank_by", options.by},         {"wall_s", wall_s},
               {"best", json::array()}};
      for (const report::SearchedLayout& layout : result.best) {
        out["best"].push_back(layout_json(layout));
      }
      if (options.pareto) {
        out["pareto"] = json::array();
        for (const report::SearchedLayout& layout : result.pareto) {
          out["pareto"].push_back(layout_json(layout));
        }
      }
      if (result.best.empty()) out["status"] = "infeasible";
      std::cout << out.dump(2) << '\n';
    }
    if (result.best.empty()) {
      std::cerr << fmt::format(
          "clustersim search: {}: no layout of the {} candidates can run ({} simulated); why "
          "they were left out:\n{}",
          options.experiment, result.candidates, result.simulated, pruned_text(result, true));
      return kExitInfeasible;
    }
    if (options.common.json) return kExitOk;
    std::cout << fmt::format(
        "search {}: {} on {} x {} GPUs ({}), {:.3g} tokens per step\n"
        "{} candidates: {} left out, {} simulated in {:.1f} s on {} job(s)\n",
        base.name, base.model.name, base.cluster.gpus(), base.hardware.name,
        base.cluster.topology ? base.cluster.topology->name : "one node",
        static_cast<double>(base.training.global_batch_size * base.training.seq_len),
        result.candidates, pruned, result.simulated, wall_s, options.jobs);
    std::cout << pruned_text(result, options.show_pruned);
    std::cout << fmt::format("\nbest {} by {}:\n", result.best.size(),
                             options.by == "cost" ? "cost per token" : "step time");
    std::cout << table_header();
    for (std::size_t i = 0; i < result.best.size(); ++i) {
      std::cout << layout_row(i + 1, result.best[i]);
    }
    if (options.pareto) {
      std::cout << "\nPareto front (step time against memory, fastest first):\n" << table_header();
      for (std::size_t i = 0; i < result.pareto.size(); ++i) {
        std::cout << layout_row(i + 1, result.pareto[i]);
      }
    }
    // The user's own --set first (the search ran with them), then the layout's.
    std::string command = "clustersim run " + shell_word(options.experiment);
    for (const std::string& item : options.common.overrides)
      command += " --set " + shell_word(item);
    for (const std::string& item : result.best.front().overrides()) {
      command += " --set " + shell_word(item);
    }
    std::cout << fmt::format("\nrun the best: {}\n", command);
    return kExitOk;
  } catch (const config::ConfigError& error) {
    return report_config_error(error, options.common.json);
  } catch (const std::invalid_argument& error) {
    std::cerr << fmt::format("clustersim search: {}: {}\n", options.experiment, error.what());
    return kExitInputError;
  }
}

}  // namespace clustersim::cli
