#include "sim/report/sweep_runner.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/config/loader.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/run_outcome.hpp"
#include "sim/report/simulator_memory.hpp"
#include "sim/report/step_report.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::report {

namespace {

// The cost profile a point's network is priced with (its hardware's), each loaded once.
const config::CostProfile& sweep_prices(const config::Experiment& experiment) {
  static std::mutex mutex;
  static std::map<std::string, config::CostProfile> loaded;
  const std::string name = config::network_cost_profile(experiment.hardware);
  const std::lock_guard lock(mutex);
  auto found = loaded.find(name);
  if (found == loaded.end()) found = loaded.emplace(name, config::load_cost_profile(name)).first;
  return found->second;
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

// A scalar as a CSV field: integers as integers, other numbers in the shortest form that reads
// back to the same double, strings as they are, null as an empty field.
std::string scalar_text(const nlohmann::json& value) {
  if (const auto* text = value.get_ptr<const nlohmann::json::string_t*>()) return *text;
  switch (value.type()) {
    case nlohmann::json::value_t::number_integer:
      return fmt::format("{}", value.get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return fmt::format("{}", value.get<std::uint64_t>());
    case nlohmann::json::value_t::number_float:
      return fmt::format("{}", value.get<double>());
    case nlohmann::json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    default:
      return "";
  }
}

std::string number(const nlohmann::json& value) {
  return value.is_number() ? scalar_text(value) : "";
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
    // With the link tiers' utilisation (mean, p99, max), so network studies can compare them.
    parallel::StepOptions step_options;
    step_options.link_traffic = true;
    const parallel::StepResult result = parallel::simulate_step(experiment, step_options);
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
      capex = cluster_capex(experiment, result, &sweep_prices(experiment));
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
  row.status = json.at("status").get_ref<const std::string&>();
  if (const auto reason = json.find("reason"); reason != json.end()) {
    row.reason = reason->get_ref<const std::string&>();
  }
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

using KeyPath = std::vector<std::string>;

// The scalars of a result under their key paths: objects are walked, an array of scalars is one
// value (its JSON text, "[3,4,4]"), an array holding objects (per stage, per device, per network
// part) is left out: results.jsonl has it. A std::map orders the paths as a walk of the JSON does
// (nlohmann::json keeps an object's keys sorted), so the columns come in the JSON's order.
void flatten(const nlohmann::json& value, KeyPath& path, std::map<KeyPath, std::string>& out) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      path.push_back(key);
      flatten(item, path, out);
      path.pop_back();
    }
  } else if (value.is_array()) {
    const bool scalars = std::none_of(value.begin(), value.end(), [](const nlohmann::json& item) {
      return item.is_structured();
    });
    if (scalars && !value.empty()) out[path] = value.dump();
  } else {
    out[path] = scalar_text(value);
  }
}

std::map<KeyPath, std::string> flat_result(const SweepRow& row) {
  std::map<KeyPath, std::string> out;
  if (row.result.is_object()) {
    KeyPath path;
    flatten(row.result, path, out);
  }
  return out;
}

std::string dotted(const KeyPath& path) {
  std::string name;
  for (const std::string& part : path) name += (name.empty() ? "" : ".") + part;
  return name;
}

// The columns of earlier versions, in their places: the point, one column per axis, the status,
// the headline results and the reason.
std::vector<std::string> headline_columns(const config::SweepSpec& sweep) {
  std::vector<std::string> fields{"point"};
  for (const config::SweepAxis& axis : sweep.axes) fields.push_back(axis.key);
  for (const char* column :
       {"status", "step_time_s", "tokens_per_day", "tflops_causal", "tflops_noncausal",
        "mfu_causal", "mfu_noncausal", "memory_peak_bytes", "gpu_hours_per_trillion_tokens",
        "usd_per_trillion_tokens", "network_capex_usd", "reason"}) {
    fields.emplace_back(column);
  }
  return fields;
}

std::vector<std::string> headline_fields(const config::SweepSpec& sweep, const SweepRow& row) {
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
  return fields;
}

}  // namespace

std::string sweep_csv(const config::SweepSpec& sweep, const std::vector<SweepRow>& rows) {
  std::vector<std::string> header = headline_columns(sweep);
  std::vector<std::map<KeyPath, std::string>> flat;
  flat.reserve(rows.size());
  std::set<KeyPath> paths;
  for (const SweepRow& row : rows) {
    flat.push_back(flat_result(row));
    for (const auto& [path, text] : flat.back()) paths.insert(path);
  }
  // A key that is null in one row and an object in another ("cost.energy") is a column only for
  // what the object holds; a name the headline columns already have ("step_time_s") is not
  // repeated.
  std::vector<KeyPath> columns;
  const std::set<std::string> taken(header.begin(), header.end());
  for (auto it = paths.begin(); it != paths.end(); ++it) {
    const auto next = std::next(it);
    const bool parent = next != paths.end() && next->size() > it->size() &&
                        std::equal(it->begin(), it->end(), next->begin());
    if (parent || taken.contains(dotted(*it))) continue;
    columns.push_back(*it);
    header.push_back(dotted(*it));
  }
  std::string text = csv_line(header);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::vector<std::string> fields = headline_fields(sweep, rows[r]);
    for (const KeyPath& column : columns) {
      const auto found = flat[r].find(column);
      fields.push_back(found == flat[r].end() ? std::string() : found->second);
    }
    text += csv_line(fields);
  }
  return text;
}

}  // namespace clustersim::report
