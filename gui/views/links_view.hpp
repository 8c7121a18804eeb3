#pragma once
// Link utilisation: the busiest links of a run (mean utilisation over the step, and peak), and a
// histogram per link tier (NVLink, PCIe, leaf, spine, ...) of how busy its links were.

#include <QChartView>
#include <memory>

#include "gui/run_model.hpp"
#include "gui/views/view.hpp"

namespace clustersim::gui {

class LinksView : public View {
 public:
  static constexpr int kBusiest = 12;
  static constexpr int kBins = 10;  // of 10 % utilisation each

  explicit LinksView(QWidget* parent = nullptr);

  void show_run(const std::shared_ptr<const RunOutput>& run);

  [[nodiscard]] QString title() const override { return "Link utilisation"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return run_ != nullptr && run_->step.links; }
  [[nodiscard]] QChartView* busiest_chart() const { return busiest_; }
  [[nodiscard]] QChartView* histogram_chart() const { return histogram_; }

 private:
  std::shared_ptr<const RunOutput> run_;
  QChartView* busiest_;
  QChartView* histogram_;
};

}  // namespace clustersim::gui
