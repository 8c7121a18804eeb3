#pragma once
// Collectives as flows on the routed topology.
//
// Each algorithm is expressed the way the real one moves data, at flow level:
//   - ring (NCCL ring): chunks stream around a ring, so every ring edge carries a flow of the
//     algorithm's per-edge volume (all-reduce 2(n-1)/n S, reduce-scatter and all-gather
//     (n-1)/n S) at the rate its path allows; the pipeline fills in (steps - 1) hops first;
//   - tree (NCCL double binary tree): two complementary binary trees each reduce half the data
//     up and broadcast it down, streamed, so every tree edge carries S/2 each way; filling takes
//     2 x depth hops;
//   - hierarchical: reduce-scatter inside each node over NVLink, the inter-node collective among
//     the GPUs of equal local index on 1/g of the data, then all-gather inside each node;
//   - direct all-to-all: one flow per ordered pair, S/n each;
//   - send/receive: one flow.
// Sizes follow nccl-tests: S is the all-reduce buffer, the all-gather output, the reduce-scatter
// input, the all-to-all send buffer; algbw = S / t and busbw = algbw x (2(n-1)/n for all-reduce,
// (n-1)/n for reduce-scatter, all-gather and all-to-all, 1 for send/receive).

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sim/config/hardware_profile.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/fabric/topology.hpp"

namespace clustersim::collectives {

enum class Operation { all_reduce, reduce_scatter, all_gather, all_to_all, send_recv };
enum class Algorithm { ring, tree, hierarchical, direct };

class CollectiveError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// The SMs that push a communication kernel's data out of each GPU, and how fast one SM copies
// over NVLink and into RDMA buffers (bytes/s). A GPU's flows that leave it together share their
// SMs' copy rate evenly, on top of what the links allow. No SMs: no ceiling.
struct CopyEngines {
  int pushing_sms = 0;
  double nvlink_per_sm = 0;
  double rdma_per_sm = 0;
};

// NCCL's channels with the profile's copy rates: no ceiling when the profile has no communication
// section.
[[nodiscard]] CopyEngines nccl_copy_engines(const config::HardwareProfile& hardware);

// The rate bound of each flow (from, to) of a set that runs together: a GPU's flows over NVLink
// (and, apart, its flows over the network, to another node) share its pushing SMs evenly; +inf
// without a ceiling. Linear in the number of flows.
[[nodiscard]] std::vector<double> copy_bounds(
    const fabric::Topology& topology, const CopyEngines& copy,
    const std::vector<std::pair<fabric::VertexId, fabric::VertexId>>& flows);

struct CollectiveSpec {
  Operation operation = Operation::all_reduce;
  Algorithm algorithm = Algorithm::ring;
  double bytes = 0;                     // S, nccl-tests convention
  std::vector<fabric::VertexId> ranks;  // GPUs, in rank order
  CopyEngines copy;                     // NCCL: one pushing SM per channel
  bool record_flows = false;            // fill CollectiveResult::flow_log
  // Other groups that run the same collective at the same time, each of as many ranks (the
  // data-parallel groups beside `ranks`, say); their phases run together with its phases.
  std::vector<std::vector<fabric::VertexId>> concurrent{};
  // The flow model's departure batching (fabric::FlowModel::set_departure_batching; 0: exact).
  double departure_batching = 0;
  // Times each phase by its congestion bound instead of simulating its flows: every transfer is
  // routed as the flow model would route it, and the phase ends when its most loaded link could
  // have carried its bytes (after the first of its flows there starts) and each flow its bytes
  // under its copy-engine bound. That is the flow model's own answer when the phase's flows
  // have one size and start together (an all-to-all, a ring's edges): max-min gives every flow
  // at least the lowest fair share min_l c_l / n_l at every instant, so the busiest link stays
  // full until its flows end together. Flows that start at different instants (latencies that
  // differ from route to route) can end later than the bound by up to the spread of those
  // instants; flows of different sizes, later still (it is then a lower bound). Linear in the
  // flows, with no flow state: for all-to-alls far beyond what the flow model simulates in
  // seconds. Adaptive routing chooses by the flows in flight and cannot be bounded this way; a
  // flow log needs the flows. Peak utilisation is then a link's bytes over its capacity and
  // the time from its first flow's start to its phase's end (the rate it must average).
  bool congestion_bound = false;
};

struct LinkLoad {
  fabric::LinkId link = 0;
  double bytes = 0;
  double mean_utilization = 0;  // over the collective's duration
  double peak_utilization = 0;
};

// One flow of a simulated communication, as it ran: a step's link report re-routes it between
// other GPUs to place the same communication on the groups the simulation did not run.
struct FlowRecord {
  fabric::VertexId from = 0;
  fabric::VertexId to = 0;
  std::uint64_t route_hash = 0;  // the ECMP hash its route was chosen with
  double bytes = 0;
  SimTime start;  // its route's latency has passed: it carries bytes from here
  SimTime end;    // its last byte has arrived
};

struct CollectiveResult {
  SimTime time;
  double algbw_bytes_per_s = 0;
  double busbw_bytes_per_s = 0;
  std::uint64_t flows = 0;
  std::vector<LinkLoad> busiest_links;  // most bytes first, up to 8
  std::vector<FlowRecord> flow_log;     // every flow, in start order, when asked for
};

[[nodiscard]] const char* to_string(Operation operation);
[[nodiscard]] const char* to_string(Algorithm algorithm);
// The bus-bandwidth factor nccl-tests applies for `operation` on n ranks.
[[nodiscard]] double bus_factor(Operation operation, std::size_t ranks);

// Throws CollectiveError unless there are at least two ranks and every one is a GPU of the
// topology; `what` names the group in the message ("a collective", "an EP group").
void check_ranks(const fabric::Topology& topology, const std::vector<fabric::VertexId>& ranks,
                 const char* what);

// Throws CollectiveError unless `fraction` (a departure batching) is in [0, 1).
void check_departure_batching(double fraction);

// Simulates the collective to completion on an otherwise idle fabric. Throws CollectiveError for
// bad requests (non-positive size, fewer than two ranks, a rank that is not a GPU, an algorithm
// the operation does not have).
[[nodiscard]] CollectiveResult run_collective(const fabric::Topology& topology,
                                              const CollectiveSpec& spec);

}  // namespace clustersim::collectives
