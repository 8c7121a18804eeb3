#pragma once
// The report of `clustersim memory`: per-GPU memory of every pipeline rank, the most loaded one
// first, against the GPU's capacity.

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config/experiment.hpp"
#include "sim/workload/memory.hpp"

namespace clustersim::report {

// Keys: fits, capacity_bytes, peak_rank, memory_per_gpu_bytes {parameters, gradients, optimizer,
// activations, communication, framework, peak} for the most loaded rank, and ranks[].
[[nodiscard]] nlohmann::json memory_report_json(const config::Experiment& experiment,
                                                const workload::MemoryEstimate& memory);
[[nodiscard]] std::string memory_report_text(const config::Experiment& experiment,
                                             const workload::MemoryEstimate& memory);

}  // namespace clustersim::report
