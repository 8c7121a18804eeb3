// Replays inputs through a fuzz target in the ordinary builds, where libFuzzer is not linked:
// every file named, every file of every folder named (not recursing, in name order), and with
// `--lines FILE` every line of FILE but comments (`#`) as an input of its own. A failure aborts
// as it would under the fuzzer; the CTest tests Fuzz.<name> run the target's regressions and the
// shipped files of its kind this way.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/fuzz/fuzz_input.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " [FILE | FOLDER | --lines FILE]...\n";
    return 2;
  }
  std::vector<std::pair<std::string, std::string>> inputs;  // name, bytes
  const auto read = [](const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg(argv[i]);
    if (arg == "--lines" && i + 1 < argc) {
      const fs::path path(argv[++i]);
      std::ifstream in(path);
      if (!in) {
        std::cerr << path.string() << ": cannot read\n";
        return 2;
      }
      int number = 0;
      for (std::string line; std::getline(in, line);) {
        ++number;
        if (line.starts_with("#")) continue;
        inputs.emplace_back(path.string() + ":" + std::to_string(number), line);
      }
      continue;
    }
    const fs::path path(arg);
    if (fs::is_directory(path)) {
      std::vector<fs::path> files;
      for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const fs::path& file : files) inputs.emplace_back(file.string(), read(file));
    } else if (fs::is_regular_file(path)) {
      inputs.emplace_back(path.string(), read(path));
    } else {
      std::cerr << path.string() << ": no such file or folder\n";
      return 2;
    }
  }
  for (const auto& [name, bytes] : inputs) {
    std::cout << "replaying " << name << std::endl;
    (void)LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << "replayed " << inputs.size() << " inputs\n";
  return 0;
}
