#include "sim/fabric/topology.hpp"

#include <bit>

namespace clustersim::fabric {

VertexId Topology::add_vertex(const VertexInfo& info) {
  // Added bare, then given its properties: the property overload goes through Boost's named-graph
  // lookup, which GCC 12 flags as reading an uninitialised optional under -O1 with sanitizers.
  const auto v = static_cast<VertexId>(boost::add_vertex(graph_));
  graph_[v] = info;
  switch (info.kind) {
    case VertexKind::gpu:
      gpus_.push_back(v);
      break;
    case VertexKind::nic:
      nics_.push_back(v);
      endpoints_.push_back(v);
      break;
    case VertexKind::host:
      endpoints_.push_back(v);
      break;
    case VertexKind::network_switch:
      switches_.push_back(v);
      break;
    case VertexKind::nvswitch:
      break;
  }
  nvswitch_of_.emplace_back();
  nic_of_.emplace_back();
  gpu_of_.emplace_back();
  attached_.emplace_back();
  return v;
}

LinkId Topology::add_duplex(VertexId a, VertexId b, LinkKind kind, Bandwidth nominal,
                            double efficiency, SimTime latency) {
  const auto forward = static_cast<LinkId>(links_.size());
  for (const auto& [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
    const auto id = static_cast<LinkId>(links_.size());
    links_.push_back(LinkInfo{from, to, kind, nominal, efficiency, latency});
    boost::add_edge(from, to, EdgeProperty{id}, graph_);
  }
  const VertexInfo& va = graph_[a];
  const VertexInfo& vb = graph_[b];
  if (va.kind == VertexKind::network_switch && vb.kind == VertexKind::network_switch) {
    ++switch_links_;
  }
  auto note_pair = [&](VertexId x, const VertexInfo& vx, VertexId y, const VertexInfo& vy) {
    if (vx.kind == VertexKind::gpu && vy.kind == VertexKind::nvswitch) nvswitch_of_[x] = y;
    if (vx.kind == VertexKind::gpu && vy.kind == VertexKind::nic) {
      nic_of_[x] = y;
      gpu_of_[y] = x;
    }
    if ((vx.kind == VertexKind::nic || vx.kind == VertexKind::host) &&
        vy.kind == VertexKind::network_switch) {
      attached_[x] = y;
    }
  };
  note_pair(a, va, b, vb);
  note_pair(b, vb, a, va);
  return forward;
}

std::vector<double> Topology::capacities() const {
  std::vector<double> out;
  out.reserve(links_.size());
  for (const LinkInfo& info : links_) out.push_back(info.capacity_bytes_per_s());
  return out;
}

std::optional<VertexId> Topology::nvswitch_of(VertexId gpu) const {
  return nvswitch_of_[gpu];
}
std::optional<VertexId> Topology::nic_of(VertexId gpu) const {
  return nic_of_[gpu];
}
std::optional<VertexId> Topology::gpu_of(VertexId nic) const {
  return gpu_of_[nic];
}
std::optional<VertexId> Topology::attached_switch(VertexId endpoint) const {
  return attached_[endpoint];
}

std::vector<VertexId> Topology::edge_switches() const {
  std::vector<char> has_endpoint(vertex_count(), 0);
  for (VertexId e : endpoints()) {
    if (const std::optional<VertexId> s = attached_switch(e)) has_endpoint[*s] = 1;
  }
  std::vector<VertexId> out;
  for (VertexId s : switches()) {
    if (has_endpoint[s] != 0) out.push_back(s);
  }
  return out;
}

std::optional<LinkId> Topology::find_link(VertexId a, VertexId b) const {
  for (const auto& edge : boost::make_iterator_range(boost::out_edges(a, graph_))) {
    if (boost::target(edge, graph_) == b) return graph_[edge].id;
  }
  return std::nullopt;
}

std::uint64_t Topology::fingerprint() const {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a over 64-bit words
  const auto mix = [&](std::uint64_t word) {
    hash ^= word;
    hash *= 0x100000001b3ULL;
  };
  const auto bits = [](double value) { return std::bit_cast<std::uint64_t>(value); };
  const auto as_word = [](int value) {
    return static_cast<std::uint64_t>(static_cast<std::int64_t>(value));
  };
  mix(vertex_count());
  for (std::size_t v = 0; v < vertex_count(); ++v) {
    const VertexInfo& info = graph_[v];
    mix(static_cast<std::uint64_t>(info.kind));
    mix(as_word(info.node));
    mix(as_word(info.local));
    mix(as_word(info.plane));
    mix(as_word(info.tier));
  }
  mix(links_.size());
  for (const LinkInfo& link : links_) {
    mix(link.from);
    mix(link.to);
    mix(static_cast<std::uint64_t>(link.kind));
    mix(bits(link.nominal.bytes_per_s));
    mix(bits(link.efficiency));
    mix(static_cast<std::uint64_t>(link.latency.ps()));
  }
  mix(static_cast<std::uint64_t>(planes));
  mix(planes_disjoint ? 1 : 0);
  if (routing != config::RoutingPolicy::ecmp) mix(0x100 + static_cast<std::uint64_t>(routing));
  return hash;
}

}  // namespace clustersim::fabric
