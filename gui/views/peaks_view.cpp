#include "gui/views/peaks_view.hpp"

#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QVBoxLayout>
#include <QValueAxis>
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
  auto* bf16 = new QBarSet("BF16 dense");
  auto* fp8 = new QBarSet("FP8 dense");
  QStringList categories;
  for (const config::HardwareProfile& profile : profiles_) {
    categories << QString::fromStdString(profile.name);
    bf16->append(peak_tflops(profile, Dtype::bf16));
    fp8->append(peak_tflops(profile, Dtype::fp8));
  }
  auto* series = new QBarSeries;
  series->append(bf16);
  series->append(fp8);
  QChart* chart = titled_chart("Dense tensor-core peak per GPU");
  chart->addSeries(series);
  auto* axis_x = new QBarCategoryAxis;
  axis_x->append(categories);
  chart->addAxis(axis_x, Qt::AlignBottom);
  series->attachAxis(axis_x);
  auto* axis_y = new QValueAxis;
  axis_y->setTitleText("TFLOP/s");
  axis_y->setLabelFormat("%.0f");
  axis_y->setMin(0.0);
  chart->addAxis(axis_y, Qt::AlignLeft);
  series->attachAxis(axis_y);
  axis_y->applyNiceNumbers();
  chart->legend()->setVisible(true);
  chart->legend()->setAlignment(Qt::AlignBottom);
  replace_chart(chart_, chart);
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
