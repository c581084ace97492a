#include "server/store/sqlite_trials.h"

#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

std::string ParamsToJson(const TrialParams& params) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [k, v] : params) j.push_back({k, v});
  return j.dump();
}

TrialParams ParamsFromJson(const std::string& s) {
  TrialParams out;
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& p : j) {
    if (p.is_array() && p.size() == 2 && p[0].is_string() && p[1].is_string()) {
      out.emplace_back(p[0].get<std::string>(), p[1].get<std::string>());
    }
  }
  return out;
}

template <typename T>
constexpr bool kIsInteger = std::is_integral_v<T> || std::is_enum_v<T>;

// The column's type and default, as ALTER TABLE ADD COLUMN declares it.
std::string ColumnDecl(const TrialField& f) {
  return std::visit(
      [](auto TrialRecord::*m) -> std::string {
        using T = std::remove_reference_t<decltype(std::declval<TrialRecord>().*m)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return "TEXT NOT NULL DEFAULT ''";
        } else if constexpr (std::is_same_v<T, TrialParams>) {
          return "TEXT NOT NULL DEFAULT '[]'";
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          return "REAL";
        } else {
          static_assert(kIsInteger<T>);
          return "INTEGER NOT NULL DEFAULT 0";
        }
      },
      f.member);
}

void BindField(Stmt& s, int i, const TrialRecord& t, const TrialField& f) {
  std::visit(
      [&](auto TrialRecord::*m) {
        using T = std::remove_cv_t<std::remove_reference_t<decltype(t.*m)>>;
        const T& v = t.*m;
        if constexpr (std::is_same_v<T, std::string>) {
          s.Bind(i, v);
        } else if constexpr (std::is_same_v<T, TrialParams>) {
          s.Bind(i, ParamsToJson(v));
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          v.has_value() ? s.Bind(i, *v) : s.BindNull(i);
        } else {
          static_assert(kIsInteger<T>);
          s.Bind(i, static_cast<int64_t>(v));
        }
      },
      f.member);
}

void ReadField(const Stmt& s, int c, const TrialField& f, TrialRecord* t) {
  std::visit(
      [&](auto TrialRecord::*m) {
        using T = std::remove_cv_t<std::remove_reference_t<decltype(t->*m)>>;
        T& v = t->*m;
        if constexpr (std::is_same_v<T, std::string>) {
          v = s.Text(c);
        } else if constexpr (std::is_same_v<T, TrialParams>) {
          v = ParamsFromJson(s.Text(c));
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          v = s.IsNull(c) ? std::nullopt : std::optional<double>(s.Double(c));
        } else {
          static_assert(kIsInteger<T>);
          v = static_cast<T>(s.Int(c));
        }
      },
      f.member);
}

std::string BuildUpdateSql(TrialField::Write write) {
  std::string sets;
  int p = 2;
  for (const TrialField& f : kTrialFields) {
    if (f.write != write) continue;
    absl::StrAppend(&sets, sets.empty() ? "" : ", ", f.column, " = ?", p++);
  }
  return absl::StrCat("UPDATE trials SET ", sets, " WHERE id = ?1");
}

}  // namespace

const std::string& TrialColumnsSql() {
  static const std::string sql = [] {
    std::string out;
    for (const TrialField& f : kTrialFields) {
      absl::StrAppend(&out, out.empty() ? "" : ", ", "t.", f.column);
    }
    return out;
  }();
  return sql;
}

TrialRecord ReadTrial(const Stmt& s) {
  TrialRecord t;
  for (int i = 0; i < kTrialFieldCount; ++i) ReadField(s, i, kTrialFields[i], &t);
  return t;
}

const std::string& InsertTrialSql() {
  static const std::string sql = [] {
    std::string columns, params;
    for (int i = 0; i < kTrialFieldCount; ++i) {
      absl::StrAppend(&columns, i ? ", " : "", kTrialFields[i].column);
      absl::StrAppend(&params, i ? ", " : "", "?", i + 1);
    }
    return absl::StrCat("INSERT INTO trials (", columns, ") VALUES (", params, ")");
  }();
  return sql;
}

const std::string& UpdateTrialSql(TrialField::Write write) {
  static const std::string resolve = BuildUpdateSql(TrialField::Write::kResolve);
  static const std::string update = BuildUpdateSql(TrialField::Write::kUpdate);
  return write == TrialField::Write::kResolve ? resolve : update;
}

void BindTrial(Stmt& s, const TrialRecord& t, TrialField::Write write) {
  if (write == TrialField::Write::kInsert) {
    for (int i = 0; i < kTrialFieldCount; ++i) BindField(s, i + 1, t, kTrialFields[i]);
    return;
  }
  s.Bind(1, t.id);
  int p = 2;
  for (const TrialField& f : kTrialFields) {
    if (f.write == write) BindField(s, p++, t, f);
  }
}

std::string AddTrialColumnsSql(int version) {
  std::string sql;
  if (version <= 1) return sql;
  for (const TrialField& f : kTrialFields) {
    if (f.schema_version != version) continue;
    absl::StrAppend(&sql, "ALTER TABLE trials ADD COLUMN ", f.column, " ", ColumnDecl(f), ";\n");
  }
  return sql;
}

}  // namespace hypersweep
