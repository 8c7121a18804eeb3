// The clustersim binary as a user runs it: exit codes, --help, --version, --json, and every
// file of the bad-input corpus through `clustersim validate`.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/config/bad_input_corpus.hpp"

namespace clustersim::cli {
namespace {

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream stream(path);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// Runs a shell command line, its stdout and stderr apart.
Result run_command(const std::string& command_line) {
  const std::string err_file = (std::filesystem::temp_directory_path() /
                                ("clustersim_cli_" + std::to_string(::getpid()) + ".err"))
                                   .string();
  const std::string command = command_line + " 2>" + err_file;
  Result result;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    result.out.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_file(err_file);
  std::filesystem::remove(err_file);
  return result;
}

// Runs clustersim with the given arguments (already shell-quoted where needed).
Result run(const std::string& arguments) {
  return run_command(std::string(CLUSTERSIM_BINARY) + " " + arguments);
}

const std::string kRoot = CLUSTERSIM_SOURCE_DIR;

TEST(Cli, VersionAndHelpExitZero) {
  const Result version = run("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, "clustersim " CLUSTERSIM_VERSION "\n");
  const Result help = run("--help");
  EXPECT_EQ(help.exit_code, 0);
  for (const char* command : {"run", "sweep", "topo", "model", "memory", "collective", "crosscheck",
                              "plot", "validate", "cards"}) {
    EXPECT_NE(help.out.find(command), std::string::npos) << command;
  }
  for (const char* command : {"run", "sweep", "topo", "model", "memory", "collective", "crosscheck",
                              "plot", "validate", "cards"}) {
    const Result sub = run(std::string(command) + " --help");
    EXPECT_EQ(sub.exit_code, 0) << command;
    EXPECT_NE(sub.out.find("Usage"), std::string::npos) << command;
  }
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("").exit_code, 2);
  EXPECT_EQ(run("frobnicate").exit_code, 2);
  const Result no_file = run("model");  // missing file argument: says where the cards are
  EXPECT_EQ(no_file.exit_code, 2);
  EXPECT_TRUE(
      no_file.err.ends_with("`clustersim cards models` lists the ones a name finds from here.\n"))
      << no_file.err;
  EXPECT_TRUE(run("run").err.ends_with(
      "`clustersim cards experiments` lists the ones a name finds from here.\n"));
  EXPECT_EQ(run("model " + kRoot + "/models/deepseek_v3.yaml --no-such-flag").exit_code, 2);
  const Result seq = run("model " + kRoot + "/models/deepseek_v3.yaml --seq-len 0");
  EXPECT_EQ(seq.exit_code, 2);
  EXPECT_EQ(seq.err, "clustersim model: --seq-len must be a positive number of tokens, got 0\n");
}

TEST(Cli, ModelPrintsTheResolvedCard) {
  const Result result = run("model " + kRoot + "/models/deepseek_v3.yaml");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("model deepseek_v3"), std::string::npos);
  EXPECT_NE(result.out.find("256 routed + 1 shared experts, top-8"), std::string::npos);
  EXPECT_NE(result.out.find("kv_lora_rank 512"), std::string::npos);
}

TEST(Cli, ModelJsonIsOneObjectWithTheCard) {
  const Result result = run("model " + kRoot + "/models/deepseek_v3.yaml --json --set layers=48");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["name"], "deepseek_v3");
  EXPECT_EQ(report["card"]["layers"], 48);
  EXPECT_EQ(report["card"]["moe"]["experts"], 256);
  EXPECT_EQ(report["card"]["attention"]["kv_lora_rank"], 512);
  EXPECT_EQ(report["kv_cache_bytes_per_token"], 48 * 576 * 2);
  EXPECT_EQ(report["layers"].size(), 48u);
  for (const char* key : {"params_total", "params_active", "train_flops_per_token"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  EXPECT_TRUE(report["train_flops_per_token"].contains("causal"));
  EXPECT_TRUE(report["train_flops_per_token"].contains("noncausal"));
}

TEST(Cli, MemoryReportsThePeakRankAndRejectsWhatDoesNotFit) {
  const Result fits = run("memory " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --json");
  ASSERT_EQ(fits.exit_code, 0) << fits.err;
  const nlohmann::json report = nlohmann::json::parse(fits.out);
  EXPECT_EQ(report["fits"], true);
  EXPECT_LT(report["memory_per_gpu_bytes"]["peak"].get<double>(), 80e9);
  EXPECT_EQ(report["ranks"].size(), 16u);
  const Result too_big = run("memory " + kRoot +
                             "/experiments/dsv3_2048xh800_mpft.yaml --set training.recompute=none");
  EXPECT_EQ(too_big.exit_code, 1);
  EXPECT_NE(too_big.err.find("infeasible: pipeline rank"), std::string::npos) << too_big.err;
}

TEST(Cli, InputErrorsExitTwoWithLocatedMessages) {
  const Result result =
      run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --set parallelism.tpp=2");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "--set parallelism.tpp=2: error: parallelism.tpp: unknown key \"tpp\"; did you mean "
            "\"tp\"?\nclustersim: 1 error\n");
  const Result missing = run("model no/such/file.yaml");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err,
            "no/such/file.yaml: error: cannot open file: no such file or not readable\n"
            "clustersim: 1 error\n");
}

TEST(Cli, InfeasibleLayoutsExitOne) {
  const Result result =
      run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --set parallelism.tp=3 --json");
  EXPECT_EQ(result.exit_code, 1);
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["status"], "infeasible");
  EXPECT_EQ(report["diagnostics"][0]["key"], "parallelism.tp");
  EXPECT_EQ(report["diagnostics"][0]["infeasible"], true);
}

// Capex: 2048 GPUs at the profile's $30,000 assumption, and the network as bought (the default
// profile): its parts add up to it; per endpoint (2048 NICs) and per Tb/s of bisection (1024
// links of 400 Gb/s at line rate).
void expect_capex_of_2048_h800_as_bought(const nlohmann::json& capex) {
  EXPECT_DOUBLE_EQ(capex["gpus"].get<double>(), 2048 * 30000.0);
  EXPECT_EQ(capex["cost_profile"].get<std::string>(), "ib_as_bought");
  const double network = capex["network"].get<double>();
  double by_part = 0;
  for (const auto& [part, usd] : capex["network_by_part"].items()) by_part += usd.get<double>();
  EXPECT_NEAR(by_part, network, 1e-6 * network);
  EXPECT_GT(capex["network_by_part"]["transceivers"].get<double>(), 0);
  EXPECT_DOUBLE_EQ(capex["network_per_endpoint"].get<double>(), network / 2048);
  EXPECT_DOUBLE_EQ(capex["network_per_bisection_tbps"].get<double>(), network / (1024 * 0.4));
}

TEST(Cli, RunPrintsTheDesignKeysAndATrace) {
  const std::string trace = (std::filesystem::temp_directory_path() / "cs_trace.json").string();
  const Result result =
      run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --json --trace " + trace);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  for (const char* key :
       {"step_time_s", "phases_s", "tokens_per_step", "tokens_per_day", "tflops_per_gpu", "mfu",
        "memory_per_gpu_bytes", "exposed_comm_s", "cost", "sim"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
  for (const char* phase : {"1F", "bubble", "1B", "1W", "1F1B", "opt"}) {
    EXPECT_TRUE(report["phases_s"].contains(phase)) << phase;
  }
  EXPECT_EQ(report["tokens_per_step"], 15360 * 4096);
  EXPECT_TRUE(report["cost"]["total_usd"].is_number());
  expect_capex_of_2048_h800_as_bought(report["cost"]["capex_usd"]);
  // Kernel time by class: the step's (busiest device) and one layer's times.
  double kernels = 0;
  for (const auto& [name, seconds] : report["kernel_s"].items()) kernels += seconds.get<double>();
  EXPECT_GT(kernels, 0.5 * report["step_time_s"].get<double>());
  EXPECT_LT(kernels, report["step_time_s"].get<double>());
  EXPECT_GT(report["kernel_s"]["gemm_wgrad"].get<double>(), 0);
  EXPECT_GT(report["layer_s"]["backward"].get<double>(),
            report["layer_s"]["forward"].get<double>());
  std::ifstream stream(trace);
  const nlohmann::json timeline = nlohmann::json::parse(stream);
  EXPECT_GT(timeline["traceEvents"].size(), 2000u);
  EXPECT_EQ(timeline["otherData"]["kernel_s"], report["kernel_s"]);
  int slots_with_kernels = 0;
  for (const nlohmann::json& event : timeline["traceEvents"]) {
    if (event.contains("cat") && event["cat"] == "F&B" &&
        event["args"]["kernel_ms"].contains("quantize")) {
      ++slots_with_kernels;
    }
  }
  EXPECT_GT(slots_with_kernels, 100);
  const Result text = run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("step time (s)"), std::string::npos);
  EXPECT_NE(text.out.find("19.926"), std::string::npos);  // the published figure beside it
}

TEST(Cli, RunWritesEveryLinksTrafficAndSumsItUpPerTier) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string links = (dir / "cs_links.csv").string();
  const std::string trace = (dir / "cs_links_trace.json").string();
  const std::string experiment = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  const Result result = run("run " + experiment + " --json --links " + links + " --trace " + trace);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  // 2048 GPUs with a NIC each on the multi-plane fat-tree: 4096 directed links in every tier.
  ASSERT_EQ(report["link_tiers"].size(), 4u);
  for (const char* tier : {"nvlink", "pcie", "leaf", "spine"}) {
    const nlohmann::json& t = report["link_tiers"][tier];
    EXPECT_EQ(t["links"], 4096) << tier;
    EXPECT_GT(t["bytes"].get<double>(), 0) << tier;
    EXPECT_LE(t["mean_utilization"].get<double>(), t["p99_utilization"].get<double>()) << tier;
    EXPECT_LE(t["p99_utilization"].get<double>(), t["max_utilization"].get<double>()) << tier;
    EXPECT_LT(t["max_utilization"].get<double>(), 1) << tier;
  }
  std::ifstream csv(links);
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "link,from,to,tier,capacity_Bps,bytes,busy_s,peak_utilization,mean_utilization");
  int rows = 0;
  while (std::getline(csv, line)) ++rows;
  EXPECT_EQ(rows, 4 * 4096);
  std::ifstream stream(trace);
  const nlohmann::json timeline = nlohmann::json::parse(stream);
  std::map<std::string, int> counters;
  for (const nlohmann::json& event : timeline["traceEvents"]) {
    if (event.at("ph") == "C") ++counters[event.at("name").get_ref<const std::string&>()];
  }
  EXPECT_EQ(counters.size(), 4u);
  EXPECT_GT(counters["spine utilisation (%)"], 100);
  const Result text = run("run " + experiment + " --links " + links);
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("link utilisation over the step"), std::string::npos);
  EXPECT_NE(text.out.find("links: " + links + "\n"), std::string::npos);
  const Result unwritable = run("run " + experiment + " --links /no/such/folder/links.csv");
  EXPECT_EQ(unwritable.exit_code, 2);
  EXPECT_EQ(unwritable.err,
            "clustersim run: cannot write the link report /no/such/folder/links.csv\n");
  EXPECT_EQ(unwritable.out, "");
}

TEST(Cli, RunRefusesAModelThatDoesNotFit) {
  const Result result = run("run " + kRoot +
                            "/experiments/dsv3_2048xh800_mpft.yaml --set parallelism.pp=8 "
                            "--set parallelism.ep=32");
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("does not fit: pipeline rank"), std::string::npos) << result.err;
}

TEST(Cli, RunNamesTheMissingComputeData) {
  const Result result =
      run("run " + kRoot +
          "/experiments/dsv3_2048xh800_mpft.yaml --set hardware.name=x "
          "--set hardware.compute.memory_efficiency=1 --set hardware.compute.gemm.tile.m=64 "
          "--set hardware.compute.gemm.peak_efficiency.fp8=1");
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const Result h20 =
      run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --set hardware=h20");
  EXPECT_EQ(h20.exit_code, 2);
  EXPECT_NE(h20.err.find("hardware profile h20 has no compute section"), std::string::npos)
      << h20.err;
}

TEST(Cli, CrosscheckAndCalibrate) {
  const Result result =
      run("crosscheck " + kRoot + "/hardware_profiles/measured/h200_sxm-published.json --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["profile"], "h200_sxm");  // found by the measured GPU's name
  EXPECT_EQ(report["cases"].size(), 20u);
  const std::string out = (std::filesystem::temp_directory_path() / "cs_h200_cal.yaml").string();
  const Result calibrate =
      run("calibrate " + kRoot + "/hardware_profiles/measured/h200_sxm-published.json -o " + out);
  ASSERT_EQ(calibrate.exit_code, 0) << calibrate.err;
  const Result again = run("crosscheck " + kRoot +
                           "/hardware_profiles/measured/h200_sxm-published.json --hardware " + out);
  EXPECT_EQ(again.exit_code, 0) << again.err;
  const Result unknown = run("crosscheck " + kRoot + "/tests/data/measured/unknown_gpu.json");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown GPU \"Acme X1\""), std::string::npos) << unknown.err;
}

TEST(Cli, PlotWritesAnSvgChart) {
  const std::string out = (std::filesystem::temp_directory_path() / "cs_plot.svg").string();
  const Result result = run("plot " + kRoot +
                            "/tests/data/good/sweep_results.csv --x parallelism.pp --y "
                            "mfu_causal --out " +
                            out);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "wrote " + out + " (1 series, 6 points, 3 rows without a value left out)\n");
  std::ifstream svg(out);
  std::string first;
  std::getline(svg, first);
  EXPECT_EQ(first.substr(0, 4), "<svg");
  const Result png = run(
      "plot " + kRoot + "/tests/data/good/sweep_results.csv --x point --y step_time_s --out a.png");
  EXPECT_EQ(png.exit_code, 2);
  EXPECT_NE(png.err.find("the CLI writes SVG; for a PNG use the dashboard"), std::string::npos);
}

TEST(Cli, PlotLogAxes) {
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  const std::string csv = (dir / "cs_plot_log.csv").string();
  const std::string out = (dir / "cs_plot_log.svg").string();
  std::ofstream(csv) << "gpus,case,wall_s\n64,ring,0.013\n4096,ring,870\n64,tree,0.02\n";
  const Result result =
      run("plot " + csv + " --x gpus --y wall_s --series case --log-x --log-y --out " + out);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "wrote " + out + " (2 series, 3 points)\n");
  const std::string svg = read_file(out);
  EXPECT_NE(svg.find(">gpus (log scale)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">wall_s (log scale)</text>"), std::string::npos);
  // The y axis runs over the decades 0.01 .. 1000.
  EXPECT_NE(svg.find("text-anchor=\"end\">0.01</text>"), std::string::npos);
  EXPECT_NE(svg.find("text-anchor=\"end\">1000</text>"), std::string::npos);
  const Result linear = run("plot " + csv + " --x gpus --y wall_s --out " + out);
  ASSERT_EQ(linear.exit_code, 0) << linear.err;
  EXPECT_EQ(read_file(out).find("(log scale)"), std::string::npos);

  std::ofstream(csv) << "gpus,case,wall_s\n64,ring,0.5\n128,ring,0\n";
  const Result zero = run("plot " + csv + " --x gpus --y wall_s --log-y --out " + out);
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_EQ(zero.err, "clustersim plot: " + csv +
                          ":3: column \"wall_s\": 0 cannot be shown on a log axis (values must "
                          "be > 0)\n");
  const std::string sweep = kRoot + "/tests/data/good/sweep_results.csv";
  const Result text =
      run("plot " + sweep + " --x hardware.scale_out.nic_bandwidth --y step_time_s --log-x --out " +
          out);
  EXPECT_EQ(text.exit_code, 2);
  EXPECT_EQ(text.err, "clustersim plot: " + sweep +
                          ":5: the x column \"hardware.scale_out.nic_bandwidth\" is text (\"200 "
                          "Gb/s\"): a log axis needs numbers\n");
}

TEST(Cli, SweepWritesEveryPointAndResumes) {
  const std::filesystem::path out = std::filesystem::temp_directory_path() / "cs_sweep";
  std::filesystem::remove_all(out);
  const Result first =
      run("sweep " + kRoot + "/experiments/sweep_dsv3_pp.yaml -j 2 --out " + out.string());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::ifstream csv(out / "results.csv");
  std::vector<std::string> lines;
  for (std::string line; std::getline(csv, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 10u);  // header and 9 points, in point order
  // The columns of earlier versions in their places, then every scalar of the result.
  EXPECT_TRUE(lines[0].starts_with(
      "point,parallelism.pp,hardware.scale_out.nic_bandwidth,status,step_time_s,tokens_per_day,"
      "tflops_causal,tflops_noncausal,mfu_causal,mfu_noncausal,memory_peak_bytes,"
      "gpu_hours_per_trillion_tokens,usd_per_trillion_tokens,network_capex_usd,reason,"
      "communication_s.dp_all_gather,"))
      << lines[0];
  const auto fields_of = [](const std::string& line) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char ch : line) {
      if (ch == '"') {
        quoted = !quoted;
      } else if (ch == ',' && !quoted) {
        fields.push_back(field);
        field.clear();
      } else {
        field.push_back(ch);
      }
    }
    fields.push_back(field);
    return fields;
  };
  const std::vector<std::string> header = fields_of(lines[0]);
  EXPECT_EQ(header.size(),
            131u);  // with optimizer_kernels_s.adamw, .gradient_norm, ep_count_gather
  for (const std::string& line : lines) EXPECT_EQ(fields_of(line).size(), header.size()) << line;
  const auto column = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (const char* name :
       {"cost.capex_usd.gpus", "cost.capex_usd.network", "cost.capex_usd.total",
        "cost.training_days", "cost.energy.kwh_per_trillion_tokens",
        "cost.energy.usd_per_trillion_tokens", "cost.energy.total_kwh", "cost.energy.total_usd",
        "phases_s.bubble", "memory_per_gpu_bytes.activations", "stage_layers", "sim.flows",
        "link_tiers.nvlink.max_utilization", "network.routing"}) {
    EXPECT_LT(column(name), header.size()) << name;
  }
  // Each name once; arrays of objects (per stage, per device) left out.
  EXPECT_EQ(std::set<std::string>(header.begin(), header.end()).size(), header.size());
  EXPECT_EQ(column("stages"), header.size());
  EXPECT_EQ(std::count_if(header.begin(), header.end(),
                          [](const std::string& name) { return name.starts_with("stages."); }),
            0);
  // Numbers in full: the CSV's value is the JSON's, to the last bit.
  {
    std::ifstream jsonl(out / "results.jsonl");
    std::string row;
    for (int i = 0; i < 5; ++i) std::getline(jsonl, row);
    const nlohmann::json point = nlohmann::json::parse(row);
    const std::vector<std::string> fields = fields_of(lines[5]);
    EXPECT_EQ(std::stod(fields[column("step_time_s")]),
              point["result"]["step_time_s"].get<double>());
    EXPECT_EQ(std::stod(fields[column("cost.energy.total_kwh")]),
              point["result"]["cost"]["energy"]["total_kwh"].get<double>());
    EXPECT_EQ(fields[column("cost.capex_usd.gpus")], "61440000");
    EXPECT_EQ(fields[column("stage_layers")], point["result"]["stage_layers"].dump());
    EXPECT_EQ(fields[column("sim.events")],
              std::to_string(point["result"]["sim"]["events"].get<long>()));
  }
  // Without a terminal, a line per point with the counts, the last without a time left.
  EXPECT_EQ(std::count(first.err.begin(), first.err.end(), '\n'), 10);
  EXPECT_NE(first.err.find("\n[9/9, 0 failed, "), std::string::npos) << first.err;
  EXPECT_NE(first.err.find(" points/s] point "), std::string::npos) << first.err;
  EXPECT_NE(first.err.find(" points/s, ETA "), std::string::npos) << first.err;
  // pp 8 does not fit: a row with its reason, not a failed sweep.
  EXPECT_EQ(lines[1].substr(0, 33), "0,8,200 Gb/s,infeasible,,,,,,,,,,");
  EXPECT_NE(lines[1].find("does not fit"), std::string::npos);
  EXPECT_EQ(lines[5].substr(0, 19), "4,16,400 Gb/s,ok,18");
  // 200 Gb/s NICs slow the step; 800 Gb/s NICs on 400 Gb/s switch ports do not speed it up.
  const auto step = [&](std::size_t row) {
    std::stringstream fields(lines[row]);
    std::string field;
    for (int i = 0; i < 5; ++i) std::getline(fields, field, ',');
    return std::stod(field);
  };
  EXPECT_GT(step(4), 1.1 * step(5));
  EXPECT_DOUBLE_EQ(step(6), step(5));
  const Result again =
      run("sweep " + kRoot + "/experiments/sweep_dsv3_pp.yaml --out " + out.string());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("9 already done, 0 to run"), std::string::npos) << again.err;
}

// Sweep rows are keyed by the content of their point: a rerun reuses identical points only; an
// edited base experiment makes every row stale, replaced rather than doubled; the results do not
// depend on -j; a second writer is stopped by the lock.
TEST(Cli, SweepResultsAreKeyedByContent) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_keyed";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kRoot + "/experiments/dsv3_2048xh800_mpft.yaml", dir / "dsv3_2048xh800_mpft.yaml");
  fs::copy_file(kRoot + "/experiments/sweep_dsv3_pp.yaml", dir / "sweep.yaml");
  const std::string sweep = "sweep " + (dir / "sweep.yaml").string() + " --out ";
  ASSERT_EQ(run(sweep + (dir / "one").string() + " -j 1").exit_code, 0);
  ASSERT_EQ(run(sweep + (dir / "two").string() + " -j 2").exit_code, 0);
  EXPECT_EQ(read_file(dir / "one" / "results.jsonl"), read_file(dir / "two" / "results.jsonl"));
  EXPECT_EQ(read_file(dir / "one" / "results.csv"), read_file(dir / "two" / "results.csv"));
  // Edit the base experiment: every row is stale and runs again; the file keeps 9 rows.
  {
    std::string text = read_file(dir / "dsv3_2048xh800_mpft.yaml");
    text.replace(text.find("comm_sms: 20"), 12, "comm_sms: 16");
    std::ofstream(dir / "dsv3_2048xh800_mpft.yaml") << text;
  }
  const Result edited = run(sweep + (dir / "one").string() + " -j 2");
  ASSERT_EQ(edited.exit_code, 0) << edited.err;
  EXPECT_NE(edited.err.find("0 already done, 9 to run on 2 job(s); 9 stale row(s) (their inputs "
                            "changed) replaced"),
            std::string::npos)
      << edited.err;
  const std::string rows = read_file(dir / "one" / "results.jsonl");
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 9);
  EXPECT_NE(rows, read_file(dir / "two" / "results.jsonl"));
  // A folder a running clustersim program holds (this test's own process).
  std::ofstream(dir / "two" / ".lock") << ::getpid() << '\n';
  const Result locked = run(sweep + (dir / "two").string());
  EXPECT_EQ(locked.exit_code, 2);
  EXPECT_EQ(locked.err, "clustersim sweep: " + (dir / "two").string() +
                            " is being written by another sweep (pid " +
                            std::to_string(::getpid()) +
                            "); wait for it, or give --out another folder\n");
  fs::remove_all(dir);
}

// --max-memory: a run estimated to need more refuses before it allocates, with the estimate.
TEST(Cli, RunOverItsMemoryBudgetRefusesWithTheEstimate) {
  const std::string experiment = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  const Result refused = run("run " + experiment + " --max-memory '4 MiB'");
  EXPECT_EQ(refused.exit_code, 4);
  EXPECT_EQ(refused.out, "");
  EXPECT_TRUE(refused.err.starts_with(
      "clustersim run: " + experiment +
      ": refused before allocating: the simulation would need an estimated "))
      << refused.err;
  EXPECT_NE(refused.err.find("network 3.8 MiB (4448 vertices, 16384 directed links), routing "
                             "tables 18 KiB (96 switches), flows "),
            std::string::npos)
      << refused.err;
  EXPECT_TRUE(refused.err.ends_with("; that is more than the 4 MiB that --max-memory allows\n"))
      << refused.err;
  const Result json = run("run " + experiment + " --max-memory '4 MiB' --json");
  EXPECT_EQ(json.exit_code, 4);
  EXPECT_EQ(nlohmann::json::parse(json.out).at("status"), "over_limit");
  // A million micro-batches per step: the schedule alone outgrows the machine; validate agrees.
  const Result huge =
      run("validate " + experiment + " --set training.global_batch_size=1000000000000");
  EXPECT_EQ(huge.exit_code, 4);
  EXPECT_NE(
      huge.err.find("pipeline schedule 68.2 TiB (375000000000 tasks); that is more than the "),
      std::string::npos)
      << huge.err;
  EXPECT_NE(huge.err.find(" the machine has (--max-memory sets another budget)\n"),
            std::string::npos)
      << huge.err;
  // An all-to-all over 32,768 GPUs: a billion flows.
  const Result flows =
      run("collective --op all_to_all --topology ft3 --hardware h800_sxm --nodes 4096 "
          "--max-memory '64 GiB'");
  EXPECT_EQ(flows.exit_code, 4);
  // The message names the option that would take less: no flows, only the transfers.
  EXPECT_NE(flows.err.find("(1073709056 at once); that is more than the 64 GiB that --max-memory "
                           "allows (timed by its congestion bound (--congestion-bound) it would "
                           "need 48.1 GiB)\n"),
            std::string::npos)
      << flows.err;
  // An EP exchange has no congestion bound to offer: the message names none.
  const Result ep =
      run("collective --op ep --topology ft3 --hardware h800_sxm --nodes 4096 "
          "--max-memory '64 GiB'");
  EXPECT_EQ(ep.exit_code, 4);
  EXPECT_TRUE(ep.err.ends_with(
      "(1073709056 at once); that is more than the 64 GiB that --max-memory allows\n"))
      << ep.err;
  const Result bounded =
      run("collective --op all_to_all --topology ft3 --hardware h800_sxm --nodes 4096 "
          "--max-memory '16 GiB' --congestion-bound");
  EXPECT_EQ(bounded.exit_code, 4);
  EXPECT_TRUE(bounded.err.ends_with(
      "routing tables 12.5 MiB (2560 switches), transfers 48 GiB (1073709056, timed by their "
      "congestion bound); that is more than the 16 GiB that --max-memory allows\n"))
      << bounded.err;
}

// --time-limit: a simulation that outlasts it stops with how far it got.
TEST(Cli, RunPastItsTimeLimitStops) {
  // An all-to-all over 256 GPUs runs for minutes.
  const Result stopped =
      run("collective --op all_to_all --size 64MB --topology ft2 --hardware h800_sxm --nodes 32 "
          "--time-limit '0.5 s'");
  EXPECT_EQ(stopped.exit_code, 4);
  EXPECT_TRUE(
      stopped.err.starts_with("clustersim collective: stopped at the time limit of 0.5 s "
                              "(--time-limit): the simulation had reached "))
      << stopped.err;
  EXPECT_NE(stopped.err.find(" s of simulated time in "), std::string::npos) << stopped.err;
  // Bad limits are usage errors.
  const std::string experiment = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  const Result no_unit = run("run " + experiment + " --max-memory 5");
  EXPECT_EQ(no_unit.exit_code, 2);
  EXPECT_EQ(no_unit.err,
            "clustersim run: --max-memory \"5\": missing unit: write the size with its unit, e.g. "
            "\"80 GiB\" or \"70272 B\"\n");
  const Result zero = run("run " + experiment + " --time-limit '0 s'");
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_EQ(zero.err, "clustersim run: --time-limit \"0 s\": must be more than zero\n");
}

// In a sweep, a point over a limit is a row with its reason, and runs again next time.
TEST(Cli, SweepPointsOverALimitAreRowsThatRunAgain) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_limits";
  fs::remove_all(dir);
  const std::string sweep =
      "sweep " + kRoot + "/experiments/sweep_dsv3_pp.yaml --out " + dir.string();
  const Result limited = run(sweep + " --max-memory '8 MiB'");
  ASSERT_EQ(limited.exit_code, 0) << limited.err;
  const std::string rows = read_file(dir / "results.jsonl");
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 9);
  const nlohmann::json first = nlohmann::json::parse(rows.substr(0, rows.find('\n')));
  EXPECT_EQ(first.at("status"), "over_limit");
  EXPECT_TRUE(first.at("reason").get<std::string>().ends_with(
      "; that is more than the 8 MiB that --max-memory allows"))
      << first.at("reason");
  // Points over a limit count as failed on the progress lines.
  EXPECT_NE(limited.err.find("\n[9/9, 9 failed, "), std::string::npos) << limited.err;
  const Result again = run(sweep + " -j 2");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("9 points, 0 already done, 9 to run on 2 job(s)"), std::string::npos)
      << again.err;
  // Infeasible points (pp 8 does not fit) are results, not failures.
  EXPECT_NE(again.err.find("\n[9/9, 0 failed, "), std::string::npos) << again.err;
  const std::string done = read_file(dir / "results.jsonl");
  EXPECT_EQ(std::count(done.begin(), done.end(), '\n'), 9);
  EXPECT_EQ(done.find("over_limit"), std::string::npos);
  fs::remove_all(dir);
}

// A sweep killed with SIGKILL at any moment resumes to the clean run's results, byte for byte.
TEST(Cli, ASweepKilledAnywhereResumesToTheSameResults) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_killed";
  fs::remove_all(dir);
  const std::string sweep = "sweep " + kRoot + "/experiments/sweep_dsv3_pp.yaml -j 2 --out ";
  ASSERT_EQ(run(sweep + (dir / "clean").string()).exit_code, 0);
  for (const char* delay : {"0.05", "0.3", "0.8", "1.5"}) {
    SCOPED_TRACE(delay);
    const std::string command = std::string("timeout -s KILL ") + delay + " " + CLUSTERSIM_BINARY +
                                " " + sweep + (dir / "killed").string() + " >/dev/null 2>&1";
    (void)std::system(command.c_str());
  }
  // A killed sweep's process can outlive `timeout` for a moment on a loaded machine; the folder's
  // lock names it until it is gone.
  if (std::ifstream lock(dir / "killed" / ".lock"); lock) {
    long pid = 0;
    lock >> pid;
    const fs::path stat = fs::path("/proc") / std::to_string(pid) / "stat";
    for (int wait = 0; wait < 100 && pid > 0 && fs::exists(stat); ++wait) {
      std::string text;
      std::getline(std::ifstream(stat), text);
      if (text.find(") Z") != std::string::npos) break;  // a zombie holds nothing
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  const Result resumed = run(sweep + (dir / "killed").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(read_file(dir / "killed" / "results.jsonl"),
            read_file(dir / "clean" / "results.jsonl"));
  EXPECT_EQ(read_file(dir / "killed" / "results.csv"), read_file(dir / "clean" / "results.csv"));
  fs::remove_all(dir);
}

// On a terminal the progress is one line redrawn in place, with the failed points above it.
TEST(Cli, SweepProgressIsOneLineRedrawnOnATerminal) {
  namespace fs = std::filesystem;
  if (std::system("command -v script >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "script (util-linux), which gives the sweep a terminal, is not installed";
  }
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_terminal";
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "sweep.yaml") << "name: two-points\nexperiment: " << kRoot
                                    << "/experiments/dsv3_2048xh800_mpft.yaml\naxes:\n  - key: "
                                       "parallelism.pp\n    values: [16, 32]\n";
  // A time limit far too short stops both points at once: they fail.
  const Result terminal = run_command("script -qfec \"" + std::string(CLUSTERSIM_BINARY) +
                                      " sweep " + (dir / "sweep.yaml").string() + " --out " +
                                      (dir / "out").string() + " --time-limit '1 ms'\" /dev/null");
  ASSERT_EQ(terminal.exit_code, 0) << terminal.out;
  const std::string& screen = terminal.out;  // the terminal's: \n comes as \r\n
  EXPECT_NE(screen.find("\r\033[Ksweep two-points: 0/2 points, 0 failed\r\033[Kpoint 0 "
                        "(parallelism.pp=16): over_limit: stopped at the time limit of 0.001 s "
                        "(--time-limit)"),
            std::string::npos)
      << screen;
  EXPECT_NE(screen.find("\r\033[Ksweep two-points: 1/2 points, 1 failed, "), std::string::npos)
      << screen;
  EXPECT_NE(screen.find("\r\033[Kpoint 1 (parallelism.pp=32): over_limit: "), std::string::npos)
      << screen;
  EXPECT_NE(screen.find("\r\033[Ksweep two-points: 2/2 points, 2 failed, "), std::string::npos)
      << screen;
  EXPECT_EQ(screen.find("[1/2"), std::string::npos) << screen;  // no plain lines
  fs::remove_all(dir);
}

// --mpi in a single process (not under mpirun), or in a build without MPI, is a usage error that
// writes nothing.
TEST(Cli, SweepOnMpiNeedsTwoRanks) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_one_rank";
  fs::remove_all(dir);
  const Result mpi =
      run("sweep " + kRoot + "/experiments/sweep_dsv3_pp.yaml --mpi --out " + dir.string());
  EXPECT_EQ(mpi.exit_code, 2);
  EXPECT_EQ(mpi.out, "");
  // The message ends stderr; an MPI library may have warned about the machine before it.
  EXPECT_TRUE(mpi.err.ends_with(
      CLUSTERSIM_HAVE_MPI
          ? "clustersim sweep: --mpi needs at least 2 ranks: run it under mpirun -np K\n"
          : "clustersim sweep: --mpi: this build has no MPI support; use -j to run points in "
            "parallel on one machine\n"))
      << mpi.err;
  EXPECT_FALSE(fs::exists(dir));
}

// mpirun -np 2: rank 0 hands out the points and writes; the files are those of a -j 2 run, byte
// for byte, and only rank 0 prints. A rerun finds every point done, on the ranks as on threads.
// clustersim search: the best layouts, the reasons others were left out, and its input errors.
TEST(Cli, SearchRanksLayoutsAndExplainsWhatItLeftOut) {
  const std::string tiny = kRoot + "/tests/data/good/search/tiny_search.yaml";
  const Result found = run("search " + tiny + " --top 2 --pareto --json");
  ASSERT_EQ(found.exit_code, 0) << found.err;
  const nlohmann::json json = nlohmann::json::parse(found.out);
  EXPECT_EQ(json.at("candidates"), 352);
  ASSERT_EQ(json.at("best").size(), 2U);
  const nlohmann::json& best = json.at("best")[0];
  EXPECT_LE(best.at("step_time_s").get<double>(), json.at("best")[1].at("step_time_s"));
  EXPECT_GE(best.at("memory_headroom_gb").get<double>(), 0);
  EXPECT_FALSE(json.at("pareto").empty());
  // The best layout, run on its own, takes the time the search gave it.
  std::string set;
  for (const auto& item : best.at("overrides")) set += " --set " + item.get<std::string>();
  const Result again = run("run " + tiny + set + " --json");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out).at("step_time_s"), best.at("step_time_s"));
  // Bounds that leave nothing: exit 1, with why.
  const Result none = run("search " + tiny + " --fix 'parallelism.tp=[3]'");
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_EQ(none.err, "clustersim search: " + tiny +
                          ": no layout of the 88 candidates can run (0 simulated); why they were "
                          "left out:\n       88  layout: parallelism.tp (e.g. tp x pp x cp = 3 x 1 "
                          "x 1 = 3 does not divide the 16 GPUs (2 nodes x 8))\n");
  const Result typo = run("search " + tiny + " --fix parallelism.tpp=1");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("--fix parallelism.tpp=1: error: search.parallelism.tpp: unknown key "
                          "\"tpp\"; did you mean \"tp\"?"),
            std::string::npos)
      << typo.err;
  const Result lone = run("search " + tiny + " --mpi");
  EXPECT_EQ(lone.exit_code, 2);
  EXPECT_TRUE(lone.err.starts_with("clustersim search: --mpi")) << lone.err;
}

// The text's last line is a command that runs the best layout: it keeps the user's own --set
// (quoted for the shell where needed), so it takes the time the search gave the layout.
TEST(Cli, SearchsRunTheBestLineRunsWhatItFound) {
  const std::string tiny = kRoot + "/tests/data/good/search/tiny_search.yaml";
  const std::string own = " --set training.seq_len=1024 --set 'cluster.topology={base: ft2}'";
  const Result json = run("search " + tiny + own + " --top 1 --json");
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const double best = nlohmann::json::parse(json.out).at("best")[0].at("step_time_s");
  const Result text = run("search " + tiny + own + " --top 1");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::string prefix = "\nrun the best: clustersim run " + tiny +
                             " --set training.seq_len=1024 --set 'cluster.topology={base: ft2}' "
                             "--set parallelism.tp=";
  const std::size_t at = text.out.find(prefix);
  ASSERT_NE(at, std::string::npos) << text.out;
  std::string line = text.out.substr(at + std::string("\nrun the best: clustersim ").size());
  line = line.substr(0, line.find('\n'));
  const Result again = run(line + " --json");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out).at("step_time_s").get<double>(), best);
}

// clustersim plan: the smallest cluster per candidate as JSON, a goal no candidate meets, and
// its input errors.
TEST(Cli, PlanSizesEachCandidateAndSaysHowCloseAMissCame) {
  const std::string tiny = kRoot + "/tests/data/good/search/tiny_plan.yaml";
  const Result planned = run("plan " + tiny + " --json");
  ASSERT_EQ(planned.exit_code, 0) << planned.err;
  const nlohmann::json json = nlohmann::json::parse(planned.out);
  EXPECT_EQ(json.at("status"), "ok");
  EXPECT_EQ(json.at("tokens"), 1e12);
  ASSERT_EQ(json.at("candidates").size(), 2U);
  for (const nlohmann::json& row : json.at("candidates")) {
    EXPECT_TRUE(row.at("meets_goal").get<bool>());
    EXPECT_LE(row.at("training_days").get<double>(), 1.0);
    EXPECT_EQ(row.at("gpus"), row.at("nodes").get<int>() * 8);
    EXPECT_EQ(row.at("trials").back().at("nodes"), row.at("nodes"));
    EXPECT_NEAR(row.at("capex").at("total_usd").get<double>(),
                row.at("capex").at("gpus_usd").get<double>() +
                    row.at("capex").at("network_usd").get<double>(),
                1e-6);
    // The chosen layout, run on its own at that size, takes the time the plan gave it.
    std::string set = " --set cluster.nodes=" + std::to_string(row.at("nodes").get<int>()) +
                      " --set hardware=" + row.at("hardware").get<std::string>();
    for (const auto& item : row.at("layout").at("overrides")) {
      set += " --set " + item.get<std::string>();
    }
    const Result again = run("run " + tiny + set + " --json");
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(nlohmann::json::parse(again.out).at("step_time_s"), row.at("step_time_s"));
  }
  // The command line's goal replaces the file's; a goal nobody meets exits 1 with the closest.
  const Result missed = run("plan " + tiny + " --deadline-days 0.001");
  EXPECT_EQ(missed.exit_code, 1);
  EXPECT_NE(missed.err.find("clustersim plan: " + tiny +
                            ": no candidate meets the goal (within 0.001 days); the closest, "),
            std::string::npos)
      << missed.err;
  const Result lonely = run("plan " + tiny + " --topology ft2");
  EXPECT_EQ(lonely.exit_code, 2);
  EXPECT_EQ(lonely.err,
            "clustersim plan: --topology needs --hardware: the candidates are every hardware "
            "profile on every topology given\n");
  const Result typo = run("plan " + tiny + " --hardware h100_sm");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("plan.candidates[0].hardware"), std::string::npos) << typo.err;
  EXPECT_NE(typo.err.find("h100_sxm"), std::string::npos) << typo.err;
  // A bad value given to one of the plan's own options is reported under that option.
  const Result sixty = run("plan " + tiny + " --deadline-days sixty");
  EXPECT_EQ(sixty.exit_code, 2);
  EXPECT_NE(sixty.err.find("--deadline-days sixty: error: plan.deadline_days: expected a number, "
                           "got \"sixty\""),
            std::string::npos)
      << sixty.err;
  EXPECT_EQ(sixty.err.find("--set"), std::string::npos) << sixty.err;
  const Result no_goal = run("plan " + kRoot + "/tests/data/good/search/tiny_search.yaml");
  EXPECT_EQ(no_goal.exit_code, 2);
  EXPECT_NE(no_goal.err.find("plan.deadline_days: a plan needs a goal: give plan.deadline_days, "
                             "plan.budget_usd or both (--deadline-days, --budget-usd on the "
                             "command line)"),
            std::string::npos)
      << no_goal.err;
}

TEST(Cli, SearchOnTwoMpiRanksFindsWhatOneProcessFinds) {
  if (!CLUSTERSIM_HAVE_MPI) GTEST_SKIP() << "this build has no MPI (libopenmpi-dev, ENABLE_MPI)";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mpirun is not installed (openmpi-bin)";
  }
  const std::string tiny = kRoot + "/tests/data/good/search/tiny_search.yaml";
  const Result jobs = run("search " + tiny + " --top 3 --json -j 2");
  ASSERT_EQ(jobs.exit_code, 0) << jobs.err;
  const Result ranks = run_command(
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none timeout 120 mpirun -np 2 --oversubscribe " +
      std::string(CLUSTERSIM_BINARY) + " search " + tiny + " --top 3 --json --mpi");
  ASSERT_EQ(ranks.exit_code, 0) << ranks.err;
  EXPECT_EQ(nlohmann::json::parse(ranks.out).at("best"),
            nlohmann::json::parse(jobs.out).at("best"));
}

TEST(Cli, SweepOnTwoMpiRanksWritesWhatTwoJobsWrite) {
  namespace fs = std::filesystem;
  if (!CLUSTERSIM_HAVE_MPI) GTEST_SKIP() << "this build has no MPI (libopenmpi-dev, ENABLE_MPI)";
  if (std::system("command -v mpirun >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "mpirun is not installed (openmpi-bin)";
  }
  const fs::path dir = fs::temp_directory_path() / "cs_sweep_mpi";
  fs::remove_all(dir);
  const std::string sweep = kRoot + "/experiments/sweep_dsv3_pp.yaml";
  ASSERT_EQ(run("sweep " + sweep + " -j 2 --out " + (dir / "jobs").string()).exit_code, 0);
  // Open MPI refuses root unless told; in containers its shared-memory transport cannot always
  // copy between processes directly (CMA), so it copies through the shared segment. A rank left
  // waiting would hang the test: `timeout` ends it.
  const std::string mpirun =
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
      "OMPI_MCA_btl_vader_single_copy_mechanism=none timeout 120 mpirun -np 2 --oversubscribe " +
      std::string(CLUSTERSIM_BINARY) + " sweep " + sweep + " --mpi --out " + (dir / "mpi").string();
  const Result ranks = run_command(mpirun);
  ASSERT_EQ(ranks.exit_code, 0) << ranks.err;
  EXPECT_EQ(ranks.out,
            "sweep dsv3-pp-vs-ib: 9 points, 6 ok, 3 infeasible, invalid or over a "
            "limit; " +
                (dir / "mpi" / "results.csv").string() + " and " +
                (dir / "mpi" / "results.jsonl").string() + "\n");
  EXPECT_NE(ranks.err.find("sweep dsv3-pp-vs-ib: 9 points, 0 already done, 9 to run on 2 MPI "
                           "ranks\n"),
            std::string::npos)
      << ranks.err;
  EXPECT_NE(ranks.err.find("\n[9/9, 0 failed, "), std::string::npos) << ranks.err;
  EXPECT_EQ(read_file(dir / "mpi" / "results.jsonl"), read_file(dir / "jobs" / "results.jsonl"));
  EXPECT_EQ(read_file(dir / "mpi" / "results.csv"), read_file(dir / "jobs" / "results.csv"));
  EXPECT_FALSE(fs::exists(dir / "mpi" / ".lock"));
  const Result again = run_command(mpirun);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("9 points, 9 already done, 0 to run on 2 MPI ranks"), std::string::npos)
      << again.err;
  EXPECT_EQ(read_file(dir / "mpi" / "results.csv"), read_file(dir / "jobs" / "results.csv"));
  // A mistake in the input stops every rank (none is left waiting), reported once, by rank 0.
  const Result mistake = run_command(mpirun + " --set mdoe=zip");
  EXPECT_EQ(mistake.exit_code, 2) << mistake.err;
  const std::string message =
      "--set mdoe=zip: error: mdoe: unknown key \"mdoe\"; did you mean \"mode\"?\n";
  const std::size_t first = mistake.err.find(message);
  EXPECT_NE(first, std::string::npos) << mistake.err;
  EXPECT_EQ(mistake.err.find(message, first + 1), std::string::npos) << mistake.err;
  fs::remove_all(dir);
}

TEST(Cli, TopoReportsCountsDiameterBisectionAndCost) {
  const Result result = run("topo " + kRoot + "/topologies/ft2.yaml --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["endpoints"], 2048);
  EXPECT_EQ(report["switches"], 96);
  EXPECT_EQ(report["links"], 2048);
  EXPECT_EQ(report["diameter"], 2);
  EXPECT_DOUBLE_EQ(report["bisection_bandwidth_Bps"].get<double>(), 1024 * 50e9);
  EXPECT_DOUBLE_EQ(report["cost_usd"].get<double>(), 96 * 83000.0 + 2048 * 503.0);
  // By name, sized for the endpoints asked for: Table 3's 32,928 endpoints need q = 29.
  const Result slim_fly = run("topo slimfly --endpoints 32928 --json");
  ASSERT_EQ(slim_fly.exit_code, 0) << slim_fly.err;
  const nlohmann::json sized = nlohmann::json::parse(slim_fly.out);
  EXPECT_EQ(sized["endpoints"], 32928);
  EXPECT_EQ(sized["switches"], 1682);
  EXPECT_EQ(sized["diameter"], 2);
  EXPECT_EQ(sized["size"], "q = 29: 1682 routers of network degree 43, 21 endpoints each");
  const Result dragonfly = run("topo dragonfly --endpoints 2048 --json");
  ASSERT_EQ(dragonfly.exit_code, 0) << dragonfly.err;
  const nlohmann::json four_groups = nlohmann::json::parse(dragonfly.out);
  EXPECT_EQ(four_groups["switches"], 128);
  EXPECT_EQ(four_groups["size"],
            "4 groups of 32 routers, 170 global links between each pair of groups");
  const Result too_big = run("topo ft2 --endpoints 4096");
  EXPECT_EQ(too_big.exit_code, 2);
  EXPECT_EQ(too_big.err,
            "ft2: error: topology \"ft2\": a two-level fat-tree of 64-port switches holds at most "
            "2048 endpoints; 4096 are needed (levels: 3 holds 65536)\n");
}

TEST(Cli, CollectivePrintsNcclTestsQuantities) {
  const Result result = run("collective --topology h800_node --nodes 1 --size '1 GiB' --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_EQ(report["ranks"], 8);
  EXPECT_NEAR(report["busbw_bytes_per_s"].get<double>() / 1e9, 159.4, 0.5);
  EXPECT_FALSE(report["busiest_links"].empty());
  const Result ep = run("collective --op ep --nodes 4 --tokens 256 --json");
  ASSERT_EQ(ep.exit_code, 0) << ep.err;
  EXPECT_GT(nlohmann::json::parse(ep.out)["dispatch"]["rdma_bytes_per_s"].get<double>(), 0);
  // Normal kernels hold their SMs; low-latency ones post RDMA writes and free them.
  EXPECT_EQ(nlohmann::json::parse(ep.out)["sms_held"], 20);
  const Result low = run("collective --op ep --nodes 4 --tokens 128 --low-latency --json");
  ASSERT_EQ(low.exit_code, 0) << low.err;
  EXPECT_EQ(nlohmann::json::parse(low.out)["sms_held"], 0);
}

// Departure batching is an option, stated in the output; on an EP exchange and an all-to-all it
// keeps what they report (their last completion) within the bound the flow model states.
TEST(Cli, DepartureBatchingIsStatedAndStaysNearTheExactRun) {
  for (const std::string op : {"--op ep --nodes 8 --tokens 512", "--op all_to_all --nodes 8"}) {
    const std::string base = "collective --topology ft3 --size '1 MiB' --json " + op;
    const Result exact = run(base);
    const Result batched = run(base + " --departure-batching 0.05");
    ASSERT_EQ(exact.exit_code, 0) << exact.err;
    ASSERT_EQ(batched.exit_code, 0) << batched.err;
    const nlohmann::json a = nlohmann::json::parse(exact.out);
    const nlohmann::json b = nlohmann::json::parse(batched.out);
    EXPECT_EQ(a["departure_batching"], 0.0);
    EXPECT_EQ(b["departure_batching"], 0.05);
    for (const char* phase : {"dispatch", "combine"}) {
      if (!a.contains(phase)) continue;
      const double t = a[phase]["time_s"].get<double>();
      EXPECT_NEAR(b[phase]["time_s"].get<double>(), t, 0.015 * t) << op << " " << phase;
    }
    if (a.contains("time_s")) {
      const double t = a["time_s"].get<double>();
      EXPECT_NEAR(b["time_s"].get<double>(), t, 0.015 * t) << op;
    }
  }
  const Result text = run("collective --op all_to_all --nodes 4 --departure-batching 0.05");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  departure batching 0.05: rates re-solved once 5 % of the active "
                          "flows have left (approximate; 0 is exact)\n"),
            std::string::npos)
      << text.out;
}

// --congestion-bound times the all-to-all without flows: stated in the output and in --json, and
// the simulated run's time where the busiest link's flows start together.
TEST(Cli, CongestionBoundIsStatedAndMatchesTheSimulatedAllToAll) {
  const std::string base = "collective --op all_to_all --topology ft3 --nodes 16 --json";
  const Result simulated = run(base);
  const Result bounded = run(base + " --congestion-bound");
  ASSERT_EQ(simulated.exit_code, 0) << simulated.err;
  ASSERT_EQ(bounded.exit_code, 0) << bounded.err;
  const nlohmann::json a = nlohmann::json::parse(simulated.out);
  const nlohmann::json b = nlohmann::json::parse(bounded.out);
  EXPECT_EQ(a["congestion_bound"], false);
  EXPECT_EQ(b["congestion_bound"], true);
  EXPECT_EQ(b["flows"], a["flows"]);
  const double t = a["time_s"].get<double>();
  EXPECT_NEAR(b["time_s"].get<double>(), t, 1e-9 * t);
  const Result text = run("collective --op all_to_all --nodes 4 --congestion-bound");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("  timed by the congestion bound: no flows simulated (the flow model's "
                          "time for flows of one size that start together; peak = a link's mean "
                          "rate while busy)\n"),
            std::string::npos)
      << text.out;
}

// A large exact all-to-all says before it starts that it is long, and what is faster.
TEST(Cli, LongExactAllToAllSaysSoFirst) {
  const std::string base = "collective --op all_to_all --topology ft3 --nodes 64 --size '1 MiB'";
  const Result exact = run(base + " --time-limit '0.2 s'");
  EXPECT_EQ(exact.exit_code, 4);
  EXPECT_TRUE(exact.err.starts_with(
      "clustersim collective: note: 261632 flows in one all-to-all, simulated exactly: from tens "
      "of seconds to hours (--congestion-bound gives its time without simulating the flows; "
      "--departure-batching 0.5 simulates them approximately)\n"))
      << exact.err;
  const Result bounded = run(base + " --congestion-bound");
  EXPECT_EQ(bounded.exit_code, 0) << bounded.err;
  EXPECT_EQ(bounded.err, "");
  // Half the GPUs (65,280 flows): under the threshold, nothing said.
  const Result smaller =
      run("collective --op all_to_all --topology ft3 --nodes 32 --size '1 MiB' "
          "--time-limit '0.2 s'");
  EXPECT_EQ(smaller.err.find("note:"), std::string::npos) << smaller.err;
}

TEST(Cli, CollectiveRejectsBadRequests) {
  struct Case {
    std::string arguments, message;
  };
  const Case cases[] = {
      {"collective --size 0B",
       "clustersim collective: message size must be positive, got 0 bytes\n"},
      {"collective --size 12",
       "clustersim collective: --size: missing unit: write the size with "
       "its unit, e.g. \"80 GiB\" or \"70272 B\"\n"},
      {"collective --op ep --nodes 2",
       "clustersim collective: a token may go to at most 4 nodes, but the EP group spans 2\n"},
      {"collective --comm-sms 200",
       "clustersim collective: --comm-sms 200 is outside the 132 SMs of one NVIDIA H800 SXM5 "
       "80GB\n"},
      {"collective --topology ft2 --nodes 5000",
       "clustersim collective: topology \"ft2\": a two-level fat-tree of 64-port switches holds "
       "at most 2048 endpoints; 40000 are needed (levels: 3 holds 65536)\n"},
      {"collective --op allreduce",
       "clustersim collective: unknown operation \"allreduce\" (did you mean \"all_reduce\"?); "
       "expected all_reduce, reduce_scatter, all_gather, all_to_all, send_recv or ep\n"},
      {"collective --op broadcast",
       "clustersim collective: unknown operation \"broadcast\"; expected all_reduce, "
       "reduce_scatter, all_gather, all_to_all, send_recv or ep\n"},
      {"collective --routing adaptiv",
       "clustersim collective: --routing: unknown routing policy \"adaptiv\" (did you mean "
       "\"adaptive\"?); expected \"ecmp\", \"adaptive\", \"static\", \"spray\", \"valiant\" or "
       "\"ugal\"\n"},
      {"collective --departure-batching 1",
       "clustersim collective: --departure-batching 1: expected a fraction of the active flows "
       "in [0, 1) (0: exact)\n"},
      {"collective --departure-batching -0.1",
       "clustersim collective: --departure-batching -0.1: expected a fraction of the active flows "
       "in [0, 1) (0: exact)\n"},
      {"collective --op ep --nodes 4 --congestion-bound",
       "clustersim collective: --congestion-bound is for collectives: an EP exchange's flows "
       "differ in size and start, so its time is not a link's bytes over its capacity (simulate "
       "it, with --departure-batching 0.05 for large groups)\n"},
      {"collective --op all_to_all --nodes 4 --departure-batching 0.1 --congestion-bound",
       "clustersim collective: departure batching applies to simulated flows; the congestion "
       "bound simulates none (give one or the other)\n"},
      {"collective --op all_to_all --topology ft3 --nodes 32 --routing adaptive "
       "--congestion-bound",
       "clustersim collective: the congestion bound cannot time adaptive routing, which chooses "
       "each path by the flows in flight; simulate the flows (no congestion bound) or route by "
       "ecmp, static, spray or valiant\n"},
      {"collective --tp 3 --nodes 2",
       "clustersim collective: --tp 3 does not divide the 16 GPUs into tensor-parallel groups\n"},
      {"collective --topology rail_only --nodes 4 --routing spray",
       "clustersim collective: topology \"rail_only\": routing: spray chooses among equal-cost "
       "paths, but this network has one shortest path between any two endpoints (ecmp or static "
       "route it the same)\n"}};
  for (const Case& c : cases) {
    const Result result = run(c.arguments);
    EXPECT_EQ(result.exit_code, 2) << c.arguments;
    EXPECT_EQ(result.err, c.message) << c.arguments;
  }
}

TEST(Cli, TopoRejectsParametersThatCannotBeBuilt) {
  const Result result =
      run("topo " + kRoot + "/topologies/ft2.yaml --set switch_radix=2 --set oversubscription=4");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, kRoot +
                            "/topologies/ft2.yaml: error: oversubscription 4:1 leaves no port of a "
                            "2-port switch for endpoints or uplinks\n");
}

TEST(Cli, RunPricesTheNetworkWithTheGivenCostProfile) {
  // The ISCA'25 Table 3 method: the 2048-GPU multi-plane fat-tree's 96 switches and 2048 switch
  // links at $83k and $503 (as `topo` prices FT2).
  const Result result =
      run("run " + kRoot + "/experiments/dsv3_2048xh800_mpft.yaml --json --cost ib_ndr_64port");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  EXPECT_DOUBLE_EQ(report["cost"]["capex_usd"]["network"].get<double>(),
                   96 * 83000.0 + 2048 * 503.0);
  EXPECT_DOUBLE_EQ(report["cost"]["capex_usd"]["network_by_part"]["whole_links"].get<double>(),
                   2048 * 503.0);
}

TEST(Cli, TopoRejectsALinkSpeedTheCostProfileDoesNotPrice) {
  const Result result = run("topo " + kRoot +
                            "/topologies/ft2.yaml --cost ib_as_bought --set "
                            "'link_bandwidth=1600 Gb/s'");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "--cost: error: cost profile \"ib_as_bought\" has no prices for 1600 Gb/s links, which "
            "this network uses (it prices 200 Gb/s, 400 Gb/s, 800 Gb/s)\n");
}

TEST(Cli, TopoReportsTheCostPerEndpointAndPerBisectionByPart) {
  const Result result = run("topo " + kRoot + "/topologies/ft2.yaml --cost ib_as_bought --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json report = nlohmann::json::parse(result.out);
  const double cost = report["cost_usd"].get<double>();
  EXPECT_DOUBLE_EQ(report["cost_per_endpoint_usd"].get<double>(), cost / 2048);
  EXPECT_DOUBLE_EQ(report["cost_per_bisection_tbps_usd"].get<double>(), cost / (1024 * 0.4));
  double by_part = 0;
  for (const auto& [part, usd] : report["cost_by_part_usd"].items()) by_part += usd.get<double>();
  EXPECT_NEAR(by_part, cost, 1e-6 * cost);
  double bill = 0;
  for (const nlohmann::json& line : report["cost_parts"]) bill += line["usd"].get<double>();
  EXPECT_NEAR(bill, cost, 1e-6 * cost);
}

TEST(Cli, TopoRejectsAMissingCostProfile) {
  const Result result = run("topo " + kRoot + "/topologies/ft2.yaml --cost ib_ndr_64prt");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            "--cost: error: cost profile \"ib_ndr_64prt\" not found in the card library "
            "(hardware_profiles/costs/); did you mean \"ib_ndr_64port\"?\nclustersim: 1 error\n");
}

TEST(Cli, ValidateAcceptsEveryShippedCard) {
  std::string files;
  for (const char* folder :
       {"models", "hardware_profiles", "hardware_profiles/costs", "topologies", "experiments"}) {
    for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/" + folder)) {
      if (entry.path().extension() != ".yaml") continue;
      files += ' ';
      files += entry.path().string();
    }
  }
  const Result result = run("validate" + files);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "");
}

// A folder given to validate stands for every YAML file under it, in name order, but not those
// in hidden folders or build trees; a folder with none is an error of its own.
TEST(Cli, ValidateReadsEveryYamlFileUnderAFolder) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "cs_validate_folder";
  fs::remove_all(dir);
  fs::create_directories(dir / "models");
  fs::create_directories(dir / "more");
  fs::create_directories(dir / ".hidden");
  fs::create_directories(dir / "build");
  fs::create_directories(dir / "empty");
  fs::copy_file(kRoot + "/models/llama3_8b.yaml", dir / "models" / "llama3_8b.yaml");
  std::ofstream(dir / "more" / "broken.yaml") << "name: broken\nlayers: [\n";
  std::ofstream(dir / "more" / "notes.txt") << "not YAML\n";
  std::ofstream(dir / ".hidden" / "broken.yaml") << "layers: [\n";
  std::ofstream(dir / "build" / "CMakeCache.txt") << "\n";
  std::ofstream(dir / "build" / "broken.yaml") << "layers: [\n";
  const Result result = run("validate " + dir.string() + " " + (dir / "empty").string());
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.out, (dir / "models" / "llama3_8b.yaml").string() + ": ok (model llama3_8b)\n");
  EXPECT_EQ(result.err, (dir / "more" / "broken.yaml").string() +
                            ":3:1: error: invalid YAML: end of sequence flow not found\n" +
                            (dir / "empty").string() + ": error: no YAML files in this folder\n");
  fs::remove_all(dir);
}

// validate makes the checks run makes before it simulates: a network too small for the cluster
// (exit 2) and a model that does not fit (exit 1), each at its key.
TEST(Cli, ValidateChecksTheNetworkAndTheMemoryFitAsRunDoes) {
  const std::string experiment = kRoot + "/experiments/dsv3_2048xh800_mpft.yaml";
  const Result small =
      run("validate " + experiment + " --set 'cluster.topology={base: dragonfly, groups: 2}'");
  EXPECT_EQ(small.exit_code, 2);
  EXPECT_NE(small.err.find("error: cluster.topology: topology \"dragonfly\" fixes groups: 2, "
                           "which holds 1024 endpoints; 2048 are needed"),
            std::string::npos)
      << small.err;
  const Result ran =
      run("run " + experiment + " --set 'cluster.topology={base: dragonfly, groups: 2}'");
  EXPECT_EQ(ran.exit_code, 2);
  const std::string gpt_oss =
      kRoot + "/experiments/validation/nemo_25_11_h100_gptoss120b_64gpu_bf16.yaml";
  // The table's micro-batch size of 4 (the recipe runs 1) does not fit.
  const Result big = run("validate " + gpt_oss + " --set parallelism.micro_batch_size=4");
  EXPECT_EQ(big.exit_code, 1);
  EXPECT_NE(big.err.find(":20:1: error: parallelism: the model does not fit: pipeline rank 0 "
                         "needs 134.3 GB of the 80.0 GB of one GPU"),
            std::string::npos)
      << big.err;
  EXPECT_EQ(run("run " + gpt_oss + " --set parallelism.micro_batch_size=4").exit_code, 1);
  EXPECT_EQ(run("validate " + gpt_oss).exit_code, 0);
}

class CliBadInput : public ::testing::TestWithParam<testing::BadInputCase> {};

// The CLI prints the same lines as the loader, then a count, and exits with the pinned code.
TEST_P(CliBadInput, ValidateReportsPinnedMessagesAndExitCode) {
  const testing::BadInputCase& item = GetParam();
  std::string arguments = "validate --kind " + item.kind + " " + item.path;
  for (const std::string& override_text : item.overrides) {
    arguments += " --set '" + override_text + "'";
  }
  const Result result = run(arguments);
  EXPECT_EQ(result.exit_code, item.exit_code);
  std::string expected;
  for (const std::string& line : item.expected) expected += line + "\n";
  EXPECT_EQ(result.err, expected);
  EXPECT_EQ(result.out, "");
}

INSTANTIATE_TEST_SUITE_P(Corpus, CliBadInput, ::testing::ValuesIn(testing::load_bad_input_corpus()),
                         [](const ::testing::TestParamInfo<testing::BadInputCase>& param_info) {
                           return "f" + param_info.param.name;
                         });

TEST(Cli, RoceAndInfinibandLatenciesAreTable5s) {
  // ISCA'25 Table 5, cross leaf: InfiniBand 3.7 us, RoCE 5.6 us (64 B; the 64 bytes themselves
  // add 1.6 ns). The first and last GPU of 8 nodes sit under different leaves of the sized FT2.
  for (const auto& [hardware, expected] :
       {std::pair{"h800_sxm", 3.7e-6}, std::pair{"h800_sxm_roce", 5.6e-6}}) {
    const Result result = run(std::string("collective --op send_recv --size '64 B' --topology "
                                          "ft2 --nodes 8 --json --hardware ") +
                              hardware);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NEAR(nlohmann::json::parse(result.out)["time_s"].get<double>(), expected, 5e-9)
        << hardware;
  }
}

TEST(Cli, CollectiveGridShowsTheFigure8Order) {
  // ISCA'25 Figure 8 (no numbers printed): on RoCE, all-gather and reduce-scatter reach less
  // bandwidth under ECMP than under adaptive or static routing, and adaptive and static reach
  // about the same. Here the data-parallel rings of a TP-t layout all run at once (t of them);
  // each crosses node boundaries with one flow per node, and at a leaf boundary t flows leave
  // for the next leaf together. ECMP hashes them onto the leaf's uplinks by chance, and two on
  // one uplink halve the ring; D-mod-k gives each destination of the next leaf its own uplink;
  // adaptive routing takes the idle ones. With TP 2 only two rings leave each leaf and ECMP
  // happens to keep them apart.
  const std::string csv =
      (std::filesystem::temp_directory_path() / ("figure8_" + std::to_string(::getpid()) + ".csv"))
          .string();
  const Result result =
      run("collective --op all_gather,reduce_scatter --routing ecmp,adaptive,static --tp 8,4,2 "
          "--size '1 GiB' --topology ft2 --nodes 16 --hardware h800_sxm_roce --json --out " +
          csv);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const nlohmann::json rows = nlohmann::json::parse(result.out);
  ASSERT_EQ(rows.size(), 18U);
  std::map<std::tuple<std::string, std::string, int>, double> busbw;
  for (const nlohmann::json& row : rows) {
    busbw[std::make_tuple(row["operation"].get<std::string>(), row["routing"].get<std::string>(),
                          row["tp"].get<int>())] = row["busbw_bytes_per_s"].get<double>();
  }
  const auto at = [&](const std::string& op, const std::string& routing, int tp) {
    return busbw[std::make_tuple(op, routing, tp)];
  };
  for (const std::string op : {"all_gather", "reduce_scatter"}) {
    for (int tp : {8, 4, 2}) {
      const double adaptive = at(op, "adaptive", tp);
      EXPECT_LE(at(op, "ecmp", tp), adaptive * (1 + 1e-9)) << op << " tp " << tp;
      EXPECT_NEAR(at(op, "static", tp), adaptive, 0.01 * adaptive) << op << " tp " << tp;
    }
    EXPECT_LT(at(op, "ecmp", 8), 0.5 * at(op, "adaptive", 8)) << op;
    EXPECT_LT(at(op, "ecmp", 4), 0.75 * at(op, "adaptive", 4)) << op;
  }
  const std::string written = read_file(csv);
  std::filesystem::remove(csv);
  EXPECT_EQ(written.substr(0, written.find('\n')),
            "operation,routing,tp,hardware,topology,nodes,ranks,size_bytes,time_s,algbw_GBps,"
            "busbw_GBps");
  EXPECT_EQ(std::count(written.begin(), written.end(), '\n'), 19);
}

TEST(Cli, RoutingExplainsWhyFt2TrailsTheMultiPlaneTree) {
  // README, "Routing and link layers": on FT2 the DeepSeek-V3 step is 18 % longer than on MPFT
  // under ECMP, and as short under adaptive routing; the busiest spine link under ECMP carries
  // about twice the mean, under adaptive routing little more than it.
  std::map<std::string, nlohmann::json> runs;
  for (const auto& [topology, routing] :
       {std::pair{"ft2", "ecmp"}, std::pair{"ft2", "adaptive"}, std::pair{"mpft", "ecmp"}}) {
    const Result result =
        run("run " + kRoot +
            "/experiments/dsv3_2048xh800_mpft.yaml --json --set cluster.topology=" + topology +
            " --set cluster.routing=" + routing);
    ASSERT_EQ(result.exit_code, 0) << result.err;
    runs[std::string(topology) + " " + routing] = nlohmann::json::parse(result.out);
  }
  const auto step = [&](const std::string& name) {
    return runs[name]["step_time_s"].get<double>();
  };
  EXPECT_GT(step("ft2 ecmp"), 1.15 * step("mpft ecmp"));
  EXPECT_NEAR(step("ft2 adaptive"), step("mpft ecmp"), 1e-3 * step("mpft ecmp"));
  const auto spine = [&](const std::string& name, const char* key) {
    return runs[name]["link_tiers"]["spine"][key].get<double>();
  };
  EXPECT_GT(spine("ft2 ecmp", "max_utilization"), 1.8 * spine("ft2 ecmp", "mean_utilization"));
  EXPECT_LT(spine("ft2 adaptive", "max_utilization"),
            1.15 * spine("ft2 adaptive", "mean_utilization"));
  // On MPFT an EP group's NICs of a plane share a leaf: the spines carry little.
  EXPECT_LT(spine("mpft ecmp", "mean_utilization"),
            0.1 * spine("ft2 adaptive", "mean_utilization"));
}

TEST(Cli, ARoutingPolicyTheNetworkCannotHonourNamesTheKey) {
  const Result result =
      run("run " + kRoot +
          "/experiments/dsv3_2048xh800_mpft.yaml --set cluster.nodes=32 --set parallelism.pp=4 "
          "--set training.global_batch_size=1920 --set cluster.topology=rail_only --set "
          "cluster.routing=spray");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err,
            kRoot +
                "/experiments/dsv3_2048xh800_mpft.yaml:14:3: error: cluster.topology: "
                "topology \"rail_only\": routing: spray chooses among equal-cost paths, "
                "but this network has one shortest path between any two endpoints "
                "(ecmp or static route it the same)\nclustersim: 1 error\n");
}

TEST(Cli, ANetworkTheCostProfileCannotPriceFailsBeforeTheSimulation) {
  // ib_as_bought sells no 128-port 400G switch: the run stops at once, naming the key, instead of
  // after simulating 131,072 GPUs.
  const Result result = run("run " + kRoot +
                            "/experiments/dsv3_2048xh800_mpft.yaml --set cluster.nodes=16384 --set "
                            "training.global_batch_size=983040 --set cluster.topology=ft3 --set "
                            "cluster.topology.switch_radix=128");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err, kRoot +
                            "/experiments/dsv3_2048xh800_mpft.yaml:14:3: error: cluster.topology: "
                            "cost profile \"ib_as_bought\" has no 400 Gb/s switch with 128 or more "
                            "ports (its largest has 64) (--cost names another cost profile)\n"
                            "clustersim: 1 error\n");
}

TEST(Cli, TopoReportsTheRoutingPolicy) {
  const Result plain = run("topo ft2 --json");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out)["routing"], "ecmp");
  const Result adaptive = run("topo ft2 --set routing=adaptive");
  ASSERT_EQ(adaptive.exit_code, 0) << adaptive.err;
  EXPECT_NE(adaptive.out.find("  routing                adaptive\n"), std::string::npos)
      << adaptive.out;
}

// The YAML files of a library folder: what `cards` must list when nothing nearer hides them.
std::set<std::string> library_names(const std::string& folder) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(kRoot + "/" + folder)) {
    if (entry.path().extension() == ".yaml") names.insert(entry.path().stem().string());
  }
  return names;
}

TEST(Cli, CardsListsEveryCardOfTheLibrary) {
  const Result result = run("cards --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, std::set<std::string>> listed;
  for (const nlohmann::json& card : nlohmann::json::parse(result.out)) {
    listed[card["kind"].get<std::string>()].insert(card["name"].get<std::string>());
  }
  EXPECT_EQ(listed["model"], library_names("models"));
  EXPECT_EQ(listed["hardware"], library_names("hardware_profiles"));
  EXPECT_EQ(listed["topology"], library_names("topologies"));
  EXPECT_EQ(listed["stack"], library_names("software_stacks"));
  EXPECT_EQ(listed["cost"], library_names("hardware_profiles/costs"));
  std::set<std::string> jobs = listed["experiment"];
  jobs.insert(listed["sweep"].begin(), listed["sweep"].end());
  EXPECT_EQ(jobs, library_names("experiments"));
  EXPECT_TRUE(listed["sweep"].contains("topology_comparison"));
  EXPECT_TRUE(listed["experiment"].contains("dsv3_2048xh800_mpft"));

  // The text: one heading per kind with its count, a model's size as `clustersim model` gives it,
  // a profile's description.
  const Result text = run("cards models hardware");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("model cards (" + std::to_string(library_names("models").size()) + ")\n"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  qwen3_30b_a3b       30.53B, 3.35B active  "), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  h800_sxm       NVIDIA H800 SXM5 80 GB"), std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find("topologies ("), std::string::npos);
}

TEST(Cli, CardsShowsWhatANameFindsFromHere) {
  // A folder of the user's own: its models/ card hides the library's of the same name, and a
  // card that does not load is listed with its error rather than ending the listing.
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "cs_cards";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir / "models");
  std::filesystem::create_directories(dir / "work");
  std::ofstream(dir / "models" / "llama3_8b.yaml")
      << "base: gpt_generic\nname: llama3_8b\nsource: two layers of my own\nlayers: 2\n";
  std::ofstream(dir / "models" / "broken.yaml") << "name: broken\nlayers: [\n";
  const Result result = run_command("cd " + (dir / "work").string() + " && " + CLUSTERSIM_BINARY +
                                    " cards models --json");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::map<std::string, nlohmann::json> cards;
  for (const nlohmann::json& card : nlohmann::json::parse(result.out)) {
    cards[card["name"].get<std::string>()] = card;
  }
  EXPECT_EQ(cards.size(), library_names("models").size() + 1);
  EXPECT_EQ(cards["llama3_8b"]["path"], (dir / "models" / "llama3_8b.yaml").string());
  EXPECT_EQ(cards["llama3_8b"]["summary"], "two layers of my own");
  // Two of gpt_generic's layers (4 x 4096^2 + 3 x 4096 x 11008 each) and its untied 32000 x 4096
  // embedding and head: 0.667B.
  EXPECT_EQ(cards["llama3_8b"]["parameters"], "0.67B");
  EXPECT_EQ(cards["broken"]["error"],
            (dir / "models" / "broken.yaml").string() +
                ":3:1: error: invalid YAML: end of sequence flow not found");
  EXPECT_EQ(cards["deepseek_v3"]["path"], kRoot + "/models/deepseek_v3.yaml");

  // A long description is cut to the line's 100 characters, at a whole character: "§" is two
  // bytes of UTF-8.
  std::filesystem::create_directories(dir / "topologies");
  std::ofstream(dir / "topologies" / "long.yaml") << "description: " << [] {
    std::string text;
    for (int i = 0; i < 150; ++i) text += "\u00a7";
    return text;
  }() << "\n";
  const Result text = run_command("cd " + (dir / "work").string() + " && " + CLUSTERSIM_BINARY +
                                  " cards topologies");
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::size_t at = text.out.find("  long ");
  ASSERT_NE(at, std::string::npos) << text.out;
  const std::string line = text.out.substr(at, text.out.find('\n', at) - at);
  std::size_t characters = 0;
  for (const char c : line) characters += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  EXPECT_EQ(characters, 100u) << line;
  EXPECT_TRUE(line.ends_with("\u00a7...")) << line;
  std::filesystem::remove_all(dir);

  const Result unknown = run("cards gpus");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "clustersim cards: unknown kind \"gpus\"; the kinds are models, hardware, topologies, "
            "stacks, costs, experiments\n");
}

}  // namespace
}  // namespace clustersim::cli
