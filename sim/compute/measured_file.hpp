#pragma once
// A measured file (format "clustersim-measured/1"): what the CUDA microbenchmarks of
// hardware_profiles/microbench/ measured on one machine, or a published table transcribed into
// the same form with its source. hardware_profiles/measured/README.md documents the format.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/core/dtype.hpp"

namespace clustersim::compute {

enum class CaseKind { gemm, hbm, launch_latency, p2p, nccl };

struct MeasuredCase {
  CaseKind kind = CaseKind::gemm;
  std::size_t index = 0;  // position in the file's "cases"
  // gemm: C[m x n] = A[m x k] B[k x n], `groups` equal GEMMs (grouped experts)
  Dtype dtype = Dtype::bf16;
  long long m = 0, n = 0, k = 0;
  int groups = 1;
  int reserved_sms = 0;  // SMs a concurrent persistent kernel held
  std::string method;    // how they were held ("spinner", "sm_count_target")
  // hbm: "copy" | "triad"; launch_latency: "async" | "sync"; p2p: "uni" | "bi"; nccl: op name
  std::string variant;
  double bytes = 0;  // 0: not stated (published hbm and p2p figures)
  int ranks = 0;     // nccl
  int src = 0;       // p2p: the copy's source GPU
  int dst = 1;       // p2p: its destination
  double time_s = 0;
  double value = 0;    // gemm: FLOP/s; hbm, p2p: bytes/s; nccl: bus bytes/s; launch: seconds
  std::string source;  // where a published case comes from (optional)

  [[nodiscard]] std::string describe() const;
};

struct MeasuredMachine {
  std::string gpu;
  int gpu_count = 1;
  std::optional<int> sm_count;
};

struct MeasuredFile {
  std::string path;
  std::string source;
  std::string date;
  MeasuredMachine machine;
  std::vector<MeasuredCase> cases;
};

// Bad content: "FILE: cases[3].tflops: must be positive, got -2".
class MeasuredFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[nodiscard]] MeasuredFile load_measured_file(const std::string& path);

[[nodiscard]] std::string_view case_kind_name(CaseKind kind);

}  // namespace clustersim::compute
