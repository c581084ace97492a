// hypersweep: the client CLI. All logic lives in client/cli.cc and the commands it wires.
#include <unistd.h>

#include <iostream>

#include "client/cli.h"
#include "client/output.h"
#include "rpc/config.h"

int main(int argc, char** argv) {
  std::ios::sync_with_stdio(false);
  hypersweep::CliEnvironment environment;
  environment.env = hypersweep::ProcessEnv();
  environment.out_is_terminal = hypersweep::IsTerminal(STDOUT_FILENO);
  environment.err_is_terminal = hypersweep::IsTerminal(STDERR_FILENO);
  return hypersweep::RunCli(argc, argv, environment, std::cout, std::cerr);
}
