// The one place for CLI output formatting: tables (aligned, for terminals), CSV (RFC 4180) and
// JSON, plus the small terminal helpers (progress bar, colours, durations). Commands build a
// Table (or stream rows through a RowStream) or a JSON document and hand it here; nothing else in
// client/ turns rows into text. (The schedule preview's CSV comes from core/schedule.h's
// WriteScheduleCsv, which the worker shares.)
#ifndef HYPERSWEEP_CLIENT_OUTPUT_H_
#define HYPERSWEEP_CLIENT_OUTPUT_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace hypersweep {

enum class Format { kTable, kCsv, kJson };

// "table", "csv" or "json"; INVALID_ARGUMENT otherwise. An empty name picks table when
// `is_terminal`, else csv.
absl::StatusOr<Format> ParseFormat(const std::string& name, bool is_terminal);

// Rows of typed cells under stable column names. A cell is a JSON scalar (null, string, number,
// bool) so that JSON output keeps types and CSV/table output prints numbers consistently.
struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<nlohmann::json>> rows;  // each row has columns.size() cells

  // Appends a row; missing trailing cells are null.
  void AddRow(std::vector<nlohmann::json> row);
  // The table as a JSON array of objects keyed by column name (null cells kept as null).
  nlohmann::json ToJson() const;
};

// One row as a JSON object keyed by column name (null cells kept as null). `row` has
// columns.size() cells.
nlohmann::json RowJson(const std::vector<std::string>& columns,
                       const std::vector<nlohmann::json>& row);

// A cell as text: strings verbatim, integers in decimal, doubles with up to 10 significant
// digits (round numbers without a trailing ".0"), null as "", booleans as true/false.
std::string CellText(const nlohmann::json& cell);

// CSV field quoting (RFC 4180): quoted when it holds a comma, quote, CR or LF.
std::string CsvField(const std::string& text);

// Writes the table: kTable aligns columns under a header, kCsv writes a header and one line per
// row, kJson writes ToJson() as one document followed by a newline.
void WriteTable(const Table& table, Format format, std::ostream& out);

// Rows written as they come (e.g. one per event of a live sweep): kCsv writes the header before
// the first row and then one line per row; kJson writes each row as one JSON object per line
// (JSON Lines). kTable cannot be aligned while streaming and is written like kCsv; commands that
// stream to a terminal write their own human-readable lines instead. Nothing is written before
// the first row. Thread-compatible.
class RowStream {
 public:
  RowStream(std::vector<std::string> columns, Format format, std::ostream& out);
  // Writes one row (columns.size() cells; missing trailing cells are null) and flushes.
  void Write(std::vector<nlohmann::json> row);

 private:
  std::vector<std::string> columns_;
  Format format_;
  std::ostream& out_;
  bool header_written_ = false;
};

// Writes a JSON document (pretty when `pretty`) followed by a newline.
void WriteJson(const nlohmann::json& doc, std::ostream& out, bool pretty = false);

// "[#########...........]  45%" with `width` bar characters.
std::string ProgressBar(double fraction, int width = 30);

// "1h02m", "3m05s", "42s"; "-" for a negative or non-finite number of seconds.
std::string FormatDuration(double seconds);

// Colours for terminal output. Disabled (every call returns `text` unchanged) unless enabled.
class Style {
 public:
  explicit Style(bool enabled) : enabled_(enabled) {}
  // Enabled when `fd` is a terminal and NO_COLOR is unset or empty.
  static Style ForFd(int fd);
  bool enabled() const { return enabled_; }

  std::string Bold(const std::string& text) const { return Wrap("1", text); }
  std::string Green(const std::string& text) const { return Wrap("32", text); }
  std::string Red(const std::string& text) const { return Wrap("31", text); }
  std::string Yellow(const std::string& text) const { return Wrap("33", text); }
  std::string Dim(const std::string& text) const { return Wrap("2", text); }

 private:
  std::string Wrap(const char* code, const std::string& text) const;
  bool enabled_;
};

// True when `fd` is a terminal.
bool IsTerminal(int fd);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_OUTPUT_H_
