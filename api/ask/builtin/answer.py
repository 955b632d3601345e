"""The built-in engine's answer in words: what it understood, then the figures, from our code.

No language model writes it, so it only states what the rows say: the reading of the question
("Success rate by genre, since 2010; 'nolan' → director Christopher Nolan"), and the value, or
the first rows of a series. Keys are written for people: a film as "Title (year)", a date at
the query's grain ("September 2005", "2005 Q3"), a decade as "1990s", a month as "March".
"""

from __future__ import annotations

from typing import Any

from api.ask.builtin import calendar as cal
from api.ask.builtin.reading import Understood
from api.semantic.catalog import MOVIE, MOVIE_TITLE, MOVIE_YEAR, Catalog
from api.text_to_sql.executor import QueryResult

SHOWN = 5


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "unknown" if value is None else str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1_000 else f"{value:,.0f}"
    text = str(value)
    if len(text) >= 10 and text[4] == "-" and text[5:10] == "01-01" and "T00:00:00" in text:
        return text[:4]  # a year at metric_time__year grain
    return text


def _key(value: Any, group_by: str, catalog: Catalog) -> str:
    dimension = catalog.dimensions.get(catalog.dimension_of(group_by))
    written = cal.shown(value, group_by, dimension.calendar if dimension else None)
    return written if written is not None else _fmt(value)


def _label(group_by: str, catalog: Catalog) -> str:
    if group_by.startswith("metric_time"):
        return "released"
    return catalog.dimensions[catalog.dimension_of(group_by)].label.lower()


def _row(
    row: list[Any], columns: list[str], group_by: list[str], catalog: Catalog
) -> tuple[str, list[Any]]:
    """A row's key in words and its figures (keys found by column name: MetricFlow may order
    the columns otherwise than the group-by)."""
    cells = dict(zip(columns, row, strict=False))
    keys = {g: cells.get(g) for g in group_by}
    figures = [v for c, v in cells.items() if c not in keys]
    if MOVIE in keys:
        year = keys.get(MOVIE_YEAR)
        film = f"{keys.get(MOVIE_TITLE)} ({int(year) if year is not None else 'year unknown'})"
        rest = [
            f"{_label(g, catalog)} {_key(v, g, catalog)}"
            for g, v in keys.items()
            if g not in (MOVIE, MOVIE_TITLE, MOVIE_YEAR)
        ]
        return ", ".join([film, *rest]), figures
    grains = {g.rpartition("__")[2] for g in keys if g.startswith("metric_time")}
    shown = [
        _key(v, g, catalog)
        for g, v in keys.items()
        if getattr(catalog.dimensions.get(g), "calendar", None) not in grains
    ]  # "March 2011", not "March 2011, March": a one-year series carries both keys
    return ", ".join(shown), figures


def describe(understood: Understood, result: QueryResult, catalog: Catalog) -> str:
    query = understood.query
    labels = [catalog.metrics[m].label for m in query.metrics if m in catalog.metrics]
    head = "; ".join(understood.described) if understood.described else ", ".join(labels)
    if not result.rows:
        return f"No movies match ({head})."
    if understood.denominator is not None and len(result.rows) == 1:
        numerator, denominator, share = result.rows[0][:3]
        if share is None:
            return f"No movies to take a share of ({head})."
        return (
            f"Share: {share * 100:.1f}% ({_fmt(numerator)} of {_fmt(denominator)} movies; {head})."
        )
    if not query.group_by and len(result.rows) == 1:
        figures = ", ".join(
            f"{label}: {_fmt(value)}" for label, value in zip(labels, result.rows[0], strict=False)
        )
        return f"{figures} ({head})."
    listing = MOVIE in query.group_by and query.metrics == ["movies"]
    shown = []
    for row in result.rows[:SHOWN]:
        key, figures = _row(row, result.columns, query.group_by, catalog)
        shown.append(key if listing else f"{key}: {', '.join(_fmt(v) for v in figures)}")
    more = f" and {len(result.rows) - SHOWN} more" if len(result.rows) > SHOWN else ""
    what = "Movies" if listing else ", ".join(labels)
    return f"{what} ({head}): {'; '.join(shown)}{more}."
