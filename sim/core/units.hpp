#pragma once
// Physical quantities that cross function boundaries. Each is a distinct type holding one double
// in the SI base unit its member names, so a bandwidth can never be passed where a size is
// expected and the unit is always visible at the point of use.

#include <compare>
#include <string>

namespace clustersim {

struct Bandwidth {  // bytes per second, one direction
  double bytes_per_s = 0;
  auto operator<=>(const Bandwidth&) const = default;
};

struct DataSize {  // bytes
  double bytes = 0;
  auto operator<=>(const DataSize&) const = default;
};

struct FlopRate {  // floating-point operations per second
  double flop_per_s = 0;
  auto operator<=>(const FlopRate&) const = default;
};

struct FlopCount {  // floating-point operations
  double flop = 0;
  auto operator<=>(const FlopCount&) const = default;
};

struct Frequency {  // hertz
  double hz = 0;
  auto operator<=>(const Frequency&) const = default;
};

struct Power {  // watts
  double watts = 0;
  auto operator<=>(const Power&) const = default;
};

// Human-readable forms with decimal SI prefixes, as a spec sheet writes them: "50 GB/s",
// "80 GB", "989 TFLOP/s", "1.83 GHz", "700 W". Up to four significant digits.
[[nodiscard]] std::string to_string(Bandwidth value);
[[nodiscard]] std::string to_string(DataSize value);
[[nodiscard]] std::string to_string(FlopRate value);
[[nodiscard]] std::string to_string(FlopCount value);
[[nodiscard]] std::string to_string(Frequency value);
[[nodiscard]] std::string to_string(Power value);

}  // namespace clustersim
