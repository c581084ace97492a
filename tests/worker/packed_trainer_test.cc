// Trial packing against the contract of packed_trainer.h: every packed trial's epochs equal the
// same trial trained alone by TrainTrial (float reassociation only), for each optimizer and
// schedule kind; divergence, early ends and stops leave the others untouched; checkpoints written
// in a pack resume alone (and in a pack).
#include "worker/trainer/packed_trainer.h"

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/worker/test_util.h"

namespace hypersweep {
namespace {

using ::hypersweep::testing::RecordingSink;
using ::hypersweep::testing::TempDir;

TrialSpec Spec(const std::string& text) {
  auto s = ParseTrialSpec(text);
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

// Binary with sample weights (the weighted-loss path) or 3 classes (cross entropy).
std::string Base(bool binary) {
  return binary ? "dataset: {synthetic: {samples: 1000, features: 12, classes: 2, weights: true}}\n"
                  "model: {mlp: {hidden: [24, 24]}}\nbatch_size: 64\n"
                : "dataset: {synthetic: {samples: 1000, features: 12, classes: 3, noise: 0.3}}\n"
                  "model: {mlp: {hidden: [24, 24], activation: tanh}}\nbatch_size: 64\n";
}

absl::StatusOr<TrialResult> Alone(const TrialSpec& spec, RecordingSink* sink,
                                  const std::string& checkpoint = "", bool resume = false) {
  TrainOptions o;
  o.threads = 1;
  o.checkpoint_path = checkpoint;
  o.resume = resume;
  return TrainTrial(spec, o, sink);
}

PackOptions Options() {
  PackOptions o;
  o.threads = 1;
  return o;
}

// Relative difference with a floor, so that losses near 0 compare absolutely.
double Rel(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-3); }

// Train and validation losses (and the schedule's values) of every epoch: 1e-5 relative in the
// first epoch, 1e-3 up to the fifth.
void ExpectSameEpochs(const std::vector<EpochMetrics>& packed,
                      const std::vector<EpochMetrics>& alone, const std::string& what) {
  ASSERT_EQ(packed.size(), alone.size()) << what;
  for (size_t e = 0; e < alone.size(); ++e) {
    const double tol = e == 0 ? 1e-5 : 1e-3;
    EXPECT_EQ(packed[e].epoch, alone[e].epoch) << what;
    for (const char* name : {metrics::kTrainLoss, metrics::kValLoss}) {
      EXPECT_LE(Rel(packed[e].Get(name), alone[e].Get(name)), tol)
          << what << " epoch " << e << " " << name << ": packed " << packed[e].Get(name)
          << " alone " << alone[e].Get(name);
    }
    for (const char* name : {metrics::kLr, metrics::kMomentum, metrics::kSteps}) {
      EXPECT_EQ(packed[e].Get(name), alone[e].Get(name)) << what << " epoch " << e << " " << name;
    }
  }
}

struct Case {
  std::string optimizer;
  std::string schedule;  // with "%LR%" for the trial's learning rate
};

std::string Fill(std::string s, double lr) {
  const std::string tag = "%LR%";
  for (size_t at; (at = s.find(tag)) != std::string::npos;)
    s.replace(at, tag.size(), std::to_string(lr));
  return s;
}

class PackedEqualsAloneTest : public ::testing::TestWithParam<std::tuple<Case, bool>> {};

TEST_P(PackedEqualsAloneTest, EveryTrialMatchesItsUnpackedRun) {
  const auto& [c, binary] = GetParam();
  const bool adamw = c.optimizer.find("adamw") != std::string::npos;
  // Three trials that differ in everything a pack lets differ.
  struct Point {
    double lr, momentum, wd;
    int seed, epochs;
  };
  const std::vector<Point> points =
      adamw ? std::vector<Point>{{0.003, 0.9, 0.01, 1, 5},
                                 {0.01, 0.8, 0, 2, 3},
                                 {0.001, 0.95, 0.1, 3, 4}}
            : std::vector<Point>{
                  {0.05, 0.9, 1e-4, 1, 5}, {0.1, 0.5, 0, 2, 3}, {0.02, 0.95, 1e-3, 3, 4}};
  std::vector<TrialSpec> specs;
  for (const Point& p : points) {
    specs.push_back(Spec(
        Base(binary) + "optimizer: " + c.optimizer + "\nschedule: " + Fill(c.schedule, p.lr) +
        "\nmomentum: " + std::to_string(p.momentum) + "\nweight_decay: " + std::to_string(p.wd) +
        "\nseed: " + std::to_string(p.seed) + "\nepochs: " + std::to_string(p.epochs) + "\n"));
  }
  std::vector<RecordingSink> packed_sinks(specs.size()), alone_sinks(specs.size());
  std::vector<PackMember> members;
  for (size_t i = 0; i < specs.size(); ++i) {
    PackMember m;
    m.spec = specs[i];
    m.sink = &packed_sinks[i];
    members.push_back(m);
  }
  auto packed = TrainPack(members, Options());
  ASSERT_EQ(packed.size(), specs.size());
  for (size_t i = 0; i < specs.size(); ++i) {
    auto alone = Alone(specs[i], &alone_sinks[i]);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_TRUE(packed[i].ok()) << packed[i].status();
    EXPECT_EQ(packed[i]->outcome, alone->outcome) << i;
    EXPECT_EQ(packed[i]->epochs.size(), static_cast<size_t>(points[i].epochs));
    ExpectSameEpochs(packed[i]->epochs, alone->epochs, "trial " + std::to_string(i));
    ExpectSameEpochs(packed_sinks[i].epochs, alone_sinks[i].epochs, "sink " + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(
    OptimizersAndSchedules, PackedEqualsAloneTest,
    ::testing::Combine(
        ::testing::Values(Case{"sgd", "{constant: {lr: %LR%}}"},
                          Case{"{sgd: {nesterov: true}}", "{constant: {lr: %LR%}}"},
                          Case{"sgd", "{one_cycle: {max_lr: %LR%}}"},
                          Case{"{sgd: {nesterov: true}}",
                               "{cyclic: {base_lr: 0.001, max_lr: %LR%, step_size_up: 10}}"},
                          Case{"sgd", "{cosine_restarts: {max_lr: %LR%, t_0: 7, t_mult: 2}}"},
                          Case{"adamw", "{constant: {lr: %LR%}}"},
                          Case{"{adamw: {beta2: 0.99}}", "{one_cycle: {max_lr: %LR%}}"},
                          Case{"adamw",
                               "{cyclic: {base_lr: 0.0001, max_lr: %LR%, step_size_up: 10, "
                               "mode: triangular2}}"},
                          Case{"adamw", "{cosine_restarts: {max_lr: %LR%, t_0: 7}}"}),
        ::testing::Bool()));

std::string SgdTrial(double lr, int seed, int epochs) {
  return Base(true) + "schedule: {constant: {lr: " + std::to_string(lr) +
         "}}\nmomentum: 0.9\nseed: " + std::to_string(seed) +
         "\nepochs: " + std::to_string(epochs) + "\n";
}

std::vector<PackMember> Members(const std::vector<TrialSpec>& specs,
                                std::vector<RecordingSink>& sinks) {
  sinks.resize(specs.size());
  std::vector<PackMember> members;
  for (size_t i = 0; i < specs.size(); ++i) {
    PackMember m;
    m.spec = specs[i];
    m.sink = &sinks[i];
    members.push_back(m);
  }
  return members;
}

TEST(PackedTrainerTest, DivergingTrialLeavesAndOthersMatchTheirUnpackedRuns) {
  // Trial 1's LR makes its loss blow up; trial 2 shares trial 0's seed (one shared batch order
  // while both are in the pack).
  const std::vector<TrialSpec> specs = {Spec(SgdTrial(0.05, 1, 4)), Spec(SgdTrial(500, 2, 4)),
                                        Spec(SgdTrial(0.02, 1, 4))};
  std::vector<RecordingSink> sinks;
  auto packed = TrainPack(Members(specs, sinks), Options());
  for (size_t i = 0; i < specs.size(); ++i) {
    RecordingSink sink;
    auto alone = Alone(specs[i], &sink);
    ASSERT_TRUE(alone.ok()) << alone.status();
    ASSERT_TRUE(packed[i].ok()) << packed[i].status();
    EXPECT_EQ(packed[i]->outcome, alone->outcome) << i;
    EXPECT_EQ(packed[i]->reason, alone->reason) << i;
    ExpectSameEpochs(packed[i]->epochs, alone->epochs, "trial " + std::to_string(i));
  }
  EXPECT_EQ(packed[1]->outcome, TrialOutcome::kDiverged);
  EXPECT_EQ(packed[0]->outcome, TrialOutcome::kSucceeded);
  EXPECT_EQ(packed[2]->outcome, TrialOutcome::kSucceeded);
  EXPECT_EQ(packed[0]->epochs.size(), 4u);
}

TEST(PackedTrainerTest, AMemberThatLeavesEarlyIsReportedAtOnce) {
  // Trial 1 diverges in (or at the end of) its first epoch and trial 2 has 2 epochs: each is handed
  // over (on_done) when it leaves, while trial 0 still has epochs to train; trial 0 last, after its
  // 4th epoch.
  const std::vector<TrialSpec> specs = {Spec(SgdTrial(0.05, 1, 4)), Spec(SgdTrial(500, 2, 4)),
                                        Spec(SgdTrial(0.02, 3, 2))};
  std::vector<RecordingSink> sinks;
  std::vector<PackMember> members = Members(specs, sinks);
  std::vector<std::pair<size_t, size_t>> done;  // (member, trial 0's epochs so far)
  for (size_t i = 0; i < members.size(); ++i) {
    members[i].on_done = [&, i](const absl::StatusOr<TrialResult>& r) {
      ASSERT_TRUE(r.ok()) << r.status();
      done.emplace_back(i, sinks[0].epochs.size());
    };
  }
  auto packed = TrainPack(members, Options());
  ASSERT_EQ(done.size(), 3u);
  EXPECT_EQ(done[0].first, 1u);
  EXPECT_LE(done[0].second, 1u) << "diverged within trial 0's first epoch or at its end";
  EXPECT_EQ(done[1], (std::pair<size_t, size_t>{2, 2})) << "its 2 epochs, trial 0's 2nd done";
  EXPECT_EQ(done[2], (std::pair<size_t, size_t>{0, 4}));
  EXPECT_EQ(packed[1]->outcome, TrialOutcome::kDiverged);
  EXPECT_EQ(packed[2]->epochs.size(), 2u);
}

TEST(PackedTrainerTest, StoppedTrialResumesAloneAndInAPackAsIfUninterrupted) {
  TempDir dir;
  const std::vector<TrialSpec> specs = {Spec(SgdTrial(0.05, 1, 4)), Spec(SgdTrial(0.1, 2, 4)),
                                        Spec(SgdTrial(0.02, 3, 3))};
  std::vector<RecordingSink> sinks;
  std::vector<PackMember> members = Members(specs, sinks);
  // 13 batches per epoch (800 training rows / 64): trial 1 stops in its third epoch, trial 0 at
  // the start of its fourth (an epoch boundary).
  int polls1 = 0, polls0 = 0;
  members[1].should_stop = [&] { return ++polls1 > 30; };
  members[0].should_stop = [&] { return ++polls0 > 39; };
  for (size_t i = 0; i < specs.size(); ++i) {
    members[i].checkpoint_path = dir.path() + "/t" + std::to_string(i) + ".ckpt";
  }
  auto first = TrainPack(members, Options());
  ASSERT_TRUE(first[0].ok() && first[1].ok() && first[2].ok());
  EXPECT_EQ(first[0]->outcome, TrialOutcome::kStopped);
  EXPECT_EQ(first[1]->outcome, TrialOutcome::kStopped);
  EXPECT_EQ(first[2]->outcome, TrialOutcome::kSucceeded);
  EXPECT_EQ(first[1]->epochs.size(), 2u);
  EXPECT_EQ(first[0]->epochs.size(), 3u);

  std::vector<absl::StatusOr<TrialResult>> uninterrupted;
  for (const TrialSpec& s : specs) {
    RecordingSink sink;
    uninterrupted.push_back(Alone(s, &sink));
    ASSERT_TRUE(uninterrupted.back().ok());
  }
  ExpectSameEpochs(first[2]->epochs, uninterrupted[2]->epochs, "trial 2, never stopped");
  // Trial 1 alone with TrainTrial from the pack's mid-epoch checkpoint.
  RecordingSink resumed_sink;
  auto resumed = Alone(specs[1], &resumed_sink, members[1].checkpoint_path, /*resume=*/true);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->start_epoch, 2);
  EXPECT_EQ(resumed_sink.epochs.size(), 2u);  // epochs restored from the checkpoint are not re-sent
  ExpectSameEpochs(resumed->epochs, uninterrupted[1]->epochs, "trial 1 resumed alone");
  // Trial 0 in a pack again (with a fresh trial), from its epoch-boundary checkpoint.
  std::vector<RecordingSink> sinks2;
  std::vector<PackMember> again = Members({specs[0], Spec(SgdTrial(0.03, 4, 2))}, sinks2);
  again[0].checkpoint_path = members[0].checkpoint_path;
  again[0].resume = true;
  auto second = TrainPack(again, Options());
  ASSERT_TRUE(second[0].ok()) << second[0].status();
  EXPECT_EQ(second[0]->start_epoch, 3);
  EXPECT_EQ(sinks2[0].epochs.size(), 1u);
  ExpectSameEpochs(second[0]->epochs, uninterrupted[0]->epochs, "trial 0 resumed in a pack");
}

TEST(PackedTrainerTest, UnpackableAndIncompatibleTrialsTrainAloneBitForBit) {
  std::vector<TrialSpec> specs = {Spec(SgdTrial(0.05, 1, 2)), Spec(SgdTrial(0.05, 1, 2)),
                                  Spec(SgdTrial(0.05, 2, 2)), Spec(SgdTrial(0.02, 3, 2))};
  specs[1].model.dropout = 0.1;
  specs[2].batch_size = 32;  // another packing key
  EXPECT_EQ(WhyUnpackable(specs[1]), "model.mlp.dropout is not packed");
  EXPECT_NE(PackingKey(specs[0]), PackingKey(specs[2]));
  EXPECT_EQ(PackingKey(specs[0]), PackingKey(specs[3]));
  std::vector<RecordingSink> sinks;
  auto packed = TrainPack(Members(specs, sinks), Options());
  for (size_t i : {1, 2}) {
    RecordingSink sink;
    auto alone = Alone(specs[i], &sink);
    ASSERT_TRUE(alone.ok() && packed[i].ok());
    ASSERT_EQ(packed[i]->epochs.size(), alone->epochs.size());
    for (size_t e = 0; e < alone->epochs.size(); ++e) {
      EXPECT_EQ(packed[i]->epochs[e].Get(metrics::kValLoss),
                alone->epochs[e].Get(metrics::kValLoss));
    }
  }
  ASSERT_TRUE(packed[0].ok() && packed[3].ok());
  EXPECT_EQ(packed[3]->epochs.size(), 2u);
}

TEST(PackedTrainerTest, BadSpecFailsOnlyItsOwnMember) {
  std::vector<TrialSpec> specs = {Spec(SgdTrial(0.05, 1, 2)), Spec(SgdTrial(0.05, 2, 2))};
  specs[1].batch_size = 0;
  std::vector<RecordingSink> sinks;
  auto packed = TrainPack(Members(specs, sinks), Options());
  EXPECT_TRUE(packed[0].ok());
  EXPECT_EQ(packed[1].status().code(), absl::StatusCode::kInvalidArgument);
}

// Each spec packed together against itself alone (results and epochs).
void ExpectPackMatchesAlone(const std::vector<TrialSpec>& specs) {
  std::vector<RecordingSink> sinks;
  auto packed = TrainPack(Members(specs, sinks), Options());
  for (size_t i = 0; i < specs.size(); ++i) {
    RecordingSink sink;
    auto alone = Alone(specs[i], &sink);
    ASSERT_TRUE(alone.ok() && packed[i].ok());
    EXPECT_EQ(packed[i]->outcome, alone->outcome) << i;
    ExpectSameEpochs(packed[i]->epochs, alone->epochs, "trial " + std::to_string(i));
  }
}

TEST(PackedTrainerTest, ZeroMomentumSlotsTakePlainStepsAsAlone) {
  // Momentum 0 next to momentum 0.9 (the masked SGD path), then a pack where every slot has 0.
  std::vector<TrialSpec> mixed = {Spec(SgdTrial(0.05, 1, 3)), Spec(SgdTrial(0.1, 2, 3)),
                                  Spec(SgdTrial(0.02, 3, 3))};
  mixed[1].momentum = 0;
  ExpectPackMatchesAlone(mixed);
  std::vector<TrialSpec> none = {mixed[1], Spec(SgdTrial(0.2, 4, 2))};
  none[1].momentum = 0;
  none[1].weight_decay = 1e-3;
  ExpectPackMatchesAlone(none);
}

TEST(PackedTrainerTest, AdamWStateSurvivesAPackCheckpoint) {
  TempDir dir;
  std::vector<TrialSpec> specs = {Spec(SgdTrial(0.003, 1, 3)), Spec(SgdTrial(0.01, 2, 3))};
  for (TrialSpec& s : specs) {
    s.optimizer.kind = OptimizerSpec::Kind::kAdamW;
    s.weight_decay = 0.01;
  }
  std::vector<RecordingSink> sinks;
  std::vector<PackMember> members = Members(specs, sinks);
  int polls = 0;
  members[1].should_stop = [&] { return ++polls > 20; };  // in its second epoch
  members[1].checkpoint_path = dir.path() + "/adamw.ckpt";
  auto first = TrainPack(members, Options());
  ASSERT_TRUE(first[1].ok());
  ASSERT_EQ(first[1]->outcome, TrialOutcome::kStopped);
  RecordingSink s1, s2;
  auto uninterrupted = Alone(specs[1], &s1);
  auto resumed = Alone(specs[1], &s2, members[1].checkpoint_path, /*resume=*/true);
  ASSERT_TRUE(uninterrupted.ok() && resumed.ok());
  EXPECT_EQ(resumed->start_epoch, 1);
  ExpectSameEpochs(resumed->epochs, uninterrupted->epochs, "AdamW trial resumed alone");
}

}  // namespace
}  // namespace hypersweep
