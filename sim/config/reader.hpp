#pragma once
// Typed reading of a configuration mapping. The reader is the schema: every key a loader asks for
// becomes a known key, so `finish()` can report the keys nobody asked for (with a "did you mean"
// drawn from the known ones). Problems never stop reading; they are recorded as diagnostics and a
// neutral value is returned, so one pass reports every mistake in a file.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "sim/config/diagnostics.hpp"
#include "sim/config/enum_names.hpp"
#include "sim/config/node.hpp"
#include "sim/core/sim_time.hpp"
#include "sim/core/units.hpp"

namespace clustersim::config {

// A dimensionless count that may carry a magnitude suffix: "14.8T" tokens.
struct Count {
  double value = 0;
};
// A fraction written as "0.8" or "80 %".
struct Fraction {
  double value = 0;
};

// Limits on a value, checked on its number in SI base units (bytes/s, bytes, seconds, ...).
struct Bounds {
  std::optional<double> min;
  bool min_exclusive = false;
  std::optional<double> max;

  [[nodiscard]] static Bounds any() { return {}; }
  [[nodiscard]] static Bounds positive() { return {0.0, true, std::nullopt}; }
  [[nodiscard]] static Bounds non_negative() { return {0.0, false, std::nullopt}; }
  [[nodiscard]] static Bounds at_least(double low) { return {low, false, std::nullopt}; }
  [[nodiscard]] static Bounds between(double low, double high) { return {low, false, high}; }
};

// Value parsing, one overload per supported type. Each returns an empty string on success or the
// problem ("missing unit: ...") without location; the reader adds file, line and key.
std::string parse_value(const Node& node, std::string& out);
std::string parse_value(const Node& node, bool& out);
std::string parse_value(const Node& node, int& out);
std::string parse_value(const Node& node, std::int64_t& out);
std::string parse_value(const Node& node, double& out);
std::string parse_value(const Node& node, Count& out);
std::string parse_value(const Node& node, Fraction& out);
std::string parse_value(const Node& node, Bandwidth& out);
std::string parse_value(const Node& node, DataSize& out);
std::string parse_value(const Node& node, SimTime& out);
std::string parse_value(const Node& node, FlopRate& out);
std::string parse_value(const Node& node, FlopCount& out);
std::string parse_value(const Node& node, Frequency& out);
std::string parse_value(const Node& node, Power& out);

// The number a Bounds check looks at.
[[nodiscard]] inline double bounds_value(const std::string&) {
  return 0;
}
[[nodiscard]] inline double bounds_value(bool) {
  return 0;
}
[[nodiscard]] inline double bounds_value(int v) {
  return v;
}
[[nodiscard]] inline double bounds_value(std::int64_t v) {
  return static_cast<double>(v);
}
[[nodiscard]] inline double bounds_value(double v) {
  return v;
}
[[nodiscard]] inline double bounds_value(Count v) {
  return v.value;
}
[[nodiscard]] inline double bounds_value(Fraction v) {
  return v.value;
}
[[nodiscard]] inline double bounds_value(Bandwidth v) {
  return v.bytes_per_s;
}
[[nodiscard]] inline double bounds_value(DataSize v) {
  return v.bytes;
}
[[nodiscard]] inline double bounds_value(SimTime v) {
  return v.seconds();
}
[[nodiscard]] inline double bounds_value(FlopRate v) {
  return v.flop_per_s;
}
[[nodiscard]] inline double bounds_value(FlopCount v) {
  return v.flop;
}
[[nodiscard]] inline double bounds_value(Frequency v) {
  return v.hz;
}
[[nodiscard]] inline double bounds_value(Power v) {
  return v.watts;
}

class MapReader {
 public:
  // `node` should be a mapping; anything else is reported once and the reader then yields defaults.
  MapReader(const Node& node, std::string key_path, Diagnostics& diagnostics);

  // A key that must be present.
  template <class T>
  T required(std::string_view key, Bounds bounds = {}) {
    T value{};
    if (const Node* node = lookup(key)) {
      read_into(*node, key, value, bounds);
    } else {
      missing(key);
    }
    return value;
  }

  // A key with a default used when it is absent.
  template <class T>
  T optional(std::string_view key, T fallback, Bounds bounds = {}) {
    if (const Node* node = lookup(key)) read_into(*node, key, fallback, bounds);
    return fallback;
  }

  // A key whose absence means "not given".
  template <class T>
  std::optional<T> maybe(std::string_view key, Bounds bounds = {}) {
    const Node* node = lookup(key);
    if (!node) return std::nullopt;
    T value{};
    if (!read_into(*node, key, value, bounds)) return std::nullopt;
    return value;
  }

  // A list of values; absent means empty.
  template <class T>
  std::vector<T> list(std::string_view key, Bounds bounds = {}) {
    std::vector<T> values;
    const Node* node = lookup(key);
    if (!node) return values;
    if (!node->is_sequence()) {
      report(*node, key, "expected a list, got " + node->describe());
      return values;
    }
    for (std::size_t i = 0; i < node->items().size(); ++i) {
      T value{};
      if (read_into(node->items()[i], indexed(key, i), value, bounds)) values.push_back(value);
    }
    return values;
  }

  // One of a fixed set of names.
  template <class E>
  E choice(std::string_view key, std::span<const EnumName<E>> names, std::optional<E> fallback) {
    std::vector<std::string_view> labels;
    for (const EnumName<E>& entry : names) labels.push_back(entry.name);
    const Node* node = lookup(key);
    if (!node) {
      if (!fallback) missing(key);
      return fallback.value_or(names.front().value);
    }
    const std::optional<std::size_t> index = match_choice(*node, key, labels);
    if (!index) return fallback.value_or(names.front().value);
    return names[*index].value;
  }

  // A nested mapping: required (reported when absent) or optional.
  [[nodiscard]] MapReader section(std::string_view key);
  [[nodiscard]] std::optional<MapReader> optional_section(std::string_view key);

  // Raw access for keys whose shape varies ("auto" or a list); marks the key as known.
  [[nodiscard]] const Node* raw(std::string_view key) { return lookup(key); }
  [[nodiscard]] bool has(std::string_view key) { return lookup(key) != nullptr; }

  // Reports a problem with the value at `key` (or the mapping itself when the key is absent).
  void error(std::string_view key, const std::string& message);
  // Reports that the value at `key` is well formed but cannot run (see Diagnostic::infeasible).
  void infeasible(std::string_view key, const std::string& message);
  // Reports a problem with a specific node, under `key`.
  void report(const Node& node, std::string_view key, const std::string& message);
  // Reports that a required key is absent; `hint` says what it should hold.
  void missing(std::string_view key, std::string_view hint = {});
  // Declares keys as known without reading them (keys handled elsewhere, e.g. `base`).
  void allow(std::string_view key) { remember(key); }

  // Reports every key in the mapping that was never asked for.
  void finish();

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] std::string child_path(std::string_view key) const;
  [[nodiscard]] const SourceLocation& location() const { return node_.location(); }
  [[nodiscard]] bool valid() const { return valid_; }
  [[nodiscard]] Diagnostics& diagnostics() { return diagnostics_; }

 private:
  const Node* lookup(std::string_view key);
  void remember(std::string_view key);
  [[nodiscard]] static std::string indexed(std::string_view key, std::size_t index);
  std::optional<std::size_t> match_choice(const Node& node, std::string_view key,
                                          const std::vector<std::string_view>& labels);
  // `fraction`: the value was read as a fraction, so a bare number above 1 is probably a
  // percentage written without its unit, and the message says so.
  bool check_bounds(const Node& node, std::string_view key, double value, const Bounds& bounds,
                    bool fraction = false);

  template <class T>
  bool read_into(const Node& node, std::string_view key, T& value, const Bounds& bounds) {
    T parsed{};
    const std::string problem = parse_value(node, parsed);
    if (!problem.empty()) {
      report(node, key, problem);
      return false;
    }
    if (!check_bounds(node, key, bounds_value(parsed), bounds, std::is_same_v<T, Fraction>)) {
      return false;
    }
    value = parsed;
    return true;
  }

  const Node& node_;
  std::string path_;
  Diagnostics& diagnostics_;
  bool valid_ = true;
  std::vector<std::string> known_;
};

}  // namespace clustersim::config
