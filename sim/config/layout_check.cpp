#include "sim/config/layout_check.hpp"

#include <fmt/format.h>

#include "sim/config/enum_names.hpp"

namespace clustersim::config {

std::vector<LayoutProblem> check_layout(Experiment& experiment) {
  std::vector<LayoutProblem> problems;
  const auto parallelism_problem = [&](std::string key, std::string message) {
    problems.push_back({LayoutSection::parallelism, std::move(key), std::move(message)});
  };
  const auto training_problem = [&](std::string key, std::string message) {
    problems.push_back({LayoutSection::training, std::move(key), std::move(message)});
  };
  ParallelismSpec& p = experiment.parallelism;
  const ModelCard& model = experiment.model;
  const std::int64_t gpus = experiment.cluster.gpus();
  const std::int64_t model_parallel = static_cast<std::int64_t>(p.tp) * p.pp * p.cp;
  if (gpus <= 0 || model_parallel <= 0) return problems;
  if (gpus % model_parallel != 0) {
    parallelism_problem(
        "tp", fmt::format("tp x pp x cp = {} x {} x {} = {} does not divide the {} GPUs "
                          "({} nodes x {})",
                          p.tp, p.pp, p.cp, model_parallel, gpus, experiment.cluster.nodes,
                          experiment.cluster.gpus_per_node));
    return problems;
  }
  p.dp = gpus / model_parallel;
  const std::int64_t expert_domain = p.dp * p.tp * p.cp;
  if (p.ep > 1 && !model.moe) {
    parallelism_problem("ep",
                        fmt::format("ep = {}, but model \"{}\" has no experts", p.ep, model.name));
  } else if (expert_domain % p.ep != 0) {
    parallelism_problem(
        "ep", fmt::format("ep = {} does not divide dp x tp x cp = {}", p.ep, expert_domain));
  } else if (expert_domain % (static_cast<std::int64_t>(p.ep) * p.etp) != 0) {
    parallelism_problem("etp", fmt::format("ep x etp = {} x {} does not divide dp x tp x cp = {}",
                                           p.ep, p.etp, expert_domain));
  } else if (p.etp > 1 && !model.moe) {
    parallelism_problem(
        "etp", fmt::format("etp = {}, but model \"{}\" has no experts", p.etp, model.name));
  } else if (model.moe && model.moe->expert_hidden_size % p.etp != 0) {
    parallelism_problem("etp", fmt::format("an expert's {} hidden units cannot be split over "
                                           "etp = {} ranks",
                                           model.moe->expert_hidden_size, p.etp));
  } else if (model.moe && model.moe->experts % p.ep != 0) {
    parallelism_problem("ep", fmt::format("{} experts cannot be spread evenly over ep = {} ranks",
                                          model.moe->experts, p.ep));
  }
  if (model.attention.heads % p.tp != 0) {
    parallelism_problem("tp", fmt::format("{} attention heads cannot be split over tp = {}",
                                          model.attention.heads, p.tp));
  }
  const int counted = p.split_counted_blocks();
  const int stages = p.model_stages();
  if (counted == 0 && p.pp * p.virtual_stages > model.layers) {
    parallelism_problem("pp",
                        fmt::format("pp x virtual_stages = {} stages exceed the model's {} layers",
                                    p.pp * p.virtual_stages, model.layers));
  } else if (counted > 0 && (model.layers + counted) % stages != 0) {
    // Megatron-Core asserts the same: the layers and the counted blocks split evenly.
    parallelism_problem("pipeline_split_counts",
                        fmt::format("the model's {} layers and the {} counted block{} ({}) do not "
                                    "split evenly over the {} pipeline stages",
                                    model.layers, counted, counted == 1 ? "" : "s",
                                    model.layers + counted, stages));
  }
  if (experiment.training.precision == Precision::fp8 &&
      !experiment.hardware.gpu.peak(Dtype::fp8)) {
    training_problem("precision",
                     fmt::format("fp8 training needs an FP8 tensor-core peak, and hardware "
                                 "profile {} ({}) gives none in gpu.dense_peak",
                                 experiment.hardware.name, experiment.hardware.gpu.model));
  }
  if (p.comm_sms >= experiment.hardware.gpu.sm_count) {
    parallelism_problem("comm_sms",
                        fmt::format("{} SMs for communication leave none of the {} SMs for compute",
                                    p.comm_sms, experiment.hardware.gpu.sm_count));
  }
  if (experiment.model.moe && p.ep > 1 && experiment.stack.dispatcher == MoeDispatcher::deepep &&
      experiment.hardware.communication && p.comm_sms < 2) {
    parallelism_problem(
        "comm_sms",
        fmt::format("DeepEP's normal kernels move the tokens with SMs: give comm_sms of at least "
                    "2 (one channel), got {} (DeepSeek-V3 trained with 20)",
                    p.comm_sms));
  }
  if (p.virtual_stages > 1 && p.schedule != Schedule::interleaved) {
    parallelism_problem("virtual_stages",
                        fmt::format("virtual_stages = {} needs schedule: interleaved, not {}",
                                    p.virtual_stages, to_string(p.schedule)));
  }
  const TrainingSpec& t = experiment.training;
  const std::int64_t per_step = p.dp * p.micro_batch_size;
  if (t.global_batch_size % per_step != 0) {
    training_problem("global_batch_size",
                     fmt::format("{} sequences do not split into dp = {} replicas x "
                                 "micro_batch_size = {}",
                                 t.global_batch_size, p.dp, p.micro_batch_size));
  } else {
    const std::int64_t micro_batches = t.global_batch_size / per_step;
    const bool dual = p.schedule == Schedule::dualpipe || p.schedule == Schedule::dualpipev;
    if (dual && (p.pp % 2 != 0 || micro_batches % 2 != 0)) {
      parallelism_problem(
          "schedule",
          fmt::format("{} needs an even number of stages and of micro-batches, got pp = {} "
                      "and {} micro-batches",
                      to_string(p.schedule), p.pp, micro_batches));
    } else if (dual && micro_batches < 2 * p.pp) {
      // DualPipe feeds half the micro-batches from each end; its warm-up alone takes 2 pp.
      parallelism_problem("schedule",
                          fmt::format("{} needs at least 2 x pp = {} micro-batches, got {}",
                                      to_string(p.schedule), 2 * p.pp, micro_batches));
    }
    if (p.schedule == Schedule::interleaved && micro_batches % p.pp != 0) {
      parallelism_problem(
          "schedule",
          fmt::format("interleaved 1F1B needs micro-batches ({}) to be a multiple of pp "
                      "({})",
                      micro_batches, p.pp));
    }
  }
  if (t.seq_len > model.max_seq_len) {
    training_problem("seq_len", fmt::format("{} exceeds the model's max_seq_len of {}", t.seq_len,
                                            model.max_seq_len));
  }
  if (t.seq_len % p.cp != 0) {
    training_problem("seq_len",
                     fmt::format("{} tokens do not split over cp = {} ranks", t.seq_len, p.cp));
  }
  if (experiment.cluster.topology &&
      experiment.cluster.topology->generator == TopologyGenerator::single_node &&
      experiment.cluster.nodes > 1) {
    problems.push_back(
        {LayoutSection::cluster, "nodes",
         fmt::format("topology \"{}\" is a single node, but the cluster has {} nodes",
                     experiment.cluster.topology->name, experiment.cluster.nodes)});
  }
  return problems;
}

}  // namespace clustersim::config
