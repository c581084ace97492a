// Helpers shared by the worker tests: temporary directories, files, and a recording MetricsSink.
#ifndef HYPERSWEEP_TESTS_WORKER_TEST_UTIL_H_
#define HYPERSWEEP_TESTS_WORKER_TEST_UTIL_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/support/files.h"
#include "worker/trainer/trainer.h"

namespace hypersweep::testing {

using test_support::TempDir;
using test_support::WriteFile;

class RecordingSink : public MetricsSink {
 public:
  void OnEpoch(const EpochMetrics& m) override { epochs.push_back(m); }
  void OnLrPoint(const LrCurvePoint& p) override { points.push_back(p); }
  void OnLog(const std::string& message) override { logs.push_back(message); }
  std::vector<EpochMetrics> epochs;
  std::vector<LrCurvePoint> points;
  std::vector<std::string> logs;
};

// A CSV in the layout of the ATLAS Higgs ML challenge file (atlas-higgs-challenge-2014-v2.csv):
// EventId, 30 DER_/PRI_ features with -999 for missing values, Weight, Label (s|b), KaggleSet,
// KaggleWeight. Signal is shifted in a few features so it is learnable.
inline void WriteHiggsLikeCsv(const std::string& path, int rows, uint64_t seed) {
  const char* names[] = {"DER_mass_MMC",
                         "DER_mass_transverse_met_lep",
                         "DER_mass_vis",
                         "DER_pt_h",
                         "DER_deltaeta_jet_jet",
                         "DER_mass_jet_jet",
                         "DER_prodeta_jet_jet",
                         "DER_deltar_tau_lep",
                         "DER_pt_tot",
                         "DER_sum_pt",
                         "DER_pt_ratio_lep_tau",
                         "DER_met_phi_centrality",
                         "DER_lep_eta_centrality",
                         "PRI_tau_pt",
                         "PRI_tau_eta",
                         "PRI_tau_phi",
                         "PRI_lep_pt",
                         "PRI_lep_eta",
                         "PRI_lep_phi",
                         "PRI_met",
                         "PRI_met_phi",
                         "PRI_met_sumet",
                         "PRI_jet_num",
                         "PRI_jet_leading_pt",
                         "PRI_jet_leading_eta",
                         "PRI_jet_leading_phi",
                         "PRI_jet_subleading_pt",
                         "PRI_jet_subleading_eta",
                         "PRI_jet_subleading_phi",
                         "PRI_jet_all_pt"};
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n01(0, 1);
  std::uniform_real_distribution<double> u01(0, 1);
  std::ofstream out(path);
  out << "EventId";
  for (const char* n : names) out << "," << n;
  out << ",Weight,Label,KaggleSet,KaggleWeight\n";
  for (int i = 0; i < rows; ++i) {
    const bool signal = u01(rng) < 0.35;
    const int jets = static_cast<int>(u01(rng) * 4);
    out << 100000 + i;
    for (int f = 0; f < 30; ++f) {
      double v = 50 + 20 * n01(rng) + (signal && f % 3 == 0 ? 25 : 0);
      if (f == 22) v = jets;
      const bool jet_feature = (f >= 4 && f <= 6) || (f >= 26 && f <= 28);
      if ((jet_feature && jets < 2) || (f == 0 && u01(rng) < 0.15)) v = -999.0;
      out << "," << v;
    }
    const double w = signal ? 0.002 * (0.5 + u01(rng)) : 1.5 * (0.5 + u01(rng));
    // KaggleSet: mostly training rows ('t'), some leaderboard rows ('b', 'v') to filter out.
    const double r = u01(rng);
    const char* set = r < 0.8 ? "t" : r < 0.9 ? "b" : "v";
    out << "," << w << "," << (signal ? "s" : "b") << "," << set << "," << w * 1.1 << "\n";
  }
}

}  // namespace hypersweep::testing

#endif  // HYPERSWEEP_TESTS_WORKER_TEST_UTIL_H_
