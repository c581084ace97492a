#!/usr/bin/python3
"""Screenshot of a sweep's dashboard page, from a coordinator database (e.g. the demo's).

  scripts/demo.sh --keep-db /tmp/demo.db
  scripts/dashboard_screenshot.py --db /tmp/demo.db --sweep demo-schedules \\
      --out docs/images/dashboard-sweep.png

Serves a copy of the database with hypersweepd (the file itself is not touched), starts
`hypersweep dashboard` on loopback, and has headless Chromium (Debian's `chromium`) photograph the
page: the top --height pixels (0: the whole page). Exit 0 on success, 1 on failure, 2 on bad usage.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e"))
import browser as cdp  # noqa: E402
from procs import StartError, start, stop  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="coordinator database (SQLite)")
    parser.add_argument("--sweep", required=True, help="sweep name or id")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--bin", default=os.environ.get("BUILD_DIR", "build") + "/bin",
                        help="directory with hypersweepd and hypersweep (default build/bin)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=1500, help="crop to this many pixels (0: whole page)")
    opts = parser.parse_args()
    if not os.path.isfile(opts.db):
        print(f"dashboard_screenshot: --db {opts.db}: no such file", file=sys.stderr)
        return 2
    procs = []
    with tempfile.TemporaryDirectory(prefix="hypersweep-shot-") as tmp:
        log = os.path.join(tmp, "log")
        try:
            db = os.path.join(tmp, "copy.db")
            shutil.copyfile(opts.db, db)
            coord, m = start([os.path.join(opts.bin, "hypersweepd"), "--listen", "127.0.0.1:0", "--db", db],
                             log, r"listening on (127\.0\.0\.1:\d+)")
            procs.append(coord)
            server = m.group(1)
            listing = subprocess.run([os.path.join(opts.bin, "hypersweep"), "--server", server, "list",
                                      "--format", "csv"], check=True, capture_output=True, text=True).stdout
            ids = [row.split(",")[0] for row in listing.splitlines()[1:]
                   if opts.sweep in (row.split(",")[0], row.split(",")[1])]
            if len(ids) != 1:
                print(f"dashboard_screenshot: --sweep {opts.sweep}: {len(ids)} sweeps match; have:\n{listing}",
                      file=sys.stderr)
                return 2
            dash, m = start([os.path.join(opts.bin, "hypersweep"), "--server", server, "dashboard",
                             "--listen", "127.0.0.1:0"], log, r"(http://127\.0\.0\.1:\d+)")
            procs.append(dash)
            with cdp.Browser(os.path.join(tmp, "profile"), os.path.join(tmp, "chromium.log"),
                             width=opts.width, height=opts.height or 900) as browser:
                page = browser.new_page()
                page.navigate(f"{m.group(1)}/sweeps/{ids[0]}")
                # Every plot image has loaded (or failed to); then let layout settle.
                page.wait_for("[...document.images].every(i => i.complete)", 60, "the plots")
                time.sleep(0.5)
                png = page.screenshot(opts.out, max_height=opts.height or 8000)
            print(f"dashboard_screenshot: wrote {opts.out} ({len(png)} bytes) of sweep {ids[0]}")
            return 0
        except (StartError, cdp.BrowserError, subprocess.SubprocessError) as e:
            print(f"dashboard_screenshot: {e}", file=sys.stderr)
            return 1
        finally:
            for p in reversed(procs):
                stop(p)


if __name__ == "__main__":
    sys.exit(main())
