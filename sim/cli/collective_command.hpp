#pragma once
// `clustersim collective`: one collective (or one EP dispatch + combine) on a cluster built from a
// topology card and a hardware profile; prints what nccl-tests prints (time, algbw, busbw) and the
// busiest links.

#include <optional>
#include <string>
#include <vector>

#include "sim/cli/commands.hpp"

namespace clustersim::cli {

struct CollectiveOptions {
  CommonOptions common;
  std::string operation = "all_reduce";  // all_reduce | reduce_scatter | all_gather | all_to_all |
                                         // send_recv | ep
  std::string algorithm;                 // ring | tree | hierarchical | direct (default per op)
  std::string size = "1 GiB";
  std::string topology = "mpft";
  std::string hardware = "h800_sxm";
  std::string routing;  // ecmp | adaptive | static | spray; empty: the topology card's
  int nodes = 2;
  int gpus_per_node = 0;  // 0: the hardware profile's scale-up domain (capped at its NICs' nodes)
  // EP dispatch/combine
  // Tensor-parallel groups of `tp` consecutive GPUs: the collective runs on the data-parallel
  // groups (the GPUs of one tensor-parallel rank), all `tp` of them at once. 0: one group of all.
  int tp = 0;
  std::vector<int> tp_list;        // --tp 8,4,2: a grid over these (replaces tp)
  std::optional<std::string> out;  // the grid's rows as CSV
  int tokens = 4096;
  int hidden = 7168;
  int experts = 256;
  int top_k = 8;
  int max_nodes = 4;
  double imbalance = 0;
  int comm_sms = 20;
  bool low_latency = false;  // ep: DeepEP's low-latency (IBGDA) kernels
  // The flow model's departure batching (0: exact; see fabric::FlowModel).
  double departure_batching = 0;
  // Time each phase by its congestion bound, with no flows (collectives::CollectiveSpec).
  bool congestion_bound = false;
};

int run_collective_command(const CollectiveOptions& options);

}  // namespace clustersim::cli
