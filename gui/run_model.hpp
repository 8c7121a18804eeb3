#pragma once
// The dashboard's model layer: loads experiments and results tables through the sim/ libraries
// (the same calls the CLI makes, never its text) and runs step simulations in the background.
//
// A run goes on a worker thread; the window keeps its event loop. Cancelling abandons the run at
// once: the window is free again, and the result, when the worker finishes, is dropped (a step
// simulation has no point at which to stop it half-way). The model waits for its workers when it
// is destroyed.

#include <QObject>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sim/config/experiment.hpp"
#include "sim/parallel/step_simulator.hpp"
#include "sim/report/step_report.hpp"
#include "sim/report/sweep_runner.hpp"

namespace clustersim::gui {

// The experiment on one network of a comparison: the network's size and cost, and the step it
// gives the workload.
struct NetworkRow {
  QString card;
  fabric::TopologyStats stats;  // sized for the cluster
  std::optional<double>
      network_usd;  // switches, NICs, transceivers and cables (the hardware's cost profile)
  std::optional<double> step_time_s;  // absent when the simulation refused the network
  QString error;                      // why, then
};

// One simulated experiment, as the views show it.
struct RunOutput {
  QString file;
  QStringList overrides;
  config::Experiment experiment;
  parallel::StepResult step;  // with its link statistics (StepOptions::link_rows)
  std::optional<report::Capex> capex;
  std::vector<NetworkRow> networks;  // when the run compared networks
};

// A sweep run by the dashboard: its rows, and its results table written where the explorer
// reads it.
struct SweepOutput {
  QString file;
  QString experiment;                  // the base experiment, as the sweep resolves it
  std::vector<report::SweepRow> rows;  // by point
  QString results_csv;                 // in the model's scratch folder
};

// What to run: an experiment file with overrides, and the topology cards to compare it on (none:
// no comparison).
struct RunRequest {
  QString file;
  QStringList overrides;
  QStringList compare;
};

// The main knobs of the window, each left unset to keep the file's value. Each becomes a `--set`
// override of the experiment (knob_overrides()).
struct Knobs {
  std::optional<int> nodes;
  std::optional<int> tp, pp, ep;
  std::optional<QString> schedule;
  std::optional<int> comm_sms;
  std::optional<QString> nvlink_bandwidth;  // "900 GB/s": hardware.scale_up.aggregate_bandwidth
  std::optional<QString> nic_bandwidth;     // "800 Gb/s": the NIC and the network's links
  std::optional<int> planes;                // cluster.topology.planes
  std::optional<QString> routing;           // cluster.routing: ecmp, adaptive, static, spray, ...
  std::optional<QString> symmetry;          // simulation.symmetry: on, or off (every replica)
};

[[nodiscard]] QStringList knob_overrides(const Knobs& knobs);

// Loads and simulates synchronously; throws config::ConfigError (with file:line:column) for bad
// input and std::exception for a run the simulator refuses.
[[nodiscard]] std::shared_ptr<const RunOutput> simulate(const RunRequest& request);

// The message the window shows for an exception from simulate().
[[nodiscard]] QString error_message(const std::exception& error);

class RunModel : public QObject {
  Q_OBJECT

 public:
  explicit RunModel(QObject* parent = nullptr);
  ~RunModel() override;
  RunModel(const RunModel&) = delete;
  RunModel& operator=(const RunModel&) = delete;

  // Starts the request on a worker thread. A run still going is abandoned first.
  void start(const RunRequest& request);
  // Runs every point of a sweep file on a worker thread, reporting progress after each point;
  // cancelling stops it after the point under way.
  void start_sweep(const QString& file);
  // Abandons the current run, if any.
  void cancel();
  [[nodiscard]] bool running() const { return running_; }
  [[nodiscard]] std::shared_ptr<const RunOutput> last() const { return last_; }

 Q_SIGNALS:
  void started(const QString& description);
  void finished(std::shared_ptr<const RunOutput> output);
  void sweep_finished(std::shared_ptr<const SweepOutput> output);
  void progress(int done, int total);
  void failed(const QString& message);
  void cancelled();

 private:
  template <class Work, class Deliver>
  void launch(const QString& description, Work work, Deliver deliver);

  // On the window's thread: hands a worker's result over unless its run was abandoned.
  void complete(std::uint64_t generation, bool ok, const QString& error,
                const std::function<void()>& deliver);

  // Of the run whose result is wanted; a sweep's worker reads it to stop early (workers never
  // outlive the model: its destructor waits for them).
  std::atomic<std::uint64_t> generation_ = 0;
  QTemporaryDir scratch_;  // sweeps' results tables
  bool running_ = false;
  std::shared_ptr<const RunOutput> last_;
  std::mutex workers_mutex_;
  std::vector<std::thread> workers_;
};

}  // namespace clustersim::gui
