"""A headless Chromium driven over the DevTools protocol, for the dashboard's browser tests.

Standard library only (it runs under Debian's /usr/bin/python3 with nothing else installed). The
browser is started with --remote-debugging-pipe: DevTools messages are JSON objects ended by a NUL
byte, written to the browser's fd 3 and read from its fd 4, so no port is opened and no WebSocket
client is needed.
"""

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time


class BrowserError(RuntimeError):
    pass


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium process; `new_page()` opens a tab."""

    def __init__(self, user_data_dir, log_path, width=1280, height=900):
        binary = find_chromium()
        if binary is None:
            raise BrowserError("chromium not found (Debian package `chromium`; `make deps` installs it)")
        self.width, self.height = width, height
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_fds():  # in the child: the protocol pipes become fds 3 and 4
            a = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [binary, "--headless", "--remote-debugging-pipe", "--disable-gpu",
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio",
                f"--window-size={width},{height}", f"--user-data-dir={user_data_dir}"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run its sandbox as root (CI is root)
        args.append("about:blank")
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(args, preexec_fn=wire_fds, close_fds=False,
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._next_id = 0
        self.events = []  # every event received: {"method", "params", "sessionId"}

    def close(self):
        if self.proc.poll() is None:
            try:
                self._send("Browser.close")
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - closing on the way out; kill below
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _send(self, method, params=None, session=None):
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            written = os.write(self._to_browser, data)
            data = data[written:]
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(f"chromium exited (status {self.proc.poll()})")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method, params=None, session=None, timeout=30):
        """Sends one command and returns its result; events met meanwhile go to self.events."""
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._read_message(deadline)
            if message is None:
                raise BrowserError(f"{method}: no answer in {timeout} s")
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def pump(self, seconds):
        """Collects events for `seconds`."""
        deadline = time.monotonic() + seconds
        while True:
            message = self._read_message(deadline)
            if message is None:
                return
            if "method" in message:
                self.events.append(message)

    def new_page(self):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        page.call("Page.enable")
        page.call("Runtime.enable")
        page.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})
        return page


class Page:
    def __init__(self, browser, session):
        self.browser = browser
        self.session = session

    def call(self, method, params=None, timeout=30):
        return self.browser.call(method, params, self.session, timeout)

    def events(self, method):
        return [e["params"] for e in self.browser.events
                if e.get("sessionId") == self.session and e.get("method") == method]

    def navigate(self, url, timeout=30):
        loads_before = len(self.events("Page.loadEventFired"))
        result = self.call("Page.navigate", {"url": url})
        if result.get("errorText"):
            raise BrowserError(f"navigate {url}: {result['errorText']}")
        deadline = time.monotonic() + timeout
        while len(self.events("Page.loadEventFired")) <= loads_before:
            if time.monotonic() > deadline:
                raise BrowserError(f"navigate {url}: no load event in {timeout} s")
            self.browser.pump(0.1)

    def eval(self, expression, timeout=30):
        """The value of a JavaScript expression (promises are awaited)."""
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True}, timeout)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"evaluating {expression[:80]!r}: {text}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression, timeout, what=None):
        """Polls a JavaScript expression until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = self.eval(expression)
            if last:
                return last
            self.browser.pump(0.2)
        raise BrowserError(f"timed out after {timeout} s waiting for {what or expression} (last: {last!r})")

    def screenshot(self, path, max_height=8000):
        """A PNG of the whole page (not only the viewport), cut at max_height; returns its bytes."""
        metrics = self.call("Page.getLayoutMetrics")
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = max(int(size["width"]), 1)
        height = min(max(int(size["height"]), 1), max_height)
        data = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}})["data"]
        png = base64.b64decode(data)
        with open(path, "wb") as f:
            f.write(png)
        return png


# Decodes a PNG with the browser's own image decoder (in a canvas of a blank tab) and measures it:
# {width, height, colors (distinct colours, capped), dominant (share of the commonest colour)}.
_MEASURE_PNG = """
(async () => {
  const img = new Image();
  img.src = 'data:image/png;base64,%s';
  await img.decode();
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  const counts = new Map();
  for (let i = 0; i < d.length; i += 4) {
    const k = (d[i] << 16) | (d[i + 1] << 8) | d[i + 2];
    counts.set(k, (counts.get(k) || 0) + 1);
  }
  let top = 0;
  for (const n of counts.values()) top = Math.max(top, n);
  return {width: c.width, height: c.height, colors: counts.size, dominant: top / (d.length / 4)};
})()
"""


def measure_png(page, png):
    page.navigate("about:blank")
    return page.eval(_MEASURE_PNG % base64.b64encode(png).decode(), timeout=60)
