#include "sim/fabric/maxmin_solver.hpp"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "sim/fabric/indexed_heap.hpp"

namespace clustersim::fabric {
namespace {

// The paths of a set of flows over links numbered 0..link_count-1, stored back to back: flow f
// crosses links[starts[f]] .. links[starts[f + 1] - 1].
class Paths {
 public:
  void clear() {
    starts_.assign(1, 0);
    links_.clear();
  }
  // Room for `flows` flows of `links` links in all (a hint).
  void reserve(std::size_t flows, std::size_t links) {
    reserve_geometrically(starts_, flows + 1);
    reserve_geometrically(links_, links);
  }
  void add_link(std::uint32_t link) { links_.push_back(link); }
  void end_flow() { starts_.push_back(static_cast<std::uint32_t>(links_.size())); }

  [[nodiscard]] std::size_t flow_count() const { return starts_.size() - 1; }
  [[nodiscard]] std::span<const std::uint32_t> of(std::size_t flow) const {
    return std::span(links_).subspan(starts_[flow], starts_[flow + 1] - starts_[flow]);
  }
  // Hints that the flow's path will be read soon: where it starts, and (reading that) its links.
  void prefetch_start(std::size_t flow) const { __builtin_prefetch(starts_.data() + flow); }
  void prefetch_links(std::size_t flow) const { __builtin_prefetch(links_.data() + starts_[flow]); }

 private:
  std::vector<std::uint32_t> starts_{0};
  std::vector<std::uint32_t> links_;
};

// The links that still have unfrozen flows, as an indexed binary min-heap on (fair share, link
// id): a link whose share changed moves in O(log links), and the heap holds one entry per link.
struct LinkShare {
  double share;  // remaining capacity / unfrozen flows, bytes/s
  std::uint32_t link;
};

struct LinkShareBefore {
  bool operator()(const LinkShare& a, const LinkShare& b) const {
    return a.share < b.share || (a.share == b.share && a.link < b.link);
  }
};

struct LinkOf {
  std::uint32_t operator()(const LinkShare& entry) const { return entry.link; }
};

class LinkHeap : public IndexedHeap<LinkShare, LinkShareBefore, LinkOf, 2> {
 public:
  [[nodiscard]] std::uint32_t top_link() const { return top().link; }
  [[nodiscard]] double top_share() const { return top().share; }
  // Adds a link in any order; heapify() must follow before the other operations.
  void append(std::uint32_t link, double share) { IndexedHeap::append({share, link}); }
  // The share of a link that loses a flow frozen at the current level does not drop
  // (ProgressiveFilling), but rounding may take it an ulp below: either way the entry moves.
  void update(std::uint32_t link, double share) { set({share, link}); }
  void remove(std::uint32_t link) { erase(link); }
};

// Progressive filling on one problem. All unfrozen flows share one rate, the water level, which
// rises until one of two events:
//   - a link saturates: its fair share s_l = (c_l - sum of its frozen rates) / (its unfrozen
//     flows) is the smallest of all links, and the level has reached it. Its unfrozen flows
//     freeze at exactly s_l, and every other link they cross loses s_l of remaining capacity and
//     one unfrozen flow. That link's share cannot drop below s_l: (R - s_l) / (n - 1) >= s_l
//     holds because R / n >= s_l.
//   - a flow reaches its bound b_f, which acts as a private link of capacity b_f: it freezes at
//     exactly b_f (bounds are visited in ascending order, and before a link of equal share,
//     which gives the same rates).
// Each flow freezes once and each freeze moves each link of its path in the heap, so a solve costs
// O(sum of path lengths * log links).
class ProgressiveFilling {
 public:
  // Solves one problem; the object keeps its buffers for the next one, so that the many small
  // re-solves of a flow model allocate nothing. The rates stay valid until the next solve.
  const std::vector<double>& solve(std::span<const double> capacities, const Paths& paths,
                                   std::span<const double> bounds) {
    assert(paths.flow_count() == bounds.size());
    assert(std::all_of(capacities.begin(), capacities.end(), [](double c) { return c >= 0; }));
    assert(std::all_of(bounds.begin(), bounds.end(), [](double b) { return b >= 0; }));
    paths_ = &paths;
    bounds_ = bounds;
    remaining_.assign(capacities.begin(), capacities.end());
    unfrozen_on_link_.assign(capacities.size(), 0);
    touched_mark_.assign(capacities.size(), 0);
    touched_.clear();
    heap_.clear(capacities.size());
    rates_.assign(bounds.size(), 0.0);
    frozen_.assign(bounds.size(), 0);
    unfrozen_flows_ = 0;
    index_flows_by_link();
    run();
    return rates_;
  }

 private:
  void run() {
    std::vector<std::uint32_t>& bounded = bounded_;  // flows with a finite bound, by (bound, id)
    bounded.clear();
    for (std::uint32_t flow = 0; flow < rates_.size(); ++flow) {
      if (paths_->of(flow).empty()) {
        // Nothing limits it but its bound: +inf when unbounded.
        rates_[flow] = bounds_[flow];
        frozen_[flow] = true;
        continue;
      }
      ++unfrozen_flows_;
      if (bounds_[flow] < kUnbounded) bounded.push_back(flow);
    }
    sort_by_bound(bounded);

    for (std::uint32_t link = 0; link < remaining_.size(); ++link) {
      if (unfrozen_on_link_[link] > 0) heap_.append(link, share(link));
    }
    heap_.heapify();

    std::size_t next_bounded = 0;
    while (unfrozen_flows_ > 0) {
      while (next_bounded < bounded.size() && frozen_[bounded[next_bounded]]) ++next_bounded;

      if (next_bounded < bounded.size() &&
          (heap_.empty() || bounds_[bounded[next_bounded]] <= heap_.top_share())) {
        const std::uint32_t flow = bounded[next_bounded++];
        freeze(flow, bounds_[flow], std::nullopt);
        reorder_touched();
        continue;
      }
      // An unfrozen flow with a path keeps each of its links in the heap.
      assert(!heap_.empty());
      if (std::isinf(heap_.top_share())) {
        // Only links of infinite capacity are left, and no flow on them has a bound.
        freeze_all_unfrozen_at(kUnbounded);
        break;
      }
      saturate(heap_.top_link(), heap_.top_share());
    }
  }
  // Sorts flows listed in ascending order by (bound, flow). The flows of a collective share a
  // handful of bounds (one per GPU's copy engines and kind of link), so with few distinct bounds
  // each flow goes to its bound's bucket in order (a stable O(n) pass) instead of a sort.
  void sort_by_bound(std::vector<std::uint32_t>& flows) {
    std::vector<double>& distinct = distinct_bounds_;
    distinct.clear();
    for (const std::uint32_t flow : flows) {
      const double bound = bounds_[flow];
      if (std::find(distinct.begin(), distinct.end(), bound) != distinct.end()) continue;
      if (distinct.size() == kFewBounds) {
        std::sort(flows.begin(), flows.end(), [this](std::uint32_t a, std::uint32_t b) {
          return bounds_[a] != bounds_[b] ? bounds_[a] < bounds_[b] : a < b;
        });
        return;
      }
      distinct.push_back(bound);
    }
    if (distinct.size() < 2) return;
    std::sort(distinct.begin(), distinct.end());
    std::vector<std::uint32_t>& sorted = cursor_;  // free until index_flows_by_link runs again
    sorted.clear();
    for (const double bound : distinct) {
      for (const std::uint32_t flow : flows) {
        if (bounds_[flow] == bound) sorted.push_back(flow);
      }
    }
    flows.swap(sorted);
  }

  // Counting sort of the (flow, link) pairs by link, so that saturating a link finds its flows.
  void index_flows_by_link() {
    const std::size_t link_count = remaining_.size();
    for (std::size_t flow = 0; flow < rates_.size(); ++flow) {
      for (const std::uint32_t link : paths_->of(flow)) {
        assert(link < link_count);
        ++unfrozen_on_link_[link];
      }
    }
    link_starts_.assign(link_count + 1, 0);
    for (std::size_t link = 0; link < link_count; ++link) {
      link_starts_[link + 1] = link_starts_[link] + unfrozen_on_link_[link];
    }
    link_flows_.resize(link_starts_.back());
    std::vector<std::uint32_t>& cursor = cursor_;
    cursor.assign(link_starts_.begin(), link_starts_.end() - 1);
    for (std::uint32_t flow = 0; flow < rates_.size(); ++flow) {
      for (const std::uint32_t link : paths_->of(flow)) {
        // Flows are filed in order, so a link listed twice in a path would show as this flow
        // already being the last one filed on that link.
        assert((cursor[link] == link_starts_[link] || link_flows_[cursor[link] - 1] != flow) &&
               "a link appears twice in one path");
        link_flows_[cursor[link]++] = flow;
      }
    }
  }

  [[nodiscard]] double share(std::uint32_t link) const {
    return remaining_[link] / static_cast<double>(unfrozen_on_link_[link]);
  }

  // Freezes every unfrozen flow of `link` at its fair share; the link is then full.
  void saturate(std::uint32_t link, double fair_share) {
    heap_.remove(link);
    const std::uint32_t end = link_starts_[link + 1];
    for (std::uint32_t i = link_starts_[link]; i < end; ++i) {
      // A link's flows are scattered over the problem's paths, a cache miss each: fetched a
      // few flows ahead, in two stages (where a path starts, then its links).
      if (i + 2 * kPrefetchAhead < end) paths_->prefetch_start(link_flows_[i + 2 * kPrefetchAhead]);
      if (i + kPrefetchAhead < end) {
        const std::uint32_t ahead = link_flows_[i + kPrefetchAhead];
        paths_->prefetch_links(ahead);
        __builtin_prefetch(rates_.data() + ahead, 1);
      }
      const std::uint32_t flow = link_flows_[i];
      if (!frozen_[flow]) freeze(flow, fair_share, link);
    }
    remaining_[link] = 0;
    unfrozen_on_link_[link] = 0;
    reorder_touched();
  }

  // Moves each link that freezes since the last call changed to its new share, once: a link
  // crossed by many of a saturated link's flows moves once, not once per flow. The heap's order
  // is a strict total order on (share, link), so its top is the same either way.
  void reorder_touched() {
    for (const std::uint32_t link : touched_) {
      touched_mark_[link] = 0;
      if (unfrozen_on_link_[link] > 0) {
        heap_.update(link, share(link));
      } else if (heap_.contains(link)) {
        heap_.remove(link);
      }
    }
    touched_.clear();
  }

  // Sets the flow's final rate and takes it out of the links it crosses, except `saturating`,
  // the link being saturated, which saturate() empties itself.
  void freeze(std::uint32_t flow, double rate, std::optional<std::uint32_t> saturating) {
    rates_[flow] = rate;
    frozen_[flow] = true;
    --unfrozen_flows_;
    for (const std::uint32_t link : paths_->of(flow)) {
      if (link == saturating) continue;
      // Rounding can take a link that saturates at the same level slightly below zero.
      remaining_[link] = std::max(0.0, remaining_[link] - rate);
      --unfrozen_on_link_[link];
      if (!touched_mark_[link]) {
        touched_mark_[link] = 1;
        touched_.push_back(link);
      }
    }
  }

  void freeze_all_unfrozen_at(double rate) {
    for (std::size_t flow = 0; flow < rates_.size(); ++flow) {
      if (!frozen_[flow]) rates_[flow] = rate;
    }
    unfrozen_flows_ = 0;
  }

  static constexpr std::size_t kFewBounds = 8;  // sort_by_bound buckets at most this many

  const Paths* paths_ = nullptr;
  std::span<const double> bounds_;
  std::vector<double> remaining_;  // per link: capacity minus the rates of its frozen flows
  std::vector<std::uint32_t> unfrozen_on_link_;
  std::vector<std::uint32_t> link_starts_;  // flows of link l: link_flows_[starts[l]..starts[l+1])
  std::vector<std::uint32_t> link_flows_;
  std::vector<std::uint32_t> cursor_;
  std::vector<std::uint32_t> bounded_;
  std::vector<double> distinct_bounds_;
  LinkHeap heap_;
  std::vector<std::uint32_t> touched_;  // links whose share changed since reorder_touched()
  std::vector<char> touched_mark_;
  std::vector<double> rates_;
  std::vector<char> frozen_;
  std::size_t unfrozen_flows_ = 0;
};

// Sorts `ids`, a set of distinct ids below `universe` for which is_marked() holds. Sorting costs
// O(n log n); when the set is a large part of the universe, one pass over the marks (O(universe))
// is cheaper, which matters when a solve reaches one giant component.
template <class IsMarked>
void sort_marked_ids(std::vector<std::uint32_t>& ids, std::size_t universe, IsMarked is_marked) {
  if (ids.size() * std::bit_width(ids.size()) < universe) {
    std::sort(ids.begin(), ids.end());
    return;
  }
  ids.clear();
  for (std::uint32_t id = 0; id < universe; ++id) {
    if (is_marked(id)) ids.push_back(id);
  }
}

}  // namespace

std::vector<double> solve_max_min(std::span<const double> capacities,
                                  std::span<const FlowSpec> flows) {
  Paths paths;
  std::vector<double> bounds;
  bounds.reserve(flows.size());
  for (const FlowSpec& flow : flows) {
    for (const LinkId link : flow.path) paths.add_link(link);
    paths.end_flow();
    bounds.push_back(flow.bound);
  }
  ProgressiveFilling filling;
  return filling.solve(capacities, paths, bounds);
}

// The buffers of solve(), kept from one call to the next.
struct MaxMinSolver::Scratch {
  std::vector<double> capacities;  // of the component's links, by local index
  Paths paths;
  std::vector<double> bounds;
  ProgressiveFilling filling;
  std::vector<double> link_load;     // by local index: the re-solved flows' rates on a link
  std::vector<LinkId> departed;      // the departed flows' links
  std::vector<LinkId> forced_open;   // links a pass found filling up
  std::vector<double> reached_load;  // by link: the collected flows' old rates on it
  std::vector<char> seen;            // by link: listed among the departed flows' links
};

MaxMinSolver::~MaxMinSolver() = default;
MaxMinSolver::MaxMinSolver(MaxMinSolver&&) noexcept = default;
MaxMinSolver& MaxMinSolver::operator=(MaxMinSolver&&) noexcept = default;

MaxMinSolver::MaxMinSolver(std::vector<double> capacities)
    : capacities_(std::move(capacities)),
      link_flows_(capacities_.size()),
      link_holes_(capacities_.size(), 0),
      link_load_(capacities_.size(), 0.0),
      link_in_component_(capacities_.size(), false),
      link_local_index_(capacities_.size(), 0),
      link_fixed_load_(capacities_.size(), 0.0),
      link_open_(capacities_.size(), 0),
      link_forced_open_(capacities_.size(), 0),
      scratch_(std::make_unique<Scratch>()) {
  assert(std::all_of(capacities_.begin(), capacities_.end(), [](double c) { return c >= 0; }));
}

void MaxMinSolver::widen_paths(std::size_t length) {
  const std::size_t stride = 1 + 2 * length;
  std::vector<std::uint32_t> paths(flow_slots_ * stride, 0);
  for (std::size_t id = 0; id < flow_slots_; ++id) {
    const auto from = paths_.begin() + static_cast<std::ptrdiff_t>(id * stride_);
    const auto to = paths.begin() + static_cast<std::ptrdiff_t>(id * stride);
    const auto old_longest = static_cast<std::ptrdiff_t>(longest_);
    std::copy_n(from, 1 + old_longest, to);  // the length and the links
    std::copy_n(from + 1 + old_longest, old_longest,
                to + 1 + static_cast<std::ptrdiff_t>(length));  // the slots
  }
  paths_.swap(paths);
  longest_ = length;
  stride_ = stride;
}

void MaxMinSolver::reserve(std::size_t flows, std::size_t longest) {
  if (longest > longest_) widen_paths(longest);
  reserve_geometrically(paths_, flows * stride_);
  reserve_geometrically(bound_, flows);
  reserve_geometrically(active_flow_, flows);
  reserve_geometrically(rate_, flows);
  reserve_geometrically(in_component_, flows);
}

FlowId MaxMinSolver::add_flow(std::span<const LinkId> path, double bound) {
  assert(bound >= 0);
  only_removals_ = false;
  if (path.size() > longest_) widen_paths(path.size());
  FlowId id = 0;
  if (free_ids_.empty()) {
    id = static_cast<FlowId>(flow_slots_++);
    paths_.resize(flow_slots_ * stride_, 0);
    bound_.push_back(kUnbounded);
    active_flow_.push_back(0);
    rate_.push_back(0);
    in_component_.push_back(0);
  } else {
    std::pop_heap(free_ids_.begin(), free_ids_.end(), std::greater<>());
    id = free_ids_.back();
    free_ids_.pop_back();
    forget_entries(id);
  }
  paths_[std::size_t{id} * stride_] = static_cast<LinkId>(path.size());
  std::copy(path.begin(), path.end(), links_of(id).begin());
  bound_[id] = bound;
  rate_[id] = 0;
  active_flow_[id] = 1;
  std::uint32_t* slots = slots_of(id);
  for (const LinkId link : path) {
    assert(link < link_count());
    // Links are filed in path order, so a repeated link finds this flow last on its list.
    assert((link_flows_[link].empty() || link_flows_[link].back() != id) &&
           "a link appears twice in one path");
    *slots++ = static_cast<std::uint32_t>(link_flows_[link].size());
    link_flows_[link].push_back(id);
  }
  dirty_flows_.push_back(id);
  ++active_;
  return id;
}

void MaxMinSolver::remove_flow(FlowId flow) {
  assert(flow < flow_slots_ && active_flow_[flow]);
  removed_floor_ = std::min(removed_floor_, rate_[flow]);
  // The flows left on its links are re-solved from those links. Its entries stay where they
  // are, dead (see kDeadRate), so that removal writes nothing into the lists and the flows left
  // keep their order on each link.
  rate_[flow] = kDeadRate;
  active_flow_[flow] = 0;
  for (const LinkId link : links_of(flow)) {
    if (4 * ++link_holes_[link] > 3 * link_flows_[link].size()) close_holes(link);
    dirty_links_.push_back(link);
  }
  free_ids_.push_back(flow);
  std::push_heap(free_ids_.begin(), free_ids_.end(), std::greater<>());
  --active_;
}

void MaxMinSolver::forget_entries(FlowId flow) {
  const std::span<const LinkId> links = links_of(flow);
  const std::uint32_t* slots = slots_of(flow);
  for (std::size_t k = 0; k < links.size(); ++k) {
    // Gone already if the list was closed up since the flow left.
    std::vector<FlowId>& on_link = link_flows_[links[k]];
    if (slots[k] < on_link.size() && on_link[slots[k]] == flow) on_link[slots[k]] = kHole;
  }
  paths_[std::size_t{flow} * stride_] = 0;
}

void MaxMinSolver::close_holes(LinkId link) {
  std::vector<FlowId>& on_link = link_flows_[link];
  std::uint32_t kept = 0;
  for (const FlowId id : on_link) {
    if (id == kHole || !active_flow_[id]) continue;
    const std::span<const LinkId> links = links_of(id);
    const auto at = std::find(links.begin(), links.end(), link) - links.begin();
    slots_of(id)[at] = kept;
    on_link[kept++] = id;
  }
  on_link.resize(kept);
  link_holes_[link] = 0;
}

void MaxMinSolver::set_capacity(LinkId link, double capacity) {
  assert(link < link_count());
  assert(capacity >= 0);
  capacities_[link] = capacity;
  dirty_links_.push_back(link);
  only_removals_ = false;
}

void MaxMinSolver::collect_dirty_components() {
  last_solved_.clear();
  component_links_.clear();
  const auto reach_flow = [this](FlowId id) {
    // A dirty flow may have been removed since; it has already left its links.
    if (!active_flow_[id] || in_component_[id]) return;
    in_component_[id] = 1;
    last_solved_.push_back(id);
  };
  const auto reach_link = [this](LinkId link) {
    if (link_in_component_[link]) return;
    link_in_component_[link] = true;
    component_links_.push_back(link);
  };
  for (const FlowId flow : dirty_flows_) reach_flow(flow);
  for (const LinkId link : dirty_links_) reach_link(link);
  dirty_flows_.clear();
  dirty_links_.clear();

  // last_solved_ and component_links_ double as the queues of the search.
  std::size_t next_flow = 0;
  std::size_t next_link = 0;
  while (next_flow < last_solved_.size() || next_link < component_links_.size()) {
    for (; next_flow < last_solved_.size(); ++next_flow) {
      for (const LinkId link : links_of(last_solved_[next_flow])) reach_link(link);
    }
    for (; next_link < component_links_.size(); ++next_link) {
      for (FlowId& flow : link_flows_[component_links_[next_link]]) {
        if (flow == kHole) continue;
        if (!active_flow_[flow]) {
          flow = kHole;  // dead: a hole from now on, skipped without a look at the flow
          continue;
        }
        reach_flow(flow);
      }
    }
  }
  sort_marked_ids(last_solved_, flow_slots_, [this](FlowId id) { return in_component_[id] != 0; });
  sort_marked_ids(component_links_, link_count(),
                  [this](LinkId link) { return link_in_component_[link]; });
}

bool MaxMinSolver::saturated(LinkId link) const {
  return link_load_[link] >= capacities_[link] * (1 - kSaturationSlack);
}

void MaxMinSolver::collect_above(double threshold, std::span<const LinkId> departed) {
  last_solved_.clear();
  component_links_.clear();
  const auto reach_flow = [this](FlowId id) {
    if (in_component_[id]) return;
    in_component_[id] = 1;
    last_solved_.push_back(id);
  };
  // A full link (as of the last solve, departed flows included), or one a previous pass found
  // filling up, passes the search on to the flows at or above the threshold on it. A link with
  // room to spare only bounds the re-solved flows (see solve()).
  const auto reach_link = [&](LinkId link) {
    if (link_in_component_[link]) return;
    link_in_component_[link] = true;
    component_links_.push_back(link);
    const bool open = link_forced_open_[link] || saturated(link);
    link_open_[link] = open;
    if (!open) return;
    // Every flow at or above the threshold here is re-solved; those below keep their rates.
    // Each flow's rate is a cache miss, fetched a few flows ahead.
    double fixed = 0;
    std::vector<FlowId>& on_link = link_flows_[link];
    for (std::size_t i = 0; i < on_link.size(); ++i) {
      if (i + kPrefetchAhead < on_link.size() && on_link[i + kPrefetchAhead] != kHole) {
        __builtin_prefetch(rate_.data() + on_link[i + kPrefetchAhead]);
      }
      const FlowId id = on_link[i];
      if (id == kHole) continue;
      const double rate = rate_[id];
      if (rate == kDeadRate) {
        on_link[i] = kHole;  // the next search skips it without reading its rate
        continue;
      }
      if (rate >= threshold) {
        reach_flow(id);
      } else {
        fixed += rate;
      }
    }
    link_fixed_load_[link] = fixed;
  };
  // The departed flows' links are always taken in, so that their loads are brought up to date.
  // On a link with room to spare, the flows left out keep their rates: its load less the
  // re-solved flows' old rates (within rounding, which the spare room absorbs), found without
  // going through the link's flows. Those old rates are summed as the search reaches the flows,
  // so that each path is read once.
  std::vector<double>& reached = scratch_->reached_load;
  reached.resize(link_count(), 0.0);
  for (const LinkId link : departed) reach_link(link);
  for (std::size_t next = 0; next < last_solved_.size(); ++next) {
    if (next + kPrefetchAhead < last_solved_.size()) {
      prefetch_path(last_solved_[next + kPrefetchAhead]);
    }
    const FlowId id = last_solved_[next];
    for (const LinkId link : links_of(id)) {
      reach_link(link);
      if (!link_open_[link]) reached[link] += rate_[id];
    }
  }
  for (const LinkId link : component_links_) {
    if (link_open_[link]) continue;
    link_fixed_load_[link] = std::max(0.0, link_load_[link] - reached[link]);
    reached[link] = 0;
  }
  // A departed flow's link no longer carries it, which its load as of the last solve does.
  for (const LinkId link : departed) {
    if (link_open_[link]) continue;
    double fixed = 0;
    for (FlowId& id : link_flows_[link]) {
      if (id == kHole) continue;
      if (rate_[id] == kDeadRate) {
        id = kHole;
        continue;
      }
      if (!in_component_[id]) fixed += rate_[id];
    }
    link_fixed_load_[link] = fixed;
  }
}

std::span<const double> MaxMinSolver::solve_collected() {
  // The collected flows as a problem of their own, on the capacity the other flows leave. Local
  // indices follow the order of collection: ascending ids for a component, the search's order
  // (the same for the same calls) after departures, where sorting cost more than the solve.
  Scratch& scratch = *scratch_;
  std::vector<double>& local_capacities = scratch.capacities;
  local_capacities.clear();
  for (std::uint32_t local = 0; local < component_links_.size(); ++local) {
    const LinkId link = component_links_[local];
    link_local_index_[link] = local;
    local_capacities.push_back(std::max(0.0, capacities_[link] - link_fixed_load_[link]));
  }
  Paths& paths = scratch.paths;
  paths.clear();
  paths.reserve(last_solved_.size(), last_solved_.size() * longest_);
  std::vector<double>& bounds = scratch.bounds;
  bounds.clear();
  reserve_geometrically(bounds, last_solved_.size());
  for (const FlowId id : last_solved_) {
    for (const LinkId link : links_of(id)) paths.add_link(link_local_index_[link]);
    paths.end_flow();
    bounds.push_back(bound_[id]);
  }
  return scratch.filling.solve(local_capacities, paths, bounds);
}

bool MaxMinSolver::open_filled_links(std::span<const double> rates, double threshold) {
  Scratch& scratch = *scratch_;
  std::vector<double>& load = scratch.link_load;
  load.assign(component_links_.size(), 0.0);
  // The collected paths as solve_collected laid them out (local link indices, back to back).
  const Paths& paths = scratch.paths;
  for (std::size_t i = 0; i < last_solved_.size(); ++i) {
    for (const std::uint32_t local : paths.of(i)) {
      if (!link_open_[component_links_[local]]) load[local] += rates[i];
    }
  }
  bool opened = false;
  for (std::uint32_t local = 0; local < component_links_.size(); ++local) {
    const LinkId link = component_links_[local];
    if (link_open_[link]) continue;
    const double capacity = capacities_[link];
    if (link_fixed_load_[link] + load[local] < capacity * (1 - kSaturationSlack)) continue;
    const bool others_above = std::any_of(
        link_flows_[link].begin(), link_flows_[link].end(),
        [&](FlowId id) { return id != kHole && !in_component_[id] && rate_[id] >= threshold; });
    if (!others_above) continue;
    link_forced_open_[link] = 1;
    scratch.forced_open.push_back(link);
    opened = true;
  }
  return opened;
}

void MaxMinSolver::forget_collected() {
  for (const FlowId id : last_solved_) in_component_[id] = 0;
  for (const LinkId link : component_links_) link_in_component_[link] = false;
}

const std::vector<FlowId>& MaxMinSolver::solve() {
  // Only departures since the last solve: a flow slower than every departed flow keeps its rate
  // (progressive filling reaches the same freezes below the lowest departed rate, since no link
  // of a departed flow saturates below that flow's rate), so only the flows at or above that
  // level are re-solved, on the capacity the slower flows leave.
  //
  // And only those reached from the departed flows' links through full links (a departed flow
  // limited by no full link, only by its bound, changes nothing). A link with room to spare is
  // no flow's bottleneck, so the flows beyond it keep their rates as long as it
  // keeps room: the re-solved flows see it with the capacity the others leave. If the re-solve
  // fills it and it carries other flows at or above the level, the search goes through it too
  // and the re-solve is repeated. Every flow left out then still has its bottleneck, unchanged
  // and still full, so the result is the max-min allocation.
  const bool above_floor = only_removals_ && dirty_flows_.empty() && !dirty_links_.empty();
  // Flows within rounding of the floor are taken in too: re-solving more flows than needed is
  // exact, leaving out one whose level the removal raises is not.
  const double threshold = removed_floor_ * (1 - 1e-9);
  only_removals_ = true;
  removed_floor_ = kUnbounded;
  std::span<const double> rates;
  if (above_floor) {
    Scratch& scratch = *scratch_;
    scratch.departed.swap(dirty_links_);
    dirty_links_.clear();
    // A link several departed flows crossed is listed once, where it was first.
    std::vector<char>& seen = scratch.seen;
    seen.resize(link_count(), 0);
    std::erase_if(scratch.departed, [&seen](LinkId link) { return std::exchange(seen[link], 1); });
    for (const LinkId link : scratch.departed) seen[link] = 0;
    while (true) {
      collect_above(threshold, scratch.departed);
      rates = solve_collected();
      if (!open_filled_links(rates, threshold)) break;
      forget_collected();
    }
    for (const LinkId link : scratch.forced_open) link_forced_open_[link] = 0;
    scratch.forced_open.clear();
    scratch.departed.clear();
  } else {
    collect_dirty_components();
    for (const LinkId link : component_links_) link_fixed_load_[link] = 0;
    rates = solve_collected();
  }

  for (std::size_t i = 0; i < last_solved_.size(); ++i) rate_[last_solved_[i]] = rates[i];
  // A link's load: the flows that kept their rates, and those re-solved (read from the paths
  // solve_collected laid out, in order, not from each flow's row).
  for (const LinkId link : component_links_) link_load_[link] = link_fixed_load_[link];
  const Paths& paths = scratch_->paths;
  for (std::size_t i = 0; i < last_solved_.size(); ++i) {
    for (const std::uint32_t local : paths.of(i)) link_load_[component_links_[local]] += rates[i];
  }
  forget_collected();
  return last_solved_;
}

std::span<const std::uint32_t> MaxMinSolver::solved_links(std::size_t i) const {
  assert(i < last_solved_.size());
  return scratch_->paths.of(i);
}

double MaxMinSolver::rate(FlowId flow) const {
  assert(flow < flow_slots_ && active_flow_[flow]);
  return rate_[flow];
}

std::span<const LinkId> MaxMinSolver::path(FlowId flow) const {
  assert(flow < flow_slots_ && active_flow_[flow]);
  return links_of(flow);
}

double MaxMinSolver::load(LinkId link) const {
  assert(link < link_count());
  return link_load_[link];
}

}  // namespace clustersim::fabric
