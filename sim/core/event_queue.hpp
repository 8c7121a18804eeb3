#pragma once
// The event queue: callbacks ordered by (time, insertion sequence), so that events at equal times
// run in the order they were scheduled, on every run. Handles can always be cancelled safely: a
// handle names a slot and a generation, and a handle whose event has fired, was cancelled, or
// belongs to a reused slot is simply stale (cancel() returns false). Cancelling only marks the
// slot; the heap entry is dropped when it reaches the top (lazy deletion).

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "sim/core/sim_time.hpp"

namespace clustersim {

class EventHandle {
 public:
  EventHandle() = default;  // a handle to nothing; cancel() on it returns false

 private:
  friend class EventQueue;
  EventHandle(std::uint32_t slot, std::uint32_t generation)
      : slot_(slot), generation_(generation) {}
  std::uint32_t slot_ = 0;
  std::uint32_t generation_ = 0;  // 0 never names a live event
};

class EventQueue {
 public:
  using Callback = std::function<void()>;

  struct Fired {
    SimTime time;
    std::uint64_t sequence = 0;  // insertion order, unique per queue
    Callback callback;
  };

  EventHandle schedule(SimTime at, Callback callback);
  // True when the event was pending and is now cancelled; false for stale or empty handles.
  bool cancel(EventHandle handle);
  [[nodiscard]] bool is_pending(EventHandle handle) const;

  // Time of the earliest pending event (drops cancelled entries from the top first).
  [[nodiscard]] std::optional<SimTime> next_time();
  // Removes and returns the earliest pending event, or nullopt when none is pending.
  [[nodiscard]] std::optional<Fired> pop();

  [[nodiscard]] std::size_t size() const { return pending_; }
  [[nodiscard]] bool empty() const { return pending_ == 0; }

 private:
  struct Entry {  // heap entry: small and trivially copyable
    std::int64_t time_ps;
    std::uint64_t sequence;
    std::uint32_t slot;
  };
  // A slot is in use from schedule() until its heap entry leaves the heap (fired, or dropped
  // from the top after a cancel); only then does it go back on the free list, so a heap entry
  // never names a slot that was reused under it.
  struct Slot {
    Callback callback;
    std::uint32_t generation = 0;  // bumped on every reuse; handles of older uses are stale
    bool pending = false;          // false once fired or cancelled
  };

  // Bitwise, not short-circuit: the sift loops pick a child with this result, and a data
  // dependency costs less than the branch misprediction that a random heap causes half the time.
  [[nodiscard]] static bool earlier(const Entry& a, const Entry& b) {
    return (a.time_ps < b.time_ps) | ((a.time_ps == b.time_ps) & (a.sequence < b.sequence));
  }
  [[nodiscard]] std::uint32_t acquire_slot();
  void release_slot(std::uint32_t slot);
  void push_entry(Entry entry);
  void pop_top_entry();
  void drop_cancelled_top();
  void compact_if_mostly_cancelled();

  std::vector<Entry> heap_;  // binary min-heap on (time_ps, sequence)
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::uint64_t next_sequence_ = 0;
  std::size_t pending_ = 0;
};

}  // namespace clustersim
