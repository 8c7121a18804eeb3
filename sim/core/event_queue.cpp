#include "sim/core/event_queue.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace clustersim {
namespace {

// Cancelled entries wait in the heap until they reach the top. When they outnumber the pending
// ones (and there are enough of them to be worth a pass), the heap is rebuilt without them, so a
// caller that keeps scheduling far-future timeouts and cancelling them holds O(pending) memory.
// Each rebuild costs O(heap size) and follows at least that many cancels: amortised O(1).
constexpr std::size_t kMinCancelledForCompaction = 4096;

}  // namespace

EventHandle EventQueue::schedule(SimTime at, Callback callback) {
  if (!callback) throw std::invalid_argument("cannot schedule an empty callback");
  const std::uint32_t slot = acquire_slot();
  Slot& target = slots_[slot];
  target.callback = std::move(callback);
  target.pending = true;
  push_entry(Entry{at.ps(), next_sequence_++, slot});
  ++pending_;
  return EventHandle(slot, target.generation);
}

bool EventQueue::cancel(EventHandle handle) {
  if (!is_pending(handle)) return false;
  Slot& target = slots_[handle.slot_];
  target.pending = false;
  target.callback = nullptr;  // release the captures now, not when the entry reaches the top
  --pending_;
  compact_if_mostly_cancelled();
  return true;
}

bool EventQueue::is_pending(EventHandle handle) const {
  if (handle.generation_ == 0 || handle.slot_ >= slots_.size()) return false;
  const Slot& target = slots_[handle.slot_];
  return target.generation == handle.generation_ && target.pending;
}

std::optional<SimTime> EventQueue::next_time() {
  drop_cancelled_top();
  if (heap_.empty()) return std::nullopt;
  return SimTime::from_ps(heap_.front().time_ps);
}

std::optional<EventQueue::Fired> EventQueue::pop() {
  drop_cancelled_top();
  if (heap_.empty()) return std::nullopt;
  const Entry top = heap_.front();
  pop_top_entry();
  // The next pop (or next_time) reads the new top's slot; start that fetch now, while the caller
  // runs this event.
  if (!heap_.empty()) __builtin_prefetch(&slots_[heap_.front().slot]);
  Slot& source = slots_[top.slot];
  // The slot is free again before the callback runs, so the callback may schedule and cancel
  // freely, and its own handle is already stale.
  Fired fired{SimTime::from_ps(top.time_ps), top.sequence, std::move(source.callback)};
  source.callback = nullptr;
  source.pending = false;
  release_slot(top.slot);
  --pending_;
  return fired;
}

std::uint32_t EventQueue::acquire_slot() {
  if (free_slots_.empty()) {
    const auto slot = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
    slots_.back().generation = 1;
    return slot;
  }
  const std::uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  Slot& target = slots_[slot];
  // Generation 0 never names a live event; after 2^32 reuses of one slot the count wraps past it.
  if (++target.generation == 0) target.generation = 1;
  return slot;
}

void EventQueue::release_slot(std::uint32_t slot) {
  free_slots_.push_back(slot);
}

void EventQueue::push_entry(Entry entry) {
  // Sift up with a hole: parents move down until the entry's place is found.
  std::size_t hole = heap_.size();
  heap_.push_back(entry);
  Entry* heap = heap_.data();
  while (hole > 0) {
    const std::size_t parent = (hole - 1) / 2;
    if (!earlier(entry, heap[parent])) break;
    heap[hole] = heap[parent];
    hole = parent;
  }
  heap[hole] = entry;
}

void EventQueue::pop_top_entry() {
  const Entry last = heap_.back();
  heap_.pop_back();
  const std::size_t size = heap_.size();
  if (size == 0) return;
  // Bottom-up sift (Floyd): move the hole from the root down to a leaf, always taking the
  // smaller child (one comparison per level), then sift `last` up from there. `last` came from
  // the bottom, so it rarely climbs far; this saves about half the comparisons of a plain sift.
  Entry* heap = heap_.data();
  std::size_t hole = 0;
  std::size_t child = 1;
  while (child + 1 < size) {
    // The four grandchildren are contiguous: fetch them while the children are compared, so that
    // a heap larger than the cache pays one miss latency per two levels rather than per level.
    const std::size_t grandchild = 2 * child + 1;
    if (grandchild < size) {
      __builtin_prefetch(heap + grandchild);
      __builtin_prefetch(heap + grandchild + 3);
    }
    child += static_cast<std::size_t>(earlier(heap[child + 1], heap[child]));
    heap[hole] = heap[child];
    hole = child;
    child = 2 * hole + 1;
  }
  if (child < size) {  // a last node with a single child
    heap[hole] = heap[child];
    hole = child;
  }
  while (hole > 0) {
    const std::size_t parent = (hole - 1) / 2;
    if (!earlier(last, heap[parent])) break;
    heap[hole] = heap[parent];
    hole = parent;
  }
  heap[hole] = last;
}

void EventQueue::drop_cancelled_top() {
  while (!heap_.empty() && !slots_[heap_.front().slot].pending) {
    const std::uint32_t slot = heap_.front().slot;
    pop_top_entry();
    release_slot(slot);
  }
}

void EventQueue::compact_if_mostly_cancelled() {
  const std::size_t cancelled = heap_.size() - pending_;
  if (cancelled < kMinCancelledForCompaction || cancelled <= pending_) return;
  std::size_t kept = 0;
  for (const Entry& entry : heap_) {
    if (slots_[entry.slot].pending) {
      heap_[kept++] = entry;
    } else {
      release_slot(entry.slot);
    }
  }
  heap_.resize(kept);
  // Any valid heap on the same entries pops in the same order: (time, sequence) is a total order.
  std::make_heap(heap_.begin(), heap_.end(),
                 [](const Entry& a, const Entry& b) { return earlier(b, a); });
}

}  // namespace clustersim
