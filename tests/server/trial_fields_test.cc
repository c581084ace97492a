// kTrialFields (records.h) is the one list of a trial's stored fields: the SQLite columns, the
// in-memory store, MutableFieldsOf and the v1::Trial conversion are all derived from it. These
// tests fail when a field is added to TrialRecord without an entry, or when something derived
// from the table drops or mixes up a field.
#include "server/store/trial_fields.h"

#include <sqlite3.h>

#include <set>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "server/service/convert.h"
#include "server/store/store.h"
#include "tests/support/files.h"

namespace hypersweep {
namespace {

using test_support::TempDir;

// A trial whose every field differs from a default TrialRecord's.
TrialRecord FullTrial() {
  TrialRecord t;
  t.id = "tr-1";
  t.sweep_id = "sw-1";
  t.index = 7;
  t.spec_json = R"({"batch_size":64})";
  t.params = {{"batch_size", "64"}, {"weight_decay", "0.0001"}};
  t.batch_size = 64;
  t.schedule = "one_cycle";
  t.fold = 2;
  t.seed = 0x7FFFFFFFFFFFFFF0ULL;
  t.role = TrialRole::kLrRangeTest;
  t.status = TrialStatus::kLeased;
  t.attempt = 3;
  t.attempts_used = 2;
  t.lease_token = "secret-token";
  t.lease_expiry_ms = 1700000000123;
  t.worker_id = "w-9";
  t.failure_class = FailureClass::kTransient;
  t.reason = "was preempted";
  t.checkpoint_uri = "file:///ckpt/tr-1";
  t.epochs_reported = 5;
  t.lr_spread = 1.37;
  return t;
}

// The kTrialFields entries whose value in `a` differs from `b`'s.
std::vector<std::string> DifferingFields(const TrialRecord& a, const TrialRecord& b) {
  std::vector<std::string> out;
  for (const TrialField& f : kTrialFields) {
    std::visit(
        [&](auto TrialRecord::*m) {
          if (!(a.*m == b.*m)) out.push_back(f.column);
        },
        f.member);
  }
  return out;
}

TEST(TrialFieldsTest, TheFullTrialSetsEveryField) {
  // Keeps the tests below meaningful: a new field must be given a value in FullTrial().
  EXPECT_EQ(DifferingFields(FullTrial(), TrialRecord()).size(),
            static_cast<size_t>(kTrialFieldCount));
}

TEST(TrialFieldsTest, ColumnsAndProtoNamesAreUnique) {
  std::set<std::string> columns, protos;
  for (const TrialField& f : kTrialFields) {
    EXPECT_TRUE(columns.insert(f.column).second) << f.column;
    if (f.proto != nullptr) {
      EXPECT_TRUE(protos.insert(f.proto).second) << f.proto;
    }
  }
}

TEST(TrialFieldsTest, MutableFieldsOfCopiesTheIdAndTheUpdatedFieldsOnly) {
  // Every other field keeps TrialRecord's default, which FullTrial() differs from.
  std::vector<std::string> not_copied;
  for (const TrialField& f : kTrialFields) {
    if (f.write != TrialField::Write::kUpdate && std::string(f.column) != "id") {
      not_copied.push_back(f.column);
    }
  }
  EXPECT_EQ(DifferingFields(MutableFieldsOf(FullTrial()), FullTrial()), not_copied);
}

class TrialFieldsStoreTest : public ::testing::TestWithParam<bool> {};

// Every field survives insert -> read, and the kUpdate and kResolve writes change exactly their
// own fields, in both stores.
TEST_P(TrialFieldsStoreTest, EveryFieldRoundTrips) {
  TempDir dir("hs-trial-fields");
  StoreOptions o;
  o.path = GetParam() ? dir.File("hs.db") : ":memory:";
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok()) << store.status();
  SweepRecord sweep;
  sweep.id = "sw-1";
  sweep.name = "s";
  sweep.trial_count = 1;
  WriteBatch b;
  b.put_sweeps.push_back(sweep);
  b.insert_trials.push_back(FullTrial());
  ASSERT_TRUE((*store)->Write(std::move(b)).ok());
  auto state = (*store)->LoadState();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->trials.size(), 1u);
  EXPECT_EQ(DifferingFields(state->trials[0], FullTrial()), std::vector<std::string>{});

  // A changed value in every field; update and resolve writes take only their own.
  TrialRecord changed;
  changed.id = "tr-1";
  changed.sweep_id = "sw-other";
  changed.index = 99;
  changed.spec_json = "{}";
  changed.params = {{"k", "v"}};
  changed.status = TrialStatus::kSucceeded;
  changed.attempt = 4;
  changed.lease_token = "t2";
  changed.reason = "done";
  changed.epochs_reported = 9;
  changed.role = TrialRole::kTrain;
  WriteBatch w;
  w.resolve_trials.push_back(changed);
  w.update_trials.push_back(MutableFieldsOf(changed));
  ASSERT_TRUE((*store)->Write(std::move(w)).ok());
  state = (*store)->LoadState();
  ASSERT_TRUE(state.ok()) << state.status();
  TrialRecord expected = FullTrial();
  CopyTrialFields(changed, TrialField::Write::kResolve, &expected);
  CopyTrialFields(changed, TrialField::Write::kUpdate, &expected);
  // epochs_reported is stored as written; a final trial's summaries are recomputed (none here).
  EXPECT_EQ(DifferingFields(state->trials[0], expected), std::vector<std::string>{});
  EXPECT_EQ(state->trials[0].sweep_id, "sw-1");  // kInsert: never rewritten
}

INSTANTIATE_TEST_SUITE_P(Stores, TrialFieldsStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Sqlite" : "InMemory"; });

// The trials table has exactly the kTrialFields columns, in order.
TEST(TrialFieldsTest, TheTrialsTableHasTheTableColumns) {
  TempDir dir("hs-trial-columns");
  StoreOptions o;
  o.path = dir.File("hs.db");
  {
    auto store = Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status();
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(o.path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info('trials') ORDER BY cid", -1,
                               &s, nullptr),
            SQLITE_OK);
  std::vector<std::string> columns;
  while (sqlite3_step(s) == SQLITE_ROW) {
    columns.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  std::vector<std::string> expected;
  for (const TrialField& f : kTrialFields) expected.push_back(f.column);
  EXPECT_EQ(columns, expected);
}

TEST(TrialFieldsTest, EveryProtoNameIsAV1TrialField) {
  for (const TrialField& f : kTrialFields) {
    if (f.proto == nullptr) continue;
    EXPECT_NE(v1::Trial::descriptor()->FindFieldByName(f.proto), nullptr) << f.proto;
  }
}

TEST(TrialFieldsTest, TheProtoCarriesEveryNamedFieldAndNotTheLeaseToken) {
  const TrialRecord t = FullTrial();
  v1::Trial p;
  ToProto(t, &p);
  EXPECT_EQ(p.id(), t.id);
  EXPECT_EQ(p.sweep_id(), t.sweep_id);
  EXPECT_EQ(p.index(), t.index);
  EXPECT_EQ(p.spec_json(), t.spec_json);
  ASSERT_EQ(p.params().size(), 2u);
  EXPECT_EQ(p.params().at("weight_decay"), "0.0001");
  EXPECT_EQ(p.batch_size(), t.batch_size);
  EXPECT_EQ(p.schedule(), t.schedule);
  EXPECT_EQ(p.fold(), t.fold);
  EXPECT_EQ(p.seed(), t.seed);
  EXPECT_EQ(p.status(), v1::LEASED);
  EXPECT_EQ(p.attempt(), t.attempt);
  EXPECT_EQ(p.lease_expiry_unix_ms(), t.lease_expiry_ms);
  EXPECT_EQ(p.worker_id(), t.worker_id);
  EXPECT_EQ(p.failure_class(), v1::TRANSIENT);
  EXPECT_EQ(p.reason(), t.reason);
  EXPECT_EQ(p.checkpoint_uri(), t.checkpoint_uri);
  EXPECT_EQ(p.epochs_reported(), t.epochs_reported);
  EXPECT_EQ(p.role(), v1::LR_RANGE_TEST);
  EXPECT_EQ(p.SerializeAsString().find("secret-token"), std::string::npos);

  TrialRecord done = t;
  done.status = TrialStatus::kSucceeded;
  v1::Trial q;
  ToProto(done, &q);
  EXPECT_EQ(q.lease_expiry_unix_ms(), 0) << "sent only while leased";
}

}  // namespace
}  // namespace hypersweep
