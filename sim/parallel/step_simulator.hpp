#pragma once
// One training step of a model on a cluster, simulated: the pipeline schedule runs as events
// (PipelineRunner), each slot taking the time of its compute kernels (ComputeModel, from the
// hardware profile) and of the communication the flow-level fabric simulation gives; then the
// data-parallel gradient reduce-scatter, the optimizer step and the parameter all-gather.
//
// What one slot costs (model stage s, one micro-batch; sums over the stage's layers):
//   compute   every op's forward, input-gradient (B) and weight-gradient (W) kernel times;
//   EP        the MoE layers' dispatch and combine, simulated once for all EP groups of a
//             pipeline stage at once on the cluster topology (DeepEP-style, node-limited,
//             FP8 dispatch, BF16 combine); the backward pass moves the same tokens in BF16 both
//             ways (gradient of combine, then of dispatch): 2 x combine;
//   TP        with tp > 1, the tensor-parallel collectives of each layer on the node;
//   CP        with cp > 1, the ring-attention key/value passes that outlast the attention.
// A lone slot runs its compute and its communication one after the other (a micro-batch's
// attention waits for its dispatch). DualPipe's F&B slots overlap one chunk's compute with the
// other's all-to-all (TR §3.2.1): the slot takes max(compute, communication), the compute
// running on the SMs the communication kernels leave (comm_sms of them are held, TR §3.2.2).
// Pipeline transfers (a micro-batch's activations or input gradient, BF16) are simulated once
// between two GPUs of neighbouring stages and delay the receiver, not the sender.
//
// Once a device has run the last backward task of one of its chunks, that chunk's FP32 gradients
// are reduce-scattered over the data-parallel ranks that share them (ZeRO >= 1; dense parameters
// over dp x cp, experts over the expert-data-parallel group; an all-reduce without ZeRO) while the
// device runs its remaining slots. The optimizer (memory-bound AdamW on the shard) runs when all
// of them are done. The parameter all-gather (BF16; the FP8 GEMMs' weights in FP8 with the
// stack's fp8_param_gather) overlaps the next step's forward pass; what outlasts the device's
// first forward slot is exposed. The step ends when the last device is done.
//
// Stages: `stage_layers` as given, or the even split (remainder on the middle stages); with
// `balanced`, a local search from the even split moves single layers between neighbouring stages
// while that lowers the sum of squared device loads (lone forward + backward, compute and
// communication, of the stages a device holds). The memory estimate uses the same split.
//
// Symmetry: every data-parallel replica runs the same pipeline, so one is simulated; the EP
// groups of one stage are simulated together. tests/parallel check this against a full run.
//
// Links (StepOptions): every communication above is simulated once, on a representative group;
// the link report places its flows on every group of the cluster that runs it, as often and when
// the step runs it (each slot's all-to-alls and TP / CP collectives during the slot, pipeline
// transfers after their slot, data-parallel reductions when the tail runs them), and sums up
// what each link carries (sim/parallel/link_traffic.hpp).
//
// Phases (ISCA'25 Table 4), per pipeline device and then averaged over devices: 1F, 1B, 1W the
// time in forward-only, backward-only (B or B_input) and weight-only slots; 1F1B the time in
// overlapped F&B slots; bubble the device's idle time before its last slot ends; opt from the
// end of the pipeline to the end of the step.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/compute/compute_model.hpp"
#include "sim/config/experiment.hpp"
#include "sim/fabric/topology_stats.hpp"
#include "sim/parallel/link_traffic.hpp"
#include "sim/parallel/pipeline_runner.hpp"
#include "sim/parallel/pipeline_schedule.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::parallel {

// One block of a stage (a layer, the embedding, the head, an MTP module) split where DualPipe
// splits it (TR §3.2.1): the part before the MoE dispatch ("pre": norms, attention, router, shared
// expert) and the routed-expert part ("mlp"), each pass's compute on the SMs communication leaves;
// and the block's four all-to-alls. Seconds, one micro-batch.
struct BlockCost {
  double pre_forward = 0, mlp_forward = 0;
  double pre_backward = 0, mlp_backward = 0;  // input gradients (B)
  double pre_weight = 0, mlp_weight = 0;      // weight gradients (W)
  double dispatch = 0, combine = 0;           // forward
  double combine_gradient = 0, dispatch_gradient = 0;
};

// One model stage of one micro-batch, in seconds.
struct StageCost {
  int stage = 0;
  int layers = 0;
  bool moe = false;
  int moe_blocks = 0;    // blocks with the MoE all-to-alls
  int layer_blocks = 0;  // transformer layers, with their TP and CP collectives
  double forward = 0;    // compute on all SMs
  double backward_input = 0;
  double weight = 0;
  double forward_shared = 0;  // compute on the SMs communication leaves
  double backward_input_shared = 0;
  double weight_shared = 0;
  double ep_forward = 0;  // dispatch + combine of every MoE layer
  double ep_backward = 0;
  double tp_forward = 0;
  double tp_backward = 0;
  double cp_forward = 0;  // ring-attention traffic the attention does not hide
  double cp_backward = 0;
  // Parameters of each block, per GPU: ZeRO-3 gathers and reduces them block by block.
  struct BlockParameters {
    double dense = 0, experts = 0;
    double dense_fp8 = 0, experts_fp8 = 0;  // of those, FP8 GEMMs' weights
  };
  std::vector<BlockParameters> block_parameters;
  double zero3_forward = 0;     // ZeRO-3 parameter gathers, overlapping the compute
  double zero3_backward = 0;    // gathers and the gradient reduce-scatter
  double dense_parameters = 0;  // per GPU
  double expert_parameters = 0;
  double dense_fp8_parameters = 0;  // of those, the weights of FP8 GEMMs
  double expert_fp8_parameters = 0;
  double forward_flops = 0;       // per GPU, for the report
  std::vector<BlockCost> blocks;  // in forward order
  // Compute seconds by kernel class ("gemm", "quantize", ...) on the SMs communication leaves:
  // the forward, and the backward with its weight gradients.
  std::map<std::string, double> forward_kernels, backward_kernels;
};

// How long DualPipe's overlapped slot takes: the forward of `forward` and the backward of
// `backward` (with its weight gradients when `with_weight`) as two chains of compute and
// all-to-all tasks on two streams. The compute stream runs F.pre, B.mlp, F.mlp, B.pre of each
// block pair and the communication stream B.combine_gradient, F.dispatch, B.dispatch_gradient,
// F.combine (TR Figure 4's arrangement); a task starts when its stream is free and the previous
// task of its chain is done.
[[nodiscard]] double overlapped_slot_seconds(const StageCost& forward, const StageCost& backward,
                                             bool with_weight);

// The same slot task by task, for the trace.
struct OverlapTask {
  enum Stream { compute = 0, communication = 1 };
  Stream stream = compute;
  std::string name;    // "F attention 2", "B combine 3", ... (block index within its stage)
  double start_s = 0;  // from the start of the slot
  double seconds = 0;
};
[[nodiscard]] std::vector<OverlapTask> overlapped_slot_timeline(const StageCost& forward,
                                                                const StageCost& backward,
                                                                bool with_weight);

// Compute seconds by kernel class of one task of `pass` on a chunk of stage `c`: the forward's,
// the backward's with its weight gradients, the input gradients' alone (B), or the weight
// gradients' alone (W).
[[nodiscard]] std::map<std::string, double> task_kernels(const StageCost& c, Pass pass);

struct StepPhases {
  double forward = 0;  // 1F
  double bubble = 0;
  double backward = 0;    // 1B
  double weight = 0;      // 1W
  double overlapped = 0;  // 1F1B
  double optimizer = 0;   // opt
};

// DualPipe's F&B slot of a chunk pair: one stage's forward beside another's backward (with W).
struct ChunkPair {
  int layers = 0;
  double span_s = 0;
  double compute_s = 0;                    // busy time of the compute stream
  std::map<std::string, double> kernel_s;  // compute by class, and "ep_dispatch" / "ep_combine"
};

// A span of a device's streams outside the pipeline's slots, for timelines: on the communication
// stream the gradient reductions and the parameter gathers, on the compute stream the optimizer and
// the wait for an all-gather the next forward could not hide.
struct StreamSpan {
  int device = 0;
  bool communication = false;  // the communication stream, else the compute stream
  std::string what;
  double start_s = 0;  // from the start of the step
  double end_s = 0;
};

// One kernel of the optimizer step: "main_gradient_copy", "gradient_norm", "adamw",
// "master_weight_copy" or "gradient_memset" (config::OptimizerSteps).
struct OptimizerKernel {
  std::string name;
  double seconds = 0;
};

struct StepResult {
  double step_time_s = 0;
  double pipeline_s = 0;                  // the schedule's makespan
  StepPhases phases;                      // averaged over the pipeline devices
  std::vector<StepPhases> device_phases;  // per device; each adds up to the step time
  std::int64_t tokens_per_step = 0;
  int micro_batches = 0;
  int gpus = 0;
  std::vector<int> stage_layers;  // layers per model stage, as simulated
  std::vector<StageCost> stages;
  // Simulated communication times, seconds.
  double ep_dispatch_s = 0;  // with ep_count_gather_s
  // Megatron-Core's all-to-all dispatcher: the all-gather of the tokens per expert before each
  // dispatch (0 with DeepEP).
  double ep_count_gather_s = 0;
  double ep_combine_s = 0;
  double pp_transfer_s = 0;
  double dp_reduce_scatter_s = 0;
  double dp_all_gather_s = 0;
  double optimizer_s = 0;
  // The slowest device's optimizer kernels, in launch order (adding up to optimizer_s).
  std::vector<OptimizerKernel> optimizer_kernels;
  std::map<std::string, double> exposed_comm_s;  // "ep", "pp", "dp", "tp"
  workload::MemoryEstimate memory;
  PipelineSchedule schedule;
  PipelineRun run;
  std::vector<double> device_tail_start_s;  // per device: end of its last slot
  std::vector<StreamSpan> stream_spans;     // the data-parallel tail of every device
  std::uint64_t events = 0;
  std::uint64_t flows = 0;
  fabric::TopologyStats network;  // the cluster's scale-out network, counted (for its cost)
  // One transformer layer of one micro-batch in a lone slot, with its exposed TP communication:
  // the forward, and the backward with its weight gradients and recomputation (seconds).
  double layer_forward_s = 0;
  double layer_backward_s = 0;
  // Compute seconds per kernel class over the whole step on the busiest pipeline device.
  std::map<std::string, double> kernel_s;
  std::optional<ChunkPair> chunk_pair;  // when the experiment's published figures ask for one
  std::optional<StepLinks> links;       // when StepOptions ask for it
};

// What a simulation reports beyond the step's times.
struct StepOptions {
  // The step's traffic on the links (sim/parallel/link_traffic.hpp): per tier, and with
  // `link_rows` per directed link too.
  bool link_traffic = false;
  bool link_rows = false;
};

// Throws std::invalid_argument (with the numbers) for a configuration the simulator cannot run;
// the config loader reports most such input first, with its location.
// The experiment's cluster: its nodes on the network of cluster.topology (one node without it),
// sized for the nodes' NICs. Throws fabric::BuildError when the network cannot hold them.
[[nodiscard]] fabric::Topology build_cluster_topology(const config::Experiment& experiment);
// The topology card the cluster is built from: cluster.topology, or one node without it.
[[nodiscard]] config::TopologySpec cluster_topology_spec(const config::Experiment& experiment);

[[nodiscard]] StepResult simulate_step(const config::Experiment& experiment,
                                       const StepOptions& options = {});

// A lower bound on the step time that needs no simulation, for a layout search to prune with:
// the compute of every block for every micro-batch (forward, input and weight gradients, on the
// SMs communication leaves the GEMMs where the stack fixes them, all SMs otherwise), spread
// evenly over the pipeline's devices. No step is shorter: a slot never takes less than its
// compute, and some device carries at least the mean. `model` is the experiment's hardware's.
[[nodiscard]] double compute_lower_bound_s(const config::Experiment& experiment,
                                           const compute::ComputeModel& model);

// A tighter lower bound, still without simulating communication: the experiment's pipeline
// schedule run on its stage split with every slot as short as its compute alone allows (and
// no transfer time between stages), so it includes the schedule's bubbles and the busiest
// device's load; never below compute_lower_bound_s. A pipeline's makespan only grows with its
// slots' durations, and every simulated slot lasts at least this long. Nothing with
// `parallelism.balance_stages`, whose split depends on the communication (compute_lower_bound_s
// is then the bound). Costs a pipeline run (milliseconds), not a step simulation.
[[nodiscard]] std::optional<double> pipeline_lower_bound_s(const config::Experiment& experiment,
                                                           const compute::ComputeModel& model);

}  // namespace clustersim::parallel
