#include "gui/run_model.hpp"

#include <QMetaObject>
#include <QPointer>
#include <exception>
#include <string>
#include <utility>

#include "sim/config/diagnostics.hpp"
#include "sim/config/loader.hpp"

namespace clustersim::gui {

QStringList knob_overrides(const Knobs& knobs) {
  QStringList out;
  const auto number = [&](const std::optional<int>& value, const char* key) {
    if (value) out << QString("%1=%2").arg(key).arg(*value);
  };
  number(knobs.nodes, "cluster.nodes");
  number(knobs.tp, "parallelism.tp");
  number(knobs.pp, "parallelism.pp");
  number(knobs.ep, "parallelism.ep");
  if (knobs.schedule) out << "parallelism.schedule=" + *knobs.schedule;
  number(knobs.comm_sms, "parallelism.comm_sms");
  if (knobs.nvlink_bandwidth) {
    out << "hardware.scale_up.aggregate_bandwidth=" + *knobs.nvlink_bandwidth;
  }
  if (knobs.nic_bandwidth) {
    // The NICs and the network's links move together, as the shipped fabric sweeps do.
    out << "hardware.scale_out.nic_bandwidth=" + *knobs.nic_bandwidth;
    out << "cluster.topology.link_bandwidth=" + *knobs.nic_bandwidth;
  }
  number(knobs.planes, "cluster.topology.planes");
  return out;
}

namespace {

config::LoadOptions load_options(const QStringList& overrides) {
  config::LoadOptions options;
  for (const QString& item : overrides) options.overrides.push_back(item.toStdString());
  return options;
}

}  // namespace

std::shared_ptr<const RunOutput> simulate(const RunRequest& request) {
  auto output = std::make_shared<RunOutput>();
  output->file = request.file;
  output->overrides = request.overrides;
  output->experiment =
      config::load_experiment(request.file.toStdString(), load_options(request.overrides));
  parallel::StepOptions step_options;
  step_options.link_traffic = true;
  step_options.link_rows = true;
  output->step = parallel::simulate_step(output->experiment, step_options);
  const config::CostProfile prices = config::load_cost_profile("ib_as_bought");
  try {
    output->capex = report::cluster_capex(output->experiment, output->step, &prices);
  } catch (const std::exception&) {
    // A network the cost profile cannot price: the views show no cost.
  }
  for (const QString& card : request.compare) {
    NetworkRow row;
    row.card = card;
    try {
      const config::Experiment e = config::load_experiment(
          request.file.toStdString(),
          load_options(request.overrides + QStringList{"cluster.topology=" + card}));
      const parallel::StepResult step = parallel::simulate_step(e);
      row.stats = step.network;
      row.step_time_s = step.step_time_s;
      const report::Capex capex = report::cluster_capex(e, step, &prices);
      if (capex.network) row.network_usd = capex.network->total_usd();
    } catch (const std::exception& error) {
      row.error = error_message(error);
    }
    output->networks.push_back(row);
  }
  return output;
}

QString error_message(const std::exception& error) {
  return QString::fromStdString(error.what()).trimmed();
}

RunModel::RunModel(QObject* parent) : QObject(parent) {}

RunModel::~RunModel() {
  const std::lock_guard lock(workers_mutex_);
  for (std::thread& worker : workers_) worker.join();
}

void RunModel::start(const RunRequest& request) {
  if (running_) cancel();
  const std::uint64_t generation = ++generation_;
  running_ = true;
  QString description = request.file;
  if (!request.overrides.isEmpty()) description += " with " + request.overrides.join(", ");
  if (!request.compare.isEmpty()) description += " on " + request.compare.join(", ");
  Q_EMIT started(description);
  QPointer<RunModel> self(this);
  const std::lock_guard lock(workers_mutex_);
  workers_.emplace_back([self, this, generation, request] {
    std::shared_ptr<const RunOutput> output;
    QString error;
    try {
      output = simulate(request);
    } catch (const std::exception& e) {
      error = error_message(e);
    }
    // Back on the window's thread; nothing happens if the model is gone by then.
    QMetaObject::invokeMethod(
        this,
        [self, generation, output, error] {
          if (self) self->deliver(generation, output, error);
        },
        Qt::QueuedConnection);
  });
}

void RunModel::cancel() {
  if (!running_) return;
  ++generation_;  // the running worker's result will be dropped
  running_ = false;
  Q_EMIT cancelled();
}

void RunModel::deliver(std::uint64_t generation, std::shared_ptr<const RunOutput> output,
                       const QString& error) {
  if (generation != generation_) return;  // abandoned
  running_ = false;
  if (output) {
    last_ = output;
    Q_EMIT finished(std::move(output));
  } else {
    Q_EMIT failed(error);
  }
}

}  // namespace clustersim::gui
