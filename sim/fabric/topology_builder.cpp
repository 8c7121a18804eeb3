#include "sim/fabric/topology_builder.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "sim/fabric/router.hpp"

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

long long ceil_div(long long a, long long b) {
  return (a + b - 1) / b;
}

// A two-tier tree over `leaves` leaves: the fewest spines whose ports hold every uplink, each leaf
// reaching every spine over `parallel` links (one each in a full-size tree); no spine tier over a
// single leaf.
struct TwoTierPlan {
  long long leaves = 0;
  int spines = 0;
  int parallel = 0;
};

TwoTierPlan plan_two_tier(const TopologySpec& spec, long long leaves, std::string_view what) {
  const LeafPorts ports = leaf_ports(spec);
  const int k = spec.switch_radix;
  if (leaves > k) {
    throw BuildError(fmt::format("{} of {}-port switches holds at most {} leaves; {} are needed",
                                 what, k, k, leaves));
  }
  if (leaves <= 1) return {leaves, 0, 0};
  const int spines = divisor_at_least(ports.up, static_cast<int>(ceil_div(leaves * ports.up, k)));
  return {leaves, spines, ports.up / spines};
}

// A k-ary three-tier tree over `leaves` leaves of k/2 endpoints: pods of k/2 leaves and k/2
// aggregation switches; aggregation switch i of every pod reaches core group i. A core group has
// the fewest cores (a divisor of k/2) whose ports hold the pods' uplinks, each aggregation switch
// reaching each core of its group over `parallel` links; no core tier over a single pod. A card
// may fix the pod count (then every pod is built, with all its leaves).
struct ThreeTierPlan {
  long long leaves = 0;  // built, with or without endpoints
  int pods = 0;
  int cores_per_group = 0;
  int parallel = 0;
};

ThreeTierPlan plan_three_tier(const TopologySpec& spec, long long leaves) {
  const int k = spec.switch_radix;
  const int half_k = k / 2;
  const long long needed = ceil_div(leaves, half_k);
  if (needed > k) {
    throw BuildError(fmt::format(
        "a three-level fat-tree of {}-port switches holds at most {} pods; {} are needed", k, k,
        needed));
  }
  ThreeTierPlan plan;
  plan.pods = spec.pods.value_or(static_cast<int>(needed));
  plan.leaves = spec.pods ? static_cast<long long>(plan.pods) * half_k : leaves;
  if (plan.pods > 1) {
    plan.cores_per_group = divisor_at_least(half_k, static_cast<int>(ceil_div(plan.pods, 2)));
    plan.parallel = half_k / plan.cores_per_group;
  }
  return plan;
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

// The spine tier over `leaf_ids`.
void add_spines(Topology& topology, const std::vector<VertexId>& leaf_ids, const TopologySpec& spec,
                int plane, const NetworkLinks& links, std::string_view what) {
  const TwoTierPlan plan = plan_two_tier(spec, static_cast<long long>(leaf_ids.size()), what);
  std::vector<VertexId> spine_ids;
  for (int s = 0; s < plan.spines; ++s) spine_ids.push_back(add_switch(topology, plane, 1));
  for (VertexId leaf : leaf_ids) {
    for (VertexId spine : spine_ids) {
      for (int p = 0; p < plan.parallel; ++p) connect_switches(topology, leaf, spine, links);
    }
  }
}

// Two tiers: leaves of `d` endpoints under one spine tier.
void build_leaf_spine(Topology& topology, const std::vector<std::vector<VertexId>>& leaf_groups,
                      const TopologySpec& spec, int plane, const NetworkLinks& links) {
  add_spines(topology, add_leaves(topology, leaf_groups, plane, links), spec, plane, links,
             "a two-level fat-tree");
}

// Three tiers, as plan_three_tier lays them out.
void build_three_tier(Topology& topology, const std::vector<std::vector<VertexId>>& leaf_groups,
                      const TopologySpec& spec, int plane, const NetworkLinks& links) {
  const int half_k = spec.switch_radix / 2;
  const ThreeTierPlan plan = plan_three_tier(spec, static_cast<long long>(leaf_groups.size()));
  std::vector<VertexId> cores;
  for (int c = 0; c < half_k * plan.cores_per_group; ++c) {
    cores.push_back(add_switch(topology, plane, 2));
  }
  for (int pod = 0; pod < plan.pods; ++pod) {
    std::vector<VertexId> aggs;
    for (int a = 0; a < half_k; ++a) aggs.push_back(add_switch(topology, plane, 1));
    for (int l = 0; l < half_k; ++l) {
      const long long index = static_cast<long long>(pod) * half_k + l;
      if (index >= plan.leaves) break;
      const VertexId leaf = add_switch(topology, plane, 0);
      if (index < static_cast<long long>(leaf_groups.size())) {
        for (VertexId endpoint : leaf_groups[static_cast<std::size_t>(index)]) {
          connect_endpoint(topology, endpoint, leaf, links);
        }
      }
      for (VertexId agg : aggs) connect_switches(topology, leaf, agg, links);
    }
    for (int a = 0; a < half_k; ++a) {
      for (int c = 0; c < plan.cores_per_group; ++c) {
        for (int p = 0; p < plan.parallel; ++p) {
          connect_switches(topology, aggs[static_cast<std::size_t>(a)],
                           cores[static_cast<std::size_t>(a * plan.cores_per_group + c)], links);
        }
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

// Endpoints under one leaf: the down ports (three levels: k / 2, never oversubscribed).
int endpoints_per_leaf(const TopologySpec& spec) {
  return spec.levels == 3 ? spec.switch_radix / 2 : leaf_ports(spec).down;
}

void build_fat_tree(Topology& topology, const std::vector<VertexId>& endpoints,
                    const TopologySpec& spec, int plane, const NetworkLinks& links) {
  const std::vector<std::vector<VertexId>> leaves = chunk(endpoints, endpoints_per_leaf(spec));
  if (spec.levels == 3) {
    if (spec.oversubscription != 1.0) {
      throw BuildError("oversubscription is supported on two-level fat-trees only");
    }
    build_three_tier(topology, leaves, spec, plane, links);
  } else {
    build_leaf_spine(topology, leaves, spec, plane, links);
  }
}

// Multi-rail: each rail has its own leaves; all leaves share the tiers above them.
void build_multi_rail(Topology& topology, const std::vector<std::vector<VertexId>>& rails,
                      const TopologySpec& spec, const NetworkLinks& links) {
  if (spec.levels == 3) {
    std::vector<std::vector<VertexId>> leaf_groups;
    for (const std::vector<VertexId>& rail : rails) {
      for (std::vector<VertexId>& group : chunk(rail, endpoints_per_leaf(spec))) {
        leaf_groups.push_back(std::move(group));
      }
    }
    build_three_tier(topology, leaf_groups, spec, -1, links);
    return;
  }
  std::vector<VertexId> leaf_ids;
  for (std::size_t r = 0; r < rails.size(); ++r) {
    const std::vector<VertexId> rail_leaves =
        add_leaves(topology, chunk(rails[r], leaf_ports(spec).down), static_cast<int>(r), links);
    leaf_ids.insert(leaf_ids.end(), rail_leaves.begin(), rail_leaves.end());
  }
  add_spines(topology, leaf_ids, spec, -1, links, "a multi-rail fat-tree");
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

// Endpoints per router: the card's, else half the network degree (the balance of the Slim Fly
// paper), within the ports the network leaves free.
int slim_fly_endpoints_per_router(const TopologySpec& spec) {
  const int degree = (3 * spec.slim_fly_q - slim_fly_delta(spec.slim_fly_q)) / 2;
  const int balanced = (degree + 1) / 2;
  if (spec.endpoints_per_switch) return *spec.endpoints_per_switch;
  return spec.switch_radix > degree ? std::min(balanced, spec.switch_radix - degree) : balanced;
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

// Global links between each pair of groups: a group's a h global ports spread evenly over the
// g - 1 other groups (one each at the canonical size, g = a h + 1).
int dragonfly_parallel(int a, int h, int g) {
  return g > 1 ? a * h / (g - 1) : 0;
}

// The pairs of left-over global ports (a h - parallel (g - 1) per group): group i is joined to
// group i + (g - 1) / 2 - m over two more ports per round m, while such a group exists. Calls
// `link(i, port_i, j, port_j)` per link.
template <class Link>
void dragonfly_spare_links(int a, int h, int g, Link&& link) {
  const int base = dragonfly_parallel(a, h, g) * (g - 1);
  const int extra = a * h - base;
  for (int m = 0; 2 * m + 1 < extra; ++m) {
    const int offset = (g - 1) / 2 - m;
    if (mod(offset, g) == 0) break;
    for (int i = 0; i < g; ++i) link(i, base + 2 * m, mod(i + offset, g), base + 2 * m + 1);
  }
}

// Canonical dragonfly: a routers per group, all-to-all inside the group; h global ports per
// router. Copy c of the link between groups i and j leaves group i on its global port
// c (g - 1) + (j - i - 1) mod g; port P sits on router P / h.
void build_dragonfly(Topology& topology, const TopologySpec& spec,
                     const std::vector<VertexId>& endpoints, const NetworkLinks& links) {
  const int a = spec.dragonfly_a;
  const int h = spec.dragonfly_h;
  const int g = dragonfly_groups(spec);
  const int parallel = dragonfly_parallel(a, h, g);
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
  for (int c = 0; c < parallel; ++c) {
    for (int i = 0; i < g; ++i) {
      for (int j = i + 1; j < g; ++j) {
        connect_switches(topology, router(i, c * (g - 1) + mod(j - i - 1, g)),
                         router(j, c * (g - 1) + mod(i - j - 1, g)), links);
      }
    }
  }
  dragonfly_spare_links(a, h, g, [&](int i, int port_i, int j, int port_j) {
    connect_switches(topology, router(i, port_i), router(j, port_j), links);
  });
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

int slim_fly_degree(int q) {
  return (3 * q - slim_fly_delta(q)) / 2;
}

void check_parameters(const TopologySpec& spec) {
  switch (spec.generator) {
    case TopologyGenerator::slim_fly:
      if (!config::slim_fly_buildable(spec.slim_fly_q)) {
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

// Endpoints a fat-tree of the card's radix and levels holds at most (a fixed pod count: its pods).
long long fat_tree_capacity(const TopologySpec& spec) {
  const long long k = spec.switch_radix;
  if (spec.levels == 3) return spec.pods.value_or(static_cast<int>(k)) * (k / 2) * (k / 2);
  return k * leaf_ports(spec).down;
}

// Endpoints of plane p when `endpoints` are dealt round-robin over `planes`.
long long plane_share(long long endpoints, int planes, int p) {
  return endpoints / planes + (p < endpoints % planes ? 1 : 0);
}

// Leaves of `per_leaf` endpoints that the rails of a multi-rail tree need for `endpoints`
// (each rail has its own leaves).
long long rail_leaves(const TopologySpec& spec, long long endpoints, int per_leaf) {
  long long leaves = 0;
  for (int r = 0; r < spec.planes; ++r) {
    leaves += ceil_div(plane_share(endpoints, spec.planes, r), per_leaf);
  }
  return leaves;
}

// The levels a rail of `endpoints` needs: one switch, a leaf-spine tree, or three tiers.
int rail_levels(const TopologySpec& spec, long long endpoints) {
  const long long k = spec.switch_radix;
  if (endpoints <= k) return 1;
  return endpoints <= k * leaf_ports(spec).down ? 2 : 3;
}

// The largest size the parameters allow, in endpoints (Slim Fly: at the buildable q within the
// radix that holds the most, which the returned spec then carries).
long long largest_size(TopologySpec& spec) {
  const long long k = spec.switch_radix;
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
      return fat_tree_capacity(spec);
    case TopologyGenerator::multi_plane_fat_tree:
      return fat_tree_capacity(spec) * spec.planes;
    case TopologyGenerator::multi_rail_fat_tree:
      return (spec.levels == 3 ? k * k * k / 4 : k * leaf_ports(spec).down);
    case TopologyGenerator::rail_only:
      if (spec.levels == 1) return k * spec.planes;
      if (spec.levels == 2) return k * leaf_ports(spec).down * spec.planes;
      return k * k * k / 4 * spec.planes;
    case TopologyGenerator::slim_fly: {
      if (spec.slim_fly_q == 0) {
        if (spec.switch_radix == 0) {
          throw BuildError(
              "slim_fly: give q, switch_radix or the endpoints to size the network for");
        }
        long long most = 0;
        for (int q = 5; slim_fly_degree(q) < spec.switch_radix; ++q) {
          TopologySpec candidate = spec;
          candidate.slim_fly_q = q;
          const int per_router = slim_fly_endpoints_per_router(candidate);
          const long long holds = 2LL * q * q * per_router;
          if (config::slim_fly_buildable(q) &&
              slim_fly_degree(q) + per_router <= spec.switch_radix && holds > most) {
            spec.slim_fly_q = q;
            most = holds;
          }
        }
        if (spec.slim_fly_q == 0) {
          throw BuildError(
              fmt::format("slim_fly: no buildable q fits {}-port routers (q = 5 needs {} ports)", k,
                          slim_fly_degree(5) + 4));
        }
      }
      return 2LL * spec.slim_fly_q * spec.slim_fly_q * slim_fly_endpoints_per_router(spec);
    }
    case TopologyGenerator::dragonfly:
      return static_cast<long long>(dragonfly_groups(spec)) * spec.dragonfly_a * spec.dragonfly_p;
    case TopologyGenerator::custom:
      return custom_hosts(spec);
    case TopologyGenerator::single_node:
    case TopologyGenerator::nvl72:
      return 0;
  }
  return 0;
}

// The nearest buildable Slim Fly q below and above `q`.
std::string nearest_slim_fly_q(int q) {
  const auto [below, above] = config::nearest_buildable_slim_fly_q(q);
  return below > 0 ? fmt::format("{} and {}", below, above) : fmt::format("{}", above);
}

void require_fits(const TopologySpec& spec, long long endpoints, long long capacity,
                  std::string_view fixed) {
  if (endpoints <= capacity) return;
  throw BuildError(fmt::format("topology \"{}\" fixes {}, which holds {} endpoints; {} are needed",
                               spec.name, fixed, capacity, endpoints));
}

// The card's routing policy on the built network; adaptive routing and spraying choose among
// equal-cost paths, so a network without any cannot honour them.
void apply_routing(Topology& topology, const TopologySpec& spec) {
  topology.routing = spec.routing;
  if (spec.routing != config::RoutingPolicy::adaptive &&
      spec.routing != config::RoutingPolicy::spray) {
    return;
  }
  if (!offers_equal_cost_paths(topology)) {
    throw BuildError(fmt::format(
        "topology \"{}\": routing: {} chooses among equal-cost paths, but this network has one "
        "shortest path between any two endpoints (ecmp or static route it the same)",
        spec.name, config::to_string(spec.routing)));
  }
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

int planes_of(const TopologySpec& spec) {
  switch (spec.generator) {
    case TopologyGenerator::multi_plane_fat_tree:
    case TopologyGenerator::multi_rail_fat_tree:
    case TopologyGenerator::rail_only:
      return spec.planes;
    default:
      return 1;
  }
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

void build_rail(Topology& topology, const std::vector<VertexId>& rail, const TopologySpec& spec,
                int r, const NetworkLinks& links) {
  if (spec.levels == 1) {
    const VertexId rail_switch = add_switch(topology, r, 0);
    for (VertexId e : rail) connect_endpoint(topology, e, rail_switch, links);
    return;
  }
  build_fat_tree(topology, rail, spec, r, links);
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
        build_rail(topology, rails[r], spec, static_cast<int>(r), links);
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

// Counts of a fat-tree of `endpoints` (sized spec), one plane.
NetworkCounts count_fat_tree(const TopologySpec& spec, long long endpoints) {
  const long long leaves = ceil_div(endpoints, endpoints_per_leaf(spec));
  NetworkCounts counts;
  counts.endpoints = endpoints;
  if (spec.levels == 3) {
    const long long half_k = spec.switch_radix / 2;
    const ThreeTierPlan plan = plan_three_tier(spec, leaves);
    const long long cores = half_k * plan.cores_per_group;
    counts.switches = plan.leaves + plan.pods * half_k + cores;
    counts.switch_links = plan.leaves * half_k + (cores > 0 ? plan.pods * half_k * half_k : 0);
    // Between the leaves that hold endpoints: within one leaf, one pod, or across pods.
    const long long used_pods = ceil_div(leaves, half_k);
    counts.diameter = used_pods > 1 ? 4 : (leaves > 1 ? 2 : 0);
  } else {
    const TwoTierPlan plan = plan_two_tier(spec, leaves, "a two-level fat-tree");
    counts.switches = leaves + plan.spines;
    counts.switch_links = plan.spines > 0 ? leaves * leaf_ports(spec).up : 0;
    counts.diameter = plan.spines > 0 ? 2 : 0;
  }
  return counts;
}

void add_counts(NetworkCounts& total, const NetworkCounts& part) {
  total.endpoints += part.endpoints;
  total.switches += part.switches;
  total.switch_links += part.switch_links;
  total.diameter = std::max(total.diameter, part.diameter);
}

}  // namespace

TopologySpec size_network(const TopologySpec& card, std::optional<long long> endpoints) {
  TopologySpec spec = card;
  if (spec.generator == TopologyGenerator::slim_fly && spec.slim_fly_q != 0 &&
      !config::slim_fly_buildable(spec.slim_fly_q)) {
    throw BuildError(fmt::format(
        "slim_fly: q = {} cannot be built; the construction needs a prime q >= 5 (q = 4w + 1 or "
        "4w - 1): the nearest buildable values are {}",
        spec.slim_fly_q, nearest_slim_fly_q(spec.slim_fly_q)));
  }
  if (spec.generator == TopologyGenerator::rail_only && spec.levels == 0) {
    spec.levels = endpoints ? rail_levels(spec, ceil_div(*endpoints, spec.planes)) : 1;
  }
  if (spec.generator == TopologyGenerator::multi_rail_fat_tree && spec.levels == 0) {
    spec.levels = 2;
    if (endpoints && rail_leaves(spec, *endpoints, leaf_ports(spec).down) > spec.switch_radix) {
      spec.levels = 3;
    }
  }
  if (!endpoints) {
    spec.endpoints = largest_size(spec);
    return spec;
  }
  const long long n = *endpoints;
  spec.endpoints = n;
  const long long k = spec.switch_radix;
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
    case TopologyGenerator::multi_plane_fat_tree: {
      const int planes = planes_of(spec);
      const long long per_plane = ceil_div(n, planes);
      if (spec.levels == 3 && spec.pods) {
        require_fits(spec, per_plane, fat_tree_capacity(spec),
                     fmt::format("pods: {}{}", *spec.pods, planes > 1 ? " per plane" : ""));
      } else if (per_plane > fat_tree_capacity(spec)) {
        throw BuildError(fmt::format(
            "topology \"{}\": a {}-level fat-tree of {}-port switches holds at most {} "
            "endpoints{}; "
            "{} are needed{}",
            spec.name, spec.levels == 3 ? "three" : "two", k, fat_tree_capacity(spec),
            planes > 1 ? " per plane" : "", per_plane,
            spec.levels == 2 ? fmt::format(" (levels: 3 holds {})", k * k * k / 4) : ""));
      }
      break;
    }
    case TopologyGenerator::multi_rail_fat_tree: {
      const long long leaves = rail_leaves(spec, n, endpoints_per_leaf(spec));
      const long long most = spec.levels == 3 ? k * k / 2 : k;
      if (leaves > most) {
        throw BuildError(fmt::format(
            "topology \"{}\": a {}-level multi-rail fat-tree of {}-port switches holds at most "
            "{} leaves; {} rails of {} endpoints need {}{}",
            spec.name, spec.levels == 3 ? "three" : "two", k, most, spec.planes,
            ceil_div(n, spec.planes), leaves,
            spec.levels == 2 ? " (levels: 3 adds a core tier)" : ""));
      }
      break;
    }
    case TopologyGenerator::rail_only: {
      const long long per_rail = ceil_div(n, spec.planes);
      if (card.levels != 0) {
        if (rail_levels(spec, per_rail) > spec.levels) {
          throw BuildError(fmt::format(
              "topology \"{}\" fixes levels: {}, but a rail of {} endpoints needs {} on "
              "{}-port switches",
              spec.name, spec.levels, per_rail, rail_levels(spec, per_rail), k));
        }
      } else if (per_rail > k * k * k / 4) {
        throw BuildError(
            fmt::format("topology \"{}\": a rail of {} endpoints outgrows a three-level tree of "
                        "{}-port switches ({}); add rails",
                        spec.name, per_rail, k, k * k * k / 4));
      }
      break;
    }
    case TopologyGenerator::slim_fly: {
      if (spec.slim_fly_q != 0) {
        require_fits(spec, n, largest_size(spec), fmt::format("q: {}", spec.slim_fly_q));
        break;
      }
      for (int q = 5;; ++q) {
        TopologySpec candidate = spec;
        candidate.slim_fly_q = q;
        const int ports = slim_fly_degree(q) + slim_fly_endpoints_per_router(candidate);
        if (spec.switch_radix > 0 && slim_fly_degree(q) >= spec.switch_radix) {
          TopologySpec largest = spec;
          const long long most = largest_size(largest);
          throw BuildError(fmt::format(
              "topology \"{}\": no buildable Slim Fly of {}-port routers holds {} endpoints "
              "(q = {} holds {})",
              spec.name, spec.switch_radix, n, largest.slim_fly_q, most));
        }
        if (!config::slim_fly_buildable(q) ||
            (spec.switch_radix > 0 && ports > spec.switch_radix)) {
          continue;
        }
        if (largest_size(candidate) >= n) {
          spec.slim_fly_q = q;
          break;
        }
      }
      break;
    }
    case TopologyGenerator::dragonfly: {
      const long long group = static_cast<long long>(spec.dragonfly_a) * spec.dragonfly_p;
      if (spec.dragonfly_groups) {
        require_fits(spec, n, largest_size(spec),
                     fmt::format("groups: {}", *spec.dragonfly_groups));
        break;
      }
      const long long groups = ceil_div(n, group);
      const long long most = static_cast<long long>(spec.dragonfly_a) * spec.dragonfly_h + 1;
      if (groups > most) {
        throw BuildError(fmt::format(
            "topology \"{}\": {} endpoints need {} dragonfly groups of {}, but a * h + 1 = {} is "
            "the most that can be fully connected",
            spec.name, n, groups, group, most));
      }
      spec.dragonfly_groups = static_cast<int>(groups);
      break;
    }
    case TopologyGenerator::custom:
    case TopologyGenerator::single_node:
    case TopologyGenerator::nvl72:
      break;
  }
  return spec;
}

std::string describe_size(const TopologySpec& card) {
  if (card.generator == TopologyGenerator::slim_fly && card.slim_fly_q != 0 &&
      !config::slim_fly_buildable(card.slim_fly_q)) {
    return fmt::format("q = {} (counted from closed forms)", card.slim_fly_q);
  }
  const TopologySpec spec = size_network(card, card.endpoints);
  const long long n = *spec.endpoints;
  const int k = spec.switch_radix;
  const auto tree = [&](long long endpoints) -> std::string {
    const long long leaves = ceil_div(endpoints, endpoints_per_leaf(spec));
    if (spec.levels == 3) {
      const ThreeTierPlan plan = plan_three_tier(spec, leaves);
      return fmt::format("{} pod{} of {} leaves, {} cores", plan.pods, plan.pods == 1 ? "" : "s",
                         k / 2, k / 2 * plan.cores_per_group);
    }
    const TwoTierPlan plan = plan_two_tier(spec, leaves, "a two-level fat-tree");
    return fmt::format("{} leaves, {} spines", leaves, plan.spines);
  };
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
      return tree(n);
    case TopologyGenerator::multi_plane_fat_tree:
      return fmt::format("{} planes of {}", spec.planes, tree(plane_share(n, spec.planes, 0)));
    case TopologyGenerator::multi_rail_fat_tree:
      return fmt::format("{} rails, {} levels", spec.planes, spec.levels);
    case TopologyGenerator::rail_only:
      return spec.levels == 1
                 ? fmt::format("{} rails of one switch", spec.planes)
                 : fmt::format("{} rails of {}", spec.planes, tree(plane_share(n, spec.planes, 0)));
    case TopologyGenerator::slim_fly:
      return fmt::format("q = {}: {} routers of network degree {}, {} endpoints each",
                         spec.slim_fly_q, 2 * spec.slim_fly_q * spec.slim_fly_q,
                         slim_fly_degree(spec.slim_fly_q), slim_fly_endpoints_per_router(spec));
    case TopologyGenerator::dragonfly: {
      const int g = dragonfly_groups(spec);
      return fmt::format("{} group{} of {} routers, {} global link{} between each pair of groups",
                         g, g == 1 ? "" : "s", spec.dragonfly_a,
                         dragonfly_parallel(spec.dragonfly_a, spec.dragonfly_h, g),
                         dragonfly_parallel(spec.dragonfly_a, spec.dragonfly_h, g) == 1 ? "" : "s");
    }
    case TopologyGenerator::custom:
      return "as written";
    case TopologyGenerator::single_node:
    case TopologyGenerator::nvl72:
      return "one scale-up domain";
  }
  return "";
}

std::optional<std::string> unbuildable_reason(const TopologySpec& spec) {
  try {
    check_parameters(spec.generator == TopologyGenerator::slim_fly && spec.slim_fly_q == 0
                         ? size_network(spec, spec.endpoints)
                         : spec);
  } catch (const BuildError& error) {
    return std::string(error.what());
  }
  return std::nullopt;
}

NetworkCounts count_network(const TopologySpec& card) {
  // A card whose q cannot be built is still counted from the closed forms (ISCA'25 Table 3
  // prices a Slim Fly of q = 28 this way).
  const bool counted_only = card.generator == TopologyGenerator::slim_fly && card.slim_fly_q != 0 &&
                            !config::slim_fly_buildable(card.slim_fly_q);
  TopologySpec spec = card;
  if (counted_only) {
    if (!spec.endpoints) spec.endpoints = largest_size(spec);
  } else {
    spec = size_network(card, card.endpoints);
  }
  const long long n = *spec.endpoints;
  NetworkCounts counts;
  switch (spec.generator) {
    case TopologyGenerator::fat_tree:
    case TopologyGenerator::multi_plane_fat_tree:
      for (int p = 0; p < planes_of(spec); ++p) {
        add_counts(counts, count_fat_tree(spec, plane_share(n, planes_of(spec), p)));
      }
      break;
    case TopologyGenerator::multi_rail_fat_tree: {
      const long long leaves = rail_leaves(spec, n, endpoints_per_leaf(spec));
      TopologySpec one = spec;
      one.planes = 1;
      counts = count_fat_tree(one, leaves * endpoints_per_leaf(spec));
      counts.endpoints = n;
      break;
    }
    case TopologyGenerator::rail_only:
      for (int r = 0; r < spec.planes; ++r) {
        const long long rail = plane_share(n, spec.planes, r);
        if (spec.levels == 1) {
          add_counts(counts, NetworkCounts{rail, 1, 0, 0});
        } else {
          add_counts(counts, count_fat_tree(spec, rail));
        }
      }
      break;
    case TopologyGenerator::slim_fly: {
      const long long q = spec.slim_fly_q;
      const long long routers = 2 * q * q;
      counts = {n, routers, routers * slim_fly_degree(spec.slim_fly_q) / 2, 2};
      break;
    }
    case TopologyGenerator::dragonfly: {
      const int a = spec.dragonfly_a;
      const int h = spec.dragonfly_h;
      const int g = dragonfly_groups(spec);
      long long spare = 0;
      dragonfly_spare_links(a, h, g, [&](int, int, int, int) { ++spare; });
      const long long local = static_cast<long long>(g) * a * (a - 1) / 2;
      const long long global =
          static_cast<long long>(g) * (g - 1) / 2 * dragonfly_parallel(a, h, g) + spare;
      // Every router reaches every other group directly when its h global ports cover them.
      const long long used_routers = ceil_div(n, spec.dragonfly_p);
      const int diameter = g > 1 ? (h >= g - 1 ? 2 : 3) : (used_routers > 1 ? 1 : 0);
      counts = {n, static_cast<long long>(g) * a, local + global, diameter};
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

ClusterCounts count_cluster(const TopologySpec& spec, const ClusterShape& shape) {
  if (shape.hardware == nullptr) throw BuildError("counting a cluster needs a hardware profile");
  const long long gpus = static_cast<long long>(shape.nodes) * shape.gpus_per_node;
  ClusterCounts counts;
  if (spec.generator == TopologyGenerator::nvl72) {
    counts.vertices = 1 + gpus;  // one NVSwitch for the whole domain
    counts.links = 2 * gpus;
    return counts;
  }
  const long long nodes = shape.nodes;
  const int nics = spec.generator != TopologyGenerator::single_node && shape.hardware->scale_out
                       ? shape.hardware->scale_out->nics_per_node
                       : 0;
  // Per node: an NVSwitch, its GPUs each on NVLink and on PCIe to its NIC, and its NICs.
  counts.vertices = nodes * (1 + shape.gpus_per_node + nics);
  long long duplex = gpus;  // NVLink
  if (nics > 0) {
    duplex += gpus;  // PCIe
    TopologySpec sized = spec;
    sized.endpoints = nodes * nics;
    const NetworkCounts network = count_network(sized);
    counts.switches = network.switches;
    counts.network_diameter = network.diameter;
    counts.vertices += network.switches;
    // Generators cable each NIC to one switch; a custom card lists every cable itself.
    duplex += spec.generator == TopologyGenerator::custom
                  ? static_cast<long long>(spec.custom_links.size())
                  : nodes * nics + network.switch_links;
  }
  counts.links = 2 * duplex;
  return counts;
}

Topology build_network(const TopologySpec& card) {
  if (card.generator == TopologyGenerator::single_node ||
      card.generator == TopologyGenerator::nvl72) {
    throw BuildError(
        fmt::format("topology \"{}\" is a scale-up domain ({}); it has no network "
                    "to build without a hardware profile",
                    card.name, config::to_string(card.generator)));
  }
  const TopologySpec spec = size_network(card, card.endpoints);
  check_parameters(spec);
  Topology topology(spec.name);
  const NetworkLinks links =
      spec.generator == TopologyGenerator::custom
          ? NetworkLinks{Bandwidth{}, 1.0, SimTime::zero(), SimTime::zero(), std::nullopt}
          : bare_links(spec);
  const std::vector<VertexId> hosts = add_hosts(topology, *spec.endpoints, planes_of(spec));
  build_network_over(topology, spec, hosts, links);
  apply_routing(topology, spec);
  return topology;
}

Topology build_cluster(const TopologySpec& spec, const ClusterShape& shape) {
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
  // Sized (and any size error raised) before the nodes are built.
  const std::optional<TopologySpec> sized =
      has_network ? std::optional<TopologySpec>(
                        size_network(spec, static_cast<long long>(shape.nodes) * nics))
                  : std::nullopt;
  if (sized) check_parameters(*sized);
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
    const SimTime hop = spec.switch_latency.value_or(out.switch_latency);
    const Bandwidth port = spec.link_bandwidth.value_or(out.nic_bandwidth);
    const NetworkLinks links{port, out.efficiency, half(out.latency), hop,
                             Bandwidth{std::min(port.bytes_per_s, out.nic_bandwidth.bytes_per_s)}};
    build_network_over(topology, *sized, nic_vertices, links);
    apply_routing(topology, *sized);
  }
  return topology;
}

}  // namespace clustersim::fabric
