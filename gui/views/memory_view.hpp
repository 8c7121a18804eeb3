#pragma once
// Memory per GPU: for each pipeline rank of a run, its parameters, gradients, optimizer state,
// activations and the rest (communication buffers, framework) as stacked bars, against a line at
// the GPU's HBM capacity.

#include <QChartView>
#include <memory>

#include "gui/run_model.hpp"
#include "gui/views/view.hpp"

namespace clustersim::gui {

class MemoryView : public View {
 public:
  explicit MemoryView(QWidget* parent = nullptr);

  void show_run(const std::shared_ptr<const RunOutput>& run);

  [[nodiscard]] QString title() const override { return "Memory per GPU"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return run_ != nullptr; }
  [[nodiscard]] QChartView* chart() const { return chart_; }

 private:
  std::shared_ptr<const RunOutput> run_;
  QChartView* chart_;
};

}  // namespace clustersim::gui
