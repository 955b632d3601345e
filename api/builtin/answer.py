"""The built-in engine's answer in words: what it understood, then the figures, from our code.

No language model writes it, so it only states what the rows say: the reading of the question
("Success rate by genre, since 2010; 'nolan' → director Christopher Nolan"), and the value, or
the first rows of a series.
"""

from __future__ import annotations

from typing import Any

from api.builtin.engine import Understood
from api.semantic.catalog import Catalog
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


def describe(understood: Understood, result: QueryResult, catalog: Catalog) -> str:
    query = understood.query
    labels = [catalog.metrics[m].label for m in query.metrics if m in catalog.metrics]
    head = "; ".join(understood.described) if understood.described else ", ".join(labels)
    if not result.rows:
        return f"No movies match ({head})."
    if not query.group_by and len(result.rows) == 1:
        figures = ", ".join(
            f"{label}: {_fmt(value)}" for label, value in zip(labels, result.rows[0], strict=False)
        )
        return f"{figures} ({head})."
    keys = len(query.group_by)
    shown = []
    for row in result.rows[:SHOWN]:
        key = ", ".join(_fmt(v) for v in row[:keys])
        values = ", ".join(_fmt(v) for v in row[keys:])
        shown.append(f"{key}: {values}")
    more = f" and {len(result.rows) - SHOWN} more" if len(result.rows) > SHOWN else ""
    return f"{', '.join(labels)} ({head}): {'; '.join(shown)}{more}."
