"""A local Gemini-compatible stand-in for `make demo` without a GEMINI_API_KEY.

It speaks the `generateContent` wire format the google-genai SDK uses, so the API runs its real
path (SDK → guard → analyst role → chart). Its "model" is retrieval, not generation: for a SQL
request it returns the verified example (`api/text_to_sql/examples.yml`) closest to the
question; for an answer request it describes the result rows it was shown. The demo says so.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from api.text_to_sql.examples import closest

STANDIN_KEY = "local-standin"


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [p.get("text", "") for p in node.get("parts", []) if isinstance(p, dict)]
    return []


def _question(prompt: str) -> str:
    found = re.findall(r"^Question: (.+)$", prompt, flags=re.MULTILINE)
    return found[-1].strip() if found else prompt[-200:]


def _answer(prompt: str) -> str:
    match = re.search(r"<data>\s*(\{.*\})\s*</data>", prompt, flags=re.DOTALL)
    if not match:
        return "Here is the result of the query."
    data = json.loads(match.group(1))
    rows, columns = data.get("rows", []), data.get("columns", [])
    if not rows:
        return "The query returned no rows."
    first = ", ".join(f"{c} {v}" for c, v in zip(columns, rows[0], strict=False))
    return f"{len(rows)} rows came back (local stand-in answer). The first: {first}."


def reply_for(body: dict[str, Any]) -> str:
    prompt = "\n".join(t for content in body.get("contents", []) for t in _texts(content))
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        example = closest(_question(prompt), k=1)[0]
        return json.dumps(
            {
                "sql": example.sql,
                "chart": None,
                "reasoning": f"closest verified example: {example.question}",
            }
        )
    return _answer(prompt)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        text = reply_for(body)
        payload = json.dumps(
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": text}]},
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0},
                "modelVersion": "local-standin",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def start(port: int = 0) -> str:
    """Serve in a daemon thread; returns the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="gemini-standin").start()
    return f"http://127.0.0.1:{server.server_address[1]}"
