#include "sim/report/sweep_runner.hpp"

#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/run_outcome.hpp"
#include "sim/report/simulator_memory.hpp"
#include "sim/report/step_report.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::report {

namespace {

// The cost profile sweep rows are priced with, loaded once for every point.
const config::CostProfile& sweep_prices() {
  static const config::CostProfile prices = config::load_cost_profile("ib_as_bought");
  return prices;
}

// The value an override sets ("parallelism.pp=8" -> "8").
std::string value_of(const std::string& override_text) {
  const std::size_t equals = override_text.find('=');
  return equals == std::string::npos ? override_text : override_text.substr(equals + 1);
}

// A CSV field, quoted when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted(1, '"');
  for (char ch : text) {
    if (ch == '"') quoted.push_back('"');
    quoted.push_back(ch);
  }
  quoted.push_back('"');
  return quoted;
}

std::string number(const nlohmann::json& value) {
  return value.is_number() ? fmt::format("{:.6g}", value.get<double>()) : "";
}

}  // namespace

SweepRow run_sweep_point(const config::SweepSpec& sweep, std::size_t index,
                         const std::vector<std::string>& extra_overrides, const RunLimits& limits) {
  SweepRow row;
  row.index = index;
  row.overrides = sweep.points().at(index).overrides;
  config::LoadOptions options;
  options.overrides = extra_overrides;
  options.overrides.insert(options.overrides.end(), row.overrides.begin(), row.overrides.end());
  const RunOutcome outcome = run_captured([&] {
    const WallClockLimit time_limit(limits.time_s);
    const config::Experiment experiment = config::load_experiment(sweep.experiment, options);
    check_memory_budget(estimate_step_memory(experiment), limits);
    const parallel::StepResult result = parallel::simulate_step(experiment);
    // Memory of the stage split the simulation used (`balanced` moves layers).
    const workload::MemoryEstimate& memory = result.memory;
    if (!memory.fits()) {
      row.status = "infeasible";
      row.reason =
          fmt::format("does not fit: pipeline rank {} needs {:.1f} GB of {:.1f} GB",
                      memory.peak().rank, memory.peak().total() / 1e9, memory.capacity / 1e9);
      return;
    }
    row.status = "ok";
    // The network priced as bought (the default profile of `run`), for network comparisons; a
    // network the profile cannot price leaves the row without network capex.
    Capex capex;
    try {
      capex = cluster_capex(experiment, result, &sweep_prices());
    } catch (const fabric::CostError&) {
      capex = cluster_capex(experiment, result, nullptr);
    }
    row.result = step_json(experiment, result, 0.0, capex);
    // Results depend on their inputs only: the wall time would differ from run to run.
    row.result["sim"].erase("wall_s");
  });
  if (outcome.status != "ok") {
    row.status = outcome.status;
    row.reason = outcome.reason;
  }
  return row;
}

nlohmann::json to_json(const SweepRow& row) {
  nlohmann::json out{{"point", row.index}, {"overrides", row.overrides}, {"status", row.status}};
  if (!row.reason.empty()) out["reason"] = row.reason;
  if (!row.result.is_null()) out["result"] = row.result;
  return out;
}

SweepRow sweep_row_from_json(const nlohmann::json& json) {
  SweepRow row;
  row.index = json.at("point").get<std::size_t>();
  row.overrides = json.at("overrides").get<std::vector<std::string>>();
  row.status = json.at("status").get<std::string>();
  row.reason = json.value("reason", "");
  if (json.contains("result")) row.result = json["result"];
  return row;
}

namespace {

// Fields joined by commas, one line.
std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line.push_back(',');
    line.append(csv_field(fields[i]));
  }
  line.push_back('\n');
  return line;
}

}  // namespace

std::string sweep_csv_header(const config::SweepSpec& sweep) {
  std::vector<std::string> fields{"point"};
  for (const config::SweepAxis& axis : sweep.axes) fields.push_back(axis.key);
  for (const char* column :
       {"status", "step_time_s", "tokens_per_day", "tflops_causal", "tflops_noncausal",
        "mfu_causal", "mfu_noncausal", "memory_peak_bytes", "gpu_hours_per_trillion_tokens",
        "usd_per_trillion_tokens", "network_capex_usd", "reason"}) {
    fields.emplace_back(column);
  }
  return csv_line(fields);
}

std::string sweep_csv_row(const config::SweepSpec& sweep, const SweepRow& row) {
  std::vector<std::string> fields{std::to_string(row.index)};
  for (std::size_t a = 0; a < sweep.axes.size(); ++a) {
    fields.push_back(a < row.overrides.size() ? value_of(row.overrides[a]) : std::string());
  }
  fields.push_back(row.status);
  const nlohmann::json& r = row.result;
  const bool ok = row.status == "ok";
  const auto value = [&](const nlohmann::json& v) { return ok ? number(v) : std::string(); };
  fields.push_back(value(ok ? r["step_time_s"] : nlohmann::json()));
  fields.push_back(value(ok ? r["tokens_per_day"] : nlohmann::json()));
  fields.push_back(value(ok ? r["tflops_per_gpu"]["causal"] : nlohmann::json()));
  fields.push_back(value(ok ? r["tflops_per_gpu"]["noncausal"] : nlohmann::json()));
  fields.push_back(value(ok ? r["mfu"]["causal"] : nlohmann::json()));
  fields.push_back(value(ok ? r["mfu"]["noncausal"] : nlohmann::json()));
  fields.push_back(value(ok ? r["memory_per_gpu_bytes"]["peak"] : nlohmann::json()));
  fields.push_back(value(ok ? r["cost"]["gpu_hours_per_trillion_tokens"] : nlohmann::json()));
  fields.push_back(value(ok ? r["cost"]["usd_per_trillion_tokens"] : nlohmann::json()));
  const bool priced = ok && r["cost"]["capex_usd"]["network"].is_number();
  fields.push_back(priced ? number(r["cost"]["capex_usd"]["network"]) : std::string());
  fields.push_back(row.reason);
  return csv_line(fields);
}

}  // namespace clustersim::report
