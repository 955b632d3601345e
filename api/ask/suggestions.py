"""The next question: up to three follow-ups to an answer, each one checked answerable.

A suggestion people click must never be refused, so none is shown on a guess. Candidates are
written in the words the built-in engine reads (metric labels, "by year", a grounded value,
"since 2000"), from the answer's metric query and its rows: drill into its top group ("Success
rate by year for Drama" after "success rate by genre"), the same metric over time (or split
by genre when it already is over time), a related metric for the same filters. Each candidate
then goes through what a question asked would go through: the built-in engine reads it, its
query is checked against the shape its words ask for (`api.ask.shape`), and MetricFlow compiles
it and the sqlglot guard checks the SQL (compile only: nothing runs). Only those that pass are
kept. A question's verdict is kept per manifest and value index, and an answer's suggestions
per answer, so a repeated answer costs a dictionary lookup and a new one a few compiles (the
compiled queries stay in the semantic layer's cache, so a clicked suggestion compiles no more).

The home page's "Try" chips come from `starters`: the dbt project's saved questions and a few
headline ones, checked the same way on the loaded data.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from api.ask.builtin.engine import BuiltinEngine, Unanswerable
from api.ask.builtin.reading import dimensions_of
from api.ask.shape import ShapeMismatch, check
from api.grounding.languages import LANGUAGE_NAMES
from api.semantic.catalog import METRIC_TIME, MOVIE, Catalog
from api.semantic.engine import SemanticLayerUnavailable
from api.semantic.query import InvalidMetricQuery, MetricQuery
from api.semantic.service import SemanticLayer
from api.text_to_sql.guard import UnsafeSql

logger = logging.getLogger(__name__)

MAX_SUGGESTIONS = 3
ANSWER_ROWS = 100  # what the page asks for: the check compiles what the click will run
KEPT = 2_048  # verdicts and answers kept per manifest and value index

# What to look at next after a metric: the one it is usually read with. Metrics outside this
# table are followed by the first headline metric they do not already show.
RELATED = {
    "success_rate": "median_roi",
    "median_roi": "success_rate",
    "commercial_successes": "success_rate",
    "labelled_movies": "success_rate",
    "movies": "success_rate",
    "total_revenue_usd": "total_budget_usd",
    "total_budget_usd": "total_revenue_usd",
    "total_profit_usd": "median_roi",
    "average_revenue_usd": "average_budget_usd",
    "average_budget_usd": "average_revenue_usd",
    "median_revenue_usd": "median_budget_usd",
    "median_budget_usd": "median_revenue_usd",
    "average_profit_usd": "average_budget_usd",
    "average_rating": "total_votes",
    "total_votes": "average_rating",
    "average_popularity": "average_rating",
    "average_runtime_minutes": "average_rating",
    "predicted_success_rate": "success_rate",
    "average_success_probability": "success_rate",
}
HEADLINE = ("success_rate", "movies", "average_rating", "median_roi", "total_revenue_usd")
# Questions the home page offers before any answer, with the dbt project's saved questions.
STARTERS = (
    "What is the success rate by genre?",
    "Median ROI by year",
    "Average rating by decade",
    "How many movies were released each year since 2010?",
)
# A grain of `metric_time` and the calendar dimensions, as a question says them.
GRAIN_WORDS = {"year": "year", "quarter": "quarter", "month": "month", "week": "week", "day": "day"}
CALENDAR_WORDS = {"decade": "decade", "month": "month of year", "quarter": "quarter of year"}
_SINCE = re.compile(r"TimeDimension\('metric_time', 'day'\) \}\} >= '(\d{4})-01-01'$")
_UNTIL = re.compile(r"TimeDimension\('metric_time', 'day'\) \}\} <= '(\d{4})-12-31'$")
_EQUALS = re.compile(r"^\{\{ Dimension\('([a-z0-9_]+)'\) \}\} = '((?:[^']|'')*)'$")


def metric_words(catalog: Catalog, name: str) -> str:
    """A metric as a question names it: its label without the unit ("Average budget")."""
    label = catalog.metrics[name].label if name in catalog.metrics else name
    return re.sub(r"\s*\([^)]*\)", "", label).strip()


def value_words(dimension: str, value: Any) -> str | None:
    """A value as a question names it (a language by its name), or None when it cannot be."""
    if value is None:
        return None
    text = str(value)
    if dimension == "movie__original_language":
        names = LANGUAGE_NAMES.get(text)
        return names[0] if names else None
    return text if text.strip() and "'" not in text else None


class Suggester:
    """Checked follow-up questions for answers and refusals, and the home page's starters."""

    def __init__(
        self,
        engine: Callable[[], BuiltinEngine],
        semantic: SemanticLayer,
        generation: Callable[[], tuple],
    ) -> None:
        self._engine = engine
        self._semantic = semantic
        self._generation = generation  # changes when the manifest or the value index does
        self._seen: tuple | None = None
        self._verdicts: OrderedDict[str, bool] = OrderedDict()
        self._answers: OrderedDict[str, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------
    def for_answer(
        self,
        question: str,
        metric_query: dict[str, Any] | None,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
    ) -> list[str]:
        """Up to three checked follow-ups to an answer (none without a metric query but the
        starters, which are about the same data)."""
        try:
            engine = self._engine()
        except Exception as exc:  # no semantic layer yet: nothing can be checked
            logger.info("no suggestions: %s", exc)
            return []
        if not metric_query:
            return self._first_passing(self.starter_candidates(engine.catalog), exclude=question)
        query = MetricQuery.model_validate(metric_query)
        top = _top_row(query, list(columns), rows)
        key = json.dumps([metric_query, top], default=str, sort_keys=True)
        cached = self._cached_answer(key)
        if cached is not None:
            return [s for s in cached if s.lower() != question.lower()]
        candidates = self.candidates(engine.catalog, query, list(columns), top)
        found = self._first_passing(candidates, exclude=question)
        with self._lock:
            self._answers[key] = found
            _bound(self._answers)
        return found

    def for_refusal(
        self, question: str, offered: Iterable[str], understood: MetricQuery | None = None
    ) -> list[str]:
        """Up to three checked questions for a refused one: the query understood so far asked
        whole and followed up, what the engine offered itself (nearest metrics, saved
        questions), then the starters."""
        try:
            engine = self._engine()
        except Exception:
            return []
        catalog = engine.catalog
        near = self.candidates(catalog, understood, [], {}, itself=True) if understood else []
        return self._first_passing(
            [*near, *offered, *self.starter_candidates(catalog)], exclude=question
        )

    def starters(self) -> list[str]:
        """The home page's "Try" questions, each checked on the loaded data."""
        try:
            engine = self._engine()
        except Exception:
            return []
        return self._first_passing(self.starter_candidates(engine.catalog), exclude="")

    def answerable(self, question: str) -> bool:
        """Whether the built-in engine answers `question`: read, shape-checked, compiled by
        MetricFlow and checked by the guard (nothing runs). Cached per manifest and index."""
        self._sync()
        with self._lock:
            if question in self._verdicts:
                self._verdicts.move_to_end(question)
                return self._verdicts[question]
        verdict = self._check(question)
        with self._lock:
            self._verdicts[question] = verdict
            _bound(self._verdicts)
        return verdict

    # -- candidates -----------------------------------------------------------------------------
    @staticmethod
    def starter_candidates(catalog: Catalog) -> list[str]:
        saved = [q.description for q in catalog.saved_queries.values() if q.description]
        return list(dict.fromkeys([*STARTERS[:1], *saved, *STARTERS[1:]]))

    @staticmethod
    def candidates(
        catalog: Catalog,
        query: MetricQuery,
        columns: list[str],
        top: dict[str, Any],
        *,
        itself: bool = False,
    ) -> list[str]:
        """Follow-up questions to a metric query, most relevant first (unchecked); with
        `itself`, the query asked in words first (a refusal's reading, finished)."""
        metric = query.metrics[0]
        words = metric_words(catalog, metric)
        when = _time_words(query.where)
        kept = _value_filters(query.where)
        listing = MOVIE in query.group_by  # a list of movies: its keys are not groupings
        grouped = [] if listing else list(query.group_by)
        over_time = [g for g in grouped if _is_time(catalog, g)]
        categories = [g for g in grouped if not _is_time(catalog, g)]
        out: list[str] = []
        if itself:
            by = " and ".join(_group_words(catalog, g) for g in grouped)
            out.append(f"{words}{f' by {by}' if by else ''}{_with(kept)}{when}")
        # 1. Drill into the top group: its figure over time.
        for dimension in categories:
            value = value_words(dimension, top.get(dimension))
            if value is not None:
                drilled = {**{d: v for d, v in kept.items() if d != dimension}, dimension: value}
                out.append(f"{words} by year{_with(drilled)}{when}")
        for grain in over_time:
            year = _year_of(top.get(grain))  # the latest period with a figure
            if year is not None and "genre__genre_name" in catalog.metrics[metric].dimensions:
                out.append(f"{words} by genre in {year}{_with(kept)}")
        # 2. The same metric over time, or split by genre when it already is over time.
        if not over_time:
            out.append(f"{words} by year{_with(kept)}{when}")
        else:
            out.append(f"{words} by genre{_with(kept)}{when}")
            out.append(f"{words} by decade{_with(kept)}")
        # 3. A related metric, same grouping and filters.
        related = RELATED.get(metric)
        if related is None or related in query.metrics:
            related = next((m for m in HEADLINE if m not in query.metrics), None)
        if related is not None and related in catalog.metrics:
            by = " and ".join(_group_words(catalog, g) for g in grouped)
            out.append(
                f"{metric_words(catalog, related)}{f' by {by}' if by else ''}{_with(kept)}{when}"
            )
        return list(dict.fromkeys(out))

    # -- checking -------------------------------------------------------------------------------
    def _first_passing(self, candidates: Iterable[str], exclude: str) -> list[str]:
        found: list[str] = []
        for candidate in candidates:
            if candidate.strip().lower() == exclude.strip().lower() or candidate in found:
                continue
            if self.answerable(candidate):
                found.append(candidate)
                if len(found) == MAX_SUGGESTIONS:
                    break
        return found

    def _check(self, question: str) -> bool:
        try:
            engine = self._engine()
            understood = engine.understand(question)
            _, want = engine.for_prompt(question)
            check(understood.query, want)
            compiled = self._semantic.compile(understood.query, max_rows=ANSWER_ROWS)
            if understood.denominator is not None:
                self._semantic.compile(understood.denominator, max_rows=ANSWER_ROWS)
        except (
            Unanswerable,
            ShapeMismatch,
            InvalidMetricQuery,
            UnsafeSql,
            SemanticLayerUnavailable,
        ) as exc:
            logger.debug("suggestion %r dropped: %s", question, exc)
            return False
        return bool(compiled.sql)

    def _sync(self) -> None:
        """Forget every verdict when the manifest or the value index changed."""
        generation = self._generation()
        with self._lock:
            if generation != self._seen:
                self._seen = generation
                self._verdicts.clear()
                self._answers.clear()

    def _cached_answer(self, key: str) -> list[str] | None:
        self._sync()
        with self._lock:
            found = self._answers.get(key)
            if found is not None:
                self._answers.move_to_end(key)
            return found


def _bound(cache: OrderedDict) -> None:
    while len(cache) > KEPT:
        cache.popitem(last=False)


def _is_time(catalog: Catalog, group_by: str) -> bool:
    info = catalog.dimensions.get(catalog.dimension_of(group_by))
    return bool(info and (info.type == "time" or info.calendar))


def _group_words(catalog: Catalog, group_by: str) -> str:
    head, _, grain = group_by.rpartition("__")
    if head == METRIC_TIME and grain in GRAIN_WORDS:
        return GRAIN_WORDS[grain]
    info = catalog.dimensions.get(group_by)
    if info is not None and info.calendar in CALENDAR_WORDS:
        return CALENDAR_WORDS[info.calendar]
    return (info.label if info else group_by).lower()


def _top_row(query: MetricQuery, columns: list[str], rows: Sequence[Sequence[Any]]) -> dict:
    """The top group's row: the first of an ordered query, the latest period of a series,
    else the highest first metric."""
    metric = query.metrics[0]
    if metric not in columns or not rows:
        return {}
    at = columns.index(metric)
    numeric = [r for r in rows if isinstance(r[at], int | float) and not isinstance(r[at], bool)]
    if not numeric:
        return {}
    if query.order_by:
        best = numeric[0]
    elif query.group_by and query.group_by[0].startswith(METRIC_TIME):
        best = numeric[-1]  # a series: its latest period
    else:
        best = max(numeric, key=lambda r: r[at])
    return dict(zip(columns, best, strict=False))


def _year_of(value: Any) -> int | None:
    text = str(value or "")
    return int(text[:4]) if re.match(r"^\d{4}-", text) else None


def _time_words(where: list[str]) -> str:
    """A release-date range as words ("since 2000", "from 2000 to 2010"), or ""."""
    since = next((int(m[1]) for w in where if (m := _SINCE.search(w))), None)
    until = next((int(m[1]) for w in where if (m := _UNTIL.search(w))), None)
    if since is not None and until is not None:
        return f" in {since}" if since == until else f" from {since} to {until}"
    if since is not None:
        return f" since {since}"
    if until is not None:
        return f" until {until}"
    return ""


def _value_filters(where: list[str]) -> dict[str, str]:
    """The filters on one value of a dimension, as {dimension: value words}."""
    found: dict[str, str] = {}
    for condition in where:
        match = _EQUALS.match(condition)
        if match and dimensions_of(condition):
            words = value_words(match[1], match[2].replace("''", "'"))
            if words is not None:
                found[match[1]] = words
    return found


def _with(kept: dict[str, str]) -> str:
    """The filters as words: " for Drama and R"."""
    return f" for {' and '.join(kept.values())}" if kept else ""
