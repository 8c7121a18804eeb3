#pragma once
// The engine loop. Two sources of progress:
//   - events in the EventQueue (a callback at a time), and
//   - models (flows on the fabric, kernels on a GPU) that own many actions and report only their
//     next completion time, so a flow that is re-rated a thousand times costs nothing in the queue.
//
// One step of the loop at time t = min(next event, next model completion):
//   1. every model whose next completion is t completes its due actions (registration order);
//   2. every event at t runs, including events scheduled at t by steps 1 and 2 (queue order);
//   3. every model settles at t (e.g. re-solves bandwidth shares if its flows changed).
// The loop ends when nothing is pending. If anything is still waiting then (a waiter registered
// and never resolved, or an action a model still holds), run() throws DeadlockError listing them.
// Runs are deterministic: no clocks, no unordered iteration, ties broken by registration order.
// The calling thread's wall-clock limit (sim/core/run_limits.hpp) is checked before every step;
// it can stop a run (TimeLimitError) but never changes what a finished run computes.

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/event_queue.hpp"
#include "sim/core/sim_time.hpp"

namespace clustersim {

// Something whose actions finish by themselves over simulated time.
class Model {
 public:
  Model() = default;
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;
  virtual ~Model() = default;

  [[nodiscard]] virtual std::string name() const = 0;
  // Earliest time an action of this model completes, given the current state; nullopt if none.
  [[nodiscard]] virtual std::optional<SimTime> next_completion() const = 0;
  // Completes every action due at `now` and runs its completion callbacks.
  virtual void advance_to(SimTime now) = 0;
  // Brings the model up to date after the events of `now` (re-solve shares if something changed).
  virtual void settle(SimTime now) = 0;
  // Actions that are started but can never finish (for deadlock reports), e.g. a stalled flow.
  [[nodiscard]] virtual std::vector<std::string> unfinished() const { return {}; }
};

class DeadlockError : public std::runtime_error {
 public:
  DeadlockError(SimTime at, std::vector<std::string> waiting);
  [[nodiscard]] SimTime time() const { return time_; }
  [[nodiscard]] const std::vector<std::string>& waiting() const { return waiting_; }

 private:
  SimTime time_;
  std::vector<std::string> waiting_;
};

struct RunStats {
  std::uint64_t events = 0;             // callbacks run
  std::uint64_t model_completions = 0;  // advance_to calls that completed something
  std::uint64_t steps = 0;              // distinct times visited
  SimTime end;                          // time of the last step
};

class Engine {
 public:
  using Callback = EventQueue::Callback;
  using WaiterId = std::uint64_t;

  [[nodiscard]] SimTime now() const { return now_; }

  // Scheduling in the past throws std::invalid_argument; `at` == now() runs in this step.
  EventHandle schedule_at(SimTime at, Callback callback);
  EventHandle schedule_after(SimTime delay, Callback callback);
  bool cancel(EventHandle handle) { return queue_.cancel(handle); }

  // Models are observed, not owned; they must outlive the engine's runs.
  void add_model(Model& model);

  // Something that waits for a condition (a task waiting for its inputs). Deadlock reports list
  // the descriptions of waiters still registered when nothing is left to run.
  WaiterId add_waiter(std::string description);
  void resolve_waiter(WaiterId id);

  // Runs until nothing is pending (or until the next step would be after `until`).
  RunStats run(std::optional<SimTime> until = std::nullopt);

 private:
  // Earliest of the next event and every model's next completion; nullopt when nothing is left.
  [[nodiscard]] std::optional<SimTime> next_step_time();
  void step(SimTime at, RunStats& stats);
  // Waiter descriptions, then each model's unfinished actions as "<model name>: <action>".
  [[nodiscard]] std::vector<std::string> still_waiting() const;

  EventQueue queue_;
  std::vector<Model*> models_;
  // Ids grow with each registration, so the map's order is registration order.
  std::map<WaiterId, std::string> waiters_;
  WaiterId next_waiter_ = 1;
  SimTime now_;
};

}  // namespace clustersim
