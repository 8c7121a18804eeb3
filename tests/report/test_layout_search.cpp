// The layout search against simulating every candidate, its pruning reasons and its bounds.

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>

#include "sim/compute/compute_model.hpp"
#include "sim/config/layout_check.hpp"
#include "sim/config/loader.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/layout_search.hpp"
#include "tests/shipped_cards.hpp"

namespace clustersim::report {
namespace {

config::Experiment tiny_search(std::vector<std::string> overrides = {}) {
  config::LoadOptions options;
  options.overrides = std::move(overrides);
  return config::load_experiment("data/good/search/tiny_search.yaml", options);
}

std::string name_of(const LayoutChoice& choice, const config::Experiment& e) {
  SearchedLayout layout;
  layout.choice = choice;
  layout.dp = e.parallelism.dp;
  return layout.describe();
}

// The pruned search finds the layouts that simulating every point finds, in the same order.
TEST(LayoutSearch, FindsTheBestLayoutsThatSimulatingEveryPointFinds) {
  const config::Experiment base = tiny_search();
  SearchOptions options;
  options.top = 3;
  SearchOptions every = options;
  every.exhaustive = true;
  const SearchResult pruned = search_layouts(base, options);
  const SearchResult all = search_layouts(base, every);
  ASSERT_EQ(pruned.best.size(), 3U);
  ASSERT_EQ(all.best.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(pruned.best[i].describe(), all.best[i].describe()) << i;
    EXPECT_EQ(pruned.best[i].step_time_s, all.best[i].step_time_s) << i;
  }
  EXPECT_LT(pruned.simulated, all.simulated);
  EXPECT_GT(pruned.pruned.at("bound"), 0U);
  EXPECT_FALSE(all.pruned.contains("bound"));
  // Every candidate is accounted for: simulated or left out for a reason.
  for (const SearchResult* r : {&pruned, &all}) {
    std::size_t left_out = 0;
    for (const auto& [reason, count] : r->pruned) left_out += count;
    EXPECT_EQ(r->simulated + left_out, r->candidates);
  }
  // And by hand: no candidate that runs is faster than the best found.
  for (const LayoutChoice& choice : enumerate_layouts(base)) {
    config::Experiment e = apply_choice(base, choice);
    if (!config::check_layout(e).empty()) continue;
    try {
      const parallel::StepResult step = parallel::simulate_step(e);
      if (step.memory.fits()) {
        EXPECT_GE(step.step_time_s, all.best.front().step_time_s);
      }
    } catch (const std::invalid_argument&) {
    }
  }
}

// The same on DeepSeek-V3 with few enough candidates to simulate them all: the EP all-to-alls
// that a simulated layout tells its family raise the bound of the family's other schedules.
TEST(LayoutSearch, TheExchangeBoundKeepsTheBestMoeLayouts) {
  const config::Experiment base = testing::shipped_experiment(
      "dsv3_2048xh800_mpft",
      {"search.parallelism.tp=1", "search.parallelism.pp=[8, 16]", "search.parallelism.ep=[32, 64]",
       "search.parallelism.zero=1", "search.parallelism.micro_batch_size=1",
       "search.parallelism.schedule=[1f1b, zb1p, dualpipev]",
       "search.training.recompute=[as_written, full]"});
  SearchOptions options;
  options.top = 2;
  SearchOptions every = options;
  every.exhaustive = true;
  const SearchResult pruned = search_layouts(base, options);
  const SearchResult all = search_layouts(base, every);
  ASSERT_EQ(pruned.best.size(), 2U);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(pruned.best[i].describe(), all.best[i].describe()) << i;
  }
  EXPECT_LT(pruned.simulated, all.simulated);
}

// The lower bound never exceeds the simulated step, on the shipped DeepSeek-V3 run and on the
// tiny model's candidates.
TEST(LayoutSearch, TheComputeBoundIsBelowEverySimulatedStep) {
  const config::Experiment dsv3 = testing::shipped_experiment("dsv3_2048xh800_mpft");
  const compute::ComputeModel h800(dsv3.hardware);
  EXPECT_LT(parallel::compute_lower_bound_s(dsv3, h800), parallel::simulate_step(dsv3).step_time_s);
  SearchOptions every;
  every.exhaustive = true;
  every.top = 1000;
  for (const SearchedLayout& layout : search_layouts(tiny_search(), every).best) {
    EXPECT_LE(layout.lower_bound_s, layout.step_time_s) << layout.describe();
  }
}

// The pipeline bound (the schedule run on compute alone) lies between the compute bound and
// the simulated step on every runnable layout of the tiny space, and sees the bubbles the
// compute bound cannot: on some layouts it is well above it.
TEST(LayoutSearch, ThePipelineBoundIsBelowEverySimulatedStepAndSeesTheBubbles) {
  const config::Experiment base = tiny_search();
  const compute::ComputeModel h800(base.hardware);
  std::size_t checked = 0, tighter = 0;
  for (const LayoutChoice& choice : enumerate_layouts(base)) {
    config::Experiment e = apply_choice(base, choice);
    if (!config::check_layout(e).empty()) continue;
    const parallel::StepResult step = parallel::simulate_step(e);
    const double compute = parallel::compute_lower_bound_s(e, h800);
    ASSERT_FALSE(e.parallelism.balance_stages);
    const std::optional<double> bound = parallel::pipeline_lower_bound_s(e, h800);
    ASSERT_TRUE(bound.has_value()) << name_of(choice, e);
    const double pipeline = *bound;
    const std::string name = name_of(choice, e);
    EXPECT_GE(pipeline, compute) << name;
    EXPECT_LE(pipeline, step.step_time_s) << name;
    ++checked;
    if (pipeline > 1.2 * compute) ++tighter;
  }
  EXPECT_GT(checked, 100U);
  EXPECT_GT(tighter, 10U);
}

// What a simulated layout tells its siblings (sim/report/layout_search.cpp): per micro-batch,
// its TP and CP collectives are the same for every layout with the same tp, cp, ep, micro-batch
// size, recompute and comm SMs, and its ZeRO-3 traffic for every layout with the same tp, pp,
// ep, cp and comm SMs; and m / pp of them, added to the compute bound (or, for ZeRO-3 with the
// stack's DP overlap, on their own), never exceed the step.
TEST(LayoutSearch, TheCommunicationSiblingsShareBoundsTheirSteps) {
  const config::Experiment base = tiny_search({"search.parallelism.schedule=[1f1b, zb1p]"});
  const compute::ComputeModel h800(base.hardware);
  std::map<std::tuple<int, int, int, int, std::string, int>, double> serial;
  std::map<std::tuple<int, int, int, int, int>, double> zero3;
  std::size_t shared = 0, checked = 0;
  for (const LayoutChoice& c : enumerate_layouts(base)) {
    config::Experiment e = apply_choice(base, c);
    if (!config::check_layout(e).empty()) continue;
    const parallel::StepResult step = parallel::simulate_step(e);
    double s = 0, z = 0;
    for (const parallel::StageCost& stage : step.stages) {
      s += stage.tp_forward + stage.tp_backward + stage.cp_forward + stage.cp_backward;
      z += stage.zero3_forward + stage.zero3_backward;
    }
    const std::string name = name_of(c, e);
    const auto [at, fresh] = serial.emplace(
        std::tuple{c.tp, c.cp, c.ep, c.micro_batch_size, c.recompute, c.comm_sms}, s);
    if (!fresh) {
      EXPECT_NEAR(at->second, s, 1e-12 * s) << name;
      ++shared;
    }
    if (c.zero >= 3) {
      const auto [z_at, z_fresh] = zero3.emplace(std::tuple{c.tp, c.pp, c.ep, c.cp, c.comm_sms}, z);
      if (!z_fresh) {
        EXPECT_NEAR(z_at->second, z, 1e-12 * z) << name;
        ++shared;
      }
    }
    const double share = static_cast<double>(step.micro_batches) / c.pp;
    const double bound = parallel::compute_lower_bound_s(e, h800) + s * share;
    EXPECT_LE(bound, step.step_time_s) << name;
    if (c.zero >= 3) {
      EXPECT_LE(base.stack.overlap.dp ? z * share : bound + z * share, step.step_time_s) << name;
    }
    ++checked;
  }
  EXPECT_GT(checked, 50U);
  EXPECT_GT(shared, 20U);
  EXPECT_GT(serial.size(), 4U);
}

// The search prunes a layout by a sibling that recomputes less; that rests on this: no layout of
// the tiny space is faster with more recomputation (none, selective, full; the experiment's own
// policy between none and full).
TEST(LayoutSearch, MoreRecomputationIsNeverFaster) {
  SearchOptions every;
  every.exhaustive = true;
  every.top = 1000;
  const SearchResult all = search_layouts(
      tiny_search({"search.training.recompute=[none, selective, full, as_written]"}), every);
  std::map<std::string, std::map<std::string, double>> families;
  for (const SearchedLayout& layout : all.best) {
    SearchedLayout family = layout;
    family.choice.recompute = "none";
    families[family.describe()][layout.choice.recompute] = layout.step_time_s;
  }
  const std::pair<const char*, const char*> orders[] = {
      {"none", "selective"}, {"selective", "full"}, {"none", "as_written"}, {"as_written", "full"}};
  std::size_t pairs = 0;
  for (const auto& [family, steps] : families) {
    for (const auto& [less, more] : orders) {
      if (!steps.contains(less) || !steps.contains(more)) continue;
      ++pairs;
      EXPECT_GE(steps.at(more), steps.at(less)) << family << ": " << less << " vs " << more;
    }
  }
  EXPECT_GT(pairs, 100U);
}

TEST(LayoutSearch, CountsWhyCandidatesAreLeftOut) {
  // tp = 3 divides neither the 16 GPUs nor the heads: every candidate is left out.
  const SearchResult result =
      search_layouts(tiny_search({"search.parallelism.tp=[3]"}), SearchOptions{});
  EXPECT_TRUE(result.best.empty());
  EXPECT_EQ(result.simulated, 0U);
  ASSERT_TRUE(result.pruned.contains("layout: parallelism.tp"));
  EXPECT_EQ(result.pruned.at("layout: parallelism.tp"), result.candidates);
  EXPECT_EQ(result.pruned_example.at("layout: parallelism.tp"),
            "tp x pp x cp = 3 x 1 x 1 = 3 does not divide the 16 GPUs (2 nodes x 8)");
}

TEST(LayoutSearch, ThePlacesOfTheSpaceFollowTheSearchBlock) {
  const std::vector<LayoutChoice> choices = enumerate_layouts(
      tiny_search({"search.parallelism.tp={min: 2, max: 4}", "search.parallelism.pp=1"}));
  // tp 2 and 4; pp 1 (one schedule); zero 1 and 3; mbs 1 and 2; recompute none and full.
  EXPECT_EQ(choices.size(), 2U * 1 * 2 * 2 * 2);
  for (const LayoutChoice& c : choices) {
    EXPECT_TRUE(c.tp == 2 || c.tp == 4);
    EXPECT_EQ(c.pp, 1);
    EXPECT_EQ(c.schedule, config::Schedule::one_f_one_b);
  }
}

}  // namespace
}  // namespace clustersim::report
