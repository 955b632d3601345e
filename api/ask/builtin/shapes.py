"""The shapes the built-in engine composes: what a question asks for (`api.ask.shape`: a
figure, a figure per group, a list of movies, one movie's attributes…), read from its words and
what grounding found, and the queries of the shapes that need more than a metric per group —
a list or ranking of movies, one movie's attributes, a distinct count ("how many directors"), a
share ("what fraction of films are comedies"), a movie's figure ranked per group by its
aggregate. Every query is checked against the shape asked before it is answered: a query whose
rows have another shape is refused honestly, never answered."""

from __future__ import annotations

from api.ask.builtin import words as en
from api.ask.builtin.figures import figure_label
from api.ask.builtin.reading import (
    DEFAULT_TOP,
    Reading,
    Unanswerable,
    Understood,
    dimension_ref,
    kind_dimension,
    quote,
    suggest,
)
from api.ask.shape import Asked, Shape, ShapeMismatch, asked, check
from api.semantic.catalog import (
    METRIC_TIME,
    MOVIE,
    MOVIE_TITLE,
    MOVIE_YEAR,
    Catalog,
    DimensionInfo,
)
from api.semantic.query import MetricQuery


def shape_asked(
    r: Reading, question: str, titled: bool, calendar: dict[str, str], groups: frozenset[str]
) -> Asked:
    """The shape the question asks for (`api.ask.shape`), told what grounding found."""
    counts: dict[str, int] = {}
    for kind, _, _, _, (_, negated) in r.filters:
        if not negated:  # a director and an actor named side by side: people, either way
            key = kind_dimension("director" if kind == "person" else kind)
            counts[key] = counts.get(key, 0) + 1
    if r.year_set:
        counts[METRIC_TIME] = len(r.year_set)
    if len(r.decades) >= 2 and "decade" in calendar:
        counts[calendar["decade"]] = len(r.decades)
    want = asked(question, counts, titled, groups)
    lead = next((w for w in r.tokens if w not in ("so", "and", "ok", "please")), "")
    strong = set(r.metrics) - {"movies"}
    if want.shape is Shape.ANY and lead in en.LISTING and r.filters and not strong:
        return Asked(Shape.MOVIES, "'which' or 'list' before the films' values")
    return want


def checked(understood: Understood, want: Asked, catalog: Catalog) -> Understood:
    """The query, if its rows have the asked shape; otherwise an honest refusal."""
    try:
        check(understood.query, want)
    except ShapeMismatch as exc:
        raise Unanswerable(str(exc), understood.described, suggest(catalog, [])) from None
    return understood


def count_distinct(
    r: Reading, left: list[str], want: Asked, counting: dict[str, str], catalog: Catalog
) -> None:
    """ "How many directors": one number, the metric that counts a dimension's values."""
    if want.shape is not Shape.FIGURE or set(r.metrics) - {"movies"}:
        return
    for name, at in list(r.dimensions):
        metric = counting.get(name)
        if metric is None or not at:
            continue
        before = [w for w in r.tokens[max(0, at[0] - 3) : at[0]]
                  if w not in ("different", "distinct", "unique", "separate")]  # fmt: skip
        if (
            before[-1:] == ["many"]
            or before[-2:] == ["number", "of"]
            or before[-1:] == ["count"]
            or before[-2:] == ["count", "of"]
        ):
            if r.metrics:  # "how many languages do the films have": not a count of films
                r.metrics.clear()
                r.described[:] = [d for d in r.described if d != catalog.metrics["movies"].label]
            r.metrics.append(metric)
            r.dimensions.remove((name, at))
            r.described.append(catalog.metrics[metric].label)
            return


def movie_query(
    r: Reading,
    want: Asked,
    metrics: list[str],
    where: list[str],
    group_by: list[str],
    described: list[str],
    by_dimension: dict[str, list[tuple[str, bool]]],
    catalog: Catalog,
    figures: dict[str, DimensionInfo],
    movie_nouns: frozenset[str],
) -> MetricQuery:
    """Movies listed or ranked, or one movie's attributes: one row per film (its id, title
    and year, so two films of one title stay apart), ranked by a figure of the movie."""
    several = [
        d for d, values in by_dimension.items() if len({v for v, no in values if not no}) > 1
    ]
    if several and {"both", "together", "all"} & set(r.tokens):
        raise Unanswerable(
            "Films of several values at once (two directors of one film, two genres together)"
            " are beyond the built-in engine: it lists the films of each instead. Ask for"
            " 'the films of A or B'.",
            described,
            [],
        )
    per_movie = {d.per_movie: name for name, d in figures.items()}
    figure = r.ranked_figure
    measured = [m for m in metrics if m in per_movie]
    other = [m for m in metrics if m not in per_movie and m != "movies"]
    if other:
        label = catalog.metrics[other[0]].label
        raise Unanswerable(
            f"'{label}' is a figure of a group of movies, not of one movie, so the built-in"
            " engine cannot list or rank movies by it.",
            described,
            suggest(catalog, []),
        )
    if figure is None and len(measured) > 1 and r.descending is not None:
        raise Unanswerable(
            "The question names two figures and ranks by one of them; the built-in engine"
            " cannot tell which ranks. Ask for one figure, ranked.",
            described,
            [],
        )
    if figure is None and measured:
        figure = per_movie[measured[0]]
    shown = [figures[figure].per_movie] if figure else []
    shown += [m for m in measured if m not in shown]
    keys = [MOVIE, MOVIE_TITLE, MOVIE_YEAR]
    if want.shape is Shape.MOVIE_ATTRIBUTE:
        extra = [g for g in group_by if g not in keys] + r.attributes
        if not extra and not shown:
            raise Unanswerable(
                "What about this movie? Name what you want to know: its director, budget,"
                " revenue, runtime, rating, votes, release date, genres, certification or"
                " collection.",
                described,
                [],
            )
        keys += [g for g in dict.fromkeys(extra) if g not in keys]
    elif group_by:
        raise Unanswerable(
            "The question asks for movies, but also groups them by "
            + ", ".join(catalog.dimensions[catalog.dimension_of(g)].label.lower() for g in group_by)
            + ": ask for one or the other.",
            described,
            suggest(catalog, []),
        )
    order_by: list[str] = []
    limit = r.limit
    if r.descending is not None and want.shape is Shape.MOVIES:
        if figure is None:
            raise Unanswerable(
                "Highest or lowest by what? Name the figure to rank the movies by (budget,"
                " revenue, profit, ROI, runtime, rating, votes or popularity).",
                described,
                ["Which 10 movies have the highest revenue?"],
            )
        order_by = [("-" if r.descending else "") + figures[figure].per_movie, MOVIE_TITLE]
        where.append(f"{dimension_ref(figure)} is not null")
        if limit is None:
            limit = DEFAULT_TOP if plural_movies(r, movie_nouns) else 1
    else:
        order_by = [MOVIE_TITLE, MOVIE_YEAR]
    ranked = order_by[0].lstrip("-") in shown
    settled = listing(r) or r.listing  # "list…", or a follow-up of a list
    if shown and want.shape is Shape.MOVIES and not ranked and not settled:
        measure = catalog.metrics[shown[0]].label.lower()
        raise Unanswerable(
            f"Did you mean each movie's {measure} (a list of movies) or their"
            f" {measure} together (one figure)? Say 'list' or 'each' for the first,"
            " 'total' or 'average' for the second.",
            described,
            [],
        )
    described.append("one row per movie")
    return MetricQuery(
        metrics=[reachable(catalog, m, keys, by_dimension) for m in shown or ["movies"]],
        group_by=keys,
        where=list(dict.fromkeys(where)),
        order_by=order_by,
        limit=limit,
    )


def listing(r: Reading) -> bool:
    """'list', 'each', 'which', 'show': the question asks for the movies one by one."""
    return bool(set(r.tokens) & {"list", "each", "every", "which", "show", "name", "per"})


def aggregate_of_figure(
    r: Reading,
    metrics: list[str],
    group_by: list[str],
    described: list[str],
    catalog: Catalog,
    figures: dict[str, DimensionInfo],
) -> list[str]:
    """'which genre has the longest average running time': a movie's figure ranked per
    group is ranked by its aggregate, said in words ('average', 'total'); without one, the
    question is refused (the highest film of each group is another question)."""
    if not group_by:
        return metrics
    said = {"average", "median", "total", "combined", "overall"} & set(r.tokens)
    figure = figures[r.ranked_figure]
    named = [m for m in metrics if m != "movies"]
    label = catalog.metrics[figure.per_movie].label.lower()
    if not said and not named and label.startswith("total"):
        said = {"total"}  # "the most profitable collections": their profits added up
    if not said:
        what = figure_label(figures, r.ranked_figure)
        raise Unanswerable(
            f"Did you mean each group's average {what}, its total {what}, or its best"
            " movie? Say which.",
            described,
            [],
        )
    if not named:
        wanted = {"combined": "total", "overall": "total"}
        if not any(wanted.get(w, w) in label for w in said):
            raise Unanswerable(
                f"The built-in engine has no {' or '.join(sorted(said))} of"
                f" {figure_label(figures, r.ranked_figure)} to rank by.",
                described,
                [],
            )
        named = [figure.per_movie]
    r.ranked_figure = None  # ranked by the aggregate, as any metric per group
    return named


def plural_movies(r: Reading, movie_nouns: frozenset[str]) -> bool:
    """'the longest films' asks for several; 'the longest film' for one."""
    nouns = [w for w in r.tokens if en.singular(w) in movie_nouns]
    return any(en.singular(w) != w for w in nouns)


def share_asked(r: Reading) -> bool:
    """'what fraction of films are comedies': a share of a count left after the reading
    (a ratio metric's own share, "share of hits", was read as that metric already)."""
    found = False
    for k, word in enumerate(r.tokens):
        if not r.used[k] and word == en.SHARE and set(r.metrics) <= {"movies"}:
            r.used[k] = found = True
    return found


def share(
    r: Reading,
    want: Asked,
    where: list[str],
    group_by: list[str],
    described: list[str],
    catalog: Catalog,
) -> Understood:
    """A share of the movies: those of the last condition named ("are comedies", "rated
    PG") among those of every other ("of X's films", "of the 2020 releases"). Two governed
    counts, the numerator and the denominator, both in the answer."""
    if group_by:
        raise Unanswerable(
            "The built-in engine answers a share as one figure, not per group: ask for one"
            " group at a time.",
            described,
            [],
        )
    condition = share_condition(r, catalog)
    if condition is None:
        raise Unanswerable(
            "A share of what? Name the movies counted (a genre, a certification, a person,"
            " a threshold…).",
            described,
            [],
        )
    base = [w for w in where if w != condition]
    if len(base) == len(where):
        raise Unanswerable("The share's condition could not be isolated.", described, [])
    denominator = MetricQuery(metrics=["movies"], where=base)
    numerator = MetricQuery(metrics=["movies"], where=where)
    described.append("share: the movies of the last condition among all the others")
    understood = Understood(numerator, described, None, denominator=denominator)
    return checked(understood, want, catalog)


def share_condition(r: Reading, catalog: Catalog) -> str | None:
    """The filter string of the last condition named: a value, a bound or a 'has a'."""
    values = [f for f in r.filters if not f[4][1] and f[0] != "title"]
    if values:
        kind, value = values[-1][0], values[-1][1]
        dimension = kind_dimension(kind)
        if sum(1 for f in r.filters if kind_dimension(f[0]) == dimension) > 1:
            return None  # "dramas that are also romances": one genre row cannot hold two
        return f"{dimension_ref(dimension)} = {quote(value)}"
    if r.thresholds:
        figure, bound = r.thresholds[-1]
        return bound.condition(dimension_ref(figure), catalog.dimensions[figure].unit)
    if r.known:
        return f"{dimension_ref(r.known[-1])} is not null"
    if r.flags:
        return dimension_ref(r.flags[-1])
    if r.calendar_filters:  # "what share of films were released in December"
        return r.calendar_filters[-1]
    return None


def reachable(catalog: Catalog, metric: str, group_by: list[str], filtered: dict[str, list]) -> str:
    """The metric, or the one that stands for it where it cannot go ("movies" of an actor
    are the actor's cast appearances)."""
    needed = {catalog.dimension_of(g) for g in group_by} | set(filtered)
    if needed <= set(catalog.metrics[metric].dimensions):
        return metric
    for other in catalog.metrics.values():
        if other.stands_for == metric and needed <= set(other.dimensions):
            return other.name
    return metric  # the compile step explains what cannot be reached
