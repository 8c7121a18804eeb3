// clustersim-dashboard: the Qt6 Charts front end of clustersim. It shows, for each hardware profile
// named on the command line, the GPU's dense BF16 and FP8 tensor-core peaks as a bar chart; or,
// with `--plot RESULTS.csv --x A --y B [--series C]`, a line chart of a sweep's results (the data
// `clustersim plot` draws as SVG). `--screenshot OUT.png` saves the window and exits, so that the
// chart can be checked, or written as a PNG, without a display (QT_QPA_PLATFORM=offscreen).

#include <QApplication>
#include <QBarCategoryAxis>
#include <QBarSeries>
#include <QBarSet>
#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QCommandLineParser>
#include <QLineSeries>
#include <QMainWindow>
#include <QPainter>
#include <QString>
#include <QStringList>
#include <QTimer>
#include <QValueAxis>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/diagnostics.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/loader.hpp"
#include "sim/core/dtype.hpp"
#include "sim/core/units.hpp"
#include "sim/report/chart.hpp"

namespace {

using clustersim::Dtype;
using clustersim::FlopRate;
using clustersim::config::HardwareProfile;

// Exit status when a profile does not load, as for the clustersim CLI's input errors.
constexpr int kConfigErrorExit = 2;
// Time for the first layout and paint before the window is grabbed.
constexpr std::chrono::milliseconds kScreenshotDelay{200};
constexpr double kFlopPerTeraflop = 1e12;

struct Options {
  QStringList profile_files;
  std::optional<QString> screenshot_path;
  std::optional<QString> plot_path;  // a results table to chart instead of the profiles
  QString x, y, series;
};

Options parse_options(const QApplication& app) {
  QCommandLineParser parser;
  parser.setApplicationDescription(
      "Charts the dense tensor-core peaks of clustersim hardware profiles.");
  parser.addHelpOption();
  const QCommandLineOption screenshot_option(
      "screenshot", "Save the window to <file> (PNG) after it is drawn, then exit.", "file");
  parser.addOption(screenshot_option);
  const QCommandLineOption plot_option("plot", "Chart the results table <csv> instead.", "csv");
  const QCommandLineOption x_option("x", "Column for the x axis (with --plot).", "column");
  const QCommandLineOption y_option("y", "Column for the y axis (with --plot).", "column");
  const QCommandLineOption series_option(
      "series", "Column whose values make one line each (with --plot).", "column");
  parser.addOption(plot_option);
  parser.addOption(x_option);
  parser.addOption(y_option);
  parser.addOption(series_option);
  parser.addPositionalArgument(
      "profiles", "Hardware profile YAML files (default: hardware_profiles/h800_sxm.yaml).",
      "[profiles...]");
  parser.process(app);

  Options options;
  options.profile_files = parser.positionalArguments();
  if (options.profile_files.isEmpty()) {
    options.profile_files.append(CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml");
  }
  if (parser.isSet(screenshot_option)) options.screenshot_path = parser.value(screenshot_option);
  if (parser.isSet(plot_option)) options.plot_path = parser.value(plot_option);
  options.x = parser.value(x_option);
  options.y = parser.value(y_option);
  options.series = parser.value(series_option);
  return options;
}

// Dense peak in TFLOP/s; 0 where the profile gives no peak for the dtype (e.g. FP8 before Hopper),
// since every bar set needs one value per category.
double peak_tflops(const HardwareProfile& profile, Dtype dtype) {
  const std::optional<FlopRate> peak = profile.gpu.peak(dtype);
  return peak ? peak->flop_per_s / kFlopPerTeraflop : 0.0;
}

// A chart with one category per profile and one bar set per dtype. The chart takes ownership of
// the series and axes, and the series of its bar sets (Qt parent-child ownership).
QChart* make_peak_chart(const std::vector<HardwareProfile>& profiles) {
  auto* bf16 = new QBarSet("BF16 dense");
  auto* fp8 = new QBarSet("FP8 dense");
  QStringList categories;
  for (const HardwareProfile& profile : profiles) {
    categories.append(QString::fromStdString(profile.name));
    bf16->append(peak_tflops(profile, Dtype::bf16));
    fp8->append(peak_tflops(profile, Dtype::fp8));
  }
  auto* series = new QBarSeries;
  series->append(bf16);
  series->append(fp8);

  auto* chart = new QChart;
  chart->addSeries(series);
  chart->setTitle("Dense tensor-core peak per GPU");
  // Without animation the bars are at full height in the first frame, which the screenshot grabs.
  chart->setAnimationOptions(QChart::NoAnimation);

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
  return chart;
}

// A line chart of a results table: one QLineSeries per series of the chart data; a text x column
// becomes a category axis.
QChart* make_results_chart(const clustersim::report::ChartData& data) {
  auto* chart = new QChart;
  chart->setTitle(QString::fromStdString(data.y_label + " against " + data.x_label));
  chart->setAnimationOptions(QChart::NoAnimation);
  auto* axis_y = new QValueAxis;
  axis_y->setTitleText(QString::fromStdString(data.y_label));
  chart->addAxis(axis_y, Qt::AlignLeft);
  QAbstractAxis* axis_x = nullptr;
  if (data.categories.empty()) {
    auto* values = new QValueAxis;
    values->setTitleText(QString::fromStdString(data.x_label));
    axis_x = values;
  } else {
    auto* categories = new QCategoryAxis;
    categories->setTitleText(QString::fromStdString(data.x_label));
    categories->setMin(-0.5);
    categories->setMax(static_cast<double>(data.categories.size()) - 0.5);
    categories->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    for (std::size_t i = 0; i < data.categories.size(); ++i) {
      categories->append(QString::fromStdString(data.categories[i]), static_cast<double>(i));
    }
    axis_x = categories;
  }
  chart->addAxis(axis_x, Qt::AlignBottom);
  double low = 0, high = 0;
  for (const clustersim::report::ChartSeries& s : data.series) {
    auto* line = new QLineSeries;
    line->setName(QString::fromStdString(s.name));
    line->setPointsVisible(true);
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      line->append(s.x[i], s.y[i]);
      high = std::max(high, s.y[i]);
      low = std::min(low, s.y[i]);
    }
    chart->addSeries(line);
    line->attachAxis(axis_x);
    line->attachAxis(axis_y);
  }
  axis_y->setRange(low, high);
  axis_y->applyNiceNumbers();
  chart->legend()->setVisible(true);
  chart->legend()->setAlignment(Qt::AlignBottom);
  return chart;
}

}  // namespace

int main(int argc, char* argv[]) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("clustersim-dashboard");
  const Options options = parse_options(app);

  QChart* chart = nullptr;
  if (options.plot_path) {
    try {
      const clustersim::report::CsvTable table =
          clustersim::report::read_csv(options.plot_path->toStdString());
      const std::optional<std::string> series =
          options.series.isEmpty() ? std::nullopt
                                   : std::optional<std::string>(options.series.toStdString());
      chart = make_results_chart(clustersim::report::chart_data(table, options.x.toStdString(),
                                                                options.y.toStdString(), series));
    } catch (const clustersim::report::ChartError& error) {
      std::fprintf(stderr, "clustersim-dashboard: %s\n", error.what());
      return kConfigErrorExit;
    }
  } else {
    std::vector<HardwareProfile> profiles;
    for (const QString& file : options.profile_files) {
      try {
        profiles.push_back(clustersim::config::load_hardware_profile(file.toStdString()));
      } catch (const clustersim::config::ConfigError& error) {
        std::fprintf(stderr, "%s\n", error.what());
        return kConfigErrorExit;
      }
    }
    chart = make_peak_chart(profiles);
  }

  auto* chart_view = new QChartView(chart);
  chart_view->setRenderHint(QPainter::Antialiasing);
  QMainWindow window;
  window.setWindowTitle("clustersim dashboard");
  window.setCentralWidget(chart_view);
  window.resize(900, 600);
  window.show();

  if (options.screenshot_path) {
    const QString path = *options.screenshot_path;
    QTimer::singleShot(kScreenshotDelay, &window, [&window, path] {
      if (window.grab().save(path, "PNG")) {
        QApplication::exit(0);
      } else {
        std::fprintf(stderr, "clustersim-dashboard: cannot write screenshot %s\n",
                     qPrintable(path));
        QApplication::exit(1);
      }
    });
  }
  return QApplication::exec();
}
