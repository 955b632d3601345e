"""A small, synchronous Gemini client for text-to-SQL, built on the `google-genai` SDK.

Why it looks like this:

* **Structured output.** `generate_json` asks Gemini for `application/json` constrained by a
  response schema (a pydantic model or a schema dict), so the caller gets data instead of prose to
  scrape. The SDK's `response.parsed` is used when present, otherwise the text is parsed with
  `json.loads`; text that is not valid JSON (or does not validate against a pydantic schema)
  raises `LlmBadOutput`, which carries the raw text so the caller can retry or ask for a fix.
  `LlmReply.data` is always plain JSON (dicts, lists, scalars), also for pydantic schemas.
* **Temperature 0.** The same question should give the same SQL; reproducibility beats variety.
* **Bounded retries.** The SDK's own retries are switched OFF (`HttpRetryOptions(attempts=1)`,
  i.e. one attempt per SDK call) and this module retries itself, so attempts are counted exactly
  and the total wait is bounded: at most `max_attempts` requests, on 408/429/5xx, timeouts and
  connection errors, with exponential backoff plus jitter (`backoff_base_s * 2**n`, capped at
  `backoff_max_s`). A `Retry-After` header (seconds or HTTP date) or a Google `RetryInfo.retryDelay`
  on the error raises the wait to what the server asked for; if the server asks for more than
  `retry_after_max_s` we give up at once rather than hold a web request hostage. Other 4xx
  (bad request, bad key, ...) fail immediately. Every failure of the service surfaces as
  `LlmUnavailable` with a one-line message that never contains the API key.
* Each request has a timeout (`timeout_s`, sent to the SDK in milliseconds).

One `genai.Client` (one pooled `httpx.Client`) is built per `GeminiClient` and shared; calls keep
no per-call state on the instance, so it is safe to use from FastAPI's threadpool.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pydantic
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({408, 429})
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


class LlmUnavailable(RuntimeError):
    """No API key is configured, or the service failed (after retries / immediately on 4xx)."""


class LlmBadOutput(ValueError):
    """The model answered, but not with valid JSON for the requested schema."""

    def __init__(self, message: str, text: str = "") -> None:
        super().__init__(message)
        self.text = text


@dataclass(frozen=True)
class LlmReply:
    text: str  # raw text of the first candidate
    data: Any | None  # parsed JSON when JSON was requested
    input_tokens: int
    output_tokens: int
    model: str
    latency_ms: float  # wall time of the whole call, retries and backoff included


class GeminiClient:
    """Gemini through the `google-genai` SDK, with JSON mode and bounded, counted retries."""

    backoff_base_s: float = 0.2
    backoff_max_s: float = 4.0
    retry_after_max_s: float = 10.0

    def __init__(
        self,
        api_key: str | None,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_attempts: int = 3,
    ) -> None:
        if api_key is not None and hasattr(api_key, "get_secret_value"):  # pydantic SecretStr
            api_key = api_key.get_secret_value()
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_attempts = max(1, int(max_attempts))
        self._secret = api_key or ""
        self._client: genai.Client | None = None
        if api_key:
            self._client = genai.Client(
                api_key=api_key,
                vertexai=False,
                http_options=types.HttpOptions(
                    base_url=base_url,
                    timeout=max(1, round(timeout_s * 1000)),
                    retry_options=types.HttpRetryOptions(attempts=1),
                ),
            )

    def __repr__(self) -> str:
        return (
            f"GeminiClient(model={self.model!r}, base_url={self.base_url!r}, "
            f"key_set={self._client is not None})"
        )

    @property
    def has_key(self) -> bool:
        return self._client is not None

    # -- public API ------------------------------------------------------------------------------
    def generate_json(self, system: str, prompt: str, schema: type[BaseModel] | dict) -> LlmReply:
        """Ask for JSON matching `schema`; `reply.data` is the parsed JSON."""
        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=0,
            response_mime_type="application/json",
            response_schema=schema,
        )
        response, latency_ms = self._generate(prompt, config)
        text = _text_of(response)
        data = self._parse_json(response, text, schema)
        return self._reply(response, text, data, latency_ms)

    def generate_text(self, system: str, prompt: str, max_output_tokens: int = 512) -> LlmReply:
        """Plain text answer (`reply.data` is None)."""
        config = types.GenerateContentConfig(
            system_instruction=system,
            temperature=0,
            max_output_tokens=max_output_tokens,
        )
        response, latency_ms = self._generate(prompt, config)
        return self._reply(response, _text_of(response), None, latency_ms)

    # -- internals -------------------------------------------------------------------------------
    def _generate(
        self, prompt: str, config: types.GenerateContentConfig
    ) -> tuple[types.GenerateContentResponse, float]:
        if self._client is None:
            raise LlmUnavailable("GEMINI_API_KEY is not set")
        started = time.perf_counter()
        reason = "unknown error"
        for attempt in range(1, self.max_attempts + 1):
            wait_hint: float | None = None
            try:
                response = self._client.models.generate_content(
                    model=self.model, contents=prompt, config=config
                )
                return response, (time.perf_counter() - started) * 1000
            except errors.APIError as exc:
                reason = self._api_reason(exc)
                if not _retryable(exc.code):
                    raise LlmUnavailable(f"the language model is unavailable: {reason}") from None
                wait_hint = _retry_after(exc)
            except httpx.TimeoutException:
                reason = f"timed out after {self.timeout_s:g}s"
            except httpx.TransportError as exc:
                reason = f"connection error ({type(exc).__name__})"
            except errors.UnknownApiResponseError:
                reason = "the service sent a response that is not JSON"
            if attempt == self.max_attempts:
                break
            if wait_hint is not None and wait_hint > self.retry_after_max_s:
                reason = f"{reason}; the service asked to retry after {wait_hint:.0f}s"
                break
            delay = self._backoff(attempt)
            if wait_hint is not None:
                delay = max(delay, wait_hint)
            logger.warning(
                "gemini attempt %d/%d failed (%s); retrying in %.2fs",
                attempt,
                self.max_attempts,
                reason,
                delay,
            )
            time.sleep(delay)
        raise LlmUnavailable(
            f"the language model is unavailable: {reason} (after {attempt} attempt"
            f"{'s' if attempt != 1 else ''})"
        )

    def _backoff(self, attempt: int) -> float:
        base = self.backoff_base_s * (2 ** (attempt - 1))
        return min(self.backoff_max_s, base + random.uniform(0, self.backoff_base_s))

    def _redact(self, text: str) -> str:
        text = " ".join(str(text).split())  # one line
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def _api_reason(self, exc: errors.APIError) -> str:
        parts = [f"HTTP {exc.code}"]
        if exc.status:
            parts.append(str(exc.status))
        reason = " ".join(parts)
        if exc.message:
            message = self._redact(exc.message)
            if len(message) > 160:
                message = message[:157] + "..."
            reason = f"{reason}: {message}"
        return reason

    def _parse_json(
        self, response: types.GenerateContentResponse, text: str, schema: type[BaseModel] | dict
    ) -> Any:
        parsed = response.parsed
        if isinstance(parsed, BaseModel):
            return parsed.model_dump(mode="json")
        if isinstance(parsed, dict | list):
            return parsed
        if not text.strip():
            finish = _finish_reason(response)
            raise LlmBadOutput(f"the model returned no text (finish reason: {finish})", text)
        data = _loads_lenient(text)
        if data is _INVALID:
            raise LlmBadOutput(f"the model did not return valid JSON: {_excerpt(text)}", text)
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            try:
                return schema.model_validate(data).model_dump(mode="json")
            except pydantic.ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ())) or "root"
                raise LlmBadOutput(
                    f"the model's JSON does not match {schema.__name__}: {where}: "
                    f"{first.get('msg', 'invalid')}",
                    text,
                ) from None
        return data

    def _reply(
        self,
        response: types.GenerateContentResponse,
        text: str,
        data: Any,
        latency_ms: float,
    ) -> LlmReply:
        usage = response.usage_metadata
        input_tokens = (usage.prompt_token_count or 0) if usage else 0
        output_tokens = (
            ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0))
            if usage
            else 0
        )
        return LlmReply(
            text=text,
            data=data,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            model=response.model_version or self.model,
            latency_ms=latency_ms,
        )


_INVALID = object()


def _retryable(code: int | None) -> bool:
    return code is not None and (code in _RETRYABLE_STATUS or 500 <= code < 600)


def _text_of(response: types.GenerateContentResponse) -> str:
    """Text parts (thoughts excluded) of the first candidate; '' when there is none."""
    candidates = response.candidates or []
    if not candidates or candidates[0].content is None:
        return ""
    parts = candidates[0].content.parts or []
    return "".join(p.text for p in parts if p.text is not None and not p.thought)


def _finish_reason(response: types.GenerateContentResponse) -> str:
    candidates = response.candidates or []
    if candidates and candidates[0].finish_reason:
        return str(candidates[0].finish_reason.value)
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason:
        return f"blocked: {feedback.block_reason.value}"
    return "unknown"


def _loads_lenient(text: str) -> Any:
    for candidate in (text, _FENCE.sub(r"\1", text)):
        try:
            return json.loads(candidate)
        except json.JSONDecodeError:
            continue
    return _INVALID


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


def _retry_after(exc: errors.APIError) -> float | None:
    """Seconds the server asked us to wait: `Retry-After` header, else `RetryInfo.retryDelay`."""
    headers = getattr(exc.response, "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    details = exc.details
    if isinstance(details, dict):
        error = details.get("error", details)
        for item in (error.get("details") or []) if isinstance(error, dict) else []:
            if isinstance(item, dict) and str(item.get("@type", "")).endswith("RetryInfo"):
                match = _DURATION.match(str(item.get("retryDelay", "")))
                if match:
                    return float(match[1])
    return None
