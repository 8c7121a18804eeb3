#include "sim/report/validation_suite.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/config/experiment.hpp"
#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/run_outcome.hpp"
#include "sim/report/step_report.hpp"

namespace clustersim::report {

std::vector<std::string> validation_files(const std::string& folder) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw std::invalid_argument(fmt::format("{}: not a folder of experiments", folder));
  }
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".yaml") {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    throw std::invalid_argument(fmt::format("{}: holds no experiment (*.yaml)", folder));
  }
  return files;
}

ValidationRun run_validation(const std::string& file) {
  ValidationRun run;
  run.file = file;
  run.name = std::filesystem::path(file).stem().string();
  const RunOutcome outcome = run_captured([&] {
    const config::Experiment e = config::load_experiment(file);
    run.name = e.name;
    run.family = e.published.family;
    const parallel::StepResult r = parallel::simulate_step(e);
    if (!r.memory.fits()) {
      run.memory_note = fmt::format("needs {:.1f} GB of the {:.1f} GB of one GPU",
                                    r.memory.peak().total() / 1e9, r.memory.capacity / 1e9);
    }
    std::vector<std::pair<std::string, double>> published = e.published.values;
    for (const auto& [name, value] : e.published.kernel_ms) {
      published.emplace_back("kernel_ms." + name, value);
    }
    for (const auto& [key, value] : published) {
      if (const std::optional<double> simulated = simulated_value(e, r, key)) {
        run.figures.push_back({key, value, *simulated});
      }
    }
  });
  run.status = outcome.status;
  run.reason = outcome.reason;
  return run;
}

bool ValidationFigure::optimistic() const {
  const auto& rates = config::kPublishedRates;
  const bool rate = std::find(rates.begin(), rates.end(), key) != rates.end();
  return rate ? simulated > published : simulated < published;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double position = p * static_cast<double>(values.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, values.size() - 1);
  const double t = position - static_cast<double>(below);
  return values[below] + t * (values[above] - values[below]);
}

std::vector<ErrorSummary> summarise(const std::vector<ValidationRun>& runs) {
  std::map<std::string, std::vector<const ValidationRun*>> by_family;
  for (const ValidationRun& run : runs) by_family[run.family].push_back(&run);
  const auto summary = [](std::string family, const std::vector<const ValidationRun*>& members) {
    ErrorSummary s;
    s.family = std::move(family);
    std::vector<double> errors;
    for (const ValidationRun* run : members) {
      if (!run->figures.empty()) ++s.runs;
      for (const ValidationFigure& f : run->figures) {
        errors.push_back(std::abs(f.error()));
        if (f.optimistic()) ++s.optimistic;
      }
    }
    s.figures = errors.size();
    s.median_abs_error = percentile(errors, 0.5);
    s.p90_abs_error = percentile(errors, 0.9);
    return s;
  };
  std::vector<ErrorSummary> out;
  std::vector<const ValidationRun*> all;
  for (const auto& [family, members] : by_family) {
    out.push_back(summary(family.empty() ? "(none)" : family, members));
    all.insert(all.end(), members.begin(), members.end());
  }
  out.push_back(summary("", all));
  return out;
}

nlohmann::json validation_json(const std::vector<ValidationRun>& runs) {
  nlohmann::json rows = nlohmann::json::array();
  for (const ValidationRun& run : runs) {
    nlohmann::json figures = nlohmann::json::array();
    for (const ValidationFigure& f : run.figures) {
      figures.push_back({{"key", f.key},
                         {"published", f.published},
                         {"simulated", f.simulated},
                         {"error", f.error()}});
    }
    rows.push_back({{"file", run.file},
                    {"name", run.name},
                    {"family", run.family},
                    {"status", run.status},
                    {"reason", run.reason},
                    {"memory_note", run.memory_note},
                    {"figures", figures}});
  }
  nlohmann::json families = nlohmann::json::object();
  nlohmann::json overall;
  for (const ErrorSummary& s : summarise(runs)) {
    const nlohmann::json j{{"runs", s.runs},
                           {"figures", s.figures},
                           {"median_abs_error", s.median_abs_error},
                           {"p90_abs_error", s.p90_abs_error},
                           {"optimistic_figures", s.optimistic}};
    (s.family.empty() ? overall : families[s.family]) = j;
  }
  return {{"runs", rows}, {"families", families}, {"overall", overall}};
}

std::string validation_text(const std::vector<ValidationRun>& runs) {
  struct Line {
    const ValidationRun* run;
    const ValidationFigure* figure;
  };
  std::vector<Line> lines;
  for (const ValidationRun& run : runs) {
    for (const ValidationFigure& f : run.figures) lines.push_back({&run, &f});
  }
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) {
    return std::abs(a.figure->error()) > std::abs(b.figure->error());
  });
  std::string out = fmt::format("{:<18} {:<52} {:<26} {:>11} {:>11} {:>8}\n", "family", "run",
                                "figure", "simulated", "published", "error");
  for (const Line& line : lines) {
    out += fmt::format("{:<18} {:<52} {:<26} {:>11.4g} {:>11.4g} {:>+7.1f}%\n", line.run->family,
                       line.run->name, line.figure->key, line.figure->simulated,
                       line.figure->published, line.figure->error() * 100);
  }
  for (const ValidationRun& run : runs) {
    if (run.status != "ok") {
      out += fmt::format("{} ({}): {}: {}\n", run.name, run.file, run.status, run.reason);
    } else if (!run.memory_note.empty()) {
      out += fmt::format("{}: simulated memory {} (the measured run fit)\n", run.name,
                         run.memory_note);
    }
  }
  out += fmt::format("\n{:<18} {:>5} {:>8} {:>14} {:>12} {:>11}\n", "family", "runs", "figures",
                     "median |error|", "p90 |error|", "optimistic");
  for (const ErrorSummary& s : summarise(runs)) {
    out += fmt::format("{:<18} {:>5} {:>8} {:>13.1f}% {:>11.1f}% {:>11}\n",
                       s.family.empty() ? "all" : s.family, s.runs, s.figures,
                       s.median_abs_error * 100, s.p90_abs_error * 100,
                       fmt::format("{} of {}", s.optimistic, s.figures));
  }
  out +=
      "optimistic: figures the simulation makes better than measured (a rate above it, a time "
      "or cost below it)\n";
  return out;
}

}  // namespace clustersim::report
