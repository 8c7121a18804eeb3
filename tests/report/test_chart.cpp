// Charts of result tables: CSV reading, series building, tick choice and the SVG.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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
