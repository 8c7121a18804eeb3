#include "sim/parallel/parallel_layout.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace clustersim::parallel {

std::string_view dimension_name(Dimension d) {
  switch (d) {
    case Dimension::tp:
      return "tp";
    case Dimension::cp:
      return "cp";
    case Dimension::dp:
      return "dp";
    case Dimension::pp:
      return "pp";
  }
  return "?";
}

ParallelLayout::ParallelLayout(LayoutSizes sizes, int gpus_per_node, std::array<Dimension, 4> order)
    : sizes_(sizes), gpus_per_node_(gpus_per_node), order_(order) {
  if (sizes.tp < 1 || sizes.cp < 1 || sizes.dp < 1 || sizes.pp < 1 || sizes.ep < 1 ||
      sizes.etp < 1 || gpus_per_node < 1) {
    throw std::invalid_argument("parallel sizes and GPUs per node must be at least 1");
  }
  const int stage_ranks = sizes.tp * sizes.cp * sizes.dp;
  if (stage_ranks % (sizes.ep * sizes.etp) != 0) {
    throw std::invalid_argument(
        fmt::format("ep {} x etp {} does not divide the tp x cp x dp = {} ranks of a pipeline "
                    "stage",
                    sizes.ep, sizes.etp, stage_ranks));
  }
  std::set<Dimension> seen(order.begin(), order.end());
  if (seen.size() != order.size()) {
    throw std::invalid_argument("the rank order must name tp, cp, dp and pp once each");
  }
}

int ParallelLayout::size(Dimension d) const {
  switch (d) {
    case Dimension::tp:
      return sizes_.tp;
    case Dimension::cp:
      return sizes_.cp;
    case Dimension::dp:
      return sizes_.dp;
    case Dimension::pp:
      return sizes_.pp;
  }
  return 1;
}

int ParallelLayout::stride(Dimension d) const {
  int stride = 1;
  for (Dimension inner : order_) {
    if (inner == d) return stride;
    stride *= size(inner);
  }
  return stride;
}

RankCoordinates ParallelLayout::coordinates(int gpu) const {
  RankCoordinates at;
  at.tp = gpu / stride(Dimension::tp) % sizes_.tp;
  at.cp = gpu / stride(Dimension::cp) % sizes_.cp;
  at.dp = gpu / stride(Dimension::dp) % sizes_.dp;
  at.pp = gpu / stride(Dimension::pp) % sizes_.pp;
  const int index = stage_index(at);
  at.etp = index % sizes_.etp;
  at.ep = index / sizes_.etp % sizes_.ep;
  at.edp = index / (sizes_.etp * sizes_.ep);
  return at;
}

int ParallelLayout::gpu(const RankCoordinates& at) const {
  return at.tp * stride(Dimension::tp) + at.cp * stride(Dimension::cp) +
         at.dp * stride(Dimension::dp) + at.pp * stride(Dimension::pp);
}

int ParallelLayout::stage_index(const RankCoordinates& at) const {
  // The stage's ranks in the placement order (pp left out), so consecutive indices are
  // neighbouring GPUs whenever pp is outermost.
  int index = 0;
  int scale = 1;
  for (Dimension d : order_) {
    if (d == Dimension::pp) continue;
    const int value = d == Dimension::tp ? at.tp : d == Dimension::cp ? at.cp : at.dp;
    index += value * scale;
    scale *= size(d);
  }
  return index;
}

int ParallelLayout::from_stage_index(int index, int pp_rank) const {
  RankCoordinates at;
  at.pp = pp_rank;
  for (Dimension d : order_) {
    if (d == Dimension::pp) continue;
    const int value = index % size(d);
    index /= size(d);
    if (d == Dimension::tp) at.tp = value;
    if (d == Dimension::cp) at.cp = value;
    if (d == Dimension::dp) at.dp = value;
  }
  return gpu(at);
}

std::vector<int> ParallelLayout::group(int gpu_index, Dimension along) const {
  RankCoordinates at = coordinates(gpu_index);
  std::vector<int> members;
  for (int i = 0; i < size(along); ++i) {
    if (along == Dimension::tp) at.tp = i;
    if (along == Dimension::cp) at.cp = i;
    if (along == Dimension::dp) at.dp = i;
    if (along == Dimension::pp) at.pp = i;
    members.push_back(gpu(at));
  }
  return members;
}

std::vector<int> ParallelLayout::ep_group(int gpu_index) const {
  const RankCoordinates at = coordinates(gpu_index);
  std::vector<int> members;
  for (int i = 0; i < sizes_.ep; ++i) {
    members.push_back(from_stage_index((at.edp * sizes_.ep + i) * sizes_.etp + at.etp, at.pp));
  }
  return members;
}

std::vector<int> ParallelLayout::etp_group(int gpu_index) const {
  const RankCoordinates at = coordinates(gpu_index);
  std::vector<int> members;
  for (int i = 0; i < sizes_.etp; ++i) {
    members.push_back(from_stage_index((at.edp * sizes_.ep + at.ep) * sizes_.etp + i, at.pp));
  }
  return members;
}

std::vector<int> ParallelLayout::dp_cp_group(int gpu_index) const {
  const RankCoordinates at = coordinates(gpu_index);
  std::vector<int> members;
  for (int index = 0; index < sizes_.tp * sizes_.cp * sizes_.dp; ++index) {
    const int member = from_stage_index(index, at.pp);
    if (coordinates(member).tp == at.tp) members.push_back(member);
  }
  return members;
}

std::vector<int> ParallelLayout::edp_group(int gpu_index) const {
  const RankCoordinates at = coordinates(gpu_index);
  const int replicas = sizes_.tp * sizes_.cp * sizes_.dp / (sizes_.ep * sizes_.etp);
  std::vector<int> members;
  for (int r = 0; r < replicas; ++r) {
    members.push_back(from_stage_index((r * sizes_.ep + at.ep) * sizes_.etp + at.etp, at.pp));
  }
  return members;
}

std::vector<std::vector<int>> ParallelLayout::ep_groups(int pp_rank) const {
  const int replicas = sizes_.tp * sizes_.cp * sizes_.dp / (sizes_.ep * sizes_.etp);
  std::vector<std::vector<int>> groups;
  for (int r = 0; r < replicas; ++r) {
    for (int t = 0; t < sizes_.etp; ++t) {
      groups.push_back(ep_group(from_stage_index(r * sizes_.ep * sizes_.etp + t, pp_rank)));
    }
  }
  return groups;
}

int ParallelLayout::nodes_spanned(const std::vector<int>& members) const {
  std::set<int> nodes;
  for (int g : members) nodes.insert(node_of(g));
  return static_cast<int>(nodes.size());
}

std::string ParallelLayout::describe() const {
  std::string order;
  for (Dimension d : order_)
    order += fmt::format("{}{}", order.empty() ? "" : ", ", dimension_name(d));
  return fmt::format("tp {} x cp {} x dp {} x pp {} (ep {}, etp {}), placed {} (innermost first)",
                     sizes_.tp, sizes_.cp, sizes_.dp, sizes_.pp, sizes_.ep, sizes_.etp, order);
}

}  // namespace clustersim::parallel
