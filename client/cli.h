// `hypersweep`: the command line (CLI11) over client/commands. Separate from main.cc so tests can
// run the whole CLI in-process.
#ifndef HYPERSWEEP_CLIENT_CLI_H_
#define HYPERSWEEP_CLIENT_CLI_H_

#include <map>
#include <ostream>
#include <string>

namespace hypersweep {

struct CliEnvironment {
  std::map<std::string, std::string> env;  // HOME, XDG_CONFIG_HOME, HYPERSWEEP_*, NO_COLOR
  bool out_is_terminal = false;
  bool err_is_terminal = false;
};

// Runs the CLI; returns the exit code (see commands.h: 0 ok, 1 other, 2 usage or bad spec,
// 3 not found, 4 unreachable or auth failure). Errors are one line on `err`.
int RunCli(int argc, char** argv, const CliEnvironment& environment, std::ostream& out,
           std::ostream& err);

}  // namespace hypersweep

#endif  // HYPERSWEEP_CLIENT_CLI_H_
