#include "sim/report/crosscheck.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "sim/collectives/collective.hpp"
#include "sim/compute/compute_model.hpp"
#include "sim/config/topology_spec.hpp"
#include "sim/fabric/topology_builder.hpp"

namespace clustersim::report {

namespace {

using compute::CaseKind;
using compute::MeasuredCase;

std::vector<std::string> tokens(std::string_view name) {
  std::vector<std::string> out;
  std::string current;
  for (char ch : name) {
    if (std::isalnum(static_cast<unsigned char>(ch))) {
      current += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    } else if (!current.empty()) {
      out.push_back(current);
      current.clear();
    }
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

// The GEMM cases of the profile's own tables.
std::vector<MeasuredCase> profile_tables(const config::HardwareProfile& profile) {
  std::vector<MeasuredCase> table;
  if (!profile.compute) return table;
  for (Dtype dtype : kAllDtypes) {
    const std::optional<std::string>& path = profile.compute->gemm_measured[dtype_index(dtype)];
    if (!path) continue;
    for (const MeasuredCase& c : compute::load_measured_file(*path).cases) {
      if (c.kind == CaseKind::gemm && c.dtype == dtype && c.reserved_sms == 0) table.push_back(c);
    }
  }
  return table;
}

bool same_shape(const MeasuredCase& a, const MeasuredCase& b) {
  return a.dtype == b.dtype && a.m == b.m && a.n == b.n && a.k == b.k && a.groups == b.groups;
}

void predict_gemm(CrosscheckRow& row, const config::HardwareProfile& profile,
                  const std::vector<MeasuredCase>& table) {
  const MeasuredCase& c = row.measured;
  row.unit = "TFLOP/s";
  row.measured_value = c.value / 1e12;
  if (!profile.gpu.peak(c.dtype)) {
    row.note = fmt::format("the profile has no {} dense peak", dtype_name(c.dtype));
    return;
  }
  if (!profile.compute || !profile.compute->peak_efficiency(c.dtype)) {
    row.note = fmt::format("the profile has no {} GEMM efficiency", dtype_name(c.dtype));
    return;
  }
  const int sms = profile.gpu.sm_count - c.reserved_sms;
  if (sms < 1) {
    row.note = fmt::format("{} SMs held leave none of {}", c.reserved_sms, profile.gpu.sm_count);
    return;
  }
  std::vector<MeasuredCase> others;
  bool left_out = false;
  for (const MeasuredCase& point : table) {
    if (same_shape(point, c)) {
      left_out = true;
    } else {
      others.push_back(point);
    }
  }
  const compute::GemmModel model(profile, others);
  const compute::GemmShape shape{c.m, c.n, c.k, c.groups, c.dtype};
  row.predicted_value = model.rate(shape, sms).flop_per_s / 1e12;
  if (left_out) row.note = "leave-one-out";
}

void predict_nccl(CrosscheckRow& row, const config::HardwareProfile& profile) {
  const MeasuredCase& c = row.measured;
  row.unit = "GB/s";
  row.measured_value = c.value / 1e9;
  if (c.ranks > profile.scale_up.domain_size) {
    row.note = fmt::format("{} ranks span more than one {}-GPU scale-up domain", c.ranks,
                           profile.scale_up.domain_size);
    return;
  }
  collectives::CollectiveSpec spec;
  if (c.variant == "all_reduce") spec.operation = collectives::Operation::all_reduce;
  if (c.variant == "all_gather") spec.operation = collectives::Operation::all_gather;
  if (c.variant == "reduce_scatter") spec.operation = collectives::Operation::reduce_scatter;
  if (c.variant == "all_to_all") spec.operation = collectives::Operation::all_to_all;
  spec.algorithm = spec.operation == collectives::Operation::all_to_all
                       ? collectives::Algorithm::direct
                       : collectives::Algorithm::ring;
  spec.bytes = c.bytes;
  config::TopologySpec node;
  node.name = "one_node";
  node.generator = config::TopologyGenerator::single_node;
  const fabric::Topology topology = fabric::build_cluster(node, {1, c.ranks, &profile});
  for (int i = 0; i < c.ranks; ++i)
    spec.ranks.push_back(topology.gpus()[static_cast<std::size_t>(i)]);
  const collectives::CollectiveResult result = collectives::run_collective(topology, spec);
  row.predicted_value = result.busbw_bytes_per_s / 1e9;
  row.note = fmt::format("simulated, {}", collectives::to_string(spec.algorithm));
}

CrosscheckRow predict(const MeasuredCase& c, const config::HardwareProfile& profile,
                      const std::vector<MeasuredCase>& table) {
  CrosscheckRow row;
  row.measured = c;
  switch (c.kind) {
    case CaseKind::gemm:
      predict_gemm(row, profile, table);
      break;
    case CaseKind::hbm: {
      row.unit = "GB/s";
      row.measured_value = c.value / 1e9;
      const double efficiency = profile.compute ? profile.compute->memory_efficiency : 1.0;
      row.predicted_value = profile.gpu.memory_bandwidth.bytes_per_s * efficiency / 1e9;
      break;
    }
    case CaseKind::launch_latency:
      row.unit = "us";
      row.measured_value = c.value * 1e6;
      if (profile.compute && profile.compute->launch_latency > SimTime::zero()) {
        row.predicted_value = profile.compute->launch_latency.seconds() * 1e6;
      } else {
        row.note = "the profile has no launch latency";
      }
      break;
    case CaseKind::p2p:
      row.unit = "GB/s";
      row.measured_value = c.value / 1e9;
      row.predicted_value =
          profile.scale_up.achievable().bytes_per_s * (c.variant == "bi" ? 2 : 1) / 1e9;
      break;
    case CaseKind::nccl:
      predict_nccl(row, profile);
      break;
  }
  return row;
}

std::vector<KindSummary> summarise(const std::vector<CrosscheckRow>& rows) {
  std::map<std::string, std::vector<const CrosscheckRow*>> by_kind;
  std::vector<std::string> order;
  for (const CrosscheckRow& row : rows) {
    const std::string kind(compute::case_kind_name(row.measured.kind));
    if (!by_kind.contains(kind)) order.push_back(kind);
    by_kind[kind].push_back(&row);
  }
  std::vector<KindSummary> summary;
  for (const std::string& kind : order) {
    KindSummary s;
    s.kind = kind;
    std::vector<double> errors;
    for (const CrosscheckRow* row : by_kind[kind]) {
      ++s.cases;
      const std::optional<double> error = row->error();
      if (!error) continue;
      ++s.predicted;
      errors.push_back(std::abs(*error));
      if (std::abs(*error) >= std::abs(s.worst_error)) {
        s.worst_error = *error;
        s.worst_case = row->measured.describe();
      }
    }
    if (!errors.empty()) {
      std::sort(errors.begin(), errors.end());
      const std::size_t n = errors.size();
      s.median_abs_error = n % 2 ? errors[n / 2] : (errors[n / 2 - 1] + errors[n / 2]) / 2;
    }
    summary.push_back(s);
  }
  return summary;
}

}  // namespace

std::string gpu_key(std::string_view name) {
  for (const std::string& token : tokens(name)) {
    const bool has_digit =
        std::any_of(token.begin(), token.end(), [](char ch) { return std::isdigit(ch) != 0; });
    const bool has_alpha =
        std::any_of(token.begin(), token.end(), [](char ch) { return std::isalpha(ch) != 0; });
    if (has_digit && has_alpha) return token;
  }
  return tokens(name).empty() ? std::string() : tokens(name).back();
}

void check_same_gpu(const compute::MeasuredFile& file, const config::HardwareProfile& profile) {
  const std::string key = gpu_key(file.machine.gpu);
  const std::vector<std::string> profile_tokens = tokens(profile.gpu.model);
  if (std::find(profile_tokens.begin(), profile_tokens.end(), key) == profile_tokens.end()) {
    throw CrosscheckError(fmt::format(
        "{}: measured on \"{}\", but hardware profile {} describes \"{}\"; pass the profile of "
        "the measured GPU with --hardware",
        file.path, file.machine.gpu, profile.name, profile.gpu.model));
  }
}

Crosscheck crosscheck(const compute::MeasuredFile& file, const config::HardwareProfile& profile) {
  check_same_gpu(file, profile);
  Crosscheck result;
  result.measured_path = file.path;
  result.gpu = file.machine.gpu;
  result.profile = profile.name;
  const std::vector<MeasuredCase> table = profile_tables(profile);
  for (const MeasuredCase& c : file.cases) result.rows.push_back(predict(c, profile, table));
  result.summary = summarise(result.rows);
  if (profile.compute) {
    const compute::GemmModel model(profile, table);
    for (const Dtype dtype : kAllDtypes) {
      if (model.has_table(dtype)) {
        result.gemm_fixed_cost_s.emplace_back(dtype, model.fixed_cost(dtype).seconds());
      }
    }
  }
  return result;
}

std::string to_text(const Crosscheck& result) {
  std::string out = fmt::format("crosscheck {} (measured on {}) against hardware profile {}\n\n",
                                result.measured_path, result.gpu, result.profile);
  out += fmt::format("{:<16} {:<34} {:>12} {:>12} {:>8}  {}\n", "kind", "case", "measured",
                     "predicted", "error", "note");
  for (const CrosscheckRow& row : result.rows) {
    const std::optional<double> error = row.error();
    out += fmt::format(
        "{:<16} {:<34} {:>12} {:>12} {:>8}  {}\n", compute::case_kind_name(row.measured.kind),
        row.measured.describe(), fmt::format("{:.4g} {}", row.measured_value, row.unit),
        row.predicted_value ? fmt::format("{:.4g} {}", *row.predicted_value, row.unit) : "-",
        error ? fmt::format("{:+.1f}%", *error * 100) : "-", row.note);
  }
  out += fmt::format("\n{:<16} {:>6} {:>10} {:>14} {:>10}  {}\n", "kind", "cases", "predicted",
                     "median |error|", "worst", "worst case");
  for (const KindSummary& s : result.summary) {
    out +=
        fmt::format("{:<16} {:>6} {:>10} {:>14} {:>10}  {}\n", s.kind, s.cases, s.predicted,
                    s.predicted ? fmt::format("{:.1f}%", s.median_abs_error * 100) : "-",
                    s.predicted ? fmt::format("{:+.1f}%", s.worst_error * 100) : "-", s.worst_case);
  }
  if (!result.gemm_fixed_cost_s.empty()) {
    out +=
        "\nGEMM fixed cost per kernel (the least time a table's kernel takes beyond its analytic "
        "time):";
    for (const auto& [dtype, seconds] : result.gemm_fixed_cost_s) {
      out += fmt::format(" {} {:.2f} us", dtype_name(dtype), seconds * 1e6);
    }
    out += "\n";
  }
  return out;
}

nlohmann::json to_json(const Crosscheck& result) {
  nlohmann::json rows = nlohmann::json::array();
  for (const CrosscheckRow& row : result.rows) {
    nlohmann::json entry{{"kind", compute::case_kind_name(row.measured.kind)},
                         {"case", row.measured.describe()},
                         {"index", row.measured.index},
                         {"unit", row.unit},
                         {"measured", row.measured_value},
                         {"predicted", nullptr},
                         {"error", nullptr},
                         {"note", row.note}};
    if (row.predicted_value) {
      entry["predicted"] = *row.predicted_value;
      entry["error"] = *row.error();
    }
    rows.push_back(entry);
  }
  nlohmann::json summary = nlohmann::json::array();
  for (const KindSummary& s : result.summary) {
    summary.push_back({{"kind", s.kind},
                       {"cases", s.cases},
                       {"predicted", s.predicted},
                       {"median_abs_error", s.median_abs_error},
                       {"worst_error", s.worst_error},
                       {"worst_case", s.worst_case}});
  }
  nlohmann::json fixed = nlohmann::json::object();
  for (const auto& [dtype, seconds] : result.gemm_fixed_cost_s) {
    fixed[std::string(dtype_name(dtype))] = seconds * 1e6;
  }
  return {{"measured", result.measured_path},
          {"gpu", result.gpu},
          {"profile", result.profile},
          {"cases", rows},
          {"summary", summary},
          {"gemm_fixed_cost_us", fixed}};
}

std::string calibrated_profile(const compute::MeasuredFile& file,
                               const config::HardwareProfile& profile,
                               const std::string& base_reference,
                               const std::string& measured_reference, const std::string& name) {
  check_same_gpu(file, profile);
  std::string out = fmt::format(
      "# Calibrated by `clustersim calibrate` from {}\n# ({}; {}).\n# Every value below is "
      "derived from that file; the rest comes from the base profile.\n",
      file.path, file.machine.gpu, file.date.empty() ? "undated" : file.date);
  out += fmt::format("name: {}\nbase: {}\n", name, base_reference);
  out += fmt::format("description: {} calibrated with {}\n", profile.description, file.path);

  // Best measured rate per dtype (all SMs) and the case that gave it.
  std::map<Dtype, const MeasuredCase*> best_gemm;
  const MeasuredCase* best_hbm = nullptr;
  const MeasuredCase* launch = nullptr;
  const MeasuredCase* best_link = nullptr;
  double best_link_rate = 0;
  for (const MeasuredCase& c : file.cases) {
    switch (c.kind) {
      case CaseKind::gemm:
        if (c.reserved_sms == 0 &&
            (!best_gemm.contains(c.dtype) || c.value > best_gemm[c.dtype]->value)) {
          best_gemm[c.dtype] = &c;
        }
        break;
      case CaseKind::hbm:
        if (!best_hbm || c.value > best_hbm->value) best_hbm = &c;
        break;
      case CaseKind::launch_latency:
        if (c.variant == "async") launch = &c;
        break;
      case CaseKind::p2p:
      case CaseKind::nccl: {
        // Per-direction link rate: a unidirectional copy, or a ring collective's bus bandwidth.
        const bool usable = (c.kind == CaseKind::p2p && c.variant == "uni") ||
                            (c.kind == CaseKind::nccl && c.variant != "all_to_all");
        if (usable && c.value > best_link_rate) {
          best_link_rate = c.value;
          best_link = &c;
        }
        break;
      }
    }
  }
  std::string compute;
  std::string gemm;
  std::string efficiency;
  std::string measured;
  for (const auto& [dtype, c] : best_gemm) {
    const std::optional<FlopRate> peak = profile.gpu.peak(dtype);
    if (!peak) continue;
    const double share = std::min(1.0, c->value / peak->flop_per_s);
    efficiency +=
        fmt::format("      {}: \"{:.1f} %\"  # {}: {:.1f} of {:.1f} TFLOP/s\n", dtype_name(dtype),
                    share * 100, c->describe(), c->value / 1e12, peak->flop_per_s / 1e12);
    measured += fmt::format("      {}: {}\n", dtype_name(dtype), measured_reference);
  }
  if (!efficiency.empty()) {
    gemm = "  gemm:\n    peak_efficiency:\n" + efficiency + "    measured:\n" + measured;
  }
  compute += gemm;
  if (best_hbm) {
    const double share = std::min(1.0, best_hbm->value / profile.gpu.memory_bandwidth.bytes_per_s);
    compute += fmt::format("  memory_efficiency: \"{:.1f} %\"  # hbm {}: {:.4g} GB/s of {:.4g}\n",
                           share * 100, best_hbm->describe(), best_hbm->value / 1e9,
                           profile.gpu.memory_bandwidth.bytes_per_s / 1e9);
  }
  if (launch) {
    compute += fmt::format("  launch_latency: \"{:.3g} us\"  # async launches back to back\n",
                           launch->value * 1e6);
  }
  if (!compute.empty()) out += "compute:\n" + compute;
  if (best_link) {
    const double share =
        std::min(1.0, best_link_rate / profile.scale_up.per_direction().bytes_per_s);
    out += fmt::format(
        "scale_up:\n  efficiency: \"{:.1f} %\"  # {} {}: {:.4g} GB/s of {:.4g} per direction\n",
        share * 100, compute::case_kind_name(best_link->kind), best_link->describe(),
        best_link_rate / 1e9, profile.scale_up.per_direction().bytes_per_s / 1e9);
  }
  return out;
}

}  // namespace clustersim::report
