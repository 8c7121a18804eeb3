#include "sim/config/yaml_source.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

namespace clustersim::config {
namespace {

// Limits that keep a hostile file from exhausting the stack or memory: nesting depth (an alias
// that refers to itself nests without end) and the nodes produced (aliases expanded again and
// again, "billion laughs").
constexpr int kMaxDepth = 64;
constexpr std::size_t kMaxNodes = 500'000;

class Converter {
 public:
  Converter(const SourceLocation& origin, Diagnostics& diagnostics)
      : origin_(origin), diagnostics_(diagnostics) {}

  Node convert(const YAML::Node& yaml, const SourceLocation& fallback, const std::string& path,
               int depth = 0) {
    const SourceLocation location = locate(yaml.Mark(), fallback);
    if (stopped_) return NodeBuilder::null(location);
    if (depth > kMaxDepth) {
      stop(location, path,
           fmt::format("nested more than {} levels deep (an alias that refers to itself?)",
                       kMaxDepth));
      return NodeBuilder::null(location);
    }
    if (++nodes_ > kMaxNodes) {
      stop(location, path,
           fmt::format("expands to more than {} values (aliases repeated inside aliases?)",
                       kMaxNodes));
      return NodeBuilder::null(location);
    }
    switch (yaml.Type()) {
      case YAML::NodeType::Scalar:
        return Node::make_scalar(yaml.Scalar(), location);
      case YAML::NodeType::Sequence: {
        Node node = NodeBuilder::sequence(location);
        std::size_t index = 0;
        for (const YAML::Node& item : yaml) {
          node.append_item(
              convert(item, location, fmt::format("{}[{}]", path, index++), depth + 1));
          if (stopped_) break;
        }
        return node;
      }
      case YAML::NodeType::Map: {
        Node node = Node::make_mapping(location);
        std::unordered_map<std::string, int> lines;  // key -> the line it was first written at
        for (const auto& pair : yaml) {
          const SourceLocation key_location = locate(pair.first.Mark(), location);
          if (!pair.first.IsScalar()) {
            diagnostics_.error(key_location, path, "keys must be plain names, not lists or maps");
            continue;
          }
          const std::string key = pair.first.Scalar();
          const std::string key_path = path.empty() ? key : path + "." + key;
          const auto [first, inserted] = lines.emplace(key, key_location.line);
          if (!inserted) {
            diagnostics_.error(
                key_location, key_path,
                fmt::format("duplicate key (first defined at line {})", first->second));
            continue;
          }
          node.append_entry(key, key_location,
                            convert(pair.second, key_location, key_path, depth + 1));
          if (stopped_) break;
        }
        return node;
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        break;
    }
    return NodeBuilder::null(location);
  }

  [[nodiscard]] SourceLocation locate(const YAML::Mark& mark,
                                      const SourceLocation& fallback) const {
    if (mark.is_null() || mark.line < 0) return fallback;
    SourceLocation location = origin_;
    if (origin_.line == 0) return location;  // text without lines (command line)
    location.line = origin_.line + mark.line;
    location.column = (mark.line == 0 ? origin_.column : 1) + mark.column;
    return location;
  }

 private:
  void stop(const SourceLocation& location, const std::string& path, std::string message) {
    stopped_ = true;
    diagnostics_.error(location, path, std::move(message));
  }

  const SourceLocation& origin_;
  Diagnostics& diagnostics_;
  std::size_t nodes_ = 0;
  bool stopped_ = false;
};

// Where each document of a text starts (its root value, or the document when it has none), from
// the parser's events, without building the documents.
class DocumentStarts : public YAML::EventHandler {
 public:
  [[nodiscard]] const std::vector<YAML::Mark>& marks() const { return marks_; }

  void OnDocumentStart(const YAML::Mark& mark) override {
    marks_.push_back(mark);
    at_root_ = true;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t) override { value(mark); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { value(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                const std::string&) override {
    value(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    value(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    value(mark);
  }
  void OnMapEnd() override {}

 private:
  void value(const YAML::Mark& mark) {
    if (at_root_ && !mark.is_null()) marks_.back() = mark;
    at_root_ = false;
  }

  std::vector<YAML::Mark> marks_;
  bool at_root_ = false;
};

}  // namespace

std::optional<Node> parse_yaml_text(std::string_view text, const SourceLocation& origin,
                                    Diagnostics& diagnostics) {
  const std::string owned(text);
  Converter converter(origin, diagnostics);
  YAML::Node document;
  try {
    // The documents are counted before one is built: one file holds one card, and a second
    // document would be silently ignored.
    std::istringstream stream(owned);
    YAML::Parser parser(stream);
    DocumentStarts starts;
    while (parser.HandleNextDocument(starts)) {
      const std::vector<YAML::Mark>& marks = starts.marks();
      if (marks.size() >= 2 && marks.back().pos <= marks[marks.size() - 2].pos) {
        // yaml-cpp 0.7 does not move past some text it cannot place at the top level (a stray
        // ","): it returns an empty document there again and again (YAML::LoadAll never ends).
        const auto pos = static_cast<std::size_t>(std::max(0, marks.back().pos));
        const char c = pos < owned.size() ? owned[pos] : '\0';
        diagnostics.error(converter.locate(marks.back(), origin), "",
                          c > ' ' && c <= '~' ? fmt::format("invalid YAML: unexpected \"{}\"", c)
                                              : std::string("invalid YAML: unexpected text"));
        return std::nullopt;
      }
    }
    if (starts.marks().size() > 1) {
      diagnostics.error(converter.locate(starts.marks()[1], origin), "",
                        fmt::format("the file holds {} YAML documents (separated by ---); a "
                                    "file holds one",
                                    starts.marks().size()));
      return std::nullopt;
    }
    document = YAML::Load(owned);
  } catch (const YAML::Exception& error) {
    diagnostics.error(converter.locate(error.mark, origin), "",
                      fmt::format("invalid YAML: {}", error.msg));
    return std::nullopt;
  }
  return converter.convert(document, origin, "");
}

std::optional<Node> read_yaml_file(const std::filesystem::path& path,
                                   const std::string& display_name, Diagnostics& diagnostics) {
  const SourceLocation file_location{display_name, 0, 0};
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    diagnostics.error(file_location, "", "is a directory, not a YAML file");
    return std::nullopt;
  }
  std::ifstream stream(path, std::ios::binary);
  if (!stream) {
    diagnostics.error(file_location, "", "cannot open file: no such file or not readable");
    return std::nullopt;
  }
  std::ostringstream content;
  content << stream.rdbuf();
  const std::string text = content.str();
  if (text.find('\0') != std::string::npos) {
    diagnostics.error(file_location, "", "is a binary file, not YAML text");
    return std::nullopt;
  }
  return parse_yaml_text(text, SourceLocation{display_name, 1, 1}, diagnostics);
}

}  // namespace clustersim::config
