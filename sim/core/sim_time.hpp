#pragma once
// Engine time: a signed 64-bit count of picoseconds.
//
// Range: +/- 9.22e18 ps = +/- 9.22e6 s, about 106 days of simulated time, which covers any
// training step or sweep point by orders of magnitude (a DeepSeek-V3 step is ~20 s). Conversions
// from seconds are checked: a value that does not fit, or is not finite, is rejected rather than
// wrapped. Doubles appear only at the edges (config parsing, reports).

#include <compare>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>

namespace clustersim {

// A computed duration beyond the engine's time range (about 106 days in picoseconds): the input
// holds a rate near zero or a size far too large. An input problem, reported as such.
class TimeRangeError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class SimTime {
 public:
  static constexpr std::int64_t kPicosPerSecond = 1'000'000'000'000;

  constexpr SimTime() = default;

  [[nodiscard]] static constexpr SimTime from_ps(std::int64_t ps) { return SimTime(ps); }
  [[nodiscard]] static constexpr SimTime zero() { return SimTime(0); }
  [[nodiscard]] static constexpr SimTime max() {
    return SimTime(std::numeric_limits<std::int64_t>::max());
  }
  // Rounds to the nearest picosecond; nullopt when not finite or out of range.
  [[nodiscard]] static std::optional<SimTime> from_seconds(double seconds);
  // The same for a duration the simulator computed; throws TimeRangeError when it does not fit.
  [[nodiscard]] static SimTime from_computed_seconds(double seconds);

  [[nodiscard]] constexpr std::int64_t ps() const { return ps_; }
  [[nodiscard]] constexpr double seconds() const {
    return static_cast<double>(ps_) / static_cast<double>(kPicosPerSecond);
  }

  constexpr auto operator<=>(const SimTime&) const = default;
  constexpr SimTime operator+(SimTime other) const { return SimTime(ps_ + other.ps_); }
  constexpr SimTime operator-(SimTime other) const { return SimTime(ps_ - other.ps_); }

 private:
  constexpr explicit SimTime(std::int64_t ps) : ps_(ps) {}
  std::int64_t ps_ = 0;
};

}  // namespace clustersim
