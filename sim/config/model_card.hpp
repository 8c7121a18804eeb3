#pragma once
// A model card: the architecture of a transformer, nothing about how it is trained (precision,
// sequence length and batch belong to the experiment). See models/*.yaml.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sim/config/enum_names.hpp"

namespace clustersim::config {

enum class AttentionType { mha, gqa, mla };
enum class Activation { gelu, swiglu };
enum class NormType { layernorm, rmsnorm };
enum class PositionEmbedding { rope, learned, none };

// Sliding-window attention (Mistral 7B, Gemma 2 and 3, GPT-OSS): a query of a sliding layer
// attends to itself and the `tokens` - 1 tokens before it. With `full_every` k > 0, every k-th
// layer (layers k - 1, 2k - 1, ...) attends to the whole context instead; 0: every layer slides.
struct SlidingWindow {
  std::int64_t tokens = 0;
  int full_every = 0;
};

struct AttentionSpec {
  AttentionType type = AttentionType::mha;
  int heads = 0;
  // MHA / GQA
  int kv_heads = 0;  // equals heads for MHA
  int head_dim = 0;
  // MLA (DeepSeek-V2/V3): low-rank compressed queries and keys/values, decoupled RoPE key
  std::optional<std::int64_t> q_lora_rank;  // absent: queries are not compressed
  std::int64_t kv_lora_rank = 0;
  int qk_nope_head_dim = 0;
  int qk_rope_head_dim = 0;
  int v_head_dim = 0;
  bool qkv_bias = false;                        // biases on the Q, K and V projections only (Qwen)
  std::optional<SlidingWindow> sliding_window;  // absent: every layer attends to the whole context
};

struct FfnSpec {
  Activation activation = Activation::swiglu;
  std::int64_t hidden_size = 0;  // intermediate size of the dense FFN
};

struct MoeSpec {
  int experts = 0;  // routed experts per MoE layer
  int shared_experts = 0;
  int top_k = 0;  // routed experts per token
  std::int64_t expert_hidden_size = 0;
  int first_dense_layers = 0;  // leading layers that keep a dense FFN
  int groups = 1;              // expert groups for group-limited (node-limited) routing
  int max_groups_per_token = 1;
};

struct ModelCard {
  std::string name;
  std::string source;
  int layers = 0;
  std::int64_t hidden_size = 0;
  std::int64_t vocab_size = 0;
  std::int64_t max_seq_len = 0;
  NormType norm = NormType::rmsnorm;
  bool tied_embeddings = false;
  PositionEmbedding position_embedding = PositionEmbedding::rope;
  bool linear_bias = false;  // biases on every linear layer (GPT-2/3 style)
  AttentionSpec attention;
  FfnSpec ffn;
  std::optional<MoeSpec> moe;  // absent for dense models
  int mtp_modules = 0;         // multi-token-prediction modules (DeepSeek-V3: 1)
};

inline constexpr std::array<EnumName<AttentionType>, 3> kAttentionTypeNames{
    {{"mha", AttentionType::mha}, {"gqa", AttentionType::gqa}, {"mla", AttentionType::mla}}};
inline constexpr std::array<EnumName<Activation>, 2> kActivationNames{
    {{"gelu", Activation::gelu}, {"swiglu", Activation::swiglu}}};
inline constexpr std::array<EnumName<NormType>, 2> kNormNames{
    {{"layernorm", NormType::layernorm}, {"rmsnorm", NormType::rmsnorm}}};
inline constexpr std::array<EnumName<PositionEmbedding>, 3> kPositionEmbeddingNames{
    {{"rope", PositionEmbedding::rope},
     {"learned", PositionEmbedding::learned},
     {"none", PositionEmbedding::none}}};

[[nodiscard]] constexpr std::string_view to_string(AttentionType type) {
  return name_of(kAttentionTypeNames, type);
}
[[nodiscard]] constexpr std::string_view to_string(Activation activation) {
  return name_of(kActivationNames, activation);
}
[[nodiscard]] constexpr std::string_view to_string(NormType norm) {
  return name_of(kNormNames, norm);
}
[[nodiscard]] constexpr std::string_view to_string(PositionEmbedding position) {
  return name_of(kPositionEmbeddingNames, position);
}

}  // namespace clustersim::config
