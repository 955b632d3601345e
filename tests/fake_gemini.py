"""A local Gemini-compatible HTTP server, so tests drive the real `google-genai` SDK end to end.

The SDK is pointed at `FakeGemini.url` through `types.HttpOptions(base_url=...)`. With a custom
base URL and an API key the SDK posts to `{base_url}/{api_version}/models/{model}:generateContent`
(api_version `v1beta` by default) with the key in the `x-goog-api-key` header and a camelCase JSON
body (`contents`, `systemInstruction`, `generationConfig`). The server answers with the real
response shape (`candidates`, `usageMetadata`, `modelVersion`).

Answers are scripted: replies queued with `queue()` are used first (FIFO), then the `respond_with()`
responder, then a default SQL answer. A reply is a `str` (the model's text), a `dict`/`list`
(serialised to JSON as the model's text) or an `HttpError` (an error status with optional body and
headers). Every request is recorded in `.requests` as
`{"path", "model", "headers", "body", "at"}` (`at` = `time.monotonic()` on arrival).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_REPLY: dict[str, Any] = {"sql": "select 1", "chart": None, "reasoning": "default"}

_GENERATE_PATH = re.compile(r"^/(?P<prefix>.*?)/?models/(?P<model>[^/:]+):generateContent$")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass
class HttpError:
    """A scripted error answer. `body=None` gives a Google-style `{"error": {...}}` body."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def payload(self) -> bytes:
        body = self.body
        if body is None:
            body = {
                "error": {
                    "code": self.status,
                    "message": f"fake gemini error {self.status}",
                    "status": _STATUS_NAMES.get(self.status, "UNKNOWN"),
                }
            }
        if isinstance(body, bytes):
            return body
        if isinstance(body, str):
            return body.encode()
        return json.dumps(body).encode()


Reply = str | dict | list | HttpError


def _estimate_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4) if text else 0


def _texts(content: Any) -> list[str]:
    if not isinstance(content, dict):
        return []
    return [p["text"] for p in content.get("parts") or [] if isinstance(p, dict) and "text" in p]


class FakeGemini:
    """Threaded stdlib HTTP server speaking enough of the Gemini REST API for the SDK."""

    latency_ms: float = 0

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.latency_ms = 0
        self._queue: deque[Reply] = deque()
        self._responder: Callable[[dict], Reply] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeGemini:
        fake = self

        class Handler(_Handler):
            owner = fake

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._stopping.clear()
        host, port = server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-gemini",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------------
    def respond_with(self, responder: Callable[[dict], Reply]) -> None:
        """Answer every request (after the queue is drained) with `responder(request_body)`."""
        self._responder = responder

    def queue(self, *replies: Reply) -> None:
        """Append replies to the FIFO used before the responder."""
        with self._lock:
            self._queue.extend(replies)

    def _next_reply(self, body: dict) -> Reply:
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        if self._responder is not None:
            return self._responder(body)
        return DEFAULT_REPLY

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    # -- reading requests ------------------------------------------------------------------------
    @staticmethod
    def _body(request: dict) -> dict:
        """Accept either a recorded request (`{"body": ...}`) or a bare request body."""
        if "body" in request and "contents" not in request:
            return request["body"] or {}
        return request

    @staticmethod
    def prompt_of(request: dict) -> str:
        """Text of the user turns, joined by newlines."""
        body = FakeGemini._body(request)
        turns = [c for c in body.get("contents") or [] if c.get("role", "user") == "user"]
        return "\n".join(t for c in turns for t in _texts(c))

    @staticmethod
    def system_of(request: dict) -> str:
        """Text of the system instruction ('' when absent)."""
        return "\n".join(_texts(FakeGemini._body(request).get("systemInstruction")))

    @staticmethod
    def config_of(request: dict) -> dict:
        return FakeGemini._body(request).get("generationConfig") or {}

    @staticmethod
    def wants_json(request: dict) -> bool:
        return FakeGemini.config_of(request).get("responseMimeType") == "application/json"

    @staticmethod
    def schema_of(request: dict) -> dict | None:
        """The requested response schema (`responseSchema` or `responseJsonSchema`), if any."""
        config = FakeGemini.config_of(request)
        return config.get("responseSchema") or config.get("responseJsonSchema")

    @staticmethod
    def temperature_of(request: dict) -> float | None:
        return FakeGemini.config_of(request).get("temperature")

    @staticmethod
    def max_output_tokens_of(request: dict) -> int | None:
        return FakeGemini.config_of(request).get("maxOutputTokens")


class _Handler(BaseHTTPRequestHandler):
    disable_nagle_algorithm = True
    protocol_version = "HTTP/1.1"
    owner: FakeGemini

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout)
            self.close_connection = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        match = _GENERATE_PATH.match(path)
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {"_raw": raw.decode(errors="replace")}
        owner = self.owner
        owner._record(
            {
                "path": self.path,
                "model": match["model"] if match else None,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body,
                "at": time.monotonic(),
            }
        )
        if match is None:
            self._send(404, HttpError(404, {"error": {"code": 404, "message": path}}).payload())
            return
        reply = owner._next_reply(body)
        if owner.latency_ms and owner._stopping.wait(owner.latency_ms / 1000):
            self.close_connection = True
            return
        if isinstance(reply, HttpError):
            self._send(reply.status, reply.payload(), reply.headers)
            return
        text = reply if isinstance(reply, str) else json.dumps(reply)
        prompt_chars = FakeGemini.system_of(body) + FakeGemini.prompt_of(body)
        n_in, n_out = _estimate_tokens(prompt_chars), _estimate_tokens(text)
        response = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": text}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": n_in,
                "candidatesTokenCount": n_out,
                "totalTokenCount": n_in + n_out,
            },
            "modelVersion": match["model"],
        }
        self._send(HTTPStatus.OK, json.dumps(response).encode())

    def do_GET(self) -> None:
        self._send(404, HttpError(404).payload())
