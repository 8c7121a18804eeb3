#pragma once
// Parsing of quantities written with their units: "400 Gb/s", "50 GB/s", "80 GiB", "1.2 us",
// "989 TFLOP/s", "1830 MHz", "700 W", and of counts with an optional magnitude suffix ("14.8T").
//
// Units are never assumed: a bare number where a unit is required is an error whose message shows
// an example. Bits and bytes are told apart by case ("b" bits, "B" bytes); decimal prefixes
// (K/k, M, G, T, P) are powers of 1000 and binary prefixes (Ki, Mi, Gi, Ti, Pi) powers of 1024.

#include <optional>
#include <string>
#include <string_view>

#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"

namespace clustersim::config {

template <class T>
struct Parsed {
  std::optional<T> value;
  std::string error;  // set when value is empty; a complete sentence fragment for a diagnostic
};

[[nodiscard]] Parsed<Bandwidth> parse_bandwidth(std::string_view text);
[[nodiscard]] Parsed<DataSize> parse_data_size(std::string_view text);
[[nodiscard]] Parsed<SimTime> parse_duration(std::string_view text);  // resolution 1 ps
[[nodiscard]] Parsed<FlopRate> parse_flop_rate(std::string_view text);
[[nodiscard]] Parsed<FlopCount> parse_flop_count(std::string_view text);
[[nodiscard]] Parsed<Frequency> parse_frequency(std::string_view text);
[[nodiscard]] Parsed<Power> parse_power(std::string_view text);

// A dimensionless count: "15360", "1.5e12", "14.8T", "4K", "671B" (K 1e3, M 1e6, B 1e9, T 1e12).
[[nodiscard]] Parsed<double> parse_count(std::string_view text);
// A fraction: "0.8" or "80 %".
[[nodiscard]] Parsed<double> parse_fraction(std::string_view text);
// A plain finite number (no unit); out-of-range and non-finite values are errors.
[[nodiscard]] Parsed<double> parse_number(std::string_view text);

}  // namespace clustersim::config
