#include "gui/run_model.hpp"

#include <QFile>
#include <QMetaObject>
#include <QPointer>
#include <exception>
#include <stdexcept>
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
  // The routing policy of the run's network and of every network it is compared on.
  if (knobs.routing) out << "cluster.routing=" + *knobs.routing;
  // One group of each kind, or every replica at once; for the compared networks too.
  if (knobs.symmetry) out << "simulation.symmetry=" + *knobs.symmetry;
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
  const config::CostProfile prices =
      config::load_cost_profile(config::network_cost_profile(output->experiment.hardware));
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

template <class Work, class Deliver>
void RunModel::launch(const QString& description, Work work, Deliver deliver) {
  if (running_) cancel();
  const std::uint64_t generation = ++generation_;
  running_ = true;
  Q_EMIT started(description);
  QPointer<RunModel> self(this);
  const std::lock_guard lock(workers_mutex_);
  workers_.emplace_back([self, this, generation, work, deliver] {
    decltype(work(generation)) output;
    QString error;
    try {
      output = work(generation);
    } catch (const std::exception& e) {
      error = error_message(e);
    }
    // Back on the window's thread; nothing happens if the model is gone by then, or if the run
    // was abandoned.
    QMetaObject::invokeMethod(
        this,
        [self, generation, output, error, deliver] {
          if (self) {
            RunModel& model = *self;
            model.complete(generation, output != nullptr, error,
                           [&model, &output, &deliver] { deliver(model, output); });
          }
        },
        Qt::QueuedConnection);
  });
}

void RunModel::complete(std::uint64_t generation, bool ok, const QString& error,
                        const std::function<void()>& deliver) {
  if (generation != generation_) return;  // abandoned
  running_ = false;
  if (ok) {
    deliver();
  } else {
    Q_EMIT failed(error);
  }
}

void RunModel::start(const RunRequest& request) {
  QString description = request.file;
  if (!request.overrides.isEmpty()) description += " with " + request.overrides.join(", ");
  if (!request.compare.isEmpty()) description += " on " + request.compare.join(", ");
  launch(
      description, [request](std::uint64_t) { return simulate(request); },
      [](RunModel& model, const std::shared_ptr<const RunOutput>& output) {
        model.last_ = output;
        Q_EMIT model.finished(output);
      });
}

void RunModel::start_sweep(const QString& file) {
  const QString csv = scratch_.filePath(QString("sweep-%1.csv").arg(generation_ + 1));
  QPointer<RunModel> self(this);
  launch(
      file,
      [file, csv, self, this](std::uint64_t mine) {
        const config::SweepSpec sweep = config::load_sweep(file.toStdString());
        const std::vector<config::SweepPoint> points = sweep.points();
        auto output = std::make_shared<SweepOutput>();
        output->file = file;
        output->experiment = QString::fromStdString(sweep.experiment);
        for (std::size_t i = 0; i < points.size(); ++i) {
          if (generation_ != mine) return std::shared_ptr<const SweepOutput>();  // cancelled
          output->rows.push_back(report::run_sweep_point(sweep, i, {}));
          const int done = static_cast<int>(i + 1);
          const int total = static_cast<int>(points.size());
          QMetaObject::invokeMethod(
              this,
              [self, mine, done, total] {
                if (self && self->generation_ == mine) Q_EMIT self->progress(done, total);
              },
              Qt::QueuedConnection);
        }
        QFile out(csv);
        if (!out.open(QIODevice::WriteOnly | QIODevice::Text)) {
          throw std::runtime_error("cannot write " + csv.toStdString());
        }
        out.write(QByteArray::fromStdString(report::sweep_csv(sweep, output->rows)));
        output->results_csv = csv;
        return std::shared_ptr<const SweepOutput>(output);
      },
      [](RunModel& model, const std::shared_ptr<const SweepOutput>& output) {
        Q_EMIT model.sweep_finished(output);
      });
}

void RunModel::cancel() {
  if (!running_) return;
  ++generation_;  // the running worker's result will be dropped, and a sweep stops
  running_ = false;
  Q_EMIT cancelled();
}

}  // namespace clustersim::gui
