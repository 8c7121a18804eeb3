#include "options.hpp"

#include <charconv>
#include <cstdio>
#include <limits>
#include <utility>

namespace csbench {

namespace {

constexpr int kExitHelp = 0;
constexpr int kExitUsage = 2;

struct BinarySuffix {
  std::string_view text;
  int shift;
};
constexpr BinarySuffix kBinarySuffixes[] = {{"Ki", 10}, {"Mi", 20}, {"Gi", 30}, {"Ti", 40}};

}  // namespace

std::optional<std::int64_t> parse_integer(std::string_view text) {
  int shift = 0;
  for (const BinarySuffix& suffix : kBinarySuffixes) {
    if (text.size() > suffix.text.size() &&
        text.substr(text.size() - suffix.text.size()) == suffix.text) {
      shift = suffix.shift;
      text.remove_suffix(suffix.text.size());
      break;
    }
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty()) return {};
  const std::int64_t limit = std::numeric_limits<std::int64_t>::max() >> shift;
  if (value > limit || value < -limit) return {};
  return value * (std::int64_t{1} << shift);
}

OptionParser::OptionParser(std::string program, std::string summary)
    : program_(std::move(program)), summary_(std::move(summary)) {}

void OptionParser::add_flag(std::string name, std::string help, bool* target) {
  options_.push_back({std::move(name), "", std::move(help), target, 0, 0, {}});
}

void OptionParser::add_integer(std::string name, std::string metavar, std::string help,
                               std::int64_t* target, std::int64_t min_value,
                               std::int64_t max_value) {
  options_.push_back(
      {std::move(name), std::move(metavar), std::move(help), target, min_value, max_value, {}});
}

void OptionParser::add_integer_list(std::string name, std::string metavar, std::string help,
                                    std::vector<std::int64_t>* target, std::int64_t min_value,
                                    std::int64_t max_value) {
  options_.push_back(
      {std::move(name), std::move(metavar), std::move(help), target, min_value, max_value, {}});
}

void OptionParser::add_string(std::string name, std::string metavar, std::string help,
                              std::string* target, std::vector<std::string> choices) {
  options_.push_back(
      {std::move(name), std::move(metavar), std::move(help), target, 0, 0, std::move(choices)});
}

void OptionParser::add_path(std::string name, std::string metavar, std::string help,
                            std::optional<std::string>* target) {
  options_.push_back({std::move(name), std::move(metavar), std::move(help), target, 0, 0, {}});
}

bool OptionParser::apply(const Option& option, std::string_view value) const {
  const auto in_range = [&option](std::int64_t number) {
    return number >= option.min_value && number <= option.max_value;
  };
  if (auto* const integer = std::get_if<std::int64_t*>(&option.target)) {
    const std::optional<std::int64_t> number = parse_integer(value);
    if (!number || !in_range(*number)) return false;
    **integer = *number;
    return true;
  }
  if (auto* const list = std::get_if<std::vector<std::int64_t>*>(&option.target)) {
    std::vector<std::int64_t> numbers;
    while (true) {
      const std::size_t comma = value.find(',');
      const std::optional<std::int64_t> number = parse_integer(value.substr(0, comma));
      if (!number || !in_range(*number)) return false;
      numbers.push_back(*number);
      if (comma == std::string_view::npos) break;
      value.remove_prefix(comma + 1);
    }
    **list = std::move(numbers);
    return true;
  }
  if (auto* const text = std::get_if<std::string*>(&option.target)) {
    if (!option.choices.empty()) {
      bool known = false;
      for (const std::string& choice : option.choices) known = known || choice == value;
      if (!known) return false;
    }
    **text = std::string(value);
    return true;
  }
  if (auto* const path = std::get_if<std::optional<std::string>*>(&option.target)) {
    if (value.empty()) return false;
    **path = std::string(value);
    return true;
  }
  return false;
}

std::optional<int> OptionParser::parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      print_usage(false);
      return kExitHelp;
    }
    const Option* option = nullptr;
    for (const Option& candidate : options_) {
      if (candidate.name == arg) option = &candidate;
    }
    if (option == nullptr) {
      std::fprintf(stderr, "%s: unknown option '%s'\n", program_.c_str(), argv[i]);
      print_usage(true);
      return kExitUsage;
    }
    if (auto* const flag = std::get_if<bool*>(&option->target)) {
      **flag = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s: option %s needs a value (%s)\n", program_.c_str(), argv[i],
                   option->metavar.c_str());
      return kExitUsage;
    }
    const std::string_view value = argv[++i];
    if (!apply(*option, value)) {
      std::fprintf(stderr, "%s: bad value '%s' for %s %s\n", program_.c_str(), argv[i],
                   option->name.c_str(), option->metavar.c_str());
      print_usage(true);
      return kExitUsage;
    }
  }
  return std::nullopt;
}

void OptionParser::print_usage(bool to_stderr) const {
  std::FILE* stream = to_stderr ? stderr : stdout;
  std::fprintf(stream, "usage: %s [options]\n%s\n\noptions:\n", program_.c_str(), summary_.c_str());
  for (const Option& option : options_) {
    const std::string head =
        option.metavar.empty() ? option.name : option.name + " " + option.metavar;
    std::fprintf(stream, "  %-24s %s", head.c_str(), option.help.c_str());
    if (!option.choices.empty()) {
      std::fputs(" (", stream);
      for (std::size_t i = 0; i < option.choices.size(); ++i) {
        std::fprintf(stream, "%s%s", i > 0 ? "|" : "", option.choices[i].c_str());
      }
      std::fputs(")", stream);
    }
    std::fputs("\n", stream);
  }
  std::fprintf(stream, "  %-24s %s\n", "-h, --help", "print this help and exit");
  std::fputs(
      "\nexit status: 0 measured, 1 a CUDA/cuBLAS/NCCL call failed or a result was wrong,\n"
      "2 bad command line, 77 skipped (no GPU, or fewer GPUs than the program needs)\n",
      stream);
}

}  // namespace csbench
