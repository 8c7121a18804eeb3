#pragma once
// The limits a user puts on one run (`--max-memory`, `--time-limit`), so that no input exhausts
// the machine or runs for ever: a run that would need more memory than its budget refuses before
// it allocates, and a run that outlasts its time stops, each with a message that names the limit,
// how far the run got or what it would need, and the option that raises it.
//
// The time limit is wall-clock time and belongs to the calling thread (each worker of a sweep
// runs its point under its own): a WallClockLimit sets it for its scope, and the engine loop
// checks it at every step, so a run stops within one engine step of its limit. A limit never
// changes a result, only whether the run finishes: simulated times stay deterministic.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "sim/core/sim_time.hpp"

namespace clustersim {

// A run stopped by a limit the user set: neither an input error nor a bug. The message is a
// complete sentence fragment ("stopped at the time limit of 5 s (--time-limit) ...").
class LimitError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class TimeLimitError : public LimitError {
 public:
  TimeLimitError(double limit_s, SimTime reached, std::uint64_t steps);
  [[nodiscard]] double limit_s() const { return limit_s_; }

 private:
  double limit_s_;
};

class MemoryLimitError : public LimitError {
 public:
  using LimitError::LimitError;
};

// Sets the calling thread's wall-clock limit, counted from now, for the object's lifetime (none:
// no limit), and restores the one before it afterwards.
class WallClockLimit {
 public:
  explicit WallClockLimit(std::optional<double> seconds);
  ~WallClockLimit();
  WallClockLimit(const WallClockLimit&) = delete;
  WallClockLimit& operator=(const WallClockLimit&) = delete;

 private:
  std::optional<double> saved_limit_s_;
  std::int64_t saved_deadline_ns_ = 0;
};

// Throws TimeLimitError when the calling thread's limit has passed; `reached` and `steps` say how
// far the simulation got. Cheap when no limit is set (one thread-local read).
void check_wall_clock_limit(SimTime reached, std::uint64_t steps);

// The memory the machine offers one process: its physical memory, or the control group's limit
// when that is lower (cgroup v2 memory.max, v1 memory.limit_in_bytes). nullopt when neither can
// be read.
[[nodiscard]] std::optional<double> machine_memory_bytes();

// The limits of one run: a memory budget for the simulator and a wall-clock time.
struct RunLimits {
  std::optional<double> memory_bytes;  // none: no budget (the machine's memory is unknown)
  // Completes "more than the 8 GiB ...": where the budget comes from and how to change it.
  std::string memory_source = "that --max-memory allows";
  std::optional<double> time_s;  // none: no time limit

  // The machine's memory (machine_memory_bytes) and no time limit: a run's defaults.
  [[nodiscard]] static RunLimits machine_defaults();
};

// "1.5 GiB", "820 MiB", "12 KiB": a byte count for messages.
[[nodiscard]] std::string format_bytes(double bytes);

}  // namespace clustersim
