// hypersweepd's metrics (docs/METRICS.md lists them): the registry, the RPC interceptor's
// families, the store's group-commit observer, and the scrape-time gauges read from the
// Scheduler and the database files. server/coordinator.cc wires it; nothing else knows it exists.
#ifndef HYPERSWEEP_SERVER_METRICS_COORDINATOR_METRICS_H_
#define HYPERSWEEP_SERVER_METRICS_COORDINATOR_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include "server/metrics/registry.h"
#include "server/metrics/rpc_metrics.h"
#include "server/scheduler/scheduler.h"
#include "server/store/group_commit.h"

namespace hypersweep::metrics {

class CoordinatorMetrics {
 public:
  // `db_path`: the SQLite file whose size (and its -wal file's) is reported; ":memory:": none.
  explicit CoordinatorMetrics(const std::string& db_path);

  Registry& registry() { return registry_; }
  RpcMetrics& rpc() { return rpc_; }

  // For GroupCommitStore::SetCommitObserver: group size and latency, commit errors, and trials
  // made final by the committed batches. This object must outlive the store's writer.
  CommitObserver Observer();

  // Reads `scheduler->Stats()` at each scrape. `scheduler` must outlive every Render().
  void WatchScheduler(Scheduler* scheduler);

 private:
  void OnCommit(const CommitObservation& c);

  Registry registry_;
  RpcMetrics rpc_;
  Counter* commits_;
  Counter* commit_errors_;
  Histogram* group_batches_;
  Histogram* commit_seconds_;
  std::array<Counter*, 8> finished_{};  // by TrialStatus
};

}  // namespace hypersweep::metrics

#endif  // HYPERSWEEP_SERVER_METRICS_COORDINATOR_METRICS_H_
