#include "sim/config/diagnostics.hpp"

#include <fmt/format.h>

namespace clustersim::config {
namespace {

std::string join_formatted(const std::vector<Diagnostic>& diagnostics) {
  std::string text;
  for (const Diagnostic& diagnostic : diagnostics) {
    if (!text.empty()) text += '\n';
    text += format_diagnostic(diagnostic);
  }
  return text;
}

}  // namespace

std::string format_diagnostic(const Diagnostic& diagnostic) {
  std::string text = diagnostic.location.file;
  if (diagnostic.location.line > 0) {
    text += fmt::format(":{}:{}", diagnostic.location.line, diagnostic.location.column);
  }
  text += ": error: ";
  if (!diagnostic.key_path.empty()) {
    text += diagnostic.key_path;
    text += ": ";
  }
  text += diagnostic.message;
  return text;
}

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(join_formatted(diagnostics)), diagnostics_(std::move(diagnostics)) {}

void Diagnostics::add(Diagnostic diagnostic) {
  if (items_.size() < kMaxShown) {
    items_.push_back(std::move(diagnostic));
  } else {
    ++more_;
  }
}

void Diagnostics::error(SourceLocation location, std::string key_path, std::string message) {
  add(Diagnostic{std::move(location), std::move(key_path), std::move(message), false});
}

bool ConfigError::infeasible() const {
  for (const Diagnostic& diagnostic : diagnostics_) {
    if (!diagnostic.infeasible) return false;
  }
  return !diagnostics_.empty();
}

void Diagnostics::infeasible(SourceLocation location, std::string key_path, std::string message) {
  add(Diagnostic{std::move(location), std::move(key_path), std::move(message), true});
}

void Diagnostics::throw_if_any() const {
  if (items_.empty()) return;
  if (more_ == 0) throw ConfigError(items_);
  std::vector<Diagnostic> shown = items_;
  const Diagnostic& last = items_.back();
  shown.push_back(
      Diagnostic{SourceLocation{last.location.file, 0, 0}, "",
                 fmt::format("... and {} more (only the first {} are shown)", more_, kMaxShown),
                 last.infeasible});
  throw ConfigError(std::move(shown));
}

}  // namespace clustersim::config
