"""Interactive charts for the web page: Vega-Lite specs written by our code, then validated.

The page draws them with vega-embed (served by the app, `api/web/vendor/`). A spec is built by
hand from the result's columns, never from text a model wrote, and `validate` checks every spec
before it leaves: a mark from a short allowlist, encodings only on the channels we use, each
field a column of the result with a type that fits it (a measure is quantitative, a time
grouping temporal at the query's grain), inline data only (no URL, no expression). Tooltips
show every column with the exact figure; bars are sorted by their value; a time axis is read
at the query's grain in UTC (a year is "2005" in every timezone).

Field types come from the semantic layer when the query is a metric query (a metric is
quantitative, `metric_time__quarter` temporal by quarter, a decade ordinal, a genre nominal),
otherwise from the values (`api.charts.column_kinds`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from api.charts import column_kinds
from api.semantic.catalog import METRIC_TIME, MOVIE, MOVIE_TITLE, Catalog
from api.semantic.query import MetricQuery

logger = logging.getLogger(__name__)

FieldType = Literal["quantitative", "temporal", "ordinal", "nominal"]
# What the page offers, and the Vega-Lite mark each is drawn with.
MARKS = {"bar": "bar", "line": "line", "scatter": "point", "histogram": "bar", "pie": "arc"}
CHANNELS = frozenset({"x", "y", "color", "theta", "tooltip"})
TOP_LEVEL = frozenset(
    {"title", "data", "mark", "encoding", "width", "height", "autosize", "config", "description"}
)
TIME_UNITS = {
    "day": ("utcyearmonthdate", "%Y-%m-%d"),
    "week": ("utcyearweek", "%Y week %U"),
    "month": ("utcyearmonth", "%b %Y"),
    "quarter": ("utcyearquarter", "%Y Q%q"),
    "year": ("utcyear", "%Y"),
}
NUMBER_FORMAT = ",.12~g"  # the exact figure, thousands separated (tooltips)
DATA_NAME = "rows"  # a spec without its values: the page puts the rows in
MAX_BARS = 60


class InvalidVegaLite(ValueError):
    """A spec outside the subset this module writes."""


@dataclass(frozen=True)
class Column:
    name: str
    type: FieldType
    title: str
    time_unit: str | None = None  # a temporal column's grain, as a UTC time unit
    time_format: str | None = None


def columns_of_query(
    query: MetricQuery, catalog: Catalog, columns: Sequence[str]
) -> dict[str, Column]:
    """Each column of a metric query's result, typed by the semantic layer."""
    out: dict[str, Column] = {}
    for name in columns:
        if name in catalog.metrics:
            out[name] = Column(name, "quantitative", catalog.metrics[name].label)
            continue
        head, _, grain = name.rpartition("__")
        if name.startswith(METRIC_TIME) and grain in TIME_UNITS:
            unit, fmt = TIME_UNITS[grain]
            out[name] = Column(name, "temporal", f"Release {grain}", unit, fmt)
            continue
        info = catalog.dimensions.get(name) or catalog.dimensions.get(head)
        if info is None:
            out[name] = Column(name, "nominal", name)
        elif info.type == "time":
            unit, fmt = TIME_UNITS[grain if grain in TIME_UNITS else "day"]
            out[name] = Column(name, "temporal", info.label, unit, fmt)
        elif info.unit and info.unit != "year":
            out[name] = Column(name, "quantitative", info.label)  # a movie's figure
        elif info.calendar or info.unit == "year":
            out[name] = Column(name, "ordinal", info.label)  # decade, month of year, year
        else:
            out[name] = Column(name, "nominal", info.label if name != MOVIE else "Movie")
    return out


def columns_of_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, Column]:
    """Each column typed by its values (SQL answers)."""
    kinds = column_kinds(list(columns), [list(r) for r in rows])
    typed = {"numeric": "quantitative", "temporal": "temporal"}
    out: dict[str, Column] = {}
    for name in columns:
        kind = typed.get(kinds.get(name, "text"), "nominal")
        unit, fmt = TIME_UNITS["day"] if kind == "temporal" else (None, None)
        out[name] = Column(name, kind, name.replace("_", " "), unit, fmt)  # type: ignore[arg-type]
    return out


def build(
    chart: str,
    columns: dict[str, Column],
    *,
    x: str | None = None,
    y: str | None = None,
    title: str | None = None,
    rows: Sequence[Sequence[Any]] | None = None,
) -> dict[str, Any] | None:
    """A validated spec of `chart` over `columns` (x and y chosen when not given), with the
    rows inline, or a named data set the page fills when `rows` is None; None when this
    result cannot be drawn that way."""
    if chart not in MARKS:
        return None
    names = list(columns)
    measures = [n for n in names if columns[n].type == "quantitative"]
    keys = [n for n in names if columns[n].type != "quantitative"]
    if MOVIE in columns:  # a list of movies: drawn by title, one mark per film
        keys = [k for k in keys if k == MOVIE_TITLE] or keys
    temporal = [n for n in keys if columns[n].type in ("temporal", "ordinal")]
    y = y if y in columns else (measures[-1] if measures else None)
    if chart == "line":
        x = x if x in columns and x != y else (temporal or keys or [None])[0]
    elif chart == "scatter":
        x = x if x in columns and x != y else next((m for m in measures if m != y), None)
    else:
        x = x if x in columns and x != y else (keys or [None])[0]
    if y is None or (x is None and chart != "histogram"):
        return None
    other = [k for k in keys if k != x]
    color = other[0] if len(other) == 1 and chart in ("bar", "line", "scatter") else None
    encoding = _encoding(chart, columns, x, y, color)
    spec: dict[str, Any] = {
        "title": title or f"{columns[y].title} by {columns[x].title if x else ''}".strip(),
        "data": (
            {"values": [dict(zip(names, row, strict=False)) for row in rows]}
            if rows is not None
            else {"name": DATA_NAME}
        ),
        "mark": {"type": MARKS[chart], "tooltip": True}
        | ({"point": True} if chart == "line" else {}),
        "encoding": encoding,
        "width": "container",
        "height": 320,
        "autosize": {"type": "fit", "contains": "padding"},
    }
    try:
        validate(spec, columns)
    except InvalidVegaLite:
        logger.warning("a chart spec failed its own validation", exc_info=True)
        return None
    return spec


def _field(column: Column, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"field": column.name, "type": column.type, "title": column.title}
    if column.type == "temporal" and column.time_unit:
        out["timeUnit"] = column.time_unit
    return out | extra


def _tooltip(column: Column) -> dict[str, Any]:
    if column.type == "quantitative":
        return _field(column, format=NUMBER_FORMAT)
    if column.type == "temporal":
        return _field(column, format=column.time_format or "%Y-%m-%d")
    return _field(column)


def _encoding(
    chart: str, columns: dict[str, Column], x: str | None, y: str, color: str | None
) -> dict[str, Any]:
    tooltip = [_tooltip(columns[n]) for n in (x, color, y) if n is not None]
    quantity = _field(columns[y])
    if chart == "pie":
        return {
            "theta": _field(columns[y]),
            "color": _field(columns[x], sort={"field": y, "order": "descending"}),
            "tooltip": tooltip,
        }
    if chart == "histogram":
        return {
            "x": _field(columns[y], bin={"maxbins": 30}),
            "y": {"aggregate": "count", "type": "quantitative", "title": "Count"},
            "tooltip": [{"aggregate": "count", "type": "quantitative", "title": "Count"}],
        }
    assert x is not None
    key = columns[x]
    if chart == "bar" and key.type == "nominal":
        across = _field(key, sort="-y", axis={"labelAngle": -40, "labelLimit": 140})
    elif key.type == "temporal":
        across = _field(key, axis={"format": key.time_format})
    else:
        across = _field(key)
    out: dict[str, Any] = {"x": across, "y": quantity, "tooltip": tooltip}
    if color is not None:
        out["color"] = _field(columns[color])
    return out


def validate(spec: dict[str, Any], columns: dict[str, Column]) -> None:
    """The spec is in the subset this module writes: known top-level keys, an allowlisted mark,
    inline or named data, encodings on our channels, each field a column typed as it is."""
    unknown = set(spec) - TOP_LEVEL
    if unknown:
        raise InvalidVegaLite(f"unexpected keys {sorted(unknown)}")
    mark = spec.get("mark")
    mark_type = mark.get("type") if isinstance(mark, dict) else mark
    if mark_type not in set(MARKS.values()):
        raise InvalidVegaLite(f"mark {mark_type!r} is not allowed")
    data = spec.get("data")
    if not isinstance(data, dict) or set(data) not in ({"values"}, {"name"}):
        raise InvalidVegaLite("data must be inline values or the page's named rows")
    if "values" in data and not (
        isinstance(data["values"], list) and all(isinstance(v, dict) for v in data["values"])
    ):
        raise InvalidVegaLite("inline data must be a list of rows")
    encoding = spec.get("encoding")
    if not isinstance(encoding, dict) or not encoding:
        raise InvalidVegaLite("a spec needs an encoding")
    for channel, definition in encoding.items():
        if channel not in CHANNELS:
            raise InvalidVegaLite(f"channel {channel!r} is not allowed")
        for one in definition if isinstance(definition, list) else [definition]:
            _check_field(channel, one, columns)


def _check_field(channel: str, definition: Any, columns: dict[str, Column]) -> None:
    if not isinstance(definition, dict):
        raise InvalidVegaLite(f"{channel}: not a field definition")
    if "field" not in definition:
        if definition.get("aggregate") != "count":
            raise InvalidVegaLite(f"{channel}: a field or a count is required")
        return
    name = definition["field"]
    if name not in columns:
        raise InvalidVegaLite(f"{channel}: {name!r} is not a column of the result")
    declared = definition.get("type")
    actual = columns[name].type
    if declared != actual:
        raise InvalidVegaLite(f"{channel}: {name!r} is {actual}, not {declared}")
    unit = definition.get("timeUnit")
    if unit is not None and unit not in {u for u, _ in TIME_UNITS.values()}:
        raise InvalidVegaLite(f"{channel}: time unit {unit!r} is not allowed")


def for_answer(
    chart: str,
    x: str | None,
    y: str | None,
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    metric_query: dict[str, Any] | None,
    catalog: Catalog | None,
) -> dict[str, Any] | None:
    """The spec of an `/ask` answer's chart, rows inline; typed by the semantic layer when the
    answer is a metric query whose columns it names, else by the values."""
    typed = None
    if metric_query and catalog is not None:
        try:
            query = MetricQuery.model_validate(metric_query)
            typed = columns_of_query(query, catalog, columns)
        except ValueError:
            typed = None
    if typed is None or any(c.type == "nominal" and c.title == c.name for c in typed.values()):
        typed = columns_of_rows(columns, rows)
    return build(chart, typed, x=x, y=y, title=title, rows=rows)
