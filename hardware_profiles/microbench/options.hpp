// Command-line options of the microbenchmarks. Each program registers its options with a
// description; the registry prints --help and rejects unknown options and bad values (exit 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace csbench {

class OptionParser {
 public:
  OptionParser(std::string program, std::string summary);

  void add_flag(std::string name, std::string help, bool* target);
  // Integers accept a binary suffix: 64Ki, 256Mi, 4Gi.
  void add_integer(std::string name, std::string metavar, std::string help, std::int64_t* target,
                   std::int64_t min_value, std::int64_t max_value);
  // A comma-separated list of integers, e.g. 0,8,16.
  void add_integer_list(std::string name, std::string metavar, std::string help,
                        std::vector<std::int64_t>* target, std::int64_t min_value,
                        std::int64_t max_value);
  // A string; with `choices`, one of them.
  void add_string(std::string name, std::string metavar, std::string help, std::string* target,
                  std::vector<std::string> choices = {});
  // An optional output path (-o FILE).
  void add_path(std::string name, std::string metavar, std::string help,
                std::optional<std::string>* target);

  // Parses argv. Returns std::nullopt to go on, or the exit status to return at once: 0 after
  // --help, 2 (after a message on stderr) for a bad command line.
  [[nodiscard]] std::optional<int> parse(int argc, char** argv);

  void print_usage(bool to_stderr) const;

 private:
  using Target = std::variant<bool*, std::int64_t*, std::vector<std::int64_t>*, std::string*,
                              std::optional<std::string>*>;
  struct Option {
    std::string name;
    std::string metavar;  // empty for a flag
    std::string help;
    Target target;
    std::int64_t min_value = 0;
    std::int64_t max_value = 0;
    std::vector<std::string> choices;
  };
  [[nodiscard]] bool apply(const Option& option, std::string_view value) const;

  std::string program_;
  std::string summary_;
  std::vector<Option> options_;
};

// Parses "256Mi", "4Gi", "64Ki" or a plain integer; std::nullopt when malformed or out of range.
[[nodiscard]] std::optional<std::int64_t> parse_integer(std::string_view text);

}  // namespace csbench
