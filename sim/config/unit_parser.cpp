#include "sim/config/unit_parser.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "sim/config/suggest.hpp"

namespace clustersim::config {
namespace {

struct UnitSymbol {
  std::string_view symbol;
  double factor;  // to the SI base unit of the quantity
};

struct UnitTable {
  std::string_view quantity;  // "bandwidth"
  std::string_view example;   // "\"400 Gb/s\" or \"50 GB/s\""
  std::span<const UnitSymbol> symbols;
};

constexpr double kKi = 1024.0;

constexpr std::array kBandwidthUnits{UnitSymbol{"b/s", 1.0 / 8},
                                     UnitSymbol{"bit/s", 1.0 / 8},
                                     UnitSymbol{"bps", 1.0 / 8},
                                     UnitSymbol{"Kb/s", 1e3 / 8},
                                     UnitSymbol{"kb/s", 1e3 / 8},
                                     UnitSymbol{"Kbps", 1e3 / 8},
                                     UnitSymbol{"kbps", 1e3 / 8},
                                     UnitSymbol{"Mb/s", 1e6 / 8},
                                     UnitSymbol{"Mbps", 1e6 / 8},
                                     UnitSymbol{"Mbit/s", 1e6 / 8},
                                     UnitSymbol{"Gb/s", 1e9 / 8},
                                     UnitSymbol{"Gbps", 1e9 / 8},
                                     UnitSymbol{"Gbit/s", 1e9 / 8},
                                     UnitSymbol{"Tb/s", 1e12 / 8},
                                     UnitSymbol{"Tbps", 1e12 / 8},
                                     UnitSymbol{"Tbit/s", 1e12 / 8},
                                     UnitSymbol{"B/s", 1.0},
                                     UnitSymbol{"KB/s", 1e3},
                                     UnitSymbol{"kB/s", 1e3},
                                     UnitSymbol{"MB/s", 1e6},
                                     UnitSymbol{"GB/s", 1e9},
                                     UnitSymbol{"TB/s", 1e12},
                                     UnitSymbol{"PB/s", 1e15},
                                     UnitSymbol{"KiB/s", kKi},
                                     UnitSymbol{"MiB/s", kKi* kKi},
                                     UnitSymbol{"GiB/s", kKi* kKi* kKi},
                                     UnitSymbol{"TiB/s", kKi* kKi* kKi* kKi}};

constexpr std::array kDataSizeUnits{UnitSymbol{"B", 1.0},
                                    UnitSymbol{"KB", 1e3},
                                    UnitSymbol{"kB", 1e3},
                                    UnitSymbol{"MB", 1e6},
                                    UnitSymbol{"GB", 1e9},
                                    UnitSymbol{"TB", 1e12},
                                    UnitSymbol{"PB", 1e15},
                                    UnitSymbol{"KiB", kKi},
                                    UnitSymbol{"MiB", kKi* kKi},
                                    UnitSymbol{"GiB", kKi* kKi* kKi},
                                    UnitSymbol{"TiB", kKi* kKi* kKi* kKi},
                                    UnitSymbol{"PiB", kKi* kKi* kKi* kKi* kKi}};

constexpr std::array kDurationUnits{UnitSymbol{"ps", 1e-12}, UnitSymbol{"ns", 1e-9},
                                    UnitSymbol{"us", 1e-6},  UnitSymbol{"\u00b5s", 1e-6},
                                    UnitSymbol{"ms", 1e-3},  UnitSymbol{"s", 1.0},
                                    UnitSymbol{"min", 60.0}, UnitSymbol{"h", 3600.0}};

constexpr std::array kFlopRateUnits{
    UnitSymbol{"FLOP/s", 1.0},   UnitSymbol{"GFLOP/s", 1e9},  UnitSymbol{"TFLOP/s", 1e12},
    UnitSymbol{"PFLOP/s", 1e15}, UnitSymbol{"EFLOP/s", 1e18}, UnitSymbol{"FLOPS", 1.0},
    UnitSymbol{"GFLOPS", 1e9},   UnitSymbol{"TFLOPS", 1e12},  UnitSymbol{"PFLOPS", 1e15}};

constexpr std::array kFlopCountUnits{UnitSymbol{"FLOP", 1.0},   UnitSymbol{"KFLOP", 1e3},
                                     UnitSymbol{"MFLOP", 1e6},  UnitSymbol{"GFLOP", 1e9},
                                     UnitSymbol{"TFLOP", 1e12}, UnitSymbol{"PFLOP", 1e15},
                                     UnitSymbol{"EFLOP", 1e18}};

constexpr std::array kFrequencyUnits{UnitSymbol{"Hz", 1.0}, UnitSymbol{"kHz", 1e3},
                                     UnitSymbol{"MHz", 1e6}, UnitSymbol{"GHz", 1e9}};

constexpr std::array kPowerUnits{UnitSymbol{"W", 1.0}, UnitSymbol{"kW", 1e3},
                                 UnitSymbol{"MW", 1e6}};

constexpr std::array kCountSuffixes{UnitSymbol{"", 1.0}, UnitSymbol{"K", 1e3}, UnitSymbol{"M", 1e6},
                                    UnitSymbol{"B", 1e9}, UnitSymbol{"T", 1e12}};

constexpr UnitTable kBandwidth{"bandwidth", "\"400 Gb/s\" or \"50 GB/s\"", kBandwidthUnits};
constexpr UnitTable kDataSize{"size", "\"80 GiB\" or \"70272 B\"", kDataSizeUnits};
constexpr UnitTable kDuration{"duration", "\"1.2 us\" or \"20 ms\"", kDurationUnits};
constexpr UnitTable kFlopRate{"compute rate", "\"989 TFLOP/s\"", kFlopRateUnits};
constexpr UnitTable kFlopCount{"FLOP count", "\"250 GFLOP\"", kFlopCountUnits};
constexpr UnitTable kFrequency{"frequency", "\"1830 MHz\"", kFrequencyUnits};
constexpr UnitTable kPower{"power", "\"700 W\"", kPowerUnits};

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

struct NumberPrefix {
  double value = 0;
  std::string_view rest;  // what follows the number, trimmed
};

// Reads the leading number of `text`. Fails on no number, infinities, NaN and out-of-range values.
Parsed<NumberPrefix> leading_number(std::string_view text) {
  text = trim(text);
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  double value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value,
                                         std::chars_format::general);
  const auto consumed = static_cast<std::size_t>(end - digits.data());
  const std::string_view number_text = digits.substr(0, consumed);
  if (ec == std::errc::result_out_of_range) {
    return {std::nullopt, fmt::format("number {} is out of range", number_text)};
  }
  if (ec != std::errc{} || consumed == 0) return {std::nullopt, ""};
  // from_chars accepts "inf" and "nan"; a configuration never means them.
  if (!std::isfinite(value)) return {std::nullopt, ""};
  // Reject the forms from_chars takes that a reader would not call a number, e.g. "1e".
  const char first = number_text.front();
  if (!(std::isdigit(static_cast<unsigned char>(first)) || first == '-' || first == '.')) {
    return {std::nullopt, ""};
  }
  return {NumberPrefix{value, trim(digits.substr(consumed))}, ""};
}

std::vector<std::string> symbols_of(const UnitTable& table) {
  std::vector<std::string> symbols;
  for (const UnitSymbol& unit : table.symbols) symbols.emplace_back(unit.symbol);
  return symbols;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

constexpr std::array<const UnitTable*, 7> kAllTables{
    &kBandwidth, &kDataSize, &kDuration, &kFlopRate, &kFlopCount, &kFrequency, &kPower};

std::string unknown_unit_message(const UnitTable& table, std::string_view unit) {
  // A unit of another quantity ("GB/s" where a size is expected) is a mix-up, not a typo.
  for (const UnitTable* other : kAllTables) {
    if (other == &table) continue;
    for (const UnitSymbol& candidate : other->symbols) {
      if (candidate.symbol == unit) {
        return fmt::format("\"{}\" is a {} unit, but a {} is expected here, e.g. {}", unit,
                           other->quantity, table.quantity, table.example);
      }
    }
  }
  // Units that differ only in case are the bits-versus-bytes trap: name every one of them.
  std::vector<std::string> same_letters;
  for (const UnitSymbol& candidate : table.symbols) {
    if (lowercase(candidate.symbol) == lowercase(unit)) same_letters.emplace_back(candidate.symbol);
  }
  if (!same_letters.empty()) {
    return fmt::format("unknown {} unit \"{}\"; did you mean {}? (b = bits, B = bytes)",
                       table.quantity, unit, quoted_list(same_letters));
  }
  const std::vector<std::string> symbols = symbols_of(table);
  if (auto match = closest_match(unit, symbols)) {
    return fmt::format("unknown {} unit \"{}\"; did you mean \"{}\"?", table.quantity, unit,
                       *match);
  }
  return fmt::format("unknown {} unit \"{}\"; expected one of {}", table.quantity, unit,
                     fmt::join(symbols, ", "));
}

Parsed<double> parse_with_units(std::string_view text, const UnitTable& table) {
  const Parsed<NumberPrefix> number = leading_number(text);
  if (!number.value) {
    if (!number.error.empty()) return {std::nullopt, number.error};
    return {std::nullopt, fmt::format("expected a {} like {}, got \"{}\"", table.quantity,
                                      table.example, trim(text))};
  }
  const std::string_view unit = number.value->rest;
  if (unit.empty()) {
    return {std::nullopt, fmt::format("missing unit: write the {} with its unit, e.g. {}",
                                      table.quantity, table.example)};
  }
  for (const UnitSymbol& candidate : table.symbols) {
    if (candidate.symbol == unit) {
      const double base = number.value->value * candidate.factor;
      if (!std::isfinite(base)) {
        return {std::nullopt, fmt::format("{} \"{}\" is out of range", table.quantity, trim(text))};
      }
      return {base, ""};
    }
  }
  return {std::nullopt, unknown_unit_message(table, unit)};
}

template <class Quantity, class Make>
Parsed<Quantity> wrap(Parsed<double> parsed, Make make) {
  if (!parsed.value) return {std::nullopt, std::move(parsed.error)};
  return {make(*parsed.value), ""};
}

}  // namespace

Parsed<Bandwidth> parse_bandwidth(std::string_view text) {
  return wrap<Bandwidth>(parse_with_units(text, kBandwidth), [](double v) { return Bandwidth{v}; });
}

Parsed<DataSize> parse_data_size(std::string_view text) {
  return wrap<DataSize>(parse_with_units(text, kDataSize), [](double v) { return DataSize{v}; });
}

Parsed<SimTime> parse_duration(std::string_view text) {
  const Parsed<double> seconds = parse_with_units(text, kDuration);
  if (!seconds.value) return {std::nullopt, seconds.error};
  const double ps = *seconds.value * static_cast<double>(SimTime::kPicosPerSecond);
  if (std::fabs(ps - std::round(ps)) > 1e-6 * std::max(1.0, std::fabs(ps))) {
    return {std::nullopt,
            fmt::format("duration \"{}\" is finer than the 1 ps time resolution", trim(text))};
  }
  const std::optional<SimTime> time = SimTime::from_seconds(*seconds.value);
  if (!time) {
    return {std::nullopt,
            fmt::format("duration \"{}\" is out of range (at most about 106 days)", trim(text))};
  }
  return {*time, ""};
}

Parsed<FlopRate> parse_flop_rate(std::string_view text) {
  return wrap<FlopRate>(parse_with_units(text, kFlopRate), [](double v) { return FlopRate{v}; });
}

Parsed<FlopCount> parse_flop_count(std::string_view text) {
  return wrap<FlopCount>(parse_with_units(text, kFlopCount), [](double v) { return FlopCount{v}; });
}

Parsed<Frequency> parse_frequency(std::string_view text) {
  return wrap<Frequency>(parse_with_units(text, kFrequency), [](double v) { return Frequency{v}; });
}

Parsed<Power> parse_power(std::string_view text) {
  return wrap<Power>(parse_with_units(text, kPower), [](double v) { return Power{v}; });
}

Parsed<double> parse_count(std::string_view text) {
  const Parsed<NumberPrefix> number = leading_number(text);
  if (!number.value) {
    if (!number.error.empty()) return {std::nullopt, number.error};
    return {std::nullopt,
            fmt::format("expected a count like \"15360\", \"1.5e12\" or \"14.8T\", got \"{}\"",
                        trim(text))};
  }
  for (const UnitSymbol& suffix : kCountSuffixes) {
    if (suffix.symbol == number.value->rest) {
      const double count = number.value->value * suffix.factor;
      if (!std::isfinite(count)) {
        return {std::nullopt, fmt::format("count \"{}\" is out of range", trim(text))};
      }
      return {count, ""};
    }
  }
  return {std::nullopt,
          fmt::format("unknown count suffix \"{}\"; use K (1e3), M (1e6), B (1e9) or T (1e12)",
                      number.value->rest)};
}

Parsed<double> parse_fraction(std::string_view text) {
  const Parsed<NumberPrefix> number = leading_number(text);
  if (!number.value) {
    if (!number.error.empty()) return {std::nullopt, number.error};
    return {std::nullopt,
            fmt::format("expected a fraction like \"0.8\" or \"80 %\", got \"{}\"", trim(text))};
  }
  if (number.value->rest.empty()) return {number.value->value, ""};
  if (number.value->rest == "%") return {number.value->value / 100.0, ""};
  return {std::nullopt,
          fmt::format("expected a fraction like \"0.8\" or \"80 %\", got \"{}\"", trim(text))};
}

Parsed<double> parse_number(std::string_view text) {
  const Parsed<NumberPrefix> number = leading_number(text);
  if (number.value && number.value->rest.empty()) return {number.value->value, ""};
  if (!number.error.empty()) return {std::nullopt, number.error};
  return {std::nullopt, fmt::format("expected a number, got \"{}\"", trim(text))};
}

}  // namespace clustersim::config
