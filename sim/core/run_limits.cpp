#include "sim/core/run_limits.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

namespace clustersim {
namespace {

// The calling thread's limit: its length (for messages) and its deadline on the steady clock.
thread_local std::optional<double> t_limit_s;
thread_local std::int64_t t_deadline_ns = 0;

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string time_limit_message(double limit_s, SimTime reached, std::uint64_t steps) {
  return fmt::format(
      "stopped at the time limit of {:g} s (--time-limit): the simulation had reached {:.4g} s of "
      "simulated time in {} engine step{}",
      limit_s, reached.seconds(), steps, steps == 1 ? "" : "s");
}

// The first number in a file ("max" or anything else: nullopt).
std::optional<double> read_limit_file(const char* path) {
  std::ifstream in(path);
  double value = 0;
  if (!(in >> value) || !(value > 0)) return std::nullopt;
  return value;
}

// MemTotal of /proc/meminfo, in bytes.
std::optional<double> physical_memory() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  double kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemTotal:") return kib * 1024;
  }
  return std::nullopt;
}

}  // namespace

TimeLimitError::TimeLimitError(double limit_s, SimTime reached, std::uint64_t steps)
    : LimitError(time_limit_message(limit_s, reached, steps)), limit_s_(limit_s) {}

WallClockLimit::WallClockLimit(std::optional<double> seconds)
    : saved_limit_s_(t_limit_s), saved_deadline_ns_(t_deadline_ns) {
  t_limit_s = seconds;
  // Capped at about 30 years, so the deadline cannot overflow.
  if (seconds) {
    t_deadline_ns = steady_now_ns() + static_cast<std::int64_t>(std::min(*seconds, 1e9) * 1e9);
  }
}

WallClockLimit::~WallClockLimit() {
  t_limit_s = saved_limit_s_;
  t_deadline_ns = saved_deadline_ns_;
}

void check_wall_clock_limit(SimTime reached, std::uint64_t steps) {
  if (t_limit_s && steady_now_ns() >= t_deadline_ns) {
    throw TimeLimitError(*t_limit_s, reached, steps);
  }
}

std::optional<double> machine_memory_bytes() {
  std::optional<double> bytes = physical_memory();
  for (const char* path :
       {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
    const std::optional<double> limit = read_limit_file(path);
    if (limit && (!bytes || *limit < *bytes)) bytes = limit;
  }
  return bytes;
}

RunLimits RunLimits::machine_defaults() {
  RunLimits limits;
  limits.memory_bytes = machine_memory_bytes();
  limits.memory_source = "the machine has (--max-memory sets another budget)";
  return limits;
}

std::string format_bytes(double bytes) {
  constexpr std::string_view kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  return fmt::format("{:.3g} {}", bytes, kUnits[unit]);
}

}  // namespace clustersim
