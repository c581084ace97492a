#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <deque>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace hypersweep::log {
namespace {

struct Config {
  std::atomic<int> format{static_cast<int>(Format::kText)};
  std::atomic<int> min_level{static_cast<int>(Level::kInfo)};
  std::string program;  // written by Configure before any Event
};

Config& GlobalConfig() {
  static Config* config = new Config;  // never destroyed: threads may log during exit
  return *config;
}

// The queue and the thread that writes it to stderr.
class Sink {
 public:
  void Push(std::string line) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.size() >= kMaxQueuedLines) {
        ++dropped_;
        return;
      }
      if (dropped_ > 0) {
        absl::StrAppend(&line, " dropped=", dropped_);
        dropped_ = 0;
      }
      queue_.push_back(std::move(line));
      if (!started_) {
        started_ = true;
        std::thread([this] { Loop(); }).detach();  // lives as long as the process
      }
    }
    cv_.notify_one();
  }

  void Flush() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = pushed_before_flush();
    flushed_cv_.wait(lock, [&] { return written_ >= target || !started_; });
  }

 private:
  uint64_t pushed_before_flush() { return written_ + queue_.size() + (writing_ ? in_flight_ : 0); }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return !queue_.empty(); });
      std::string batch;
      in_flight_ = 0;
      while (!queue_.empty() && batch.size() < (1 << 16)) {
        batch += queue_.front();
        batch += '\n';
        queue_.pop_front();
        ++in_flight_;
      }
      writing_ = true;
      lock.unlock();
      size_t off = 0;
      while (off < batch.size()) {
        const ssize_t n = ::write(STDERR_FILENO, batch.data() + off, batch.size() - off);
        if (n <= 0) {
          if (n < 0 && errno == EINTR) continue;
          break;  // stderr closed: the lines are lost, the program goes on
        }
        off += static_cast<size_t>(n);
      }
      lock.lock();
      writing_ = false;
      written_ += in_flight_;
      in_flight_ = 0;
      flushed_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, flushed_cv_;
  std::deque<std::string> queue_;
  uint64_t dropped_ = 0;
  uint64_t written_ = 0;
  uint64_t in_flight_ = 0;
  bool writing_ = false;
  bool started_ = false;
};

Sink& GlobalSink() {
  static Sink* sink = new Sink;  // never destroyed, like its thread
  return *sink;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp(int64_t ts_ms) {
  const std::time_t secs = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return absl::StrFormat("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                         static_cast<int>(ts_ms % 1000));
}

bool NeedsQuotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char c : v) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

// Quoted with JSON's escapes (valid in both formats).
void AppendQuoted(std::string* out, std::string_view v) {
  out->push_back('"');
  for (unsigned char c : v) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
  }
  out->push_back('"');
}

// Cuts `v` to kMaxValueBytes without splitting a UTF-8 sequence.
std::string Bounded(std::string_view v) {
  if (v.size() <= kMaxValueBytes) return std::string(v);
  size_t n = kMaxValueBytes;
  while (n > 0 && (static_cast<unsigned char>(v[n]) & 0xC0) == 0x80) --n;
  return std::string(v.substr(0, n)) + "...";
}

}  // namespace

Field::Field(std::string_view key, std::string_view value) : key_(key), value_(Bounded(value)) {}
Field::Field(std::string_view key, int64_t value)
    : key_(key), value_(absl::StrCat(value)), bare_(true) {}
Field::Field(std::string_view key, uint64_t value)
    : key_(key), value_(absl::StrCat(value)), bare_(true) {}
Field::Field(std::string_view key, double value) : key_(key) {
  if (std::isfinite(value)) {
    value_ = absl::StrFormat("%.6g", value);
    bare_ = true;
  } else {
    value_ = std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";  // not JSON numbers
  }
}
Field::Field(std::string_view key, bool value)
    : key_(key), value_(value ? "true" : "false"), bare_(true) {}

void Configure(Format format, Level min_level, std::string_view program) {
  Config& c = GlobalConfig();
  c.format = static_cast<int>(format);
  c.min_level = static_cast<int>(min_level);
  c.program = std::string(program);
}

bool ParseLevel(std::string_view text, Level* level) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

bool ParseFormat(std::string_view text, Format* format) {
  if (text == "text") {
    *format = Format::kText;
  } else if (text == "json") {
    *format = Format::kJson;
  } else {
    return false;
  }
  return true;
}

bool Enabled(Level level) {
  return static_cast<int>(level) >= GlobalConfig().min_level.load(std::memory_order_relaxed);
}

std::string FormatLine(Format format, int64_t ts_ms, Level level, std::string_view program,
                       std::string_view event, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(128);
  if (format == Format::kJson) {
    line = absl::StrCat("{\"ts\":\"", Timestamp(ts_ms), "\",\"level\":\"", LevelName(level), "\"");
    auto add = [&line](std::string_view key, std::string_view value, bool bare) {
      line.push_back(',');
      AppendQuoted(&line, key);
      line.push_back(':');
      if (bare) {
        line.append(value);
      } else {
        AppendQuoted(&line, value);
      }
    };
    if (!program.empty()) add("prog", program, false);
    add("event", event, false);
    for (const Field& f : fields) add(f.key(), f.value(), f.bare());
    line.push_back('}');
    return line;
  }
  line = absl::StrCat("ts=", Timestamp(ts_ms), " level=", LevelName(level));
  auto add = [&line](std::string_view key, std::string_view value) {
    line.push_back(' ');
    line.append(key);
    line.push_back('=');
    if (NeedsQuotes(value)) {
      AppendQuoted(&line, value);
    } else {
      line.append(value);
    }
  };
  if (!program.empty()) add("prog", program);
  add("event", event);
  for (const Field& f : fields) add(f.key(), f.value());
  return line;
}

void Event(Level level, std::string_view event, std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  const Config& c = GlobalConfig();
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  GlobalSink().Push(
      FormatLine(static_cast<Format>(c.format.load()), now_ms, level, c.program, event, fields));
}

void Flush() { GlobalSink().Flush(); }

}  // namespace hypersweep::log
