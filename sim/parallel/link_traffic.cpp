#include "sim/parallel/link_traffic.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <unordered_map>

#include <fmt/format.h>

namespace clustersim::parallel {
namespace {

using fabric::LinkId;
using fabric::LinkTier;
using fabric::VertexId;

// `amount` spread evenly over [start_s, end_s] (clamped to the series), into buckets of
// `bucket_s`; a window of no length lands whole in the bucket it falls in.
void spread(std::vector<double>& series, double amount, double start_s, double end_s,
            double bucket_s) {
  const double span = bucket_s * static_cast<double>(series.size());
  const auto last_bucket = static_cast<double>(series.size() - 1);
  start_s = std::clamp(start_s, 0.0, span);
  end_s = std::clamp(end_s, start_s, span);
  const auto bucket_of = [&](double t) {
    return static_cast<std::size_t>(std::min(last_bucket, std::floor(t / bucket_s)));
  };
  if (!(end_s > start_s)) {
    series[bucket_of(start_s)] += amount;
    return;
  }
  const double length = end_s - start_s;
  for (std::size_t b = bucket_of(start_s); b <= bucket_of(end_s); ++b) {
    const double from = std::max(start_s, static_cast<double>(b) * bucket_s);
    const double to = std::min(end_s, static_cast<double>(b + 1) * bucket_s);
    if (to > from) series[b] += amount * (to - from) / length;
  }
}

// One flow's stay on a link, for busy time.
struct Stay {
  LinkId link = 0;
  double start_s = 0;
  double end_s = 0;
};

// The ECMP hash of a copy's flow: the simulated flow's own on the representative group, another
// one per copy elsewhere (copies are other flows; one hash for all would stack them on one path).
std::uint64_t copy_hash(std::uint64_t route_hash, std::size_t copy, bool representative) {
  constexpr std::uint64_t kGolden = 0x9e3779b97f4a7c15ULL;
  return representative ? route_hash : route_hash ^ (kGolden * (copy + 1));
}

}  // namespace

StepTraffic::StepTraffic(const fabric::Topology& topology)
    : topology_(topology), router_(topology) {
  tier_of_.reserve(topology.link_count());
  for (LinkId link = 0; link < topology.link_count(); ++link) {
    tier_of_.push_back(fabric::link_tier(topology, link));
  }
}

int StepTraffic::add_pattern(const std::vector<collectives::FlowRecord>& flows,
                             const std::vector<VertexId>& gpus) {
  std::unordered_map<VertexId, std::uint32_t> index;
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    index.emplace(gpus[i], static_cast<std::uint32_t>(i));
  }
  Pattern pattern;
  pattern.gpus = gpus;
  pattern.flows.reserve(flows.size());
  for (const collectives::FlowRecord& flow : flows) {
    const auto from = index.find(flow.from);
    const auto to = index.find(flow.to);
    if (from == index.end() || to == index.end()) {
      throw std::logic_error(
          fmt::format("a flow from vertex {} to {} leaves its pattern's GPUs", flow.from, flow.to));
    }
    pattern.flows.push_back({from->second, to->second, flow.route_hash, flow.bytes,
                             flow.start.seconds(), flow.end.seconds()});
  }
  patterns_.push_back(std::move(pattern));
  return static_cast<int>(patterns_.size()) - 1;
}

int StepTraffic::add_placement(int pattern, std::vector<std::vector<VertexId>> copies) {
  const Pattern& p = patterns_.at(static_cast<std::size_t>(pattern));
  for (const std::vector<VertexId>& copy : copies) {
    if (copy.size() != p.gpus.size()) {
      throw std::logic_error(
          fmt::format("a copy of {} GPUs places a pattern of {}", copy.size(), p.gpus.size()));
    }
  }
  placements_.push_back({pattern, std::move(copies), {}});
  return static_cast<int>(placements_.size()) - 1;
}

void StepTraffic::add_run(int placement, double count, double size, double start_s, double end_s) {
  if (!(count > 0) || !(size > 0)) return;
  placements_.at(static_cast<std::size_t>(placement)).runs.push_back({count, size, start_s, end_s});
}

StepLinks StepTraffic::finish(double step_s, bool details) {
  const std::size_t links = topology_.link_count();
  StepLinks out;
  out.step_s = step_s;
  out.bucket_s = step_s / kTimeBuckets;
  std::vector<double> bytes(links, 0.0);
  std::vector<double> busy(details ? links : 0, 0.0);
  std::vector<double> peak(details ? links : 0, 0.0);  // bytes/s
  std::array<std::vector<double>, fabric::kLinkTiers> series;
  for (std::vector<double>& s : series) s.assign(kTimeBuckets, 0.0);
  std::vector<double> once(links, 0.0);  // bytes of one run of the current placement
  std::vector<char> used(links, 0);
  std::vector<LinkId> touched;
  std::vector<Stay> stays;
  // Adaptive routing is replayed on the placement's own load: each flow takes the equal-cost
  // links that carry the fewest of its bytes so far (the simulated flows chose by the flows then
  // running, and the copies never ran).
  router_.set_load(&once);
  for (const Placement& placement : placements_) {
    if (placement.runs.empty()) continue;
    const Pattern& pattern = patterns_[static_cast<std::size_t>(placement.pattern)];
    for (std::size_t k = 0; k < placement.copies.size(); ++k) {
      const std::vector<VertexId>& copy = placement.copies[k];
      const bool representative = copy == pattern.gpus;
      for (const Flow& flow : pattern.flows) {
        const std::vector<fabric::Route> routes = router_.routes(
            copy[flow.from], copy[flow.to], copy_hash(flow.route_hash, k, representative));
        const double share = flow.bytes / static_cast<double>(routes.size());
        for (const fabric::Route& route : routes) {
          for (LinkId link : route.links) {
            if (!used[link]) {
              used[link] = 1;
              touched.push_back(link);
            }
            once[link] += share;
            if (details && flow.end_s > flow.start_s) {
              stays.push_back({link, flow.start_s, flow.end_s});
            }
          }
        }
      }
    }
    double scale = 0;  // the pattern's bytes (and busy time), times
    for (const Run& run : placement.runs) scale += run.count * run.size;
    // Seconds of full use of each tier's links in one run.
    std::array<double, fabric::kLinkTiers> full_use{};
    for (LinkId link : touched) {
      bytes[link] += scale * once[link];
      const double capacity = topology_.link(link).capacity_bytes_per_s();
      if (capacity > 0) full_use[static_cast<std::size_t>(tier_of_[link])] += once[link] / capacity;
      used[link] = 0;
    }
    for (const Run& run : placement.runs) {
      for (std::size_t tier = 0; tier < fabric::kLinkTiers; ++tier) {
        if (full_use[tier] > 0) {
          spread(series[tier], run.count * run.size * full_use[tier], run.start_s, run.end_s,
                 out.bucket_s);
        }
      }
    }
    if (details) {
      // Per link: the union of its flows' stays, and the bytes it carries in them.
      std::sort(stays.begin(), stays.end(), [](const Stay& a, const Stay& b) {
        return a.link != b.link ? a.link < b.link : a.start_s < b.start_s;
      });
      for (std::size_t first = 0; first < stays.size();) {
        const LinkId link = stays[first].link;
        double covered = 0;
        double reach = stays[first].start_s;
        std::size_t last = first;
        for (; last < stays.size() && stays[last].link == link; ++last) {
          covered += std::max(0.0, stays[last].end_s - std::max(reach, stays[last].start_s));
          reach = std::max(reach, stays[last].end_s);
        }
        busy[link] += scale * covered;
        if (covered > 0) peak[link] = std::max(peak[link], once[link] / covered);
        first = last;
      }
      stays.clear();
    }
    for (LinkId link : touched) once[link] = 0;
    touched.clear();
  }

  router_.set_load(nullptr);  // `once` goes out of scope

  std::array<std::vector<double>, fabric::kLinkTiers> utilizations;
  std::array<double, fabric::kLinkTiers> tier_bytes{};
  for (LinkId link = 0; link < links; ++link) {
    const auto tier = static_cast<std::size_t>(tier_of_[link]);
    const double capacity = topology_.link(link).capacity_bytes_per_s();
    utilizations[tier].push_back(capacity > 0 && step_s > 0 ? bytes[link] / (capacity * step_s)
                                                            : 0.0);
    tier_bytes[tier] += bytes[link];
  }
  for (std::size_t tier = 0; tier < fabric::kLinkTiers; ++tier) {
    std::vector<double>& u = utilizations[tier];
    if (u.empty()) continue;
    TierUse use;
    use.tier = static_cast<LinkTier>(tier);
    use.links = static_cast<int>(u.size());
    use.bytes = tier_bytes[tier];
    double sum = 0;
    for (double value : u) sum += value;
    use.mean_utilization = sum / static_cast<double>(u.size());
    std::sort(u.begin(), u.end());
    // Nearest rank: the smallest value at least 99 % of the links do not exceed.
    const auto rank = static_cast<std::size_t>(std::ceil(0.99 * static_cast<double>(u.size())));
    use.p99_utilization = u[std::max<std::size_t>(rank, 1) - 1];
    use.max_utilization = u.back();
    use.utilization = std::move(series[tier]);
    for (double& value : use.utilization) {
      value = out.bucket_s > 0 ? value / (static_cast<double>(use.links) * out.bucket_s) : 0.0;
    }
    out.tiers.push_back(std::move(use));
  }
  if (!details) return out;
  const std::vector<std::string> names = fabric::vertex_names(topology_);
  out.rows.reserve(links);
  for (LinkId link = 0; link < links; ++link) {
    const fabric::LinkInfo& info = topology_.link(link);
    LinkRow row;
    row.link = link;
    row.from = names[info.from];
    row.to = names[info.to];
    row.tier = tier_of_[link];
    row.capacity_bytes_per_s = info.capacity_bytes_per_s();
    row.use.bytes = bytes[link];
    row.use.mean_utilization = row.capacity_bytes_per_s > 0 && step_s > 0
                                   ? bytes[link] / (row.capacity_bytes_per_s * step_s)
                                   : 0.0;
    row.use.busy_s = busy[link];
    row.use.peak_utilization =
        row.capacity_bytes_per_s > 0 ? peak[link] / row.capacity_bytes_per_s : 0.0;
    out.rows.push_back(std::move(row));
  }
  return out;
}

}  // namespace clustersim::parallel
