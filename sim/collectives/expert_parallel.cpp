#include "sim/collectives/expert_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>

#include <fmt/format.h>

#include "sim/core/engine.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"

namespace clustersim::collectives {
namespace {

using fabric::Topology;
using fabric::VertexId;

struct Layout {
  std::vector<int> node_of_rank;   // node index within the group
  std::vector<int> local_of_rank;  // position within the node
  std::vector<std::vector<std::size_t>> ranks_of_node;
};

Layout layout(const Topology& topology, const std::vector<VertexId>& ranks) {
  Layout out;
  std::vector<int> node_ids;
  for (VertexId rank : ranks) {
    const int node = topology.vertex(rank).node;
    auto it = std::find(node_ids.begin(), node_ids.end(), node);
    if (it == node_ids.end()) {
      node_ids.push_back(node);
      out.ranks_of_node.emplace_back();
      it = node_ids.end() - 1;
    }
    const auto index = static_cast<std::size_t>(it - node_ids.begin());
    out.node_of_rank.push_back(static_cast<int>(index));
    out.local_of_rank.push_back(static_cast<int>(out.ranks_of_node[index].size()));
    out.ranks_of_node[index].push_back(out.node_of_rank.size() - 1);
  }
  return out;
}

// Token counts between ranks: rdma[src][dst node] tokens over InfiniBand (to the relay),
// nvl[(a, b)] tokens over NVLink.
struct Traffic {
  std::vector<std::vector<double>> rdma;
  std::map<std::pair<std::size_t, std::size_t>, double> nvl;
  double logical_rdma_tokens = 0;
  double received_tokens = 0;
};

Traffic route_tokens(const ExpertParallelSpec& spec, const Layout& l) {
  const std::size_t ranks = spec.ranks.size();
  const int nodes = static_cast<int>(l.ranks_of_node.size());
  const int experts_per_rank = spec.experts / static_cast<int>(ranks);
  const int experts_per_node = spec.experts / nodes;
  Traffic traffic;
  traffic.rdma.assign(ranks, std::vector<double>(static_cast<std::size_t>(nodes), 0.0));
  std::mt19937_64 rng(spec.seed);
  // Expert popularity (Zipf over a seeded permutation when imbalanced).
  std::vector<double> weight(static_cast<std::size_t>(spec.experts), 1.0);
  if (spec.imbalance > 0) {
    std::vector<int> order(static_cast<std::size_t>(spec.experts));
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (std::size_t i = 0; i < order.size(); ++i) {
      weight[static_cast<std::size_t>(order[i])] =
          1.0 / std::pow(static_cast<double>(i + 1), spec.imbalance);
    }
  }
  std::vector<int> node_order(static_cast<std::size_t>(nodes));
  std::vector<int> candidates;
  std::vector<double> keys;
  for (std::size_t src = 0; src < ranks; ++src) {
    const int src_node = l.node_of_rank[src];
    for (int token = 0; token < spec.tokens_per_rank; ++token) {
      std::iota(node_order.begin(), node_order.end(), 0);
      std::shuffle(node_order.begin(), node_order.end(), rng);
      const int chosen_nodes = std::min(spec.max_nodes, nodes);
      candidates.clear();
      for (int i = 0; i < chosen_nodes; ++i) {
        const int node = node_order[static_cast<std::size_t>(i)];
        for (int e = 0; e < experts_per_node; ++e) candidates.push_back(node * experts_per_node + e);
      }
      // top_k experts without replacement: a partial Fisher-Yates shuffle when uniform, weighted
      // sampling (Efraimidis-Spirakis keys) when popularity is skewed.
      const auto k = std::min<std::size_t>(static_cast<std::size_t>(spec.top_k), candidates.size());
      if (spec.imbalance > 0) {
        keys.resize(candidates.size());
        std::uniform_real_distribution<double> uniform(0.0, 1.0);
        for (std::size_t c = 0; c < candidates.size(); ++c) {
          keys[c] = std::log(uniform(rng) + 1e-300) /
                    weight[static_cast<std::size_t>(candidates[c])];
        }
        std::vector<std::size_t> index(candidates.size());
        std::iota(index.begin(), index.end(), 0);
        std::partial_sort(index.begin(), index.begin() + static_cast<std::ptrdiff_t>(k),
                          index.end(),
                          [&](std::size_t a, std::size_t b) { return keys[a] > keys[b]; });
        std::vector<int> picked;
        for (std::size_t i = 0; i < k; ++i) picked.push_back(candidates[index[i]]);
        std::copy(picked.begin(), picked.end(), candidates.begin());
      } else {
        for (std::size_t i = 0; i < k; ++i) {
          std::uniform_int_distribution<std::size_t> pick(i, candidates.size() - 1);
          std::swap(candidates[i], candidates[pick(rng)]);
        }
      }
      std::vector<std::size_t> target_ranks;
      std::vector<int> target_nodes;
      for (std::size_t i = 0; i < k; ++i) {
        const int expert = candidates[i];
        const auto rank = static_cast<std::size_t>(expert / experts_per_rank);
        if (std::find(target_ranks.begin(), target_ranks.end(), rank) == target_ranks.end()) {
          target_ranks.push_back(rank);
        }
        const int node = l.node_of_rank[rank];
        if (std::find(target_nodes.begin(), target_nodes.end(), node) == target_nodes.end()) {
          target_nodes.push_back(node);
        }
      }
      traffic.logical_rdma_tokens += static_cast<double>(target_nodes.size());
      traffic.received_tokens += static_cast<double>(target_ranks.size());
      for (int node : target_nodes) {
        const std::size_t entry =
            node == src_node ? src
                             : l.ranks_of_node[static_cast<std::size_t>(node)]
                                              [static_cast<std::size_t>(l.local_of_rank[src])];
        if (node != src_node) traffic.rdma[src][static_cast<std::size_t>(node)] += 1;
        for (std::size_t rank : target_ranks) {
          if (l.node_of_rank[rank] == node && rank != entry) traffic.nvl[{entry, rank}] += 1;
        }
      }
    }
  }
  return traffic;
}

CollectiveResult simulate(const Topology& topology, const ExpertParallelSpec& spec,
                          const Layout& l, const Traffic& traffic, double token_bytes,
                          bool reverse) {
  Engine engine;
  fabric::FlowModel model(engine, topology);
  fabric::Router router(topology);
  CollectiveResult result;
  std::uint64_t hash = 0;
  auto start = [&](std::size_t a, std::size_t b, double tokens) {
    if (tokens <= 0) return;
    const VertexId from = spec.ranks[reverse ? b : a];
    const VertexId to = spec.ranks[reverse ? a : b];
    model.start(router.route(from, to, ++hash), tokens * token_bytes, {});
    ++result.flows;
  };
  for (std::size_t src = 0; src < traffic.rdma.size(); ++src) {
    for (std::size_t node = 0; node < traffic.rdma[src].size(); ++node) {
      const std::size_t relay =
          l.ranks_of_node[node][static_cast<std::size_t>(l.local_of_rank[src])];
      start(src, relay, traffic.rdma[src][node]);
    }
  }
  for (const auto& [pair, tokens] : traffic.nvl) start(pair.first, pair.second, tokens);
  const RunStats run = engine.run();
  result.time = run.end;
  return result;
}

}  // namespace

ExpertParallelResult run_expert_parallel(const Topology& topology,
                                         const ExpertParallelSpec& spec) {
  if (spec.ranks.size() < 2) {
    throw CollectiveError(fmt::format("an EP group needs at least 2 ranks, got {}",
                                      spec.ranks.size()));
  }
  for (VertexId rank : spec.ranks) {
    if (rank >= topology.vertex_count() ||
        topology.vertex(rank).kind != fabric::VertexKind::gpu) {
      throw CollectiveError(fmt::format("rank {} is not a GPU of topology \"{}\"", rank,
                                        topology.name()));
    }
  }
  if (spec.tokens_per_rank <= 0 || spec.hidden <= 0) {
    throw CollectiveError(fmt::format("tokens per rank and hidden size must be positive, got {} "
                                      "and {}",
                                      spec.tokens_per_rank, spec.hidden));
  }
  if (spec.experts % static_cast<int>(spec.ranks.size()) != 0) {
    throw CollectiveError(fmt::format("{} experts do not spread evenly over {} EP ranks",
                                      spec.experts, spec.ranks.size()));
  }
  const Layout l = layout(topology, spec.ranks);
  const int nodes = static_cast<int>(l.ranks_of_node.size());
  for (const auto& members : l.ranks_of_node) {
    if (members.size() != l.ranks_of_node.front().size()) {
      throw CollectiveError("an EP group needs the same number of ranks on every node");
    }
  }
  if (spec.max_nodes < 1 || spec.max_nodes > nodes) {
    throw CollectiveError(fmt::format("a token may go to at most {} nodes, but the EP group "
                                      "spans {}",
                                      spec.max_nodes, nodes));
  }
  if (spec.top_k < 1 || spec.top_k > spec.max_nodes * (spec.experts / nodes)) {
    throw CollectiveError(fmt::format("top_k = {} cannot be met by {} nodes of {} experts",
                                      spec.top_k, spec.max_nodes, spec.experts / nodes));
  }
  const Traffic traffic = route_tokens(spec, l);
  const double fp8_bytes = spec.hidden * (1.0 + 4.0 / 128.0);
  const double bf16_bytes = spec.hidden * 2.0;
  ExpertParallelResult result;
  result.nodes = nodes;
  result.dispatch = simulate(topology, spec, l, traffic, fp8_bytes, false);
  result.combine = simulate(topology, spec, l, traffic, bf16_bytes, true);
  const double ranks = static_cast<double>(spec.ranks.size());
  result.rdma_tokens_per_rank = traffic.logical_rdma_tokens / ranks;
  result.nvl_tokens_per_rank = traffic.received_tokens / ranks;
  auto rate = [](double bytes, SimTime t) { return t.seconds() > 0 ? bytes / t.seconds() : 0.0; };
  result.dispatch_rdma_bytes_per_s =
      rate(result.rdma_tokens_per_rank * fp8_bytes, result.dispatch.time);
  result.dispatch_nvl_bytes_per_s =
      rate(result.nvl_tokens_per_rank * fp8_bytes, result.dispatch.time);
  result.combine_rdma_bytes_per_s =
      rate(result.rdma_tokens_per_rank * bf16_bytes, result.combine.time);
  result.combine_nvl_bytes_per_s =
      rate(result.nvl_tokens_per_rank * bf16_bytes, result.combine.time);
  return result;
}

}  // namespace clustersim::collectives
