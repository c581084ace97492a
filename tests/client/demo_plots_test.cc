// The demo's plots as `hypersweep plot` writes them (scripts/demo.sh): the demo's own sweeps
// (examples/sweeps/smith-demo.yaml) expanded by core, with the auto-LR bookkeeping the coordinator
// adds (range tests with role=lr_range_test; held trials with max_lr and lr_from naming the range
// tests' ids), served by a fake SweepService to RunPlot. Every figure's text must lie on the
// canvas, and no text may name a sweep or trial id or an internal parameter.
#include <cmath>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "client/plot_command.h"
#include "client/sweep_client.h"
#include "core/sweep_spec.h"
#include "core/trial_spec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "hypersweep/v1/service_mock.grpc.pb.h"
#include "tests/client/svg_extent.h"
#include "tests/client/xml_check.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Not;
using testing_xml::Element;

constexpr int kRangeTestsPerGroup = 3;  // the demo's auto.range_tests (the default)

// What the coordinator holds for the demo: sweeps by id, their trials, metrics and LR curves.
struct Demo {
  std::vector<v1::Sweep> sweeps;                         // in the file's order
  std::map<std::string, std::vector<v1::Trial>> trials;  // by sweep id
  std::map<std::string, v1::TrialMetrics> metrics;       // by trial id
  std::map<std::string, v1::GetLrCurveResponse> curves;  // by trial id
};

v1::Trial MakeTrial(const std::string& sweep_id, int index, const TrialSpec& spec,
                    const std::vector<std::pair<std::string, std::string>>& params) {
  v1::Trial t;
  t.set_id(absl::StrCat(sweep_id, "-", index));
  t.set_sweep_id(sweep_id);
  t.set_index(index);
  t.set_status(v1::SUCCEEDED);
  t.set_batch_size(spec.batch_size);
  t.set_schedule(ScheduleName(spec.schedule));
  t.set_seed(spec.seed);
  t.set_fold(-1);
  for (const auto& [k, v] : params) (*t.mutable_params())[k] = v;
  t.set_spec_json(ToJson(spec).dump());
  return t;
}

// The demo's sweeps, expanded; auto LRs resolved the way the coordinator does it.
Demo MakeDemo() {
  Demo demo;
  const std::string text = test_support::ReadFile(std::string(HYPERSWEEP_SOURCE_DIR) +
                                                  "/examples/sweeps/smith-demo.yaml");
  int n = 0;
  for (absl::string_view doc : absl::StrSplit(text, "\n---\n")) {
    auto spec = ParseSweepSpec(std::string(doc));
    EXPECT_TRUE(spec.ok()) << spec.status();
    if (!spec.ok()) continue;
    auto expanded = ExpandSweep(*spec);
    EXPECT_TRUE(expanded.ok()) << expanded.status();
    if (!expanded.ok()) continue;
    v1::Sweep sweep;
    sweep.set_id(absl::StrFormat("sw-%08x", 0x8752c0a1 + n++));
    sweep.set_name(spec->name);
    sweep.mutable_objective()->set_metric(spec->objective.metric);
    std::vector<v1::Trial>& trials = demo.trials[sweep.id()];
    // Range tests first, one group per batch size (the groups of the demo's auto sweeps).
    std::map<int64_t, std::vector<std::string>> range_ids;
    for (const auto& e : *expanded) {
      if (e.spec.schedule.auto_fields.empty() || range_ids.count(e.spec.batch_size)) continue;
      for (int k = 0; k < kRangeTestsPerGroup; ++k) {
        TrialSpec r = e.spec;
        r.schedule = ScheduleSpec{LrRangeTestSchedule{}, {}};
        r.epochs = 1;
        r.budget_seconds = 0;
        r.seed = e.spec.seed + k;
        trials.push_back(MakeTrial(sweep.id(), static_cast<int>(trials.size()), r,
                                   {{"role", "lr_range_test"},
                                    {"batch_size", std::to_string(r.batch_size)},
                                    {"momentum", absl::StrFormat("%g", r.momentum)},
                                    {"weight_decay", absl::StrFormat("%g", r.weight_decay)},
                                    {"seed", std::to_string(r.seed)}}));
        trials.back().set_role(v1::LR_RANGE_TEST);
        range_ids[r.batch_size].push_back(trials.back().id());
      }
    }
    for (const auto& e : *expanded) {
      TrialSpec s = e.spec;
      auto params = e.params;
      if (!s.schedule.auto_fields.empty()) {
        // The range tests' LR grows with the batch size, as in the demo's runs.
        const double lr = 0.000637292 * std::sqrt(s.batch_size / 32.0);
        ResolveAutoLr(s.schedule, lr, spec->auto_lr.div);
        params.emplace_back("max_lr", absl::StrFormat("%.6g", lr));
        params.emplace_back("lr_from", absl::StrCat(absl::StrJoin(range_ids[s.batch_size], ", "),
                                                    " (min_div_10, geometric mean of 3)"));
      }
      trials.push_back(MakeTrial(sweep.id(), static_cast<int>(trials.size()), s, params));
    }
    for (const auto& t : trials) {
      v1::TrialMetrics& m = demo.metrics[t.id()];
      m.set_trial_id(t.id());
      for (int e = 0; e < 4; ++e) {
        auto* em = m.add_epochs();
        em->set_epoch(e);
        (*em->mutable_metrics())["val_loss"] = 0.6 / (e + 1) + 0.01 * t.seed() + 0.001 * t.index();
        (*em->mutable_metrics())["val_accuracy"] = 0.8 + 0.02 * e - 0.001 * t.index();
        (*em->mutable_metrics())["elapsed_seconds"] = 3.5 * (e + 1) * 256.0 / t.batch_size();
        (*em->mutable_metrics())["steps"] = 188.0 * (e + 1);
      }
      if (t.schedule() == "lr_range_test") {
        v1::GetLrCurveResponse& c = demo.curves[t.id()];
        for (int i = 0; i < 80; ++i) {
          auto* p = c.add_points();
          p->set_step(i);
          p->set_lr(1e-7 * std::pow(10.0, i / 10.0));
          p->set_smoothed_loss(2.3 - 0.02 * i + (i > 70 ? 0.5 * (i - 70) : 0));
          p->set_diverged(i > 76);
        }
        c.set_suggested_lr(0.006 + 0.001 * t.seed());
        c.set_rule("min");
      }
    }
    demo.sweeps.push_back(sweep);
  }
  return demo;
}

// A SweepService that answers from `demo`.
std::unique_ptr<v1::MockSweepServiceStub> FakeService(const Demo& demo) {
  auto stub = std::make_unique<NiceMock<v1::MockSweepServiceStub>>();
  ON_CALL(*stub, GetSweep(_, _, _))
      .WillByDefault(Invoke([&demo](grpc::ClientContext*, const v1::GetSweepRequest& req,
                                    v1::GetSweepResponse* resp) {
        for (const auto& s : demo.sweeps) {
          if (s.id() == req.sweep_id()) *resp->mutable_sweep() = s;
        }
        return grpc::Status::OK;
      }));
  ON_CALL(*stub, ListTrials(_, _, _))
      .WillByDefault(Invoke([&demo](grpc::ClientContext*, const v1::ListTrialsRequest& req,
                                    v1::ListTrialsResponse* resp) {
        for (const auto& t : demo.trials.at(req.sweep_id())) *resp->add_trials() = t;
        resp->set_total(resp->trials_size());
        return grpc::Status::OK;
      }));
  ON_CALL(*stub, GetTrialMetrics(_, _, _))
      .WillByDefault(Invoke([&demo](grpc::ClientContext*, const v1::GetTrialMetricsRequest& req,
                                    v1::GetTrialMetricsResponse* resp) {
        for (const auto& id : req.trial_ids()) *resp->add_trials() = demo.metrics.at(id);
        return grpc::Status::OK;
      }));
  ON_CALL(*stub, GetLrCurve(_, _, _))
      .WillByDefault(Invoke([&demo](grpc::ClientContext*, const v1::GetLrCurveRequest& req,
                                    v1::GetLrCurveResponse* resp) {
        *resp = demo.curves.at(req.trial_id());
        return grpc::Status::OK;
      }));
  return stub;
}

class DemoPlotsTest : public ::testing::Test {
 protected:
  DemoPlotsTest() : demo_(MakeDemo()), client_(FakeService(demo_), CallSettings{}) {}

  const v1::Sweep& Sweep(const std::string& name) const {
    for (const auto& s : demo_.sweeps) {
      if (s.name() == name) return s;
    }
    ADD_FAILURE() << "no demo sweep " << name;
    return demo_.sweeps.front();
  }

  // `hypersweep plot SWEEP --kind KIND --metric METRIC --out DIR/NAME.svg`, as demo.sh runs it.
  std::unique_ptr<Element> Plot(const std::string& sweep, const std::string& kind,
                                const std::string& metric) {
    PlotOptionsCli o;
    o.sweep_id = Sweep(sweep).id();
    o.kind = kind;
    o.metric = metric;
    o.out_path = dir_.File(sweep + "-" + kind + ".svg");
    std::ostringstream out, err;
    Io io{&out, &err};
    const absl::Status st = RunPlot(client_, o, io);
    EXPECT_TRUE(st.ok()) << st << err.str();
    svg_ = test_support::ReadFile(o.out_path);
    testing_xml::Parser p(svg_);
    auto root = p.Parse();
    EXPECT_NE(root, nullptr) << p.error() << "\n" << svg_;
    return root;
  }

  // Every text on the canvas, and none naming an id or an internal parameter.
  void ExpectReadable(const Element& root) {
    EXPECT_EQ(testing_xml::TextsOutsideCanvas(root), "") << svg_;
    std::vector<const Element*> texts;
    root.Collect([](const Element& e) { return e.name == "text"; }, &texts);
    EXPECT_FALSE(texts.empty());
    for (const Element* t : texts) {
      for (const char* bad : {"sw-", "lr_from", "schedule_index", "role", "lr_range_test", "="}) {
        EXPECT_THAT(t->text, Not(HasSubstr(bad))) << svg_;
      }
    }
    for (const Element* p : testing_xml::SeriesPaths(root)) {
      EXPECT_THAT(p->attrs.at("data-label"), Not(HasSubstr("sw-")));
    }
  }

  static std::vector<std::string> Legend(const Element& root) {
    return testing_xml::GroupTexts(root, "legend");
  }

  Demo demo_;
  SweepClient client_;
  test_support::TempDir dir_;
  std::string svg_;
};

const std::string kArrow = "\xE2\x86\x92";
const std::string kMean = " (mean of 3 \xC2\xB1 SE)";

TEST_F(DemoPlotsTest, EveryPlotOfTheDemoIsReadable) {
  const std::vector<std::tuple<const char*, const char*, const char*>> plots = {
      {"lr-range-test", "lr-finder", "val_loss"},
      {"schedules", "curves", "val_loss"},
      {"schedules", "schedule", "lr"},
      {"one-cycle", "curves", "val_accuracy"},
      {"one-cycle", "lr-finder", "val_loss"},
      {"batch-sizes", "time", "val_loss"},
      {"batch-sizes", "lr-finder", "val_loss"},
      {"momentum-constant", "curves", "val_loss"},
      {"momentum-cycled", "curves", "val_loss"},
      {"weight-decay", "curves", "val_loss"},
      {"one-cycle-baseline", "curves", "val_loss"}};
  for (const auto& [sweep, kind, metric] : plots) {
    SCOPED_TRACE(absl::StrCat(sweep, " ", kind));
    auto root = Plot(sweep, kind, metric);
    ASSERT_NE(root, nullptr);
    ExpectReadable(*root);
  }
}

TEST_F(DemoPlotsTest, LegendsNameWhatDiffersInWords) {
  auto root = Plot("schedules", "curves", "val_loss");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(Legend(*root),
              ElementsAre("constant lr 0.05" + kMean, "constant lr 0.01" + kMean,
                          "triangular 0.005-0.1" + kMean, "cosine restarts lr 0.1 T0 4" + kMean));
  root = Plot("batch-sizes", "time", "val_loss");
  ASSERT_NE(root, nullptr);
  const auto batch = Legend(*root);
  ASSERT_EQ(batch.size(), 6u);
  EXPECT_EQ(batch[0], "constant lr 6.37e-4, batch 32" + kMean);
  EXPECT_EQ(batch[3], "constant lr 0.0018, batch 256" + kMean);
  root = Plot("batch-sizes", "lr-finder", "val_loss");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(Legend(*root)[0], HasSubstr("batch 32, seed 0 (min 0.006)"));
  root = Plot("momentum-cycled", "curves", "val_loss");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(Legend(*root),
              ElementsAre("triangular 0.001-0.05, momentum 0.95" + kArrow + "0.85" + kMean,
                          "triangular 0.001-0.05, momentum 0.99" + kArrow + "0.9" + kMean,
                          "triangular 0.001-0.05, momentum 0.99" + kArrow + "0.95" + kMean,
                          "constant lr 0.01, momentum 0.95" + kArrow + "0.85" + kMean,
                          "triangular 0.001-0.05, momentum 0.9" + kMean));
  root = Plot("weight-decay", "curves", "val_loss");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(Legend(*root), ElementsAre("wd 0" + kMean, "wd 1e-5" + kMean, "wd 1e-4" + kMean,
                                         "wd 0.001" + kMean));
  root = Plot("one-cycle", "curves", "val_accuracy");
  ASSERT_NE(root, nullptr);
  EXPECT_THAT(Legend(*root), ElementsAre("1cycle max_lr 0.00127" + kMean));
  EXPECT_THAT(svg_, HasSubstr(">validation accuracy (fraction)</text>"));
}

}  // namespace
}  // namespace hypersweep
