#include "client/output.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hypersweep {

absl::StatusOr<Format> ParseFormat(const std::string& name, bool is_terminal) {
  if (name.empty()) return is_terminal ? Format::kTable : Format::kCsv;
  if (name == "table") return Format::kTable;
  if (name == "csv") return Format::kCsv;
  if (name == "json") return Format::kJson;
  return absl::InvalidArgumentError(
      absl::StrCat("--format: expected table, csv or json, got '", name, "'"));
}

void Table::AddRow(std::vector<nlohmann::json> row) {
  row.resize(columns.size());
  rows.push_back(std::move(row));
}

nlohmann::json RowJson(const std::vector<std::string>& columns,
                       const std::vector<nlohmann::json>& row) {
  nlohmann::json obj = nlohmann::json::object();
  for (size_t i = 0; i < columns.size(); ++i) obj[columns[i]] = row[i];
  return obj;
}

nlohmann::json Table::ToJson() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) out.push_back(RowJson(columns, row));
  return out;
}

std::string CellText(const nlohmann::json& cell) {
  switch (cell.type()) {
    case nlohmann::json::value_t::null:
      return "";
    case nlohmann::json::value_t::string:
      return cell.get_ref<const std::string&>();
    case nlohmann::json::value_t::boolean:
      return cell.get<bool>() ? "true" : "false";
    case nlohmann::json::value_t::number_integer:
      return absl::StrCat(cell.get<int64_t>());
    case nlohmann::json::value_t::number_unsigned:
      return absl::StrCat(cell.get<uint64_t>());
    case nlohmann::json::value_t::number_float: {
      const double v = cell.get<double>();
      if (std::isnan(v)) return "nan";
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
      return absl::StrFormat("%.10g", v);
    }
    default:
      return cell.dump();
  }
}

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

namespace {

void WriteCsvHeader(const std::vector<std::string>& columns, std::ostream& out) {
  std::string line;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) line += ',';
    line += CsvField(columns[i]);
  }
  line += '\n';
  out << line;
}

void WriteCsvRow(const std::vector<nlohmann::json>& row, std::ostream& out) {
  std::string line;
  for (size_t i = 0; i < row.size(); ++i) {
    if (i) line += ',';
    line += CsvField(CellText(row[i]));
  }
  line += '\n';
  out << line;
}

void WriteCsv(const Table& table, std::ostream& out) {
  WriteCsvHeader(table.columns, out);
  for (const auto& row : table.rows) WriteCsvRow(row, out);
}

void WriteAligned(const Table& table, std::ostream& out) {
  std::vector<size_t> width(table.columns.size());
  std::vector<std::vector<std::string>> text;
  text.reserve(table.rows.size());
  for (size_t i = 0; i < table.columns.size(); ++i) width[i] = table.columns[i].size();
  for (const auto& row : table.rows) {
    std::vector<std::string> cells;
    for (size_t i = 0; i < row.size(); ++i) {
      std::string t = CellText(row[i]);
      if (t.empty()) t = "-";
      for (char& c : t) {
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
      }
      width[i] = std::max(width[i], t.size());
      cells.push_back(std::move(t));
    }
    text.push_back(std::move(cells));
  }
  auto emit = [&](const std::vector<std::string>& cells, const std::vector<bool>& right) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const size_t pad = width[i] - cells[i].size();
      const bool last = i + 1 == cells.size();
      if (right[i]) line.append(pad, ' ');
      line += cells[i];
      if (!right[i] && !last) line.append(pad, ' ');
      if (!last) line += "  ";
    }
    out << line << '\n';
  };
  // Numbers align right, everything else left.
  std::vector<bool> right(table.columns.size(), true);
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (!row[i].is_null() && !row[i].is_number()) right[i] = false;
    }
  }
  if (table.rows.empty()) right.assign(right.size(), false);
  emit(table.columns, std::vector<bool>(table.columns.size(), false));
  for (const auto& cells : text) emit(cells, right);
}

}  // namespace

void WriteTable(const Table& table, Format format, std::ostream& out) {
  switch (format) {
    case Format::kTable:
      WriteAligned(table, out);
      break;
    case Format::kCsv:
      WriteCsv(table, out);
      break;
    case Format::kJson:
      WriteJson(table.ToJson(), out);
      break;
  }
}

RowStream::RowStream(std::vector<std::string> columns, Format format, std::ostream& out)
    : columns_(std::move(columns)), format_(format), out_(out) {}

void RowStream::Write(std::vector<nlohmann::json> row) {
  row.resize(columns_.size());
  if (format_ == Format::kJson) {
    WriteJson(RowJson(columns_, row), out_);
  } else {
    if (!header_written_) WriteCsvHeader(columns_, out_);
    WriteCsvRow(row, out_);
  }
  header_written_ = true;
  out_.flush();
}

void WriteJson(const nlohmann::json& doc, std::ostream& out, bool pretty) {
  // Invalid UTF-8 in a server string must not abort the dump: replace it.
  out << doc.dump(pretty ? 2 : -1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

std::string ProgressBar(double fraction, int width) {
  if (!std::isfinite(fraction)) fraction = 0;
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::lround(fraction * width));
  return absl::StrFormat("[%s%s] %3d%%", std::string(filled, '#'), std::string(width - filled, '.'),
                         static_cast<int>(std::floor(fraction * 100 + 1e-9)));
}

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, (s % 3600) / 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

bool IsTerminal(int fd) { return isatty(fd) == 1; }

Style Style::ForFd(int fd) {
  const char* no_color = std::getenv("NO_COLOR");
  return Style(IsTerminal(fd) && (no_color == nullptr || *no_color == '\0'));
}

std::string Style::Wrap(const char* code, const std::string& text) const {
  if (!enabled_) return text;
  return absl::StrCat("\033[", code, "m", text, "\033[0m");
}

}  // namespace hypersweep
