#pragma once
// Hints about memory for the fabric's large per-flow arrays: growing them geometrically when a
// batch is reserved, and fetching scattered records ahead. None changes a result.

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace clustersim::fabric {

// Room for `size` elements, growing by at least doubling: reserved batch after batch, a vector
// still moves O(1) times per element.
template <class Vector>
void reserve_geometrically(Vector& vector, std::size_t size) {
  if (size > vector.capacity()) vector.reserve(std::max(size, 2 * vector.capacity()));
}

// How many flows ahead a pass over flows scattered in memory (the solver's searches and
// saturations, the flow model's completions) fetches their records into the cache.
inline constexpr std::size_t kPrefetchAhead = 8;

// Asks the cache for the `bytes` from `at`, every line they touch (a record of 40 or 68 bytes
// often straddles two). A hint; no effect on results. `rw`: 1 when they will be written.
template <int rw = 0>
inline void prefetch_bytes(const void* at, std::size_t bytes) {
  constexpr std::uintptr_t kLine = 64;
  const auto first = reinterpret_cast<std::uintptr_t>(at) & ~(kLine - 1);
  const auto last = (reinterpret_cast<std::uintptr_t>(at) + bytes - 1) & ~(kLine - 1);
  for (std::uintptr_t line = first; line <= last; line += kLine) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), rw);
  }
}

}  // namespace clustersim::fabric
