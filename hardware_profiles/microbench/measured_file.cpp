#include "measured_file.hpp"

#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace csbench {

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(ch));
      out += escaped;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

JsonObject& JsonObject::add_rendered(std::string_view key, std::string rendered) {
  members_.emplace_back(std::string(key), std::move(rendered));
  return *this;
}

JsonObject& JsonObject::add_string(std::string_view key, std::string_view value) {
  return add_rendered(key, json_quote(value));
}

JsonObject& JsonObject::add_number(std::string_view key, double value) {
  if (!std::isfinite(value)) return add_rendered(key, "null");
  // 9 significant digits survive a round trip through a float and are plenty for a timing.
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return add_rendered(key, text);
}

JsonObject& JsonObject::add_integer(std::string_view key, std::int64_t value) {
  return add_rendered(key, std::to_string(value));
}

JsonObject& JsonObject::add_bool(std::string_view key, bool value) {
  return add_rendered(key, value ? "true" : "false");
}

JsonObject& JsonObject::add_object(std::string_view key, const JsonObject& value) {
  return add_rendered(key, value.render());
}

std::string JsonObject::render() const {
  std::string out = "{";
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out += ", ";
    out += json_quote(members_[i].first);
    out += ": ";
    out += members_[i].second;
  }
  return out + "}";
}

MeasuredFile::MeasuredFile(std::string program, JsonObject machine)
    : program_(std::move(program)), machine_(std::move(machine)) {}

namespace {

std::string render_array(const std::vector<JsonObject>& items) {
  if (items.empty()) return "[]";
  std::string out = "[\n";
  for (std::size_t i = 0; i < items.size(); ++i) {
    out += "    " + items[i].render();
    out += i + 1 < items.size() ? ",\n" : "\n";
  }
  return out + "  ]";
}

}  // namespace

std::string MeasuredFile::render() const {
  std::string out = "{\n";
  out += "  \"format\": " + json_quote(kMeasuredFormat) + ",\n";
  out += "  \"source\": " + json_quote("clustersim microbenchmarks (" + program_ + ")") + ",\n";
  out += "  \"date\": " + json_quote(today_utc()) + ",\n";
  out += "  \"programs\": [" + json_quote(program_) + "],\n";
  if (quick_) out += "  \"quick\": true,\n";
  out += "  \"machine\": " + machine_.render() + ",\n";
  if (!skipped_.empty()) out += "  \"skipped_cases\": " + render_array(skipped_) + ",\n";
  out += "  \"cases\": " + render_array(cases_) + "\n";
  return out + "}\n";
}

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &utc);
  return text;
}

void write_text(const std::string& text, const std::optional<std::string>& path) {
  if (!path) {
    if (std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
      throw std::runtime_error("cannot write to stdout");
    }
    return;
  }
  std::FILE* file = std::fopen(path->c_str(), "w");
  if (file == nullptr) throw std::runtime_error("cannot open " + *path + " for writing");
  const bool written = std::fputs(text.c_str(), file) >= 0;
  if (std::fclose(file) != 0 || !written) throw std::runtime_error("cannot write " + *path);
}

}  // namespace csbench
