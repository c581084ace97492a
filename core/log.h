// Structured logs: one line per event, with a time, a level, the event's name and key=value
// fields (logfmt), or one JSON object per line (--log-format json), so that operators can grep
// them and ship them to a log store.
//
//   ts=2026-12-06T08:41:03.512Z level=info event=sweep_submitted sweep=sw-3 name="lr sweep"
//   trials=12
//   {"ts":"2026-12-06T08:41:03.512Z","level":"info","event":"sweep_submitted","sweep":"sw-3",...}
//
// Lines are queued and written by a background thread, so a slow or blocked stderr never stalls
// the caller (the coordinator logs from under its scheduler lock and from the commit thread).
// The queue is bounded: when it is full a line is dropped, and the next line written says how
// many were (`dropped=N`). log::Flush() writes what is queued; the program calls it at exit.
//
// Values are strings, integers, reals or booleans; a text value is quoted when it is empty or
// holds a space, '=', '"', a control character or a backslash, and is cut to kMaxValueBytes
// (what a remote party sends, such as a failure reason, is logged, so it is bounded here too).
#ifndef HYPERSWEEP_CORE_LOG_H_
#define HYPERSWEEP_CORE_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace hypersweep::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

inline constexpr size_t kMaxValueBytes = 1024;
inline constexpr size_t kMaxQueuedLines = 10'000;

// One key=value field. Keys are [a-z0-9_] by convention (not checked; they come from our code).
class Field {
 public:
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value)) {}
#ifndef ABSL_USES_STD_STRING_VIEW
  // absl::Status::message() and the like.
  Field(std::string_view key, absl::string_view value)
      : Field(key, std::string_view(value.data(), value.size())) {}
#endif
  Field(std::string_view key, int64_t value);
  Field(std::string_view key, int value) : Field(key, int64_t{value}) {}
  Field(std::string_view key, uint64_t value);
  Field(std::string_view key, double value);
  Field(std::string_view key, bool value);

  std::string_view key() const { return key_; }
  // The value as text (cut to kMaxValueBytes), and whether it is a number or boolean (unquoted
  // in JSON).
  const std::string& value() const { return value_; }
  bool bare() const { return bare_; }

 private:
  std::string key_;
  std::string value_;
  bool bare_ = false;
};

// Where lines go and which are kept. Not thread-safe against concurrent Event calls: call it at
// start-up, before the program logs. `program` is each line's `prog` field (empty: none).
void Configure(Format format, Level min_level, std::string_view program = "");
// "debug", "info", "warn", "error" / "text", "json"; false for anything else.
bool ParseLevel(std::string_view text, Level* level);
bool ParseFormat(std::string_view text, Format* format);

bool Enabled(Level level);

// Queues one line (nothing when `level` is below the configured one).
void Event(Level level, std::string_view event, std::initializer_list<Field> fields = {});
inline void Debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kDebug, event, fields);
}
inline void Info(std::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, std::initializer_list<Field> fields = {}) {
  Event(Level::kError, event, fields);
}

// Writes every queued line to stderr and returns when done.
void Flush();

// The line Event would write (without the trailing newline), for tests; `ts_ms` is the time.
std::string FormatLine(Format format, int64_t ts_ms, Level level, std::string_view program,
                       std::string_view event, std::initializer_list<Field> fields);

}  // namespace hypersweep::log

#endif  // HYPERSWEEP_CORE_LOG_H_
