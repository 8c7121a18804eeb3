#pragma once
// Pipeline timeline: a Gantt chart of a run's step, one row per pipeline device with its two
// streams: on the compute stream each slot of the schedule, coloured by what it runs (F, B, W,
// F&B), and the optimizer; below it, the communication stream's gradient reductions and parameter
// gathers. Drag to zoom into a time range, right-click to zoom out; hovering a bar names it.

#include <QChartView>
#include <QLabel>
#include <memory>
#include <vector>

#include "gui/run_model.hpp"
#include "gui/views/view.hpp"

namespace clustersim::gui {

class TimelineView : public View {
 public:
  explicit TimelineView(QWidget* parent = nullptr);

  void show_run(const std::shared_ptr<const RunOutput>& run);

  [[nodiscard]] QString title() const override { return "Pipeline timeline"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return run_ != nullptr; }

  struct Bar {
    int device = 0;
    QString kind;    // "F", "B", "W", "F&B", "optimizer", "DP communication"
    QString detail;  // "F mb 3 chunk 0"
    double start_s = 0;
    double end_s = 0;
  };
  [[nodiscard]] const std::vector<Bar>& bars() const { return bars_; }
  [[nodiscard]] QChartView* chart() const { return chart_; }
  // The bar under (time, device) on one stream, for hover details; nullptr when none.
  [[nodiscard]] const Bar* bar_at(double time_s, int device, bool communication = false) const;

 private:
  std::shared_ptr<const RunOutput> run_;
  std::vector<Bar> bars_;
  QChartView* chart_;
  QLabel* hover_;
};

}  // namespace clustersim::gui
