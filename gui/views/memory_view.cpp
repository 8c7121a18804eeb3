#include "gui/views/memory_view.hpp"

#include <QAbstractAxis>
#include <QLineSeries>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr double kGigabyte = 1e9;

}  // namespace

MemoryView::MemoryView(QWidget* parent) : View(parent), chart_(chart_view(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(chart_);
  show_run(nullptr);
}

void MemoryView::show_run(const std::shared_ptr<const RunOutput>& run) {
  run_ = run;
  if (!run_) {
    replace_chart(chart_, stacked_bar_chart("Memory per GPU (open and run an experiment)", {}, {},
                                            "GB per GPU"));
    return;
  }
  const workload::MemoryEstimate& memory = run_->step.memory;
  QStringList categories;
  std::vector<BarSet> sets{{"parameters", {}},
                           {"gradients", {}},
                           {"optimizer", {}},
                           {"activations", {}},
                           {"buffers and framework", {}}};
  for (const workload::RankMemory& rank : memory.ranks) {
    categories << QString::number(rank.rank);
    sets[0].values.push_back(rank.parameters / kGigabyte);
    sets[1].values.push_back(rank.gradients / kGigabyte);
    sets[2].values.push_back(rank.optimizer / kGigabyte);
    sets[3].values.push_back(rank.activations / kGigabyte);
    sets[4].values.push_back((rank.communication + rank.framework) / kGigabyte);
  }
  QChart* chart = stacked_bar_chart(QString("Memory per GPU by pipeline rank (HBM %2 GB)<br>%1")
                                        .arg(QString::fromStdString(run_->experiment.name))
                                        .arg(memory.capacity / kGigabyte, 0, 'f', 1),
                                    categories, sets, "GB per GPU");
  for (QAbstractAxis* axis : chart->axes(Qt::Horizontal)) axis->setTitleText("pipeline rank");
  // The HBM line across the bars, on the bar axis's category positions.
  auto* hbm = new QLineSeries;
  hbm->setName("HBM capacity");
  const double capacity = memory.capacity / kGigabyte;
  hbm->append(-0.5, capacity);
  hbm->append(static_cast<double>(categories.size()) - 0.5, capacity);
  QPen pen(Qt::red);
  pen.setWidth(2);
  pen.setStyle(Qt::DashLine);
  hbm->setPen(pen);
  chart->addSeries(hbm);
  auto* line_x = new QValueAxis;
  line_x->setRange(-0.5, static_cast<double>(categories.size()) - 0.5);
  line_x->setVisible(false);
  chart->addAxis(line_x, Qt::AlignTop);
  hbm->attachAxis(line_x);
  for (QAbstractAxis* axis : chart->axes(Qt::Vertical)) {
    hbm->attachAxis(axis);
    auto* values = qobject_cast<QValueAxis*>(axis);
    if (values != nullptr && values->max() < capacity * 1.1) {
      values->setMax(capacity * 1.1);
      values->applyNiceNumbers();
    }
  }
  replace_chart(chart_, chart);
}

QString MemoryView::csv() const {
  QString out =
      "rank,parameters_gb,gradients_gb,optimizer_gb,activations_gb,buffers_and_framework_gb,"
      "total_gb,hbm_gb\n";
  if (!run_) return out;
  const workload::MemoryEstimate& memory = run_->step.memory;
  for (const workload::RankMemory& rank : memory.ranks) {
    out += QString("%1,%2,%3,%4,%5,%6,%7,%8\n")
               .arg(rank.rank)
               .arg(rank.parameters / kGigabyte, 0, 'g', 8)
               .arg(rank.gradients / kGigabyte, 0, 'g', 8)
               .arg(rank.optimizer / kGigabyte, 0, 'g', 8)
               .arg(rank.activations / kGigabyte, 0, 'g', 8)
               .arg((rank.communication + rank.framework) / kGigabyte, 0, 'g', 8)
               .arg(rank.total() / kGigabyte, 0, 'g', 8)
               .arg(memory.capacity / kGigabyte, 0, 'g', 8);
  }
  return out;
}

}  // namespace clustersim::gui
