// Child processes and shell commands for tests, and waiting on an observable condition instead of
// sleeping. No gtest dependency.
#ifndef HYPERSWEEP_TESTS_SUPPORT_PROCESS_H_
#define HYPERSWEEP_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hypersweep::test_support {

// A child process (execv of argv[0]) whose stdout and stderr are appended to `log`. Killed with
// SIGKILL and reaped on destruction if still running. Not thread-safe.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::string& log);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // False once the process has exited (and been reaped).
  bool running();
  // Waits up to `timeout`; returns the wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(60'000));
  // What the process has written so far.
  std::string log() const;

 private:
  std::string log_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int status_ = 0;
};

struct CommandResult {
  int status = -1;     // exit status; -1 if it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh and collects its output.
CommandResult RunCommand(const std::string& command);

struct ProgramResult {
  int exit_code = -1;  // the exit status, or 128 + the signal that ended it
  std::string out, err;
  double seconds = 0;  // wall-clock time it ran
};

// Runs argv[0] (a path) with `argv`, stdin from /dev/null, and collects stdout and stderr apart.
// `env`: the whole environment, when given; otherwise the test's own.
ProgramResult RunProgram(const std::vector<std::string>& argv,
                         const std::optional<std::map<std::string, std::string>>& env = {});

// Polls `cond` every 20 ms until it holds or `timeout` passes; returns cond()'s last value.
bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds timeout);

// How many times `needle` occurs in `text`.
int CountOccurrences(const std::string& text, const std::string& needle);

}  // namespace hypersweep::test_support

#endif  // HYPERSWEEP_TESTS_SUPPORT_PROCESS_H_
