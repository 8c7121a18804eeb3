#pragma once
// Flows on the fabric as a Model of the engine (SimGrid's network model, in spirit).
//
// A flow is `bytes` sent over a route. It first waits out the route's latency (an engine event),
// then shares bandwidth with every other active flow by max-min fairness (MaxMinSolver). Rates
// change only when the set of active flows changes; each change re-solves only the component of
// flows that share links with it, and only those flows get new completion times. Completion times
// live in one queue (completion_queue.hpp: a re-rated flow moves its entry), so the engine sees
// a single "next completion" however many flows run.
//
// Progress is integrated exactly between rate changes: remaining -= rate * (t - t_last). A flow
// completes at the first picosecond at or after its remaining bytes reach zero.
//
// Per-link statistics (bytes carried, busy time, peak and mean utilisation) are integrated the
// same way and can be read or written out at any time.
//
// start_flow routes a flow under the topology's routing policy (router.hpp). A sprayed flow is
// one flow per path, each with an even share of the bytes and of the rate bound, reported done
// when the last arrives. An adaptive flow takes the path with the fewest flows per unit of
// capacity on each choice when it starts (flows waiting out their latency count), and, as
// adaptive routing re-balances packet by packet, re-chooses its path after every
// kRebalanceBytes it carries: the rest continues on the path then least loaded, with no new
// latency. The re-choice is the fluid stand-in for per-packet decisions; a smaller step moves
// closer to them at the cost of more events (tests/fabric/test_routing.cpp measures the gap).

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "sim/core/engine.hpp"
#include "sim/fabric/completion_queue.hpp"
#include "sim/fabric/maxmin_solver.hpp"
#include "sim/fabric/router.hpp"
#include "sim/fabric/topology.hpp"

namespace clustersim::fabric {

// Whether `fraction` is a departure batching FlowModel takes (see set_departure_batching).
[[nodiscard]] constexpr bool valid_departure_batching(double fraction) {
  return fraction >= 0 && fraction < 1;
}

struct LinkStats {
  double bytes = 0;             // carried so far
  SimTime busy;                 // time with at least one flow on the link
  double peak_utilization = 0;  // highest load / capacity seen
};

class FlowModel final : public Model {
 public:
  using OnComplete = std::function<void(SimTime)>;

  // The engine and topology are observed and must outlive the model; the model registers itself.
  FlowModel(Engine& engine, const Topology& topology);

  // An adaptive flow re-chooses its path after carrying this many bytes.
  static constexpr double kRebalanceBytes = 4.0 * 1024 * 1024;
  // A re-solve that re-rates at least this many flows, and a quarter of those with a completion,
  // moves their completions unordered and orders the queue once (the same order).
  static constexpr std::size_t kRebuildAtLeast = 1024;
  // A batch of at least this many activations makes room for all its flows at once.
  static constexpr std::size_t kReserveAtLeast = 4096;
  // Slots for flows waiting out their latency kept when none waits; more are given back.
  static constexpr std::size_t kKeepPendingSlots = 4096;

  // Departure batching, an approximation that is off (0) by default. With a fraction f in
  // (0, 1), departures alone do not re-solve the rates until the flows that left since the last
  // solve number at least f x the flows active at that solve; meanwhile every other flow keeps
  // its rate. Arrivals, re-routes and capacity changes still re-solve at once, taking in the
  // departures held back. Exact max-min re-solves after every departure, and in one large set
  // of flows sharing links under ECMP nearly every departure changes many rates (an all-to-all
  // over 256 GPUs: 10 million rate changes for 65,280 flows), so the exact run costs far more
  // than linear time; batching makes the solves O(log(flows) / f).
  // What holds whatever f is (tests/fabric/test_departure_batching.cpp checks each):
  //   - the rates are feasible at every instant (loads only drop between solves), and every
  //     byte is carried;
  //   - after each solve every flow has at least the lowest fair share min_l c_l / n_l of the
  //     flows then active, which only grows as flows leave; so for flows of one size that
  //     start carrying together, the last completion, the congestion bound max_l bytes_l / c_l,
  //     is exact.
  // Otherwise completion times differ from the exact run's, and max-min rates not being
  // monotone in the set of flows, no a-priori bound holds. The test states the measured one on
  // random instances: at f = 0.05 the last completion (what a collective reports) within 1.5 %
  // and the mean flow within 4 %, while a single flow whose link-mates left can end far later.
  void set_departure_batching(double fraction);
  [[nodiscard]] double departure_batching() const { return batching_; }

  // Starts a flow now; `on_complete` runs when its last byte arrives. `bound` caps its rate.
  void start(const Route& route, double bytes, OnComplete on_complete, double bound = kUnbounded,
             std::string label = {});
  // Starts a flow from `from` to `to` now, routed by `router` (which must outlive the run) under
  // the topology's routing policy, as described above. Returns the latency of its (first) route.
  // `routed`: the route router.route(from, to, hash) gave a moment ago, if the caller has it;
  // used where the policy would route the same (ecmp, static), routed anew otherwise.
  SimTime start_flow(Router& router, VertexId from, VertexId to, std::uint64_t hash, double bytes,
                     OnComplete on_complete, double bound = kUnbounded,
                     const Route* routed = nullptr);

  // Series links: a NIC cabled to one GPU and one switch port passes every flow from its GPU on
  // to the switch, and every flow from the switch on to its GPU, when no flow starts or ends at
  // the NIC itself. The two links of each direction then carry the same flows, so the one of
  // them with more capacity can never be the bottleneck (its load never exceeds the other's
  // capacity). After this call the solver sees only the other one, a third fewer links per
  // inter-node flow on a fat-tree. Rates, completions and every link's statistics are unchanged
  // bit for bit: the dropped link's are read off its partner's, which carried the same flows
  // (its peak utilisation may differ in the last digit: the solver found its load as a
  // difference of sums, with rounding of its own). Must precede the first flow. From then on every
  // route must keep to the pairs (enter such a NIC through one link of a pair and leave it through
  // the other), as the router's routes between GPUs do; one that does not throws std::logic_error.
  void merge_series_links();
  // Directed links dropped from the solver by merge_series_links (0 before it).
  [[nodiscard]] std::size_t merged_links() const { return series_pairs_.size(); }

  // Makes room for `flows` more flows waiting out their latency at once, of `links` links in
  // all: a caller about to start a million saves the doubling of the records (copies, and
  // memory touched twice). A hint; no effect on results.
  void reserve_waiting(std::size_t flows, std::size_t links);

  [[nodiscard]] std::string name() const override { return "fabric"; }
  [[nodiscard]] std::optional<SimTime> next_completion() const override;
  void advance_to(SimTime now) override;
  void settle(SimTime now) override;
  [[nodiscard]] std::vector<std::string> unfinished() const override;

  [[nodiscard]] std::size_t active_flows() const { return solver_.active_flows(); }
  [[nodiscard]] std::uint64_t flows_started() const { return started_; }
  [[nodiscard]] std::uint64_t flows_completed() const { return completed_; }
  [[nodiscard]] std::uint64_t solves() const { return solves_; }
  [[nodiscard]] std::uint64_t flows_resolved() const { return flows_resolved_; }

  // Statistics up to `now` (integrates the current loads first).
  [[nodiscard]] const std::vector<LinkStats>& link_stats(SimTime now);
  // Mean utilisation of a link over [0, now].
  [[nodiscard]] double mean_utilization(LinkId link, SimTime now);
  // "link,from,to,kind,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization" rows.
  [[nodiscard]] std::string link_stats_csv(SimTime now);

 private:
  // What an adaptive flow needs to re-choose its path.
  struct Adaptive {
    Router* router = nullptr;
    VertexId from = 0;
    VertexId to = 0;
    std::uint64_t hash = 0;
  };
  // What every solve and completion reads, apart from the rest (FlowEnds) so that a giant
  // component's passes over many flows touch one small record each.
  struct Flow {
    double remaining = 0;
    double rate = 0;
    double segment_left = 0;  // adaptive: bytes until the path is chosen again
    SimTime last_update;
    bool active = false;
    bool settled = false;   // has had a rate from a solve since it started
    bool adaptive = false;  // re-chooses its path (Extra::adaptive)
  };
  // What few flows have: a label, or (adaptive routing) what re-choosing the path needs. Held
  // by pointer, so that the records of the many flows without either stay small.
  struct Extra {
    std::string label;
    Adaptive adaptive;
  };
  // What a flow needs only when it starts, is re-routed, ends or is reported.
  struct FlowEnds {
    double bound = kUnbounded;
    OnComplete on_complete;
    std::unique_ptr<Extra> extra;
  };
  // start(): queues the flow to activate once its latency has passed; returns its pending slot.
  std::size_t enqueue(std::span<const LinkId> links, SimTime latency, double bytes,
                      OnComplete on_complete, double bound, std::string label, Adaptive adaptive);
  void activate(std::size_t pending_slot, SimTime now);
  void activate_batch(std::int64_t at_ps);
  // Grows flows_ and ends_ together to hold the solver's id.
  void hold(FlowId id);
  void rebalance(FlowId id, SimTime now);
  // The route's links the solver sees, checked against the merged series pairs: the route
  // itself when none are merged, otherwise `out` filled with the links that were not dropped.
  std::span<const LinkId> solver_links(std::span<const LinkId> route,
                                       std::vector<LinkId>& out) const;
  // Adds delta to routed_ on the links, once counting has started.
  void add_routed(std::span<const LinkId> links, double delta);
  // Counts the flows started so far into routed_, and every flow from then on.
  void start_counting_routed();
  void account_link(LinkId link, SimTime now);
  // Files the link in touched_links_ unless it is there; forget_touched() empties the list.
  void touch(LinkId link);
  void forget_touched();
  // Sets the flow's completion from its rate; `unordered`: without ordering the queue, which
  // the caller rebuilds (settle, after a large re-solve).
  void schedule_completion(FlowId flow, SimTime now, bool unordered = false);

  Engine& engine_;
  const Topology& topology_;
  MaxMinSolver solver_;
  std::vector<Flow> flows_;     // indexed by the solver's FlowId
  std::vector<FlowEnds> ends_;  // the same
  // Flows waiting out their latency: route (its links in pending_links_), bytes, bound, callback.
  struct Pending {
    std::uint64_t first = 0;  // where its links start in pending_links_
    std::uint32_t count = 0;
    bool waiting = false;  // a flow holds the slot
    double bytes = 0;
    double bound = kUnbounded;
    OnComplete on_complete;
    std::unique_ptr<Extra> extra;
  };
  [[nodiscard]] std::span<const LinkId> links_of(const Pending& pending) const {
    return {pending_links_.data() + pending.first, pending.count};
  }
  // Gives back pending_links_ when no flow waits, or closes it up when most of it is links of
  // flows that have started: append-only otherwise.
  void reclaim_pending_links();
  std::vector<Pending> pending_;
  std::vector<std::size_t> free_pending_;
  // The waiting flows' links back to back, one allocation for all rather than one per flow (an
  // all-to-all has a million waiting at once); pending_dead_links_ of them are started flows'.
  std::vector<LinkId> pending_links_;
  std::size_t pending_dead_links_ = 0;
  std::size_t pending_longest_ = 0;  // the longest path among them since none waited
  Route route_scratch_;              // start_flow's route, its room reused
  // Pending slots by the picosecond their latency ends, in the order they started.
  std::unordered_map<std::int64_t, std::vector<std::size_t>> activations_;
  CompletionQueue due_;  // one entry per active flow with a rate
  std::vector<LinkStats> stats_;
  // merge_series_links: the pairs, each with the highest load its kept link has had (the
  // dropped link's peak utilisation is that over its own capacity), and each link's pair
  // (kNotPaired for most; empty before the call).
  struct SeriesPair {
    LinkId kept = 0;
    LinkId dropped = 0;
    double peak_load = 0;
  };
  static constexpr std::uint32_t kNotPaired = std::numeric_limits<std::uint32_t>::max();
  std::vector<SeriesPair> series_pairs_;
  std::vector<std::uint32_t> series_pair_;
  std::vector<LinkId> series_scratch_;
  std::vector<double> link_load_;
  std::vector<SimTime> link_updated_;
  // Links whose load may change at the next settle, each once (link_touched_ marks them).
  std::vector<LinkId> touched_links_;
  // Flows routed over each link, started and not done: what adaptive routing chooses by, so
  // counted from the first adaptive flow on (start_counting_routed counts those before it).
  std::vector<double> routed_;
  bool count_routed_ = false;
  std::vector<char> link_touched_;
  std::vector<FlowId> scratch_done_, scratch_stretched_;  // advance_to's, kept between calls
  std::vector<OnComplete> scratch_callbacks_;
  bool dirty_ = false;
  bool any_adaptive_ = false;  // an adaptive flow has started
  // Departure batching: the fraction, the departures and arrivals since the last solve, and the
  // flows active after it.
  double batching_ = 0;
  bool changed_since_solve_ = false;
  std::size_t departed_since_solve_ = 0;
  std::size_t active_at_solve_ = 0;
  std::uint64_t started_ = 0, completed_ = 0, solves_ = 0, flows_resolved_ = 0;
};

}  // namespace clustersim::fabric
