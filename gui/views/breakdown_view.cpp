#include "gui/views/breakdown_view.hpp"

#include <QFileInfo>
#include <QHBoxLayout>
#include <cmath>
#include <limits>
#include <string_view>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr const char* kPhaseNames[6] = {"1F", "bubble", "1B", "1W", "1F1B", "opt"};
constexpr const char* kCommunicationKinds[5] = {"ep", "pp", "dp", "tp", "cp"};

// A run's bar: "simulated" for the experiment as written, else the knobs it changed, by their
// last key ("pp=8 ep=32 schedule=dualpipev"), short enough to sit under a bar.
QString run_label(const RunOutput& run) {
  if (run.overrides.isEmpty()) return "simulated";
  QStringList parts;
  for (const QString& item : run.overrides) {
    const QString key = item.section('=', 0, 0).section('.', -1);
    parts << key + "=" + item.section('=', 1);
  }
  return parts.join(" ");
}

}  // namespace

BreakdownView::BreakdownView(QWidget* parent)
    : View(parent), phases_(chart_view(this)), communication_(chart_view(this)) {
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(phases_, 3);
  layout->addWidget(communication_, 2);
  show_runs({});
}

void BreakdownView::show_runs(const std::vector<std::shared_ptr<const RunOutput>>& runs) {
  rows_.clear();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const std::shared_ptr<const RunOutput>& run : runs) {
    const parallel::StepPhases& p = run->step.phases;
    Row row{run_label(*run),
            {p.forward, p.bubble, p.backward, p.weight, p.overlapped, p.optimizer},
            {}};
    for (std::size_t k = 0; k < 5; ++k) {
      const auto it = run->step.exposed_comm_s.find(kCommunicationKinds[k]);
      row.exposed[k] = it == run->step.exposed_comm_s.end() ? 0.0 : it->second;
    }
    rows_.push_back(row);
    // The published phases, where the experiment has them and the run is the experiment as
    // published (no knob changed).
    const auto& published = run->experiment.published.values;
    if (published.empty() || !run->overrides.isEmpty()) continue;
    Row paper{"published", {}, {nan, nan, nan, nan, nan}};
    bool any = false;
    for (std::size_t i = 0; i < 6; ++i) {
      paper.phases[i] = 0;
      for (const auto& [key, value] : published) {
        if (key == kPhaseNames[i]) {
          paper.phases[i] = value;
          any = true;
        }
      }
    }
    if (any) rows_.push_back(paper);
  }
  QStringList categories;
  for (const Row& row : rows_) categories << row.label;
  std::vector<BarSet> phase_sets;
  for (std::size_t i = 0; i < 6; ++i) {
    BarSet set{kPhaseNames[i], {}};
    for (const Row& row : rows_) set.values.push_back(row.phases[i]);
    phase_sets.push_back(set);
  }
  const QString experiment =
      runs.empty() ? QString() : QString::fromStdString(runs.back()->experiment.name);
  replace_chart(phases_, stacked_bar_chart(
                             rows_.empty() ? "Step phases (open and run an experiment)"
                                           : "Step phases (mean pipeline device)<br>" + experiment,
                             categories, phase_sets, "seconds per step"));
  QStringList run_categories;
  std::vector<BarSet> comm_sets;
  for (std::size_t k = 0; k < 5; ++k)
    comm_sets.push_back({QString(kCommunicationKinds[k]).toUpper(), {}});
  for (const Row& row : rows_) {
    if (std::isnan(row.exposed[0])) continue;
    run_categories << row.label;
    for (std::size_t k = 0; k < 5; ++k) comm_sets[k].values.push_back(row.exposed[k]);
  }
  replace_chart(communication_, stacked_bar_chart("Exposed communication per device",
                                                  run_categories, comm_sets, "seconds per step"));
}

QString BreakdownView::csv() const {
  QString out =
      "run,1F_s,bubble_s,1B_s,1W_s,1F1B_s,opt_s,exposed_ep_s,exposed_pp_s,"
      "exposed_dp_s,exposed_tp_s,exposed_cp_s\n";
  for (const Row& row : rows_) {
    QStringList fields{csv_field(QString(row.label).replace('\n', ' '))};
    for (double value : row.phases) fields << QString::number(value, 'g', 10);
    for (double value : row.exposed) {
      fields << (std::isnan(value) ? QString() : QString::number(value, 'g', 10));
    }
    out += fields.join(',') + "\n";
  }
  return out;
}

}  // namespace clustersim::gui
