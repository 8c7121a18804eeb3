#pragma once
// A step's traffic on the links (sim/parallel/link_traffic.hpp) as `run` reports it: per tier in
// --json ("link_tiers") and in the text, per directed link as CSV (--links), and as counter
// tracks of each tier's utilisation over time in the Chrome trace.

#include <string>

#include <nlohmann/json.hpp>

#include "sim/parallel/link_traffic.hpp"

namespace clustersim::report {

// {"<tier>": {"links", "bytes", "mean_utilization", "p99_utilization", "max_utilization"}, ...}:
// utilisations are fractions, each link's mean over the step, then their mean, 99th percentile
// and maximum over the tier's links.
[[nodiscard]] nlohmann::json link_tiers_json(const parallel::StepLinks& links);
// One line per tier.
[[nodiscard]] std::string link_tiers_text(const parallel::StepLinks& links);
// "link,from,to,tier,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization", then one row
// per directed link (the rows StepOptions::link_rows asks for).
[[nodiscard]] std::string link_csv(const parallel::StepLinks& links);
// Counter events ("ph": "C") under process `pid`, one track per tier ("<tier> utilisation (%)"):
// the tier's mean utilisation in each time bucket of the step, in percent.
void append_link_counters(nlohmann::json& trace_events, const parallel::StepLinks& links, int pid);

}  // namespace clustersim::report
