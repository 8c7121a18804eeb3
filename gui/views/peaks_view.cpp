#include "gui/views/peaks_view.hpp"

#include <QVBoxLayout>
#include <optional>

#include "gui/views/charts.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"

namespace clustersim::gui {
namespace {

constexpr double kFlopPerTeraflop = 1e12;

// Dense peak in TFLOP/s; 0 where the profile gives none (FP8 before Hopper).
double peak_tflops(const config::HardwareProfile& profile, Dtype dtype) {
  const std::optional<FlopRate> peak = profile.gpu.peak(dtype);
  return peak ? peak->flop_per_s / kFlopPerTeraflop : 0.0;
}

}  // namespace

PeaksView::PeaksView(QWidget* parent) : View(parent), chart_(chart_view(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(chart_);
  show_profiles({});
}

void PeaksView::show_profiles(const std::vector<config::HardwareProfile>& profiles) {
  profiles_ = profiles;
  if (profiles_.empty()) {
    replace_chart(chart_, titled_chart("Dense tensor-core peak per GPU (open hardware profiles)"));
    return;
  }
  QStringList categories;
  BarSet bf16{"BF16 dense", {}}, fp8{"FP8 dense", {}};
  for (const config::HardwareProfile& profile : profiles_) {
    categories << QString::fromStdString(profile.name);
    bf16.values.push_back(peak_tflops(profile, Dtype::bf16));
    fp8.values.push_back(peak_tflops(profile, Dtype::fp8));
  }
  replace_chart(chart_, grouped_bar_chart("Dense tensor-core peak per GPU", categories, {bf16, fp8},
                                          "TFLOP/s"));
}

QString PeaksView::csv() const {
  QString out = "profile,bf16_dense_tflops,fp8_dense_tflops\n";
  for (const config::HardwareProfile& profile : profiles_) {
    out += QString("%1,%2,%3\n")
               .arg(csv_field(QString::fromStdString(profile.name)))
               .arg(peak_tflops(profile, Dtype::bf16), 0, 'g', 8)
               .arg(peak_tflops(profile, Dtype::fp8), 0, 'g', 8);
  }
  return out;
}

}  // namespace clustersim::gui
