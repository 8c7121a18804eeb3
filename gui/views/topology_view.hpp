#pragma once
// Topology comparison: the run's workload on each network chosen, every network sized for the
// cluster, side by side: the step time it gives, its cost per endpoint, its switches and links,
// and its bisection per endpoint.

#include <QChartView>
#include <array>
#include <memory>

#include "gui/run_model.hpp"
#include "gui/views/view.hpp"

namespace clustersim::gui {

class TopologyView : public View {
 public:
  explicit TopologyView(QWidget* parent = nullptr);

  void show_run(const std::shared_ptr<const RunOutput>& run);

  [[nodiscard]] QString title() const override { return "Topology comparison"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override {
    return run_ != nullptr && !run_->networks.empty();
  }
  // The charts: step time, network cost per endpoint, switches and links, bisection per endpoint.
  [[nodiscard]] QChartView* chart(std::size_t i) const { return charts_.at(i); }

 private:
  std::shared_ptr<const RunOutput> run_;
  std::array<QChartView*, 4> charts_{};
};

}  // namespace clustersim::gui
