#pragma once
// Names of enumerations as they are written in configuration files. One table per enum serves
// both directions: reading a name (MapReader::choice) and printing a value (to_string).

#include <array>
#include <cstddef>
#include <string_view>

namespace clustersim::config {

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

template <class E, std::size_t N>
[[nodiscard]] constexpr std::string_view name_of(const std::array<EnumName<E>, N>& names, E value) {
  for (const EnumName<E>& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

}  // namespace clustersim::config
