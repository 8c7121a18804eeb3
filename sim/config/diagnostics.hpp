#pragma once
// Errors in configuration files. Every problem is a Diagnostic that names where it is (file, line,
// column), which key it concerns (a dotted path from the file's root) and what is wrong. Loaders
// collect all the diagnostics of a file and then throw one ConfigError that carries them all, so a
// user fixes every mistake in one pass, as with a compiler.

#include <stdexcept>
#include <string>
#include <vector>

namespace clustersim::config {

struct SourceLocation {
  std::string file;  // as the user named it; "--set KEY=VALUE" for command-line overrides
  int line = 0;      // 1-based; 0 when the location has no line (command line, whole file)
  int column = 0;    // 1-based
};

struct Diagnostic {
  SourceLocation location;
  std::string key_path;  // "parallelism.micro_batch_size"; empty for file-level problems
  std::string message;
  // An input that is well formed but cannot run (a parallel layout that does not divide the
  // cluster, a model that does not fit): exit code 1, and a result row in a sweep. Everything else
  // is an input error: exit code 2.
  bool infeasible = false;
};

// "file:line:col: error: key.path: message" (parts without a value are left out).
[[nodiscard]] std::string format_diagnostic(const Diagnostic& diagnostic);

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  // True when every problem is an infeasibility rather than an input mistake.
  [[nodiscard]] bool infeasible() const;

 private:
  std::vector<Diagnostic> diagnostics_;
};

// Collects problems; after kMaxShown it only counts them, and the error ends with how many more
// there were (a file of 50,000 unknown keys gives 50 lines, not 50,000).
class Diagnostics {
 public:
  static constexpr std::size_t kMaxShown = 50;
  void error(SourceLocation location, std::string key_path, std::string message);
  void infeasible(SourceLocation location, std::string key_path, std::string message);
  [[nodiscard]] bool empty() const { return items_.empty(); }  // nothing at all was reported
  [[nodiscard]] std::size_t size() const { return items_.size(); }
  [[nodiscard]] const std::vector<Diagnostic>& items() const { return items_; }
  // Throws ConfigError with everything collected so far, if anything was.
  void throw_if_any() const;

 private:
  void add(Diagnostic diagnostic);
  std::vector<Diagnostic> items_;
  std::size_t more_ = 0;  // reported beyond kMaxShown
};

}  // namespace clustersim::config
