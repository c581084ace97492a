#include "client/plot.h"

#include <cmath>
#include <sstream>
#include <vector>

#include "client/plot_figures.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/xml_check.h"

namespace hypersweep {
namespace {

using ::testing::ElementsAre;
using testing_xml::Element;
using testing_xml::Parser;
using testing_xml::PathPoints;
using testing_xml::SeriesPaths;

std::unique_ptr<Element> ParseSvg(const std::string& svg) {
  Parser p(svg);
  auto root = p.Parse();
  EXPECT_NE(root, nullptr) << p.error() << "\n" << svg;
  return root;
}

std::vector<std::string> Texts(const Element& root, const std::string& group_class) {
  return testing_xml::GroupTexts(root, group_class);
}

TEST(XmlCheckTest, RejectsMalformedDocuments) {
  for (const char* bad : {"<a><b></a></b>", "<a x=1></a>", "<a>&bogus;</a>", "<a>", "<a/><b/>",
                          "<a x=\"1\" x=\"2\"/>", "<a>1 < 2</a>"}) {
    Parser p(bad);
    EXPECT_EQ(p.Parse(), nullptr) << bad;
  }
  Parser ok("<?xml version=\"1.0\"?>\n<a x='1'><b>t &amp; u</b><!-- c --><c/></a>");
  auto root = ok.Parse();
  ASSERT_NE(root, nullptr) << ok.error();
  EXPECT_EQ(root->children[0]->text, "t & u");
}

TEST(PlotTest, OnePathPerSeriesWithEveryPoint) {
  PlotSeries a{"batch_size=64", {0, 1, 2, 3}, {1.0, 0.8, 0.7, 0.65}, {}, {}};
  PlotSeries b{"batch_size=256", {0, 1, 2}, {1.1, 0.9, 0.85}, {}, {}};
  PlotOptions o;
  o.title = "val_loss <per> epoch & more";
  o.x_label = "epoch";
  o.y_label = "val_loss";
  const std::string svg = RenderSvg({a, b}, o);
  auto root = ParseSvg(svg);
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root->name, "svg");
  auto paths = SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(PathPoints(paths[0]->attrs.at("d")), 4);
  EXPECT_EQ(PathPoints(paths[1]->attrs.at("d")), 3);
  EXPECT_EQ(paths[0]->attrs.at("data-label"), "batch_size=64");
  EXPECT_THAT(Texts(*root, "legend"), ElementsAre("batch_size=64", "batch_size=256"));
  EXPECT_THAT(svg, ::testing::HasSubstr("val_loss &lt;per&gt; epoch &amp; more"));
  // Axis ticks cover 0..3 on x.
  EXPECT_THAT(Texts(*root, "xticks"), ::testing::Contains("0"));
  EXPECT_THAT(Texts(*root, "xticks"), ::testing::Contains("3"));
}

TEST(PlotTest, BandsAreSeparatePathsAndNonFinitePointsAreSkipped) {
  PlotSeries a{"mean", {0, 1, 2}, {1, NAN, 0.5}, {0.9, 0.8, 0.4}, {1.1, 1.0, 0.6}};
  auto root = ParseSvg(RenderSvg({a}, PlotOptions{}));
  ASSERT_NE(root, nullptr);
  auto paths = SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(PathPoints(paths[0]->attrs.at("d")), 2);
  std::vector<const Element*> bands;
  root->Collect(
      [](const Element& e) {
        return e.name == "path" && e.attrs.count("class") && e.attrs.at("class") == "band";
      },
      &bands);
  ASSERT_EQ(bands.size(), 1u);
  EXPECT_EQ(PathPoints(bands[0]->attrs.at("d")), 6);  // 3 upper + 3 lower
}

TEST(PlotTest, LogAxisDropsNonPositiveAndTicksAtPowersOfTen) {
  PlotSeries s{"range test", {0, 1e-5, 1e-3, 1e-1, 1}, {2, 2.3, 2.0, 1.2, 5}, {}, {}};
  PlotOptions o;
  o.log_x = true;
  o.x_label = "learning rate";
  auto root = ParseSvg(RenderSvg({s}, o, {{0.01, "suggested"}}));
  ASSERT_NE(root, nullptr);
  auto paths = SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(PathPoints(paths[0]->attrs.at("d")), 4);  // x = 0 is not on a log axis
  EXPECT_THAT(Texts(*root, "xticks"), ElementsAre("1e-05", "1e-04", "0.001", "0.01", "0.1", "1"));
  std::vector<const Element*> markers;
  root->Collect(
      [](const Element& e) { return e.attrs.count("class") && e.attrs.at("class") == "marker"; },
      &markers);
  EXPECT_EQ(markers.size(), 1u);
}

TEST(PlotTest, EmptyAndSinglePointSeriesStillWellFormed) {
  PlotSeries empty{"nothing", {}, {}, {}, {}};
  PlotSeries one{"one", {3}, {0.5}, {}, {}};
  auto root = ParseSvg(RenderSvg({empty, one}, PlotOptions{}));
  ASSERT_NE(root, nullptr);
  auto paths = SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0]->attrs.at("data-label"), "one");
}

TEST(PlotTest, Ticks) {
  EXPECT_THAT(LinearTicks(0, 1, 5), ElementsAre(0, 0.2, 0.4, 0.6, 0.8, 1));
  auto t = LinearTicks(0.13, 0.47, 4);
  ASSERT_FALSE(t.empty());
  EXPECT_GE(t.front(), 0.13);
  EXPECT_LE(t.back(), 0.47);
  EXPECT_THAT(LogTicks(1e-4, 1), ElementsAre(1e-4, 1e-3, 1e-2, 1e-1, 1));
  EXPECT_THAT(LogTicks(0.15, 0.9), ElementsAre(0.2, 0.5));
}

// The objective over completed trials: each trial's value and the best so far, which never gets
// worse (minimize: never rises).
TEST(PlotFiguresTest, ObjectiveHistoryHasEachValueAndTheBestSoFar) {
  const std::string svg =
      RenderObjectiveHistoryFigure("s", "val_loss", /*maximize=*/false, {0.5, 0.7, 0.3, 0.4});
  Parser parser(svg);
  auto root = parser.Parse();
  ASSERT_NE(root, nullptr) << parser.error();
  const auto paths = SeriesPaths(*root);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(PathPoints(paths[0]->attrs.at("d")), 4);
  EXPECT_EQ(PathPoints(paths[1]->attrs.at("d")), 4);
  EXPECT_EQ(paths[1]->attrs.at("data-label"), "best so far (minimize)");
  // The best so far never rises; in SVG coordinates (y grows downwards) its y never decreases.
  std::vector<double> ys;
  std::istringstream d(paths[1]->attrs.at("d"));
  std::string tok;
  while (d >> tok) {  // "M12,34 L56,78 ..."
    const auto comma = tok.find(',');
    if (comma != std::string::npos) ys.push_back(std::stod(tok.substr(comma + 1)));
  }
  ASSERT_EQ(ys.size(), 4u) << paths[1]->attrs.at("d");
  for (size_t i = 1; i < ys.size(); ++i) EXPECT_GE(ys[i], ys[i - 1]);
  EXPECT_GT(ys[2], ys[1]);  // 0.3 improved on 0.5
}

// Parallel coordinates: an axis per name, a line per row through every axis, names escaped, the
// best line drawn last (on top) and darkest.
TEST(PlotFiguresTest, ParallelCoordinatesHasAnAxisPerNameAndALinePerRow) {
  const std::string svg = RenderParallelCoordinatesFigure(
      "<s>", {"lr", "weight_decay", "val_loss"},
      {{0.1, 0, 0.9}, {0.01, 1e-4, 0.4}, {1.0, 1e-5, 0.6}}, /*maximize=*/false);
  Parser parser(svg);
  auto root = parser.Parse();
  ASSERT_NE(root, nullptr) << parser.error();
  std::vector<const Element*> axes, lines;
  root->Collect([](const Element& e) { return e.name == "g" && e.attrs.count("data-axis"); },
                &axes);
  root->Collect(
      [](const Element& e) { return e.name == "path" && e.attrs.count("data-objective"); }, &lines);
  ASSERT_EQ(axes.size(), 3u);
  EXPECT_EQ(axes[1]->attrs.at("data-axis"), "weight_decay");
  ASSERT_EQ(lines.size(), 3u);
  for (const Element* l : lines) EXPECT_EQ(PathPoints(l->attrs.at("d")), 3);
  EXPECT_EQ(lines.back()->attrs.at("data-objective"), "0.4");  // the best, on top
  EXPECT_EQ(lines.front()->attrs.at("data-objective"), "0.9");
  EXPECT_EQ(svg.find("<s>"), std::string::npos);
}

// The LR range test figure marks the suggested LR and, when given, the LR the trials ran with.
TEST(PlotFiguresTest, LrFinderMarksSuggestedAndUsedLr) {
  LrRangeCurve c;
  c.label = "batch 64";
  c.lr = {1e-4, 1e-3, 1e-2, 1e-1, 1};
  c.smoothed_loss = {2.3, 2.2, 1.5, 1.2, 9};
  c.suggested_lr = 0.01;
  c.rule = "valley";
  const std::string without = RenderLrFinderFigure("s", {c});
  EXPECT_NE(without.find("suggested 0.01 (rule valley)"), std::string::npos) << without;
  EXPECT_EQ(without.find("used LR"), std::string::npos);
  const std::string with = RenderLrFinderFigure("s", {c}, {0.02});
  EXPECT_NE(with.find("used LR 0.02"), std::string::npos) << with;
  Parser parser(with);
  EXPECT_NE(parser.Parse(), nullptr) << parser.error();
}

}  // namespace
}  // namespace hypersweep
