"""A local Gemini-compatible stand-in with no thinking time, for `bench/api_latency.py`.

It speaks the `generateContent` wire format the google-genai SDK uses, so the API runs its real
path (SDK → guard → analyst role → chart). Its "model" is retrieval, not generation: for a SQL
request it returns the verified example (`api/text_to_sql/examples.yml`) closest to the
question, as the metric query of its saved query when the dbt project has one (the semantic
route) and as its SQL otherwise; for an answer request it describes the result rows it was
shown. (Without a key the product uses the built-in engine, `api/ask/builtin/`, not this.)
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from api.semantic.catalog import saved_queries
from api.semantic.engine import MANIFEST_FILE
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


class _MetricQueries:
    """The metric query of each verified question that has a saved query, by question; read
    from the dbt target when its semantic manifest appears or changes (the demo starts the
    stand-in before `tmdb transform` writes it)."""

    def __init__(self, target_dir: Path | None) -> None:
        self.path = target_dir / MANIFEST_FILE if target_dir else None
        self._stamp: int | None = None
        self._queries: dict[str, dict[str, Any]] = {}

    def get(self) -> dict[str, dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return {}
        stamp = self.path.stat().st_mtime_ns
        if stamp != self._stamp:
            saved = saved_queries(json.loads(self.path.read_text()))
            self._queries = {q.description: q.params for q in saved.values()}
            self._stamp = stamp
        return self._queries


def reply_for(body: dict[str, Any], metric_queries: dict[str, dict[str, Any]]) -> str:
    prompt = "\n".join(t for content in body.get("contents", []) for t in _texts(content))
    config = body.get("generationConfig") or {}
    if config.get("responseMimeType") == "application/json":
        example = closest(_question(prompt), k=1)[0]
        reasoning = f"closest verified example: {example.question}"
        if example.question in metric_queries:
            query = {k: v for k, v in metric_queries[example.question].items() if v}
            return json.dumps({"metric_query": query, "chart": None, "reasoning": reasoning})
        return json.dumps({"sql": example.sql, "chart": None, "reasoning": reasoning})
    return _answer(prompt)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        text = reply_for(body, self.server.metric_queries.get())
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


def start(port: int = 0, target_dir: Path | None = None) -> str:
    """Serve in a daemon thread; returns the base URL. With the dbt target (`target_dir`), a
    verified question that has a saved query is answered through the semantic layer."""
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.metric_queries = _MetricQueries(target_dir)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True, name="gemini-standin").start()
    return f"http://127.0.0.1:{server.server_address[1]}"
