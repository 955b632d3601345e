"""Charts come from a validated spec, never from model code: bad suggestions fall back to a chart
chosen from the data, and rendering copes with odd values and concurrent requests."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO

import pytest
from PIL import Image

from api.charts import (
    ChartSpec,
    choose_spec,
    column_kinds,
    draw,
    render_png,
    resolve_spec,
    validate_spec,
)

GENRES = ["genre", "revenue"]
GENRE_ROWS = [["Drama", 120_000_000], ["Comedy", 80_500_000], ["Horror", 30_000_000]]
MONTHLY = ["month", "films"]
MONTHLY_ROWS = [[date(2020, m, 1), 10 + m] for m in range(1, 13)]
MOVIES = ["title", "budget", "revenue", "rating"]
MOVIE_ROWS = [
    [f"Film {i}", 1_000_000 * (i + 1), 2_500_000 * (i + 1) - 400_000 * i, 5 + (i % 5) / 2]
    for i in range(40)
]


@pytest.fixture(autouse=True)
def _renderer_never_falls_back_to_placeholder(caplog: pytest.LogCaptureFixture):
    """Every case here must be drawn for real, not rescued by the catch-all placeholder."""
    with caplog.at_level(logging.WARNING, logger="api.charts"):
        yield
    assert not [r for r in caplog.records if r.name == "api.charts"]


def assert_png(data: bytes) -> Image.Image:
    assert data[:4] == b"\x89PNG"
    image = Image.open(BytesIO(data))
    image.load()
    assert image.width > 0 and image.height > 0
    return image


# --- kinds ----------------------------------------------------------------------------------


def test_column_kinds_from_values():
    columns = ["n", "f", "d", "when", "iso", "iso_ts", "word", "flag", "nothing", "mixed"]
    rows = [
        [1, 1.5, Decimal("2.50"), date(2020, 1, 1), "2020-01-31", "2021-03-04T05:06:07Z",
         "Drama", True, None, 1],
        [None, 2.0, Decimal("3"), datetime(2020, 2, 1, 12), "2020-02-29", "2021-03-04 05:06",
         "Comedy", False, None, "one"],
    ]  # fmt: skip
    assert column_kinds(columns, rows) == {
        "n": "numeric",
        "f": "numeric",
        "d": "numeric",
        "when": "temporal",
        "iso": "temporal",
        "iso_ts": "temporal",
        "word": "text",
        "flag": "text",
        "nothing": "empty",
        "mixed": "text",
    }


def test_column_kinds_edge_cases():
    assert column_kinds(["a", "b"], []) == {"a": "empty", "b": "empty"}
    # Not real dates, and numbers written as strings, stay text.
    assert column_kinds(["bad_date", "num_str"], [["2020-13-45", "12"]]) == {
        "bad_date": "text",
        "num_str": "text",
    }
    # Short rows read as nulls rather than failing.
    assert column_kinds(["a", "b"], [[1], [2, 3]]) == {"a": "numeric", "b": "numeric"}


# --- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suggestion", "columns", "rows"),
    [
        ({"type": "bar", "x": "genre", "y": "revenue"}, GENRES, GENRE_ROWS),
        ({"type": "line", "x": "month", "y": "films"}, MONTHLY, MONTHLY_ROWS),
        ({"type": "line", "x": "budget", "y": "revenue"}, MOVIES, MOVIE_ROWS),
        ({"type": "scatter", "x": "budget", "y": "revenue"}, MOVIES, MOVIE_ROWS),
        ({"type": "histogram", "x": "rating"}, MOVIES, MOVIE_ROWS),
        ({"type": "pie", "x": "genre", "y": "revenue"}, GENRES, GENRE_ROWS),
    ],
)
def test_each_chart_type_valid_and_rendered(suggestion, columns, rows):
    spec = validate_spec(suggestion, columns, rows)
    assert spec is not None
    assert spec.type == suggestion["type"]
    assert spec.x == suggestion["x"]
    image = assert_png(render_png(spec, columns, rows))
    assert (image.width, image.height) == (800, 450)


def test_validate_accepts_case_insensitive_unique_match_and_normalises():
    spec = validate_spec(
        {"type": " BAR ", "x": "GENRE", "y": "Revenue", "title": "  Revenue   per genre ",
         "reason": "extra keys are ignored"},
        GENRES,
        GENRE_ROWS,
    )  # fmt: skip
    assert spec == ChartSpec(type="bar", x="genre", y="revenue", title="Revenue per genre")
    # An exact name wins over case-insensitive ones; an ambiguous case-insensitive match fails.
    columns, rows = ["name", "Name", "n"], [["a", "b", 1]]
    exact = validate_spec({"type": "bar", "x": "Name", "y": "n"}, columns, rows)
    assert exact is not None and exact.x == "Name"
    assert validate_spec({"type": "bar", "x": "NAME", "y": "n"}, columns, rows) is None


def test_validate_accepts_chart_spec_and_trims_long_title():
    spec = ChartSpec(type="histogram", x="rating", y="budget", title="t" * 500)
    assert spec.title is not None and len(spec.title) == 120
    validated = validate_spec(spec, MOVIES, MOVIE_ROWS)
    assert validated is not None and validated.y is None  # y ignored by histograms
    assert ChartSpec(type="bar", x="a", y="b", title="   ").title is None
    assert ChartSpec.model_validate({"type": "bar", "x": "a", "title": 42}).title is None


@pytest.mark.parametrize(
    ("suggestion", "columns", "rows"),
    [
        ({"type": "bar", "x": "genre", "y": "profit"}, GENRES, GENRE_ROWS),  # unknown column
        ({"type": "bar", "x": "revenue", "y": "genre"}, GENRES, GENRE_ROWS),  # text y
        ({"type": "line", "x": "genre", "y": "revenue"}, GENRES, GENRE_ROWS),  # text x for line
        ({"type": "scatter", "x": "title", "y": "revenue"}, MOVIES, MOVIE_ROWS),
        ({"type": "histogram", "x": "genre"}, GENRES, GENRE_ROWS),  # histogram on text
        (
            {"type": "pie", "x": "genre", "y": "profit"},
            ["genre", "profit"],
            [["Drama", 10], ["Horror", -5]],
        ),  # negative slice
        (
            {"type": "pie", "x": "genre", "y": "n"},
            ["genre", "n"],
            [[f"g{i}", i + 1] for i in range(30)],
        ),  # 30 slices
        ({"type": "pie", "x": "genre", "y": "n"}, ["genre", "n"], [["a", 0], ["b", 0]]),
        ({"type": "pie", "x": "revenue", "y": "revenue"}, GENRES, GENRE_ROWS),
        ({"type": "scatter", "x": "budget", "y": "budget"}, MOVIES, MOVIE_ROWS),  # x == y
        ({"type": "bar", "x": "genre"}, GENRES, GENRE_ROWS),  # missing y
        ({"type": "bar", "x": "genre", "y": "revenue"}, GENRES, []),  # no rows
        (
            {"type": "bar", "x": "genre", "y": "revenue"},
            GENRES,
            [["Drama", None], [None, 3]],
        ),  # nothing to plot
        ({"type": "donut", "x": "genre", "y": "revenue"}, GENRES, GENRE_ROWS),
        ({"type": ["bar"], "x": {"a": 1}, "y": 3}, GENRES, GENRE_ROWS),  # garbage values
        ({"chart": "please draw something nice"}, GENRES, GENRE_ROWS),  # garbage dict
        ({}, GENRES, GENRE_ROWS),
        (None, GENRES, GENRE_ROWS),
        ("bar chart of revenue", GENRES, GENRE_ROWS),
        (["bar", "genre", "revenue"], GENRES, GENRE_ROWS),
    ],
)
def test_invalid_suggestions_are_rejected_and_fall_back(suggestion, columns, rows):
    assert validate_spec(suggestion, columns, rows) is None
    assert resolve_spec(suggestion, columns, rows) == choose_spec(columns, rows)


def test_resolve_prefers_a_valid_suggestion_and_titles_it_from_the_question():
    suggestion = {"type": "pie", "x": "genre", "y": "revenue"}
    spec = resolve_spec(suggestion, GENRES, GENRE_ROWS, question="Revenue share by genre?")
    assert spec == ChartSpec(type="pie", x="genre", y="revenue", title="Revenue share by genre?")
    fallback = resolve_spec({"type": "pie", "x": "nope"}, GENRES, GENRE_ROWS, "Top genres")
    assert fallback == ChartSpec(type="bar", x="genre", y="revenue", title="Top genres")


# --- automatic choice -----------------------------------------------------------------------


def test_choose_line_for_date_and_number():
    spec = choose_spec(MONTHLY, MONTHLY_ROWS, question="Films per month in 2020")
    assert spec == ChartSpec(type="line", x="month", y="films", title="Films per month in 2020")
    iso_rows = [[f"2020-{m:02d}-01", m] for m in range(1, 4)]
    assert choose_spec(MONTHLY, iso_rows).type == "line"


def test_choose_line_for_year_like_numbers():
    rows = [[1990 + i, i * 1_000_000] for i in range(10)]
    assert choose_spec(["release_year", "revenue"], rows) == ChartSpec(
        type="line", x="release_year", y="revenue"
    )


def test_choose_bar_for_text_and_number_and_never_pie():
    assert choose_spec(GENRES, GENRE_ROWS) == ChartSpec(type="bar", x="genre", y="revenue")
    # An identifier is the last choice of measure.
    rows = [["Drama", 7, 1_000], ["Comedy", 9, 2_000]]
    assert choose_spec(["genre", "genre_id", "films"], rows).y == "films"


def test_choose_scatter_for_two_numbers():
    rows = [[b, r] for _, b, r, _ in MOVIE_ROWS]
    assert choose_spec(["budget", "revenue"], rows) == ChartSpec(
        type="scatter", x="budget", y="revenue"
    )


def test_choose_histogram_for_one_number():
    rows = [[r] for *_, r in MOVIE_ROWS]
    assert choose_spec(["rating"], rows) == ChartSpec(type="histogram", x="rating")


@pytest.mark.parametrize(
    ("columns", "rows"),
    [
        (["title", "overview"], [["Alien", "In space"], ["Heat", "In LA"]]),  # text only
        (GENRES, []),  # no rows
        (["count"], [[42]]),  # a single number is an answer, not a chart
        (["a", "b"], [[None, None]]),
        ([], []),
    ],
)
def test_choose_nothing_when_nothing_is_plottable(columns, rows):
    assert choose_spec(columns, rows) is None
    assert resolve_spec({"type": "bar", "x": "title", "y": "overview"}, columns, rows) is None


def test_choose_title_is_trimmed():
    spec = choose_spec(GENRES, GENRE_ROWS, question="  why " * 100)
    assert spec is not None and spec.title is not None
    assert len(spec.title) <= 120 and not spec.title.startswith(" ")


# --- rendering odd data ---------------------------------------------------------------------


def test_render_skips_none_and_coerces_decimal_and_strings():
    rows = [["Drama", Decimal("1234567.89")], ["Comedy", None], [None, 5], ["Horror", Decimal(3)]]
    spec = validate_spec({"type": "bar", "x": "genre", "y": "revenue"}, GENRES, rows)
    assert spec is not None
    assert_png(render_png(spec, GENRES, rows))
    # Coercion in the renderer: numeric strings, "1,234" and junk in a column.
    messy = [["a", "1,234"], ["b", "12.5"], ["c", "n/a"], ["d", float("nan")]]
    assert_png(render_png(ChartSpec(type="bar", x="genre", y="revenue"), GENRES, messy))


def test_render_line_with_iso_date_strings_unsorted_and_mixed_timezones():
    rows = [
        ["2021-03-01", Decimal("3.5")],
        ["2020-01-15T10:00:00+02:00", 1],
        [datetime(2020, 6, 1, tzinfo=UTC), 2],
        [date(2019, 12, 31), None],
        ["2020-02", 4],
    ]
    spec = validate_spec({"type": "line", "x": "month", "y": "films"}, MONTHLY, rows)
    assert spec is not None
    assert_png(render_png(spec, MONTHLY, rows))


def test_render_caps_bars_and_handles_long_labels():
    columns = ["title", "votes"]
    rows = [[f"A very long movie title number {i} with a subtitle", i * 1_000] for i in range(200)]
    spec = choose_spec(columns, rows)
    assert spec == ChartSpec(type="bar", x="title", y="votes")
    image = assert_png(render_png(spec, columns, rows))
    assert (image.width, image.height) == (800, 450)


def test_render_histogram_of_identical_values_and_scatter_of_one_point():
    assert_png(render_png(ChartSpec(type="histogram", x="n"), ["n"], [[5], [5], [5]]))
    assert_png(render_png(ChartSpec(type="scatter", x="a", y="b"), ["a", "b"], [[1, 2]]))


@pytest.mark.parametrize("chart", ["bar", "line", "scatter", "histogram", "pie"])
def test_render_empty_after_dropping_none_draws_no_data(chart):
    rows = [[None, None], ["x", None], [None, 3]]
    assert_png(render_png(ChartSpec(type=chart, x="a", y="b"), ["a", "b"], rows))


def test_render_never_raises_on_a_spec_that_does_not_fit():
    spec = ChartSpec(type="pie", x="missing", y="also_missing")
    assert_png(render_png(spec, ["a"], [[1], [2]]))
    assert_png(render_png(ChartSpec(type="pie", x="g", y="n"), ["g", "n"], [["a", -1], ["b", 2]]))


def test_concurrent_rendering_is_thread_safe():
    jobs = []
    for i in range(20):
        kind = ["bar", "line", "scatter", "histogram", "pie"][i % 5]
        if kind in ("bar", "pie"):
            jobs.append((ChartSpec(type=kind, x="genre", y="revenue"), GENRES, GENRE_ROWS))
        elif kind == "line":
            jobs.append((ChartSpec(type="line", x="month", y="films"), MONTHLY, MONTHLY_ROWS))
        else:
            jobs.append((ChartSpec(type=kind, x="budget", y="revenue"), MOVIES, MOVIE_ROWS))
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda job: render_png(*job), jobs))
    assert len(results) == 20
    for data in results:
        assert_png(data)


def test_a_drawing_bug_yields_a_placeholder_not_an_error(monkeypatch, caplog):
    from api import charts

    def broken(*_args):
        raise RuntimeError("bug")

    monkeypatch.setattr(charts, "_draw_bar", broken)
    assert_png(render_png(ChartSpec(type="bar", x="genre", y="revenue"), GENRES, GENRE_ROWS))
    assert "chart rendering failed" in caplog.text
    caplog.clear()


def test_the_measure_named_in_the_question_is_drawn() -> None:
    columns = ["genre_name", "labelled_movies", "success_rate"]
    rows = [["Drama", 120, 0.41], ["Comedy", 90, 0.52]]
    asked = choose_spec(columns, rows, "What is the success rate by genre?")
    assert asked is not None and (asked.x, asked.y) == ("genre_name", "success_rate")
    counted = choose_spec(columns, rows, "How many labelled movies per genre?")
    assert counted is not None and counted.y == "labelled_movies"


@pytest.fixture
def drawn_titles(monkeypatch) -> list[str]:
    """Every title matplotlib is asked to draw, in order."""
    from matplotlib.axes import Axes

    titles: list[str] = []
    set_title = Axes.set_title

    def recording(self, label, *args, **kwargs):
        titles.append(label)
        return set_title(self, label, *args, **kwargs)

    monkeypatch.setattr(Axes, "set_title", recording)
    return titles


@pytest.mark.parametrize(
    ("spec", "columns", "rows", "title"),
    [
        (ChartSpec(type="histogram", x="rating"), MOVIES, MOVIE_ROWS, "Distribution of rating"),
        (
            ChartSpec(type="scatter", x="budget", y="revenue"),
            MOVIES,
            MOVIE_ROWS,
            "revenue by budget",
        ),
        (ChartSpec(type="bar", x="genre", y="revenue", title="Money"), GENRES, GENRE_ROWS, "Money"),
        (
            ChartSpec(type="bar", x="title", y="budget", title="Budgets"),
            MOVIES,
            MOVIE_ROWS,
            "Budgets (top 25 of 40)",
        ),
        (
            ChartSpec(type="pie", x="genre", y="n"),
            ["genre", "n"],
            [[f"g{i}", i + 1] for i in range(30)],
            "n by genre (top 12 of 30)",
        ),
    ],
)
def test_draw_returns_the_title_it_drew(spec, columns, rows, title, drawn_titles):
    drawn = draw(spec, columns, rows)
    assert_png(drawn.png)
    assert drawn.title == title and drawn_titles == [title]


def test_a_placeholder_keeps_the_title(monkeypatch, caplog, drawn_titles):
    from api import charts

    def broken(*_args):
        raise RuntimeError("bug")

    monkeypatch.setattr(charts, "_draw_histogram", broken)
    drawn = draw(ChartSpec(type="histogram", x="rating"), MOVIES, MOVIE_ROWS)
    assert_png(drawn.png)
    assert drawn.title == "Distribution of rating" and drawn_titles[-1] == drawn.title
    caplog.clear()
