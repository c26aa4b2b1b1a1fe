"""Headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe): no websocket, no
package beyond the standard library. `render(page, width)` loads a local page at one viewport width and returns
what the browser saw: console errors and uncaught exceptions, every URL it requested, the geometry of the
elements a CSS selector picks, and a full-page screenshot as PNG bytes.

    python tests/browser.py runs/backprop.html docs/explain_page.png    # the README's screenshot (1280 wide, top part)
"""

import base64
import fcntl
import io
import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-pipe"]
PUT_PIPES = ("import os, sys; r, w = int(sys.argv[1]), int(sys.argv[2]); os.dup2(r, 3); os.dup2(w, 4); "
             "os.close(r); os.close(w); os.execv(sys.argv[3], sys.argv[3:])")
MEASURE = """JSON.stringify({
  scrollWidth: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight,
  images: [...document.images].map(i => ({complete: i.complete, width: i.naturalWidth})),
  boxes: [...document.querySelectorAll(SELECTOR)].map(e => {
    const r = e.getBoundingClientRect();
    return {name: e.dataset.panel, x: r.x, y: r.y + window.scrollY, width: r.width, height: r.height};
  }),
})"""


def find_chromium():
    """The path of a Chromium on PATH, or None."""
    return next((path for path in map(shutil.which, CHROMIUM_NAMES) if path), None)


@dataclass
class Rendering:
    """What one load of a page showed: errors (console and exceptions), requested URLs, element boxes, the PNG."""

    errors: list = field(default_factory=list)
    requests: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    images: list = field(default_factory=list)
    scroll_width: int = 0
    height: int = 0
    png: bytes = b""


class DevTools:
    """One Chromium and the pipe to it: send a command, wait for its answer, keep the events that come between."""

    def __init__(self, chromium, timeout=60):
        self.profile = tempfile.mkdtemp(prefix="scratchnet-chromium-")
        self.log = open(os.path.join(self.profile, "stderr.log"), "w+b")  # noqa: SIM115 (closed in close())
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # Chromium reads commands on fd 3 and writes answers on fd 4; PUT_PIPES moves the pipes there (from fds
        # above 9, so that neither move overwrites the other pipe) and becomes Chromium.
        child_r, child_w = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_chrome_r, from_chrome_w))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PUT_PIPES, str(child_r), str(child_w), chromium, *FLAGS,
             f"--user-data-dir={self.profile}", "about:blank"],
            pass_fds=(child_r, child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        for fd in (to_chrome_r, from_chrome_w, child_r, child_w):
            os.close(fd)
        self.timeout, self.buffer, self.next_id, self.events = timeout, b"", 0, []

    def send(self, method, session=None, **params):
        """Run one DevTools command and return its result; raise on an error answer."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            answer = self._read()
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def wait_for(self, method):
        """Read messages until the event `method` arrives (one already received counts)."""
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read())

    def _read(self):
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.from_chrome], [], [], self.timeout)
            chunk = os.read(self.from_chrome, 1 << 20) if ready else b""
            if not chunk:
                self.log.seek(0)
                tail = self.log.read().decode(errors="replace").strip().splitlines()[-5:]
                raise RuntimeError("Chromium stopped answering (or took longer than the timeout); its last "
                                   "lines:\n" + "\n".join(tail))
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close")
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def render(page, width, selector="[data-panel]", chromium=None, height=900):
    """Load the local file `page` in a viewport `width` CSS pixels wide; return its Rendering."""
    browser = DevTools(chromium or find_chromium())
    try:
        target = browser.send("Target.createTarget", url="about:blank")["targetId"]
        session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session)
        browser.send("Emulation.setDeviceMetricsOverride", session, width=width, height=height,
                     deviceScaleFactor=1, mobile=width < 600)
        browser.send("Page.navigate", session, url=pathlib.Path(page).resolve().as_uri())
        browser.wait_for("Page.loadEventFired")
        measured = browser.send("Runtime.evaluate", session, returnByValue=True,
                                expression=MEASURE.replace("SELECTOR", json.dumps(selector)))
        facts = json.loads(measured["result"]["value"])
        shot = browser.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": width, "height": facts["height"], "scale": 1})
        rendering = Rendering(boxes=facts["boxes"], images=facts["images"], scroll_width=facts["scrollWidth"],
                              height=facts["height"], png=base64.b64decode(shot["data"]))
        browser.send("Runtime.evaluate", session, expression="0")  # flush the events of the load
    finally:
        browser.close()
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            rendering.errors.append(details.get("exception", {}).get("description") or details.get("text"))
        elif method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            rendering.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            rendering.errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            rendering.requests.append(params["request"]["url"])
    return rendering


def docs_screenshot(page, out, width=1280, height=1400):
    """The top of the page at `width` (the digit, ∂C/∂x and the first layer), as a PNG of at most 256 colours."""
    from PIL import Image

    image = Image.open(io.BytesIO(render(page, width).png)).convert("RGB")
    image.crop((0, 0, width, min(height, image.height))).quantize(256).save(out, optimize=True)


if __name__ == "__main__":
    docs_screenshot(sys.argv[1], sys.argv[2])
