#include "sim/compute/compute_model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace clustersim::compute {

namespace {

constexpr double kAttentionBackwardFactor = 2.5;  // FlashAttention: backward = 2.5 x forward FLOPs
constexpr double kBackwardBytesFactor = 2;        // read the gradient and the input, write one
// Online FP8 quantisation (TR §3.3.2): read a BF16 value, write it in FP8 with one FP32 scale per
// 128 values.
constexpr double kQuantizeBytesPerValue = 2 + 1 + 4.0 / 128;

// Activation values an FP8 GEMM pass quantises before it runs: forward its input (tokens that
// arrive through the EP dispatch are FP8 already); B the output gradient; W the input and the
// output gradient again, along the other axis (the transposed operands).
double quantized_values(const workload::Op& op, OpPass pass) {
  const double m = static_cast<double>(op.m) * op.groups;
  switch (pass) {
    case OpPass::forward:
      return op.forward_quantized_values.value_or(m * static_cast<double>(op.k));
    case OpPass::backward_input:
      return m * static_cast<double>(op.n);
    case OpPass::backward_weight:
      return m * static_cast<double>(op.k + op.n);
  }
  return 0;
}

}  // namespace

GemmShape pass_shape(const workload::Op& op, OpPass pass) {
  switch (pass) {
    case OpPass::forward:
      return {op.m, op.n, op.k, op.groups, op.dtype};
    case OpPass::backward_input:
      return {op.m, op.k, op.n, op.groups, op.dtype};
    case OpPass::backward_weight:
      return {op.k, op.n, op.m, op.groups, op.dtype};
  }
  return {};
}

ComputeModel::ComputeModel(const config::HardwareProfile& profile) : profile_(profile) {
  if (!profile.compute) {
    throw std::invalid_argument(
        fmt::format("hardware profile {} has no compute section: kernel times need its measured "
                    "efficiencies (see hardware_profiles/h800_sxm.yaml)",
                    profile.name));
  }
  std::vector<MeasuredCase> table;
  for (Dtype dtype : kAllDtypes) {
    const std::optional<std::string>& path = profile.compute->gemm_measured[dtype_index(dtype)];
    if (!path) continue;
    MeasuredFile file = load_measured_file(*path);
    for (const MeasuredCase& c : file.cases) {
      if (c.kind == CaseKind::gemm && c.dtype == dtype) table.push_back(c);
    }
    measured_.push_back(std::move(file));
  }
  // BF16 and FP16 run on the same tensor-core path at the same rate (every spec sheet gives one
  // figure for both): a profile that measured only one of them times the other from its table.
  const auto has = [&](Dtype dtype) {
    return std::any_of(table.begin(), table.end(),
                       [&](const MeasuredCase& c) { return c.dtype == dtype; });
  };
  for (const auto& [from, to] : {std::pair{Dtype::fp16, Dtype::bf16}, {Dtype::bf16, Dtype::fp16}}) {
    if (!has(from) || has(to)) continue;
    const std::size_t cases = table.size();
    for (std::size_t i = 0; i < cases; ++i) {
      if (table[i].dtype != from) continue;
      MeasuredCase twin = table[i];
      twin.dtype = to;
      table.push_back(twin);
    }
  }
  gemm_ = std::make_unique<GemmModel>(profile, table);
}

double ComputeModel::interpolate(const std::vector<config::RatePoint>& curve, double x) {
  if (curve.empty()) return 0;
  if (x <= curve.front().x) return curve.front().rate.flop_per_s;
  if (x >= curve.back().x) return curve.back().rate.flop_per_s;
  const auto upper = std::upper_bound(
      curve.begin(), curve.end(), x,
      [](double value, const config::RatePoint& point) { return value < point.x; });
  const config::RatePoint& hi = *upper;
  const config::RatePoint& lo = *(upper - 1);
  if (lo.x == x) return lo.rate.flop_per_s;
  const double t = std::log(x / lo.x) / std::log(hi.x / lo.x);
  return std::exp(std::log(lo.rate.flop_per_s) +
                  t * (std::log(hi.rate.flop_per_s) - std::log(lo.rate.flop_per_s)));
}

double ComputeModel::attention_clock_scale() const {
  const config::ComputeSpec& c = *profile_.compute;
  if (!c.attention.clock || !c.sustained_clock) return 1;
  return c.sustained_clock->hz / c.attention.clock->hz;
}

SimTime ComputeModel::launched(double seconds) const {
  return SimTime::from_computed_seconds(seconds) + profile_.compute->launch_latency;
}

double ComputeModel::gemm_clock_scale() const {
  const config::ComputeSpec& c = *profile_.compute;
  if (!c.gemm_clock || !c.sustained_clock) return 1;
  return c.sustained_clock->hz / c.gemm_clock->hz;
}

SimTime ComputeModel::gemm_time(const GemmShape& shape, int sms, bool weight_gradient) const {
  if (shape.m <= 0 || shape.n <= 0 || shape.k <= 0) return SimTime::zero();
  double seconds = gemm_->time(shape, sms).seconds() / gemm_clock_scale();
  if (weight_gradient) {
    seconds /= profile_.compute->gemm_weight_gradient_share[dtype_index(shape.dtype)].value_or(1);
  }
  return launched(seconds);
}

SimTime ComputeModel::gemm_time(const GemmShape& shape, const workload::GemmLaunch& launch, int sms,
                                bool weight_gradient) const {
  const int splits = std::max(1, launch.splits);
  GemmShape chunk = shape;
  chunk.m = (shape.m + splits - 1) / splits;
  const SimTime one = gemm_time(chunk, std::max(1, sms - launch.held_sms), weight_gradient);
  return SimTime::from_computed_seconds(one.seconds() * splits);
}

SimTime ComputeModel::quantize_time(double values) const {
  const config::ComputeSpec& c = *profile_.compute;
  return launched(hbm_seconds(kQuantizeBytesPerValue * values,
                              c.quantize_efficiency.value_or(c.memory_efficiency)));
}

double ComputeModel::attention_rate(bool forward, double keys, std::optional<double> head_dim,
                                    int sms) const {
  const config::AttentionCurves& a = profile_.compute->attention;
  // The head dims whose curves measure this pass, ascending.
  std::vector<std::pair<double, const std::vector<config::RatePoint>*>> measured;
  const auto add = [&](int d, const std::vector<config::RatePoint>& f,
                       const std::vector<config::RatePoint>& b) {
    const std::vector<config::RatePoint>& curve = forward ? f : b;
    if (!curve.empty()) measured.emplace_back(d, &curve);
  };
  add(a.head_dim, a.forward, a.backward);
  for (const config::HeadDimCurves& other : a.head_dims) {
    add(other.head_dim, other.forward, other.backward);
  }
  if (measured.empty()) {
    throw std::invalid_argument(fmt::format("hardware profile {} has no compute.attention.{} curve",
                                            profile_.name, forward ? "forward" : "backward"));
  }
  std::sort(measured.begin(), measured.end());
  const double d = head_dim.value_or(a.head_dim);
  double rate = 0;
  if (d <= measured.front().first) {
    rate = interpolate(*measured.front().second, keys);
  } else if (d >= measured.back().first) {
    rate = interpolate(*measured.back().second, keys);
  } else {
    // The time per score, in proportion to d / rate, is linear in d between the two measured
    // head dims around it.
    const auto hi = std::find_if(measured.begin(), measured.end(),
                                 [&](const auto& point) { return point.first >= d; });
    const auto lo = std::prev(hi);
    const double t_lo = lo->first / interpolate(*lo->second, keys);
    const double t_hi = hi->first / interpolate(*hi->second, keys);
    const double w = (d - lo->first) / (hi->first - lo->first);
    rate = d / (t_lo + w * (t_hi - t_lo));
  }
  return rate * sms / sm_count() * attention_clock_scale();
}

SimTime ComputeModel::attention_forward_time(double forward_flops, double keys, int sms,
                                             std::optional<double> head_dim) const {
  return launched(forward_flops / attention_rate(true, keys, head_dim, sms));
}

SimTime ComputeModel::attention_backward_time(double forward_flops, double keys, int sms,
                                              std::optional<double> head_dim) const {
  return launched(kAttentionBackwardFactor * forward_flops /
                  attention_rate(false, keys, head_dim, sms));
}

double ComputeModel::hbm_seconds(double bytes, double efficiency) const {
  return bytes / (profile_.gpu.memory_bandwidth.bytes_per_s * efficiency);
}

SimTime ComputeModel::memory_time(double bytes) const {
  return launched(hbm_seconds(bytes, profile_.compute->memory_efficiency));
}

SimTime ComputeModel::roofline_time(double flops, double bytes, int sms) const {
  const std::optional<FlopRate> peak = profile_.gpu.peak(Dtype::bf16);
  const double efficiency = profile_.compute->peak_efficiency(Dtype::bf16).value_or(1.0);
  const double compute_s = peak ? flops / (peak->flop_per_s * efficiency * sms / sm_count()) : 0;
  return launched(std::max(compute_s, hbm_seconds(bytes, profile_.compute->memory_efficiency)));
}

SimTime ComputeModel::op_time(const workload::Op& op, OpPass pass, int sms, double keys) const {
  SimTime total = SimTime::zero();
  for (const KernelTime& kernel : op_kernels(op, pass, sms, keys)) total = total + kernel.time;
  return total;
}

std::vector<KernelTime> ComputeModel::op_kernels(const workload::Op& op, OpPass pass, int sms,
                                                 double keys) const {
  std::vector<KernelTime> out;
  if (op.kind == workload::OpKind::gemm && op.dtype == Dtype::fp8) {
    const double values = quantized_values(op, pass);
    if (values > 0) out.push_back({"quantize", quantize_time(values)});
  }
  main_kernels(op, pass, sms, keys, out);
  return out;
}

namespace {

std::string_view pointwise_class(workload::OpKind kind) {
  using workload::OpKind;
  switch (kind) {
    case OpKind::norm:
      return "norm";
    case OpKind::softmax:
      return "softmax";
    case OpKind::dropout:
      return "dropout";
    case OpKind::permute:
      return "permute";
    case OpKind::router:
      return "router";
    case OpKind::embedding:
      return "embedding";
    case OpKind::loss:
      return "loss";
    default:
      return "elementwise";
  }
}

}  // namespace

void ComputeModel::main_kernels(const workload::Op& op, OpPass pass, int sms, double keys,
                                std::vector<KernelTime>& out) const {
  using workload::OpKind;
  if (op.kind == OpKind::saved) return;
  const bool grouped = op.groups > 1 && !op.activation_operands;
  const std::string_view gemm_class = grouped ? "grouped_gemm" : "gemm";
  const double attention_keys = op.attention_keys.value_or(keys);
  const auto forward = [&]() {
    switch (op.kind) {
      case OpKind::gemm:
        out.push_back(
            {gemm_class, gemm_time(pass_shape(op, OpPass::forward), op.forward_launch, sms)});
        return;
      case OpKind::attention:
        // One kernel per step (ring attention), each of equal work.
        out.insert(
            out.end(), static_cast<std::size_t>(op.attention_steps),
            {"attention_forward", attention_forward_time(op.forward_flops / op.attention_steps,
                                                         attention_keys, sms, op.head_dim)});
        return;
      default:
        out.push_back(
            {pointwise_class(op.kind), roofline_time(op.forward_flops, op.forward_bytes, sms)});
        return;
    }
  };
  switch (pass) {
    case OpPass::forward:
      forward();
      return;
    case OpPass::backward_input:
      if (op.recomputed) forward();
      switch (op.kind) {
        case OpKind::gemm:
          out.push_back({gemm_class, gemm_time(pass_shape(op, OpPass::backward_input),
                                               op.input_grad_launch, sms)});
          // Both operands of an activation GEMM are inputs: their gradients run here.
          if (op.activation_operands) {
            out.push_back({gemm_class, gemm_time(pass_shape(op, OpPass::backward_weight), sms)});
          }
          return;
        case OpKind::attention:
          out.insert(
              out.end(), static_cast<std::size_t>(op.attention_steps),
              {"attention_backward", attention_backward_time(op.forward_flops / op.attention_steps,
                                                             attention_keys, sms, op.head_dim)});
          return;
        default: {
          // Element-wise backward: the input gradient moves twice the forward traffic; an op
          // with its own backward FLOPs (router) runs them at the BF16 roofline.
          const double flops = op.backward_input_flops - (op.recomputed ? op.forward_flops : 0);
          out.push_back(
              {pointwise_class(op.kind),
               roofline_time(std::max(0.0, flops),
                             op.backward_bytes.value_or(kBackwardBytesFactor * op.forward_bytes),
                             sms)});
          return;
        }
      }
    case OpPass::backward_weight:
      if (op.kind == OpKind::gemm && !op.activation_operands) {
        out.push_back({"gemm_wgrad", gemm_time(pass_shape(op, OpPass::backward_weight),
                                               op.weight_grad_launch, sms,
                                               /*weight_gradient=*/true)});
      } else if (op.kind != OpKind::gemm && op.kind != OpKind::attention &&
                 op.backward_weight_flops > 0) {
        out.push_back({pointwise_class(op.kind), roofline_time(op.backward_weight_flops, 0, sms)});
      }
      return;
  }
}

}  // namespace clustersim::compute
