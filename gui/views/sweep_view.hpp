#pragma once
// Sweep explorer: a sweep's results table (results.csv) with x, y and colour chosen from its
// columns: one line of points per value of the colour column, as `clustersim plot` draws them.

#include <QChartView>
#include <QComboBox>
#include <QString>
#include <optional>

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

 private:
  void redraw();

  std::optional<report::CsvTable> table_;
  std::optional<report::ChartData> data_;
  QComboBox* x_;
  QComboBox* y_;
  QComboBox* series_;
  QChartView* chart_;
};

}  // namespace clustersim::gui
