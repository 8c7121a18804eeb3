#include "sim/config/node.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace clustersim::config {

Node Node::make_scalar(std::string text, SourceLocation location) {
  Node node;
  node.kind_ = Kind::scalar;
  node.scalar_ = std::move(text);
  node.location_ = std::move(location);
  return node;
}

Node Node::make_mapping(SourceLocation location) {
  Node node;
  node.kind_ = Kind::mapping;
  node.location_ = std::move(location);
  return node;
}

Node NodeBuilder::null(SourceLocation location) {
  Node node;
  node.location_ = std::move(location);
  return node;
}

Node NodeBuilder::sequence(SourceLocation location) {
  Node node;
  node.kind_ = Node::Kind::sequence;
  node.location_ = std::move(location);
  return node;
}

const Node::Entry* Node::find_entry(std::string_view key) const {
  const auto it = std::find_if(entries_.begin(), entries_.end(),
                               [key](const Entry& entry) { return entry.key == key; });
  return it == entries_.end() ? nullptr : &*it;
}

const Node* Node::find(std::string_view key) const {
  const Entry* entry = find_entry(key);
  return entry ? &entry->value : nullptr;
}

Node* Node::find(std::string_view key) {
  return const_cast<Node*>(static_cast<const Node&>(*this).find(key));
}

Node& Node::set(std::string key, SourceLocation key_location, Node value) {
  if (Node* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  kind_ = Kind::mapping;
  entries_.push_back(Entry{std::move(key), std::move(key_location), std::move(value)});
  return entries_.back().value;
}

void Node::append_entry(std::string key, SourceLocation key_location, Node value) {
  kind_ = Kind::mapping;
  entries_.push_back(Entry{std::move(key), std::move(key_location), std::move(value)});
}

void Node::remove(std::string_view key) {
  std::erase_if(entries_, [key](const Entry& entry) { return entry.key == key; });
}

void Node::append_item(Node item) {
  kind_ = Kind::sequence;
  items_.push_back(std::move(item));
}

std::string Node::describe() const {
  switch (kind_) {
    case Kind::null:
      return "an empty value";
    case Kind::scalar:
      return fmt::format("\"{}\"", scalar_);
    case Kind::sequence:
      return items_.empty() ? "an empty list" : "a list";
    case Kind::mapping:
      return "a mapping";
  }
  return "a value";
}

namespace {

bool needs_quotes(const std::string& text) {
  if (text.empty() || text.front() == ' ' || text.back() == ' ') return true;
  return text.find_first_of(":#,[]{}&*!|>'\"%@`\n") != std::string::npos;
}

}  // namespace

std::string to_flow_yaml(const Node& node) {
  switch (node.kind()) {
    case Node::Kind::null:
      return "null";
    case Node::Kind::scalar: {
      if (!needs_quotes(node.scalar())) return node.scalar();
      std::string quoted = "\"";
      for (char c : node.scalar()) {
        if (c == '"' || c == '\\') quoted += '\\';
        if (c == '\n') {
          quoted += "\\n";
          continue;
        }
        quoted += c;
      }
      return quoted + "\"";
    }
    case Node::Kind::sequence: {
      std::string text = "[";
      for (std::size_t i = 0; i < node.items().size(); ++i) {
        if (i > 0) text += ", ";
        text += to_flow_yaml(node.items()[i]);
      }
      return text + "]";
    }
    case Node::Kind::mapping: {
      std::string text = "{";
      for (std::size_t i = 0; i < node.entries().size(); ++i) {
        if (i > 0) text += ", ";
        text += node.entries()[i].key + ": " + to_flow_yaml(node.entries()[i].value);
      }
      return text + "}";
    }
  }
  return "null";
}

void merge_into(Node& base, const Node& overlay) {
  if (!base.is_mapping() || !overlay.is_mapping()) {
    base = overlay;
    return;
  }
  for (const Node::Entry& entry : overlay.entries()) {
    if (Node* existing = base.find(entry.key)) {
      merge_into(*existing, entry.value);
    } else {
      base.set(entry.key, entry.key_location, entry.value);
    }
  }
}

}  // namespace clustersim::config
