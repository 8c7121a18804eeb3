#include "sim/fabric/flow_model.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace clustersim::fabric {

FlowModel::FlowModel(Engine& engine, const Topology& topology)
    : engine_(engine),
      topology_(topology),
      solver_(topology.capacities()),
      stats_(topology.link_count()),
      link_load_(topology.link_count(), 0.0),
      link_updated_(topology.link_count()) {
  engine_.add_model(*this);
}

void FlowModel::start(const Route& route, double bytes, OnComplete on_complete, double bound,
                      std::string label) {
  ++started_;
  std::size_t slot = pending_.size();
  if (!free_pending_.empty()) {
    slot = free_pending_.back();
    free_pending_.pop_back();
  } else {
    pending_.emplace_back();
  }
  pending_[slot] =
      Pending{route.links, std::max(0.0, bytes), bound, std::move(on_complete), std::move(label)};
  engine_.schedule_after(route.latency, [this, slot] { activate(slot, engine_.now()); });
}

void FlowModel::activate(std::size_t slot, SimTime now) {
  Pending pending = std::move(pending_[slot]);
  pending_[slot] = Pending{};
  free_pending_.push_back(slot);
  if (pending.bytes <= 0) {  // nothing to carry: done once the latency has passed
    ++completed_;
    if (pending.on_complete) pending.on_complete(now);
    return;
  }
  for (LinkId link : pending.links) {
    account_link(link, now);
    touched_links_.push_back(link);
  }
  const FlowId id = solver_.add_flow(std::move(pending.links), pending.bound);
  if (flows_.size() <= id) flows_.resize(id + 1);
  Flow& flow = flows_[id];
  flow.remaining = pending.bytes;
  flow.rate = 0;
  flow.last_update = now;
  flow.on_complete = std::move(pending.on_complete);
  flow.label = std::move(pending.label);
  flow.active = true;
  flow.settled = false;
  dirty_ = true;
}

std::optional<SimTime> FlowModel::next_completion() const {
  if (due_.empty()) return std::nullopt;
  return SimTime::from_ps(due_.top().time_ps);
}

void FlowModel::advance_to(SimTime now) {
  // Complete everything due now (ascending flow id among equal times).
  std::vector<FlowId> done;
  while (!due_.empty() && due_.top().time_ps <= now.ps()) {
    done.push_back(due_.top().flow);
    due_.pop();
  }
  std::vector<OnComplete> callbacks;
  for (FlowId id : done) {
    Flow& flow = flows_[id];
    for (LinkId link : solver_.path(id)) {
      account_link(link, now);
      touched_links_.push_back(link);
    }
    flow.active = false;
    flow.remaining = 0;
    solver_.remove_flow(id);
    ++completed_;
    dirty_ = true;
    callbacks.push_back(std::move(flow.on_complete));
  }
  for (OnComplete& callback : callbacks) {
    if (callback) callback(now);
  }
}

void FlowModel::settle(SimTime now) {
  if (!dirty_) return;
  dirty_ = false;
  const std::vector<FlowId>& changed = solver_.solve();
  ++solves_;
  flows_resolved_ += changed.size();
  for (FlowId id : changed) {
    Flow& flow = flows_[id];
    if (!flow.active) continue;
    // A flow whose rate the re-solve left as it was keeps its completion time, and its links
    // keep their loads unless another flow on them changed: nothing to redo. (A giant
    // component re-solves every flow at each change, and most keep their rates.)
    const double rate = solver_.rate(id);
    if (rate == flow.rate && flow.settled) continue;
    const double elapsed = (now - flow.last_update).seconds();
    flow.remaining = std::max(0.0, flow.remaining - flow.rate * elapsed);
    flow.last_update = now;
    flow.rate = rate;
    flow.settled = true;
    for (LinkId link : solver_.path(id)) {
      account_link(link, now);
      touched_links_.push_back(link);
    }
    schedule_completion(id, now);
  }
  for (LinkId link : touched_links_) link_load_[link] = solver_.load(link);
  for (LinkId link : touched_links_) {
    const double capacity = solver_.capacity(link);
    if (capacity > 0) {
      stats_[link].peak_utilization =
          std::max(stats_[link].peak_utilization, link_load_[link] / capacity);
    }
  }
  touched_links_.clear();
}

void FlowModel::schedule_completion(FlowId id, SimTime now) {
  const Flow& flow = flows_[id];
  if (!(flow.rate > 0)) {  // stalled: reported by unfinished() if nothing else runs
    due_.erase(id);
    return;
  }
  const double ps = std::max(0.0, std::ceil(flow.remaining / flow.rate * 1e12));
  // Checked: a rate near zero would otherwise overflow the time range.
  if (!(ps < static_cast<double>(SimTime::max().ps() - now.ps()))) {
    throw TimeRangeError(fmt::format(
        "a flow of {:g} bytes at {:g} bytes/s would end beyond the simulator's time range (about "
        "106 days): a rate near zero or a size far too large in the input?",
        flow.remaining, flow.rate));
  }
  due_.set(id, now.ps() + static_cast<std::int64_t>(ps));
}

void FlowModel::account_link(LinkId link, SimTime now) {
  const double elapsed = (now - link_updated_[link]).seconds();
  if (elapsed > 0 && link_load_[link] > 0) {
    stats_[link].bytes += link_load_[link] * elapsed;
    stats_[link].busy = stats_[link].busy + (now - link_updated_[link]);
  }
  link_updated_[link] = now;
}

std::vector<std::string> FlowModel::unfinished() const {
  std::vector<std::string> out;
  for (std::size_t id = 0; id < flows_.size(); ++id) {
    const Flow& flow = flows_[id];
    if (!flow.active) continue;
    out.push_back(fmt::format("flow {}{} stalled with {} bytes left (rate 0)", id,
                              flow.label.empty() ? "" : " (" + flow.label + ")", flow.remaining));
  }
  return out;
}

const std::vector<LinkStats>& FlowModel::link_stats(SimTime now) {
  for (LinkId link = 0; link < stats_.size(); ++link) account_link(link, now);
  return stats_;
}

double FlowModel::mean_utilization(LinkId link, SimTime now) {
  account_link(link, now);
  const double capacity = solver_.capacity(link);
  const double elapsed = now.seconds();
  if (capacity <= 0 || elapsed <= 0) return 0;
  return stats_[link].bytes / (capacity * elapsed);
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
