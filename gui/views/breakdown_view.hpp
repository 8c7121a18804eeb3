#pragma once
// Step breakdown: the step's phases (1F, bubble, 1B, 1W, 1F1B, opt; the mean pipeline device)
// as stacked bars, one bar per run, with the published phases beside a run that has them; and
// the exposed communication by kind (EP, PP, DP, TP, CP) per run.

#include <QChartView>
#include <memory>
#include <vector>

#include "gui/run_model.hpp"
#include "gui/views/view.hpp"

namespace clustersim::gui {

class BreakdownView : public View {
 public:
  explicit BreakdownView(QWidget* parent = nullptr);

  // Shows these runs side by side (the latest last).
  void show_runs(const std::vector<std::shared_ptr<const RunOutput>>& runs);

  [[nodiscard]] QString title() const override { return "Step breakdown"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return !rows_.empty(); }

  struct Row {
    QString label;      // the run, or "published: ..." for a run's published figures
    double phases[6];   // 1F, bubble, 1B, 1W, 1F1B, opt (seconds)
    double exposed[5];  // ep, pp, dp, tp, cp (seconds per device); NaN for published rows
  };
  [[nodiscard]] const std::vector<Row>& rows() const { return rows_; }
  [[nodiscard]] QChartView* phases_chart() const { return phases_; }
  [[nodiscard]] QChartView* communication_chart() const { return communication_; }

 private:
  std::vector<Row> rows_;
  QChartView* phases_;
  QChartView* communication_;
};

}  // namespace clustersim::gui
