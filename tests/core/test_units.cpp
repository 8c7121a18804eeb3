#include "sim/core/units.hpp"

#include <gtest/gtest.h>

namespace clustersim {
namespace {

TEST(UnitsToString, UsesDecimalPrefixesAndFourDigits) {
  EXPECT_EQ(to_string(Bandwidth{50e9}), "50 GB/s");
  EXPECT_EQ(to_string(Bandwidth{3.35e12}), "3.35 TB/s");
  EXPECT_EQ(to_string(DataSize{80e9}), "80 GB");
  EXPECT_EQ(to_string(DataSize{70272}), "70.27 kB");
  EXPECT_EQ(to_string(FlopRate{989e12}), "989 TFLOP/s");
  EXPECT_EQ(to_string(FlopCount{250e9}), "250 GFLOP");
  EXPECT_EQ(to_string(Frequency{1.83e9}), "1.83 GHz");
  EXPECT_EQ(to_string(Power{700}), "700 W");
  EXPECT_EQ(to_string(Power{0}), "0 W");
  EXPECT_EQ(to_string(Bandwidth{0.5}), "0.5 B/s");
}

}  // namespace
}  // namespace clustersim
