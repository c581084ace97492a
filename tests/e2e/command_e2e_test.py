#!/usr/bin/python3
"""Command trials end to end (docs/COMMAND_TRIALS.md): a real hypersweepd, a worker without
--allow-command (it must run none) and one with it (it runs them all); an 8-point sweep of a small
stdlib-only program that reports its own metrics through examples/command/hypersweep_trial.py;
the CLI's trials --sort, best, curves, export and plot on those names; kill -9 of a worker while
its program runs (the trial is requeued, the program does not survive); cancel stops programs.

  command_e2e_test.py --bin DIR   (hypersweepd, hypersweep, hypersweep-worker)
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from procs import start, stop  # noqa: E402

HELPER = os.path.join(HERE, "..", "..", "examples", "command", "hypersweep_trial.py")

# The program: reads its point, follows the schedule table, reports my_loss/my_acc each epoch.
# MARKER in argv lets the test find every process of it in /proc.
PROGRAM = r'''
import os, sys, time
import hypersweep_trial as hs
t = hs.load()
# The worker's environment reaches the program without its tokens; the spec's env and argv do.
assert os.environ.get("E2E_VAR") == "yes", "env"
assert not [k for k in os.environ if "TOKEN" in k.upper()], "a token reached the program"
assert sys.argv[3] == "--lr=%r" % t["lr"] or float(sys.argv[3][5:]) == t["lr"], sys.argv
with open(os.path.join(hs.checkpoint_dir(), "pid-%d" % os.getpid()), "w") as f:
    f.write(str(os.getpid()))
pause = float(sys.argv[2])
for epoch in range(t["epochs"]):
    time.sleep(pause)
    lr = hs.lr(epoch * t["steps_per_epoch"])
    hs.report(epoch=epoch, my_loss=abs(t["lr"] - 0.1) + 1.0 / (epoch + 1), my_acc=0.5 + 0.1 * epoch, lr=lr)
'''

SWEEP = """
name: command-e2e
command:
  argv: [python3, prog.py, MARKER-{marker}, "{pause}", "--lr={{lr}}"]
  workdir: {workdir}
  steps_per_epoch: 4
  env: {{E2E_VAR: "yes"}}
objective: {{metric: my_loss, goal: minimize}}
epochs: {epochs}
grid:
  schedule: [{schedules}]
"""


def run(cli, server, *args, check=True):
    out = subprocess.run([cli, "--server", server, *args], capture_output=True, text=True,
                         timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"hypersweep {' '.join(args)}: {out.returncode}\n{out.stderr}")
    return out.stdout


def program_pids(marker):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmd and state != "Z":
            pids.append(int(d))
    return pids


def trials(cli, server, sweep):
    return json.loads(run(cli, server, "trials", sweep, "--format", "json"))


def wait_for(what, cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def status_of(t):
    return t.get("status") or t.get("state")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    opts = ap.parse_args()
    hsd, cli, wbin = (os.path.join(opts.bin, n) for n in ("hypersweepd", "hypersweep", "hypersweep-worker"))
    tmp = tempfile.mkdtemp(prefix="command-e2e-")
    procs = []
    marker = f"e2e{os.getpid()}"
    try:
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        shutil.copy(HELPER, work)
        with open(os.path.join(work, "prog.py"), "w") as f:
            f.write(PROGRAM)
        coord, m = start([hsd, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "db"),
                          "--lease-ttl", "3s"], os.path.join(tmp, "hypersweepd.log"),
                         r"listening on 127\.0\.0\.1:(\d+)")
        procs.append(coord)
        server = f"127.0.0.1:{m.group(1)}"

        def worker(name, *extra):
            p = subprocess.Popen(
                [wbin, "--server", server, "--acquire-wait-ms", "1000", "--threads", "1",
                 "--checkpoint-dir", os.path.join(tmp, name), "--allow-data-root", work,
                 "--command-grace-seconds", "2", *extra],
                stdin=subprocess.DEVNULL, stdout=open(os.path.join(tmp, name + ".log"), "ab"),
                stderr=subprocess.STDOUT, start_new_session=True,
                env=dict(os.environ, MY_API_TOKEN="secret"))
            procs.append(p)
            return p

        def submit(name, epochs, pause, schedules):
            path = os.path.join(tmp, name + ".yaml")
            with open(path, "w") as f:
                f.write(SWEEP.format(marker=marker + name, pause=pause, workdir=work, epochs=epochs,
                                     schedules=", ".join(schedules)))
            return run(cli, server, "submit", path).strip().splitlines()[-1]

        # 1. Eight points; the refusing worker starts first.
        refuser = worker("refuser")
        lrs = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0]
        sweep = submit("grid", 3, 0.05, ["{one_cycle: {max_lr: %g}}" % lr for lr in lrs])
        time.sleep(1.5)
        runner = worker("runner", "--allow-command", "python3", "--slots", "2")
        done = wait_for("8 trials to end", lambda: (lambda ts: ts if all(
            status_of(t) in ("SUCCEEDED", "FAILED", "DIVERGED") for t in ts) else None)(
            trials(cli, server, sweep)), 60)
        assert len(done) == 8, done
        assert all(status_of(t) == "SUCCEEDED" for t in done), done
        assert not os.path.exists(os.path.join(tmp, "refuser", "command")), "the refuser ran a program"
        with open(os.path.join(tmp, "refuser.log")) as f:
            assert "refused" in f.read()
        # The program saw its env, its substituted argv, and no token.
        trial_dirs = os.listdir(os.path.join(tmp, "runner", "command"))
        assert len(trial_dirs) == 8, trial_dirs
        # The CLI on the program's own metric names.
        table = run(cli, server, "trials", sweep, "--sort", "my_loss", "--format", "csv")
        assert "my_loss" in table, table
        rows = [r for r in table.splitlines()[1:] if r]
        assert len(rows) == 8, table
        best = run(cli, server, "best", sweep, "--metric", "my_loss", "--format", "json")
        best = json.loads(best)
        best = best[0] if isinstance(best, list) else best
        # The lr=0.1 point (index 2) is best by construction: my_loss = |lr - 0.1| + 1/(epoch+1).
        assert best["metric"] == "my_loss" and best["index"] == 2, best
        assert abs(best["best"] - 1 / 3) < 1e-9, best
        curves = run(cli, server, "curves", sweep, "--metrics", "my_loss,my_acc", "--format", "csv")
        assert "my_acc" in curves and len(curves.splitlines()) == 1 + 8 * 3, curves
        export = run(cli, server, "export", sweep, "--format", "json")
        assert "my_acc" in export
        svg = os.path.join(tmp, "curves.svg")
        run(cli, server, "plot", sweep, "--kind", "curves", "--metric", "my_loss", "--out", svg)
        with open(svg) as f:
            assert "<svg" in f.read()
        print("8-point sweep and CLI: ok")

        # 2. kill -9 of the worker while its program runs: requeued, no orphan.
        victim = worker("victim", "--allow-command", "python3")
        stop(runner)
        slow = submit("kill", 4, 1.0, ["{constant: {lr: 0.1}}"])
        wait_for("the program to start", lambda: program_pids(marker + "kill"), 30)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        wait_for("the program to die with its worker", lambda: not program_pids(marker + "kill"), 10)
        runner = worker("runner2", "--allow-command", "python3")
        t = wait_for("the requeued trial to succeed", lambda: (lambda ts: ts if status_of(ts[0]) == "SUCCEEDED" else None)(
            trials(cli, server, slow)), 60)
        assert int(t[0].get("attempt", 2)) >= 2, t
        print("kill -9: ok")

        # 3. cancel stops running programs.
        hang = submit("cancel", 100, 30.0, ["{constant: {lr: 0.1}}"])
        wait_for("the program to start", lambda: program_pids(marker + "cancel"), 30)
        run(cli, server, "cancel", hang)
        wait_for("the program to stop", lambda: not program_pids(marker + "cancel"), 15)
        wait_for("the trial to be cancelled", lambda: status_of(trials(cli, server, hang)[0]) == "CANCELLED", 15)
        print("cancel: ok")
        print("PASS")
        return 0
    finally:
        for p in procs:
            stop(p)
        for pid in program_pids(marker):
            os.kill(pid, signal.SIGKILL)
        if os.environ.get("KEEP_TMP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
