// The unit parser (sim/config/unit_parser.hpp): every parser reads the same text and gives
// either a finite value or an error message, never both, never neither, and never throws. A
// value also prints (as reports print it).

#include <cmath>
#include <cstdlib>
#include <string_view>

#include "sim/config/unit_parser.hpp"
#include "tests/fuzz/fuzz_input.hpp"

namespace {

using clustersim::config::Parsed;

// Exactly one of value and error; the value finite.
template <class T, class Number>
void check(const Parsed<T>& parsed, Number number) {
  if (parsed.value.has_value() == !parsed.error.empty()) std::abort();
  if (parsed.value && !std::isfinite(number(*parsed.value))) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace clustersim;
  using namespace clustersim::config;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto itself = [](double x) { return x; };

  const Parsed<Bandwidth> bandwidth = parse_bandwidth(text);
  check(bandwidth, [](Bandwidth b) { return b.bytes_per_s; });
  if (bandwidth.value) (void)to_string(*bandwidth.value);
  const Parsed<DataSize> data_size = parse_data_size(text);
  check(data_size, [](DataSize s) { return s.bytes; });
  if (data_size.value) (void)to_string(*data_size.value);
  const Parsed<SimTime> duration = parse_duration(text);
  check(duration, [](SimTime t) { return t.seconds(); });
  const Parsed<FlopRate> flop_rate = parse_flop_rate(text);
  check(flop_rate, [](FlopRate r) { return r.flop_per_s; });
  if (flop_rate.value) (void)to_string(*flop_rate.value);
  const Parsed<FlopCount> flop_count = parse_flop_count(text);
  check(flop_count, [](FlopCount c) { return c.flop; });
  if (flop_count.value) (void)to_string(*flop_count.value);
  const Parsed<Frequency> frequency = parse_frequency(text);
  check(frequency, [](Frequency f) { return f.hz; });
  if (frequency.value) (void)to_string(*frequency.value);
  const Parsed<Power> power = parse_power(text);
  check(power, [](Power p) { return p.watts; });
  if (power.value) (void)to_string(*power.value);
  check(parse_count(text), itself);
  check(parse_fraction(text), itself);
  check(parse_number(text), itself);
  return 0;
}
