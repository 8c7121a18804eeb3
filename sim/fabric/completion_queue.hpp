#pragma once
// The flow model's completion times, in the order (time, flow id): a sorted run plus an indexed
// heap.
//
// A large re-solve re-rates most flows at once. Those completions are moved unordered
// (set_unordered, erase_unordered) and then sorted, once, into a run that is read from the front:
// a pop from the run is the next entry of an array, where a pop from a heap of a million entries
// sifts down about ten levels, each a cache miss. A flow re-rated on its own (set, erase) leaves
// the run, its entry there marked stale, and goes to the heap. top() is the lesser of the run's
// front and the heap's top. A queue of fewer than kRunAtLeast entries, whose heap fits in cache,
// keeps everything in the heap (a sort there costs more than the pops it saves). Each flow has at
// most one live entry. Ties in time go to the lower flow id, so the order of completions is
// deterministic and the same as one heap's.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "sim/fabric/indexed_heap.hpp"
#include "sim/fabric/memory_hints.hpp"

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

// Below this many entries sort_completions uses a comparison sort.
inline constexpr std::size_t kRadixSortAtLeast = 4096;

// Sorts by (time, flow): an LSD radix sort, 11 bits a pass, of the flow id and then of the time
// since the earliest, skipping the passes in which every entry has the same digit, and those of
// the flow id when the entries come in ascending flow order (a whole component's re-solve gives
// them so); O(n) a pass, in sequential reads and writes. `buffer` is scratch.
inline void sort_completions(std::vector<Completion>& entries, std::vector<Completion>& buffer) {
  if (entries.size() < kRadixSortAtLeast) {
    std::sort(entries.begin(), entries.end(), CompletionBefore{});
    return;
  }
  std::int64_t earliest = entries.front().time_ps;
  std::uint32_t flows = 0;
  bool by_flow = true;
  std::uint32_t previous = 0;
  for (const Completion& c : entries) {
    earliest = std::min(earliest, c.time_ps);
    flows |= c.flow;
    by_flow = by_flow && c.flow >= previous;
    previous = c.flow;
  }
  if (by_flow) flows = 0;  // the passes over the time are stable: no pass over the ids
  std::uint64_t span = 0;
  for (const Completion& c : entries) span |= static_cast<std::uint64_t>(c.time_ps - earliest);
  constexpr int kBits = 11;
  constexpr std::uint64_t kMask = (std::uint64_t{1} << kBits) - 1;
  std::vector<std::size_t> count(kMask + 1);
  buffer.resize(entries.size());
  const auto pass = [&](auto digit_of) {
    std::fill(count.begin(), count.end(), 0);
    for (const Completion& c : entries) ++count[digit_of(c)];
    if (count[digit_of(entries.front())] == entries.size()) return;  // one digit: none moves
    std::size_t at = 0;
    for (std::size_t& n : count) at += std::exchange(n, at);
    for (const Completion& c : entries) buffer[count[digit_of(c)]++] = c;
    entries.swap(buffer);
  };
  for (int shift = 0; shift < 32 && (flows >> shift) != 0; shift += kBits) {
    pass([shift](const Completion& c) { return (c.flow >> shift) & kMask; });
  }
  for (int shift = 0; shift < 64 && (span >> shift) != 0; shift += kBits) {
    pass([shift, earliest](const Completion& c) {
      return (static_cast<std::uint64_t>(c.time_ps - earliest) >> shift) & kMask;
    });
  }
}

class CompletionQueue {
 public:
  // A queue of at least this many entries sorts a large change into the run (see rebuild).
  static constexpr std::size_t kRunAtLeast = std::size_t{1} << 17;

  explicit CompletionQueue(std::size_t run_at_least = kRunAtLeast) : run_at_least_(run_at_least) {}

  [[nodiscard]] bool empty() const { return heap_.empty() && head_ == run_.size(); }
  [[nodiscard]] std::size_t size() const { return heap_.size() + in_run_; }
  [[nodiscard]] bool contains(std::uint32_t flow) const {
    return heap_.contains(flow) || run_index(flow) != kNowhere || fresh_index(flow) != kNowhere;
  }
  // The least entry; the queue must not be empty.
  [[nodiscard]] const Completion& top() const {
    if (run_front_first()) return run_[head_];
    return heap_.top();
  }
  void pop() {
    if (run_front_first()) {
      ++head_;
      --in_run_;
      skip_stale();
    } else {
      heap_.pop();
    }
  }

  // Inserts the flow's completion, or moves it if the flow already has one.
  void set(std::uint32_t flow, std::int64_t time_ps) {
    grow(flow);
    leave_run(flow);
    heap_.set(Completion{time_ps, flow});
  }
  // Removes the flow's completion, if any.
  void erase(std::uint32_t flow) {
    leave_run(flow);
    heap_.erase(flow);
  }

  // The same without ordering: rebuild() must follow before any other operation. For changing
  // a large part of the queue at once, O(n log n) in order for the lot instead of O(log n)
  // random moves each.
  void set_unordered(std::uint32_t flow, std::int64_t time_ps) {
    if (const std::uint32_t at = fresh_index(flow); at != kNowhere) {
      fresh_[at].time_ps = time_ps;
      return;
    }
    leave_run(flow);
    heap_.erase_unordered(flow);
    grow(flow);
    at_[flow] = kFresh | static_cast<std::uint32_t>(fresh_.size());
    fresh_.push_back(Completion{time_ps, flow});
  }
  // Room for `count` more set_unordered calls before the next rebuild (a hint).
  void reserve_unordered(std::size_t count) {
    reserve_geometrically(fresh_, fresh_.size() + count);
  }
  void erase_unordered(std::uint32_t flow) {
    if (const std::uint32_t at = fresh_index(flow); at != kNowhere) {
      fresh_[at].flow = kStale;
      at_[flow] = kNowhere;
      return;
    }
    leave_run(flow);
    heap_.erase_unordered(flow);
  }
  // Orders what changed unordered. A queue of at least run_at_least entries sorts the unordered
  // entries, and the heap's, into the run; a smaller one, whose heap fits in cache, heapifies
  // them all into the heap instead (in O(n), where a sort is O(n log n)).
  void rebuild() {
    std::erase_if(fresh_, [](const Completion& c) { return c.flow == kStale; });
    if (size() + fresh_.size() < run_at_least_) {
      for (std::size_t i = head_; i < run_.size(); ++i) {
        if (run_[i].flow != kStale) heap_.set_unordered(run_[i]);
      }
      for (const Completion& c : fresh_) heap_.set_unordered(c);
      heap_.heapify();
      run_.clear();
      fresh_.clear();
      head_ = 0;
      in_run_ = 0;
      return;
    }
    // The heap's entries are sorted with the rest, in whatever order they stand.
    fresh_.insert(fresh_.end(), heap_.entries().begin(), heap_.entries().end());
    heap_.clear();
    sort_completions(fresh_, merged_);
    // Merged with the run's live entries (a dead one keeps its time but not its flow, so it
    // is out of order and must not take part).
    merged_.clear();
    merged_.reserve(in_run_ + fresh_.size());
    auto fresh = fresh_.begin();
    for (std::size_t i = head_; i < run_.size(); ++i) {
      if (run_[i].flow == kStale) continue;
      while (fresh != fresh_.end() && CompletionBefore{}(*fresh, run_[i]))
        merged_.push_back(*fresh++);
      merged_.push_back(run_[i]);
    }
    merged_.insert(merged_.end(), fresh, fresh_.end());
    run_.swap(merged_);
    fresh_.clear();
    head_ = 0;
    in_run_ = run_.size();
    for (std::size_t i = 0; i < run_.size(); ++i) {
      at_[run_[i].flow] = static_cast<std::uint32_t>(i);
    }
  }

 private:
  static constexpr std::uint32_t kNowhere = std::numeric_limits<std::uint32_t>::max();
  static constexpr std::uint32_t kFresh = 1U << 31;  // at_: an index into fresh_, not run_
  static constexpr std::uint32_t kStale = std::numeric_limits<std::uint32_t>::max();

  [[nodiscard]] bool run_front_first() const {
    return head_ < run_.size() && (heap_.empty() || CompletionBefore{}(run_[head_], heap_.top()));
  }
  // The flow's index in run_ if it has a live entry there, else kNowhere. at_ is not cleared
  // when the run's front passes an entry, so the index is checked against the entry.
  [[nodiscard]] std::uint32_t run_index(std::uint32_t flow) const {
    if (flow >= at_.size() || (at_[flow] & kFresh) != 0) return kNowhere;
    const std::uint32_t at = at_[flow];
    return at >= head_ && at < run_.size() && run_[at].flow == flow ? at : kNowhere;
  }
  [[nodiscard]] std::uint32_t fresh_index(std::uint32_t flow) const {
    if (flow >= at_.size() || at_[flow] == kNowhere || (at_[flow] & kFresh) == 0) {
      return kNowhere;
    }
    const std::uint32_t at = at_[flow] & ~kFresh;
    return at < fresh_.size() && fresh_[at].flow == flow ? at : kNowhere;
  }
  void leave_run(std::uint32_t flow) {
    const std::uint32_t at = run_index(flow);
    if (at == kNowhere) return;
    run_[at].flow = kStale;
    at_[flow] = kNowhere;
    --in_run_;
    skip_stale();
  }
  void skip_stale() {
    while (head_ < run_.size() && run_[head_].flow == kStale) ++head_;
  }
  void grow(std::uint32_t flow) {
    if (flow >= at_.size()) at_.resize(flow + std::size_t{1}, kNowhere);
  }

  std::size_t run_at_least_;
  IndexedHeap<Completion, CompletionBefore, CompletionFlow, 4> heap_;
  std::vector<Completion> run_;  // sorted; entries before head_ are popped, kStale ones dead
  std::size_t head_ = 0;
  std::size_t in_run_ = 0;         // live entries from head_ on
  std::vector<Completion> fresh_;  // set_unordered since the last rebuild
  std::vector<Completion> merged_;
  std::vector<std::uint32_t> at_;  // by flow: its index in run_ or (kFresh |) fresh_
};

}  // namespace clustersim::fabric
