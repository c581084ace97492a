// A small Prometheus metrics registry: counters, gauges and histograms with fixed buckets, each in
// a family with label names; rendered in the text exposition format 0.0.4 (HELP and TYPE lines,
// escaped label values, cumulative `_bucket{le=...}` lines ending in +Inf, `_sum` and `_count`).
// No gRPC, no store: server/metrics/coordinator_metrics.h feeds it from the coordinator.
//
// The hot path is lock-free: a child (one label set) is a few atomics, and callers look it up once
// (Family::With, a reader lock and a map lookup) and keep the pointer, which stays valid as long
// as the registry. A family holds at most kMaxSeriesPerFamily label sets; further ones share one
// child whose label values are all "other", so no remote party can grow the registry without bound.
//
// Thread-safe.
#ifndef HYPERSWEEP_SERVER_METRICS_REGISTRY_H_
#define HYPERSWEEP_SERVER_METRICS_REGISTRY_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace hypersweep::metrics {

inline constexpr size_t kMaxSeriesPerFamily = 1000;

// A monotonic count (`_total`). Inc is one relaxed atomic add.
class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down, usually set at scrape time.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted in fixed buckets (upper bounds, increasing; +Inf is implied).
class Histogram {
 public:
  explicit Histogram(const std::vector<double>* bounds);
  void Observe(double v);
  // Per-bucket counts, not cumulative; the last is the +Inf bucket.
  std::vector<uint64_t> BucketCounts() const;
  uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  const std::vector<double>* bounds_;                 // owned by the family
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class Type { kCounter, kGauge, kHistogram };

class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  Type type() const { return type_; }
  // Appends this family's HELP, TYPE and sample lines.
  virtual void Render(std::string& out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}
  void RenderHeader(std::string& out) const;
  // `{a="x",b="y"` (no closing brace; `extra` appended as one more label), or "" with no labels.
  std::string LabelText(const std::vector<std::string>& values, const std::string& extra) const;

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
};

template <typename M>
class Family : public FamilyBase {
 public:
  // The child for these label values (as many as label names; missing ones are "", extra ones
  // ignored). The pointer stays valid as long as the registry.
  M* With(const std::vector<std::string>& values) ABSL_LOCKS_EXCLUDED(mu_);
  void Render(std::string& out) const override ABSL_LOCKS_EXCLUDED(mu_);

 protected:
  Family(std::string name, std::string help, Type type, std::vector<std::string> label_names)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)) {}
  virtual std::unique_ptr<M> Make() const = 0;
  virtual void RenderChild(const std::string& labels, const M& m, std::string& out) const = 0;

 private:
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_ ABSL_GUARDED_BY(mu_);
};

class CounterFamily final : public Family<Counter> {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> labels)
      : Family(std::move(name), std::move(help), Type::kCounter, std::move(labels)) {}

 private:
  std::unique_ptr<Counter> Make() const override { return std::make_unique<Counter>(); }
  void RenderChild(const std::string& labels, const Counter& m, std::string& out) const override;
};

class GaugeFamily final : public Family<Gauge> {
 public:
  GaugeFamily(std::string name, std::string help, std::vector<std::string> labels)
      : Family(std::move(name), std::move(help), Type::kGauge, std::move(labels)) {}

 private:
  std::unique_ptr<Gauge> Make() const override { return std::make_unique<Gauge>(); }
  void RenderChild(const std::string& labels, const Gauge& m, std::string& out) const override;
};

class HistogramFamily final : public Family<Histogram> {
 public:
  // `bounds`: increasing, finite upper bounds (+Inf is added).
  HistogramFamily(std::string name, std::string help, std::vector<std::string> labels,
                  std::vector<double> bounds)
      : Family(std::move(name), std::move(help), Type::kHistogram, std::move(labels)),
        bounds_(std::move(bounds)) {}

 private:
  std::unique_ptr<Histogram> Make() const override { return std::make_unique<Histogram>(&bounds_); }
  void RenderChild(const std::string& labels, const Histogram& m, std::string& out) const override;
  const std::vector<double> bounds_;
};

class Registry {
 public:
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and be new (checked: a programming error aborts).
  CounterFamily& AddCounter(const std::string& name, const std::string& help,
                            std::vector<std::string> labels = {});
  GaugeFamily& AddGauge(const std::string& name, const std::string& help,
                        std::vector<std::string> labels = {});
  HistogramFamily& AddHistogram(const std::string& name, const std::string& help,
                                std::vector<std::string> labels, std::vector<double> bounds);
  // Runs before each Render (in the order added, one scrape at a time): sets the gauges computed
  // at scrape time. Must not call Render.
  void AddScrapeHook(std::function<void()> hook);

  // The exposition text (Content-Type: text/plain; version=0.0.4), families in the order added.
  std::string Render() ABSL_LOCKS_EXCLUDED(mu_, scrape_mu_);

 private:
  template <typename F, typename... Args>
  F& Add(const std::string& name, Args&&... args);

  absl::Mutex scrape_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // one scrape (hooks + render) at a time
  absl::Mutex mu_;
  std::vector<std::unique_ptr<FamilyBase>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> hooks_ ABSL_GUARDED_BY(mu_);
};

// Text-format helpers (exposed for tests).
// A label value with \, " and newline escaped.
std::string EscapeLabelValue(const std::string& v);
// HELP text with \ and newline escaped.
std::string EscapeHelp(const std::string& v);
// A sample value: integers without a fraction, +Inf, -Inf, NaN, else shortest round-trip.
std::string FormatValue(double v);
bool IsValidMetricName(const std::string& name);

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_SERVER_METRICS_REGISTRY_H_
