#include "gui/main_window.hpp"

#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QScrollArea>
#include <QSplitter>
#include <QVBoxLayout>
#include <algorithm>
#include <exception>

#include "sim/config/loader.hpp"
#include "sim/report/chart.hpp"

namespace clustersim::gui {
namespace {

constexpr int kHistory = 4;  // runs shown side by side in the breakdown
constexpr const char* kFromFile = "(the file's)";
// What Run changes when no experiment is open.
constexpr const char* kDefaultExperiment =
    CLUSTERSIM_DATA_DIR "/experiments/dsv3_2048xh800_mpft.yaml";

// The cards of one folder of the library, by name.
QStringList library_cards(const char* folder) {
  QStringList names;
  const QDir dir(QString(CLUSTERSIM_DATA_DIR) + "/" + folder);
  for (const QFileInfo& file : dir.entryInfoList({"*.yaml"}, QDir::Files, QDir::Name)) {
    names << file.completeBaseName();
  }
  return names;
}

QComboBox* card_box(const char* folder, QWidget* parent) {
  auto* box = new QComboBox(parent);
  box->addItem(kFromFile);
  box->addItems(library_cards(folder));
  return box;
}

// A sweep file has top-level axes; an experiment has none.
bool is_sweep(const QString& path) {
  QFile file(path);
  if (!file.open(QIODevice::ReadOnly | QIODevice::Text)) return false;
  while (!file.atEnd()) {
    if (file.readLine().startsWith("axes:")) return true;
  }
  return false;
}

// A knob: 0 shows as "file", meaning the file's value.
QSpinBox* knob(int max, QWidget* parent, const QString& suffix = {}) {
  auto* box = new QSpinBox(parent);
  box->setRange(0, max);
  box->setSpecialValueText("file");
  box->setSuffix(suffix);
  return box;
}

std::optional<int> knob_value(const QSpinBox* box) {
  return box->value() > 0 ? std::optional<int>(box->value()) : std::nullopt;
}

}  // namespace

const QStringList& MainWindow::view_names() {
  static const QStringList names{"topology", "breakdown", "memory", "timeline",
                                 "links",    "sweep",     "peaks"};
  return names;
}

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent),
      model_(new RunModel(this)),
      breakdown_(new BreakdownView(this)),
      memory_(new MemoryView(this)),
      sweep_(new SweepView(this)),
      peaks_(new PeaksView(this)),
      timeline_(new TimelineView(this)),
      links_(new LinksView(this)),
      topology_(new TopologyView(this)) {
  setWindowTitle("clustersim dashboard");
  tabs_ = new QTabWidget(this);
  for (View* view : std::initializer_list<View*>{topology_, breakdown_, memory_, timeline_, links_,
                                                 sweep_, peaks_}) {
    tabs_->addTab(view, view->title());
  }
  auto* exports = new QHBoxLayout;
  auto* png = new QPushButton("Export PNG…", this);
  auto* csv = new QPushButton("Export CSV…", this);
  connect(png, &QPushButton::clicked, this, [this] {
    export_view("PNG", "PNG images (*.png)",
                [](View& view, const QString& path) { return view.save_png(path); });
  });
  connect(csv, &QPushButton::clicked, this, [this] {
    export_view("CSV", "CSV files (*.csv)",
                [](View& view, const QString& path) { return view.save_csv(path); });
  });
  exports->addStretch(1);
  exports->addWidget(png);
  exports->addWidget(csv);
  auto* right = new QWidget(this);
  auto* right_layout = new QVBoxLayout(right);
  right_layout->addWidget(tabs_, 1);
  right_layout->addLayout(exports);

  auto* splitter = new QSplitter(this);
  splitter->addWidget(build_panel());
  splitter->addWidget(right);
  splitter->setStretchFactor(1, 1);
  setCentralWidget(splitter);
  resize(1280, 760);

  connect(model_, &RunModel::started, this, [this](const QString& description) {
    set_busy(true);
    show_status("running " + description, false);
  });
  connect(model_, &RunModel::finished, this,
          [this](std::shared_ptr<const RunOutput> output) { finished(output); });
  connect(model_, &RunModel::progress, this, [this](int done, int total) {
    progress_->setRange(0, total);
    progress_->setValue(done);
    progress_->setFormat(QString("%1 of %2 points").arg(done).arg(total));
  });
  connect(model_, &RunModel::sweep_finished, this,
          [this](std::shared_ptr<const SweepOutput> output) {
            set_busy(false);
            sweep_run_ = output;
            try {
              sweep_->load(output->results_csv);
            } catch (const std::exception& error) {
              show_status(error_message(error), true);
              return;
            }
            select_view("sweep");
            std::size_t ok = 0;
            for (const report::SweepRow& row : output->rows) ok += row.status == "ok" ? 1U : 0U;
            show_status(QString("%1: %2 points, %3 ran; click a point to open it")
                            .arg(QFileInfo(output->file).fileName())
                            .arg(output->rows.size())
                            .arg(ok),
                        false);
          });
  sweep_->on_point = [this](std::size_t row) {
    if (!sweep_run_) {
      // A table from `clustersim sweep`: its rows do not name the experiment; its sweep does.
      const QString path =
          QFileDialog::getOpenFileName(this, "The sweep file that made this table",
                                       QString(CLUSTERSIM_DATA_DIR), "Sweeps (*.yaml *.yml)");
      if (path.isEmpty() || !attach_sweep(path)) return;
    }
    open_sweep_point(sweep_->point_of(row));
  };
  connect(model_, &RunModel::failed, this, [this](const QString& message) {
    set_busy(false);
    show_status(message, true);
  });
  connect(model_, &RunModel::cancelled, this, [this] {
    set_busy(false);
    show_status("cancelled", false);
  });
}

QWidget* MainWindow::build_panel() {
  auto* panel = new QWidget(this);
  auto* layout = new QVBoxLayout(panel);
  auto* open = new QPushButton("Open experiment or results…", panel);
  connect(open, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(
        this, "Open an experiment or a sweep's results", QString(CLUSTERSIM_DATA_DIR),
        "Experiments and results (*.yaml *.yml *.csv);;All files (*)");
    if (!path.isEmpty()) open_file(path);
  });
  layout->addWidget(open);
  file_label_ = new QLabel("no experiment open: Run uses the DeepSeek-V3 reproduction", panel);
  file_label_->setWordWrap(true);
  layout->addWidget(file_label_);

  auto* cards = new QGroupBox("Cards from the library", panel);
  auto* card_form = new QFormLayout(cards);
  model_card_ = card_box("models", cards);
  hardware_card_ = card_box("hardware_profiles", cards);
  topology_card_ = card_box("topologies", cards);
  card_form->addRow("model", model_card_);
  card_form->addRow("hardware", hardware_card_);
  card_form->addRow("topology", topology_card_);
  layout->addWidget(cards);

  auto* knobs_box = new QGroupBox("Knobs (file: the experiment's value)", panel);
  auto* form = new QFormLayout(knobs_box);
  nodes_ = knob(65536, knobs_box);
  tp_ = knob(64, knobs_box);
  pp_ = knob(256, knobs_box);
  ep_ = knob(4096, knobs_box);
  schedule_ = new QComboBox(knobs_box);
  schedule_->addItems({kFromFile, "1f1b", "interleaved", "zb1p", "dualpipe", "dualpipev"});
  comm_sms_ = knob(256, knobs_box);
  nvlink_ = knob(10000, knobs_box, " GB/s");
  nic_ = knob(3200, knobs_box, " Gb/s");
  planes_ = knob(64, knobs_box);
  routing_ = new QComboBox(knobs_box);
  routing_->addItem(kFromFile);
  for (const auto& entry : config::kRoutingPolicyNames) {
    routing_->addItem(
        QString::fromUtf8(entry.name.data(), static_cast<qsizetype>(entry.name.size())));
  }
  replicas_ = new QComboBox(knobs_box);
  replicas_->addItem(kFromFile);
  replicas_->addItem("one group of each kind", "on");
  replicas_->addItem("every replica at once", "off");
  replicas_->setToolTip(
      "simulation.symmetry: time one group of each kind (fast), or run every data-parallel "
      "replica's and every stage's communication on the one fabric, where they contend");
  for (const auto& [label, widget] :
       std::initializer_list<std::pair<const char*, QWidget*>>{{"nodes", nodes_},
                                                               {"TP", tp_},
                                                               {"PP", pp_},
                                                               {"EP", ep_},
                                                               {"schedule", schedule_},
                                                               {"comm SMs", comm_sms_},
                                                               {"NVLink per GPU", nvlink_},
                                                               {"NIC and links", nic_},
                                                               {"network planes", planes_},
                                                               {"routing", routing_},
                                                               {"replicas", replicas_}}) {
    form->addRow(label, widget);
  }
  layout->addWidget(knobs_box);

  auto* networks_box = new QGroupBox("Networks to compare", panel);
  auto* networks_layout = new QVBoxLayout(networks_box);
  networks_ = new QListWidget(networks_box);
  for (const QString& card : library_cards("topologies")) {
    auto* item = new QListWidgetItem(card, networks_);
    const bool usual = card == "ft2" || card == "ft3" || card == "mpft" || card == "mrft";
    item->setCheckState(usual ? Qt::Checked : Qt::Unchecked);
  }
  networks_->setMaximumHeight(140);
  networks_layout->addWidget(networks_);
  auto* compare_button = new QPushButton("Compare", networks_box);
  connect(compare_button, &QPushButton::clicked, this, [this] { compare(); });
  networks_layout->addWidget(compare_button);
  layout->addWidget(networks_box);

  auto* buttons = new QHBoxLayout;
  run_button_ = new QPushButton("Run", panel);
  cancel_button_ = new QPushButton("Cancel", panel);
  cancel_button_->setEnabled(false);
  connect(run_button_, &QPushButton::clicked, this, [this] { run(); });
  connect(cancel_button_, &QPushButton::clicked, this, [this] { cancel(); });
  buttons->addWidget(run_button_);
  buttons->addWidget(cancel_button_);
  layout->addLayout(buttons);
  progress_ = new QProgressBar(panel);
  progress_->setVisible(false);
  layout->addWidget(progress_);
  status_ = new QLabel(panel);
  status_->setWordWrap(true);
  status_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(status_);
  layout->addStretch(1);

  auto* scroll = new QScrollArea(this);
  scroll->setWidget(panel);
  scroll->setWidgetResizable(true);
  scroll->setMinimumWidth(300);
  return scroll;
}

bool MainWindow::open_file(const QString& path) {
  const QFileInfo info(path);
  if (!info.isFile()) {
    show_status(path + ": no such file", true);
    return false;
  }
  if (info.suffix().compare("csv", Qt::CaseInsensitive) == 0) {
    try {
      sweep_->load(path);
    } catch (const std::exception& error) {
      show_status(error_message(error), true);
      return false;
    }
    select_view("sweep");
    show_status(info.fileName() + ": loaded", false);
    return true;
  }
  if (is_sweep(path)) {
    file_label_->setText(info.fileName() + " (sweep)");
    model_->start_sweep(path);
    return true;
  }
  experiment_ = path;
  file_label_->setText(info.fileName());
  run();
  return true;
}

bool MainWindow::attach_sweep(const QString& path) {
  try {
    const config::SweepSpec sweep = config::load_sweep(path.toStdString());
    auto output = std::make_shared<SweepOutput>();
    output->file = path;
    output->experiment = QString::fromStdString(sweep.experiment);
    const std::vector<config::SweepPoint> points = sweep.points();
    for (std::size_t i = 0; i < points.size(); ++i) {
      report::SweepRow row;
      row.index = i;
      row.overrides = points[i].overrides;
      output->rows.push_back(std::move(row));
    }
    sweep_run_ = output;
  } catch (const std::exception& error) {
    show_status(error_message(error), true);
    return false;
  }
  return true;
}

bool MainWindow::open_sweep_point(std::size_t point) {
  if (!sweep_run_ || point >= sweep_run_->rows.size()) return false;
  experiment_ = sweep_run_->experiment;
  QStringList overrides;
  for (const std::string& item : sweep_run_->rows[point].overrides) {
    overrides << QString::fromStdString(item);
  }
  file_label_->setText(QFileInfo(experiment_).fileName() + " (point " + QString::number(point) +
                       " of " + QFileInfo(sweep_run_->file).fileName() + ")");
  select_view("breakdown");
  model_->start({experiment_, overrides, {}});
  return true;
}

Knobs MainWindow::knobs() const {
  Knobs k;
  k.nodes = knob_value(nodes_);
  k.tp = knob_value(tp_);
  k.pp = knob_value(pp_);
  k.ep = knob_value(ep_);
  if (schedule_->currentIndex() > 0) k.schedule = schedule_->currentText();
  k.comm_sms = knob_value(comm_sms_);
  if (nvlink_->value() > 0) k.nvlink_bandwidth = QString("%1 GB/s").arg(nvlink_->value());
  if (nic_->value() > 0) k.nic_bandwidth = QString("%1 Gb/s").arg(nic_->value());
  k.planes = knob_value(planes_);
  if (routing_->currentIndex() > 0) k.routing = routing_->currentText();
  if (replicas_->currentIndex() > 0) k.symmetry = replicas_->currentData().toString();
  return k;
}

void MainWindow::set_knobs(const Knobs& k) {
  nodes_->setValue(k.nodes.value_or(0));
  tp_->setValue(k.tp.value_or(0));
  pp_->setValue(k.pp.value_or(0));
  ep_->setValue(k.ep.value_or(0));
  schedule_->setCurrentText(k.schedule.value_or(kFromFile));
  comm_sms_->setValue(k.comm_sms.value_or(0));
  nvlink_->setValue(k.nvlink_bandwidth ? k.nvlink_bandwidth->split(' ').front().toInt() : 0);
  nic_->setValue(k.nic_bandwidth ? k.nic_bandwidth->split(' ').front().toInt() : 0);
  planes_->setValue(k.planes.value_or(0));
  routing_->setCurrentText(k.routing.value_or(kFromFile));
  replicas_->setCurrentIndex(k.symmetry ? std::max(0, replicas_->findData(*k.symmetry)) : 0);
}

QStringList MainWindow::card_overrides() const {
  QStringList out;
  if (model_card_->currentIndex() > 0) out << "model=" + model_card_->currentText();
  if (hardware_card_->currentIndex() > 0) out << "hardware=" + hardware_card_->currentText();
  if (topology_card_->currentIndex() > 0) {
    out << "cluster.topology=" + topology_card_->currentText();
  }
  return out;
}

RunRequest MainWindow::request(QStringList compare) {
  if (experiment_.isEmpty()) {
    // Cards and knobs alone change the shipped DeepSeek-V3 reproduction.
    experiment_ = kDefaultExperiment;
    file_label_->setText(QFileInfo(experiment_).fileName() + " (the default base)");
  }
  return {experiment_, card_overrides() + knob_overrides(knobs()), std::move(compare)};
}

void MainWindow::set_busy(bool busy) {
  run_button_->setEnabled(!busy);
  cancel_button_->setEnabled(busy);
  if (busy) progress_->setRange(0, 0);  // until a sweep reports its points done
  progress_->setVisible(busy);
}

void MainWindow::run() {
  model_->start(request({}));
}

QStringList MainWindow::checked_networks() const {
  QStringList out;
  for (int i = 0; i < networks_->count(); ++i) {
    if (networks_->item(i)->checkState() == Qt::Checked) out << networks_->item(i)->text();
  }
  return out;
}

void MainWindow::compare(const QStringList& networks) {
  const QStringList chosen = networks.isEmpty() ? checked_networks() : networks;
  if (chosen.isEmpty()) {
    show_status("check at least one network to compare", true);
    return;
  }
  select_view("topology");
  model_->start(request(chosen));
}

void MainWindow::cancel() {
  model_->cancel();
}

void MainWindow::finished(const std::shared_ptr<const RunOutput>& output) {
  set_busy(false);
  history_.push_back(output);
  if (history_.size() > kHistory) history_.erase(history_.begin());
  breakdown_->show_runs(history_);
  memory_->show_run(output);
  timeline_->show_run(output);
  links_->show_run(output);
  if (!output->networks.empty()) topology_->show_run(output);
  const parallel::StepResult& step = output->step;
  QString text = QString("%1: step %2 s on %3 GPUs")
                     .arg(QString::fromStdString(output->experiment.name))
                     .arg(step.step_time_s, 0, 'f', 3)
                     .arg(step.gpus);
  if (output->experiment.simulation.symmetry == config::Symmetry::off) {
    text += ", every replica at once";
  }
  if (!step.memory.fits()) {
    const workload::RankMemory& peak = step.memory.peak();
    text += QString("; does not fit: pipeline rank %1 needs %2 GB of %3")
                .arg(peak.rank)
                .arg(peak.total() / 1e9, 0, 'f', 1)
                .arg(step.memory.capacity / 1e9, 0, 'f', 1);
    show_status(text, true);
    return;
  }
  show_status(text, false);
}

bool MainWindow::select_view(const QString& name) {
  const auto index = view_names().indexOf(name);
  if (index < 0) return false;
  tabs_->setCurrentIndex(static_cast<int>(index));
  return true;
}

View* MainWindow::current_view() const {
  return static_cast<View*>(tabs_->currentWidget());
}

void MainWindow::show_status(const QString& text, bool error) {
  status_->setText(text);
  status_->setStyleSheet(error ? "color: #b00020;" : "");
}

void MainWindow::export_view(const QString& format, const QString& filter,
                             const std::function<bool(View&, const QString&)>& save) {
  View* view = current_view();
  const QString path =
      QFileDialog::getSaveFileName(this, "Export " + view->title() + " as " + format, {}, filter);
  if (path.isEmpty()) return;
  if (!save(*view, path)) show_status("cannot write " + path, true);
}

}  // namespace clustersim::gui
