"""Headless Chromium driven over the Chrome DevTools Protocol, from Python only.

`Chromium.launch()` starts `/usr/bin/chromium` (Debian's package) with a throwaway profile and
`--remote-debugging-port=0` (Chromium picks a free port and writes it to `DevToolsActivePort` in
the profile, so there is no race for the port); `page()` connects to its first tab over a
websocket. Every wait is bounded; `close()` always kills the browser.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = "install it with `apt-get install -y chromium` (Debian) and run the tests again"
WAIT_S = 30.0
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1440,1000",
    "--remote-debugging-port=0",
)


class BrowserError(AssertionError):
    pass


def find_chromium() -> str | None:
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Page:
    """One tab: commands, events, evaluation and bounded waits."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, timeout: float = WAIT_S, **params: Any) -> dict[str, Any]:
        self._id += 1
        message_id = self._id
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrowserError(f"no answer to {method} within {timeout:.0f} s")
            try:
                message = json.loads(self.ws.recv(timeout=remaining))
            except TimeoutError:
                continue
            if message.get("id") == message_id:
                if "error" in message:
                    raise BrowserError(f"{method} failed: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str, timeout: float = WAIT_S) -> Any:
        result = self.send(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            returnByValue=True,
            awaitPromise=True,
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"{expression!r} threw: {text}")
        return result["result"].get("value")

    def wait_for(self, expression: str, what: str, timeout: float = WAIT_S) -> Any:
        """Poll `expression` until truthy; a clear failure (with the visible errors) if not."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                alerts = self.evaluate(
                    "[...document.querySelectorAll('[role=alert]:not([hidden])')]"
                    ".map(e => e.innerText).join(' | ')"
                )
                raise BrowserError(
                    f"timed out after {timeout:.0f} s waiting for {what}; "
                    f"visible errors: {alerts or 'none'}; js errors: {self.js_errors() or 'none'}"
                )
            time.sleep(0.1)

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for(
            f"location.href.startsWith({json.dumps(url)}) && document.readyState === 'complete'",
            f"{url} to load",
        )

    def click(self, selector: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")

    def fill(self, selector: str, value: str) -> None:
        """Set a field's value and fire the events a person typing would."""
        self.evaluate(
            f"(() => {{ const el = document.querySelector({json.dumps(selector)});"
            f" el.focus(); el.value = {json.dumps(value)};"
            " el.dispatchEvent(new Event('input', {bubbles: true}));"
            " el.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )

    def text(self, selector: str) -> str:
        return self.evaluate(f"document.querySelector({json.dumps(selector)}).innerText")

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            metrics = self.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            params["captureBeyondViewport"] = True
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def drain(self) -> None:
        """Collect events that arrived while nothing was waiting."""
        while True:
            try:
                message = json.loads(self.ws.recv(timeout=0))
            except TimeoutError:
                return
            if "method" in message:
                self.events.append(message)

    def js_errors(self) -> list[str]:
        """Uncaught exceptions, console.error calls and error log entries (CSP refusals...), not
        the log lines of HTTP error answers (the API's 4xx are expected and shown)."""
        self.drain()
        found = []
        for event in self.events:
            params = event.get("params", {})
            if event["method"] == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append(details.get("exception", {}).get("description") or details["text"])
            elif event["method"] == "Runtime.consoleAPICalled" and params.get("type") == "error":
                args = params["args"]
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in args))
            elif event["method"] == "Log.entryAdded" and params["entry"]["level"] == "error":
                entry = params["entry"]
                if entry.get("source") == "network":  # an HTTP error answer the page handles
                    continue
                found.append(f"{entry.get('text')} ({entry.get('url', '')})")
        return found

    def requests(self) -> list[dict[str, Any]]:
        """Requests the page sent (Network domain events)."""
        self.drain()
        sent = [e for e in self.events if e["method"] == "Network.requestWillBeSent"]
        return [e["params"]["request"] for e in sent]


class Chromium:
    def __init__(self, process: subprocess.Popen, profile: Path, port: int) -> None:
        self.process = process
        self.profile = profile
        self.port = port
        self._pages: list[Page] = []

    @classmethod
    def launch(cls) -> Chromium:
        binary = find_chromium()
        if binary is None:
            wanted = os.environ.get("CHROMIUM") or " / ".join(CANDIDATES)
            raise BrowserError(f"Chromium is not installed ({wanted} not found): {INSTALL_HINT}")
        profile = Path(tempfile.mkdtemp(prefix="tmdb-web-chromium-"))
        process = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its helpers share a process group we can kill at once
        )
        browser = cls(process, profile, 0)
        try:
            browser.port = browser._wait_for_port()
        except BaseException:
            browser.close()
            raise
        return browser

    def _wait_for_port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise BrowserError(f"Chromium exited with {self.process.returncode}: {stderr}")
            if marker.exists():
                lines = marker.read_text().splitlines()
                if lines and lines[0].strip().isdigit():
                    return int(lines[0])
            time.sleep(0.05)
        raise BrowserError(f"Chromium did not open its DevTools port within {WAIT_S:.0f} s")

    def page(self) -> Page:
        deadline = time.monotonic() + WAIT_S
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=5) as r:
                targets = [t for t in json.load(r) if t.get("type") == "page"]
            if targets:
                break
            if time.monotonic() > deadline:
                raise BrowserError("Chromium opened no tab")
            time.sleep(0.1)
        ws = connect(targets[0]["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=WAIT_S)
        page = Page(ws)
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.send(f"{domain}.enable")
        self._pages.append(page)
        return page

    def reused_page(self) -> Page:
        """The browser's first tab (opened on first use), its recorded events cleared: one tab
        for a module's tests keeps them fast, and no test reads another's console."""
        tab = self._pages[0] if self._pages else self.page()
        tab.events.clear()
        return tab

    def close(self) -> None:
        for page in self._pages:
            with contextlib.suppress(Exception):
                page.ws.close()
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.process.stderr is not None:
            self.process.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)
