#include "sim/compute/measured_file.hpp"

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace clustersim::compute {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kFormat = "clustersim-measured/1";

class CaseReader {
 public:
  CaseReader(const std::string& path, const Json& object, std::size_t index)
      : path_(path), object_(object), index_(index) {}

  [[noreturn]] void fail(std::string_view key, const std::string& message) const {
    if (key.empty())
      throw MeasuredFileError(fmt::format("{}: cases[{}]: {}", path_, index_, message));
    throw MeasuredFileError(fmt::format("{}: cases[{}].{}: {}", path_, index_, key, message));
  }

  [[nodiscard]] bool has(std::string_view key) const { return object_.contains(std::string(key)); }

  [[nodiscard]] std::string text(std::string_view key) const {
    const Json* value = find(key);
    if (!value) fail(key, "missing");
    if (!value->is_string()) fail(key, "expected a string, got " + value->dump());
    return value->get<std::string>();
  }

  [[nodiscard]] std::string text_or(std::string_view key, std::string fallback) const {
    return has(key) ? text(key) : fallback;
  }

  // A finite number above zero (or at least zero with `allow_zero`).
  [[nodiscard]] double number(std::string_view key, bool allow_zero = false) const {
    const Json* value = find(key);
    if (!value) fail(key, "missing");
    if (!value->is_number()) fail(key, "expected a number, got " + value->dump());
    const double x = value->get<double>();
    if (!std::isfinite(x) || x < 0 || (x == 0 && !allow_zero)) {
      fail(key, fmt::format("must be {}, got {}", allow_zero ? "zero or more" : "positive",
                            value->dump()));
    }
    return x;
  }

  [[nodiscard]] long long integer(std::string_view key) const {
    const double x = number(key);
    if (x != std::floor(x) || x > 1e15)
      fail(key, fmt::format("expected a whole number, got {}", x));
    return static_cast<long long>(x);
  }

  // A whole number that fits an int: a count of groups, ranks or SMs, a GPU index.
  [[nodiscard]] int count(std::string_view key, bool allow_zero = false) const {
    const double x = number(key, allow_zero);
    if (x != std::floor(x) || x > std::numeric_limits<int>::max()) {
      fail(key, fmt::format("expected a whole number up to {}, got {}",
                            std::numeric_limits<int>::max(), find(key)->dump()));
    }
    return static_cast<int>(x);
  }

  [[nodiscard]] std::string choice(std::string_view key,
                                   std::initializer_list<std::string_view> names) const {
    const std::string value = text(key);
    for (std::string_view name : names) {
      if (value == name) return value;
    }
    std::string list;
    for (std::string_view name : names) list += (list.empty() ? "" : ", ") + std::string(name);
    fail(key, fmt::format("unknown value \"{}\"; expected one of {}", value, list));
  }

 private:
  [[nodiscard]] const Json* find(std::string_view key) const {
    const auto it = object_.find(std::string(key));
    return it == object_.end() ? nullptr : &*it;
  }

  const std::string& path_;
  const Json& object_;
  std::size_t index_;
};

Dtype parse_dtype(const CaseReader& reader) {
  const std::string name = reader.choice("dtype", {"fp8", "bf16", "fp16", "tf32", "fp32"});
  for (Dtype dtype : kAllDtypes) {
    if (dtype_name(dtype) == name) return dtype;
  }
  return Dtype::bf16;
}

// The rate a case states, or the one its time implies for `work` (FLOP or bytes).
double rate(const CaseReader& reader, std::string_view rate_key, double scale, double work,
            double& time_s) {
  if (reader.has("time_s")) time_s = reader.number("time_s");
  if (reader.has(rate_key)) return reader.number(rate_key) * scale;
  if (time_s > 0) return work / time_s;
  reader.fail("", fmt::format("gives neither {} nor time_s", rate_key));
}

MeasuredCase read_case(const std::string& path, const Json& object, std::size_t index) {
  if (!object.is_object()) {
    throw MeasuredFileError(
        fmt::format("{}: cases[{}]: expected an object, got {}", path, index, object.dump()));
  }
  const CaseReader reader(path, object, index);
  MeasuredCase c;
  c.index = index;
  c.source = reader.text_or("source", "");
  const std::string kind = reader.choice("kind", {"gemm", "hbm", "launch_latency", "p2p", "nccl"});
  if (kind == "gemm") {
    c.kind = CaseKind::gemm;
    c.dtype = parse_dtype(reader);
    c.m = reader.integer("m");
    c.n = reader.integer("n");
    c.k = reader.integer("k");
    if (reader.has("groups")) c.groups = reader.count("groups");
    if (reader.has("reserved_sms")) {
      c.reserved_sms = reader.count("reserved_sms", true);
      c.method = reader.text_or("method", "");
    }
    const double flop = 2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) *
                        static_cast<double>(c.k) * c.groups;
    c.value = rate(reader, "tflops", 1e12, flop, c.time_s);
  } else if (kind == "hbm") {
    c.kind = CaseKind::hbm;
    c.variant = reader.choice("pattern", {"copy", "triad"});
    // A published bandwidth may come without the array size it was measured on.
    if (reader.has("bytes") || !reader.has("bandwidth_Bps")) c.bytes = reader.number("bytes");
    c.value = rate(reader, "bandwidth_Bps", 1, c.bytes, c.time_s);
  } else if (kind == "launch_latency") {
    c.kind = CaseKind::launch_latency;
    c.variant = reader.choice("mode", {"async", "sync"});
    c.time_s = reader.number("time_s");
    c.value = c.time_s;
  } else if (kind == "p2p") {
    c.kind = CaseKind::p2p;
    c.variant = reader.choice("direction", {"uni", "bi"});
    if (reader.has("src")) c.src = reader.count("src", true);
    if (reader.has("dst")) c.dst = reader.count("dst", true);
    if (reader.has("bytes") || !reader.has("bandwidth_Bps")) c.bytes = reader.number("bytes");
    c.value = rate(reader, "bandwidth_Bps", 1, c.bytes, c.time_s);
  } else {
    c.kind = CaseKind::nccl;
    c.variant = reader.choice("op", {"all_reduce", "all_gather", "reduce_scatter", "all_to_all"});
    c.ranks = reader.count("ranks");
    if (c.ranks < 2)
      reader.fail("ranks", fmt::format("a collective needs 2 or more, got {}", c.ranks));
    c.bytes = reader.number("bytes");
    if (reader.has("time_s")) c.time_s = reader.number("time_s");
    c.value = reader.number("busbw_Bps");
  }
  return c;
}

}  // namespace

std::string_view case_kind_name(CaseKind kind) {
  switch (kind) {
    case CaseKind::gemm:
      return "gemm";
    case CaseKind::hbm:
      return "hbm";
    case CaseKind::launch_latency:
      return "launch_latency";
    case CaseKind::p2p:
      return "p2p";
    case CaseKind::nccl:
      return "nccl";
  }
  return "?";
}

std::string MeasuredCase::describe() const {
  switch (kind) {
    case CaseKind::gemm: {
      std::string text = fmt::format("{} {}x{}x{}", dtype_name(dtype), m, n, k);
      if (groups > 1) text = fmt::format("{} {}x{}x{}x{}", dtype_name(dtype), groups, m, n, k);
      if (reserved_sms > 0) text += fmt::format(" ({} SMs held)", reserved_sms);
      return text;
    }
    case CaseKind::hbm:
      if (bytes == 0) return variant;
      return fmt::format("{} {:.0f} MiB", variant, bytes / (1 << 20));
    case CaseKind::launch_latency:
      return variant;
    case CaseKind::p2p:
      if (bytes == 0) return fmt::format("{} {}->{}", variant, src, dst);
      return fmt::format("{} {}->{} {:.0f} MiB", variant, src, dst, bytes / (1 << 20));
    case CaseKind::nccl:
      if (bytes >= 1 << 30)
        return fmt::format("{} x{} {:.4g} GiB", variant, ranks, bytes / (1 << 30));
      return fmt::format("{} x{} {:.4g} MiB", variant, ranks, bytes / (1 << 20));
  }
  return "?";
}

MeasuredFile load_measured_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MeasuredFileError(fmt::format("{}: cannot open the measured file", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  Json root;
  try {
    root = Json::parse(buffer.str());
  } catch (const Json::exception& e) {  // a syntax error, or a number beyond a double's range
    throw MeasuredFileError(fmt::format("{}: not valid JSON: {}", path, e.what()));
  }
  const auto fail = [&](std::string_view key, const std::string& message) {
    throw MeasuredFileError(fmt::format("{}: {}: {}", path, key, message));
  };
  if (!root.is_object()) fail("(top level)", "expected a JSON object");
  if (!root.contains("format") || root["format"] != kFormat) {
    fail("format", fmt::format("expected \"{}\", got {}", kFormat,
                               root.contains("format") ? root["format"].dump() : "nothing"));
  }
  // Optional text: absent is empty, anything but a string an error.
  const auto text_or_empty = [&](std::string_view key) -> std::string {
    const auto it = root.find(std::string(key));
    if (it == root.end()) return "";
    if (!it->is_string()) fail(key, "expected a string, got " + it->dump());
    return it->get<std::string>();
  };
  MeasuredFile file;
  file.path = path;
  file.source = text_or_empty("source");
  file.date = text_or_empty("date");
  if (!root.contains("machine") || !root["machine"].is_object()) fail("machine", "missing");
  const Json& machine = root["machine"];
  if (!machine.contains("gpu") || !machine["gpu"].is_string() ||
      machine["gpu"].get<std::string>().empty()) {
    fail("machine.gpu", "missing: the GPU the cases were measured on");
  }
  file.machine.gpu = machine["gpu"].get<std::string>();
  // Optional counts: whole numbers from 1 to the largest int.
  const auto count = [&](std::string_view key) -> std::optional<int> {
    const auto it = machine.find(std::string(key));
    if (it == machine.end()) return std::nullopt;
    if (!it->is_number_integer() || *it < 1 || *it > std::numeric_limits<int>::max()) {
      fail(fmt::format("machine.{}", key),
           fmt::format("expected a whole number from 1 to {}, got {}",
                       std::numeric_limits<int>::max(), it->dump()));
    }
    return it->get<int>();
  };
  file.machine.gpu_count = count("gpu_count").value_or(1);
  file.machine.sm_count = count("sm_count");
  if (!root.contains("cases") || !root["cases"].is_array()) fail("cases", "missing: a list");
  // Two measurements of the same case would make a table ambiguous.
  std::map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < root["cases"].size(); ++i) {
    MeasuredCase c = read_case(path, root["cases"][i], i);
    const std::string key = fmt::format("{} {} {}", case_kind_name(c.kind), c.describe(), c.method);
    if (const auto [it, inserted] = seen.emplace(key, i); !inserted) {
      throw MeasuredFileError(fmt::format("{}: cases[{}]: {} {} was already measured in cases[{}]",
                                          path, i, case_kind_name(c.kind), c.describe(),
                                          it->second));
    }
    file.cases.push_back(std::move(c));
  }
  return file;
}

}  // namespace clustersim::compute
