#pragma once
// The report of one simulated training step: the keys DESIGN.md promises for `run --json`, a
// readable table with the published figures beside the simulated ones, and the timeline as a
// Chrome trace (one process per pipeline device, one thread per stream) that Perfetto opens.
//
// Derived figures:
//   tokens/day           tokens per step x 86400 / step time
//   TFLOP/s per GPU      training FLOPs per token (sim/workload/model_stats: 6 x active
//                        parameters' matmuls + attention, causal or not) x tokens per step /
//                        (GPUs x step time)
//   MFU                  TFLOP/s per GPU over the BF16 dense peak
//   GPU-hours per 1e12   GPUs x step time / 3600 x 1e12 / tokens per step
//   days per 1e12        step time x 1e12 / tokens per step / 86400 (on this cluster)
//   $                    GPU-hours x the experiment's (or the profile's) GPU-hour price

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/experiment.hpp"
#include "sim/fabric/network_cost.hpp"
#include "sim/parallel/step_simulator.hpp"

namespace clustersim::report {

// The energy of training (config::EnergySpec): every GPU draws power_fraction x TDP, the facility
// PUE times that; kWh and $ per trillion tokens and for the experiment's token budget.
struct EnergyFigures {
  double tdp_w = 0;
  double power_fraction = 0;
  double pue = 0;
  std::optional<double> usd_per_kwh;
  double kwh_per_trillion_tokens = 0;
  std::optional<double> total_kwh;  // for the experiment's token budget
  [[nodiscard]] std::optional<double> usd_per_trillion_tokens() const;
  [[nodiscard]] std::optional<double> total_usd() const;
  [[nodiscard]] double kwh_per_gpu_hour() const { return tdp_w * power_fraction * pue / 1e3; }
};

// The energy assumptions of the experiment (then its profile), without the per-token figures;
// nullopt without a TDP, a power fraction and a PUE.
[[nodiscard]] std::optional<EnergyFigures> energy_assumptions(const config::Experiment& experiment);
// What one GPU-hour costs to run: the rental price plus, when the assumptions give one, its
// electricity; nullopt without a rental price.
[[nodiscard]] std::optional<double> gpu_hour_usd_all_in(const config::Experiment& experiment);

struct StepFigures {
  double tokens_per_day = 0;
  double tflops_causal = 0;
  double tflops_noncausal = 0;
  double mfu_causal = 0;
  double mfu_noncausal = 0;
  double gpu_hours_per_trillion_tokens = 0;
  double days_per_trillion_tokens = 0;
  std::optional<double> gpu_hour_usd;
  std::optional<double> total_gpu_hours;  // for the experiment's token budget
  std::optional<double> training_days;    // for the experiment's token budget
  double tokens_per_s_per_gpu = 0;
  // Absent without a TDP, a power fraction and a PUE (in the profile or the experiment).
  std::optional<EnergyFigures> energy;
};

// What the cluster costs to build: the GPUs at the profile's capex assumption, and the scale-out
// network (the switches, NICs and links the simulation counted) priced by a cost profile; per
// endpoint and per Tb/s of the network's bisection (StepResult::network) in the reports.
struct Capex {
  std::optional<double> gpus_usd;
  std::optional<fabric::CostBreakdown> network;
  std::string cost_profile;
  [[nodiscard]] std::optional<double> total_usd() const {
    if (!gpus_usd || !network) return std::nullopt;
    return *gpus_usd + network->total_usd();
  }
};

// The cluster's capex: its GPUs at the profile's capex assumption, and its network (when it has
// switches) priced by `prices`; without prices, the GPUs only. Throws fabric::CostError for a
// network the profile cannot price.
[[nodiscard]] Capex cluster_capex(const config::Experiment& experiment,
                                  const parallel::StepResult& result,
                                  const config::CostProfile* prices);

// "$136K", "$5.07M", "$1.2B": dollars for a report line.
[[nodiscard]] std::string dollars(double usd);

[[nodiscard]] StepFigures step_figures(const config::Experiment& experiment,
                                       const parallel::StepResult& result);

// The simulated counterpart of a published figure: a key of config::kPublishedKeys (in its
// units: seconds, milliseconds, fractions) or "kernel_ms.<class>"; nullopt when the run has none
// (a chunk-pair key without a chunk pair, a kernel class the model does not launch).
[[nodiscard]] std::optional<double> simulated_value(const config::Experiment& experiment,
                                                    const parallel::StepResult& result,
                                                    std::string_view key);

[[nodiscard]] nlohmann::json step_json(const config::Experiment& experiment,
                                       const parallel::StepResult& result, double wall_s,
                                       const Capex& capex = {});
// `modified`: the experiment was changed on the command line, so the published figures describe
// another configuration; the table says so.
[[nodiscard]] std::string step_text(const config::Experiment& experiment,
                                    const parallel::StepResult& result, double wall_s,
                                    bool modified = false, const Capex& capex = {});
// How an approximate run says so: "departure batching F: rates re-solved once ... (approximate;
// 0 is exact)", for a departure batching F > 0 (fabric::FlowModel::set_departure_batching).
[[nodiscard]] std::string departure_batching_text(double fraction);

[[nodiscard]] nlohmann::json chrome_trace(const config::Experiment& experiment,
                                          const parallel::StepResult& result);

}  // namespace clustersim::report
