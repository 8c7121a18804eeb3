#pragma once
// Sweep explorer: a sweep's results table (results.csv) with x, y and colour chosen from its
// columns: one line of points per value of the colour column, as `clustersim plot` draws them;
// the Pareto front of the points (lower x and lower y both better) on request; a click on a point
// names its row, which the window opens as a run when it knows the sweep.

#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QPointF>
#include <QString>
#include <functional>
#include <optional>
#include <vector>

#include "gui/views/view.hpp"
#include "sim/report/chart.hpp"

namespace clustersim::gui {

class SweepView : public View {
 public:
  explicit SweepView(QWidget* parent = nullptr);

  // Loads a results table; throws report::ChartError (with the reason) when it cannot be read
  // or has no rows. Picks the first numeric column after the axes as y when y is not given.
  void load(const QString& path, const QString& x = {}, const QString& y = {},
            const QString& series = {});
  // Redraws with these columns (empty series: one line).
  void choose(const QString& x, const QString& y, const QString& series);

  [[nodiscard]] QString title() const override { return "Sweep explorer"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return table_.has_value(); }
  [[nodiscard]] QChartView* chart() const { return chart_; }
  [[nodiscard]] const std::optional<report::ChartData>& data() const { return data_; }
  void show_pareto(bool shown);
  // The rows on the Pareto front of the chosen x and y (numeric x only), by x.
  [[nodiscard]] std::vector<std::size_t> pareto_rows() const;
  // Where a table row is drawn: its x (a category's index when x is text) and y; nothing when
  // either is not a value.
  [[nodiscard]] std::optional<QPointF> position(std::size_t row) const;
  [[nodiscard]] std::size_t rows() const { return table_ ? table_->rows.size() : 0; }
  // The table row drawn nearest to a point of the chart (nothing without a table).
  [[nodiscard]] std::optional<std::size_t> row_at(QPointF point) const;
  // The sweep point (the "point" column, else the row's index) of a table row.
  [[nodiscard]] std::size_t point_of(std::size_t row) const;
  // Called with the table row of a clicked point.
  std::function<void(std::size_t row)> on_point;

 private:
  void redraw();

  std::optional<report::CsvTable> table_;
  std::optional<report::ChartData> data_;
  QComboBox* x_;
  QComboBox* y_;
  QComboBox* series_;
  QCheckBox* pareto_;
  QChartView* chart_;
};

}  // namespace clustersim::gui
