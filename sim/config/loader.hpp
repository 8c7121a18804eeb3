#pragma once
// Loading configuration files into typed structs: the only entry point the rest of clustersim
// uses. Every function throws ConfigError (with every problem in the file and the cards it
// pulls in) or returns a fully validated struct.
//
// Cards are found by name in a library: `model: deepseek_v3` means models/deepseek_v3.yaml,
// looked up beside the referring file, in its parent folders, then in the library roots. A value
// with a slash or a .yaml ending is a path relative to the referring file. Any card may start from
// another with `base: NAME` and override some of its keys; experiments may write `model`,
// `hardware` and `cluster.topology` inline, with or without a `base`. `--set a.b=c` overrides are
// applied on top of the file before cards are resolved.

#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sim/config/cost_profile.hpp"
#include "sim/config/diagnostics.hpp"
#include "sim/config/experiment.hpp"
#include "sim/config/hardware_profile.hpp"
#include "sim/config/model_card.hpp"
#include "sim/config/software_stack.hpp"
#include "sim/config/sweep_spec.hpp"
#include "sim/config/topology_spec.hpp"

namespace clustersim::config {

enum class CardKind { model, hardware, topology, experiment, sweep, cost, stack };

struct LoadOptions {
  std::vector<std::string> overrides;  // "key.path=value", from --set
  std::vector<std::string> fixes;      // "parallelism.tp=1", from --fix: overrides of search.*
  // Overrides from a command's own options, each with the option as the user wrote it, which
  // messages name ({"plan.deadline_days=60", "--deadline-days 60"}); applied after the others.
  std::vector<std::pair<std::string, std::string>> labelled_overrides;
  std::vector<std::filesystem::path> library_roots;  // searched after the file's own folders
};

// $CLUSTERSIM_PATH (colon-separated folders), then the library the program was built with.
[[nodiscard]] std::vector<std::filesystem::path> default_library_roots();

[[nodiscard]] ModelCard load_model_card(const std::string& file, const LoadOptions& options = {});
[[nodiscard]] HardwareProfile load_hardware_profile(const std::string& file,
                                                    const LoadOptions& options = {});
[[nodiscard]] TopologySpec load_topology(const std::string& file, const LoadOptions& options = {});
[[nodiscard]] Experiment load_experiment(const std::string& file, const LoadOptions& options = {});
// The experiment as the simulation reads it, as one line of YAML: overrides applied, every card
// (model, hardware, topology, stack) resolved and inlined. Equal texts mean equal inputs.
[[nodiscard]] std::string resolved_experiment_text(const std::string& file,
                                                   const LoadOptions& options = {});
[[nodiscard]] SweepSpec load_sweep(const std::string& file, const LoadOptions& options = {});
// The file a card name ("mpft") or path stands for, looked up as a reference written on the
// command line (`what` names the option in messages). Throws ConfigError when not found.
[[nodiscard]] std::string find_card(const std::string& name_or_path, CardKind kind,
                                    const std::string& what, const LoadOptions& options = {});

// A card the library offers, as `clustersim cards` lists it.
struct CardListing {
  std::string name;     // what a file or the command line writes to refer to it
  std::string path;     // the file a reference by name takes (display_path)
  CardKind kind;        // for the experiments folder: experiment or sweep
  std::string summary;  // its `description`, else its `source`, else its first comment line
};
// Every card of `kind` a name would find from the working directory (the folders beside it and
// its parents', then the library roots), by name. CardKind::experiment lists experiments and
// sweeps, which share a folder. A file that cannot be read is listed with its error as summary.
[[nodiscard]] std::vector<CardListing> list_cards(CardKind kind, const LoadOptions& options = {});

// Where `keys` (a path from the root: {"cluster", "topology"}) is written in `file`: the deepest
// key of the path the file has, or the file without a line when it has none of them.
[[nodiscard]] SourceLocation location_of(const std::string& file,
                                         std::initializer_list<std::string_view> keys);

// `file` may also be a library name (hardware_profiles/costs/NAME.yaml).
[[nodiscard]] CostProfile load_cost_profile(const std::string& file,
                                            const LoadOptions& options = {});
// A software stack card, by path or by library name (software_stacks/NAME.yaml).
[[nodiscard]] SoftwareStack load_software_stack(const std::string& file,
                                                const LoadOptions& options = {});

// What kind of file this is: by its folder (models/, hardware_profiles/, topologies/) or, failing
// that, by its keys (`axes` for a sweep, `parallelism` for an experiment, and so on).
[[nodiscard]] CardKind detect_kind(const std::string& file);
[[nodiscard]] const char* to_string(CardKind kind);
// "model", "hardware", "topology", "experiment", "sweep" or "cost" (as the CLI's --kind takes
// them).
[[nodiscard]] CardKind parse_card_kind(std::string_view name);
// The word parse_card_kind reads ("model", "hardware", ...; `validate --kind`'s values).
[[nodiscard]] const char* card_kind_word(CardKind kind);

}  // namespace clustersim::config
