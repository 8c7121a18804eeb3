// Charts of result tables: CSV reading, series building, tick choice and the SVG.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sim/report/chart.hpp"

namespace clustersim::report {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// The message of the ChartError that `f` throws, or "no error".
template <class F>
std::string chart_error(F&& f) {
  try {
    f();
  } catch (const ChartError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Chart, NiceTicksStepByOneTwoOrFive) {
  EXPECT_EQ(nice_ticks(0, 21.4), (std::vector<double>{0, 5, 10, 15, 20, 25}));
  const std::vector<double> unit = nice_ticks(0, 1);
  ASSERT_EQ(unit.size(), 6u);
  for (std::size_t i = 0; i < unit.size(); ++i)
    EXPECT_NEAR(unit[i], 0.2 * static_cast<double>(i), 1e-12);
  // Ticks start at a multiple of the step at or below the low end.
  EXPECT_EQ(nice_ticks(100, 1000), (std::vector<double>{0, 200, 400, 600, 800, 1000}));
  // A flat series still gets an axis.
  EXPECT_GT(nice_ticks(5, 5).size(), 1u);
  // An axis of whole numbers takes no step shorter than 1.
  EXPECT_EQ(nice_ticks(1, 4), (std::vector<double>{1, 1.5, 2, 2.5, 3, 3.5, 4}));
  EXPECT_EQ(nice_ticks(1, 4, 6, 1), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(nice_ticks(0, 1000, 6, 1), nice_ticks(0, 1000));
}

TEST(Chart, QuotedFieldsKeepTheirCommasAndQuotes) {
  const std::string path =
      write_temp("cs_chart_quotes.csv", "a,b,reason\n1,2,\"does not fit, \"\"80 GB\"\"\"\n");
  const CsvTable table = read_csv(path);
  ASSERT_EQ(table.rows.size(), 1u);
  EXPECT_EQ(table.rows[0][2], "does not fit, \"80 GB\"");
}

TEST(Chart, SweepResultsMakeOneLinePerSeriesWithTextCategories) {
  const CsvTable table = read_csv(kRoot + "/tests/data/good/sweep_results.csv");
  const ChartData data =
      chart_data(table, "hardware.scale_out.nic_bandwidth", "step_time_s", "parallelism.pp");
  EXPECT_EQ(data.categories, (std::vector<std::string>{"200 Gb/s", "400 Gb/s", "800 Gb/s"}));
  ASSERT_EQ(data.series.size(), 2u);     // pp 8 does not fit: its rows have no step time
  EXPECT_EQ(data.series[0].name, "16");  // the value; the column heads the legend
  EXPECT_EQ(data.series_label, "parallelism.pp");
  EXPECT_EQ(data.series[0].x, (std::vector<double>{0, 1, 2}));
  EXPECT_EQ(data.skipped_rows, 3);
  const std::string svg = svg_chart(data, "step");
  EXPECT_EQ(svg.substr(0, 4), "<svg");
  std::size_t lines = 0;
  for (std::size_t at = svg.find("<polyline"); at != std::string::npos;
       at = svg.find("<polyline", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 2u);
  EXPECT_NE(svg.find(">32</text>"), std::string::npos);
  EXPECT_NE(svg.find("font-weight=\"bold\">parallelism.pp</text>"), std::string::npos);
  EXPECT_NE(svg.find("3 row(s) without a value left out"), std::string::npos);
}

// The box a text element of an SVG chart covers, from its position, anchor, font size and
// rotation, at 0.6 em per character (0.66 in bold): DejaVu Sans, the usual "sans-serif" on Linux,
// averages 0.47 to 0.6 em a character over such labels ("rail_only", "cluster.topology",
// "DeepSeek-V3 MPFT 2048 GPUs"). Above the baseline 1 em, below it 0.25 em.
struct TextBox {
  std::string text;
  double left = 0, right = 0, top = 0, bottom = 0;
};

struct SvgTexts {
  double width = 0;
  double height = 0;
  std::vector<TextBox> boxes;
};

SvgTexts svg_texts(const std::string& svg) {
  SvgTexts out;
  std::smatch root;
  EXPECT_TRUE(std::regex_search(svg, root,
                                std::regex("<svg [^>]*width=\"([0-9.]+)\" height=\"([0-9.]+)\"")));
  out.width = std::stod(root[1]);
  out.height = std::stod(root[2]);
  const std::regex text_element("<text([^>]*)>([^<]*)</text>");
  const std::regex attribute("([a-z-]+)=\"([^\"]*)\"");
  const std::regex rotation("translate\\(([0-9.]+),([0-9.]+)\\) rotate\\(-90\\)");
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), text_element);
       it != std::sregex_iterator(); ++it) {
    std::map<std::string, std::string> attributes;
    const std::string tag = (*it)[1];
    for (auto a = std::sregex_iterator(tag.begin(), tag.end(), attribute);
         a != std::sregex_iterator(); ++a) {
      attributes[(*a)[1]] = (*a)[2];
    }
    TextBox box;
    box.text = std::regex_replace(std::string((*it)[2]), std::regex("&[a-z]+;"), "_");
    const double size = attributes.contains("font-size") ? std::stod(attributes["font-size"]) : 12;
    const double em = attributes["font-weight"] == "bold" ? 0.66 : 0.6;
    const double length = em * size * static_cast<double>(box.text.size());
    const std::string anchor = attributes["text-anchor"];
    const double before = anchor == "middle" ? length / 2 : anchor == "end" ? length : 0;
    std::smatch rotated;
    if (std::regex_match(attributes["transform"], rotated, rotation)) {
      // Rotated a quarter turn anticlockwise: the text runs up from its anchor.
      const double x = std::stod(rotated[1]);
      const double y = std::stod(rotated[2]);
      box.left = x - size;
      box.right = x + 0.25 * size;
      box.bottom = y + before;
      box.top = box.bottom - length;
    } else {
      const double x = std::stod(attributes["x"]);
      const double y = std::stod(attributes["y"]);
      box.left = x - before;
      box.right = box.left + length;
      box.top = y - size;
      box.bottom = y + 0.25 * size;
    }
    out.boxes.push_back(box);
  }
  return out;
}

void expect_every_text_inside(const std::string& svg) {
  const SvgTexts texts = svg_texts(svg);
  ASSERT_FALSE(texts.boxes.empty());
  for (const TextBox& box : texts.boxes) {
    EXPECT_GE(box.left, 0) << box.text;
    EXPECT_LE(box.right, texts.width) << box.text;
    EXPECT_GE(box.top, 0) << box.text;
    EXPECT_LE(box.bottom, texts.height) << box.text;
  }
}

// The canvas grows to hold long legend entries, a long legend heading, the note on rows left out,
// long category names and titles; a chart with short labels keeps its 800 x 500 px.
TEST(Chart, EveryTextLiesInsideTheCanvas) {
  ChartData sms;
  sms.x_label = "parallelism.comm_sms";
  sms.y_label = "step_time_s";
  sms.series.push_back({"step_time_s", {2, 8, 16, 20, 48}, {66.2, 23.0, 18.67, 18.92, 23.1}});
  const std::string plain = svg_chart(sms, "step_time_s against parallelism.comm_sms");
  expect_every_text_inside(plain);
  EXPECT_EQ(svg_texts(plain).width, 800);
  EXPECT_EQ(svg_texts(plain).height, 500);

  // The topology comparison at 16,384 GPUs: FT2 is a row without a value, whose note the
  // 800 px canvas used to cut.
  ChartData networks;
  networks.x_label = "network_capex_usd";
  networks.y_label = "step_time_s";
  networks.series_label = "cluster.topology";
  networks.skipped_rows = 1;
  for (const char* name : {"ft3", "mpft", "mrft", "rail_only", "slimfly", "dragonfly"}) {
    networks.series.push_back({name, {1.0e8, 1.2e8}, {19.0, 24.6}});
  }
  const std::string noted = svg_chart(networks, "step_time_s against network_capex_usd");
  expect_every_text_inside(noted);
  EXPECT_NE(noted.find(">1 row(s) without a value left out</text>"), std::string::npos);

  ChartData crowded;
  crowded.x_label = "hardware.scale_out.nic_bandwidth, the line rate of every NIC of the cluster";
  crowded.y_label =
      "step_time_s, the time of one training step with every phase, bubble and exposed transfer";
  crowded.series_label = "cluster.topology with its plane count and the radix of its switches";
  crowded.categories = {"Multi-Plane Fat-Tree of 64-port switches", "400 Gb/s", "800 Gb/s",
                        "Quantum-X800 Q3400 XDR, 144 ports <&> \"twin\""};
  crowded.skipped_rows = 12;
  for (int s = 0; s < 30; ++s) {
    crowded.series.push_back(
        {"multi-plane fat-tree of 8 planes, 64-port QM9700 switches #" + std::to_string(s),
         {0, 1, 2, 3},
         {1.0 * s, 2.0 * s, 3.0, 4.0e7}});
  }
  const std::string svg =
      svg_chart(crowded,
                "Step time of DeepSeek-V3 on 2,048 H800 GPUs against the line rate of the NICs, "
                "one line per network");
  expect_every_text_inside(svg);
  EXPECT_GT(svg_texts(svg).width, 800);
  EXPECT_GT(svg_texts(svg).height, 500);
}

TEST(Chart, NumericXIsPlacedByValue) {
  const CsvTable table = read_csv(kRoot + "/tests/data/good/sweep_results.csv");
  const ChartData data = chart_data(table, "parallelism.pp", "step_time_s");
  EXPECT_TRUE(data.categories.empty());
  ASSERT_EQ(data.series.size(), 1u);
  EXPECT_EQ(data.series[0].x.front(), 16);
  EXPECT_EQ(data.series[0].x.back(), 32);
}

// Every series gets a line of its own look: twelve colours, then the same colours dashed.
TEST(Chart, ManySeriesNeverShareALook) {
  ChartData data;
  data.x_label = "x";
  data.y_label = "y";
  for (int s = 0; s < 14; ++s) {
    data.series.push_back({"series " + std::to_string(s), {1, 2}, {1.0 * s, 2.0 * s}});
  }
  const std::string svg = svg_chart(data, "many");
  const std::regex polyline(
      "<polyline [^>]*stroke=\"(#[0-9a-f]{6})\"[^>]*?( stroke-dasharray=\"[^\"]*\")?/>");
  std::vector<std::pair<std::string, bool>> looks;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), polyline);
       it != std::sregex_iterator(); ++it) {
    looks.emplace_back((*it)[1].str(), (*it)[2].matched);
  }
  ASSERT_EQ(looks.size(), 14u);
  EXPECT_EQ(std::set(looks.begin(), looks.end()).size(), 14u);
  EXPECT_EQ(std::set<std::string>({looks[0].first, looks[5].first, looks[11].first}).size(), 3u);
  EXPECT_FALSE(looks[11].second);
  EXPECT_EQ(looks[12], std::pair(looks[0].first, true));
  EXPECT_EQ(looks[13], std::pair(looks[1].first, true));
}

// A sweep over tp (whole numbers) with zero as the series: whole-number x ticks, and the series
// in the order of their values though zero 3 has the first row with a value.
TEST(Chart, WholeNumbersGetWholeTicksAndSeriesTheirOrder) {
  const CsvTable table = read_csv(write_temp(
      "cs_chart_whole.csv", "tp,zero,t\n1,1,\n1,3,5.6\n2,1,6.3\n2,3,6.2\n4,1,7.4\n4,3,7.3\n"));
  const ChartData data = chart_data(table, "tp", "t", "zero");
  ASSERT_EQ(data.series.size(), 2u);
  EXPECT_EQ(data.series[0].name, "1");
  EXPECT_EQ(data.series[1].name, "3");
  const std::string svg = svg_chart(data, "t against tp");
  EXPECT_NE(svg.find("text-anchor=\"middle\">3</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">1.5</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">2.5</text>"), std::string::npos);
  // Text series keep the order they first appear in.
  const ChartData named = chart_data(
      read_csv(write_temp("cs_chart_named.csv", "n,net,t\n1,mpft,2\n1,ft2,3\n2,mpft,2\n")), "n",
      "t", "net");
  EXPECT_EQ(named.series[0].name, "mpft");
}

TEST(Chart, BadColumnsAndValuesAreClearErrors) {
  const std::string path = kRoot + "/tests/data/good/sweep_results.csv";
  const CsvTable table = read_csv(path);
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "point", "step_tme_s"); }),
            path +
                ": --y \"step_tme_s\" is not a column of the table; "
                "did you mean \"step_time_s\"?");
  // The short name of a swept key, or the start of a column's name.
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "pp", "step_time_s"); }),
            path + ": --x \"pp\" is not a column of the table; did you mean \"parallelism.pp\"?");
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "point", "tflops"); }),
            path +
                ": --y \"tflops\" is not a column of the table; did you mean "
                "\"tflops_causal\" or \"tflops_noncausal\"?");
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "point", "latency"); }),
            path + ": --y \"latency\" is not a column of the table");
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "point", "status"); }),
            path + ": row 1: status = \"infeasible\" is not a number");
  const std::string ragged = write_temp("cs_chart_ragged.csv", "a,b\n1,2\n3\n");
  EXPECT_EQ(chart_error([&] { (void)read_csv(ragged); }),
            ragged + ":3: 1 fields, but the header has 2");
}

// Log axes: whole decades that cover the data, one tick at each.
TEST(Chart, LogTicksAreTheDecadesThatCoverTheData) {
  EXPECT_EQ(log_ticks(0.013, 870), (std::vector<double>{0.01, 0.1, 1, 10, 100, 1000}));
  // Wall times against 64..4096 GPUs.
  EXPECT_EQ(log_ticks(64, 4096), (std::vector<double>{10, 100, 1000, 10000}));
  // Data on a power of ten stays on it, not a decade beyond.
  EXPECT_EQ(log_ticks(0.001, 100), (std::vector<double>{0.001, 0.01, 0.1, 1, 10, 100}));
  // Data inside one decade gets that decade; data on one power of ten, the decades either side.
  EXPECT_EQ(log_ticks(5, 5), (std::vector<double>{1, 10}));
  EXPECT_EQ(log_ticks(10, 10), (std::vector<double>{1, 10, 100}));
}

// The position of the tick label that says `label` (a regex) on the x axis or the y axis (centred
// on its tick or ending before the plot), or NaN.
enum class On { kX, kY };
std::pair<double, double> text_at(const std::string& svg, const std::string& label, On axis) {
  std::smatch found;
  const std::string anchor = axis == On::kX ? "middle" : "end";
  if (!std::regex_search(svg, found,
                         std::regex("<text x=\"([0-9.]+)\" y=\"([0-9.]+)\" text-anchor=\"" +
                                    anchor + "\">" + label + "</text>"))) {
    return {std::nan(""), std::nan("")};
  }
  return {std::stod(found[1]), std::stod(found[2])};
}

std::size_t count(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++n;
  }
  return n;
}

TEST(Chart, LogAxesPlacePointsByTheirLog) {
  ChartData data;
  data.x_label = "gpus";
  data.y_label = "wall_s";
  data.log = {.x = true, .y = true};
  // Four decades on each axis: 130 px a decade across, 95 px up, so every position is exact.
  data.series.push_back({"wall_s", {1, 10, 100, 10000}, {1, 10, 100, 10000}});
  const std::string svg = svg_chart(data, "wall_s against gpus");
  expect_every_text_inside(svg);
  EXPECT_NE(svg.find(">gpus (log scale)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">wall_s (log scale)</text>"), std::string::npos);
  for (const char* decade : {"1", "10", "100", "1000", "10000"}) {
    EXPECT_FALSE(std::isnan(text_at(svg, decade, On::kX).first)) << decade;
    EXPECT_FALSE(std::isnan(text_at(svg, decade, On::kY).first)) << decade;
  }
  // The point at (10, 10) lies halfway between the ticks at 1 and 100 on both axes: the x labels
  // are centred on their ticks, the y labels' baselines 4 px below theirs.
  const double x1 = text_at(svg, "1", On::kX).first;
  const double x100 = text_at(svg, "100", On::kX).first;
  const double y1 = text_at(svg, "1", On::kY).second;
  const double y100 = text_at(svg, "100", On::kY).second;
  EXPECT_EQ(x1, 90);   // the plot starts at x = 90
  EXPECT_EQ(y1, 434);  // and ends at y = 430
  std::smatch second;
  ASSERT_TRUE(std::regex_search(
      svg, second, std::regex("<polyline points=\"[0-9.]+,[0-9.]+ ([0-9.]+),([0-9.]+) ")));
  EXPECT_EQ(std::stod(second[1]), 90 + 130);
  EXPECT_EQ(std::stod(second[2]), 430 - 95);
  EXPECT_EQ(std::stod(second[1]), (x1 + x100) / 2);
  EXPECT_EQ(std::stod(second[2]), (y1 + y100) / 2 - 4);
  // Light lines at 2..9 x 10^k: 8 in each of the 4 decades of each axis; none on linear axes.
  EXPECT_EQ(count(svg, "stroke=\"#eeeeee\""), 64u);
  data.log = {};
  const std::string linear = svg_chart(data, "wall_s against gpus");
  EXPECT_EQ(linear.find("#eeeeee"), std::string::npos);
  EXPECT_EQ(linear.find("(log scale)"), std::string::npos);
}

// Over many decades the labels would overlap: every n-th decade is labelled (at multiples of n),
// each still has its line, and the light lines are left out.
TEST(Chart, LogAxesOverManyDecadesLabelEveryNthDecade) {
  ChartData data;
  data.x_label = "x";
  data.y_label = "y";
  data.log = {.x = true, .y = true};
  data.series.push_back({"y", {1e-9, 1, 1e13}, {1e-20, 3, 1e15}});
  const std::string svg = svg_chart(data, "y against x");
  expect_every_text_inside(svg);
  EXPECT_EQ(count(svg, "#eeeeee"), 0u);
  // y: 35 decades in 380 px, every second labelled, tiny decades not written as 0.
  EXPECT_FALSE(std::isnan(text_at(svg, "1e-20", On::kY).first));
  EXPECT_TRUE(std::isnan(text_at(svg, "1e-19", On::kY).first));
  EXPECT_FALSE(std::isnan(text_at(svg, "1e\\+14", On::kY).first));
  EXPECT_TRUE(std::isnan(text_at(svg, "0", On::kY).first));
  // x: 22 decades in 520 px, where a label such as "100000" needs three.
  EXPECT_FALSE(std::isnan(text_at(svg, "1e-09", On::kX).first));
  EXPECT_FALSE(std::isnan(text_at(svg, "0\\.001", On::kX).first));
  EXPECT_TRUE(std::isnan(text_at(svg, "0\\.01", On::kX).first));
  EXPECT_FALSE(std::isnan(text_at(svg, "1e\\+12", On::kX).first));
  EXPECT_EQ(count(svg, "<line "), 36u + 23u + 1u);  // every decade's line, and the legend's
}

TEST(Chart, ValuesALogAxisCannotShowAreClearErrors) {
  // Line 3 is blank: messages name the file's line, not the row's index.
  const std::string path =
      write_temp("cs_chart_log.csv", "gpus,case,wall_s\n64,a,0.5\n\n128,a,0\n-8,b,\n-16,b,2\n");
  const CsvTable table = read_csv(path);
  EXPECT_EQ(table.lines, (std::vector<int>{2, 4, 5, 6}));
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "gpus", "wall_s", "case", {.y = true}); }),
            path + ":4: column \"wall_s\": 0 cannot be shown on a log axis (values must be > 0)");
  // The row on line 5 has no y value: it is left out, and its x of -8 with it.
  EXPECT_EQ(chart_error([&] { (void)chart_data(table, "gpus", "wall_s", "case", {.x = true}); }),
            path + ":6: column \"gpus\": -16 cannot be shown on a log axis (values must be > 0)");
  // Both axes linear: the same table is a chart.
  EXPECT_EQ(chart_data(table, "gpus", "wall_s", "case").series.size(), 2u);

  // A text x column has no log axis; the message names the first row that makes it text (rows 1
  // to 3, on lines 2 to 4, have no step time).
  const std::string sweep = kRoot + "/tests/data/good/sweep_results.csv";
  EXPECT_EQ(chart_error([&] {
              (void)chart_data(read_csv(sweep), "hardware.scale_out.nic_bandwidth", "step_time_s",
                               std::nullopt, {.x = true});
            }),
            sweep +
                ":5: the x column \"hardware.scale_out.nic_bandwidth\" "
                "is text (\"200 Gb/s\"): a log axis needs numbers");
  const ChartData categories = chart_data(read_csv(sweep), "hardware.scale_out.nic_bandwidth",
                                          "step_time_s", std::nullopt, {.y = true});
  EXPECT_TRUE(categories.log.y);
  EXPECT_NE(svg_chart(categories, "step").find(">step time (s) (log scale)</text>"),
            std::string::npos);

  // A chart made without chart_data is checked too, without a line to name.
  ChartData made;
  made.x_label = "gpus";
  made.y_label = "wall_s";
  made.log.y = true;
  made.series.push_back({"wall_s", {64, 128}, {0.5, 0}});
  EXPECT_EQ(chart_error([&] { (void)svg_chart(made, "wall_s against gpus"); }),
            "wall_s = 0 cannot be shown on a log axis (values must be > 0)");
  made.log = {.x = true};
  made.categories = {"a", "b"};
  EXPECT_EQ(chart_error([&] { (void)svg_chart(made, "wall_s against gpus"); }),
            "the x column \"gpus\" is text: a log axis needs numbers");
}

// The headline columns a sweep writes get words and units on the axes; override keys and nested
// figures keep their names. Large tick values take an SI suffix (dollars, tokens, bytes).
TEST(Chart, AxesSayWhatTheyShowWithUnits) {
  EXPECT_EQ(column_title("step_time_s"), "step time (s)");
  EXPECT_EQ(column_title("network_capex_usd"), "network capex (USD)");
  EXPECT_EQ(column_title("mfu_causal"), "MFU (causal, fraction of peak)");
  EXPECT_EQ(column_title("parallelism.pp"), "parallelism.pp");
  EXPECT_EQ(column_title("kernel_s.gemm"), "kernel_s.gemm");
  const std::string sweep = kRoot + "/tests/data/good/sweep_results.csv";
  const ChartData data = chart_data(read_csv(sweep), "tokens_per_day", "step_time_s");
  EXPECT_EQ(data.x_title, "tokens per day");
  EXPECT_EQ(data.y_title, "step time (s)");
  const std::string svg = svg_chart(data, "step time against tokens per day");
  EXPECT_NE(svg.find(">step time (s)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">tokens per day</text>"), std::string::npos);
  // Tokens per day run from 2.1e11 to 3.4e11: ticks such as "250G", never "2.5e+11".
  EXPECT_EQ(svg.find("e+11"), std::string::npos);
  EXPECT_TRUE(std::regex_search(svg, std::regex(R"(>[0-9.]+G</text>)")));
  // Small values are written as they are.
  EXPECT_NE(svg.find(">10</text>"), std::string::npos);
}

TEST(Chart, WhereKeepsTheRowsThatMatch) {
  const std::string sweep = kRoot + "/tests/data/good/sweep_results.csv";
  const CsvTable table = read_csv(sweep);
  const CsvTable pp16 = where(table, {{"parallelism.pp", "16"}});
  ASSERT_EQ(pp16.rows.size(), 3u);
  for (const std::vector<std::string>& row : pp16.rows) EXPECT_EQ(row[1], "16");
  EXPECT_EQ(pp16.lines, (std::vector<int>{5, 6, 7}));  // the file's lines, for messages
  const CsvTable one =
      where(table, {{"parallelism.pp", "16"}, {"hardware.scale_out.nic_bandwidth", "400 Gb/s"}});
  ASSERT_EQ(one.rows.size(), 1u);
  EXPECT_EQ(one.rows[0][0], "4");
  EXPECT_EQ(chart_error([&] {
              (void)where(table, {{"parallelism.p", "16"}});
            }),
            sweep +
                ": --where \"parallelism.p\" is not a column of the table; did you mean "
                "\"parallelism.pp\"?");
  EXPECT_EQ(chart_error([&] {
              (void)where(table, {{"parallelism.pp", "4"}});
            }),
            sweep + ": --where parallelism.pp=4: no row has this value (the rows have 8, 16, 32)");
}

}  // namespace
}  // namespace clustersim::report
