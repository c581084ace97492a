// The one trial-row definition: column names and cells as `trials`, `best` and `export` print them.
#include "client/trial_row.h"

#include "gtest/gtest.h"

namespace hypersweep {
namespace {

using nlohmann::json;

v1::Trial MakeTrial() {
  v1::Trial t;
  t.set_id("t-1");
  t.set_index(3);
  t.set_status(v1::SUCCEEDED);
  t.set_attempt(1);
  t.set_batch_size(64);
  t.set_schedule("one_cycle");
  t.set_fold(-1);  // no k-fold validation
  t.set_seed(7);
  t.set_epochs_reported(5);
  t.set_best_value(0.25);
  (*t.mutable_params())["weight_decay"] = "0.001";
  return t;
}

TEST(TrialRowTest, ListColumnsAreTheDocumentedHeader) {
  std::string header;
  for (const auto& name : TrialColumnNames(kTrialListColumns)) {
    header += (header.empty() ? "" : ",") + name;
  }
  EXPECT_EQ(header,
            "id,index,status,attempt,batch_size,schedule,fold,seed,epochs,metric,best,final,"
            "worker,lr_spread,reason");
  EXPECT_EQ(TrialColumnNames(kTrialExportColumns).front(), "trial_id");
  EXPECT_EQ(TrialColumnNames(kTrialExportJsonColumns).front(), "id");
}

TEST(TrialRowTest, CellsAreTypedAndNullWhereTheTrialHasNoValue) {
  const auto cells = TrialCells(MakeTrial(), kTrialListColumns, "val_loss");
  ASSERT_EQ(cells.size(), 15u);
  EXPECT_EQ(cells[0], "t-1");
  EXPECT_EQ(cells[1], 3);
  EXPECT_EQ(cells[2], "SUCCEEDED");
  EXPECT_TRUE(cells[6].is_null());  // fold
  EXPECT_EQ(cells[9], "val_loss");
  EXPECT_EQ(cells[10], 0.25);
  EXPECT_TRUE(cells[11].is_null());  // no final value
  EXPECT_TRUE(cells[12].is_null());  // no worker
  EXPECT_TRUE(cells[13].is_null());  // no auto LR
  EXPECT_TRUE(cells[14].is_null());  // no reason
  EXPECT_TRUE(TrialCells(MakeTrial(), kTrialListColumns, "")[9].is_null());
}

TEST(TrialRowTest, TableAddsParamColumnsAndJsonAParamsObject) {
  v1::Trial other = MakeTrial();
  other.set_id("t-2");
  other.mutable_params()->clear();
  (*other.mutable_params())["dropout"] = "0.5";
  const Table table = TrialTable({MakeTrial(), other}, kTrialListColumns, "");
  ASSERT_EQ(table.columns.size(), 17u);
  EXPECT_EQ(table.columns[15], "param.dropout");
  EXPECT_EQ(table.columns[16], "param.weight_decay");
  EXPECT_TRUE(table.rows[0][15].is_null());
  EXPECT_EQ(table.rows[0][16], "0.001");

  const json o = TrialJson(MakeTrial(), kTrialListColumns, "val_loss");
  EXPECT_EQ(o["id"], "t-1");
  EXPECT_EQ(o["best"], 0.25);
  EXPECT_EQ(o["params"], json({{"weight_decay", "0.001"}}));
  EXPECT_FALSE(o.contains("param.weight_decay"));
}

}  // namespace
}  // namespace hypersweep
