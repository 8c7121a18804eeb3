#pragma once
// Chart building blocks shared by the views.

#include <QChart>
#include <QChartView>
#include <QString>
#include <QStringList>
#include <QValueAxis>
#include <utility>
#include <vector>

namespace clustersim::gui {

struct BarSet {
  QString name;
  std::vector<double> values;  // one per category
};

// An empty chart with a title, without animation (so that the first frame, and a screenshot, is
// final). Every chart of the views starts here.
[[nodiscard]] QChart* titled_chart(const QString& title);

// A stacked bar chart: one bar per category, one coloured part per set, the y axis from zero
// with nice numbers. Without animation, so that the first frame (and a screenshot) is final.
[[nodiscard]] QChart* stacked_bar_chart(const QString& title, const QStringList& categories,
                                        const std::vector<BarSet>& sets, const QString& y_title);

// A bar chart with the sets' bars side by side in each category (a legend when there are
// several sets).
[[nodiscard]] QChart* grouped_bar_chart(const QString& title, const QStringList& categories,
                                        const std::vector<BarSet>& sets, const QString& y_title,
                                        const QString& x_title = {});

// A value axis over at least [low, high], its ticks at nice values (report::nice_ticks) labelled
// as the SVG charts label them (12M, not 1.2e+07; report::tick_label), with a step above `high`
// when it falls on a tick, so that no bar or point touches the edge; an empty range (low above
// high: no values) gives an axis from 0 to 1. Qt's value axis formats
// its labels with a printf format only, so this is a category axis with a label at each tick's
// value.
[[nodiscard]] QValueAxis* si_value_axis(const QString& title, double low, double high);

// A chart view that keeps its labels readable: antialiased, with room for the axis titles.
[[nodiscard]] QChartView* chart_view(QWidget* parent);

// Shows `chart` in `view` and deletes the chart it showed before (QChartView::setChart releases
// the old chart without deleting it).
void replace_chart(QChartView* view, QChart* chart);

// A CSV field: quoted when it holds a comma or a quote.
[[nodiscard]] QString csv_field(const QString& text);

}  // namespace clustersim::gui
