#include "worker/command/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/command_spec.h"
#include "nlohmann/json.hpp"

namespace hypersweep {
namespace {

using Clock = std::chrono::steady_clock;

void WriteAll(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads stdout lines and turns report lines into calls; remembers the first protocol error.
class LineReader {
 public:
  LineReader(const ProgramOptions& o, int log_fd) : o_(o), log_fd_(log_fd) {}

  void Feed(const char* data, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i] == '\n') {
        EndLine();
      } else if (line_.size() < kMaxReportLineBytes) {
        line_.push_back(data[i]);
      } else {
        ++cut_bytes_;
      }
    }
  }
  // An unterminated last line (e.g. cut by a kill mid-write) is logged, never a report.
  void Finish() {
    if (line_.empty() && cut_bytes_ == 0) return;
    WriteAll(log_fd_,
             absl::StrCat(line_.substr(0, 1024), " [hypersweep: no newline at the end]\n"));
    line_.clear();
    cut_bytes_ = 0;
  }
  const std::optional<std::string>& error() const { return error_; }
  int64_t reports() const { return reports_; }

 private:
  void EndLine() {
    ++line_no_;
    if (cut_bytes_ > 0) {  // never a report: logged, cut
      WriteAll(log_fd_, absl::StrCat(line_.substr(0, 1024), " [hypersweep: stdout line of ",
                                     line_.size() + cut_bytes_, " bytes cut]\n"));
    } else if (!Report()) {
      WriteAll(log_fd_, line_ + "\n");
    }
    line_.clear();
    cut_bytes_ = 0;
  }

  void Fail(const std::string& message) {
    if (!error_) error_ = absl::StrCat("stdout line ", line_no_, ": ", message);
  }

  // Whether the line is a report (handled, or a protocol error recorded).
  bool Report() {
    const size_t start = line_.find_first_not_of(" \t\r");
    if (start == std::string::npos || line_[start] != '{') return false;
    const bool looks_like_report = line_.find("\"epoch\"") != std::string::npos ||
                                   (o_.lr_range && line_.find("\"lr_range\"") != std::string::npos);
    nlohmann::json j = nlohmann::json::parse(line_, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      if (looks_like_report) Fail("a report (a JSON object with \"epoch\") that is not valid JSON");
      return looks_like_report;
    }
    if (j.contains("epoch")) {
      Epoch(j);
      return true;
    }
    if (o_.lr_range && j.contains("lr_range")) {
      LrPoint(j["lr_range"]);
      return true;
    }
    return false;
  }

  void Epoch(const nlohmann::json& j) {
    const nlohmann::json& e = j["epoch"];
    if (!e.is_number_integer() || e.get<int64_t>() < 0 || e.get<int64_t>() >= o_.max_epochs) {
      return Fail(absl::StrCat("\"epoch\" must be an integer in [0, ", o_.max_epochs, ")"));
    }
    const int64_t epoch = e.get<int64_t>();
    if (epoch <= last_epoch_) {
      return Fail(
          absl::StrCat("epoch ", epoch, " after epoch ", last_epoch_, " (epochs must increase)"));
    }
    if (j.size() - 1 > kMaxReportMetrics) {
      return Fail(absl::StrCat(j.size() - 1, " metrics; at most ", kMaxReportMetrics));
    }
    metrics::EpochMetrics m;
    m.epoch = epoch;
    for (const auto& [name, value] : j.items()) {
      if (name == "epoch") continue;
      if (!CheckProgramMetricName(name).ok()) {
        return Fail(absl::StrCat("metric name '", name.substr(0, 64),
                                 "...': ", CheckProgramMetricName(name).message()));
      }
      if (value.is_null()) {
        m.values[name] = std::nan("");
      } else if (value.is_number()) {
        m.values[name] = value.get<double>();
      } else {
        return Fail(absl::StrCat("metric '", name, "' must be a number or null"));
      }
    }
    last_epoch_ = epoch;
    ++reports_;
    if (o_.on_epoch) o_.on_epoch(m);
  }

  void LrPoint(const nlohmann::json& p) {
    if (!p.is_object() || !p.contains("lr") || !p["lr"].is_number() || !p.contains("loss") ||
        !(p["loss"].is_number() || p["loss"].is_null())) {
      return Fail("\"lr_range\" must be {\"lr\": number, \"loss\": number or null}");
    }
    const double lr = p["lr"].get<double>();
    if (!(lr > 0) || !std::isfinite(lr)) return Fail("\"lr_range\".lr must be > 0");
    ++reports_;
    if (o_.on_lr_point)
      o_.on_lr_point(lr, p["loss"].is_null() ? std::nan("") : p["loss"].get<double>());
  }

  const ProgramOptions& o_;
  const int log_fd_;
  std::string line_;
  size_t cut_bytes_ = 0;
  int64_t line_no_ = 0;
  int64_t last_epoch_ = -1;
  int64_t reports_ = 0;
  std::optional<std::string> error_;
};

std::string WithTail(const std::string& what, const std::string& log_path) {
  const std::string tail = LogTail(log_path);
  return tail.empty() ? what : absl::StrCat(what, "; log tail: ", tail);
}

}  // namespace

std::string LogTail(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff from =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(from);
  std::string raw(static_cast<size_t>(size - from), '\0');
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  while (!raw.empty() && (raw.back() == '\n' || raw.back() == '\r')) raw.pop_back();
  std::string out;
  for (char c : raw) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += " | ";
    } else if (u < 0x20 || u >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

ProgramResult RunProgram(const ProgramOptions& o) {
  ProgramResult result;
  auto user_error = [&](std::string reason) {
    result.outcome = ProgramOutcome::kUserError;
    result.reason = std::move(reason);
    return result;
  };
  if (o.argv.empty()) return user_error("no program to run");
  const int log_fd = open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    result.reason = absl::StrCat("cannot open the trial log: ", std::strerror(errno));
    return result;  // kFailed: this worker's disk, not the program
  }
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int out[2], err[2];
  if (null_fd < 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    close(log_fd);
    result.reason = absl::StrCat("cannot start the program: ", std::strerror(errno));
    return result;
  }
  // Everything the child needs, built before fork (the child only makes system calls).
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const pid_t parent = getpid();

  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the worker died before prctl
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGCHLD}) signal(sig, SIG_DFL);
    int tagged = 0;  // < 0: chdir failed; > 0: dup2 or exec failed
    if (chdir(o.workdir.c_str()) != 0) {
      tagged = -errno;
    } else if (dup2(null_fd, 0) < 0 || dup2(out[1], 1) < 0 || dup2(log_fd, 2) < 0) {
      tagged = errno;
    } else {
      execvpe(argv[0], argv.data(), envp.data());
      tagged = errno;
    }
    (void)!write(err[1], &tagged, sizeof tagged);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  close(null_fd);
  if (pid < 0) {
    close(out[0]);
    close(err[0]);
    close(log_fd);
    result.reason = absl::StrCat("cannot start the program: fork: ", std::strerror(errno));
    return result;
  }
  setpgid(pid, pid);  // also here, so that killpg works before the child has run
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(err[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(err[0]);
  if (got == sizeof exec_errno) {
    int status;
    waitpid(pid, &status, 0);
    close(out[0]);
    close(log_fd);
    if (exec_errno < 0) {
      return user_error(absl::StrCat("cannot enter the working directory '", o.workdir,
                                     "': ", std::strerror(-exec_errno)));
    }
    return user_error(absl::StrCat("cannot run '", o.argv[0], "': ", std::strerror(exec_errno)));
  }

  LineReader reader(o, log_fd);
  const auto start = Clock::now();
  std::optional<Clock::time_point> term_sent, exited_at;
  enum class Why { kNone, kStop, kBudget, kProtocol } why = Why::kNone;
  bool eof = false, exited = false, killed = false;
  char buf[16384];
  for (;;) {
    if (!exited) {
      siginfo_t info{};
      if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
          info.si_pid == pid) {
        exited = true;
        // Whatever the program left in its group (children, grandchildren) goes with it.
        killpg(pid, SIGKILL);
      }
    }
    if (exited && eof) break;
    // A process that left the group (setsid) may hold stdout open after the program ended.
    if (exited && !exited_at) exited_at = Clock::now();
    if (exited && Clock::now() - *exited_at > std::chrono::seconds(2)) break;
    if (why == Why::kNone && !exited) {
      if (reader.error()) {
        why = Why::kProtocol;
      } else if (o.should_stop && o.should_stop()) {
        why = Why::kStop;
      } else if (o.budget_seconds > 0 &&
                 std::chrono::duration<double>(Clock::now() - start).count() >= o.budget_seconds) {
        why = Why::kBudget;
      }
      if (why != Why::kNone) {
        killpg(pid, SIGTERM);
        term_sent = Clock::now();
      }
    }
    if (term_sent && !killed && !exited &&
        Clock::now() - *term_sent >= absl::ToChronoNanoseconds(o.grace)) {
      killpg(pid, SIGKILL);
      killed = true;
    }
    if (eof) {
      usleep(20'000);
      continue;
    }
    pollfd p{out[0], POLLIN, 0};
    const int n = poll(&p, 1, 50);
    if (n > 0) {
      const ssize_t r = read(out[0], buf, sizeof buf);
      if (r > 0) {
        reader.Feed(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
        eof = true;
        reader.Finish();
      }
    }
  }
  if (!eof) reader.Finish();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  close(out[0]);
  close(log_fd);
  result.reports = reader.reports();
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  const std::string what = result.exit_code >= 0
                               ? absl::StrCat("the program exited with code ", result.exit_code)
                               : absl::StrCat("the program was killed by signal ", result.signal,
                                              " (", strsignal(result.signal), ")");
  if (reader.error()) return user_error(WithTail(*reader.error(), o.log_path));
  if (why == Why::kStop) {
    result.outcome = ProgramOutcome::kStopped;
    result.reason = "stopped";
    return result;
  }
  if (why == Why::kBudget) {
    if (result.reports == 0) {
      return user_error(WithTail(absl::StrFormat("budget of %gs reached before the program "
                                                 "reported an epoch",
                                                 o.budget_seconds),
                                 o.log_path));
    }
    result.outcome = ProgramOutcome::kBudget;
    result.reason =
        absl::StrFormat("budget of %gs reached after %d reports", o.budget_seconds, result.reports);
    return result;
  }
  switch (result.exit_code) {
    case 0:
      if (result.reports == 0) {
        return user_error(WithTail(o.lr_range
                                       ? "the program exited 0 without reporting an lr_range point"
                                       : "the program exited 0 without reporting an epoch",
                                   o.log_path));
      }
      result.outcome = ProgramOutcome::kSucceeded;
      return result;
    case 3:
      result.outcome = ProgramOutcome::kDiverged;
      result.reason = "the program reported divergence (exit code 3)";
      return result;
    case 2:
      return user_error(WithTail(absl::StrCat(what, " (user error)"), o.log_path));
    default:
      result.outcome = ProgramOutcome::kFailed;
      result.reason = WithTail(what, o.log_path);
      return result;
  }
}

}  // namespace hypersweep
