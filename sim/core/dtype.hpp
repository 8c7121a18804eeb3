#pragma once
// Numeric formats of tensors and of the tensor-core peaks that process them.

#include <array>
#include <cstddef>
#include <string_view>

namespace clustersim {

enum class Dtype { fp8, bf16, fp16, tf32, fp32 };

inline constexpr std::array<Dtype, 5> kAllDtypes{Dtype::fp8, Dtype::bf16, Dtype::fp16, Dtype::tf32,
                                                 Dtype::fp32};

[[nodiscard]] constexpr std::string_view dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp8:
      return "fp8";
    case Dtype::bf16:
      return "bf16";
    case Dtype::fp16:
      return "fp16";
    case Dtype::tf32:
      return "tf32";
    case Dtype::fp32:
      return "fp32";
  }
  return "?";
}

[[nodiscard]] constexpr std::size_t dtype_index(Dtype dtype) {
  return static_cast<std::size_t>(dtype);
}

}  // namespace clustersim
