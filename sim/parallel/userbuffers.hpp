#pragma once
// The TP communication that Transformer Engine's userbuffers overlap leaves exposed, GEMM by GEMM
// (transformer_engine/common/comm_gemm_overlap). Each TP collective runs beside one GEMM, which
// it may outlast:
//   ring exchange, all-gather: the GEMM runs in tp chunks, the first on the rank's own slice;
//     each other chunk waits for its slice from the ring neighbour, sent while the previous
//     chunk computes: (tp - 1) x what a slice's send outlasts a chunk;
//   ring exchange, reduce-scatter: each chunk's partial output is sent on while the next chunk
//     computes, and the last send and the kernel that sums the tp received partials follow
//     the last chunk;
//   pipeline, reduce-scatter: `splits` chunks, each reduce-scattered while the next computes;
//     the last chunk's collective follows the GEMM;
//   bulk: the collective of another tensor beside the GEMM, exposed beyond it.
// A bulk or pipelined collective on SMs the GEMM was launched for (no SM margin) takes them
// while it runs: the GEMM loses their share of that time.
//
// A collective whose GEMM is not one of TE's overlapped linears (an MoE layer's MLP, MLA's
// projections) keeps the layer-wide rule: its share of the layer's collectives (each all-gather
// or reduce-scatter a quarter of the layer's TP communication) hides behind the layer's other
// GEMMs.

#include <array>

#include "sim/config/software_stack.hpp"
#include "sim/workload/layer_workload.hpp"

namespace clustersim::parallel {

// One layer's GEMMs as the TP collectives see them, for one micro-batch on the SMs
// communication leaves.
struct TpLinearTimes {
  // Each TE linear's GEMMs (qkv, proj, fc1, fc2; forward, input gradient, weight gradient), as
  // launched, and which of the four linears the layer has.
  std::array<std::array<double, 3>, workload::kTpLinears> gemm{};
  std::array<bool, workload::kTpLinears> overlapped{};
  // Every GEMM of the layer, forward and backward (weight gradients included): what the
  // collectives of linears TE does not overlap hide behind, less the overlapped ones.
  double all_forward = 0, all_backward = 0;
};

// The collectives as timed on the fabric, for one layer and micro-batch.
struct UserBufferCollectives {
  double slice_send_gather = 0;   // one slice of an all-gathered input (FP8 with FP8 GEMMs)
  double slice_send_scatter = 0;  // one slice of a BF16 output
  double sum_partials = 0;        // the kernel that adds the tp partial slices
  double all_gather = 0;          // a whole all-gather of a layer input (bulk)
  double reduce_scatter = 0;      // a whole reduce-scatter of a layer output (bulk, pipeline)
  double layer = 0;               // all of one pass's TP collectives of a layer (layer-wide rule)
  // The W pass's re-gathers of sequence-parallel inputs, one layer, where not overlapped.
  double regather = 0;
};

class UserBufferExposure {
 public:
  using Config = std::array<config::TpOverlapGemm, config::kTpGemms>;
  // `shared_sms`: the SMs compute keeps where communication runs beside it.
  UserBufferExposure(const Config& config, int tp, int shared_sms,
                     const UserBufferCollectives& collectives);

  // The TP communication one layer's forward, and its backward with the weight gradients,
  // leave exposed.
  [[nodiscard]] double forward(const TpLinearTimes& times) const;
  [[nodiscard]] double backward(const TpLinearTimes& times) const;

 private:
  [[nodiscard]] const config::TpOverlapGemm& gemm(config::TpGemm which) const;
  [[nodiscard]] double all_gather(double gemm) const;  // ring exchange
  [[nodiscard]] double reduce_scatter(config::TpGemm which, double gemm) const;
  [[nodiscard]] double shared_with(config::TpGemm which, double collective, double gemm) const;
  [[nodiscard]] double bulk(config::TpGemm which, double collective, double gemm) const;

  Config config_;
  int tp_;
  int shared_sms_;
  UserBufferCollectives c_;
};

}  // namespace clustersim::parallel
