#include "client/trial_row.h"

#include <cmath>
#include <iterator>
#include <set>

#include "client/sweep_view.h"

namespace hypersweep {

using nlohmann::json;

namespace {

json NullIfEmpty(const std::string& s) { return s.empty() ? json() : json(s); }
json OptionalValue(bool has, double v) { return has && std::isfinite(v) ? json(v) : json(); }

// Every column: its name and how its cell is read. Indexed by TrialColumn.
struct ColumnDef {
  TrialColumn column;
  const char* name;
  json (*cell)(const v1::Trial& t, const std::string& metric);
};

constexpr ColumnDef kColumns[] = {
    {TrialColumn::kId, "id", [](const v1::Trial& t, const std::string&) { return json(t.id()); }},
    {TrialColumn::kTrialId, "trial_id",
     [](const v1::Trial& t, const std::string&) { return json(t.id()); }},
    {TrialColumn::kIndex, "index",
     [](const v1::Trial& t, const std::string&) { return json(t.index()); }},
    {TrialColumn::kStatus, "status",
     [](const v1::Trial& t, const std::string&) { return json(StatusName(t.status())); }},
    {TrialColumn::kAttempt, "attempt",
     [](const v1::Trial& t, const std::string&) { return json(t.attempt()); }},
    {TrialColumn::kBatchSize, "batch_size",
     [](const v1::Trial& t, const std::string&) { return json(t.batch_size()); }},
    {TrialColumn::kSchedule, "schedule",
     [](const v1::Trial& t, const std::string&) { return json(t.schedule()); }},
    {TrialColumn::kFold, "fold",
     [](const v1::Trial& t, const std::string&) {
       return t.fold() >= 0 ? json(t.fold()) : json();
     }},
    {TrialColumn::kSeed, "seed",
     [](const v1::Trial& t, const std::string&) { return json(t.seed()); }},
    {TrialColumn::kEpochs, "epochs",
     [](const v1::Trial& t, const std::string&) { return json(t.epochs_reported()); }},
    {TrialColumn::kMetric, "metric",
     [](const v1::Trial&, const std::string& metric) { return NullIfEmpty(metric); }},
    {TrialColumn::kBest, "best",
     [](const v1::Trial& t, const std::string&) {
       return OptionalValue(t.has_best_value(), t.best_value());
     }},
    {TrialColumn::kFinal, "final",
     [](const v1::Trial& t, const std::string&) {
       return OptionalValue(t.has_final_value(), t.final_value());
     }},
    {TrialColumn::kWorker, "worker",
     [](const v1::Trial& t, const std::string&) { return NullIfEmpty(t.worker_id()); }},
    {TrialColumn::kLrSpread, "lr_spread",
     [](const v1::Trial& t, const std::string&) {
       return OptionalValue(t.has_lr_spread(), t.lr_spread());
     }},
    {TrialColumn::kReason, "reason",
     [](const v1::Trial& t, const std::string&) { return NullIfEmpty(t.reason()); }},
};

// kColumns is indexed by the enum: keep them in the same order.
constexpr bool ColumnsInEnumOrder() {
  for (size_t i = 0; i < std::size(kColumns); ++i) {
    if (static_cast<size_t>(kColumns[i].column) != i) return false;
  }
  return true;
}
static_assert(ColumnsInEnumOrder(), "kColumns must list TrialColumn values in enum order");
static_assert(std::size(kColumns) == static_cast<size_t>(TrialColumn::kReason) + 1,
              "every TrialColumn needs a definition in kColumns");

const ColumnDef& Def(TrialColumn c) { return kColumns[static_cast<size_t>(c)]; }

}  // namespace

std::vector<std::string> TrialColumnNames(absl::Span<const TrialColumn> columns) {
  std::vector<std::string> names;
  names.reserve(columns.size());
  for (TrialColumn c : columns) names.push_back(Def(c).name);
  return names;
}

std::vector<json> TrialCells(const v1::Trial& trial, absl::Span<const TrialColumn> columns,
                             const std::string& metric) {
  std::vector<json> cells;
  cells.reserve(columns.size());
  for (TrialColumn c : columns) cells.push_back(Def(c).cell(trial, metric));
  return cells;
}

std::vector<std::string> ParamKeys(const std::vector<v1::Trial>& trials) {
  std::set<std::string> keys;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params()) keys.insert(k);
  }
  return {keys.begin(), keys.end()};
}

std::vector<std::string> ParamColumnNames(const std::vector<std::string>& keys) {
  std::vector<std::string> names;
  names.reserve(keys.size());
  for (const auto& k : keys) names.push_back("param." + k);
  return names;
}

std::vector<json> ParamCells(const v1::Trial& trial, const std::vector<std::string>& keys) {
  std::vector<json> cells;
  cells.reserve(keys.size());
  for (const auto& k : keys) {
    auto it = trial.params().find(k);
    cells.push_back(it == trial.params().end() ? json() : json(it->second));
  }
  return cells;
}

json ParamsJson(const v1::Trial& trial) {
  json p = json::object();
  for (const auto& [k, v] : trial.params()) p[k] = v;
  return p;
}

Table TrialTable(const std::vector<v1::Trial>& trials, absl::Span<const TrialColumn> columns,
                 const std::string& metric) {
  Table table;
  table.columns = TrialColumnNames(columns);
  const auto keys = ParamKeys(trials);
  for (auto& name : ParamColumnNames(keys)) table.columns.push_back(std::move(name));
  table.rows.reserve(trials.size());
  for (const auto& t : trials) {
    auto row = TrialCells(t, columns, metric);
    for (auto& cell : ParamCells(t, keys)) row.push_back(std::move(cell));
    table.rows.push_back(std::move(row));
  }
  return table;
}

json TrialJson(const v1::Trial& trial, absl::Span<const TrialColumn> columns,
               const std::string& metric) {
  json o = RowJson(TrialColumnNames(columns), TrialCells(trial, columns, metric));
  o["params"] = ParamsJson(trial);
  return o;
}

}  // namespace hypersweep
