"""Child processes for the dashboard's browser test and scripts/dashboard_screenshot.py: servers
that announce their address on their first stdout line (hypersweepd, `hypersweep dashboard`)."""

import os
import re
import signal
import subprocess


class StartError(RuntimeError):
    pass


def start(args, log_path, first_line_pattern):
    """Starts `args` in a session of its own, stderr appended to log_path, and matches its first
    stdout line against first_line_pattern; returns (process, match)."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True)
    line = proc.stdout.readline().decode(errors="replace")
    match = re.search(first_line_pattern, line)
    if not match:
        stop(proc)
        raise StartError(f"{args[0]} did not start: first line {line!r} (status {proc.poll()}); "
                         f"see {log_path}")
    return proc, match


def stop(proc):
    """SIGTERM to the process's session, SIGKILL after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
