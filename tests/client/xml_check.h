// A tiny XML reader for tests: checks well-formedness (one root, matched and nested tags, quoted
// attributes, known entities) and returns the element tree so tests can count and inspect
// elements. Enough for the SVG the CLI writes; not a general XML parser (no DTDs, no CDATA).
#ifndef HYPERSWEEP_TESTS_CLIENT_XML_CHECK_H_
#define HYPERSWEEP_TESTS_CLIENT_XML_CHECK_H_

#include <cctype>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace hypersweep::testing_xml {

struct Element {
  std::string name;
  std::map<std::string, std::string> attrs;  // entity references decoded
  std::vector<std::unique_ptr<Element>> children;
  std::string text;  // concatenated character data

  // Every descendant (and this) matching `pred`, in document order.
  void Collect(const std::function<bool(const Element&)>& pred,
               std::vector<const Element*>* out) const {
    if (pred(*this)) out->push_back(this);
    for (const auto& c : children) c->Collect(pred, out);
  }
};

class Parser {
 public:
  explicit Parser(const std::string& text) : s_(text) {}

  // The root element, or null with error() set.
  std::unique_ptr<Element> Parse() {
    SkipProlog();
    auto root = ParseElement();
    if (!root) return nullptr;
    SkipSpaceAndComments();
    if (pos_ != s_.size()) return Fail("content after the root element");
    return root;
  }
  const std::string& error() const { return error_; }

 private:
  std::unique_ptr<Element> Fail(const std::string& message) {
    if (error_.empty()) error_ = message + " at offset " + std::to_string(pos_);
    return nullptr;
  }
  bool StartsWith(const char* p) const { return s_.compare(pos_, std::strlen(p), p) == 0; }
  void SkipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  void SkipSpaceAndComments() {
    while (true) {
      SkipSpace();
      if (StartsWith("<!--")) {
        auto end = s_.find("-->", pos_);
        pos_ = end == std::string::npos ? s_.size() : end + 3;
      } else {
        return;
      }
    }
  }
  void SkipProlog() {
    SkipSpace();
    if (StartsWith("<?xml")) {
      auto end = s_.find("?>", pos_);
      pos_ = end == std::string::npos ? s_.size() : end + 2;
    }
    SkipSpaceAndComments();
  }
  static bool NameChar(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == ':' ||
           c == '.';
  }
  std::string Name() {
    size_t start = pos_;
    while (pos_ < s_.size() && NameChar(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }
  // Decodes entity references; false on an unknown one or a bare '&' / '<'.
  bool Decode(const std::string& raw, std::string* out) {
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '<') return false;
      if (raw[i] != '&') {
        *out += raw[i];
        continue;
      }
      auto semi = raw.find(';', i);
      if (semi == std::string::npos) return false;
      const std::string ent = raw.substr(i + 1, semi - i - 1);
      static const std::map<std::string, char> kEntities = {
          {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
      if (auto it = kEntities.find(ent); it != kEntities.end()) {
        *out += it->second;
      } else if (!ent.empty() && ent[0] == '#') {
        *out += '?';  // numeric reference: accepted, not decoded
      } else {
        return false;
      }
      i = semi;
    }
    return true;
  }
  std::unique_ptr<Element> ParseElement() {
    if (pos_ >= s_.size() || s_[pos_] != '<') return Fail("expected '<'");
    ++pos_;
    auto e = std::make_unique<Element>();
    e->name = Name();
    if (e->name.empty()) return Fail("expected an element name");
    while (true) {
      SkipSpace();
      if (pos_ >= s_.size()) return Fail("unterminated start tag");
      if (StartsWith("/>")) {
        pos_ += 2;
        return e;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      const std::string attr = Name();
      if (attr.empty()) return Fail("expected an attribute name");
      SkipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '=') return Fail("expected '=' after " + attr);
      ++pos_;
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '"' && s_[pos_] != '\'')) {
        return Fail("attribute " + attr + " is not quoted");
      }
      const char q = s_[pos_++];
      auto end = s_.find(q, pos_);
      if (end == std::string::npos) return Fail("unterminated attribute " + attr);
      std::string value;
      if (!Decode(s_.substr(pos_, end - pos_), &value)) return Fail("bad character in " + attr);
      if (e->attrs.count(attr)) return Fail("duplicate attribute " + attr);
      e->attrs[attr] = value;
      pos_ = end + 1;
    }
    // Content.
    while (true) {
      if (pos_ >= s_.size()) return Fail("unclosed element " + e->name);
      if (StartsWith("</")) {
        pos_ += 2;
        const std::string name = Name();
        SkipSpace();
        if (name != e->name) return Fail("</" + name + "> closes <" + e->name + ">");
        if (pos_ >= s_.size() || s_[pos_] != '>') return Fail("unterminated end tag");
        ++pos_;
        return e;
      }
      if (StartsWith("<!--")) {
        SkipSpaceAndComments();
        continue;
      }
      if (s_[pos_] == '<') {
        auto child = ParseElement();
        if (!child) return nullptr;
        e->children.push_back(std::move(child));
        continue;
      }
      auto next = s_.find('<', pos_);
      if (next == std::string::npos) next = s_.size();
      std::string text;
      if (!Decode(s_.substr(pos_, next - pos_), &text)) return Fail("bad character data");
      e->text += text;
      pos_ = next;
    }
  }

  const std::string s_;
  size_t pos_ = 0;
  std::string error_;
};

// Number of points in a path's "d" (one per M or L command).
inline int PathPoints(const std::string& d) {
  int n = 0;
  for (char c : d) n += (c == 'M' || c == 'L');
  return n;
}

// The <path class="series"> elements of an SVG document.
inline std::vector<const Element*> SeriesPaths(const Element& root) {
  std::vector<const Element*> out;
  root.Collect(
      [](const Element& e) {
        auto it = e.attrs.find("class");
        return e.name == "path" && it != e.attrs.end() && it->second == "series";
      },
      &out);
  return out;
}

// The texts of the <text> children of every <g class="`group_class`"> (e.g. "legend"), in order.
inline std::vector<std::string> GroupTexts(const Element& root, const std::string& group_class) {
  std::vector<const Element*> groups;
  root.Collect(
      [&](const Element& e) {
        auto it = e.attrs.find("class");
        return e.name == "g" && it != e.attrs.end() && it->second == group_class;
      },
      &groups);
  std::vector<std::string> out;
  for (const Element* g : groups) {
    for (const auto& c : g->children) {
      if (c->name == "text") out.push_back(c->text);
    }
  }
  return out;
}

}  // namespace hypersweep::testing_xml

#endif  // HYPERSWEEP_TESTS_CLIENT_XML_CHECK_H_
