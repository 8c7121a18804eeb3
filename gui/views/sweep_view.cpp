#include "gui/views/sweep_view.hpp"

#include <QCategoryAxis>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineSeries>
#include <QPen>
#include <QScatterSeries>
#include <QSignalBlocker>
#include <QVBoxLayout>
#include <QValueAxis>
#include <algorithm>
#include <cmath>
#include <limits>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr const char* kNoSeries = "(none)";

QChart* results_chart(const report::ChartData& data) {
  const QString x_title = QString::fromStdString(data.x_axis());
  const QString y_title = QString::fromStdString(data.y_axis());
  QChart* chart = titled_chart(y_title + " against " + x_title);
  // The axes' ranges: y from 0 (or below, for negative values), x over the values.
  double x_low = std::numeric_limits<double>::infinity();
  double x_high = -x_low;
  double y_low = 0;
  double y_high = -x_low;
  for (const report::ChartSeries& s : data.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      x_low = std::min(x_low, s.x[i]);
      x_high = std::max(x_high, s.x[i]);
      y_low = std::min(y_low, s.y[i]);
      y_high = std::max(y_high, s.y[i]);
    }
  }
  QValueAxis* axis_y = si_value_axis(y_title, y_low, y_high);
  chart->addAxis(axis_y, Qt::AlignLeft);
  QAbstractAxis* axis_x = nullptr;
  if (data.categories.empty()) {
    axis_x = si_value_axis(x_title, x_low, x_high);
  } else {
    // Text x values: one labelled position each, points only (no zigzag between categories).
    auto* categories = new QCategoryAxis;
    categories->setTitleText(x_title);
    categories->setMin(-0.5);
    categories->setMax(static_cast<double>(data.categories.size()) - 0.5);
    categories->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    for (std::size_t i = 0; i < data.categories.size(); ++i) {
      categories->append(QString::fromStdString(data.categories[i]), static_cast<double>(i));
    }
    axis_x = categories;
  }
  chart->addAxis(axis_x, Qt::AlignBottom);
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
    for (std::size_t i = 0; i < s.x.size(); ++i) line->append(s.x[i], s.y[i]);
    chart->addSeries(line);
    line->attachAxis(axis_x);
    line->attachAxis(axis_y);
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
      pareto_(new QCheckBox("Pareto front", this)),
      chart_(chart_view(this)) {
  auto* controls = new QHBoxLayout;
  for (auto [label, box] : {std::pair{"x", x_}, std::pair{"y", y_}, std::pair{"colour", series_}}) {
    controls->addWidget(new QLabel(label, this));
    box->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    controls->addWidget(box, 1);
    connect(box, &QComboBox::currentTextChanged, this, [this] { redraw(); });
  }
  connect(pareto_, &QCheckBox::toggled, this, [this] { redraw(); });
  controls->addWidget(pareto_);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(controls);
  layout->addWidget(chart_, 1);
  replace_chart(chart_, titled_chart("Open a sweep's results.csv"));
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

void SweepView::show_pareto(bool shown) {
  pareto_->setChecked(shown);
}

std::optional<QPointF> SweepView::position(std::size_t row) const {
  if (!table_ || !data_) return std::nullopt;
  const auto column = [&](const std::string& name) -> std::optional<std::size_t> {
    for (std::size_t i = 0; i < table_->header.size(); ++i) {
      if (table_->header[i] == name) return i;
    }
    return std::nullopt;
  };
  const auto x_column = column(data_->x_label);
  const auto y_column = column(data_->y_label);
  if (!x_column || !y_column || row >= table_->rows.size()) return std::nullopt;
  const std::vector<std::string>& fields = table_->rows[row];
  if (*x_column >= fields.size() || *y_column >= fields.size()) return std::nullopt;
  bool y_ok = false;
  const double y = QString::fromStdString(fields[*y_column]).toDouble(&y_ok);
  if (!y_ok) return std::nullopt;
  if (!data_->categories.empty()) {
    const auto it =
        std::find(data_->categories.begin(), data_->categories.end(), fields[*x_column]);
    if (it == data_->categories.end()) return std::nullopt;
    return QPointF(static_cast<double>(it - data_->categories.begin()), y);
  }
  bool x_ok = false;
  const double x = QString::fromStdString(fields[*x_column]).toDouble(&x_ok);
  if (!x_ok) return std::nullopt;
  return QPointF(x, y);
}

std::vector<std::size_t> SweepView::pareto_rows() const {
  std::vector<std::size_t> front;
  if (!table_ || !data_ || !data_->categories.empty()) return front;
  std::vector<std::pair<QPointF, std::size_t>> points;
  for (std::size_t row = 0; row < table_->rows.size(); ++row) {
    if (const auto p = position(row)) points.emplace_back(*p, row);
  }
  std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
    return a.first.x() != b.first.x() ? a.first.x() < b.first.x() : a.first.y() < b.first.y();
  });
  // A point is on the front when no other is at least as good on both axes and better on one
  // (points at the same place are all on it). Tables are small: every pair is compared.
  for (const auto& [p, row] : points) {
    const bool dominated = std::any_of(points.begin(), points.end(), [&](const auto& other) {
      const QPointF q = other.first;
      return q.x() <= p.x() && q.y() <= p.y() && (q.x() < p.x() || q.y() < p.y());
    });
    if (!dominated) front.push_back(row);
  }
  return front;
}

std::optional<std::size_t> SweepView::row_at(QPointF point) const {
  if (!table_) return std::nullopt;
  const QRectF area = chart_->chart()->plotArea();
  std::optional<std::size_t> nearest;
  double best = std::numeric_limits<double>::infinity();
  for (std::size_t row = 0; row < table_->rows.size(); ++row) {
    const auto p = position(row);
    if (!p) continue;
    // Compared on the screen, so that both axes count alike.
    const QPointF a = chart_->chart()->mapToPosition(*p);
    const QPointF b = chart_->chart()->mapToPosition(point);
    const double distance = area.isEmpty() ? std::hypot(p->x() - point.x(), p->y() - point.y())
                                           : std::hypot(a.x() - b.x(), a.y() - b.y());
    if (distance < best) {
      best = distance;
      nearest = row;
    }
  }
  return nearest;
}

std::size_t SweepView::point_of(std::size_t row) const {
  if (table_ && !table_->header.empty() && table_->header.front() == "point" &&
      row < table_->rows.size() && !table_->rows[row].empty()) {
    bool ok = false;
    const auto point = QString::fromStdString(table_->rows[row].front()).toULongLong(&ok);
    if (ok) return static_cast<std::size_t>(point);
  }
  return row;
}

void SweepView::redraw() {
  if (!table_) return;
  const QString series = series_->currentText();
  try {
    data_ = report::chart_data(
        *table_, x_->currentText().toStdString(), y_->currentText().toStdString(),
        series == kNoSeries || series.isEmpty() ? std::nullopt
                                                : std::optional<std::string>(series.toStdString()));
  } catch (const report::ChartError& error) {
    data_.reset();
    replace_chart(chart_, titled_chart(QString::fromStdString(error.what())));
    return;
  }
  QChart* chart = results_chart(*data_);
  for (QAbstractSeries* drawn : chart->series()) {
    if (auto* xy = qobject_cast<QXYSeries*>(drawn)) {
      connect(xy, &QXYSeries::clicked, this, [this](const QPointF& point) {
        if (const auto row = row_at(point); row && on_point) on_point(*row);
      });
    }
  }
  if (pareto_->isChecked()) {
    auto* front = new QLineSeries;
    front->setName("Pareto front (lower is better on both axes)");
    QPen pen(Qt::black);
    pen.setStyle(Qt::DashLine);
    pen.setWidth(2);
    front->setPen(pen);
    for (const std::size_t row : pareto_rows()) front->append(*position(row));
    chart->addSeries(front);
    for (QAbstractAxis* axis : chart->axes()) front->attachAxis(axis);
  }
  replace_chart(chart_, chart);
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
