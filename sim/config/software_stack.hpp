#pragma once
// A software stack: what a training framework launches and overlaps, as data
// (software_stacks/*.yaml, one card per framework and era). The simulator reads the hardware's
// kernel rates from the hardware profile and the kernels to run, and which communication hides
// behind compute, from the stack.

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "sim/config/enum_names.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/sim_time.hpp"

namespace clustersim::config {

// The kernel that computes softmax(Q K^T) V.
//   unfused   two batched GEMMs around scale / mask / softmax / dropout kernels over the full
//             s x s score matrix (Megatron-LM until 2022), no causal saving;
//   flash2, flash3, flash4   FlashAttention (tiles in on-chip memory, causal half computed);
//   flashmla  DeepSeek's MLA kernels;
//   cudnn     cuDNN's fused attention (SDPA);
//   te_fused  Transformer Engine's fused attention, which runs cuDNN or FlashAttention,
//             whichever the GPU has: any of the profile's curves.
// A fused kernel's rate comes from the hardware profile's attention curves for that kernel.
enum class AttentionKernel { unfused, flash2, flash3, flash4, flashmla, cudnn, te_fused };

// How MoE tokens reach their experts.
//   deepep      DeepSeek's kernels: dispatch and combine do the layout, the permutation and
//               the combine's weighted sum themselves, de-duplicating tokens per node;
//   all_to_all  a permute kernel, an NCCL all-to-all of every token-expert pair, and an
//               unpermute kernel that applies the router weights (Megatron-Core's alltoall
//               dispatcher);
//   all_gather  every rank gathers all tokens of its TP/EP group and keeps its experts' (Megatron-
//               Core's allgather dispatcher).
enum class MoeDispatcher { deepep, all_to_all, all_gather };

// dropless: every token reaches its experts (the busiest expert sets the time); capacity: each
// expert takes at most capacity_factor x its even share and drops the rest.
enum class MoeRouting { dropless, capacity };

// How pipeline exchanges run:
//   overlapped   beside compute, delaying only the stage that waits for them (`pp: true`);
//   blocking     each exchange holds the stages at both ends until it completes (`pp: false`;
//                Megatron's batch_isend_irecv, wait, torch.cuda.synchronize), after every slot
//                that sends, and once for both passes of an interleaved steady-state forward-
//                backward pair, whose outputs travel together after the backward;
//   overlapped_when_interleaved   overlapped under the interleaved schedule and blocking under
//                the others (`pp: interleaved`; Megatron-Bridge's overlap_p2p_comm only with
//                virtual pipeline stages, batch_p2p_comm otherwise).
enum class PipelineExchanges { overlapped, blocking, overlapped_when_interleaved };
inline constexpr std::array<EnumName<PipelineExchanges>, 3> kPipelineExchangeNames{
    {{"true", PipelineExchanges::overlapped},
     {"false", PipelineExchanges::blocking},
     {"interleaved", PipelineExchanges::overlapped_when_interleaved}}};

struct OverlapSpec {
  bool tp = false;              // tensor-parallel collectives hidden behind the layer's GEMMs
  bool sp_gather = false;       // the sequence-parallel all-gather of the weight-gradient pass
  bool dp = true;               // gradient reduction during the backward pass (not after it)
  bool moe_all_to_all = false;  // MoE dispatch / combine hidden behind other micro-batches
  // Pipeline exchanges (PipelineExchanges): beside compute, or blocking.
  PipelineExchanges pp = PipelineExchanges::overlapped;
  [[nodiscard]] bool pp_blocks(bool interleaved) const {
    return pp == PipelineExchanges::blocking ||
           (pp == PipelineExchanges::overlapped_when_interleaved && !interleaved);
  }
};

// How Transformer Engine's userbuffers overlap runs a GEMM next to a TP collective (TE
// pytorch/module/base.py, initialize_ub):
//   ring_exchange  the GEMM runs as tp chunks of 1/tp of its tokens, each beside the point-to-point
//                  send of the next chunk (copy engines);
//   pipeline       the GEMM runs as `splits` chunks, each chunk's output reduce-scattered by a
//                  kernel on `comm_sms` SMs;
//   bulk           the GEMM runs whole beside a collective of another tensor (the weight
//                  gradient's input re-gathered, the input gradient reduce-scattered) on
//                  `comm_sms` SMs.
// With `sm_margin` (TE's set_sm_margin) the GEMM is launched for the SMs the communication kernel
// leaves, for its whole length; without it the GEMM is launched for every SM and the
// communication kernel takes its `comm_sms` only while it runs (a ring exchange's copy engines
// take none).
enum class TpOverlapMethod { ring_exchange, pipeline, bulk };

// The GEMMs a transformer layer overlaps with TP communication, by TE's buffer names: qkv and fc1
// are the column-parallel GEMMs after the all-gather, proj and fc2 the row-parallel GEMMs before
// the reduce-scatter; fprop, dgrad and wgrad the forward, input-gradient and weight-gradient GEMM.
enum class TpGemm {
  qkv_fprop,
  qkv_dgrad,
  qkv_wgrad,
  proj_fprop,
  proj_dgrad,
  fc1_fprop,
  fc1_dgrad,
  fc1_wgrad,
  fc2_fprop,
  fc2_dgrad
};
inline constexpr int kTpGemms = 10;

struct TpOverlapGemm {
  TpOverlapMethod method = TpOverlapMethod::ring_exchange;
  int splits = 0;          // pipeline: the chunks (ring_exchange: tp; bulk: 1)
  int comm_sms = 0;        // the SMs the communication kernel runs on
  bool sm_margin = false;  // the GEMM leaves them for its whole length
  // TE's defaults for a method: ring exchange 1 SM, no margin; pipeline 4 chunks and bulk on 16
  // SMs, each with the margin (set_sm_margin = not ring_exchange).
  [[nodiscard]] static constexpr TpOverlapGemm te_default(TpOverlapMethod method) {
    switch (method) {
      case TpOverlapMethod::ring_exchange:
        return {method, 0, 1, false};
      case TpOverlapMethod::pipeline:
        return {method, 4, 16, true};
      case TpOverlapMethod::bulk:
        return {method, 1, 16, true};
    }
    return {};
  }
  // The SMs the GEMM is launched without.
  [[nodiscard]] constexpr int held_sms() const { return sm_margin ? comm_sms : 0; }
};

// TE's defaults, used when a recipe gives no configuration: ring exchange for the all-gather side
// and the input gradients of proj and fc2, 4 pipelined chunks for the forward reduce-scatters,
// bulk collectives for the rest.
[[nodiscard]] constexpr std::array<TpOverlapGemm, kTpGemms> te_default_tp_overlap() {
  const TpOverlapGemm ring = TpOverlapGemm::te_default(TpOverlapMethod::ring_exchange);
  const TpOverlapGemm pipeline = TpOverlapGemm::te_default(TpOverlapMethod::pipeline);
  const TpOverlapGemm bulk = TpOverlapGemm::te_default(TpOverlapMethod::bulk);
  return {ring, bulk, bulk, pipeline, ring, ring, bulk, bulk, pipeline, ring};
}

// How the overlapped gradient reduction is cut into buckets. A bucket's reduction starts when the
// backward pass has produced all of its gradients, so with buckets the reduction of a chunk's last
// layers runs while the backward pass works on its first ones. A bucket holds at least
// max(parameters, parameters_per_dp_rank x the data-parallel size) parameters, gathered in
// backward order; dense and expert parameters are bucketed apart (they reduce over different
// groups). With `first_stage_only`, only the first pipeline stage's first model chunk is cut
// (later stages reduce off the critical path); every other chunk is one bucket. Without buckets
// (parameters 0), or when the reduction does not overlap (overlap.dp false: the buckets are
// ignored, as Megatron ignores them), each chunk's gradients are one bucket, reduced once its last
// backward ends.
struct GradientBuckets {
  double parameters = 0;
  double parameters_per_dp_rank = 0;
  bool first_stage_only = false;
  [[nodiscard]] bool enabled() const { return parameters > 0 || parameters_per_dp_rank > 0; }
  // The parameters a bucket holds at least, for a data-parallel group of `dp_size`.
  [[nodiscard]] double size(int dp_size) const {
    return std::max(parameters, parameters_per_dp_rank * dp_size);
  }
};

// What the optimizer step launches beyond AdamW itself, each pass a memory-bound kernel over the
// parameters (Megatron's MixedPrecisionOptimizer / DistributedOptimizer step, in order):
//   main_gradients    FP32 main gradients: where the gradient buffer holds BF16, its shard is
//                     copied to FP32 first (read 2, write 4 bytes a parameter) and AdamW reads 4;
//   gradient_norm     clipping by the global norm reads every main gradient once (the scaling
//                     pass, run only when the norm exceeds the clip, is not counted);
//   master_weight_copy separate: the FP32 master weight is copied to the BF16 weight by a kernel
//                     of its own (read 4, write 2); fused: AdamW writes the BF16 weight itself;
//   zero_gradients    the gradient buffer is cleared every step: a memset of every local
//                     parameter's gradient, not only the optimizer's shard;
//   fp8_param_gather  in FP8 training the weights of the FP8 GEMMs are kept, and all-gathered
//                     after the step, in FP8 (one byte a parameter; Megatron's fp8_param_gather);
//                     the other parameters (embedding, head, norms, router) in BF16.
// Moments are kept in `moment_dtype`; absent, BF16 under FP8 training and FP32 otherwise. The
// defaults are one fused AdamW pass and nothing else.
struct OptimizerSteps {
  std::optional<Dtype> moment_dtype;
  bool main_gradients = false;
  bool gradient_norm = false;
  bool separate_master_copy = false;
  bool zero_gradients = false;
  bool fp8_param_gather = false;
};

struct SoftwareStack {
  std::string name = "default";
  std::string description;
  AttentionKernel attention = AttentionKernel::flash3;
  // Element-wise kernels the framework fuses into one launch.
  bool fused_softmax = true;           // scale + mask + softmax (unfused attention only)
  bool fused_bias_activation = true;   // bias + GeLU / SwiGLU
  bool fused_bias_dropout_add = true;  // bias + dropout + residual add
  OverlapSpec overlap;
  // How each TP-overlapped GEMM runs (with overlap.tp, tp > 1 and sequence parallelism).
  std::array<TpOverlapGemm, kTpGemms> tp_overlap = te_default_tp_overlap();
  GradientBuckets gradient_buckets;
  // The dtype gradients accumulate and reduce in (fp32 or bf16): the data-parallel reduction's
  // bytes, the gradient buffer's memory, and what the optimizer reads.
  Dtype gradient_dtype = Dtype::fp32;
  [[nodiscard]] double gradient_bytes() const { return gradient_dtype == Dtype::bf16 ? 2.0 : 4.0; }
  // The kernels of the optimizer step besides AdamW, and the moments' dtype.
  OptimizerSteps optimizer;
  // The compute kernels are launched for the SMs communication leaves for the whole step (a
  // persistent GEMM sized once), not only while communication runs beside them.
  bool static_sm_split = false;
  MoeDispatcher dispatcher = MoeDispatcher::deepep;
  Dtype dispatch_dtype = Dtype::fp8;  // of the dispatched tokens; combine is BF16
  MoeRouting routing = MoeRouting::dropless;
  // SMs DeepEP's normal kernels hold when an experiment gives no parallelism.comm_sms: 20, the
  // DeepSeek-V3 setting (TR §3.2.2, "only 20 SMs are sufficient to fully utilize the bandwidths of
  // IB and NVLink").
  int deepep_sms = 20;
  double capacity_factor = 1.0;
  // With DeepEP: its received tokens are permuted into expert order by a kernel of the
  // framework's own, and restored before the combine (Megatron-Core's flex dispatcher); false:
  // the layout is the expert kernels' (DeepSeek's). The all-to-all dispatcher always sorts what
  // it receives (with more than one local expert); the all-gather one needs no sort.
  bool permute_received = false;
  // CPU time to issue one kernel (framework, dispatcher, launch): a run of kernels shorter than
  // this leaves the GPU waiting for the host.
  SimTime kernel_host_overhead = SimTime::zero();
};

inline constexpr std::array<EnumName<AttentionKernel>, 7> kAttentionKernelNames{
    {{"unfused", AttentionKernel::unfused},
     {"flash2", AttentionKernel::flash2},
     {"flash3", AttentionKernel::flash3},
     {"flash4", AttentionKernel::flash4},
     {"flashmla", AttentionKernel::flashmla},
     {"cudnn", AttentionKernel::cudnn},
     {"te_fused", AttentionKernel::te_fused}}};
inline constexpr std::array<EnumName<MoeDispatcher>, 3> kMoeDispatcherNames{
    {{"deepep", MoeDispatcher::deepep},
     {"all_to_all", MoeDispatcher::all_to_all},
     {"all_gather", MoeDispatcher::all_gather}}};
inline constexpr std::array<EnumName<TpOverlapMethod>, 3> kTpOverlapMethodNames{
    {{"ring_exchange", TpOverlapMethod::ring_exchange},
     {"pipeline", TpOverlapMethod::pipeline},
     {"bulk", TpOverlapMethod::bulk}}};
inline constexpr std::array<EnumName<TpGemm>, kTpGemms> kTpGemmNames{
    {{"qkv_fprop", TpGemm::qkv_fprop},
     {"qkv_dgrad", TpGemm::qkv_dgrad},
     {"qkv_wgrad", TpGemm::qkv_wgrad},
     {"proj_fprop", TpGemm::proj_fprop},
     {"proj_dgrad", TpGemm::proj_dgrad},
     {"fc1_fprop", TpGemm::fc1_fprop},
     {"fc1_dgrad", TpGemm::fc1_dgrad},
     {"fc1_wgrad", TpGemm::fc1_wgrad},
     {"fc2_fprop", TpGemm::fc2_fprop},
     {"fc2_dgrad", TpGemm::fc2_dgrad}}};
inline constexpr std::array<EnumName<MoeRouting>, 2> kMoeRoutingNames{
    {{"dropless", MoeRouting::dropless}, {"capacity", MoeRouting::capacity}}};

[[nodiscard]] constexpr std::string_view to_string(AttentionKernel kernel) {
  return name_of(kAttentionKernelNames, kernel);
}
[[nodiscard]] constexpr std::string_view to_string(MoeDispatcher dispatcher) {
  return name_of(kMoeDispatcherNames, dispatcher);
}
[[nodiscard]] constexpr std::string_view to_string(TpOverlapMethod method) {
  return name_of(kTpOverlapMethodNames, method);
}
[[nodiscard]] constexpr std::string_view to_string(TpGemm gemm) {
  return name_of(kTpGemmNames, gemm);
}
[[nodiscard]] constexpr std::string_view to_string(MoeRouting routing) {
  return name_of(kMoeRoutingNames, routing);
}

}  // namespace clustersim::config
