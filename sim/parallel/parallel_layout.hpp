#pragma once
// Where every rank of a parallel strategy sits on the cluster's GPUs.
//
// A GPU's global index g (node-major: node = g / gpus_per_node) is split into coordinates along
// the parallel dimensions in a configurable order, innermost first. The default order, tp, cp,
// dp, pp, keeps tensor-parallel groups inside a node (their traffic is the heaviest) and puts the
// pipeline dimension outermost, as Megatron-LM does:
//   g = tp_rank + tp x (cp_rank + cp x (dp_rank + dp x pp_rank)).
// Expert parallelism spreads experts over `ep` ranks carved from the tp x cp x dp ranks of one
// pipeline stage, consecutive in that order (so an EP group of 64 on 8-GPU nodes spans 8 whole
// nodes, as DeepSeek-V3 places it, TR §3.2); the ranks holding the same experts form the
// expert-data-parallel group, of size tp x cp x dp / ep. With expert tensor parallelism (etp > 1,
// Megatron-Core's "MoE parallel folding") the stage's ranks are etp x ep x edp, etp innermost:
// each EP group's ranks are etp apart, and every expert's FFN is split over etp neighbours.

#include <array>
#include <string>
#include <vector>

namespace clustersim::parallel {

enum class Dimension { tp, cp, dp, pp };

struct RankCoordinates {
  int tp = 0;
  int cp = 0;
  int dp = 0;
  int pp = 0;
  int ep = 0;   // position in the expert-parallel group
  int edp = 0;  // which replica of the experts
  int etp = 0;  // position in the expert-tensor-parallel group
};

struct LayoutSizes {
  int tp = 1;
  int cp = 1;
  int dp = 1;
  int pp = 1;
  int ep = 1;
  int etp = 1;  // expert tensor parallelism: each expert's FFN split over etp ranks
};

class ParallelLayout {
 public:
  // Throws std::invalid_argument when the sizes do not divide (the config loader reports such
  // input before it gets here, with its location).
  ParallelLayout(LayoutSizes sizes, int gpus_per_node,
                 std::array<Dimension, 4> order = {Dimension::tp, Dimension::cp, Dimension::dp,
                                                   Dimension::pp});

  [[nodiscard]] const LayoutSizes& sizes() const { return sizes_; }
  [[nodiscard]] int gpus() const { return sizes_.tp * sizes_.cp * sizes_.dp * sizes_.pp; }
  [[nodiscard]] int gpus_per_node() const { return gpus_per_node_; }
  [[nodiscard]] int node_of(int gpu) const { return gpu / gpus_per_node_; }

  [[nodiscard]] RankCoordinates coordinates(int gpu) const;
  [[nodiscard]] int gpu(const RankCoordinates& at) const;  // uses tp, cp, dp, pp

  // The GPUs of `gpu`'s group along one dimension, ordered by rank in that group.
  [[nodiscard]] std::vector<int> group(int gpu, Dimension along) const;
  [[nodiscard]] std::vector<int> ep_group(int gpu) const;
  // The ranks that reduce `gpu`'s dense gradients and shard its optimizer state: every rank of its
  // tp position and pipeline stage (dp x cp of them; context-parallel ranks see other tokens of
  // the same sequences, so their gradients sum too), in placement order.
  [[nodiscard]] std::vector<int> dp_cp_group(int gpu) const;
  [[nodiscard]] std::vector<int> edp_group(int gpu) const;  // same experts, other replicas
  [[nodiscard]] std::vector<int> etp_group(int gpu) const;  // the ranks sharing its experts' FFNs
  // Every EP group of one pipeline stage.
  [[nodiscard]] std::vector<std::vector<int>> ep_groups(int pp_rank) const;
  // Nodes one group spans.
  [[nodiscard]] int nodes_spanned(const std::vector<int>& group) const;

  [[nodiscard]] std::string describe() const;

 private:
  [[nodiscard]] int size(Dimension d) const;
  [[nodiscard]] int stride(Dimension d) const;
  // Index of `gpu` among the tp x cp x dp ranks of its stage, tp fastest.
  [[nodiscard]] int stage_index(const RankCoordinates& at) const;
  [[nodiscard]] int from_stage_index(int index, int pp_rank) const;

  LayoutSizes sizes_;
  int gpus_per_node_;
  std::array<Dimension, 4> order_;
};

[[nodiscard]] std::string_view dimension_name(Dimension d);

}  // namespace clustersim::parallel
