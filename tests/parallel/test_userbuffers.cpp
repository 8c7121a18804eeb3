// Transformer Engine's userbuffers overlap, GEMM by GEMM: each method's exposure against its
// closed form (ring exchange in tp chunks, pipelined chunks, bulk), the SMs a collective takes
// from a GEMM launched without a margin, and the layer-wide rule for linears TE does not overlap.

#include "sim/parallel/userbuffers.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace clustersim::parallel {
namespace {

using config::TpGemm;
using config::TpOverlapGemm;
using config::TpOverlapMethod;
using workload::TpLinear;

constexpr int kTp = 4;
constexpr int kSharedSms = 120;

std::size_t at(TpLinear linear) {
  return static_cast<std::size_t>(linear) - 1;
}
std::size_t at(TpGemm gemm) {
  return static_cast<std::size_t>(gemm);
}

UserBufferCollectives collectives() {
  UserBufferCollectives c;
  c.slice_send_gather = 1.0;
  c.slice_send_scatter = 1.5;
  c.sum_partials = 0.25;
  c.all_gather = 3.0;
  c.reduce_scatter = 4.0;
  c.layer = 8.0;
  c.regather = 2.0;
  return c;
}

// Only `linear` overlapped, with GEMMs of `forward`, `input_gradient` and `weight_gradient`
// seconds, inside a layer whose GEMMs take `all` seconds each way.
TpLinearTimes only(TpLinear linear, double forward, double input_gradient, double weight_gradient,
                   double all) {
  TpLinearTimes t;
  t.overlapped[at(linear)] = true;
  t.gemm[at(linear)] = {forward, input_gradient, weight_gradient};
  t.all_forward = all;
  t.all_backward = all;
  return t;
}

// The three linears other than `linear` follow the layer-wide rule: three quarters of the
// layer's collectives against the layer's GEMMs other than `linear`'s.
double others_forward(double all, double gemm) {
  return std::max(0.0, 0.75 * collectives().layer - (all - gemm));
}

TEST(UserBuffers, RingExchangeAllGatherWaitsForEachSliceItOutlasts) {
  const UserBufferExposure ub(config::te_default_tp_overlap(), kTp, kSharedSms, collectives());
  // qkv fprop: 4 chunks of 0.5 each; each of the 3 slices after the first outlasts its chunk by
  // 1.0 - 0.5. The layer's other GEMMs (100) hide the rest.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::qkv, 2.0, 0, 0, 102.0)), 3 * 0.5);
  // A GEMM whose chunks outlast the slices hides the all-gather.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::qkv, 8.0, 0, 0, 108.0)), 0.0);
  // proj's input gradient all-gathers the output gradient the same way.
  EXPECT_DOUBLE_EQ(ub.backward(only(TpLinear::proj, 0, 2.0, 1.0, 103.0)), 3 * 0.5);
}

TEST(UserBuffers, RingExchangeReduceScatterEndsWithTheLastSendAndTheSum) {
  auto config = config::te_default_tp_overlap();
  config[at(TpGemm::proj_fprop)] = TpOverlapGemm::te_default(TpOverlapMethod::ring_exchange);
  const UserBufferExposure ub(config, kTp, kSharedSms, collectives());
  // 3 x (1.5 - 2/4) + 1.5 + 0.25.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::proj, 2.0, 0, 0, 102.0)), 3 * 1.0 + 1.5 + 0.25);
  // Hidden chunk by chunk, the last send and the sum stay.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::proj, 20.0, 0, 0, 120.0)), 1.5 + 0.25);
}

TEST(UserBuffers, PipelinedReduceScatterExposesTheLastChunksCollective) {
  // TE's default for proj fprop: 4 chunks on 16 SMs with the margin. Chunk collective 4 / 4 = 1.
  const UserBufferExposure ub(config::te_default_tp_overlap(), kTp, kSharedSms, collectives());
  // GEMM 2: each chunk 0.5, so 3 x (1 - 0.5) + 1.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::proj, 2.0, 0, 0, 102.0)), 3 * 0.5 + 1.0);
  // Without the margin the collective's 16 SMs leave the GEMM while it runs beside it: the
  // three chunks' collectives (3) over the GEMM (2) cost min(3, 2) x 16 / 120.
  auto config = config::te_default_tp_overlap();
  config[at(TpGemm::proj_fprop)].sm_margin = false;
  const UserBufferExposure shared(config, kTp, kSharedSms, collectives());
  EXPECT_DOUBLE_EQ(shared.forward(only(TpLinear::proj, 2.0, 0, 0, 102.0)),
                   3 * 0.5 + 1.0 + 2.0 * 16 / kSharedSms);
  // More splits: 8 chunks of 0.5 against 8 GEMM chunks of 0.25.
  config = config::te_default_tp_overlap();
  config[at(TpGemm::proj_fprop)].splits = 8;
  const UserBufferExposure finer(config, kTp, kSharedSms, collectives());
  EXPECT_DOUBLE_EQ(finer.forward(only(TpLinear::proj, 2.0, 0, 0, 102.0)), 7 * 0.25 + 0.5);
}

TEST(UserBuffers, BulkCollectivesBesideTheColumnLinearsGradients) {
  // qkv dgrad beside the all-gather (3), its wgrad beside the reduce-scatter (4), both bulk.
  const UserBufferExposure ub(config::te_default_tp_overlap(), kTp, kSharedSms, collectives());
  EXPECT_DOUBLE_EQ(ub.backward(only(TpLinear::qkv, 0, 1.0, 2.5, 103.5)), 2.0 + 1.5);
  // Without the margin each takes its 16 SMs' share of the GEMM it runs beside.
  auto config = config::te_default_tp_overlap();
  config[at(TpGemm::qkv_dgrad)].sm_margin = false;
  config[at(TpGemm::qkv_wgrad)].sm_margin = false;
  const UserBufferExposure shared(config, kTp, kSharedSms, collectives());
  EXPECT_DOUBLE_EQ(shared.backward(only(TpLinear::qkv, 0, 1.0, 2.5, 103.5)),
                   2.0 + 1.0 * 16 / kSharedSms + 1.5 + 2.5 * 16 / kSharedSms);
}

TEST(UserBuffers, LinearsTeDoesNotOverlapKeepTheLayerWideRule) {
  const UserBufferExposure ub(config::te_default_tp_overlap(), kTp, kSharedSms, collectives());
  // Only qkv overlapped (hidden: GEMM 8): the other three quarters of the layer's 8 against the
  // other GEMMs, 1 + 8 - 8 = 1, leave 5.
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::qkv, 8.0, 0, 0, 9.0)), others_forward(9.0, 8.0));
  EXPECT_DOUBLE_EQ(ub.forward(only(TpLinear::qkv, 8.0, 0, 0, 9.0)), 5.0);
  // No linear overlapped: the whole layer against all GEMMs, as without userbuffers.
  TpLinearTimes none;
  none.all_forward = 3.0;
  none.all_backward = 3.0;
  EXPECT_DOUBLE_EQ(ub.forward(none), 8.0 - 3.0);
  // Backward: the column linears (qkv, fc1) each add half the W pass's re-gathers.
  EXPECT_DOUBLE_EQ(ub.backward(none), 8.0 + 2.0 - 3.0);
}

}  // namespace
}  // namespace clustersim::parallel
