"""Charts for query answers, drawn by our own code from a small declarative spec.

Why it works this way:

* The language model may *suggest* a chart, but only as data (a ``ChartSpec``: a chart type and
  two column names). We never run plotting code written by a model: model output is untrusted
  text, and executing it inside the API process would hand whoever writes the question (prompt
  injection included) arbitrary code execution. A spec is just a choice among a few charts that
  this module knows how to draw safely.
* A suggestion is checked against the *actual* query result, not against what the model thought
  the SQL would return: the columns must exist and hold the kind of values the chart needs (a bar
  height must be numeric, a pie cannot have negative slices or thirty of them, ...). Anything
  missing, wrong or absurd is discarded and we fall back to a chart chosen from the data alone,
  or to no chart when nothing is plottable.
* Rendering uses matplotlib's object API (``Figure`` + ``FigureCanvasAgg``), never ``pyplot``:
  pyplot keeps global state (current figure, backend) that is not safe to share between the
  threads of a web server. Each call builds and discards its own figure. matplotlib is imported
  by the first drawing, not with this module, so the API starts without waiting for it.
"""

from __future__ import annotations

import logging
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

if TYPE_CHECKING:
    from matplotlib.figure import Figure

logger = logging.getLogger(__name__)

# The charts this module can draw: the one definition (the LLM's suggestion and the API's
# response use it too).
ChartType = Literal["bar", "line", "scatter", "histogram", "pie"]
ColumnKind = Literal["numeric", "temporal", "text", "empty"]

TITLE_MAX = 120
MAX_BARS = 25
MAX_PIE_SLICES = 12
LABEL_MAX = 30
FIGSIZE = (8.0, 4.5)
DPI = 100

_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?$"
)
_YEAR_LIKE_NAME = re.compile(r"year|decade", re.IGNORECASE)
_ID_LIKE_NAME = re.compile(r"(^|_)id$", re.IGNORECASE)


def _clean_title(value: str) -> str | None:
    text = " ".join(value.split())
    if not text:
        return None
    if len(text) > TITLE_MAX:
        text = text[: TITLE_MAX - 1].rstrip() + "…"
    return text


class ChartSpec(BaseModel):
    """What to draw: a chart type and the columns for its axes (``y`` unused by histograms)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: ChartType
    x: str | None = None
    y: str | None = None
    title: str | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _normalise_type(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("x", "y", mode="before")
    @classmethod
    def _normalise_column(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("title", mode="before")
    @classmethod
    def _normalise_title(cls, value: Any) -> str | None:
        # A junk title should not cost us an otherwise good chart: drop it instead of failing.
        return _clean_title(value) if isinstance(value, str) else None


# --- value coercion -------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool)


def _is_temporal(value: Any) -> bool:
    if isinstance(value, date):  # datetime is a subclass of date
        return True
    return isinstance(value, str) and _parse_iso(value) is not None


def _parse_iso(text: str) -> datetime | None:
    text = text.strip()
    if not _ISO_DATE.match(text):
        return None
    try:
        if len(text) == 7:  # YYYY-MM
            return datetime(int(text[:4]), int(text[5:7]), 1)
        return _naive(datetime.fromisoformat(text))
    except ValueError:
        return None


def _naive(value: datetime) -> datetime:
    if value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def _as_number(value: Any) -> float | None:
    """A finite float for numbers, Decimals and numeric strings ("1,234.5"); else None."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if _is_number(value):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip().replace(",", "").replace("_", ""))
        else:
            return None
    except (ValueError, TypeError, OverflowError, ArithmeticError):
        return None
    return number if math.isfinite(number) else None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return _naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return _parse_iso(value)
    return None


def _label(value: Any) -> str:
    if isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    elif isinstance(value, date):
        text = value.isoformat()
    elif _is_number(value):
        number = _as_number(value)
        text = str(int(number)) if number is not None and number.is_integer() else str(value)
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def _cell(row: Any, index: int) -> Any:
    try:
        return row[index]
    except (IndexError, KeyError, TypeError):
        return None


# --- column analysis ------------------------------------------------------------------------


def column_kinds(columns: list[str], rows: list[list[Any]]) -> dict[str, ColumnKind]:
    """The kind of each column, judged from its non-null values.

    int/float/Decimal → numeric; date/datetime or ISO-8601 date strings → temporal; bool and
    everything else → text (a column mixing kinds is text); only nulls → empty.
    """
    kinds: dict[str, ColumnKind] = {}
    for index, name in enumerate(columns):
        if name in kinds:  # duplicated column name: the first one wins, as in lookups
            continue
        numeric = temporal = True
        seen = False
        for row in rows:
            value = _cell(row, index)
            if value is None:
                continue
            seen = True
            numeric = numeric and _is_number(value)
            temporal = temporal and not numeric and _is_temporal(value)
            if not numeric and not temporal:
                break
        if not seen:
            kinds[name] = "empty"
        elif numeric:
            kinds[name] = "numeric"
        elif temporal:
            kinds[name] = "temporal"
        else:
            kinds[name] = "text"
    return kinds


def _column_index(name: str | None, columns: Sequence[str]) -> int | None:
    """Exact name first, else a unique case-insensitive match."""
    if name is None:
        return None
    for index, column in enumerate(columns):
        if column == name:
            return index
    folded = name.casefold()
    matches = {column for column in columns if str(column).casefold() == folded}
    if len(matches) != 1:
        return None
    return list(columns).index(matches.pop())


def _pairs(
    columns: Sequence[str], rows: Sequence[Any], x: str | None, y: str | None
) -> list[tuple[Any, Any]]:
    """(x, y) raw values of the rows where both are present."""
    xi, yi = _column_index(x, columns), _column_index(y, columns)
    if xi is None or yi is None:
        return []
    pairs = []
    for row in rows:
        xv, yv = _cell(row, xi), _cell(row, yi)
        if xv is not None and yv is not None:
            pairs.append((xv, yv))
    return pairs


# --- validation and choice ------------------------------------------------------------------


def validate_spec(
    suggestion: dict | ChartSpec | None, columns: list[str], rows: list[list[Any]]
) -> ChartSpec | None:
    """The suggestion, with canonical column names, if it fits this result; else None.

    Never raises: anything that is not a well-formed, sensible spec for these rows is None.
    """
    try:
        return _validate(suggestion, list(columns), list(rows))
    except Exception:  # untrusted input must never break the answer
        logger.warning("chart suggestion rejected by an unexpected error", exc_info=True)
        return None


def _validate(suggestion: Any, columns: list[str], rows: list[Any]) -> ChartSpec | None:
    if isinstance(suggestion, ChartSpec):
        spec = suggestion
    elif isinstance(suggestion, dict):
        try:
            spec = ChartSpec.model_validate(suggestion)
        except ValidationError:
            return None
    else:
        return None

    xi = _column_index(spec.x, columns)
    if xi is None:
        return None
    x = columns[xi]
    if spec.type == "histogram":
        y = None
    else:
        yi = _column_index(spec.y, columns)
        if yi is None or yi == xi:
            return None
        y = columns[yi]

    kinds = column_kinds(columns, rows)
    x_kind = kinds[x]
    y_kind = kinds.get(y) if y is not None else None

    if spec.type == "histogram":
        ok = x_kind == "numeric"
    elif spec.type == "bar":
        ok = x_kind != "empty" and y_kind == "numeric"
    elif spec.type == "line":
        ok = x_kind in ("temporal", "numeric") and y_kind == "numeric"
    elif spec.type == "scatter":
        ok = x_kind == "numeric" and y_kind == "numeric"
    else:  # pie
        ok = x_kind == "text" and y_kind == "numeric"
    if not ok:
        return None

    if spec.type == "histogram":
        if not any(_cell(row, xi) is not None for row in rows):
            return None
    else:
        pairs = _pairs(columns, rows, x, y)
        if not pairs:
            return None
        if spec.type == "pie":
            values = [_as_number(value) for _, value in pairs]
            if len(pairs) > MAX_PIE_SLICES or any(v is None or v < 0 for v in values):
                return None
            if not sum(v for v in values if v is not None) > 0:
                return None
    return spec.model_copy(update={"x": x, "y": y})


def choose_spec(
    columns: list[str], rows: list[list[Any]], question: str | None = None
) -> ChartSpec | None:
    """A sensible chart from the data alone, or None when nothing is worth plotting.

    temporal + numeric → line; a year-like numeric ("release_year") + numeric → line;
    text + numeric → bar; two numerics → scatter; one numeric with several values → histogram.
    Pie is never chosen automatically. Id-like numeric columns are the last choice for a measure.
    """
    try:
        columns, rows = list(columns), list(rows)
        title = _clean_title(question) if isinstance(question, str) else None
        for candidate in _candidates(columns, rows, question):
            spec = _validate({**candidate, "title": title}, columns, rows)
            if spec is not None:
                return spec
    except Exception:
        logger.warning("could not choose a chart", exc_info=True)
    return None


def _asked_about(column: str, question: str | None) -> bool:
    """Does the question name this column ("success rate" ~ success_rate)?"""
    if not question:
        return False
    words = [w for w in re.split(r"[_\W]+", column.lower()) if len(w) > 2]
    text = question.lower()
    return bool(words) and all(w.rstrip("s") in text for w in words)


def _candidates(
    columns: list[str], rows: list[Any], question: str | None = None
) -> list[dict[str, Any]]:
    if not rows:
        return []
    kinds = column_kinds(columns, rows)
    names = list(kinds)
    temporal = [c for c in names if kinds[c] == "temporal"]
    text = [c for c in names if kinds[c] == "text"]
    numeric = [c for c in names if kinds[c] == "numeric"]
    # Measures: what the question names first, then the last-computed quantity (aggregates
    # usually come last), identifiers and years last of all.
    measures = sorted(
        numeric,
        key=lambda c: (
            bool(_ID_LIKE_NAME.search(c)),
            bool(_YEAR_LIKE_NAME.search(c)),
            not _asked_about(c, question),
            -numeric.index(c),
        ),
    )
    year_like = [c for c in numeric if _YEAR_LIKE_NAME.search(c) and _integral(columns, rows, c)]

    candidates: list[dict[str, Any]] = []
    for x in temporal:
        candidates += [{"type": "line", "x": x, "y": y} for y in measures]
    for x in year_like:
        candidates += [{"type": "line", "x": x, "y": y} for y in measures if y not in year_like]
    for x in text:
        candidates += [{"type": "bar", "x": x, "y": y} for y in measures]
    if len(numeric) >= 2:
        candidates.append({"type": "scatter", "x": numeric[0], "y": measures[0]})
        candidates.append({"type": "scatter", "x": numeric[0], "y": numeric[1]})
    for x in measures:
        index = _column_index(x, columns)
        present = sum(1 for row in rows if _cell(row, index) is not None)
        if present >= 2:  # a single number is an answer, not a distribution
            candidates.append({"type": "histogram", "x": x})
    return candidates


def _integral(columns: list[str], rows: list[Any], name: str) -> bool:
    index = _column_index(name, columns)
    values = [_as_number(_cell(row, index)) for row in rows]
    return all(v is None or v.is_integer() for v in values)


def resolve_spec(
    suggestion: dict | ChartSpec | None,
    columns: list[str],
    rows: list[list[Any]],
    question: str | None = None,
) -> ChartSpec | None:
    """The suggestion if valid for this data, else a chart chosen from the data, else None."""
    spec = validate_spec(suggestion, columns, rows)
    if spec is None:
        return choose_spec(columns, rows, question)
    if spec.title is None and isinstance(question, str):
        spec = spec.model_copy(update={"title": _clean_title(question)})
    return spec


# --- rendering ------------------------------------------------------------------------------


def _format_number(value: float, _position: Any = None) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.6g}"


def _format_plain(value: float, _position: Any = None) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.6g}"


@dataclass(frozen=True)
class DrawnChart:
    """A chart as PNG bytes and the title drawn on it.

    The title is decided while drawing (a capped bar or pie chart says "top 25 of 40"), so it
    is handed back with the image: whoever describes the chart repeats it word for word.
    """

    title: str
    png: bytes


def base_title(spec: ChartSpec) -> str:
    """The spec's own title, else one named after its columns."""
    if spec.title:
        return spec.title
    if spec.type == "histogram":
        return f"Distribution of {spec.x or ''}"
    return f"{spec.y or ''} by {spec.x or ''}"


def draw(spec: ChartSpec, columns: list[str], rows: list[list[Any]]) -> DrawnChart:
    """Draw the chart. Odd values are skipped; nothing left → an empty chart; a drawing bug →
    a placeholder under the same title, never an error."""
    try:
        return _render(spec, list(columns), list(rows))
    except Exception:
        logger.exception("chart rendering failed; returning a placeholder")
        figure, axes = _new_figure()
        _no_data(axes, "chart unavailable")
        title = base_title(spec)
        axes.set_title(title)
        return DrawnChart(title, _png(figure))


def render_png(spec: ChartSpec, columns: list[str], rows: list[list[Any]]) -> bytes:
    """The chart's PNG bytes alone (see `draw`)."""
    return draw(spec, columns, rows).png


def _new_figure() -> tuple[Figure, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _png(figure: Figure) -> bytes:
    buffer = BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _no_data(axes: Any, note: str = "no data") -> None:
    axes.text(
        0.5, 0.5, note, transform=axes.transAxes, ha="center", va="center", color="gray", size=14
    )
    axes.set_xticks([])
    axes.set_yticks([])


def _render(spec: ChartSpec, columns: list[str], rows: list[Any]) -> DrawnChart:
    figure, axes = _new_figure()
    drawer = {
        "bar": _draw_bar,
        "line": _draw_line,
        "scatter": _draw_scatter,
        "histogram": _draw_histogram,
        "pie": _draw_pie,
    }[spec.type]
    # Each drawer returns the title it drew under (with a "top N of M" note when it capped).
    title = drawer(axes, spec, columns, rows, base_title(spec))
    axes.set_title(title)
    return DrawnChart(title, _png(figure))


def _numeric_pairs(spec: ChartSpec, columns: list[str], rows: list[Any]) -> list[tuple[Any, float]]:
    pairs = []
    for xv, yv in _pairs(columns, rows, spec.x, spec.y):
        number = _as_number(yv)
        if number is not None:
            pairs.append((xv, number))
    return pairs


def _draw_bar(axes: Any, spec: ChartSpec, columns: list[str], rows: list[Any], title: str) -> str:
    from matplotlib.ticker import FuncFormatter

    pairs = _numeric_pairs(spec, columns, rows)
    axes.set_xlabel(spec.x)
    axes.set_ylabel(spec.y)
    if not pairs:
        _no_data(axes)
        return title
    if len(pairs) > MAX_BARS:
        total = len(pairs)
        pairs = sorted(pairs, key=lambda pair: pair[1], reverse=True)[:MAX_BARS]
        title = f"{title} (top {MAX_BARS} of {total:,})"
    labels = [_label(xv) for xv, _ in pairs]
    positions = list(range(len(pairs)))
    # Integer positions keep duplicate labels (two films with one title) as separate bars.
    axes.bar(positions, [value for _, value in pairs], color="#4C72B0")
    if len(labels) > 8 or max(len(label) for label in labels) > 8:
        axes.set_xticks(positions, labels, rotation=45, ha="right", rotation_mode="anchor")
    else:
        axes.set_xticks(positions, labels)
    axes.yaxis.set_major_formatter(FuncFormatter(_format_number))
    axes.grid(axis="y", alpha=0.3)
    return title


def _draw_line(axes: Any, spec: ChartSpec, columns: list[str], rows: list[Any], title: str) -> str:
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.ticker import FuncFormatter

    kinds = column_kinds(columns, rows)
    temporal = kinds.get(spec.x or "") == "temporal"
    convert = _as_datetime if temporal else _as_number
    points = []
    for xv, yv in _numeric_pairs(spec, columns, rows):
        converted = convert(xv)
        if converted is not None:
            points.append((converted, yv))
    axes.set_xlabel(spec.x)
    axes.set_ylabel(spec.y)
    if not points:
        _no_data(axes)
        return title
    points.sort(key=lambda point: point[0])
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    axes.plot(xs, ys, marker="o" if len(points) <= 60 else None, color="#4C72B0")
    if temporal:
        locator = AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    else:
        _format_numeric_x(axes, xs)
    axes.yaxis.set_major_formatter(FuncFormatter(_format_number))
    axes.grid(alpha=0.3)
    return title


def _format_numeric_x(axes: Any, xs: list[float]) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    integral = all(v.is_integer() for v in xs)
    # Few ticks: "12,000,000"-wide labels would otherwise run into each other.
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=integral))
    if integral and all(1000 <= v <= 2999 for v in xs):  # years: no "2,020"
        axes.xaxis.set_major_formatter(FuncFormatter(_format_plain))
    else:
        axes.xaxis.set_major_formatter(FuncFormatter(_format_number))


def _draw_scatter(
    axes: Any, spec: ChartSpec, columns: list[str], rows: list[Any], title: str
) -> str:
    from matplotlib.ticker import FuncFormatter

    points = []
    for xv, yv in _numeric_pairs(spec, columns, rows):
        number = _as_number(xv)
        if number is not None:
            points.append((number, yv))
    axes.set_xlabel(spec.x)
    axes.set_ylabel(spec.y)
    if not points:
        _no_data(axes)
        return title
    axes.scatter(
        [p[0] for p in points],
        [p[1] for p in points],
        s=18 if len(points) > 200 else 30,
        alpha=0.5 if len(points) > 100 else 0.85,
        color="#4C72B0",
    )
    _format_numeric_x(axes, [p[0] for p in points])
    axes.yaxis.set_major_formatter(FuncFormatter(_format_number))
    axes.grid(alpha=0.3)
    return title


def _draw_histogram(
    axes: Any, spec: ChartSpec, columns: list[str], rows: list[Any], title: str
) -> str:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    index = _column_index(spec.x, columns)
    values = []
    if index is not None:
        for row in rows:
            number = _as_number(_cell(row, index))
            if number is not None:
                values.append(number)
    axes.set_xlabel(spec.x)
    axes.set_ylabel("count")
    if not values:
        _no_data(axes)
        return title
    bins = min(30, max(5, round(math.sqrt(len(values)))))
    axes.hist(values, bins=bins, color="#4C72B0", edgecolor="white")
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6))
    axes.xaxis.set_major_formatter(FuncFormatter(_format_number))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(_format_number))
    axes.grid(axis="y", alpha=0.3)
    return title


def _draw_pie(axes: Any, spec: ChartSpec, columns: list[str], rows: list[Any], title: str) -> str:
    slices = [(_label(xv), value) for xv, value in _numeric_pairs(spec, columns, rows) if value > 0]
    if len(slices) > MAX_PIE_SLICES:
        total = len(slices)
        slices = sorted(slices, key=lambda pair: pair[1], reverse=True)[:MAX_PIE_SLICES]
        title = f"{title} (top {MAX_PIE_SLICES} of {total:,})"
    if not slices:
        axes.set_xlabel(spec.x)
        axes.set_ylabel(spec.y)
        _no_data(axes)
        return title
    axes.pie(
        [value for _, value in slices],
        labels=[label for label, _ in slices],
        autopct="%1.0f%%",
        startangle=90,
        counterclock=False,
        textprops={"size": 9},
    )
    axes.set_aspect("equal")
    return title
