#include "sim/report/step_report.hpp"

#include <map>

#include <fmt/format.h>

#include "sim/report/link_report.hpp"
#include "sim/report/network_cost_report.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::report {

namespace {

constexpr double kSecondsPerDay = 86400;
constexpr double kTrillion = 1e12;

std::optional<double> published(const config::Experiment& e, std::string_view key) {
  for (const auto& [name, value] : e.published.values) {
    if (name == key) return value;
  }
  return std::nullopt;
}

// The experiment's GPU-hour price, else the profile's assumption.
std::optional<double> rental_gpu_hour_usd(const config::Experiment& e) {
  return e.cost.gpu_hour_usd ? e.cost.gpu_hour_usd : e.hardware.price.gpu_hour_usd;
}

}  // namespace

std::string dollars(double usd) {
  if (usd >= 1e9) return fmt::format("${:.3g}B", usd / 1e9);
  if (usd >= 1e6) return fmt::format("${:.3g}M", usd / 1e6);
  if (usd >= 1e3) return fmt::format("${:.3g}K", usd / 1e3);
  return fmt::format("${:.0f}", usd);
}

StepFigures step_figures(const config::Experiment& e, const parallel::StepResult& r) {
  StepFigures f;
  const double tokens = static_cast<double>(r.tokens_per_step);
  const double step = r.step_time_s;
  const workload::ModelStats stats = workload::compute_model_stats(e.model, e.training.seq_len);
  f.tokens_per_day = tokens * kSecondsPerDay / step;
  f.tflops_causal = stats.train_flops_per_token_causal() * tokens / (r.gpus * step) / 1e12;
  f.tflops_noncausal = stats.train_flops_per_token_noncausal() * tokens / (r.gpus * step) / 1e12;
  const double peak = e.hardware.gpu.peak(Dtype::bf16).value_or(FlopRate{1}).flop_per_s / 1e12;
  f.mfu_causal = f.tflops_causal / peak;
  f.mfu_noncausal = f.tflops_noncausal / peak;
  f.gpu_hours_per_trillion_tokens = r.gpus * step / 3600 * kTrillion / tokens;
  f.days_per_trillion_tokens = step * kTrillion / tokens / kSecondsPerDay;
  f.tokens_per_s_per_gpu = tokens / step / r.gpus;
  f.gpu_hour_usd = rental_gpu_hour_usd(e);
  if (e.training.tokens) {
    f.total_gpu_hours = f.gpu_hours_per_trillion_tokens * *e.training.tokens / kTrillion;
    f.training_days = f.days_per_trillion_tokens * *e.training.tokens / kTrillion;
  }
  if (std::optional<EnergyFigures> energy = energy_assumptions(e)) {
    energy->kwh_per_trillion_tokens = f.gpu_hours_per_trillion_tokens * energy->kwh_per_gpu_hour();
    if (e.training.tokens) {
      energy->total_kwh = energy->kwh_per_trillion_tokens * *e.training.tokens / kTrillion;
    }
    f.energy = energy;
  }
  return f;
}

std::optional<EnergyFigures> energy_assumptions(const config::Experiment& e) {
  // The experiment's assumptions first, then the profile's.
  const config::EnergySpec& mine = e.cost.energy;
  const config::EnergySpec& profile = e.hardware.price.energy;
  const std::optional<double> fraction =
      mine.power_fraction ? mine.power_fraction : profile.power_fraction;
  const std::optional<double> pue = mine.pue ? mine.pue : profile.pue;
  if (!e.hardware.gpu.tdp || !fraction || !pue) return std::nullopt;
  EnergyFigures energy;
  energy.tdp_w = e.hardware.gpu.tdp->watts;
  energy.power_fraction = *fraction;
  energy.pue = *pue;
  energy.usd_per_kwh =
      mine.electricity_usd_per_kwh ? mine.electricity_usd_per_kwh : profile.electricity_usd_per_kwh;
  return energy;
}

std::optional<double> gpu_hour_usd_all_in(const config::Experiment& e) {
  const std::optional<double> rental = rental_gpu_hour_usd(e);
  if (!rental) return std::nullopt;
  const std::optional<EnergyFigures> energy = energy_assumptions(e);
  if (!energy || !energy->usd_per_kwh) return rental;
  return *rental + energy->kwh_per_gpu_hour() * *energy->usd_per_kwh;
}

std::optional<double> EnergyFigures::usd_per_trillion_tokens() const {
  if (!usd_per_kwh) return std::nullopt;
  return kwh_per_trillion_tokens * *usd_per_kwh;
}

std::optional<double> EnergyFigures::total_usd() const {
  if (!usd_per_kwh || !total_kwh) return std::nullopt;
  return *total_kwh * *usd_per_kwh;
}

std::optional<double> simulated_value(const config::Experiment& e, const parallel::StepResult& r,
                                      std::string_view key) {
  const StepFigures f = step_figures(e, r);
  const parallel::StepPhases& p = r.phases;
  constexpr std::string_view kKernel = "kernel_ms.";
  if (key.starts_with(kKernel)) {
    if (!r.chunk_pair) return std::nullopt;
    const auto it = r.chunk_pair->kernel_s.find(std::string(key.substr(kKernel.size())));
    if (it == r.chunk_pair->kernel_s.end()) return std::nullopt;
    return it->second * 1e3;
  }
  const std::pair<std::string_view, double> values[] = {
      {"step_time_s", r.step_time_s},
      {"1F", p.forward},
      {"bubble", p.bubble},
      {"1B", p.backward},
      {"1W", p.weight},
      {"1F1B", p.overlapped},
      {"opt", p.optimizer},
      {"tflops_causal", f.tflops_causal},
      {"tflops_noncausal", f.tflops_noncausal},
      {"mfu_causal", f.mfu_causal},
      {"mfu_noncausal", f.mfu_noncausal},
      {"tokens_per_day", f.tokens_per_day},
      {"gpu_hours_per_trillion_tokens", f.gpu_hours_per_trillion_tokens},
      {"days_per_trillion_tokens", f.days_per_trillion_tokens},
      {"tokens_per_s_per_gpu", f.tokens_per_s_per_gpu},
      // NeMo's model TFLOP/s count causal attention as half the matrix.
      {"model_tflops_per_gpu", f.tflops_causal},
      {"layer_forward_ms", r.layer_forward_s * 1e3},
      {"layer_backward_ms", r.layer_backward_s * 1e3}};
  for (const auto& [name, value] : values) {
    if (name == key) return value;
  }
  if (r.chunk_pair && key == "chunk_pair_ms") return r.chunk_pair->span_s * 1e3;
  if (r.chunk_pair && key == "chunk_pair_compute_ms") return r.chunk_pair->compute_s * 1e3;
  return std::nullopt;
}

Capex cluster_capex(const config::Experiment& experiment, const parallel::StepResult& result,
                    const config::CostProfile* prices) {
  Capex capex;
  if (experiment.hardware.price.capex_per_gpu_usd) {
    capex.gpus_usd = *experiment.hardware.price.capex_per_gpu_usd * result.gpus;
  }
  if (prices != nullptr && result.network.switches > 0) {
    capex.network = fabric::network_cost(result.network, *prices);
    capex.cost_profile = prices->name;
  }
  return capex;
}

nlohmann::json step_json(const config::Experiment& e, const parallel::StepResult& r, double wall_s,
                         const Capex& capex) {
  const StepFigures f = step_figures(e, r);
  const parallel::StepPhases& p = r.phases;
  const workload::RankMemory& peak = r.memory.peak();
  nlohmann::json cost{{"gpu_hours_per_trillion_tokens", f.gpu_hours_per_trillion_tokens},
                      {"days_per_trillion_tokens", f.days_per_trillion_tokens},
                      {"usd_per_trillion_tokens", nullptr},
                      {"total_gpu_hours", nullptr},
                      {"total_usd", nullptr},
                      {"gpu_hour_usd", nullptr}};
  if (f.gpu_hour_usd) {
    cost["gpu_hour_usd"] = *f.gpu_hour_usd;
    cost["usd_per_trillion_tokens"] = f.gpu_hours_per_trillion_tokens * *f.gpu_hour_usd;
  }
  if (f.total_gpu_hours) {
    cost["total_gpu_hours"] = *f.total_gpu_hours;
    if (f.gpu_hour_usd) cost["total_usd"] = *f.total_gpu_hours * *f.gpu_hour_usd;
  }
  const auto optional_number = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  cost["training_days"] = optional_number(f.training_days);
  if (f.energy) {
    const EnergyFigures& energy = *f.energy;
    cost["energy"] = {
        {"kwh_per_trillion_tokens", energy.kwh_per_trillion_tokens},
        {"usd_per_trillion_tokens", optional_number(energy.usd_per_trillion_tokens())},
        {"total_kwh", optional_number(energy.total_kwh)},
        {"total_usd", optional_number(energy.total_usd())},
        {"tdp_w", energy.tdp_w},
        {"power_fraction", energy.power_fraction},
        {"pue", energy.pue},
        {"usd_per_kwh", optional_number(energy.usd_per_kwh)}};
  } else {
    cost["energy"] = nullptr;
  }
  cost["capex_usd"] = {
      {"gpus", optional_number(capex.gpus_usd)},
      {"network", capex.network ? nlohmann::json(capex.network->total_usd()) : nullptr},
      {"total", optional_number(capex.total_usd())},
      {"cost_profile", capex.cost_profile}};
  if (capex.network) {
    nlohmann::json& capex_json = cost["capex_usd"];
    capex_json["network_per_endpoint"] =
        optional_number(cost_per_endpoint_usd(*capex.network, r.network));
    capex_json["network_per_bisection_tbps"] =
        optional_number(cost_per_bisection_tbps_usd(*capex.network, r.network));
    capex_json["network_bisection_note"] = r.network.bisection_note;
    capex_json["network_by_part"] = cost_by_part_json(*capex.network);
    capex_json["network_parts"] = cost_parts_json(*capex.network);
    capex_json["network_method"] = capex.network->method;
  }
  nlohmann::json optimizer_kernels = nlohmann::json::object();
  for (const parallel::OptimizerKernel& kernel : r.optimizer_kernels) {
    optimizer_kernels[kernel.name] = kernel.seconds;
  }
  nlohmann::json stages = nlohmann::json::array();
  for (const parallel::StageCost& s : r.stages) {
    stages.push_back({{"stage", s.stage},
                      {"layers", s.layers},
                      {"forward_s", s.forward},
                      {"backward_input_s", s.backward_input},
                      {"weight_s", s.weight},
                      {"ep_forward_s", s.ep_forward},
                      {"ep_backward_s", s.ep_backward}});
  }
  nlohmann::json out{
      {"name", e.name},
      {"status", "ok"},
      {"step_time_s", r.step_time_s},
      {"phases_s",
       {{"1F", p.forward},
        {"bubble", p.bubble},
        {"1B", p.backward},
        {"1W", p.weight},
        {"1F1B", p.overlapped},
        {"opt", p.optimizer}}},
      {"phases_by_device_s",
       [&] {
         nlohmann::json devices = nlohmann::json::array();
         for (const parallel::StepPhases& d : r.device_phases) {
           devices.push_back({{"1F", d.forward},
                              {"bubble", d.bubble},
                              {"1B", d.backward},
                              {"1W", d.weight},
                              {"1F1B", d.overlapped},
                              {"opt", d.optimizer}});
         }
         return devices;
       }()},
      {"tokens_per_step", r.tokens_per_step},
      {"tokens_per_day", f.tokens_per_day},
      {"micro_batches", r.micro_batches},
      {"stage_layers", r.stage_layers},
      {"tflops_per_gpu", {{"causal", f.tflops_causal}, {"noncausal", f.tflops_noncausal}}},
      {"mfu", {{"causal", f.mfu_causal}, {"noncausal", f.mfu_noncausal}}},
      {"memory_per_gpu_bytes",
       {{"parameters", peak.parameters},
        {"gradients", peak.gradients},
        {"optimizer", peak.optimizer},
        {"activations", peak.activations},
        {"peak", peak.total()}}},
      {"exposed_comm_s", r.exposed_comm_s},
      {"communication_s",
       {{"ep_dispatch", r.ep_dispatch_s},
        {"ep_count_gather", r.ep_count_gather_s},
        {"ep_combine", r.ep_combine_s},
        {"pp_transfer", r.pp_transfer_s},
        {"dp_reduce_scatter", r.dp_reduce_scatter_s},
        {"dp_all_gather", r.dp_all_gather_s},
        {"optimizer", r.optimizer_s}}},
      {"optimizer_kernels_s", optimizer_kernels},
      {"stages", stages},
      {"tokens_per_s_per_gpu", f.tokens_per_s_per_gpu},
      {"layer_s", {{"forward", r.layer_forward_s}, {"backward", r.layer_backward_s}}},
      {"kernel_s", r.kernel_s},
      {"cost", cost},
      {"sim",
       {{"events", r.events},
        {"flows", r.flows},
        {"wall_s", wall_s},
        {"symmetry", config::to_string(e.simulation.symmetry)},
        {"departure_batching", e.simulation.departure_batching}}}};
  if (r.links) out["link_tiers"] = link_tiers_json(*r.links);
  if (e.cluster.topology) {
    out["network"] = {
        {"topology", e.cluster.topology->name},
        {"routing", config::to_string(e.cluster.topology->routing)},
        {"link_layer", e.hardware.scale_out
                           ? nlohmann::json(config::to_string(e.hardware.scale_out->link_layer))
                           : nlohmann::json(nullptr)}};
  }
  if (r.chunk_pair) {
    out["chunk_pair"] = {{"layers", r.chunk_pair->layers},
                         {"span_s", r.chunk_pair->span_s},
                         {"compute_s", r.chunk_pair->compute_s},
                         {"kernel_s", r.chunk_pair->kernel_s}};
  }
  if (!e.published.values.empty()) {
    nlohmann::json pub{{"source", e.published.source}};
    for (const auto& [key, value] : e.published.values) pub[key] = value;
    for (const auto& [key, value] : e.published.kernel_ms) pub["kernel_ms"][key] = value;
    out["published"] = pub;
  }
  return out;
}

std::string step_text(const config::Experiment& e, const parallel::StepResult& r, double wall_s,
                      bool modified, const Capex& capex) {
  const StepFigures f = step_figures(e, r);
  const parallel::StepPhases& p = r.phases;
  std::string out =
      fmt::format("{}: {} GPUs, {} micro-batches per pipeline, schedule {}\n\n", e.name, r.gpus,
                  r.micro_batches, config::to_string(e.parallelism.schedule));
  out += fmt::format("{:<34} {:>14} {:>14} {:>9}\n", "", "simulated", "published", "error");
  const auto row = [&](std::string_view label, std::string_view key, double value,
                       std::string_view format, double scale = 1) {
    const std::optional<double> pub = published(e, key);
    const std::string simulated = fmt::format(fmt::runtime(format), value * scale);
    const std::string reference = pub ? fmt::format(fmt::runtime(format), *pub * scale) : "";
    const std::string error = pub ? fmt::format("{:+.1f}%", (value / *pub - 1) * 100) : "";
    out += fmt::format("{:<34} {:>14} {:>14} {:>9}\n", label, simulated, reference, error);
  };
  row("step time (s)", "step_time_s", r.step_time_s, "{:.3f}");
  row("  1F (s)", "1F", p.forward, "{:.2f}");
  row("  bubble (s)", "bubble", p.bubble, "{:.2f}");
  row("  1B (s)", "1B", p.backward, "{:.2f}");
  row("  1W (s)", "1W", p.weight, "{:.2f}");
  row("  1F1B (s)", "1F1B", p.overlapped, "{:.2f}");
  row("  opt (s)", "opt", p.optimizer, "{:.2f}");
  row("TFLOP/s per GPU, causal", "tflops_causal", f.tflops_causal, "{:.0f}");
  row("TFLOP/s per GPU, non-causal", "tflops_noncausal", f.tflops_noncausal, "{:.0f}");
  row("MFU, causal (%)", "mfu_causal", f.mfu_causal, "{:.2f}", 100);
  row("MFU, non-causal (%)", "mfu_noncausal", f.mfu_noncausal, "{:.2f}", 100);
  row("tokens per day (1e9)", "tokens_per_day", f.tokens_per_day, "{:.1f}", 1e-9);
  row("GPU-hours per trillion tokens (K)", "gpu_hours_per_trillion_tokens",
      f.gpu_hours_per_trillion_tokens, "{:.1f}", 1e-3);
  row("days per trillion tokens", "days_per_trillion_tokens", f.days_per_trillion_tokens, "{:.2f}");
  // Rows for the figures only some publications give.
  const auto extra = [&](std::string_view label, std::string_view key, std::string_view format) {
    if (!published(e, key)) return;
    if (const std::optional<double> value = simulated_value(e, r, key)) {
      row(label, key, *value, format);
    }
  };
  extra("tokens/s per GPU", "tokens_per_s_per_gpu", "{:.0f}");
  extra("model TFLOP/s per GPU", "model_tflops_per_gpu", "{:.0f}");
  extra("one layer, forward (ms)", "layer_forward_ms", "{:.2f}");
  extra("one layer, backward (ms)", "layer_backward_ms", "{:.2f}");
  extra("chunk pair (ms)", "chunk_pair_ms", "{:.1f}");
  extra("chunk pair, compute (ms)", "chunk_pair_compute_ms", "{:.1f}");
  for (const auto& [name, value] : e.published.kernel_ms) {
    const std::optional<double> sim = simulated_value(e, r, "kernel_ms." + name);
    out += fmt::format("{:<34} {:>14} {:>14.1f} {:>9}\n", fmt::format("  {} (ms)", name),
                       sim ? fmt::format("{:.1f}", *sim) : "-", value,
                       sim ? fmt::format("{:+.1f}%", (*sim / value - 1) * 100) : "");
  }
  if (!e.published.source.empty()) {
    out += fmt::format("published: {}\n", e.published.source);
    if (modified) {
      out += "(--set changed the experiment: the published figures are for the unchanged one)\n";
    }
  }
  const workload::RankMemory& peak = r.memory.peak();
  out += fmt::format(
      "\nmemory per GPU (pipeline rank {}): {:.1f} GB of {:.1f} GB (parameters {:.1f}, gradients "
      "{:.1f}, optimizer {:.1f}, activations {:.1f})\n",
      peak.rank, peak.total() / 1e9, r.memory.capacity / 1e9, peak.parameters / 1e9,
      peak.gradients / 1e9, peak.optimizer / 1e9, peak.activations / 1e9);
  out += fmt::format(
      "communication per micro-batch and MoE layer: EP dispatch {:.2f} ms{}, combine {:.2f} ms; "
      "pipeline transfer {:.2f} ms\n",
      r.ep_dispatch_s * 1e3,
      r.ep_count_gather_s > 0
          ? fmt::format(" (token counts all-gathered first: {:.3f} ms)", r.ep_count_gather_s * 1e3)
          : "",
      r.ep_combine_s * 1e3, r.pp_transfer_s * 1e3);
  std::string kernels;
  if (r.optimizer_kernels.size() > 1) {
    for (const parallel::OptimizerKernel& kernel : r.optimizer_kernels) {
      kernels += fmt::format("{}{} {:.1f}", kernels.empty() ? " (" : ", ", kernel.name,
                             kernel.seconds * 1e3);
    }
    kernels += ")";
  }
  out += fmt::format(
      "end of step: gradient reduce-scatter {:.1f} ms, optimizer {:.1f} ms{}, parameter all-gather "
      "{:.1f} ms\n",
      r.dp_reduce_scatter_s * 1e3, r.optimizer_s * 1e3, kernels, r.dp_all_gather_s * 1e3);
  out += "exposed communication (s, per device):";
  for (const auto& [kind, seconds] : r.exposed_comm_s)
    out += fmt::format(" {} {:.2f}", kind, seconds);
  out += "\n";
  if (e.cluster.topology && e.hardware.scale_out) {
    out += fmt::format("network: {}, {} routing, {} links\n", e.cluster.topology->name,
                       config::to_string(e.cluster.topology->routing),
                       config::to_string(e.hardware.scale_out->link_layer));
  }
  if (r.links) out += link_tiers_text(*r.links);
  if (f.gpu_hour_usd) {
    out += fmt::format("cost: ${:.3f}M per trillion tokens at ${:.2f} per GPU-hour",
                       f.gpu_hours_per_trillion_tokens * *f.gpu_hour_usd / 1e6, *f.gpu_hour_usd);
    if (f.total_gpu_hours) {
      out += fmt::format("; {:.3g} tokens: {:.0f}K GPU-hours, ${:.3f}M", *e.training.tokens,
                         *f.total_gpu_hours / 1e3, *f.total_gpu_hours * *f.gpu_hour_usd / 1e6);
    }
    out += "\n";
  }
  if (f.training_days) {
    out += fmt::format("training: {:.1f} days for {:.3g} tokens on {} GPUs\n", *f.training_days,
                       *e.training.tokens, r.gpus);
  }
  if (f.energy) {
    const EnergyFigures& energy = *f.energy;
    out +=
        fmt::format("energy: {:.3g} MWh per trillion tokens", energy.kwh_per_trillion_tokens / 1e3);
    if (energy.usd_per_trillion_tokens()) {
      out += fmt::format(" ({})", dollars(*energy.usd_per_trillion_tokens()));
    }
    if (energy.total_kwh) {
      out += fmt::format("; {:.4g} MWh for the budget", *energy.total_kwh / 1e3);
      if (energy.total_usd()) out += fmt::format(" ({})", dollars(*energy.total_usd()));
    }
    out += fmt::format(" [{:.0f} W TDP x {:.2f} drawn x PUE {:.2f}", energy.tdp_w,
                       energy.power_fraction, energy.pue);
    if (energy.usd_per_kwh) out += fmt::format(", ${:.3f}/kWh", *energy.usd_per_kwh);
    out += "]\n";
  }
  if (capex.gpus_usd || capex.network) {
    out += "capex:";
    if (capex.gpus_usd) {
      out += fmt::format(" GPUs ${:.1f}M ({} x ${:.0f}, the profile's assumption)",
                         *capex.gpus_usd / 1e6, r.gpus, *capex.gpus_usd / r.gpus);
    }
    if (capex.network) {
      out += fmt::format(
          "{} network ${:.2f}M ({} switches, {} switch links, {} endpoint links at "
          "{} prices)",
          capex.gpus_usd ? ";" : "", capex.network->total_usd() / 1e6, r.network.switches,
          r.network.switch_links, r.network.endpoint_links, capex.cost_profile);
    }
    if (capex.total_usd()) out += fmt::format("; total ${:.1f}M", *capex.total_usd() / 1e6);
    out += "\n";
    if (capex.network) {
      out += fmt::format("network cost: {}; {}\n", cost_by_part_text(*capex.network),
                         cost_ratios_text(*capex.network, r.network));
    }
  }
  out +=
      fmt::format("simulation: {} slots, {} flows, {:.2f} s wall, {}\n", r.events, r.flows, wall_s,
                  e.simulation.symmetry == config::Symmetry::on
                      ? "symmetric (one group of each kind; simulation.symmetry: on)"
                      : "every replica (all groups of each kind at once; simulation.symmetry: "
                        "off)");
  if (e.simulation.departure_batching > 0) {
    out += "            " + departure_batching_text(e.simulation.departure_batching) + "\n";
  }
  return out;
}

std::string departure_batching_text(double fraction) {
  return fmt::format(
      "departure batching {}: rates re-solved once {:.3g} % of the active flows have left "
      "(approximate; 0 is exact)",
      fraction, fraction * 100);
}

nlohmann::json chrome_trace(const config::Experiment& e, const parallel::StepResult& r) {
  nlohmann::json events = nlohmann::json::array();
  const double us = 1e6;
  for (int device = 0; device < r.schedule.devices; ++device) {
    events.push_back({{"name", "process_name"},
                      {"ph", "M"},
                      {"pid", device},
                      {"args", {{"name", fmt::format("pipeline device {}", device)}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", device},
                      {"tid", 0},
                      {"args", {{"name", "compute"}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", device},
                      {"tid", 1},
                      {"args", {{"name", "data-parallel + optimizer"}}}});
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"pid", device},
                      {"tid", 2},
                      {"args", {{"name", "EP all-to-all (in F&B slots)"}}}});
    const auto& order = r.schedule.order[static_cast<std::size_t>(device)];
    const auto& timings = r.run.slots[static_cast<std::size_t>(device)];
    for (std::size_t i = 0; i < order.size(); ++i) {
      const double start = (timings[i].start - r.run.start).seconds();
      const double length = (timings[i].end - timings[i].start).seconds();
      if (order[i].overlapped && order[i].task.pass == parallel::Pass::forward &&
          order[i].overlapped->pass != parallel::Pass::forward) {
        // The chunks' parts inside the slot: compute nested under the slot, all-to-alls on the
        // communication track.
        const auto stage = [&](int chunk) -> const parallel::StageCost& {
          return r.stages.at(static_cast<std::size_t>(r.schedule.model_stage({device, chunk})));
        };
        const std::vector<parallel::OverlapTask> parts = parallel::overlapped_slot_timeline(
            stage(order[i].task.chunk), stage(order[i].overlapped->chunk),
            order[i].overlapped->pass == parallel::Pass::backward);
        for (const parallel::OverlapTask& part : parts) {
          if (part.seconds <= 0) continue;
          const bool on_compute = part.stream == parallel::OverlapTask::compute;
          events.push_back({{"name", part.name},
                            {"cat", on_compute ? "compute" : "all-to-all"},
                            {"ph", "X"},
                            {"pid", device},
                            {"tid", on_compute ? 0 : 2},
                            {"ts", (start + part.start_s) * us},
                            {"dur", part.seconds * us}});
        }
      }
      // The slot's compute by kernel class (ms), for its chunk(s) and pass(es).
      std::map<std::string, double> kernel_ms;
      for (const parallel::PipelineTask* task :
           {&order[i].task, order[i].overlapped ? &*order[i].overlapped : nullptr}) {
        if (task == nullptr) continue;
        const parallel::StageCost& c =
            r.stages.at(static_cast<std::size_t>(r.schedule.model_stage({device, task->chunk})));
        for (const auto& [name, seconds] : parallel::task_kernels(c, task->pass)) {
          kernel_ms[name] += seconds * 1e3;
        }
      }
      events.push_back(
          {{"name", parallel::describe(order[i], device)},
           {"cat",
            order[i].overlapped ? "F&B" : std::string(parallel::to_string(order[i].task.pass))},
           {"ph", "X"},
           {"pid", device},
           {"tid", 0},
           {"ts", start * us},
           {"dur", length * us},
           {"args", {{"kernel_ms", kernel_ms}}}});
    }
    const double tail = r.device_tail_start_s[static_cast<std::size_t>(device)];
    events.push_back({{"name", "gradient reduce-scatter, optimizer, all-gather"},
                      {"cat", "opt"},
                      {"ph", "X"},
                      {"pid", device},
                      {"tid", 1},
                      {"ts", tail * us},
                      {"dur", (r.dp_reduce_scatter_s + r.optimizer_s + r.dp_all_gather_s) * us}});
  }
  if (r.links) append_link_counters(events, *r.links, r.schedule.devices);
  return {{"traceEvents", events},
          {"displayTimeUnit", "ms"},
          {"otherData", {{"experiment", e.name}, {"kernel_s", r.kernel_s}}}};
}

}  // namespace clustersim::report
