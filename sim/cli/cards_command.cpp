// clustersim cards [KIND...]: the cards a name would find from here (models, hardware profiles,
// topologies, software stacks, cost profiles, experiments and sweeps), each with what it is.

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sim/cli/commands.hpp"
#include "sim/config/loader.hpp"
#include "sim/workload/model_stats.hpp"

namespace clustersim::cli {
namespace {

struct KindRow {
  const char* word;   // as typed on the command line
  const char* other;  // the same, as a newcomer may type it
  const char* title;  // as the listing heads it
  config::CardKind kind;
};

constexpr KindRow kKinds[] = {
    {"models", "model", "model cards", config::CardKind::model},
    {"hardware", "hardware_profiles", "hardware profiles", config::CardKind::hardware},
    {"topologies", "topology", "topologies", config::CardKind::topology},
    {"stacks", "stack", "software stacks", config::CardKind::stack},
    {"costs", "cost", "cost profiles", config::CardKind::cost},
    {"experiments", "sweeps", "experiments and sweeps", config::CardKind::experiment},
};

// A model card's size as `clustersim model` counts it, or why it does not load.
struct ModelSize {
  std::string text;  // "30.53B, 3.35B active"; or the first problem, file:line:column: error: ...
  bool loads = false;
};

ModelSize model_size(const std::string& path) {
  try {
    const workload::ModelStats stats =
        workload::compute_model_stats(config::load_model_card(path), 4096);
    if (stats.params.active() < stats.params.total()) {
      return {fmt::format("{:.2f}B, {:.2f}B active", stats.params.total() / 1e9,
                          stats.params.active() / 1e9),
              true};
    }
    return {fmt::format("{:.2f}B", stats.params.total() / 1e9), true};
  } catch (const config::ConfigError& error) {
    const std::string what = error.what();
    return {what.substr(0, what.find('\n')), false};
  }
}

// Cut to `width` characters, marked where cut. Characters, not bytes: a source line's "§" or
// "θ" is two bytes of UTF-8, and a cut inside one would print a broken character.
std::string fit(const std::string& text, std::size_t width) {
  const auto starts_character = [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  };
  std::size_t characters = 0;
  std::size_t cut = text.size();  // the byte where the (width - 2)-th character starts
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!starts_character(text[i])) continue;
    if (characters == width - 3) cut = i;
    ++characters;
  }
  if (characters <= width) return text;
  return text.substr(0, cut) + "...";
}

}  // namespace

int run_cards(const CardsOptions& options) {
  std::vector<const KindRow*> chosen;
  for (const std::string& word : options.kinds) {
    const auto* row = std::find_if(std::begin(kKinds), std::end(kKinds), [&](const KindRow& k) {
      return word == k.word || word == k.other;
    });
    if (row == std::end(kKinds)) {
      std::vector<std::string> words;
      for (const KindRow& k : kKinds) words.emplace_back(k.word);
      std::cerr << fmt::format("clustersim cards: unknown kind \"{}\"; the kinds are {}\n", word,
                               fmt::join(words, ", "));
      return kExitInputError;
    }
    if (std::find(chosen.begin(), chosen.end(), row) == chosen.end()) chosen.push_back(row);
  }
  if (chosen.empty()) {
    for (const KindRow& k : kKinds) chosen.push_back(&k);
  }
  nlohmann::json json = nlohmann::json::array();
  std::string text;
  for (const KindRow* row : chosen) {
    const std::vector<config::CardListing> cards = config::list_cards(row->kind);
    const bool models = row->kind == config::CardKind::model;
    std::vector<ModelSize> sizes(cards.size());
    std::size_t name_width = 0;
    std::size_t size_width = 0;
    for (std::size_t i = 0; i < cards.size(); ++i) {
      name_width = std::max(name_width, cards[i].name.size());
      if (!models) continue;
      sizes[i] = model_size(cards[i].path);
      if (sizes[i].loads) size_width = std::max(size_width, sizes[i].text.size());
    }
    text += fmt::format("{} ({})\n", row->title, cards.size());
    for (std::size_t i = 0; i < cards.size(); ++i) {
      const config::CardListing& card = cards[i];
      nlohmann::json entry = {{"kind", config::card_kind_word(card.kind)},
                              {"name", card.name},
                              {"path", card.path},
                              {"summary", card.summary}};
      std::string line = fmt::format("  {:<{}}  ", card.name, name_width);
      if (row->kind == config::CardKind::experiment) {
        line += fmt::format("{:<10}  ", config::to_string(card.kind));
      }
      if (models && !sizes[i].loads) {
        entry["error"] = sizes[i].text;
        line += sizes[i].text;
      } else if (models) {
        entry["parameters"] = sizes[i].text;
        line += fmt::format("{:<{}}  {}", sizes[i].text, size_width, card.summary);
      } else {
        line += card.summary;
      }
      json.push_back(std::move(entry));
      text += fit(line, options.width) + '\n';
    }
    text += '\n';
  }
  if (options.json) {
    std::cout << json.dump(2) << '\n';
  } else {
    std::cout << text
              << "A file names a card (model: NAME), as does the command line (clustersim model "
                 "NAME).\nA card in a folder nearer the file hides a library card of the same "
                 "name.\n";
  }
  return kExitOk;
}

}  // namespace clustersim::cli
