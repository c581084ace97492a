// hypersweep-demo-report: writes demo-report/index.md from the JSON exports of the demo's sweeps
// (`hypersweep export SWEEP --format json`) and the range test's curve (`hypersweep lr-curve
// TRIAL --format json`). Every finding is computed from those numbers; nothing is canned.
//
// Usage: hypersweep-demo-report DIR   (reads DIR/<sweep name>.json and DIR/lr-curve.json,
//                                      writes DIR/index.md, links the DIR/*.svg plots)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "tools/demo_runs.h"

namespace hypersweep::demo {
namespace {

class Report {
 public:
  explicit Report(std::string dir) : dir_(std::move(dir)) {}

  void Section(const std::string& title, const std::string& svg, const std::string& caption) {
    md_ << "\n## " << title << "\n\n";
    if (!svg.empty()) md_ << "![" << caption << "](" << svg << ")\n\n";
  }
  void Finding(const std::string& text) {
    md_ << "**Finding.** " << text << "\n\n";
    summary_.push_back(text);
  }
  void Table(const std::vector<std::string>& cols,
             const std::vector<std::vector<std::string>>& rows) {
    md_ << "| " << absl::StrJoin(cols, " | ") << " |\n|";
    for (size_t i = 0; i < cols.size(); ++i) md_ << (i ? "---:|" : "---|");
    md_ << "\n";
    for (const auto& r : rows) md_ << "| " << absl::StrJoin(r, " | ") << " |\n";
    md_ << "\n";
  }
  std::ostringstream& md() { return md_; }
  const std::vector<std::string>& summary() const { return summary_; }

 private:
  std::string dir_;
  std::ostringstream md_;
  std::vector<std::string> summary_;
};

// Where an auto LR came from, without the range tests' ids: lr_from is "ID, ID, ... (HOW)".
std::string LrSource(const Run& r) {
  const std::string from = r.Param("lr_from");
  if (from.empty()) return "";
  const size_t open = from.find(" (");
  const std::string ids = from.substr(0, open);
  const int tests = 1 + static_cast<int>(std::count(ids.begin(), ids.end(), ','));
  std::string how;
  if (open != std::string::npos && from.back() == ')') {
    how = absl::StrCat(" (", from.substr(open + 2, from.size() - open - 3), ")");
  }
  const std::string lr = r.Param("max_lr");
  return absl::StrCat("1cycle's max_lr", lr.empty() ? "" : absl::StrCat(", ", lr, ","),
                      " came from ", tests, " range test", tests == 1 ? "" : "s", how, ". ");
}

std::optional<json> Exp(const std::string& dir, const std::string& name) {
  auto j = Load(dir + "/" + name + ".json");
  if (!j)
    std::cerr << "hypersweep-demo-report: missing or unreadable " << dir << "/" << name
              << ".json\n";
  return j;
}

}  // namespace

int Main(int argc, char** argv) {
  if (argc != 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::cerr << "usage: hypersweep-demo-report DIR\n"
                 "Reads DIR/<sweep>.json exports and DIR/lr-curve.json; writes DIR/index.md.\n";
    return argc == 2 ? 0 : 2;
  }
  const std::string dir = argv[1];
  Report rep(dir);
  rep.md() << "# hypersweep demo: Smith's disciplined approach on Fashion-MNIST\n\n"
           << "Model: 4x128 ReLU MLP (He init), SGD, cross-entropy; validation on a stratified 20% "
              "holdout of the 60k training images (selection never sees the 10k test images). "
              "Every number below was measured in this run; the findings are computed from "
              "them.\n";

  // 1. LR range test.
  if (auto curve = Load(dir + "/lr-curve.json")) {
    rep.Section("1. LR range test", "lr-range-test.svg", "training loss against LR");
    const auto& pts = (*curve)["points"];
    double lo = 1e300, lo_lr = 0;
    for (const auto& p : pts) {
      const double s = Num(p, "smoothed_loss");
      if (std::isfinite(s) && s < lo) {
        lo = s;
        lo_lr = Num(p, "lr");
      }
    }
    if (!pts.empty()) {
      // The rule's LR (the coordinator's, on the lag-free curve) is what sweeps use; the EMA's
      // lowest point lags behind it and is given for the plot's reader.
      const std::string rule = curve->value("rule", std::string());
      const double lr = Num(*curve, "suggested_lr");
      rep.Finding(absl::StrFormat(
          "over %d steps the training loss fell from %s (EMA) at lr %.2g; the EMA's lowest point, "
          "%s, came at lr %.3g. The sweep's rule, %s, reads %s off the curve%s.",
          static_cast<int>(pts.size()), Fmt(Num(pts.front(), "smoothed_loss"), "%.3f"),
          Num(pts.front(), "lr"), Fmt(lo, "%.3f"), lo_lr, rule.empty() ? "?" : rule,
          std::isfinite(lr) ? absl::StrFormat("lr %.3g", lr) : std::string("no LR"),
          rule == "min" ? " (the middle, in log lr, of the curve's bottom: the points within 10% "
                          "of the loss's fall above its lowest point)"
                        : ""));
    }
  }

  // What a run is judged by: the validation-selected value (best over epochs), the final
  // model's test accuracy (reported, never used to choose), and the last epoch's value.
  const auto best_loss = [](const Run& r) { return r.Best("val_loss", false); };
  const auto best_acc = [](const Run& r) { return r.Best("val_accuracy", true); };
  const auto test_acc = [](const Run& r) { return r.Final("test_accuracy"); };
  const auto final_loss = [](const Run& r) { return r.Final("val_loss"); };
  const auto final_acc = [](const Run& r) { return r.Final("val_accuracy"); };
  const auto roughness = [](const Run& r) { return r.Roughness(); };
  const auto epochs = [](const Run& r) { return static_cast<double>(r.epochs.size()); };
  // The point with the lowest mean of f, and the runner-up; nullptr when missing.
  const auto two_lowest = [](const std::vector<Point>& pts,
                             const std::function<double(const Run&)>& f) {
    std::vector<std::pair<double, const Point*>> by;
    for (const auto& p : pts) {
      std::vector<double> v;
      for (const auto& [seed, x] : p.Values(f)) v.push_back(x);
      by.emplace_back(Mean(v), &p);
    }
    std::sort(by.begin(), by.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
    return std::make_pair(by.size() > 0 ? by[0].second : nullptr,
                          by.size() > 1 ? by[1].second : nullptr);
  };

  // 2. Schedules.
  if (auto exp = Exp(dir, "schedules")) {
    rep.Section("2. Learning-rate schedules", "schedules.svg", "validation loss per epoch");
    rep.md() << "![the schedules' learning rate per epoch](schedules-lr.svg)\n\n";
    const std::vector<Run> runs = Runs(*exp);
    const std::vector<Point> pts = Points(runs);
    std::vector<std::vector<std::string>> rows;
    const Point *cosine = nullptr, *triangular = nullptr;
    for (const auto& p : pts) {
      rows.push_back({p.label, MeanSe(p.Values(best_loss)), MeanSe(p.Values(best_acc)),
                      MeanSe(p.Values(test_acc)), MeanSe(p.Values(roughness))});
      if (p.label.rfind("cosine", 0) == 0) cosine = &p;
      if (p.label.rfind("triangular", 0) == 0) triangular = &p;
    }
    rep.Table({"schedule", "best val_loss", "best val_accuracy", "test_accuracy (final model)",
               "mean abs change of val_loss"},
              rows);
    const auto [first, second] = two_lowest(pts, best_loss);
    if (first && second) {
      rep.Finding(Comparison(first->label, second->label, "best validation loss (lowest two)",
                             PairedDifference(first->Values(best_loss), second->Values(best_loss)),
                             true));
    }
    // Cosine restarts against the triangular cycle (unless the lowest two were those two).
    const bool said =
        first && second &&
        ((first == cosine && second == triangular) || (first == triangular && second == cosine));
    if (cosine && triangular && !said) {
      rep.Finding(Comparison(
          cosine->label, triangular->label, "best validation loss",
          PairedDifference(cosine->Values(best_loss), triangular->Values(best_loss)), true));
    }
    if (cosine && triangular) {
      rep.Finding(Comparison(
          cosine->label, triangular->label,
          "mean |change| of validation loss per epoch (smoothness)",
          PairedDifference(cosine->Values(roughness), triangular->Values(roughness)), true));
    }
  }

  // 2b. 1cycle against a constant LR at the same batch size and weight decay.
  if (auto exp = Exp(dir, "one-cycle")) {
    rep.Section("2b. 1cycle at the auto LR (super-convergence)", "one-cycle.svg",
                "validation accuracy per epoch");
    const std::vector<Run> runs = Runs(*exp);
    const std::vector<Point> pts = Points(runs);
    std::optional<json> base_exp = Exp(dir, "one-cycle-baseline");
    const std::vector<Run> base_runs = base_exp ? Runs(*base_exp) : std::vector<Run>{};
    const std::vector<Point> base = Points(base_runs);
    std::vector<std::vector<std::string>> rows;
    for (const auto* set : {&pts, &base}) {
      for (const auto& p : *set) {
        const Run& r = p.first();
        rows.push_back({p.label, r.Param("max_lr").empty() ? "-" : r.Param("max_lr"),
                        absl::StrFormat("%d", static_cast<int>(r.epochs.size())),
                        MeanSe(p.Values(final_acc)), MeanSe(p.Values(best_acc)),
                        MeanSe(p.Values(test_acc))});
      }
    }
    rep.Table({"run", "max_lr", "epochs", "final val_accuracy", "best val_accuracy",
               "test_accuracy (final model)"},
              rows);
    if (!pts.empty() && !base.empty()) {
      const Point& oc = pts.front();
      const Point& c = base.front();
      rep.Finding(absl::StrCat(
          LrSource(oc.first()),
          Comparison(absl::StrFormat("1cycle (%d epoch(s), final)",
                                     static_cast<int>(oc.first().epochs.size())),
                     absl::StrFormat("%s (%d epoch(s), best)", c.label,
                                     static_cast<int>(c.first().epochs.size())),
                     "validation accuracy",
                     PairedDifference(oc.Values(final_acc), c.Values(best_acc)), false),
          "; both at batch size ", oc.first().spec.value("batch_size", json()).dump(),
          " and weight decay ", oc.first().spec.value("weight_decay", json()).dump(), "."));
    }
  }

  // 3. Batch sizes at equal time.
  if (auto exp = Exp(dir, "batch-sizes")) {
    rep.Section("3. Batch size at equal wall-clock time", "batch-sizes.svg",
                "validation loss against training seconds");
    const std::vector<Run> runs = Runs(*exp);
    std::vector<Point> pts = Points(runs);
    std::sort(pts.begin(), pts.end(), [](const Point& x, const Point& y) {
      return x.first().spec.value("batch_size", 0) < y.first().spec.value("batch_size", 0);
    });
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : pts) {
      rows.push_back({std::to_string(p.first().spec.value("batch_size", 0)),
                      p.first().Param("max_lr"), MeanSe(p.Values(epochs), "%.1f"),
                      MeanSe(p.Values(final_loss)), MeanSe(p.Values(test_acc))});
    }
    rep.Table({"batch size", "lr (auto)", "epochs in budget", "final val_loss",
               "test_accuracy (final model)"},
              rows);
    const auto [first, second] = two_lowest(pts, final_loss);
    if (first && second) {
      rep.Finding(absl::StrCat(
          "in the same time budget, ",
          Comparison(absl::StrCat("batch ", first->first().spec.value("batch_size", 0)),
                     absl::StrCat("batch ", second->first().spec.value("batch_size", 0)),
                     "final validation loss (lowest two)",
                     PairedDifference(first->Values(final_loss), second->Values(final_loss)), true),
          "."));
    }
  }

  // 4. Momentum: cycled against constant, under the same LR schedule.
  {
    std::vector<Run> all;
    for (const char* name : {"momentum-constant", "momentum-cycled"}) {
      auto exp = Exp(dir, name);
      if (!exp) continue;
      for (auto& r : Runs(*exp)) {
        // Name the momentum where the schedule does not cycle it.
        if (r.label.find(", momentum") == std::string::npos) {
          r.label += absl::StrFormat(", momentum %g", r.spec.value("momentum", 0.9));
        }
        all.push_back(std::move(r));
      }
    }
    if (!all.empty()) {
      rep.Section("4. Cyclical momentum", "momentum-constant.svg",
                  "constant momentum: validation loss per epoch");
      rep.md() << "![cycled momentum: validation loss per epoch](momentum-cycled.svg)\n\n";
      const std::vector<Point> pts = Points(all);
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : pts) {
        rows.push_back({p.label, MeanSe(p.Values(best_loss)), MeanSe(p.Values(final_loss)),
                        MeanSe(p.Values(test_acc))});
      }
      rep.Table({"run", "best val_loss", "final val_loss", "test_accuracy (final model)"}, rows);
      // The pairs that differ only in momentum: constant 0.9 against cycled 0.95-0.85, once
      // under a constant LR of 0.01 and once under the triangular 0.001-0.05 cycle.
      const auto find = [&](const std::string& label) -> const Point* {
        for (const auto& p : pts) {
          if (p.label == label) return &p;
        }
        return nullptr;
      };
      for (const auto& [lr, a, b] : {std::tuple<const char*, const char*, const char*>{
                                         "a constant LR of 0.01",
                                         "constant lr 0.01, momentum 0.95\xE2\x86\x92"
                                         "0.85",
                                         "constant lr 0.01, momentum 0.9"},
                                     {"the triangular LR cycle 0.001-0.05",
                                      "triangular 0.001-0.05, momentum 0.95\xE2\x86\x92"
                                      "0.85",
                                      "triangular 0.001-0.05, momentum 0.9"}}) {
        const Point *cycled = find(a), *constant = find(b);
        if (!cycled || !constant) continue;
        rep.Finding(absl::StrCat(
            "under ", lr, ", ",
            Comparison("momentum cycled 0.95-0.85", "constant momentum 0.9", "best validation loss",
                       PairedDifference(cycled->Values(best_loss), constant->Values(best_loss)),
                       true),
            "."));
      }
    }
  }

  // 5. Weight decay.
  if (auto exp = Exp(dir, "weight-decay")) {
    rep.Section("5. Weight decay", "weight-decay.svg", "validation loss per epoch");
    const std::vector<Run> runs = Runs(*exp);
    std::vector<Point> pts = Points(runs);
    std::sort(pts.begin(), pts.end(), [](const Point& x, const Point& y) {
      return x.first().spec.value("weight_decay", 0.0) < y.first().spec.value("weight_decay", 0.0);
    });
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : pts) {
      rows.push_back({absl::StrFormat("%g", p.first().spec.value("weight_decay", 0.0)),
                      MeanSe(p.Values(best_loss)), MeanSe(p.Values(best_acc)),
                      MeanSe(p.Values(test_acc))});
    }
    rep.Table({"weight decay", "best val_loss", "best val_accuracy", "test_accuracy (final model)"},
              rows);
    const auto [first, second] = two_lowest(pts, best_loss);
    if (first && second) {
      const auto wd = [](const Point* p) {
        return absl::StrFormat("weight decay %g", p->first().spec.value("weight_decay", 0.0));
      };
      rep.Finding(Comparison(wd(first), wd(second), "best validation loss (lowest two)",
                             PairedDifference(first->Values(best_loss), second->Values(best_loss)),
                             true));
    }
  }

  const std::string path = dir + "/index.md";
  std::ofstream out(path);
  if (!out) {
    std::cerr << "hypersweep-demo-report: cannot write " << path << "\n";
    return 1;
  }
  out << rep.md().str();
  std::cout << "Summary:\n";
  for (const auto& s : rep.summary()) std::cout << "- " << s << "\n";
  std::cout << "Report: " << path << "\n";
  return rep.summary().empty() ? 1 : 0;
}

}  // namespace hypersweep::demo

int main(int argc, char** argv) { return hypersweep::demo::Main(argc, argv); }
