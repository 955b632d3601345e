"""GeminiClient: the real google-genai SDK against a local Gemini-compatible server (no mocks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from api.text_to_sql.llm import GeminiClient, LlmBadOutput, LlmReply, LlmUnavailable
from tests.fake_gemini import DEFAULT_REPLY, FakeGemini, HttpError

KEY = "test-key-s3cr3t-0123456789"
MODEL = "gemini-2.5-flash"


class Answer(BaseModel):
    sql: str
    chart: str | None = None
    reasoning: str


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


def client(fake: FakeGemini, **kwargs) -> GeminiClient:
    options = {"timeout_s": 5.0, "max_attempts": 3} | kwargs
    llm = GeminiClient(KEY, MODEL, base_url=fake.url, **options)
    llm.backoff_base_s = 0.05  # keep the module fast; the production default is 0.2 s
    return llm


# -- happy paths --------------------------------------------------------------------------------
def test_generate_json_returns_parsed_data_and_token_counts(fake: FakeGemini) -> None:
    reply = client(fake).generate_json("You write SQL.", "How many movies?", Answer)

    assert isinstance(reply, LlmReply)
    assert reply.data == DEFAULT_REPLY
    assert isinstance(reply.data, dict)
    assert reply.text.strip().startswith("{")
    assert reply.input_tokens > 0
    assert reply.output_tokens > 0
    assert reply.model == MODEL
    assert reply.latency_ms > 0
    assert len(fake.requests) == 1


def test_json_request_carries_config_system_and_prompt(fake: FakeGemini) -> None:
    client(fake).generate_json("SYSTEM RULES", "top 5 films by revenue", Answer)

    (request,) = fake.requests
    assert request["path"] == f"/v1beta/models/{MODEL}:generateContent"
    assert request["model"] == MODEL
    assert request["headers"]["x-goog-api-key"] == KEY
    assert FakeGemini.temperature_of(request) == 0
    assert FakeGemini.wants_json(request)
    schema = FakeGemini.schema_of(request)
    assert schema is not None
    assert set(schema["properties"]) == {"sql", "chart", "reasoning"}
    assert FakeGemini.system_of(request) == "SYSTEM RULES"
    assert FakeGemini.prompt_of(request) == "top 5 films by revenue"
    assert "SYSTEM RULES" not in FakeGemini.prompt_of(request)


def test_json_with_dict_schema_and_scripted_responder(fake: FakeGemini) -> None:
    schema = {
        "type": "object",
        "properties": {"sql": {"type": "string"}, "rows": {"type": "integer"}},
        "required": ["sql"],
    }
    fake.respond_with(lambda body: {"sql": FakeGemini.prompt_of(body).upper(), "rows": 3})

    reply = client(fake).generate_json("sys", "select 2", schema)

    assert reply.data == {"sql": "SELECT 2", "rows": 3}
    assert FakeGemini.schema_of(fake.requests[0])["properties"]["rows"]["type"].lower() == "integer"


def test_generate_text(fake: FakeGemini) -> None:
    fake.queue("Avatar earned the most.")

    reply = client(fake).generate_text("Summarise.", "rows: ...", max_output_tokens=64)

    assert reply.text == "Avatar earned the most."
    assert reply.data is None
    assert reply.output_tokens > 0
    (request,) = fake.requests
    assert not FakeGemini.wants_json(request)
    assert FakeGemini.schema_of(request) is None
    assert FakeGemini.temperature_of(request) == 0
    assert FakeGemini.max_output_tokens_of(request) == 64
    assert FakeGemini.system_of(request) == "Summarise."


def test_client_is_usable_from_many_threads(fake: FakeGemini) -> None:
    fake.respond_with(lambda body: {"sql": FakeGemini.prompt_of(body), "reasoning": "r"})
    llm = client(fake)
    results: dict[int, object] = {}

    def work(i: int) -> None:
        results[i] = llm.generate_json("sys", f"select {i}", Answer).data["sql"]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == {i: f"select {i}" for i in range(8)}


# -- retries ------------------------------------------------------------------------------------
def test_two_503_then_success(fake: FakeGemini) -> None:
    fake.queue(HttpError(503), HttpError(503))

    reply = client(fake).generate_json("sys", "q", Answer)

    assert reply.data == DEFAULT_REPLY
    assert len(fake.requests) == 3


def test_429_with_retry_after_is_honoured(fake: FakeGemini) -> None:
    fake.queue(HttpError(429, headers={"Retry-After": "1"}))

    reply = client(fake).generate_text("sys", "q")

    assert reply.text
    assert len(fake.requests) == 2
    waited = fake.requests[1]["at"] - fake.requests[0]["at"]
    assert waited >= 0.95  # the backoff alone would be ~0.05-0.1 s


def test_retry_delay_in_error_details_is_honoured(fake: FakeGemini) -> None:
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.6s"}
            ],
        }
    }
    fake.queue(HttpError(429, body))

    client(fake).generate_text("sys", "q")

    assert fake.requests[1]["at"] - fake.requests[0]["at"] >= 0.55


def test_retry_after_too_long_gives_up_at_once(fake: FakeGemini) -> None:
    fake.queue(HttpError(429, headers={"Retry-After": "3600"}))

    with pytest.raises(LlmUnavailable, match="retry after 3600s"):
        client(fake).generate_text("sys", "q")
    assert len(fake.requests) == 1


def test_always_500_gives_up_after_max_attempts(fake: FakeGemini) -> None:
    fake.respond_with(lambda body: HttpError(500))

    with pytest.raises(LlmUnavailable) as caught:
        client(fake, max_attempts=4).generate_json("sys", "q", Answer)

    message = str(caught.value)
    assert message.startswith("the language model is unavailable: HTTP 500")
    assert "\n" not in message
    assert len(fake.requests) == 4


@pytest.mark.parametrize("status", [400, 403])
def test_client_errors_fail_immediately(fake: FakeGemini, status: int) -> None:
    fake.queue(HttpError(status))

    with pytest.raises(LlmUnavailable, match=f"HTTP {status}"):
        client(fake).generate_json("sys", "q", Answer)
    assert len(fake.requests) == 1


def test_timeout_is_retried_then_unavailable(fake: FakeGemini) -> None:
    fake.latency_ms = 30_000
    started = time.monotonic()

    with pytest.raises(LlmUnavailable, match="timed out"):
        client(fake, timeout_s=0.3, max_attempts=2).generate_text("sys", "q")

    assert len(fake.requests) == 2
    # Either attempt waiting for the slow answer would take 30 s; the margin absorbs a busy machine.
    assert time.monotonic() - started < 15


def test_connection_refused_is_unavailable() -> None:
    with FakeGemini() as gone:
        url = gone.url
    llm = GeminiClient(KEY, MODEL, base_url=url, timeout_s=1, max_attempts=2)
    llm.backoff_base_s = 0.01

    with pytest.raises(LlmUnavailable, match="connection error"):
        llm.generate_text("sys", "q")


# -- bad output, missing key, secrecy -----------------------------------------------------------
def test_bad_json_in_json_mode_raises_bad_output(fake: FakeGemini) -> None:
    fake.queue("SELECT title FROM movies -- not json")

    with pytest.raises(LlmBadOutput) as caught:
        client(fake).generate_json("sys", "q", Answer)

    assert caught.value.text == "SELECT title FROM movies -- not json"
    assert len(fake.requests) == 1  # bad output is the caller's to retry, not a transport retry


def test_json_not_matching_pydantic_schema_raises_bad_output(fake: FakeGemini) -> None:
    fake.queue({"chart": "bar"})

    with pytest.raises(LlmBadOutput, match="does not match Answer"):
        client(fake).generate_json("sys", "q", Answer)


def test_fenced_json_is_accepted(fake: FakeGemini) -> None:
    fake.queue('```json\n{"sql": "select 3"}\n```')

    reply = client(fake).generate_json("sys", "q", {"type": "object"})

    assert reply.data == {"sql": "select 3"}


def test_missing_key_raises_without_any_request(fake: FakeGemini) -> None:
    for key in (None, ""):
        llm = GeminiClient(key, MODEL, base_url=fake.url)
        with pytest.raises(LlmUnavailable, match=r"^GEMINI_API_KEY is not set$"):
            llm.generate_json("sys", "q", Answer)
        with pytest.raises(LlmUnavailable, match=r"^GEMINI_API_KEY is not set$"):
            llm.generate_text("sys", "q")
    assert fake.requests == []


def test_key_never_appears_in_errors(fake: FakeGemini) -> None:
    echo = {"error": {"code": 403, "message": f"API key {KEY} not valid", "status": "DENIED"}}
    fake.queue(
        HttpError(403, echo),
        HttpError(500, {"error": {"code": 500, "message": f"boom {KEY}"}}),
        HttpError(500, {"error": {"code": 500, "message": f"boom {KEY}"}}),
        "not json",
    )
    llm = client(fake, max_attempts=2)

    failures: list[BaseException] = []
    for _ in range(3):
        try:
            llm.generate_json("sys", "q", Answer)
        except (LlmUnavailable, LlmBadOutput) as exc:
            failures.append(exc)

    assert [type(f) for f in failures] == [LlmUnavailable, LlmUnavailable, LlmBadOutput]
    for failure in failures:
        assert KEY not in str(failure)
        assert KEY not in repr(failure)
    assert "***" in str(failures[0])
    assert KEY not in repr(llm)
