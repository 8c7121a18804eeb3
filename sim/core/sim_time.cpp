#include "sim/core/sim_time.hpp"

#include <cmath>

namespace clustersim {

std::optional<SimTime> SimTime::from_seconds(double seconds) {
  if (!std::isfinite(seconds)) return std::nullopt;
  const double ps = std::round(seconds * static_cast<double>(kPicosPerSecond));
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  constexpr double kLimit = 9223372036854775808.0;
  if (ps >= kLimit || ps < -kLimit) return std::nullopt;
  return SimTime(static_cast<std::int64_t>(ps));
}

}  // namespace clustersim
