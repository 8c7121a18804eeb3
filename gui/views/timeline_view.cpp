#include "gui/views/timeline_view.hpp"

#include <QAreaSeries>
#include <QCategoryAxis>
#include <QLegendMarker>
#include <QLineSeries>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <map>

#include "gui/views/charts.hpp"
#include "sim/parallel/pipeline_schedule.hpp"

namespace clustersim::gui {
namespace {

// A device's row: the compute stream from -0.4 to 0.12 about its centre, the communication
// stream below it from 0.18 to 0.4 (rows grow downwards).
constexpr double kComputeTop = -0.4, kComputeBottom = 0.12;
constexpr double kCommTop = 0.18, kCommBottom = 0.4;
constexpr const char* kKinds[] = {"F", "B", "W", "F&B", "optimizer", "DP communication"};
const QColor kColours[] = {QColor("#1f77b4"), QColor("#ff7f0e"), QColor("#2ca02c"),
                           QColor("#9467bd"), QColor("#8c564b"), QColor("#7f7f7f")};

QString kind_of(const parallel::ScheduleSlot& slot) {
  if (slot.overlapped) return "F&B";
  switch (slot.task.pass) {
    case parallel::Pass::forward:
      return "F";
    case parallel::Pass::backward:
    case parallel::Pass::backward_input:
      return "B";
    case parallel::Pass::backward_weight:
      return "W";
  }
  return "F";
}

}  // namespace

TimelineView::TimelineView(QWidget* parent)
    : View(parent), chart_(chart_view(this)), hover_(new QLabel(this)) {
  chart_->setRubberBand(QChartView::HorizontalRubberBand);  // drag to zoom; right-click undoes
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(chart_, 1);
  layout->addWidget(hover_);
  hover_->setText("Drag across the chart to zoom into a time range; right-click to zoom out.");
  show_run(nullptr);
}

const TimelineView::Bar* TimelineView::bar_at(double time_s, int device, bool communication) const {
  for (const Bar& bar : bars_) {
    if (bar.device == device && (bar.kind == "DP communication") == communication &&
        bar.start_s <= time_s && time_s <= bar.end_s) {
      return &bar;
    }
  }
  return nullptr;
}

void TimelineView::show_run(const std::shared_ptr<const RunOutput>& run) {
  run_ = run;
  bars_.clear();
  if (!run_) {
    replace_chart(chart_, titled_chart("Pipeline timeline (open and run an experiment)"));
    return;
  }
  const parallel::StepResult& step = run_->step;
  QChart* chart = titled_chart(QString("Pipeline timeline, %1 (%2, %3 micro-batches, step %4 s)")
                                   .arg(QString::fromStdString(run_->experiment.name))
                                   .arg(QString::fromStdString(std::string(
                                       config::to_string(run_->experiment.parallelism.schedule))))
                                   .arg(step.micro_batches)
                                   .arg(step.step_time_s, 0, 'f', 3));
  const parallel::PipelineSchedule& schedule = step.schedule;
  const double start = step.run.start.seconds();
  for (int device = 0; device < schedule.devices; ++device) {
    const auto d = static_cast<std::size_t>(device);
    for (std::size_t i = 0; i < schedule.order[d].size() && i < step.run.slots[d].size(); ++i) {
      const parallel::ScheduleSlot& slot = schedule.order[d][i];
      const parallel::SlotTiming& timing = step.run.slots[d][i];
      Bar bar{device, kind_of(slot), QString::fromStdString(parallel::describe(slot, device)),
              timing.start.seconds() - start, timing.end.seconds() - start};
      bars_.push_back(bar);
    }
  }
  // The data-parallel tail: reductions and gathers on the communication stream, the optimizer
  // (and any wait for a gather) on the compute stream.
  for (const parallel::StreamSpan& span : step.stream_spans) {
    bars_.push_back({span.device, span.communication ? "DP communication" : "optimizer",
                     QString::fromStdString(span.what), span.start_s, span.end_s});
  }
  const auto kind_index = [](const QString& kind) {
    return static_cast<std::size_t>(std::find(std::begin(kKinds), std::end(kKinds), kind) -
                                    std::begin(kKinds));
  };
  // By kind first, so that the legend lists F, B, W, F&B, DP tail.
  std::map<std::pair<std::size_t, int>, std::vector<const Bar*>> groups;
  for (const Bar& bar : bars_) groups[{kind_index(bar.kind), bar.device}].push_back(&bar);
  auto* axis_x = new QValueAxis;
  axis_x->setTitleText("seconds into the step");
  axis_x->setRange(0, std::max(1e-9, step.step_time_s));
  // One labelled row per device, device 0 on top.
  auto* axis_y = new QCategoryAxis;
  axis_y->setTitleText("pipeline device");
  axis_y->setRange(-0.5, schedule.devices - 0.5);
  axis_y->setReverse(true);
  axis_y->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
  const int step_rows = std::max(1, schedule.devices / 16);
  for (int device = 0; device < schedule.devices; device += step_rows) {
    axis_y->append(QString::number(device), device);
  }
  chart->addAxis(axis_x, Qt::AlignBottom);
  chart->addAxis(axis_y, Qt::AlignLeft);
  std::map<QString, bool> named;
  for (auto& [key, bars] : groups) {
    const auto& [k, device] = key;
    const QString kind = kKinds[k];
    std::sort(bars.begin(), bars.end(),
              [](const Bar* a, const Bar* b) { return a->start_s < b->start_s; });
    auto* upper = new QLineSeries;
    auto* lower = new QLineSeries;
    const bool communication = kind == "DP communication";
    const double low = device + (communication ? kCommBottom : kComputeBottom);
    const double high = device + (communication ? kCommTop : kComputeTop);
    for (const Bar* bar : bars) {
      upper->append(bar->start_s, low);
      upper->append(bar->start_s, high);
      upper->append(bar->end_s, high);
      upper->append(bar->end_s, low);
    }
    lower->append(0, low);
    lower->append(step.step_time_s, low);
    auto* area = new QAreaSeries(upper, lower);
    area->setColor(kColours[k]);
    area->setBorderColor(kColours[k].darker(130));
    area->setName(kind);
    chart->addSeries(area);
    area->attachAxis(axis_x);
    area->attachAxis(axis_y);
    // One legend entry per kind.
    const bool first = !named[kind];
    named[kind] = true;
    connect(area, &QAreaSeries::hovered, this,
            [this, device = device, communication](const QPointF& point, bool state) {
              if (!state) return;
              const Bar* bar = bar_at(point.x(), device, communication);
              if (bar != nullptr) {
                hover_->setText(QString("device %1: %2, %3 to %4 ms")
                                    .arg(bar->device)
                                    .arg(bar->detail)
                                    .arg(bar->start_s * 1e3, 0, 'f', 2)
                                    .arg(bar->end_s * 1e3, 0, 'f', 2));
              }
            });
    if (!first) {
      for (QLegendMarker* marker : chart->legend()->markers(area)) marker->setVisible(false);
    }
  }
  chart->legend()->setAlignment(Qt::AlignBottom);
  replace_chart(chart_, chart);
}

QString TimelineView::csv() const {
  QString out = "device,kind,slot,start_s,end_s\n";
  for (const Bar& bar : bars_) {
    out += QString("%1,%2,%3,%4,%5\n")
               .arg(bar.device)
               .arg(csv_field(bar.kind))
               .arg(csv_field(bar.detail))
               .arg(bar.start_s, 0, 'g', 10)
               .arg(bar.end_s, 0, 'g', 10);
  }
  return out;
}

}  // namespace clustersim::gui
