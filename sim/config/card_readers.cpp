#include "sim/config/card_readers.hpp"

#include <algorithm>
#include <array>
#include <filesystem>
#include <string_view>

#include <fmt/format.h>

#include "sim/config/suggest.hpp"
#include "sim/core/units.hpp"

namespace clustersim::config {

namespace detail {
namespace {

constexpr double kMaxDimension = 1e9;  // no tensor dimension in any model comes near this
// An efficiency is a share of a peak: above zero, at most all of it.
const Bounds kEfficiency{0.0, true, 1.0};

// A measured curve: a list of {<x_key>: number, rate: "... TFLOP/s"} with x strictly ascending.
std::vector<RatePoint> read_rate_curve(MapReader& reader, std::string_view key,
                                       std::string_view x_key) {
  std::vector<RatePoint> points;
  const Node* node = reader.raw(key);
  if (!node) return points;
  if (!node->is_sequence()) {
    reader.report(
        *node, key,
        "expected a list of {" + std::string(x_key) + ", rate} rows, got " + node->describe());
    return points;
  }
  for (std::size_t i = 0; i < node->items().size(); ++i) {
    const std::string row_path = fmt::format("{}[{}]", reader.child_path(key), i);
    MapReader row(node->items()[i], row_path, reader.diagnostics());
    RatePoint point;
    point.x = row.required<double>(x_key, Bounds::positive());
    point.rate = row.required<FlopRate>("rate", Bounds::positive());
    row.finish();
    if (!row.valid()) continue;
    if (!points.empty() && point.x <= points.back().x) {
      reader.report(node->items()[i], key,
                    fmt::format("row {}: {} {} does not come after {}; rows must be in strictly "
                                "ascending {}",
                                i, x_key, point.x, points.back().x, x_key));
      continue;
    }
    points.push_back(point);
  }
  return points;
}

const Bounds kHeadDims = Bounds::between(8, 1024);  // of an attention kernel's curves

// head_dims: the kernel's curves at other head dims than the main curves' `head_dim`.
void read_head_dims(MapReader& reader, AttentionCurves& curves) {
  const Node* list = reader.raw("head_dims");
  if (!list) return;
  if (!list->is_sequence()) {
    reader.report(
        *list, "head_dims",
        "expected a list of {head_dim, forward, backward} entries, got " + list->describe());
    return;
  }
  for (std::size_t i = 0; i < list->items().size(); ++i) {
    MapReader entry(list->items()[i], reader.child_path(fmt::format("head_dims[{}]", i)),
                    reader.diagnostics());
    HeadDimCurves at;
    at.head_dim = entry.required<int>("head_dim", kHeadDims);
    at.forward = read_rate_curve(entry, "forward", "seq_len");
    at.backward = read_rate_curve(entry, "backward", "seq_len");
    if (at.forward.empty() && at.backward.empty()) {
      entry.missing("forward", "or backward, or both: a curve of {seq_len, rate} points");
    }
    const bool repeated =
        at.head_dim == curves.head_dim ||
        std::any_of(curves.head_dims.begin(), curves.head_dims.end(),
                    [&](const HeadDimCurves& c) { return c.head_dim == at.head_dim; });
    if (at.head_dim > 0 && repeated) {
      entry.error("head_dim", fmt::format("head dim {} has curves already in this kernel's entry",
                                          at.head_dim));
    }
    entry.finish();
    curves.head_dims.push_back(std::move(at));
  }
  std::sort(curves.head_dims.begin(), curves.head_dims.end(),
            [](const HeadDimCurves& a, const HeadDimCurves& b) { return a.head_dim < b.head_dim; });
}

// One attention kernel's curves (compute.attention, or an entry of compute.other_attention,
// which must name its kernel).
AttentionCurves read_attention_curves(MapReader& reader, bool kernel_required) {
  AttentionCurves curves;
  curves.forward = read_rate_curve(reader, "forward", "seq_len");
  curves.backward = read_rate_curve(reader, "backward", "seq_len");
  curves.head_dim = reader.optional<int>("head_dim", curves.head_dim, kHeadDims);
  read_head_dims(reader, curves);
  curves.clock = reader.maybe<Frequency>("clock", Bounds::positive());
  if (kernel_required || reader.has("kernel")) {
    curves.kernel = reader.choice<AttentionKernel>("kernel", kAttentionKernelNames, std::nullopt);
  }
  return curves;
}

ComputeSpec read_compute(MapReader& reader) {
  ComputeSpec spec;
  if (std::optional<MapReader> gemm = reader.optional_section("gemm")) {
    if (std::optional<MapReader> tile = gemm->optional_section("tile")) {
      spec.gemm_tile_m = tile->optional<int>("m", spec.gemm_tile_m, Bounds::between(1, 4096));
      spec.gemm_tile_n = tile->optional<int>("n", spec.gemm_tile_n, Bounds::between(1, 4096));
      tile->finish();
    }
    if (std::optional<MapReader> peak = gemm->optional_section("peak_efficiency")) {
      for (Dtype dtype : kAllDtypes) {
        if (std::optional<Fraction> f = peak->maybe<Fraction>(dtype_name(dtype), kEfficiency)) {
          spec.gemm_peak_efficiency[dtype_index(dtype)] = f->value;
        }
      }
      peak->finish();
    }
    if (std::optional<MapReader> share = gemm->optional_section("weight_gradient_share")) {
      for (Dtype dtype : kAllDtypes) {
        if (std::optional<Fraction> f = share->maybe<Fraction>(dtype_name(dtype), kEfficiency)) {
          spec.gemm_weight_gradient_share[dtype_index(dtype)] = f->value;
        }
      }
      share->finish();
    }
    spec.gemm_clock = gemm->maybe<Frequency>("clock", Bounds::positive());
    if (std::optional<MapReader> measured = gemm->optional_section("measured")) {
      for (Dtype dtype : kAllDtypes) {
        const Node* node = measured->raw(dtype_name(dtype));
        if (!node) continue;
        std::string file;
        if (const std::string problem = parse_value(*node, file); !problem.empty()) {
          measured->report(*node, dtype_name(dtype), problem);
          continue;
        }
        const std::filesystem::path resolved =
            std::filesystem::path(node->location().file).parent_path() / file;
        std::error_code ec;
        if (!std::filesystem::is_regular_file(resolved, ec)) {
          measured->report(*node, dtype_name(dtype),
                           fmt::format("measured file \"{}\" not found (paths are relative "
                                       "to the profile's folder)",
                                       file));
          continue;
        }
        spec.gemm_measured[dtype_index(dtype)] = resolved.string();
      }
      measured->finish();
    }
    gemm->finish();
  }
  if (std::optional<MapReader> attention = reader.optional_section("attention")) {
    spec.attention = read_attention_curves(*attention, false);
    attention->finish();
  }
  if (const Node* others = reader.raw("other_attention")) {
    if (!others->is_sequence()) {
      reader.report(*others, "other_attention",
                    "expected a list of attention kernels' curves, got " + others->describe());
    } else {
      for (std::size_t i = 0; i < others->items().size(); ++i) {
        MapReader entry(others->items()[i],
                        reader.child_path(fmt::format("other_attention[{}]", i)),
                        reader.diagnostics());
        AttentionCurves curves = read_attention_curves(entry, true);
        if (curves.forward.empty() || curves.backward.empty()) {
          entry.missing(curves.forward.empty() ? "forward" : "backward",
                        "a curve of {seq_len, rate} points");
        }
        const bool repeated =
            curves.kernel &&
            (spec.attention.kernel == curves.kernel ||
             std::any_of(spec.other_attention.begin(), spec.other_attention.end(),
                         [&](const AttentionCurves& c) { return c.kernel == curves.kernel; }));
        if (repeated) {
          entry.error("kernel", fmt::format("{} has curves already in this profile",
                                            to_string(*curves.kernel)));
        }
        entry.finish();
        spec.other_attention.push_back(std::move(curves));
      }
    }
  }
  spec.memory_efficiency =
      reader.optional<Fraction>("memory_efficiency", Fraction{1.0}, kEfficiency).value;
  if (std::optional<Fraction> q = reader.maybe<Fraction>("quantize_efficiency", kEfficiency)) {
    spec.quantize_efficiency = q->value;
  }
  spec.sustained_clock = reader.maybe<Frequency>("sustained_clock", Bounds::positive());
  spec.launch_latency =
      reader.optional<SimTime>("launch_latency", SimTime::zero(), Bounds::non_negative());
  reader.finish();
  return spec;
}

AttentionSpec read_attention(MapReader& reader, std::int64_t hidden_size) {
  AttentionSpec spec;
  spec.type = reader.choice<AttentionType>("type", kAttentionTypeNames, std::nullopt);
  spec.heads = reader.required<int>("heads", Bounds::at_least(1));
  spec.qkv_bias = reader.optional<bool>("qkv_bias", false);
  switch (spec.type) {
    case AttentionType::mha:
    case AttentionType::gqa: {
      if (spec.type == AttentionType::mha) {
        spec.kv_heads = reader.optional<int>("kv_heads", spec.heads, Bounds::at_least(1));
        if (spec.kv_heads != spec.heads) {
          reader.error("kv_heads",
                       fmt::format("MHA has one KV head per query head ({}), got {}; use "
                                   "type: gqa for grouped KV heads",
                                   spec.heads, spec.kv_heads));
        }
      } else {
        spec.kv_heads = reader.required<int>("kv_heads", Bounds::at_least(1));
        if (spec.kv_heads > 0 && spec.heads % spec.kv_heads != 0) {
          reader.error("kv_heads", fmt::format("{} query heads cannot be grouped over {} KV heads",
                                               spec.heads, spec.kv_heads));
        }
      }
      const std::optional<int> head_dim = reader.maybe<int>("head_dim", Bounds::at_least(1));
      if (head_dim) {
        spec.head_dim = *head_dim;
      } else if (spec.heads > 0 && hidden_size % spec.heads == 0) {
        spec.head_dim = static_cast<int>(hidden_size / spec.heads);
      } else if (spec.heads > 0) {
        reader.error("head_dim", fmt::format("missing, and hidden_size {} is not a multiple of "
                                             "{} heads; give head_dim",
                                             hidden_size, spec.heads));
      }
      break;
    }
    case AttentionType::mla:
      spec.q_lora_rank =
          reader.maybe<std::int64_t>("q_lora_rank", Bounds::between(1, kMaxDimension));
      spec.kv_lora_rank =
          reader.required<std::int64_t>("kv_lora_rank", Bounds::between(1, kMaxDimension));
      spec.qk_nope_head_dim = reader.required<int>("qk_nope_head_dim", Bounds::at_least(1));
      spec.qk_rope_head_dim = reader.required<int>("qk_rope_head_dim", Bounds::at_least(1));
      spec.v_head_dim = reader.required<int>("v_head_dim", Bounds::at_least(1));
      spec.kv_heads = spec.heads;
      spec.head_dim = spec.qk_nope_head_dim + spec.qk_rope_head_dim;
      break;
  }
  if (std::optional<MapReader> window = reader.optional_section("sliding_window")) {
    SlidingWindow sliding;
    sliding.tokens = window->required<std::int64_t>("tokens", Bounds::between(1, kMaxDimension));
    sliding.full_every = window->optional<int>("full_every", 0, Bounds::non_negative());
    if (sliding.full_every == 1) {
      window->error("full_every",
                    "1 makes every layer attend fully; leave out sliding_window "
                    "instead, or give 0 for every layer to slide");
    }
    window->finish();
    spec.sliding_window = sliding;
  }
  reader.finish();
  return spec;
}

MoeSpec read_moe(MapReader& reader, int layers) {
  MoeSpec spec;
  spec.experts = reader.required<int>("experts", Bounds::at_least(1));
  spec.shared_experts = reader.optional<int>("shared_experts", 0, Bounds::non_negative());
  spec.top_k = reader.required<int>("top_k", Bounds::at_least(1));
  spec.expert_hidden_size =
      reader.required<std::int64_t>("expert_hidden_size", Bounds::between(1, kMaxDimension));
  spec.first_dense_layers = reader.optional<int>("first_dense_layers", 0, Bounds::non_negative());
  spec.groups = reader.optional<int>("groups", 1, Bounds::at_least(1));
  spec.max_groups_per_token =
      reader.optional<int>("max_groups_per_token", spec.groups, Bounds::at_least(1));
  if (spec.top_k > spec.experts) {
    reader.error("top_k",
                 fmt::format("a token cannot use {} of only {} experts", spec.top_k, spec.experts));
  }
  if (spec.experts % spec.groups != 0) {
    reader.error("groups", fmt::format("{} experts do not split into {} equal groups", spec.experts,
                                       spec.groups));
  }
  if (spec.max_groups_per_token > spec.groups) {
    reader.error("max_groups_per_token", fmt::format("must be <= groups ({}), got {}", spec.groups,
                                                     spec.max_groups_per_token));
  } else if (spec.groups > 0 && spec.experts % spec.groups == 0 &&
             spec.top_k > spec.max_groups_per_token * (spec.experts / spec.groups)) {
    reader.error("top_k",
                 fmt::format("{} groups of {} experts cannot supply top_k = {}",
                             spec.max_groups_per_token, spec.experts / spec.groups, spec.top_k));
  }
  if (layers > 0 && spec.first_dense_layers >= layers) {
    reader.error("first_dense_layers",
                 fmt::format("must be below the {} layers, or the model has no MoE layer", layers));
  }
  reader.finish();
  return spec;
}

constexpr std::array<EnumName<bool>, 2> kCustomNodeKinds{{{"host", false}, {"switch", true}}};

// Explicit nodes and links. Names must be unique, links must join two known, different nodes,
// and every node must be reachable from the first (a disconnected network is an input error).
void read_custom_topology(MapReader& reader, TopologySpec& spec) {
  const Node* nodes = reader.raw("nodes");
  std::vector<std::string> names;
  std::vector<const Node*> name_nodes;
  if (nodes == nullptr) {
    reader.missing("nodes", "a list of {name, kind: host | switch}");
  } else if (!nodes->is_sequence() || nodes->items().empty()) {
    reader.report(*nodes, "nodes",
                  "expected a non-empty list of {name, kind}, got " + nodes->describe());
  } else {
    for (std::size_t i = 0; i < nodes->items().size(); ++i) {
      MapReader item(nodes->items()[i], reader.child_path(fmt::format("nodes[{}]", i)),
                     reader.diagnostics());
      CustomNode node;
      node.name = item.required<std::string>("name");
      node.is_switch = item.choice<bool>("kind", kCustomNodeKinds, std::nullopt);
      item.finish();
      if (node.name.empty()) continue;
      if (std::find(names.begin(), names.end(), node.name) != names.end()) {
        item.error("name", fmt::format("node \"{}\" is defined twice", node.name));
        continue;
      }
      names.push_back(node.name);
      name_nodes.push_back(item.raw("name"));
      spec.custom_nodes.push_back(node);
    }
  }
  const Node* links = reader.raw("links");
  if (links == nullptr) {
    reader.missing("links", "a list of {between: [a, b], bandwidth, latency}");
    return;
  }
  if (!links->is_sequence()) {
    reader.report(*links, "links", "expected a list of links, got " + links->describe());
    return;
  }
  std::vector<std::size_t> parent(names.size());
  for (std::size_t i = 0; i < parent.size(); ++i) parent[i] = i;
  auto root = [&parent](std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (std::size_t i = 0; i < links->items().size(); ++i) {
    MapReader item(links->items()[i], reader.child_path(fmt::format("links[{}]", i)),
                   reader.diagnostics());
    const std::vector<std::string> ends = item.list<std::string>("between");
    CustomLink link;
    link.bandwidth = item.required<Bandwidth>("bandwidth", Bounds::positive());
    link.latency = item.optional<SimTime>("latency", SimTime::zero(), Bounds::non_negative());
    if (!item.has("between")) item.missing("between", "the two node names");
    item.finish();
    if (!item.has("between")) continue;
    if (ends.size() != 2) {
      item.error("between", fmt::format("expected two node names, got {}", ends.size()));
      continue;
    }
    std::array<std::size_t, 2> index{};
    bool known = true;
    for (std::size_t e = 0; e < 2; ++e) {
      const auto it = std::find(names.begin(), names.end(), ends[e]);
      if (it == names.end()) {
        std::string message = fmt::format("unknown node \"{}\"", ends[e]);
        if (auto match = closest_match(ends[e], names)) {
          message += fmt::format("; did you mean \"{}\"?", *match);
        }
        item.error("between", message);
        known = false;
      } else {
        index[e] = static_cast<std::size_t>(it - names.begin());
      }
    }
    if (!known) continue;
    if (index[0] == index[1]) {
      item.error("between",
                 fmt::format("a link must join two different nodes, got \"{}\" twice", ends[0]));
      continue;
    }
    link.a = index[0];
    link.b = index[1];
    parent[root(link.a)] = root(link.b);
    spec.custom_links.push_back(link);
  }
  if (!reader.diagnostics().empty() || names.empty()) return;
  std::vector<std::string> unreachable;
  for (std::size_t i = 1; i < names.size(); ++i) {
    if (root(i) != root(0)) unreachable.push_back(names[i]);
  }
  if (!unreachable.empty()) {
    std::vector<std::string> quoted;
    for (const std::string& name : unreachable) quoted.push_back(fmt::format("\"{}\"", name));
    reader.error("links",
                 fmt::format("the network is disconnected: {} cannot be reached from \"{}\"",
                             fmt::join(quoted, ", "), names[0]));
  }
}

}  // namespace

ModelCard read_model_card(MapReader& reader) {
  ModelCard card;
  card.name = reader.required<std::string>("name");
  card.source = reader.optional<std::string>("source", "");
  card.layers = reader.required<int>("layers", Bounds::between(1, 100000));
  card.hidden_size =
      reader.required<std::int64_t>("hidden_size", Bounds::between(1, kMaxDimension));
  card.vocab_size = reader.required<std::int64_t>("vocab_size", Bounds::between(1, kMaxDimension));
  card.max_seq_len =
      reader.required<std::int64_t>("max_seq_len", Bounds::between(1, kMaxDimension));
  card.norm = reader.choice<NormType>("norm", kNormNames, NormType::rmsnorm);
  card.tied_embeddings = reader.optional<bool>("tied_embeddings", false);
  card.position_embedding = reader.choice<PositionEmbedding>(
      "position_embedding", kPositionEmbeddingNames, PositionEmbedding::rope);
  card.linear_bias = reader.optional<bool>("linear_bias", false);
  {
    MapReader attention = reader.section("attention");
    card.attention = read_attention(attention, card.hidden_size);
  }
  {
    MapReader ffn = reader.section("ffn");
    card.ffn.activation = ffn.choice<Activation>("activation", kActivationNames, std::nullopt);
    card.ffn.hidden_size =
        ffn.required<std::int64_t>("hidden_size", Bounds::between(1, kMaxDimension));
    ffn.finish();
  }
  if (std::optional<MapReader> moe = reader.optional_section("moe")) {
    card.moe = read_moe(*moe, card.layers);
  }
  card.mtp_modules = reader.optional<int>("mtp_modules", 0, Bounds::between(0, 16));
  reader.finish();
  return card;
}

EnergySpec read_energy(MapReader& reader) {
  EnergySpec energy;
  energy.power_fraction = reader.maybe<double>("power_fraction", Bounds::between(0.01, 1));
  energy.pue = reader.maybe<double>("pue", Bounds::between(1, 5));
  energy.electricity_usd_per_kwh =
      reader.maybe<double>("electricity_usd_per_kwh", Bounds::non_negative());
  return energy;
}

HardwareProfile read_hardware_profile(MapReader& reader) {
  HardwareProfile profile;
  profile.name = reader.required<std::string>("name");
  profile.description = reader.optional<std::string>("description", "");
  {
    MapReader gpu = reader.section("gpu");
    profile.gpu.model = gpu.optional<std::string>("model", profile.name);
    profile.gpu.sm_count = gpu.required<int>("sm_count", Bounds::between(1, 10000));
    profile.gpu.boost_clock = gpu.required<Frequency>("boost_clock", Bounds::positive());
    {
      MapReader peak = gpu.section("dense_peak");
      for (Dtype dtype : kAllDtypes) {
        profile.gpu.dense_peak[dtype_index(dtype)] =
            peak.maybe<FlopRate>(dtype_name(dtype), Bounds::positive());
      }
      if (peak.valid() && !profile.gpu.peak(Dtype::bf16) && !peak.has("bf16")) {
        peak.missing("bf16", "MFU is quoted against the BF16 peak");
      }
      peak.finish();
    }
    profile.gpu.memory_capacity = gpu.required<DataSize>("memory_capacity", Bounds::positive());
    profile.gpu.memory_bandwidth = gpu.required<Bandwidth>("memory_bandwidth", Bounds::positive());
    profile.gpu.tdp = gpu.maybe<Power>("tdp", Bounds::positive());
    gpu.finish();
  }
  {
    MapReader up = reader.section("scale_up");
    profile.scale_up.technology = up.optional<std::string>("technology", "");
    profile.scale_up.domain_size = up.required<int>("domain_size", Bounds::between(1, 100000));
    profile.scale_up.aggregate_bandwidth =
        up.required<Bandwidth>("aggregate_bandwidth", Bounds::positive());
    profile.scale_up.efficiency =
        up.optional<Fraction>("efficiency", Fraction{1.0}, kEfficiency).value;
    profile.scale_up.latency =
        up.optional<SimTime>("latency", SimTime::zero(), Bounds::non_negative());
    up.finish();
  }
  if (std::optional<MapReader> out = reader.optional_section("scale_out")) {
    ScaleOutSpec spec;
    spec.technology = out->optional<std::string>("technology", "");
    spec.nics_per_node = out->required<int>("nics_per_node", Bounds::between(1, 1024));
    spec.nic_bandwidth = out->required<Bandwidth>("nic_bandwidth", Bounds::positive());
    spec.efficiency = out->optional<Fraction>("efficiency", Fraction{1.0}, kEfficiency).value;
    spec.link_layer = out->choice<LinkLayer>("link_layer", kLinkLayerNames, LinkLayer::infiniband);
    if (spec.link_layer == LinkLayer::roce) {
      // Ethernet switches add more per hop than InfiniBand's (ISCA'25 Table 5), so a RoCE
      // network states its own latencies rather than borrowing the InfiniBand defaults.
      for (const char* key : {"latency", "switch_latency"}) {
        if (!out->has(key)) {
          out->missing(key,
                       "link_layer roce states its own latencies; ISCA'25 Table 5 measures RoCE "
                       "at 3.6 us same leaf, 5.6 us cross leaf");
        }
      }
    }
    spec.latency = out->optional<SimTime>("latency", SimTime::zero(), Bounds::non_negative());
    spec.switch_latency =
        out->optional<SimTime>("switch_latency", SimTime::zero(), Bounds::non_negative());
    spec.cost_profile = out->optional<std::string>(
        "cost_profile", spec.link_layer == LinkLayer::roce ? "roce_as_bought" : "ib_as_bought");
    out->finish();
    profile.scale_out = spec;
  }
  if (std::optional<MapReader> pcie = reader.optional_section("pcie")) {
    PcieSpec spec;
    spec.generation = pcie->required<int>("generation", Bounds::between(1, 10));
    spec.lanes = pcie->required<int>("lanes", Bounds::between(1, 64));
    spec.bandwidth = pcie->required<Bandwidth>("bandwidth", Bounds::positive());
    pcie->finish();
    profile.pcie = spec;
  }
  if (std::optional<MapReader> comm = reader.optional_section("communication")) {
    CommunicationSpec spec;
    spec.nvlink_copy_per_sm = comm->required<Bandwidth>("nvlink_copy_per_sm", Bounds::positive());
    spec.rdma_copy_per_sm = comm->required<Bandwidth>("rdma_copy_per_sm", Bounds::positive());
    spec.nccl_channels = comm->required<int>("nccl_channels", Bounds::between(1, 128));
    comm->finish();
    profile.communication = spec;
  }
  if (std::optional<MapReader> compute = reader.optional_section("compute")) {
    profile.compute = read_compute(*compute);
  }
  if (std::optional<MapReader> price = reader.optional_section("price")) {
    profile.price.gpu_hour_usd = price->maybe<double>("gpu_hour_usd", Bounds::non_negative());
    profile.price.capex_per_gpu_usd =
        price->maybe<double>("capex_per_gpu_usd", Bounds::non_negative());
    profile.price.energy = read_energy(*price);
    price->finish();
  }
  reader.finish();
  return profile;
}

TopologySpec read_topology(MapReader& reader) {
  TopologySpec spec;
  spec.name = reader.required<std::string>("name");
  spec.description = reader.optional<std::string>("description", "");
  spec.generator =
      reader.choice<TopologyGenerator>("generator", kTopologyGeneratorNames, std::nullopt);
  spec.link_bandwidth = reader.maybe<Bandwidth>("link_bandwidth", Bounds::positive());
  spec.switch_latency = reader.maybe<SimTime>("switch_latency", Bounds::non_negative());
  spec.routing = reader.choice<RoutingPolicy>("routing", kRoutingPolicyNames, RoutingPolicy::ecmp);
  const Bounds radix_bounds = Bounds::between(2, 4096);
  switch (spec.generator) {
    case TopologyGenerator::single_node:
      break;
    case TopologyGenerator::nvl72:
      spec.domain_size = reader.optional<int>("domain_size", 72, Bounds::between(2, 100000));
      break;
    case TopologyGenerator::custom:
      read_custom_topology(reader, spec);
      break;
    case TopologyGenerator::fat_tree:
    case TopologyGenerator::multi_plane_fat_tree:
    case TopologyGenerator::multi_rail_fat_tree: {
      const bool multi_plane = spec.generator == TopologyGenerator::multi_plane_fat_tree;
      spec.switch_radix = reader.required<int>("switch_radix", radix_bounds);
      // A multi-rail tree without `levels` gets a core tier only when its rails outgrow one
      // spine tier.
      spec.levels = reader.optional<int>(
          "levels", spec.generator == TopologyGenerator::multi_rail_fat_tree ? 0 : 2,
          Bounds::between(2, 3));
      spec.oversubscription =
          reader.optional<double>("oversubscription", 1.0, Bounds::between(1, 64));
      if (spec.generator != TopologyGenerator::fat_tree) {
        spec.planes =
            reader.required<int>(multi_plane ? "planes" : "rails", Bounds::between(1, 64));
      }
      if (spec.switch_radix % 2 != 0) {
        reader.error("switch_radix", fmt::format("a fat-tree needs an even switch radix, got {}",
                                                 spec.switch_radix));
      }
      if (spec.levels == 3 && spec.generator == TopologyGenerator::fat_tree) {
        spec.pods = reader.maybe<int>("pods", Bounds::between(1, spec.switch_radix));
      }
      break;
    }
    case TopologyGenerator::rail_only:
      spec.switch_radix = reader.required<int>("switch_radix", radix_bounds);
      spec.planes = reader.required<int>("rails", Bounds::between(1, 64));
      spec.levels = reader.optional<int>("levels", 0, Bounds::between(1, 3));
      break;
    case TopologyGenerator::slim_fly:
      spec.slim_fly_q = reader.optional<int>("q", 0, Bounds::between(5, 1000));
      spec.switch_radix = reader.optional<int>("switch_radix", 0, radix_bounds);
      spec.endpoints_per_switch =
          reader.maybe<int>("endpoints_per_switch", Bounds::between(1, 4096));
      if (spec.slim_fly_q != 0 && !slim_fly_buildable(spec.slim_fly_q)) {
        const auto [below, above] = nearest_buildable_slim_fly_q(spec.slim_fly_q);
        reader.error("q", fmt::format("q = {} cannot be built: the construction needs a prime "
                                      "q >= 5; the nearest buildable values are {}",
                                      spec.slim_fly_q,
                                      below > 0 ? fmt::format("{} and {}", below, above)
                                                : fmt::format("{}", above)));
      }
      break;
    case TopologyGenerator::dragonfly:
      spec.dragonfly_p = reader.required<int>("p", Bounds::between(1, 1024));
      spec.dragonfly_a = reader.required<int>("a", Bounds::between(1, 1024));
      spec.dragonfly_h = reader.required<int>("h", Bounds::between(1, 1024));
      spec.dragonfly_groups = reader.maybe<int>("groups", Bounds::at_least(2));
      if (spec.dragonfly_groups && spec.dragonfly_a > 0 && spec.dragonfly_h > 0 &&
          *spec.dragonfly_groups > spec.dragonfly_a * spec.dragonfly_h + 1) {
        reader.error("groups", fmt::format("at most a * h + 1 = {} groups can be fully connected",
                                           spec.dragonfly_a * spec.dragonfly_h + 1));
      }
      break;
  }
  reader.finish();
  return spec;
}

namespace {

constexpr std::array<std::string_view, 4> kFlatPriceKeys{"switch_usd", "switch_link_usd",
                                                         "endpoint_link_usd", "nic_usd"};

// Where a price comes from: required, with what it should say.
std::string read_price_source(MapReader& reader) {
  if (std::optional<std::string> source = reader.maybe<std::string>("source")) return *source;
  reader.missing("source", "where the price comes from, or \"assumption: ...\"");
  return {};
}

// One priced part: {model, usd, links (default 1), source}. The source is required: every price
// says where it comes from, or that it is an assumption.
PricedPart read_priced_part(MapReader& reader, std::string_view key) {
  PricedPart part;
  MapReader section = reader.section(key);
  part.model = section.required<std::string>("model");
  part.usd = section.required<double>("usd", Bounds::non_negative());
  part.links = section.optional<int>("links", 1, Bounds::between(1, 16));
  part.source = read_price_source(section);
  section.finish();
  return part;
}

// The prices at one link speed: a list entry of `speeds`.
SpeedPrices read_speed_prices(MapReader& reader) {
  SpeedPrices prices;
  prices.speed = reader.required<Bandwidth>("speed", Bounds::positive());
  const Node* switches = reader.raw("switches");
  if (!switches) {
    reader.missing("switches", "a list of {model, ports, usd, source}");
  } else if (!switches->is_sequence() || switches->items().empty()) {
    reader.report(*switches, "switches",
                  "expected a list of {model, ports, usd, source}, got " + switches->describe());
  } else {
    for (std::size_t i = 0; i < switches->items().size(); ++i) {
      MapReader row(switches->items()[i], fmt::format("{}[{}]", reader.child_path("switches"), i),
                    reader.diagnostics());
      SwitchModel model;
      model.model = row.required<std::string>("model");
      model.ports = row.required<int>("ports", Bounds::between(1, 4096));
      model.usd = row.required<double>("usd", Bounds::non_negative());
      model.source = read_price_source(row);
      row.finish();
      prices.switches.push_back(std::move(model));
    }
  }
  prices.nic = read_priced_part(reader, "nic");
  prices.switch_transceiver = read_priced_part(reader, "switch_transceiver");
  prices.nic_transceiver = read_priced_part(reader, "nic_transceiver");
  prices.fibre = read_priced_part(reader, "fibre");
  prices.copper_cable = read_priced_part(reader, "copper_cable");
  reader.finish();
  return prices;
}

// The as-bought form: `rack_nodes` and a list of `speeds`, each speed given once.
void read_prices_by_speed(MapReader& reader, CostProfile& profile) {
  for (std::string_view key : kFlatPriceKeys) {
    if (reader.has(key)) {
      reader.error(key,
                   "a profile that prices parts by link speed (speeds) takes no flat prices; "
                   "remove this key or speeds");
    }
  }
  profile.rack_nodes = reader.required<int>("rack_nodes", Bounds::between(1, 1024));
  const Node* speeds = reader.raw("speeds");
  if (!speeds->is_sequence() || speeds->items().empty()) {
    reader.report(*speeds, "speeds",
                  "expected a list of prices by link speed, got " + speeds->describe());
    return;
  }
  for (std::size_t i = 0; i < speeds->items().size(); ++i) {
    const Node& item = speeds->items()[i];
    MapReader entry(item, fmt::format("speeds[{}]", i), reader.diagnostics());
    SpeedPrices prices = read_speed_prices(entry);
    if (!entry.valid()) continue;
    if (profile.prices_at(prices.speed) != nullptr) {
      entry.error("speed", fmt::format("{:g} Gb/s is priced by an earlier entry already",
                                       prices.speed.bytes_per_s * 8 / 1e9));
      continue;
    }
    profile.speeds.push_back(std::move(prices));
  }
}

// stack.tp_overlap: for each GEMM TE's userbuffers overlap, its method and, where the method has
// them, its chunks and SMs. Methods TE refuses, or runs in a way not modelled, are errors.
void read_tp_overlap(MapReader& reader, std::array<TpOverlapGemm, kTpGemms>& gemms) {
  for (const EnumName<TpGemm>& entry : kTpGemmNames) {
    std::optional<MapReader> gemm = reader.optional_section(entry.name);
    if (!gemm) continue;
    TpOverlapGemm& g = gemms[static_cast<std::size_t>(entry.value)];
    const TpOverlapMethod before = g.method;
    g.method = gemm->choice<TpOverlapMethod>("method", kTpOverlapMethodNames, g.method);
    const bool all_gather = entry.value == TpGemm::qkv_fprop || entry.value == TpGemm::fc1_fprop ||
                            entry.value == TpGemm::proj_dgrad || entry.value == TpGemm::fc2_dgrad;
    const bool reduce_scatter =
        entry.value == TpGemm::proj_fprop || entry.value == TpGemm::fc2_fprop;
    if (all_gather && g.method != TpOverlapMethod::ring_exchange) {
      gemm->error("method", fmt::format("{} overlaps an all-gather: only ring_exchange runs it (TE "
                                        "has no pipelined or bulk all-gather into a GEMM)",
                                        entry.name));
    } else if (reduce_scatter && g.method == TpOverlapMethod::bulk) {
      gemm->error("method",
                  fmt::format("{} overlaps its own output's reduce-scatter: ring_exchange "
                              "or pipeline (bulk overlaps another tensor's collective)",
                              entry.name));
    } else if (!all_gather && !reduce_scatter && g.method != TpOverlapMethod::bulk) {
      gemm->error("method", fmt::format("{} overlaps another tensor's collective: only bulk is "
                                        "modelled",
                                        entry.name));
    }
    if (g.method != before) g = TpOverlapGemm::te_default(g.method);
    if (g.method == TpOverlapMethod::pipeline) {
      g.splits = gemm->optional<int>("splits", g.splits, Bounds::between(1, 1024));
    } else if (gemm->has("splits")) {
      gemm->error("splits",
                  fmt::format("applies only to method pipeline ({} runs as {})", entry.name,
                              g.method == TpOverlapMethod::bulk ? "one GEMM" : "tp chunks"));
    }
    g.comm_sms = gemm->optional<int>("comm_sms", g.comm_sms, Bounds::between(0, 1024));
    g.sm_margin = gemm->optional<bool>("sm_margin", g.sm_margin);
    gemm->finish();
  }
  reader.finish();
}

}  // namespace

CostProfile read_cost_profile(MapReader& reader) {
  CostProfile profile;
  profile.name = reader.required<std::string>("name");
  profile.description = reader.optional<std::string>("description", "");
  if (reader.has("speeds")) {
    read_prices_by_speed(reader, profile);
  } else {
    profile.switch_usd = reader.required<double>("switch_usd", Bounds::non_negative());
    profile.switch_link_usd = reader.required<double>("switch_link_usd", Bounds::non_negative());
    profile.endpoint_link_usd =
        reader.required<double>("endpoint_link_usd", Bounds::non_negative());
    profile.nic_usd = reader.required<double>("nic_usd", Bounds::non_negative());
  }
  reader.finish();
  return profile;
}

SoftwareStack read_software_stack(MapReader& reader) {
  SoftwareStack stack;
  stack.name = reader.required<std::string>("name");
  stack.description = reader.optional<std::string>("description", "");
  reader.allow("source");
  stack.attention =
      reader.choice<AttentionKernel>("attention", kAttentionKernelNames, std::nullopt);
  if (std::optional<MapReader> fused = reader.optional_section("fused")) {
    stack.fused_softmax = fused->optional<bool>("softmax", stack.fused_softmax);
    stack.fused_bias_activation =
        fused->optional<bool>("bias_activation", stack.fused_bias_activation);
    stack.fused_bias_dropout_add =
        fused->optional<bool>("bias_dropout_add", stack.fused_bias_dropout_add);
    fused->finish();
  }
  if (std::optional<MapReader> overlap = reader.optional_section("overlap")) {
    stack.overlap.tp = overlap->optional<bool>("tp", stack.overlap.tp);
    stack.overlap.sp_gather = overlap->optional<bool>("sp_gather", stack.overlap.sp_gather);
    stack.overlap.dp = overlap->optional<bool>("dp", stack.overlap.dp);
    stack.overlap.moe_all_to_all =
        overlap->optional<bool>("moe_all_to_all", stack.overlap.moe_all_to_all);
    stack.overlap.pp =
        overlap->choice<PipelineExchanges>("pp", kPipelineExchangeNames, stack.overlap.pp);
    overlap->finish();
  }
  if (std::optional<MapReader> tp_overlap = reader.optional_section("tp_overlap")) {
    read_tp_overlap(*tp_overlap, stack.tp_overlap);
  }
  // Gradients and optimizer moments are kept in FP32 or BF16.
  static constexpr std::array<EnumName<Dtype>, 2> kFp32OrBf16{
      {{"fp32", Dtype::fp32}, {"bf16", Dtype::bf16}}};
  stack.gradient_dtype = reader.choice<Dtype>("gradient_dtype", kFp32OrBf16, stack.gradient_dtype);
  if (std::optional<MapReader> buckets = reader.optional_section("gradient_buckets")) {
    GradientBuckets& b = stack.gradient_buckets;
    b.parameters = buckets->optional<double>("parameters", 0.0, Bounds::non_negative());
    b.parameters_per_dp_rank =
        buckets->optional<double>("parameters_per_dp_rank", 0.0, Bounds::non_negative());
    b.first_stage_only = buckets->optional<bool>("first_stage_only", false);
    if (!b.enabled()) {
      buckets->error("parameters", "a bucket needs parameters or parameters_per_dp_rank above 0");
    }
    buckets->finish();
  }
  if (std::optional<MapReader> optimizer = reader.optional_section("optimizer")) {
    OptimizerSteps& o = stack.optimizer;
    if (optimizer->has("moment_dtype")) {
      o.moment_dtype = optimizer->choice<Dtype>("moment_dtype", kFp32OrBf16, std::nullopt);
    }
    o.main_gradients = optimizer->optional<bool>("main_gradients", o.main_gradients);
    o.gradient_norm = optimizer->optional<bool>("gradient_norm", o.gradient_norm);
    static constexpr std::array<EnumName<bool>, 2> kCopies{{{"fused", false}, {"separate", true}}};
    o.separate_master_copy =
        optimizer->choice<bool>("master_weight_copy", kCopies, o.separate_master_copy);
    o.zero_gradients = optimizer->optional<bool>("zero_gradients", o.zero_gradients);
    o.fp8_param_gather = optimizer->optional<bool>("fp8_param_gather", o.fp8_param_gather);
    optimizer->finish();
  }
  if (std::optional<MapReader> moe = reader.optional_section("moe")) {
    stack.dispatcher =
        moe->choice<MoeDispatcher>("dispatcher", kMoeDispatcherNames, stack.dispatcher);
    static constexpr std::array<EnumName<Dtype>, 2> kDispatchDtypes{
        {{"fp8", Dtype::fp8}, {"bf16", Dtype::bf16}}};
    stack.dispatch_dtype =
        moe->choice<Dtype>("dispatch_dtype", kDispatchDtypes, stack.dispatch_dtype);
    stack.routing = moe->choice<MoeRouting>("routing", kMoeRoutingNames, stack.routing);
    stack.capacity_factor =
        moe->optional<double>("capacity_factor", stack.capacity_factor, Bounds::between(0.01, 1e6));
    if (moe->has("capacity_factor") && stack.routing != MoeRouting::capacity) {
      moe->error("capacity_factor", "applies only to routing: capacity");
    }
    stack.deepep_sms = moe->optional<int>("deepep_sms", stack.deepep_sms, Bounds::between(2, 1024));
    stack.permute_received = moe->optional<bool>("permute_received", stack.permute_received);
    moe->finish();
  }
  stack.static_sm_split = reader.optional<bool>("static_sm_split", stack.static_sm_split);
  stack.kernel_host_overhead = reader.optional<SimTime>(
      "kernel_host_overhead", stack.kernel_host_overhead, Bounds::non_negative());
  reader.finish();
  return stack;
}

}  // namespace detail
}  // namespace clustersim::config
