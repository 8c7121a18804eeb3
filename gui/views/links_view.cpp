#include "gui/views/links_view.hpp"

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QHBoxLayout>
#include <QHorizontalBarSeries>
#include <QValueAxis>
#include <algorithm>
#include <vector>

#include "gui/views/charts.hpp"

namespace clustersim::gui {
namespace {

constexpr double kPercent = 100;

std::vector<const parallel::LinkRow*> busiest(const parallel::StepLinks& links, int count) {
  std::vector<const parallel::LinkRow*> rows;
  for (const parallel::LinkRow& row : links.rows) {
    if (row.use.bytes > 0) rows.push_back(&row);
  }
  std::sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
    return a->use.mean_utilization != b->use.mean_utilization
               ? a->use.mean_utilization > b->use.mean_utilization
               : a->link < b->link;
  });
  if (rows.size() > static_cast<std::size_t>(count)) rows.resize(static_cast<std::size_t>(count));
  return rows;
}

QString tier_name(fabric::LinkTier tier) {
  return QString::fromStdString(std::string(fabric::to_string(tier)));
}

}  // namespace

LinksView::LinksView(QWidget* parent)
    : View(parent), busiest_(chart_view(this)), histogram_(chart_view(this)) {
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(busiest_, 3);
  layout->addWidget(histogram_, 2);
  show_run(nullptr);
}

void LinksView::show_run(const std::shared_ptr<const RunOutput>& run) {
  run_ = run;
  if (!has_data()) {
    replace_chart(busiest_, titled_chart("Busiest links (open and run an experiment)"));
    replace_chart(histogram_, titled_chart("Links per utilisation bin and tier"));
    return;
  }
  const parallel::StepLinks& links = *run_->step.links;
  // The busiest links, the busiest on top.
  const std::vector<const parallel::LinkRow*> top = busiest(links, kBusiest);
  auto* mean = new QBarSet("mean over the step");
  auto* peak = new QBarSet("peak");
  QStringList names;
  for (auto it = top.rbegin(); it != top.rend(); ++it) {
    names << QString("%1 > %2").arg(QString::fromStdString((*it)->from),
                                    QString::fromStdString((*it)->to));
    *mean << (*it)->use.mean_utilization * kPercent;
    *peak << (*it)->use.peak_utilization * kPercent;
  }
  auto* bars = new QHorizontalBarSeries;
  bars->append(mean);
  bars->append(peak);
  QChart* chart = titled_chart(QString("The %1 busiest links<br>%2")
                                   .arg(top.size())
                                   .arg(QString::fromStdString(run_->experiment.name)));
  chart->addSeries(bars);
  auto* axis_names = new QBarCategoryAxis;
  axis_names->append(names);
  chart->addAxis(axis_names, Qt::AlignLeft);
  bars->attachAxis(axis_names);
  auto* axis_use = new QValueAxis;
  axis_use->setRange(0, kPercent);
  axis_use->setTitleText("utilisation (%)");
  axis_use->setLabelFormat("%.0f");
  chart->addAxis(axis_use, Qt::AlignBottom);
  bars->attachAxis(axis_use);
  chart->legend()->setAlignment(Qt::AlignBottom);
  replace_chart(busiest_, chart);

  // Per tier: how many of its links fall in each 10 % bin of mean utilisation.
  QStringList bins;
  for (int b = 0; b < kBins; ++b) bins << QString::number(b * 100 / kBins);
  std::vector<BarSet> sets;
  for (const parallel::TierUse& tier : links.tiers) {
    BarSet set{tier_name(tier.tier), std::vector<double>(kBins, 0.0)};
    for (const parallel::LinkRow& row : links.rows) {
      if (row.tier != tier.tier) continue;
      const int bin = std::clamp(static_cast<int>(row.use.mean_utilization * kBins), 0, kBins - 1);
      set.values[static_cast<std::size_t>(bin)] += 1;
    }
    sets.push_back(set);
  }
  replace_chart(histogram_, grouped_bar_chart(
                                "Links per utilisation bin, by tier<br>(mean over the step)", bins,
                                sets, "directed links", "mean utilisation (%), bins of 10"));
}

QString LinksView::csv() const {
  QString out = "link,from,to,tier,capacity_Bps,bytes,busy_s,mean_utilization,peak_utilization\n";
  if (!has_data()) return out;
  for (const parallel::LinkRow& row : run_->step.links->rows) {
    out += QString("%1,%2,%3,%4,%5,%6,%7,%8,%9\n")
               .arg(row.link)
               .arg(csv_field(QString::fromStdString(row.from)))
               .arg(csv_field(QString::fromStdString(row.to)))
               .arg(tier_name(row.tier))
               .arg(row.capacity_bytes_per_s, 0, 'g', 10)
               .arg(row.use.bytes, 0, 'g', 10)
               .arg(row.use.busy_s, 0, 'g', 10)
               .arg(row.use.mean_utilization, 0, 'g', 6)
               .arg(row.use.peak_utilization, 0, 'g', 6);
  }
  return out;
}

}  // namespace clustersim::gui
