#include "sim/collectives/expert_parallel.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>

#include <fmt/format.h>

#include "sim/core/engine.hpp"
#include "sim/core/parallel_for.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/router.hpp"

namespace clustersim::collectives {
namespace {

using fabric::Topology;
using fabric::VertexId;

// SplitMix64 with Lemire's multiply-shift bounded draw: a fast, seeded, platform-independent
// stream (the routing draws millions of small integers).
class TokenRandom {
 public:
  explicit TokenRandom(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n), n > 0 (bias below 2^-32 for the n used here).
  int below(int n) {
    return static_cast<int>(((next() >> 32) * static_cast<std::uint64_t>(n)) >> 32);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  std::uint64_t state_;
};

// Computed values by key, kept until they add up to `budget_bytes`, when the memory starts
// afresh. Thread-safe; a value is computed outside the lock, so two threads may compute the same
// one, and the first kept wins.
template <class Value>
class BoundedMemory {
 public:
  explicit BoundedMemory(std::size_t budget_bytes) : budget_bytes_(budget_bytes) {}

  [[nodiscard]] std::shared_ptr<const Value> find(const std::string& key) {
    const std::lock_guard lock(mutex_);
    const auto it = memory_.find(key);
    return it == memory_.end() ? nullptr : it->second;
  }

  // Keeps `value`, which takes `bytes` (its key's included).
  void keep(std::string key, std::shared_ptr<const Value> value, std::size_t bytes) {
    const std::lock_guard lock(mutex_);
    if (bytes_ + bytes > budget_bytes_) {
      memory_.clear();
      bytes_ = 0;
    }
    if (memory_.emplace(std::move(key), std::move(value)).second) bytes_ += bytes;
  }

 private:
  const std::size_t budget_bytes_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const Value>> memory_;
  std::size_t bytes_ = 0;
};

constexpr std::size_t kRememberedBytes = std::size_t{64} << 20;

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

// Token counts between ranks: rdma[src][dst node] tokens over InfiniBand (to the relay);
// nvl[a * ranks + b] tokens over NVLink from rank a to rank b (in low-latency mode: every direct
// transfer from a to b, over whatever links the route takes).
struct Traffic {
  std::vector<std::vector<double>> rdma;
  std::vector<double> nvl;
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
  traffic.nvl.assign(ranks * ranks, 0.0);
  TokenRandom rng(spec.seed);
  // Expert popularity (Zipf over a seeded permutation when imbalanced).
  std::vector<double> weight(static_cast<std::size_t>(spec.experts), 1.0);
  if (spec.imbalance > 0) {
    std::vector<int> order(static_cast<std::size_t>(spec.experts));
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1], order[static_cast<std::size_t>(rng.below(static_cast<int>(i)))]);
    }
    for (std::size_t i = 0; i < order.size(); ++i) {
      weight[static_cast<std::size_t>(order[i])] =
          1.0 / std::pow(static_cast<double>(i + 1), spec.imbalance);
    }
  }
  const int chosen_nodes = std::min(spec.max_nodes, nodes);
  const int pool = chosen_nodes * experts_per_node;  // candidate experts of a token
  const auto k = static_cast<std::size_t>(std::min(spec.top_k, pool));
  // Tables instead of divisions in the per-token loop: a pool slot's node position and offset,
  // and each expert's rank.
  std::vector<int> slot_node(static_cast<std::size_t>(pool));
  std::vector<int> slot_offset(static_cast<std::size_t>(pool));
  for (int slot = 0; slot < pool; ++slot) {
    slot_node[static_cast<std::size_t>(slot)] = slot / experts_per_node;
    slot_offset[static_cast<std::size_t>(slot)] = slot % experts_per_node;
  }
  std::vector<std::size_t> rank_of_expert(static_cast<std::size_t>(spec.experts));
  for (int expert = 0; expert < spec.experts; ++expert) {
    rank_of_expert[static_cast<std::size_t>(expert)] =
        static_cast<std::size_t>(expert / experts_per_rank);
  }
  // Marks of the current token (its number), so that de-duplication is one look-up.
  std::vector<std::int64_t> expert_mark(static_cast<std::size_t>(spec.experts), -1);
  std::vector<std::int64_t> rank_mark(ranks, -1);
  std::vector<std::int64_t> node_mark(static_cast<std::size_t>(nodes), -1);
  std::int64_t mark = 0;
  std::vector<int> node_order(static_cast<std::size_t>(nodes));
  std::iota(node_order.begin(), node_order.end(), 0);
  std::vector<int> swapped_with(static_cast<std::size_t>(chosen_nodes));
  std::vector<int> picked;
  std::vector<double> keys;
  std::vector<int> index;
  std::vector<std::size_t> target_ranks;
  std::vector<int> target_nodes;
  for (std::size_t src = 0; src < ranks; ++src) {
    const int src_node = l.node_of_rank[src];
    const auto src_local = static_cast<std::size_t>(l.local_of_rank[src]);
    for (int token = 0; token < spec.tokens_per_rank; ++token, ++mark) {
      // The token's nodes: the first `chosen_nodes` of a partial shuffle of 0..nodes-1 (the
      // swaps are undone afterwards, so every token shuffles the identity).
      for (int i = 0; i < chosen_nodes; ++i) {
        const int j = i + rng.below(nodes - i);
        swapped_with[static_cast<std::size_t>(i)] = j;
        std::swap(node_order[static_cast<std::size_t>(i)], node_order[static_cast<std::size_t>(j)]);
      }
      auto expert_at = [&](int slot) {
        const auto s = static_cast<std::size_t>(slot);
        return node_order[static_cast<std::size_t>(slot_node[s])] * experts_per_node +
               slot_offset[s];
      };
      // top_k distinct experts among the pool: rejection sampling when uniform (k << pool),
      // weighted sampling without replacement (Efraimidis-Spirakis keys) when skewed.
      picked.clear();
      if (spec.imbalance > 0) {
        keys.resize(static_cast<std::size_t>(pool));
        index.resize(static_cast<std::size_t>(pool));
        for (int slot = 0; slot < pool; ++slot) {
          keys[static_cast<std::size_t>(slot)] =
              std::log(rng.unit() + 1e-300) / weight[static_cast<std::size_t>(expert_at(slot))];
          index[static_cast<std::size_t>(slot)] = slot;
        }
        std::partial_sort(index.begin(), index.begin() + static_cast<std::ptrdiff_t>(k),
                          index.end(), [&](int a, int b) {
                            return keys[static_cast<std::size_t>(a)] >
                                   keys[static_cast<std::size_t>(b)];
                          });
        for (std::size_t i = 0; i < k; ++i) picked.push_back(expert_at(index[i]));
      } else {
        while (picked.size() < k) {
          const int expert = expert_at(rng.below(pool));
          std::int64_t& seen = expert_mark[static_cast<std::size_t>(expert)];
          if (seen != mark) {
            seen = mark;
            picked.push_back(expert);
          }
        }
      }
      for (int i = chosen_nodes - 1; i >= 0; --i) {
        std::swap(node_order[static_cast<std::size_t>(i)],
                  node_order[static_cast<std::size_t>(swapped_with[static_cast<std::size_t>(i)])]);
      }
      target_ranks.clear();
      target_nodes.clear();
      for (int expert : picked) {
        const std::size_t rank = rank_of_expert[static_cast<std::size_t>(expert)];
        if (rank_mark[rank] != mark) {
          rank_mark[rank] = mark;
          target_ranks.push_back(rank);
        }
        const int node = l.node_of_rank[rank];
        if (node_mark[static_cast<std::size_t>(node)] != mark) {
          node_mark[static_cast<std::size_t>(node)] = mark;
          target_nodes.push_back(node);
        }
      }
      traffic.logical_rdma_tokens += static_cast<double>(target_nodes.size());
      traffic.received_tokens += static_cast<double>(target_ranks.size());
      if (spec.low_latency && spec.per_pair) {
        for (int expert : picked) {
          const std::size_t rank = rank_of_expert[static_cast<std::size_t>(expert)];
          if (rank != src) traffic.nvl[src * ranks + rank] += 1;
        }
        continue;
      }
      if (spec.low_latency) {
        for (std::size_t rank : target_ranks) {
          if (rank != src) traffic.nvl[src * ranks + rank] += 1;  // direct, whatever the link
        }
        continue;
      }
      // Normal mode: one copy per target node over InfiniBand to the rank in the source's slot
      // there (the relay), which forwards over NVLink to the node's target ranks.
      for (int node : target_nodes) {
        if (node != src_node) traffic.rdma[src][static_cast<std::size_t>(node)] += 1;
      }
      for (std::size_t rank : target_ranks) {
        const int node = l.node_of_rank[rank];
        const std::size_t entry =
            node == src_node ? src : l.ranks_of_node[static_cast<std::size_t>(node)][src_local];
        if (rank != entry) traffic.nvl[entry * ranks + rank] += 1;
      }
    }
  }
  return traffic;
}

// route_tokens, remembered: the draw depends only on the routing inputs and on which node and
// slot each rank has, and a layout search or a sweep asks for the same ones many times. Every EP
// group of a stage draws its own stream (8 draws for EP32 on a 256-GPU stage, 64 on 2,048 GPUs),
// and a search revisits them across pipeline depths, schedules and EP sizes: up to 64 MiB of
// draws are kept, then the memory starts afresh. Thread-safe.
Traffic remembered_route_tokens(const ExpertParallelSpec& spec, const Layout& l) {
  std::string key = fmt::format("{} {} {} {} {} {:a} {} {} {}|", spec.seed, spec.experts,
                                spec.top_k, spec.max_nodes, spec.tokens_per_rank, spec.imbalance,
                                spec.low_latency, spec.per_pair, spec.ranks.size());
  for (std::size_t r = 0; r < l.node_of_rank.size(); ++r) {
    key += fmt::format("{}.{} ", l.node_of_rank[r], l.local_of_rank[r]);
  }
  static BoundedMemory<Traffic> memory(kRememberedBytes);
  if (const std::shared_ptr<const Traffic> known = memory.find(key)) return *known;
  auto traffic = std::make_shared<const Traffic>(route_tokens(spec, l));
  std::size_t bytes = traffic->nvl.size() * sizeof(double) + key.size();
  for (const std::vector<double>& row : traffic->rdma) bytes += row.size() * sizeof(double);
  memory.keep(std::move(key), traffic, bytes);
  return *traffic;
}

struct Group {
  ExpertParallelSpec spec;  // ranks of this group only
  Layout layout;
  Traffic traffic;
};

// The SMs that push each GPU's data and how fast (see ExpertParallelSpec).
CopyEngines copy_engines(const ExpertParallelSpec& spec) {
  CopyEngines copy{0, spec.nvlink_copy_per_sm, spec.rdma_copy_per_sm};
  if (!spec.low_latency) {
    copy.pushing_sms = spec.comm_sms / 2;
  } else if (spec.per_pair) {
    copy.pushing_sms = spec.nccl_channels;
  }
  return copy;
}

CollectiveResult simulate(const Topology& topology, const std::vector<Group>& groups,
                          double token_bytes, bool reverse, bool record_flows,
                          double departure_batching) {
  Engine engine;
  fabric::FlowModel model(engine, topology);
  model.set_departure_batching(departure_batching);
  model.merge_series_links();  // every flow runs between GPUs (check_ranks)
  fabric::Router router(topology);
  CollectiveResult result;
  std::uint64_t hash = 0;
  for (const Group& group : groups) {
    const std::vector<VertexId>& ranks = group.spec.ranks;
    const CopyEngines copy = copy_engines(group.spec);
    struct Planned {
      VertexId from, to;
      double bytes;
    };
    std::vector<Planned> planned;
    auto plan = [&](std::size_t a, std::size_t b, double tokens) {
      if (tokens <= 0) return;
      planned.push_back({ranks[reverse ? b : a], ranks[reverse ? a : b], tokens * token_bytes});
    };
    const Layout& l = group.layout;
    for (std::size_t src = 0; src < group.traffic.rdma.size(); ++src) {
      for (std::size_t node = 0; node < group.traffic.rdma[src].size(); ++node) {
        const std::size_t relay =
            l.ranks_of_node[node][static_cast<std::size_t>(l.local_of_rank[src])];
        plan(src, relay, group.traffic.rdma[src][node]);
      }
    }
    const std::size_t n = ranks.size();
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t b = 0; b < n; ++b) plan(a, b, group.traffic.nvl[a * n + b]);
    }
    // A GPU's flows over NVLink (and over the network) share its pushing SMs.
    std::vector<std::pair<VertexId, VertexId>> ends;
    ends.reserve(planned.size());
    for (const Planned& p : planned) ends.emplace_back(p.from, p.to);
    const std::vector<double> bounds = copy_bounds(topology, copy, ends);
    model.reserve_waiting(planned.size(), planned.size() * fabric::Router::kUsualPathLinks);
    for (std::size_t i = 0; i < planned.size(); ++i) {
      const Planned& p = planned[i];
      ++hash;
      fabric::FlowModel::OnComplete done;
      const std::size_t logged = result.flow_log.size();
      if (record_flows) {
        done = [&result, logged](SimTime now) { result.flow_log[logged].end = now; };
      }
      const SimTime latency =
          model.start_flow(router, p.from, p.to, hash, p.bytes, std::move(done), bounds[i]);
      if (record_flows) {
        result.flow_log.push_back(
            {p.from, p.to, hash, p.bytes, engine.now() + latency, SimTime::zero()});
      }
      ++result.flows;
    }
  }
  const RunStats run = engine.run();
  result.time = run.end;
  return result;
}

void validate_group(const Topology& topology, const ExpertParallelSpec& spec, const Layout& l) {
  for (const auto& members : l.ranks_of_node) {
    if (members.size() != l.ranks_of_node.front().size()) {
      throw CollectiveError("an EP group needs the same number of ranks on every node");
    }
  }
  const int nodes = static_cast<int>(l.ranks_of_node.size());
  if (spec.max_nodes < 1 || spec.max_nodes > nodes) {
    throw CollectiveError(
        fmt::format("a token may go to at most {} nodes, but the EP group "
                    "spans {}",
                    spec.max_nodes, nodes));
  }
  if (spec.experts % static_cast<int>(spec.ranks.size()) != 0) {
    throw CollectiveError(fmt::format("{} experts do not spread evenly over {} EP ranks",
                                      spec.experts, spec.ranks.size()));
  }
  if (spec.top_k < 1 || spec.top_k > spec.max_nodes * (spec.experts / nodes)) {
    throw CollectiveError(fmt::format("top_k = {} cannot be met by {} nodes of {} experts",
                                      spec.top_k, spec.max_nodes, spec.experts / nodes));
  }
  (void)topology;
}

}  // namespace

void set_copy_rates(ExpertParallelSpec& spec, const config::HardwareProfile& hardware) {
  const CopyEngines nccl = nccl_copy_engines(hardware);
  spec.nvlink_copy_per_sm = nccl.nvlink_per_sm;
  spec.rdma_copy_per_sm = nccl.rdma_per_sm;
  spec.nccl_channels = nccl.pushing_sms;
}

namespace {

ExpertParallelResult simulate_expert_parallel(const Topology& topology,
                                              const ExpertParallelSpec& spec);

}  // namespace

ExpertParallelResult run_expert_parallel(const Topology& topology, const ExpertParallelSpec& spec) {
  // Remembered by topology and spec: a layout search or a sweep runs the same exchange on the same
  // cluster many times (its candidates differ in what the exchange does not see), and visits
  // hundreds of exchanges in between (a search goes by its bounds, not by exchange). Up to 64 MiB
  // of results are kept, then the memory starts afresh; thread-safe.
  std::string key =
      fmt::format("{:x} {} {} {} {} {} {:a} {} {} {} {} {:a} {:a} {} {} {} {}|",
                  topology.fingerprint(), spec.tokens_per_rank, spec.hidden, spec.experts,
                  spec.top_k, spec.max_nodes, spec.imbalance, spec.seed, spec.group_size,
                  spec.low_latency, spec.comm_sms, spec.nvlink_copy_per_sm, spec.rdma_copy_per_sm,
                  spec.nccl_channels, spec.bf16_dispatch, spec.per_pair, spec.record_flows);
  for (const VertexId rank : spec.ranks) key += fmt::format("{} ", rank);
  static BoundedMemory<ExpertParallelResult> memory(kRememberedBytes);
  if (const std::shared_ptr<const ExpertParallelResult> known = memory.find(key)) return *known;
  auto result =
      std::make_shared<const ExpertParallelResult>(simulate_expert_parallel(topology, spec));
  std::size_t bytes = key.size() + sizeof(ExpertParallelResult);
  for (const CollectiveResult* phase : {&result->dispatch, &result->combine}) {
    bytes += phase->flow_log.size() * sizeof(FlowRecord) +
             phase->busiest_links.size() * sizeof(LinkLoad);
  }
  memory.keep(std::move(key), result, bytes);
  return *result;
}

namespace {

ExpertParallelResult simulate_expert_parallel(const Topology& topology,
                                              const ExpertParallelSpec& spec) {
  check_ranks(topology, spec.ranks, "an EP group");
  check_departure_batching(spec.departure_batching);
  if (spec.comm_sms < 0) {
    throw CollectiveError(
        fmt::format("communication SMs must be zero or more, got {}", spec.comm_sms));
  }
  if (!spec.low_latency && spec.nvlink_copy_per_sm > 0 && spec.comm_sms < 2) {
    throw CollectiveError(fmt::format(
        "DeepEP's normal kernels need at least 2 SMs (one channel) to move data, got {}",
        spec.comm_sms));
  }
  if (spec.tokens_per_rank <= 0 || spec.hidden <= 0) {
    throw CollectiveError(
        fmt::format("tokens per rank and hidden size must be positive, got {} "
                    "and {}",
                    spec.tokens_per_rank, spec.hidden));
  }
  const std::size_t group_size =
      spec.group_size > 0 ? static_cast<std::size_t>(spec.group_size) : spec.ranks.size();
  if (spec.ranks.size() % group_size != 0) {
    throw CollectiveError(
        fmt::format("{} ranks do not split into EP groups of {}", spec.ranks.size(), group_size));
  }
  std::vector<Group> groups;
  double logical_rdma = 0;
  double received = 0;
  for (std::size_t first = 0; first < spec.ranks.size(); first += group_size) {
    Group group;
    group.spec = spec;
    group.spec.ranks.assign(spec.ranks.begin() + static_cast<std::ptrdiff_t>(first),
                            spec.ranks.begin() + static_cast<std::ptrdiff_t>(first + group_size));
    group.spec.seed = spec.seed + first;  // an independent stream per group
    group.layout = layout(topology, group.spec.ranks);
    validate_group(topology, group.spec, group.layout);
    groups.push_back(std::move(group));
  }
  // The groups' token draws are independent: drawn on the machine's cores at once (each group
  // from its own seed, so the result does not depend on the number of threads).
  parallel_for(groups.size(), std::max(1U, std::thread::hardware_concurrency()),
               [&](std::size_t g) {
                 groups[g].traffic = remembered_route_tokens(groups[g].spec, groups[g].layout);
               });
  for (const Group& group : groups) {
    logical_rdma += group.traffic.logical_rdma_tokens;
    received += group.traffic.received_tokens;
  }
  const double bf16_bytes = spec.hidden * 2.0;
  const double fp8_bytes = spec.bf16_dispatch ? bf16_bytes : spec.hidden * (1.0 + 4.0 / 128.0);
  ExpertParallelResult result;
  result.nodes = static_cast<int>(groups.front().layout.ranks_of_node.size());
  result.sms_held = spec.low_latency ? 0 : spec.comm_sms;
  result.dispatch =
      simulate(topology, groups, fp8_bytes, false, spec.record_flows, spec.departure_batching);
  result.combine =
      simulate(topology, groups, bf16_bytes, true, spec.record_flows, spec.departure_batching);
  const double ranks = static_cast<double>(spec.ranks.size());
  result.rdma_tokens_per_rank = logical_rdma / ranks;
  result.nvl_tokens_per_rank = received / ranks;
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

}  // namespace

}  // namespace clustersim::collectives
