#pragma once
// The configuration tree: what a YAML file says, with the file, line and column of every key and
// value. Loaders merge library cards, `base:` chains and `--set` overrides on this tree (so every
// value keeps the location it came from), then typed readers turn it into structs. Nothing outside
// sim/config sees this tree or YAML.

#include <string>
#include <string_view>
#include <vector>

#include "sim/config/diagnostics.hpp"

namespace clustersim::config {

class Node {
 public:
  enum class Kind { null, scalar, sequence, mapping };
  struct Entry;

  [[nodiscard]] static Node make_scalar(std::string text, SourceLocation location);
  [[nodiscard]] static Node make_mapping(SourceLocation location);

  [[nodiscard]] Kind kind() const { return kind_; }
  [[nodiscard]] bool is_null() const { return kind_ == Kind::null; }
  [[nodiscard]] bool is_scalar() const { return kind_ == Kind::scalar; }
  [[nodiscard]] bool is_sequence() const { return kind_ == Kind::sequence; }
  [[nodiscard]] bool is_mapping() const { return kind_ == Kind::mapping; }
  [[nodiscard]] const std::string& scalar() const { return scalar_; }
  [[nodiscard]] const SourceLocation& location() const { return location_; }

  [[nodiscard]] const std::vector<Entry>& entries() const { return entries_; }
  [[nodiscard]] std::vector<Entry>& entries() { return entries_; }
  [[nodiscard]] const std::vector<Node>& items() const { return items_; }
  [[nodiscard]] std::vector<Node>& items() { return items_; }

  [[nodiscard]] const Node* find(std::string_view key) const;
  [[nodiscard]] Node* find(std::string_view key);
  [[nodiscard]] const Entry* find_entry(std::string_view key) const;
  // Replaces the value of `key`, or appends the key; returns the stored value.
  Node& set(std::string key, SourceLocation key_location, Node value);
  // Appends a key the caller knows is new (the YAML reader checks duplicates with a hash set).
  void append_entry(std::string key, SourceLocation key_location, Node value);
  void remove(std::string_view key);
  void append_item(Node item);

  // "a mapping", "a list", "an empty value", "\"text\"": for messages.
  [[nodiscard]] std::string describe() const;

 private:
  Kind kind_ = Kind::null;
  std::string scalar_;
  SourceLocation location_;
  std::vector<Entry> entries_;  // mapping, in file order
  std::vector<Node> items_;     // sequence
  friend class NodeBuilder;
};

struct Node::Entry {
  std::string key;
  SourceLocation key_location;
  Node value;
};

// Builds nodes of every kind; used by the YAML reader.
class NodeBuilder {
 public:
  [[nodiscard]] static Node null(SourceLocation location);
  [[nodiscard]] static Node sequence(SourceLocation location);
};

// The node as one line of YAML flow syntax ("400 Gb/s", [4, 4], {a: 1}), quoting where needed.
[[nodiscard]] std::string to_flow_yaml(const Node& node);

// Deep merge: mappings merge key by key (recursively); anything else in `overlay` replaces what is
// in `base`. Keys and values keep the locations they were written at.
void merge_into(Node& base, const Node& overlay);

}  // namespace clustersim::config
