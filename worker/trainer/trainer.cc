#include "worker/trainer/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <torch/torch.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/schedule.h"
#include "core/stats.h"
#include "core/status_macros.h"
#include "worker/trainer/data.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"

namespace hypersweep {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Seeds derived from the trial seed and the epoch, so every epoch's batch order and dropout masks
// are reproducible on their own (resuming needs no replay of earlier epochs).
uint64_t MixSeed(uint64_t seed, int64_t epoch, uint64_t salt) {
  uint64_t z =
      seed * 0x9E3779B97F4A7C15ULL + static_cast<uint64_t>(epoch) * 0xBF58476D1CE4E5B9ULL + salt;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) & 0x7FFFFFFFFFFFFFFFULL;
}

absl::StatusOr<torch::Device> PickDevice(const std::string& name) {
  if (name == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name == "cuda" || absl::StartsWith(name, "cuda:")) {
    if (!torch::cuda::is_available()) {
      return absl::InvalidArgumentError(
          absl::StrCat("device '", name, "': this LibTorch has no CUDA device (use cpu or auto)"));
    }
    int index = 0;
    if (name.size() > 5 && !absl::SimpleAtoi(name.substr(5), &index)) {
      return absl::InvalidArgumentError(absl::StrCat("device '", name, "': bad index"));
    }
    if (index < 0 || static_cast<size_t>(index) >= torch::cuda::device_count()) {
      return absl::InvalidArgumentError(absl::StrCat("device '", name, "': no such CUDA device"));
    }
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("device '", name, "': expected auto, cpu, cuda or cuda:N"));
}

// Maps a LibTorch exception onto our status codes (see trainer.h).
absl::Status FromException(const std::exception& e, const std::string& what) {
  const std::string msg = e.what();
  const std::string first_line = msg.substr(0, msg.find('\n'));
  if (absl::StrContains(msg, "out of memory") ||
      absl::StrContains(msg, "DefaultCPUAllocator: can't allocate")) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory: ", first_line));
  }
  if (absl::StrContains(msg, "shape") || absl::StrContains(msg, "size mismatch") ||
      absl::StrContains(msg, "Expected input")) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": shape mismatch: ", first_line));
  }
  return absl::InternalError(absl::StrCat(what, ": ", first_line));
}

// Per-row losses, reduced to a (weighted) mean.
torch::Tensor Loss(const torch::Tensor& logits, const torch::Tensor& y, const torch::Tensor& w,
                   bool binary) {
  namespace F = torch::nn::functional;
  if (!w.defined()) {
    if (binary)
      return F::binary_cross_entropy_with_logits(logits.squeeze(1), y.to(torch::kFloat32));
    return F::cross_entropy(logits, y);
  }
  torch::Tensor per_row =
      binary ? F::binary_cross_entropy_with_logits(
                   logits.squeeze(1), y.to(torch::kFloat32),
                   F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
             : F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kNone));
  return (per_row * w).sum() / w.sum();
}

nlohmann::json NanToNull(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json();
}

double NullToNan(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
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

// Everything that evolves during training and is checkpointed.
struct Progress {
  int64_t epoch = 0;         // epoch in progress (or next to start)
  int64_t batch = 0;         // next batch within `epoch`; 0: the epoch has not started
  int64_t step = 0;          // optimizer steps taken
  double elapsed = 0;        // training seconds before this epoch
  double epoch_seconds = 0;  // training seconds of `epoch` so far
  double loss_sum = 0;       // sum of batch loss x batch rows in `epoch`
  int64_t samples = 0;       // rows trained in `epoch`
  double first_loss = 0;     // the trial's first batch loss (divergence reference in epoch 0)
  std::vector<EpochMetrics> epochs;
};

class Checkpointer {
 public:
  Checkpointer(std::string path, std::string spec_json)
      : path_(std::move(path)), spec_json_(std::move(spec_json)) {}

  bool enabled() const { return !path_.empty(); }

  // Writes atomically: a temporary file, fsync, then rename over the old checkpoint.
  absl::Status Save(Net& model, Optimizer& opt, const Progress& p) {
    if (!enabled()) return absl::OkStatus();
    torch::serialize::OutputArchive root, m, o;
    model->save(m);
    opt.Save(o);
    root.write("model", m);
    root.write("optimizer", o);
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : p.epochs) epochs.push_back(ToJson(e));
    nlohmann::json meta = {{"format", 1},
                           {"spec", spec_json_},
                           {"epoch", p.epoch},
                           {"batch", p.batch},
                           {"step", p.step},
                           {"elapsed", p.elapsed},
                           {"epoch_seconds", p.epoch_seconds},
                           {"loss_sum", p.loss_sum},
                           {"samples", p.samples},
                           {"first_loss", p.first_loss},
                           {"epochs", epochs}};
    root.write("meta", c10::IValue(meta.dump()));
    root.write("rng", at::detail::getDefaultCPUGenerator().get_state(), /*is_buffer=*/true);
    std::filesystem::create_directories(std::filesystem::path(path_).parent_path().empty()
                                            ? std::filesystem::path(".")
                                            : std::filesystem::path(path_).parent_path());
    const std::string tmp = absl::StrCat(path_, ".tmp.", getpid());
    root.save_to(tmp);
    if (int fd = open(tmp.c_str(), O_RDONLY); fd >= 0) {
      fsync(fd);
      close(fd);
    }
    std::filesystem::rename(tmp, path_);
    return absl::OkStatus();
  }

  // Restores model, optimizer and progress. NOT_FOUND when there is no checkpoint; DATA_LOSS when
  // it is unreadable or belongs to another trial (the caller then starts from scratch).
  absl::Status Load(const std::string& path, Net& model, Optimizer& opt, Progress& p,
                    const torch::Device& device) {
    if (path.empty() || !std::filesystem::exists(path)) return absl::NotFoundError("no checkpoint");
    try {
      torch::serialize::InputArchive root, m, o;
      root.load_from(path, device);
      c10::IValue meta_v;
      root.read("meta", meta_v);
      auto meta = nlohmann::json::parse(meta_v.toStringRef());
      if (meta.at("spec").get<std::string>() != spec_json_) {
        return absl::DataLossError("checkpoint belongs to a different trial spec");
      }
      root.read("model", m);
      root.read("optimizer", o);
      model->load(m);
      opt.Load(o);
      torch::Tensor rng;
      root.read("rng", rng, /*is_buffer=*/true);
      at::Generator gen = at::detail::getDefaultCPUGenerator();  // shares the default generator
      gen.set_state(rng.to(torch::kCPU));
      p.epoch = meta.at("epoch");
      p.batch = meta.at("batch");
      p.step = meta.at("step");
      p.elapsed = meta.at("elapsed");
      p.epoch_seconds = meta.at("epoch_seconds");
      p.loss_sum = meta.at("loss_sum");
      p.samples = meta.at("samples");
      p.first_loss = meta.at("first_loss");
      p.epochs.clear();
      for (const auto& e : meta.at("epochs")) p.epochs.push_back(EpochFromJson(e));
      return absl::OkStatus();
    } catch (const std::exception& e) {
      return absl::DataLossError(absl::StrCat(
          "checkpoint ", path, " is unreadable: ", std::string(e.what()).substr(0, 200)));
    }
  }

 private:
  std::string path_;
  std::string spec_json_;
};

// One trial's data, model and optimizer on a device.
struct Session {
  torch::Device device = torch::kCPU;
  std::shared_ptr<const LoadedData> data;
  SplitData split;
  Net model{nullptr};
  std::unique_ptr<Optimizer> optimizer;
  torch::Tensor raw_val_w;  // raw sample weights of the validation rows (AMS)
  int64_t steps_per_epoch = 0;
};

absl::StatusOr<Session> Prepare(const TrialSpec& spec, const TrainOptions& options) {
  Session s;
  ASSIGN_OR_RETURN(s.device, PickDevice(options.device));
  if (options.threads > 0) torch::set_num_threads(options.threads);
  if (options.cache) {
    ASSIGN_OR_RETURN(s.data, options.cache->Get(spec.dataset));
  } else {
    ASSIGN_OR_RETURN(s.data, LoadData(spec.dataset));
  }
  ASSIGN_OR_RETURN(s.split, MakeSplit(*s.data, spec));
  const int64_t n = s.split.train.rows();
  s.steps_per_epoch = (n + spec.batch_size - 1) / spec.batch_size;
  torch::manual_seed(spec.seed);
  std::vector<int64_t> shape(s.split.train.x.sizes().begin() + 1, s.split.train.x.sizes().end());
  ASSIGN_OR_RETURN(s.model,
                   BuildModel(spec.model, shape, s.split.binary ? 1 : s.split.num_classes));
  s.model->to(s.device);
  for (Table* t : {&s.split.train, &s.split.val}) {
    t->x = t->x.to(s.device);
    t->y = t->y.to(s.device);
  }
  s.raw_val_w = s.split.val.w;
  if (s.split.train_loss_w.defined()) s.split.train_loss_w = s.split.train_loss_w.to(s.device);
  if (s.split.val_loss_w.defined()) s.split.val_loss_w = s.split.val_loss_w.to(s.device);
  s.optimizer = std::make_unique<Optimizer>(spec.optimizer, s.model->parameters(), spec.momentum,
                                            spec.weight_decay);
  return s;
}

torch::Tensor EpochPermutation(const TrialSpec& spec, int64_t epoch, int64_t n,
                               const torch::Device& device) {
  auto gen = at::detail::createCPUGenerator(MixSeed(spec.seed, epoch, 1));
  return torch::randperm(n, gen, torch::TensorOptions().dtype(torch::kInt64)).to(device);
}

// Validation loss, accuracy, and for binary tasks weighted AUC and AMS.
void Evaluate(Session& s, EpochMetrics& m) {
  torch::NoGradGuard no_grad;
  s.model->eval();
  const Table& v = s.split.val;
  const int64_t n = v.rows();
  constexpr int64_t kChunk = 8192;
  double loss_num = 0, loss_den = 0;
  int64_t correct = 0;
  std::vector<torch::Tensor> scores;
  for (int64_t i = 0; i < n; i += kChunk) {
    const int64_t len = std::min(kChunk, n - i);
    auto x = v.x.narrow(0, i, len);
    auto y = v.y.narrow(0, i, len);
    auto logits = s.model->forward(x);
    torch::Tensor w = s.split.val_loss_w.defined() ? s.split.val_loss_w.narrow(0, i, len)
                                                   : torch::ones({len}, logits.options());
    auto l = Loss(logits, y, w, s.split.binary);
    const double wsum = w.sum().item<double>();
    loss_num += l.item<double>() * wsum;
    loss_den += wsum;
    if (s.split.binary) {
      auto logit = logits.squeeze(1);
      correct += ((logit > 0).to(torch::kInt64) == y).sum().item<int64_t>();
      scores.push_back(torch::sigmoid(logit).to(torch::kCPU));
    } else {
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
    }
  }
  m.val_loss = loss_num / loss_den;
  m.val_accuracy = static_cast<double>(correct) / static_cast<double>(n);
  m.val_auc = std::numeric_limits<double>::quiet_NaN();
  m.val_ams = std::numeric_limits<double>::quiet_NaN();
  if (s.split.binary) {
    auto sc = torch::cat(scores).contiguous();
    auto yc = v.y.to(torch::kCPU).to(torch::kFloat32).contiguous();
    std::vector<float> sv(sc.data_ptr<float>(), sc.data_ptr<float>() + n);
    std::vector<float> yv(yc.data_ptr<float>(), yc.data_ptr<float>() + n);
    std::vector<float> wv;
    if (s.raw_val_w.defined()) {
      auto wc = s.raw_val_w.to(torch::kCPU).contiguous();
      wv.assign(wc.data_ptr<float>(), wc.data_ptr<float>() + n);
    }
    m.val_auc = WeightedAuc(sv, yv, wv);
    if (!wv.empty()) m.val_ams = BestAms(sv, yv, wv, s.split.val_weight_scale);
  }
  s.model->train();
}

absl::StatusOr<TrialResult> TrainImpl(const TrialSpec& spec, const TrainOptions& options,
                                      MetricsSink* sink) {
  ASSIGN_OR_RETURN(Session s, Prepare(spec, options));
  ASSIGN_OR_RETURN(Schedule sched, Schedule::Create(spec.schedule, {s.steps_per_epoch, spec.epochs,
                                                                    spec.momentum}));
  TrialResult result;
  result.device = s.device.str();
  Checkpointer ckpt(options.checkpoint_path, ToJson(spec).dump());
  Progress p;
  if (options.resume) {
    const std::string from =
        options.resume_path.empty() ? options.checkpoint_path : options.resume_path;
    absl::Status st = ckpt.Load(from, s.model, *s.optimizer, p, s.device);
    if (st.ok()) {
      sink->OnLog(absl::StrFormat("resumed from checkpoint %s at epoch %d batch %d (step %d)", from,
                                  p.epoch, p.batch, p.step));
    } else if (!absl::IsNotFound(st)) {
      sink->OnLog(absl::StrCat(st.message(), "; restarting the trial from epoch 0"));
      // Rebuild a fresh model and optimizer: Load may have partly overwritten them.
      ASSIGN_OR_RETURN(s, Prepare(spec, options));
      p = Progress();
    } else {
      sink->OnLog("no checkpoint to resume from; starting at epoch 0");
    }
  }
  result.start_epoch = p.epoch;
  result.epochs = p.epochs;
  s.model->train();
  const Table& tr = s.split.train;
  const int64_t n = tr.rows();
  const bool budgeted = spec.budget_seconds > 0;
  auto diverged = [&](const std::string& why) {
    result.outcome = TrialOutcome::kDiverged;
    result.reason = why;
    return result;
  };
  while (p.epoch < spec.epochs) {
    if (p.batch == 0) torch::manual_seed(MixSeed(spec.seed, p.epoch, 2));  // dropout masks
    auto perm = EpochPermutation(spec, p.epoch, n, s.device);
    double lr = 0, momentum = 0;
    bool cut_by_budget = false;
    for (; p.batch < s.steps_per_epoch; ++p.batch) {
      if (budgeted && p.elapsed + p.epoch_seconds >= spec.budget_seconds) {
        cut_by_budget = true;
        break;
      }
      if (options.should_stop && options.should_stop()) {
        RETURN_IF_ERROR(ckpt.Save(s.model, *s.optimizer, p));
        result.outcome = TrialOutcome::kStopped;
        result.reason = absl::StrFormat("stopped at epoch %d batch %d", p.epoch, p.batch);
        result.epochs = p.epochs;
        return result;
      }
      const auto t0 = Clock::now();
      const int64_t start = p.batch * spec.batch_size;
      const int64_t len = std::min(spec.batch_size, n - start);
      auto idx = perm.narrow(0, start, len);
      auto x = tr.x.index_select(0, idx);
      auto y = tr.y.index_select(0, idx);
      torch::Tensor w;
      if (s.split.train_loss_w.defined()) w = s.split.train_loss_w.index_select(0, idx);
      lr = sched.Lr(p.step);
      momentum = sched.Momentum(p.step);
      s.optimizer->Set(lr, momentum);
      s.optimizer->ZeroGrad();
      auto loss = Loss(s.model->forward(x), y, w, s.split.binary);
      loss.backward();
      s.optimizer->Step();
      const double lv = loss.item<double>();
      p.epoch_seconds += SecondsSince(t0);
      ++p.step;
      if (p.step == 1) p.first_loss = lv;
      if (!std::isfinite(lv)) {
        return diverged(absl::StrFormat("non-finite training loss at epoch %d step %d (lr %g)",
                                        p.epoch, p.step - 1, lr));
      }
      p.loss_sum += lv * static_cast<double>(len);
      p.samples += len;
    }
    if (p.samples == 0) {  // the budget ran out exactly at an epoch boundary
      result.reason =
          absl::StrFormat("budget of %gs reached after %d epochs", spec.budget_seconds, p.epoch);
      break;
    }
    EpochMetrics m;
    m.epoch = p.epoch;
    m.train_loss = p.loss_sum / static_cast<double>(p.samples);
    m.lr = lr;
    m.momentum = momentum;
    m.seconds = p.epoch_seconds;
    m.samples_per_second = static_cast<double>(p.samples) / std::max(p.epoch_seconds, 1e-9);
    m.elapsed_seconds = p.elapsed + p.epoch_seconds;
    m.steps = p.step;
    m.partial = cut_by_budget;
    Evaluate(s, m);
    p.epochs.push_back(m);
    result.epochs.push_back(m);
    // Checkpoint before reporting: an epoch that was reported is never trained again on resume.
    Progress next = p;
    next.elapsed += next.epoch_seconds;
    next.epoch_seconds = 0;
    next.loss_sum = 0;
    next.samples = 0;
    next.batch = 0;
    ++next.epoch;
    RETURN_IF_ERROR(ckpt.Save(s.model, *s.optimizer, next));
    sink->OnEpoch(m);
    const double reference =
        p.epoch > 0 && p.epochs.front().epoch == 0 ? p.epochs.front().train_loss : p.first_loss;
    if (!std::isfinite(m.val_loss)) {
      return diverged(absl::StrFormat("non-finite validation loss at epoch %d", p.epoch));
    }
    if (m.train_loss > 4 * reference) {
      return diverged(absl::StrFormat("training loss %.4g at epoch %d exceeds 4x the %s (%.4g)",
                                      m.train_loss, p.epoch,
                                      p.epoch == 0 ? "initial loss" : "first epoch's", reference));
    }
    if (cut_by_budget) {
      result.reason =
          absl::StrFormat("budget of %gs reached in epoch %d", spec.budget_seconds, p.epoch);
      break;
    }
    p = std::move(next);
  }
  result.outcome = TrialOutcome::kSucceeded;
  return result;
}

absl::StatusOr<LrRangeResult> RangeTestImpl(const TrialSpec& spec, const TrainOptions& options,
                                            MetricsSink* sink) {
  ASSIGN_OR_RETURN(Session s, Prepare(spec, options));
  ScheduleSpec range;
  if (std::holds_alternative<LrRangeTestSchedule>(spec.schedule.kind)) {
    range = spec.schedule;
  } else {
    range.kind = LrRangeTestSchedule{};
  }
  ASSIGN_OR_RETURN(Schedule sched, Schedule::Create(range, {s.steps_per_epoch, 1, spec.momentum}));
  LrRangeTracker tracker;
  s.model->train();
  const Table& tr = s.split.train;
  const int64_t n = tr.rows();
  int64_t step = 0;
  for (int64_t epoch = 0; step < sched.total_steps(); ++epoch) {
    torch::manual_seed(MixSeed(spec.seed, epoch, 2));
    auto perm = EpochPermutation(spec, epoch, n, s.device);
    bool stop = false;
    for (int64_t b = 0; b < s.steps_per_epoch && step < sched.total_steps() && !stop; ++b, ++step) {
      if (options.should_stop && options.should_stop())
        return absl::CancelledError("range test stopped");
      const int64_t start = b * spec.batch_size;
      auto idx = perm.narrow(0, start, std::min(spec.batch_size, n - start));
      torch::Tensor w;
      if (s.split.train_loss_w.defined()) w = s.split.train_loss_w.index_select(0, idx);
      const double lr = sched.Lr(step);
      s.optimizer->Set(lr, spec.momentum);
      s.optimizer->ZeroGrad();
      auto loss = Loss(s.model->forward(tr.x.index_select(0, idx)), tr.y.index_select(0, idx), w,
                       s.split.binary);
      const double lv = loss.item<double>();
      if (std::isfinite(lv)) {
        loss.backward();
        s.optimizer->Step();
      }
      stop = tracker.Add(lr, lv);
      sink->OnLrPoint(tracker.curve().back());
    }
    if (stop) break;
  }
  LrRangeResult r;
  r.curve = tracker.curve();
  r.suggestion = SuggestLr(r.curve);
  return r;
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

const char* TrialOutcomeName(TrialOutcome outcome) {
  switch (outcome) {
    case TrialOutcome::kSucceeded:
      return "SUCCEEDED";
    case TrialOutcome::kDiverged:
      return "DIVERGED";
    case TrialOutcome::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

absl::StatusOr<TrialResult> TrainTrial(const TrialSpec& spec, const TrainOptions& options,
                                       MetricsSink* sink) {
  RETURN_IF_ERROR(ValidateTrialSpec(spec));
  try {
    return TrainImpl(spec, options, sink);
  } catch (const std::exception& e) {
    return FromException(e, "training");
  }
}

absl::StatusOr<LrRangeResult> RunLrRangeTest(const TrialSpec& spec, const TrainOptions& options,
                                             MetricsSink* sink) {
  RETURN_IF_ERROR(ValidateTrialSpec(spec));
  try {
    return RangeTestImpl(spec, options, sink);
  } catch (const std::exception& e) {
    return FromException(e, "LR range test");
  }
}

std::shared_ptr<DatasetCache> NewDatasetCache() { return std::make_shared<DatasetCache>(); }

std::string LibTorchVersion() { return TORCH_VERSION; }

bool CudaAvailable() { return torch::cuda::is_available(); }

}  // namespace hypersweep
