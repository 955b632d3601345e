"""`tmdb refresh`: the whole daily cycle, safe to run unattended (CONTRACT §7).

change feed → lake → raw_tmdb → `dbt source freshness` → `dbt build` of the marts into the
shadow schema → score (retrain first when due) against the shadow → swap the shadow in, in one
transaction → `dbt docs generate` installed into the API's target folder → the record in
`tmdb_app.refreshes` → (with `ARTIFACTS_S3_URI`) docs and model published to S3.

One refresh at a time (`warehouse.refreshes.RefreshLock`). A step that fails raises
`RefreshFailed` naming it; the marts the API reads stay the last good ones, because everything
before the swap writes only the shadow, staging and intermediate (the API reads none of them),
and the `ml` landing table (the live predictions mart is a table of its own). A running API
notices the new artefacts and reloads (`api.refresh_watch`).

The pieces that decide (is a retrain due, what the freshness results say, the summary) are
plain functions, tested without a warehouse.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from warehouse.settings import Settings

Progress = Callable[[str], None]


class RefreshFailed(RuntimeError):
    """A step of the cycle failed; the message is one line naming the step and why."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"refresh stopped at {step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class RefreshOptions:
    skip_ingest: bool = False
    retrain: bool = False
    full_refresh: bool = False


@dataclass(frozen=True)
class SourceFreshness:
    """One source table's `dbt source freshness` result."""

    source: str  # schema.table, as analysts know it
    status: str  # pass, warn, error, runtime error
    max_loaded_at: str | None
    age_hours: float | None

    def line(self) -> str:
        age = f"{self.age_hours:,.1f} h old" if self.age_hours is not None else "no rows"
        return f"{self.source}: {self.status} (newest record {age})"


def read_freshness(sources_json: dict[str, Any]) -> list[SourceFreshness]:
    """The per-table results of dbt's `sources.json`."""
    found = []
    for result in sources_json.get("results", []):
        # unique_id: source.<project>.<source name>.<table>
        name = result.get("unique_id", "").split(".")[-1]
        age = result.get("max_loaded_at_time_ago_in_s")
        found.append(
            SourceFreshness(
                source=f"raw_tmdb.{name}",
                status=str(result.get("status", "runtime error")),
                max_loaded_at=result.get("max_loaded_at"),
                age_hours=round(age / 3600, 2) if age is not None else None,
            )
        )
    return sorted(found, key=lambda f: f.source)


def freshness_failure(results: list[SourceFreshness]) -> str | None:
    """Why the freshness step fails (a source past its error threshold), else None."""
    bad = [r for r in results if r.status not in ("pass", "warn")]
    if not bad:
        return None
    return "; ".join(f"{r.source} is {r.status}" + (
        f" (newest record {r.age_hours:,.1f} h old)" if r.age_hours is not None else ""
    ) for r in bad)  # fmt: skip


def retrain_reason(
    trained_at: datetime | None, now: datetime, max_age_days: float, forced: bool
) -> str | None:
    """Why this refresh retrains before scoring, or None when the current model serves on."""
    if forced:
        return "--retrain"
    if trained_at is None:
        return "no promoted model yet"
    age_days = (now - trained_at).total_seconds() / 86400
    if age_days > max_age_days:
        return f"the model is {age_days:,.1f} days old (MODEL_MAX_AGE_DAYS={max_age_days:g})"
    return None


def current_model_trained_at(artifacts_dir: Path) -> tuple[str, datetime] | None:
    """(version, trained_at) of the promoted model, read from its metadata (the model itself
    is not loaded for this)."""
    from ml import artifacts

    metadata = artifacts.models_dir(artifacts_dir) / artifacts.CURRENT / artifacts.METADATA_FILE
    if not metadata.is_file():
        return None
    data = json.loads(metadata.read_text())
    trained_at = datetime.fromisoformat(data["trained_at"])
    if trained_at.tzinfo is None:
        trained_at = trained_at.replace(tzinfo=UTC)
    return str(data["version"]), trained_at


@dataclass
class RefreshSummary:
    """What one refresh did; `lines()` for people, `to_json()` for schedulers."""

    status: str = "running"
    refresh_id: int | None = None
    films_changed: int | None = None  # None with --skip-ingest
    ingest: dict[str, Any] | None = None
    freshness: list[SourceFreshness] = field(default_factory=list)
    models_built: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0
    warnings: list[dict[str, Any]] = field(default_factory=list)
    model_version: str | None = None
    retrained: bool = False
    model_note: str | None = None
    scored: int = 0
    newest_record_at: str | None = None
    published: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds"]["total"] = round(sum(self.seconds.values()), 2)
        return data

    def lines(self) -> list[str]:
        changed = "ingest skipped" if self.films_changed is None else f"{self.films_changed:,}"
        model = self.model_version or "none"
        if self.retrained:
            model += " (retrained)"
        lines = [
            f"refresh {self.refresh_id} {self.status}",
            f"films changed: {changed}",
            f"models built: {self.models_built}; tests passed {self.tests_passed},"
            f" warned {self.tests_warned}, failed {self.tests_failed}",
            f"model: {model}; {self.scored:,} movies scored",
        ]
        if self.model_note:
            lines.append(f"  {self.model_note}")
        lines.append("freshness:")
        lines += [f"  {f.line()}" for f in self.freshness] or ["  no source declares it"]
        lines += [f"  warned: {w['name']}: {w['failures']:,} rows" for w in self.warnings]
        if self.newest_record_at:
            lines.append(f"data as of: newest record {self.newest_record_at}")
        if self.published:
            lines.append(f"published to {self.published}")
        steps = ", ".join(f"{name} {secs:,.1f} s" for name, secs in self.seconds.items())
        lines.append(f"seconds: {steps}; total {sum(self.seconds.values()):,.1f} s")
        return lines


def shadow_target(settings: Settings) -> Path:
    """dbt's target folder for the shadow build: the API's own stays as it is until the swap.
    Kept between refreshes (dbt's partial parse), under the state folder, out of the checkout."""
    return settings.state_dir / "refresh" / "target__next"


def docs_target(settings: Settings) -> Path:
    """Where the docs of the swapped-in marts are generated before they are installed."""
    return settings.state_dir / "refresh" / "target__docs"


class _Cycle:
    """One refresh's run: the steps in order, each timed and its failure named."""

    def __init__(
        self,
        settings: Settings,
        options: RefreshOptions,
        progress: Progress,
        today: date | None,
        since: date | None,
    ) -> None:
        from warehouse.shadow_marts import shadow_dbt_args

        self.settings = settings
        self.options = options
        self.progress = progress
        self.today = today
        self.since = since
        self.summary = RefreshSummary()
        self.shadow = settings.model_copy(update={"dbt_target_dir": shadow_target(settings)})
        self.shadow_args = shadow_dbt_args()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        from cli.errors import expected_failure

        self.progress(f"[{name}] …")
        started = time.monotonic()
        try:
            yield
        except RefreshFailed:
            raise
        except Exception as exc:
            expected = expected_failure(exc)
            if expected is None:
                raise
            reason = str(expected).splitlines()[0] if str(expected) else type(expected).__name__
            raise RefreshFailed(name, reason) from exc
        finally:
            self.summary.seconds[name] = round(time.monotonic() - started, 2)

    def ingest(self) -> None:
        from ingestion.pipelines import run_daily
        from ingestion.progress import LogProgress

        with self.step("ingest"):
            result = run_daily(
                self.settings, since=self.since, today=self.today, progress=LogProgress()
            )
        self.summary.films_changed = result.fetched + result.missing
        self.summary.ingest = {
            "ids_selected": result.ids_selected,
            "fetched": result.fetched,
            "missing": result.missing,
            "lake_files_loaded": result.lake_files_loaded,
            **{key: str(value) for key, value in result.detail.items()},
        }

    def freshness(self) -> None:
        from warehouse.dbt_runner import DbtFailed, run_dbt

        with self.step("freshness"):
            sources = self.shadow.dbt_target_path / "sources.json"
            sources.unlink(missing_ok=True)
            try:
                run_dbt(self.shadow, ["source", "freshness"])
            except DbtFailed:
                if not sources.is_file():
                    raise
            results = read_freshness(json.loads(sources.read_text())) if sources.is_file() else []
            self.summary.freshness = results
            problem = freshness_failure(results)
            if problem:
                raise RefreshFailed("freshness", problem)

    def build(self) -> None:
        from warehouse.dbt_runner import PRODUCTION_BUILD, build_counts, build_warnings, run_dbt

        with self.step("build"):
            args = [*PRODUCTION_BUILD, *self.shadow_args]
            if self.options.full_refresh:
                args.append("--full-refresh")
            result = run_dbt(self.shadow, args)
        counts = build_counts(result)
        self.summary.models_built = counts.models_built
        self.summary.tests_passed = counts.tests_passed
        self.summary.tests_warned = counts.tests_warned
        self.summary.tests_failed = counts.tests_failed
        self.summary.warnings = [asdict(w) for w in build_warnings(result)]

    def score(self) -> None:
        from ml.pipeline import score_movies, train_model
        from ml.train import NotEnoughData, NotPromoted
        from warehouse.shadow_marts import SHADOW

        with self.step("score"):
            current = current_model_trained_at(self.settings.artifacts_dir)
            why = retrain_reason(
                current[1] if current else None,
                datetime.now(UTC),
                self.settings.model_max_age_days,
                self.options.retrain,
            )
            if why is not None:
                self.progress(f"[score] retraining: {why}")
                try:
                    trained = train_model(self.shadow, schema=SHADOW)
                    self.summary.retrained = True
                    self.summary.model_note = f"retrained: {why}"
                    self.summary.model_version = trained.version
                except (NotPromoted, NotEnoughData) as exc:
                    # As `tmdb train` does: a model that loses to its baseline is not promoted.
                    self.summary.model_note = f"retrain ({why}) not promoted: {exc}"
                    self.progress(f"[score] {self.summary.model_note}")
            current = current_model_trained_at(self.settings.artifacts_dir)
            if current is None:
                self.summary.model_note = (self.summary.model_note or "") + (
                    "; no promoted model: no scores written"
                )
                return
            version, self.summary.scored = score_movies(
                self.shadow, schema=SHADOW, dbt_args=self.shadow_args
            )
            self.summary.model_version = version

    def swap(self) -> None:
        from warehouse.connection import bootstrap, connect
        from warehouse.refreshes import newest_record_at
        from warehouse.shadow_marts import SHADOW, swap_in

        with self.step("swap"):
            conn = connect(bootstrap(self.settings))
            try:
                newest = newest_record_at(conn, SHADOW)
                swap_in(conn)
            finally:
                conn.close()
        self.newest = newest
        self.summary.newest_record_at = newest.isoformat() if newest else None

    def docs(self) -> None:
        from warehouse.dbt_runner import check_documented, install_artifacts, run_dbt

        with self.step("docs"):
            # Generated against the live `marts` (no var): the artefacts the API and the
            # semantic layer read must name `marts`, never the shadow.
            built = docs_target(self.settings)
            shutil.rmtree(built, ignore_errors=True)
            docs = self.settings.model_copy(update={"dbt_target_dir": built})
            run_dbt(docs, ["docs", "generate"])
            check_documented(built)
            install_artifacts(built, self.settings.dbt_target_path)

    def publish(self) -> None:
        from cli.publish import publish

        if not self.settings.artifacts_s3_uri:
            return
        with self.step("publish"):
            publish(self.settings)
        self.summary.published = self.settings.artifacts_s3_uri


def refresh(
    settings: Settings,
    options: RefreshOptions = RefreshOptions(),
    *,
    progress: Progress | None = None,
    today: date | None = None,
    since: date | None = None,
) -> RefreshSummary:
    """Run the daily cycle once (see the module docstring); `today` pins the change feed's end
    (tests move the local TMDB server a day), `since` its start instead of the watermark (the
    demo's first increment starts at its backfill's export)."""
    from warehouse.connection import bootstrap, connect
    from warehouse.refreshes import RefreshLock, record_end, record_start

    progress = progress or (lambda line: None)
    url = bootstrap(settings)
    cycle = _Cycle(settings, options, progress, today, since)
    with RefreshLock(url) as lock:
        conn = connect(url)
        try:
            cycle.summary.refresh_id = record_start(conn, lock.holder)
            try:
                if not options.skip_ingest:
                    cycle.ingest()
                cycle.freshness()
                cycle.build()
                cycle.score()
                cycle.swap()
                cycle.docs()
                cycle.publish()
            except BaseException as exc:
                cycle.summary.status = "failed"
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                record_end(
                    conn, cycle.summary.refresh_id, succeeded=False,
                    summary=cycle.summary.to_json(), reason=reason,
                )  # fmt: skip
                raise
            cycle.summary.status = "succeeded"
            record_end(
                conn,
                cycle.summary.refresh_id,
                succeeded=True,
                summary=cycle.summary.to_json(),
                newest_record_at=getattr(cycle, "newest", None),
                model_version=cycle.summary.model_version,
            )
        finally:
            conn.close()
    return cycle.summary
