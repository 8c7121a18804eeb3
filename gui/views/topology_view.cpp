#include "gui/views/topology_view.hpp"

#include <QGridLayout>
#include <QValueAxis>
#include <algorithm>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr double kThousand = 1e3;
constexpr double kGigabyte = 1e9;

}  // namespace

TopologyView::TopologyView(QWidget* parent) : View(parent) {
  auto* layout = new QGridLayout(this);
  for (std::size_t i = 0; i < charts_.size(); ++i) {
    charts_[i] = chart_view(this);
    layout->addWidget(charts_[i], static_cast<int>(i / 2), static_cast<int>(i % 2));
  }
  show_run(nullptr);
}

void TopologyView::show_run(const std::shared_ptr<const RunOutput>& run) {
  run_ = run;
  if (!has_data()) {
    for (QChartView* view : charts_) {
      replace_chart(view,
                    titled_chart(view == charts_[0] ? "Choose networks and press Compare" : ""));
    }
    return;
  }
  QStringList networks;
  BarSet step{"step", {}}, cost{"network", {}}, switches{"switches", {}}, links{"switch links", {}},
      bisection{"bisection", {}};
  for (const NetworkRow& row : run_->networks) {
    networks << row.card;
    const double endpoints = std::max<double>(1, static_cast<double>(row.stats.endpoints));
    step.values.push_back(row.step_time_s.value_or(0));
    cost.values.push_back(row.network_usd ? *row.network_usd / endpoints / kThousand : 0);
    switches.values.push_back(static_cast<double>(row.stats.switches));
    links.values.push_back(static_cast<double>(row.stats.switch_links));
    bisection.values.push_back(
        row.stats.bisection ? row.stats.bisection->bytes_per_s / endpoints / kGigabyte : 0);
  }
  const int gpus = run_->step.gpus;
  replace_chart(charts_[0],
                grouped_bar_chart(QString("Step time of %1<br>on %2 GPUs")
                                      .arg(QString::fromStdString(run_->experiment.name))
                                      .arg(gpus),
                                  networks, {step}, "seconds per step"));
  replace_chart(
      charts_[1],
      grouped_bar_chart(
          QString("Network cost per endpoint<br>(%1 prices)")
              .arg(QString::fromStdString(config::network_cost_profile(run_->experiment.hardware))),
          networks, {cost}, "thousand $ per GPU"));
  replace_chart(charts_[2], grouped_bar_chart("Switches and switch links,<br>sized for the cluster",
                                              networks, {switches, links}, "count"));
  replace_chart(charts_[3], grouped_bar_chart("Bisection per endpoint<br>(0: too large to cut)",
                                              networks, {bisection}, "GB/s per GPU"));
}

QString TopologyView::csv() const {
  QString out =
      "network,endpoints,switches,switch_links,endpoint_links,bisection_Bps,network_usd,"
      "step_time_s,error\n";
  if (!run_) return out;
  for (const NetworkRow& row : run_->networks) {
    out += QString("%1,%2,%3,%4,%5,%6,%7,%8,%9\n")
               .arg(csv_field(row.card))
               .arg(row.stats.endpoints)
               .arg(row.stats.switches)
               .arg(row.stats.switch_links)
               .arg(row.stats.endpoint_links)
               .arg(row.stats.bisection ? QString::number(row.stats.bisection->bytes_per_s, 'g', 10)
                                        : QString())
               .arg(row.network_usd ? QString::number(*row.network_usd, 'g', 10) : QString())
               .arg(row.step_time_s ? QString::number(*row.step_time_s, 'g', 10) : QString())
               .arg(csv_field(row.error));
  }
  return out;
}

}  // namespace clustersim::gui
