#!/usr/bin/python3
"""`hypersweep dashboard` in a real browser (headless Chromium), against a real hypersweepd and a
real hypersweep-worker training a sweep on loopback.

Checks that the sweeps page lists the submitted sweep, that the sweep page shows its trials and a
learning curve, that new epochs appear on the sweep and trial pages without a reload (the pages'
server-sent-events path), that a sweep named <script>alert(1)</script> renders as text and runs
nothing, and that the workers page lists the worker. A full-page screenshot of each page is written
to --artifacts (CI keeps it) and checked to be non-blank.

Run by ctest (label e2e); by hand:
  /usr/bin/python3 tests/e2e/dashboard_browser_test.py --bin build/bin --artifacts /tmp/shots
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser as cdp  # noqa: E402
from procs import StartError, start, stop  # noqa: E402

EVIL_NAME = "<script>alert(1)</script>"

# A sweep the worker trains for a while: 4 points x 60 epochs of a small MLP on synthetic data,
# each epoch long enough (~0.1-0.3 s) that epochs keep arriving while the browser watches.
SWEEP = """
name: browser-test
dataset: {synthetic: {samples: 40000, features: 16, classes: 2}}
model: {mlp: {hidden: [64, 64]}}
batch_size: 32
epochs: 60
objective: {metric: val_loss, goal: minimize}
grid:
  schedule:
    - {one_cycle: {max_lr: 0.1}}
    - {constant: {lr: 0.02}}
  momentum: [0.9, 0.95]
"""

EVIL_SWEEP = f"""
name: "{EVIL_NAME}"
dataset: {{synthetic: {{samples: 512, features: 4, classes: 2}}}}
model: {{mlp: {{hidden: [8]}}}}
epochs: 1
schedule: {{constant: {{lr: 0.01}}}}
"""


class Failure(AssertionError):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def screenshot(page, artifacts, name, results):
    path = os.path.join(artifacts, f"dashboard-{name}.png")
    png = page.screenshot(path)
    results[name] = (path, png)
    return path


def check_screenshots(page, results):
    """Every screenshot is a real picture: more than a handful of colours, and thousands of pixels
    off the background (a blank or error-free-but-empty page has next to none)."""
    for name, (path, png) in results.items():
        m = cdp.measure_png(page, png)
        print(f"  screenshot {name}: {path} {m['width']}x{m['height']}, {m['colors']} colours, "
              f"commonest {100 * m['dominant']:.1f}%")
        check(m["width"] >= 800 and m["height"] >= 300, f"{name} screenshot is {m['width']}x{m['height']}")
        check(m["colors"] >= 16, f"{name} screenshot has only {m['colors']} colours: blank?")
        other = round((1 - m["dominant"]) * m["width"] * m["height"])
        check(other >= 5000, f"{name} screenshot has only {other} pixels off its background: blank?")


# Epochs reported, summed over the sweep page's trial rows.
EPOCH_SUM = ("[...document.querySelectorAll('#trials-table tr[data-epochs]')]"
             ".reduce((n, r) => n + Number(r.dataset.epochs), 0)")
# Rows of the trial page's epoch table.
EPOCH_ROWS = "document.querySelectorAll('#epochs-table tr[data-epoch]').length"


def run(opts, tmp):
    bin_dir = opts.bin
    hypersweepd = os.path.join(bin_dir, "hypersweepd")
    worker_bin = os.path.join(bin_dir, "hypersweep-worker")
    cli = os.path.join(bin_dir, "hypersweep")
    os.makedirs(opts.artifacts, exist_ok=True)
    logs = os.path.join(opts.artifacts, "logs")
    os.makedirs(logs, exist_ok=True)
    procs = []
    try:
        coord, m = start([hypersweepd, "--listen", "127.0.0.1:0", "--db", os.path.join(tmp, "sweeps.db")],
                         os.path.join(logs, "hypersweepd.log"), r"listening on 127\.0\.0\.1:(\d+)")
        procs.append(coord)
        server = f"127.0.0.1:{m.group(1)}"

        def submit(text, name):
            path = os.path.join(tmp, name + ".yaml")
            with open(path, "w") as f:
                f.write(text)
            out = subprocess.run([cli, "--server", server, "submit", path], check=True,
                                 capture_output=True, text=True, timeout=60)
            return out.stdout.strip().splitlines()[-1]

        sweep_id = submit(SWEEP, "sweep")
        evil_id = submit(EVIL_SWEEP, "evil")
        print(f"submitted {sweep_id} and {evil_id} to {server}")

        dash, m = start([cli, "--server", server, "dashboard", "--listen", "127.0.0.1:0"],
                        os.path.join(logs, "dashboard.log"), r"(http://127\.0\.0\.1:\d+)")
        procs.append(dash)
        base = m.group(1)

        worker = subprocess.Popen(
            [worker_bin, "--server", server, "--threads", "1", "--acquire-wait-ms", "2000",
             "--checkpoint-dir", os.path.join(tmp, "checkpoints")],
            stdin=subprocess.DEVNULL, stdout=open(os.path.join(logs, "worker.log"), "ab"),
            stderr=subprocess.STDOUT, start_new_session=True)
        procs.append(worker)

        shots = {}
        with cdp.Browser(os.path.join(tmp, "chromium-profile"), os.path.join(logs, "chromium.log")) as browser:
            page = browser.new_page()

            # The sweeps page lists both sweeps; the hostile name is text, not markup.
            page.navigate(base + "/")
            page.wait_for(f"!!document.querySelector('#sweeps-table tr[data-sweep-id=\"{sweep_id}\"]')",
                          20, "the sweep's row on the sweeps page")
            row_text = page.eval(f"document.querySelector('tr[data-sweep-id=\"{sweep_id}\"]').textContent")
            check("browser-test" in row_text, f"sweep row does not name the sweep: {row_text!r}")
            evil_text = page.eval(f"document.querySelector('tr[data-sweep-id=\"{evil_id}\"]').textContent")
            check(EVIL_NAME in evil_text, f"the hostile name is not shown as text: {evil_text!r}")
            inline = page.eval("[...document.scripts].filter(s => !s.src).length")
            check(inline == 0, f"{inline} inline <script> element(s) on the sweeps page")
            print("sweeps page: lists the sweep; the hostile name renders as text")
            screenshot(page, opts.artifacts, "sweeps", shots)

            # The hostile sweep's own page: the name is the heading's text.
            page.navigate(f"{base}/sweeps/{evil_id}")
            heading = page.wait_for("document.querySelector('#sweep-name')?.textContent", 10, "#sweep-name")
            check(EVIL_NAME in heading, f"sweep heading is {heading!r}")
            check(page.eval("[...document.scripts].filter(s => !s.src).length") == 0,
                  "inline <script> on the hostile sweep's page")

            # The sweep page: trials, a learning curve, and epochs arriving without a reload.
            page.navigate(f"{base}/sweeps/{sweep_id}")
            rows = page.wait_for("document.querySelectorAll('#trials-table tr[data-trial-id]').length", 10,
                                 "trial rows")
            check(rows == 4, f"{rows} trial rows, expected 4")
            page.eval("window.__loadedOnce = 'marker'")
            first = page.wait_for(f"{EPOCH_SUM} >= 2 && {EPOCH_SUM}", 60, "two epochs on the sweep page")
            later = page.wait_for(f"{EPOCH_SUM} > {first} && {EPOCH_SUM}", 30, "a new epoch on the sweep page")
            check(page.eval("window.__loadedOnce") == "marker", "the sweep page was reloaded")
            check(page.eval("document.querySelector('#connection-banner').dataset.state") == "live",
                  "connection banner is not 'live'")
            print(f"sweep page: {rows} trials; epochs {first} -> {later} without a reload")
            # The learning curve: its image is served (200, not the 'nothing to plot' 404), decoded
            # by the browser, and has a line in it.
            curve = page.wait_for(
                "(async () => { const i = document.querySelector('#plot-curves-val_loss');"
                " if (!i) return null; await i.decode().catch(() => null);"
                " const r = await fetch(i.src); const t = await r.text();"
                " return (r.status === 200 && i.naturalWidth > 0 && /<path|<polyline/.test(t))"
                " ? {status: r.status, width: i.naturalWidth, bytes: t.length} : null; })()",
                30, "the val_loss learning curve")
            print(f"sweep page: learning curve {curve}")
            # The filter box hides rows in the page; clearing it shows them again.
            page.eval("document.querySelector('#trial-filter').focus()")
            page.call("Input.insertText", {"text": "constant"})  # typed, as a person would
            visible = page.eval("[...document.querySelectorAll('#trials-table tr[data-trial-id]')]"
                                ".filter(r => !r.hidden).length")
            check(visible == 2, f"filter 'constant' leaves {visible} rows visible, expected 2")
            page.eval("(() => { const f = document.querySelector('#trial-filter'); f.value = '';"
                      " f.dispatchEvent(new Event('input', {bubbles: true})); })()")
            time.sleep(0.5)  # let the image swap triggered by the last event settle
            screenshot(page, opts.artifacts, "sweep", shots)

            # A trial page: live too.
            trial_id = page.eval("[...document.querySelectorAll('#trials-table tr[data-trial-id]')]"
                                 ".find(r => r.dataset.status === 'LEASED')?.dataset.trialId")
            check(trial_id, "no trial is LEASED on the sweep page")
            page.navigate(f"{base}/sweeps/{sweep_id}/trials/{trial_id}")
            page.eval("window.__loadedOnce = 'marker'")
            n0 = page.wait_for(EPOCH_ROWS, 30, "an epoch on the trial page")
            n1 = page.wait_for(f"{EPOCH_ROWS} > {n0} && {EPOCH_ROWS}", 30, "a new epoch on the trial page")
            check(page.eval("window.__loadedOnce") == "marker", "the trial page was reloaded")
            print(f"trial page {trial_id}: epochs {n0} -> {n1} without a reload")
            screenshot(page, opts.artifacts, "trial", shots)

            # The coordinator dies: the sweep page says "reconnecting"; it comes back on the same port
            # and database: the banner goes and epochs arrive again, still without a reload.
            page.navigate(f"{base}/sweeps/{sweep_id}")
            page.eval("window.__loadedOnce = 'marker'")
            page.wait_for("document.querySelector('#connection-banner').dataset.state === 'live' && "
                          "document.querySelectorAll('#trials-table tr[data-trial-id]').length === 4", 10,
                          "the sweep page, live")
            os.killpg(coord.pid, signal.SIGKILL)
            coord.wait()
            page.wait_for("document.querySelector('#connection-banner').dataset.state === 'reconnecting'"
                          " && !document.querySelector('#connection-banner').hidden", 20,
                          "the 'reconnecting' banner after the coordinator died")
            print("sweep page: shows 'reconnecting' while the coordinator is down")
            coord, _ = start([hypersweepd, "--listen", server, "--db", os.path.join(tmp, "sweeps.db")],
                             os.path.join(logs, "hypersweepd.log"), r"listening on 127\.0\.0\.1:(\d+)")
            procs[0] = coord
            page.wait_for("document.querySelector('#connection-banner').dataset.state === 'live'", 60,
                          "the banner to clear after the coordinator came back")
            before = page.eval(EPOCH_SUM)
            after = page.wait_for(f"{EPOCH_SUM} > {before} && {EPOCH_SUM}", 60,
                                  "a new epoch after the coordinator came back")
            check(page.eval("window.__loadedOnce") == "marker", "the sweep page was reloaded")
            print(f"sweep page: live again after the restart, epochs {before} -> {after} without a reload")

            # The workers page lists the worker.
            page.navigate(base + "/workers")
            workers = page.wait_for("document.querySelectorAll('#workers-table tr[data-worker-id]').length",
                                    10, "a worker row")
            check(workers == 1, f"{workers} workers listed, expected 1")
            screenshot(page, opts.artifacts, "workers", shots)

            dialogs = [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
            check(not dialogs, f"a page opened a JavaScript dialog: {dialogs}")
            errors = [e["params"]["exceptionDetails"].get("text") for e in browser.events
                      if e.get("method") == "Runtime.exceptionThrown"]
            check(not errors, f"uncaught JavaScript errors: {errors}")
            check_screenshots(browser.new_page(), shots)
    finally:
        for p in reversed(procs):
            stop(p)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="directory with hypersweepd, hypersweep, hypersweep-worker")
    parser.add_argument("--artifacts", required=True, help="where screenshots and logs go")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hypersweep-browser-") as tmp:
        try:
            run(opts, tmp)
        except (Failure, StartError, cdp.BrowserError, subprocess.SubprocessError) as e:
            traceback.print_exc()
            print(f"FAILED: {e}\n(logs and screenshots in {opts.artifacts})", file=sys.stderr)
            return 1
    print(f"PASSED (screenshots in {opts.artifacts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
