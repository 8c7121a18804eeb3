#include "sim/report/layout_search.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/compute/compute_model.hpp"
#include "sim/config/diagnostics.hpp"
#include "sim/config/layout_check.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/run_outcome.hpp"
#include "sim/report/step_report.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::report {
namespace {

using config::Schedule;
using config::SearchChoices;

// Powers of two in [low, high].
std::vector<int> powers_of_two(int low, int high) {
  std::vector<int> out;
  for (long long v = 1; v <= high; v *= 2) {
    if (v >= low) out.push_back(static_cast<int>(v));
  }
  return out;
}

// A dimension's candidates: the values given, else its ladder within the bounds given (or the
// default bounds).
std::vector<int> resolve(const SearchChoices& choices, int default_low, int default_high,
                         const std::function<std::vector<int>(int, int)>& ladder) {
  if (!choices.values.empty()) {
    std::vector<int> values = choices.values;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return values;
  }
  return ladder(choices.min.value_or(default_low), choices.max.value_or(default_high));
}

std::vector<int> integers(int low, int high) {
  std::vector<int> out;
  for (int v = low; v <= high; ++v) out.push_back(v);
  return out;
}

std::vector<int> multiples_of_four(int low, int high) {
  std::vector<int> out;
  for (int v = 4 * ((low + 3) / 4); v <= high; v += 4) out.push_back(v);
  return out;
}

struct Dimensions {
  std::vector<int> tp, pp, ep, cp, zero, virtual_stages, micro_batch_size, comm_sms;
  std::vector<Schedule> schedules;
  std::vector<std::string> recompute;
};

void require_values(config::Diagnostics& diagnostics, const std::string& file, const char* key,
                    bool empty) {
  if (!empty) return;
  diagnostics.error(config::SourceLocation{file, 0, 0}, key,
                    "the search bounds leave no value of this dimension");
}

Dimensions dimensions(const config::Experiment& e) {
  const config::SearchSpace& space = e.search;
  Dimensions d;
  const int layers = e.model.layers;
  d.tp = resolve(space.tp, 1, e.cluster.gpus_per_node, powers_of_two);
  d.pp = resolve(space.pp, 1, std::min(layers, 64), powers_of_two);
  const int experts = e.model.moe ? e.model.moe->experts : 1;
  d.ep = resolve(space.ep, 1, experts, powers_of_two);
  d.cp = resolve(space.cp, 1, e.training.seq_len >= 16384 ? 8 : 1, powers_of_two);
  d.zero = space.zero.values.empty() && !space.zero.min && !space.zero.max
               ? std::vector<int>{1, 3}
               : resolve(space.zero, 0, 3, integers);
  d.virtual_stages = resolve(space.virtual_stages, 2, 2, powers_of_two);
  d.micro_batch_size = resolve(space.micro_batch_size, 1, 4, powers_of_two);
  d.comm_sms = space.comm_sms.values.empty() && !space.comm_sms.min && !space.comm_sms.max
                   ? std::vector<int>{e.parallelism.comm_sms}
                   : resolve(space.comm_sms, 4, 64, multiples_of_four);
  d.schedules =
      !space.schedules.empty()
          ? space.schedules
          : std::vector<Schedule>{Schedule::one_f_one_b, Schedule::interleaved, Schedule::zb1p,
                                  Schedule::dualpipe, Schedule::dualpipev};
  if (!space.recompute.empty()) {
    d.recompute = space.recompute;
  } else {
    if (e.training.recompute == config::RecomputeMode::ops) d.recompute.push_back("as_written");
    for (const char* mode : {"none", "selective", "full"}) d.recompute.emplace_back(mode);
  }
  config::Diagnostics diagnostics;
  require_values(diagnostics, e.file, "search.parallelism.tp", d.tp.empty());
  require_values(diagnostics, e.file, "search.parallelism.pp", d.pp.empty());
  require_values(diagnostics, e.file, "search.parallelism.ep", d.ep.empty());
  require_values(diagnostics, e.file, "search.parallelism.cp", d.cp.empty());
  require_values(diagnostics, e.file, "search.parallelism.zero", d.zero.empty());
  require_values(diagnostics, e.file, "search.parallelism.virtual_stages",
                 d.virtual_stages.empty());
  require_values(diagnostics, e.file, "search.parallelism.micro_batch_size",
                 d.micro_batch_size.empty());
  require_values(diagnostics, e.file, "search.parallelism.comm_sms", d.comm_sms.empty());
  diagnostics.throw_if_any();
  return d;
}

// The experiment's recompute policy named by a choice.
void apply_recompute(config::Experiment& e, const config::Experiment& base,
                     const std::string& name) {
  if (name == "as_written") {
    e.training.recompute = base.training.recompute;
    e.training.recompute_ops = base.training.recompute_ops;
    return;
  }
  e.training.recompute_ops.clear();
  for (const auto& entry : config::kRecomputeModeNames) {
    if (entry.name == name) e.training.recompute = entry.value;
  }
}

// What the compute lower bound depends on besides pp and the micro-batch count.
using BoundKey = std::tuple<int, int, int, int, std::string, int>;
// What the EP all-to-alls depend on: the groups' GPUs (tp, pp, ep, cp) and the tokens and SMs
// (micro-batch size, comm_sms); not the ZeRO stage, the schedule or recomputation.
using ExchangeKey = std::tuple<int, int, int, int, int, int>;

ExchangeKey exchange_key(const LayoutChoice& c) {
  return {c.tp, c.pp, c.ep, c.cp, c.micro_batch_size, c.comm_sms};
}

// What a micro-batch's TP and CP collectives (which every slot adds to its compute) depend on:
// the groups (tp, cp), the activations (micro-batch size), the GEMMs they hide behind (ep,
// comm_sms) and recomputation, which repeats them; summed over every layer, not the stage split.
BoundKey serial_key(const LayoutChoice& c) {
  return {c.tp, c.cp, c.ep, c.micro_batch_size, c.recompute, c.comm_sms};
}

// What a micro-batch's ZeRO-3 gathers and reductions depend on: the parameters per GPU and the
// data-parallel groups (tp, pp, ep, cp); not the schedule, the micro-batch size or recomputation.
using ZeroKey = std::tuple<int, int, int, int, int>;

ZeroKey zero_key(const LayoutChoice& c) {
  return {c.tp, c.pp, c.ep, c.cp, c.comm_sms};
}

// A layout without its recompute policy: layouts of one family differ only in what they
// recompute.
using FamilyKey = std::tuple<int, int, int, int, int, int, int, int, int>;

FamilyKey family_key(const LayoutChoice& c) {
  return {c.tp,
          c.pp,
          c.ep,
          c.cp,
          c.zero,
          c.virtual_stages,
          c.micro_batch_size,
          c.comm_sms,
          static_cast<int>(c.schedule)};
}

// Recomputing `less` costs no more than recomputing `more`: nothing is recomputed, or everything
// is, or the policies are the same. A step never gets faster with more recomputation (it only
// adds forward work; LayoutSearch.MoreRecomputationIsNeverFaster checks it on every layout of a
// small space), so a family's simulated step bounds its members that recompute more.
bool recomputes_less(const std::string& less, const std::string& more) {
  return less == more || less == "none" || more == "full";
}

// One simulated candidate, as the text a runner carries between processes.
std::string simulate_text(const config::Experiment& e) {
  nlohmann::json out;
  const RunOutcome outcome = run_captured([&] {
    const parallel::StepResult result = parallel::simulate_step(e);
    const workload::RankMemory& peak = result.memory.peak();
    out["memory_peak_bytes"] = peak.total();
    if (!result.memory.fits()) {
      out["pruned"] = "memory";
      out["message"] = fmt::format(
          "pipeline rank {} needs {:.1f} GB of {:.1f} GB once the "
          "simulation balanced its stages",
          peak.rank, peak.total() / 1e9, result.memory.capacity / 1e9);
      return;
    }
    const StepFigures f = step_figures(e, result);
    // The EP all-to-alls of one micro-batch through every stage (a lone slot waits for them).
    // Its TP and CP collectives, and its ZeRO-3 traffic, likewise (see bound_of).
    double ep_s = 0, serial_s = 0, zero3_s = 0;
    for (const parallel::StageCost& stage : result.stages) {
      ep_s += stage.ep_forward + stage.ep_backward;
      serial_s += stage.tp_forward + stage.tp_backward + stage.cp_forward + stage.cp_backward;
      zero3_s += stage.zero3_forward + stage.zero3_backward;
    }
    out["ep_s_per_micro_batch"] = ep_s;
    out["serial_s_per_micro_batch"] = serial_s;
    out["zero3_s_per_micro_batch"] = zero3_s;
    out["step_time_s"] = result.step_time_s;
    out["mfu_causal"] = f.mfu_causal;
    out["tokens_per_s_per_gpu"] = f.tokens_per_s_per_gpu;
    if (f.gpu_hour_usd) {
      double usd = f.gpu_hours_per_trillion_tokens * *f.gpu_hour_usd;
      if (f.energy && f.energy->usd_per_trillion_tokens()) {
        usd += *f.energy->usd_per_trillion_tokens();
      }
      out["usd_per_million_tokens"] = usd / 1e6;
    }
  });
  if (outcome.status != "ok") {
    out["pruned"] = "simulation: " + outcome.status;
    out["message"] = outcome.reason;
  }
  return out.dump();
}

bool better(const SearchedLayout& a, const SearchedLayout& b, RankBy rank_by) {
  const auto key = [&](const SearchedLayout& l) {
    return rank_by == RankBy::cost && l.usd_per_million_tokens ? *l.usd_per_million_tokens
                                                               : l.step_time_s;
  };
  if (key(a) != key(b)) return key(a) < key(b);
  return a.index < b.index;
}

}  // namespace

std::vector<std::string> SearchedLayout::overrides() const {
  const LayoutChoice& c = choice;
  std::vector<std::string> out{
      fmt::format("parallelism.tp={}", c.tp),
      fmt::format("parallelism.pp={}", c.pp),
      fmt::format("parallelism.ep={}", c.ep),
      fmt::format("parallelism.cp={}", c.cp),
      fmt::format("parallelism.zero={}", c.zero),
      fmt::format("parallelism.schedule={}", config::to_string(c.schedule)),
      fmt::format("parallelism.virtual_stages={}", c.virtual_stages),
      fmt::format("parallelism.micro_batch_size={}", c.micro_batch_size),
      fmt::format("parallelism.comm_sms={}", c.comm_sms),
  };
  if (c.recompute != "as_written") out.push_back("training.recompute=" + c.recompute);
  return out;
}

std::string SearchedLayout::describe() const {
  const LayoutChoice& c = choice;
  std::string schedule(config::to_string(c.schedule));
  if (c.schedule == Schedule::interleaved) schedule += fmt::format(" v{}", c.virtual_stages);
  return fmt::format("tp {} pp {} ep {} cp {} dp {} zero {} {} mbs {} recompute {} comm_sms {}",
                     c.tp, c.pp, c.ep, c.cp, dp, c.zero, schedule, c.micro_batch_size, c.recompute,
                     c.comm_sms);
}

namespace {

// The base with the choice applied, and what check_layout finds wrong with it.
config::Experiment with_choice(const config::Experiment& base, const LayoutChoice& c,
                               std::vector<config::LayoutProblem>& problems) {
  config::Experiment e = base;
  config::ParallelismSpec& p = e.parallelism;
  p.tp = c.tp;
  p.pp = c.pp;
  p.ep = c.ep;
  p.cp = c.cp;
  p.zero = c.zero;
  p.schedule = c.schedule;
  p.virtual_stages = c.virtual_stages;
  p.micro_batch_size = c.micro_batch_size;
  p.comm_sms = c.comm_sms;
  p.stage_layers.clear();
  apply_recompute(e, base, c.recompute);
  problems = config::check_layout(e);  // sets dp
  return e;
}

}  // namespace

config::Experiment apply_choice(const config::Experiment& base, const LayoutChoice& choice) {
  std::vector<config::LayoutProblem> problems;
  return with_choice(base, choice, problems);
}

std::vector<LayoutChoice> enumerate_layouts(const config::Experiment& base) {
  const Dimensions d = dimensions(base);
  std::vector<LayoutChoice> out;
  for (int tp : d.tp) {
    for (int pp : d.pp) {
      for (int ep : d.ep) {
        for (int cp : d.cp) {
          for (int zero : d.zero) {
            for (Schedule schedule : d.schedules) {
              const std::vector<int> one{1};
              const std::vector<int>& stages =
                  schedule == Schedule::interleaved ? d.virtual_stages : one;
              for (int virtual_stages : stages) {
                for (int mbs : d.micro_batch_size) {
                  for (const std::string& recompute : d.recompute) {
                    for (int sms : d.comm_sms) {
                      out.push_back(
                          {tp, pp, ep, cp, zero, virtual_stages, mbs, sms, schedule, recompute});
                    }
                  }
                }
              }
              if (pp == 1) break;  // every schedule is the same on one stage
            }
          }
        }
      }
    }
  }
  return out;
}

SearchRunner thread_runner() {
  return [](const std::vector<std::size_t>& order, int jobs,
            const std::function<bool(std::size_t)>& skip, const SearchWork& work,
            const SearchDone& done) {
    std::mutex mutex;
    std::size_t next = 0;
    const auto worker = [&] {
      while (true) {
        std::size_t index = 0;
        {
          const std::lock_guard lock(mutex);
          while (next < order.size() && skip(order[next])) ++next;
          if (next >= order.size()) return;
          index = order[next++];
        }
        const std::string text = work(index);
        const std::lock_guard lock(mutex);
        done(index, text);
      }
    };
    std::vector<std::thread> threads;
    for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
    worker();
    for (std::thread& thread : threads) thread.join();
  };
}

SearchResult search_layouts(const config::Experiment& base, const SearchOptions& options,
                            const SearchRunner& runner) {
  const std::vector<LayoutChoice> choices = enumerate_layouts(base);
  const compute::ComputeModel model(base.hardware);
  SearchResult result;
  result.candidates = choices.size();
  const auto prune = [&](const std::string& reason, const std::string& example) {
    ++result.pruned[reason];
    result.pruned_example.emplace(reason, example);
  };

  // Checks and bounds, without simulating.
  std::vector<SearchedLayout> layouts;
  std::map<BoundKey, double> per_micro_batch;  // compute lower bound of one micro-batch, one pp
  for (std::size_t i = 0; i < choices.size(); ++i) {
    std::vector<config::LayoutProblem> problems;
    const config::Experiment e = with_choice(base, choices[i], problems);
    if (!problems.empty()) {
      const config::LayoutProblem& first = problems.front();
      const char* section = first.section == config::LayoutSection::cluster       ? "cluster"
                            : first.section == config::LayoutSection::parallelism ? "parallelism"
                                                                                  : "training";
      prune(fmt::format("layout: {}.{}", section, first.key), first.message);
      continue;
    }
    SearchedLayout layout;
    layout.index = i;
    layout.choice = choices[i];
    layout.dp = e.parallelism.dp;
    const workload::MemoryEstimate memory = workload::estimate_memory(e);
    if (!memory.fits()) {
      prune("memory",
            fmt::format("{}: pipeline rank {} needs {:.1f} GB of {:.1f} GB", layout.describe(),
                        memory.peak().rank, memory.peak().total() / 1e9, memory.capacity / 1e9));
      continue;
    }
    const BoundKey key{e.parallelism.tp,     e.parallelism.cp,
                       e.parallelism.ep,     e.parallelism.micro_batch_size,
                       choices[i].recompute, e.parallelism.comm_sms};
    auto bound = per_micro_batch.find(key);
    if (bound == per_micro_batch.end()) {
      config::Experiment one = e;
      one.parallelism.pp = 1;
      one.training.global_batch_size = one.parallelism.dp * one.parallelism.micro_batch_size;
      bound = per_micro_batch.emplace(key, parallel::compute_lower_bound_s(one, model)).first;
    }
    layout.micro_batches = static_cast<double>(e.training.micro_batches(e.parallelism));
    layout.lower_bound_s = bound->second * layout.micro_batches / e.parallelism.pp;
    layout.memory_peak_bytes = memory.peak().total();
    layout.memory_capacity_bytes = memory.capacity;
    result.least_bound_s = std::min(result.least_bound_s, layout.lower_bound_s);
    if (options.step_time_cap_s && layout.lower_bound_s > *options.step_time_cap_s) {
      prune("goal", fmt::format("{}: its lower bound {:.3f} s is above the {:.3f} s the goal "
                                "allows",
                                layout.describe(), layout.lower_bound_s, *options.step_time_cap_s));
      continue;
    }
    layouts.push_back(layout);
  }

  // Simulated in the order of their bounds.
  std::vector<std::size_t> order(layouts.size());
  for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return layouts[a].lower_bound_s < layouts[b].lower_bound_s;
  });
  std::vector<SearchedLayout> simulated;  // best first
  const std::size_t top = std::max<std::size_t>(options.top, 1);
  // Once one layout of a family is simulated, the communication it measured raises the bound
  // of the others, in seconds per micro-batch (m / pp of each is the mean device's share):
  //   - its EP all-to-alls, where slots run their compute and their all-to-alls one after the
  //     other (every schedule but DualPipe's, without the stack's all-to-all overlap);
  //   - its TP and CP collectives, which every slot runs beside its compute;
  //   - its ZeRO-3 gathers and reductions: a slot lasts at least as long as them (with the
  //     stack's DP overlap) or adds them to its compute (without).
  std::map<ExchangeKey, double> exchange_s;
  std::map<BoundKey, double> serial_s;
  std::map<ZeroKey, double> zero3_s;
  // The steps simulated per family, with their recompute policies.
  std::map<FamilyKey, std::vector<std::pair<std::string, double>>> family_steps;
  const bool lone_slots_wait = !base.stack.overlap.moe_all_to_all;
  const auto bound_of = [&](const SearchedLayout& x) {
    const Schedule schedule = x.choice.schedule;
    const bool waits =
        lone_slots_wait && schedule != Schedule::dualpipe && schedule != Schedule::dualpipev;
    double slots = 0;  // communication per micro-batch that adds to the compute
    if (const auto known = exchange_s.find(exchange_key(x.choice));
        waits && known != exchange_s.end()) {
      slots += known->second;
    }
    if (const auto known = serial_s.find(serial_key(x.choice)); known != serial_s.end()) {
      slots += known->second;
    }
    const double share = x.micro_batches / x.choice.pp;
    double bound = x.lower_bound_s + slots * share;
    if (const auto known = zero3_s.find(zero_key(x.choice));
        x.choice.zero >= 3 && known != zero3_s.end()) {
      const double zero3 = known->second * share;
      bound = base.stack.overlap.dp ? std::max(bound, zero3) : bound + zero3;
    }
    if (const auto family = family_steps.find(family_key(x.choice)); family != family_steps.end()) {
      for (const auto& [recompute, step] : family->second) {
        if (recomputes_less(recompute, x.choice.recompute)) bound = std::max(bound, step);
      }
    }
    return bound;
  };
  std::mutex state;  // skip, work and done may run at once on two threads
  // Why candidate x is left out with `bound` as its lower bound, given the results so far
  // (nothing when it must be simulated). Called with `state` held.
  const auto pruned_by = [&](const SearchedLayout& x,
                             double bound) -> std::optional<std::pair<std::string, std::string>> {
    if (options.step_time_cap_s && bound > *options.step_time_cap_s) {
      return std::pair{std::string("goal"),
                       fmt::format("{}: its bound with what simulated layouts told it, {:.3f} s, "
                                   "is above the {:.3f} s the goal allows",
                                   x.describe(), bound, *options.step_time_cap_s)};
    }
    if (options.exhaustive || simulated.size() < top) return std::nullopt;
    bool pruned = simulated[top - 1].step_time_s <= bound;
    if (pruned && options.pareto) {
      pruned = std::any_of(simulated.begin(), simulated.end(), [&](const SearchedLayout& y) {
        return y.step_time_s <= bound && y.memory_peak_bytes <= x.memory_peak_bytes;
      });
    }
    if (!pruned) return std::nullopt;
    return std::pair{std::string("bound"),
                     std::string("its lower bound is no better than the layouts simulated")};
  };
  const auto skip = [&](std::size_t k) {
    const std::lock_guard lock(state);
    const auto reason = pruned_by(layouts[k], bound_of(layouts[k]));
    if (reason) prune(reason->first, reason->second);
    return reason.has_value();
  };
  // Before it simulates a candidate, the job runs its pipeline schedule on compute alone
  // (parallel::pipeline_lower_bound_s: the bubbles and the busiest device, in milliseconds;
  // nothing for balanced stages), and leaves the candidate out if that bound already settles it.
  // On another MPI rank the results so far are not known there, and the candidate is simulated.
  const SearchWork work = [&](std::size_t k) {
    const config::Experiment e = apply_choice(base, layouts[k].choice);
    std::optional<double> pipeline;
    try {
      pipeline = parallel::pipeline_lower_bound_s(e, model);
    } catch (const std::exception&) {
      // The simulation reports what the schedule cannot run, with its reason.
    }
    if (pipeline) {
      const std::lock_guard lock(state);
      const double bound = std::max(bound_of(layouts[k]), *pipeline);
      if (const auto reason = pruned_by(layouts[k], bound)) {
        nlohmann::json out;
        out["pruned"] = reason->first;
        out["message"] = reason->second;
        out["unsimulated"] = true;
        return out.dump();
      }
    }
    return simulate_text(e);
  };
  const SearchDone done = [&](std::size_t k, const std::string& text) {
    const std::lock_guard lock(state);
    const nlohmann::json out = nlohmann::json::parse(text);
    if (out.contains("unsimulated")) {
      prune(out["pruned"].get<std::string>(), out["message"].get<std::string>());
      return;
    }
    ++result.simulated;
    SearchedLayout layout = layouts[k];
    if (out.contains("memory_peak_bytes")) layout.memory_peak_bytes = out["memory_peak_bytes"];
    if (out.contains("pruned")) {
      prune(out["pruned"].get<std::string>(),
            layout.describe() + ": " + out["message"].get<std::string>());
      return;
    }
    exchange_s[exchange_key(layout.choice)] = out["ep_s_per_micro_batch"].get<double>();
    serial_s[serial_key(layout.choice)] = out["serial_s_per_micro_batch"].get<double>();
    if (layout.choice.zero >= 3) {
      zero3_s[zero_key(layout.choice)] = out["zero3_s_per_micro_batch"].get<double>();
    }
    layout.step_time_s = out["step_time_s"];
    family_steps[family_key(layout.choice)].emplace_back(layout.choice.recompute,
                                                         layout.step_time_s);
    layout.mfu_causal = out["mfu_causal"];
    layout.tokens_per_s_per_gpu = out["tokens_per_s_per_gpu"];
    if (out.contains("usd_per_million_tokens")) {
      layout.usd_per_million_tokens = out["usd_per_million_tokens"].get<double>();
    }
    // Kept sorted by step time (the bound's order); ranked by cost at the end.
    const auto at = std::upper_bound(simulated.begin(), simulated.end(), layout,
                                     [](const SearchedLayout& a, const SearchedLayout& b) {
                                       return better(a, b, RankBy::step_time);
                                     });
    simulated.insert(at, layout);
  };
  runner(order, std::max(1, options.jobs), skip, work, done);

  std::vector<SearchedLayout> ranked = simulated;
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const SearchedLayout& a, const SearchedLayout& b) {
                     return better(a, b, options.rank_by);
                   });
  if (ranked.size() > top) ranked.resize(top);
  result.best = ranked;
  if (options.pareto) {
    // Fastest first; a layout joins when it needs less memory than every faster one.
    double least = std::numeric_limits<double>::infinity();
    for (const SearchedLayout& layout : simulated) {
      if (layout.memory_peak_bytes < least) {
        result.pareto.push_back(layout);
        least = layout.memory_peak_bytes;
      }
    }
  }
  return result;
}

}  // namespace clustersim::report
