#pragma once
// The report of `clustersim model`: the resolved card with its parameter counts, training FLOPs
// per token and KV cache per token.

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/model_card.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::report {

// Keys (DESIGN.md): params_total, params_active, train_flops_per_token {causal, noncausal},
// kv_cache_bytes_per_token; plus seq_len, params (breakdown), layers, and the card.
[[nodiscard]] nlohmann::json model_report_json(const config::ModelCard& card,
                                               const workload::ModelStats& stats);
[[nodiscard]] std::string model_report_text(const config::ModelCard& card,
                                            const workload::ModelStats& stats);

}  // namespace clustersim::report
