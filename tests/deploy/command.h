// Running shell commands from tests.
#ifndef HYPERSWEEP_TESTS_DEPLOY_COMMAND_H_
#define HYPERSWEEP_TESTS_DEPLOY_COMMAND_H_

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace hypersweep::deploy_test {

struct CommandResult {
  int status = -1;     // exit status; -1 if it did not exit normally
  std::string output;  // stdout and stderr together
};

// Runs `command` with /bin/sh.
inline CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int status = pclose(p);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace hypersweep::deploy_test

#endif  // HYPERSWEEP_TESTS_DEPLOY_COMMAND_H_
