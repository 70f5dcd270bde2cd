"""Screenshot every page of the built site in headless Chromium, at desktop and mobile width.

    python scripts/screenshots.py _build/html --out _build/screenshots      # what `make screenshots` runs

For a person to look at, not a test: writes ``<out>/<page>-<width>-<n>.png`` (full page, cut into
tiles of at most ``--tile`` pixels) and ``<out>/report.txt``, one line per page and width with what a
browser shows and a reader would notice:

* ``overflow``: how many pixels the page is wider than the window (the page scrolls sideways);
* ``code scrolls``: code cells (input) and text outputs whose lines do not fit and scroll sideways;
* ``console``: JavaScript errors and failed requests (an offline machine cannot reach CDNs: those
  are listed as ``failed:`` so that a page's dependence on them shows).

Needs Chromium (Debian: ``apt-get install -y chromium``; or ``--chromium PATH``) and the
``websocket-client`` package (installed with Jupyter). Talks to the browser over the DevTools protocol.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0"]

MEASURE = """(() => {
  const wide = el => el.scrollWidth > el.clientWidth + 1;
  const inputs = [...document.querySelectorAll('div.cell_input pre, div.highlight pre')];
  const outputs = [...document.querySelectorAll('div.cell_output pre')];
  const vw = document.documentElement.clientWidth;
  const culprits = [...document.querySelectorAll('article *')]
    .filter(el => el.getBoundingClientRect().right > vw + 1 && !el.closest('pre, .MathJax, mjx-container, table'))
    .slice(0, 3).map(el => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ')[0] : '')
                           + ': ' + (el.textContent || '').trim().slice(0, 60));
  return {width: document.documentElement.scrollWidth, viewport: vw,
          height: document.documentElement.scrollHeight,
          inputs: inputs.length, wideInputs: inputs.filter(wide).length,
          outputs: outputs.length, wideOutputs: outputs.filter(wide).length, culprits};
})()"""


class Browser:
    """A headless Chromium with one tab, driven over the DevTools protocol."""

    def __init__(self, chromium: str):
        import websocket  # websocket-client

        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        self.process = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        for _ in range(200):
            if port_file.is_file() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        else:
            self.close()
            raise RuntimeError(f"{chromium} did not start (no {port_file})")
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.next_id, self.events = 0, []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def call(self, method: str, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 30.0) -> bool:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(e.get("method") == event for e in self.events):
                return True
            self.socket.settimeout(max(0.1, deadline - time.time()))
            try:
                self.events.append(json.loads(self.socket.recv()))
            except Exception:  # websocket timeout
                break
            finally:
                self.socket.settimeout(60)
        return False

    def close(self):
        if getattr(self, "socket", None):
            self.socket.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


def console_problems(events: list[dict]) -> list[str]:
    """JavaScript errors and failed requests among the DevTools events of one page load."""
    problems, requests = [], {}
    for e in events:
        method, p = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            requests[p["requestId"]] = p["request"]["url"]
        elif method == "Network.loadingFailed":
            problems.append(f"failed: {requests.get(p['requestId'], '?')} ({p.get('errorText')})")
        elif method == "Runtime.exceptionThrown":
            details = p["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            problems.append(f"error: {text.splitlines()[0] if text else details}")
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            problems.append("console.error: " + " ".join(str(a.get("value", a.get("description", "")))
                                                         for a in p.get("args", [])))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error" and p["entry"].get("source") != "network":
            problems.append(f"log: {p['entry']['text']}")
    return list(dict.fromkeys(problems))


def shoot(browser: Browser, url: str, width: int, out: Path, stem: str, tile: int) -> dict:
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1,
                 mobile=width < 700)
    browser.events.clear()
    browser.call("Page.navigate", url=url)
    browser.wait_for("Page.loadEventFired")
    time.sleep(0.5)  # let fonts, images and late layout settle
    metrics = browser.call("Runtime.evaluate", expression=MEASURE, returnByValue=True)["result"]["value"]
    files = []
    for index, top in enumerate(range(0, metrics["height"], tile)):
        clip = dict(x=0, y=top, width=width, height=min(tile, metrics["height"] - top), scale=1)
        shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip)
        path = out / f"{stem}-{width}-{index + 1:02d}.png"
        path.write_bytes(base64.b64decode(shot["data"]))
        files.append(path.name)
    metrics["files"] = files
    metrics["console"] = console_problems(browser.events)
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, nargs="?", default=Path("_build/html"))
    parser.add_argument("--out", type=Path, default=Path("_build/screenshots"))
    parser.add_argument("--widths", default="1400,390", help="window widths in CSS pixels, comma-separated")
    parser.add_argument("--tile", type=int, default=4000, help="height of one PNG in pixels")
    parser.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser")
                        or shutil.which("google-chrome"))
    parser.add_argument("--only", nargs="*", default=[], help="only pages whose path contains one of these (ch03)")
    args = parser.parse_args(argv)
    if not args.chromium:
        parser.error("no Chromium found: apt-get install -y chromium, or pass --chromium PATH")
    site = args.site.resolve()
    pages = sorted(p for p in site.rglob("*.html") if not {"_static", "_sources"} & set(p.relative_to(site).parts))
    pages = [p for p in pages if not args.only or any(s in str(p.relative_to(site)) for s in args.only)]
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.png"):
        old.unlink()
    widths = [int(w) for w in args.widths.split(",")]
    browser = Browser(args.chromium)
    lines = []
    try:
        for page in pages:
            stem = str(page.relative_to(site).with_suffix("")).replace("/", "__")
            for width in widths:
                m = shoot(browser, page.as_uri(), width, args.out, stem, args.tile)
                overflow = m["width"] - m["viewport"]
                line = (f"{stem:45s} {width:5d}px  overflow {overflow:4d}px  code scrolls "
                        f"{m['wideInputs']}/{m['inputs']} inputs, {m['wideOutputs']}/{m['outputs']} outputs  "
                        f"{len(m['files'])} png")
                details = [f"    wider than the window: {c}" for c in (m["culprits"] if overflow > 0 else [])]
                details += [f"    {c}" for c in m["console"]]
                print(line, *details, sep="\n", flush=True)
                lines += [line, *details]
    finally:
        browser.close()
    (args.out / "report.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"screenshots and report.txt in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
