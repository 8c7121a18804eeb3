#pragma once
// Kernel times of one GPU, read from its hardware profile: GEMMs from GemmModel (analytic model
// corrected by measured tables), attention from the profile's measured attention curves, and
// element-wise, normalisation and other memory-bound kernels at the profile's achievable share of
// HBM bandwidth. Every time takes the SMs the kernel may use: communication kernels that hold SMs
// (DeepSeek-V3 gives 20 of 132 to its all-to-all, TR §3.2.2) leave the rest to computation.
//
// Per pass of a workload op (sim/workload):
//   GEMM [m x k] x [k x n]: forward (m, n, k); input gradient B (m, k, n); weight gradient W
//     (k, n, m), each a GEMM in the op's dtype;
//   attention: forward F / rate_fwd(keys); backward 2.5 F / rate_bwd(keys), the FlashAttention
//     convention the measured curves use; rates scale with the SMs available, and with the
//     GPU's sustained clock over the clock the curves were measured at, when both are known;
//   others: max(FLOPs / (BF16 peak x BF16 GEMM efficiency), bytes / (HBM x memory efficiency)),
//     backward moving twice the forward bytes (read the gradient and the input, write one);
//   an op recomputed in the backward pass adds its forward time to B;
//   an FP8 GEMM first quantises its activation operands online (TR §3.3.2): a memory-bound pass
//     of 3 bytes per value (read BF16, write FP8 and a scale per 128) over the forward input, the
//     B pass's output gradient, and for W both again along the other axis.
// Each kernel also pays the profile's launch latency. BF16 GEMMs use the FP16 table where the
// profile measured only FP16 (and the reverse): the two share the tensor-core rate.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sim/compute/gemm_model.hpp"
#include "sim/compute/measured_file.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/workload/layer_workload.hpp"

namespace clustersim::compute {

enum class OpPass { forward, backward_input, backward_weight };

// One kernel a pass of an op launches, with its class (as profilers group them: "gemm",
// "gemm_wgrad", "grouped_gemm", "attention_forward", "attention_backward", "quantize", "norm",
// "elementwise", "softmax", "dropout", "permute", "router", "embedding", "loss").
struct KernelTime {
  std::string_view kernel_class;
  SimTime time;
};

class ComputeModel {
 public:
  // Loads the profile's measured GEMM files; throws MeasuredFileError for a bad one, and
  // std::invalid_argument when the profile has no compute section.
  explicit ComputeModel(const config::HardwareProfile& profile);

  [[nodiscard]] const config::HardwareProfile& profile() const { return profile_; }
  [[nodiscard]] int sm_count() const { return profile_.gpu.sm_count; }
  [[nodiscard]] const GemmModel& gemm() const { return *gemm_; }

  // A GEMM on `sms` SMs at the sustained clock; `weight_gradient` applies the profile's W-pass
  // share.
  [[nodiscard]] SimTime gemm_time(const GemmShape& shape, int sms,
                                  bool weight_gradient = false) const;
  // A GEMM launched as `launch` says (chunks of its tokens, SMs held beside it): its chunks'
  // times added.
  [[nodiscard]] SimTime gemm_time(const GemmShape& shape, const workload::GemmLaunch& launch,
                                  int sms, bool weight_gradient = false) const;
  // FP8 quantisation of `values` activations (read BF16, write FP8 and a scale per 128).
  [[nodiscard]] SimTime quantize_time(double values) const;
  // Attention whose forward pass costs `forward_flops` (causal count) over `keys` keys per query,
  // at head dim `head_dim` (absent: the one the profile's curves measure; see
  // config::AttentionCurves for how the rate follows the head dim).
  [[nodiscard]] SimTime attention_forward_time(double forward_flops, double keys, int sms,
                                               std::optional<double> head_dim = std::nullopt) const;
  [[nodiscard]] SimTime attention_backward_time(
      double forward_flops, double keys, int sms,
      std::optional<double> head_dim = std::nullopt) const;
  // A kernel that streams `bytes` through HBM.
  [[nodiscard]] SimTime memory_time(double bytes) const;
  // A kernel of `flops` BF16 work and `bytes` of traffic (router, embedding, ...).
  [[nodiscard]] SimTime roofline_time(double flops, double bytes, int sms) const;

  // One pass of a workload op; `keys` is the sequence length its attention sees, unless the op
  // carries its own (attention_keys: a sliding window).
  [[nodiscard]] SimTime op_time(const workload::Op& op, OpPass pass, int sms, double keys) const;
  // The kernels of that pass, in launch order (their times add up to op_time).
  [[nodiscard]] std::vector<KernelTime> op_kernels(const workload::Op& op, OpPass pass, int sms,
                                                   double keys) const;

  // The measured rate curve at x: log-log interpolation, constant beyond the ends.
  [[nodiscard]] static double interpolate(const std::vector<config::RatePoint>& curve, double x);

 private:
  [[nodiscard]] SimTime launched(double seconds) const;
  // Seconds to stream `bytes` through HBM at `efficiency` of its bandwidth.
  [[nodiscard]] double hbm_seconds(double bytes, double efficiency) const;
  // sustained clock / the clock the attention curves were measured at (1 when either is unknown).
  [[nodiscard]] double attention_clock_scale() const;
  // The rate of one attention pass from the profile's curves at `keys` and `head_dim`, on `sms`
  // SMs.
  [[nodiscard]] double attention_rate(bool forward, double keys, std::optional<double> head_dim,
                                      int sms) const;
  // The op's own kernels of a pass, without the FP8 quantisation.
  void main_kernels(const workload::Op& op, OpPass pass, int sms, double keys,
                    std::vector<KernelTime>& out) const;
  // sustained clock / the clock the GEMM tables were measured at (1 when either is unknown).
  [[nodiscard]] double gemm_clock_scale() const;

  const config::HardwareProfile& profile_;
  std::vector<MeasuredFile> measured_;
  std::unique_ptr<GemmModel> gemm_;
};

// The GEMM a pass of `op` runs.
[[nodiscard]] GemmShape pass_shape(const workload::Op& op, OpPass pass);

}  // namespace clustersim::compute
