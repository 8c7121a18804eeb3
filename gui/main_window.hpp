#pragma once
// The dashboard's window: a panel to choose an experiment (a file, or the shipped model,
// hardware and topology cards) and its main knobs, run it in the background and cancel it; and
// one tab per view.

#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QMainWindow>
#include <QProgressBar>
#include <QPushButton>
#include <QSpinBox>
#include <QTabWidget>
#include <functional>
#include <memory>
#include <vector>

#include "gui/run_model.hpp"
#include "gui/views/breakdown_view.hpp"
#include "gui/views/links_view.hpp"
#include "gui/views/memory_view.hpp"
#include "gui/views/peaks_view.hpp"
#include "gui/views/sweep_view.hpp"
#include "gui/views/timeline_view.hpp"
#include "gui/views/topology_view.hpp"

namespace clustersim::gui {

class MainWindow : public QMainWindow {
 public:
  explicit MainWindow(QWidget* parent = nullptr);

  // Opens an experiment (YAML, then runs it), a sweep (YAML with axes: runs every point, then
  // shows the results in the sweep explorer) or a results table (CSV, in the sweep explorer).
  // Returns false, with the reason in the status line, when the file cannot be used.
  bool open_file(const QString& path);
  // Runs the open experiment with the knobs and cards chosen.
  void run();
  // Runs it on each network checked in the panel (or those given), for the topology view.
  void compare(const QStringList& networks = {});
  [[nodiscard]] QStringList checked_networks() const;
  void cancel();

  // Opens point `point` of the sweep last run here as a run in the other views; false when no
  // sweep was run here or it has no such point.
  bool open_sweep_point(std::size_t point);
  // Names the sweep file a results table opened here came from, so that its points can be opened
  // (nothing is run); false, with the reason in the status line, when it does not load.
  bool attach_sweep(const QString& path);

  // The knobs as the panel holds them, and setting them (for tests and scripts).
  [[nodiscard]] Knobs knobs() const;
  void set_knobs(const Knobs& knobs);
  // The library cards chosen in the panel, as overrides ("model=...").
  [[nodiscard]] QStringList card_overrides() const;

  // Shows the view of that name (view_names()); false for another name.
  bool select_view(const QString& name);
  [[nodiscard]] View* current_view() const;

  [[nodiscard]] RunModel& model() { return *model_; }
  [[nodiscard]] BreakdownView& breakdown() { return *breakdown_; }
  [[nodiscard]] MemoryView& memory() { return *memory_; }
  [[nodiscard]] SweepView& sweep() { return *sweep_; }
  [[nodiscard]] PeaksView& peaks() { return *peaks_; }
  [[nodiscard]] TimelineView& timeline() { return *timeline_; }
  [[nodiscard]] LinksView& links() { return *links_; }
  [[nodiscard]] TopologyView& topology() { return *topology_; }
  [[nodiscard]] QString status_text() const { return status_->text(); }
  [[nodiscard]] bool run_enabled() const { return run_button_->isEnabled(); }
  [[nodiscard]] int progress_value() const { return progress_->value(); }

  // The names select_view() accepts, in tab order.
  static const QStringList& view_names();

 private:
  QWidget* build_panel();
  // The open experiment (the shipped reproduction when none is) with the cards and knobs.
  RunRequest request(QStringList compare);
  // Run and Cancel, and the progress bar, while a run goes or not.
  void set_busy(bool busy);
  void show_status(const QString& text, bool error);
  void finished(const std::shared_ptr<const RunOutput>& output);
  // Asks where, and saves the current view there with `save`.
  void export_view(const QString& format, const QString& filter,
                   const std::function<bool(View&, const QString&)>& save);

  RunModel* model_;
  QString experiment_;
  std::shared_ptr<const SweepOutput> sweep_run_;           // the last sweep run here
  std::vector<std::shared_ptr<const RunOutput>> history_;  // shown side by side, oldest first
  QLabel* file_label_ = nullptr;
  QComboBox* model_card_ = nullptr;
  QComboBox* hardware_card_ = nullptr;
  QComboBox* topology_card_ = nullptr;
  QSpinBox* nodes_ = nullptr;
  QSpinBox* tp_ = nullptr;
  QSpinBox* pp_ = nullptr;
  QSpinBox* ep_ = nullptr;
  QComboBox* schedule_ = nullptr;
  QComboBox* routing_ = nullptr;
  QComboBox* replicas_ = nullptr;  // simulation.symmetry: the item's data is "on" or "off"
  QSpinBox* comm_sms_ = nullptr;
  QSpinBox* nvlink_ = nullptr;
  QSpinBox* nic_ = nullptr;
  QSpinBox* planes_ = nullptr;
  QListWidget* networks_ = nullptr;
  QPushButton* run_button_ = nullptr;
  QPushButton* cancel_button_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* status_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  BreakdownView* breakdown_ = nullptr;
  MemoryView* memory_ = nullptr;
  SweepView* sweep_ = nullptr;
  PeaksView* peaks_ = nullptr;
  TimelineView* timeline_ = nullptr;
  LinksView* links_ = nullptr;
  TopologyView* topology_ = nullptr;
};

}  // namespace clustersim::gui
