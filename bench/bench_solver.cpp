// Speed of the max-min solver: one full solve of 100,000 flows on a two-level fat tree, and one
// incremental solve after adding a flow to a solver that holds 100,000 flows, either all in one
// connected component (the whole fat tree is re-solved) or split into 1,000 disjoint components
// of 100 flows (only the new flow's component is). Paths and capacities come from fixed seeds.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "sim/fabric/maxmin_solver.hpp"

namespace {

using clustersim::fabric::FlowSpec;
using clustersim::fabric::LinkId;
using clustersim::fabric::MaxMinSolver;

constexpr std::size_t kFlows = 100'000;
constexpr double kLinkBytesPerS = 50e9;  // 400 Gb/s on every link

// 2,048 hosts under 64 leaves (32 each), every leaf wired to each of 32 spines: non-blocking.
// Links: host uplinks, host downlinks, leaf-to-spine uplinks, spine-to-leaf downlinks.
class FatTree {
 public:
  static constexpr LinkId kHosts = 2048;
  static constexpr LinkId kLeaves = 64;
  static constexpr LinkId kSpines = 32;
  static constexpr LinkId kHostsPerLeaf = kHosts / kLeaves;
  static constexpr LinkId kLinks = 2 * kHosts + 2 * kLeaves * kSpines;

  [[nodiscard]] static std::vector<double> capacities() {
    return std::vector<double>(kLinks, kLinkBytesPerS);
  }

  // Host up, leaf up, spine down, host down; only the two host links within a leaf.
  [[nodiscard]] static std::vector<LinkId> random_path(std::mt19937_64& rng) {
    std::uniform_int_distribution<LinkId> host(0, kHosts - 1);
    const LinkId source = host(rng);
    LinkId destination = host(rng);
    while (destination == source) destination = host(rng);
    const LinkId source_leaf = source / kHostsPerLeaf;
    const LinkId destination_leaf = destination / kHostsPerLeaf;
    if (source_leaf == destination_leaf) return {host_up(source), host_down(destination)};
    const LinkId spine = std::uniform_int_distribution<LinkId>(0, kSpines - 1)(rng);
    return {host_up(source), leaf_up(source_leaf, spine), spine_down(spine, destination_leaf),
            host_down(destination)};
  }

 private:
  static LinkId host_up(LinkId host) { return host; }
  static LinkId host_down(LinkId host) { return kHosts + host; }
  static LinkId leaf_up(LinkId leaf, LinkId spine) { return 2 * kHosts + leaf * kSpines + spine; }
  static LinkId spine_down(LinkId spine, LinkId leaf) {
    return 2 * kHosts + kLeaves * kSpines + spine * kLeaves + leaf;
  }
};

// 1,000 groups of 16 links; a flow crosses 4 distinct links of its group, so the 100 flows of a
// group connect its links into one component (with overwhelming probability; the benchmark reports
// the size it actually re-solves).
class DisjointGroups {
 public:
  static constexpr LinkId kGroups = 1000;
  static constexpr LinkId kLinksPerGroup = 16;
  static constexpr LinkId kPathLength = 4;

  [[nodiscard]] static std::vector<double> capacities(std::mt19937_64& rng) {
    std::vector<double> capacities(kGroups * kLinksPerGroup);
    std::uniform_real_distribution<double> capacity(0.5 * kLinkBytesPerS, kLinkBytesPerS);
    for (double& link : capacities) link = capacity(rng);
    return capacities;
  }

  [[nodiscard]] static std::vector<LinkId> random_path(std::mt19937_64& rng, LinkId group) {
    std::vector<LinkId> links(kLinksPerGroup);
    for (LinkId i = 0; i < kLinksPerGroup; ++i) links[i] = group * kLinksPerGroup + i;
    for (LinkId i = 0; i < kPathLength; ++i) {  // partial Fisher-Yates: distinct links
      std::swap(links[i], links[std::uniform_int_distribution<LinkId>(i, kLinksPerGroup - 1)(rng)]);
    }
    links.resize(kPathLength);
    return links;
  }
};

void bm_full_solve_fat_tree(benchmark::State& state) {
  std::mt19937_64 rng(42);
  const std::vector<double> capacities = FatTree::capacities();
  std::vector<FlowSpec> flows(kFlows);
  for (FlowSpec& flow : flows) flow.path = FatTree::random_path(rng);
  for (auto _ : state) {
    auto rates = clustersim::fabric::solve_max_min(capacities, flows);
    benchmark::DoNotOptimize(rates);
  }
  state.counters["solves/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["flows/s"] = benchmark::Counter(static_cast<double>(kFlows),
                                                 benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_full_solve_fat_tree)->Unit(benchmark::kMillisecond);

// Times add_flow + solve(); the flow is removed again (and its component re-solved) outside the
// timing, so every iteration starts from the same 100,000 flows.
template <class NewPath>
void time_add_and_solve(benchmark::State& state, MaxMinSolver& solver, NewPath new_path) {
  static_cast<void>(solver.solve());
  std::size_t solved = 0;
  for (auto _ : state) {
    const auto flow = solver.add_flow(new_path());
    benchmark::DoNotOptimize(solver.solve());
    state.PauseTiming();
    solved = solver.last_solve_size();
    solver.remove_flow(flow);
    static_cast<void>(solver.solve());
    state.ResumeTiming();
  }
  state.counters["solved_flows"] = static_cast<double>(solved);
}

void bm_incremental_giant_component(benchmark::State& state) {
  std::mt19937_64 rng(42);
  MaxMinSolver solver(FatTree::capacities());
  for (std::size_t flow = 0; flow < kFlows; ++flow) solver.add_flow(FatTree::random_path(rng));
  time_add_and_solve(state, solver, [&rng] { return FatTree::random_path(rng); });
}
BENCHMARK(bm_incremental_giant_component)->Unit(benchmark::kMillisecond);

void bm_incremental_disjoint_components(benchmark::State& state) {
  std::mt19937_64 rng(42);
  MaxMinSolver solver(DisjointGroups::capacities(rng));
  constexpr std::size_t kFlowsPerGroup = kFlows / DisjointGroups::kGroups;
  for (LinkId group = 0; group < DisjointGroups::kGroups; ++group) {
    for (std::size_t flow = 0; flow < kFlowsPerGroup; ++flow) {
      solver.add_flow(DisjointGroups::random_path(rng, group));
    }
  }
  std::uniform_int_distribution<LinkId> any_group(0, DisjointGroups::kGroups - 1);
  time_add_and_solve(state, solver, [&rng, &any_group] {
    return DisjointGroups::random_path(rng, any_group(rng));
  });
}
BENCHMARK(bm_incremental_disjoint_components)->Unit(benchmark::kMicrosecond);

}  // namespace
