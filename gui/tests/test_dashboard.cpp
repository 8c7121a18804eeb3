// The dashboard against the simulation it shows (QtTest, offscreen): a run's charts hold the
// result's values, a knob changes the result, bad input shows its message and leaves the window
// usable, a run can be cancelled, and the sweep explorer charts a results table.

#include <QBarSet>
#include <QCategoryAxis>
#include <QPointer>
#include <QSignalSpy>
#include <QStackedBarSeries>
#include <QTemporaryDir>
#include <QTest>
#include <cmath>

#include "gui/main_window.hpp"

using clustersim::gui::Knobs;
using clustersim::gui::MainWindow;
using clustersim::gui::RunModel;

namespace {

const QString kDsv3 = CLUSTERSIM_SOURCE_DIR "/experiments/dsv3_2048xh800_mpft.yaml";
const QString kResults = CLUSTERSIM_SOURCE_DIR "/tests/data/good/sweep_results.csv";
const QString kSweep = CLUSTERSIM_SOURCE_DIR "/tests/data/good/sweep_grid.yaml";

// Waits for the run the window started; true when it finished with a result.
bool wait_for_result(MainWindow& window) {
  QSignalSpy finished(&window.model(), &RunModel::finished);
  QSignalSpy failed(&window.model(), &RunModel::failed);
  for (int i = 0; i < 600 && finished.isEmpty() && failed.isEmpty(); ++i) finished.wait(100);
  return !finished.isEmpty();
}

// The values of the bar set named `name` in the view's stacked bar chart.
QList<qreal> bar_values(QChartView* view, const QString& name) {
  for (QAbstractSeries* series : view->chart()->series()) {
    if (auto* bars = qobject_cast<QStackedBarSeries*>(series)) {
      for (QBarSet* set : bars->barSets()) {
        if (set->label() == name) {
          QList<qreal> values;
          for (int i = 0; i < set->count(); ++i) values << set->at(i);
          return values;
        }
      }
    }
  }
  return {};
}

}  // namespace

class DashboardTest : public QObject {
  Q_OBJECT

 private Q_SLOTS:
  // The DeepSeek-V3 reproduction: the breakdown's bars are its phases, beside the published
  // ones; the memory chart has one bar per pipeline rank with the estimate's parts.
  void chartsHoldTheSimulationsValues() {
    MainWindow window;
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(wait_for_result(window));
    const auto run = window.model().last();
    QVERIFY(run != nullptr);
    const auto& p = run->step.phases;
    const QList<qreal> forward = bar_values(window.breakdown().phases_chart(), "1F");
    const QList<qreal> overlapped = bar_values(window.breakdown().phases_chart(), "1F1B");
    QCOMPARE(forward.size(), 2);  // the run, and the published figures beside it
    QCOMPARE(forward[0], p.forward);
    QCOMPARE(overlapped[0], p.overlapped);
    QCOMPARE(window.breakdown().rows()[1].label, QString("published"));
    QVERIFY(std::abs(overlapped[1] - 13.95) < 1e-9);  // ISCA'25 Table 4, MPFT
    const QList<qreal> ep = bar_values(window.breakdown().communication_chart(), "EP");
    QCOMPARE(ep.size(), 1);
    QCOMPARE(ep[0], run->step.exposed_comm_s.at("ep"));
    const QList<qreal> activations = bar_values(window.memory().chart(), "activations");
    QCOMPARE(activations.size(), static_cast<int>(run->step.memory.ranks.size()));
    QCOMPARE(activations.size(), 16);
    QCOMPARE(activations[0], run->step.memory.ranks[0].activations / 1e9);
    // The CSV exports hold the same numbers.
    QVERIFY(window.breakdown().csv().startsWith("run,1F_s,bubble_s,"));
    QCOMPARE(window.breakdown().csv().count('\n'), 3);
    QCOMPARE(window.memory().csv().count('\n'), 17);
    QVERIFY(window.status_text().contains("step 18.937 s on 2048 GPUs"));
  }

  // The timeline has a bar for every slot of the schedule and a DP tail per device; the links
  // view charts the busiest links and a histogram per tier; a comparison runs the workload on
  // each network and charts its step.
  void timelineLinksAndTopologyHoldTheirData() {
    MainWindow window;
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(wait_for_result(window));
    const auto run = window.model().last();
    std::size_t slots = 0;
    for (const auto& order : run->step.schedule.order) slots += order.size();
    std::size_t optimizers = 0, communication = 0;
    double last_end = 0;
    for (const auto& bar : window.timeline().bars()) {
      optimizers += bar.detail == "optimizer" ? 1U : 0U;
      communication += bar.kind == "DP communication" ? 1U : 0U;
      last_end = std::max(last_end, bar.end_s);
    }
    // Every slot, an optimizer per device, and the reductions and gathers of every chunk.
    QCOMPARE(optimizers, static_cast<std::size_t>(run->step.schedule.devices));
    QVERIFY(communication >= 2 * optimizers);
    QCOMPARE(window.timeline().bars().size(), slots + run->step.stream_spans.size());
    // The step ends with the last bar.
    QVERIFY(std::abs(last_end - run->step.step_time_s) < 1e-9);
    const auto* first = window.timeline().bar_at(window.timeline().bars()[0].start_s, 0);
    QVERIFY(first != nullptr);
    QCOMPARE(first->kind, QString("F"));
    QVERIFY(window.links().has_data());
    QCOMPARE(window.links().csv().count('\n'),
             static_cast<qsizetype>(run->step.links->rows.size() + 1));
    QVERIFY(!window.topology().has_data());
    window.compare({"mpft", "ft2"});
    QVERIFY(wait_for_result(window));
    const auto compared = window.model().last();
    QCOMPARE(compared->networks.size(), std::size_t{2});
    QCOMPARE(compared->networks[0].card, QString("mpft"));
    QVERIFY(compared->networks[0].step_time_s.has_value());
    // The experiment is on MPFT: its own run and the comparison's MPFT row agree.
    QCOMPARE(*compared->networks[0].step_time_s, compared->step.step_time_s);
    QVERIFY(compared->networks[1].stats.switches > 0);
    QVERIFY(window.topology().has_data());
    QCOMPARE(window.topology().csv().count('\n'), 3);
    // The routing knob applies to every compared network: under adaptive routing FT2 is as
    // fast as MPFT (README, "Routing and link layers"), under ECMP (the cards') it is not.
    QVERIFY(*compared->networks[1].step_time_s > 1.15 * *compared->networks[0].step_time_s);
    Knobs adaptive;
    adaptive.routing = "adaptive";
    window.set_knobs(adaptive);
    window.compare({"mpft", "ft2"});
    QVERIFY(wait_for_result(window));
    const auto routed = window.model().last();
    QVERIFY(routed->experiment.cluster.topology->routing ==
            clustersim::config::RoutingPolicy::adaptive);
    QVERIFY(std::abs(*routed->networks[1].step_time_s - *routed->networks[0].step_time_s) <
            1e-3 * *routed->networks[0].step_time_s);
    QCOMPARE(knob_overrides(adaptive), QStringList{"cluster.routing=adaptive"});
    window.set_knobs({});
  }

  // The replicas knob runs every data-parallel replica's and every stage's communication at
  // once: on MPFT under ECMP the step grows from 18.937 s to 19.252 s (README, "Every replica").
  void theReplicasKnobRunsEveryReplica() {
    MainWindow window;
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(wait_for_result(window));
    QVERIFY(window.model().last()->experiment.simulation.symmetry ==
            clustersim::config::Symmetry::on);
    Knobs every;
    every.symmetry = "off";
    QCOMPARE(knob_overrides(every), QStringList{"simulation.symmetry=off"});
    window.set_knobs(every);
    QCOMPARE(window.knobs().symmetry, std::optional<QString>("off"));
    window.run();
    QVERIFY(wait_for_result(window));
    const auto run = window.model().last();
    QVERIFY(run->experiment.simulation.symmetry == clustersim::config::Symmetry::off);
    QVERIFY(std::abs(run->step.step_time_s - 19.252) < 5e-4);
    window.set_knobs({});
    QVERIFY(!window.knobs().symmetry.has_value());
  }

  // PP 8, EP 32 with DualPipeV (the layout search's best) instead of the file's PP 16, EP 64 with
  // DualPipe.
  void aKnobChangesTheResult() {
    MainWindow window;
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(wait_for_result(window));
    const double first = window.model().last()->step.step_time_s;
    Knobs knobs;
    knobs.pp = 8;
    knobs.ep = 32;
    knobs.schedule = "dualpipev";
    window.set_knobs(knobs);
    window.run();
    QVERIFY(wait_for_result(window));
    const auto second = window.model().last();
    QCOMPARE(second->experiment.parallelism.pp, 8);
    QVERIFY(std::abs(second->step.step_time_s - 17.892) < 5e-4);
    QVERIFY(second->step.step_time_s < first);
    QCOMPARE(second->step.memory.ranks.size(), std::size_t{8});
    // Both runs side by side; the changed one without published figures.
    QCOMPARE(window.breakdown().rows().size(), std::size_t{3});
    // A new run replaces every chart and deletes the old ones.
    const QPointer<QChart> phases = window.breakdown().phases_chart()->chart();
    const QPointer<QChart> memory = window.memory().chart()->chart();
    window.run();
    QVERIFY(wait_for_result(window));
    QVERIFY(phases.isNull());
    QVERIFY(memory.isNull());
  }

  // A bad file shows the configuration layer's message (file:line:column) and the window runs
  // the next experiment as if nothing happened.
  void badInputShowsItsMessageAndTheWindowStaysUsable() {
    MainWindow window;
    QTemporaryDir dir;
    const QString bad = dir.filePath("bad.yaml");
    QFile file(bad);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(
        "name: bad\nmodel: deepseek_v3\nhardware: h800_sxm\ncluster: {nodes: 2}\n"
        "parallelism: {tp: two}\ntraining: {seq_len: 4096, global_batch_size: 16}\n");
    file.close();
    QVERIFY(window.open_file(bad));
    QVERIFY(!wait_for_result(window));
    QVERIFY2(window.status_text().contains(bad + ":5:"), qPrintable(window.status_text()));
    QVERIFY(window.status_text().contains("parallelism.tp"));
    QVERIFY(window.run_enabled());
    QVERIFY(!window.open_file(dir.filePath("missing.yaml")));
    QVERIFY(window.status_text().contains("no such file"));
    const QString empty = dir.filePath("empty.csv");
    QFile csv(empty);
    QVERIFY(csv.open(QIODevice::WriteOnly));
    csv.write("a,b\n");
    csv.close();
    QVERIFY(!window.open_file(empty));
    QVERIFY2(window.status_text().contains("no rows"), qPrintable(window.status_text()));
    // A card of another kind opened as an experiment: the loader's message.
    QVERIFY(window.open_file(CLUSTERSIM_SOURCE_DIR "/models/deepseek_v3.yaml"));
    QVERIFY(!wait_for_result(window));
    QVERIFY2(window.status_text().contains("deepseek_v3.yaml"), qPrintable(window.status_text()));
    QVERIFY(window.run_enabled());
    // A layout the cluster cannot divide: the simulator's message.
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(wait_for_result(window));
    Knobs odd;
    odd.ep = 3;
    window.set_knobs(odd);
    window.run();
    QVERIFY(!wait_for_result(window));
    QVERIFY2(window.status_text().contains("ep"), qPrintable(window.status_text()));
    // A layout too big for memory runs, and says it does not fit.
    Knobs big;
    big.pp = 2;
    big.schedule = "1f1b";
    window.set_knobs(big);
    window.run();
    QVERIFY(wait_for_result(window));
    QVERIFY2(window.status_text().contains("does not fit"), qPrintable(window.status_text()));
    window.set_knobs({});
    window.run();
    QVERIFY(wait_for_result(window));
  }

  // Cards and knobs without a file change the shipped DeepSeek-V3 reproduction.
  void withoutAFileRunUsesTheReproduction() {
    MainWindow window;
    window.run();
    QVERIFY(wait_for_result(window));
    QCOMPARE(QString::fromStdString(window.model().last()->experiment.name),
             QString("deepseek-v3-pretrain-2048xH800-mpft"));
  }

  // Cancelling frees the window at once, and the abandoned run's result never shows.
  void aRunCanBeCancelled() {
    MainWindow window;
    QVERIFY(window.open_file(kDsv3));
    QVERIFY(window.model().running());
    QVERIFY(!window.run_enabled());
    window.cancel();
    QVERIFY(!window.model().running());
    QVERIFY(window.run_enabled());
    QCOMPARE(window.status_text(), QString("cancelled"));
    QSignalSpy finished(&window.model(), &RunModel::finished);
    QTest::qWait(1500);  // the worker ends meanwhile; its result is dropped
    QCOMPARE(finished.count(), 0);
    QVERIFY(!window.breakdown().has_data());
  }

  // The explorer charts a results table by the columns chosen, one line per colour value.
  void theSweepExplorerChartsAResultsTable() {
    MainWindow window;
    QVERIFY(window.open_file(kResults));
    window.sweep().choose("hardware.scale_out.nic_bandwidth", "step_time_s", "parallelism.pp");
    QVERIFY(window.sweep().data().has_value());
    QVERIFY(window.sweep().data()->series.size() >= 2);
    QVERIFY(window.sweep().csv().startsWith("parallelism.pp,"));
    const std::size_t lines = window.sweep().data()->series.size();
    window.sweep().choose("hardware.scale_out.nic_bandwidth", "step_time_s", "");
    QCOMPARE(window.sweep().data()->series.size(), std::size_t{1});
    QVERIFY(lines > 1);
    // A column that is not in the table cannot be chosen: the chart keeps its columns.
    window.sweep().choose("hardware.scale_out.nic_bandwidth", "no_such_column", "");
    QCOMPARE(QString::fromStdString(window.sweep().data()->y_label), QString("step_time_s"));
    // Large values read as in the SVG charts: bytes 62.8-73.9 G on x, dollars 289-472 k on y,
    // each axis's ticks at nice values covering them, titled in words with units.
    window.sweep().choose("memory_peak_bytes", "usd_per_trillion_tokens", "");
    const QChart* chart = window.sweep().chart()->chart();
    const auto labels = [&](Qt::Orientation orientation) {
      const QList<QAbstractAxis*> axes = chart->axes(orientation);
      auto* axis = axes.size() == 1 ? qobject_cast<QCategoryAxis*>(axes.front()) : nullptr;
      return axis != nullptr ? axis->categoriesLabels() : QStringList{};
    };
    QCOMPARE(labels(Qt::Horizontal),
             (QStringList{"62G", "64G", "66G", "68G", "70G", "72G", "74G"}));
    QCOMPARE(labels(Qt::Vertical), (QStringList{"0", "100k", "200k", "300k", "400k", "500k"}));
    QCOMPARE(chart->axes(Qt::Horizontal).front()->titleText(),
             QString("peak memory per GPU (bytes)"));
  }

  // A sweep file runs every point in the background with progress; the explorer shows the
  // results, and a clicked point opens as a run with that point's overrides.
  void aSweepRunsAndItsPointsOpen() {
    MainWindow window;
    QSignalSpy done(&window.model(), &RunModel::sweep_finished);
    QSignalSpy progress(&window.model(), &RunModel::progress);
    QVERIFY(window.open_file(kSweep));
    QVERIFY(done.wait(60000));
    QCOMPARE(progress.count(), 6);
    QCOMPARE(progress.last().at(0).toInt(), 6);
    QVERIFY(window.sweep().has_data());
    QVERIFY(window.status_text().contains("6 points, 6 ran"));
    QVERIFY(window.open_sweep_point(3));  // parallelism.pp=2, 400 GB/s
    QVERIFY(wait_for_result(window));
    const auto run = window.model().last();
    QCOMPARE(run->experiment.parallelism.pp, 2);
    QCOMPARE(run->overrides.size(), 2);
    QVERIFY(!window.open_sweep_point(6));
    // A table opened on its own opens its points once its sweep is named.
    MainWindow other;
    QVERIFY(other.open_file(kResults));
    QVERIFY(!other.open_sweep_point(0));
    QVERIFY(!other.attach_sweep(CLUSTERSIM_SOURCE_DIR "/models/deepseek_v3.yaml"));
    QVERIFY(other.attach_sweep(kSweep));
    QVERIFY(other.open_sweep_point(1));
    QVERIFY(wait_for_result(other));
    QCOMPARE(other.model().last()->overrides.size(), 2);
  }

  // The Pareto front of a results table: no point of the table is at least as good on both axes
  // as a front point and better on one; a click at a point's place names its row.
  void theParetoFrontAndAClickFindTheirRows() {
    MainWindow window;
    QVERIFY(window.open_file(kResults));
    window.sweep().choose("memory_peak_bytes", "step_time_s", "");
    window.sweep().show_pareto(true);
    const std::vector<std::size_t> front = window.sweep().pareto_rows();
    QVERIFY(!front.empty());
    const auto& sweep = window.sweep();
    const auto dominates = [](QPointF a, QPointF b) {  // a at least as good on both, better on one
      return a.x() <= b.x() && a.y() <= b.y() && (a.x() < b.x() || a.y() < b.y());
    };
    std::size_t drawn = 0;
    for (std::size_t row = 0; row < sweep.rows(); ++row) {
      const auto p = sweep.position(row);
      if (!p) continue;  // an infeasible point has no step time
      ++drawn;
      const bool on_front = std::find(front.begin(), front.end(), row) != front.end();
      bool dominated = false;
      for (std::size_t other = 0; other < sweep.rows(); ++other) {
        const auto q = sweep.position(other);
        if (q && dominates(*q, *p)) dominated = true;
      }
      QCOMPARE(on_front, !dominated);
      // A click where the point is drawn finds a row drawn there.
      const auto clicked = sweep.row_at(*p);
      QVERIFY(clicked.has_value());
      QCOMPARE(*sweep.position(*clicked), *p);
    }
    QVERIFY(drawn > front.size());
  }
};

QTEST_MAIN(DashboardTest)
#include "test_dashboard.moc"
