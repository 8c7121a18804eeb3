#include "sim/report/link_report.hpp"

#include <array>
#include <cmath>

#include <fmt/format.h>

namespace clustersim::report {
namespace {

// Bytes with a decimal unit, three significant figures.
std::string readable_bytes(double bytes) {
  constexpr std::array<const char*, 6> kUnits{"B", "kB", "MB", "GB", "TB", "PB"};
  std::size_t unit = 0;
  while (unit + 1 < kUnits.size() && std::abs(bytes) >= 1000) {
    bytes /= 1000;
    ++unit;
  }
  return fmt::format("{:.3g} {}", bytes, kUnits[unit]);
}

}  // namespace

nlohmann::json link_tiers_json(const parallel::StepLinks& links) {
  nlohmann::json tiers = nlohmann::json::object();
  for (const parallel::TierUse& tier : links.tiers) {
    tiers[std::string(fabric::to_string(tier.tier))] = {{"links", tier.links},
                                                        {"bytes", tier.bytes},
                                                        {"mean_utilization", tier.mean_utilization},
                                                        {"p99_utilization", tier.p99_utilization},
                                                        {"max_utilization", tier.max_utilization}};
  }
  return tiers;
}

std::string link_tiers_text(const parallel::StepLinks& links) {
  std::string out =
      "link utilisation over the step (per tier: each link's mean, then their mean / p99 / max):\n";
  for (const parallel::TierUse& tier : links.tiers) {
    out += fmt::format("  {:<17} {:>7} links {:>10}   {:5.1f} % / {:5.1f} % / {:5.1f} %\n",
                       fabric::to_string(tier.tier), tier.links, readable_bytes(tier.bytes),
                       100 * tier.mean_utilization, 100 * tier.p99_utilization,
                       100 * tier.max_utilization);
  }
  return out;
}

std::string link_csv(const parallel::StepLinks& links) {
  std::string csv =
      "link,from,to,tier,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization\n";
  for (const parallel::LinkRow& row : links.rows) {
    csv += fmt::format("{},{},{},{},{},{},{},{},{}\n", row.link, row.from, row.to,
                       fabric::to_string(row.tier), row.capacity_bytes_per_s, row.use.bytes,
                       row.use.busy_s, row.use.peak_utilization, row.use.mean_utilization);
  }
  return csv;
}

void append_link_counters(nlohmann::json& trace_events, const parallel::StepLinks& links, int pid) {
  constexpr double kUs = 1e6;
  trace_events.push_back({{"name", "process_name"},
                          {"ph", "M"},
                          {"pid", pid},
                          {"args", {{"name", "links: mean utilisation per tier"}}}});
  for (const parallel::TierUse& tier : links.tiers) {
    const std::string name = fmt::format("{} utilisation (%)", fabric::to_string(tier.tier));
    for (std::size_t b = 0; b < tier.utilization.size(); ++b) {
      trace_events.push_back({{"name", name},
                              {"ph", "C"},
                              {"pid", pid},
                              {"ts", static_cast<double>(b) * links.bucket_s * kUs},
                              {"args", {{"utilisation", 100 * tier.utilization[b]}}}});
    }
    // Back to zero at the end of the step.
    trace_events.push_back({{"name", name},
                            {"ph", "C"},
                            {"pid", pid},
                            {"ts", links.step_s * kUs},
                            {"args", {{"utilisation", 0.0}}}});
  }
}

}  // namespace clustersim::report
