#include "sim/report/model_report.hpp"

#include <optional>

#include <fmt/format.h>

#include "sim/report/config_json.hpp"
#include "sim/report/config_text.hpp"

namespace clustersim::report {
namespace {

std::string billions(double value) {
  return fmt::format("{:.2f}B", value / 1e9);
}

}  // namespace

nlohmann::json model_report_json(const config::ModelCard& card, const workload::ModelStats& stats) {
  using nlohmann::json;
  const workload::ParameterCounts& p = stats.params;
  json layers = json::array();
  for (const workload::LayerStats& layer : stats.layers) {
    layers.push_back(
        {{"index", layer.index},
         {"moe", layer.moe},
         {"params", layer.params},
         {"active_params", layer.active_params},
         {"forward_matmul_flops_per_token", layer.forward_matmul_flops},
         {"forward_attention_flops_per_token_causal", layer.forward_attention_flops_causal},
         {"forward_attention_flops_per_token_noncausal", layer.forward_attention_flops_noncausal}});
  }
  return json{{"name", card.name},
              {"seq_len", stats.seq_len},
              {"params_total", p.total()},
              {"params_active", p.active()},
              {"params",
               {{"embedding", p.embedding},
                {"output_head", p.output_head},
                {"attention", p.attention},
                {"dense_ffn", p.dense_ffn},
                {"routed_experts", p.routed_experts},
                {"shared_experts", p.shared_experts},
                {"routers", p.routers},
                {"norms", p.norms},
                {"active_routed_experts", p.active_routed_experts},
                {"mtp", p.mtp}}},
              {"train_flops_per_token",
               {{"causal", stats.train_flops_per_token_causal()},
                {"noncausal", stats.train_flops_per_token_noncausal()}}},
              {"forward_flops_per_token",
               {{"matmul", stats.forward_matmul_flops_per_token},
                {"attention_causal", stats.forward_attention_flops_causal},
                {"attention_noncausal", stats.forward_attention_flops_noncausal}}},
              {"kv_cache_bytes_per_token", stats.kv_cache_bytes_per_token},
              {"layers", layers},
              {"card", to_json(card)}};
}

std::string model_report_text(const config::ModelCard& card, const workload::ModelStats& stats) {
  const workload::ParameterCounts& p = stats.params;
  std::string text = to_text(card);
  auto line = [&text](std::string_view key, const std::string& value) {
    text += fmt::format("  {:<22} {}\n", key, value);
  };
  text += "counts\n";
  line("parameters",
       fmt::format("{} total, {} active per token", billions(p.total()), billions(p.active())));
  line("", fmt::format("embedding {}, head {}, attention {}, dense FFN {}", billions(p.embedding),
                       billions(p.output_head), billions(p.attention), billions(p.dense_ffn)));
  if (card.moe) {
    line("", fmt::format("routed experts {} ({} active), shared {}, routers {}",
                         billions(p.routed_experts), billions(p.active_routed_experts),
                         billions(p.shared_experts), billions(p.routers)));
  }
  if (p.mtp > 0) line("", fmt::format("MTP modules {} (not in the totals)", billions(p.mtp)));
  line("training FLOPs/token",
       fmt::format("{:.1f} GFLOP causal, {:.1f} GFLOP non-causal at seq_len {}",
                   stats.train_flops_per_token_causal() / 1e9,
                   stats.train_flops_per_token_noncausal() / 1e9, stats.seq_len));
  line("KV cache per token", fmt::format("{:.0f} B (BF16)", stats.kv_cache_bytes_per_token));
  text += "layers (forward GFLOP per token, causal)\n";
  // Consecutive layers of the same kind are one row.
  for (std::size_t i = 0; i < stats.layers.size();) {
    std::size_t j = i;
    while (j + 1 < stats.layers.size() && stats.layers[j + 1].moe == stats.layers[i].moe) ++j;
    const workload::LayerStats& layer = stats.layers[i];
    const auto gflop = [&](std::size_t k) {
      const workload::LayerStats& row = stats.layers[k];
      return (row.forward_matmul_flops + row.forward_attention_flops_causal) / 1e9;
    };
    // Under a sliding window the row's sliding and full layers differ in attention work.
    std::optional<std::size_t> sliding, full;
    for (std::size_t k = i; k <= j; ++k) {
      (workload::slides(card, static_cast<int>(k)) ? sliding : full).emplace(k);
    }
    const std::string work = sliding && full ? fmt::format("{:.3f} GFLOP sliding, {:.3f} full",
                                                           gflop(*sliding), gflop(*full))
                             : sliding       ? fmt::format("{:.3f} GFLOP sliding", gflop(*sliding))
                                             : fmt::format("{:.3f} GFLOP", gflop(i));
    line(i == j ? fmt::format("{}", i) : fmt::format("{}-{}", i, j),
         fmt::format("{}: {} params, {} active, {}", layer.moe ? "MoE" : "dense",
                     billions(layer.params), billions(layer.active_params), work));
    i = j + 1;
  }
  return text;
}

}  // namespace clustersim::report
