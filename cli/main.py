"""The `tmdb` command (README "Commands"): one entry point for every step of the product."""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Console

from cli.errors import UsageError, expected_failure

# Only what `tmdb --help` needs is imported here; each command imports its own libraries
# (tests/cli/test_import_cost.py keeps it so).
if TYPE_CHECKING:
    from warehouse.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
db_app = typer.Typer(
    no_args_is_help=True, help="The embedded PostgreSQL (ignored with DATABASE_URL)."
)
ingest_app = typer.Typer(no_args_is_help=True, help="TMDB → lake → raw_tmdb.")
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
metrics_app = typer.Typer(
    no_args_is_help=True, help="The semantic layer: metrics defined once in dbt (MetricFlow)."
)
app.add_typer(metrics_app, name="metrics")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
):
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def get_settings() -> Settings:
    """The one settings object, loaded (with pydantic-settings) by the commands that read it."""
    from warehouse.settings import get_settings as settings

    return settings()


def _fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _run(action):
    """Run `action`; expected failures print one line and exit 1."""
    try:
        return action()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        expected = expected_failure(exc)
        if expected is None:
            raise
        _fail(str(expected).splitlines()[0] if str(expected) else type(expected).__name__)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from exc


# --- db -------------------------------------------------------------------------------------


def _embedded_only() -> None:
    if get_settings().database_url is not None:
        out.print("DATABASE_URL is set: the embedded PostgreSQL is not used.")
        raise typer.Exit(0)


@db_app.command("start")
def db_start():
    """Start the embedded PostgreSQL (or reuse the running one) and print its URL."""
    from warehouse.connection import bootstrap

    _embedded_only()
    out.print(_run(lambda: bootstrap(get_settings())), highlight=False)


@db_app.command("stop")
def db_stop():
    """Stop the embedded PostgreSQL; its data stays under .tmdb/pg."""
    from warehouse import embedded

    _embedded_only()
    stopped = _run(lambda: embedded.stop(get_settings().embedded_pgdata))
    out.print("stopped" if stopped else "not running")


@db_app.command("status")
def db_status():
    """Say whether the embedded PostgreSQL runs; exit 1 when it does not."""
    from warehouse import embedded

    _embedded_only()
    status = embedded.status(get_settings().embedded_pgdata)
    if not status.running:
        out.print(f"not running (data: {status.pgdata})", highlight=False)
        raise typer.Exit(1)
    out.print(f"running, pid {status.pid}, data {status.pgdata}", highlight=False)
    out.print(embedded.url_for(status.socket_dir), highlight=False)


@db_app.command("url")
def db_url(
    analyst: Annotated[bool, typer.Option(help="The read-only tmdb_analyst URL instead.")] = False,
):
    """Print the connection URL (starting the embedded server if needed)."""
    from warehouse.connection import analyst_url, bootstrap, redact

    settings = get_settings()
    url = _run(lambda: bootstrap(settings))
    if analyst:
        url = analyst_url(settings)
    print(url if settings.database_url is None else redact(url))


# --- the local TMDB server -------------------------------------------------------------------


@app.command("fake-tmdb")
def fake_tmdb(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
    movies: Annotated[int, typer.Option(min=1, help="Catalogue size.")] = 3000,
    seed: Annotated[int, typer.Option(help="Catalogue seed.")] = 42,
    rate_limit: Annotated[float | None, typer.Option(help="Requests/s before 429.")] = None,
    rate_limit_window: Annotated[
        Literal["sliding", "fixed"],
        typer.Option(help="How --rate-limit counts: in any 1 s window, or per clock second."),
    ] = "sliding",
    fault_rate: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Share of 5xx, slow and cut-off movie responses."),
    ] = 0.0,
    stray_429_rate: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of requests refused with 429 (Retry-After: 1) whatever the rate, "
            "as a CDN edge or a shared IP does.",
        ),
    ] = 0.0,
    latency_ms: Annotated[float, typer.Option(min=0.0, help="Added latency per request.")] = 0.0,
    day: Annotated[int, typer.Option(min=0, help="Days of changes since the base.")] = 0,
    daily_change: Annotated[
        float,
        typer.Option(
            min=0.0001,
            max=1.0,
            help="Share of the films changed each day (additions and removals follow it).",
        ),
    ] = 0.02,
    today: Annotated[
        str | None,
        typer.Option(
            help="The catalogue's today, YYYY-MM-DD (default: the real date). Day 0 is "
            "--day days before it: a day-0 server dated yesterday and a day-1 server dated today "
            "describe one world, a backfill and its next daily increment.",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
):
    """Serve a TMDB-compatible API over a synthetic catalogue (no internet needed)."""
    from ingestion.fake_tmdb import server

    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    server.log.addHandler(handler)
    server.log.setLevel(logging.INFO)
    server.log.propagate = False
    try:
        server.serve(
            port=port,
            movies=movies,
            seed=seed,
            rate_limit=rate_limit,
            rate_limit_window=rate_limit_window,
            fault_rate=fault_rate,
            stray_429_rate=stray_429_rate,
            latency_ms=latency_ms,
            day=day,
            daily_change=daily_change,
            today=_parse_date(today, "--today"),
            host=host,
        )
    except OSError as exc:
        _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}")


# --- ingestion -------------------------------------------------------------------------------


def _print_summary(summary) -> None:
    for line in summary.lines():
        out.print(line, highlight=False)


@ingest_app.command("bulk")
def ingest_bulk(
    export_date: Annotated[str | None, typer.Option(help="Export file date, YYYY-MM-DD.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="The N most popular ids.")] = None,
    min_popularity: Annotated[float | None, typer.Option(help="Skip ids below.")] = None,
):
    """Backfill: every id of the daily export file, details for each; resumes a killed run."""
    from ingestion.pipelines import run_bulk
    from ingestion.progress import RichProgress

    def action():
        return run_bulk(
            get_settings(),
            export_date=_parse_date(export_date, "--export-date"),
            limit=limit,
            min_popularity=min_popularity,
            progress=RichProgress(err),
        )

    _print_summary(_run(action))


@ingest_app.command("daily")
def ingest_daily(
    since: Annotated[str | None, typer.Option(help="Start date instead of the watermark.")] = None,
):
    """Change feed since the stored watermark; details for every changed id."""
    from ingestion.pipelines import run_daily
    from ingestion.progress import RichProgress

    def action():
        return run_daily(
            get_settings(), since=_parse_date(since, "--since"), progress=RichProgress(err)
        )

    _print_summary(_run(action))


@ingest_app.command("reload-lake")
def ingest_reload_lake():
    """Drop raw_tmdb and rebuild it from the lake alone."""
    from ingestion.pipelines import reload_lake

    files = _run(lambda: reload_lake(get_settings()))
    out.print(f"raw_tmdb rebuilt from {files} lake files")


# --- dbt ---------------------------------------------------------------------------------------


@app.command("transform")
def transform_command(
    full_refresh: Annotated[
        bool,
        typer.Option(
            "--full-refresh",
            help="Rebuild incremental models from the raw tables instead of catching up.",
        ),
    ] = False,
):
    """`dbt build` (models and every test) then `dbt docs generate`."""
    from warehouse.dbt_runner import transform, warning_lines

    warnings = _run(lambda: transform(get_settings(), full_refresh=full_refresh))
    out.print("dbt build and docs generate finished; docs in target/ (index.html)")
    for line in warning_lines(warnings):
        out.print(line, highlight=False, markup=False)


@app.command(
    "dbt",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def dbt_command(ctx: typer.Context):
    """Any dbt command against this project and warehouse, e.g. `tmdb dbt ls -s marts`."""
    from warehouse.dbt_runner import run_dbt

    if not ctx.args:
        raise UsageError("name a dbt command, e.g. `tmdb dbt build`")
    _run(lambda: run_dbt(get_settings(), ctx.args))


# --- the classifier ----------------------------------------------------------------------------


@app.command("train")
def train_command(
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Promote the model even if its mean backtest ROC AUC is below the budget-only"
            " baseline's.",
        ),
    ] = False,
):
    """Train the success classifier on marts.ml_movie_features: a walk-forward backtest over
    the last release years (with baselines), then a model on every labelled release."""
    from ml.evaluate import backtest_lines
    from ml.feature_selection import dropped_features_lines
    from ml.pipeline import train_model

    # A line per step on stderr, as ingestion's progress is: stdout keeps the summary.
    def progress(line: str) -> None:
        err.print(line, highlight=False, markup=False)

    loaded = _run(lambda: train_model(get_settings(), progress=progress, force=force))
    out.print(f"model {loaded.version} written to {loaded.path}", highlight=False)
    for line in backtest_lines(loaded.metadata):
        out.print(line, highlight=False, markup=False)
    left_out = dropped_features_lines(loaded.metadata)
    if left_out:
        out.print("features left out of this model:", highlight=False)
        for line in left_out:
            out.print(f"  {line}", highlight=False, markup=False)


@app.command("score")
def score_command():
    """Write the current model's probability for every movie to marts.movie_success_predictions."""
    from ml.pipeline import score_movies

    version, scored = _run(lambda: score_movies(get_settings()))
    out.print(f"scored {scored:,} movies with model {version}", highlight=False)


@app.command("refresh")
def refresh_command(
    skip_ingest: Annotated[
        bool, typer.Option("--skip-ingest", help="Run the rest on what raw_tmdb holds.")
    ] = False,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Retrain before scoring even if the model is new.")
    ] = False,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental marts from scratch.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON object.")
    ] = False,
):
    """The daily cycle: change feed → lake → raw → source freshness → dbt build (into a shadow
    schema, swapped in whole) → score (retrain when due) → docs; one at a time. A running API
    picks up the new marts, docs and model without a restart."""
    import json

    from cli.refresh import RefreshOptions, refresh

    def progress(line: str) -> None:
        err.print(line, highlight=False, markup=False)

    options = RefreshOptions(skip_ingest=skip_ingest, retrain=retrain, full_refresh=full_refresh)
    from contextlib import redirect_stdout

    try:
        # dbt logs to stdout; stdout is kept for the summary (one JSON object with --json).
        with redirect_stdout(sys.stderr):
            summary = refresh(get_settings(), options, progress=progress)
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        expected = expected_failure(exc)
        if expected is None:
            raise
        reason = str(expected).splitlines()[0] if str(expected) else type(expected).__name__
        if as_json:
            print(json.dumps({"status": "failed", "reason": reason}))
        _fail(reason)
    if as_json:
        print(json.dumps(summary.to_json(), default=str))
        return
    for line in summary.lines():
        out.print(line, highlight=False, markup=False)


# --- the API ---------------------------------------------------------------------------------


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
):
    """Serve the HTTP API (/predict, /ask*, /models/current, /dbt-docs/, /docs)."""
    import uvicorn

    from api.main import create_app

    out.print(f"API on http://{host}:{port}  (OpenAPI docs at /docs, dbt docs at /dbt-docs/)")
    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


@app.command("mcp")
def mcp_command():
    """A Model Context Protocol server on stdio: list and query metrics, ask, predict.

    Point an agent at it, e.g. `{"command": "tmdb", "args": ["mcp"]}`; it uses this
    checkout's settings (.env, DATABASE_URL…) like every other command."""
    from api.mcp_server import serve_stdio

    serve_stdio(get_settings())


def _print_rows(columns: list[str], rows: list[list], count: int, truncated: bool) -> None:
    """A query result as a terminal table, titled with how many rows there are."""
    from rich.table import Table

    table = Table(*columns, title=f"{count} rows" + (" (truncated)" if truncated else ""))
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)


def _ask_once(state, question: str, conversation: str | None, max_rows: int, chart: bool):
    """One question through the same path as POST /ask (and its conversation)."""
    from api.ask.service import AskFailed
    from api.conversations import ConversationNotFound
    from api.routes.ask import answer_question
    from api.schemas import AskRequest

    try:
        body = AskRequest(
            question=question, conversation_id=conversation, max_rows=max_rows, chart=chart
        )
        return answer_question(state, body, max_rows, chart)
    except AskFailed as exc:
        raise UsageError(str(exc)) from exc
    except ConversationNotFound as exc:
        raise UsageError(f"no such conversation: {exc} (unknown or expired)") from exc


def _show_answer(answer, rows: int = 20) -> None:
    out.print(answer.answer, highlight=False)
    out.print(f"\n[dim]{answer.sql}[/]", highlight=False)
    _print_rows(answer.columns, answer.rows[:rows], len(answer.rows), answer.truncated)
    _show_suggestions(answer.suggestions)


def _show_suggestions(suggestions: list[str]) -> None:
    """The checked follow-up questions, one a line, ready to ask."""
    if suggestions:
        out.print("Next questions:", highlight=False)
        for suggestion in suggestions:
            out.print(f"  - {suggestion}", highlight=False)


def data_as_of_line(as_of: dict) -> str:
    """ "Data as of …" for the terminal, from `/health`'s `data_as_of`."""
    newest = as_of.get("newest_record_at") or "unknown"
    refreshed = as_of.get("refreshed_at")
    tail = f"refreshed {refreshed}" if refreshed else "no `tmdb refresh` yet"
    return f"Data as of {newest} (newest record; {tail})"


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="A question about the movies, in plain words.")],
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also draw the chart into this PNG file.")
    ] = None,
    max_rows: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    conversation: Annotated[
        str | None, typer.Option(help="Continue this conversation (its id is printed).")
    ] = None,
):
    """The same answer as POST /ask, in the terminal."""
    from api.state import build_state

    settings = get_settings()

    def action():
        state = build_state(settings)
        try:
            answer = _ask_once(state, question, conversation, max_rows, chart is not None)
            return answer, state.watcher.data_as_of()
        finally:
            state.close()

    answer, as_of = _run(action)
    _show_answer(answer)
    out.print(f"[dim]conversation {answer.conversation_id}[/]", highlight=False)
    if as_of is not None:
        out.print(f"[dim]{data_as_of_line(as_of)}[/]", highlight=False)
    if chart is not None:
        if answer.chart_png is None:
            _fail("the result cannot be drawn as a chart")
        chart.write_bytes(answer.chart_png)
        out.print(f"chart written to {chart}")


@app.command("chat")
def chat_command(
    max_rows: Annotated[int, typer.Option(min=1, max=1000)] = 100,
):
    """An interactive conversation: follow-up questions read against the earlier ones.
    /new starts over, /sql shows the last query, /quit (or Ctrl-D) leaves."""
    from api.state import build_state

    state = build_state(get_settings())
    conversation: str | None = None
    last_sql = ""
    out.print("Ask about the movies; follow up as you would with an analyst. /new, /sql, /quit")
    try:
        while True:
            try:
                line = input("? ").strip()
            except EOFError:
                break
            if not line:
                continue
            if line in ("/quit", "/exit"):
                break
            if line == "/new":
                conversation, last_sql = None, ""
                out.print("[dim]new conversation[/]")
                continue
            if line == "/sql":
                out.print(last_sql or "no query yet", highlight=False)
                continue
            try:
                answer = _ask_once(state, line, conversation, max_rows, False)
            except UsageError as exc:
                err.print(f"[bold red]error:[/] {exc}", highlight=False)
                continue
            except Exception as exc:
                expected = expected_failure(exc)
                if expected is None:
                    raise
                err.print(f"[bold red]error:[/] {expected}", highlight=False)
                continue
            conversation, last_sql = answer.conversation_id, answer.sql
            out.print(answer.answer, highlight=False)
            _print_rows(answer.columns, answer.rows[:20], len(answer.rows), answer.truncated)
            _show_suggestions(answer.suggestions)
    finally:
        state.close()


@app.command("eval-ask")
def eval_ask_command(
    questions: Annotated[
        Path | None, typer.Option(help="A question set (YAML); the shipped one by default.")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="builtin, or gemini (needs GEMINI_API_KEY).")
    ] = "builtin",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every outcome to this file.")
    ] = None,
    show: Annotated[
        bool, typer.Option(help="List every question not answered right, the wrong ones first.")
    ] = False,
):
    """/ask on a question set with gold SQL: right, refused and wrong per question shape.
    Wrong (answered with other rows than the gold's, or answered where a refusal is due) is
    the headline figure; refused is an honest decline where an answer was due."""
    import json

    from api.ask.service import AskFailure
    from api.eval import harness
    from api.state import build_state

    if engine not in ("builtin", "gemini"):
        _fail("--engine is builtin or gemini")
    settings = get_settings().model_copy(update={"ask_engine": engine})
    if engine == "gemini" and settings.gemini_api_key is None:
        _fail("--engine gemini needs GEMINI_API_KEY")

    def action():
        state = build_state(settings)
        try:
            ask = harness.asker(state.ask, [AskFailure.UNANSWERABLE, AskFailure.UNSAFE_SQL])
            return harness.evaluate(
                harness.load_questions(questions or harness.QUESTIONS_FILE),
                ask,
                lambda sql: state.executor.run(sql, 100_000).rows,
                engine if engine == "builtin" else settings.gemini_model,
            )
        finally:
            state.close()

    outcomes = _run(action)
    report = harness.summary(outcomes)
    _print_eval_report(report)
    if show:
        order = {"wrong": 0, "refused": 1}
        listed = sorted((o for o in outcomes if o.verdict in order), key=lambda o: order[o.verdict])
        for o in listed:
            colour = "red" if o.verdict == "wrong" else "yellow"
            out.print(
                f"  [{colour}]{o.verdict}[/] [bold]{o.id}[/] {o.question} — {o.detail}",
                highlight=False,
            )
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2, default=str))
        out.print(f"outcomes written to {json_out}")


def _print_eval_report(report: dict) -> None:
    """`tmdb eval-ask`'s table (right / refused / wrong per shape, then the total), a line on
    the answerable questions and the due refusals, and the headline: how many are wrong."""
    from rich.table import Table

    table = Table("shape", "engine", "n", "right", "refused", "wrong", title="eval-ask")
    for row in report["by_shape"]:
        table.add_row(
            row["shape"], row["engine"], str(row["n"]), str(row["right"]), str(row["refused"]),
            f"[red]{row['wrong']}[/]" if row["wrong"] else "0",
        )  # fmt: skip
    table.add_section()
    table.add_row(
        "total", "", str(report["questions"]), str(report["right"]), str(report["refused"]),
        str(report["wrong"]), style="bold",
    )  # fmt: skip
    out.print(table)
    accuracy = f" ({report['accuracy']:.1%})" if report["accuracy"] is not None else ""
    out.print(
        f"answerable: {report['answerable_right']}/{report['answerable']} right{accuracy},"
        f" {report['answerable_refused']} refused, {report['answerable_wrong']} wrong;"
        f" refusals due: {report['refusals_right']}/{report['refusals_due']} refused,"
        f" {report['refusals_wrong']} answered",
        highlight=False,
    )
    n = report["questions"]
    colour = "red" if report["wrong"] else "green"
    out.print(
        f"[bold {colour}]wrong: {report['wrong']} of {n}[/] (answered wrongly);"
        f" right: {report['right']} of {n}; refused: {report['refused']} of {n}"
        " (declined where an answer was due)",
        highlight=False,
    )


# --- semantic layer ----------------------------------------------------------------------------


def _semantic_layer(settings: Settings, with_executor: bool):
    from api.semantic.service import SemanticLayer
    from api.text_to_sql.executor import QueryExecutor
    from warehouse.connection import analyst_url

    executor = None
    if with_executor:
        executor = QueryExecutor(analyst_url(settings), timeout_ms=settings.query_timeout_ms)
    return SemanticLayer(settings.dbt_target_path, executor)


@metrics_app.command("list")
def metrics_list():
    """Every metric with its label, description and synonyms, then every dimension."""
    catalog = _run(lambda: _semantic_layer(get_settings(), False).catalog())
    out.print("[bold]Metrics[/]")
    for metric in catalog.metrics.values():
        out.print(f"  [bold]{metric.name}[/] ({metric.label}, {metric.type})", highlight=False)
        out.print(f"      {metric.description}", highlight=False)
        if metric.synonyms:
            out.print(f"      also: {', '.join(metric.synonyms)}", highlight=False)
    out.print("[bold]Dimensions[/]")
    for dimension in catalog.dimensions.values():
        out.print(f"  [bold]{dimension.name}[/] ({dimension.label})", highlight=False)
        out.print(f"      {dimension.description}", highlight=False)
    out.print("[bold]Saved queries[/] (tmdb metrics query --saved-query NAME)")
    for saved in catalog.saved_queries.values():
        out.print(f"  [bold]{saved.name}[/]: {saved.description}", highlight=False)


@metrics_app.command("query")
def metrics_query(
    metrics: Annotated[str, typer.Option(help="Metric names, comma-separated.")] = "",
    saved_query: Annotated[
        str | None, typer.Option(help="Run a saved query of the dbt project by name instead.")
    ] = None,
    group_by: Annotated[str, typer.Option(help="Dimensions, comma-separated.")] = "",
    where: Annotated[
        list[str] | None,
        typer.Option(help="A MetricFlow filter: {{ Dimension('movie__director_name') }} = 'X'."),
    ] = None,
    order_by: Annotated[str, typer.Option(help="Names; a leading - sorts descending.")] = "",
    limit: Annotated[int | None, typer.Option(min=1)] = None,
    explain: Annotated[bool, typer.Option(help="Print the compiled SQL, do not run it.")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="Print the result as CSV.")] = False,
):
    """Query metrics through MetricFlow, checked by the guard, run as tmdb_analyst."""
    from pydantic import ValidationError

    from api.semantic.query import InvalidMetricQuery, MetricQuery

    if bool(metrics) == bool(saved_query):
        _fail("give either --metrics or --saved-query")
    query = None
    if metrics:
        try:
            query = MetricQuery(
                metrics=metrics, group_by=group_by, where=where or [], order_by=order_by,
                limit=limit,
            )  # fmt: skip
        except ValidationError as exc:
            _fail(f"invalid metric query: {exc.errors()[0]['msg']}")
    layer = _semantic_layer(get_settings(), not explain)

    def action():
        try:
            wanted = query or layer.saved_query(saved_query)
            if explain:
                return layer.compile(wanted), None
            return layer.run(wanted)
        except InvalidMetricQuery as exc:
            hint = f" (did you mean: {', '.join(exc.suggestions)}?)" if exc.suggestions else ""
            raise UsageError(f"{exc}{hint}") from exc
        finally:
            if layer.executor is not None:
                layer.executor.close()

    compiled, result = _run(action)
    if explain:
        out.print(compiled.sql, highlight=False)
        return
    if csv:
        import csv as csv_module

        writer = csv_module.writer(sys.stdout)
        writer.writerow(result.columns)
        writer.writerows(result.rows)
        return
    _print_rows(result.columns, result.rows, len(result.rows), result.truncated)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
