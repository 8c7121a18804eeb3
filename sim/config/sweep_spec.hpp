#pragma once
// A sweep: one base experiment and axes of overrides, expanded as a grid or zipped.

#include <string>
#include <vector>

namespace clustersim::config {

enum class SweepMode { grid, zip };

struct SweepAxis {
  std::string key;                  // dotted experiment key, "parallelism.pp"
  std::vector<std::string> values;  // each as a --set value (YAML flow text)
  // An axis written under another's `with:` moves with it (value i with value i) instead of
  // spanning a dimension of its own: the index of that axis in SweepSpec::axes, or -1.
  int moves_with = -1;
};

struct SweepPoint {
  std::vector<std::string> overrides;  // "key=value", applied to the base experiment
};

struct SweepSpec {
  std::string name;
  std::string file;
  std::string experiment;  // path of the base experiment, resolved against the sweep file
  SweepMode mode = SweepMode::grid;
  std::vector<SweepAxis> axes;  // overrides of a point come in this order
  [[nodiscard]] std::vector<SweepPoint> points() const;
};

}  // namespace clustersim::config
