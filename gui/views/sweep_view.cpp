#include "gui/views/sweep_view.hpp"

#include <QCategoryAxis>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QScatterSeries>
#include <QSignalBlocker>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <limits>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr const char* kNoSeries = "(none)";

QChart* results_chart(const report::ChartData& data) {
  auto* chart = new QChart;
  chart->setTitle(QString::fromStdString(data.y_label + " against " + data.x_label));
  chart->setAnimationOptions(QChart::NoAnimation);
  auto* axis_y = new QValueAxis;
  axis_y->setTitleText(QString::fromStdString(data.y_label));
  chart->addAxis(axis_y, Qt::AlignLeft);
  QAbstractAxis* axis_x = nullptr;
  if (data.categories.empty()) {
    auto* values = new QValueAxis;
    values->setTitleText(QString::fromStdString(data.x_label));
    axis_x = values;
  } else {
    // Text x values: one labelled position each, points only (no zigzag between categories).
    auto* categories = new QCategoryAxis;
    categories->setTitleText(QString::fromStdString(data.x_label));
    categories->setMin(-0.5);
    categories->setMax(static_cast<double>(data.categories.size()) - 0.5);
    categories->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    for (std::size_t i = 0; i < data.categories.size(); ++i) {
      categories->append(QString::fromStdString(data.categories[i]), static_cast<double>(i));
    }
    axis_x = categories;
  }
  chart->addAxis(axis_x, Qt::AlignBottom);
  double low = std::numeric_limits<double>::infinity();
  double high = -low;
  for (const report::ChartSeries& s : data.series) {
    // Points joined by lines along a numeric x; points alone over categories, where a line
    // would zigzag between rows that share a category.
    QXYSeries* line = nullptr;
    if (data.categories.empty()) {
      auto* joined = new QLineSeries;
      joined->setPointsVisible(true);
      line = joined;
    } else {
      auto* points = new QScatterSeries;
      points->setMarkerSize(9);
      line = points;
    }
    line->setName(QString::fromStdString(
        data.series_label.empty() ? s.name : data.series_label + " = " + s.name));
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      line->append(s.x[i], s.y[i]);
      low = std::min(low, s.y[i]);
      high = std::max(high, s.y[i]);
    }
    chart->addSeries(line);
    line->attachAxis(axis_x);
    line->attachAxis(axis_y);
  }
  if (low <= high) {
    axis_y->setRange(std::min(0.0, low), high);
    axis_y->applyNiceNumbers();
  }
  chart->legend()->setVisible(true);
  chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
}

}  // namespace

SweepView::SweepView(QWidget* parent)
    : View(parent),
      x_(new QComboBox(this)),
      y_(new QComboBox(this)),
      series_(new QComboBox(this)),
      chart_(chart_view(this)) {
  auto* controls = new QHBoxLayout;
  for (auto [label, box] : {std::pair{"x", x_}, std::pair{"y", y_}, std::pair{"colour", series_}}) {
    controls->addWidget(new QLabel(label, this));
    box->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    controls->addWidget(box, 1);
    connect(box, &QComboBox::currentTextChanged, this, [this] { redraw(); });
  }
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(chart_, 1);
  chart_->setChart(new QChart);
  chart_->chart()->setTitle("Open a sweep's results.csv");
}

void SweepView::load(const QString& path, const QString& x, const QString& y,
                     const QString& series) {
  report::CsvTable table = report::read_csv(path.toStdString());
  if (table.rows.empty()) {
    throw report::ChartError(path.toStdString() + ": the results table has no rows");
  }
  table_ = std::move(table);
  QStringList columns;
  for (const std::string& column : table_->header) columns << QString::fromStdString(column);
  const QSignalBlocker block_x(x_), block_y(y_), block_series(series_);
  x_->clear();
  y_->clear();
  series_->clear();
  x_->addItems(columns);
  y_->addItems(columns);
  series_->addItem(kNoSeries);
  series_->addItems(columns);
  // The first axis of the sweep (the column after "point") unless told.
  const QString first_axis =
      columns.size() > 1 && columns.front() == "point" ? columns[1] : columns.front();
  x_->setCurrentText(x.isEmpty() ? first_axis : x);
  y_->setCurrentText(!y.isEmpty()                      ? y
                     : columns.contains("step_time_s") ? QString("step_time_s")
                                                       : columns.back());
  series_->setCurrentText(series.isEmpty() ? QString(kNoSeries) : series);
  redraw();
}

void SweepView::choose(const QString& x, const QString& y, const QString& series) {
  const QSignalBlocker block_x(x_), block_y(y_), block_series(series_);
  x_->setCurrentText(x);
  y_->setCurrentText(y);
  series_->setCurrentText(series.isEmpty() ? QString(kNoSeries) : series);
  redraw();
}

void SweepView::redraw() {
  if (!table_) return;
  const QString series = series_->currentText();
  try {
    data_ = report::chart_data(
        *table_, x_->currentText().toStdString(), y_->currentText().toStdString(),
        series == kNoSeries || series.isEmpty() ? std::nullopt
                                                : std::optional<std::string>(series.toStdString()));
    chart_->setChart(results_chart(*data_));
  } catch (const report::ChartError& error) {
    data_.reset();
    auto* chart = new QChart;
    chart->setTitle(QString::fromStdString(error.what()));
    chart_->setChart(chart);
  }
}

QString SweepView::csv() const {
  if (!data_) return "series,x,y\n";
  QString out = QString("%1,%2,%3\n")
                    .arg(csv_field(QString::fromStdString(
                        data_->series_label.empty() ? "series" : data_->series_label)))
                    .arg(csv_field(QString::fromStdString(data_->x_label)))
                    .arg(csv_field(QString::fromStdString(data_->y_label)));
  for (const report::ChartSeries& s : data_->series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const QString x =
          data_->categories.empty()
              ? QString::number(s.x[i], 'g', 10)
              : QString::fromStdString(data_->categories[static_cast<std::size_t>(s.x[i])]);
      out += QString("%1,%2,%3\n")
                 .arg(csv_field(QString::fromStdString(s.name)))
                 .arg(csv_field(x))
                 .arg(s.y[i], 0, 'g', 10);
    }
  }
  return out;
}

}  // namespace clustersim::gui
