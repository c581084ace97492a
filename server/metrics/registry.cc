#include "server/metrics/registry.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace hypersweep::metrics {
namespace {

void AddDouble(std::atomic<double>& a, double d) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Gauge::Add(double d) { AddDouble(value_, d); }

Histogram::Histogram(const std::vector<double>* bounds)
    : bounds_(bounds), buckets_(new std::atomic<uint64_t>[bounds->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // Few buckets (about a dozen): a linear scan beats a binary search here.
  size_t i = 0;
  const size_t n = bounds_->size();
  while (i < n && v > (*bounds_)[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AddDouble(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_->size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::string EscapeLabelValue(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(const std::string& v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    return std::to_string(static_cast<int64_t>(v));
  }
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {  // the shortest that reads back the same
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

bool IsValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void FamilyBase::RenderHeader(std::string& out) const {
  static const char* const kTypeNames[] = {"counter", "gauge", "histogram"};
  absl::StrAppend(&out, "# HELP ", name_, " ", EscapeHelp(help_), "\n# TYPE ", name_, " ",
                  kTypeNames[static_cast<int>(type_)], "\n");
}

std::string FamilyBase::LabelText(const std::vector<std::string>& values,
                                  const std::string& extra) const {
  std::string out;
  for (size_t i = 0; i < label_names_.size(); ++i) {
    absl::StrAppend(&out, out.empty() ? "{" : ",", label_names_[i], "=\"",
                    EscapeLabelValue(i < values.size() ? values[i] : ""), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&out, out.empty() ? "{" : ",", extra);
  return out;
}

template <typename M>
M* Family<M>::With(const std::vector<std::string>& values) {
  std::vector<std::string> key(values.begin(),
                               values.begin() + std::min(values.size(), label_names_.size()));
  key.resize(label_names_.size());
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(key);
    if (it != children_.end()) return it->second.get();
  }
  absl::MutexLock lock(&mu_);
  if (children_.size() >= kMaxSeriesPerFamily && children_.count(key) == 0) {
    key.assign(label_names_.size(), "other");  // bounded: the rest share one series
  }
  auto& slot = children_[key];
  if (!slot) slot = Make();
  return slot.get();
}

template <typename M>
void Family<M>::Render(std::string& out) const {
  RenderHeader(out);
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    RenderChild(LabelText(values, ""), *child, out);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

void CounterFamily::RenderChild(const std::string& labels, const Counter& m,
                                std::string& out) const {
  absl::StrAppend(&out, name_, labels, labels.empty() ? "" : "}", " ", m.Value(), "\n");
}

void GaugeFamily::RenderChild(const std::string& labels, const Gauge& m, std::string& out) const {
  absl::StrAppend(&out, name_, labels, labels.empty() ? "" : "}", " ", FormatValue(m.Value()),
                  "\n");
}

void HistogramFamily::RenderChild(const std::string& labels, const Histogram& m,
                                  std::string& out) const {
  // Read the buckets first and derive the count from them, so that +Inf equals _count even while
  // observations arrive during the scrape.
  const std::vector<uint64_t> buckets = m.BucketCounts();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    const std::string le = i < bounds_.size() ? FormatValue(bounds_[i]) : "+Inf";
    // The "le" label joins the family's labels: {method="x",le="0.1"}.
    absl::StrAppend(&out, name_, "_bucket", labels.empty() ? "{" : labels + ",", "le=\"", le,
                    "\"} ", cumulative, "\n");
  }
  const std::string closed = labels.empty() ? "" : labels + "}";
  absl::StrAppend(&out, name_, "_sum", closed, " ", FormatValue(m.Sum()), "\n");
  absl::StrAppend(&out, name_, "_count", closed, " ", cumulative, "\n");
}

template <typename F, typename... Args>
F& Registry::Add(const std::string& name, Args&&... args) {
  if (!IsValidMetricName(name)) {
    std::fprintf(stderr, "metrics: invalid metric name '%s'\n", name.c_str());
    std::abort();
  }
  absl::MutexLock lock(&mu_);
  for (const auto& f : families_) {
    if (f->name() == name) {
      std::fprintf(stderr, "metrics: metric '%s' registered twice\n", name.c_str());
      std::abort();
    }
  }
  auto family = std::make_unique<F>(name, std::forward<Args>(args)...);
  F& ref = *family;
  families_.push_back(std::move(family));
  return ref;
}

CounterFamily& Registry::AddCounter(const std::string& name, const std::string& help,
                                    std::vector<std::string> labels) {
  return Add<CounterFamily>(name, help, std::move(labels));
}

GaugeFamily& Registry::AddGauge(const std::string& name, const std::string& help,
                                std::vector<std::string> labels) {
  return Add<GaugeFamily>(name, help, std::move(labels));
}

HistogramFamily& Registry::AddHistogram(const std::string& name, const std::string& help,
                                        std::vector<std::string> labels,
                                        std::vector<double> bounds) {
  return Add<HistogramFamily>(name, help, std::move(labels), std::move(bounds));
}

void Registry::AddScrapeHook(std::function<void()> hook) {
  absl::MutexLock lock(&mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Render() {
  absl::MutexLock scrape(&scrape_mu_);
  std::vector<std::function<void()>> hooks;
  {
    absl::MutexLock lock(&mu_);
    hooks = hooks_;
  }
  for (const auto& h : hooks) h();  // outside mu_: hooks call With(), which may add children
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& f : families_) f->Render(out);
  return out;
}

}  // namespace hypersweep::metrics
