// The measured-file format ("clustersim-measured/1") that every microbenchmark writes and that
// `clustersim crosscheck` reads. Each program writes a complete file with its own cases; run_all.sh
// merges them (merge_measured.py). The format is described in ../measured/README.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace csbench {

inline constexpr const char* kMeasuredFormat = "clustersim-measured/1";

// A flat JSON object whose keys keep the order in which they were added. Values are rendered when
// added; numbers that are not finite become null.
class JsonObject {
 public:
  JsonObject& add_string(std::string_view key, std::string_view value);
  JsonObject& add_number(std::string_view key, double value);
  JsonObject& add_integer(std::string_view key, std::int64_t value);
  JsonObject& add_bool(std::string_view key, bool value);
  JsonObject& add_object(std::string_view key, const JsonObject& value);

  [[nodiscard]] bool empty() const { return members_.empty(); }
  // One line: {"key": value, ...}
  [[nodiscard]] std::string render() const;

 private:
  JsonObject& add_rendered(std::string_view key, std::string rendered);
  std::vector<std::pair<std::string, std::string>> members_;
};

// `text` as a JSON string literal, quotes included.
[[nodiscard]] std::string json_quote(std::string_view text);

// One program's results: the machine it ran on and its cases, plus optional top-level extras.
class MeasuredFile {
 public:
  MeasuredFile(std::string program, JsonObject machine);

  void add_case(JsonObject measured_case) { cases_.push_back(std::move(measured_case)); }
  // Cases that could not be measured, with the reason (for example "no cuBLASLt algorithm").
  void add_skipped(JsonObject skipped_case) { skipped_.push_back(std::move(skipped_case)); }
  // Marks the output as a --quick smoke run, whose numbers are not measurements.
  void mark_quick() { quick_ = true; }

  [[nodiscard]] std::size_t case_count() const { return cases_.size(); }
  // The whole file, pretty-printed with one case per line.
  [[nodiscard]] std::string render() const;

 private:
  std::string program_;
  JsonObject machine_;
  std::vector<JsonObject> cases_;
  std::vector<JsonObject> skipped_;
  bool quick_ = false;
};

// Today's date in UTC as YYYY-MM-DD.
[[nodiscard]] std::string today_utc();

// Writes `text` to `path`, or to stdout without a path; throws std::runtime_error on failure.
void write_text(const std::string& text, const std::optional<std::string>& path);

}  // namespace csbench
