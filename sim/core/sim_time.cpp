#include "sim/core/sim_time.hpp"

#include <sstream>

#include <cmath>
#include <stdexcept>
#include <string>

namespace clustersim {

std::optional<SimTime> SimTime::from_seconds(double seconds) {
  if (!std::isfinite(seconds)) return std::nullopt;
  const double ps = std::round(seconds * static_cast<double>(kPicosPerSecond));
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  constexpr double kLimit = 9223372036854775808.0;
  if (ps >= kLimit || ps < -kLimit) return std::nullopt;
  return SimTime(static_cast<std::int64_t>(ps));
}

SimTime SimTime::from_computed_seconds(double seconds) {
  const std::optional<SimTime> time = from_seconds(seconds);
  if (!time) {
    std::ostringstream text;
    text << "a computed duration of " << seconds
         << " s is beyond the simulator's time range (about 106 days): a rate near zero or a "
            "size far too large in the input?";
    throw TimeRangeError(text.str());
  }
  return *time;
}

}  // namespace clustersim
