#include "sim/fabric/router.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace clustersim::fabric {
namespace {

constexpr std::uint16_t kUnreachable = std::numeric_limits<std::uint16_t>::max();

// SplitMix64 finaliser: spreads (flow, hop) over the ECMP choices.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::string describe(const Topology& topology, VertexId v) {
  const VertexInfo& info = topology.vertex(v);
  switch (info.kind) {
    case VertexKind::gpu:
      return fmt::format("GPU {} of node {}", info.local, info.node);
    case VertexKind::nic:
      return fmt::format("NIC {} of node {}", info.local, info.node);
    case VertexKind::host:
      return fmt::format("endpoint {}", v);
    case VertexKind::nvswitch:
      return fmt::format("NVSwitch of node {}", info.node);
    case VertexKind::network_switch:
      return fmt::format("switch {}", v);
  }
  return fmt::format("vertex {}", v);
}

}  // namespace

Router::Router(const Topology& topology) : topology_(topology) {
  switch_index_.assign(topology.vertex_count(), -1);
  for (std::size_t i = 0; i < topology.switches().size(); ++i) {
    switch_index_[topology.switches()[i]] = static_cast<std::int32_t>(i);
  }
  distance_cache_.resize(topology.switches().size());
  last_hops_.assign(topology.switches().size(), {0, 0});
  plane_index_.assign(topology.vertex_count(), 0);
  std::vector<std::uint32_t> next_in_plane;
  for (VertexId endpoint : topology.endpoints()) {
    const auto plane = static_cast<std::size_t>(std::max(0, topology.vertex(endpoint).plane));
    if (next_in_plane.size() <= plane) next_in_plane.resize(plane + 1, 0);
    plane_index_[endpoint] = next_in_plane[plane]++;
  }
  for (VertexId nic : topology.nics()) {
    const VertexInfo& info = topology.vertex(nic);
    const auto node = static_cast<std::size_t>(info.node);
    if (node_nics_.size() <= node) node_nics_.resize(node + 1);
    std::vector<VertexId>& list = node_nics_[node];
    if (list.size() <= static_cast<std::size_t>(info.local)) {
      list.resize(static_cast<std::size_t>(info.local) + 1);
    }
    list[static_cast<std::size_t>(info.local)] = nic;
  }
}

const std::vector<std::uint16_t>& Router::distances_to(VertexId target_switch) {
  const auto target = static_cast<std::size_t>(switch_index_[target_switch]);
  if (distance_cache_[target] != nullptr) return *distance_cache_[target];
  SwitchDistanceCache& shared = topology_.switch_distances();
  const std::lock_guard lock(shared.mutex);
  const std::size_t switches = topology_.switches().size();
  if (shared.by_target.size() != switches) {
    shared.by_target.assign(switches, {});
    // The switch-to-switch adjacency as one array, for the searches below.
    const Graph& graph = topology_.graph();
    shared.offsets.assign(1, 0);
    shared.neighbours.clear();
    for (VertexId v : topology_.switches()) {
      for (const auto& edge : boost::make_iterator_range(boost::out_edges(v, graph))) {
        const std::int32_t index = switch_index_[boost::target(edge, graph)];
        if (index >= 0) shared.neighbours.push_back(static_cast<std::uint32_t>(index));
      }
      shared.offsets.push_back(static_cast<std::uint32_t>(shared.neighbours.size()));
    }
  }
  std::vector<std::uint16_t>& distances = shared.by_target[target];
  distance_cache_[target] = &distances;
  if (!distances.empty()) return distances;
  // Links are full duplex, so distances from the target equal distances to it: a breadth-first
  // search from it, with the queue in one array.
  distances.assign(switches, kUnreachable);
  std::vector<std::uint32_t> queue;
  queue.reserve(switches);
  queue.push_back(static_cast<std::uint32_t>(target));
  distances[target] = 0;
  for (std::size_t head = 0; head < queue.size(); ++head) {
    const std::uint32_t v = queue[head];
    const auto next = static_cast<std::uint16_t>(distances[v] + 1);
    for (std::uint32_t e = shared.offsets[v]; e < shared.offsets[v + 1]; ++e) {
      const std::uint32_t w = shared.neighbours[e];
      if (distances[w] != kUnreachable) continue;
      distances[w] = next;
      queue.push_back(w);
    }
  }
  return distances;
}

std::optional<int> Router::switch_distance(VertexId from, VertexId to) {
  const std::uint16_t d = distances_to(to)[static_cast<std::size_t>(switch_index_[from])];
  if (d == kUnreachable) return std::nullopt;
  return d;
}

bool Router::has_choice(VertexId from, VertexId to) {
  const std::vector<std::uint16_t>& distances = distances_to(to);
  if (distances[static_cast<std::size_t>(switch_index_[from])] == kUnreachable) return false;
  const Graph& graph = topology_.graph();
  std::vector<VertexId> frontier{from};
  std::vector<char> seen(topology_.switches().size(), 0);
  while (!frontier.empty()) {
    const VertexId v = frontier.back();
    frontier.pop_back();
    const std::uint16_t distance = distances[static_cast<std::size_t>(switch_index_[v])];
    int next_hops = 0;
    for (const auto& edge : boost::make_iterator_range(boost::out_edges(v, graph))) {
      const auto w = static_cast<VertexId>(boost::target(edge, graph));
      const std::int32_t index = switch_index_[w];
      if (index < 0 || distances[static_cast<std::size_t>(index)] + 1 != distance) continue;
      if (++next_hops > 1) return true;
      if (!seen[static_cast<std::size_t>(index)]) {
        seen[static_cast<std::size_t>(index)] = 1;
        frontier.push_back(w);
      }
    }
  }
  return false;
}

bool offers_equal_cost_paths(const Topology& topology) {
  const std::vector<VertexId>& endpoints = topology.endpoints();
  if (endpoints.size() < 2 || topology.switches().empty()) return false;
  Router router(topology);
  // A small network: every pair of edge switches of a plane.
  std::vector<std::pair<VertexId, int>> edges;  // edge switch, plane
  for (VertexId endpoint : endpoints) {
    if (const std::optional<VertexId> at = topology.attached_switch(endpoint)) {
      const std::pair<VertexId, int> edge{*at, topology.vertex(endpoint).plane};
      if (std::find(edges.begin(), edges.end(), edge) == edges.end()) edges.push_back(edge);
      if (edges.size() > 256) break;
    }
  }
  if (edges.size() <= 256) {
    for (const auto& [a, plane_a] : edges) {
      for (const auto& [b, plane_b] : edges) {
        if (a != b && plane_a == plane_b && router.has_choice(a, b)) return true;
      }
    }
    return false;
  }
  // A large one: a spread of sources, each against a far and a near edge switch of its plane.
  constexpr std::size_t kSources = 8;
  for (std::size_t s = 0; s < kSources; ++s) {
    const VertexId source = endpoints[s * (endpoints.size() - 1) / (kSources - 1)];
    const std::optional<VertexId> a = topology.attached_switch(source);
    if (!a) continue;
    // The source's switch against the first switch of its plane met from `t` on, stepping by
    // `step`: the last endpoint's (a far one) and the first's (a near one, in most generators'
    // numbering).
    const auto choice_towards = [&](std::size_t t, std::ptrdiff_t step) {
      for (; t < endpoints.size(); t += static_cast<std::size_t>(step)) {
        const VertexId target = endpoints[t];
        const std::optional<VertexId> b = topology.attached_switch(target);
        if (topology.vertex(target).plane == topology.vertex(source).plane && b && *a != *b) {
          return router.has_choice(*a, *b);
        }
      }
      return false;
    };
    if (choice_towards(endpoints.size() - 1, -1) || choice_towards(0, 1)) return true;
  }
  return false;
}

void Router::append(Route& route, VertexId a, VertexId b) {
  if (link_memo_.size() <= a) link_memo_.resize(topology_.vertex_count());
  LinkMemo& memo = link_memo_[a];
  LinkId link = kNoLink;
  if (memo.to[0] == b) {
    link = memo.link[0];
  } else if (memo.to[1] == b) {
    link = memo.link[1];
  } else {
    const std::optional<LinkId> found = topology_.find_link(a, b);
    if (!found) {
      throw RoutingError(
          fmt::format("no link from {} to {}", describe(topology_, a), describe(topology_, b)));
    }
    link = *found;
    // The newer of the two kept first.
    memo.to[1] = memo.to[0];
    memo.link[1] = memo.link[0];
    memo.to[0] = b;
    memo.link[0] = link;
  }
  route.links.push_back(link);
  route.latency = route.latency + topology_.link(link).latency;
}

std::size_t Router::choose(std::span<const LinkId> choices, std::uint64_t hop, VertexId to_endpoint,
                           std::uint64_t& stride, Walk& walk) const {
  const std::size_t n = choices.size();
  constexpr std::uint64_t kStrideCap = std::uint64_t{1} << 40;
  const std::uint64_t hashed = mix(walk.hash ^ mix(hop));
  switch (topology_.routing) {
    case config::RoutingPolicy::static_: {
      // Going up a tree, each tier's choice takes the next digit of the destination's index;
      // elsewhere (down a trunk of parallel links, or a flat network) its residue, so that one
      // leaf's destinations spread over a trunk's links.
      const std::uint64_t d = plane_index_[to_endpoint];
      const LinkInfo& first = topology_.link(choices.front());
      if (topology_.vertex(first.to).tier > topology_.vertex(first.from).tier) {
        const std::size_t index = (d / stride) % n;
        stride = std::min(kStrideCap, stride * n);
        return index;
      }
      return d % n;
    }
    case config::RoutingPolicy::spray: {
      // Path p takes digit (p / stride) mod n while the digits still tell the paths apart, then
      // a choice of its own; every path is rotated by the flow's hash, so flows' first paths
      // differ.
      const auto path = static_cast<std::uint64_t>(walk.path);
      const std::uint64_t digit = stride < static_cast<std::uint64_t>(kMaxSprayPaths)
                                      ? (path / stride) % n
                                      : mix(hashed ^ mix(path + 1)) % n;
      stride = std::min(kStrideCap, stride * n);
      walk.combined = static_cast<int>(
          std::min<std::uint64_t>(kMaxSprayPaths, static_cast<std::uint64_t>(walk.combined) * n));
      return static_cast<std::size_t>((digit + hashed) % n);
    }
    case config::RoutingPolicy::adaptive:
      if (load_ != nullptr) {
        // The least load per unit of capacity; among equals, the hash picks.
        const auto value_of = [&](std::size_t i) {
          const double capacity = topology_.link(choices[i]).capacity_bytes_per_s();
          return capacity > 0 ? (*load_)[choices[i]] / capacity
                              : std::numeric_limits<double>::infinity();
        };
        double best = std::numeric_limits<double>::infinity();
        std::size_t ties = 0;
        std::size_t chosen = 0;
        for (std::size_t i = 0; i < n; ++i) {
          const double value = value_of(i);
          if (value < best) {
            best = value;
            ties = 1;
            chosen = i;
          } else if (value == best) {
            ++ties;
          }
        }
        if (ties == 1) return chosen;
        std::uint64_t pick = hashed % ties;
        for (std::size_t i = 0; i < n; ++i) {
          if (value_of(i) == best && pick-- == 0) return i;
        }
      }
      [[fallthrough]];
    case config::RoutingPolicy::ecmp:
    case config::RoutingPolicy::valiant:
    case config::RoutingPolicy::ugal:
      break;
  }
  return static_cast<std::size_t>(hashed % n);
}

void Router::append_network(Route& route, VertexId from_endpoint, VertexId to_endpoint,
                            Walk& walk) {
  const std::optional<VertexId> first = topology_.attached_switch(from_endpoint);
  const std::optional<VertexId> last = topology_.attached_switch(to_endpoint);
  if (!first || !last) {
    throw RoutingError(fmt::format("{} is not cabled to the network",
                                   describe(topology_, first ? to_endpoint : from_endpoint)));
  }
  append(route, from_endpoint, *first);
  if (distances_to(*last)[static_cast<std::size_t>(switch_index_[*first])] == kUnreachable) {
    throw RoutingError(fmt::format("no network path from {} to {}",
                                   describe(topology_, from_endpoint),
                                   describe(topology_, to_endpoint)));
  }
  const config::RoutingPolicy policy = topology_.routing;
  const std::optional<VertexId> via =
      policy == config::RoutingPolicy::valiant || policy == config::RoutingPolicy::ugal
          ? intermediate(*first, *last, walk.hash)
          : std::nullopt;
  const std::size_t start = route.links.size();
  const SimTime latency = route.latency;
  std::uint64_t hop = 0, stride = 1;
  if (via && policy == config::RoutingPolicy::ugal && load_ != nullptr) {
    // Both candidates from the same start; the Valiant one replaces the minimal one when it
    // costs less.
    append_switches(route, *first, *last, to_endpoint, walk, hop, stride);
    other_.links.assign(route.links.begin(),
                        route.links.begin() + static_cast<std::ptrdiff_t>(start));
    other_.latency = latency;
    std::uint64_t other_hop = 0, other_stride = 1;
    append_switches(other_, *first, *via, to_endpoint, walk, other_hop, other_stride);
    append_switches(other_, *via, *last, to_endpoint, walk, other_hop, other_stride);
    if (ugal_cost(other_, start, other_.links.size()) <
        ugal_cost(route, start, route.links.size())) {
      std::swap(route.links, other_.links);
      route.latency = other_.latency;
    }
  } else if (via && policy == config::RoutingPolicy::valiant) {
    append_switches(route, *first, *via, to_endpoint, walk, hop, stride);
    append_switches(route, *via, *last, to_endpoint, walk, hop, stride);
  } else {
    append_switches(route, *first, *last, to_endpoint, walk, hop, stride);
  }
  if (down_link_.size() <= to_endpoint) down_link_.resize(topology_.vertex_count(), kNoLink);
  LinkId& down = down_link_[to_endpoint];
  if (down == kNoLink) {
    const std::size_t before = route.links.size();
    append(route, *last, to_endpoint);
    down = route.links[before];
    return;
  }
  route.links.push_back(down);
  route.latency = route.latency + topology_.link(down).latency;
}

void Router::append_switches(Route& route, VertexId from, VertexId to, VertexId to_endpoint,
                             Walk& walk, std::uint64_t& hop, std::uint64_t& stride) {
  const std::vector<std::uint16_t>& distances = distances_to(to);
  VertexId current = from;
  std::uint16_t distance = distances[static_cast<std::size_t>(switch_index_[current])];
  std::vector<LinkId> scratch;
  for (; current != to; ++hop) {
    const std::span<const LinkId> choices = next_hops(current, to, distances, distance, scratch);
    const LinkId chosen = choices.size() == 1
                              ? choices.front()
                              : choices[choose(choices, hop, to_endpoint, stride, walk)];
    route.links.push_back(chosen);
    route.latency = route.latency + topology_.link(chosen).latency;
    current = topology_.link(chosen).to;
    --distance;
  }
}

std::optional<VertexId> Router::intermediate(VertexId first, VertexId last, std::uint64_t hash) {
  if (edge_switches_.empty()) edge_switches_ = topology_.edge_switches();
  if (edge_switches_.empty()) return std::nullopt;
  const VertexId via = edge_switches_[mix(hash ^ 0x5a17a4e11c0ffeeULL) % edge_switches_.size()];
  if (via == first || via == last) return std::nullopt;
  // A switch of another plane (a multi-plane network) is out of reach: minimal.
  const auto index = [&](VertexId v) { return static_cast<std::size_t>(switch_index_[v]); };
  if (distances_to(via)[index(first)] == kUnreachable ||
      distances_to(last)[index(via)] == kUnreachable) {
    return std::nullopt;
  }
  return via;
}

double Router::ugal_cost(const Route& route, std::size_t from, std::size_t to) const {
  double busiest = 0;
  for (std::size_t i = from; i < to; ++i) {
    const double capacity = topology_.link(route.links[i]).capacity_bytes_per_s();
    if (capacity > 0) busiest = std::max(busiest, ((*load_)[route.links[i]] + 1) / capacity);
  }
  return static_cast<double>(to - from) * busiest;
}

std::span<const LinkId> Router::next_hops(VertexId current, VertexId last,
                                          const std::vector<std::uint16_t>& distances,
                                          std::uint16_t distance, std::vector<LinkId>& scratch) {
  const std::uint64_t key = (std::uint64_t{current} << 32) | last;
  if (const HopSlot* hit = find_hops(key)) {
    return std::span<const LinkId>(hop_links_).subspan(hit->offset, hit->count);
  }
  const Graph& graph = topology_.graph();
  scratch.clear();
  for (const auto& edge : boost::make_iterator_range(boost::out_edges(current, graph))) {
    const std::int32_t index = switch_index_[boost::target(edge, graph)];
    if (index >= 0 && distances[static_cast<std::size_t>(index)] + 1 == distance) {
      scratch.push_back(graph[edge].id);
    }
  }
  if (hop_slots_used_ >= kMaxCachedHops) return scratch;
  // Most targets share the switch's last list (a leaf's uplinks serve every other leaf): kept
  // once, so that the lists stay few and in the cache.
  std::pair<std::uint32_t, std::uint32_t>& last_list =
      last_hops_[static_cast<std::size_t>(switch_index_[current])];
  const auto count = static_cast<std::uint32_t>(scratch.size());
  if (last_list.second != count ||
      !std::equal(scratch.begin(), scratch.end(), hop_links_.begin() + last_list.first)) {
    if (hop_links_.size() + scratch.size() > kMaxCachedHopLinks) return scratch;
    last_list = {static_cast<std::uint32_t>(hop_links_.size()), count};
    hop_links_.insert(hop_links_.end(), scratch.begin(), scratch.end());
  }
  insert_hops(key, last_list.first, last_list.second);
  return std::span<const LinkId>(hop_links_).subspan(last_list.first, count);
}

namespace {

// The slot a (switch, target) key starts its probe at, in a table of `mask` + 1 slots.
std::size_t hop_slot(std::uint64_t key, std::size_t mask) {
  return static_cast<std::size_t>((key * 0x9e3779b97f4a7c15ULL) >> 32) & mask;
}

}  // namespace

const Router::HopSlot* Router::find_hops(std::uint64_t key) const {
  if (hop_slots_.empty()) return nullptr;
  const std::size_t mask = hop_slots_.size() - 1;
  for (std::size_t i = hop_slot(key, mask);; i = (i + 1) & mask) {
    const HopSlot& slot = hop_slots_[i];
    if (slot.key == key) return &slot;
    if (slot.key == kNoHopKey) return nullptr;
  }
}

void Router::insert_hops(std::uint64_t key, std::uint32_t offset, std::uint32_t count) {
  if (2 * (hop_slots_used_ + 1) > hop_slots_.size()) {
    std::vector<HopSlot> old = std::move(hop_slots_);
    hop_slots_.assign(std::max<std::size_t>(1024, 2 * old.size()), HopSlot{});
    hop_slots_used_ = 0;
    for (const HopSlot& slot : old) {
      if (slot.key != kNoHopKey) insert_hops(slot.key, slot.offset, slot.count);
    }
  }
  const std::size_t mask = hop_slots_.size() - 1;
  std::size_t i = hop_slot(key, mask);
  while (hop_slots_[i].key != kNoHopKey) i = (i + 1) & mask;
  hop_slots_[i] = HopSlot{key, offset, count};
  ++hop_slots_used_;
}

VertexId Router::node_nic(int node, int local) const {
  return node_nics_[static_cast<std::size_t>(node)][static_cast<std::size_t>(local)];
}

Route Router::route(VertexId from, VertexId to, std::uint64_t flow_hash, Forwarding forwarding) {
  Route route;
  route_into(from, to, flow_hash, route, forwarding);
  return route;
}

void Router::route_into(VertexId from, VertexId to, std::uint64_t flow_hash, Route& out,
                        Forwarding forwarding) {
  Walk walk{flow_hash, 0, 1};
  build(from, to, walk, forwarding, out);
}

std::vector<Route> Router::routes(VertexId from, VertexId to, std::uint64_t flow_hash,
                                  Forwarding forwarding) {
  Walk first{flow_hash, 0, 1};
  std::vector<Route> out(1);
  build(from, to, first, forwarding, out.front());
  if (topology_.routing != config::RoutingPolicy::spray) return out;
  out.reserve(static_cast<std::size_t>(first.combined));
  for (int path = 1; path < first.combined; ++path) {
    Walk walk{flow_hash, path, 1};
    build(from, to, walk, forwarding, out.emplace_back());
  }
  return out;
}

void Router::build(VertexId from, VertexId to, Walk& walk, Forwarding forwarding, Route& route) {
  const std::size_t vertices = topology_.vertex_count();
  for (VertexId v : {from, to}) {
    if (v >= vertices) {
      throw RoutingError(
          fmt::format("unknown endpoint {}: the topology has {} vertices", v, vertices));
    }
    const VertexKind kind = topology_.vertex(v).kind;
    if (kind != VertexKind::gpu && kind != VertexKind::host && kind != VertexKind::nic) {
      throw RoutingError(
          fmt::format("{} is not an endpoint (a GPU, NIC or host)", describe(topology_, v)));
    }
  }
  route.links.clear();
  route.latency = SimTime{};
  if (from == to) return;
  // Room for the usual path (a GPU's NIC, three tiers up and down, the far NIC) in one
  // allocation rather than one per doubling.
  route.links.reserve(kUsualPathLinks);
  const VertexInfo& src = topology_.vertex(from);
  const VertexInfo& dst = topology_.vertex(to);
  if (src.kind != VertexKind::gpu || dst.kind != VertexKind::gpu) {
    append_network(route, from, to, walk);
    return;
  }
  const std::optional<VertexId> src_switch = topology_.nvswitch_of(from);
  if (src_switch && src_switch == topology_.nvswitch_of(to)) {
    append(route, from, *src_switch);
    append(route, *src_switch, to);
    return;
  }
  const std::optional<VertexId> src_nic = topology_.nic_of(from);
  const std::optional<VertexId> dst_nic = topology_.nic_of(to);
  if (!src_nic || !dst_nic) {
    throw RoutingError(fmt::format("no network path from {} to {}: {} has no NIC",
                                   describe(topology_, from), describe(topology_, to),
                                   describe(topology_, src_nic ? to : from)));
  }
  const int src_plane = topology_.vertex(*src_nic).local % topology_.planes;
  const int dst_plane = topology_.vertex(*dst_nic).local % topology_.planes;
  if (!topology_.planes_disjoint || src_plane == dst_plane) {
    append(route, from, *src_nic);
    append_network(route, *src_nic, *dst_nic, walk);
    append(route, *dst_nic, to);
    return;
  }
  if (forwarding == Forwarding::at_source) {
    // Over NVLink to the GPU of this node whose NIC is in the destination's plane.
    const VertexId relay_nic = node_nic(src.node, topology_.vertex(*dst_nic).local);
    const VertexId relay = *topology_.gpu_of(relay_nic);
    append(route, from, *src_switch);
    append(route, *src_switch, relay);
    append(route, relay, relay_nic);
    append_network(route, relay_nic, *dst_nic, walk);
    append(route, *dst_nic, to);
  } else {
    // To the destination node's NIC in the source's plane, then over NVLink.
    const VertexId relay_nic = node_nic(dst.node, topology_.vertex(*src_nic).local);
    const VertexId relay = *topology_.gpu_of(relay_nic);
    const VertexId dst_switch = *topology_.nvswitch_of(to);
    append(route, from, *src_nic);
    append_network(route, *src_nic, relay_nic, walk);
    append(route, relay_nic, relay);
    append(route, relay, dst_switch);
    append(route, dst_switch, to);
  }
}

}  // namespace clustersim::fabric
