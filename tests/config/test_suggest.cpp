#include "sim/config/suggest.hpp"

#include <gtest/gtest.h>

namespace clustersim::config {
namespace {

TEST(EditDistance, ClosedForms) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("", "abcd"), 4u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("micro_batchsize", "micro_batch_size"), 1u);  // one insertion
  EXPECT_EQ(edit_distance("lyaers", "layers"), 1u);                     // one transposition
  EXPECT_EQ(edit_distance("abc", "abc"), 0u);
}

TEST(EditDistance, IsSymmetric) {
  EXPECT_EQ(edit_distance("schedule", "shcedul"), edit_distance("shcedul", "schedule"));
}

TEST(ClosestMatch, SuggestsOnlyPlausibleTypos) {
  const std::vector<std::string> keys{"tp", "pp", "ep", "micro_batch_size", "schedule"};
  EXPECT_EQ(closest_match("micro_batchsize", keys), "micro_batch_size");
  EXPECT_EQ(closest_match("shedule", keys), "schedule");
  EXPECT_EQ(closest_match("tpp", keys), "tp");
  EXPECT_EQ(closest_match("optimizer", keys), std::nullopt);
  EXPECT_EQ(closest_match("anything", {}), std::nullopt);
}

TEST(ClosestMatch, CaseOnlyDifferencesWin) {
  EXPECT_EQ(closest_match("GB/S", {"Gb/s", "GB/s"}), "GB/s");
}

TEST(QuotedList, JoinsWithCommasAndOr) {
  EXPECT_EQ(quoted_list({"a"}), "\"a\"");
  EXPECT_EQ(quoted_list({"a", "b"}), "\"a\" or \"b\"");
  EXPECT_EQ(quoted_list({"a", "b", "c"}), "\"a\", \"b\" or \"c\"");
}

}  // namespace
}  // namespace clustersim::config
