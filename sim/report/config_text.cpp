#include "sim/report/config_text.hpp"

#include <fmt/format.h>

namespace clustersim::report {
namespace {

class Lines {
 public:
  explicit Lines(std::string title) : text_(std::move(title) + "\n") {}
  template <class... Args>
  void add(std::string_view key, fmt::format_string<Args...> format, Args&&... args) {
    text_ += fmt::format("  {:<22} {}\n", key, fmt::format(format, std::forward<Args>(args)...));
  }
  [[nodiscard]] std::string str() const { return text_; }

 private:
  std::string text_;
};

std::string time_text(SimTime time) {
  return fmt::format("{:.4g} us", time.seconds() * 1e6);
}

}  // namespace

std::string to_text(const config::ModelCard& card) {
  Lines lines(fmt::format("model {}", card.name));
  if (!card.source.empty()) lines.add("source", "{}", card.source);
  lines.add("layers", "{}", card.layers);
  lines.add("hidden_size", "{}", card.hidden_size);
  lines.add("vocab_size", "{}", card.vocab_size);
  lines.add("max_seq_len", "{}", card.max_seq_len);
  lines.add("norm", "{}", config::to_string(card.norm));
  lines.add("tied_embeddings", "{}", card.tied_embeddings);
  lines.add("position_embedding", "{}", config::to_string(card.position_embedding));
  if (card.linear_bias) lines.add("linear_bias", "{}", card.linear_bias);
  const config::AttentionSpec& a = card.attention;
  if (a.type == config::AttentionType::mla) {
    lines.add("attention", "mla, {} heads, q_lora_rank {}, kv_lora_rank {}", a.heads,
              a.q_lora_rank ? fmt::to_string(*a.q_lora_rank) : "none", a.kv_lora_rank);
    lines.add("", "qk_nope_head_dim {}, qk_rope_head_dim {}, v_head_dim {}", a.qk_nope_head_dim,
              a.qk_rope_head_dim, a.v_head_dim);
  } else {
    lines.add("attention", "{}, {} heads, {} kv heads, head_dim {}", config::to_string(a.type),
              a.heads, a.kv_heads, a.head_dim);
  }
  if (a.sliding_window) {
    lines.add("", "sliding window of {} tokens, {}", a.sliding_window->tokens,
              a.sliding_window->full_every > 0
                  ? fmt::format("every {} layers one attends fully", a.sliding_window->full_every)
                  : std::string("in every layer"));
  }
  lines.add("ffn", "{}, hidden_size {}", config::to_string(card.ffn.activation),
            card.ffn.hidden_size);
  if (card.moe) {
    const config::MoeSpec& m = *card.moe;
    lines.add("moe", "{} routed + {} shared experts, top-{}, expert_hidden_size {}", m.experts,
              m.shared_experts, m.top_k, m.expert_hidden_size);
    lines.add("", "first {} layers dense; {} groups, at most {} per token", m.first_dense_layers,
              m.groups, m.max_groups_per_token);
  } else {
    lines.add("moe", "none (dense)");
  }
  lines.add("mtp_modules", "{}", card.mtp_modules);
  return lines.str();
}

std::string to_text(const config::HardwareProfile& profile) {
  Lines lines(fmt::format("hardware {}", profile.name));
  if (!profile.description.empty()) lines.add("description", "{}", profile.description);
  const config::GpuSpec& g = profile.gpu;
  lines.add("gpu", "{}, {} SMs at {}", g.model, g.sm_count, to_string(g.boost_clock));
  for (Dtype dtype : kAllDtypes) {
    if (auto rate = g.peak(dtype)) {
      lines.add(fmt::format("dense peak {}", dtype_name(dtype)), "{}", to_string(*rate));
    }
  }
  lines.add("memory", "{} at {}", to_string(g.memory_capacity), to_string(g.memory_bandwidth));
  if (g.tdp) lines.add("tdp", "{}", to_string(*g.tdp));
  const config::ScaleUpSpec& u = profile.scale_up;
  lines.add("scale-up", "{} domain of {} GPUs", u.technology, u.domain_size);
  lines.add("", "{} per GPU aggregate, {} per direction, {} achievable",
            to_string(u.aggregate_bandwidth), to_string(u.per_direction()),
            to_string(u.achievable()));
  lines.add("", "latency {}", time_text(u.latency));
  if (profile.scale_out) {
    const config::ScaleOutSpec& o = *profile.scale_out;
    lines.add("scale-out", "{} x {} {} NICs per node", o.nics_per_node, to_string(o.nic_bandwidth),
              o.technology);
    lines.add("", "{} achievable ({:.0f} % of line rate)", to_string(o.achievable()),
              o.efficiency * 100);
    lines.add("", "latency {}", time_text(o.latency));
  }
  if (profile.pcie) {
    lines.add("pcie", "gen {} x{}, {}", profile.pcie->generation, profile.pcie->lanes,
              to_string(profile.pcie->bandwidth));
  }
  if (profile.price.gpu_hour_usd) {
    lines.add("price", "${:.2f} per GPU-hour (assumption)", *profile.price.gpu_hour_usd);
  }
  if (profile.price.capex_per_gpu_usd) {
    lines.add("", "${:.0f} capex per GPU (assumption)", *profile.price.capex_per_gpu_usd);
  }
  const config::EnergySpec& energy = profile.price.energy;
  if (energy.power_fraction && energy.pue) {
    lines.add("energy", "{:.0f} % of TDP drawn, PUE {:.2f}{} (assumptions)",
              100 * *energy.power_fraction, *energy.pue,
              energy.electricity_usd_per_kwh
                  ? fmt::format(", ${:.3f} per kWh", *energy.electricity_usd_per_kwh)
                  : "");
  }
  return lines.str();
}

std::string to_text(const config::TopologySpec& spec) {
  Lines lines(fmt::format("topology {}", spec.name));
  if (!spec.description.empty()) lines.add("description", "{}", spec.description);
  lines.add("generator", "{}", config::to_string(spec.generator));
  switch (spec.generator) {
    case config::TopologyGenerator::fat_tree:
    case config::TopologyGenerator::multi_plane_fat_tree:
    case config::TopologyGenerator::multi_rail_fat_tree:
      lines.add("switch_radix", "{}", spec.switch_radix);
      lines.add("levels", "{}", spec.levels);
      lines.add("planes", "{}", spec.planes);
      lines.add("oversubscription", "{}:1", spec.oversubscription);
      break;
    case config::TopologyGenerator::rail_only:
      lines.add("switch_radix", "{}", spec.switch_radix);
      lines.add("rails", "{}", spec.planes);
      break;
    case config::TopologyGenerator::slim_fly:
      lines.add("q", "{}", spec.slim_fly_q);
      break;
    case config::TopologyGenerator::dragonfly:
      lines.add("p, a, h", "{}, {}, {}", spec.dragonfly_p, spec.dragonfly_a, spec.dragonfly_h);
      if (spec.dragonfly_groups) lines.add("groups", "{}", *spec.dragonfly_groups);
      break;
    case config::TopologyGenerator::single_node:
    case config::TopologyGenerator::custom:
      lines.add("nodes", "{}", spec.custom_nodes.size());
      lines.add("links", "{}", spec.custom_links.size());
      break;
    case config::TopologyGenerator::nvl72:
      break;
  }
  if (spec.link_bandwidth) lines.add("link_bandwidth", "{}", to_string(*spec.link_bandwidth));
  if (spec.switch_latency) lines.add("switch_latency", "{}", time_text(*spec.switch_latency));
  return lines.str();
}

std::string to_text(const config::Experiment& experiment) {
  Lines lines(fmt::format("experiment {}", experiment.name));
  lines.add("model", "{}", experiment.model.name);
  lines.add("hardware", "{}", experiment.hardware.name);
  lines.add("cluster", "{} nodes x {} GPUs = {} GPUs", experiment.cluster.nodes,
            experiment.cluster.gpus_per_node, experiment.cluster.gpus());
  if (experiment.cluster.topology) {
    lines.add("topology", "{} ({})", experiment.cluster.topology->name,
              config::to_string(experiment.cluster.topology->generator));
  }
  const config::ParallelismSpec& p = experiment.parallelism;
  lines.add("parallelism", "tp {} pp {} ep {} cp {} dp {}, ZeRO-{}", p.tp, p.pp, p.ep, p.cp, p.dp,
            p.zero);
  lines.add("schedule", "{} (virtual stages {}), micro_batch_size {}",
            config::to_string(p.schedule), p.virtual_stages, p.micro_batch_size);
  lines.add("stage_layers", "{}{}",
            p.stage_layers.empty() ? std::string("auto")
                                   : fmt::format("{}", fmt::join(p.stage_layers, " ")),
            p.split_counts_embedding && p.split_counts_loss
                ? ", counting the embedding and the loss"
            : p.split_counts_embedding ? ", counting the embedding"
            : p.split_counts_loss      ? ", counting the loss"
                                       : "");
  lines.add("comm_sms", "{}", p.comm_sms);
  const config::TrainingSpec& t = experiment.training;
  lines.add("training", "seq_len {}, global batch {} sequences ({} micro-batches per replica)",
            t.seq_len, t.global_batch_size, t.micro_batches(p));
  lines.add("precision", "{}", config::to_string(t.precision));
  lines.add("recompute", "{}",
            t.recompute == config::RecomputeMode::ops
                ? fmt::format("{}", fmt::join(t.recompute_ops, ", "))
                : std::string(config::to_string(t.recompute)));
  if (t.tokens) lines.add("tokens", "{:.4g}", *t.tokens);
  const std::optional<double> price = experiment.cost.gpu_hour_usd
                                          ? experiment.cost.gpu_hour_usd
                                          : experiment.hardware.price.gpu_hour_usd;
  if (price) lines.add("gpu_hour_usd", "{:.2f}", *price);
  return lines.str();
}

}  // namespace clustersim::report
