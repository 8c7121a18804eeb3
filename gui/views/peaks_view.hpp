#pragma once
// Hardware peaks: the dense BF16 and FP8 tensor-core peaks of hardware profiles, side by side.

#include <QChartView>
#include <vector>

#include "gui/views/view.hpp"
#include "sim/config/hardware_profile.hpp"

namespace clustersim::gui {

class PeaksView : public View {
 public:
  explicit PeaksView(QWidget* parent = nullptr);

  void show_profiles(const std::vector<config::HardwareProfile>& profiles);

  [[nodiscard]] QString title() const override { return "Hardware peaks"; }
  [[nodiscard]] QString csv() const override;
  [[nodiscard]] bool has_data() const override { return !profiles_.empty(); }

 private:
  std::vector<config::HardwareProfile> profiles_;
  QChartView* chart_;
};

}  // namespace clustersim::gui
