#pragma once
// `clustersim collective`: one collective (or one EP dispatch + combine) on a cluster built from a
// topology card and a hardware profile; prints what nccl-tests prints (time, algbw, busbw) and the
// busiest links.

#include <string>

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
  int nodes = 2;
  int gpus_per_node = 0;  // 0: the hardware profile's scale-up domain (capped at its NICs' nodes)
  // EP dispatch/combine
  int tokens = 4096;
  int hidden = 7168;
  int experts = 256;
  int top_k = 8;
  int max_nodes = 4;
  double imbalance = 0;
  int comm_sms = 20;
  bool low_latency = false;  // ep: DeepEP's low-latency (IBGDA) kernels
};

int run_collective_command(const CollectiveOptions& options);

}  // namespace clustersim::cli
