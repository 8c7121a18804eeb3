#include "gui/views/charts.hpp"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QPainter>
#include <QStackedBarSeries>
#include <QValueAxis>
#include <algorithm>

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
  auto* axis_y = new QValueAxis;
  axis_y->setTitleText(y_title);
  axis_y->setMin(0.0);
  const double top = totals.empty() ? 1.0 : *std::max_element(totals.begin(), totals.end());
  axis_y->setMax(std::max(1e-9, top));
  axis_y->applyNiceNumbers();
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
  auto* axis_y = new QValueAxis;
  axis_y->setTitleText(y_title);
  axis_y->setRange(0, std::max(most, 1e-9));
  axis_y->applyNiceNumbers();
  axis_y->setLabelFormat("%g");
  chart->addAxis(axis_y, Qt::AlignLeft);
  series->attachAxis(axis_y);
  chart->legend()->setVisible(sets.size() > 1);
  chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
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
