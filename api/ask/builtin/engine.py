"""The built-in engine: a question → a metric query over the semantic layer, deterministically.

It reads a question the way the semantic layer names things, one reader per kind of word:
metric and dimension names, labels and synonyms (`senses`); values grounded in the marts
(`values`, over `api.grounding`); years, decades, months and quarters (`calendar`); a movie's
figures, amounts bounding them, top N and the words of order (`figures`, amounts parsed by
`numbers`). What the question asks for, and the queries of the shapes beyond a metric per
group, are in `shapes`; the types the readers share, in `reading`. This module orchestrates:
it reads (`_read`), composes the `MetricQuery` (`_compose`), and edits a previous query for a
follow-up. It answers only when every word of the question is accounted for (understood, or a
function word); otherwise it says what it understood, what it could not place, and what it can
answer instead. It never writes SQL: what it builds is a `MetricQuery`, which MetricFlow
compiles and the guard checks like any other. Requests to change data are refused.
"""

from __future__ import annotations

import re
from typing import Any

from api.ask.builtin import numbers
from api.ask.builtin import words as en
from api.ask.builtin.calendar import GRAINS, read_calendar, read_time
from api.ask.builtin.figures import FigureWords, figure_label, read_figures, read_order
from api.ask.builtin.reading import (
    DEFAULT_TOP,
    Phrase,
    Reading,
    Unanswerable,
    Understood,
    dimension_ref,
    dimensions_of,
    kind_dimension,
    quote,
    suggest,
)
from api.ask.builtin.senses import (
    decide,
    match_phrases,
    modifiers,
    movie_nouns,
    phrases,
    settle_dimensions,
)
from api.ask.builtin.shapes import (
    aggregate_of_figure,
    checked,
    count_distinct,
    movie_query,
    reachable,
    shape_asked,
    share,
    share_asked,
)
from api.ask.builtin.values import ground, names_in
from api.ask.shape import Asked, Shape, group_words
from api.grounding.index import normalize
from api.grounding.values import DIMENSION_OF_KIND, NOT_IN_SEMANTIC_LAYER, Values
from api.semantic.catalog import METRIC_TIME, MOVIE, MOVIE_TITLE, MOVIE_YEAR, Catalog
from api.semantic.query import MetricQuery

__all__ = ["ENGINE", "BuiltinEngine", "Phrase", "Unanswerable", "Understood", "phrases"]

ENGINE = "builtin"
PERSON_DIMENSIONS = frozenset({"person__name", "cast_credit__is_top_billed"})
FOLLOW_UP_CUES = frozenset({"and", "now", "only", "just", "same", "also", "but", "then"})
CHART_TYPES = ("bar", "line", "scatter", "histogram", "pie")


class BuiltinEngine:
    def __init__(self, catalog: Catalog, values: Values | None) -> None:
        self.catalog = catalog
        self.values = values
        self.phrases = phrases(catalog)
        self.movie_nouns = movie_nouns(self.phrases)
        self.groups = group_words(catalog)
        # A movie's figures (budget, rating…): the dimension, and the metric that is it per movie.
        self.figures = {d.name: d for d in catalog.dimensions.values() if d.per_movie}
        self.figure_words = FigureWords.of(self.figures)
        self.calendar = {d.calendar: d.name for d in catalog.dimensions.values() if d.calendar}
        self.counting = {m.counts: m.name for m in catalog.metrics.values() if m.counts}

    # -- reading -----------------------------------------------------------------------------
    def understand(self, question: str) -> Understood:
        text = normalize(question)
        if en.WRITE_REQUEST.search(text):
            raise Unanswerable(
                "This product only reads the data: requests to change it are refused.",
                [],
                ["ask a question about the movies instead"],
            )
        reading = self._read(question)
        ground(reading, self.values)
        return self._compose(reading, question)

    def _read(self, question: str) -> Reading:
        """Everything but the values: amounts, years, metric and dimension phrases, order and
        limits."""
        text, bounds = numbers.extract(question)
        plain = normalize(text).split()
        plain = ["number" if w == "no" and plain[i + 1 : i + 2] == ["of"] else w
                 for i, w in enumerate(plain)]  # fmt: skip
        if plain[:1] == ["name"]:
            plain[0] = "list"  # "Name the 5 most expensive movies": a request, not a person's name
        for i, word in enumerate(plain):  # "break … down by genre", "broken down by"
            if word in ("break", "broken") and "down" in plain[i + 1 : i + 6]:
                plain[i] = plain[plain.index("down", i + 1)] = "by"
        raw = [en.ABBREVIATIONS.get(w, w) for w in plain]
        reading = Reading([t for w in raw for t in w.split()])
        reading.bounds = bounds
        reading.capitalised = frozenset(
            normalize(w) for w in re.findall(r"[\w'-]+", question)[1:] if w[:1].isupper()
        )
        read_calendar(reading, self.calendar)
        read_time(reading)
        read_figures(reading, self.figure_words)
        match_phrases(reading, self.phrases)
        read_order(reading)
        decide(reading, self.catalog)
        modifiers(reading, self.catalog)
        return reading

    def follow_up(self, question: str, previous: MetricQuery | None) -> Understood:
        """A question read against the conversation's previous metric query: an edit of it
        ("only since 2010", "by year instead", "just the top 5", "as a line chart") or, when
        it names a metric and does not refer back, a new query."""
        if previous is None:
            return self.understand(question)
        text = normalize(question)
        if en.WRITE_REQUEST.search(text):
            return self.understand(question)  # refused the same way
        r = self._read(question)
        ground(r, self.values)
        chart = _chart_words(r)
        words = text.split()
        opening = " ".join(words[:2])
        refers_back = (
            bool(words[:1] and words[0] in FOLLOW_UP_CUES)
            or opening in ("what about", "how about", "same for", "and for")
            or not r.metrics
        )
        if not refers_back:
            understood = self._compose(r, question)
            return _with_chart(understood, chart)
        regroup = bool(r.dimensions or r.time_group)
        adding = bool({"also", "too", "additionally"} & set(words))
        if not r.metrics:
            r.metrics = list(previous.metrics)
        r.listing = MOVIE in previous.group_by and not regroup  # "only dramas" of a film list
        if not regroup or adding:
            for name in previous.group_by:
                if name in (MOVIE, MOVIE_TITLE, MOVIE_YEAR):
                    continue  # the list's own keys: the follow-up lists movies again
                if name.startswith(METRIC_TIME):
                    r.time_group = r.time_group or name
                    r.carried = True
                elif name not in {d for d, _ in r.dimensions}:
                    r.dimensions.append((name, None))  # carried over: no word of this question
                    r.carried = True
        understood = self._compose(r, question)
        new = understood.query
        refiltered = {
            d for w in new.where if not w.endswith(" is not null") for d in dimensions_of(w)
        }  # a grouping's "among the known values" filters nothing the question named
        time_changed = r.years != (None, None) or bool(r.year_set)
        kept = [
            w
            for w in previous.where
            if not (dimensions_of(w) & refiltered)
            and not (time_changed and METRIC_TIME in dimensions_of(w))
            and not (w.endswith(" is not null") and not dimensions_of(w) <= set(new.group_by))
        ]  # an "among the known values" filter goes with its grouping
        ranked = r.descending is not None or r.limit is not None
        query = MetricQuery(
            metrics=new.metrics,
            group_by=new.group_by,
            where=list(dict.fromkeys([*kept, *new.where])),
            order_by=new.order_by if ranked else [
                o for o in previous.order_by if o.lstrip("-") in {*new.metrics, *new.group_by}
            ] if new.group_by else [],
            limit=(new.limit if ranked else previous.limit) if new.group_by else None,
        )  # fmt: skip
        described = ["following up", *understood.described]
        return _with_chart(Understood(query, described, _chart(query)), chart)

    def for_prompt(self, question: str) -> tuple[list[str], Asked]:
        """What a language model is told of a question, from one reading of it: the values
        it names ("'kubrik' → director Stanley Kubrick (dimension movie__director_name)"), and
        the shape it asks for as this engine settles it for its own answers (the values counted
        per dimension, and whether one is a title), so that Gemini's queries are held to the
        same promise. (A ranked figure with no other cue, "the highest budget", this engine
        answers with movies; one figure answers it too, so that is not asked of Gemini.)"""
        reading = self._read(question)
        ground(reading, self.values)
        mentions = [
            f"'{span}' → {kind} {value} "
            + (
                f"(dimension {DIMENSION_OF_KIND[kind]})"
                if kind in DIMENSION_OF_KIND
                else f"({NOT_IN_SEMANTIC_LAYER[kind]})"
            )
            + (f"; also {', '.join(m.value for m in near)}" if near else "")
            for kind, value, span, near, _ in reading.filters
        ]
        settle_dimensions(reading)
        titled = any(kind == "title" for kind, *_ in reading.filters)
        return mentions, shape_asked(reading, question, titled, self.calendar, self.groups)

    def partial(self, question: str) -> MetricQuery | None:
        """What a refused question was understood to ask so far, as a metric query: its
        metrics (or movies), groupings, grounded values and years; None when it names
        nothing. Never an answer: the Explore view starts from it for a person to finish."""
        reading = self._read(question)
        ground(reading, self.values)
        settle_dimensions(reading)
        group_by = [name for name, _ in reading.dimensions]
        group_by += [g for g in (reading.calendar_group, reading.time_group) if g]
        where = [
            f"{dimension_ref(kind_dimension(kind))} = {quote(value)}"
            for kind, value, _, _, (_, negated) in reading.filters
            if not negated and kind_dimension(kind) in self.catalog.dimensions
        ]
        lo, hi = reading.years
        day = f"{{{{ TimeDimension('{METRIC_TIME}', 'day') }}}}"
        where += [f"{day} >= '{lo}-01-01'"] if lo is not None else []
        where += [f"{day} <= '{hi}-12-31'"] if hi is not None else []
        if not (reading.metrics or group_by or where):
            return None
        return MetricQuery(
            metrics=list(dict.fromkeys(reading.metrics or ["movies"])),
            group_by=list(dict.fromkeys(group_by)),
            where=list(dict.fromkeys(where)),
        )

    # -- composing ----------------------------------------------------------------------------
    def _compose(self, r: Reading, question: str) -> Understood:
        settle_dimensions(r)
        titled = any(kind == "title" for kind, *_ in r.filters)
        want = shape_asked(r, question, titled, self.calendar, self.groups)
        if r.carried and want.shape is Shape.FIGURE:  # "how many in 2010?" after "…by genre"
            want = Asked(Shape.PER_GROUP, "a follow-up keeps the earlier grouping")
        if r.listing and want.shape in (Shape.ANY, Shape.MOVIES):
            want = Asked(Shape.MOVIES, "a follow-up of a list of movies")
        elif want.shape is Shape.ANY and r.ranked_figure:
            if any(at and at[0] in (r.ranked_end, r.ranked_end + 1) for _, at in r.dimensions):
                want = Asked(Shape.PER_GROUP, "a figure ranks the groups named after it")
            else:
                want = Asked(Shape.MOVIES, "a movie's own figure is ranked")
        named = (
            {name for name, _ in r.dimensions}
            | {kind_dimension(f[0]) for f in r.filters}
            | set(r.flags)
        )
        # A metric of the casts ("how many different actors appear in the casts"): the words of
        # acting say what it counts already.
        cast_metric = any(
            d.startswith("cast_credit__")
            for m in r.metrics
            for d in self.catalog.metrics[m].dimensions
        )
        for k, word in enumerate(r.tokens):
            if r.used[k]:
                continue
            if en.singular(word) in GRAINS and r.time_group is None:
                r.time_group = f"{METRIC_TIME}__{en.singular(word)}"  # "by genre and year"
                r.take(k, k + 1, f"by {en.singular(word)}")
            elif titled and word in en.DIRECTOR_CONTEXT and word != "by":
                r.attributes.append("movie__director_name")  # "who directed Heat"
                r.used[k] = True
            elif want.shape is Shape.PER_NAMED and word in en.COMPARATIVES:
                r.used[k] = True  # "did 2003 or 2004 have more releases": each side's figure
            elif titled and word in ("when", "date"):
                r.attributes.append(f"{METRIC_TIME}__day")  # "when was Heat released"
                r.used[k] = True
            elif (word in en.CAST_CONTEXT and (named & PERSON_DIMENSIONS or cast_metric)) or (
                word in en.DIRECTOR_CONTEXT and "movie__director_name" in named
            ):
                r.used[k] = True  # "actors who appear…", "directors who directed…"
        sharing = share_asked(r)
        left = [w for w, used in zip(r.tokens, r.used, strict=True) if not used]
        unknown = [
            w for w in left
            if w not in en.FILLER and en.singular(w) not in en.FILLER and w not in ("many", "how")
        ]  # fmt: skip
        if unknown:
            named = names_in(question, unknown)
            if {w for n in named for w in normalize(n).split()} != set(unknown):
                named = []  # other words are not understood either: say so
            reason = (
                f"Nothing in the catalogue is called {', '.join(repr(n) for n in named)}"
                " (no director, actor, title, collection or other value by that name), so"
                " the built-in engine cannot filter on it."
                if named
                else f"The built-in engine could not place {' '.join(repr(w) for w in unknown)}"
                " in a metric query."
            )
            raise Unanswerable(reason, r.described, suggest(self.catalog, unknown))
        outside = [(kind, value) for kind, value, *_ in r.filters if kind in NOT_IN_SEMANTIC_LAYER]
        if outside:
            kind, value = outside[0]
            raise Unanswerable(
                f"'{value}' is a {NOT_IN_SEMANTIC_LAYER[kind]}, and the semantic layer has no"
                " dimension to filter on it yet, so the built-in engine cannot answer this.",
                r.described,
                ["the same question without it", *suggest(self.catalog, [])[:1]],
            )
        count_distinct(r, left, want, self.counting, self.catalog)
        metrics = list(r.metrics)
        if not metrics and ("many" in left or "number" in left or "count" in left):
            metrics = ["movies"]
        movie_shaped = want.shape in (Shape.MOVIES, Shape.MOVIE_ATTRIBUTE)
        measured = [w for w in left if w in en.MEASURE_WORDS]
        if r.rank_word in en.JUDGEMENTS and not r.metrics and not r.ranked_figure:
            raise Unanswerable(
                f"'{r.rank_word}' by what? Name the figure to judge by (rating, revenue, profit,"
                " ROI, popularity…) or say 'the most movies'.",
                r.described,
                suggest(self.catalog, []),
            )
        named_figure = r.ranked_figure or r.thresholds or r.known
        if (
            set(metrics) <= {"movies"}
            and measured
            and "many" not in left
            and not sharing
            and (not named_figure)
        ):
            raise Unanswerable(
                f"'{measured[0]}' asks for an amount, but the question names no figure the"
                " built-in engine can read (revenue, budget, profit, runtime, rating…).",
                r.described,
                suggest(self.catalog, left),
            )
        if not metrics and (
            r.filters or r.dimensions or r.time_group or r.thresholds or r.calendar_filters
            or r.calendar_group or r.decades or movie_shaped or r.ranked_figure or r.year_set
            or r.years != (None, None)
        ):  # fmt: skip
            metrics = ["movies"]  # "dramas released per year": a count of movies
        if not metrics:
            raise Unanswerable(
                "The question names no metric the semantic layer defines.",
                r.described,
                suggest(self.catalog, left),
            )
        where: list[str] = []
        group_by: list[str] = []
        described = list(r.described)
        by_dimension: dict[str, list[tuple[str, bool]]] = {}
        grouped = [name for name, _ in r.dimensions]
        for kind, value, span, near, (same, negated) in r.filters:
            kind = self._reachable_kind(kind, same, metrics, grouped, by_dimension)
            by_dimension.setdefault(kind_dimension(kind), []).append((value, negated))
            also = f" (also: {', '.join(m.value for m in near)})" if near else ""
            what = (
                self.catalog.dimensions[kind_dimension(kind)].label.lower() if "@" in kind else kind
            )
            described.append(f"'{span}' → {'not ' if negated else ''}{what} {value}{also}")
        for name in grouped:
            single = [v for v, negated in by_dimension.get(name, []) if not negated]
            if len(single) != 1 and name not in group_by:
                group_by.append(name)
                described.append(f"by {self.catalog.dimensions[name].label.lower()}")
        for dimension, values in by_dimension.items():
            ref = dimension_ref(dimension)
            kept = sorted({v for v, negated in values if not negated})
            for value in sorted({v for v, negated in values if negated}):
                where.append(f"{ref} != {quote(value)}")
            if len(kept) == 1:
                where.append(f"{ref} = {quote(kept[0])}")
            elif kept:
                where.append(f"{ref} in ({', '.join(quote(v) for v in kept)})")
                if dimension not in group_by and dimension != MOVIE_TITLE:
                    group_by.append(dimension)  # several values named: one figure each
        for flag in r.flags:
            where.append(dimension_ref(flag))
        for name in r.known:
            where.append(f"{dimension_ref(name)} is not null")
            described.append(f"with a {self.catalog.dimensions[name].label.lower()}")
        for figure, bound in r.thresholds:
            info = self.catalog.dimensions[figure]
            where.append(bound.condition(dimension_ref(figure), info.unit))
            described.append(bound.describe(info.label, info.unit))
        where.extend(r.calendar_filters)
        if r.calendar_group:
            group_by.append(r.calendar_group)
            described.append(f"by {self.catalog.dimensions[r.calendar_group].label.lower()}")
        if r.time_group:
            group_by.append(r.time_group)
            grain = r.time_group.rpartition("__")[2]
            lo, hi = r.years
            if grain in self.calendar and lo is not None and lo == hi:
                group_by.append(self.calendar[grain])  # one year by month: also "March"
        if len(r.decades) >= 2 and "decade" in self.calendar:
            decade = self.calendar["decade"]
            r.years = (None, None)  # the decades are the sides, not one range
            where.append(
                f"{dimension_ref(decade)} in ({', '.join(str(d) for d in sorted(r.decades))})"
            )
            if decade not in group_by:
                group_by.append(decade)
        if r.years != (None, None):
            lo, hi = r.years
            ref = f"{{{{ TimeDimension('{METRIC_TIME}', 'day') }}}}"
            if lo is not None:
                where.append(f"{ref} >= '{lo}-01-01'")
            if hi is not None:
                where.append(f"{ref} <= '{hi}-12-31'")
        if r.year_set:
            ref = f"{{{{ TimeDimension('{METRIC_TIME}', 'year') }}}}"
            years = ", ".join(f"'{y}-01-01'" for y in r.year_set)
            where.append(f"{ref} in ({years})")
            if not movie_shaped and not any(g.startswith(METRIC_TIME) for g in group_by):
                group_by.append(f"{METRIC_TIME}__year")  # "2003 or 2004": one figure each
        if sharing:
            return share(r, want, where, group_by, described, self.catalog)
        if movie_shaped:
            query = movie_query(
                r,
                want,
                metrics,
                where,
                group_by,
                described,
                by_dimension,
                self.catalog,
                self.figures,
                self.movie_nouns,
            )
            return checked(Understood(query, described, None), want, self.catalog)
        for name in group_by:  # "by certification", "which directors": among the known values
            if name.startswith(METRIC_TIME):
                where.append(f"{{{{ TimeDimension('{METRIC_TIME}', 'day') }}}} is not null")
            else:
                where.append(f"{dimension_ref(name)} is not null")
        metrics = [reachable(self.catalog, m, group_by, by_dimension) for m in metrics]
        order_by: list[str] = []
        limit = r.limit
        if r.ranked_figure is not None:
            metrics = aggregate_of_figure(
                r, metrics, group_by, described, self.catalog, self.figures
            )
        if r.ranked_figure is not None and not group_by:
            what = figure_label(self.figures, r.ranked_figure)
            raise Unanswerable(
                f"'{self.catalog.dimensions[r.ranked_figure].label}' ranks movies, but the"
                " question does not ask for movies.",
                described,
                [f"Which 10 movies have the highest {what}?"],
            )
        if r.descending is not None:
            if not group_by:
                raise Unanswerable(
                    "Highest or lowest of what? The question ranks nothing the metric is"
                    " grouped by.",
                    described,
                    [f"{self.catalog.metrics[metrics[0]].label} by genre, highest first"],
                )
            order_by = [("-" if r.descending else "") + metrics[0]]
            if limit is None:
                plural = any(
                    at and en.singular(r.tokens[at[-1]]) != r.tokens[at[-1]]
                    for _, at in r.dimensions
                )
                limit = DEFAULT_TOP if plural else 1
        elif limit is not None and group_by:
            order_by = ["-" + metrics[0]]
        query = MetricQuery(
            metrics=list(dict.fromkeys(metrics)),
            group_by=list(dict.fromkeys(group_by)),
            where=list(dict.fromkeys(where)),
            order_by=order_by,
            limit=limit,
        )
        return checked(Understood(query, described, _chart(query)), want, self.catalog)

    def _reachable_kind(
        self, kind: str, same: list, metrics: list[str], grouped: list[str], filtered: dict
    ) -> str:
        """The kind a value is read as: a name that is both a director and an actor is the
        one the question's metric can be filtered by."""
        if "@" in kind or not same:
            return kind
        for candidate in [kind, *(m.kind for m in same if m.kind in DIMENSION_OF_KIND)]:
            needed = set(grouped) | set(filtered) | {DIMENSION_OF_KIND[candidate]}
            if any(needed <= set(self.catalog.metrics[m].dimensions) for m in metrics):
                return candidate
        return kind


def _chart_words(r: Reading) -> str | None:
    """'as a line chart', 'show it as bars': the chart asked for (its words consumed)."""
    found = None
    for k, word in enumerate(r.tokens):
        if not r.used[k] and en.singular(word) in CHART_TYPES:
            found = en.singular(word)
            r.used[k] = True
    return found


def _with_chart(understood: Understood, chart: str | None) -> Understood:
    if chart and understood.query.group_by:
        understood.chart = {"type": chart, "x": understood.query.group_by[0],
                            "y": understood.query.metrics[0]}  # fmt: skip
    return understood


def _chart(query: MetricQuery) -> dict[str, Any] | None:
    if not query.group_by:
        return None
    x = query.group_by[0]
    kind = "line" if x.startswith(METRIC_TIME) else "bar"
    return {"type": kind, "x": x, "y": query.metrics[0]}
