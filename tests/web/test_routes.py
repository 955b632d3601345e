"""`/`, `/static/*` and `/web/config`: what the page needs from the server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.ask.service import AskFailure
from api.main import ATTRIBUTION
from api.routes.web import WEB_DIR

REPO = Path(__file__).resolve().parents[2]
FORM_IDS = (
    "ask-form", "question", "ask-submit", "ask-error", "ask-answer", "ask-sql", "ask-table",
    "ask-truncated", "ask-chart", "predict-form", "p-title", "p-budget", "p-release", "p-genres",
    "p-runtime", "p-language", "p-certification", "p-director", "p-cast", "predict-error",
    "predict-probability", "predict-bar", "predict-factors", "api-key", "notices", "health-status",
)  # fmt: skip


def test_the_page_has_its_forms_examples_and_attribution(web_client) -> None:
    response = web_client().get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    for element_id in FORM_IDS:
        assert f'id="{element_id}"' in html, element_id
    assert 'id="examples"' in html  # the Try chips: checked questions from /web/suggestions
    assert f'<p id="attribution">{ATTRIBUTION}</p>' in html
    assert 'href="/docs"' in html and 'href="/dbt-docs/"' in html
    assert html.count('role="alert"') == 3  # ask, Explore, predict
    # Every input has a label; nothing is loaded from another host.
    for input_id in re.findall(r'<(?:input|select)[^>]* id="([^"]+)"', html):
        assert f'for="{input_id}"' in html, input_id
    assert not re.search(r'(src|href)="(https?:)?//', html)


@pytest.mark.parametrize(
    ("name", "content_type", "needle"),
    [
        ("app.css", "text/css; charset=utf-8", ".error"),
        ("app.js", "text/javascript; charset=utf-8", "X-API-Key"),
    ],
)
def test_assets_are_served_with_their_types(web_client, name, content_type, needle) -> None:
    response = web_client().get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert needle in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/static/index.html",
        "/static/nope.css",
        "/static/",
        "/static/web.py",
        "/static/..%2Froutes%2Fweb.py",
        "/static/../main.py",
        "/static/web/app.js",
        "/static",
    ],
)
def test_nothing_else_under_static(web_client, path) -> None:
    response = web_client().get(path)
    assert response.status_code == 404, path
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, {"synthetic_data": False, "llm": "gemini"}),
        (
            {"TMDB_API_BASE_URL": "http://127.0.0.1:8765/3"},
            {"synthetic_data": True, "llm": "gemini"},
        ),
        ({"GEMINI_API_KEY": ""}, {"synthetic_data": False, "llm": "builtin"}),
        ({"ASK_ENGINE": "builtin"}, {"synthetic_data": False, "llm": "builtin"}),
        (
            {"GEMINI_API_KEY": "", "ASK_ENGINE": "gemini"},
            {"synthetic_data": False, "llm": "none"},
        ),
        (
            {"TMDB_API_BASE_URL": "https://api.themoviedb.org.evil.test/3"},
            {"synthetic_data": True, "llm": "gemini"},
        ),
    ],
)
def test_web_config(web_client, env, expected) -> None:
    response = web_client(**env).get("/web/config")
    assert response.status_code == 200
    assert response.json() == expected


def test_the_page_routes_stay_out_of_the_openapi_schema(web_client) -> None:
    paths = web_client().get("/openapi.json").json()["paths"]
    assert not {"/", "/static/{name}", "/web/config"} & set(paths)
    assert "/ask" in paths and "/predict" in paths


def test_every_error_code_of_the_api_has_a_message_on_the_page() -> None:
    source = "\n".join(p.read_text() for p in (REPO / "api").rglob("*.py"))
    codes = set(re.findall(r'ApiError\(\s*\d{3},\s*"([a-z_]+)"', source))
    codes |= {kind.value for kind in AskFailure}  # each reason a question fails is its code
    codes |= set(re.findall(r'\d{3}: "([a-z_]+)"', source))  # errors.py's HTTP codes
    codes |= set(re.findall(r'error_body\("([a-z_]+)"', source))
    assert {"unauthorized", "invalid_input", "unsafe_sql", "rate_limited"} <= codes, codes
    script = (WEB_DIR / "app.js").read_text()
    start = script.index("const ERROR_TITLES")
    table = script[start : script.index("};", start)]
    shown = set(re.findall(r"^\s+([a-z_]+):", table, flags=re.MULTILINE))
    assert codes | {"network", "payload_too_large"} <= shown, codes - shown


@pytest.mark.parametrize("name", ["vega.min.js", "vega-lite.min.js", "vega-embed.min.js"])
def test_the_chart_libraries_are_served_by_the_app_with_their_licences(web_client, name) -> None:
    client = web_client()
    response = client.get(f"/static/vendor/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == (WEB_DIR / "vendor" / name).read_bytes()
    assert len(response.content) > 50_000 and b"sourceMappingURL" not in response.content
    package = name.removesuffix(".min.js")
    licences = client.get("/static/vendor/LICENSES.txt")
    assert licences.headers["content-type"] == "text/plain; charset=utf-8"
    assert f"\n{package} " in licences.text and (WEB_DIR / "vendor" / f"{package}.LICENSE").exists()
    for other in ("app.js", "package.json", "..%2Fapp.js", "vega.LICENSE.map"):
        assert client.get(f"/static/vendor/{other}").status_code == 404


def test_the_page_loads_no_script_from_another_host(web_client) -> None:
    client = web_client()
    for path in ("/", "/explore?metrics=movies&chart=line"):
        html = client.get(path).text
        sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
        assert sources and all(s.startswith("/static/") for s in sources)
        for source in sources:
            script = client.get(source).text
            assert not re.search(r"""(src|href)\s*=\s*["'`]https?://""", script), source
            assert not re.search(r"""import\s*\(\s*["'`]https?://""", script), source
            assert "cdn.jsdelivr" not in script and "unpkg.com" not in script
