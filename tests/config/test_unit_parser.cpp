#include "sim/config/unit_parser.hpp"

#include <gtest/gtest.h>

namespace clustersim::config {
namespace {

double bytes_per_s(std::string_view text) {
  const Parsed<Bandwidth> parsed = parse_bandwidth(text);
  EXPECT_TRUE(parsed.value.has_value()) << text << ": " << parsed.error;
  return parsed.value ? parsed.value->bytes_per_s : -1;
}

std::string bandwidth_error(std::string_view text) {
  const Parsed<Bandwidth> parsed = parse_bandwidth(text);
  EXPECT_FALSE(parsed.value.has_value()) << text;
  return parsed.error;
}

TEST(ParseBandwidth, BitsAreAnEighthOfBytes) {
  EXPECT_DOUBLE_EQ(bytes_per_s("400 Gb/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("400 Gbps"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("400 Gbit/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("50 GB/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("3.35 TB/s"), 3.35e12);
  EXPECT_DOUBLE_EQ(bytes_per_s("1 GiB/s"), 1073741824.0);
  EXPECT_DOUBLE_EQ(bytes_per_s("100 Mb/s"), 12.5e6);
}

TEST(ParseBandwidth, AcceptsSpacingAndExponents) {
  EXPECT_DOUBLE_EQ(bytes_per_s("400Gb/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("  400   Gb/s  "), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("4e2 Gb/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("+50 GB/s"), 50e9);
  EXPECT_DOUBLE_EQ(bytes_per_s(".5 GB/s"), 0.5e9);
  EXPECT_DOUBLE_EQ(bytes_per_s("-1 GB/s"), -1e9);  // the sign is the reader's to judge
}

TEST(ParseBandwidth, BareNumberIsAnErrorWithAnExample) {
  EXPECT_EQ(bandwidth_error("400"),
            "missing unit: write the bandwidth with its unit, e.g. \"400 Gb/s\" or \"50 GB/s\"");
}

TEST(ParseBandwidth, CaseMistakesNameBothBitsAndBytes) {
  EXPECT_EQ(bandwidth_error("400 gb/s"),
            "unknown bandwidth unit \"gb/s\"; did you mean \"Gb/s\" or \"GB/s\"? (b = bits, B = "
            "bytes)");
}

TEST(ParseBandwidth, TyposGetTheClosestUnit) {
  EXPECT_EQ(bandwidth_error("50 GB/sec"),
            "unknown bandwidth unit \"GB/sec\"; did you mean \"GB/s\"?");
}

TEST(ParseBandwidth, UnitsOfOtherQuantitiesAreNamed) {
  EXPECT_EQ(bandwidth_error("80 GB"),
            "\"GB\" is a size unit, but a bandwidth is expected here, e.g. \"400 Gb/s\" or \"50 "
            "GB/s\"");
  EXPECT_EQ(bandwidth_error("5 us"),
            "\"us\" is a duration unit, but a bandwidth is expected here, e.g. \"400 Gb/s\" or "
            "\"50 GB/s\"");
}

TEST(ParseBandwidth, RejectsTextNonFiniteAndOutOfRange) {
  EXPECT_EQ(bandwidth_error("fast"),
            "expected a bandwidth like \"400 Gb/s\" or \"50 GB/s\", got \"fast\"");
  EXPECT_EQ(bandwidth_error("inf GB/s"),
            "expected a bandwidth like \"400 Gb/s\" or \"50 GB/s\", got \"inf GB/s\"");
  EXPECT_EQ(bandwidth_error("nan GB/s"),
            "expected a bandwidth like \"400 Gb/s\" or \"50 GB/s\", got \"nan GB/s\"");
  EXPECT_EQ(bandwidth_error("1e400 GB/s"), "number 1e400 is out of range");
  EXPECT_EQ(bandwidth_error("1e300 PB/s"), "bandwidth \"1e300 PB/s\" is out of range");
  EXPECT_EQ(bandwidth_error(""), "expected a bandwidth like \"400 Gb/s\" or \"50 GB/s\", got \"\"");
}

TEST(ParseDataSize, DecimalAndBinaryPrefixes) {
  EXPECT_DOUBLE_EQ(parse_data_size("80 GB").value->bytes, 80e9);
  EXPECT_DOUBLE_EQ(parse_data_size("80 GiB").value->bytes, 80.0 * 1024 * 1024 * 1024);
  EXPECT_DOUBLE_EQ(parse_data_size("70272 B").value->bytes, 70272);
  EXPECT_DOUBLE_EQ(parse_data_size("70.272 kB").value->bytes, 70272);
  EXPECT_EQ(parse_data_size("80").error,
            "missing unit: write the size with its unit, e.g. \"80 GiB\" or \"70272 B\"");
}

TEST(ParseDuration, ConvertsToWholePicoseconds) {
  EXPECT_EQ(parse_duration("1.2 us").value->ps(), 1'200'000);
  EXPECT_EQ(parse_duration("1.2 \u00b5s").value->ps(), 1'200'000);
  EXPECT_EQ(parse_duration("2.8 us").value->ps(), 2'800'000);
  EXPECT_EQ(parse_duration("20 ms").value->ps(), 20'000'000'000);
  EXPECT_EQ(parse_duration("1 ps").value->ps(), 1);
  EXPECT_EQ(parse_duration("2 min").value->ps(), 120'000'000'000'000);
  EXPECT_EQ(parse_duration("0.5 ps").error,
            "duration \"0.5 ps\" is finer than the 1 ps time resolution");
  EXPECT_EQ(parse_duration("3000 h").error,
            "duration \"3000 h\" is out of range (at most about 106 days)");
  EXPECT_EQ(parse_duration("1.2").error,
            "missing unit: write the duration with its unit, e.g. \"1.2 us\" or \"20 ms\"");
}

TEST(ParseRates, FlopsFrequencyAndPower) {
  EXPECT_DOUBLE_EQ(parse_flop_rate("989 TFLOP/s").value->flop_per_s, 989e12);
  EXPECT_DOUBLE_EQ(parse_flop_rate("1979 TFLOPS").value->flop_per_s, 1979e12);
  EXPECT_DOUBLE_EQ(parse_flop_rate("2.25 PFLOP/s").value->flop_per_s, 2.25e15);
  EXPECT_DOUBLE_EQ(parse_flop_count("250 GFLOP").value->flop, 250e9);
  EXPECT_DOUBLE_EQ(parse_frequency("1830 MHz").value->hz, 1.83e9);
  EXPECT_DOUBLE_EQ(parse_power("700 W").value->watts, 700);
  EXPECT_DOUBLE_EQ(parse_power("1.2 kW").value->watts, 1200);
  EXPECT_EQ(parse_flop_rate("989").error,
            "missing unit: write the compute rate with its unit, e.g. \"989 TFLOP/s\"");
}

TEST(ParseCount, SuffixesAreDecimalMagnitudes) {
  EXPECT_DOUBLE_EQ(*parse_count("14.8T").value, 14.8e12);
  EXPECT_DOUBLE_EQ(*parse_count("14.8 T").value, 14.8e12);
  EXPECT_DOUBLE_EQ(*parse_count("671B").value, 671e9);
  EXPECT_DOUBLE_EQ(*parse_count("4K").value, 4000);
  EXPECT_DOUBLE_EQ(*parse_count("15360").value, 15360);
  EXPECT_DOUBLE_EQ(*parse_count("14.8e12").value, 14.8e12);
  EXPECT_EQ(parse_count("14.8Q").error,
            "unknown count suffix \"Q\"; use K (1e3), M (1e6), B (1e9) or T (1e12)");
  // A count that overflows once its suffix is applied is an error, not infinity.
  EXPECT_EQ(parse_count("1e300T").error, "count \"1e300T\" is out of range");
}

TEST(ParseFraction, PercentOrPlain) {
  EXPECT_DOUBLE_EQ(*parse_fraction("80 %").value, 0.8);
  EXPECT_DOUBLE_EQ(*parse_fraction("80%").value, 0.8);
  EXPECT_DOUBLE_EQ(*parse_fraction("0.8").value, 0.8);
  EXPECT_EQ(parse_fraction("80 percent").error,
            "expected a fraction like \"0.8\" or \"80 %\", got \"80 percent\"");
}

TEST(ParseNumber, RejectsTrailingText) {
  EXPECT_DOUBLE_EQ(*parse_number("2.0").value, 2.0);
  EXPECT_EQ(parse_number("2 dollars").error, "expected a number, got \"2 dollars\"");
}

}  // namespace
}  // namespace clustersim::config
