#pragma once
// A d-ary min-heap of entries that each carry a small integer id, and that knows where each id
// sits: an entry whose key changed moves in place (O(log n)), and the heap holds at most one entry
// per id. The solver's links (keyed by fair share) and the flow model's completions (keyed by
// time) both use it: a heap of versioned entries instead grows with every change, and its stale
// entries must be popped later (bench_solver: a full solve of 100,000 flows took 65 ms with
// versioned entries, 12 ms with an indexed heap).
//
// `Before(a, b)` must be a strict total order on entries with distinct ids (break ties by id), so
// that the top does not depend on the order of operations. `IdOf(entry)` gives the entry's id.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

namespace clustersim::fabric {

template <class Entry, class Before, class IdOf, std::size_t Arity>
class IndexedHeap {
  static_assert(Arity >= 2);

 public:
  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] std::size_t size() const { return entries_.size(); }
  [[nodiscard]] const Entry& top() const { return entries_.front(); }
  // Every entry, in heap order (only the first is the least).
  [[nodiscard]] std::span<const Entry> entries() const { return entries_; }
  [[nodiscard]] bool contains(std::uint32_t id) const {
    return id < position_.size() && position_[id] != kAbsent;
  }

  // Empties the heap, keeping its memory; ids below `id_count` need no growth later.
  void clear(std::size_t id_count = 0) {
    for (const Entry& entry : entries_) position_[IdOf{}(entry)] = kAbsent;
    entries_.clear();
    if (position_.size() < id_count) position_.resize(id_count, kAbsent);
  }

  // Adds an entry whose id is absent, without ordering; heapify() must follow before any other
  // operation. For building a heap of many entries at once in O(n).
  void append(const Entry& entry) {
    grow(IdOf{}(entry));
    position_[IdOf{}(entry)] = static_cast<std::uint32_t>(entries_.size());
    entries_.push_back(entry);
  }
  // Inserts the entry or overwrites its id's entry in place, and removes an id's entry, without
  // ordering; heapify() must follow before any other operation. For changing a large part of the
  // heap at once: O(n) for the lot instead of O(log n) random moves each.
  void set_unordered(const Entry& entry) {
    const std::uint32_t id = IdOf{}(entry);
    if (contains(id)) {
      entries_[position_[id]] = entry;
    } else {
      append(entry);
    }
  }
  void erase_unordered(std::uint32_t id) { static_cast<void>(take_out(id)); }
  void heapify() {
    for (std::size_t i = entries_.size() / Arity + 1; i-- > 0;) {
      if (i < entries_.size()) sift_down(i);
    }
  }

  // Inserts the entry, or moves its id's entry to the new key.
  void set(const Entry& entry) {
    const std::uint32_t id = IdOf{}(entry);
    grow(id);
    std::size_t at = position_[id];
    if (at == kAbsent) {
      at = entries_.size();
      entries_.push_back(entry);
      position_[id] = static_cast<std::uint32_t>(at);
      sift_up(at);
      return;
    }
    const bool earlier = Before{}(entry, entries_[at]);
    entries_[at] = entry;
    if (earlier) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }

  // Removes the id's entry, if any.
  void erase(std::uint32_t id) {
    const std::size_t at = take_out(id);
    if (at == kNothingMoved) return;
    if (at > 0 && Before{}(entries_[at], entries_[(at - 1) / Arity])) {
      sift_up(at);
    } else {
      sift_down(at);
    }
  }

  void pop() { erase(IdOf{}(entries_.front())); }

 private:
  // Positions are 32-bit (a heap holds fewer than 2^32 entries), to keep the index small.
  static constexpr std::uint32_t kAbsent = std::numeric_limits<std::uint32_t>::max();

  static constexpr std::size_t kNothingMoved = std::numeric_limits<std::size_t>::max();

  // Takes the id's entry out and moves the last entry into its place, unordered; returns that
  // place, or kNothingMoved when the id had no entry or its entry was the last.
  std::size_t take_out(std::uint32_t id) {
    if (!contains(id)) return kNothingMoved;
    const std::size_t at = position_[id];
    position_[id] = kAbsent;
    const Entry last = entries_.back();
    entries_.pop_back();
    if (at == entries_.size()) return kNothingMoved;
    place(at, last);
    return at;
  }

  void grow(std::uint32_t id) {
    if (id >= position_.size()) position_.resize(id + std::size_t{1}, kAbsent);
  }

  void place(std::size_t at, const Entry& entry) {
    entries_[at] = entry;
    position_[IdOf{}(entry)] = static_cast<std::uint32_t>(at);
  }

  void sift_up(std::size_t at) {
    const Entry moving = entries_[at];
    while (at > 0) {
      const std::size_t parent = (at - 1) / Arity;
      if (!Before{}(moving, entries_[parent])) break;
      place(at, entries_[parent]);
      at = parent;
    }
    place(at, moving);
  }

  void sift_down(std::size_t at) {
    const Entry moving = entries_[at];
    const std::size_t n = entries_.size();
    while (true) {
      const std::size_t first = at * Arity + 1;
      if (first >= n) break;
      std::size_t best = first;
      const std::size_t end = first + Arity < n ? first + Arity : n;
      for (std::size_t child = first + 1; child < end; ++child) {
        if (Before{}(entries_[child], entries_[best])) best = child;
      }
      if (!Before{}(entries_[best], moving)) break;
      place(at, entries_[best]);
      at = best;
    }
    place(at, moving);
  }

  std::vector<Entry> entries_;
  std::vector<std::uint32_t> position_;  // by id; kAbsent when the id has no entry
};

}  // namespace clustersim::fabric
