// cs_microbench_selftest: checks the host-only parts of the microbenchmarks (option parsing, the
// measured-file writer), which must work on machines without a GPU too.
//
//   cs_microbench_selftest                       run the checks; exit 0 when all pass, else 1
//   cs_microbench_selftest --sample PROGRAM GPU  print a measured file as PROGRAM would write it
//                                                on GPU (for test_merge_measured.py)

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "measured_file.hpp"
#include "options.hpp"

namespace {

int failures = 0;

void expect(bool condition, const std::string& what) {
  if (!condition) {
    std::fprintf(stderr, "FAILED: %s\n", what.c_str());
    ++failures;
  }
}

void check_parse_integer() {
  using csbench::parse_integer;
  expect(parse_integer("12") == 12, "parse_integer(12)");
  expect(parse_integer("256Mi") == std::int64_t{256} << 20, "parse_integer(256Mi)");
  expect(parse_integer("4Gi") == std::int64_t{4} << 30, "parse_integer(4Gi)");
  expect(parse_integer("64Ki") == std::int64_t{64} << 10, "parse_integer(64Ki)");
  expect(parse_integer("-3") == -3, "parse_integer(-3)");
  expect(!parse_integer(""), "parse_integer('') fails");
  expect(!parse_integer("Mi"), "parse_integer(Mi) fails");
  expect(!parse_integer("1.5"), "parse_integer(1.5) fails");
  expect(!parse_integer("12x"), "parse_integer(12x) fails");
  expect(!parse_integer("99999999999Ti"), "parse_integer overflow fails");
}

// Parses `args` (without the program name) with a parser like the programs'.
struct Parsed {
  std::optional<int> status;
  bool quick = false;
  std::int64_t runs = 20;
  std::vector<std::int64_t> list = {1};
  std::string dtype = "all";
  std::optional<std::string> output;
};

Parsed parse(std::vector<std::string> args) {
  Parsed parsed;
  csbench::OptionParser options("selftest", "summary");
  options.add_path("-o", "FILE", "output", &parsed.output);
  options.add_flag("--quick", "quick", &parsed.quick);
  options.add_integer("--runs", "N", "runs", &parsed.runs, 10, 1000);
  options.add_integer_list("--list", "N,...", "list", &parsed.list, 0, 64);
  options.add_string("--dtype", "D", "dtype", &parsed.dtype, {"all", "bf16", "fp8"});
  std::string program = "selftest";
  std::vector<char*> argv = {program.data()};
  for (std::string& arg : args) argv.push_back(arg.data());
  // Usage messages of the failing cases go to stderr; that is expected.
  parsed.status = options.parse(static_cast<int>(argv.size()), argv.data());
  return parsed;
}

void check_options() {
  const Parsed all =
      parse({"-o", "out.json", "--quick", "--runs", "30", "--list", "0,8,16", "--dtype", "fp8"});
  expect(!all.status, "valid options parse");
  expect(all.output == "out.json", "-o FILE");
  expect(all.quick, "--quick");
  expect(all.runs == 30, "--runs 30");
  expect(all.list == std::vector<std::int64_t>{0, 8, 16}, "--list 0,8,16");
  expect(all.dtype == "fp8", "--dtype fp8");
  expect(!parse({}).status, "no options parse");
  expect(parse({"--help"}).status == 0, "--help exits 0");
  expect(parse({"--bogus"}).status == 2, "unknown option exits 2");
  expect(parse({"--runs"}).status == 2, "missing value exits 2");
  expect(parse({"--runs", "5"}).status == 2, "value below the minimum exits 2");
  expect(parse({"--runs", "ten"}).status == 2, "malformed value exits 2");
  expect(parse({"--list", "0,,8"}).status == 2, "empty list item exits 2");
  expect(parse({"--list", "0,65"}).status == 2, "list item above the maximum exits 2");
  expect(parse({"--dtype", "fp4"}).status == 2, "unknown choice exits 2");
  expect(parse({"-o", ""}).status == 2, "empty path exits 2");
}

void check_json() {
  csbench::JsonObject object;
  object.add_string("text", "a\"b\\c\n")
      .add_number("x", 1.5e-6)
      .add_number("nan", std::numeric_limits<double>::quiet_NaN())
      .add_integer("big", std::int64_t{1} << 40)
      .add_bool("yes", true)
      .add_object("inner", csbench::JsonObject().add_integer("one", 1));
  const std::string expected =
      R"({"text": "a\"b\\c\u000a", "x": 1.5e-06, "nan": null, "big": 1099511627776, )"
      R"("yes": true, "inner": {"one": 1}})";
  expect(object.render() == expected, "JsonObject::render gave " + object.render());
  expect(csbench::today_utc().size() == 10, "today_utc is YYYY-MM-DD");
}

csbench::MeasuredFile sample(const std::string& program, const std::string& gpu) {
  csbench::JsonObject machine;
  machine.add_string("gpu", gpu)
      .add_integer("gpu_count", 1)
      .add_integer("sm_count", 132)
      .add_integer("clock_mhz", 1980)
      .add_integer("memory_bytes", 150000000000)
      .add_string("driver_version", "13.0")
      .add_string("cuda_runtime_version", "13.0");
  if (program == "cs_gemm") machine.add_string("cublas_version", "13.1.0");
  if (program == "cs_nccl") machine.add_string("nccl_version", "2.28.9");
  csbench::MeasuredFile file(program, machine);
  if (program == "cs_gemm") {
    file.add_case(csbench::JsonObject()
                      .add_string("kind", "gemm")
                      .add_string("dtype", "bf16")
                      .add_integer("m", 4096)
                      .add_integer("n", 7168)
                      .add_integer("k", 2048)
                      .add_number("time_s", 1.2e-4)
                      .add_number("tflops", 2.0 * 4096 * 7168 * 2048 / 1.2e-4 / 1e12));
    file.add_skipped(csbench::JsonObject()
                         .add_string("kind", "gemm")
                         .add_string("dtype", "fp8")
                         .add_string("reason", "no cuBLASLt algorithm"));
  } else if (program == "cs_hbm") {
    file.add_case(csbench::JsonObject()
                      .add_string("kind", "hbm")
                      .add_string("pattern", "copy")
                      .add_integer("bytes", std::int64_t{2} << 30)
                      .add_number("time_s", 5e-4)
                      .add_number("bandwidth_Bps", 2.0 * (1 << 30) / 5e-4));
    file.add_case(csbench::JsonObject()
                      .add_string("kind", "launch_latency")
                      .add_string("mode", "async")
                      .add_number("time_s", 2.1e-6));
  }
  return file;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string_view(argv[1]) == "--sample") {
    std::fputs(sample(argv[2], argv[3]).render().c_str(), stdout);
    return 0;
  }
  if (argc != 1) {
    std::fputs("usage: cs_microbench_selftest [--sample PROGRAM GPU]\n", stderr);
    return 2;
  }
  check_parse_integer();
  check_options();
  check_json();
  if (failures > 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::puts("cs_microbench_selftest: all checks passed");
  return 0;
}
