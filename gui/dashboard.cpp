// clustersim-dashboard: the Qt6 Charts front end of clustersim (gui/main_window.hpp).
//
//   clustersim-dashboard [EXP.yaml [--compare CARD,...] | SWEEP.yaml | RESULTS.csv |
//   PROFILE.yaml...] clustersim-dashboard --plot RESULTS.csv --x A --y B [--series C]
//   clustersim-dashboard --screenshot VIEW OUT.png [EXP.yaml | RESULTS.csv | PROFILE.yaml...]
//   clustersim-dashboard [PROFILE.yaml...] --screenshot OUT.png
//
// An experiment opens and runs; a sweep runs its points; a results table opens in the sweep
// explorer; hardware profiles
// show their peaks. `--screenshot` renders one view (topology, breakdown, memory, timeline,
// links, sweep or peaks) once its
// data is ready, saves it as a PNG and exits, so it works without a display
// (QT_QPA_PLATFORM=offscreen). Without a view name it saves the window as the older form did.

#include <QApplication>
#include <QCommandLineParser>
#include <QEventLoop>
#include <QFileInfo>
#include <QTimer>
#include <chrono>
#include <cstdio>
#include <exception>
#include <optional>
#include <vector>

#include "gui/main_window.hpp"
#include "sim/config/diagnostics.hpp"
#include "sim/config/loader.hpp"

namespace {

using clustersim::gui::MainWindow;

// Exit status for bad input, as for the clustersim CLI.
constexpr int kInputErrorExit = 2;
// Time for the first layout and paint before a window is grabbed.
constexpr std::chrono::milliseconds kScreenshotDelay{300};

struct Options {
  QStringList files;
  std::optional<QString> screenshot_view;
  std::optional<QString> screenshot_path;
  std::optional<QString> plot_path;
  QString x, y, series;
  QStringList compare;  // topology cards to compare the experiment on
  bool pareto = false;  // draw the sweep's Pareto front
};

std::optional<Options> parse_options(const QApplication& app) {
  QCommandLineParser parser;
  parser.setApplicationDescription(
      "The clustersim dashboard: step breakdown, memory per GPU, sweep explorer and hardware "
      "peaks of experiments, results tables and hardware profiles.");
  parser.addHelpOption();
  const QCommandLineOption screenshot_option(
      "screenshot",
      "Render VIEW (topology, breakdown, memory, timeline, links, sweep or peaks) to the PNG "
      "file given next, then exit; "
      "or, given a .png, save the window to it.",
      "view");
  const QCommandLineOption plot_option("plot", "Open the results table <csv>.", "csv");
  const QCommandLineOption x_option("x", "Column for the x axis (with --plot).", "column");
  const QCommandLineOption y_option("y", "Column for the y axis (with --plot).", "column");
  const QCommandLineOption series_option(
      "series", "Column whose values make one line each (with --plot).", "column");
  const QCommandLineOption compare_option(
      "compare", "Compare the experiment on these topology cards (comma-separated).", "cards");
  const QCommandLineOption pareto_option(
      "pareto", "Draw the Pareto front in the sweep explorer (lower x and y are better).");
  parser.addOptions({screenshot_option, plot_option, x_option, y_option, series_option,
                     compare_option, pareto_option});
  parser.addPositionalArgument(
      "files", "An experiment, a sweep's results.csv, or hardware profiles.", "[files...]");
  parser.process(app);

  Options options;
  options.files = parser.positionalArguments();
  if (parser.isSet(screenshot_option)) {
    const QString value = parser.value(screenshot_option);
    if (value.endsWith(".png", Qt::CaseInsensitive)) {
      options.screenshot_path = value;
    } else {
      if (!MainWindow::view_names().contains(value)) {
        std::fprintf(stderr,
                     "clustersim-dashboard: --screenshot: unknown view \"%s\"; the views are "
                     "%s\n",
                     qPrintable(value), qPrintable(MainWindow::view_names().join(", ")));
        return std::nullopt;
      }
      if (options.files.isEmpty()) {
        std::fprintf(stderr, "clustersim-dashboard: --screenshot %s needs the PNG file to write\n",
                     qPrintable(value));
        return std::nullopt;
      }
      options.screenshot_view = value;
      options.screenshot_path = options.files.takeFirst();
    }
  }
  if (parser.isSet(plot_option)) options.plot_path = parser.value(plot_option);
  options.x = parser.value(x_option);
  options.y = parser.value(y_option);
  options.series = parser.value(series_option);
  options.pareto = parser.isSet(pareto_option);
  if (parser.isSet(compare_option)) {
    options.compare = parser.value(compare_option).split(',', Qt::SkipEmptyParts);
  }
  return options;
}

// Hardware profiles among `files`, or nothing when the first is not one.
std::optional<std::vector<clustersim::config::HardwareProfile>> load_profiles(
    const QStringList& files) {
  std::vector<clustersim::config::HardwareProfile> profiles;
  for (const QString& file : files) {
    try {
      profiles.push_back(clustersim::config::load_hardware_profile(file.toStdString()));
    } catch (const clustersim::config::ConfigError&) {
      if (profiles.empty()) return std::nullopt;
      throw;
    }
  }
  return profiles;
}

// Runs the window's event loop until the model finishes, fails or is cancelled.
void wait_for_run(MainWindow& window) {
  if (!window.model().running()) return;
  QEventLoop loop;
  QObject::connect(&window.model(), &clustersim::gui::RunModel::finished, &loop, &QEventLoop::quit);
  QObject::connect(&window.model(), &clustersim::gui::RunModel::sweep_finished, &loop,
                   &QEventLoop::quit);
  QObject::connect(&window.model(), &clustersim::gui::RunModel::failed, &loop, &QEventLoop::quit);
  QObject::connect(&window.model(), &clustersim::gui::RunModel::cancelled, &loop,
                   &QEventLoop::quit);
  loop.exec();
}

}  // namespace

int main(int argc, char* argv[]) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("clustersim-dashboard");
  const std::optional<Options> parsed = parse_options(app);
  if (!parsed) return kInputErrorExit;
  const Options& options = *parsed;

  MainWindow window;
  QStringList files = options.files;
  if (options.plot_path) files.prepend(*options.plot_path);
  if (files.isEmpty() && !options.screenshot_view) {
    files << CLUSTERSIM_DATA_DIR "/hardware_profiles/h800_sxm.yaml";
  }
  try {
    if (!files.isEmpty() && files.front().endsWith(".csv", Qt::CaseInsensitive)) {
      if (!window.open_file(files.front())) {
        std::fprintf(stderr, "clustersim-dashboard: %s\n", qPrintable(window.status_text()));
        return kInputErrorExit;
      }
      if (!options.x.isEmpty() || !options.y.isEmpty()) {
        window.sweep().choose(options.x, options.y, options.series);
      }
    } else if (const auto profiles = load_profiles(files)) {
      window.peaks().show_profiles(*profiles);
      window.select_view("peaks");
    } else if (!files.isEmpty()) {
      window.open_file(files.front());
      if (!options.compare.isEmpty() || options.screenshot_view == QString("topology")) {
        window.compare(options.compare);
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return kInputErrorExit;
  }
  window.show();

  if (!options.screenshot_path) return QApplication::exec();
  if (options.screenshot_view) {
    wait_for_run(window);
    if (!options.x.isEmpty() || !options.y.isEmpty()) {
      window.sweep().choose(options.x, options.y, options.series);
    }
    window.sweep().show_pareto(options.pareto);
    window.select_view(*options.screenshot_view);
    if (!window.current_view()->has_data()) {
      std::fprintf(stderr, "clustersim-dashboard: nothing to show in the %s view: %s\n",
                   qPrintable(*options.screenshot_view), qPrintable(window.status_text()));
      return kInputErrorExit;
    }
  }
  const QString path = *options.screenshot_path;
  const bool whole_window = !options.screenshot_view;
  QTimer::singleShot(kScreenshotDelay, &window, [&window, path, whole_window] {
    const bool saved =
        whole_window ? window.grab().save(path, "PNG") : window.current_view()->save_png(path);
    if (!saved) {
      std::fprintf(stderr, "clustersim-dashboard: cannot write screenshot %s\n", qPrintable(path));
    }
    QApplication::exit(saved ? 0 : 1);
  });
  return QApplication::exec();
}
