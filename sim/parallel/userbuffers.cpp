#include "sim/parallel/userbuffers.hpp"

#include <algorithm>

namespace clustersim::parallel {

namespace {

// What of `tp` seconds of TP communication outlasts the GEMMs it hides behind.
double outlasting(double tp, double gemm) {
  return std::max(0.0, tp - gemm);
}

}  // namespace

UserBufferExposure::UserBufferExposure(const Config& config, int tp, int shared_sms,
                                       const UserBufferCollectives& collectives)
    : config_(config),
      tp_(std::max(1, tp)),
      shared_sms_(std::max(1, shared_sms)),
      c_(collectives) {}

const config::TpOverlapGemm& UserBufferExposure::gemm(config::TpGemm which) const {
  return config_[static_cast<std::size_t>(which)];
}

double UserBufferExposure::all_gather(double gemm) const {
  return (tp_ - 1) * outlasting(c_.slice_send_gather, gemm / tp_);
}

double UserBufferExposure::reduce_scatter(config::TpGemm which, double gemm) const {
  const config::TpOverlapGemm& g = this->gemm(which);
  if (g.method == config::TpOverlapMethod::pipeline) {
    const int splits = std::max(1, g.splits);
    const double chunk = c_.reduce_scatter / splits;
    return (splits - 1) * outlasting(chunk, gemm / splits) + chunk +
           shared_with(which, c_.reduce_scatter - chunk, gemm);
  }
  return (tp_ - 1) * outlasting(c_.slice_send_scatter, gemm / tp_) + c_.slice_send_scatter +
         c_.sum_partials;
}

double UserBufferExposure::shared_with(config::TpGemm which, double collective, double gemm) const {
  const config::TpOverlapGemm& g = this->gemm(which);
  if (g.sm_margin || g.method == config::TpOverlapMethod::ring_exchange) return 0;
  return std::min(collective, gemm) * g.comm_sms / shared_sms_;
}

double UserBufferExposure::bulk(config::TpGemm which, double collective, double gemm) const {
  return outlasting(collective, gemm) + shared_with(which, collective, gemm);
}

double UserBufferExposure::forward(const TpLinearTimes& times) const {
  using workload::TpLinear;
  double exposed = 0, rest = 0, others = times.all_forward;
  for (const TpLinear linear : workload::kTpLinearOrder) {
    if (!times.overlapped[workload::tp_linear_index(linear)]) {
      rest += c_.layer / 4;
      continue;
    }
    const double gemm = times.gemm[workload::tp_linear_index(linear)][0];
    others -= gemm;
    exposed += workload::column_parallel(linear)
                   ? all_gather(gemm)
                   : reduce_scatter(workload::tp_linear_gemms(linear).fprop, gemm);
  }
  return exposed + outlasting(rest, std::max(0.0, others));
}

double UserBufferExposure::backward(const TpLinearTimes& times) const {
  using workload::TpLinear;
  // proj's and fc2's input gradients all-gather the output gradient (ring exchange); qkv's and
  // fc1's input gradients run beside the re-gather of the input their weight gradients need,
  // and those weight gradients beside the reduce-scatter of the input gradient (bulk).
  double exposed = 0, rest = 0, others = times.all_backward;
  for (const TpLinear linear : workload::kTpLinearOrder) {
    const bool column = workload::column_parallel(linear);
    if (!times.overlapped[workload::tp_linear_index(linear)]) {
      rest += c_.layer / 4 + (column ? c_.regather / 2 : 0);
      continue;
    }
    const double input_gradient = times.gemm[workload::tp_linear_index(linear)][1];
    const double weight_gradient = times.gemm[workload::tp_linear_index(linear)][2];
    others -= input_gradient + weight_gradient;
    if (!column) {
      exposed += all_gather(input_gradient);
      continue;
    }
    const workload::TpLinearGemms gemms = workload::tp_linear_gemms(linear);
    exposed += bulk(gemms.dgrad, c_.all_gather, input_gradient) +
               bulk(*gemms.wgrad, c_.reduce_scatter, weight_gradient);
  }
  return exposed + outlasting(rest, std::max(0.0, others));
}

}  // namespace clustersim::parallel
