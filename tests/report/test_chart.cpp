// Charts of result tables: CSV reading, series building, tick choice and the SVG.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "sim/report/chart.hpp"

namespace clustersim::report {
namespace {

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

std::string write_temp(const std::string& name, const std::string& text) {
  const std::filesystem::path path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
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

TEST(Chart, BadColumnsAndValuesAreClearErrors) {
  const std::string path = kRoot + "/tests/data/good/sweep_results.csv";
  const CsvTable table = read_csv(path);
  try {
    (void)chart_data(table, "point", "step_tme_s");
    FAIL();
  } catch (const ChartError& e) {
    EXPECT_EQ(std::string(e.what()), path +
                                         ": --y \"step_tme_s\" is not a column of the table; "
                                         "did you mean \"step_time_s\"?");
  }
  try {
    (void)chart_data(table, "point", "status");
    FAIL();
  } catch (const ChartError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": row 1: status = \"infeasible\" is not a number");
  }
  const std::string ragged = write_temp("cs_chart_ragged.csv", "a,b\n1,2\n3\n");
  try {
    (void)read_csv(ragged);
    FAIL();
  } catch (const ChartError& e) {
    EXPECT_EQ(std::string(e.what()), ragged + ":3: 1 fields, but the header has 2");
  }
}

}  // namespace
}  // namespace clustersim::report
