#include "worker/trainer/metrics.h"

#include <cmath>
#include <limits>

namespace hypersweep {
namespace {

nlohmann::json NanToNull(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

double NullToNan(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

nlohmann::json ToJson(const EpochMetrics& m) {
  nlohmann::json j = {{"epoch", m.epoch},
                      {"train_loss", NanToNull(m.train_loss)},
                      {"val_loss", NanToNull(m.val_loss)},
                      {"val_accuracy", NanToNull(m.val_accuracy)},
                      {"val_auc", NanToNull(m.val_auc)},
                      {"val_ams", NanToNull(m.val_ams)},
                      {"lr", NanToNull(m.lr)},
                      {"momentum", NanToNull(m.momentum)},
                      {"seconds", NanToNull(m.seconds)},
                      {"samples_per_second", NanToNull(m.samples_per_second)},
                      {"elapsed_seconds", NanToNull(m.elapsed_seconds)},
                      {"steps", m.steps}};
  if (m.partial) j["partial"] = true;
  return j;
}

EpochMetrics EpochFromJson(const nlohmann::json& j) {
  EpochMetrics m;
  m.epoch = j.at("epoch").get<int64_t>();
  m.train_loss = NullToNan(j.at("train_loss"));
  m.val_loss = NullToNan(j.at("val_loss"));
  m.val_accuracy = NullToNan(j.at("val_accuracy"));
  m.val_auc = NullToNan(j.at("val_auc"));
  m.val_ams = NullToNan(j.at("val_ams"));
  m.lr = NullToNan(j.at("lr"));
  m.momentum = NullToNan(j.at("momentum"));
  m.seconds = NullToNan(j.at("seconds"));
  m.samples_per_second = NullToNan(j.at("samples_per_second"));
  m.elapsed_seconds = NullToNan(j.at("elapsed_seconds"));
  m.steps = j.at("steps").get<int64_t>();
  m.partial = j.value("partial", false);
  return m;
}

}  // namespace hypersweep
