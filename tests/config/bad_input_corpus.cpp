#include "tests/config/bad_input_corpus.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>

namespace clustersim::testing {
namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos;
       at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

}  // namespace

std::vector<BadInputCase> load_bad_input_corpus() {
  namespace fs = std::filesystem;
  std::vector<BadInputCase> cases;
  for (const fs::directory_entry& entry : fs::directory_iterator("data/bad")) {
    if (!entry.is_regular_file() || entry.path().extension() != ".yaml") continue;
    BadInputCase item;
    item.name = entry.path().stem().string();
    item.path = "data/bad/" + entry.path().filename().string();
    std::ifstream stream(entry.path(), std::ios::binary);
    std::string line;
    while (std::getline(stream, line)) {
      if (!line.starts_with("# ")) continue;
      const std::size_t colon = line.find(": ");
      if (colon == std::string::npos) continue;
      const std::string key = line.substr(2, colon - 2);
      const std::string value = line.substr(colon + 2);
      if (key == "kind") item.kind = value;
      if (key == "set") item.overrides.push_back(value);
      if (key == "expect") {
        item.expected.push_back(
            replace_all(replace_all(value, "{file}", item.path), "{root}", CLUSTERSIM_SOURCE_DIR));
      }
      if (key == "exit") item.exit_code = std::stoi(value);
    }
    if (item.kind.empty()) throw std::runtime_error(item.path + " has no '# kind:' line");
    cases.push_back(std::move(item));
  }
  std::sort(cases.begin(), cases.end(),
            [](const BadInputCase& a, const BadInputCase& b) { return a.name < b.name; });
  return cases;
}

}  // namespace clustersim::testing
