// clustersim: predicts step time, memory, MFU and cost of large-model training on GPU clusters.
// This file only parses the command line; each subcommand lives in commands.cpp.

#include <exception>
#include <iostream>
#include <string_view>
#include <thread>
#include <utility>

#include <CLI/CLI.hpp>

#include "sim/cli/collective_command.hpp"
#include "sim/cli/commands.hpp"
#include "sim/cli/plan_command.hpp"
#include "sim/cli/search_command.hpp"

namespace {

using namespace clustersim::cli;

void add_common(CLI::App& command, CommonOptions& common, bool with_json = true) {
  command
      .add_option("--set", common.overrides,
                  "Override a key of the input, e.g. --set parallelism.pp=8 (repeatable)")
      ->type_name("KEY=VALUE");
  if (with_json) command.add_flag("--json", common.json, "Print the result as one JSON object");
}

// --max-memory and --time-limit, for the commands that simulate.
void add_limits(CLI::App& command, CommonOptions& common, bool with_time = true) {
  command
      .add_option("--max-memory", common.max_memory,
                  "Memory the simulation may use, e.g. \"8 GiB\"; a run estimated to need more "
                  "refuses before it allocates (default: the machine's memory)")
      ->type_name("SIZE");
  if (!with_time) return;
  command
      .add_option("--time-limit", common.time_limit,
                  "Wall-clock time after which a simulation stops, e.g. \"10 min\" (default: "
                  "none; in a sweep, per point)")
      ->type_name("DURATION");
}

// The kind of card each command reads, as `clustersim cards` names it.
constexpr std::pair<std::string_view, std::string_view> kInputKinds[] = {
    {"run", "experiments"},  {"memory", "experiments"}, {"search", "experiments"},
    {"plan", "experiments"}, {"sweep", "experiments"},  {"model", "models"},
    {"topo", "topologies"}};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "clustersim: predict step time, memory, MFU and cost of large-model training on "
      "GPU clusters",
      "clustersim"};
  app.set_version_flag("--version", "clustersim " CLUSTERSIM_VERSION);
  app.require_subcommand(1, 1);
  app.footer(
      "Exit codes: 0 ok; 1 simulation failed or the input is infeasible; 2 usage or input "
      "error; 3 internal error; 4 stopped by --max-memory or --time-limit.\nCards are looked up by "
      "name in models/, hardware_profiles/, topologies/ and "
      "software_stacks/ beside "
      "the input file, its parent folders, $CLUSTERSIM_PATH and the built-in library; "
      "`clustersim cards` lists them.");

  RunOptions run;
  CLI::App* run_cmd = app.add_subcommand("run", "Simulate one training step of an experiment");
  run_cmd->add_option("experiment", run.experiment, "Experiment file (YAML)")
      ->required()
      ->type_name("EXP.yaml");
  run_cmd->add_option("--trace", run.trace, "Write the timeline as Chrome trace JSON")
      ->type_name("OUT.json");
  run_cmd
      ->add_option("--links", run.links,
                   "Write every directed link's bytes, busy time and peak and mean utilisation "
                   "over the step as CSV")
      ->type_name("OUT.csv");
  run_cmd->add_option(
      "--cost", run.cost,
      "Cost profile that prices the network (capex): a name in "
      "hardware_profiles/costs/ or a path; default: the hardware profile's "
      "scale_out.cost_profile (ib_as_bought for InfiniBand, roce_as_bought for RoCE)");
  add_common(*run_cmd, run.common);
  add_limits(*run_cmd, run.common);

  RunOptions memory;
  CLI::App* memory_cmd =
      app.add_subcommand("memory", "Memory per GPU of an experiment, for every pipeline rank");
  memory_cmd->add_option("experiment", memory.experiment, "Experiment file (YAML)")
      ->required()
      ->type_name("EXP.yaml");
  add_common(*memory_cmd, memory.common);

  SweepOptions sweep;
  ReproduceOptions reproduce;
  reproduce.jobs = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  CLI::App* reproduce_cmd =
      app.add_subcommand("reproduce",
                         "The validation suite: simulate every experiment of a folder against its "
                         "published figures");
  reproduce_cmd->add_option("folder", reproduce.folder, "Folder of experiments")
      ->capture_default_str()
      ->type_name("DIR");
  reproduce_cmd->add_option("-j,--jobs", reproduce.jobs, "Experiments simulated in parallel")
      ->check(CLI::Range(1, 1024));
  reproduce_cmd->add_flag("--json", reproduce.json, "One JSON object");
  CLI::App* sweep_cmd = app.add_subcommand("sweep", "Run every point of a sweep");
  sweep_cmd->add_option("sweep", sweep.sweep, "Sweep file (YAML)")
      ->required()
      ->type_name("SWEEP.yaml");
  sweep_cmd->add_option("-j,--jobs", sweep.jobs, "Points simulated in parallel")
      ->check(CLI::Range(1, 1024));
  sweep_cmd
      ->add_option("--out", sweep.out,
                   "Output folder (CSV + JSON lines; default: the sweep's name in the current "
                   "folder)")
      ->type_name("DIR");
  sweep_cmd->add_flag("--mpi", sweep.mpi, "Share the points among MPI ranks (under mpirun)");
  add_common(*sweep_cmd, sweep.common);
  add_limits(*sweep_cmd, sweep.common);

  FileOptions topo;
  CLI::App* topo_cmd =
      app.add_subcommand("topo", "Endpoints, switches, links, diameter, bisection and cost");
  topo_cmd->add_option("topology", topo.file, "Topology card: a name in topologies/ or a path")
      ->required()
      ->type_name("TOPO");
  topo_cmd
      ->add_option("--endpoints", topo.endpoints,
                   "Size the network for N endpoints (default: the most its parameters allow)")
      ->check(CLI::Range(1LL, 1LL << 40))
      ->type_name("N");
  topo_cmd
      ->add_option("--cost", topo.cost,
                   "Cost profile: a name in hardware_profiles/costs/ or a path (default "
                   "ib_ndr_64port)")
      ->type_name("PROFILE");
  add_common(*topo_cmd, topo.common);
  add_limits(*topo_cmd, topo.common, false);

  FileOptions model;
  CLI::App* model_cmd = app.add_subcommand(
      "model", "Load a model card and print it (parameters, FLOPs per token, KV cache)");
  model_cmd->add_option("model", model.file, "Model card (YAML)")
      ->required()
      ->type_name("MODEL.yaml");
  model_cmd->add_option("--seq-len", model.seq_len, "Sequence length for per-token FLOPs")
      ->type_name("N");
  add_common(*model_cmd, model.common);

  std::vector<std::string> validate_files;
  CommonOptions validate;
  CLI::App* validate_cmd =
      app.add_subcommand("validate", "Check configuration files without simulating");
  validate_cmd
      ->add_option("files", validate_files,
                   "Any clustersim YAML files, or folders (every YAML file under them)")
      ->required()
      ->type_name("FILE...");
  std::string validate_kind;
  validate_cmd
      ->add_option("--kind", validate_kind,
                   "Read every file as this kind instead of guessing from folder and keys")
      ->check(
          CLI::IsMember({"model", "hardware", "topology", "experiment", "sweep", "cost", "stack"}));
  add_common(*validate_cmd, validate);
  add_limits(*validate_cmd, validate, false);

  CollectiveOptions collective;
  CLI::App* collective_cmd = app.add_subcommand(
      "collective", "One collective or EP dispatch + combine on a cluster: time, algbw, busbw");
  collective_cmd
      ->add_option("--op", collective.operation,
                   "all_reduce, reduce_scatter, all_gather, all_to_all, send_recv or ep; a "
                   "comma-separated list runs each (ep alone)")
      ->capture_default_str();
  collective_cmd->add_option("--algorithm", collective.algorithm,
                             "ring, tree, hierarchical or direct (default: ring, or direct for "
                             "all_to_all and send_recv)");
  collective_cmd->add_option("--size", collective.size, "Message size with its unit (nccl-tests S)")
      ->capture_default_str();
  collective_cmd->add_option("--topology", collective.topology, "Topology card name or path")
      ->capture_default_str();
  collective_cmd->add_option("--hardware", collective.hardware, "Hardware profile name or path")
      ->capture_default_str();
  collective_cmd
      ->add_option("--tp", collective.tp_list,
                   "Tensor-parallel groups of TP consecutive GPUs: the collective runs on all TP "
                   "data-parallel groups at once (the GPUs of one tensor-parallel rank each); a "
                   "comma-separated list runs each")
      ->delimiter(',')
      ->check(CLI::Range(1, 1'000'000));
  collective_cmd
      ->add_option("--out", collective.out,
                   "Write the rows as CSV (with lists in --op, --routing or --tp: one row per "
                   "combination, for `clustersim plot`)")
      ->type_name("OUT.csv");
  collective_cmd
      ->add_option("--routing", collective.routing,
                   "Routing policy over equal-cost paths: ecmp, adaptive, static or spray "
                   "(default: the topology card's); a comma-separated list runs each")
      ->type_name("POLICY");
  collective_cmd->add_option("--nodes", collective.nodes, "Nodes in the cluster")
      ->capture_default_str()
      ->check(CLI::Range(1, 1'000'000));
  collective_cmd->add_option("--gpus-per-node", collective.gpus_per_node,
                             "GPUs per node (default: the profile's scale-up domain)");
  collective_cmd->add_option("--tokens", collective.tokens, "ep: tokens per rank")
      ->capture_default_str();
  collective_cmd->add_option("--hidden", collective.hidden, "ep: hidden size")
      ->capture_default_str();
  collective_cmd->add_option("--experts", collective.experts, "ep: routed experts")
      ->capture_default_str();
  collective_cmd->add_option("--top-k", collective.top_k, "ep: experts per token")
      ->capture_default_str();
  collective_cmd->add_option("--max-nodes", collective.max_nodes, "ep: nodes per token at most")
      ->capture_default_str();
  collective_cmd->add_option("--imbalance", collective.imbalance,
                             "ep: Zipf exponent of expert popularity (0: uniform)");
  collective_cmd
      ->add_option("--comm-sms", collective.comm_sms, "SMs the communication kernels hold")
      ->capture_default_str();
  collective_cmd->add_flag("--low-latency", collective.low_latency,
                           "ep: low-latency kernels (direct RDMA writes, no SMs held)");
  collective_cmd
      ->add_option("--departure-batching", collective.departure_batching,
                   "Approximation for one large set of flows: re-solve the rates only once this "
                   "fraction of the active flows has left, in [0, 1) (0: after every departure, "
                   "exact; e.g. 0.05)")
      ->type_name("FRACTION")
      ->capture_default_str();
  collective_cmd->add_flag(
      "--congestion-bound", collective.congestion_bound,
      "Time each phase by its busiest link's bytes over its capacity (and each GPU's copy "
      "ceiling) instead of simulating its flows: the flow model's answer for flows of one size "
      "that start together (an all-to-all), within the spread of their route latencies; linear "
      "in the flows, for all-to-alls of thousands of GPUs (not with ep or adaptive routing)");
  add_common(*collective_cmd, collective.common);
  add_limits(*collective_cmd, collective.common);

  CrosscheckOptions crosscheck;
  CLI::App* crosscheck_cmd = app.add_subcommand(
      "crosscheck", "Simulator prediction against microbenchmark measurements, per case");
  crosscheck_cmd->add_option("measured", crosscheck.measured, "Measured results (JSON)")
      ->required()
      ->type_name("MEASURED.json");
  crosscheck_cmd
      ->add_option("--hardware", crosscheck.hardware,
                   "Hardware profile (default: the library profile of the measured GPU)")
      ->type_name("PROFILE");
  add_common(*crosscheck_cmd, crosscheck.common);

  CrosscheckOptions calibrate;
  CLI::App* calibrate_cmd = app.add_subcommand(
      "calibrate", "Write a hardware profile whose efficiencies come from measurements");
  calibrate_cmd->add_option("measured", calibrate.measured, "Measured results (JSON)")
      ->required()
      ->type_name("MEASURED.json");
  calibrate_cmd
      ->add_option("--hardware", calibrate.hardware,
                   "Profile to start from (default: the library profile of the GPU)")
      ->type_name("PROFILE");
  calibrate_cmd->add_option("-o,--out", calibrate.out, "Profile to write")
      ->required()
      ->type_name("NEW.yaml");
  calibrate_cmd->add_option("--name", calibrate.name, "Name of the new profile");
  add_common(*calibrate_cmd, calibrate.common, false);

  SearchOptions search;
  CLI::App* search_cmd = app.add_subcommand(
      "search", "The best parallel layouts for an experiment's model, hardware and cluster");
  search_cmd->add_option("experiment", search.experiment, "Experiment file (YAML)")
      ->required()
      ->type_name("EXP.yaml");
  search_cmd
      ->add_option("--fix", search.fix,
                   "Fix a dimension, e.g. --fix parallelism.tp=1, or bound it, e.g. --fix "
                   "'parallelism.pp={min: 4, max: 16}' (repeatable; as the search: block)")
      ->type_name("KEY=VALUE");
  search_cmd->add_option("--top", search.top, "How many layouts to list")->capture_default_str();
  search_cmd->add_option("--by", search.by, "Rank by step time or by cost per token")
      ->check(CLI::IsMember({"step_time", "cost"}))
      ->capture_default_str();
  search_cmd->add_flag("--pareto", search.pareto,
                       "Also print the Pareto front of step time against memory");
  search_cmd->add_flag("--pruned", search.show_pruned,
                       "Show an example of each reason candidates were left out");
  search_cmd->add_flag("--exhaustive", search.exhaustive,
                       "Simulate every layout that fits (no pruning by the step-time bound)");
  search_cmd->add_option("-j,--jobs", search.jobs, "Layouts simulated in parallel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  search_cmd->add_flag("--mpi", search.mpi,
                       "Share the layouts among MPI ranks (under mpirun or srun)");
  add_common(*search_cmd, search.common);

  PlanOptions plan;
  CLI::App* plan_cmd = app.add_subcommand(
      "plan", "The smallest cluster of each candidate design that meets a deadline or budget");
  plan_cmd->add_option("experiment", plan.experiment, "Experiment file (YAML) with a plan: block")
      ->required()
      ->type_name("EXP.yaml");
  plan_cmd->add_option("--tokens", plan.tokens, "Token budget, e.g. 15T (plan.tokens)")
      ->type_name("COUNT");
  plan_cmd->add_option("--deadline-days", plan.deadline_days, "Deadline (plan.deadline_days)")
      ->type_name("DAYS");
  plan_cmd
      ->add_option("--budget-usd", plan.budget_usd,
                   "Rental and energy budget, e.g. 20M (plan.budget_usd)")
      ->type_name("USD");
  plan_cmd
      ->add_option("--nodes", plan.nodes,
                   "Node counts to try, e.g. '[64, 128]' or '{min: 16, max: 1024}' (plan.nodes)")
      ->type_name("NODES");
  plan_cmd
      ->add_option("--hardware", plan.hardware,
                   "Candidate hardware profiles (repeatable or comma-separated)")
      ->delimiter(',')
      ->type_name("PROFILE");
  plan_cmd
      ->add_option("--topology", plan.topology,
                   "Candidate topologies, each with every --hardware (repeatable or "
                   "comma-separated)")
      ->delimiter(',')
      ->type_name("TOPO");
  plan_cmd
      ->add_option("--fix", plan.fix,
                   "Fix or bound a layout dimension of the search, as `search --fix`")
      ->type_name("KEY=VALUE");
  plan_cmd->add_option("-j,--jobs", plan.jobs, "Layouts simulated in parallel")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  add_common(*plan_cmd, plan.common);

  PlotOptions plot;
  CardsOptions cards;
  CLI::App* cards_cmd = app.add_subcommand(
      "cards", "The cards a name finds from here: models, hardware, topologies, stacks, ...");
  cards_cmd
      ->add_option("kinds", cards.kinds,
                   "Only these kinds: models, hardware, topologies, stacks, costs, experiments")
      ->type_name("KIND...");
  cards_cmd->add_flag("--json", cards.json, "Print the cards as one JSON array");

  CLI::App* plot_cmd = app.add_subcommand("plot", "Chart of sweep results");
  plot_cmd->add_option("results", plot.results, "Sweep results (CSV)")
      ->required()
      ->type_name("RESULTS.csv");
  plot_cmd->add_option("--x", plot.x, "Column for the x axis")->required();
  plot_cmd->add_option("--y", plot.y, "Column for the y axis")->required();
  plot_cmd->add_option("--series", plot.series, "Column whose values make one line each");
  plot_cmd->add_option("--out", plot.out, "Output image (SVG; default: RESULTS.svg)")
      ->type_name("F.svg");
  plot_cmd->add_flag("--log-x", plot.log_x,
                     "Logarithmic x axis: whole decades, a tick at each power of ten (x values "
                     "must be numbers > 0)");
  plot_cmd->add_flag("--log-y", plot.log_y,
                     "Logarithmic y axis: whole decades, a tick at each power of ten (y values "
                     "must be > 0)");
  plot_cmd
      ->add_option("--where", plot.where,
                   "Only the rows whose column KEY holds VALUE, e.g. --where cluster.nodes=256 "
                   "(repeatable: every condition must hold)")
      ->type_name("KEY=VALUE");
  plot_cmd->add_option("--title", plot.title,
                       "Chart title (default: the y axis's title against the x axis's)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    // A command without its input file: where the cards it could take are listed.
    if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr) {
      for (const CLI::App* command : app.get_subcommands()) {
        for (const auto& [name, kind] : kInputKinds) {
          if (command->get_name() == name) {
            std::cerr << "`clustersim cards " << kind
                      << "` lists the ones a name finds from here.\n";
          }
        }
      }
    }
    return code == 0 ? kExitOk : kExitInputError;
  }

  try {
    if (*run_cmd) return run_experiment(run);
    if (*sweep_cmd) return run_sweep(sweep);
    if (*reproduce_cmd) return run_reproduce(reproduce);
    if (*memory_cmd) return run_memory(memory);
    if (*collective_cmd) return run_collective_command(collective);
    if (*topo_cmd) return run_topo(topo);
    if (*model_cmd) return run_model(model);
    if (*validate_cmd) return run_validate(validate_files, validate_kind, validate);
    if (*crosscheck_cmd) return run_crosscheck(crosscheck);
    if (*calibrate_cmd) return run_calibrate(calibrate);
    if (*plot_cmd) return run_plot(plot);
    if (*search_cmd) return run_search(search);
    if (*plan_cmd) return run_plan(plan);
    if (*cards_cmd) return run_cards(cards);
  } catch (const std::exception& error) {
    std::cerr << "clustersim: internal error: " << error.what() << '\n';
    return kExitInternalError;
  }
  return kExitInputError;
}
