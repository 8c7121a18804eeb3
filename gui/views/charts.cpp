#include "gui/views/charts.hpp"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QCategoryAxis>
#include <QPainter>
#include <QStackedBarSeries>
#include <QValueAxis>
#include <algorithm>

#include "sim/report/chart.hpp"

namespace clustersim::gui {

QChart* titled_chart(const QString& title) {
  auto* chart = new QChart;
  chart->setTitle(title);
  chart->setAnimationOptions(QChart::NoAnimation);
  return chart;
}

QChart* stacked_bar_chart(const QString& title, const QStringList& categories,
                          const std::vector<BarSet>& sets, const QString& y_title) {
  auto* series = new QStackedBarSeries;
  std::vector<double> totals(static_cast<std::size_t>(categories.size()), 0.0);
  for (const BarSet& set : sets) {
    auto* bars = new QBarSet(set.name);
    for (std::size_t i = 0; i < set.values.size(); ++i) {
      bars->append(set.values[i]);
      if (i < totals.size()) totals[i] += set.values[i];
    }
    series->append(bars);
  }
  QChart* chart = titled_chart(title);
  if (categories.isEmpty()) {  // nothing to draw yet: the title says what to do
    delete series;
    return chart;
  }
  chart->addSeries(series);
  auto* axis_x = new QBarCategoryAxis;
  axis_x->append(categories);
  chart->addAxis(axis_x, Qt::AlignBottom);
  series->attachAxis(axis_x);
  const double top = totals.empty() ? 1.0 : *std::max_element(totals.begin(), totals.end());
  QValueAxis* axis_y = si_value_axis(y_title, 0.0, std::max(1e-9, top));
  chart->addAxis(axis_y, Qt::AlignLeft);
  series->attachAxis(axis_y);
  chart->legend()->setVisible(true);
  chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
}

QChart* grouped_bar_chart(const QString& title, const QStringList& categories,
                          const std::vector<BarSet>& sets, const QString& y_title,
                          const QString& x_title) {
  auto* series = new QBarSeries;
  double most = 0;
  for (const BarSet& set : sets) {
    auto* bars = new QBarSet(set.name);
    for (double value : set.values) {
      *bars << value;
      most = std::max(most, value);
    }
    series->append(bars);
  }
  QChart* chart = titled_chart(title);
  chart->addSeries(series);
  auto* axis_x = new QBarCategoryAxis;
  axis_x->append(categories);
  axis_x->setTitleText(x_title);
  chart->addAxis(axis_x, Qt::AlignBottom);
  series->attachAxis(axis_x);
  QValueAxis* axis_y = si_value_axis(y_title, 0.0, std::max(most, 1e-9));
  chart->addAxis(axis_y, Qt::AlignLeft);
  series->attachAxis(axis_y);
  chart->legend()->setVisible(sets.size() > 1);
  chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
}

QValueAxis* si_value_axis(const QString& title, double low, double high) {
  auto* axis = new QCategoryAxis;
  axis->setTitleText(title);
  if (!(low <= high)) {  // no values (an empty range): an axis from 0 to 1
    low = 0;
    high = 1;
  }
  std::vector<double> ticks = report::nice_ticks(low, high);
  // A highest value on the last tick would touch the plot's edge, as if cut: one step more.
  if (ticks.size() > 1 && high > low && high >= ticks.back()) {
    ticks.push_back(ticks.back() + (ticks.back() - ticks[ticks.size() - 2]));
  }
  axis->setRange(ticks.front(), ticks.back());
  axis->setStartValue(ticks.front());
  axis->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
  for (const double tick : ticks) {
    axis->append(QString::fromStdString(report::tick_label(tick)), tick);
  }
  return axis;
}

QChartView* chart_view(QWidget* parent) {
  auto* view = new QChartView(parent);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumSize(420, 320);
  return view;
}

void replace_chart(QChartView* view, QChart* chart) {
  QChart* old = view->chart();
  view->setChart(chart);
  if (old != chart) delete old;
}

QString csv_field(const QString& text) {
  if (!text.contains(',') && !text.contains('"')) return text;
  QString quoted = text;
  quoted.replace("\"", "\"\"");
  return "\"" + quoted + "\"";
}

}  // namespace clustersim::gui
