#include "sim/config/library.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <system_error>

#include <fmt/format.h>

#include "sim/config/suggest.hpp"
#include "sim/config/yaml_source.hpp"

namespace clustersim::config {

std::vector<std::filesystem::path> default_library_roots() {
  std::vector<std::filesystem::path> roots;
  if (const char* env = std::getenv("CLUSTERSIM_PATH"); env != nullptr) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const std::size_t colon = rest.find(':');
      const std::string_view part = rest.substr(0, colon);
      if (!part.empty()) roots.emplace_back(part);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
#ifdef CLUSTERSIM_DATA_DIR
  roots.emplace_back(CLUSTERSIM_DATA_DIR);
#endif
  return roots;
}

namespace {

// Each kind: as messages name it, and as the command line writes it (validate --kind, JSON).
struct KindNames {
  CardKind kind;
  const char* noun;
  const char* word;
};

constexpr KindNames kKindNames[] = {{CardKind::model, "model", "model"},
                                    {CardKind::hardware, "hardware profile", "hardware"},
                                    {CardKind::topology, "topology", "topology"},
                                    {CardKind::experiment, "experiment", "experiment"},
                                    {CardKind::sweep, "sweep", "sweep"},
                                    {CardKind::cost, "cost profile", "cost"},
                                    {CardKind::stack, "software stack", "stack"}};

const KindNames& names_of(CardKind kind) {
  for (const KindNames& names : kKindNames) {
    if (names.kind == kind) return names;
  }
  return kKindNames[3];  // an experiment: every enumerator is listed above
}

}  // namespace

const char* to_string(CardKind kind) {
  return names_of(kind).noun;
}

const char* card_kind_word(CardKind kind) {
  return names_of(kind).word;
}

CardKind parse_card_kind(std::string_view name) {
  for (const KindNames& names : kKindNames) {
    if (name == names.word) return names.kind;
  }
  return CardKind::experiment;
}

namespace detail {
namespace {

namespace fs = std::filesystem;

// "a model card", "an experiment": the kind as a message names it.
std::string with_article(CardKind kind) {
  const std::string noun = kind == CardKind::model      ? "model card"
                           : kind == CardKind::topology ? "topology card"
                                                        : to_string(kind);
  return (noun.find_first_of("aeiou") == 0 ? "an " : "a ") + noun;
}

// The command that takes a file of the kind, as a hint.
std::string command_for(CardKind kind) {
  switch (kind) {
    case CardKind::experiment:
      return "; `clustersim run FILE` simulates an experiment";
    case CardKind::sweep:
      return "; `clustersim sweep FILE` runs a sweep";
    case CardKind::model:
      return "; `clustersim model FILE` prints a model card";
    case CardKind::topology:
      return "; `clustersim topo FILE` describes a topology";
    default:
      return "";
  }
}

bool looks_like_path(const std::string& text) {
  return text.find('/') != std::string::npos || text.ends_with(".yaml") || text.ends_with(".yml");
}

bool is_card_reference_key(const std::vector<std::string>& path, std::size_t depth) {
  const std::string& key = path[depth];
  if (depth == 0) return key == "model" || key == "hardware" || key == "stack";
  return depth == 1 && path[0] == "cluster" && key == "topology";
}

// The kinds whose telling top-level keys a mapping has, with the keys that tell it: a file
// given where another kind belongs (an experiment to `clustersim model`, a model card as an
// experiment's hardware) is named for what it is instead of drowning in unknown keys.
struct KindEvidence {
  CardKind kind;
  std::vector<std::string> keys;
};
std::vector<KindEvidence> kinds_of(const Node& tree) {
  const auto present = [&](std::initializer_list<const char*> keys) {
    std::vector<std::string> found;
    for (const char* key : keys) {
      if (tree.find(key) != nullptr) found.emplace_back(key);
    }
    return found;
  };
  std::vector<KindEvidence> out;
  // kind, keys that must all be there, keys of which one must be there
  const auto match = [&](CardKind kind, std::initializer_list<const char*> all,
                         std::initializer_list<const char*> any) {
    std::vector<std::string> keys = present(all);
    if (keys.size() != all.size()) return;
    const std::vector<std::string> some = present(any);
    if (any.size() > 0 && some.empty()) return;
    keys.insert(keys.end(), some.begin(), some.end());
    out.push_back({kind, std::move(keys)});
  };
  match(CardKind::experiment, {"parallelism"}, {"hardware", "cluster"});
  match(CardKind::sweep, {"experiment", "axes"}, {});
  match(CardKind::model, {"layers", "hidden_size", "attention"}, {});
  match(CardKind::hardware, {"gpu"}, {"compute", "scale_up", "scale_out"});
  match(CardKind::topology, {"generator"}, {});
  match(CardKind::stack, {}, {"fused", "overlap", "tp_overlap", "kernel_host_overhead"});
  match(CardKind::cost, {}, {"speeds", "switch_usd"});
  return out;
}

}  // namespace

const char* library_folder(CardKind kind) {
  switch (kind) {
    case CardKind::model:
      return "models";
    case CardKind::hardware:
      return "hardware_profiles";
    case CardKind::topology:
      return "topologies";
    case CardKind::experiment:
    case CardKind::sweep:
      return "experiments";
    case CardKind::cost:
      return "hardware_profiles/costs";
    case CardKind::stack:
      return "software_stacks";
  }
  return "";
}

std::string display_path(const fs::path& path) {
  std::error_code ec;
  const fs::path cwd = fs::current_path(ec);
  if (!ec) {
    const fs::path relative = path.lexically_normal().lexically_relative(cwd);
    if (!relative.empty() && *relative.begin() != "..") return relative.string();
  }
  return path.lexically_normal().string();
}

std::optional<std::vector<std::string>> parse_key_path(std::string_view text,
                                                       const SourceLocation& location,
                                                       Diagnostics& diagnostics) {
  std::vector<std::string> path = split(text, '.');
  for (const std::string& part : path) {
    if (part.empty()) {
      diagnostics.error(location, "",
                        fmt::format("key \"{}\" has an empty part; write dotted names such as "
                                    "training.seq_len",
                                    text));
      return std::nullopt;
    }
  }
  return path;
}

std::optional<Override> parse_override(const std::string& text, Diagnostics& diagnostics,
                                       const std::string& label) {
  const SourceLocation location{label.empty() ? fmt::format("--set {}", text) : label, 0, 0};
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    diagnostics.error(location, "", "expected KEY=VALUE, e.g. --set parallelism.pp=8");
    return std::nullopt;
  }
  std::optional<std::vector<std::string>> path =
      parse_key_path(std::string_view(text).substr(0, equals), location, diagnostics);
  if (!path) return std::nullopt;
  Override item;
  item.location = location;
  item.path = std::move(*path);
  std::optional<Node> value = parse_yaml_text(text.substr(equals + 1), location, diagnostics);
  if (!value) return std::nullopt;
  item.value = std::move(*value);
  return item;
}

void apply_override(Node& root, const Override& item, Diagnostics& diagnostics) {
  Node* current = &root;
  std::string key_path;
  for (std::size_t depth = 0; depth < item.path.size(); ++depth) {
    const std::string& key = item.path[depth];
    key_path = key_path.empty() ? key : key_path + "." + key;
    if (depth + 1 == item.path.size()) {
      current->set(key, item.location, item.value);
      return;
    }
    Node* next = current->find(key);
    if (next == nullptr || next->is_null()) {
      next = &current->set(key, item.location, Node::make_mapping(item.location));
    } else if (next->is_scalar() && is_card_reference_key(item.path, depth)) {
      // `model: deepseek_v3` becomes `model: {base: deepseek_v3}` so keys can be set inside it.
      Node reference = *next;
      *next = Node::make_mapping(reference.location());
      next->set("base", reference.location(), std::move(reference));
    } else if (!next->is_mapping()) {
      diagnostics.error(item.location, key_path,
                        fmt::format("is {}, not a section; cannot set \"{}\" inside it",
                                    next->describe(), item.path[depth + 1]));
      return;
    }
    current = next;
  }
}

CardLibrary::CardLibrary(std::vector<fs::path> roots, Diagnostics& diagnostics)
    : roots_(std::move(roots)), diagnostics_(diagnostics) {}

std::optional<fs::path> CardLibrary::find(const Node& reference, CardKind kind,
                                          const fs::path& referring_file,
                                          const std::string& key_path) {
  const std::string& text = reference.scalar();
  const fs::path referring_dir = referring_file.parent_path();
  std::error_code ec;
  if (looks_like_path(text)) {
    const fs::path candidate = fs::path(text).is_absolute() ? fs::path(text) : referring_dir / text;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    diagnostics_.error(reference.location(), key_path,
                       fmt::format("{} file \"{}\" not found (paths are relative to {})",
                                   to_string(kind), text, display_path(referring_dir / "")));
    return std::nullopt;
  }
  if (text.empty()) {
    diagnostics_.error(reference.location(), key_path,
                       fmt::format("empty {} name", to_string(kind)));
    return std::nullopt;
  }
  const std::string folder = library_folder(kind);
  const std::string file_name = text + ".yaml";
  for (const fs::path& dir : search_folders(kind, referring_dir)) {
    const fs::path candidate = dir / file_name;
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  std::vector<std::string> names;
  for (const auto& [name, path] : cards(kind, referring_dir)) names.push_back(name);
  std::string message =
      fmt::format("{} \"{}\" not found in the card library ({}/)", to_string(kind), text, folder);
  if (auto match = closest_match(text, names)) {
    message += fmt::format("; did you mean \"{}\"?", *match);
  } else if (!names.empty()) {
    message += fmt::format("; available: {}", fmt::join(names, ", "));
  }
  diagnostics_.error(reference.location(), key_path, message);
  return std::nullopt;
}

std::vector<fs::path> CardLibrary::search_folders(CardKind kind,
                                                  const fs::path& referring_dir) const {
  const std::string folder = library_folder(kind);
  std::error_code ec;
  std::vector<fs::path> folders;
  for (fs::path dir = fs::absolute(referring_dir, ec);; dir = dir.parent_path()) {
    if (dir.filename() == folder) folders.push_back(dir);
    folders.push_back(dir / folder);
    if (dir == dir.parent_path() || dir.empty()) break;
  }
  for (const fs::path& root : roots_) folders.push_back(root / folder);
  return folders;
}

std::vector<std::pair<std::string, fs::path>> CardLibrary::cards(
    CardKind kind, const fs::path& referring_dir) const {
  std::map<std::string, fs::path> found;
  std::error_code ec;
  for (const fs::path& dir : search_folders(kind, referring_dir)) {
    if (!fs::is_directory(dir, ec)) continue;
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      if (entry.path().extension() == ".yaml" && entry.is_regular_file(ec)) {
        found.try_emplace(entry.path().stem().string(), entry.path());
      }
    }
  }
  return {found.begin(), found.end()};
}

std::optional<Node> CardLibrary::load_file(const fs::path& path, const std::string& display_name,
                                           CardKind kind, const SourceLocation& referenced_at) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  if (ec) canonical = path;
  if (std::find(chain_.begin(), chain_.end(), canonical) != chain_.end()) {
    std::vector<std::string> names = chain_names_;
    names.push_back(display_name);
    diagnostics_.error(referenced_at, "base",
                       fmt::format("cyclic base chain: {}", fmt::join(names, " -> ")));
    return std::nullopt;
  }
  std::optional<Node> tree = read_yaml_file(path, display_name, diagnostics_);
  if (!tree) return std::nullopt;
  if (tree->is_null()) {
    diagnostics_.error(SourceLocation{display_name, 0, 0}, "",
                       fmt::format("file is empty; expected a {} mapping", to_string(kind)));
    return std::nullopt;
  }
  if (!tree->is_mapping()) {
    diagnostics_.error(tree->location(), "",
                       fmt::format("expected a {} mapping at the top of the file, got {}",
                                   to_string(kind), tree->describe()));
    return std::nullopt;
  }
  const std::vector<KindEvidence> kinds = kinds_of(*tree);
  const bool own = std::any_of(kinds.begin(), kinds.end(),
                               [&](const KindEvidence& k) { return k.kind == kind; });
  if (!own && kinds.size() == 1) {
    diagnostics_.error(
        tree->location(), "",
        fmt::format("this file is {} (it has {}), not {}{}", with_article(kinds.front().kind),
                    fmt::join(kinds.front().keys, ", "), with_article(kind),
                    command_for(kinds.front().kind)));
    return std::nullopt;
  }
  chain_.push_back(canonical);
  chain_names_.push_back(display_name);
  std::optional<Node> result = follow_base(std::move(*tree), kind, path);
  chain_.pop_back();
  chain_names_.pop_back();
  return result;
}

std::optional<Node> CardLibrary::follow_base(Node tree, CardKind kind, const fs::path& file) {
  const Node* base_reference = tree.find("base");
  if (base_reference == nullptr) return tree;
  if (!base_reference->is_scalar()) {
    diagnostics_.error(base_reference->location(), "base",
                       fmt::format("expected the name or path of a {}, got {}", to_string(kind),
                                   base_reference->describe()));
    return std::nullopt;
  }
  const Node reference = *base_reference;
  tree.remove("base");
  // A card whose base cannot be loaded is not read further: its missing keys would only repeat
  // the one real problem.
  const std::optional<fs::path> base_file = find(reference, kind, file, "base");
  if (!base_file) return std::nullopt;
  std::optional<Node> base =
      load_file(*base_file, display_path(*base_file), kind, reference.location());
  if (!base) return std::nullopt;
  merge_into(*base, tree);
  return base;
}

std::optional<Node> CardLibrary::resolve(const Node& reference, CardKind kind,
                                         const fs::path& referring_file,
                                         const std::string& key_path) {
  if (reference.is_scalar()) {
    const std::optional<fs::path> file = find(reference, kind, referring_file, key_path);
    if (!file) return std::nullopt;
    return load_file(*file, display_path(*file), kind, reference.location());
  }
  if (reference.is_mapping()) {
    // An inline card: its `base`, if any, is looked up from the file it is written in.
    const Node* base_reference = reference.find("base");
    if (base_reference == nullptr) return reference;
    if (!base_reference->is_scalar()) {
      diagnostics_.error(base_reference->location(), key_path + ".base",
                         fmt::format("expected the name or path of a {}, got {}", to_string(kind),
                                     base_reference->describe()));
      return std::nullopt;
    }
    const std::optional<fs::path> file =
        find(*base_reference, kind, referring_file, key_path + ".base");
    if (!file) return std::nullopt;
    std::optional<Node> base =
        load_file(*file, display_path(*file), kind, base_reference->location());
    if (!base) return std::nullopt;
    Node overlay = reference;
    overlay.remove("base");
    merge_into(*base, overlay);
    return base;
  }
  diagnostics_.error(reference.location(), key_path,
                     fmt::format("expected the name of a {} (e.g. \"{}\") or an inline mapping, "
                                 "got {}",
                                 to_string(kind),
                                 kind == CardKind::model      ? "deepseek_v3"
                                 : kind == CardKind::hardware ? "h800_sxm"
                                 : kind == CardKind::stack    ? "deepseek_v3"
                                                              : "mpft",
                                 reference.describe()));
  return std::nullopt;
}

}  // namespace detail
}  // namespace clustersim::config
