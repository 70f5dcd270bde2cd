"""scripts/screenshots.py: what it reports from the browser's events, and (with Chromium) a real page."""

import importlib.util
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("screenshots", ROOT / "scripts" / "screenshots.py")
screenshots = importlib.util.module_from_spec(spec)
spec.loader.exec_module(screenshots)


def test_console_problems_lists_errors_and_failed_requests_once():
    events = [
        {"method": "Network.requestWillBeSent", "params": {"requestId": "1", "request": {"url": "https://cdn/x.js"}}},
        {"method": "Network.loadingFailed", "params": {"requestId": "1", "errorText": "net::ERR_NAME_NOT_RESOLVED"}},
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {
            "text": "Uncaught", "exception": {"description": "SyntaxError: Identifier 'A' has already been declared"}}}},
        {"method": "Runtime.exceptionThrown", "params": {"exceptionDetails": {
            "text": "Uncaught", "exception": {"description": "SyntaxError: Identifier 'A' has already been declared"}}}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "error", "args": [{"value": "bad"}]}},
        {"method": "Runtime.consoleAPICalled", "params": {"type": "log", "args": [{"value": "fine"}]}},
    ]
    assert screenshots.console_problems(events) == [
        "failed: https://cdn/x.js (net::ERR_NAME_NOT_RESOLVED)",
        "error: SyntaxError: Identifier 'A' has already been declared",
        "console.error: bad",
    ]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt-get install chromium)")
def test_a_page_that_scrolls_sideways_and_raises(tmp_path):
    site = tmp_path / "html"
    site.mkdir()
    (site / "index.html").write_text(
        "<html><body><article><div class='cell_input'><div class='highlight'><pre>"
        + "x = 1  # " + "long " * 100 + "</pre></div></div><p>text</p></article>"
        "<script>const A = 1;</script><script>const A = 2;</script></body></html>")
    out = tmp_path / "shots"
    assert screenshots.main([str(site), "--out", str(out), "--widths", "800,390", "--chromium", CHROMIUM]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["index-390-01.png", "index-800-01.png"]
    report = (out / "report.txt").read_text()
    assert "code scrolls 1/1 inputs" in report
    assert "Identifier 'A' has already been declared" in report
