#pragma once
// Internal to sim/config: finding cards, following `base:` chains, applying overrides, all on the
// located tree. Loaders (loader.cpp) call this and then read the tree into structs.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sim/config/diagnostics.hpp"
#include "sim/config/loader.hpp"
#include "sim/config/node.hpp"

namespace clustersim::config::detail {

// One override: a dotted key path and the value to put there, with where it was written.
struct Override {
  std::vector<std::string> path;
  SourceLocation location;  // of the key ("--set ..." or a sweep file's axis)
  Node value;
};

// Splits "a.b.c" into its parts; reports empty parts.
[[nodiscard]] std::optional<std::vector<std::string>> parse_key_path(std::string_view text,
                                                                     const SourceLocation& location,
                                                                     Diagnostics& diagnostics);

// Parses "a.b.c=value"; reports malformed text as a diagnostic and returns nullopt. Messages
// name it "--set a.b.c=value", or `label` when given (`--fix parallelism.tp=1` for the search's
// "search.parallelism.tp=1").
[[nodiscard]] std::optional<Override> parse_override(const std::string& text,
                                                     Diagnostics& diagnostics,
                                                     const std::string& label = {});

// Puts the override into the tree. A card reference written as a name (`model: deepseek_v3`)
// becomes `{base: deepseek_v3}` so that keys can be set inside it.
void apply_override(Node& root, const Override& item, Diagnostics& diagnostics);

class CardLibrary {
 public:
  CardLibrary(std::vector<std::filesystem::path> roots, Diagnostics& diagnostics);

  // Reads a file of the given kind and follows its `base:` chain. nullopt when it cannot be read.
  [[nodiscard]] std::optional<Node> load_file(const std::filesystem::path& path,
                                              const std::string& display_name, CardKind kind,
                                              const SourceLocation& referenced_at);

  // Resolves a reference written in a file: a name, a path, or an inline mapping (with an
  // optional `base:`). `referring_file` is the file the reference stands in.
  [[nodiscard]] std::optional<Node> resolve(const Node& reference, CardKind kind,
                                            const std::filesystem::path& referring_file,
                                            const std::string& key_path);

  // The file a name or path refers to, or nullopt (with a diagnostic).
  [[nodiscard]] std::optional<std::filesystem::path> find(
      const Node& reference, CardKind kind, const std::filesystem::path& referring_file,
      const std::string& key_path);

  // The folders a name written in a file of `referring_dir` is looked up in, in order: the
  // kind's folder beside it and beside each parent folder, then in each library root.
  [[nodiscard]] std::vector<std::filesystem::path> search_folders(
      CardKind kind, const std::filesystem::path& referring_dir) const;
  // Every card a name would find from `referring_dir`, by name (ascending): for a name in more
  // than one folder, the file the lookup takes (the first in search_folders).
  [[nodiscard]] std::vector<std::pair<std::string, std::filesystem::path>> cards(
      CardKind kind, const std::filesystem::path& referring_dir) const;

 private:
  std::optional<Node> follow_base(Node tree, CardKind kind, const std::filesystem::path& file);

  std::vector<std::filesystem::path> roots_;
  Diagnostics& diagnostics_;
  std::vector<std::filesystem::path> chain_;  // files being loaded, for cycle detection
  std::vector<std::string> chain_names_;
};

// The folder of the library that holds cards of this kind ("models").
[[nodiscard]] const char* library_folder(CardKind kind);
// How messages name a file: relative to the working directory when inside it.
[[nodiscard]] std::string display_path(const std::filesystem::path& path);

}  // namespace clustersim::config::detail
