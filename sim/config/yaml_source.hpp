#pragma once
// Reading YAML text into the configuration tree. Syntax errors, duplicate keys, non-scalar keys and
// unreadable files become diagnostics with file, line and column.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "sim/config/diagnostics.hpp"
#include "sim/config/node.hpp"

namespace clustersim::config {

// Reads and parses a file. `display_name` is how messages name it (as the user wrote the path).
// Returns nullopt (with diagnostics) when the file cannot be read or is not valid YAML.
[[nodiscard]] std::optional<Node> read_yaml_file(const std::filesystem::path& path,
                                                 const std::string& display_name,
                                                 Diagnostics& diagnostics);

// Parses YAML text; locations are reported against `origin` (file name and the line/column of
// the text's first character, or line 0 for text with no line, such as a --set value).
[[nodiscard]] std::optional<Node> parse_yaml_text(std::string_view text,
                                                  const SourceLocation& origin,
                                                  Diagnostics& diagnostics);

}  // namespace clustersim::config
