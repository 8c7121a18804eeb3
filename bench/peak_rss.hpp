#pragma once
// Peak resident set size of this process, for the benchmarks' memory counters.

#include <sys/resource.h>

namespace clustersim::bench {

[[nodiscard]] inline double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace clustersim::bench
