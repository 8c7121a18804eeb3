#include "sim/core/engine.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "sim/core/run_limits.hpp"

namespace clustersim {
namespace {

std::string deadlock_message(SimTime at, const std::vector<std::string>& waiting) {
  std::string message =
      fmt::format("deadlock at {:.9g} s: nothing left to run, but {} still waiting:", at.seconds(),
                  waiting.size());
  for (const std::string& item : waiting) {
    message += "\n  - ";
    message += item;
  }
  return message;
}

// A model's next completion, checked: a model that reports a time before `now` has lost track
// of its own clock, which is a bug in the model, not in the user's input.
std::optional<SimTime> checked_next_completion(const Model& model, SimTime now) {
  const std::optional<SimTime> completion = model.next_completion();
  if (completion && *completion < now) {
    throw std::logic_error(
        fmt::format("model '{}' reports its next completion at {} ps, before now ({} ps)",
                    model.name(), completion->ps(), now.ps()));
  }
  return completion;
}

}  // namespace

DeadlockError::DeadlockError(SimTime at, std::vector<std::string> waiting)
    : std::runtime_error(deadlock_message(at, waiting)), time_(at), waiting_(std::move(waiting)) {}

EventHandle Engine::schedule_at(SimTime at, Callback callback) {
  if (at < now_) {
    throw std::invalid_argument(
        fmt::format("cannot schedule an event at {} ps, before now ({} ps)", at.ps(), now_.ps()));
  }
  return queue_.schedule(at, std::move(callback));
}

EventHandle Engine::schedule_after(SimTime delay, Callback callback) {
  if (delay.ps() > SimTime::max().ps() - now_.ps()) {
    throw std::invalid_argument(fmt::format(
        "cannot schedule an event {} ps after now ({} ps): beyond the end of simulated time",
        delay.ps(), now_.ps()));
  }
  return schedule_at(now_ + delay, std::move(callback));
}

void Engine::add_model(Model& model) {
  if (std::find(models_.begin(), models_.end(), &model) != models_.end()) {
    throw std::invalid_argument(fmt::format("model '{}' is already registered", model.name()));
  }
  models_.push_back(&model);
}

Engine::WaiterId Engine::add_waiter(std::string description) {
  const WaiterId id = next_waiter_++;
  waiters_.emplace(id, std::move(description));
  return id;
}

void Engine::resolve_waiter(WaiterId id) {
  waiters_.erase(id);
}

RunStats Engine::run(std::optional<SimTime> until) {
  RunStats stats;
  std::optional<SimTime> last_step;
  while (true) {
    const std::optional<SimTime> at = next_step_time();
    if (!at) break;
    if (until && *at > *until) {
      stats.end = now_;
      return stats;  // stopped early: what is left stays queued for the next run
    }
    // A completion that becomes due at `now` during step 2 (a zero-length action) makes a
    // second pass at the same time; stats count the time once.
    if (last_step != at) ++stats.steps;
    last_step = at;
    check_wall_clock_limit(*at, stats.steps);
    step(*at, stats);
  }
  stats.end = now_;
  std::vector<std::string> waiting = still_waiting();
  if (!waiting.empty()) throw DeadlockError(now_, std::move(waiting));
  return stats;
}

std::optional<SimTime> Engine::next_step_time() {
  std::optional<SimTime> at = queue_.next_time();
  for (const Model* model : models_) {
    const std::optional<SimTime> completion = checked_next_completion(*model, now_);
    if (completion && (!at || *completion < *at)) at = completion;
  }
  return at;
}

void Engine::step(SimTime at, RunStats& stats) {
  now_ = at;
  // 1. Completions. Asked again, not cached: an earlier model's completion callbacks may have
  // changed what a later model has due.
  for (Model* model : models_) {
    if (checked_next_completion(*model, now_) == at) {
      model->advance_to(at);
      ++stats.model_completions;
    }
  }
  // 2. Events at `at`, including those scheduled at `at` by step 1 or by earlier events here.
  while (true) {
    const std::optional<SimTime> next = queue_.next_time();
    if (!next || *next != at) break;
    std::optional<EventQueue::Fired> fired = queue_.pop();
    fired->callback();
    ++stats.events;
  }
  // 3. Every model brings itself up to date with what the completions and events changed.
  for (Model* model : models_) model->settle(at);
}

std::vector<std::string> Engine::still_waiting() const {
  std::vector<std::string> waiting;
  waiting.reserve(waiters_.size());
  for (const auto& waiter : waiters_) waiting.push_back(waiter.second);
  for (const Model* model : models_) {
    for (const std::string& action : model->unfinished()) {
      waiting.push_back(fmt::format("{}: {}", model->name(), action));
    }
  }
  return waiting;
}

}  // namespace clustersim
