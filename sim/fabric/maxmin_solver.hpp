#pragma once
// Max-min fair bandwidth sharing by progressive filling.
//
// Links l have capacities c_l (bytes/s). Each flow f crosses a set of links P_f and may have its
// own bound b_f (bytes/s, e.g. a NIC or a rate limit; +inf for none). The max-min fair allocation
// r is the unique feasible allocation in which no flow's rate can grow without lowering the rate
// of a flow that has an equal or smaller rate. Progressive filling computes it: raise all rates
// together; when a link saturates (sum of its flows' rates = c_l) freeze its flows at the link's
// fair share; when a flow reaches its bound, freeze it; repeat with what is left.
//
// Implemented with a priority queue of links keyed by their current fair share
// (remaining capacity / unfrozen flows), so a solve costs O(sum of path lengths * log links).
//
// Incremental use: adding or removing a flow, or changing a capacity, marks the flows connected to
// it (through shared links, transitively) dirty; solve() re-solves only that part. Flows in other
// components keep their rates, which is exact because max-min allocations of disjoint components
// are independent. When only departures happened since the last solve, less is re-solved: every
// flow slower than the slowest departed flow keeps its rate (progressive filling makes the same
// freezes below that level: a departed flow's links did not saturate below its own rate), so only
// the flows at or above that level and linked to the departed flows' links through such flows are
// re-solved, on the capacity the slower flows leave. The search for them goes on only through
// full links: a link with room to spare is no flow's bottleneck, so the flows beyond it keep their
// rates unless the re-solve fills it, in which case the search goes through it as well and the
// re-solve is repeated. In one big set of flows sharing links (an all-to-all over a fabric), where
// departures come one rate level at a time, this keeps most flows out of each solve.
// solve_max_min() is the full solve kept as the oracle for tests.
//
// Edge cases: a flow with an empty path gets its bound, or +inf when it is unbounded; so does an
// unbounded flow that crosses only links of infinite capacity. A link of capacity 0 gives its
// flows rate 0. Ties are broken by link id, then by flow id (in a re-solve after departures, by
// the order the search reached them), so a solve is deterministic.
// Capacities and bounds must be >= 0 (not NaN), link ids in range, and no link may appear twice
// in one path; these are asserted in debug builds, as the caller validates them.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "sim/fabric/memory_hints.hpp"

namespace clustersim::fabric {

using LinkId = std::uint32_t;
using FlowId = std::uint32_t;

inline constexpr double kUnbounded = std::numeric_limits<double>::infinity();

struct FlowSpec {
  std::vector<LinkId> path;   // links crossed; a link may not appear twice
  double bound = kUnbounded;  // bytes/s
};

// Full solve: the max-min fair rates of `flows` (same order), in bytes/s.
[[nodiscard]] std::vector<double> solve_max_min(std::span<const double> capacities,
                                                std::span<const FlowSpec> flows);

class MaxMinSolver {
 public:
  explicit MaxMinSolver(std::vector<double> capacities);
  ~MaxMinSolver();
  MaxMinSolver(MaxMinSolver&&) noexcept;
  MaxMinSolver& operator=(MaxMinSolver&&) noexcept;

  // Ids are reused after remove_flow; an id is valid from add_flow until remove_flow.
  FlowId add_flow(std::span<const LinkId> path, double bound = kUnbounded);
  FlowId add_flow(std::initializer_list<LinkId> path, double bound = kUnbounded) {
    return add_flow(std::span<const LinkId>(path.begin(), path.size()), bound);
  }
  void remove_flow(FlowId flow);
  // Makes room for `flows` flows at once, of paths up to `longest` links: a caller about to add
  // many saves the per-flow arrays' growth by doubling (a copy, and memory touched twice).
  void reserve(std::size_t flows, std::size_t longest);
  void set_capacity(LinkId link, double capacity);

  // Re-solves the dirty part; returns the flows whose rate was recomputed, in no particular
  // order (the same one for the same calls).
  const std::vector<FlowId>& solve();

  // The links of the i-th flow that the last solve() returned, read from the solve's own layout
  // (back to back, in order) rather than from the flow's row: for a caller going through a large
  // re-solve's flows in order. Each is a local index; component_link() gives the LinkId. Valid
  // until the next solve().
  [[nodiscard]] std::span<const std::uint32_t> solved_links(std::size_t i) const;
  [[nodiscard]] LinkId component_link(std::uint32_t local) const { return component_links_[local]; }

  [[nodiscard]] double rate(FlowId flow) const;
  // Valid until the next add_flow.
  [[nodiscard]] std::span<const LinkId> path(FlowId flow) const;
  // Asks the cache for the flow's path, to be read soon (a hint; no effect on results).
  void prefetch_path(FlowId flow) const {
    prefetch_bytes(paths_.data() + std::size_t{flow} * stride_, stride_ * sizeof(std::uint32_t));
  }
  // The same for what remove_flow reads of it: its path and its rate.
  void prefetch_removal(FlowId flow) const {
    prefetch_path(flow);
    __builtin_prefetch(rate_.data() + flow);
  }
  [[nodiscard]] double capacity(LinkId link) const { return capacities_[link]; }
  // Sum of the rates of the flows on the link, as of the last solve.
  [[nodiscard]] double load(LinkId link) const;
  [[nodiscard]] std::size_t link_count() const { return capacities_.size(); }
  [[nodiscard]] std::size_t active_flows() const { return active_; }
  // Flows that took part in the last solve (for statistics and benchmarks).
  [[nodiscard]] std::size_t last_solve_size() const { return last_solved_.size(); }

 private:
  struct Scratch;

  // Breadth-first search over link_flows_ from the dirty flows and links: fills last_solved_ and
  // component_links_ with what it reaches, both ascending.
  void collect_dirty_components();
  // After departures only: the flows at or above `threshold` reached from the departed flows'
  // links through full links (and those a previous pass opened), their links, and on each link
  // the load of the flows left out (link_fixed_load_).
  void collect_above(double threshold, std::span<const LinkId> departed);
  // Max-min rates of the collected flows (last_solved_ order) on what the others leave.
  std::span<const double> solve_collected();
  // After a departure re-solve: opens (link_forced_open_) each link with room to spare that the
  // new rates fill while it carries other flows at or above `threshold`; true if any.
  bool open_filled_links(std::span<const double> rates, double threshold);
  // Clears the marks of the collected flows and links.
  void forget_collected();
  [[nodiscard]] bool saturated(LinkId link) const;
  // Removes the holes and the dead entries from a link's list of flows, keeping the order, and
  // re-indexes the slots.
  void close_holes(LinkId link);
  // Before a removed flow's id is reused: turns its dead entries still on their lists into holes.
  void forget_entries(FlowId flow);

  // A link within this fraction of its capacity counts as full (rounding of the loads).
  static constexpr double kSaturationSlack = 1e-9;

  // The links a flow crosses, and its index on each of those links' lists of flows (slot).
  // Stored by flow id with a fixed stride, back to back, so that a search reading many flows'
  // paths finds each in one place: the length, the links, then the slots (beside the links, as
  // a removal reads both). The stride grows (and the store is laid out again) when a longer
  // path comes.
  [[nodiscard]] std::span<LinkId> links_of(FlowId flow) {
    const std::size_t at = std::size_t{flow} * stride_;
    return {paths_.data() + at + 1, paths_[at]};
  }
  [[nodiscard]] std::span<const LinkId> links_of(FlowId flow) const {
    const std::size_t at = std::size_t{flow} * stride_;
    return {paths_.data() + at + 1, paths_[at]};
  }
  [[nodiscard]] std::uint32_t* slots_of(FlowId flow) {
    return paths_.data() + std::size_t{flow} * stride_ + 1 + longest_;
  }
  void widen_paths(std::size_t length);

  std::vector<double> capacities_;
  std::size_t longest_ = 0;     // the longest path so far
  std::size_t stride_ = 1;      // 1 + 2 x longest_
  std::size_t flow_slots_ = 0;  // flow ids with storage
  std::vector<std::uint32_t> paths_;
  std::vector<double> bound_;
  std::vector<char> active_flow_;
  // By flow id, apart from the rest for the searches' sake: the rate as of the last solve, and
  // whether the current solve() reached the flow.
  std::vector<double> rate_;
  std::vector<char> in_component_;
  std::vector<FlowId> free_ids_;  // a min-heap, so that the lowest free id is reused first
  // Active flows per link, in insertion order, with dead entries where flows left: a removed
  // flow's entries stay as they are (its rate_ is kDeadRate) until a search passes them, the
  // list is closed up or the id is reused, when they become holes (kHole), which searches skip
  // without reading the flow. Removal thus writes nothing into the lists: a million flows'
  // lists are far larger than the cache, and a write there was a miss for every link of every
  // flow that left, where a search reads the list in order anyway. A list three quarters
  // dead is closed up (close_holes), keeping the order. Closing up re-indexes each flow kept,
  // a cache miss each; at three quarters that is one for every three departures, where closing
  // at half was one for each.
  static constexpr FlowId kHole = std::numeric_limits<FlowId>::max();
  static constexpr double kDeadRate = -1;  // rate_ of a removed flow (rates are >= 0)
  std::vector<std::vector<FlowId>> link_flows_;
  std::vector<std::uint32_t> link_holes_;  // per link: its dead entries and holes
  std::vector<double> link_load_;
  std::vector<LinkId> dirty_links_;
  std::vector<FlowId> dirty_flows_;
  std::vector<FlowId> last_solved_;
  std::size_t active_ = 0;
  // Scratch of solve(), kept between calls so that a small component costs no O(links) work:
  // the links of the component, whether a link was reached, and its index in the component.
  std::vector<LinkId> component_links_;
  std::vector<bool> link_in_component_;
  std::vector<std::uint32_t> link_local_index_;
  std::vector<double> link_fixed_load_;  // per component link: load of flows not re-solved
  std::vector<char> link_open_;          // per component link: the search went through it
  std::vector<char> link_forced_open_;   // links to go through whatever their load
  bool only_removals_ = true;            // since the last solve
  double removed_floor_ = kUnbounded;    // the lowest rate of a flow removed since then
  std::unique_ptr<Scratch> scratch_;     // buffers of solve()
};

}  // namespace clustersim::fabric
