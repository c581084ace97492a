// Text extents of an SVG document the CLI writes, for tests: every <text> element's box, from its
// x, y, text-anchor, font-size (its own or inherited) and a rotate(-90 cx cy) transform, with the
// width estimated by client/plot.h's TextWidth (the conservative per-glyph table the layout uses)
// and the height taken as font-size above the baseline and 0.3 x font-size below it.
#ifndef HYPERSWEEP_TESTS_CLIENT_SVG_EXTENT_H_
#define HYPERSWEEP_TESTS_CLIENT_SVG_EXTENT_H_

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "client/plot.h"
#include "tests/client/xml_check.h"

namespace hypersweep::testing_xml {

struct TextBox {
  std::string text;
  double x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

inline double NumberAttr(const Element& e, const std::string& name, double fallback) {
  auto it = e.attrs.find(name);
  return it == e.attrs.end() ? fallback : std::stod(it->second);
}

namespace internal {
inline void CollectBoxes(const Element& e, double font_size, std::vector<TextBox>* out) {
  font_size = NumberAttr(e, "font-size", font_size);
  if (e.name == "text") {
    const double x = NumberAttr(e, "x", 0), y = NumberAttr(e, "y", 0);
    const double w = TextWidth(e.text, font_size);
    std::string anchor = "start";
    if (auto it = e.attrs.find("text-anchor"); it != e.attrs.end()) anchor = it->second;
    const double before = anchor == "middle" ? w / 2 : anchor == "end" ? w : 0;
    TextBox b{e.text, x - before, y - font_size, x - before + w, y + 0.3 * font_size};
    if (auto it = e.attrs.find("transform"); it != e.attrs.end()) {
      double angle = 0, cx = 0, cy = 0;
      if (std::sscanf(it->second.c_str(), "rotate(%lf %lf %lf)", &angle, &cx, &cy) != 3 ||
          angle != -90) {
        b.x0 = b.y0 = -1e9;  // a transform this checker does not know: reported as outside
      } else {
        // Rotating by -90 degrees about (cx, cy) maps (px, py) to (cx + (py - cy), cy - (px - cx)).
        const TextBox r = b;
        b.x0 = cx + (r.y0 - cy);
        b.x1 = cx + (r.y1 - cy);
        b.y0 = cy - (r.x1 - cx);
        b.y1 = cy - (r.x0 - cx);
      }
    }
    out->push_back(b);
  }
  for (const auto& c : e.children) CollectBoxes(*c, font_size, out);
}
}  // namespace internal

// The boxes of every <text> in the document rooted at `root` (an <svg>).
inline std::vector<TextBox> TextBoxes(const Element& root) {
  std::vector<TextBox> out;
  internal::CollectBoxes(root, 16, &out);  // 16: SVG's default font size
  return out;
}

// One line per <text> whose box leaves the canvas (the viewBox "0 0 W H"); "" when none does.
inline std::string TextsOutsideCanvas(const Element& root) {
  double vx = 0, vy = 0, w = 0, h = 0;
  auto it = root.attrs.find("viewBox");
  if (it == root.attrs.end() ||
      std::sscanf(it->second.c_str(), "%lf %lf %lf %lf", &vx, &vy, &w, &h) != 4) {
    return "no viewBox";
  }
  std::ostringstream out;
  for (const TextBox& b : TextBoxes(root)) {
    if (b.x0 < vx || b.y0 < vy || b.x1 > vx + w || b.y1 > vy + h) {
      out << "'" << b.text << "' spans x " << b.x0 << ".." << b.x1 << ", y " << b.y0 << ".." << b.y1
          << " on a canvas " << w << " x " << h << "\n";
    }
  }
  return out.str();
}

}  // namespace hypersweep::testing_xml

#endif  // HYPERSWEEP_TESTS_CLIENT_SVG_EXTENT_H_
