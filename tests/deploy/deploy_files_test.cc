// deploy/: the Kubernetes manifests, the systemd units and the Dockerfile, checked statically and
// against the real binaries: every flag a file passes must be in that binary's --help, every file
// it names must be on a mounted volume or a writable path, and the Dockerfile's build stages use
// only Debian packages.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

namespace hypersweep::deploy_test {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::IsSubsetOf;

const std::string kDeploy = std::string(HYPERSWEEP_SOURCE_DIR) + "/deploy";

using test_support::CommandResult;
using test_support::ReadFile;
using test_support::RunCommand;

bool StartsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The long options a binary's --help lists ("--lease-ttl", ...).
const std::set<std::string>& HelpFlags(const std::string& binary) {
  static std::map<std::string, std::set<std::string>> cache;
  auto it = cache.find(binary);
  if (it != cache.end()) return it->second;
  std::string path;
  if (binary == "hypersweepd") path = HYPERSWEEPD_BIN;
  if (binary == "hypersweep-worker") path = HYPERSWEEP_WORKER_BIN;
  // "hypersweepd backup": a subcommand's own flags.
  std::string sub;
  if (binary == "hypersweepd backup") path = HYPERSWEEPD_BIN, sub = " backup";
  std::set<std::string> flags;
  if (!path.empty()) {
    CommandResult r = RunCommand("'" + path + "'" + sub + " --help");
    EXPECT_EQ(r.status, 0) << r.output;
    const std::regex re("--[a-z0-9][a-z0-9-]*");
    for (std::sregex_iterator m(r.output.begin(), r.output.end(), re), end; m != end; ++m) {
      flags.insert(m->str());
    }
    EXPECT_THAT(flags, Contains("--help"));
  }
  return cache[binary] = flags;
}

// "--db=/x" -> {"--db", "/x"}; "--no-sync" -> {"--no-sync", ""}.
std::pair<std::string, std::string> SplitFlag(const std::string& arg) {
  const auto eq = arg.find('=');
  if (eq == std::string::npos) return {arg, ""};
  return {arg.substr(0, eq), arg.substr(eq + 1)};
}

// Flags whose value is a path the program reads or writes.
bool IsPathFlag(const std::string& flag) {
  return flag == "--db" || flag == "--checkpoint-dir" || flag == "--data-root" ||
         flag == "--tls-cert" || flag == "--tls-key" || flag == "--tls-ca" ||
         (flag.size() > 5 && flag.compare(flag.size() - 5, 5, "-file") == 0);
}

// ---- Kubernetes ----

struct Manifest {
  std::string file;
  YAML::Node doc;
  std::string kind() const { return doc["kind"].as<std::string>(""); }
  std::string name() const { return doc["metadata"]["name"].as<std::string>(""); }
};

std::vector<Manifest> LoadManifests() {
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(kDeploy + "/k8s")) {
    if (e.path().extension() == ".yaml" && e.path().filename() != "kustomization.yaml") {
      files.push_back(e.path().filename().string());
    }
  }
  // Sort the names, not the Manifests: assigning a YAML::Node writes through to the node it refers
  // to.
  std::sort(files.begin(), files.end());
  std::vector<Manifest> out;
  for (const auto& f : files) {
    for (const YAML::Node& doc : YAML::LoadAllFromFile(kDeploy + "/k8s/" + f)) {
      if (!doc.IsNull()) out.push_back({f, doc});
    }
  }
  return out;
}

std::vector<Manifest> Workloads(const std::vector<Manifest>& all) {
  std::vector<Manifest> out;
  for (const auto& m : all) {
    if (m.kind() == "Deployment" || m.kind() == "StatefulSet") out.push_back(m);
  }
  return out;
}

// Every container of a workload's pod template.
std::vector<YAML::Node> Containers(const Manifest& m) {
  std::vector<YAML::Node> out;
  const YAML::Node spec = m.doc["spec"]["template"]["spec"];
  for (const char* key : {"initContainers", "containers"}) {
    if (spec[key]) {
      for (const auto& c : spec[key]) out.push_back(c);
    }
  }
  return out;
}

std::vector<std::string> Args(const YAML::Node& container) {
  std::vector<std::string> out;
  if (container["args"]) {
    for (const auto& a : container["args"]) out.push_back(a.as<std::string>());
  }
  return out;
}

std::string FlagValue(const YAML::Node& container, const std::string& flag) {
  for (const auto& a : Args(container)) {
    auto [f, v] = SplitFlag(a);
    if (f == flag) return v;
  }
  return "";
}

TEST(KubernetesTest, KustomizationListsEveryManifestAndEachParses) {
  const YAML::Node k = YAML::LoadFile(kDeploy + "/k8s/kustomization.yaml");
  std::set<std::string> listed, present;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  for (const auto& e : fs::directory_iterator(kDeploy + "/k8s")) {
    if (e.path().extension() == ".yaml" && e.path().filename() != "kustomization.yaml") {
      present.insert(e.path().filename().string());
    }
  }
  EXPECT_EQ(listed, present);
  const auto manifests = LoadManifests();
  ASSERT_GE(manifests.size(), present.size());
  for (const auto& m : manifests) {
    EXPECT_TRUE(m.doc["apiVersion"].IsScalar()) << m.file;
    EXPECT_FALSE(m.kind().empty()) << m.file;
    EXPECT_FALSE(m.name().empty()) << m.file;
  }
}

TEST(KubernetesTest, EveryFlagPassedExistsInTheBinarysHelp) {
  int containers = 0;
  for (const auto& m : Workloads(LoadManifests())) {
    for (const auto& c : Containers(m)) {
      ++containers;
      ASSERT_TRUE(c["command"] && c["command"].size() >= 1) << m.file << ": no command";
      const std::string bin = fs::path(c["command"][0].as<std::string>()).filename().string();
      const auto& help = HelpFlags(bin);
      ASSERT_FALSE(help.empty()) << m.file << ": unknown program " << bin;
      std::vector<std::string> words;
      for (size_t i = 1; i < c["command"].size(); ++i)
        words.push_back(c["command"][i].as<std::string>());
      for (const auto& a : Args(c)) words.push_back(a);
      std::set<std::string> env;
      if (c["env"]) {
        for (const auto& e : c["env"]) env.insert(e["name"].as<std::string>());
      }
      for (const auto& w : words) {
        if (StartsWith(w, "--")) {
          EXPECT_THAT(help, Contains(SplitFlag(w).first)) << m.file << ": " << bin << " " << w;
        }
        // $(VAR) is expanded by the kubelet only when the container defines VAR.
        const std::regex ref("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");
        for (std::sregex_iterator r(w.begin(), w.end(), ref), end; r != end; ++r) {
          EXPECT_THAT(env, Contains((*r)[1].str())) << m.file << ": " << w;
        }
      }
    }
  }
  EXPECT_GE(containers, 3) << "coordinator, CPU worker and GPU worker";
}

TEST(KubernetesTest, EveryPathPassedIsOnAMountedVolume) {
  for (const auto& m : Workloads(LoadManifests())) {
    for (const auto& c : Containers(m)) {
      std::vector<std::string> mounts;
      if (c["volumeMounts"]) {
        for (const auto& v : c["volumeMounts"]) mounts.push_back(v["mountPath"].as<std::string>());
      }
      for (const auto& a : Args(c)) {
        auto [flag, value] = SplitFlag(a);
        if (!IsPathFlag(flag)) continue;
        const bool mounted = std::any_of(mounts.begin(), mounts.end(), [&](const std::string& p) {
          return value == p || StartsWith(value, p + "/");
        });
        EXPECT_TRUE(mounted) << m.file << ": " << a << " is not under any volumeMount";
      }
    }
  }
}

TEST(KubernetesTest, TokenFilesAreKeysOfTheTokensSecret) {
  const YAML::Node k = YAML::LoadFile(kDeploy + "/k8s/kustomization.yaml");
  std::map<std::string, std::set<std::string>> secrets;  // name -> keys
  for (const auto& g : k["secretGenerator"]) {
    auto& keys = secrets[g["name"].as<std::string>()];
    for (const auto& f : g["files"]) keys.insert(fs::path(f.as<std::string>()).filename().string());
  }
  for (const auto& m : LoadManifests()) {
    if (m.kind() != "Secret") continue;
    for (const char* field : {"data", "stringData"}) {
      for (const auto& kv : m.doc[field]) secrets[m.name()].insert(kv.first.as<std::string>());
    }
  }
  int token_flags = 0;
  for (const auto& m : Workloads(LoadManifests())) {
    std::map<std::string, std::string> secret_volumes;  // volume name -> secret name
    for (const auto& v : m.doc["spec"]["template"]["spec"]["volumes"]) {
      if (v["secret"])
        secret_volumes[v["name"].as<std::string>()] = v["secret"]["secretName"].as<std::string>();
    }
    for (const auto& c : Containers(m)) {
      for (const auto& a : Args(c)) {
        auto [flag, value] = SplitFlag(a);
        if (flag.find("token-file") == std::string::npos) continue;
        ++token_flags;
        bool found = false;
        for (const auto& v : c["volumeMounts"]) {
          const std::string dir = v["mountPath"].as<std::string>();
          if (!StartsWith(value, dir + "/")) continue;
          const auto sv = secret_volumes.find(v["name"].as<std::string>());
          ASSERT_NE(sv, secret_volumes.end())
              << m.file << ": " << a << " is not on a secret volume";
          ASSERT_TRUE(secrets.count(sv->second)) << m.file << ": no secret " << sv->second;
          EXPECT_THAT(secrets[sv->second], Contains(value.substr(dir.size() + 1)))
              << m.file << ": " << a;
          found = true;
        }
        EXPECT_TRUE(found) << m.file << ": " << a;
      }
    }
  }
  EXPECT_GE(token_flags, 4) << "coordinator (2) and workers (1 each)";
}

TEST(KubernetesTest, CoordinatorIsOneStatefulSetWithAClaimAServiceAndGrpcProbes) {
  const auto all = LoadManifests();
  std::vector<Manifest> sets;
  for (const auto& m : all) {
    if (m.kind() == "StatefulSet") sets.push_back(m);
  }
  ASSERT_EQ(sets.size(), 1u);
  const Manifest& ss = sets[0];
  EXPECT_EQ(ss.doc["spec"]["replicas"].as<int>(), 1) << "one writer of the SQLite file";
  const YAML::Node c = Containers(ss).at(0);
  EXPECT_EQ(c["command"][0].as<std::string>(), "hypersweepd");

  // The SQLite file is on the volumeClaimTemplate's volume.
  ASSERT_TRUE(ss.doc["spec"]["volumeClaimTemplates"]);
  const std::string claim =
      ss.doc["spec"]["volumeClaimTemplates"][0]["metadata"]["name"].as<std::string>();
  const std::string db = FlagValue(c, "--db");
  bool db_on_claim = false;
  for (const auto& v : c["volumeMounts"]) {
    if (v["name"].as<std::string>() == claim &&
        StartsWith(db, v["mountPath"].as<std::string>() + "/")) {
      db_on_claim = true;
    }
  }
  EXPECT_TRUE(db_on_claim) << "--db=" << db << " is not on claim " << claim;

  // Probes are gRPC health checks on the listening port.
  const std::string listen = FlagValue(c, "--listen");
  const int port = std::stoi(listen.substr(listen.rfind(':') + 1));
  EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), port);
  for (const char* probe : {"readinessProbe", "livenessProbe"}) {
    ASSERT_TRUE(c[probe]["grpc"]) << probe;
    EXPECT_EQ(c[probe]["grpc"]["port"].as<int>(), port) << probe;
  }

  // The governing Service selects these pods and forwards to the port; workers dial it.
  const std::string service_name = ss.doc["spec"]["serviceName"].as<std::string>();
  const YAML::Node pod_labels = ss.doc["spec"]["template"]["metadata"]["labels"];
  const Manifest* service = nullptr;
  for (const auto& m : all) {
    if (m.kind() == "Service" && m.name() == service_name) service = &m;
  }
  ASSERT_NE(service, nullptr) << "no Service " << service_name;
  for (const auto& kv : service->doc["spec"]["selector"]) {
    EXPECT_EQ(pod_labels[kv.first.as<std::string>()].as<std::string>(""),
              kv.second.as<std::string>());
  }
  const YAML::Node sp = service->doc["spec"]["ports"][0];
  EXPECT_EQ(sp["targetPort"].as<int>(), port);
  const std::string address = service_name + ":" + sp["port"].as<std::string>();
  for (const auto& m : Workloads(all)) {
    for (const auto& wc : Containers(m)) {
      if (wc["command"][0].as<std::string>() == "hypersweep-worker") {
        EXPECT_EQ(FlagValue(wc, "--server"), address) << m.file;
      }
    }
  }
}

TEST(KubernetesTest, CpuAndGpuWorkersDrainWithinTheGracePeriodAndShareCheckpoints) {
  const auto all = LoadManifests();
  std::set<std::string> rwx_claims;
  for (const auto& m : all) {
    if (m.kind() != "PersistentVolumeClaim") continue;
    for (const auto& mode : m.doc["spec"]["accessModes"]) {
      if (mode.as<std::string>() == "ReadWriteMany") rwx_claims.insert(m.name());
    }
  }
  int cpu = 0, gpu = 0;
  for (const auto& m : Workloads(all)) {
    const YAML::Node pod = m.doc["spec"]["template"]["spec"];
    for (const auto& c : Containers(m)) {
      if (c["command"][0].as<std::string>() != "hypersweep-worker") continue;
      EXPECT_EQ(m.kind(), "Deployment") << m.file;
      // The drain takes up to 30 s; the kubelet SIGKILLs after the grace period.
      EXPECT_GE(pod["terminationGracePeriodSeconds"].as<int>(30), 45) << m.file;
      const int gpus = c["resources"]["limits"]["nvidia.com/gpu"].as<int>(0);
      const std::string device = FlagValue(c, "--device");
      if (gpus > 0) {
        ++gpu;
        EXPECT_TRUE(StartsWith(device, "cuda")) << m.file << ": --device=" << device;
      } else {
        ++cpu;
        EXPECT_EQ(device, "cpu") << m.file;
      }
      // Checkpoints on a ReadWriteMany claim: a requeued trial resumes on another pod.
      const std::string ckpt = FlagValue(c, "--checkpoint-dir");
      std::string volume;
      for (const auto& v : c["volumeMounts"]) {
        if (StartsWith(ckpt + "/", v["mountPath"].as<std::string>() + "/"))
          volume = v["name"].as<std::string>();
      }
      std::string claim;
      for (const auto& v : pod["volumes"]) {
        if (v["name"].as<std::string>() == volume && v["persistentVolumeClaim"]) {
          claim = v["persistentVolumeClaim"]["claimName"].as<std::string>();
        }
      }
      EXPECT_THAT(rwx_claims, Contains(claim)) << m.file << ": --checkpoint-dir=" << ckpt;
    }
  }
  EXPECT_EQ(cpu, 1);
  EXPECT_EQ(gpu, 1);
}

// ---- Slurm (run for real by slurm_test.cc; these checks also run where Slurm is absent) ----

TEST(SlurmScriptsTest, ParseAndPassOnlyFlagsTheBinariesHave) {
  for (const auto& [script, bin] : std::vector<std::pair<std::string, std::string>>{
           {"hypersweepd.sbatch", "hypersweepd"}, {"workers.sbatch", "hypersweep-worker"}}) {
    const std::string path = kDeploy + "/slurm/" + script;
    CommandResult syntax = RunCommand("bash -n '" + path + "'");
    EXPECT_EQ(syntax.status, 0) << script << ": " << syntax.output;
    // The words of every `args=(...)` / `args+=(...)`, which the script passes to the binary.
    std::string code;
    std::istringstream in(ReadFile(path));
    for (std::string line; std::getline(in, line);) {
      if (line.find_first_not_of(' ') != std::string::npos &&
          line[line.find_first_not_of(' ')] != '#') {
        code += line + "\n";
      }
    }
    int flags = 0;
    const std::regex array("args\\+?=\\(([^)]*)\\)");
    for (std::sregex_iterator m(code.begin(), code.end(), array), end; m != end; ++m) {
      const std::string words = (*m)[1];
      const std::regex flag("(^|\\s)(--[a-z][a-z0-9-]*)");
      for (std::sregex_iterator f(words.begin(), words.end(), flag); f != end; ++f) {
        ++flags;
        EXPECT_THAT(HelpFlags(bin), Contains((*f)[2].str())) << script;
      }
    }
    EXPECT_GE(flags, 5) << script << ": found no arguments to check";
    if (bin == "hypersweep-worker") {
      // The worker replaces the batch shell, so Slurm's SIGTERM reaches it and starts its drain.
      EXPECT_THAT(code, ::testing::HasSubstr("exec \"$bin\" \"${args[@]}\"")) << script;
    }
  }
}

// ---- systemd ----

struct Unit {
  std::string file;
  std::multimap<std::string, std::string> keys;  // "Section.Key" -> value
  std::string Get(const std::string& key) const {
    auto it = keys.find(key);
    return it == keys.end() ? "" : it->second;
  }
};

Unit LoadUnit(const std::string& name) {
  Unit u{name, {}};
  std::ifstream in(kDeploy + "/systemd/" + name);
  std::string line, section, pending;
  while (std::getline(in, line)) {
    if (!pending.empty()) line = pending + line;
    pending.clear();
    if (!line.empty() && line.back() == '\\') {
      pending = line.substr(0, line.size() - 1) + " ";
      continue;
    }
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      continue;
    }
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    u.keys.emplace(section + "." + line.substr(0, eq), line.substr(eq + 1));
  }
  return u;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// systemd time spans like "45", "45s", "1min 30s" in seconds.
int Seconds(const std::string& span) {
  int total = 0;
  const std::regex re("([0-9]+)\\s*(min|s)?");
  for (std::sregex_iterator m(span.begin(), span.end(), re), end; m != end; ++m) {
    total += std::stoi((*m)[1]) * ((*m)[2] == "min" ? 60 : 1);
  }
  return total;
}

const std::vector<std::string> kUnits = {"hypersweepd.service", "hypersweep-worker@.service"};

TEST(SystemdTest, ExecStartFlagsExistInTheBinarysHelp) {
  for (const auto& name : kUnits) {
    const Unit u = LoadUnit(name);
    const auto words = Words(u.Get("Service.ExecStart"));
    ASSERT_FALSE(words.empty()) << name;
    const std::string bin = fs::path(words[0]).filename().string();
    const auto& help = HelpFlags(bin);
    ASSERT_FALSE(help.empty()) << name << ": unknown program " << bin;
    for (size_t i = 1; i < words.size(); ++i) {
      if (StartsWith(words[i], "--")) {
        EXPECT_THAT(help, Contains(SplitFlag(words[i]).first)) << name;
      }
    }
  }
}

TEST(SystemdTest, HardenedAndWritableWhereTheyWrite) {
  for (const auto& name : kUnits) {
    const Unit u = LoadUnit(name);
    for (const auto& [key, value] :
         std::vector<std::pair<std::string, std::string>>{{"NoNewPrivileges", "yes"},
                                                          {"ProtectSystem", "strict"},
                                                          {"PrivateTmp", "yes"},
                                                          {"ProtectKernelTunables", "yes"},
                                                          {"ProtectKernelModules", "yes"},
                                                          {"ProtectControlGroups", "yes"},
                                                          {"RestrictSUIDSGID", "yes"},
                                                          {"CapabilityBoundingSet", ""},
                                                          {"KillSignal", "SIGTERM"}}) {
      ASSERT_TRUE(u.keys.count("Service." + key)) << name << ": no " << key;
      EXPECT_EQ(u.Get("Service." + key), value) << name << ": " << key;
    }
    EXPECT_FALSE(u.Get("Service.User").empty()) << name << ": runs as root";
    EXPECT_THAT(u.Get("Service.ProtectHome"), ::testing::AnyOf("yes", "read-only", "tmpfs"))
        << name;
    // With ProtectSystem=strict, everything it writes must be in ReadWritePaths.
    std::vector<std::string> writable;
    for (auto [it, end] = u.keys.equal_range("Service.ReadWritePaths"); it != end; ++it) {
      for (const auto& w : Words(it->second)) writable.push_back(w);
    }
    for (const auto& w : Words(u.Get("Service.ExecStart"))) {
      auto [flag, value] = SplitFlag(w);
      if (flag != "--db" && flag != "--checkpoint-dir") continue;
      const bool ok = std::any_of(writable.begin(), writable.end(), [&](const std::string& p) {
        return value == p || StartsWith(value, p + "/");
      });
      EXPECT_TRUE(ok) << name << ": " << w << " is not under ReadWritePaths";
    }
  }
  // The worker's drain (checkpoint at the next batch, hand back; at most 30 s) must fit.
  EXPECT_GE(Seconds(LoadUnit("hypersweep-worker@.service").Get("Service.TimeoutStopSec")), 35);
  // hypersweepd waits 5 s for in-flight calls.
  EXPECT_GE(Seconds(LoadUnit("hypersweepd.service").Get("Service.TimeoutStopSec")), 10);
}

TEST(SystemdTest, SystemdAnalyzeVerifyIsClean) {
  if (RunCommand("command -v systemd-analyze").status != 0) {
    GTEST_SKIP() << "systemd-analyze not installed; the other systemd checks still ran";
  }
  // The units name /usr/local/bin; verify against the binaries just built.
  const fs::path dir = fs::temp_directory_path() / ("hypersweep-units-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::vector<std::string> instances;
  std::vector<std::string> units = kUnits;
  units.push_back("hypersweepd-backup.service");
  units.push_back("hypersweepd-backup.timer");
  for (const auto& name : units) {
    std::string text = ReadFile(kDeploy + "/systemd/" + name);
    text = std::regex_replace(text, std::regex("/usr/local/bin/hypersweepd"), HYPERSWEEPD_BIN);
    text = std::regex_replace(text, std::regex("/usr/local/bin/hypersweep-worker"),
                              HYPERSWEEP_WORKER_BIN);
    std::ofstream(dir / name) << text;
    instances.push_back((dir / (name.find('@') != std::string::npos
                                    ? std::regex_replace(name, std::regex("@"), "@1")
                                    : name))
                            .string());
  }
  std::string cmd = "cd '" + dir.string() + "' && systemd-analyze verify --man=no";
  for (const auto& i : instances) cmd += " '" + i + "'";
  CommandResult r = RunCommand(cmd);
  fs::remove_all(dir);
  EXPECT_EQ(r.status, 0) << r.output;
  // Unknown keys and bad values are only warnings: any output is a finding.
  EXPECT_EQ(r.output, "");
}

// The daily backup (hypersweepd-backup.service + .timer): it backs up the database the service
// serves, as the service's user, with flags the subcommand has, and may write both places it must.
TEST(SystemdTest, TheBackupUnitBacksUpTheServicesDatabase) {
  const Unit svc = LoadUnit("hypersweepd.service");
  const Unit backup = LoadUnit("hypersweepd-backup.service");
  EXPECT_EQ(backup.Get("Service.User"), svc.Get("Service.User"));
  EXPECT_EQ(backup.Get("Service.Type"), "oneshot");
  std::string served_db;
  for (const auto& w : Words(svc.Get("Service.ExecStart"))) {
    if (SplitFlag(w).first == "--db") served_db = SplitFlag(w).second;
  }
  ASSERT_FALSE(served_db.empty());
  // ExecStart=/bin/sh -c 'exec /usr/local/bin/hypersweepd backup --db ... --out ...'
  const std::string exec = backup.Get("Service.ExecStart");
  const std::smatch m = [&] {
    std::smatch out;
    std::regex_search(exec, out, std::regex("/usr/local/bin/hypersweepd backup ([^']*)'"));
    return out;
  }();
  ASSERT_FALSE(m.empty()) << exec;
  // A command substitution ($(date -I)) is one word to the shell.
  const auto words = Words(std::regex_replace(m[1].str(), std::regex("\\$\\([^)]*\\)"), "DATE"));
  std::map<std::string, std::string> flags;
  for (size_t i = 0; i < words.size(); ++i) {
    ASSERT_TRUE(StartsWith(words[i], "--")) << words[i] << " in " << exec;
    EXPECT_THAT(HelpFlags("hypersweepd backup"), Contains(words[i]));
    const std::string flag = words[i];
    const bool takes_value = i + 1 < words.size() && !StartsWith(words[i + 1], "--");
    if (takes_value) ++i;
    flags[flag] = takes_value ? words[i] : "";
  }
  EXPECT_EQ(flags["--db"], served_db);
  ASSERT_TRUE(flags.count("--out"));
  std::vector<std::string> writable;
  for (auto [it, end] = backup.keys.equal_range("Service.ReadWritePaths"); it != end; ++it) {
    for (const auto& w : Words(it->second)) writable.push_back(w);
  }
  for (const std::string& path : {flags["--db"], flags["--out"]}) {
    const std::string dir = fs::path(path).parent_path().string();
    EXPECT_THAT(writable, Contains(dir)) << path << " is not under ReadWritePaths";
  }
  EXPECT_FALSE(LoadUnit("hypersweepd-backup.timer").Get("Timer.OnCalendar").empty());
}

// ---- Docker ----

struct Instruction {
  std::string op;    // FROM, RUN, COPY...
  std::string args;  // continuation lines joined
  int stage;         // index of the FROM it belongs to
};

std::vector<Instruction> LoadDockerfile() {
  std::ifstream in(kDeploy + "/docker/Dockerfile");
  std::vector<Instruction> out;
  std::string line, current;
  int stage = -1;
  auto flush = [&] {
    const auto sp = current.find_first_of(" \t");
    if (current.empty()) return;
    std::string op = current.substr(0, sp);
    std::transform(op.begin(), op.end(), op.begin(), ::toupper);
    if (op == "FROM") ++stage;
    out.push_back({op, sp == std::string::npos ? "" : current.substr(sp + 1), stage});
    current.clear();
  };
  while (std::getline(in, line)) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    line = line.substr(first);
    if (line.back() == '\\') {
      current += line.substr(0, line.size() - 1) + " ";
      continue;
    }
    current += line;
    flush();
  }
  flush();
  return out;
}

// The packages of every `apt-get install` in `run`.
std::vector<std::string> AptInstalled(const std::string& run) {
  std::vector<std::string> out;
  const std::regex cmd("apt-get\\s+install\\s+([^;&|]*)");
  for (std::sregex_iterator m(run.begin(), run.end(), cmd), end; m != end; ++m) {
    for (const auto& w : Words((*m)[1])) {
      if (!StartsWith(w, "-")) out.push_back(w);
    }
  }
  return out;
}

TEST(DockerfileTest, StagesAreDebian12AndFetchOnlyDebianPackages) {
  const auto instructions = LoadDockerfile();
  std::set<std::string> stage_names;
  int stages = 0;
  for (const auto& i : instructions) {
    if (i.op == "FROM") {
      ++stages;
      const auto w = Words(i.args);
      ASSERT_FALSE(w.empty());
      const std::string& image = w[0];
      const bool debian12 =
          std::regex_match(image, std::regex("debian:(12|bookworm)(-slim)?(@sha256:[0-9a-f]+)?"));
      EXPECT_TRUE(debian12 || stage_names.count(image)) << "FROM " << i.args;
      if (w.size() == 3) stage_names.insert(w[2]);
    }
    EXPECT_NE(i.op, "ADD") << "ADD can fetch URLs; use COPY: " << i.args;
    if (i.op == "COPY") {
      std::smatch from;
      if (std::regex_search(i.args, from, std::regex("--from=(\\S+)"))) {
        EXPECT_TRUE(stage_names.count(from[1])) << "COPY from outside this Dockerfile: " << i.args;
      }
    }
    if (i.op != "RUN") continue;
    const std::regex banned(
        "(^|[\\s;&|(`])(curl|wget|pip3?|pipx|conda|npm|gem|cargo|go\\s+(get|install)|git|add-apt-"
        "repository|"
        "apt-key|gpg|dpkg\\s+-i)(\\s|$)");
    EXPECT_FALSE(std::regex_search(i.args, banned)) << "RUN fetches outside Debian: " << i.args;
    EXPECT_EQ(i.args.find("://"), std::string::npos) << "RUN names a URL: " << i.args;
    EXPECT_EQ(i.args.find("sources.list"), std::string::npos)
        << "RUN changes apt sources: " << i.args;
    for (const auto& p : AptInstalled(i.args)) {
      EXPECT_TRUE(std::regex_match(p, std::regex("[a-z0-9][a-z0-9.+-]*")))
          << "not a package name: " << p;
    }
  }
  EXPECT_GE(stages, 2) << "multi-stage: build, then a runtime without compilers";
}

TEST(DockerfileTest, BuildStageInstallsWhatTheMakefileInstalls) {
  // The same Debian packages as `make deps` (minus test and tool packages), so the image builds
  // when `make test` does.
  const std::string makefile = ReadFile(std::string(HYPERSWEEP_SOURCE_DIR) + "/Makefile");
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(makefile, m, std::regex("DEB_PACKAGES :=((?:[^\\n]*\\\\\\n)*[^\\n]*)")));
  std::vector<std::string> make_deps;
  for (const auto& w : Words(std::regex_replace(m[1].str(), std::regex("\\\\"), " ")))
    make_deps.push_back(w);
  std::vector<std::string> build;
  for (const auto& i : LoadDockerfile()) {
    if (i.op == "RUN" && i.stage == 0) {
      for (const auto& p : AptInstalled(i.args)) build.push_back(p);
    }
  }
  ASSERT_FALSE(build.empty());
  EXPECT_THAT(build, IsSubsetOf(make_deps));
  for (const char* needed : {"libtorch-dev", "libgrpc++-dev", "libsqlite3-dev", "cmake"}) {
    EXPECT_THAT(build, Contains(needed));
  }
}

TEST(DockerfileTest, RuntimeStageHasTheThreeBinariesAndTheLibrariesTheyLink) {
  const auto instructions = LoadDockerfile();
  const int last = instructions.back().stage;
  std::string build_stage_runs, copies;
  std::vector<std::string> runtime;
  for (const auto& i : instructions) {
    if (i.op == "RUN" && i.stage < last) build_stage_runs += i.args + "\n";
    if (i.op == "RUN" && i.stage == last) {
      for (const auto& p : AptInstalled(i.args)) runtime.push_back(p);
    }
    if (i.op == "COPY" && i.stage == last) copies += i.args + "\n";
  }
  for (const char* bin : {"hypersweepd", "hypersweep-worker", "hypersweep"}) {
    EXPECT_TRUE(
        std::regex_search(build_stage_runs, std::regex(std::string("(^|\\s)") + bin + "(\\s|;|$)")))
        << bin << " is not put in the image";
  }
  EXPECT_THAT(copies, ::testing::HasSubstr("/usr/local/bin/"));
  // Each library the binaries link directly comes from a package the runtime stage installs (or
  // from one every Debian image has).
  if (RunCommand("command -v dpkg-query && command -v ldd && command -v readelf").status != 0) {
    GTEST_SKIP() << "no dpkg/ldd/readelf to map libraries to packages";
  }
  const std::set<std::string> in_every_image = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"};
  for (const std::string bin : {HYPERSWEEPD_BIN, HYPERSWEEP_WORKER_BIN}) {
    CommandResult needed =
        RunCommand("readelf -d '" + bin + "' | sed -n 's/.*NEEDED.*\\[\\(.*\\)\\]/\\1/p'");
    CommandResult ldd = RunCommand("ldd '" + bin + "'");
    ASSERT_EQ(needed.status, 0) << needed.output;
    ASSERT_FALSE(Words(needed.output).empty()) << bin;
    // soname -> its path without /usr.
    std::map<std::string, std::string> paths;
    std::string query = "dpkg-query -S";
    for (const auto& soname : Words(needed.output)) {
      std::smatch path;
      ASSERT_TRUE(std::regex_search(
          ldd.output, path,
          std::regex(std::regex_replace(soname, std::regex("[.+]"), "\\$&") + " => (\\S+)")))
          << soname << " not resolved by ldd:\n"
          << ldd.output;
      // dpkg knows a library by /lib/... or /usr/lib/..., whichever its package ships.
      std::string p = path[1].str();
      if (StartsWith(p, "/usr/lib/")) p = p.substr(4);
      paths[soname] = p;
      query += " '" + p + "' '/usr" + p + "'";
    }
    CommandResult owners = RunCommand(query);
    std::map<std::string, std::string> package_of;  // path -> package
    std::istringstream lines(owners.output);
    for (std::string line; std::getline(lines, line);) {
      const auto sep = line.find(": ");
      if (sep == std::string::npos) continue;
      package_of[line.substr(sep + 2)] = line.substr(0, line.find_first_of(":,"));
    }
    for (const auto& [soname, path] : paths) {
      if (!package_of.count(path)) package_of[path] = package_of["/usr" + path];
      ASSERT_FALSE(package_of[path].empty()) << soname << " (" << path << ") is in no package:\n"
                                             << owners.output;
      const std::string& package = package_of[path];
      if (in_every_image.count(package)) continue;
      EXPECT_THAT(runtime, Contains(package)) << bin << " links " << soname << " from " << package;
    }
  }
}

}  // namespace
}  // namespace hypersweep::deploy_test
