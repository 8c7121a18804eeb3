#include "sim/report/memory_report.hpp"

#include <fmt/format.h>

namespace clustersim::report {
namespace {

nlohmann::json rank_json(const workload::RankMemory& rank) {
  return {{"rank", rank.rank},
          {"stages", rank.stages},
          {"layers", rank.layers},
          {"micro_batches_in_flight", rank.micro_batches_in_flight},
          {"parameters", rank.parameters},
          {"gradients", rank.gradients},
          {"optimizer", rank.optimizer},
          {"activations", rank.activations},
          {"communication", rank.communication},
          {"framework", rank.framework},
          {"peak", rank.total()}};
}

std::string gb(double bytes) {
  return fmt::format("{:.2f} GB", bytes / 1e9);
}

}  // namespace

nlohmann::json memory_report_json(const config::Experiment& experiment,
                                  const workload::MemoryEstimate& memory) {
  nlohmann::json ranks = nlohmann::json::array();
  for (const workload::RankMemory& rank : memory.ranks) ranks.push_back(rank_json(rank));
  return {{"name", experiment.name},
          {"fits", memory.fits()},
          {"capacity_bytes", memory.capacity},
          {"peak_rank", memory.peak().rank},
          {"memory_per_gpu_bytes", rank_json(memory.peak())},
          {"ranks", ranks}};
}

std::string memory_report_text(const config::Experiment& experiment,
                               const workload::MemoryEstimate& memory) {
  const workload::RankMemory& peak = memory.peak();
  std::string text = fmt::format("memory per GPU: {}\n", experiment.name);
  auto line = [&text](std::string_view key, const std::string& value) {
    text += fmt::format("  {:<22} {}\n", key, value);
  };
  line("most loaded", fmt::format("pipeline rank {} (stages {}; {} layers; {:.1f} micro-batches "
                                  "of activations in flight)",
                                  peak.rank, fmt::join(peak.stages, " and "), peak.layers,
                                  peak.micro_batches_in_flight));
  line("parameters", gb(peak.parameters));
  line("gradients", gb(peak.gradients));
  line("optimizer state", gb(peak.optimizer));
  line("activations", gb(peak.activations));
  line("communication", gb(peak.communication));
  line("framework allowance", gb(peak.framework));
  line("total",
       fmt::format("{} of {} ({})", gb(peak.total()), gb(memory.capacity),
                   memory.fits() ? fmt::format("{} free", gb(memory.capacity - peak.total()))
                                 : fmt::format("{} too much", gb(peak.total() - memory.capacity))));
  text += "  rank  stages     layers  params+grads+opt  activations  total\n";
  for (const workload::RankMemory& rank : memory.ranks) {
    text += fmt::format("  {:>4}  {:<9}  {:>6}  {:>16}  {:>11}  {}\n", rank.rank,
                        fmt::format("{}", fmt::join(rank.stages, ",")), rank.layers,
                        gb(rank.parameters + rank.gradients + rank.optimizer), gb(rank.activations),
                        gb(rank.total()));
  }
  return text;
}

}  // namespace clustersim::report
