#pragma once
// Expert-parallel dispatch and combine in the manner of DeepEP's normal kernels (DeepSeek-V3 TR
// §3.2.2): a token bound for experts on another node crosses InfiniBand once per target node, to
// the GPU with the same in-node index there, and is forwarded over NVLink to each target GPU on
// that node; tokens for experts on the sender's own node go over NVLink directly. Node-limited
// routing sends a token to at most `max_nodes` nodes. Dispatch carries FP8 values with one FP32
// scale per 128 (hidden x (1 + 4/128) bytes), combine BF16 (hidden x 2 bytes), in reverse.
// The transfers of a dispatch (or combine) stream together, as DeepEP pipelines its chunks.
//
// Routing model: every token draws its `max_nodes` nodes uniformly, then its top_k experts
// uniformly among those nodes' experts (what DeepEP's benchmark does with random gate scores);
// or, with `imbalance` > 0, expert popularity follows a Zipf law of that exponent. Seeded.
//
// Bandwidths are reported as DeepEP reports them: "RDMA" bytes are tokens x target nodes
// (including the sender's own node, DeepEP's logical count) x token bytes, per rank, over the
// time; "NVL" bytes are the tokens each rank receives x token bytes.

#include <cstdint>
#include <vector>

#include "sim/collectives/collective.hpp"

namespace clustersim::collectives {

struct ExpertParallelSpec {
  std::vector<fabric::VertexId> ranks;  // the EP group's GPUs, node-major
  int tokens_per_rank = 4096;
  int hidden = 7168;
  int experts = 256;
  int top_k = 8;
  int max_nodes = 4;
  double imbalance = 0;  // Zipf exponent of expert popularity; 0 = uniform
  std::uint64_t seed = 1;
  // Several EP groups at once: `ranks` split into consecutive groups of this many (0: one group).
  int group_size = 0;
  // DeepEP's low-latency kernels: every token goes straight to each of its target GPUs (RDMA for
  // other nodes, NVLink inside the node), with no per-node deduplication or forwarding.
  bool low_latency = false;
  // SMs the normal kernels hold while they run (DeepSeek-V3: 20 of 132, TR §3.2.2); the computation
  // that overlaps them runs on the rest. Low-latency kernels hold none: they post RDMA writes
  // (IBGDA) and free their SMs ("after RDMA messages are issued, all GPU SMs are freed",
  // DeepSeek profile-data notes on decoding).
  int comm_sms = 0;
  // How fast an SM copies (the hardware profile's communication section): the normal kernels push
  // with comm_sms / 2 SMs (one per channel), the plain all-to-all with NCCL's channels, the
  // low-latency kernels with none (the NIC moves the data). Zero rates: no SM ceiling.
  double nvlink_copy_per_sm = 0;
  double rdma_copy_per_sm = 0;
  int nccl_channels = 0;
  // Dispatch in BF16 (2 bytes a value) instead of FP8 with its scales.
  bool bf16_dispatch = false;
  // With low_latency: one copy per token-expert pair, even for two experts on one GPU (a plain
  // all-to-all of permuted pairs, Megatron-Core's alltoall dispatcher), not one per GPU.
  bool per_pair = false;
  // Fill the dispatch's and the combine's CollectiveResult::flow_log.
  bool record_flows = false;
  // The flow model's departure batching (fabric::FlowModel::set_departure_batching; 0: exact).
  double departure_batching = 0;
};

struct ExpertParallelResult {
  CollectiveResult dispatch;
  CollectiveResult combine;
  double rdma_tokens_per_rank = 0;  // logical, DeepEP's count (mean over ranks)
  double nvl_tokens_per_rank = 0;   // received (mean over ranks)
  double dispatch_rdma_bytes_per_s = 0;
  double dispatch_nvl_bytes_per_s = 0;
  double combine_rdma_bytes_per_s = 0;
  double combine_nvl_bytes_per_s = 0;
  int nodes = 0;
  int sms_held = 0;  // while the dispatch and combine run
};

// The profile's copy rates and NCCL channels into `spec` (left at zero without a communication
// section).
void set_copy_rates(ExpertParallelSpec& spec, const config::HardwareProfile& hardware);

[[nodiscard]] ExpertParallelResult run_expert_parallel(const fabric::Topology& topology,
                                                       const ExpertParallelSpec& spec);

}  // namespace clustersim::collectives
