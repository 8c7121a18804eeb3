#include "sim/core/sim_time.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace clustersim {
namespace {

TEST(SimTime, SecondsConvertToPicosecondsExactly) {
  EXPECT_EQ(SimTime::from_seconds(1.0)->ps(), 1'000'000'000'000);
  EXPECT_EQ(SimTime::from_seconds(1.2e-6)->ps(), 1'200'000);
  EXPECT_EQ(SimTime::from_seconds(-2.5e-12)->ps(), -3);  // rounds half away from zero
  EXPECT_DOUBLE_EQ(SimTime::from_ps(19'926'000'000'000).seconds(), 19.926);
}

TEST(SimTime, RangeIsAbout106DaysEachWay) {
  // 2^63 ps = 9,223,372 s = 106.75 days: the documented range.
  EXPECT_TRUE(SimTime::from_seconds(9.2e6).has_value());
  EXPECT_FALSE(SimTime::from_seconds(9.3e6).has_value());
  EXPECT_FALSE(SimTime::from_seconds(-9.3e6).has_value());
  EXPECT_NEAR(SimTime::max().seconds() / 86400.0, 106.75, 0.01);
}

TEST(SimTime, RejectsNonFiniteSeconds) {
  EXPECT_FALSE(SimTime::from_seconds(std::numeric_limits<double>::infinity()).has_value());
  EXPECT_FALSE(SimTime::from_seconds(std::nan("")).has_value());
}

TEST(SimTime, OrdersAndAdds) {
  const SimTime a = SimTime::from_ps(5);
  const SimTime b = SimTime::from_ps(7);
  EXPECT_LT(a, b);
  EXPECT_EQ((a + b).ps(), 12);
  EXPECT_EQ((b - a).ps(), 2);
  EXPECT_EQ(SimTime::zero().ps(), 0);
}

}  // namespace
}  // namespace clustersim
