// TrainPack: TrainImpl's epoch loop (trainer.cc) for K members at once over a PackedMlp. Each
// member keeps an unpacked twin (Net + Optimizer) built exactly as TrainTrial builds its model;
// the twin seeds the packed slice, and receives it back for evaluation and checkpoints.
#include "worker/trainer/packed_trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/metrics.h"
#include "core/schedule.h"
#include "core/spec_limits.h"
#include "core/status_macros.h"
#include "worker/trainer/checkpoint.h"
#include "worker/trainer/data.h"
#include "worker/trainer/device.h"
#include "worker/trainer/evaluate.h"
#include "worker/trainer/model.h"
#include "worker/trainer/optimizer.h"
#include "worker/trainer/packed_model.h"
#include "worker/trainer/train_step.h"

namespace hypersweep {
namespace {

using Clock = std::chrono::steady_clock;

// What the members share: the data and its split, on the device.
struct PackData {
  torch::Device device = torch::kCPU;
  std::shared_ptr<const LoadedData> data;
  SplitData split;
  std::vector<int64_t> shape;  // one row's shape
  int64_t outputs = 0;
  int64_t steps_per_epoch = 0;
};

// One member: its twin, schedule, checkpoints and progress, as TrainImpl keeps them.
struct Member {
  const PackMember* in = nullptr;
  size_t index = 0;  // in TrainPack's members
  Net net{nullptr};
  std::unique_ptr<Optimizer> opt;
  std::optional<Schedule> sched;
  std::unique_ptr<Checkpointer> ckpt;
  Progress p;
  TrialResult result;
  torch::Tensor order;  // the batch order of order_epoch
  int64_t order_epoch = -1;
  double lr = 0, momentum = 0;
};

absl::StatusOr<PackData> PrepareData(const TrialSpec& spec, const PackOptions& o) {
  PackData d;
  ASSIGN_OR_RETURN(d.device, PickDevice(o.device));
  if (o.threads > 0) torch::set_num_threads(o.threads);
  const DataLoadOptions load{o.data_limits, nullptr};
  if (o.cache) {
    ASSIGN_OR_RETURN(d.data, o.cache->Get(spec.dataset, load));
  } else {
    ASSIGN_OR_RETURN(d.data, LoadData(spec.dataset, load));
  }
  ASSIGN_OR_RETURN(d.split, MakeSplit(*d.data, spec));
  d.steps_per_epoch = (d.split.train.rows() + spec.batch_size - 1) / spec.batch_size;
  d.shape.assign(d.split.train.x.sizes().begin() + 1, d.split.train.x.sizes().end());
  d.outputs = d.split.binary ? 1 : d.split.num_classes;
  for (Table* t : {&d.split.train, &d.split.val, &d.split.test}) {
    if (!t->x.defined()) continue;
    t->x = t->x.to(d.device);
    t->y = t->y.to(d.device);
  }
  for (torch::Tensor* w : {&d.split.train_loss_w, &d.split.val_loss_w, &d.split.test_loss_w}) {
    if (w->defined()) *w = w->to(d.device);
  }
  return d;
}

// The twin exactly as trainer.cc's Prepare builds the model and optimizer.
absl::Status BuildTwin(const PackData& d, const PackOptions& o, Member& m) {
  const TrialSpec& spec = m.in->spec;
  torch::manual_seed(spec.seed);
  RETURN_IF_ERROR(CheckModelSize(spec.model, d.shape, d.outputs));
  ASSIGN_OR_RETURN(m.net, BuildModel(spec.model, d.shape, d.outputs, o.data_limits));
  m.net->to(d.device);
  m.opt = std::make_unique<Optimizer>(spec.optimizer, m.net->parameters(), spec.momentum,
                                      spec.weight_decay);
  return absl::OkStatus();
}

// BuildTwin, the schedule, and the resume logic of TrainImpl.
absl::Status PrepareMember(const PackData& d, const PackOptions& o, Member& m) {
  const TrialSpec& spec = m.in->spec;
  RETURN_IF_ERROR(BuildTwin(d, o, m));
  ASSIGN_OR_RETURN(Schedule sched, Schedule::Create(spec.schedule, {d.steps_per_epoch, spec.epochs,
                                                                    spec.momentum}));
  m.sched = sched;
  m.result.device = d.device.str();
  m.ckpt = std::make_unique<Checkpointer>(m.in->checkpoint_path, ToJson(spec).dump());
  MetricsSink* sink = m.in->sink;
  if (m.in->resume) {
    const std::string from = m.in->resume_path.empty() ? m.in->checkpoint_path : m.in->resume_path;
    absl::Status st = m.ckpt->Load(from, m.net, *m.opt, m.p, d.device);
    if (st.ok()) {
      sink->OnLog(absl::StrFormat("resumed from checkpoint %s at epoch %d batch %d (step %d)", from,
                                  m.p.epoch, m.p.batch, m.p.step));
    } else if (!absl::IsNotFound(st)) {
      sink->OnLog(absl::StrCat(st.message(), "; restarting the trial from epoch 0"));
      RETURN_IF_ERROR(BuildTwin(d, o, m));
      m.p = Progress();
    } else {
      sink->OnLog("no checkpoint to resume from; starting at epoch 0");
    }
  }
  m.result.start_epoch = m.p.epoch;
  m.result.epochs = m.p.epochs;
  return absl::OkStatus();
}

// Writes the member's checkpoint in TrainTrial's format. The RNG state it records is the one
// SeedEpoch gives the epoch: a packed MLP has no dropout, so training never draws from it.
absl::Status Save(Member& m, const Progress& p) {
  SeedEpoch(m.in->spec.seed, p.epoch);
  return m.ckpt->Save(m.net, *m.opt, p);
}

// Each member's mean loss (weighted as loss.cc's Loss): logits [K, B, C], y and w [K, B] -> [K].
torch::Tensor PackedLoss(const torch::Tensor& logits, const torch::Tensor& y,
                         const torch::Tensor& w, bool binary) {
  namespace F = torch::nn::functional;
  const int64_t k = logits.size(0), b = logits.size(1);
  torch::Tensor per_row =
      binary ? F::binary_cross_entropy_with_logits(
                   logits.squeeze(2), y.to(torch::kFloat32),
                   F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(torch::kNone))
             : F::cross_entropy(logits.reshape({k * b, logits.size(2)}), y.reshape({k * b}),
                                F::CrossEntropyFuncOptions().reduction(torch::kNone))
                   .view({k, b});
  if (!w.defined()) return per_row.mean(1);
  return (per_row * w).sum(1) / w.sum(1);
}

TrialResult Diverged(Member& m, const std::string& why) {
  m.result.outcome = TrialOutcome::kDiverged;
  m.result.reason = why;
  return m.result;
}

// The end of the member's epoch, as in TrainImpl: metrics, evaluation, checkpoint, report,
// divergence checks. Returns the member's result when it leaves the pack (done or diverged).
absl::StatusOr<std::optional<TrialResult>> EndEpoch(Member& m, const SplitData& split) {
  const TrialSpec& spec = m.in->spec;
  Progress& p = m.p;
  EpochMetrics e;
  e.epoch = p.epoch;
  const double train_loss = p.loss_sum / static_cast<double>(p.samples);
  e.Set(metrics::kTrainLoss, train_loss);
  e.Set(metrics::kLr, m.lr);
  e.Set(metrics::kMomentum, m.momentum);
  e.Set(metrics::kSeconds, p.epoch_seconds);
  e.Set(metrics::kSamplesPerSecond,
        static_cast<double>(p.samples) / std::max(p.epoch_seconds, 1e-9));
  e.Set(metrics::kElapsedSeconds, p.elapsed + p.epoch_seconds);
  e.Set(metrics::kSteps, static_cast<double>(p.step));
  Evaluate(m.net, split, &e);
  if (p.epoch + 1 == spec.epochs) EvaluateTest(m.net, split, &e);
  p.epochs.push_back(e);
  m.result.epochs.push_back(e);
  Progress next = p.NextEpoch();
  RETURN_IF_ERROR(Save(m, next));
  m.in->sink->OnEpoch(e);
  const double reference = p.epoch > 0 && p.epochs.front().epoch == 0
                               ? p.epochs.front().Get(metrics::kTrainLoss)
                               : p.first_loss;
  if (!std::isfinite(e.Get(metrics::kValLoss))) {
    return Diverged(m, absl::StrFormat("non-finite validation loss at epoch %d", p.epoch));
  }
  if (train_loss > 4 * reference) {
    return Diverged(
        m, absl::StrFormat("training loss %.4g at epoch %d exceeds 4x the %s (%.4g)", train_loss,
                           p.epoch, p.epoch == 0 ? "initial loss" : "first epoch's", reference));
  }
  p = std::move(next);
  if (p.epoch < spec.epochs) return std::optional<TrialResult>();
  m.result.outcome = TrialOutcome::kSucceeded;
  return std::optional<TrialResult>(m.result);
}

using Results = std::vector<std::optional<absl::StatusOr<TrialResult>>>;

// The packed loop over `live` (all at the same batch of their epochs). Writes each member's
// result into `out` as it leaves.
void RunPack(std::vector<Member*> live, const PackData& d, Results& out) {
  const TrialSpec& first = live[0]->in->spec;
  std::vector<Net> nets;
  std::vector<Optimizer*> opts;
  for (Member* m : live) {
    nets.push_back(m->net);
    opts.push_back(m->opt.get());
  }
  PackedMlp model(nets, opts, first.optimizer, first.model.activation);
  const Table& train = d.split.train;
  const int64_t n = train.rows();
  const int64_t bs = first.batch_size;
  // Keeps the members for which `leaves` gives no result, re-forming the pack when one leaves.
  auto reform =
      [&](const std::function<std::optional<absl::StatusOr<TrialResult>>(size_t)>& leaves) {
        std::vector<int64_t> keep;
        std::vector<Member*> stay;
        for (size_t k = 0; k < live.size(); ++k) {
          if (auto r = leaves(k)) {
            if (live[k]->in->on_done) live[k]->in->on_done(*r);
            out[live[k]->index] = std::move(*r);
          } else {
            keep.push_back(static_cast<int64_t>(k));
            stay.push_back(live[k]);
          }
        }
        if (stay.size() != live.size() && !stay.empty()) model.Keep(keep);
        live = std::move(stay);
      };
  while (!live.empty()) {
    // A member asked to stop leaves with a checkpoint at this batch boundary.
    reform([&](size_t k) -> std::optional<absl::StatusOr<TrialResult>> {
      Member& m = *live[k];
      if (!m.in->should_stop || !m.in->should_stop()) return std::nullopt;
      model.CopyToTwin(static_cast<int64_t>(k), m.net, *m.opt);
      if (absl::Status st = Save(m, m.p); !st.ok()) return absl::StatusOr<TrialResult>(st);
      m.result.outcome = TrialOutcome::kStopped;
      m.result.reason = absl::StrFormat("stopped at epoch %d batch %d", m.p.epoch, m.p.batch);
      m.result.epochs = m.p.epochs;
      return absl::StatusOr<TrialResult>(m.result);
    });
    if (live.empty()) break;
    // Each member's own batch order (EpochOrder of its seed and epoch, as alone); members with
    // the same seed and epoch share one order, and then one gathered batch.
    std::map<std::pair<uint64_t, int64_t>, torch::Tensor> orders;
    bool shared = true;
    for (Member* m : live) {
      const auto key = std::make_pair(static_cast<uint64_t>(m->in->spec.seed), m->p.epoch);
      if (m->order_epoch != m->p.epoch) {
        auto it = orders.find(key);
        m->order = it != orders.end() ? it->second : EpochOrder(key.first, key.second, n, d.device);
        m->order_epoch = m->p.epoch;
      }
      orders.emplace(key, m->order);
      shared &= m->order.is_same(live[0]->order);
    }
    const int64_t k_count = static_cast<int64_t>(live.size());
    const int64_t batch = live[0]->p.batch;
    torch::Tensor x, y, w;
    auto gather = [&](const torch::Tensor& rows) {
      x = train.x.index_select(0, rows);
      y = train.y.index_select(0, rows);
      if (d.split.train_loss_w.defined()) w = d.split.train_loss_w.index_select(0, rows);
    };
    int64_t len = 0;
    if (shared) {
      const torch::Tensor rows = BatchRows(live[0]->order, batch, bs);
      len = rows.size(0);
      gather(rows);
      std::vector<int64_t> xs = {k_count};
      xs.insert(xs.end(), x.sizes().begin(), x.sizes().end());
      x = x.unsqueeze(0).expand(xs);
      y = y.unsqueeze(0).expand({k_count, len});
      if (w.defined()) w = w.unsqueeze(0).expand({k_count, len});
    } else {
      std::vector<torch::Tensor> rows;
      for (Member* m : live) rows.push_back(BatchRows(m->order, batch, bs));
      len = rows[0].size(0);
      gather(torch::cat(rows));
      std::vector<int64_t> xs = {k_count, len};
      xs.insert(xs.end(), x.sizes().begin() + 1, x.sizes().end());
      x = x.view(xs);
      y = y.view({k_count, len});
      if (w.defined()) w = w.view({k_count, len});
    }
    std::vector<SlotStep> steps;
    for (Member* m : live) {
      m->lr = m->sched->Lr(m->p.step);
      m->momentum = m->sched->Momentum(m->p.step);
      steps.push_back({m->lr, m->momentum, m->in->spec.weight_decay});
    }
    const auto t0 = Clock::now();
    model.ZeroGrad();
    const torch::Tensor losses = PackedLoss(model.Forward(x), y, w, d.split.binary);
    const torch::Tensor values = losses.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const double* lv = values.data_ptr<double>();
    // A member whose loss is not finite leaves below; its slice's gradient and step touch no
    // other slice (every op is per slice), so the others go on as if alone.
    losses.sum().backward();
    model.Step(steps);
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    reform([&](size_t k) -> std::optional<absl::StatusOr<TrialResult>> {
      Progress& p = live[k]->p;
      p.epoch_seconds += dt;
      ++p.step;
      if (p.step == 1) p.first_loss = lv[k];
      if (!std::isfinite(lv[k])) {
        return absl::StatusOr<TrialResult>(Diverged(
            *live[k], absl::StrFormat("non-finite training loss at epoch %d step %d (lr %g)",
                                      p.epoch, p.step - 1, live[k]->lr)));
      }
      p.loss_sum += lv[k] * static_cast<double>(len);
      p.samples += len;
      ++p.batch;
      return std::nullopt;
    });
    if (live.empty() || live[0]->p.batch < d.steps_per_epoch) continue;
    reform([&](size_t k) -> std::optional<absl::StatusOr<TrialResult>> {
      Member& m = *live[k];
      model.CopyToTwin(static_cast<int64_t>(k), m.net, *m.opt);
      auto r = EndEpoch(m, d.split);
      if (!r.ok()) return absl::StatusOr<TrialResult>(r.status());
      if (!r->has_value()) return std::nullopt;
      return absl::StatusOr<TrialResult>(std::move(**r));
    });
  }
}

}  // namespace

std::vector<absl::StatusOr<TrialResult>> TrainPack(const std::vector<PackMember>& members,
                                                   const PackOptions& options) {
  Results out(members.size());
  std::vector<size_t> pack, alone;
  std::string key;
  for (size_t i = 0; i < members.size(); ++i) {
    if (absl::Status st = ValidateTrialSpec(members[i].spec); !st.ok()) {
      out[i] = st;
    } else if (!WhyUnpackable(members[i].spec).empty()) {
      alone.push_back(i);
    } else if (pack.empty() || PackingKey(members[i].spec) == key) {
      if (pack.empty()) key = PackingKey(members[i].spec);
      pack.push_back(i);
    } else {
      alone.push_back(i);
    }
  }
  if (pack.size() == 1) {
    alone.insert(alone.begin(), pack[0]);
    pack.clear();
  }
  std::vector<Member> ms(pack.size());
  try {
    if (!pack.empty()) {
      absl::StatusOr<PackData> d = PrepareData(members[pack[0]].spec, options);
      std::vector<Member*> live;
      for (size_t j = 0; j < pack.size() && d.ok(); ++j) {
        Member& m = ms[j];
        m.in = &members[pack[j]];
        m.index = pack[j];
        if (absl::Status st = PrepareMember(*d, options, m); !st.ok()) {
          out[m.index] = st;
        } else if (m.p.epoch >= m.in->spec.epochs) {  // resumed after its last epoch
          m.result.outcome = TrialOutcome::kSucceeded;
          out[m.index] = m.result;
        } else if (!live.empty() && m.p.batch != live[0]->p.batch) {
          alone.push_back(m.index);  // resumed mid-epoch elsewhere: TrainTrial resumes it again
        } else {
          live.push_back(&m);
        }
      }
      if (!d.ok()) {
        for (size_t i : pack) out[i] = d.status();
      } else if (live.size() == 1) {
        alone.push_back(live[0]->index);
      } else if (!live.empty()) {
        RunPack(live, *d, out);
      }
    }
  } catch (const std::exception& e) {
    const absl::Status st = TrainerStatusFromException(e, "packed training");
    for (size_t i : pack) {
      if (!out[i].has_value()) out[i] = st;
    }
  }
  for (size_t i : alone) {
    if (out[i].has_value()) continue;
    const PackMember& m = members[i];
    TrainOptions o;
    o.device = options.device;
    o.threads = options.threads;
    o.checkpoint_path = m.checkpoint_path;
    o.resume = m.resume;
    o.resume_path = m.resume_path;
    o.should_stop = m.should_stop;
    o.cache = options.cache;
    o.data_limits = options.data_limits;
    out[i] = TrainTrial(m.spec, o, m.sink);
  }
  std::vector<absl::StatusOr<TrialResult>> results;
  for (auto& r : out) {
    results.push_back(r.has_value() ? std::move(*r)
                                    : absl::StatusOr<TrialResult>(
                                          absl::InternalError("packed training left no result")));
  }
  return results;
}

}  // namespace hypersweep
