#pragma once
// What every view of the dashboard offers: a title, its data as CSV, and itself as a PNG.

#include <QFile>
#include <QString>
#include <QTextStream>
#include <QWidget>

namespace clustersim::gui {

class View : public QWidget {
 public:
  using QWidget::QWidget;

  // What the view shows, for its tab and its window title.
  [[nodiscard]] virtual QString title() const = 0;
  // The numbers behind the charts, one header line and one row per bar or point.
  [[nodiscard]] virtual QString csv() const = 0;
  // True when the view has something to show (a run, a table).
  [[nodiscard]] virtual bool has_data() const = 0;

  bool save_png(const QString& path) { return grab().save(path, "PNG"); }
  [[nodiscard]] bool save_csv(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) return false;
    QTextStream(&file) << csv();
    return true;
  }
};

}  // namespace clustersim::gui
