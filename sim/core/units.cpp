#include "sim/core/units.hpp"

#include <array>
#include <cmath>
#include <string_view>

#include <fmt/format.h>

namespace clustersim {
namespace {

// Picks the largest decimal prefix that keeps the mantissa >= 1 and prints up to four
// significant digits without trailing zeros.
std::string with_si_prefix(double value, std::string_view unit) {
  struct Prefix {
    double factor;
    std::string_view symbol;
  };
  constexpr std::array<Prefix, 7> kPrefixes{
      {{1e18, "E"}, {1e15, "P"}, {1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1.0, ""}}};
  const double magnitude = std::fabs(value);
  for (const Prefix& prefix : kPrefixes) {
    if (magnitude >= prefix.factor || prefix.factor == 1.0) {
      return fmt::format("{:.4g} {}{}", value / prefix.factor, prefix.symbol, unit);
    }
  }
  return fmt::format("{:.4g} {}", value, unit);
}

}  // namespace

std::string to_string(Bandwidth value) {
  return with_si_prefix(value.bytes_per_s, "B/s");
}
std::string to_string(DataSize value) {
  return with_si_prefix(value.bytes, "B");
}
std::string to_string(FlopRate value) {
  return with_si_prefix(value.flop_per_s, "FLOP/s");
}
std::string to_string(FlopCount value) {
  return with_si_prefix(value.flop, "FLOP");
}
std::string to_string(Frequency value) {
  return with_si_prefix(value.hz, "Hz");
}
std::string to_string(Power value) {
  return with_si_prefix(value.watts, "W");
}

}  // namespace clustersim
