#include "sim/fabric/flow_model.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>

namespace clustersim::fabric {

FlowModel::FlowModel(Engine& engine, const Topology& topology)
    : engine_(engine),
      topology_(topology),
      solver_(topology.capacities()),
      stats_(topology.link_count()),
      link_load_(topology.link_count(), 0.0),
      link_updated_(topology.link_count()),
      routed_(topology.link_count(), 0.0),
      link_touched_(topology.link_count(), 0) {
  engine_.add_model(*this);
}

void FlowModel::merge_series_links() {
  if (started_ > 0) {
    throw std::logic_error("FlowModel::merge_series_links: flows have started already");
  }
  if (!series_pair_.empty()) return;
  series_pair_.assign(topology_.link_count(), kNotPaired);
  // The link with more capacity is dropped; of two alike, the GPU's.
  const auto pair = [&](LinkId gpu_side, LinkId switch_side) {
    const double gpu_capacity = solver_.capacity(gpu_side);
    const double switch_capacity = solver_.capacity(switch_side);
    if (!(gpu_capacity > 0 && switch_capacity > 0)) return;
    const bool drop_gpu_side = gpu_capacity >= switch_capacity;
    series_pair_[gpu_side] = series_pair_[switch_side] =
        static_cast<std::uint32_t>(series_pairs_.size());
    series_pairs_.push_back(
        {drop_gpu_side ? switch_side : gpu_side, drop_gpu_side ? gpu_side : switch_side, 0.0});
  };
  // A NIC with exactly two links out, to its GPU and to its switch (every link is one direction
  // of a duplex, so also exactly two in, from them).
  const Graph& graph = topology_.graph();
  for (const VertexId nic : topology_.nics()) {
    const std::optional<VertexId> gpu = topology_.gpu_of(nic);
    const std::optional<VertexId> sw = topology_.attached_switch(nic);
    if (!gpu || !sw || boost::out_degree(nic, graph) != 2) continue;
    const std::optional<LinkId> to_gpu = topology_.find_link(nic, *gpu);
    const std::optional<LinkId> to_switch = topology_.find_link(nic, *sw);
    const std::optional<LinkId> from_gpu = topology_.find_link(*gpu, nic);
    const std::optional<LinkId> from_switch = topology_.find_link(*sw, nic);
    if (!to_gpu || !to_switch || !from_gpu || !from_switch) continue;
    pair(*from_gpu, *to_switch);
    pair(*to_gpu, *from_switch);
  }
}

std::span<const LinkId> FlowModel::solver_links(std::span<const LinkId> route,
                                                std::vector<LinkId>& out) const {
  if (series_pairs_.empty()) return route;
  out.clear();
  for (std::size_t i = 0; i < route.size(); ++i) {
    const LinkId link = route[i];
    const std::uint32_t index = series_pair_[link];
    if (index != kNotPaired) {
      const SeriesPair& pair = series_pairs_[index];
      const LinkId partner = pair.kept == link ? pair.dropped : pair.kept;
      const bool beside =
          (i + 1 < route.size() && route[i + 1] == partner) || (i > 0 && route[i - 1] == partner);
      if (!beside) {
        const LinkInfo& info = topology_.link(link);
        throw std::logic_error(fmt::format(
            "a route crosses link {} ({} -> {}) without its series partner {}: a flow that "
            "starts or ends at a NIC cannot run where series links are merged",
            link, info.from, info.to, partner));
      }
      if (link == pair.dropped) continue;
    }
    out.push_back(link);
  }
  return out;
}

void FlowModel::add_routed(std::span<const LinkId> links, double delta) {
  if (!count_routed_) return;
  for (LinkId link : links) routed_[link] += delta;
}

void FlowModel::start_counting_routed() {
  if (count_routed_) return;
  count_routed_ = true;
  for (std::size_t id = 0; id < flows_.size(); ++id) {
    if (flows_[id].active) add_routed(solver_.path(static_cast<FlowId>(id)), 1);
  }
  for (const Pending& pending : pending_) {
    if (pending.waiting) add_routed(links_of(pending), 1);
  }
}

SimTime FlowModel::start_flow(Router& router, VertexId from, VertexId to, std::uint64_t hash,
                              double bytes, OnComplete on_complete, double bound,
                              const Route* routed) {
  switch (router.policy()) {
    case config::RoutingPolicy::spray: {
      const std::vector<Route> routes = router.routes(from, to, hash);
      if (routes.size() == 1) {
        start(routes.front(), bytes, std::move(on_complete), bound);
        return routes.front().latency;
      }
      const auto parts = static_cast<double>(routes.size());
      auto left = std::make_shared<std::size_t>(routes.size());
      auto done = std::make_shared<OnComplete>(std::move(on_complete));
      for (const Route& route : routes) {
        start(
            route, bytes / parts,
            [left, done](SimTime now) {
              if (--*left == 0 && *done) (*done)(now);
            },
            bound / parts);
      }
      return routes.front().latency;
    }
    case config::RoutingPolicy::adaptive: {
      start_counting_routed();
      router.set_load(&routed_);
      router.route_into(from, to, hash, route_scratch_);
      enqueue(route_scratch_.links, route_scratch_.latency, bytes, std::move(on_complete), bound,
              {}, Adaptive{&router, from, to, hash});
      return route_scratch_.latency;
    }
    case config::RoutingPolicy::ugal: {
      // Minimal or Valiant, chosen once against the flows routed so far.
      start_counting_routed();
      router.set_load(&routed_);
      router.route_into(from, to, hash, route_scratch_);
      enqueue(route_scratch_.links, route_scratch_.latency, bytes, std::move(on_complete), bound,
              {}, Adaptive{});
      return route_scratch_.latency;
    }
    case config::RoutingPolicy::ecmp:
    case config::RoutingPolicy::static_:
    case config::RoutingPolicy::valiant:
      break;
  }
  if (routed == nullptr) {
    router.route_into(from, to, hash, route_scratch_);
    routed = &route_scratch_;
  }
  enqueue(routed->links, routed->latency, bytes, std::move(on_complete), bound, {}, Adaptive{});
  return routed->latency;
}

void FlowModel::start(const Route& route, double bytes, OnComplete on_complete, double bound,
                      std::string label) {
  enqueue(route.links, route.latency, bytes, std::move(on_complete), bound, std::move(label),
          Adaptive{});
}

std::size_t FlowModel::enqueue(std::span<const LinkId> links, SimTime latency, double bytes,
                               OnComplete on_complete, double bound, std::string label,
                               Adaptive adaptive) {
  links = solver_links(links, series_scratch_);
  ++started_;
  std::size_t slot = pending_.size();
  if (!free_pending_.empty()) {
    slot = free_pending_.back();
    free_pending_.pop_back();
  } else {
    pending_.emplace_back();
  }
  add_routed(links, 1);
  std::unique_ptr<Extra> extra;
  if (!label.empty() || adaptive.router != nullptr) {
    extra = std::make_unique<Extra>(Extra{std::move(label), adaptive});
  }
  const std::uint64_t first = pending_links_.size();
  pending_links_.insert(pending_links_.end(), links.begin(), links.end());
  pending_longest_ = std::max(pending_longest_, links.size());
  pending_[slot] = Pending{first,
                           static_cast<std::uint32_t>(links.size()),
                           true,
                           std::max(0.0, bytes),
                           bound,
                           std::move(on_complete),
                           std::move(extra)};
  // Flows that activate at the same instant share one event, in the order they started: an
  // all-to-all starts a million flows with a handful of distinct latencies.
  const std::int64_t at = (engine_.now() + latency).ps();
  auto [batch, fresh] = activations_.try_emplace(at);
  batch->second.push_back(slot);
  if (fresh) engine_.schedule_after(latency, [this, at] { activate_batch(at); });
  return slot;
}

void FlowModel::activate_batch(std::int64_t at) {
  const auto batch = activations_.find(at);
  if (batch == activations_.end()) return;  // scheduled once per instant, so never
  const std::vector<std::size_t> slots = std::move(batch->second);
  // Flows started from here on for this instant (zero latency) form a batch of their own.
  activations_.erase(batch);
  if (slots.size() >= kReserveAtLeast) {
    // Room for the batch at once (an all-to-all activates a million flows in a few batches).
    const std::size_t flows = solver_.active_flows() + slots.size();
    solver_.reserve(flows, pending_longest_);
    // Every id the batch takes is below `flows` (ids are the lowest free), so the records are
    // made at once rather than one by one in hold().
    if (flows_.size() < flows) {
      reserve_geometrically(flows_, flows);
      reserve_geometrically(ends_, flows);
      flows_.resize(flows);
      ends_.resize(flows);
    }
  }
  for (const std::size_t slot : slots) activate(slot, engine_.now());
  if (free_pending_.size() == pending_.size() && pending_.size() >= kKeepPendingSlots) {
    // None waits: give back the slots (an all-to-all held a million at once).
    std::vector<Pending>().swap(pending_);
    std::vector<std::size_t>().swap(free_pending_);
  }
  reclaim_pending_links();
}

void FlowModel::reserve_waiting(std::size_t flows, std::size_t links) {
  const std::size_t waiting = pending_.size() - free_pending_.size();
  reserve_geometrically(pending_, waiting + flows);
  reserve_geometrically(pending_links_, pending_links_.size() + links);
  // Once started, they may all carry at once beside those carrying or waiting now, each under
  // the lowest free id: room for their records too. Flows whose latencies end at many different
  // instants activate in batches too small to make room for themselves (a dragonfly's), and
  // would otherwise grow the records by doubling, one id at a time.
  const std::size_t ids = solver_.active_flows() + waiting + flows;
  reserve_geometrically(flows_, ids);
  reserve_geometrically(ends_, ids);
}

void FlowModel::reclaim_pending_links() {
  if (free_pending_.size() == pending_.size()) {
    pending_longest_ = 0;
    if (pending_links_.size() >= kKeepPendingSlots) {
      std::vector<LinkId>().swap(pending_links_);
    } else {
      pending_links_.clear();
    }
    pending_dead_links_ = 0;
    return;
  }
  // Closed up once three quarters are dead, so that each link is copied O(1) times.
  if (pending_links_.size() < kKeepPendingSlots ||
      4 * pending_dead_links_ < 3 * pending_links_.size()) {
    return;
  }
  std::vector<LinkId> kept;
  kept.reserve(pending_links_.size() - pending_dead_links_);
  for (Pending& pending : pending_) {
    if (!pending.waiting) continue;
    const std::span<const LinkId> links = links_of(pending);
    pending.first = kept.size();
    kept.insert(kept.end(), links.begin(), links.end());
  }
  pending_links_ = std::move(kept);
  pending_dead_links_ = 0;
}

void FlowModel::hold(FlowId id) {
  if (flows_.size() <= id) {
    flows_.resize(id + 1);
    ends_.resize(id + 1);
  }
}

void FlowModel::activate(std::size_t slot, SimTime now) {
  Pending pending = std::move(pending_[slot]);
  pending_[slot] = Pending{};
  free_pending_.push_back(slot);
  // Valid until a flow is started (a callback below may start one).
  const std::span<const LinkId> links = links_of(pending);
  pending_dead_links_ += links.size();
  if (pending.bytes <= 0) {  // nothing to carry: done once the latency has passed
    add_routed(links, -1);
    ++completed_;
    if (pending.on_complete) pending.on_complete(now);
    return;
  }
  for (LinkId link : links) {
    account_link(link, now);
    touch(link);
  }
  changed_since_solve_ = true;
  const FlowId id = solver_.add_flow(links, pending.bound);
  hold(id);
  Flow& flow = flows_[id];
  flow.remaining = pending.bytes;
  flow.rate = 0;
  flow.segment_left = kRebalanceBytes;
  flow.last_update = now;
  flow.active = true;
  flow.settled = false;
  flow.adaptive = pending.extra != nullptr && pending.extra->adaptive.router != nullptr;
  any_adaptive_ = any_adaptive_ || flow.adaptive;
  FlowEnds& ends = ends_[id];
  ends.bound = pending.bound;
  ends.on_complete = std::move(pending.on_complete);
  ends.extra = std::move(pending.extra);
  dirty_ = true;
}

std::optional<SimTime> FlowModel::next_completion() const {
  if (due_.empty()) return std::nullopt;
  return SimTime::from_ps(due_.top().time_ps);
}

void FlowModel::advance_to(SimTime now) {
  // Complete everything due now (ascending flow id among equal times); an adaptive flow that
  // is due at the end of a stretch, not of its bytes, re-chooses its path once the flows that
  // end now have left.
  std::vector<FlowId>& done = scratch_done_;
  std::vector<FlowId>& stretched = scratch_stretched_;
  done.clear();
  stretched.clear();
  while (!due_.empty() && due_.top().time_ps <= now.ps()) {
    const FlowId id = due_.top().flow;
    due_.pop();
    // Without adaptive flows no flow's record need be read here (a cache miss each).
    const bool rechoose =
        any_adaptive_ && flows_[id].adaptive && flows_[id].segment_left < flows_[id].remaining;
    (rechoose ? stretched : done).push_back(id);
  }
  // Kept between calls (moved out, so that a callback could come back here safely).
  std::vector<OnComplete> callbacks = std::move(scratch_callbacks_);
  callbacks.clear();
  callbacks.reserve(done.size());
  for (std::size_t k = 0; k < done.size(); ++k) {
    // The records of a flow a few ahead are fetched while this one is done: the flows due at
    // one instant are scattered over the ids, so each record is a cache miss.
    if (k + kPrefetchAhead < done.size()) {
      const FlowId ahead = done[k + kPrefetchAhead];
      prefetch_bytes<1>(&flows_[ahead], sizeof(Flow));
      prefetch_bytes<1>(&ends_[ahead], sizeof(FlowEnds));
      solver_.prefetch_removal(ahead);
    }
    const FlowId id = done[k];
    Flow& flow = flows_[id];
    for (LinkId link : solver_.path(id)) {
      if (count_routed_) routed_[link] -= 1;
      account_link(link, now);
      // The load drops at once (a solve held back by batching leaves the others' rates as
      // they are); a solve now overwrites it with the solver's.
      link_load_[link] = std::max(0.0, link_load_[link] - flow.rate);
      touch(link);
    }
    ++departed_since_solve_;
    flow.active = false;
    flow.remaining = 0;
    solver_.remove_flow(id);
    ++completed_;
    dirty_ = true;
    callbacks.push_back(std::move(ends_[id].on_complete));
    ends_[id].extra.reset();
  }
  for (FlowId id : stretched) rebalance(id, now);
  for (OnComplete& callback : callbacks) {
    if (callback) callback(now);
  }
  callbacks.clear();
  scratch_callbacks_ = std::move(callbacks);
}

void FlowModel::rebalance(FlowId id, SimTime now) {
  Flow flow = flows_[id];
  FlowEnds ends = std::move(ends_[id]);
  flows_[id] = Flow{};
  ends_[id] = FlowEnds{};
  const double carried = std::min(flow.remaining, flow.segment_left);
  flow.remaining -= carried;
  const std::span<const LinkId> old_links = solver_.path(id);
  add_routed(old_links, -1);
  for (LinkId link : old_links) {
    account_link(link, now);
    touch(link);
  }
  solver_.remove_flow(id);
  const Adaptive& adaptive = ends.extra->adaptive;
  Router& router = *adaptive.router;
  router.set_load(&routed_);
  router.route_into(adaptive.from, adaptive.to, adaptive.hash, route_scratch_);
  const std::span<const LinkId> links = solver_links(route_scratch_.links, series_scratch_);
  add_routed(links, 1);
  for (LinkId link : links) {
    account_link(link, now);
    touch(link);
  }
  changed_since_solve_ = true;
  const FlowId next = solver_.add_flow(links, ends.bound);
  hold(next);
  flow.segment_left = kRebalanceBytes;
  flow.rate = 0;
  flow.last_update = now;
  flow.settled = false;
  flows_[next] = flow;
  ends_[next] = std::move(ends);
  dirty_ = true;
}

void FlowModel::set_departure_batching(double fraction) {
  if (!valid_departure_batching(fraction)) {
    throw std::invalid_argument(
        fmt::format("departure batching must be a fraction in [0, 1), got {}", fraction));
  }
  batching_ = fraction;
}

void FlowModel::settle(SimTime now) {
  if (!dirty_) return;
  dirty_ = false;
  if (!changed_since_solve_ && batching_ > 0 &&
      static_cast<double>(departed_since_solve_) <
          batching_ * static_cast<double>(active_at_solve_)) {
    // Held back: the departed flows' loads are already off their links; the peaks stand.
    forget_touched();
    return;
  }
  changed_since_solve_ = false;
  departed_since_solve_ = 0;
  const std::vector<FlowId>& changed = solver_.solve();
  ++solves_;
  flows_resolved_ += changed.size();
  // A re-solve that takes in a large part of the flows moves their completions unordered and
  // orders the queue once (a heapify or a sort) instead of O(log n) scattered moves each. The
  // order is total, so the top is the same either way.
  const bool rebuild = changed.size() >= kRebuildAtLeast && 4 * changed.size() >= due_.size();
  if (rebuild) due_.reserve_unordered(changed.size());
  for (std::size_t i = 0; i < changed.size(); ++i) {
    const FlowId id = changed[i];
    Flow& flow = flows_[id];
    if (!flow.active) continue;
    // A flow whose rate the re-solve left as it was keeps its completion time, and its links
    // keep their loads unless another flow on them changed: nothing to redo. (A giant
    // component re-solves every flow at each change, and most keep their rates.)
    const double rate = solver_.rate(id);
    if (rate == flow.rate && flow.settled) continue;
    const double elapsed = (now - flow.last_update).seconds();
    const double carried = flow.rate * elapsed;
    flow.remaining = std::max(0.0, flow.remaining - carried);
    flow.segment_left = std::max(0.0, flow.segment_left - carried);
    flow.last_update = now;
    flow.rate = rate;
    flow.settled = true;
    for (const std::uint32_t local : solver_.solved_links(i)) {
      const LinkId link = solver_.component_link(local);
      account_link(link, now);
      touch(link);
    }
    schedule_completion(id, now, rebuild);
  }
  if (rebuild) due_.rebuild();
  for (LinkId link : touched_links_) link_load_[link] = solver_.load(link);
  active_at_solve_ = solver_.active_flows();
  for (LinkId link : touched_links_) {
    const double capacity = solver_.capacity(link);
    if (capacity > 0) {
      stats_[link].peak_utilization =
          std::max(stats_[link].peak_utilization, link_load_[link] / capacity);
    }
    // A kept series link's peak load, which its dropped partner's peak utilisation is read off.
    if (series_pair_.empty()) continue;
    const std::uint32_t index = series_pair_[link];
    if (index != kNotPaired && series_pairs_[index].kept == link) {
      series_pairs_[index].peak_load = std::max(series_pairs_[index].peak_load, link_load_[link]);
    }
  }
  forget_touched();
}

void FlowModel::schedule_completion(FlowId id, SimTime now, bool unordered) {
  const Flow& flow = flows_[id];
  if (!(flow.rate > 0)) {  // stalled: reported by unfinished() if nothing else runs
    if (unordered) {
      due_.erase_unordered(id);
    } else {
      due_.erase(id);
    }
    return;
  }
  const double target =
      flow.adaptive && flow.segment_left < flow.remaining ? flow.segment_left : flow.remaining;
  const double ps = std::max(0.0, std::ceil(target / flow.rate * 1e12));
  // Checked: a rate near zero would otherwise overflow the time range.
  if (!(ps < static_cast<double>(SimTime::max().ps() - now.ps()))) {
    if (unordered) due_.rebuild();  // left whole for whoever reads it after the error
    throw TimeRangeError(fmt::format(
        "a flow of {:g} bytes at {:g} bytes/s would end beyond the simulator's time range (about "
        "106 days): a rate near zero or a size far too large in the input?",
        flow.remaining, flow.rate));
  }
  const std::int64_t at = now.ps() + static_cast<std::int64_t>(ps);
  if (unordered) {
    due_.set_unordered(id, at);
  } else {
    due_.set(id, at);
  }
}

void FlowModel::touch(LinkId link) {
  if (link_touched_[link] != 0) return;
  link_touched_[link] = 1;
  touched_links_.push_back(link);
}

void FlowModel::forget_touched() {
  for (LinkId link : touched_links_) link_touched_[link] = 0;
  touched_links_.clear();
}

void FlowModel::account_link(LinkId link, SimTime now) {
  if (link_updated_[link] == now) return;  // already integrated up to now
  const double elapsed = (now - link_updated_[link]).seconds();
  if (elapsed > 0 && link_load_[link] > 0) {
    stats_[link].bytes += link_load_[link] * elapsed;
    stats_[link].busy = stats_[link].busy + (now - link_updated_[link]);
  }
  link_updated_[link] = now;
}

std::vector<std::string> FlowModel::unfinished() const {
  std::vector<std::string> out;
  if (active_flows() == 0) return out;
  for (std::size_t id = 0; id < flows_.size(); ++id) {
    const Flow& flow = flows_[id];
    if (!flow.active) continue;
    const std::string label = ends_[id].extra ? ends_[id].extra->label : std::string();
    out.push_back(fmt::format("flow {}{} stalled with {} bytes left (rate 0)", id,
                              label.empty() ? "" : " (" + label + ")", flow.remaining));
  }
  return out;
}

const std::vector<LinkStats>& FlowModel::link_stats(SimTime now) {
  for (LinkId link = 0; link < stats_.size(); ++link) account_link(link, now);
  // A dropped series link carried what its partner did, at every instant.
  for (const SeriesPair& pair : series_pairs_) {
    stats_[pair.dropped].bytes = stats_[pair.kept].bytes;
    stats_[pair.dropped].busy = stats_[pair.kept].busy;
    stats_[pair.dropped].peak_utilization = pair.peak_load / solver_.capacity(pair.dropped);
  }
  return stats_;
}

double FlowModel::mean_utilization(LinkId link, SimTime now) {
  const double capacity = solver_.capacity(link);
  // A dropped series link carried its partner's bytes.
  const std::uint32_t index = series_pair_.empty() ? kNotPaired : series_pair_[link];
  const LinkId carrier = index != kNotPaired && series_pairs_[index].dropped == link
                             ? series_pairs_[index].kept
                             : link;
  account_link(carrier, now);
  const double elapsed = now.seconds();
  if (capacity <= 0 || elapsed <= 0) return 0;
  return stats_[carrier].bytes / (capacity * elapsed);
}

std::string FlowModel::link_stats_csv(SimTime now) {
  std::string csv =
      "link,from,to,kind,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization\n";
  const std::vector<LinkStats>& stats = link_stats(now);
  for (LinkId link = 0; link < stats.size(); ++link) {
    const LinkInfo& info = topology_.link(link);
    const char* kind = info.kind == LinkKind::nvlink ? "nvlink"
                       : info.kind == LinkKind::pcie ? "pcie"
                                                     : "network";
    csv += fmt::format("{},{},{},{},{},{},{},{},{}\n", link, info.from, info.to, kind,
                       info.capacity_bytes_per_s(), stats[link].bytes, stats[link].busy.seconds(),
                       stats[link].peak_utilization, mean_utilization(link, now));
  }
  return csv;
}

}  // namespace clustersim::fabric
