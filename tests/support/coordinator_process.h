// A hypersweepd child process on 127.0.0.1 with a kernel-chosen port, for tests and benchmarks that
// need the real binary (crash/restart, flags, throughput). Header-only; no gtest dependency.
#ifndef HYPERSWEEP_TESTS_COMMON_COORDINATOR_PROCESS_H_
#define HYPERSWEEP_TESTS_COMMON_COORDINATOR_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace hypersweep {
namespace test_support {

class CoordinatorProcess {
 public:
  // Starts `binary --listen 127.0.0.1:0 --db DB EXTRA...` and reads the port from the first line it
  // prints ("listening on 127.0.0.1:PORT"). port() is 0 if it did not start; first_line() says why.
  CoordinatorProcess(const std::string& binary, const std::string& db,
                     const std::vector<std::string>& extra) {
    int out[2];
    if (pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      close(out[1]);
      std::vector<std::string> args = {binary, "--listen", "127.0.0.1:0", "--db", db};
      args.insert(args.end(), extra.begin(), extra.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512] = {0};
    if (fgets(line, sizeof(line), f) != nullptr) {
      first_line_ = line;
      const auto colon = first_line_.find(':', first_line_.find("127.0.0.1"));
      if (colon != std::string::npos) port_ = std::atoi(first_line_.c_str() + colon + 1);
    }
    fclose(f);
  }
  CoordinatorProcess(const CoordinatorProcess&) = delete;
  CoordinatorProcess& operator=(const CoordinatorProcess&) = delete;
  ~CoordinatorProcess() {
    if (pid_ > 0) Kill(SIGKILL);
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& first_line() const { return first_line_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Sends `sig` and reaps the process; returns its wait status.
  int Kill(int sig) {
    if (pid_ <= 0) return 0;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // A channel of its own (distinct `index` values give distinct connections).
  std::shared_ptr<grpc::Channel> Channel(int index = 0) const {
    grpc::ChannelArguments args;
    args.SetInt("hypersweep_test_channel", index);
    args.SetMaxReceiveMessageSize(64 << 20);
    return grpc::CreateCustomChannel(address(), grpc::InsecureChannelCredentials(), args);
  }

  // CPU seconds (user + system) the process has used so far.
  double CpuSeconds() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 1; in >> field && i <= 15; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    return (utime + stime) / sysconf(_SC_CLK_TCK);
  }

  // Resident set size in MiB (-1 if unknown).
  double RssMiB() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string key;
    while (in >> key) {
      if (key == "VmRSS:") {
        double kb;
        in >> kb;
        return kb / 1024;
      }
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string first_line_;
};

}  // namespace test_support
}  // namespace hypersweep

#endif  // HYPERSWEEP_TESTS_COMMON_COORDINATOR_PROCESS_H_
