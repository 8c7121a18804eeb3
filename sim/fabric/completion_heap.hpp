#pragma once
// The flow model's completion times: an indexed 4-ary min-heap keyed by (time, flow id).
//
// Each flow has at most one entry, and a re-rated flow moves its entry in place (sift up or
// down) instead of leaving a stale copy behind. A giant component re-rates hundreds of flows per
// change; with a lazy heap every one of those left an entry that had to be popped again later.
// Ties in time go to the lower flow id, so the order of completions is deterministic.

#include <cstdint>

#include "sim/fabric/indexed_heap.hpp"

namespace clustersim::fabric {

struct Completion {
  std::int64_t time_ps;
  std::uint32_t flow;
};

struct CompletionBefore {
  bool operator()(const Completion& a, const Completion& b) const {
    return a.time_ps != b.time_ps ? a.time_ps < b.time_ps : a.flow < b.flow;
  }
};

struct CompletionFlow {
  std::uint32_t operator()(const Completion& c) const { return c.flow; }
};

class CompletionHeap : public IndexedHeap<Completion, CompletionBefore, CompletionFlow, 4> {
 public:
  using IndexedHeap::set;
  // Inserts the flow's completion, or moves it if the flow already has one.
  void set(std::uint32_t flow, std::int64_t time_ps) { set(Completion{time_ps, flow}); }
  void set_unordered(std::uint32_t flow, std::int64_t time_ps) {
    IndexedHeap::set_unordered(Completion{time_ps, flow});
  }
};

}  // namespace clustersim::fabric
