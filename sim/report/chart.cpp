#include "sim/report/chart.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "sim/config/suggest.hpp"

namespace clustersim::report {

namespace {

std::vector<std::string> split_csv_line(const std::string& line, const std::string& path,
                                        int line_number) {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        field.push_back(ch);
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      fields.push_back(field);
      field.clear();
    } else if (ch != '\r') {
      field.push_back(ch);
    }
  }
  if (quoted) throw ChartError(fmt::format("{}:{}: unterminated quoted field", path, line_number));
  fields.push_back(field);
  return fields;
}

std::optional<double> number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::size_t column(const CsvTable& table, const std::string& name, const char* option) {
  const auto it = std::find(table.header.begin(), table.header.end(), name);
  if (it != table.header.end()) return static_cast<std::size_t>(it - table.header.begin());
  std::string message =
      fmt::format("{}: {} \"{}\" is not a column of the table", table.path, option, name);
  // A misspelling; else the last part of a dotted key ("tp" for parallelism.tp), or the start
  // of one column's name ("step" for step_time_s).
  std::vector<std::string> meant;
  if (const std::optional<std::string> close = config::closest_match(name, table.header)) {
    meant.push_back(*close);
  } else if (!name.empty()) {
    for (const std::string& header : table.header) {
      if (header.ends_with("." + name)) meant.push_back(header);
    }
    if (meant.empty()) {
      for (const std::string& header : table.header) {
        if (header.starts_with(name)) meant.push_back(header);
      }
    }
  }
  if (meant.size() == 1) {
    message += fmt::format("; did you mean \"{}\"?", meant.front());
  } else if (!meant.empty() && meant.size() <= 5) {
    message += fmt::format("; did you mean {}?", config::quoted_list(meant));
  }
  throw ChartError(message);
}

std::string escape(const std::string& text) {
  std::string out;
  for (char ch : text) {
    switch (ch) {
      case '<':
        out.append("&lt;");
        break;
      case '>':
        out.append("&gt;");
        break;
      case '&':
        out.append("&amp;");
        break;
      case '"':
        out.append("&quot;");
        break;
      default:
        out.push_back(ch);
    }
  }
  return out;
}

// A log axis's decade, as tick_label writes numbers but without snapping tiny values to 0: on a log
// axis 1e-15 is a decade like any other.
std::string decade_label(double value) {
  return fmt::format("{:.6g}", value);
}

// 10^k as the literal "1ek" reads: exact for k >= 0 (to 10^22), and for k < 0 one rounding of an
// exact quotient, so log_ticks gives 0.01, not 0.010000000000000002.
double power_of_ten(int k) {
  double power = 1;
  for (int i = 0; i < std::abs(k); ++i) power *= 10;
  return k < 0 ? 1 / power : power;
}

// The k of the power of ten at or below `value` (> 0); log10 alone may land a step off next to a
// power of ten.
int decade_at_or_below(double value) {
  int k = static_cast<int>(std::floor(std::log10(value)));
  if (power_of_ten(k) > value) --k;
  if (power_of_ten(k + 1) <= value) ++k;
  return k;
}

const char* const kLogAxisNote = "cannot be shown on a log axis (values must be > 0)";

}  // namespace

CsvTable read_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ChartError(fmt::format("{}: cannot open the table", path));
  CsvTable table;
  table.path = path;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    std::vector<std::string> fields = split_csv_line(line, path, line_number);
    if (table.header.empty()) {
      table.header = std::move(fields);
      continue;
    }
    if (fields.size() != table.header.size()) {
      throw ChartError(fmt::format("{}:{}: {} fields, but the header has {}", path, line_number,
                                   fields.size(), table.header.size()));
    }
    table.rows.push_back(std::move(fields));
    table.lines.push_back(line_number);
  }
  if (table.header.empty()) throw ChartError(fmt::format("{}: the table is empty", path));
  return table;
}

std::string column_title(std::string_view column) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 18> kTitles{{
      {"step_time_s", "step time (s)"},
      {"tokens_per_day", "tokens per day"},
      {"tflops_causal", "TFLOP/s per GPU (causal)"},
      {"tflops_noncausal", "TFLOP/s per GPU (non-causal)"},
      {"mfu_causal", "MFU (causal, fraction of peak)"},
      {"mfu_noncausal", "MFU (non-causal, fraction of peak)"},
      {"memory_peak_bytes", "peak memory per GPU (bytes)"},
      {"gpu_hours_per_trillion_tokens", "GPU-hours per trillion tokens"},
      {"usd_per_trillion_tokens", "cost per trillion tokens (USD)"},
      {"network_capex_usd", "network capex (USD)"},
      {"cost.capex_usd.total", "capex (USD)"},
      {"cost.total_usd", "training cost (USD)"},
      {"cost.training_days", "training days"},
      // clustersim collective --out
      {"time_s", "time (s)"},
      {"size_bytes", "size (bytes)"},
      {"algbw_GBps", "algorithm bandwidth (GB/s)"},
      {"busbw_GBps", "bus bandwidth (GB/s)"},
      {"tp", "TP size"},
  }};
  for (const auto& [name, title] : kTitles) {
    if (name == column) return std::string(title);
  }
  return std::string(column);
}

CsvTable where(const CsvTable& table,
               const std::vector<std::pair<std::string, std::string>>& conditions) {
  CsvTable kept = table;
  for (const auto& [key, value] : conditions) {
    const std::size_t c = column(kept, key, "--where");
    CsvTable next{kept.path, kept.header, {}, {}};
    std::vector<std::string> values;
    for (std::size_t r = 0; r < kept.rows.size(); ++r) {
      const std::string& cell = kept.rows[r][c];
      if (std::find(values.begin(), values.end(), cell) == values.end()) values.push_back(cell);
      if (cell != value) continue;
      next.rows.push_back(kept.rows[r]);
      if (kept.lines.size() == kept.rows.size()) next.lines.push_back(kept.lines[r]);
    }
    if (next.rows.empty()) {
      std::string listed;
      for (const std::string& v : values) listed += (listed.empty() ? "" : ", ") + v;
      throw ChartError(fmt::format("{}: --where {}={}: no row has this value (the rows have {})",
                                   table.path, key, value, listed.empty() ? "none" : listed));
    }
    kept = std::move(next);
  }
  return kept;
}

ChartData chart_data(const CsvTable& table, const std::string& x, const std::string& y,
                     const std::optional<std::string>& series, LogAxes log) {
  const std::size_t xc = column(table, x, "--x");
  const std::size_t yc = column(table, y, "--y");
  const bool by_series = series.has_value();
  const std::size_t sc = by_series ? column(table, *series, "--series") : 0;
  ChartData data;
  data.x_label = x;
  data.y_label = y;
  data.x_title = column_title(x);
  data.y_title = column_title(y);
  if (by_series) data.series_label = *series;
  data.log = log;
  const auto line_of = [&](std::size_t r) {
    return table.lines.size() == table.rows.size() ? table.lines[r] : static_cast<int>(r) + 2;
  };
  // x is numeric when every row with a y value has a numeric x.
  std::optional<std::size_t> text_x_row;  // the first row that makes x categorical
  for (std::size_t r = 0; r < table.rows.size() && !text_x_row; ++r) {
    if (!table.rows[r][yc].empty() && !number(table.rows[r][xc])) text_x_row = r;
  }
  const bool numeric_x = !text_x_row;
  if (log.x && text_x_row) {
    throw ChartError(
        fmt::format("{}:{}: the x column \"{}\" is text (\"{}\"): a log axis needs numbers",
                    table.path, line_of(*text_x_row), x, table.rows[*text_x_row][xc]));
  }
  // A value a log axis cannot place, named with its line.
  const auto check_positive = [&](std::size_t r, std::size_t c, double value) {
    if (value > 0) return;
    throw ChartError(fmt::format("{}:{}: column \"{}\": {} {}", table.path, line_of(r),
                                 table.header[c], table.rows[r][c], kLogAxisNote));
  };
  std::map<std::string, std::size_t> series_index;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const std::vector<std::string>& row = table.rows[r];
    if (row[yc].empty()) {
      ++data.skipped_rows;
      continue;
    }
    const std::optional<double> value = number(row[yc]);
    if (!value) {
      throw ChartError(
          fmt::format("{}: row {}: {} = \"{}\" is not a number", table.path, r + 1, y, row[yc]));
    }
    double x_value = 0;
    if (numeric_x) {
      x_value = *number(row[xc]);
      if (log.x) check_positive(r, xc, x_value);
    } else {
      auto it = std::find(data.categories.begin(), data.categories.end(), row[xc]);
      if (it == data.categories.end()) it = data.categories.insert(it, row[xc]);
      x_value = static_cast<double>(it - data.categories.begin());
    }
    if (log.y) check_positive(r, yc, *value);
    const std::string name = by_series ? row[sc] : y;
    auto [it, inserted] = series_index.emplace(name, data.series.size());
    if (inserted) data.series.push_back({name, {}, {}});
    data.series[it->second].x.push_back(x_value);
    data.series[it->second].y.push_back(*value);
  }
  // Series named by numbers (a swept pp, a count of nodes) are listed in their order, the
  // others as they first appear.
  if (std::all_of(data.series.begin(), data.series.end(),
                  [](const ChartSeries& s) { return number(s.name).has_value(); })) {
    std::stable_sort(data.series.begin(), data.series.end(),
                     [](const ChartSeries& a, const ChartSeries& b) {
                       return *number(a.name) < *number(b.name);
                     });
  }
  for (ChartSeries& s : data.series) {
    // Lines join points in x order.
    std::vector<std::size_t> order(s.x.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return s.x[a] < s.x[b]; });
    ChartSeries sorted{s.name, {}, {}};
    for (std::size_t i : order) {
      sorted.x.push_back(s.x[i]);
      sorted.y.push_back(s.y[i]);
    }
    s = std::move(sorted);
  }
  if (data.series.empty()) {
    throw ChartError(fmt::format("{}: no row has a value in column \"{}\"", table.path, y));
  }
  return data;
}

std::string tick_label(double value) {
  if (std::abs(value) < 1e-12) return "0";
  constexpr std::array<std::pair<double, const char*>, 4> kSuffixes{
      {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}}};
  for (const auto& [scale, suffix] : kSuffixes) {
    if (std::abs(value) >= scale) {
      const double divisor = scale == 1e4 ? 1e3 : scale;  // 15000 -> 15k
      return fmt::format("{:.4g}{}", value / divisor, suffix);
    }
  }
  return fmt::format("{:.6g}", value);
}

std::vector<double> nice_ticks(double low, double high, int target, double least_step) {
  if (!(high > low)) {
    const double pad = low == 0 ? 1 : std::abs(low) * 0.1;
    low -= pad;
    high += pad;
  }
  const double raw = (high - low) / std::max(1, target);
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  step = std::max(step, least_step);
  std::vector<double> ticks;
  for (double t = std::floor(low / step) * step; t <= high + step * 1e-9; t += step) {
    ticks.push_back(t);
  }
  if (ticks.back() < high) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::vector<double> log_ticks(double low, double high) {
  int first = decade_at_or_below(low);
  int last = decade_at_or_below(high);
  if (power_of_ten(last) < high) ++last;
  if (last == first) {
    // All the data at one power of ten: the decades either side keep it off the plot's edges.
    --first;
    ++last;
  }
  std::vector<double> ticks;
  for (int k = first; k <= last; ++k) ticks.push_back(power_of_ten(k));
  return ticks;
}

double text_width_px(std::string_view text, double font_size, bool bold) {
  // DejaVu Sans (what "sans-serif" is on most Linux systems, wider than Helvetica or Arial) gives
  // lowercase letters, digits and punctuation 0.3 to 0.64 em and capitals, m and w up to 1 em;
  // an estimate that errs wide counts 0.62 em and 0.9 em, and 10 % more in bold.
  double em = 0;
  for (const char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    if (byte >= 0x80 && byte < 0xC0) continue;  // a UTF-8 continuation byte
    const bool wide =
        std::isupper(byte) != 0 || byte >= 0x80 || ch == 'm' || ch == 'w' || ch == '@' || ch == '%';
    em += wide ? 0.9 : 0.62;
  }
  return em * font_size * (bold ? 1.1 : 1.0);
}

namespace {

constexpr double kFontSize = 12;
constexpr double kTitleSize = 16;
constexpr double kNoteSize = 11;

// Where the parts of a chart go. The plot keeps its size (520 x 380 px); the margins around it
// grow to hold what is written there (tick labels, the legend and its notes, titles), so nothing
// is clipped by the canvas.
struct ChartLayout {
  double left = 90;    // the y tick labels and the y axis label
  double right = 190;  // the legend
  double top = 50;     // the title
  double plot_w = 520;
  double plot_h = 380;
  double height = 500;  // at least top + plot_h + 70 (the x tick labels and the x axis label)
  [[nodiscard]] double width() const { return left + plot_w + right; }
};

// Space kept between neighbouring tick labels of a log axis, and the shortest decade that still
// gets the light grid lines at 2..9 x 10^k (shorter, they would merge into a grey band).
constexpr double kLabelGap = 8;
constexpr double kMinorGridMinDecade = 40;
constexpr const char* kGridColour = "#dddddd";
constexpr const char* kMinorGridColour = "#eeeeee";
constexpr const char* kLogScaleSuffix = " (log scale)";

// The lines of a log axis `length` px long over [low, high] (both > 0).
struct LogGrid {
  double low = 0;  // log10 of the ends: where values are placed, log10(value) between them
  double high = 0;
  std::vector<double> labelled;  // decades with a tick label
  std::vector<double> plain;     // decades without one, where the labels would crowd
  std::vector<double> minor;     // 2..9 x 10^k, on decades long enough to show them
};

// Every decade is labelled where the labels fit along the axis (the widest label's width on the
// horizontal axis, the font's height on the vertical one, and a gap); otherwise every n-th, at
// multiples of n, so 1, 1000, 1e+06 rather than an offset run.
LogGrid log_grid(double low, double high, double length, bool horizontal) {
  const std::vector<double> decades = log_ticks(low, high);
  LogGrid grid;
  grid.low = std::log10(decades.front());
  grid.high = std::log10(decades.back());
  const double decade_px = length / (grid.high - grid.low);
  double label_extent = kFontSize;
  if (horizontal) {
    label_extent = 0;
    for (double d : decades) {
      label_extent = std::max(label_extent, text_width_px(decade_label(d), kFontSize));
    }
  }
  const int stride =
      std::max(1, static_cast<int>(std::ceil((label_extent + kLabelGap) / decade_px)));
  for (double d : decades) {
    const int k = static_cast<int>(std::lround(std::log10(d)));
    (k % stride == 0 ? grid.labelled : grid.plain).push_back(d);
  }
  if (decade_px >= kMinorGridMinDecade) {
    for (std::size_t i = 0; i + 1 < decades.size(); ++i) {
      for (int m = 2; m <= 9; ++m) grid.minor.push_back(m * decades[i]);
    }
  }
  return grid;
}

// A log axis can place only values > 0; chart_data names the file and line of one that is not,
// this catches charts made another way.
void check_log_axis(const ChartData& data, bool x_axis) {
  for (const ChartSeries& s : data.series) {
    for (double v : x_axis ? s.x : s.y) {
      if (!(v > 0)) {
        throw ChartError(fmt::format("{} = {} {}", x_axis ? data.x_label : data.y_label,
                                     tick_label(v), kLogAxisNote));
      }
    }
  }
}

}  // namespace

std::string svg_chart(const ChartData& data, const std::string& title) {
  // Twelve distinct colours; series past the twelfth repeat them with dashed lines, so that no
  // two lines look alike.
  constexpr std::array<const char*, 12> kColours{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                 "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                                 "#bcbd22", "#7f7f7f", "#000000", "#aec7e8"};
  double x_low = 1e300, x_high = -1e300, y_low = 1e300, y_high = -1e300;
  for (const ChartSeries& s : data.series) {
    for (double v : s.x) x_low = std::min(x_low, v), x_high = std::max(x_high, v);
    for (double v : s.y) y_low = std::min(y_low, v), y_high = std::max(y_high, v);
  }
  const bool categorical = !data.categories.empty();
  if (data.log.x && categorical) {
    throw ChartError(
        fmt::format("the x column \"{}\" is text: a log axis needs numbers", data.x_label));
  }
  if (data.log.x) check_log_axis(data, true);
  if (data.log.y) check_log_axis(data, false);
  ChartLayout layout;
  // On a log axis, values are placed by their log10, between the decades that cover them.
  std::optional<LogGrid> x_log;
  std::optional<LogGrid> y_log;
  std::vector<double> x_ticks;
  if (categorical) {
    for (std::size_t i = 0; i < data.categories.size(); ++i)
      x_ticks.push_back(static_cast<double>(i));
    x_low = -0.5;
    x_high = static_cast<double>(data.categories.size()) - 0.5;
  } else if (data.log.x) {
    x_log = log_grid(x_low, x_high, layout.plot_w, true);
    x_ticks = x_log->labelled;
    x_low = x_log->low;
    x_high = x_log->high;
  } else {
    // Whole-number x values (tp, nodes, a count of SMs) get whole-number ticks.
    const bool whole = std::all_of(data.series.begin(), data.series.end(), [](const auto& s) {
      return std::all_of(s.x.begin(), s.x.end(), [](double v) { return v == std::round(v); });
    });
    x_ticks = nice_ticks(x_low, x_high, 6, whole ? 1 : 0);
    x_low = x_ticks.front();
    x_high = x_ticks.back();
  }
  std::vector<double> y_ticks;
  if (data.log.y) {
    y_log = log_grid(y_low, y_high, layout.plot_h, false);
    y_ticks = y_log->labelled;
    y_low = y_log->low;
    y_high = y_log->high;
  } else {
    y_ticks = nice_ticks(std::min(0.0, y_low), y_high);
    y_low = y_ticks.front();
    y_high = y_ticks.back();
  }
  const auto x_at = [&](double v) { return x_log ? std::log10(v) : v; };
  const auto y_at = [&](double v) { return y_log ? std::log10(v) : v; };
  std::vector<std::string> x_labels;
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    x_labels.push_back(categorical ? data.categories[i]
                       : x_log     ? decade_label(x_ticks[i])
                                   : tick_label(x_ticks[i]));
  }
  std::vector<std::string> y_labels;
  for (double t : y_ticks) y_labels.push_back(y_log ? decade_label(t) : tick_label(t));
  const std::string x_title = data.log.x ? data.x_axis() + kLogScaleSuffix : data.x_axis();
  const std::string y_title = data.log.y ? data.y_axis() + kLogScaleSuffix : data.y_axis();

  // Left: the rotated y label (its line from x = 8 to 23), then the y tick labels, 8 px before
  // the plot.
  for (const std::string& label : y_labels) {
    layout.left = std::max(layout.left, 36 + text_width_px(label, kFontSize));
  }
  // The x tick labels are centred on their ticks.
  const auto tick_x = [&](double v) {
    return (x_at(v) - x_low) / (x_high - x_low) * layout.plot_w;
  };
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    const double half = text_width_px(x_labels[i], kFontSize) / 2;
    layout.left = std::max(layout.left, half + 4 - tick_x(x_ticks[i]));
    layout.right = std::max(layout.right, tick_x(x_ticks[i]) + half + 4 - layout.plot_w);
  }
  // Right: the legend, 15 px after the plot: a heading, a 25 px line and the name of each
  // series, and the note on rows left out.
  const std::string note =
      data.skipped_rows > 0 ? fmt::format("{} row(s) without a value left out", data.skipped_rows)
                            : std::string();
  const double heading_rows = data.series_label.empty() ? 0 : 1;
  double legend_w = text_width_px(data.series_label, kFontSize, true);
  for (const ChartSeries& series : data.series) {
    legend_w = std::max(legend_w, 31 + text_width_px(series.name, kFontSize));
  }
  legend_w = std::max(legend_w, text_width_px(note, kNoteSize));
  layout.right = std::max(layout.right, 15 + legend_w + 10);
  const auto legend_y = [&](std::size_t s) {
    return layout.top + 10 + 20 * (static_cast<double>(s) + heading_rows);
  };
  const double plot_bottom = layout.top + layout.plot_h;
  const double note_y = std::max(plot_bottom, legend_y(data.series.size()) + 14);
  layout.height =
      std::max(layout.height, (note.empty() ? legend_y(data.series.size()) : note_y) + 10);
  // Titles: centred on the plot where they fit, else on the canvas, which grows to hold them.
  const auto centred = [](double centre, double text_w, double extent) {
    return std::clamp(centre, text_w / 2 + 4, std::max(text_w / 2 + 4, extent - text_w / 2 - 4));
  };
  const double title_w = text_width_px(title, kTitleSize);
  const double x_label_w = text_width_px(x_title, kFontSize);
  layout.right += std::max(0.0, std::max(title_w, x_label_w) + 8 - layout.width());
  const double y_label_w = text_width_px(y_title, kFontSize);
  layout.height = std::max(layout.height, y_label_w + 8);
  // Whole pixels.
  layout.left = std::ceil(layout.left);
  layout.right = std::ceil(layout.right);
  layout.height = std::ceil(layout.height);
  const double width = layout.width();
  const double height = layout.height;
  const double left = layout.left;
  const double top = layout.top;
  const double plot_w = layout.plot_w;
  const double plot_h = layout.plot_h;
  const auto px = [&](double v) { return left + tick_x(v); };
  const auto py = [&](double v) {
    return top + (1 - (y_at(v) - y_low) / (y_high - y_low)) * plot_h;
  };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" font-family=\"sans-serif\" font-size=\"{4}\">\n"
      "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" font-size=\"{5}\" text-anchor=\"middle\">{3}</text>\n",
      width, height, centred(left + plot_w / 2, title_w, width), escape(title), kFontSize,
      kTitleSize);
  // Log axes: the light lines at 2..9 x 10^k under the decades' lines, then the decades left
  // without a label.
  const auto y_grid = [&](double t, const char* colour) {
    svg +=
        fmt::format("<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"{3}\"/>\n",
                    left, py(t), left + plot_w, colour);
  };
  const auto x_grid = [&](double t, const char* colour) {
    svg +=
        fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"{3}\"/>\n",
                    px(t), top, plot_bottom, colour);
  };
  if (y_log) {
    for (double t : y_log->minor) y_grid(t, kMinorGridColour);
    for (double t : y_log->plain) y_grid(t, kGridColour);
  }
  if (x_log) {
    for (double t : x_log->minor) x_grid(t, kMinorGridColour);
    for (double t : x_log->plain) x_grid(t, kGridColour);
  }
  for (std::size_t i = 0; i < y_ticks.size(); ++i) {
    const double t = y_ticks[i];
    y_grid(t, kGridColour);
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", left - 8,
                       py(t) + 4, y_labels[i]);
  }
  for (std::size_t i = 0; i < x_ticks.size(); ++i) {
    const double t = x_ticks[i];
    x_grid(t, kGridColour);
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(t),
                       plot_bottom + 18, escape(x_labels[i]));
  }
  svg += fmt::format(
      "<rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" fill=\"none\" stroke=\"black\"/>\n"
      "<text x=\"{4}\" y=\"{5}\" text-anchor=\"middle\">{6}</text>\n"
      "<text transform=\"translate(20,{7}) rotate(-90)\" text-anchor=\"middle\">{8}</text>\n",
      left, top, plot_w, plot_h, centred(left + plot_w / 2, x_label_w, width), plot_bottom + 50,
      escape(x_title), centred(top + plot_h / 2, y_label_w, height), escape(y_title));
  const double legend_x = left + plot_w + 15;
  for (std::size_t s = 0; s < data.series.size(); ++s) {
    const ChartSeries& series = data.series[s];
    const char* colour = kColours[s % kColours.size()];
    const char* dash = (s / kColours.size()) % 2 == 1 ? " stroke-dasharray=\"6 3\"" : "";
    std::string points;
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      points.append(fmt::format("{}{:.1f},{:.1f}", i ? " " : "", px(series.x[i]), py(series.y[i])));
    }
    svg +=
        fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                    points, colour, dash);
    for (std::size_t i = 0; i < series.x.size(); ++i) {
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/>\n",
                         px(series.x[i]), py(series.y[i]), colour);
    }
    svg += fmt::format(
        "<line x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"3\"{7}/>\n<text x=\"{4}\" y=\"{5:.1f}\">{6}</text>\n",
        legend_x, legend_y(s), legend_x + 25, colour, legend_x + 31, legend_y(s) + 4,
        escape(series.name), dash);
  }
  if (!data.series_label.empty()) {
    svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-weight=\"bold\">{}</text>\n", legend_x,
                       top + 14, escape(data.series_label));
  }
  if (!note.empty()) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" fill=\"#666666\">{}</text>\n",
                       legend_x, note_y, kNoteSize, note);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace clustersim::report
