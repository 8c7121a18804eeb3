#include "sim/report/config_json.hpp"

namespace clustersim::report {
namespace {

using nlohmann::json;

template <class T>
json optional_json(const std::optional<T>& value) {
  return value ? json(*value) : json(nullptr);
}

}  // namespace

json to_json(const config::ModelCard& card) {
  json out;
  out["name"] = card.name;
  out["source"] = card.source;
  out["layers"] = card.layers;
  out["hidden_size"] = card.hidden_size;
  out["vocab_size"] = card.vocab_size;
  out["max_seq_len"] = card.max_seq_len;
  out["norm"] = config::to_string(card.norm);
  out["tied_embeddings"] = card.tied_embeddings;
  out["position_embedding"] = config::to_string(card.position_embedding);
  out["linear_bias"] = card.linear_bias;
  const config::AttentionSpec& a = card.attention;
  json attention{{"type", config::to_string(a.type)}, {"heads", a.heads}, {"qkv_bias", a.qkv_bias}};
  if (a.type == config::AttentionType::mla) {
    attention["q_lora_rank"] = optional_json(a.q_lora_rank);
    attention["kv_lora_rank"] = a.kv_lora_rank;
    attention["qk_nope_head_dim"] = a.qk_nope_head_dim;
    attention["qk_rope_head_dim"] = a.qk_rope_head_dim;
    attention["v_head_dim"] = a.v_head_dim;
  } else {
    attention["kv_heads"] = a.kv_heads;
    attention["head_dim"] = a.head_dim;
  }
  if (a.sliding_window) {
    attention["sliding_window"] = {{"tokens", a.sliding_window->tokens},
                                   {"full_every", a.sliding_window->full_every}};
  }
  out["attention"] = attention;
  out["ffn"] = {{"activation", config::to_string(card.ffn.activation)},
                {"hidden_size", card.ffn.hidden_size}};
  if (card.moe) {
    const config::MoeSpec& m = *card.moe;
    out["moe"] = {{"experts", m.experts},
                  {"shared_experts", m.shared_experts},
                  {"top_k", m.top_k},
                  {"expert_hidden_size", m.expert_hidden_size},
                  {"first_dense_layers", m.first_dense_layers},
                  {"groups", m.groups},
                  {"max_groups_per_token", m.max_groups_per_token}};
  } else {
    out["moe"] = nullptr;
  }
  out["mtp_modules"] = card.mtp_modules;
  return out;
}

json to_json(const config::HardwareProfile& profile) {
  json out;
  out["name"] = profile.name;
  out["description"] = profile.description;
  const config::GpuSpec& g = profile.gpu;
  json peak = json::object();
  for (Dtype dtype : kAllDtypes) {
    if (auto rate = g.peak(dtype)) peak[std::string(dtype_name(dtype))] = rate->flop_per_s;
  }
  out["gpu"] = {{"model", g.model},
                {"sm_count", g.sm_count},
                {"boost_clock_hz", g.boost_clock.hz},
                {"dense_peak_flop_per_s", peak},
                {"memory_capacity_bytes", g.memory_capacity.bytes},
                {"memory_bandwidth_bytes_per_s", g.memory_bandwidth.bytes_per_s},
                {"tdp_watts", g.tdp ? json(g.tdp->watts) : json(nullptr)}};
  const config::ScaleUpSpec& u = profile.scale_up;
  out["scale_up"] = {{"technology", u.technology},
                     {"domain_size", u.domain_size},
                     {"aggregate_bandwidth_bytes_per_s", u.aggregate_bandwidth.bytes_per_s},
                     {"per_direction_bytes_per_s", u.per_direction().bytes_per_s},
                     {"efficiency", u.efficiency},
                     {"achievable_bytes_per_s", u.achievable().bytes_per_s},
                     {"latency_s", u.latency.seconds()}};
  if (profile.scale_out) {
    const config::ScaleOutSpec& o = *profile.scale_out;
    out["scale_out"] = {{"technology", o.technology},
                        {"nics_per_node", o.nics_per_node},
                        {"nic_bandwidth_bytes_per_s", o.nic_bandwidth.bytes_per_s},
                        {"efficiency", o.efficiency},
                        {"achievable_bytes_per_s", o.achievable().bytes_per_s},
                        {"latency_s", o.latency.seconds()}};
  } else {
    out["scale_out"] = nullptr;
  }
  if (profile.pcie) {
    out["pcie"] = {{"generation", profile.pcie->generation},
                   {"lanes", profile.pcie->lanes},
                   {"bandwidth_bytes_per_s", profile.pcie->bandwidth.bytes_per_s}};
  } else {
    out["pcie"] = nullptr;
  }
  out["price"] = {
      {"gpu_hour_usd", optional_json(profile.price.gpu_hour_usd)},
      {"capex_per_gpu_usd", optional_json(profile.price.capex_per_gpu_usd)},
      {"power_fraction", optional_json(profile.price.energy.power_fraction)},
      {"pue", optional_json(profile.price.energy.pue)},
      {"electricity_usd_per_kwh", optional_json(profile.price.energy.electricity_usd_per_kwh)}};
  return out;
}

json to_json(const config::TopologySpec& spec) {
  json out;
  out["name"] = spec.name;
  out["description"] = spec.description;
  out["generator"] = config::to_string(spec.generator);
  out["switch_radix"] = spec.switch_radix;
  out["levels"] = spec.levels;
  out["planes"] = spec.planes;
  out["oversubscription"] = spec.oversubscription;
  out["link_bandwidth_bytes_per_s"] =
      spec.link_bandwidth ? json(spec.link_bandwidth->bytes_per_s) : json(nullptr);
  out["switch_latency_s"] =
      spec.switch_latency ? json(spec.switch_latency->seconds()) : json(nullptr);
  if (spec.generator == config::TopologyGenerator::slim_fly) out["q"] = spec.slim_fly_q;
  if (spec.generator == config::TopologyGenerator::dragonfly) {
    out["p"] = spec.dragonfly_p;
    out["a"] = spec.dragonfly_a;
    out["h"] = spec.dragonfly_h;
    out["groups"] = optional_json(spec.dragonfly_groups);
  }
  return out;
}

json to_json(const config::Experiment& experiment) {
  json out;
  out["name"] = experiment.name;
  out["file"] = experiment.file;
  out["model"] = to_json(experiment.model);
  out["hardware"] = to_json(experiment.hardware);
  out["cluster"] = {{"nodes", experiment.cluster.nodes},
                    {"gpus_per_node", experiment.cluster.gpus_per_node},
                    {"gpus", experiment.cluster.gpus()},
                    {"topology", experiment.cluster.topology ? to_json(*experiment.cluster.topology)
                                                             : json(nullptr)}};
  const config::ParallelismSpec& p = experiment.parallelism;
  out["parallelism"] = {
      {"tp", p.tp},
      {"pp", p.pp},
      {"ep", p.ep},
      {"cp", p.cp},
      {"dp", p.dp},
      {"zero", p.zero},
      {"schedule", config::to_string(p.schedule)},
      {"virtual_stages", p.virtual_stages},
      {"micro_batch_size", p.micro_batch_size},
      {"sequence_parallel", p.sequence_parallel},
      {"comm_sms", p.comm_sms},
      {"stage_layers", p.stage_layers.empty() ? json("auto") : json(p.stage_layers)}};
  if (p.split_counted_blocks() > 0) {
    json counts = json::array();
    if (p.split_counts_embedding) counts.push_back("embedding");
    if (p.split_counts_loss) counts.push_back("loss");
    out["parallelism"]["pipeline_split_counts"] = std::move(counts);
  }
  const config::TrainingSpec& t = experiment.training;
  json recompute = config::to_string(t.recompute);
  if (t.recompute == config::RecomputeMode::ops) recompute = t.recompute_ops;
  out["training"] = {{"seq_len", t.seq_len},
                     {"global_batch_size", t.global_batch_size},
                     {"micro_batches", t.micro_batches(p)},
                     {"precision", config::to_string(t.precision)},
                     {"recompute", recompute},
                     {"tokens", optional_json(t.tokens)}};
  out["cost"] = {
      {"gpu_hour_usd", optional_json(experiment.cost.gpu_hour_usd)},
      {"power_fraction", optional_json(experiment.cost.energy.power_fraction)},
      {"pue", optional_json(experiment.cost.energy.pue)},
      {"electricity_usd_per_kwh", optional_json(experiment.cost.energy.electricity_usd_per_kwh)}};
  return out;
}

json to_json(const config::ConfigError& error) {
  json diagnostics = json::array();
  for (const config::Diagnostic& d : error.diagnostics()) {
    diagnostics.push_back({{"file", d.location.file},
                           {"line", d.location.line},
                           {"column", d.location.column},
                           {"key", d.key_path},
                           {"message", d.message},
                           {"infeasible", d.infeasible}});
  }
  return diagnostics;
}

}  // namespace clustersim::report
