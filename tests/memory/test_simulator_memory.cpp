// The simulator-memory estimate (sim/report/simulator_memory.hpp) against what runs allocate.
//
// This executable replaces the global operator new and delete to count the bytes live on the
// heap (with the allocator's 16-byte chunk header), so each test measures the peak a piece of
// work allocates and checks that the estimate bounds it without overshooting it threefold. It is
// not built under the sanitizers, which bring their own allocator.

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "sim/collectives/collective.hpp"
#include "sim/config/loader.hpp"
#include "sim/core/run_limits.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/simulator_memory.hpp"
#include "tests/shipped_cards.hpp"

namespace {

std::atomic<long long> g_live{0};
std::atomic<long long> g_peak{0};

constexpr long long kChunkHeader = 16;

void* counted_alloc(std::size_t size) {
  void* p = std::malloc(size == 0 ? 1 : size);
  if (p == nullptr) throw std::bad_alloc();
  const long long bytes = static_cast<long long>(malloc_usable_size(p)) + kChunkHeader;
  const long long live = g_live.fetch_add(bytes) + bytes;
  long long peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return p;
}

void counted_free(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(static_cast<long long>(malloc_usable_size(p)) + kChunkHeader);
  std::free(p);
}

}  // namespace

void* operator new(std::size_t size) {
  return counted_alloc(size);
}
void* operator new[](std::size_t size) {
  return counted_alloc(size);
}
void operator delete(void* p) noexcept {
  counted_free(p);
}
void operator delete[](void* p) noexcept {
  counted_free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  counted_free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  counted_free(p);
}

namespace clustersim::report {
namespace {

// Peak heap bytes `work` allocates above what was live before it.
template <class Work>
double peak_bytes_of(Work&& work) {
  const long long before = g_live.load();
  g_peak.store(before);
  work();
  return static_cast<double>(g_peak.load() - before);
}

void expect_bounds(double estimate, double measured, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_GE(estimate, measured) << "estimate " << estimate << " B, measured " << measured << " B";
  EXPECT_LE(estimate, 3 * measured)
      << "estimate " << estimate << " B, measured " << measured << " B";
  std::printf("%-40s estimate %12.0f B  measured %12.0f B  ratio %.2f\n", what.c_str(), estimate,
              measured, estimate / measured);
}

config::HardwareProfile h800() {
  return testing::shipped_hardware("h800_sxm");
}

TEST(SimulatorMemory, NetworkEstimateBoundsTheBuiltGraph) {
  const config::HardwareProfile hw = h800();
  for (const auto& [card, nodes] : std::vector<std::pair<std::string, int>>{
           {"mpft", 256}, {"ft3", 1024}, {"dragonfly", 256}, {"slimfly", 128}, {"mrft", 256}}) {
    const config::TopologySpec spec = testing::shipped_topology(card);
    const fabric::ClusterShape shape{nodes, 8, &hw};
    const SimulatorMemory estimate =
        estimate_collective_memory(spec, shape, collectives::Operation::send_recv);
    const double measured = peak_bytes_of([&] { (void)fabric::build_cluster(spec, shape); });
    expect_bounds(estimate.network_bytes, measured, card + " network");
  }
}

TEST(SimulatorMemory, BareNetworkEstimateBoundsTheGraphAndItsStatistics) {
  for (const char* name : {"ft3", "dragonfly", "slimfly", "mpft"}) {
    config::TopologySpec spec = testing::shipped_topology(name);
    spec.endpoints = 16384;
    const SimulatorMemory estimate = estimate_network_memory(spec);
    const double measured =
        peak_bytes_of([&] { (void)fabric::measure(fabric::build_network(spec)); });
    expect_bounds(estimate.total_bytes() - kBaseBytes, measured, std::string(name) + " bare");
  }
}

// An all-to-all of `bytes` on `nodes` nodes of the card: the flow and routing estimate against
// the peak the run allocates.
void expect_all_to_all_bounded(const std::string& card, int nodes, double bytes,
                               double departure_batching, bool congestion_bound = false,
                               std::optional<config::RoutingPolicy> routing = std::nullopt) {
  const config::HardwareProfile hw = h800();
  config::TopologySpec spec = testing::shipped_topology(card);
  if (routing) spec.routing = *routing;
  const fabric::ClusterShape shape{nodes, 8, &hw};
  const fabric::Topology topology = fabric::build_cluster(spec, shape);
  const SimulatorMemory estimate = estimate_collective_memory(
      spec, shape, collectives::Operation::all_to_all,
      congestion_bound ? CollectiveTiming::congestion_bound : CollectiveTiming::flows);
  collectives::CollectiveSpec collective;
  collective.operation = collectives::Operation::all_to_all;
  collective.algorithm = collectives::Algorithm::direct;
  collective.bytes = bytes;
  collective.ranks = topology.gpus();
  collective.departure_batching = departure_batching;
  collective.congestion_bound = congestion_bound;
  const double measured =
      peak_bytes_of([&] { (void)collectives::run_collective(topology, collective); });
  expect_bounds(estimate.flow_bytes + estimate.routing_bytes, measured,
                fmt::format("all-to-all on {} GPUs, {}{}{}", 8 * nodes, card,
                            congestion_bound ? ", congestion bound" : "",
                            routing ? fmt::format(", {}", config::to_string(*routing)) : ""));
}

TEST(SimulatorMemory, FlowEstimateBoundsAnAllToAll) {
  expect_all_to_all_bounded("ft2", 8, 64e6, 0);
}

// At scale, where the per-flow records outweigh everything fixed: a quarter of a million flows,
// batched so that the run is short (the records are the same), on the fat-tree whose flows cost
// least, the dragonfly (whose flows activate in many small batches) and the multi-plane fat-tree.
TEST(SimulatorMemory, FlowEstimateBoundsALargeAllToAll) {
  for (const char* card : {"ft3", "dragonfly", "mpft"}) {
    expect_all_to_all_bounded(card, 64, 1 << 20, 0.5);
  }
}

// Valiant and UGAL routes detour through an intermediate router: up to twice the switch hops.
TEST(SimulatorMemory, FlowEstimateBoundsADetouringAllToAll) {
  for (const config::RoutingPolicy routing :
       {config::RoutingPolicy::valiant, config::RoutingPolicy::ugal}) {
    expect_all_to_all_bounded("dragonfly", 64, 1 << 20, 0.5, false, routing);
  }
}

// Timed by the congestion bound: the transfers and per-link sums, no flows (a sixth as much).
TEST(SimulatorMemory, CongestionBoundEstimateBoundsALargeAllToAll) {
  for (const char* card : {"ft3", "dragonfly"}) {
    expect_all_to_all_bounded(card, 64, 1 << 20, 0, true);
  }
}

TEST(SimulatorMemory, StepEstimateBoundsTheDeepSeekV3Run) {
  const config::Experiment experiment = testing::shipped_experiment("dsv3_2048xh800_mpft");
  const SimulatorMemory estimate = estimate_step_memory(experiment);
  const double measured = peak_bytes_of([&] {
    parallel::StepOptions options;
    options.link_traffic = true;
    options.link_rows = true;
    (void)parallel::simulate_step(experiment, options);
  });
  expect_bounds(estimate.total_bytes() - kBaseBytes, measured, "DeepSeek-V3 step");
}

// Sixteen times the micro-batches: the pipeline schedule outgrows the network.
TEST(SimulatorMemory, StepEstimateBoundsALongSchedule) {
  const config::Experiment experiment =
      testing::shipped_experiment("dsv3_2048xh800_mpft", {"training.global_batch_size=245760"});
  const SimulatorMemory estimate = estimate_step_memory(experiment);
  EXPECT_GT(estimate.schedule_bytes, estimate.network_bytes);
  // As `clustersim run` simulates: with the step's link traffic.
  parallel::StepOptions options;
  options.link_traffic = true;
  const double measured =
      peak_bytes_of([&] { (void)parallel::simulate_step(experiment, options); });
  expect_bounds(estimate.total_bytes() - kBaseBytes, measured, "DeepSeek-V3 step, 16x the batch");
}

}  // namespace
}  // namespace clustersim::report
