#include "sim/cli/collective_command.hpp"

#include <fstream>
#include <iostream>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/collectives/collective.hpp"
#include "sim/collectives/expert_parallel.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/suggest.hpp"
#include "sim/config/unit_parser.hpp"
#include "sim/fabric/flow_model.hpp"
#include "sim/fabric/topology_builder.hpp"
#include "sim/report/config_json.hpp"
#include "sim/report/simulator_memory.hpp"
#include "sim/report/step_report.hpp"

namespace clustersim::cli {
namespace {

using collectives::Algorithm;
using collectives::Operation;
using nlohmann::json;

const std::map<std::string, Operation> kOperations{{"all_reduce", Operation::all_reduce},
                                                   {"reduce_scatter", Operation::reduce_scatter},
                                                   {"all_gather", Operation::all_gather},
                                                   {"all_to_all", Operation::all_to_all},
                                                   {"send_recv", Operation::send_recv}};
const std::map<std::string, Algorithm> kAlgorithms{{"ring", Algorithm::ring},
                                                   {"tree", Algorithm::tree},
                                                   {"hierarchical", Algorithm::hierarchical},
                                                   {"direct", Algorithm::direct}};

std::string describe_link(const fabric::Topology& topology, fabric::LinkId id) {
  const fabric::LinkInfo& link = topology.link(id);
  auto name = [&](fabric::VertexId v) {
    const fabric::VertexInfo& info = topology.vertex(v);
    switch (info.kind) {
      case fabric::VertexKind::gpu:
        return fmt::format("gpu{}.{}", info.node, info.local);
      case fabric::VertexKind::nic:
        return fmt::format("nic{}.{}", info.node, info.local);
      case fabric::VertexKind::nvswitch:
        return fmt::format("nvswitch{}", info.node);
      case fabric::VertexKind::host:
        return fmt::format("host{}", v);
      case fabric::VertexKind::network_switch:
        return fmt::format("{}{}{}",
                           info.tier == 0   ? "leaf"
                           : info.tier == 1 ? "spine"
                                            : "core",
                           info.plane >= 0 ? fmt::format("p{}.", info.plane) : "", v);
    }
    return fmt::format("v{}", v);
  };
  const char* kind = link.kind == fabric::LinkKind::nvlink ? "NVLink"
                     : link.kind == fabric::LinkKind::pcie ? "PCIe"
                                                           : "network";
  return fmt::format("{} -> {} ({})", name(link.from), name(link.to), kind);
}

json links_json(const fabric::Topology& topology, const collectives::CollectiveResult& result) {
  json links = json::array();
  for (const collectives::LinkLoad& load : result.busiest_links) {
    links.push_back({{"link", describe_link(topology, load.link)},
                     {"bytes", load.bytes},
                     {"mean_utilization", load.mean_utilization},
                     {"peak_utilization", load.peak_utilization}});
  }
  return links;
}

void print_links(const fabric::Topology& topology, const collectives::CollectiveResult& result) {
  std::cout << "  busiest links (bytes, mean and peak utilisation):\n";
  for (const collectives::LinkLoad& load : result.busiest_links) {
    std::cout << fmt::format("    {:<40} {:>10.3f} GB  {:5.1f} %  {:5.1f} %\n",
                             describe_link(topology, load.link), load.bytes / 1e9,
                             100 * load.mean_utilization, 100 * load.peak_utilization);
  }
}

[[noreturn]] void usage(const std::string& message) {
  throw collectives::CollectiveError(message);
}

config::RoutingPolicy routing_policy(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& entry : config::kRoutingPolicyNames) {
    if (entry.name == name) return entry.value;
    names.emplace_back(entry.name);
  }
  const std::optional<std::string> close = config::closest_match(name, names);
  usage(fmt::format("--routing: unknown routing policy \"{}\"{}; expected {}", name,
                    close ? fmt::format(" (did you mean \"{}\"?)", *close) : "",
                    config::quoted_list(names)));
}

// Says so when the run was approximate, or timed without flows.
void print_batching(double fraction, bool congestion_bound = false) {
  if (fraction > 0) std::cout << "  " << report::departure_batching_text(fraction) << '\n';
  if (congestion_bound) {
    std::cout << "  timed by the congestion bound: no flows simulated (the flow model's time for "
                 "flows of one size that start together; peak = a link's mean rate while busy)\n";
  }
}

// An exact all-to-all of this many flows or more takes minutes (README, "Simulation at scale":
// 38 s on 512 GPUs, 261,632 flows; over 5 minutes on 1,024).
constexpr std::size_t kLongExactAllToAll = 250'000;

// Says on stderr, before a long exact all-to-all starts, that it is long and what is faster.
void warn_if_long(const collectives::CollectiveSpec& spec) {
  if (spec.operation != Operation::all_to_all || spec.congestion_bound ||
      spec.departure_batching > 0) {
    return;
  }
  const std::size_t flows =
      (1 + spec.concurrent.size()) * spec.ranks.size() * (spec.ranks.size() - 1);
  if (flows < kLongExactAllToAll) return;
  std::cerr << fmt::format(
      "clustersim collective: note: {} flows in one all-to-all, simulated exactly: from tens of "
      "seconds to hours (--congestion-bound gives its time without simulating the flows; "
      "--departure-batching 0.5 simulates them approximately)\n",
      flows);
}

}  // namespace

// One point of a collective grid, as a row of its CSV.
struct GridRow {
  std::string operation, routing, hardware, topology;
  int tp = 0;
  int nodes = 0;
  std::size_t ranks = 0;
  double size_bytes = 0, time_s = 0, algbw = 0, busbw = 0;
};

// One collective (or EP exchange); with `row`, its figures go there instead of to the output.
int run_one(const CollectiveOptions& o, const RunLimits& limits_value, GridRow* row) {
  const std::optional<RunLimits> limits = limits_value;
  try {
    const config::LoadOptions load = [&] {
      config::LoadOptions options;
      options.overrides = o.common.overrides;
      return options;
    }();
    const config::HardwareProfile hw = config::load_hardware_profile(
        config::find_card(o.hardware, config::CardKind::hardware, "--hardware"), load);
    config::TopologySpec spec = config::load_topology(
        config::find_card(o.topology, config::CardKind::topology, "--topology"));
    if (!o.routing.empty()) spec.routing = routing_policy(o.routing);
    if (!fabric::valid_departure_batching(o.departure_batching)) {
      usage(fmt::format(
          "--departure-batching {}: expected a fraction of the active flows in [0, 1) (0: exact)",
          o.departure_batching));
    }
    if (o.comm_sms < 0 || o.comm_sms > hw.gpu.sm_count) {
      usage(fmt::format("--comm-sms {} is outside the {} SMs of one {}", o.comm_sms,
                        hw.gpu.sm_count, hw.gpu.model));
    }
    const auto op = kOperations.find(o.operation);
    if (o.operation != "ep" && op == kOperations.end()) {
      const std::vector<std::string> names{"all_reduce", "reduce_scatter", "all_gather",
                                           "all_to_all", "send_recv",      "ep"};
      const std::optional<std::string> close = config::closest_match(o.operation, names);
      usage(fmt::format("unknown operation \"{}\"{}; expected {} or {}", o.operation,
                        close ? fmt::format(" (did you mean \"{}\"?)", *close) : "",
                        fmt::join(names.begin(), names.end() - 1, ", "), names.back()));
    }
    if (o.congestion_bound && o.operation == "ep") {
      usage(
          "--congestion-bound is for collectives: an EP exchange's flows differ in size and "
          "start, so its time is not a link's bytes over its capacity (simulate it, with "
          "--departure-batching 0.05 for large groups)");
    }
    const int per_node = o.gpus_per_node > 0 ? o.gpus_per_node : hw.scale_up.domain_size;
    const fabric::ClusterShape shape{o.nodes, per_node, &hw};
    // An EP exchange sends from every GPU to every other at most, as an all-to-all, and has no
    // congestion bound to offer.
    const bool ep_exchange = op == kOperations.end();
    using report::CollectiveTiming;
    const CollectiveTiming timing = o.congestion_bound ? CollectiveTiming::congestion_bound
                                    : ep_exchange      ? CollectiveTiming::flows_only
                                                       : CollectiveTiming::flows;
    report::check_memory_budget(
        report::estimate_collective_memory(
            spec, shape, ep_exchange ? Operation::all_to_all : op->second, timing),
        *limits);
    const fabric::Topology topology = fabric::build_cluster(spec, shape);
    const int gpus = o.nodes * per_node;
    if (o.operation == "ep") {
      if (row != nullptr) usage("--op ep runs alone: it cannot be one of a list of operations");
      collectives::ExpertParallelSpec ep;
      ep.ranks = topology.gpus();
      ep.tokens_per_rank = o.tokens;
      ep.hidden = o.hidden;
      ep.experts = o.experts;
      ep.top_k = o.top_k;
      ep.max_nodes = o.max_nodes;
      ep.imbalance = o.imbalance;
      ep.low_latency = o.low_latency;
      ep.comm_sms = o.comm_sms;
      ep.departure_batching = o.departure_batching;
      collectives::set_copy_rates(ep, hw);
      const collectives::ExpertParallelResult r = collectives::run_expert_parallel(topology, ep);
      if (o.common.json) {
        std::cout << json{{"operation", "ep"},
                          {"ranks", gpus},
                          {"nodes", r.nodes},
                          {"comm_sms", o.comm_sms},
                          {"low_latency", o.low_latency},
                          {"sms_held", r.sms_held},
                          {"departure_batching", o.departure_batching},
                          {"rdma_tokens_per_rank", r.rdma_tokens_per_rank},
                          {"nvl_tokens_per_rank", r.nvl_tokens_per_rank},
                          {"dispatch",
                           {{"time_s", r.dispatch.time.seconds()},
                            {"rdma_bytes_per_s", r.dispatch_rdma_bytes_per_s},
                            {"nvl_bytes_per_s", r.dispatch_nvl_bytes_per_s},
                            {"flows", r.dispatch.flows}}},
                          {"combine",
                           {{"time_s", r.combine.time.seconds()},
                            {"rdma_bytes_per_s", r.combine_rdma_bytes_per_s},
                            {"nvl_bytes_per_s", r.combine_nvl_bytes_per_s},
                            {"flows", r.combine.flows}}}}
                         .dump(2)
                  << '\n';
      } else {
        std::cout << fmt::format(
            "EP{} over {} nodes on {} x {}: {} tokens/rank, hidden {}, top-{} of {} experts, "
            "<= {} nodes/token; {} of {} SMs held by the kernels{}\n",
            gpus, r.nodes, o.nodes, hw.name, o.tokens, o.hidden, o.top_k, o.experts, o.max_nodes,
            r.sms_held, hw.gpu.sm_count,
            o.low_latency ? " (low-latency: RDMA writes, SMs freed)" : "");
        print_batching(o.departure_batching);
        std::cout << fmt::format("  {:<9} {:>10} {:>16} {:>16}\n", "", "time", "RDMA (logical)",
                                 "NVL (received)");
        std::cout << fmt::format("  {:<9} {:>7.1f} us {:>11.1f} GB/s {:>11.1f} GB/s\n", "dispatch",
                                 r.dispatch.time.seconds() * 1e6, r.dispatch_rdma_bytes_per_s / 1e9,
                                 r.dispatch_nvl_bytes_per_s / 1e9);
        std::cout << fmt::format("  {:<9} {:>7.1f} us {:>11.1f} GB/s {:>11.1f} GB/s\n", "combine",
                                 r.combine.time.seconds() * 1e6, r.combine_rdma_bytes_per_s / 1e9,
                                 r.combine_nvl_bytes_per_s / 1e9);
      }
      return kExitOk;
    }
    std::string algorithm_name = o.algorithm;
    if (algorithm_name.empty()) {
      algorithm_name = op->second == Operation::all_to_all || op->second == Operation::send_recv
                           ? "direct"
                           : "ring";
    }
    const auto algorithm = kAlgorithms.find(algorithm_name);
    if (algorithm == kAlgorithms.end()) {
      usage(fmt::format("unknown algorithm \"{}\"; expected ring, tree, hierarchical or direct",
                        algorithm_name));
    }
    const config::Parsed<DataSize> size = config::parse_data_size(o.size);
    if (!size.value) usage(fmt::format("--size: {}", size.error));
    std::vector<fabric::VertexId> ranks = topology.gpus();
    std::vector<std::vector<fabric::VertexId>> groups;
    if (o.tp > 0) {
      if (o.tp > gpus || gpus % o.tp != 0) {
        usage(fmt::format("--tp {} does not divide the {} GPUs into tensor-parallel groups", o.tp,
                          gpus));
      }
      groups.resize(static_cast<std::size_t>(o.tp));
      for (std::size_t g = 0; g < ranks.size(); ++g) {
        groups[g % static_cast<std::size_t>(o.tp)].push_back(ranks[g]);
      }
      ranks = groups.front();
      groups.erase(groups.begin());
    }
    if (op->second == Operation::send_recv) ranks = {ranks.front(), ranks.back()};
    collectives::CollectiveSpec collective{op->second, algorithm->second, size.value->bytes, ranks,
                                           collectives::nccl_copy_engines(hw)};
    collective.concurrent = std::move(groups);
    collective.departure_batching = o.departure_batching;
    collective.congestion_bound = o.congestion_bound;
    warn_if_long(collective);
    const collectives::CollectiveResult r = collectives::run_collective(topology, collective);
    if (row != nullptr) {
      *row = GridRow{o.operation,
                     std::string(config::to_string(topology.routing)),
                     hw.name,
                     spec.name,
                     o.tp,
                     o.nodes,
                     ranks.size(),
                     size.value->bytes,
                     r.time.seconds(),
                     r.algbw_bytes_per_s,
                     r.busbw_bytes_per_s};
    } else if (o.common.json) {
      std::cout << json{{"operation", o.operation},
                        {"algorithm", algorithm_name},
                        {"ranks", ranks.size()},
                        {"groups", 1 + collective.concurrent.size()},
                        {"routing", config::to_string(topology.routing)},
                        {"departure_batching", o.departure_batching},
                        {"congestion_bound", o.congestion_bound},
                        {"size_bytes", size.value->bytes},
                        {"time_s", r.time.seconds()},
                        {"algbw_bytes_per_s", r.algbw_bytes_per_s},
                        {"busbw_bytes_per_s", r.busbw_bytes_per_s},
                        {"flows", r.flows},
                        {"busiest_links", links_json(topology, r)}}
                       .dump(2)
                << '\n';
    } else {
      std::cout << fmt::format("{} ({}) of {} over {} GPUs ({} nodes of {} on {})\n", o.operation,
                               algorithm_name, to_string(*size.value), ranks.size(), o.nodes,
                               hw.name, spec.name);
      print_batching(o.departure_batching, o.congestion_bound);
      std::cout << fmt::format("  {:>14} {:>16} {:>16}\n", "time", "algbw", "busbw");
      std::cout << fmt::format("  {:>11.1f} us {:>11.2f} GB/s {:>11.2f} GB/s\n",
                               r.time.seconds() * 1e6, r.algbw_bytes_per_s / 1e9,
                               r.busbw_bytes_per_s / 1e9);
      print_links(topology, r);
    }
    return kExitOk;
  } catch (const config::ConfigError& error) {
    std::cerr << error.what() << '\n';
    return error.infeasible() ? kExitInfeasible : kExitInputError;
  } catch (const fabric::BuildError& error) {
    std::cerr << "clustersim collective: " << error.what() << '\n';
    return kExitInputError;
  } catch (const collectives::CollectiveError& error) {
    std::cerr << "clustersim collective: " << error.what() << '\n';
    return kExitInputError;
  } catch (const LimitError& error) {
    return report_limit_error(error, "clustersim collective", o.common.json);
  }
}

int run_collective_command(const CollectiveOptions& o) {
  const std::optional<RunLimits> limits = resolve_limits(o.common, "collective");
  if (!limits) return kExitInputError;
  const WallClockLimit time_limit(limits->time_s);
  // Comma-separated --op, --routing and --tp make a grid: every combination runs, one row each.
  const std::vector<std::string> operations = config::split(o.operation, ',');
  const std::vector<std::string> routings = config::split(o.routing, ',');
  const std::vector<int> tps = o.tp_list.empty() ? std::vector<int>{o.tp} : o.tp_list;
  if (operations.size() == 1 && routings.size() == 1 && tps.size() == 1 && !o.out) {
    CollectiveOptions single = o;
    single.tp = tps.front();
    return run_one(single, *limits, nullptr);
  }
  std::vector<GridRow> rows;
  for (const std::string& operation : operations) {
    for (const std::string& routing : routings) {
      for (int tp : tps) {
        CollectiveOptions point = o;
        point.operation = operation;
        point.routing = routing;
        point.tp = tp;
        GridRow row;
        const int status = run_one(point, *limits, &row);
        if (status != kExitOk) return status;
        rows.push_back(row);
      }
    }
  }
  std::string csv =
      "operation,routing,tp,hardware,topology,nodes,ranks,size_bytes,time_s,"
      "algbw_GBps,busbw_GBps\n";
  for (const GridRow& row : rows) {
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", row.operation, row.routing, row.tp,
                       row.hardware, row.topology, row.nodes, row.ranks, row.size_bytes, row.time_s,
                       row.algbw / 1e9, row.busbw / 1e9);
  }
  if (o.out) {
    std::ofstream file(*o.out);
    file << csv;
    if (!file) {
      std::cerr << fmt::format("clustersim collective: cannot write {}\n", *o.out);
      return kExitInputError;
    }
  }
  if (o.common.json) {
    json out = json::array();
    for (const GridRow& row : rows) {
      out.push_back({{"operation", row.operation},
                     {"routing", row.routing},
                     {"tp", row.tp},
                     {"hardware", row.hardware},
                     {"topology", row.topology},
                     {"nodes", row.nodes},
                     {"ranks", row.ranks},
                     {"size_bytes", row.size_bytes},
                     {"time_s", row.time_s},
                     {"algbw_bytes_per_s", row.algbw},
                     {"busbw_bytes_per_s", row.busbw}});
    }
    std::cout << out.dump(2) << '\n';
  } else {
    print_batching(o.departure_batching, o.congestion_bound);
    std::cout << fmt::format("{:<15} {:<9} {:>4} {:>12} {:>12} {:>12}\n", "operation", "routing",
                             "tp", "time", "algbw", "busbw");
    for (const GridRow& row : rows) {
      std::cout << fmt::format("{:<15} {:<9} {:>4} {:>9.1f} us {:>7.2f} GB/s {:>7.2f} GB/s\n",
                               row.operation, row.routing, row.tp, row.time_s * 1e6,
                               row.algbw / 1e9, row.busbw / 1e9);
    }
  }
  return kExitOk;
}

}  // namespace clustersim::cli
