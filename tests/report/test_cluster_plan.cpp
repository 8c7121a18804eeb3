// The cluster plan against exhaustive layout searches at every size, its goal caps in closed
// form, and its figures from the chosen layout.

#include <gtest/gtest.h>

#include <cmath>

#include "sim/config/loader.hpp"
#include "sim/report/cluster_plan.hpp"

namespace clustersim::report {
namespace {

constexpr double kDay = 86400;

config::Experiment tiny_plan(std::vector<std::string> overrides = {}) {
  config::LoadOptions options;
  options.overrides = std::move(overrides);
  return config::load_experiment("data/good/search/tiny_plan.yaml", options);
}

// The fastest layout at `nodes` nodes of candidate `index`, simulating every candidate layout.
std::optional<SearchedLayout> exhaustive_best(const config::Experiment& base, std::size_t index,
                                              int nodes) {
  SearchOptions every;
  every.exhaustive = true;
  every.top = 1;
  const SearchResult result = search_layouts(plan_candidate(base, index, nodes), every);
  if (result.best.empty()) return std::nullopt;
  return result.best.front();
}

TEST(ClusterPlan, TheLadderDoublesAndTriplesHalves) {
  config::PlanSpec plan;
  plan.nodes.min = 3;
  plan.nodes.max = 50;
  EXPECT_EQ(plan_node_ladder(plan), (std::vector<int>{3, 4, 6, 8, 12, 16, 24, 32, 48}));
  plan.nodes.values = {8, 2, 8, 5};
  EXPECT_EQ(plan_node_ladder(plan), (std::vector<int>{2, 5, 8}));
}

// Each candidate's answer is the smallest size whose best layout (as simulating every layout
// finds it) meets the deadline: every smaller size's best misses it.
TEST(ClusterPlan, PicksTheSmallestSizeWhoseBestLayoutMeetsTheDeadline) {
  const config::Experiment base = tiny_plan();
  const PlanResult plan = plan_cluster(base, PlanOptions{});
  ASSERT_EQ(plan.rows.size(), 2U);
  const double steps = 1e12 / (64.0 * 2048);
  for (std::size_t index = 0; index < plan.rows.size(); ++index) {
    const PlanRow& row = plan.rows[index];
    ASSERT_TRUE(row.meets) << row.candidate;
    const PlanTrial* chosen = row.chosen_trial();
    ASSERT_NE(chosen, nullptr);
    EXPECT_EQ(chosen, &row.trials.back());
    EXPECT_GT(row.trials.size(), 1U) << "the deadline should rule out one node";
    for (const PlanTrial& trial : row.trials) {
      EXPECT_DOUBLE_EQ(trial.step_cap_s, 1 * kDay / steps);
      const std::optional<SearchedLayout> best = exhaustive_best(base, index, trial.nodes);
      if (&trial == chosen) {
        ASSERT_TRUE(best);
        EXPECT_EQ(best->describe(), trial.best->describe());
        EXPECT_EQ(best->step_time_s, trial.best->step_time_s);
        EXPECT_LE(best->step_time_s, trial.step_cap_s);
      } else if (best) {
        EXPECT_GT(best->step_time_s, trial.step_cap_s) << trial.nodes << " nodes";
      }
    }
  }
  EXPECT_EQ(plan.rows[1].candidate, "H100 cluster");
  EXPECT_EQ(plan.rows[0].candidate, "h800_sxm on ft2");
}

// Days, GPU-hours, rental, energy and capex follow from the chosen layout's step time and the
// profiles' stated assumptions.
TEST(ClusterPlan, FiguresFollowFromTheStepTimeAndTheProfilesAssumptions) {
  const config::Experiment base = tiny_plan();
  const PlanResult plan = plan_cluster(base, PlanOptions{});
  const double steps = 1e12 / (64.0 * 2048);
  for (std::size_t index = 0; index < plan.rows.size(); ++index) {
    const PlanRow& row = plan.rows[index];
    const PlanTrial& chosen = *row.chosen_trial();
    const config::Experiment design = plan_candidate(base, index, chosen.nodes);
    const double days = steps * chosen.best->step_time_s / kDay;
    EXPECT_NEAR(row.training_days, days, 1e-9 * days);
    const double gpu_hours = static_cast<double>(chosen.gpus) * days * 24;
    EXPECT_NEAR(row.gpu_hours, gpu_hours, 1e-9 * gpu_hours);
    ASSERT_TRUE(row.rental_usd);
    EXPECT_NEAR(*row.rental_usd, gpu_hours * *design.hardware.price.gpu_hour_usd,
                1e-6 * *row.rental_usd);
    ASSERT_TRUE(row.energy && row.energy->total_kwh);
    const double kwh = gpu_hours * design.hardware.gpu.tdp->watts * 0.8 * 1.2 / 1e3;
    EXPECT_NEAR(*row.energy->total_kwh, kwh, 1e-9 * kwh);
    EXPECT_NEAR(*row.run_usd(), *row.rental_usd + kwh * 0.08, 1e-6 * *row.run_usd());
    ASSERT_TRUE(row.capex.gpus_usd);
    EXPECT_DOUBLE_EQ(*row.capex.gpus_usd,
                     static_cast<double>(chosen.gpus) * *design.hardware.price.capex_per_gpu_usd);
    ASSERT_TRUE(row.capex.network);
    EXPECT_GT(row.capex.network->total_usd(), 0);
  }
  // The candidate's own capex assumption replaces the profile's.
  EXPECT_DOUBLE_EQ(*plan.rows[1].capex.gpus_usd,
                   static_cast<double>(plan.rows[1].chosen_trial()->gpus) * 25000);
}

// A budget caps the step time at B x 3600 / (steps x GPUs x all-in GPU-hour price).
TEST(ClusterPlan, ABudgetCapsTheStepTimeByTheAllInPrice) {
  const config::Experiment base =
      tiny_plan({"plan.deadline_days=null", "plan.budget_usd=2000", "plan.nodes=[2, 4]",
                 "plan.candidates=[{hardware: h800_sxm, topology: ft2}]"});
  const PlanResult plan = plan_cluster(base, PlanOptions{});
  ASSERT_EQ(plan.rows.size(), 1U);
  const double steps = 1e12 / (64.0 * 2048);
  const double price = 2.0 + 0.7 * 0.8 * 1.2 * 0.08;  // H800: $2 rental, 700 W TDP
  for (const PlanTrial& trial : plan.rows[0].trials) {
    const double cap = 2000 * 3600 / (steps * static_cast<double>(trial.gpus) * price);
    EXPECT_NEAR(trial.step_cap_s, cap, 1e-9 * cap) << trial.nodes;
  }
  const PlanRow& row = plan.rows[0];
  ASSERT_TRUE(row.meets);
  EXPECT_LE(*row.run_usd(), 2000 * (1 + 1e-9));
}

// A goal that no size meets keeps the size that came closest, and says why each size missed.
TEST(ClusterPlan, AGoalNoSizeMeetsKeepsTheClosest) {
  const config::Experiment base = tiny_plan({"plan.deadline_days=0.001"});
  const PlanResult plan = plan_cluster(base, PlanOptions{});
  for (const PlanRow& row : plan.rows) {
    EXPECT_FALSE(row.meets);
    for (const PlanTrial& trial : row.trials) {
      EXPECT_FALSE(trial.meets());
      EXPECT_FALSE(trial.outcome.empty());
    }
    // Every size's bound is above the cap, so nothing was simulated until the closest size's
    // best layout was searched for without the cap: the largest size.
    const PlanTrial* closest = row.chosen_trial();
    ASSERT_NE(closest, nullptr);
    ASSERT_TRUE(closest->best);
    EXPECT_EQ(closest->nodes, 8);
    EXPECT_EQ(
        closest->best->describe(),
        exhaustive_best(base, static_cast<std::size_t>(&row - plan.rows.data()), 8)->describe());
    EXPECT_GT(row.training_days, 0.001);
    for (const PlanTrial& trial : row.trials) {
      if (trial.best) {
        EXPECT_GE(trial.best->step_time_s / trial.step_cap_s,
                  closest->best->step_time_s / closest->step_cap_s);
      }
    }
  }
}

TEST(ClusterPlan, NeedsATokenBudgetAndAGoal) {
  try {
    (void)plan_cluster(tiny_plan({"plan.tokens=null", "training.tokens=null"}), PlanOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("a plan needs a token budget: give plan.tokens (or "
                        "training.tokens, or --tokens on the command line)"),
              std::string::npos)
        << error.what();
  }
  try {
    (void)tiny_plan({"plan.deadline_days=null"});
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("deadline_days"), std::string::npos) << error.what();
  }
}

TEST(ClusterPlan, ABudgetNeedsEveryCandidatesPrice) {
  try {
    (void)plan_cluster(
        tiny_plan({"plan.budget_usd=1000",
                   "plan.candidates=[{hardware: h800_sxm, topology: ft2}, {hardware: {base: "
                   "h100_sxm, name: unpriced, price: {gpu_hour_usd: null}}, topology: ft2}]"}),
        PlanOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("plan.candidates[1]: a budget needs a GPU-hour price, and hardware "
                        "profile unpriced has none: give plan.candidates[1].gpu_hour_usd"),
              std::string::npos)
        << error.what();
  }
}

TEST(ClusterPlan, BoundsThatLeaveNoSizeAreAnError) {
  try {
    (void)plan_cluster(tiny_plan({"plan.nodes={min: 20000}"}), PlanOptions{});
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("plan.nodes: the bounds leave no cluster size to try (the ladder runs "
                        "from 1 to 16384 nodes)"),
              std::string::npos)
        << error.what();
  }
}

TEST(ClusterPlan, ACandidateNamesCardsLikeTheExperiment) {
  try {
    (void)tiny_plan({"plan.candidates=[{hardware: h800_sx, topology: ft2}]"});
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("plan.candidates[0].hardware"), std::string::npos) << text;
    EXPECT_NE(text.find("h800_sxm"), std::string::npos) << text;  // did you mean
  }
  const config::Experiment inline_card = tiny_plan(
      {"plan.candidates=[{hardware: {base: h800_sxm, name: h800_fast_nic}, topology: ft2, "
       "gpus_per_node: 4}]"});
  ASSERT_EQ(inline_card.plan.candidates.size(), 1U);
  EXPECT_EQ(inline_card.plan.candidates[0].hardware.name, "h800_fast_nic");
  EXPECT_EQ(plan_candidate(inline_card, 0, 3).cluster.gpus(), 12);
}

}  // namespace
}  // namespace clustersim::report
