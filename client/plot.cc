#include "client/plot.h"

#include <algorithm>
#include <cmath>
#include <limits>

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

}  // namespace

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
  const int w = options.width, h = options.height;
  const int legend_w = 220;
  const double left = 80, right = w - legend_w - 20, top = 40, bottom = h - 60;

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
  x.pixel_lo = left;
  x.pixel_hi = right;
  y.pixel_lo = bottom;
  y.pixel_hi = top;

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d "
      "%d\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n",
      w, h, w, h, w, h);
  absl::StrAppend(&svg, "<text class=\"title\" x=\"", Num((left + right) / 2), "\" y=\"22\"",
                  " text-anchor=\"middle\" font-size=\"15\">", XmlEscape(options.title),
                  "</text>\n");

  // Grid, ticks and tick labels.
  absl::StrAppend(&svg, "<g class=\"axes\" stroke=\"#000\" fill=\"none\">\n");
  absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(bottom), "\" x2=\"", Num(right),
                  "\" y2=\"", Num(bottom), "\"/>\n");
  absl::StrAppend(&svg, "<line x1=\"", Num(left), "\" y1=\"", Num(top), "\" x2=\"", Num(left),
                  "\" y2=\"", Num(bottom), "\"/>\n</g>\n");
  const auto x_ticks = x.log ? LogTicks(x.lo, x.hi) : LinearTicks(x.lo, x.hi);
  const auto y_ticks = y.log ? LogTicks(y.lo, y.hi) : LinearTicks(y.lo, y.hi);
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
  absl::StrAppend(&svg, "<text class=\"xlabel\" x=\"", Num((left + right) / 2), "\" y=\"",
                  Num(h - 20.0), "\" text-anchor=\"middle\">",
                  XmlEscape(options.x_label + (x.log ? " (log scale)" : "")), "</text>\n");
  absl::StrAppend(&svg, "<text class=\"ylabel\" x=\"18\" y=\"", Num((top + bottom) / 2),
                  "\" text-anchor=\"middle\" transform=\"rotate(-90 18 ", Num((top + bottom) / 2),
                  ")\">", XmlEscape(options.y_label + (y.log ? " (log scale)" : "")), "</text>\n");

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
  for (const auto& m : markers) {
    if (!Usable(m.x, x.log)) continue;
    const double px = x.Map(m.x);
    absl::StrAppend(&svg, "<line class=\"marker\" x1=\"", Num(px), "\" y1=\"", Num(top), "\" x2=\"",
                    Num(px), "\" y2=\"", Num(bottom),
                    "\" stroke=\"#555\" stroke-dasharray=\"5,4\"/>\n");
    absl::StrAppend(&svg, "<text x=\"", Num(px + 4), "\" y=\"", Num(top + 12), "\">",
                    XmlEscape(m.label), "</text>\n");
  }

  // Legend.
  absl::StrAppend(&svg, "<g class=\"legend\">\n");
  for (size_t i = 0; i < series.size(); ++i) {
    const double ly = top + 10 + 18.0 * i;
    const double lx = w - legend_w;
    absl::StrAppend(&svg, "<line x1=\"", Num(lx), "\" y1=\"", Num(ly), "\" x2=\"", Num(lx + 20),
                    "\" y2=\"", Num(ly), "\" stroke=\"", kPalette[i % kPaletteSize],
                    "\" stroke-width=\"3\"/>");
    absl::StrAppend(&svg, "<text x=\"", Num(lx + 26), "\" y=\"", Num(ly + 4), "\">",
                    XmlEscape(series[i].label), "</text>\n");
  }
  absl::StrAppend(&svg, "</g>\n</svg>\n");
  return svg;
}

}  // namespace hypersweep
