#pragma once
// "Did you mean" support: the closest candidate to a misspelled word by edit distance.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace clustersim::config {

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case-sensitive.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible typo: at most one edit
// per three characters of the word (and at least one), ignoring case; ties go to the candidate
// that also matches the case.
[[nodiscard]] std::optional<std::string> closest_match(std::string_view word,
                                                       const std::vector<std::string>& candidates);

// `"a", "b" or "c"` style lists for messages.
[[nodiscard]] std::string quoted_list(const std::vector<std::string>& items);

// The pieces of `text` between `separator`s ("a.b" -> "a", "b"; "" -> one empty piece).
[[nodiscard]] std::vector<std::string> split(std::string_view text, char separator);

}  // namespace clustersim::config
