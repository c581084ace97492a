// Layout of the CLI's plots: every piece of text (title, tick labels, axis labels, marker labels,
// legend) lies inside the canvas, measured with the same conservative width estimate the layout
// uses (client/plot.h's TextWidth), for the demo's kinds of figures and for many long legends.
#include <cmath>
#include <string>
#include <vector>

#include "client/plot.h"
#include "client/plot_figures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/svg_extent.h"
#include "tests/client/xml_check.h"

namespace hypersweep {
namespace {

using testing_xml::Element;
using testing_xml::Parser;
using testing_xml::TextBoxes;
using testing_xml::TextsOutsideCanvas;

std::unique_ptr<Element> ParseSvg(const std::string& svg) {
  Parser p(svg);
  auto root = p.Parse();
  EXPECT_NE(root, nullptr) << p.error() << "\n" << svg;
  return root;
}

void ExpectAllTextInside(const std::string& svg) {
  auto root = ParseSvg(svg);
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(TextsOutsideCanvas(*root), "") << svg;
}

// A falling curve over `epochs` epochs, offset by `k`.
FigureCurve Curve(const std::string& label, int k, int epochs = 10, int trials = 3) {
  FigureCurve c;
  c.label = label;
  c.trials = trials;
  for (int e = 0; e < epochs; ++e) {
    c.x.push_back(e);
    c.y.push_back(1.0 / (e + 1) + 0.05 * k);
    c.se.push_back(0.01);
  }
  return c;
}

// Twelve series with long names (as a sweep over four dimensions names them), each a mean of
// three seeds: the legend needs many rows and must still fit.
std::vector<FigureCurve> TwelveLongCurves() {
  std::vector<FigureCurve> curves;
  const char* schedules[] = {"1cycle max_lr 0.0963", "triangular 0.001-0.1",
                             "cosine restarts lr 0.1 T0 2"};
  const char* batches[] = {"batch 64", "batch 1024"};
  const char* momenta[] = {
      "momentum 0.95\xE2\x86\x92"
      "0.85",
      "momentum 0.9"};
  int k = 0;
  for (const char* s : schedules) {
    for (const char* b : batches) {
      for (const char* m : momenta) {
        curves.push_back(
            Curve(std::string(s) + ", " + b + ", " + m + ", wd 5e-4, optimizer sgd", k++));
      }
    }
  }
  return curves;
}

TEST(PlotLayoutTest, TwelveLongLegendEntriesStayOnTheCanvas) {
  const auto curves = TwelveLongCurves();
  const std::string svg =
      RenderSweepFigure(SweepFigure::kCurves, "fashion-mnist-grid", "val_loss", curves);
  ExpectAllTextInside(svg);
  // Every entry is in the legend, none cut (they fit in a column of the canvas's width).
  auto root = ParseSvg(svg);
  ASSERT_NE(root, nullptr);
  int legend = 0;
  for (const auto& b : TextBoxes(*root)) {
    if (b.text.find("optimizer sgd (mean of 3") != std::string::npos) ++legend;
  }
  EXPECT_EQ(legend, 12);
}

// The labels the demo's plots had before series were named in human terms: long, id-laden.
TEST(PlotLayoutTest, TheDemosFiguresStayOnTheCanvas) {
  const std::string old_label =
      "lr_from=sw-8752c0a1f3e54b2a9d1e0c7b6a5f4e3d/t-000017+t-000018+t-000019, max_lr=0.0963417, "
      "schedule=one_cycle, schedule_index=0";
  std::vector<FigureCurve> schedules = {Curve(old_label, 0), Curve("constant lr 0.05", 1),
                                        Curve("triangular 0.001-0.1", 2),
                                        Curve("cosine restarts lr 0.1 T0 2", 3)};
  for (SweepFigure kind : {SweepFigure::kCurves, SweepFigure::kTime, SweepFigure::kSchedules}) {
    ExpectAllTextInside(RenderSweepFigure(kind, "demo-schedules", "val_accuracy", schedules));
  }
  // The LR range test: three curves, suggestions named in the legend and marked, one near the
  // right edge where its label cannot go right of the line.
  std::vector<LrRangeCurve> lr;
  for (int k = 0; k < 3; ++k) {
    LrRangeCurve c;
    c.label = "LR range test, batch 256, seed " + std::to_string(k);
    for (double v = 1e-7; v <= 10; v *= 1.5) {
      c.lr.push_back(v);
      c.smoothed_loss.push_back(2.3 - 0.1 * std::log10(v / 1e-7) + (v > 1 ? 5 * v : 0));
    }
    c.suggested_lr = k == 2 ? 9.5 : 0.01 * (k + 1);
    c.rule = "min";
    lr.push_back(c);
  }
  ExpectAllTextInside(RenderLrFinderFigure("demo-range-test", lr));
  ExpectAllTextInside(
      RenderSchedulePreview("one_cycle", 4690, Curve("1cycle max_lr 0.1", 0, 10, 1)));
}

TEST(PlotLayoutTest, LongTitlesAxisLabelsAndLabelsAreShortenedNotClipped) {
  const std::string long_name(200, 'W');  // the longest sweep name, in the widest glyph
  ExpectAllTextInside(
      RenderSweepFigure(SweepFigure::kTime, long_name, std::string(120, 'm'), {Curve("a", 0)}));
  PlotSeries s;
  s.label = std::string(300, 'M');
  s.x = {1e-9, 1e-3};
  s.y = {-123456.789, 987654.321};
  PlotOptions o;
  o.title = std::string(300, '@');
  o.x_label = std::string(300, 'w');
  o.y_label = std::string(300, 'w');
  o.log_x = true;
  o.width = 320;
  o.height = 240;
  ExpectAllTextInside(RenderSvg({s}, o, {{1e-3, std::string(100, 'M')}, {1e-9, "left edge"}}));
}

TEST(PlotLayoutTest, TextWidthIsConservativeAndFitTextShortens) {
  // At least 0.6 em for an average lower-case word, and wider for wide glyphs.
  EXPECT_GE(TextWidth("constant lr", 12), 0.5 * 12 * 11);
  EXPECT_GT(TextWidth("mmm", 10), TextWidth("iii", 10));
  EXPECT_DOUBLE_EQ(TextWidth("\xC2\xB1", 10), 10);  // one non-ASCII code point: one em
  EXPECT_EQ(FitText("short", 12, 1000), "short");
  const std::string cut = FitText("a rather long legend entry", 12, 60);
  EXPECT_LE(TextWidth(cut, 12), 60);
  EXPECT_THAT(cut, ::testing::EndsWith("\xE2\x80\xA6"));
  EXPECT_EQ(FitText("abc", 12, 1), "");
}

// Axis labels say what is plotted and, where it has one, its unit.
TEST(PlotLayoutTest, AxisLabelsInWordsWithUnits) {
  EXPECT_EQ(MetricAxisLabel("val_loss"), "validation loss");
  EXPECT_EQ(MetricAxisLabel("train_loss"), "training loss");
  EXPECT_EQ(MetricAxisLabel("val_accuracy"), "validation accuracy (fraction)");
  EXPECT_EQ(MetricAxisLabel("test_accuracy"), "test accuracy (fraction)");
  EXPECT_EQ(MetricAxisLabel("val_auc"), "validation AUC (fraction)");
  EXPECT_EQ(MetricAxisLabel("val_ams"), "validation AMS");
  EXPECT_EQ(MetricAxisLabel("elapsed_seconds"), "elapsed time (s)");
  EXPECT_EQ(MetricAxisLabel("samples_per_second"), "samples per second (1/s)");
  EXPECT_EQ(MetricAxisLabel("lr"), "learning rate");
  EXPECT_EQ(MetricAxisLabel("my_metric"), "my metric");
  const std::string time =
      RenderSweepFigure(SweepFigure::kTime, "s", "val_accuracy", {Curve("a", 0)});
  EXPECT_THAT(time, ::testing::HasSubstr(">wall-clock training time (s)</text>"));
  EXPECT_THAT(time, ::testing::HasSubstr(">validation accuracy (fraction)</text>"));
  std::vector<LrRangeCurve> lr(1);
  lr[0].label = "LR range test";
  lr[0].lr = {1e-5, 1e-3, 1e-1};
  lr[0].smoothed_loss = {2.3, 1.0, 3.0};
  const std::string finder = RenderLrFinderFigure("s", lr);
  EXPECT_THAT(finder, ::testing::HasSubstr(">learning rate (log scale)</text>"));
  EXPECT_THAT(finder, ::testing::HasSubstr(">training loss (smoothed)</text>"));
}

}  // namespace
// The dashboard's figures (also `hypersweep plot --kind objective-history|parallel`): long names
// and many axes are shortened, never clipped.
TEST(PlotLayoutTest, ObjectiveHistoryAndParallelCoordinatesStayOnTheCanvas) {
  const std::string long_name(150, 'n');
  ExpectAllTextInside(
      RenderObjectiveHistoryFigure(long_name, "val_loss", false, {0.9, 0.5, 0.7, 0.2}));
  std::vector<std::string> axes;
  for (int j = 0; j < 12; ++j) axes.push_back("a_rather_long_parameter_name_" + std::to_string(j));
  axes.push_back("val_accuracy");
  std::vector<std::vector<double>> rows;
  for (int i = 0; i < 5; ++i) {
    std::vector<double> row;
    for (size_t j = 0; j < axes.size(); ++j) row.push_back(123456.789 * (i + 1) * (j + 1));
    rows.push_back(row);
  }
  ExpectAllTextInside(RenderParallelCoordinatesFigure(long_name, axes, rows, true));
  ExpectAllTextInside(
      RenderParallelCoordinatesFigure("s", {"lr", "val_loss"}, {{1e-4, 0.5}, {1.0, 0.3}}, false));
}

}  // namespace hypersweep
