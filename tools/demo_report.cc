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
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
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
      rep.Finding(absl::StrFormat(
          "the smoothed training loss fell from %s at lr %.2g to its minimum %s at lr %.3g over %d "
          "steps, then rose; the largest LR at which it was still falling is about %.3g.",
          Fmt(Num(pts.front(), "smoothed_loss"), "%.3f"), Num(pts.front(), "lr"), Fmt(lo, "%.3f"),
          lo_lr, static_cast<int>(pts.size()), lo_lr));
    }
  }

  // 2. Schedules and 1cycle.
  double const_best_acc = std::nan("");
  int const_best_epoch = -1, const_epochs = 0;
  std::string const_label, const_batch;
  if (auto exp = Exp(dir, "schedules")) {
    rep.Section("2. Learning-rate schedules", "schedules.svg", "validation loss per epoch");
    rep.md() << "![the schedules' learning rate per epoch](schedules-lr.svg)\n\n";
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, const Run*> by_kind;
    auto runs = Runs(*exp);
    for (const auto& r : runs) {
      int at_loss = -1, at_acc = -1;
      const double bl = r.Best("val_loss", false, &at_loss),
                   ba = r.Best("val_accuracy", true, &at_acc);
      rows.push_back({r.label, Fmt(bl), std::to_string(at_loss), Fmt(ba), std::to_string(at_acc),
                      Fmt(r.Final("val_loss")), Fmt(r.Roughness())});
      const std::string kind = r.label.substr(0, r.label.find(' '));
      by_kind[kind] = &r;
      if (r.label.rfind("constant", 0) == 0 &&
          (!std::isfinite(const_best_acc) || ba > const_best_acc)) {
        const_best_acc = ba;
        const_best_epoch = at_acc;
        const_label = r.label;
        const_epochs = static_cast<int>(r.epochs.size());
        const_batch = r.spec.value("batch_size", json()).dump();
      }
    }
    rep.Table({"schedule", "best val_loss", "at epoch", "best val_accuracy", "at epoch",
               "final val_loss", "mean abs change of val_loss"},
              rows);
    const Run* best = nullptr;
    for (const auto& r : runs) {
      if (!best || r.Best("val_loss", false) < best->Best("val_loss", false)) best = &r;
    }
    if (best)
      rep.Finding(absl::StrCat("the lowest validation loss came from ", best->label, " (",
                               Fmt(best->Best("val_loss", false)), ")."));
    if (by_kind.count("cosine") && by_kind.count("triangular")) {
      const Run& c = *by_kind["cosine"];
      const Run& t = *by_kind["triangular"];
      rep.Finding(absl::StrFormat(
          "cosine annealing with restarts reached a %s validation loss (%s) than the linear "
          "triangular cycle (%s), with a %s validation curve (mean |change| %s vs %s per epoch).",
          c.Best("val_loss", false) < t.Best("val_loss", false) ? "lower" : "higher",
          Fmt(c.Best("val_loss", false)), Fmt(t.Best("val_loss", false)),
          c.Roughness() < t.Roughness() ? "smoother" : "rougher", Fmt(c.Roughness()),
          Fmt(t.Roughness())));
    }
  }
  if (auto exp = Exp(dir, "one-cycle")) {
    rep.Section("2b. 1cycle at the auto LR (super-convergence)", "one-cycle.svg",
                "validation accuracy per epoch");
    for (const auto& r : Runs(*exp)) {
      if (IsRangeTest(r)) continue;
      int at = -1;
      const double best = r.Best("val_accuracy", true, &at);
      int reached = -1;
      for (const auto& e : r.epochs) {
        if (reached < 0 && std::isfinite(const_best_acc) &&
            Num(e, "val_accuracy") >= const_best_acc) {
          reached = e["epoch"].get<int>() + 1;  // from 1, like the tables
        }
      }
      rep.Table({"run", "max_lr", "from", "epochs", "best val_accuracy", "at epoch"},
                {{r.label, r.Param("max_lr"), r.Param("lr_from"), std::to_string(r.epochs.size()),
                  Fmt(best), std::to_string(at)}});
      if (std::isfinite(const_best_acc)) {
        const bool quarter = reached >= 0 && reached * 4 <= const_epochs;
        rep.Finding(absl::StrFormat(
            "1cycle at the range test's LR (%s) reached %s validation accuracy in %d epoch(s); %s "
            "reached %s at epoch %d of %d (batch sizes %s and %s). 1cycle %s the constant-LR "
            "best%s (margin %+.4f).",
            r.Param("max_lr"), Fmt(best), static_cast<int>(r.epochs.size()), const_label,
            Fmt(const_best_acc), const_best_epoch, const_epochs,
            r.spec.value("batch_size", json()).dump(), const_batch,
            reached >= 0 ? absl::StrFormat("matched (epoch %d)", reached) : "did not match",
            reached >= 0 ? (quarter ? ", within a quarter of its epochs"
                                    : ", but not within a quarter of its epochs")
                         : "",
            best - const_best_acc));
      }
    }
  }

  // 3. Batch sizes at equal time.
  if (auto exp = Exp(dir, "batch-sizes")) {
    rep.Section("3. Batch size at equal wall-clock time", "batch-sizes.svg",
                "validation loss against training seconds");
    std::vector<std::pair<int, const Run*>> runs_by_bs;
    auto runs = Runs(*exp);
    for (const auto& r : runs) {
      if (!IsRangeTest(r)) runs_by_bs.emplace_back(r.spec.value("batch_size", 0), &r);
    }
    std::sort(runs_by_bs.begin(), runs_by_bs.end());
    std::vector<std::vector<std::string>> rows;
    for (const auto& [bs, r] : runs_by_bs) {
      rows.push_back({std::to_string(bs), r->Param("max_lr"), std::to_string(r->epochs.size()),
                      Fmt(r->Final("elapsed_seconds"), "%.1f"), Fmt(r->Final("val_loss")),
                      Fmt(r->Best("val_accuracy", true))});
    }
    rep.Table({"batch size", "lr (auto)", "epochs in budget", "seconds", "final val_loss",
               "best val_accuracy"},
              rows);
    if (!runs_by_bs.empty()) {
      const auto best =
          *std::min_element(runs_by_bs.begin(), runs_by_bs.end(), [](const auto& a, const auto& b) {
            return a.second->Final("val_loss") < b.second->Final("val_loss");
          });
      double lo = 1e300, hi = -1e300;
      for (const auto& [bs, r] : runs_by_bs) {
        if (bs < 256) continue;
        lo = std::min(lo, r->Final("val_loss"));
        hi = std::max(hi, r->Final("val_loss"));
      }
      rep.Finding(absl::StrFormat(
          "in the same time budget, batch size %d reached the lowest validation loss (%s); the "
          "smallest batch (%d) completed %d epochs against %d for the largest (%d); batches >= 256 "
          "ended within %s of each other.",
          best.first, Fmt(best.second->Final("val_loss")), runs_by_bs.front().first,
          static_cast<int>(runs_by_bs.front().second->epochs.size()),
          static_cast<int>(runs_by_bs.back().second->epochs.size()), runs_by_bs.back().first,
          hi >= lo ? Fmt(hi - lo) : std::string("-")));
    }
  }

  // 4. Momentum.
  {
    std::vector<std::vector<std::string>> rows;
    const Run* best_const = nullptr;
    const Run* best_cycled = nullptr;
    std::vector<Run> all;
    for (const char* name : {"momentum-constant", "momentum-cycled"}) {
      auto exp = Exp(dir, name);
      if (!exp) continue;
      for (auto& r : Runs(*exp)) {
        if (std::string(name) == "momentum-constant")
          r.label += absl::StrFormat(", momentum %g", r.spec.value("momentum", 0.0));
        all.push_back(std::move(r));
      }
    }
    if (!all.empty()) {
      rep.Section("4. Cyclical momentum", "momentum-constant.svg",
                  "constant momentum: validation loss per epoch");
      rep.md() << "![cycled momentum: validation loss per epoch](momentum-cycled.svg)\n\n";
      for (const auto& r : all) {
        const bool cycled = r.label.find("momentum 0.") != std::string::npos &&
                            r.label.find(", momentum") != std::string::npos &&
                            r.label.find("-") != std::string::npos &&
                            r.label.rfind("momentum ") < r.label.rfind("-");
        int at = -1;
        const double b = r.Best("val_loss", false, &at);
        rows.push_back({r.label, cycled ? "cycled" : "constant", Fmt(b), std::to_string(at),
                        Fmt(r.Final("val_loss")), Fmt(r.Final("val_loss") - b)});
        const Run*& slot = cycled ? best_cycled : best_const;
        if (!slot || b < slot->Best("val_loss", false)) slot = &r;
      }
      rep.Table({"run", "momentum", "best val_loss", "at epoch", "final val_loss",
                 "final - best (overfitting)"},
                rows);
      if (best_const && best_cycled) {
        int at_c = -1, at_y = -1;
        const double c = best_const->Best("val_loss", false, &at_c),
                     y = best_cycled->Best("val_loss", false, &at_y);
        rep.Finding(
            absl::StrFormat("the best constant-momentum run (%s) reached %s at epoch %d; the best "
                            "cycled-momentum run "
                            "(%s) reached %s at epoch %d: cycling momentum was %s here.",
                            best_const->label, Fmt(c), at_c, best_cycled->label, Fmt(y), at_y,
                            y < c ? "better" : "not better"));
      }
    }
  }

  // 5. Weight decay.
  if (auto exp = Exp(dir, "weight-decay")) {
    rep.Section("5. Weight decay", "weight-decay.svg", "validation loss per epoch");
    std::vector<std::pair<double, const Run*>> by_wd;
    auto runs = Runs(*exp);
    for (const auto& r : runs) by_wd.emplace_back(r.spec.value("weight_decay", 0.0), &r);
    std::sort(by_wd.begin(), by_wd.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::vector<std::string>> rows;
    for (const auto& [wd, r] : by_wd) {
      rows.push_back({absl::StrFormat("%g", wd), Fmt(r->Best("val_loss", false)),
                      Fmt(r->Final("val_loss")), Fmt(r->Best("val_accuracy", true))});
    }
    rep.Table({"weight decay", "best val_loss", "final val_loss", "best val_accuracy"}, rows);
    if (!by_wd.empty()) {
      const auto best =
          *std::min_element(by_wd.begin(), by_wd.end(), [](const auto& a, const auto& b) {
            return a.second->Best("val_loss", false) < b.second->Best("val_loss", false);
          });
      bool lower_better = true;
      for (size_t i = 1; i < by_wd.size(); ++i) {
        lower_better &= by_wd[i - 1].second->Best("val_loss", false) <=
                        by_wd[i].second->Best("val_loss", false);
      }
      rep.Finding(absl::StrFormat(
          "weight decay %g gave the lowest validation loss (%s); lower weight decay was %s better.",
          best.first, Fmt(best.second->Best("val_loss", false)),
          lower_better ? "consistently" : "not consistently"));
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
