#pragma once
// The flow model's completion times: an indexed 4-ary min-heap keyed by (time, flow id).
//
// Each flow has at most one entry, and a re-rated flow moves its entry in place (sift up or
// down) instead of leaving a stale copy behind. A giant component re-rates hundreds of flows per
// change; with a lazy heap every one of those left an entry that had to be popped again later.
// Ties in time go to the lower flow id, so the order of completions is deterministic.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace clustersim::fabric {

class CompletionHeap {
 public:
  struct Entry {
    std::int64_t time_ps;
    std::uint32_t flow;
  };

  [[nodiscard]] bool empty() const { return heap_.empty(); }
  [[nodiscard]] std::size_t size() const { return heap_.size(); }
  [[nodiscard]] const Entry& top() const { return heap_.front(); }
  [[nodiscard]] bool contains(std::uint32_t flow) const {
    return flow < position_.size() && position_[flow] != kAbsent;
  }

  // Inserts the flow's completion, or moves it if the flow already has one.
  void set(std::uint32_t flow, std::int64_t time_ps) {
    if (flow >= position_.size()) position_.resize(flow + std::size_t{1}, kAbsent);
    std::size_t at = position_[flow];
    if (at == kAbsent) {
      at = heap_.size();
      heap_.push_back(Entry{time_ps, flow});
      position_[flow] = at;
      sift_up(at);
      return;
    }
    const bool earlier = before(Entry{time_ps, flow}, heap_[at]);
    heap_[at].time_ps = time_ps;
    if (earlier) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }

  // Removes the flow's completion if it has one.
  void erase(std::uint32_t flow) {
    if (!contains(flow)) return;
    const std::size_t at = position_[flow];
    position_[flow] = kAbsent;
    const Entry last = heap_.back();
    heap_.pop_back();
    if (at == heap_.size()) return;
    heap_[at] = last;
    position_[last.flow] = at;
    if (at > 0 && before(last, heap_[(at - 1) / kArity])) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }

  void pop() { erase(heap_.front().flow); }

 private:
  static constexpr std::size_t kArity = 4;
  static constexpr std::size_t kAbsent = std::numeric_limits<std::size_t>::max();

  static bool before(const Entry& a, const Entry& b) {
    return a.time_ps != b.time_ps ? a.time_ps < b.time_ps : a.flow < b.flow;
  }

  void place(std::size_t at, const Entry& entry) {
    heap_[at] = entry;
    position_[entry.flow] = at;
  }

  void sift_up(std::size_t at) {
    const Entry entry = heap_[at];
    while (at > 0) {
      const std::size_t parent = (at - 1) / kArity;
      if (!before(entry, heap_[parent])) break;
      place(at, heap_[parent]);
      at = parent;
    }
    place(at, entry);
  }

  void sift_down(std::size_t at) {
    const Entry entry = heap_[at];
    const std::size_t n = heap_.size();
    while (true) {
      const std::size_t first = at * kArity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t last = first + kArity < n ? first + kArity : n;
      for (std::size_t child = first + 1; child < last; ++child) {
        if (before(heap_[child], heap_[best])) best = child;
      }
      if (!before(heap_[best], entry)) break;
      place(at, heap_[best]);
      at = best;
    }
    place(at, entry);
  }

  std::vector<Entry> heap_;
  std::vector<std::size_t> position_;  // by flow id; kAbsent when the flow has no entry
};

}  // namespace clustersim::fabric
