#pragma once
// An experiment: a model trained on a cluster under a parallel strategy, fully resolved (library
// cards loaded, `base:` chains and overrides applied, cross-field checks done).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/enum_names.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/model_card.hpp"
#include "sim/config/software_stack.hpp"
#include "sim/config/topology_spec.hpp"

namespace clustersim::config {

enum class Schedule { gpipe, one_f_one_b, interleaved, zb1p, dualpipe, dualpipev };
enum class Precision { fp8, bf16 };
enum class RecomputeMode { none, selective, full, ops };

struct ClusterSpec {
  int nodes = 0;
  int gpus_per_node = 0;
  std::optional<TopologySpec> topology;  // absent: a single node, or given later by a study
  [[nodiscard]] std::int64_t gpus() const {
    return static_cast<std::int64_t>(nodes) * gpus_per_node;
  }
};

struct ParallelismSpec {
  int tp = 1;
  int pp = 1;
  int ep = 1;
  int etp = 1;  // expert tensor parallelism (Megatron-Core's MoE parallel folding)
  int cp = 1;
  int zero = 0;  // ZeRO stage 0..3
  Schedule schedule = Schedule::one_f_one_b;
  int virtual_stages = 1;
  int micro_batch_size = 1;  // sequences
  bool sequence_parallel = false;
  int comm_sms = 0;               // SMs held by communication kernels
  std::vector<int> stage_layers;  // empty: automatic split
  // Placement of the parallel dimensions on the GPUs, innermost first; empty: tp, cp, dp, pp.
  std::vector<std::string> rank_order;
  bool balance_stages = false;  // stage_layers: balanced (the step simulation balances the
                                // devices' compute; the memory estimate follows it)
  // pipeline_split_counts: the automatic split counts the embedding (on the first stage) and the
  // loss (on the last) as one layer each, as Megatron-Core's --account-for-embedding-in-
  // pipeline-split and --account-for-loss-in-pipeline-split do.
  bool split_counts_embedding = false;
  bool split_counts_loss = false;
  [[nodiscard]] int split_counted_blocks() const {
    return (split_counts_embedding ? 1 : 0) + (split_counts_loss ? 1 : 0);
  }
  // Model stages (chunks) the layers split into: DualPipeV folds 2 onto each pp rank (a V); the
  // other schedules have pp x virtual_stages.
  [[nodiscard]] int model_stages() const {
    return schedule == Schedule::dualpipev ? 2 * pp : pp * virtual_stages;
  }
  std::int64_t dp = 1;  // derived: gpus / (tp * pp * cp)
};

struct TrainingSpec {
  std::int64_t seq_len = 0;
  std::int64_t global_batch_size = 0;  // sequences
  Precision precision = Precision::bf16;
  RecomputeMode recompute = RecomputeMode::none;
  std::vector<std::string> recompute_ops;  // when recompute is a list of op names
  std::optional<double> tokens;            // training budget
  double dropout = 0;  // probability of the attention and hidden dropouts (0: no dropout kernels)
  // MoE routing skew (see sim/workload/moe_routing.hpp): a Zipf exponent of expert popularity,
  // or a measured histogram of tokens per expert (one EP group, one micro-batch).
  double moe_zipf = 0;
  std::vector<double> moe_histogram;
  // Memory the framework takes beyond the model: CUDA context and caching-allocator slack.
  DataSize memory_overhead{3.0 * 1024 * 1024 * 1024};
  [[nodiscard]] std::int64_t micro_batches(const ParallelismSpec& p) const {
    return global_batch_size / (p.dp * p.micro_batch_size);
  }
};

// How the step simulation treats the groups that run the same communication.
enum class Symmetry {
  on,   // one representative group of each kind (the others are taken to run alike, apart)
  off,  // every group at once on the one fabric: replicas contend where they share links
};

inline constexpr std::array<EnumName<Symmetry>, 2> kSymmetryNames{
    {{"on", Symmetry::on}, {"off", Symmetry::off}}};

[[nodiscard]] constexpr std::string_view to_string(Symmetry symmetry) {
  return name_of(kSymmetryNames, symmetry);
}

struct SimulationSpec {
  Symmetry symmetry = Symmetry::on;
  // The flow model's departure batching, a fraction in [0, 1): 0 re-solves the rates after every
  // departure (exact max-min); f holds departures back until f of the active flows have left
  // (fabric::FlowModel::set_departure_batching states what it keeps and what it gives up).
  double departure_batching = 0;
};

struct CostSpec {
  std::optional<double> gpu_hour_usd;  // absent: the hardware profile's assumption
  EnergySpec energy;                   // each absent value: the hardware profile's assumption
};

// Figures a publication reports for this experiment, printed beside the simulated ones.
//   step_time_s ... days_per_trillion_tokens   the training step and what follows from it;
//   tokens_per_s_per_gpu, model_tflops_per_gpu  throughput tables (NeMo's conventions);
//   layer_forward_ms, layer_backward_ms        one transformer layer of one micro-batch (the
//                                              backward with its recomputation), as Korthikanti
//                                              et al. Table 4 times it;
//   chunk_pair_ms, chunk_pair_compute_ms       a DualPipe forward + backward chunk pair of
//                                              `chunk_pair_layers` MoE layers: its span, and the
//                                              busy time of its compute stream.
inline constexpr std::array<std::string_view, 20> kPublishedKeys{"step_time_s",
                                                                 "1F",
                                                                 "bubble",
                                                                 "1B",
                                                                 "1W",
                                                                 "1F1B",
                                                                 "opt",
                                                                 "tflops_causal",
                                                                 "tflops_noncausal",
                                                                 "mfu_causal",
                                                                 "mfu_noncausal",
                                                                 "tokens_per_day",
                                                                 "gpu_hours_per_trillion_tokens",
                                                                 "days_per_trillion_tokens",
                                                                 "tokens_per_s_per_gpu",
                                                                 "model_tflops_per_gpu",
                                                                 "layer_forward_ms",
                                                                 "layer_backward_ms",
                                                                 "chunk_pair_ms",
                                                                 "chunk_pair_compute_ms"};

// The published keys that are rates (more is better); every other key is a time or a cost.
inline constexpr std::array<std::string_view, 7> kPublishedRates{
    "tflops_causal",  "tflops_noncausal",     "mfu_causal",          "mfu_noncausal",
    "tokens_per_day", "tokens_per_s_per_gpu", "model_tflops_per_gpu"};

struct PublishedFigures {
  std::string source;
  std::string family;                                  // for the validation suite's summary
  std::vector<std::string> assumptions;                // what the source leaves open
  int chunk_pair_layers = 0;                           // MoE layers per chunk of the pair
  std::vector<std::pair<std::string, double>> values;  // in kPublishedKeys order
  // Time per kernel class of the chunk pair, milliseconds ("gemm", "quantize", ...).
  std::vector<std::pair<std::string, double>> kernel_ms;
};

// The candidates of one dimension of a layout search (`clustersim search`): the values given, or
// the dimension's default candidates within [min, max]; nothing given: the defaults.
struct SearchChoices {
  std::vector<int> values;  // empty: the defaults
  std::optional<int> min, max;
};

// The `search:` block of an experiment: what a layout search may vary, each dimension written
// as a value (fixed), a list of values, or {min, max} bounds on its defaults.
struct SearchSpace {
  SearchChoices tp, pp, ep, cp, zero, virtual_stages, micro_batch_size, comm_sms;
  std::vector<Schedule> schedules;     // empty: the defaults
  std::vector<std::string> recompute;  // "none", "selective", "full", "as_written"
};

// One cluster design a plan may size (`clustersim plan`): a hardware profile, its scale-out
// network, and the GPUs of one node.
struct PlanCandidate {
  std::string label;  // `name`, else "HARDWARE on TOPOLOGY"
  HardwareProfile hardware;
  std::optional<TopologySpec> topology;     // absent: the experiment's
  int gpus_per_node = 0;                    // 0: the profile's scale-up domain
  std::optional<double> gpu_hour_usd;       // absent: the profile's assumption
  std::optional<double> capex_per_gpu_usd;  // absent: the profile's assumption
};

// The `plan:` block of an experiment: the goal a cluster must meet and the designs to size for
// it. Both goals become a cap on the step time at each cluster size (sim/report/cluster_plan.hpp).
struct PlanSpec {
  std::optional<double> tokens;         // absent: training.tokens
  std::optional<double> deadline_days;  // train `tokens` within this many days
  std::optional<double> budget_usd;     // rental and energy within this many dollars
  SearchChoices nodes;  // the node counts tried; default ladder 1, 2, 3, 4, 6, 8, ...
  std::string cost_profile = "ib_as_bought";  // prices the network's switches, NICs and links
  std::vector<PlanCandidate> candidates;      // empty: the experiment's own hardware and network
};

struct Experiment {
  std::string name;
  std::string file;  // the experiment file as named by the user
  ModelCard model;
  HardwareProfile hardware;
  ClusterSpec cluster;
  ParallelismSpec parallelism;
  TrainingSpec training;
  CostSpec cost;
  SoftwareStack stack;  // default: the behaviour of a card-less experiment (see software_stack.hpp)
  PublishedFigures published;
  SearchSpace search;  // read by `clustersim search` and `clustersim plan`
  PlanSpec plan;       // read by `clustersim plan`; no other command uses it
  SimulationSpec simulation;

  // Bytes of each AdamW moment: the stack's moment dtype; where it gives none, BF16 under FP8
  // training (DeepSeek-V3's recipe, TR §3.3.3) and FP32 otherwise.
  [[nodiscard]] double moment_bytes() const {
    if (stack.optimizer.moment_dtype) return *stack.optimizer.moment_dtype == Dtype::bf16 ? 2 : 4;
    return training.precision == Precision::fp8 ? 2 : 4;
  }
  // Whether the stack's MoE all-to-all overlap runs as Megatron-Core's combined 1F1B: an MoE
  // model with expert parallelism, on an interleaved schedule or without pipeline parallelism
  // (parallel::combine_forward_backward; the memory estimate's extra warm-up chunk).
  [[nodiscard]] bool combined_one_f_one_b() const {
    return stack.overlap.moe_all_to_all && model.moe && parallelism.ep > 1 &&
           (parallelism.schedule == Schedule::interleaved ||
            (parallelism.schedule == Schedule::one_f_one_b && parallelism.pp == 1));
  }
};

inline constexpr std::array<EnumName<Schedule>, 6> kScheduleNames{
    {{"gpipe", Schedule::gpipe},
     {"1f1b", Schedule::one_f_one_b},
     {"interleaved", Schedule::interleaved},
     {"zb1p", Schedule::zb1p},
     {"dualpipe", Schedule::dualpipe},
     {"dualpipev", Schedule::dualpipev}}};
inline constexpr std::array<EnumName<Precision>, 2> kPrecisionNames{
    {{"fp8", Precision::fp8}, {"bf16", Precision::bf16}}};
// `ops` is not written as a name: a list of operator names selects it.
inline constexpr std::array<EnumName<RecomputeMode>, 3> kRecomputeModeNames{
    {{"none", RecomputeMode::none},
     {"selective", RecomputeMode::selective},
     {"full", RecomputeMode::full}}};

[[nodiscard]] constexpr std::string_view to_string(Schedule schedule) {
  return name_of(kScheduleNames, schedule);
}
[[nodiscard]] constexpr std::string_view to_string(Precision precision) {
  return name_of(kPrecisionNames, precision);
}
[[nodiscard]] constexpr std::string_view to_string(RecomputeMode mode) {
  return mode == RecomputeMode::ops ? "ops" : name_of(kRecomputeModeNames, mode);
}

// The operator names accepted in `training.recompute` lists.
[[nodiscard]] const std::vector<std::string>& recomputable_ops();

}  // namespace clustersim::config
