#include "sim/config/loader.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <numeric>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "sim/config/card_readers.hpp"
#include "sim/config/layout_check.hpp"
#include "sim/config/library.hpp"
#include "sim/config/reader.hpp"
#include "sim/config/suggest.hpp"
#include "sim/config/yaml_source.hpp"

namespace clustersim::config {

const std::vector<std::string>& recomputable_ops() {
  // DeepSeek-V3 recomputes "all RMSNorm operations and MLA up-projections" (TR §3.2.3) and the
  // SwiGLU output (TR §3.3.3); "moe" is a whole MoE layer, all-to-alls included (Megatron-Core's
  // --recompute-modules moe); the others are the usual selective-recompute candidates.
  static const std::vector<std::string> kOps{"attention",         "gelu",  "layernorm",
                                             "mla_up_projection", "moe",   "moe_gate",
                                             "rmsnorm",           "swiglu"};
  return kOps;
}

std::vector<SweepPoint> SweepSpec::points() const {
  std::vector<SweepPoint> result;
  if (axes.empty()) return {SweepPoint{}};
  // The axes that span a dimension; the others take the index of the axis they move with.
  std::vector<std::size_t> leaders;
  for (std::size_t a = 0; a < axes.size(); ++a) {
    if (axes[a].moves_with < 0) leaders.push_back(a);
  }
  const auto point_at = [&](const std::vector<std::size_t>& index_of_leader) {
    SweepPoint point;
    for (const SweepAxis& axis : axes) {
      const std::size_t leader = axis.moves_with < 0 ? static_cast<std::size_t>(&axis - axes.data())
                                                     : static_cast<std::size_t>(axis.moves_with);
      point.overrides.push_back(axis.key + "=" + axis.values[index_of_leader[leader]]);
    }
    return point;
  };
  std::vector<std::size_t> index(axes.size(), 0);
  if (mode == SweepMode::zip) {
    for (std::size_t i = 0; i < axes.front().values.size(); ++i) {
      std::fill(index.begin(), index.end(), i);
      result.push_back(point_at(index));
    }
    return result;
  }
  // Grid: the last leading axis varies fastest.
  while (true) {
    result.push_back(point_at(index));
    std::size_t l = leaders.size();
    while (l > 0) {
      --l;
      if (++index[leaders[l]] < axes[leaders[l]].values.size()) break;
      index[leaders[l]] = 0;
      if (l == 0) return result;
    }
  }
}

namespace {

namespace fs = std::filesystem;
using detail::CardLibrary;
using detail::Override;

constexpr std::array<EnumName<SweepMode>, 2> kSweepModes{
    {{"grid", SweepMode::grid}, {"zip", SweepMode::zip}}};

// Reads the root file, applies overrides, and returns the tree (nullopt when unreadable).
std::optional<Node> load_root(const std::string& file, CardKind kind,
                              const std::vector<Override>& overrides, CardLibrary& library,
                              Diagnostics& diagnostics) {
  std::optional<Node> tree = library.load_file(file, file, kind, SourceLocation{file, 0, 0});
  if (!tree) return std::nullopt;
  for (const Override& item : overrides) detail::apply_override(*tree, item, diagnostics);
  return tree;
}

std::vector<Override> parse_overrides(const LoadOptions& options, Diagnostics& diagnostics) {
  std::vector<Override> overrides;
  for (const std::string& text : options.overrides) {
    if (std::optional<Override> item = detail::parse_override(text, diagnostics)) {
      overrides.push_back(std::move(*item));
    }
  }
  for (const std::string& text : options.fixes) {
    if (std::optional<Override> item =
            detail::parse_override("search." + text, diagnostics, "--fix " + text)) {
      overrides.push_back(std::move(*item));
    }
  }
  for (const auto& [text, label] : options.labelled_overrides) {
    if (std::optional<Override> item = detail::parse_override(text, diagnostics, label)) {
      overrides.push_back(std::move(*item));
    }
  }
  return overrides;
}

std::vector<fs::path> roots_of(const LoadOptions& options) {
  return options.library_roots.empty() ? default_library_roots() : options.library_roots;
}

// Replaces the card reference at `key` of `parent` with the resolved card tree.
bool resolve_reference(Node& parent, const std::string& key, const std::string& key_path,
                       CardKind kind, const fs::path& file, CardLibrary& library) {
  Node* reference = parent.find(key);
  if (reference == nullptr || reference->is_null()) return true;  // reported as missing later
  std::optional<Node> card = library.resolve(*reference, kind, file, key_path);
  if (!card) return false;
  *reference = std::move(*card);
  return true;
}

void check_stage_layers(MapReader& reader, ParallelismSpec& spec, const ModelCard& model) {
  const Node* node = reader.raw("stage_layers");
  if (node == nullptr) return;
  if (node->is_scalar() && node->scalar() == "auto") return;
  if (node->is_scalar() && node->scalar() == "balanced") {
    spec.balance_stages = true;
    return;
  }
  if (!node->is_sequence()) {
    reader.report(*node, "stage_layers",
                  fmt::format("expected \"auto\", \"balanced\" or a list of layer counts, one "
                              "per stage, got {}",
                              node->describe()));
    return;
  }
  spec.stage_layers = reader.list<int>("stage_layers", Bounds::non_negative());
  if (spec.stage_layers.size() != node->items().size()) return;  // items already reported
  const auto stages = static_cast<std::size_t>(spec.model_stages());
  const int total = std::accumulate(spec.stage_layers.begin(), spec.stage_layers.end(), 0);
  if (spec.stage_layers.size() != stages) {
    reader.report(*node, "stage_layers",
                  fmt::format("has {} entries, but the schedule has {} stages, each needing one",
                              spec.stage_layers.size(), stages));
  } else if (total != model.layers) {
    reader.report(*node, "stage_layers",
                  fmt::format("adds up to {} layers, but the model has {}", total, model.layers));
  }
}

// parallelism.pipeline_split_counts: [embedding, loss], either or both, each once; only for the
// automatic split (a list of stage layers says where every layer goes).
void read_split_counts(MapReader& reader, ParallelismSpec& spec) {
  const Node* node = reader.raw("pipeline_split_counts");
  if (node == nullptr) return;
  if (!node->is_sequence()) {
    reader.report(
        *node, "pipeline_split_counts",
        fmt::format("expected a list of \"embedding\" and \"loss\", got {}", node->describe()));
    return;
  }
  const std::vector<std::string> items = reader.list<std::string>("pipeline_split_counts");
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string key = fmt::format("pipeline_split_counts[{}]", i);
    if (items[i] != "embedding" && items[i] != "loss") {
      reader.report(
          node->items()[i], key,
          fmt::format("unknown block \"{}\"; expected \"embedding\" or \"loss\"", items[i]));
      continue;
    }
    bool& flag = items[i] == "embedding" ? spec.split_counts_embedding : spec.split_counts_loss;
    if (flag) {
      reader.report(node->items()[i], key, fmt::format("\"{}\" is listed twice", items[i]));
    }
    flag = true;
  }
  if (!spec.stage_layers.empty() || spec.balance_stages) {
    reader.report(*node, "pipeline_split_counts",
                  "applies to the automatic split; stage_layers already says where each layer "
                  "goes (leave it out or set it to auto)");
  }
}

// Checks that need the model, the hardware and the cluster together (layout_check.hpp), each
// reported at its key as an infeasibility; then the routing histogram against the layout.
void check_layout(MapReader& cluster, MapReader& parallelism, MapReader& training,
                  Experiment& experiment) {
  for (const LayoutProblem& problem : config::check_layout(experiment)) {
    MapReader& section = problem.section == LayoutSection::cluster       ? cluster
                         : problem.section == LayoutSection::parallelism ? parallelism
                                                                         : training;
    section.infeasible(problem.key, problem.message);
  }
  const ParallelismSpec& layout = experiment.parallelism;
  const std::int64_t model_parallel = static_cast<std::int64_t>(layout.tp) * layout.pp * layout.cp;
  if (model_parallel <= 0 || experiment.cluster.gpus() % model_parallel != 0) return;
  const TrainingSpec& t = experiment.training;
  const ParallelismSpec& p = experiment.parallelism;
  const ModelCard& model = experiment.model;
  if (!t.moe_histogram.empty()) {
    const Node* routing = training.raw("moe_routing");
    MapReader histogram(*routing, "training.moe_routing", training.diagnostics());
    const double sum = std::accumulate(t.moe_histogram.begin(), t.moe_histogram.end(), 0.0);
    const double tokens = model.moe
                              ? static_cast<double>(p.ep) * p.micro_batch_size *
                                    static_cast<double>(t.seq_len) / p.cp / p.tp * model.moe->top_k
                              : 0;
    if (!model.moe) {
      histogram.error("histogram", fmt::format("model \"{}\" has no experts", model.name));
    } else if (t.moe_histogram.size() != static_cast<std::size_t>(model.moe->experts)) {
      histogram.error("histogram", fmt::format("has {} entries, but the model has {} experts",
                                               t.moe_histogram.size(), model.moe->experts));
    } else if (std::abs(sum - tokens) > 0.5) {
      histogram.error("histogram",
                      fmt::format("sums to {} tokens, but one micro-batch of an EP group routes "
                                  "ep x micro_batch_size x seq_len / (cp x tp) x top_k = {}",
                                  sum, tokens));
    }
    histogram.allow("histogram");
  }
}

// One integer dimension of a search block: a value, a list, or {min, max}.
SearchChoices read_search_choices(MapReader& reader, std::string_view key, Bounds bounds) {
  SearchChoices choices;
  const Node* node = reader.raw(key);
  if (node == nullptr) return choices;
  if (node->is_mapping()) {
    MapReader range(*node, reader.child_path(key), reader.diagnostics());
    choices.min = range.maybe<int>("min", bounds);
    choices.max = range.maybe<int>("max", bounds);
    range.finish();
    if (!choices.min && !choices.max) {
      reader.report(*node, key, "give min, max or both");
    } else if (choices.min && choices.max && *choices.min > *choices.max) {
      reader.report(*node, key, fmt::format("min {} is above max {}", *choices.min, *choices.max));
    }
  } else if (node->is_sequence()) {
    choices.values = reader.list<int>(key, bounds);
    if (node->items().empty()) reader.report(*node, key, "an empty list leaves nothing to search");
  } else if (std::optional<int> value = reader.maybe<int>(key, bounds)) {
    choices.values = {*value};
  }
  return choices;
}

// Names of a search dimension (schedule, recompute): one name or a list of them.
std::vector<std::string> read_search_names(MapReader& reader, std::string_view key,
                                           const std::vector<std::string>& known) {
  std::vector<std::string> names;
  const Node* node = reader.raw(key);
  if (node == nullptr) return names;
  std::vector<const Node*> items;
  if (node->is_sequence()) {
    for (const Node& item : node->items()) items.push_back(&item);
    if (items.empty()) reader.report(*node, key, "an empty list leaves nothing to search");
  } else {
    items.push_back(node);
  }
  for (const Node* item : items) {
    if (!item->is_scalar()) {
      reader.report(*item, key, "expected a name, got " + item->describe());
      continue;
    }
    if (std::find(known.begin(), known.end(), item->scalar()) == known.end()) {
      std::string message = fmt::format("unknown value \"{}\"", item->scalar());
      if (auto match = closest_match(item->scalar(), known)) {
        message += fmt::format("; did you mean \"{}\"?", *match);
      } else {
        message += fmt::format("; expected one of {}", quoted_list(known));
      }
      reader.report(*item, key, message);
      continue;
    }
    names.push_back(item->scalar());
  }
  return names;
}

// The experiment's `search:` block (see SearchSpace).
SearchSpace read_search_space(MapReader& search) {
  SearchSpace space;
  if (std::optional<MapReader> p = search.optional_section("parallelism")) {
    space.tp = read_search_choices(*p, "tp", Bounds::between(1, 1 << 20));
    space.pp = read_search_choices(*p, "pp", Bounds::between(1, 1 << 20));
    space.ep = read_search_choices(*p, "ep", Bounds::between(1, 1 << 20));
    space.cp = read_search_choices(*p, "cp", Bounds::between(1, 1 << 20));
    space.zero = read_search_choices(*p, "zero", Bounds::between(0, 3));
    space.virtual_stages = read_search_choices(*p, "virtual_stages", Bounds::between(1, 1024));
    space.micro_batch_size =
        read_search_choices(*p, "micro_batch_size", Bounds::between(1, 1 << 20));
    space.comm_sms = read_search_choices(*p, "comm_sms", Bounds::between(0, 1024));
    std::vector<std::string> known;
    for (const auto& entry : kScheduleNames) known.emplace_back(entry.name);
    for (const std::string& name : read_search_names(*p, "schedule", known)) {
      for (const auto& entry : kScheduleNames) {
        if (entry.name == name) space.schedules.push_back(entry.value);
      }
    }
    p->finish();
  }
  if (std::optional<MapReader> t = search.optional_section("training")) {
    space.recompute =
        read_search_names(*t, "recompute", {"none", "selective", "full", "as_written"});
    t->finish();
  }
  search.finish();
  return space;
}

// A fused attention kernel needs the hardware profile's curves for that kernel: its main curves,
// or one of its other_attention sets, which the experiment's copy of the profile then takes.
// te_fused runs Transformer Engine's choice: its cuDNN backend where the profile has a cuDNN
// curve (TE prefers FusedAttention to FlashAttention on Hopper and later, "for performance
// reasons": transformer_engine/pytorch/attention/dot_product_attention/utils.py,
// get_attention_backend), otherwise the main curves.
// Problems are reported at `key` of `reader` (the stack's attention, or a plan candidate's
// hardware). A plan candidate (`strict` false) that has no curve for the stack's kernel runs at
// its main curves: plans compare GPU generations, whose attention kernels differ
// (FlashAttention-3 runs on Hopper only).
void resolve_attention(MapReader& reader, std::string_view key, AttentionKernel kernel,
                       HardwareProfile& hardware, bool strict = true) {
  std::optional<ComputeSpec>& compute = hardware.compute;
  if (kernel == AttentionKernel::unfused || !compute) return;
  const std::string& profile = hardware.name;
  if (compute->attention.forward.empty()) {
    reader.error(key,
                 fmt::format("{} needs attention curves, and hardware profile {} has none "
                             "(compute.attention); use attention: unfused or a profile that has "
                             "them",
                             to_string(kernel), profile));
    return;
  }
  const AttentionKernel wanted =
      kernel == AttentionKernel::te_fused ? AttentionKernel::cudnn : kernel;
  if (!compute->attention.kernel || *compute->attention.kernel == wanted) return;
  for (const AttentionCurves& other : compute->other_attention) {
    if (other.kernel != wanted) continue;
    compute->attention = other;
    return;
  }
  // te_fused without a cuDNN curve, or a plan candidate: the main curves.
  if (kernel == AttentionKernel::te_fused || !strict) return;
  std::string measured(to_string(*compute->attention.kernel));
  for (const AttentionCurves& other : compute->other_attention) {
    measured += fmt::format(", {}", to_string(*other.kernel));
  }
  reader.error(
      key,
      fmt::format("{} contradicts hardware profile {}, whose attention curves measure "
                  "{}; use attention: {} (or unfused)",
                  to_string(kernel), profile, measured, to_string(*compute->attention.kernel)));
}

// The `plan:` block; `resolved[i]`: candidate i's hardware and topology references resolved.
// `attention`: the stack's attention kernel, when the experiment names a stack (each candidate
// takes its curves for it where it has them, resolve_attention).
PlanSpec read_plan(MapReader& plan, const std::vector<bool>& resolved,
                   std::optional<AttentionKernel> attention) {
  PlanSpec spec;
  if (std::optional<Count> tokens = plan.maybe<Count>("tokens", Bounds::positive())) {
    spec.tokens = tokens->value;
  }
  spec.deadline_days = plan.maybe<double>("deadline_days", Bounds::positive());
  if (std::optional<Count> budget = plan.maybe<Count>("budget_usd", Bounds::positive())) {
    spec.budget_usd = budget->value;
  }
  if (!plan.has("deadline_days") && !plan.has("budget_usd")) {
    plan.missing("deadline_days", "or budget_usd: the goal the cluster must meet");
  }
  spec.nodes = read_search_choices(plan, "nodes", Bounds::between(1, 1'000'000));
  spec.cost_profile = plan.optional<std::string>("cost_profile", spec.cost_profile);
  if (const Node* list = plan.raw("candidates")) {
    if (!list->is_sequence()) {
      plan.report(
          *list, "candidates",
          "expected a list of mappings with hardware and topology, got " + list->describe());
    } else if (list->items().empty()) {
      plan.report(*list, "candidates", "an empty list leaves nothing to plan");
    }
    for (std::size_t i = 0; list->is_sequence() && i < list->items().size(); ++i) {
      const Node& item = list->items()[i];
      const std::string key = fmt::format("candidates[{}]", i);
      if (!item.is_mapping()) {
        plan.report(item, key,
                    "expected a mapping with hardware and topology, got " + item.describe());
        continue;
      }
      MapReader reader(item, plan.child_path(key), plan.diagnostics());
      PlanCandidate candidate;
      if (i < resolved.size() && resolved[i]) {
        MapReader hardware = reader.section("hardware");
        candidate.hardware = detail::read_hardware_profile(hardware);
        if (attention) {
          resolve_attention(reader, "hardware", *attention, candidate.hardware, false);
        }
        if (std::optional<MapReader> topology = reader.optional_section("topology")) {
          candidate.topology = detail::read_topology(*topology);
        }
      } else {
        reader.allow("hardware");
        reader.allow("topology");
      }
      candidate.label = reader.optional<std::string>("name", "");
      candidate.gpus_per_node = reader.optional<int>("gpus_per_node", 0, Bounds::between(1, 1024));
      candidate.gpu_hour_usd = reader.maybe<double>("gpu_hour_usd", Bounds::non_negative());
      candidate.capex_per_gpu_usd =
          reader.maybe<double>("capex_per_gpu_usd", Bounds::non_negative());
      reader.finish();
      spec.candidates.push_back(std::move(candidate));
    }
  }
  plan.finish();
  return spec;
}

void read_recompute(MapReader& reader, TrainingSpec& spec) {
  const Node* node = reader.raw("recompute");
  if (node == nullptr) return;
  if (node->is_sequence()) {
    spec.recompute = RecomputeMode::ops;
    const std::vector<std::string>& known = recomputable_ops();
    for (std::size_t i = 0; i < node->items().size(); ++i) {
      const Node& item = node->items()[i];
      const std::string key = fmt::format("recompute[{}]", i);
      if (!item.is_scalar()) {
        reader.report(item, key, "expected an operator name, got " + item.describe());
        continue;
      }
      if (std::find(known.begin(), known.end(), item.scalar()) == known.end()) {
        std::string message = fmt::format("unknown operator \"{}\"", item.scalar());
        if (auto match = closest_match(item.scalar(), known)) {
          message += fmt::format("; did you mean \"{}\"?", *match);
        } else {
          message += fmt::format("; expected one of {}", quoted_list(known));
        }
        reader.report(item, key, message);
        continue;
      }
      spec.recompute_ops.push_back(item.scalar());
    }
    return;
  }
  spec.recompute = reader.choice<RecomputeMode>("recompute", kRecomputeModeNames, std::nullopt);
}

Experiment read_experiment(Node& tree, const std::string& file, CardLibrary& library,
                           Diagnostics& diagnostics) {
  // Resolve card references first, so their keys are read (and reported) like any other.
  const bool model_ok = resolve_reference(tree, "model", "model", CardKind::model, file, library);
  const bool hardware_ok =
      resolve_reference(tree, "hardware", "hardware", CardKind::hardware, file, library);
  const bool stack_ok = resolve_reference(tree, "stack", "stack", CardKind::stack, file, library);
  bool topology_ok = true;
  if (Node* cluster = tree.find("cluster"); cluster != nullptr && cluster->is_mapping()) {
    topology_ok = resolve_reference(*cluster, "topology", "cluster.topology", CardKind::topology,
                                    file, library);
  }

  // The plan's candidates name cards the same way.
  std::vector<bool> candidate_ok;
  if (Node* plan = tree.find("plan"); plan != nullptr && plan->is_mapping()) {
    if (Node* list = plan->find("candidates"); list != nullptr && list->is_sequence()) {
      for (std::size_t i = 0; i < list->items().size(); ++i) {
        Node& item = list->items()[i];
        bool ok = true;
        if (item.is_mapping()) {
          const std::string path = fmt::format("plan.candidates[{}]", i);
          ok = resolve_reference(item, "hardware", path + ".hardware", CardKind::hardware, file,
                                 library);
          ok = resolve_reference(item, "topology", path + ".topology", CardKind::topology, file,
                                 library) &&
               ok;
        }
        candidate_ok.push_back(ok);
      }
    }
  }

  Experiment experiment;
  experiment.file = file;
  MapReader root(tree, "", diagnostics);
  experiment.name = root.required<std::string>("name");
  if (model_ok) {
    MapReader model = root.section("model");
    experiment.model = detail::read_model_card(model);
  } else {
    root.allow("model");
  }
  if (hardware_ok) {
    MapReader hardware = root.section("hardware");
    experiment.hardware = detail::read_hardware_profile(hardware);
  } else {
    root.allow("hardware");
  }
  if (!stack_ok) {
    root.allow("stack");
  } else if (std::optional<MapReader> stack = root.optional_section("stack")) {
    experiment.stack = detail::read_software_stack(*stack);
    resolve_attention(*stack, "attention", experiment.stack.attention, experiment.hardware);
  }
  MapReader cluster = root.section("cluster");
  {
    experiment.cluster.nodes = cluster.required<int>("nodes", Bounds::between(1, 1'000'000));
    experiment.cluster.gpus_per_node = cluster.optional<int>(
        "gpus_per_node", std::max(1, experiment.hardware.scale_up.domain_size),
        Bounds::between(1, 1024));
    if (!topology_ok) {
      cluster.allow("topology");
    } else if (std::optional<MapReader> topology = cluster.optional_section("topology")) {
      experiment.cluster.topology = detail::read_topology(*topology);
    }
    // The topology card's routing policy, overridden for this experiment.
    if (cluster.has("routing")) {
      const RoutingPolicy routing =
          cluster.choice<RoutingPolicy>("routing", kRoutingPolicyNames, std::nullopt);
      if (experiment.cluster.topology) {
        experiment.cluster.topology->routing = routing;
      } else if (topology_ok) {
        cluster.error("routing", "a routing policy needs a network: cluster.topology is not set");
      }
    }
  }
  // Every key of parallelism has a default (one GPU, no parallelism), so the section may be left
  // out.
  const Node no_parallelism = Node::make_mapping(root.location());
  const Node* parallelism_node = root.raw("parallelism");
  MapReader parallelism(parallelism_node ? *parallelism_node : no_parallelism, "parallelism",
                        diagnostics);
  MapReader training = root.section("training");
  {
    ParallelismSpec& p = experiment.parallelism;
    const Bounds degree = Bounds::between(1, 1'000'000);
    p.tp = parallelism.optional<int>("tp", 1, degree);
    p.pp = parallelism.optional<int>("pp", 1, degree);
    p.ep = parallelism.optional<int>("ep", 1, degree);
    p.etp = parallelism.optional<int>("etp", 1, degree);
    p.cp = parallelism.optional<int>("cp", 1, degree);
    p.zero = parallelism.optional<int>("zero", 0, Bounds::between(0, 3));
    p.schedule = parallelism.choice<Schedule>("schedule", kScheduleNames, Schedule::one_f_one_b);
    p.virtual_stages = parallelism.optional<int>("virtual_stages", 1, Bounds::between(1, 1024));
    p.micro_batch_size = parallelism.optional<int>("micro_batch_size", 1, degree);
    p.sequence_parallel = parallelism.optional<bool>("sequence_parallel", false);
    // Not given: DeepEP's normal kernels hold the stack's SMs; nothing else holds any.
    const bool deepep =
        experiment.model.moe && p.ep > 1 && experiment.stack.dispatcher == MoeDispatcher::deepep;
    p.comm_sms = parallelism.optional<int>("comm_sms", deepep ? experiment.stack.deepep_sms : 0,
                                           Bounds::non_negative());
    check_stage_layers(parallelism, p, experiment.model);
    read_split_counts(parallelism, p);
    p.rank_order = parallelism.list<std::string>("rank_order");
    if (!p.rank_order.empty()) {
      std::vector<std::string> sorted = p.rank_order;
      std::sort(sorted.begin(), sorted.end());
      if (sorted != std::vector<std::string>{"cp", "dp", "pp", "tp"}) {
        parallelism.error("rank_order",
                          fmt::format("must name tp, cp, dp and pp once each (innermost first), "
                                      "got [{}]",
                                      fmt::join(p.rank_order, ", ")));
      }
    }
  }
  {
    TrainingSpec& t = experiment.training;
    t.seq_len = training.required<std::int64_t>("seq_len", Bounds::between(1, 1e9));
    t.global_batch_size =
        training.required<std::int64_t>("global_batch_size", Bounds::between(1, 1e12));
    t.precision = training.choice<Precision>("precision", kPrecisionNames, Precision::bf16);
    read_recompute(training, t);
    if (std::optional<Count> tokens = training.maybe<Count>("tokens", Bounds::positive())) {
      t.tokens = tokens->value;
    }
    t.memory_overhead =
        training.optional<DataSize>("memory_overhead", t.memory_overhead, Bounds::non_negative());
    t.dropout = training.optional<double>("dropout", 0.0, Bounds{0.0, false, 1.0});
    if (std::optional<MapReader> routing = training.optional_section("moe_routing")) {
      t.moe_zipf = routing->optional<double>("zipf", 0.0, Bounds::between(0, 10));
      t.moe_histogram = routing->list<double>("histogram", Bounds::non_negative());
      if (routing->has("zipf") && routing->has("histogram")) {
        routing->error("histogram", "give either zipf or histogram, not both");
      }
      routing->finish();
    }
    if (t.dropout >= 1) training.error("dropout", "a dropout probability must be below 1");
  }
  if (std::optional<MapReader> cost = root.optional_section("cost")) {
    experiment.cost.gpu_hour_usd = cost->maybe<double>("gpu_hour_usd", Bounds::non_negative());
    experiment.cost.energy = detail::read_energy(*cost);
    cost->finish();
  }
  if (std::optional<MapReader> simulation = root.optional_section("simulation")) {
    experiment.simulation.symmetry =
        simulation->choice<Symmetry>("symmetry", kSymmetryNames, Symmetry::on);
    experiment.simulation.departure_batching =
        simulation->optional<double>("departure_batching", 0.0, Bounds::non_negative());
    if (experiment.simulation.departure_batching >= 1) {
      simulation->error(
          "departure_batching",
          fmt::format("must be below 1, got {}: it is the fraction of the active flows that may "
                      "leave before the rates are re-solved (0: after every departure, exact)",
                      experiment.simulation.departure_batching));
    }
    simulation->finish();
  }
  if (std::optional<MapReader> search = root.optional_section("search")) {
    experiment.search = read_search_space(*search);
  }
  if (std::optional<MapReader> plan = root.optional_section("plan")) {
    experiment.plan = read_plan(
        *plan, candidate_ok,
        root.has("stack") && stack_ok ? std::optional(experiment.stack.attention) : std::nullopt);
  }
  if (std::optional<MapReader> published = root.optional_section("published")) {
    // Published figures to print next to the simulated ones; never used in the simulation.
    PublishedFigures& f = experiment.published;
    f.source = published->required<std::string>("source");
    f.family = published->optional<std::string>("family", "");
    f.assumptions = published->list<std::string>("assumptions");
    f.chunk_pair_layers =
        published->optional<int>("chunk_pair_layers", 0, Bounds::between(1, 1000));
    for (const std::string_view key : kPublishedKeys) {
      if (std::optional<double> value = published->maybe<double>(key, Bounds::positive())) {
        f.values.emplace_back(std::string(key), *value);
      }
    }
    if (std::optional<MapReader> kernels = published->optional_section("kernel_ms")) {
      const Node* node = published->raw("kernel_ms");
      for (const Node::Entry& entry : node->entries()) {
        if (std::optional<double> ms = kernels->maybe<double>(entry.key, Bounds::positive())) {
          f.kernel_ms.emplace_back(entry.key, *ms);
        }
      }
      kernels->finish();
    }
    const bool chunk_keys = published->has("chunk_pair_ms") ||
                            published->has("chunk_pair_compute_ms") || published->has("kernel_ms");
    if (chunk_keys && f.chunk_pair_layers == 0) {
      published->missing("chunk_pair_layers", "the MoE layers of each chunk of the pair");
    }
    published->finish();
  }
  cluster.finish();
  parallelism.finish();
  training.finish();
  root.finish();
  // Cross-field checks only make sense once every field read cleanly.
  if (diagnostics.empty()) check_layout(cluster, parallelism, training, experiment);
  return experiment;
}

// Loads the base experiment with one axis value applied and files its input errors (not its
// infeasibilities, which other axes may resolve) against the sweep.
// `seen` keeps one report per place and key across the values of an axis.
void check_sweep_value(const fs::path& experiment_file, const Override& value,
                       const std::string& sweep_file, const LoadOptions& options,
                       std::set<std::string>& seen, Diagnostics& diagnostics) {
  Diagnostics point;
  CardLibrary library(roots_of(options), point);
  std::optional<Node> base =
      library.load_file(experiment_file, detail::display_path(experiment_file),
                        CardKind::experiment, SourceLocation{sweep_file, 0, 0});
  if (base) {
    detail::apply_override(*base, value, point);
    read_experiment(*base, experiment_file.string(), library, point);
  }
  for (const Diagnostic& d : point.items()) {
    if (d.infeasible) continue;
    const std::string place =
        fmt::format("{}:{}:{}:{}", d.location.file, d.location.line, d.location.column, d.key_path);
    if (!seen.insert(place).second) continue;
    diagnostics.error(d.location, d.key_path,
                      fmt::format("{} (with sweep axis {} = {})", d.message,
                                  fmt::join(value.path, "."), to_flow_yaml(value.value)));
  }
}

// A bare name that is not a file in the current folder ("mpft", "deepseek_v3"): looked up in the
// card library like a reference inside a file, so every command resolves names the same way.
bool is_card_name(const std::string& file) {
  std::error_code ec;
  return file.find('/') == std::string::npos && !file.ends_with(".yaml") && !fs::exists(file, ec);
}

// `what` names where the name was written, for the message when it is not found.
std::string card_path(const std::string& file, CardKind kind, const LoadOptions& options,
                      const char* what = "command line") {
  return is_card_name(file) ? find_card(file, kind, what, options) : file;
}

template <class Result, class Read>
Result load_card(const std::string& name_or_file, CardKind kind, const LoadOptions& options,
                 Read read, const char* what = "command line") {
  const std::string file = card_path(name_or_file, kind, options, what);
  Diagnostics diagnostics;
  const std::vector<Override> overrides = parse_overrides(options, diagnostics);
  CardLibrary library(roots_of(options), diagnostics);
  std::optional<Node> tree = load_root(file, kind, overrides, library, diagnostics);
  diagnostics.throw_if_any();
  MapReader reader(*tree, "", diagnostics);
  Result result = read(reader);
  diagnostics.throw_if_any();
  return result;
}

}  // namespace

ModelCard load_model_card(const std::string& file, const LoadOptions& options) {
  return load_card<ModelCard>(file, CardKind::model, options, detail::read_model_card);
}

HardwareProfile load_hardware_profile(const std::string& file, const LoadOptions& options) {
  return load_card<HardwareProfile>(file, CardKind::hardware, options,
                                    detail::read_hardware_profile);
}

TopologySpec load_topology(const std::string& file, const LoadOptions& options) {
  return load_card<TopologySpec>(file, CardKind::topology, options, detail::read_topology);
}

namespace {

// An experiment and its tree after reading: overrides applied and every card resolved in place.
struct LoadedExperiment {
  Node tree;
  Experiment experiment;
};

LoadedExperiment read_experiment_file(const std::string& name_or_file, const LoadOptions& options) {
  const std::string file = card_path(name_or_file, CardKind::experiment, options);
  Diagnostics diagnostics;
  const std::vector<Override> overrides = parse_overrides(options, diagnostics);
  CardLibrary library(roots_of(options), diagnostics);
  std::optional<Node> tree = load_root(file, CardKind::experiment, overrides, library, diagnostics);
  if (!tree) diagnostics.throw_if_any();
  Experiment experiment = read_experiment(*tree, file, library, diagnostics);
  diagnostics.throw_if_any();
  return {std::move(*tree), std::move(experiment)};
}

}  // namespace

Experiment load_experiment(const std::string& name_or_file, const LoadOptions& options) {
  return read_experiment_file(name_or_file, options).experiment;
}

std::string resolved_experiment_text(const std::string& name_or_file, const LoadOptions& options) {
  return to_flow_yaml(read_experiment_file(name_or_file, options).tree);
}

SweepSpec load_sweep(const std::string& name_or_file, const LoadOptions& options) {
  const std::string file = card_path(name_or_file, CardKind::sweep, options);
  Diagnostics diagnostics;
  const std::vector<Override> overrides = parse_overrides(options, diagnostics);
  CardLibrary library(roots_of(options), diagnostics);
  std::optional<Node> tree = load_root(file, CardKind::sweep, overrides, library, diagnostics);
  diagnostics.throw_if_any();

  SweepSpec spec;
  spec.file = file;
  MapReader root(*tree, "", diagnostics);
  spec.name = root.required<std::string>("name");
  spec.mode = root.choice<SweepMode>("mode", kSweepModes, SweepMode::grid);
  const Node* experiment_reference = root.raw("experiment");
  std::optional<fs::path> experiment_file;
  if (experiment_reference == nullptr) {
    root.missing("experiment", "the base experiment file");
  } else if (!experiment_reference->is_scalar()) {
    root.report(
        *experiment_reference, "experiment",
        "expected the name or path of an experiment, got " + experiment_reference->describe());
  } else {
    experiment_file = library.find(*experiment_reference, CardKind::experiment, file, "experiment");
    if (experiment_file) spec.experiment = experiment_file->string();
  }

  // Each axis value is checked against the base experiment on its own: input mistakes (unknown
  // keys, bad units) are errors here; infeasible combinations become result rows when run.
  std::vector<std::vector<Override>> axis_overrides;
  const Node* axes = root.raw("axes");
  if (axes == nullptr) {
    root.missing("axes", "a list of {key, values}");
  } else if (!axes->is_sequence() || axes->items().empty()) {
    root.report(*axes, "axes",
                "expected a non-empty list of {key, values}, got " + axes->describe());
  } else {
    for (std::size_t i = 0; i < axes->items().size(); ++i) {
      const Node& item = axes->items()[i];
      MapReader axis_reader(item, fmt::format("axes[{}]", i), diagnostics);
      SweepAxis axis;
      axis.key = axis_reader.required<std::string>("key");
      const Node* values = axis_reader.raw("values");
      std::vector<Override> value_overrides;
      if (values == nullptr) {
        axis_reader.missing("values", "a non-empty list");
      } else if (!values->is_sequence() || values->items().empty()) {
        axis_reader.report(*values, "values",
                           "expected a non-empty list of values, got " + values->describe());
      } else {
        const Node* key_node = item.find("key");
        const SourceLocation key_location = key_node ? key_node->location() : item.location();
        std::optional<std::vector<std::string>> path =
            axis.key.empty() ? std::nullopt
                             : detail::parse_key_path(axis.key, key_location, diagnostics);
        for (const Node& value : values->items()) {
          if (!path) break;
          value_overrides.push_back(Override{*path, key_location, value});
          axis.values.push_back(to_flow_yaml(value));
        }
      }
      // Axes that move with this one: `with: [{key, values}, ...]`, as many values each.
      const int leader = static_cast<int>(spec.axes.size());
      std::vector<std::pair<SweepAxis, std::vector<Override>>> followers;
      if (const Node* with = axis_reader.raw("with")) {
        if (!with->is_sequence()) {
          axis_reader.report(*with, "with",
                             "expected a list of {key, values}, got " + with->describe());
        } else {
          for (std::size_t w = 0; w < with->items().size(); ++w) {
            const Node& follower_item = with->items()[w];
            MapReader follower_reader(follower_item, fmt::format("axes[{}].with[{}]", i, w),
                                      diagnostics);
            SweepAxis follower;
            follower.key = follower_reader.required<std::string>("key");
            follower.moves_with = leader;
            std::vector<Override> follower_overrides;
            const Node* follower_values = follower_reader.raw("values");
            const Node* follower_key = follower_item.find("key");
            if (follower_values == nullptr || !follower_values->is_sequence() ||
                follower_values->items().size() != axis.values.size()) {
              follower_reader.error(
                  "values", fmt::format("expected a list of {} values, one per value of \"{}\"",
                                        axis.values.size(), axis.key));
            } else if (follower_key != nullptr && !follower.key.empty()) {
              if (std::optional<std::vector<std::string>> path =
                      detail::parse_key_path(follower.key, follower_key->location(), diagnostics)) {
                for (const Node& value : follower_values->items()) {
                  follower_overrides.push_back(Override{*path, follower_key->location(), value});
                  follower.values.push_back(to_flow_yaml(value));
                }
              }
            }
            follower_reader.finish();
            followers.emplace_back(std::move(follower), std::move(follower_overrides));
          }
        }
      }
      axis_reader.finish();
      spec.axes.push_back(std::move(axis));
      axis_overrides.push_back(std::move(value_overrides));
      for (auto& [follower, follower_overrides] : followers) {
        spec.axes.push_back(std::move(follower));
        axis_overrides.push_back(std::move(follower_overrides));
      }
    }
  }
  root.finish();
  if (spec.mode == SweepMode::zip && !spec.axes.empty()) {
    for (const SweepAxis& axis : spec.axes) {
      if (axis.values.size() != spec.axes.front().values.size()) {
        root.error("mode", fmt::format("zip needs axes of equal length; \"{}\" has {} values, "
                                       "\"{}\" has {}",
                                       spec.axes.front().key, spec.axes.front().values.size(),
                                       axis.key, axis.values.size()));
        break;
      }
    }
  }
  if (experiment_file) {
    for (const std::vector<Override>& values : axis_overrides) {
      std::set<std::string> seen;
      for (const Override& value : values) {
        check_sweep_value(*experiment_file, value, file, options, seen, diagnostics);
      }
    }
  }
  diagnostics.throw_if_any();
  return spec;
}

std::string find_card(const std::string& name_or_path, CardKind kind, const std::string& what,
                      const LoadOptions& options) {
  Diagnostics diagnostics;
  CardLibrary library(roots_of(options), diagnostics);
  const Node reference = Node::make_scalar(name_or_path, SourceLocation{what, 0, 0});
  const std::optional<fs::path> found = library.find(reference, kind, fs::current_path() / ".", "");
  diagnostics.throw_if_any();
  return detail::display_path(*found);
}

namespace {

// What a listing says of a card: its description or source, or the first comment of its file.
std::string card_summary(const fs::path& path, const std::string& shown) {
  Diagnostics diagnostics;
  const std::optional<Node> tree = read_yaml_file(path, shown, diagnostics);
  if (!tree)
    return diagnostics.empty() ? "unreadable" : "error: " + diagnostics.items().front().message;
  if (tree->is_mapping()) {
    for (const char* key : {"description", "source"}) {
      const Node* node = tree->find(key);
      if (node != nullptr && node->is_scalar() && !node->scalar().empty()) return node->scalar();
    }
  }
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with('#')) break;
    const std::size_t text = line.find_first_not_of("# ");
    if (text != std::string::npos) return line.substr(text);
  }
  return "";
}

}  // namespace

std::vector<CardListing> list_cards(CardKind kind, const LoadOptions& options) {
  Diagnostics diagnostics;
  const CardLibrary library(roots_of(options), diagnostics);
  std::vector<CardListing> out;
  for (const auto& [name, path] : library.cards(kind, fs::current_path())) {
    const std::string shown = detail::display_path(path);
    CardKind listed = kind;
    if (kind == CardKind::experiment || kind == CardKind::sweep) {
      listed =
          detect_kind(path.string()) == CardKind::sweep ? CardKind::sweep : CardKind::experiment;
    }
    out.push_back({name, shown, listed, card_summary(path, shown)});
  }
  return out;
}

SourceLocation location_of(const std::string& file, std::initializer_list<std::string_view> keys) {
  const std::string path = card_path(file, CardKind::experiment, LoadOptions{});
  SourceLocation found{path, 0, 0};
  Diagnostics ignored;
  const std::optional<Node> tree = read_yaml_file(path, path, ignored);
  const Node* node = tree ? &*tree : nullptr;
  for (std::string_view key : keys) {
    if (node == nullptr || !node->is_mapping()) break;
    const Node::Entry* entry = node->find_entry(key);
    if (entry == nullptr) break;
    found = entry->key_location;
    node = &entry->value;
  }
  return found;
}

CostProfile load_cost_profile(const std::string& file, const LoadOptions& options) {
  return load_card<CostProfile>(file, CardKind::cost, options, detail::read_cost_profile, "--cost");
}

SoftwareStack load_software_stack(const std::string& file, const LoadOptions& options) {
  return load_card<SoftwareStack>(file, CardKind::stack, options, detail::read_software_stack,
                                  "stack");
}

CardKind detect_kind(const std::string& file) {
  if (is_card_name(file)) {
    // A name: the first library folder that holds it, in this order.
    for (CardKind kind : {CardKind::experiment, CardKind::model, CardKind::hardware,
                          CardKind::topology, CardKind::stack, CardKind::cost}) {
      try {
        return detect_kind(find_card(file, kind, "command line"));
      } catch (const ConfigError&) {
      }
    }
    return CardKind::experiment;  // not found anywhere: loading it reports the missing file
  }
  const fs::path path(file);
  if (path.parent_path().filename() == "costs") return CardKind::cost;
  if (path.parent_path().filename() == "software_stacks") return CardKind::stack;
  for (const fs::path& part : path.parent_path()) {
    if (part == "models") return CardKind::model;
    if (part == "hardware_profiles") return CardKind::hardware;
    if (part == "topologies") return CardKind::topology;
  }
  Diagnostics diagnostics;
  std::optional<Node> tree = read_yaml_file(path, file, diagnostics);
  if (tree && tree->is_mapping()) {
    if (tree->find("axes")) return CardKind::sweep;
    if (tree->find("parallelism") || tree->find("cluster")) return CardKind::experiment;
    if (tree->find("generator")) return CardKind::topology;
    if (tree->find("overlap") || tree->find("fused")) return CardKind::stack;
    if (tree->find("gpu") || tree->find("scale_up") || tree->find("scale_out")) {
      return CardKind::hardware;
    }
    if (tree->find("attention") || tree->find("layers")) return CardKind::model;
  }
  return CardKind::experiment;
}

}  // namespace clustersim::config
