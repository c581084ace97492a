#include "server/store/sqlite_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/status_macros.h"
#include "nlohmann/json.hpp"
#include "server/store/metric_json.h"
#include "server/store/sqlite_schema.h"
#include "server/store/sqlite_statement.h"
#include "server/store/sqlite_trials.h"

namespace hypersweep {
namespace {

absl::StatusOr<sqlite3*> OpenDb(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    absl::Status st = absl::UnavailableError(
        absl::StrCat("cannot open database '", path, "': ", db ? sqlite3_errmsg(db) : "?"));
    sqlite3_close(db);
    return st;
  }
  sqlite3_busy_timeout(db, 5000);
  return db;
}

constexpr char kSelectEpochs[] =
    "SELECT epoch, metrics_json FROM epochs WHERE trial_id = ?1 ORDER BY epoch";

// The rows of a kSelectEpochs statement (trial id bound), with only the named metrics (all when
// empty); a value that is not a number is left out.
absl::StatusOr<std::vector<EpochRecord>> ReadEpochs(Stmt& s, const std::set<std::string>& metrics) {
  std::vector<EpochRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    EpochRecord e;
    e.epoch = s.Int(0);
    auto j = nlohmann::json::parse(s.Text(1), nullptr, false);
    if (j.is_object()) {
      for (auto it = j.begin(); it != j.end(); ++it) {
        if (it->is_number() && (metrics.empty() || metrics.count(it.key()))) {
          e.values[it.key()] = it->get<double>();
        }
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

// hs_metric(metrics_json, name): the named metric of one stored epoch, or NULL. FindMetric reads
// the text bit-exact (SQLite's own JSON functions convert text to double with their own, not
// always correctly rounded, routine) and without building a document: it runs once per stored
// epoch of every running trial in a sorted ListTrials.
void MetricFunction(sqlite3_context* ctx, int /*argc*/, sqlite3_value** argv) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  const auto* name = reinterpret_cast<const char*>(sqlite3_value_text(argv[1]));
  if (text == nullptr || name == nullptr) return sqlite3_result_null(ctx);
  auto v = FindMetric(std::string_view(text, sqlite3_value_bytes(argv[0])),
                      std::string_view(name, sqlite3_value_bytes(argv[1])));
  v ? sqlite3_result_double(ctx, *v) : sqlite3_result_null(ctx);
}

absl::Status RegisterFunctions(sqlite3* db) {
  if (sqlite3_create_function(db, "hs_metric", 2,
                              SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                              &MetricFunction, nullptr, nullptr) != SQLITE_OK) {
    return SqlError(db, "create function hs_metric");
  }
  return absl::OkStatus();
}

// IsFinal(t.status) in SQL.
std::string IsFinalSql() { return absl::StrCat("t.status IN ", FinalStatusesSql()); }

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> SqliteStore::Open(const StoreOptions& options) {
  auto store = std::unique_ptr<SqliteStore>(new SqliteStore(options));
  RETURN_IF_ERROR(store->Init());
  store->StartWriter();
  return std::unique_ptr<Store>(std::move(store));
}

SqliteStore::SqliteStore(const StoreOptions& options)
    : GroupCommitStore(options.max_group), options_(options) {}

SqliteStore::~SqliteStore() {
  Close();
  for (auto& [sql, stmt] : write_cache_) sqlite3_finalize(stmt);
  sqlite3_close(write_db_);
  {
    absl::MutexLock lock(&read_mu_);
    sqlite3_close(read_db_);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

absl::Status SqliteStore::Init() {
  // One coordinator per file: a second one would break the lease fencing. flock() is released
  // when the process dies, so a kill -9 never leaves a stale lock behind.
  const std::string lock_path = options_.path + ".lock";
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot open lock file '", lock_path, "': ", std::strerror(errno)));
  }
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::UnavailableError(absl::StrCat("database '", options_.path,
                                               "' is in use by another hypersweepd (", lock_path,
                                               " is locked)"));
  }
  ASSIGN_OR_RETURN(write_db_, OpenDb(options_.path));
  RETURN_IF_ERROR(Exec(write_db_, "PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(
      Exec(write_db_, options_.sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(Exec(write_db_, "PRAGMA foreign_keys=OFF"));
  RETURN_IF_ERROR(MigrateSchema(write_db_, options_.path));
  absl::MutexLock lock(&read_mu_);
  ASSIGN_OR_RETURN(read_db_, OpenDb(options_.path));
  return RegisterFunctions(read_db_);
}

absl::Status SqliteStore::CommitGroup(const std::vector<WriteBatch*>& batches,
                                      std::vector<absl::Status>* results) {
  auto exec = [this](const char* sql) { return CachedStmt(write_db_, write_cache_, sql).Run(); };
  // Fast path: every batch in one transaction with no savepoints. A batch that fails is rare (a
  // duplicate trial id, a trial that does not exist); then the whole group is rolled back and
  // redone with a savepoint per batch, so only the failing batch is left out.
  RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
  const bool all_applied = std::all_of(batches.begin(), batches.end(),
                                       [this](const WriteBatch* b) { return Apply(*b).ok(); });
  if (!all_applied) {
    exec("ROLLBACK").IgnoreError();
    RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    for (size_t i = 0; i < batches.size(); ++i) {
      if (auto st = exec("SAVEPOINT batch"); !st.ok()) {
        exec("ROLLBACK").IgnoreError();
        return st;
      }
      (*results)[i] = Apply(*batches[i]);
      if (!(*results)[i].ok()) exec("ROLLBACK TO batch").IgnoreError();
      exec("RELEASE batch").IgnoreError();
    }
  }
  if (auto st = exec("COMMIT"); !st.ok()) {
    exec("ROLLBACK").IgnoreError();
    return st;
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Summarize(const std::string& trial_id) {
  sqlite3* db = write_db_;
  struct Summary {
    double min, max, final_value;
    int64_t final_epoch;
  };
  std::map<std::string, Summary> by_name;
  Stmt s = CachedStmt(db, write_cache_, kSelectEpochs);
  s.Bind(1, trial_id);
  ASSIGN_OR_RETURN(std::vector<EpochRecord> epochs, ReadEpochs(s, {}));
  for (const EpochRecord& e : epochs) {  // in epoch order
    for (const auto& [name, v] : e.values) {
      auto [m, fresh] = by_name.try_emplace(name, Summary{v, v, v, e.epoch});
      if (fresh) continue;
      m->second.min = std::min(m->second.min, v);
      m->second.max = std::max(m->second.max, v);
      m->second.final_value = v;
      m->second.final_epoch = e.epoch;
    }
  }
  RETURN_IF_ERROR(CachedStmt(db, write_cache_, "DELETE FROM trial_metrics WHERE trial_id = ?1")
                      .Bind(1, trial_id)
                      .Run());
  Stmt ins = CachedStmt(
      db, write_cache_,
      "INSERT INTO trial_metrics (trial_id, name, sweep_id, min_value, max_value, final_epoch, "
      "final_value) VALUES (?1, ?2, (SELECT sweep_id FROM trials WHERE id = ?1), ?3, ?4, ?5, ?6)");
  for (const auto& [name, m] : by_name) {
    ins.Bind(1, trial_id).Bind(2, name).Bind(3, m.min).Bind(4, m.max);
    ins.Bind(5, m.final_epoch).Bind(6, m.final_value);
    RETURN_IF_ERROR(ins.Run());
  }
  return absl::OkStatus();
}

absl::Status SqliteStore::Apply(const WriteBatch& b) {
  sqlite3* db = write_db_;
  std::vector<const std::string*> finals;  // trials that are final after this batch
  if (b.probe) {
    RETURN_IF_ERROR(
        CachedStmt(db, write_cache_, "UPDATE schema_version SET version = version").Run());
  }
  if (!b.put_sweeps.empty()) {
    Stmt s = CachedStmt(
        db, write_cache_,
        "INSERT INTO sweeps (id, name, spec_text, objective_metric, maximize, created_ms, "
        "max_attempts, cancelled, trial_count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
        "ON CONFLICT (id) DO UPDATE SET name = ?2, spec_text = ?3, objective_metric = ?4, "
        "maximize = ?5, created_ms = ?6, max_attempts = ?7, cancelled = ?8, trial_count = ?9");
    for (const auto& w : b.put_sweeps) {
      s.Bind(1, w.id).Bind(2, w.name).Bind(3, w.spec_text).Bind(4, w.objective_metric);
      s.Bind(5, int64_t{w.maximize}).Bind(6, w.created_ms).Bind(7, int64_t{w.max_attempts});
      s.Bind(8, int64_t{w.cancelled}).Bind(9, w.trial_count);
      RETURN_IF_ERROR(s.Run());
    }
  }
  if (!b.insert_trials.empty()) {
    Stmt s = CachedStmt(db, write_cache_, InsertTrialSql());
    for (const auto& t : b.insert_trials) {
      BindTrial(s, t, TrialField::Write::kInsert);
      if (auto st = s.Run(); !st.ok()) {
        if (sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY ||
            sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_UNIQUE) {
          return absl::AlreadyExistsError(absl::StrCat("trial ", t.id));
        }
        return st;
      }
      if (IsFinal(t.status)) finals.push_back(&t.id);
    }
  }
  if (!b.resolve_trials.empty()) {
    Stmt s = CachedStmt(db, write_cache_, UpdateTrialSql(TrialField::Write::kResolve));
    for (const auto& t : b.resolve_trials) {
      BindTrial(s, t, TrialField::Write::kResolve);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(db) == 0) return absl::NotFoundError(absl::StrCat("trial ", t.id));
    }
  }
  if (!b.update_trials.empty()) {
    Stmt s = CachedStmt(db, write_cache_, UpdateTrialSql(TrialField::Write::kUpdate));
    for (const auto& t : b.update_trials) {
      BindTrial(s, t, TrialField::Write::kUpdate);
      RETURN_IF_ERROR(s.Run());
      if (sqlite3_changes(db) == 0) return absl::NotFoundError(absl::StrCat("trial ", t.id));
      if (IsFinal(t.status)) finals.push_back(&t.id);
    }
  }
  if (!b.add_epochs.empty()) {
    Stmt ins = CachedStmt(
        db, write_cache_,
        "INSERT OR IGNORE INTO epochs (trial_id, epoch, metrics_json) VALUES (?1, ?2, ?3)");
    for (const auto& e : b.add_epochs) {
      for (const auto& r : e.epochs) {
        nlohmann::json m = nlohmann::json::object();
        for (const auto& [k, v] : r.values) m[k] = v;
        ins.Bind(1, e.trial_id).Bind(2, r.epoch).Bind(3, m.dump());
        RETURN_IF_ERROR(ins.Run());  // an epoch already stored is ignored: the first report wins
      }
    }
  }
  for (const std::string* id : finals) RETURN_IF_ERROR(Summarize(*id));
  if (!b.put_lr_curves.empty()) {
    Stmt s = CachedStmt(
        db, write_cache_,
        "INSERT OR REPLACE INTO lr_curves (trial_id, points_json, suggested_lr) VALUES (?1, ?2, "
        "?3)");
    for (const auto& [id, c] : b.put_lr_curves) {
      nlohmann::json pts = nlohmann::json::array();
      // [step, lr, loss, smoothed_loss]; a diverged step has null losses.
      for (const auto& p : c.points) {
        pts.push_back(p.diverged ? nlohmann::json{p.step, p.lr, nullptr, nullptr}
                                 : nlohmann::json{p.step, p.lr, p.loss, p.smoothed_loss});
      }
      s.Bind(1, id).Bind(2, pts.dump());
      c.suggested_lr ? void(s.Bind(3, *c.suggested_lr)) : void(s.BindNull(3));
      RETURN_IF_ERROR(s.Run());
    }
  }
  if (!b.put_workers.empty()) {
    Stmt s = CachedStmt(
        db, write_cache_,
        "INSERT OR REPLACE INTO workers (id, host, device, memory_bytes, libtorch_version, slots, "
        "registered_ms, last_seen_ms, consecutive_failures, quarantined, max_failures) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    for (const auto& w : b.put_workers) {
      s.Bind(1, w.id).Bind(2, w.host).Bind(3, w.device).Bind(4, w.memory_bytes);
      s.Bind(5, w.libtorch_version).Bind(6, int64_t{w.slots}).Bind(7, w.registered_ms);
      s.Bind(8, w.last_seen_ms).Bind(9, int64_t{w.consecutive_failures});
      s.Bind(10, int64_t{w.quarantined}).Bind(11, int64_t{w.max_consecutive_failures});
      RETURN_IF_ERROR(s.Run());
    }
  }
  if (!b.delete_workers.empty()) {
    Stmt s = CachedStmt(db, write_cache_, "DELETE FROM workers WHERE id = ?1");
    for (const auto& id : b.delete_workers) {
      s.Bind(1, id);
      RETURN_IF_ERROR(s.Run());
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<StoreState> SqliteStore::LoadState() {
  absl::MutexLock lock(&read_mu_);
  sqlite3* db = read_db_;
  StoreState st;
  RETURN_IF_ERROR(Exec(db, "BEGIN"));  // one snapshot for all tables
  auto done = [db](absl::Status s) {
    Exec(db, "COMMIT").IgnoreError();
    return s;
  };
  {
    Stmt s(db,
           "SELECT id, name, spec_text, objective_metric, maximize, created_ms, max_attempts, "
           "cancelled, trial_count FROM sweeps ORDER BY seq");
    for (;;) {
      auto row = s.Step();
      if (!row.ok()) return done(row.status());
      if (!*row) break;
      SweepRecord w;
      w.id = s.Text(0);
      w.name = s.Text(1);
      w.spec_text = s.Text(2);
      w.objective_metric = s.Text(3);
      w.maximize = s.Int(4) != 0;
      w.created_ms = s.Int(5);
      w.max_attempts = static_cast<int32_t>(s.Int(6));
      w.cancelled = s.Int(7) != 0;
      w.trial_count = s.Int(8);
      st.sweeps.push_back(std::move(w));
    }
  }
  {
    Stmt s(db,
           absl::StrCat("SELECT ", TrialColumnsSql(),
                        " FROM trials t JOIN sweeps w ON w.id = t.sweep_id ORDER BY w.seq, t.idx"));
    for (;;) {
      auto row = s.Step();
      if (!row.ok()) return done(row.status());
      if (!*row) break;
      st.trials.push_back(ReadTrial(s));
    }
  }
  {
    Stmt s(
        db,
        "SELECT id, host, device, memory_bytes, libtorch_version, slots, registered_ms, "
        "last_seen_ms, consecutive_failures, quarantined, max_failures FROM workers ORDER BY id");
    for (;;) {
      auto row = s.Step();
      if (!row.ok()) return done(row.status());
      if (!*row) break;
      WorkerRecord w;
      w.id = s.Text(0);
      w.host = s.Text(1);
      w.device = s.Text(2);
      w.memory_bytes = s.Int(3);
      w.libtorch_version = s.Text(4);
      w.slots = static_cast<int32_t>(s.Int(5));
      w.registered_ms = s.Int(6);
      w.last_seen_ms = s.Int(7);
      w.consecutive_failures = static_cast<int32_t>(s.Int(8));
      w.quarantined = s.Int(9) != 0;
      w.max_consecutive_failures = static_cast<int32_t>(s.Int(10));
      st.workers.push_back(std::move(w));
    }
  }
  {
    Stmt s(db, "SELECT trial_id, epoch FROM epochs ORDER BY trial_id, epoch");
    for (;;) {
      auto row = s.Step();
      if (!row.ok()) return done(row.status());
      if (!*row) break;
      st.epoch_numbers[s.Text(0)].push_back(s.Int(1));
    }
  }
  return done(absl::OkStatus()).ok() ? absl::StatusOr<StoreState>(std::move(st))
                                     : absl::InternalError("unreachable");
}

absl::StatusOr<TrialPage> SqliteStore::ListTrials(const TrialQuery& q) {
  absl::MutexLock lock(&read_mu_);
  sqlite3* db = read_db_;
  std::string where = "t.sweep_id = ?1";
  if (!q.statuses.empty()) {
    std::vector<std::string> codes;
    for (TrialStatus s : q.statuses) codes.push_back(absl::StrCat(static_cast<int>(s)));
    absl::StrAppend(&where, " AND t.status IN (", absl::StrJoin(codes, ","), ")");
  }
  TrialPage page;
  RETURN_IF_ERROR(Exec(db, "BEGIN"));
  auto finish = [db](absl::Status s) {
    Exec(db, "COMMIT").IgnoreError();
    return s;
  };
  {
    Stmt c(db, absl::StrCat("SELECT COUNT(*) FROM trials t WHERE ", where));
    c.Bind(1, q.sweep_id);
    auto row = c.Step();
    if (!row.ok()) return finish(row.status());
    page.total = c.Int(0);
  }
  // Summaries (trial_metrics) and epochs_reported are written when a trial becomes final; for a
  // trial still queued or leased both are counted from its stored epochs here, so a report costs
  // one row, not one per metric plus a rewrite of the trial.
  const std::string is_final = IsFinalSql();
  const std::string epochs_reported =
      absl::StrCat("CASE WHEN ", is_final,
                   " THEN t.epochs_reported ELSE (SELECT COUNT(*) FROM epochs e WHERE e.trial_id = "
                   "t.id) END");
  std::string sql;
  if (q.sort_metric.empty()) {
    sql = absl::StrCat("SELECT ", TrialColumnsSql(), ", ", epochs_reported,
                       ", NULL, NULL FROM trials t WHERE ", where,
                       " ORDER BY t.idx LIMIT ?3 OFFSET ?4");
  } else {
    auto live = [&](const char* stored, const char* agg) {
      return absl::StrCat("CASE WHEN ", is_final, " THEN ", stored, " ELSE (SELECT ", agg,
                          "(hs_metric(e.metrics_json, ?2)) FROM epochs e WHERE e.trial_id = t.id) "
                          "END");
    };
    const std::string final_value = absl::StrCat(
        "CASE WHEN ", is_final,
        " THEN m.final_value ELSE (SELECT hs_metric(e.metrics_json, ?2) FROM epochs e WHERE "
        "e.trial_id = t.id AND hs_metric(e.metrics_json, ?2) IS NOT NULL ORDER BY e.epoch DESC "
        "LIMIT 1) END");
    const char* key = q.sort_by_final ? "v_final" : "v_best";
    const std::string best = q.maximize ? live("m.max_value", "max") : live("m.min_value", "min");
    sql = absl::StrCat("SELECT * FROM (SELECT ", TrialColumnsSql(), ", ", epochs_reported, ", ",
                       best, " AS v_best, ", final_value,
                       " AS v_final, t.idx AS v_idx FROM trials t LEFT JOIN trial_metrics m ON "
                       "m.trial_id = t.id AND m.name = ?2 WHERE ",
                       where, ") ORDER BY ",
                       q.order_by_index ? std::string()
                                        : absl::StrCat("(", key, " IS NULL), ", key,
                                                       q.maximize ? " DESC, " : " ASC, "),
                       "v_idx LIMIT ?3 OFFSET ?4");
  }
  Stmt s(db, sql);
  s.Bind(1, q.sweep_id).Bind(2, q.sort_metric).Bind(3, q.limit).Bind(4, q.offset);
  for (;;) {
    auto row = s.Step();
    if (!row.ok()) return finish(row.status());
    if (!*row) break;
    TrialListEntry e;
    e.trial = ReadTrial(s);
    const int c = kTrialFieldCount;
    e.trial.epochs_reported = s.Int(c);
    if (!s.IsNull(c + 1)) e.best_value = s.Double(c + 1);
    if (!s.IsNull(c + 2)) e.final_value = s.Double(c + 2);
    page.trials.push_back(std::move(e));
  }
  finish(absl::OkStatus()).IgnoreError();
  return page;
}

absl::StatusOr<std::vector<EpochRecord>> SqliteStore::GetEpochs(
    const std::string& trial_id, const std::set<std::string>& metrics) {
  absl::MutexLock lock(&read_mu_);
  Stmt s(read_db_, kSelectEpochs);
  s.Bind(1, trial_id);
  return ReadEpochs(s, metrics);
}

absl::StatusOr<LrCurveRecord> SqliteStore::GetLrCurve(const std::string& trial_id) {
  absl::MutexLock lock(&read_mu_);
  Stmt s(read_db_, "SELECT points_json, suggested_lr FROM lr_curves WHERE trial_id = ?1");
  s.Bind(1, trial_id);
  ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("no LR curve for ", trial_id));
  LrCurveRecord c;
  auto j = nlohmann::json::parse(s.Text(0), nullptr, false);
  if (j.is_array()) {
    // Releases before LrCurvePoint.diverged stored a diverged step's loss as 1e30.
    constexpr double kLegacyDivergedLoss = 1e30;
    for (const auto& p : j) {
      if (!p.is_array() || p.size() != 4 || !p[0].is_number() || !p[1].is_number()) continue;
      LrPoint point{p[0].get<int64_t>(), p[1].get<double>()};
      point.diverged = !p[2].is_number() || !p[3].is_number() ||
                       p[2].get<double>() >= kLegacyDivergedLoss ||
                       p[3].get<double>() >= kLegacyDivergedLoss;
      if (!point.diverged) {
        point.loss = p[2].get<double>();
        point.smoothed_loss = p[3].get<double>();
      }
      c.points.push_back(point);
    }
  }
  if (!s.IsNull(1)) c.suggested_lr = s.Double(1);
  return c;
}

}  // namespace hypersweep
