#pragma once
// What one training step puts on every link of the cluster, from the communications the step
// simulation runs once each (sim/parallel/step_simulator.hpp).
//
// The step simulation times each communication once, on a representative group: the EP
// all-to-alls of one pipeline stage's EP groups, GPU 0's TP, CP and data-parallel groups, one
// pair of pipeline neighbours. The cluster runs the same communication on every group of its kind
// and the step runs it many times. So a communication here is
//   a pattern    the flows of one simulation (endpoints, bytes, the ECMP hash of their route,
//                when each carried bytes), between the representative group's GPUs;
//   a placement  the groups that run the pattern at the same moment (all TP groups of one
//                pipeline stage, say): one copy of the flows per group, each re-routed between
//                that group's GPUs with the flow's own hash;
//   runs         when the step runs a placement: during [start, end] of the step, `count` times
//                one after the other, each with `size` times the pattern's bytes. A collective
//                of another size has the same flows with bytes in proportion, and a BF16
//                gradient of an FP8 dispatch the dispatch's flows with the ratio of the two;
//                their flows are taken to run at the pattern's rates, so their time on a link
//                is in proportion too.
//
// From these, per directed link l of capacity C over a step of T seconds:
//   bytes             sum over runs of count x size x the bytes of the placement's flows routed
//                     over l;
//   mean_utilization  bytes / (C T);
//   busy_s            sum over runs of count x size x the time l carries at least one flow of
//                     the placement (the union of those flows' [start, end]);
//   peak_utilization  the highest, over the placements l carries, of its mean utilisation while
//                     it carries one: the placement's bytes on l over C x that busy time (a mean
//                     over one communication, not an instant: 1 for a link that a flow fills for
//                     as long as it runs).
// Under spray a flow's bytes split evenly over its paths; under adaptive routing each flow takes
// the links with the least of the placement's bytes so far.
// Copies route with a hash of their own (the representative group with the simulated one), and a
// placement's copies add up on a link they share: the simulation timed one group alone, so a peak
// above 1 shows where groups it ran apart would contend (DESIGN.md: symmetry).
// Tiers (sim/fabric/link_tier.hpp): link count, bytes, and the mean, 99th percentile and maximum
// over the tier's links of each link's mean utilisation; and a time series, the step cut into
// kTimeBuckets buckets, of the tier's mean utilisation (each run's bytes spread evenly over its
// [start, end]).

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "sim/collectives/collective.hpp"
#include "sim/fabric/link_tier.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology.hpp"

namespace clustersim::parallel {

struct LinkUse {
  double bytes = 0;
  double mean_utilization = 0;  // over the step
  double busy_s = 0;
  double peak_utilization = 0;
};

struct LinkRow {
  fabric::LinkId link = 0;
  std::string from;  // fabric::vertex_names
  std::string to;
  fabric::LinkTier tier = fabric::LinkTier::nvlink;
  double capacity_bytes_per_s = 0;
  LinkUse use;
};

struct TierUse {
  fabric::LinkTier tier = fabric::LinkTier::nvlink;
  int links = 0;  // directed links of the tier in the topology, with traffic or not
  double bytes = 0;
  double mean_utilization = 0;  // of the links' mean utilisations over the step
  double p99_utilization = 0;
  double max_utilization = 0;
  std::vector<double> utilization;  // per time bucket, the mean over the tier's links
};

struct StepLinks {
  double step_s = 0;
  double bucket_s = 0;         // the length of one bucket of TierUse::utilization
  std::vector<TierUse> tiers;  // the tiers the topology has links of, in LinkTier order
  std::vector<LinkRow> rows;   // every directed link by id; only when asked for (details)
};

class StepTraffic {
 public:
  static constexpr int kTimeBuckets = 200;

  // The topology is observed and must outlive this.
  explicit StepTraffic(const fabric::Topology& topology);

  // A communication as simulated between the GPUs `gpus` (every flow's endpoints among them).
  [[nodiscard]] int add_pattern(const std::vector<collectives::FlowRecord>& flows,
                                const std::vector<fabric::VertexId>& gpus);
  // Groups that run `pattern` at once: copies[k][i] plays the part of the pattern's gpus[i].
  [[nodiscard]] int add_placement(int pattern, std::vector<std::vector<fabric::VertexId>> copies);
  // The step runs `placement` `count` times during [start_s, end_s], each with `size` times the
  // pattern's bytes.
  void add_run(int placement, double count, double size, double start_s, double end_s);

  // Every run's traffic over a step of `step_s` seconds; `details` adds the per-link rows (with
  // names, busy time and peak utilisation).
  [[nodiscard]] StepLinks finish(double step_s, bool details);

 private:
  struct Flow {
    std::uint32_t from = 0;  // index into the pattern's gpus
    std::uint32_t to = 0;
    std::uint64_t route_hash = 0;
    double bytes = 0;
    double start_s = 0;
    double end_s = 0;
  };
  struct Pattern {
    std::vector<Flow> flows;
    std::vector<fabric::VertexId> gpus;
  };
  struct Run {
    double count = 0;
    double size = 0;
    double start_s = 0;
    double end_s = 0;
  };
  struct Placement {
    int pattern = 0;
    std::vector<std::vector<fabric::VertexId>> copies;
    std::vector<Run> runs;
  };
  const fabric::Topology& topology_;
  fabric::Router router_;
  std::vector<fabric::LinkTier> tier_of_;
  std::vector<Pattern> patterns_;
  std::vector<Placement> placements_;
};

}  // namespace clustersim::parallel
