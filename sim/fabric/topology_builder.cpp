#include "sim/fabric/topology_builder.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace clustersim::fabric {
namespace {

using config::TopologyGenerator;
using config::TopologySpec;

struct NetworkLinks {
  Bandwidth bandwidth;  // switch ports
  double efficiency = 1;
  SimTime edge_latency;    // endpoint <-> its switch
  SimTime switch_latency;  // switch <-> switch
  // An endpoint's link runs at the slower of its NIC and the switch port; unset: the port rate.
  std::optional<Bandwidth> endpoint_bandwidth;
};

SimTime half(SimTime t) {
  return SimTime::from_ps(t.ps() / 2);
}

// Leaf ports: d down to endpoints, u up to the next tier; d / u = oversubscription.
struct LeafPorts {
  int down = 0;
  int up = 0;
};

LeafPorts leaf_ports(const TopologySpec& spec) {
  const int k = spec.switch_radix;
  const double o = spec.oversubscription;
  const int up = static_cast<int>(static_cast<double>(k) / (1.0 + o) + 0.5);
  if (up < 1 || up >= k) {
    throw BuildError(
        fmt::format("oversubscription {}:1 leaves no port of a {}-port switch for "
                    "endpoints or uplinks",
                    o, k));
  }
  return {k - up, up};
}

// The smallest divisor of `n` that is >= `at_least`.
int divisor_at_least(int n, int at_least) {
  for (int d = std::max(1, at_least); d <= n; ++d) {
    if (n % d == 0) return d;
  }
  return n;
}

VertexId add_switch(Topology& topology, int plane, int tier) {
  VertexInfo info;
  info.kind = VertexKind::network_switch;
  info.plane = plane;
  info.tier = tier;
  return topology.add_vertex(info);
}

void connect_endpoint(Topology& topology, VertexId endpoint, VertexId leaf,
                      const NetworkLinks& links) {
  topology.add_duplex(endpoint, leaf, LinkKind::network,
                      links.endpoint_bandwidth.value_or(links.bandwidth), links.efficiency,
                      links.edge_latency);
}

void connect_switches(Topology& topology, VertexId a, VertexId b, const NetworkLinks& links) {
  topology.add_duplex(a, b, LinkKind::network, links.bandwidth, links.efficiency,
                      links.switch_latency);
}

// The spine tier over `leaf_ids`: the fewest spines whose ports hold every uplink, each leaf
// reaching every spine over u / spines parallel links (one each in a full-size tree).
void add_spines(Topology& topology, const std::vector<VertexId>& leaf_ids, const TopologySpec& spec,
                int plane, const NetworkLinks& links, std::string_view what) {
  const LeafPorts ports = leaf_ports(spec);
  const int leaves = static_cast<int>(leaf_ids.size());
  const int needed = (leaves * ports.up + spec.switch_radix - 1) / spec.switch_radix;
  const int spines = divisor_at_least(ports.up, needed);
  if (leaves * ports.up / spines > spec.switch_radix) {
    throw BuildError(fmt::format("{} of {}-port switches holds at most {} leaves; {} are needed",
                                 what, spec.switch_radix, spec.switch_radix, leaves));
  }
  std::vector<VertexId> spine_ids;
  for (int s = 0; s < spines; ++s) spine_ids.push_back(add_switch(topology, plane, 1));
  const int parallel = ports.up / spines;
  for (VertexId leaf : leaf_ids) {
    for (VertexId spine : spine_ids) {
      for (int p = 0; p < parallel; ++p) connect_switches(topology, leaf, spine, links);
    }
  }
}

// One leaf per group of endpoints, in `plane`.
std::vector<VertexId> add_leaves(Topology& topology,
                                 const std::vector<std::vector<VertexId>>& leaf_groups, int plane,
                                 const NetworkLinks& links) {
  std::vector<VertexId> leaf_ids;
  for (const std::vector<VertexId>& group : leaf_groups) {
    const VertexId leaf = add_switch(topology, plane, 0);
    leaf_ids.push_back(leaf);
    for (VertexId endpoint : group) connect_endpoint(topology, endpoint, leaf, links);
  }
  return leaf_ids;
}

// Two tiers: leaves of `d` endpoints under one spine tier.
void build_leaf_spine(Topology& topology, const std::vector<std::vector<VertexId>>& leaf_groups,
                      const TopologySpec& spec, int plane, const NetworkLinks& links) {
  add_spines(topology, add_leaves(topology, leaf_groups, plane, links), spec, plane, links,
             "a two-level fat-tree");
}

// Three tiers (k-ary fat-tree): pods of k/2 leaves and k/2 aggregation switches, (k/2)^2 cores;
// aggregation switch i of every pod reaches cores i*k/2 .. i*k/2 + k/2 - 1.
void build_three_tier(Topology& topology, const std::vector<std::vector<VertexId>>& leaf_groups,
                      const TopologySpec& spec, int plane, const NetworkLinks& links) {
  const int k = spec.switch_radix;
  const int half_k = k / 2;
  const int leaves = static_cast<int>(leaf_groups.size());
  const int pods = (leaves + half_k - 1) / half_k;
  if (pods > k) {
    throw BuildError(
        fmt::format("a three-level fat-tree of {}-port switches holds at most {} "
                    "pods; {} are needed",
                    k, k, pods));
  }
  std::vector<VertexId> cores;
  for (int c = 0; c < half_k * half_k; ++c) cores.push_back(add_switch(topology, plane, 2));
  for (int pod = 0; pod < pods; ++pod) {
    std::vector<VertexId> aggs;
    for (int a = 0; a < half_k; ++a) aggs.push_back(add_switch(topology, plane, 1));
    for (int l = 0; l < half_k; ++l) {
      const int index = pod * half_k + l;
      if (index >= leaves) break;
      const VertexId leaf = add_switch(topology, plane, 0);
      for (VertexId endpoint : leaf_groups[static_cast<std::size_t>(index)]) {
        connect_endpoint(topology, endpoint, leaf, links);
      }
      for (VertexId agg : aggs) connect_switches(topology, leaf, agg, links);
    }
    for (int a = 0; a < half_k; ++a) {
      for (int c = 0; c < half_k; ++c) {
        connect_switches(topology, aggs[static_cast<std::size_t>(a)],
                         cores[static_cast<std::size_t>(a * half_k + c)], links);
      }
    }
  }
}

std::vector<std::vector<VertexId>> chunk(const std::vector<VertexId>& endpoints, int per_leaf) {
  std::vector<std::vector<VertexId>> groups;
  for (std::size_t i = 0; i < endpoints.size(); i += static_cast<std::size_t>(per_leaf)) {
    const auto end = std::min(endpoints.size(), i + static_cast<std::size_t>(per_leaf));
    groups.emplace_back(endpoints.begin() + static_cast<std::ptrdiff_t>(i),
                        endpoints.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return groups;
}

void build_fat_tree(Topology& topology, const std::vector<VertexId>& endpoints,
                    const TopologySpec& spec, int plane, const NetworkLinks& links) {
  if (spec.levels == 3) {
    if (spec.oversubscription != 1.0) {
      throw BuildError("oversubscription is supported on two-level fat-trees only");
    }
    build_three_tier(topology, chunk(endpoints, spec.switch_radix / 2), spec, plane, links);
  } else {
    build_leaf_spine(topology, chunk(endpoints, leaf_ports(spec).down), spec, plane, links);
  }
}

// Multi-rail: each rail has its own leaves; all leaves share one spine tier.
void build_multi_rail(Topology& topology, const std::vector<std::vector<VertexId>>& rails,
                      const TopologySpec& spec, const NetworkLinks& links) {
  std::vector<VertexId> leaf_ids;
  for (std::size_t r = 0; r < rails.size(); ++r) {
    const std::vector<VertexId> rail_leaves =
        add_leaves(topology, chunk(rails[r], leaf_ports(spec).down), static_cast<int>(r), links);
    leaf_ids.insert(leaf_ids.end(), rail_leaves.begin(), rail_leaves.end());
  }
  add_spines(topology, leaf_ids, spec, -1, links, "a multi-rail fat-tree");
}

bool is_prime(int n) {
  if (n < 2) return false;
  for (int d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

int mod(long long a, int q) {
  return static_cast<int>(((a % q) + q) % q);
}

// A primitive element of GF(q), q prime: the smallest g whose powers reach every non-zero value.
int primitive_root(int q) {
  for (int g = 2; g < q; ++g) {
    int x = 1;
    int order = 0;
    do {
      x = mod(static_cast<long long>(x) * g, q);
      ++order;
    } while (x != 1);
    if (order == q - 1) return g;
  }
  return 1;  // q = 2
}

// Slim Fly (McKay-Miller-Siran graph, Besta & Hoefler SC'14): routers (s, x, y), s in {0, 1},
// x, y in GF(q) with q = 4w + delta prime. (0,x,y)~(0,x,y') iff y - y' in X; (1,m,c)~(1,m,c')
// iff c - c' in X'; (0,x,y)~(1,m,c) iff y = m x + c. Network degree (3q - delta) / 2, diameter 2.
struct SlimFlySets {
  std::vector<int> x, x_prime;
};

SlimFlySets slim_fly_sets(int q) {
  const int xi = primitive_root(q);
  std::vector<int> power(static_cast<std::size_t>(q), 1);
  for (int i = 1; i < q; ++i) {
    power[static_cast<std::size_t>(i)] =
        mod(static_cast<long long>(power[static_cast<std::size_t>(i - 1)]) * xi, q);
  }
  auto p = [&](int e) { return power[static_cast<std::size_t>(e)]; };
  SlimFlySets sets;
  if (q % 4 == 1) {  // delta = 1
    for (int e = 0; e <= q - 3; e += 2) sets.x.push_back(p(e));
    for (int e = 1; e <= q - 2; e += 2) sets.x_prime.push_back(p(e));
  } else {  // q % 4 == 3: delta = -1, w = (q + 1) / 4
    const int w = (q + 1) / 4;
    for (int e = 0; e <= 2 * w - 2; e += 2) sets.x.push_back(p(e));
    for (int e = 2 * w - 1; e <= 4 * w - 3; e += 2) sets.x.push_back(p(e));
    for (int e = 1; e <= 2 * w - 1; e += 2) sets.x_prime.push_back(p(e));
    for (int e = 2 * w; e <= 4 * w - 2; e += 2) sets.x_prime.push_back(p(e));
  }
  return sets;
}

int slim_fly_delta(int q) {
  return q % 4 == 1 ? 1 : (q % 4 == 3 ? -1 : 0);
}

int slim_fly_endpoints_per_router(const TopologySpec& spec) {
  const int degree = (3 * spec.slim_fly_q - slim_fly_delta(spec.slim_fly_q)) / 2;
  return spec.endpoints_per_switch.value_or((degree + 1) / 2);
}

void build_slim_fly(Topology& topology, const TopologySpec& spec,
                    const std::vector<VertexId>& endpoints, const NetworkLinks& links) {
  const int q = spec.slim_fly_q;
  const SlimFlySets sets = slim_fly_sets(q);
  std::vector<VertexId> routers;
  for (int i = 0; i < 2 * q * q; ++i) routers.push_back(add_switch(topology, -1, 0));
  auto router = [&](int s, int x, int y) {
    return routers[static_cast<std::size_t>(s * q * q + x * q + y)];
  };
  const int per_router = slim_fly_endpoints_per_router(spec);
  for (std::size_t e = 0; e < endpoints.size(); ++e) {
    connect_endpoint(topology, endpoints[e], routers[e / static_cast<std::size_t>(per_router)],
                     links);
  }
  for (int s = 0; s < 2; ++s) {
    const std::vector<int>& generators = s == 0 ? sets.x : sets.x_prime;
    for (int x = 0; x < q; ++x) {
      for (int y = 0; y < q; ++y) {
        for (int g : generators) {
          const int y2 = mod(y + g, q);
          if (y < y2) connect_switches(topology, router(s, x, y), router(s, x, y2), links);
        }
      }
    }
  }
  for (int x = 0; x < q; ++x) {
    for (int m = 0; m < q; ++m) {
      for (int c = 0; c < q; ++c) {
        const int y = mod(static_cast<long long>(m) * x + c, q);
        connect_switches(topology, router(0, x, y), router(1, m, c), links);
      }
    }
  }
}

int dragonfly_groups(const TopologySpec& spec) {
  return spec.dragonfly_groups.value_or(spec.dragonfly_a * spec.dragonfly_h + 1);
}

// Canonical dragonfly: a routers per group, all-to-all inside the group; h global ports per
// router. Group i reaches group j over its global port (j - i - 1) mod g; ports left over
// (a h - (g - 1) per group) pair group i with group i + (g - 1) / 2 - m, two ports per m.
void build_dragonfly(Topology& topology, const TopologySpec& spec,
                     const std::vector<VertexId>& endpoints, const NetworkLinks& links) {
  const int a = spec.dragonfly_a;
  const int h = spec.dragonfly_h;
  const int g = dragonfly_groups(spec);
  std::vector<VertexId> routers;
  for (int group = 0; group < g; ++group) {
    for (int r = 0; r < a; ++r) routers.push_back(add_switch(topology, group, 0));
  }
  auto router = [&](int group, int port) {
    return routers[static_cast<std::size_t>(group * a + port / h)];
  };
  for (std::size_t e = 0; e < endpoints.size(); ++e) {
    connect_endpoint(topology, endpoints[e],
                     routers[e / static_cast<std::size_t>(spec.dragonfly_p)], links);
  }
  for (int group = 0; group < g; ++group) {
    for (int r = 0; r < a; ++r) {
      for (int r2 = r + 1; r2 < a; ++r2) {
        connect_switches(topology, routers[static_cast<std::size_t>(group * a + r)],
                         routers[static_cast<std::size_t>(group * a + r2)], links);
      }
    }
  }
  for (int i = 0; i < g; ++i) {
    for (int j = i + 1; j < g; ++j) {
      connect_switches(topology, router(i, mod(j - i - 1, g)), router(j, mod(i - j - 1, g)), links);
    }
  }
  const int extra = a * h - (g - 1);
  for (int m = 0; 2 * m + 1 < extra; ++m) {
    const int offset = (g - 1) / 2 - m;
    if (mod(offset, g) == 0) break;
    for (int i = 0; i < g; ++i) {
      connect_switches(topology, router(i, g - 1 + 2 * m), router(mod(i + offset, g), g + 2 * m),
                       links);
    }
  }
}

// Explicit lists: host k of the card becomes endpoints[k] (a bare host or a node's NIC).
void build_custom(Topology& topology, const TopologySpec& spec,
                  const std::vector<VertexId>& endpoints, double efficiency) {
  std::vector<VertexId> vertex_of;
  std::size_t next_endpoint = 0;
  for (const config::CustomNode& node : spec.custom_nodes) {
    if (node.is_switch) {
      vertex_of.push_back(add_switch(topology, -1, 0));
    } else {
      if (next_endpoint >= endpoints.size()) {
        throw BuildError(
            fmt::format("topology \"{}\" has more hosts than the {} endpoints to place "
                        "on them",
                        spec.name, endpoints.size()));
      }
      vertex_of.push_back(endpoints[next_endpoint++]);
    }
  }
  if (next_endpoint != endpoints.size()) {
    throw BuildError(fmt::format("topology \"{}\" has {} hosts, but {} endpoints need a place",
                                 spec.name, next_endpoint, endpoints.size()));
  }
  for (const config::CustomLink& link : spec.custom_links) {
    topology.add_duplex(vertex_of[link.a], vertex_of[link.b], LinkKind::network, link.bandwidth,
                        efficiency, link.latency);
  }
}

long long custom_hosts(const TopologySpec& spec) {
  return std::count_if(spec.custom_nodes.begin(), spec.custom_nodes.end(),
                       [](const config::CustomNode& node) { return !node.is_switch; });
}

void check_parameters(const TopologySpec& spec) {
  switch (spec.generator) {
    case TopologyGenerator::slim_fly:
      if (!is_prime(spec.slim_fly_q) || spec.slim_fly_q % 4 == 2 || spec.slim_fly_q < 5) {
        throw BuildError(
            fmt::format("slim_fly: q = {} cannot be built; the construction needs a prime q >= 5 "
                        "(q = 4w + 1 or 4w - 1)",
                        spec.slim_fly_q));
      }
      break;
    case TopologyGenerator::dragonfly: {
      const int g = dragonfly_groups(spec);
      if (g > spec.dragonfly_a * spec.dragonfly_h + 1) {
        throw BuildError(
            fmt::format("dragonfly: {} groups need {} global ports per group, but a "
                        "group has a * h = {}",
                        g, g - 1, spec.dragonfly_a * spec.dragonfly_h));
      }
      break;
    }
    default:
      break;
  }
}

long long fat_tree_endpoints(const TopologySpec& spec) {
  const long long k = spec.switch_radix;
  if (spec.levels == 3) return k * k * k / 4;
  return k * leaf_ports(spec).down;
}

NetworkLinks bare_links(const TopologySpec& spec) {
  if (!spec.link_bandwidth) {
    throw BuildError(
        fmt::format("topology \"{}\": link_bandwidth is needed to build the network "
                    "without a hardware profile",
                    spec.name));
  }
  const SimTime hop = spec.switch_latency.value_or(SimTime::zero());
  return NetworkLinks{*spec.link_bandwidth, 1.0, half(hop), hop, std::nullopt};
}

std::vector<VertexId> add_hosts(Topology& topology, long long count, int planes) {
  std::vector<VertexId> hosts;
  for (long long i = 0; i < count; ++i) {
    VertexInfo info;
    info.kind = VertexKind::host;
    info.node = static_cast<int>(i / planes);
    info.local = static_cast<int>(i % planes);
    info.plane = planes > 1 ? static_cast<int>(i % planes) : -1;
    hosts.push_back(topology.add_vertex(info));
  }
  return hosts;
}

// Splits endpoints by plane (endpoint i of every node -> plane i mod planes).
std::vector<std::vector<VertexId>> by_plane(const Topology& topology,
                                            const std::vector<VertexId>& endpoints, int planes) {
  std::vector<std::vector<VertexId>> out(static_cast<std::size_t>(planes));
  for (VertexId e : endpoints) {
    out[static_cast<std::size_t>(topology.vertex(e).local % planes)].push_back(e);
  }
  return out;
}

void build_network_over(Topology& topology, const TopologySpec& spec,
                        const std::vector<VertexId>& endpoints, const NetworkLinks& links) {
  switch (spec.generator) {
    case TopologyGenerator::custom:
      build_custom(topology, spec, endpoints, links.efficiency);
      break;
    case TopologyGenerator::fat_tree:
      build_fat_tree(topology, endpoints, spec, -1, links);
      break;
    case TopologyGenerator::multi_plane_fat_tree: {
      const std::vector<std::vector<VertexId>> planes = by_plane(topology, endpoints, spec.planes);
      for (std::size_t p = 0; p < planes.size(); ++p) {
        build_fat_tree(topology, planes[p], spec, static_cast<int>(p), links);
      }
      topology.planes_disjoint = true;
      topology.planes = spec.planes;
      break;
    }
    case TopologyGenerator::multi_rail_fat_tree:
      build_multi_rail(topology, by_plane(topology, endpoints, spec.planes), spec, links);
      topology.planes = spec.planes;
      break;
    case TopologyGenerator::rail_only: {
      const std::vector<std::vector<VertexId>> rails = by_plane(topology, endpoints, spec.planes);
      for (std::size_t r = 0; r < rails.size(); ++r) {
        if (static_cast<int>(rails[r].size()) > spec.switch_radix) {
          throw BuildError(
              fmt::format("rail_only: rail {} has {} endpoints, more than the {} "
                          "ports of its switch",
                          r, rails[r].size(), spec.switch_radix));
        }
        const VertexId rail_switch = add_switch(topology, static_cast<int>(r), 0);
        for (VertexId e : rails[r]) connect_endpoint(topology, e, rail_switch, links);
      }
      topology.planes_disjoint = true;
      topology.planes = spec.planes;
      break;
    }
    case TopologyGenerator::slim_fly:
      build_slim_fly(topology, spec, endpoints, links);
      break;
    case TopologyGenerator::dragonfly:
      build_dragonfly(topology, spec, endpoints, links);
      break;
    case TopologyGenerator::single_node:
    case TopologyGenerator::nvl72:
      break;
  }
}

}  // namespace

std::optional<std::string> unbuildable_reason(const TopologySpec& spec) {
  try {
    check_parameters(spec);
  } catch (const BuildError& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

NetworkCounts count_network(const TopologySpec& spec) {
  NetworkCounts counts;
  const long long k = spec.switch_radix;
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
    case TopologyGenerator::multi_plane_fat_tree: {
      const long long planes =
          spec.generator == TopologyGenerator::multi_plane_fat_tree ? spec.planes : 1;
      if (spec.levels == 3) {
        counts = {k * k * k / 4, 5 * k * k / 4, k * k * k / 2, 4};
      } else {
        const LeafPorts ports = leaf_ports(spec);
        counts = {k * ports.down, k + ports.up, k * ports.up, 2};
      }
      counts.endpoints *= planes;
      counts.switches *= planes;
      counts.switch_links *= planes;
      break;
    }
    case TopologyGenerator::multi_rail_fat_tree: {
      const LeafPorts ports = leaf_ports(spec);
      counts = {k * ports.down, k + ports.up, k * ports.up, 2};
      break;
    }
    case TopologyGenerator::rail_only:
      counts = {k * spec.planes, spec.planes, 0, 0};
      break;
    case TopologyGenerator::slim_fly: {
      const long long q = spec.slim_fly_q;
      const long long degree = (3 * q - slim_fly_delta(spec.slim_fly_q)) / 2;
      const long long routers = 2 * q * q;
      counts = {routers * slim_fly_endpoints_per_router(spec), routers, routers * degree / 2, 2};
      break;
    }
    case TopologyGenerator::dragonfly: {
      const long long a = spec.dragonfly_a;
      const long long h = spec.dragonfly_h;
      const long long g = dragonfly_groups(spec);
      const long long routers = g * a;
      // The same pairing of left-over global ports as build_dragonfly.
      long long extra_links = 0;
      const long long extra = a * h - (g - 1);
      for (long long m = 0; 2 * m + 1 < extra; ++m) {
        if (((g - 1) / 2 - m) % g == 0) break;
        extra_links += g;
      }
      counts = {routers * spec.dragonfly_p, routers,
                g * a * (a - 1) / 2 + g * (g - 1) / 2 + extra_links, 3};
      break;
    }
    case TopologyGenerator::single_node:
    case TopologyGenerator::nvl72:
      counts = {0, 0, 0, 0};
      break;
    case TopologyGenerator::custom: {
      const long long hosts = custom_hosts(spec);
      long long switch_links = 0;
      for (const config::CustomLink& link : spec.custom_links) {
        if (spec.custom_nodes[link.a].is_switch && spec.custom_nodes[link.b].is_switch) {
          ++switch_links;
        }
      }
      counts = {hosts, static_cast<long long>(spec.custom_nodes.size()) - hosts, switch_links, 0};
      break;
    }
  }
  return counts;
}

Topology build_network(const TopologySpec& spec) {
  check_parameters(spec);
  Topology topology(spec.name);
  if (spec.generator == TopologyGenerator::single_node ||
      spec.generator == TopologyGenerator::nvl72) {
    throw BuildError(
        fmt::format("topology \"{}\" is a scale-up domain ({}); it has no network "
                    "to build without a hardware profile",
                    spec.name, config::to_string(spec.generator)));
  }
  const NetworkLinks links =
      spec.generator == TopologyGenerator::custom
          ? NetworkLinks{Bandwidth{}, 1.0, SimTime::zero(), SimTime::zero(), std::nullopt}
          : bare_links(spec);
  long long endpoints = 0;
  int planes = 1;
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
      endpoints = fat_tree_endpoints(spec);
      break;
    case TopologyGenerator::multi_plane_fat_tree:
      planes = spec.planes;
      endpoints = fat_tree_endpoints(spec) * planes;
      break;
    case TopologyGenerator::custom:
      endpoints = custom_hosts(spec);
      break;
    default:
      planes = spec.generator == TopologyGenerator::multi_rail_fat_tree ||
                       spec.generator == TopologyGenerator::rail_only
                   ? spec.planes
                   : 1;
      endpoints = count_network(spec).endpoints;
      break;
  }
  const std::vector<VertexId> hosts = add_hosts(topology, endpoints, planes);
  build_network_over(topology, spec, hosts, links);
  return topology;
}

Topology build_cluster(const TopologySpec& spec, const ClusterShape& shape) {
  check_parameters(spec);
  if (shape.hardware == nullptr) throw BuildError("building a cluster needs a hardware profile");
  const config::HardwareProfile& hw = *shape.hardware;
  Topology topology(spec.name);
  const bool one_domain = spec.generator == TopologyGenerator::nvl72;
  if (spec.generator == TopologyGenerator::single_node && shape.nodes != 1) {
    throw BuildError(fmt::format("topology \"{}\" is a single node, but the cluster has {} nodes",
                                 spec.name, shape.nodes));
  }
  if (one_domain && shape.nodes * shape.gpus_per_node > spec.domain_size) {
    throw BuildError(
        fmt::format("topology \"{}\" is one scale-up domain of {} GPUs, but the "
                    "cluster has {}",
                    spec.name, spec.domain_size, shape.nodes * shape.gpus_per_node));
  }
  const Bandwidth nvlink = hw.scale_up.per_direction();
  const SimTime nvlink_latency = half(hw.scale_up.latency);
  const bool has_network = spec.generator != TopologyGenerator::single_node && !one_domain;
  const int nics = has_network && hw.scale_out ? hw.scale_out->nics_per_node : 0;
  if (has_network && nics == 0) {
    throw BuildError(
        fmt::format("topology \"{}\" needs NICs, but hardware profile \"{}\" has no "
                    "scale_out section",
                    spec.name, hw.name));
  }
  std::optional<VertexId> shared_nvswitch;
  if (one_domain) {
    VertexInfo info;
    info.kind = VertexKind::nvswitch;
    shared_nvswitch = topology.add_vertex(info);
  }
  std::vector<VertexId> nic_vertices;
  for (int n = 0; n < shape.nodes; ++n) {
    VertexId nvswitch = 0;
    if (shared_nvswitch) {
      nvswitch = *shared_nvswitch;
    } else {
      VertexInfo info;
      info.kind = VertexKind::nvswitch;
      info.node = n;
      nvswitch = topology.add_vertex(info);
    }
    std::vector<VertexId> gpus;
    for (int g = 0; g < shape.gpus_per_node; ++g) {
      VertexInfo info;
      info.kind = VertexKind::gpu;
      info.node = n;
      info.local = g;
      const VertexId gpu = topology.add_vertex(info);
      gpus.push_back(gpu);
      topology.add_duplex(gpu, nvswitch, LinkKind::nvlink, nvlink, hw.scale_up.efficiency,
                          nvlink_latency);
    }
    for (int j = 0; j < nics; ++j) {
      VertexInfo info;
      info.kind = VertexKind::nic;
      info.node = n;
      info.local = j;
      info.plane = spec.planes > 1 ? j % spec.planes : -1;
      const VertexId nic = topology.add_vertex(info);
      nic_vertices.push_back(nic);
      const Bandwidth pcie = hw.pcie ? hw.pcie->bandwidth : hw.scale_out->nic_bandwidth;
      // GPUs share NICs evenly: GPU g uses NIC g * nics / gpus.
      for (int g = 0; g < shape.gpus_per_node; ++g) {
        if (g * nics / shape.gpus_per_node == j) {
          topology.add_duplex(gpus[static_cast<std::size_t>(g)], nic, LinkKind::pcie, pcie, 1.0,
                              SimTime::zero());
        }
      }
    }
  }
  if (has_network) {
    const config::ScaleOutSpec& out = *hw.scale_out;
    const SimTime hop = spec.switch_latency.value_or(SimTime::zero());
    const Bandwidth port = spec.link_bandwidth.value_or(out.nic_bandwidth);
    const NetworkLinks links{port, out.efficiency, half(out.latency), hop,
                             Bandwidth{std::min(port.bytes_per_s, out.nic_bandwidth.bytes_per_s)}};
    build_network_over(topology, spec, nic_vertices, links);
  }
  return topology;
}

}  // namespace clustersim::fabric
