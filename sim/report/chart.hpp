#pragma once
// Charts of result tables (a sweep's results.csv): one numeric column against another, or against
// a text column taken as categories in order of appearance, one line per value of an optional
// series column. Rows whose y is empty (infeasible sweep points) are left out. The same data
// feeds the SVG that `clustersim plot` writes and the dashboard's PNG.

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace clustersim::report {

class ChartError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // The file's line of each row, for messages (blank lines are skipped). A table made without
  // read_csv may leave it empty: row r is then taken to be on line r + 2, after the header.
  std::vector<int> lines;
};

// Reads a CSV file with a header line; quoted fields may hold commas and doubled quotes.
// Throws ChartError naming the file and line.
[[nodiscard]] CsvTable read_csv(const std::string& path);

struct ChartSeries {
  std::string name;       // the series column's value, or the y column's name
  std::vector<double> x;  // category index when the x axis is categorical
  std::vector<double> y;
};

// Which axes are logarithmic: whole decades that cover the data, a labelled tick at each power of
// ten (every n-th where the labels would crowd, over many decades) and light grid lines at
// 2..9 x 10^k; every value on such an axis must be > 0.
struct LogAxes {
  bool x = false;
  bool y = false;
};

struct ChartData {
  std::string x_label;  // the columns charted (messages name them)
  std::string y_label;
  // What the axes say (column_title of the columns; empty: the column's name).
  std::string x_title;
  std::string y_title;
  [[nodiscard]] const std::string& x_axis() const { return x_title.empty() ? x_label : x_title; }
  [[nodiscard]] const std::string& y_axis() const { return y_title.empty() ? y_label : y_title; }
  std::vector<std::string> categories;  // non-empty: x is categorical
  std::vector<ChartSeries> series;
  std::string series_label;  // the column whose values name the series (the legend's heading)
  int skipped_rows = 0;      // rows without a y value
  LogAxes log;               // default: both axes linear
};

// An axis title for a results column: the headline figures a sweep or a collective grid writes
// get words and their unit ("step_time_s" -> "step time (s)", "busbw_GBps" -> "bus bandwidth
// (GB/s)"); any other column (an override key such as parallelism.pp, a nested figure) is its
// own title.
[[nodiscard]] std::string column_title(std::string_view column);

// The rows of `table` whose column `key` holds `value`, for each (key, value) of `where` (all
// must hold). Throws ChartError for an unknown column ("did you mean" the closest) and when no
// row is left (naming the values the column has).
[[nodiscard]] CsvTable where(const CsvTable& table,
                             const std::vector<std::pair<std::string, std::string>>& conditions);

// Throws ChartError for an unknown column ("did you mean" the closest), a y column with a value
// that is not a number, and for a log axis (`log`) a value <= 0 or a text x column, each naming
// the file and line.
[[nodiscard]] ChartData chart_data(const CsvTable& table, const std::string& x,
                                   const std::string& y,
                                   const std::optional<std::string>& series = std::nullopt,
                                   LogAxes log = {});

// An SVG line chart with axes, ticks, labels and a legend. The plot is 520 x 380 px; the canvas
// (800 x 500 px at least) grows to hold long legend entries, notes, tick labels and titles, whose
// widths text_width_px estimates. A log axis (data.log) has " (log scale)" after its title.
// Throws ChartError for a log axis with a value <= 0 or over categories (chart_data reports these
// with the file and line).
[[nodiscard]] std::string svg_chart(const ChartData& data, const std::string& title);

// The width in px of a line of `text` in the charts' sans-serif font at `font_size` px: an
// estimate from its characters that errs wide.
[[nodiscard]] double text_width_px(std::string_view text, double font_size, bool bold = false);

// A tick label: large values with an SI suffix (12.5M rather than 1.25e+07: dollars, tokens,
// bytes), the rest as they are, and 0 for what rounding left of it.
[[nodiscard]] std::string tick_label(double value);

// Tick positions for an axis over [low, high]: about `target` steps of 1, 2 or 5 x 10^k, and
// none shorter than `least_step` (1 for an axis of whole numbers).
[[nodiscard]] std::vector<double> nice_ticks(double low, double high, int target = 6,
                                             double least_step = 0);

// Tick positions for a log axis over [low, high] (both > 0): every power of ten from the one at
// or below `low` to the one at or above `high`, at least one decade apart.
[[nodiscard]] std::vector<double> log_ticks(double low, double high);

}  // namespace clustersim::report
