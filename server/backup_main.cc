// `hypersweepd backup` and `hypersweepd restore` (docs/OPERATIONS.md): the subcommands around
// server/store/backup.h. main.cc hands argv over when argv[1] is one of them.
//   hypersweepd backup --db FILE --out BACKUP [--force]     safe while the coordinator serves
//   hypersweepd restore --from BACKUP --db FILE [--force]   while no coordinator holds FILE
// Progress goes to stderr, a one-line summary to stdout. Exit status: 0 done, 2 bad usage or bad
// input (a missing or damaged file, an existing output without --force), 1 any other failure.
#include <cstdio>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "server/store/backup.h"

namespace hypersweep {
namespace {

int ExitCodeOf(const absl::Status& st) {
  switch (st.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kNotFound:
    case absl::StatusCode::kAlreadyExists:
      return 2;
    default:
      return 1;
  }
}

// Prints "copied N / M pages" to stderr at 0%, every further 10%, and at the end.
BackupOptions::ProgressFn ProgressPrinter(const std::string& command) {
  auto last_decile = std::make_shared<int64_t>(-1);
  return [command, last_decile](int64_t copied, int64_t total) {
    const int64_t decile = total > 0 ? copied * 10 / total : 10;
    if (decile == *last_decile) return;
    *last_decile = decile;
    std::fprintf(stderr, "hypersweepd %s: copied %lld / %lld pages (%lld%%)\n", command.c_str(),
                 static_cast<long long>(copied), static_cast<long long>(total),
                 static_cast<long long>(decile * 10));
  };
}

void PrintSummary(const char* verb, const std::string& from, const BackupSummary& s) {
  std::printf(
      "%s '%s' from '%s': %lld bytes, %lld pages, schema version %d, %lld sweeps, %lld trials, "
      "%lld epochs, %.2f s\n",
      verb, s.path.c_str(), from.c_str(), static_cast<long long>(s.bytes),
      static_cast<long long>(s.pages), s.schema_version, static_cast<long long>(s.sweeps),
      static_cast<long long>(s.trials), static_cast<long long>(s.epochs), s.seconds);
  std::fflush(stdout);
}

}  // namespace

// argv[1] is "backup" or "restore".
int RunBackupCommand(int argc, char** argv) {
  const std::string command = argv[1];
  const bool backup = command == "backup";
  CLI::App app{backup ? "hypersweepd backup: a consistent snapshot of a coordinator's database, "
                        "safe while it serves (SQLite online backup)"
                      : "hypersweepd restore: install a backup as a coordinator's database (no "
                        "hypersweepd may hold it); then start hypersweepd --db FILE",
               "hypersweepd " + command};
  std::string db, other;
  BackupOptions options;
  if (backup) {
    app.add_option("--db", db, "the coordinator's SQLite file (it may be serving)")->required();
    app.add_option("--out", other, "the backup file to write (atomically: tmp + rename)")
        ->required();
    app.add_flag("--force", options.force, "replace an existing --out file");
  } else {
    app.add_option("--from", other, "the backup file (written by hypersweepd backup)")->required();
    app.add_option("--db", db, "the database file to create (start hypersweepd --db on it)")
        ->required();
    app.add_flag("--force", options.force,
                 "replace an existing --db file (its -wal and -shm are removed)");
  }
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help is 0
  }
  options.progress = ProgressPrinter(command);
  auto summary = backup ? BackupDatabase(db, other, options) : RestoreDatabase(other, db, options);
  if (!summary.ok()) {
    std::fprintf(stderr, "hypersweepd %s: %s\n", command.c_str(),
                 std::string(summary.status().message()).c_str());
    return ExitCodeOf(summary.status());
  }
  if (backup) {
    PrintSummary("backup", db, *summary);
  } else {
    PrintSummary("restored", other, *summary);
    std::fprintf(stderr, "hypersweepd restore: start the coordinator with: hypersweepd --db %s\n",
                 db.c_str());
  }
  return 0;
}

}  // namespace hypersweep
