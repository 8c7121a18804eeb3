#include "sim/config/reader.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "sim/config/suggest.hpp"
#include "sim/config/unit_parser.hpp"

namespace clustersim::config {
namespace {

// The scalar text of a node, or the reason it has none.
std::string scalar_or_problem(const Node& node, std::string_view what, const std::string** text) {
  if (node.is_scalar()) {
    *text = &node.scalar();
    return "";
  }
  return fmt::format("expected {}, got {}", what, node.describe());
}

template <class T, class Parse>
std::string parse_quantity(const Node& node, T& out, std::string_view what, Parse parse) {
  const std::string* text = nullptr;
  if (std::string problem = scalar_or_problem(node, what, &text); !problem.empty()) return problem;
  auto parsed = parse(*text);
  if (!parsed.value) return parsed.error;
  out = *parsed.value;
  return "";
}

// Integers as integers ("1000000000", not "1e+09"); other values in the shortest form.
std::string format_bound(double value) {
  if (value == std::floor(value) && std::fabs(value) < 1e15) return fmt::format("{:.0f}", value);
  return fmt::format("{}", value);
}

}  // namespace

std::string parse_value(const Node& node, std::string& out) {
  const std::string* text = nullptr;
  if (std::string problem = scalar_or_problem(node, "a text value", &text); !problem.empty()) {
    return problem;
  }
  out = *text;
  return "";
}

std::string parse_value(const Node& node, bool& out) {
  const std::string* text = nullptr;
  if (std::string problem = scalar_or_problem(node, "true or false", &text); !problem.empty()) {
    return problem;
  }
  if (*text == "true") {
    out = true;
  } else if (*text == "false") {
    out = false;
  } else {
    return fmt::format("expected true or false, got \"{}\"", *text);
  }
  return "";
}

std::string parse_value(const Node& node, std::int64_t& out) {
  const std::string* text = nullptr;
  if (std::string problem = scalar_or_problem(node, "an integer", &text); !problem.empty()) {
    return problem;
  }
  const char* begin = text->data();
  const char* end = begin + text->size();
  if (begin != end && *begin == '+') ++begin;
  std::int64_t value = 0;
  const auto [stop, ec] = std::from_chars(begin, end, value);
  if (ec == std::errc::result_out_of_range) {
    return fmt::format("integer {} is out of range (at most {})", *text,
                       std::numeric_limits<std::int64_t>::max());
  }
  if (ec != std::errc{} || stop != end) {
    return fmt::format("expected an integer, got \"{}\"", *text);
  }
  out = value;
  return "";
}

std::string parse_value(const Node& node, int& out) {
  std::int64_t wide = 0;
  if (std::string problem = parse_value(node, wide); !problem.empty()) return problem;
  if (wide > std::numeric_limits<int>::max() || wide < std::numeric_limits<int>::min()) {
    return fmt::format("integer {} is out of range (at most {})", wide,
                       std::numeric_limits<int>::max());
  }
  out = static_cast<int>(wide);
  return "";
}

std::string parse_value(const Node& node, double& out) {
  return parse_quantity(node, out, "a number", parse_number);
}
std::string parse_value(const Node& node, Count& out) {
  double value = 0;
  std::string problem = parse_quantity(node, value, "a count", parse_count);
  out = Count{value};
  return problem;
}
std::string parse_value(const Node& node, Fraction& out) {
  double value = 0;
  std::string problem = parse_quantity(node, value, "a fraction", parse_fraction);
  out = Fraction{value};
  return problem;
}
std::string parse_value(const Node& node, Bandwidth& out) {
  return parse_quantity(node, out, "a bandwidth", parse_bandwidth);
}
std::string parse_value(const Node& node, DataSize& out) {
  return parse_quantity(node, out, "a size", parse_data_size);
}
std::string parse_value(const Node& node, SimTime& out) {
  return parse_quantity(node, out, "a duration", parse_duration);
}
std::string parse_value(const Node& node, FlopRate& out) {
  return parse_quantity(node, out, "a compute rate", parse_flop_rate);
}
std::string parse_value(const Node& node, FlopCount& out) {
  return parse_quantity(node, out, "a FLOP count", parse_flop_count);
}
std::string parse_value(const Node& node, Frequency& out) {
  return parse_quantity(node, out, "a frequency", parse_frequency);
}
std::string parse_value(const Node& node, Power& out) {
  return parse_quantity(node, out, "a power", parse_power);
}

MapReader::MapReader(const Node& node, std::string key_path, Diagnostics& diagnostics)
    : node_(node), path_(std::move(key_path)), diagnostics_(diagnostics) {
  if (!node_.is_mapping()) {
    valid_ = false;
    diagnostics_.error(
        node_.location(), path_,
        fmt::format("expected a mapping of keys to values, got {}", node_.describe()));
  }
}

std::string MapReader::child_path(std::string_view key) const {
  if (path_.empty()) return std::string(key);
  return fmt::format("{}.{}", path_, key);
}

std::string MapReader::indexed(std::string_view key, std::size_t index) {
  return fmt::format("{}[{}]", key, index);
}

void MapReader::remember(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
}

const Node* MapReader::lookup(std::string_view key) {
  remember(key);
  if (!valid_) return nullptr;
  const Node* found = node_.find(key);
  // "key:" with nothing after it means the same as leaving the key out.
  if (found && found->is_null()) return nullptr;
  return found;
}

void MapReader::missing(std::string_view key, std::string_view hint) {
  remember(key);
  if (!valid_) return;
  std::string message = fmt::format("missing required key \"{}\"", key);
  if (!hint.empty()) message += fmt::format(" ({})", hint);
  diagnostics_.error(node_.location(), path_, message);
}

void MapReader::report(const Node& node, std::string_view key, const std::string& message) {
  diagnostics_.error(node.location(), child_path(key), message);
}

void MapReader::error(std::string_view key, const std::string& message) {
  const Node* node = valid_ ? node_.find(key) : nullptr;
  diagnostics_.error(node ? node->location() : node_.location(), child_path(key), message);
}

void MapReader::infeasible(std::string_view key, const std::string& message) {
  const Node* node = valid_ ? node_.find(key) : nullptr;
  diagnostics_.infeasible(node ? node->location() : node_.location(), child_path(key), message);
}

bool MapReader::check_bounds(const Node& node, std::string_view key, double value,
                             const Bounds& bounds, bool fraction) {
  const std::string shown = node.is_scalar() ? node.scalar() : format_bound(value);
  if (bounds.min) {
    const bool too_low = bounds.min_exclusive ? !(value > *bounds.min) : value < *bounds.min;
    if (too_low) {
      report(node, key,
             fmt::format("must be {} {}, got {}",
                         bounds.min_exclusive ? ">" : ">=", format_bound(*bounds.min), shown));
      return false;
    }
  }
  if (bounds.max && value > *bounds.max) {
    std::string message = fmt::format("must be <= {}, got {}", format_bound(*bounds.max), shown);
    const bool bare = node.is_scalar() && node.scalar().find('%') == std::string::npos;
    if (fraction && bare && value / 100 <= *bounds.max) {  // e.g. 82.3 for "82.3 %"
      message += fmt::format(" (a percentage needs its unit: \"{} %\")", shown);
    }
    report(node, key, message);
    return false;
  }
  return true;
}

std::optional<std::size_t> MapReader::match_choice(const Node& node, std::string_view key,
                                                   const std::vector<std::string_view>& labels) {
  std::vector<std::string> names(labels.begin(), labels.end());
  if (!node.is_scalar()) {
    report(node, key,
           fmt::format("expected one of {}, got {}", quoted_list(names), node.describe()));
    return std::nullopt;
  }
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == node.scalar()) return i;
  }
  if (auto match = closest_match(node.scalar(), names)) {
    report(node, key,
           fmt::format("unknown value \"{}\"; did you mean \"{}\"? (one of {})", node.scalar(),
                       *match, quoted_list(names)));
  } else {
    report(
        node, key,
        fmt::format("unknown value \"{}\"; expected one of {}", node.scalar(), quoted_list(names)));
  }
  return std::nullopt;
}

MapReader MapReader::section(std::string_view key) {
  const Node* node = lookup(key);
  if (!node) {
    missing(key);
    static const Node kEmpty = Node::make_mapping({});
    // An empty mapping stands in, so the caller's required keys are not reported a second time.
    MapReader empty(kEmpty, child_path(key), diagnostics_);
    empty.valid_ = false;
    return empty;
  }
  return MapReader(*node, child_path(key), diagnostics_);
}

std::optional<MapReader> MapReader::optional_section(std::string_view key) {
  const Node* node = lookup(key);
  if (!node) return std::nullopt;
  return MapReader(*node, child_path(key), diagnostics_);
}

void MapReader::finish() {
  if (!valid_) return;
  for (const Node::Entry& entry : node_.entries()) {
    if (std::find(known_.begin(), known_.end(), entry.key) != known_.end()) continue;
    const std::string key_path = child_path(entry.key);
    if (auto match = closest_match(entry.key, known_)) {
      diagnostics_.error(
          entry.key_location, key_path,
          fmt::format("unknown key \"{}\"; did you mean \"{}\"?", entry.key, *match));
    } else {
      diagnostics_.error(entry.key_location, key_path,
                         fmt::format("unknown key \"{}\"; expected one of {}", entry.key,
                                     fmt::join(known_, ", ")));
    }
  }
}

}  // namespace clustersim::config
