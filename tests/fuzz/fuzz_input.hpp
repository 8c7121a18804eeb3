#pragma once
// What the fuzz targets share: the entry point libFuzzer calls (replay_main.cpp calls it in the
// ordinary builds), and a place to put each input, since the loaders read files.
//
// Each process gets a folder of its own (removed at exit) laid out like the card library, with
// the shipped cards linked into it: an input written to experiments/fuzz_input.yaml finds
// `base: dsv3_2048xh800_mpft.yaml` beside it, and a hardware profile its `measured/...json`, as
// the shipped files do in the source tree. Cards named without a path (`model: deepseek_v3`)
// resolve through the library the program was built with, so inputs reach card resolution.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace clustersim::fuzz {
namespace detail {

// Links every file of `from` with this extension into `to` (created), keeping the name.
inline void link_files(const std::filesystem::path& from, const std::filesystem::path& to,
                       std::string_view extension) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(to, ec);
  for (const fs::directory_entry& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != extension) continue;
    fs::create_symlink(entry.path(), to / entry.path().filename(), ec);
  }
}

class Workspace {
 public:
  Workspace() {
    namespace fs = std::filesystem;
    std::string pattern = (fs::temp_directory_path() / "clustersim_fuzz_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    root_ = pattern;
    const fs::path source(CLUSTERSIM_SOURCE_DIR);
    link_files(source / "models", root_ / "models", ".yaml");
    link_files(source / "hardware_profiles", root_ / "hardware_profiles", ".yaml");
    link_files(source / "hardware_profiles/costs", root_ / "hardware_profiles/costs", ".yaml");
    link_files(source / "hardware_profiles/measured", root_ / "hardware_profiles/measured",
               ".json");
    link_files(source / "topologies", root_ / "topologies", ".yaml");
    link_files(source / "software_stacks", root_ / "software_stacks", ".yaml");
    // The validation experiments name their bases beside them: one flat folder serves both.
    link_files(source / "experiments", root_ / "experiments", ".yaml");
    link_files(source / "experiments/validation", root_ / "experiments", ".yaml");
  }
  ~Workspace() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  [[nodiscard]] const std::filesystem::path& root() const { return root_; }

 private:
  std::filesystem::path root_;
};

}  // namespace detail

// Writes the input to `relative` (e.g. "models/fuzz_input.yaml") in this process's folder and
// returns the file's path.
inline std::string write_input(std::string_view relative, const std::uint8_t* data,
                               std::size_t size) {
  static const detail::Workspace workspace;
  const std::filesystem::path path = workspace.root() / relative;
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();
  return path.string();
}

}  // namespace clustersim::fuzz
