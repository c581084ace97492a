#include "client/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hypersweep {
namespace {

// A colour-blind-friendly palette (Okabe-Ito), cycled.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                    "#E69F00", "#56B4E9", "#000000", "#F0E442"};
constexpr int kPaletteSize = sizeof(kPalette) / sizeof(kPalette[0]);

struct Axis {
  double lo = 0, hi = 1;
  bool log = false;
  double pixel_lo = 0, pixel_hi = 1;

  double Value(double v) const { return log ? std::log10(v) : v; }
  double Map(double v) const {
    const double a = Value(lo), b = Value(hi);
    const double t = b > a ? (Value(v) - a) / (b - a) : 0.5;
    return pixel_lo + t * (pixel_hi - pixel_lo);
  }
};

bool Usable(double v, bool log) { return std::isfinite(v) && (!log || v > 0); }

// Range of the usable values, padded; falls back to [0, 1] (or [1, 10] on a log axis).
void FitRange(const std::vector<double>& values, bool log, Axis* axis, bool pad) {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (!Usable(v, log)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) {
    lo = log ? 1 : 0;
    hi = log ? 10 : 1;
  }
  if (hi <= lo) {
    if (log) {
      lo /= 2;
      hi *= 2;
    } else {
      const double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
      lo -= d;
      hi += d;
    }
  } else if (pad) {
    if (log) {
      const double f = std::pow(hi / lo, 0.04);
      lo /= f;
      hi *= f;
    } else {
      const double d = (hi - lo) * 0.04;
      lo -= d;
      hi += d;
    }
  }
  axis->lo = lo;
  axis->hi = hi;
  axis->log = log;
}

std::string Num(double v) { return absl::StrFormat("%.2f", v); }

std::string TickLabel(double v) {
  if (v == 0) return "0";
  const double a = std::abs(v);
  if (a >= 1e4 || a < 1e-3) return absl::StrFormat("%.0e", v);
  return absl::StrFormat("%.6g", v);
}

// The start of each UTF-8 code point of `text` (continuation bytes are 10xxxxxx).
std::vector<size_t> CodePointStarts(const std::string& text) {
  std::vector<size_t> starts;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  return starts;
}

double GlyphEms(unsigned char c) {
  if (c >= 0x80) return 1.0;  // the lead byte of a non-ASCII code point
  static constexpr std::string_view kNarrow = "ijlIJ|!'.,:; ";
  static constexpr std::string_view kSemi = "frt()[]{}/\\-\"";
  static constexpr std::string_view kWide = "mwMW%@";
  static constexpr std::string_view kBroad = "=+<>~^&#";
  if (kNarrow.find(static_cast<char>(c)) != std::string_view::npos) return 0.34;
  if (kSemi.find(static_cast<char>(c)) != std::string_view::npos) return 0.45;
  if (kWide.find(static_cast<char>(c)) != std::string_view::npos) return 1.0;
  if ((c >= 'A' && c <= 'Z') || kBroad.find(static_cast<char>(c)) != std::string_view::npos) {
    return 0.84;
  }
  return 0.66;
}

}  // namespace

double TextWidth(const std::string& text, double font_size) {
  double ems = 0;
  for (size_t i : CodePointStarts(text)) ems += GlyphEms(static_cast<unsigned char>(text[i]));
  return ems * font_size;
}

std::string FitText(const std::string& text, double font_size, double max_width) {
  if (TextWidth(text, font_size) <= max_width) return text;
  const std::string kEllipsis = "\xE2\x80\xA6";  // U+2026 …
  const std::vector<size_t> starts = CodePointStarts(text);
  for (size_t n = starts.size(); n-- > 0;) {
    std::string cut = text.substr(0, starts[n]);
    while (!cut.empty() && cut.back() == ' ') cut.pop_back();
    cut += kEllipsis;
    if (TextWidth(cut, font_size) <= max_width) return cut;
  }
  return "";
}

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<double> LinearTicks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return ticks;
  const double raw = (hi - lo) / std::max(target, 1);
  const int e = static_cast<int>(std::floor(std::log10(raw)));
  const double mag = std::pow(10.0, e);
  double m = 10;
  for (double c : {1.0, 2.0, 5.0, 10.0}) {
    m = c;
    if (c * mag >= raw) break;
  }
  // Tick k is k * m * 10^e, computed so that decimal ticks are the doubles closest to them.
  auto at = [&](int64_t k) {
    const double units = static_cast<double>(k) * m;
    return e < 0 ? units / std::pow(10.0, -e) : units * mag;
  };
  const double step = m * mag;
  for (int64_t k = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
       at(k) <= hi + step * 1e-9 && ticks.size() < 100; ++k) {
    ticks.push_back(at(k));
  }
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  std::vector<double> ticks;
  if (!(lo > 0) || !(hi > lo)) return ticks;
  for (int e = static_cast<int>(std::ceil(std::log10(lo) - 1e-9));
       e <= static_cast<int>(std::floor(std::log10(hi) + 1e-9)); ++e) {
    ticks.push_back(std::pow(10.0, e));
  }
  if (ticks.size() >= 2) return ticks;
  ticks.clear();
  for (int e = static_cast<int>(std::floor(std::log10(lo))) - 1;
       e <= static_cast<int>(std::ceil(std::log10(hi))); ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * std::pow(10.0, e);
      if (t >= lo * (1 - 1e-9) && t <= hi * (1 + 1e-9)) ticks.push_back(t);
    }
  }
  return ticks;
}

std::string RenderSvg(const std::vector<PlotSeries>& series, const PlotOptions& options,
                      const std::vector<PlotMarker>& markers) {
  // Layout, all from TextWidth's conservative estimate so that no text leaves the canvas: the
  // title on top; the y label (rotated) and the y tick labels left of the plot, which is as wide
  // as they need; the x tick labels and the x label below it; then the legend, in as many
  // columns as its widest entry allows and as many rows as it takes, below everything, the
  // canvas growing downwards to hold it (options.height is the height without the legend).
  // Text too long for its place is shortened with an ellipsis (FitText).
  constexpr double kFont = 12, kTitleFont = 15, kPad = 8, kRow = 18, kSwatch = 26, kColGap = 18;
  const double w = std::max(options.width, 200), h = std::max(options.height, 160);

  Axis x, y;
  std::vector<double> xs, ys;
  for (const auto& s : series) {
    xs.insert(xs.end(), s.x.begin(), s.x.end());
    ys.insert(ys.end(), s.y.begin(), s.y.end());
    ys.insert(ys.end(), s.lower.begin(), s.lower.end());
    ys.insert(ys.end(), s.upper.begin(), s.upper.end());
  }
  for (const auto& m : markers) xs.push_back(m.x);
  FitRange(xs, options.log_x, &x, /*pad=*/false);
  if (options.y_max) {
    for (double& v : ys) v = std::min(v, *options.y_max);
  }
  FitRange(ys, options.log_y, &y, /*pad=*/true);
  const auto x_ticks = x.log ? LogTicks(x.lo, x.hi) : LinearTicks(x.lo, x.hi);
  const auto y_ticks = y.log ? LogTicks(y.lo, y.hi) : LinearTicks(y.lo, y.hi);

  // Margins: the y label's line (x from kPad to kPad + 1.3 em), the widest y tick label and 8px to
  // the axis; half of the first and last x tick labels, which are centred on the plot's edges.
  const double ylabel_x = kPad + kFont;  // baseline of the rotated y label
  double y_tick_w = 0;
  for (double t : y_ticks) y_tick_w = std::max(y_tick_w, TextWidth(TickLabel(t), kFont));
  const double x_first_half =
      x_ticks.empty() ? 0 : TextWidth(TickLabel(x_ticks.front()), kFont) / 2;
  const double x_last_half = x_ticks.empty() ? 0 : TextWidth(TickLabel(x_ticks.back()), kFont) / 2;
  const double left =
      std::max({60.0, ylabel_x + 0.3 * kFont + 6 + y_tick_w + 8, kPad + x_first_half});
  const double right = w - std::max(20.0, kPad + x_last_half);
  const double top = 40, bottom = h - 60;
  x.pixel_lo = left;
  x.pixel_hi = right;
  y.pixel_lo = bottom;
  y.pixel_hi = top;

  // The legend's grid.
  double widest = 0;
  for (const auto& s : series) widest = std::max(widest, kSwatch + TextWidth(s.label, kFont));
  const double legend_room = w - 2 * kPad;
  const double col_w = std::min(widest, legend_room) + kColGap;
  const size_t cols = series.empty()
                          ? 1
                          : std::clamp<size_t>(static_cast<size_t>((legend_room + kColGap) / col_w),
                                               1, series.size());
  const size_t rows = (series.size() + cols - 1) / cols;
  const double legend_top = h + 2;  // the first row's swatch line
  const double total_h = rows == 0 ? h : h + kRow * static_cast<double>(rows) + 4;
  const double label_room = std::min(widest, legend_room) - kSwatch;
  const int canvas_w = static_cast<int>(w), canvas_h = static_cast<int>(std::ceil(total_h));

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
      "%d\" font-family=\"sans-serif\" font-size=\"%g\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
      canvas_w, canvas_h, canvas_w, canvas_h, kFont, canvas_w, canvas_h);
  absl::StrAppend(&svg, "<text class=\"title\" x=\"", Num(w / 2), "\" y=\"22\"",
                  " text-anchor=\"middle\" font-size=\"", kTitleFont, "\">",
                  XmlEscape(FitText(options.title, kTitleFont, w - 2 * kPad)), "</text>\n");

  // Grid, ticks and tick labels.
  absl::StrAppend(&svg, "<g class=\"axes\" stroke=\"#000\" fill=\"none\">\n");
  absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(bottom), "\" x2=\"", Num(right),
                  "\" y2=\"", Num(bottom), "\"/>\n");
  absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(top), "\" x2=\"", Num(left),
                  "\" y2=\"", Num(bottom), "\"/>\n</g>\n");
  absl::StrAppend(&svg, "<g class=\"xticks\">\n");
  for (double t : x_ticks) {
    const double px = x.Map(t);
    absl::StrAppend(&svg, "<line x1=\"", Num(px), "\" y1=\"", Num(top), "\" x2=\"", Num(px),
                    "\" y2=\"", Num(bottom), "\" stroke=\"#e5e5e5\"/>");
    absl::StrAppend(&svg, "<line x1=\"", Num(px), "\" y1=\"", Num(bottom), "\" x2=\"", Num(px),
                    "\" y2=\"", Num(bottom + 5), "\" stroke=\"#000\"/>");
    absl::StrAppend(&svg, "<text x=\"", Num(px), "\" y=\"", Num(bottom + 18),
                    "\" text-anchor=\"middle\">", XmlEscape(TickLabel(t)), "</text>\n");
  }
  absl::StrAppend(&svg, "</g>\n<g class=\"yticks\">\n");
  for (double t : y_ticks) {
    const double py = y.Map(t);
    absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(py), "\" x2=\"", Num(right),
                    "\" y2=\"", Num(py), "\" stroke=\"#e5e5e5\"/>");
    absl::StrAppend(&svg, "<line x1=\"", Num(left - 5), "\" y1=\"", Num(py), "\" x2=\"", Num(left),
                    "\" y2=\"", Num(py), "\" stroke=\"#000\"/>");
    absl::StrAppend(&svg, "<text x=\"", Num(left - 8), "\" y=\"", Num(py + 4),
                    "\" text-anchor=\"end\">", XmlEscape(TickLabel(t)), "</text>\n");
  }
  absl::StrAppend(&svg, "</g>\n");
  const double x_mid = (left + right) / 2, y_mid = (top + bottom) / 2;
  const std::string x_label = options.x_label + (x.log ? " (log scale)" : "");
  const std::string y_label = options.y_label + (y.log ? " (log scale)" : "");
  absl::StrAppend(&svg, "<text class=\"xlabel\" x=\"", Num(x_mid), "\" y=\"", Num(h - 24),
                  "\" text-anchor=\"middle\">",
                  XmlEscape(FitText(x_label, kFont, 2 * std::min(x_mid - kPad, w - kPad - x_mid))),
                  "</text>\n");
  absl::StrAppend(&svg, "<text class=\"ylabel\" x=\"", Num(ylabel_x), "\" y=\"", Num(y_mid),
                  "\" text-anchor=\"middle\" transform=\"rotate(-90 ", Num(ylabel_x), " ",
                  Num(y_mid), ")\">", XmlEscape(FitText(y_label, kFont, bottom - top)),
                  "</text>\n");

  // Bands first so lines draw on top.
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    if (s.lower.size() != s.y.size() || s.upper.size() != s.y.size() || s.y.empty()) continue;
    std::vector<std::pair<double, double>> up, down;
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!Usable(s.x[k], x.log) || !Usable(s.lower[k], y.log) || !Usable(s.upper[k], y.log)) {
        continue;
      }
      up.emplace_back(x.Map(s.x[k]), y.Map(s.upper[k]));
      down.emplace_back(x.Map(s.x[k]), y.Map(s.lower[k]));
    }
    if (up.size() < 2) continue;
    std::string d;
    for (size_t k = 0; k < up.size(); ++k) {
      absl::StrAppend(&d, k ? " L" : "M", Num(up[k].first), ",", Num(up[k].second));
    }
    for (size_t k = down.size(); k-- > 0;) {
      absl::StrAppend(&d, " L", Num(down[k].first), ",", Num(down[k].second));
    }
    absl::StrAppend(&svg, "<path class=\"band\" d=\"", d, " Z\" fill=\"",
                    kPalette[i % kPaletteSize], "\" fill-opacity=\"0.2\" stroke=\"none\"/>\n");
  }
  for (size_t i = 0; i < series.size(); ++i) {
    const auto& s = series[i];
    std::string d;
    int n = 0;
    for (size_t k = 0; k < s.x.size() && k < s.y.size(); ++k) {
      if (!Usable(s.x[k], x.log) || !Usable(s.y[k], y.log)) continue;
      const double yv = options.y_max ? std::min(s.y[k], *options.y_max) : s.y[k];
      absl::StrAppend(&d, n ? " L" : "M", Num(x.Map(s.x[k])), ",", Num(y.Map(yv)));
      ++n;
    }
    if (n == 0) continue;
    absl::StrAppend(&svg, "<path class=\"series\" data-label=\"", XmlEscape(s.label),
                    "\" data-points=\"", n, "\" d=\"", d, "\" fill=\"none\" stroke=\"",
                    kPalette[i % kPaletteSize], "\" stroke-width=\"1.8\"/>\n");
    if (n == 1) {  // a lone point is invisible as a path: mark it
      absl::StrAppend(&svg, "<circle cx=\"", Num(x.Map(s.x[0])), "\" cy=\"", Num(y.Map(s.y[0])),
                      "\" r=\"3\" fill=\"", kPalette[i % kPaletteSize], "\"/>\n");
    }
  }
  // Marker labels: right of their line when they fit there, else left of it, else from the left
  // edge; one line lower for each marker so that labels of close markers do not overprint.
  const size_t marker_lines =
      std::max<size_t>(1, static_cast<size_t>((bottom - top - kFont) / (kFont + 2)));
  size_t marker_index = 0;
  for (const auto& m : markers) {
    if (!Usable(m.x, x.log)) continue;
    const double px = x.Map(m.x);
    absl::StrAppend(&svg, "<line class=\"marker\" x1=\"", Num(px), "\" y1=\"", Num(top), "\" x2=\"",
                    Num(px), "\" y2=\"", Num(bottom),
                    "\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>\n");
    const std::string label = FitText(m.label, kFont, w - 2 * kPad);
    const double lw = TextWidth(label, kFont);
    const double ly =
        top + kFont + (kFont + 2) * static_cast<double>(marker_index++ % marker_lines);
    std::string anchor = "start";
    double lx = px + 4;
    if (lx + lw > w - kPad) {
      if (px - 4 - lw >= kPad) {
        lx = px - 4;
        anchor = "end";
      } else {
        lx = kPad;
      }
    }
    absl::StrAppend(&svg, "<text class=\"marker-label\" x=\"", Num(lx), "\" y=\"", Num(ly),
                    "\" text-anchor=\"", anchor, "\">", XmlEscape(label), "</text>\n");
  }

  // Legend: row-major in `cols` columns below the x label.
  absl::StrAppend(&svg, "<g class=\"legend\">\n");
  for (size_t i = 0; i < series.size(); ++i) {
    const double ly = legend_top + kRow * static_cast<double>(i / cols);
    const double lx = kPad + col_w * static_cast<double>(i % cols);
    absl::StrAppend(&svg, "<line x1=\"", Num(lx), "\" y1=\"", Num(ly), "\" x2=\"", Num(lx + 20),
                    "\" y2=\"", Num(ly), "\" stroke=\"", kPalette[i % kPaletteSize],
                    "\" stroke-width=\"3\"/>");
    absl::StrAppend(&svg, "<text x=\"", Num(lx + kSwatch), "\" y=\"", Num(ly + 4), "\">",
                    XmlEscape(FitText(series[i].label, kFont, label_room)), "</text>\n");
  }
  absl::StrAppend(&svg, "</g>\n</svg>\n");
  return svg;
}

}  // namespace hypersweep
