#pragma once
// The bad-input corpus in tests/data/bad: each file is a broken configuration whose header says
// what kind of file it is, which --set overrides to apply, and the exact messages it must give:
//
//   # kind: experiment
//   # set: parallelism.pp=2
//   ...the broken YAML...
//   # expect: {file}:7:3: error: parallelism.tp: ...
//   # exit: 2
//
// The expectations stand at the end so that they do not move the lines they name. `{file}` is
// the file's path as passed to the loader, `{root}` the project's source folder. Shared by the
// in-process loader test and the CLI test so both pin the same messages.

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

namespace clustersim::testing {

struct BadInputCase {
  std::string name;  // file name, for test names
  std::string path;  // relative to tests/ (the tests' working directory)
  std::string kind;  // model | hardware | topology | experiment | sweep
  std::vector<std::string> overrides;
  std::vector<std::string> expected;  // full message lines, {file} substituted
  int exit_code = 2;
};

// gtest prints a parameter with this: the file, not its bytes.
inline void PrintTo(const BadInputCase& item, std::ostream* out) {
  *out << item.path;
}

// Every case in tests/data/bad, sorted by file name.
[[nodiscard]] std::vector<BadInputCase> load_bad_input_corpus();

}  // namespace clustersim::testing
