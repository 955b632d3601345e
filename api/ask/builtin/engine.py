"""The built-in engine: a question → a metric query over the semantic layer, deterministically.

It reads a question the way the semantic layer names things: metric names, labels and
synonyms; dimensions; values grounded in the marts (`api.grounding`); years and ranges; top N
and the words of order. It answers only when every word of the question is accounted for
(understood, or a function word); otherwise it says what it understood, what it could not place,
and what it can answer instead. It never writes SQL: what it builds is a `MetricQuery`, which
MetricFlow compiles and the guard checks like any other. Requests to change data are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz

from api.ask.builtin import calendar as cal
from api.ask.builtin import numbers
from api.ask.builtin import words as en
from api.ask.shape import Asked, Shape, ShapeMismatch, asked, check, group_words
from api.grounding.index import normalize
from api.grounding.values import DIMENSION_OF_KIND, NOT_IN_SEMANTIC_LAYER, PARTIAL_KINDS, Values
from api.semantic.catalog import METRIC_TIME, MOVIE, MOVIE_TITLE, MOVIE_YEAR, Catalog, closest
from api.semantic.query import MetricQuery

ENGINE = "builtin"
DEFAULT_TOP = 10
DOMINANCE = 3  # a partial name's best match wins outright at this many times each rival's credits
MAX_SPAN = 6  # words in a grounded value's span ("Orchard of the Echo Collection")
# "the 5 genres", "top 3 directors": a count of rows asked for.
PERSON_DIMENSIONS = frozenset({"person__name", "cast_credit__is_top_billed"})
# A dimension whose values are those of a grounded kind: "Drama as the primary genre".
VALUES_OF = {"movie__primary_genre": "genre"}
GROUP_CUES = frozenset({"by", "per", "each", "every", "which", "what", "across"})
SHORT_YEAR_CUES = frozenset({"in", "of", "since", "from", "during", "before", "after", "until"})
LIMIT_CUES = frozenset({"the", "top", "which", "what", "show", "list", "give", "first"})
_YEAR = re.compile(r"^(18[7-9]\d|19\d\d|20\d\d)$")
_DECADE = re.compile(r"^(?:(18|19|20)?(\d)0)s$")
GRAINS = {"year": "year", "month": "month", "quarter": "quarter", "week": "week", "day": "day"}


class Unanswerable(ValueError):
    """The engine could not map the whole question; says what it understood and suggests."""

    def __init__(self, message: str, understood: list[str], suggestions: list[str]) -> None:
        super().__init__(message)
        self.understood = understood
        self.suggestions = suggestions

    def __str__(self) -> str:
        parts = [super().__str__()]
        if self.understood:
            parts.append(f"Understood: {'; '.join(self.understood)}.")
        if self.suggestions:
            parts.append(f"Try: {'; '.join(self.suggestions)}.")
        return " ".join(parts)


@dataclass(frozen=True)
class Phrase:
    words: tuple[str, ...]
    kind: str  # metric | dimension
    name: str


@dataclass
class Understood:
    """What the engine made of a question: the query and the words behind it."""

    query: MetricQuery
    described: list[str]
    chart: dict[str, Any] | None = None
    shape: Shape | None = None  # the shape asked, which the query's rows have
    # A share: `query` counts the numerator, this the denominator (run together, both shown).
    denominator: MetricQuery | None = None


def _phrase_words(text: str) -> tuple[str, ...]:
    out: list[str] = []
    for word in normalize(text.replace("_", " ")).split():
        word = en.ABBREVIATIONS.get(word, word)
        out.extend(en.singular(w) for w in word.split())
    return tuple(out)


def phrases(catalog: Catalog) -> list[Phrase]:
    """Every way the catalog names a metric or a dimension, longest first."""
    found: dict[tuple[tuple[str, ...], str], Phrase] = {}

    def add(text: str, kind: str, name: str) -> None:
        key = _phrase_words(re.sub(r"\(.*?\)", " ", text))
        if key and (key, kind) not in found:
            found[(key, kind)] = Phrase(key, kind, name)

    for metric in catalog.metrics.values():
        # A distinct count ("directors") is named by its dimension after "how many"
        # (`_count_distinct`), so only its longer synonyms ("number of directors") are phrases.
        names = metric.synonyms if metric.counts else (metric.label, metric.name, *metric.synonyms)
        for text in names:
            add(text, "metric", metric.name)
    for dimension in catalog.dimensions.values():
        if dimension.type in ("time", "entity") or dimension.calendar or dimension.per_movie:
            continue  # read apart: time and the calendar by `_time`, figures by `_figures`
        short = dimension.name.split("__")[-1]
        for text in (dimension.label, short, *dimension.synonyms):
            add(text, "dimension", dimension.name)
    return sorted(found.values(), key=lambda p: (-len(p.words), p.words))


class BuiltinEngine:
    def __init__(self, catalog: Catalog, values: Values | None) -> None:
        self.catalog = catalog
        self.values = values
        self.phrases = phrases(catalog)
        self.groups = group_words(catalog)
        # A movie's figures (budget, rating…): the dimension, and the metric that is it per movie.
        self.figures = {d.name: d for d in catalog.dimensions.values() if d.per_movie}
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
        self._ground(reading)
        return self._compose(reading, question)

    def _read(self, question: str) -> _Reading:
        """Everything but the values: amounts, years, metric and dimension phrases, order and
        limits."""
        text, bounds = numbers.extract(question)
        plain = normalize(text).split()
        plain = ["number" if w == "no" and plain[i + 1 : i + 2] == ["of"] else w
                 for i, w in enumerate(plain)]  # fmt: skip
        for i, word in enumerate(plain):  # "break … down by genre", "broken down by"
            if word in ("break", "broken") and "down" in plain[i + 1 : i + 6]:
                plain[i] = plain[plain.index("down", i + 1)] = "by"
        raw = [en.ABBREVIATIONS.get(w, w) for w in plain]
        reading = _Reading([t for w in raw for t in w.split()])
        reading.bounds = bounds
        self._calendar(reading)
        self._time(reading)
        self._figures(reading)
        self._match_phrases(reading)
        self._order(reading)
        self._decide(reading)
        self._modifiers(reading)
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
        self._ground(r)
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
                elif name not in {d for d, _ in r.dimensions}:
                    r.dimensions.append((name, None))  # carried over: no word of this question
        understood = self._compose(r, question)
        new = understood.query
        refiltered = {
            d for w in new.where if not w.endswith(" is not null") for d in _dimensions_of(w)
        }  # a grouping's "among the known values" filters nothing the question named
        time_changed = r.years != (None, None) or bool(r.year_set)
        kept = [
            w
            for w in previous.where
            if not (_dimensions_of(w) & refiltered)
            and not (time_changed and METRIC_TIME in _dimensions_of(w))
            and not (w.endswith(" is not null") and not _dimensions_of(w) <= set(new.group_by))
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

    def mentions(self, question: str) -> list[str]:
        """The values a question names ("'kubrik' → director Stanley Kubrick (dimension
        movie__director_name)"), for a language model's prompt."""
        reading = self._read(question)
        self._ground(reading)
        return [
            f"'{span}' → {kind} {value} "
            + (
                f"(dimension {DIMENSION_OF_KIND[kind]})"
                if kind in DIMENSION_OF_KIND
                else f"({NOT_IN_SEMANTIC_LAYER[kind]})"
            )
            + (f"; also {', '.join(m.value for m in near)}" if near else "")
            for kind, value, span, near, _ in reading.filters
        ]

    def _calendar(self, r: _Reading) -> None:
        """Months and quarters ("in June 2010", "in March", "Q3 2005") as filters, and the
        month, quarter or decade as a grouping ("which month", "by decade")."""
        t = r.tokens
        for i in range(len(t)):
            if r.used[i]:
                continue
            nxt = t[i + 1] if i + 1 < len(t) else ""
            month = cal.month_at(t, i)
            if month is not None:
                if _YEAR.match(nxt):
                    ref = f"{{{{ TimeDimension('{METRIC_TIME}', 'month') }}}}"
                    r.calendar_filters.append(f"{ref} = '{nxt}-{month:02d}-01'")
                    r.take(i, i + 2, f"in {cal.month_name(month)} {nxt}")
                elif cal.MONTH_OF_YEAR in self.calendar:
                    r.calendar_filters.append(f"{_ref(self.calendar[cal.MONTH_OF_YEAR])} = {month}")
                    r.take(i, i + 1, f"in {cal.month_name(month)} (any year)")
                continue
            quarter = cal.quarter_at(t, i)
            if quarter is not None and cal.QUARTER_OF_YEAR in self.calendar:
                number, width = quarter
                r.calendar_filters.append(f"{_ref(self.calendar[cal.QUARTER_OF_YEAR])} = {number}")
                start = i - 1 if i and t[i - 1] == "the" else i
                end = i + width + (1 if t[i + width : i + width + 1] == ["of"] else 0)
                r.take(start, end, f"in Q{number}")
        for i, word in enumerate(t):
            if r.used[i] or en.singular(word) not in ("month", "quarter", "decade"):
                continue
            unit = en.singular(word)
            prev = t[i - 1] if i else ""
            of_year = t[i + 1 : i + 4] in (["of", "the", "year"],) or t[i + 1 : i + 3] == [
                "of",
                "year",
            ]
            cued = prev in ("which", "what") or (prev in GROUP_CUES and unit == "decade")
            if (cued or of_year) and unit in self.calendar:
                r.calendar_group = self.calendar[unit]
                end = i + 1 + (3 if t[i + 1 : i + 3] == ["of", "the"] else 2 if of_year else 0)
                r.take(i - 1 if prev in GROUP_CUES else i, end, None)

    def _figures(self, r: _Reading) -> None:
        """A movie's figures: ranked in one word ("the longest", "highest rated", "cheapest"),
        and bounded by an amount ("cost more than $80M", "rated 7.5 or higher")."""
        t = r.tokens
        ranked = sorted(
            (
                (tuple(normalize(said).split()), name, direction == "desc")
                for name, d in self.figures.items()
                for direction, phrases_ in d.superlatives.items()
                for said in phrases_
            ),
            key=lambda f: -len(f[0]),
        )
        for words, name, descending in ranked:
            n = len(words)
            for i in range(len(t) - n + 1):
                if tuple(t[i : i + n]) == words and not any(r.used[i : i + n]):
                    if r.ranked_figure not in (None, name):
                        raise Unanswerable(
                            "The question ranks movies by two figures"
                            f" ({self._figure_label(r.ranked_figure)} and"
                            f" {self._figure_label(name)}); ask for one.",
                            r.described,
                            [],
                        )
                    r.ranked_figure, r.descending, r.ranked_end = name, descending, i + n
                    r.take(i, i + n, f"{' '.join(words)} first")
        for i, word in enumerate(t):
            if not word.startswith(numbers.PLACEHOLDER):
                continue
            bound = r.bounds[int(word[len(numbers.PLACEHOLDER) :])]
            figure = self._figure_near(r, i, bound)
            r.thresholds.append((figure, bound))
            r.used[i] = True

    def _figure_near(self, r: _Reading, i: int, bound: numbers.Bound) -> str:
        """The figure an amount bounds: said by a word near it ("cost", "rated", "votes"),
        or by its unit (hours and minutes are a runtime)."""
        t = r.tokens
        fits = {
            name
            for name, d in self.figures.items()
            if bound.kind is None
            or (bound.kind == "money" and d.unit == "usd")
            or (bound.kind == "duration" and d.unit == "minutes")
        }
        words: dict[tuple[str, ...], str] = {}
        for name, d in self.figures.items():
            if name in fits:
                short = name.split("__")[-1]
                for said in (d.label, short, *d.synonyms):
                    key = tuple(w for w in normalize(re.sub(r"\(.*?\)", " ", said)).split())
                    if key:
                        words.setdefault(key, name)
        near = sorted(
            [*range(max(0, i - 4), i), *range(i + 1, min(len(t), i + 4))],
            key=lambda k: (abs(k - i), k > i),
        )
        for k in near:
            for key, name in sorted(words.items(), key=lambda kv: -len(kv[0])):
                n = len(key)
                if tuple(t[k : k + n]) == key and not any(r.used[k : k + n]):
                    r.take(k, k + n, None)
                    return name
        if bound.kind == "duration" and len(fits) == 1:
            return next(iter(fits))
        said = bound.said.strip()
        if bound.kind == "money" and len(fits) > 1:
            raise Unanswerable(
                f"'{said}' bounds an amount of money, but which one? Did you mean the budget or"
                " the revenue?",
                r.described,
                [f"movies with a budget {said}", f"movies with revenue {said}"],
            )
        raise Unanswerable(
            f"'{said}' bounds a number, but the question does not say which figure of a movie"
            " (budget, revenue, runtime, rating, votes, popularity…).",
            r.described,
            [],
        )

    def _time(self, r: _Reading) -> None:
        t = r.tokens
        for i, word in enumerate(t):
            if r.used[i]:
                continue
            nxt = t[i + 1] if i + 1 < len(t) else ""
            if word in ("per", "by", "each", "every", "over", "across") and nxt in (
                *GRAINS,
                *(g + "s" for g in GRAINS),
                "time",
            ):
                grain = "year" if nxt == "time" else GRAINS[en.singular(nxt)]
                r.time_group = f"{METRIC_TIME}__{grain}"
                r.take(i, i + 2, f"by {grain}")
        for i in range(len(t)):
            if r.used[i]:
                continue
            decade = self._decade(t, i)
            if decade is not None:
                start, width = decade
                first = i - 1 if i and t[i - 1] == "the" else i
                cue = t[first - 1] if first else ""
                if cue in ("since", "after", "before", "until", "till"):
                    lo = start + 10 if cue == "after" else start
                    r.years = (lo, None) if cue in ("since", "after") else (
                        None, start - 1 if cue == "before" else start + 9
                    )  # fmt: skip
                    r.take(first - 1, i + width, f"{cue} the {start}s")
                    continue
                r.years = (start, start + 9)
                r.decades.append(start)
                r.take(first, i + width, f"{start}s")
                continue
            prev = t[i - 1] if i else ""
            if re.fullmatch(r"\d\d", t[i]) and prev in SHORT_YEAR_CUES:
                t[i] = str((1900 if int(t[i]) >= 30 else 2000) + int(t[i]))  # "in '98"
            if not _YEAR.match(t[i]):
                continue
            year = int(t[i])
            j = i + 1
            if j < len(t) and _YEAR.match(t[j]):  # "2005-2015"
                lo, hi = sorted((year, int(t[j])))
                r.years = (lo, hi)
                r.take(i - 1 if prev in ("from", "between") else i, j + 1, f"{lo} to {hi}")
                continue
            listed = j + 1 < len(t) and t[j] in ("and", "or") and _YEAR.match(t[j + 1])
            if listed and prev != "between":  # "in 2018 and 2019": those years
                r.year_set = sorted({year, int(t[j + 1])})
                r.take(i, j + 2, " and ".join(str(y) for y in r.year_set))
                continue
            ranged = (
                j + 1 < len(t)
                and t[j] in ("to", "through", "thru", "until", "till", "and")
                and _YEAR.match(t[j + 1])
            )
            if ranged:
                lo, hi = sorted((year, int(t[j + 1])))
                r.years = (lo, hi)
                r.take(i - 1 if prev in ("from", "between") else i, j + 2, f"{lo} to {hi}")
            elif prev in ("since", "after", "from"):
                start = year + 1 if prev == "after" else year
                r.years = (start, None)
                r.take(i - 1, i + 1, f"since {start}")
            elif prev in ("before", "until", "till", "prior"):
                end = year - 1 if prev in ("before", "prior") else year
                r.years = (None, end)
                r.take(i - 1, i + 1, f"up to {end}")
            elif r.year_set or (r.years[0] is not None and r.years[0] == r.years[1]):
                # "in 2000 compared with 2020": each year named is a side of its own
                r.year_set = sorted({*r.year_set, *([r.years[0]] if r.years[0] else []), year})
                r.years = (None, None)
                r.take(i, i + 1, f"and {year}")
            else:
                r.years = (year, year)
                r.take(i, i + 1, f"in {year}")

    @staticmethod
    def _decade(t: list[str], i: int) -> tuple[int, int] | None:
        word = t[i]
        if word in en.DECADE_WORDS:
            return en.DECADE_WORDS[word], 1
        match = _DECADE.match(word)
        if match:
            century, tens = match.groups()
            if century is None:
                century = "19" if tens != "0" else "20"
            return int(f"{century}{tens}0"), 1
        return None

    def _order(self, r: _Reading) -> None:
        t = r.tokens
        ranked = en.DESCENDING | en.ASCENDING
        for i, word in enumerate(t):
            if r.used[i]:
                continue
            if word in ranked:
                r.descending = word in en.DESCENDING
                r.take(i, i + 1, "highest first" if r.descending else "lowest first")
                number = _number(t, i + 1) if i + 1 < len(t) else None
                if number:
                    r.limit = number[0]
                    r.take(i + 1, i + 1 + number[1], f"top {number[0]}")
                continue
            number = _number(t, i)
            if number is None:
                continue
            after = t[i + number[1]] if i + number[1] < len(t) else ""
            if after in ranked or (i and t[i - 1] in LIMIT_CUES):
                r.limit = number[0]
                r.take(i, i + number[1], f"{number[0]} rows")

    def _match_phrases(self, r: _Reading) -> None:
        """Metric and dimension phrases, longest first. Words that name both a metric and a
        dimension ("actors") are kept undecided until the rest is read; a metric named only
        by words such as "movies" counts only when no other metric is named."""
        singular = [en.singular(w) for w in r.tokens]
        for skip_filler in (False, True):
            for phrase in self.phrases:
                n = len(phrase.words)
                if skip_filler and n == 1:
                    continue
                for at in self._occurrences(phrase.words, singular, r.tokens, r.used, skip_filler):
                    readings = [p for p in self.phrases if p.words == phrase.words]
                    r.phrases.append((at, readings))
                    for k in at:
                        r.used[k] = True

    @staticmethod
    def _occurrences(
        words: tuple[str, ...], tokens: list[str], raw: list[str], used: list[bool], skip: bool
    ):
        """Where the phrase's words stand in order, each word equal or nearly (a typo in a
        word of five letters or more); with `skip`, function words may stand between."""
        n = len(words)
        for i in range(len(tokens)):
            at, k = [], i
            for word in words:
                while (
                    skip and k < len(tokens) and at and tokens[k] in en.FILLER and tokens[k] != word
                ):
                    k += 1
                if k >= len(tokens) or used[k]:
                    break
                if not (_same_word(tokens[k], word) or _same_word(raw[k], word)):
                    break
                at.append(k)
                k += 1
            if len(at) == n:
                yield at

    def _decide(self, r: _Reading) -> None:
        """Settle each phrase: a metric, or a dimension to group by. Words that name both
        ("actors") are a dimension when the question names another metric ("actors with the
        most movies"); a metric named only by words such as "movies" counts only when no
        other metric is named."""

        def is_weak(phrase: Phrase) -> bool:
            return all(w in en.MOVIE_NOUNS for w in phrase.words)

        metrics = [
            (p, is_weak(p))
            for _, readings in r.phrases
            if len(readings) == 1 and readings[0].kind == "metric"
            for p in readings
        ]
        ambiguous = [
            (at, readings) for at, readings in r.phrases if len({p.kind for p in readings}) > 1
        ]
        for at, readings in r.phrases:
            if all(p.kind == "dimension" for p in readings):
                r.dimensions.append((readings[0].name, at))
                r.dimension_at.update({k: readings[0].name for k in at})
        strong_named = any(not weak for _, weak in metrics)
        for at, readings in ambiguous:
            metric = next(p for p in readings if p.kind == "metric")
            dimension = next(p for p in readings if p.kind == "dimension")
            if strong_named:
                r.dimensions.append((dimension.name, at))
                r.dimension_at.update({k: dimension.name for k in at})
            else:
                metrics.append((metric, False))
        strong = [p for p, weak in metrics if not weak]
        for phrase in strong or [p for p, _ in metrics]:
            if phrase.name not in r.metrics:
                r.metrics.append(phrase.name)
                r.described.append(self.catalog.metrics[phrase.name].label)

    def _modifiers(self, r: _Reading) -> None:
        """An aggregation or a share said apart from its measure: "median movie budget" is
        median_budget_usd, "share of commercial successes" is success_rate."""
        labels = {m.name: set(_phrase_words(m.label)) for m in self.catalog.metrics.values()}
        for k, word in enumerate(r.tokens):
            if r.used[k]:
                continue
            if word == en.SHARE:
                for i, name in enumerate(r.metrics):
                    ratio = next(
                        (m.name for m in self.catalog.metrics.values() if m.numerator == name),
                        None,
                    )
                    if ratio:
                        r.metrics[i] = ratio
                        r.used[k] = True
                        r.described.append(self.catalog.metrics[ratio].label)
                        break
            elif word in en.AGGREGATIONS:
                for i, name in enumerate(r.metrics):
                    if word in labels[name]:
                        r.used[k] = True  # "average rating … average"
                        break
                    base = labels[name] - en.AGGREGATIONS
                    other = next((m for m, ws in labels.items() if ws == base | {word}), None)
                    if other:
                        r.metrics[i] = other
                        r.used[k] = True
                        r.described.append(self.catalog.metrics[other].label)
                        break

    def _ground(self, r: _Reading) -> None:
        """Spans of the words left (not function words) looked up as values of the marts."""
        if self.values is None:
            return
        t = r.tokens

        def free(k: int) -> bool:
            return not r.used[k] or k in r.dimension_at

        i = 0
        while i < len(t):
            if r.used[i] or t[i] in en.FILLER:
                i += 1
                continue
            for n in range(min(MAX_SPAN, len(t) - i), 0, -1):
                span = t[i : i + n]
                if not all(free(k) for k in range(i, i + n)) or (n == 1 and span[0] in en.FILLER):
                    continue  # a name may end with a common word ("Silver Pictures"), not be one
                if all(k in r.dimension_at for k in range(i, i + n)):
                    continue  # a dimension's own name is not a value
                kinds = self._kinds_near(t, i, n)
                matches = self.values.lookup(" ".join(span), kinds)
                if not matches and n == 1 and en.singular(span[0]) != span[0]:
                    matches = self.values.lookup(en.singular(span[0]), kinds)
                if matches:
                    best = matches[0]
                    _one_person(span, matches, r.described)
                    if {"director", "person"} <= set(kinds):
                        _one_role(matches, r.described)
                    near = [m for m in matches[1:4] if m.kind == best.kind]
                    same = [m for m in matches if m.value == best.value and m.kind != best.kind]
                    negated = _negation_before(t, i)
                    if negated is not None:
                        r.take(negated, i, None)
                    negated = negated is not None
                    r.filters.append(
                        (best.kind, best.value, " ".join(span), near, (same, bool(negated)))
                    )
                    named = {r.dimension_at.pop(k) for k in range(i, i + n) if k in r.dimension_at}
                    r.dimensions[:] = [d for d in r.dimensions if d[0] not in named]
                    r.take(i, i + n, None)
                    context = {"director": en.DIRECTOR_CONTEXT, "person": en.CAST_CONTEXT}
                    for k in range(max(0, i - 3), min(len(t), i + n + 3)):
                        if t[k] in context.get(best.kind, ()):
                            r.used[k] = True  # "directed by", "starring": said by the filter
                    i += n
                    break
            else:
                i += 1

    @staticmethod
    def _kinds_near(t: list[str], i: int, n: int) -> list[str]:
        """The kinds a span may be, from the words around it ("directed by X" → director)."""
        kinds = [*DIMENSION_OF_KIND, *NOT_IN_SEMANTIC_LAYER]
        nearest = sorted(
            [k for k in range(max(0, i - 3), i)]
            + [k for k in range(i + n, min(len(t), i + n + 3))],
            key=lambda k: (i - k) if k < i else (k - i - n + 1),
        )
        for k in nearest:  # the closest role word decides: "with director X", "X starring"
            if t[k] in en.DIRECTOR_CONTEXT and t[k] != "by":
                kinds.remove("person")
                break
            if t[k] in en.CAST_CONTEXT:
                kinds.remove("director")
                break
            if t[k] == "by" and k == i - 1:
                kinds.remove("person")  # "directed by X", "movies by X"
                break
        return kinds

    # -- composing ----------------------------------------------------------------------------
    def _compose(self, r: _Reading, question: str) -> Understood:
        self._settle_dimensions(r)
        titled = any(kind == "title" for kind, *_ in r.filters)
        want = self._asked(r, question, titled)
        if r.listing and want.shape in (Shape.ANY, Shape.MOVIES):
            want = Asked(Shape.MOVIES, "a follow-up of a list of movies")
        elif want.shape is Shape.ANY and r.ranked_figure:
            if any(at and at[0] in (r.ranked_end, r.ranked_end + 1) for _, at in r.dimensions):
                want = Asked(Shape.PER_GROUP, "a figure ranks the groups named after it")
            else:
                want = Asked(Shape.MOVIES, "a movie's own figure is ranked")
        named = (
            {name for name, _ in r.dimensions}
            | {_dimension(f[0]) for f in r.filters}
            | set(r.flags)
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
            elif (word in en.CAST_CONTEXT and named & PERSON_DIMENSIONS) or (
                word in en.DIRECTOR_CONTEXT and "movie__director_name" in named
            ):
                r.used[k] = True  # "actors who appear…", "directors who directed…"
        sharing = self._share_asked(r)
        left = [w for w, used in zip(r.tokens, r.used, strict=True) if not used]
        unknown = [
            w for w in left
            if w not in en.FILLER and en.singular(w) not in en.FILLER and w not in ("many", "how")
        ]  # fmt: skip
        if unknown:
            named = _names_in(question, unknown)
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
            raise Unanswerable(reason, r.described, self._suggest(unknown))
        outside = [(kind, value) for kind, value, *_ in r.filters if kind in NOT_IN_SEMANTIC_LAYER]
        if outside:
            kind, value = outside[0]
            raise Unanswerable(
                f"'{value}' is a {NOT_IN_SEMANTIC_LAYER[kind]}, and the semantic layer has no"
                " dimension to filter on it yet, so the built-in engine cannot answer this.",
                r.described,
                ["the same question without it", *self._suggest([])[:1]],
            )
        self._count_distinct(r, left, want)
        metrics = list(r.metrics)
        if not metrics and ("many" in left or "number" in left or "count" in left):
            metrics = ["movies"]
        movie_shaped = want.shape in (Shape.MOVIES, Shape.MOVIE_ATTRIBUTE)
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
                self._suggest(left),
            )
        where: list[str] = []
        group_by: list[str] = []
        described = list(r.described)
        by_dimension: dict[str, list[tuple[str, bool]]] = {}
        grouped = [name for name, _ in r.dimensions]
        for kind, value, span, near, (same, negated) in r.filters:
            kind = self._reachable_kind(kind, same, metrics, grouped, by_dimension)
            by_dimension.setdefault(_dimension(kind), []).append((value, negated))
            also = f" (also: {', '.join(m.value for m in near)})" if near else ""
            what = self.catalog.dimensions[_dimension(kind)].label.lower() if "@" in kind else kind
            described.append(f"'{span}' → {'not ' if negated else ''}{what} {value}{also}")
        for name in grouped:
            single = [v for v, negated in by_dimension.get(name, []) if not negated]
            if len(single) != 1 and name not in group_by:
                group_by.append(name)
                described.append(f"by {self.catalog.dimensions[name].label.lower()}")
        for dimension, values in by_dimension.items():
            ref = _ref(dimension)
            kept = sorted({v for v, negated in values if not negated})
            for value in sorted({v for v, negated in values if negated}):
                where.append(f"{ref} != {_quote(value)}")
            if len(kept) == 1:
                where.append(f"{ref} = {_quote(kept[0])}")
            elif kept:
                where.append(f"{ref} in ({', '.join(_quote(v) for v in kept)})")
                if dimension not in group_by and dimension != MOVIE_TITLE:
                    group_by.append(dimension)  # several values named: one figure each
        for flag in r.flags:
            where.append(_ref(flag))
        for name in r.known:
            where.append(f"{_ref(name)} is not null")
            described.append(f"with a {self.catalog.dimensions[name].label.lower()}")
        for figure, bound in r.thresholds:
            info = self.catalog.dimensions[figure]
            where.append(bound.condition(_ref(figure), info.unit))
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
            where.append(f"{_ref(decade)} in ({', '.join(str(d) for d in sorted(r.decades))})")
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
            return self._share(r, want, metrics, where, group_by, described)
        if movie_shaped:
            query = self._movie_query(r, want, metrics, where, group_by, described, by_dimension)
            return self._checked(Understood(query, described, None), want)
        for name in group_by:  # "by certification", "which directors": among the known values
            if name.startswith(METRIC_TIME):
                where.append(f"{{{{ TimeDimension('{METRIC_TIME}', 'day') }}}} is not null")
            else:
                where.append(f"{_ref(name)} is not null")
        metrics = [self._reachable(m, group_by, by_dimension) for m in metrics]
        order_by: list[str] = []
        limit = r.limit
        if r.ranked_figure is not None:
            metrics = self._aggregate_of_figure(r, metrics, group_by, described)
        if r.ranked_figure is not None and not group_by:
            raise Unanswerable(
                f"'{self.catalog.dimensions[r.ranked_figure].label}' ranks movies, but the"
                " question does not ask for movies.",
                described,
                [f"Which 10 movies have the highest {self._figure_label(r.ranked_figure)}?"],
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
        return self._checked(Understood(query, described, _chart(query)), want)

    @staticmethod
    def _share_asked(r: _Reading) -> bool:
        """'what fraction of films are comedies': a share of a count left after the reading
        (a ratio metric's own share, "share of hits", was read as that metric already)."""
        found = False
        for k, word in enumerate(r.tokens):
            if not r.used[k] and word == en.SHARE and set(r.metrics) <= {"movies"}:
                r.used[k] = found = True
        return found

    def _share(
        self,
        r: _Reading,
        want: Asked,
        metrics: list[str],
        where: list[str],
        group_by: list[str],
        described: list[str],
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
        condition = self._share_condition(r)
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
        return self._checked(understood, want)

    def _share_condition(self, r: _Reading) -> str | None:
        """The filter string of the last condition named: a value, a bound or a 'has a'."""
        values = [f for f in r.filters if not f[4][1] and f[0] != "title"]
        if values:
            kind, value = values[-1][0], values[-1][1]
            dimension = _dimension(kind)
            if sum(1 for f in r.filters if _dimension(f[0]) == dimension) > 1:
                return None  # "dramas that are also romances": one genre row cannot hold two
            return f"{_ref(dimension)} = {_quote(value)}"
        if r.thresholds:
            figure, bound = r.thresholds[-1]
            return bound.condition(_ref(figure), self.catalog.dimensions[figure].unit)
        if r.known:
            return f"{_ref(r.known[-1])} is not null"
        if r.flags:
            return _ref(r.flags[-1])
        return None

    def _asked(self, r: _Reading, question: str, titled: bool) -> Asked:
        """The shape the question asks for (`api.ask.shape`), told what grounding found."""
        counts: dict[str, int] = {}
        for kind, _, _, _, (_, negated) in r.filters:
            if not negated:  # a director and an actor named side by side: people, either way
                key = _dimension("director" if kind == "person" else kind)
                counts[key] = counts.get(key, 0) + 1
        if r.year_set:
            counts[METRIC_TIME] = len(r.year_set)
        if len(r.decades) >= 2 and "decade" in self.calendar:
            counts[self.calendar["decade"]] = len(r.decades)
        want = asked(question, counts, titled, self.groups)
        lead = next((w for w in r.tokens if w not in ("so", "and", "ok", "please")), "")
        strong = set(r.metrics) - {"movies"}
        if want.shape is Shape.ANY and lead in en.LISTING and r.filters and not strong:
            return Asked(Shape.MOVIES, "'which' or 'list' before the films' values")
        return want

    def _checked(self, understood: Understood, want: Asked) -> Understood:
        """The query, if its rows have the asked shape; otherwise an honest refusal."""
        try:
            check(understood.query, want, self.catalog)
        except ShapeMismatch as exc:
            raise Unanswerable(str(exc), understood.described, self._suggest([])) from None
        understood.shape = want.shape
        return understood

    def _count_distinct(self, r: _Reading, left: list[str], want: Asked) -> None:
        """ "How many directors": one number, the metric that counts a dimension's values."""
        if want.shape is not Shape.FIGURE or set(r.metrics) - {"movies"}:
            return
        for name, at in list(r.dimensions):
            metric = self.counting.get(name)
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
                    r.described[:] = [d for d in r.described if d != self._label("movies")]
                r.metrics.append(metric)
                r.dimensions.remove((name, at))
                r.described.append(self.catalog.metrics[metric].label)
                return

    def _movie_query(
        self,
        r: _Reading,
        want: Asked,
        metrics: list[str],
        where: list[str],
        group_by: list[str],
        described: list[str],
        by_dimension: dict[str, list[tuple[str, bool]]],
    ) -> MetricQuery:
        """Movies listed or ranked, or one movie's attributes: one row per film (its id, title
        and year, so two films of one title stay apart), ranked by a figure of the movie."""
        per_movie = {d.per_movie: name for name, d in self.figures.items()}
        figure = r.ranked_figure
        measured = [m for m in metrics if m in per_movie]
        other = [m for m in metrics if m not in per_movie and m != "movies"]
        if other:
            label = self.catalog.metrics[other[0]].label
            raise Unanswerable(
                f"'{label}' is a figure of a group of movies, not of one movie, so the built-in"
                " engine cannot list or rank movies by it.",
                described,
                self._suggest([]),
            )
        if figure is None and measured:
            figure = per_movie[measured[0]]
        shown = [self.figures[figure].per_movie] if figure else []
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
                + ", ".join(
                    self.catalog.dimensions[self.catalog.dimension_of(g)].label.lower()
                    for g in group_by
                )
                + ": ask for one or the other.",
                described,
                self._suggest([]),
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
            order_by = [("-" if r.descending else "") + self.figures[figure].per_movie, MOVIE_TITLE]
            where.append(f"{_ref(figure)} is not null")
            if limit is None:
                limit = DEFAULT_TOP if self._plural_movies(r) else 1
        else:
            order_by = [MOVIE_TITLE, MOVIE_YEAR]
        ranked = order_by[0].lstrip("-") in shown
        settled = self._listing(r) or r.listing  # "list…", or a follow-up of a list
        if shown and want.shape is Shape.MOVIES and not ranked and not settled:
            figure_label = self.catalog.metrics[shown[0]].label.lower()
            raise Unanswerable(
                f"Did you mean each movie's {figure_label} (a list of movies) or their"
                f" {figure_label} together (one figure)? Say 'list' or 'each' for the first,"
                " 'total' or 'average' for the second.",
                described,
                [],
            )
        described.append("one row per movie")
        return MetricQuery(
            metrics=[self._reachable(m, keys, by_dimension) for m in shown or ["movies"]],
            group_by=keys,
            where=list(dict.fromkeys(where)),
            order_by=order_by,
            limit=limit,
        )

    @staticmethod
    def _listing(r: _Reading) -> bool:
        """'list', 'each', 'which', 'show': the question asks for the movies one by one."""
        return bool(set(r.tokens) & {"list", "each", "every", "which", "show", "name", "per"})

    def _aggregate_of_figure(
        self, r: _Reading, metrics: list[str], group_by: list[str], described: list[str]
    ) -> list[str]:
        """'which genre has the longest average running time': a movie's figure ranked per
        group is ranked by its aggregate, said in words ('average', 'total'); without one, the
        question is refused (the highest film of each group is another question)."""
        if not group_by:
            return metrics
        said = {"average", "median", "total", "combined", "overall"} & set(r.tokens)
        figure = self.figures[r.ranked_figure]
        named = [m for m in metrics if m != "movies"]
        label = self.catalog.metrics[figure.per_movie].label.lower()
        if not said and not named and label.startswith("total"):
            said = {"total"}  # "the most profitable collections": their profits added up
        if not said:
            what = self._figure_label(r.ranked_figure)
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
                    f" {self._figure_label(r.ranked_figure)} to rank by.",
                    described,
                    [],
                )
            named = [figure.per_movie]
        r.ranked_figure = None  # ranked by the aggregate, as any metric per group
        return named

    def _label(self, metric: str) -> str:
        return self.catalog.metrics[metric].label

    @staticmethod
    def _plural_movies(r: _Reading) -> bool:
        """'the longest films' asks for several; 'the longest film' for one."""
        nouns = [w for w in r.tokens if en.singular(w) in en.MOVIE_NOUNS]
        return any(en.singular(w) != w for w in nouns)

    def _figure_label(self, figure: str) -> str:
        return self.catalog.dimensions[figure].label.lower().replace(" (usd)", "")

    def _settle_dimensions(self, r: _Reading) -> None:
        """Dimensions that are not groupings: a yes/no one ("top billed") is a filter; one
        whose values are a grounded kind ("Drama as primary genre") takes that filter; a
        dimension named only by a function word ("titles") groups only after by, per…"""
        settled = []
        for name, at in r.dimensions:
            if at is None:
                settled.append((name, at))
                continue
            short = name.split("__")[-1]
            if short.startswith("is_"):
                r.flags.append(name)
                continue
            kind = VALUES_OF.get(name)
            moved = False
            for f, (fkind, value, span, near, extra) in enumerate(r.filters):
                if kind == fkind:
                    r.filters[f] = (f"{fkind}@{name}", value, span, near, extra)
                    moved = True
            if moved:
                continue
            if all(w in en.FILLER for w in _phrase_words(short)) and not _cued(r, at[0]):
                continue
            if at[0] > 0 and r.tokens[at[0] - 1] in ("a", "an", "any"):
                r.known.append(name)  # "part of a collection": movies that have one
                continue
            settled.append((name, at))
        r.dimensions[:] = [d for d in settled if d[0] not in r.known]

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

    def _reachable(self, metric: str, group_by: list[str], filtered: dict[str, list[str]]) -> str:
        """The metric, or the one that stands for it where it cannot go ("movies" of an actor
        are the actor's cast appearances)."""
        needed = {self.catalog.dimension_of(g) for g in group_by} | set(filtered)
        if needed <= set(self.catalog.metrics[metric].dimensions):
            return metric
        for other in self.catalog.metrics.values():
            if other.stands_for == metric and needed <= set(other.dimensions):
                return other.name
        return metric  # the compile step explains what cannot be reached

    def _suggest(self, unknown: list[str]) -> list[str]:
        labels = {m.label: m.name for m in self.catalog.metrics.values()}
        near = closest(" ".join(unknown), list(labels), limit=3) if unknown else []
        examples = [q.description for q in list(self.catalog.saved_queries.values())[:2]]
        return [*near, *examples] or ["What is the success rate by genre?"]


@dataclass
class _Reading:
    tokens: list[str]
    used: list[bool] = field(init=False)
    described: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    phrases: list[tuple[list[int], list[Phrase]]] = field(default_factory=list)
    dimension_at: dict[int, str] = field(default_factory=dict)  # token → dimension phrase
    # (name, the positions of the words that named it; None when carried over from a turn)
    dimensions: list[tuple[str, list[int] | None]] = field(default_factory=list)
    filters: list[tuple[str, str, str, list]] = field(default_factory=list)
    years: tuple[int | None, int | None] = (None, None)
    year_set: list[int] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # yes/no dimensions said: "top billed"
    known: list[str] = field(default_factory=list)  # "in a collection": must have a value
    time_group: str | None = None
    descending: bool | None = None
    limit: int | None = None
    bounds: list[numbers.Bound] = field(default_factory=list)  # amounts, by placeholder
    thresholds: list[tuple[str, numbers.Bound]] = field(default_factory=list)  # (figure, bound)
    ranked_figure: str | None = None  # "the longest": the figure dimension ranked
    ranked_end: int = -1  # the token after that superlative
    calendar_group: str | None = None  # "which month": a calendar dimension to group by
    calendar_filters: list[str] = field(default_factory=list)  # "in March", "Q3 2005"
    decades: list[int] = field(default_factory=list)  # decades named, in order
    attributes: list[str] = field(default_factory=list)  # "who directed X": what to show
    listing: bool = False  # a follow-up of a list of movies

    def __post_init__(self) -> None:
        self.used = [False] * len(self.tokens)

    def take(self, start: int, end: int, what: str | None) -> None:
        for k in range(max(0, start), min(end, len(self.tokens))):
            self.used[k] = True
        if what:
            self.described.append(what)


def _names_in(question: str, unknown: list[str]) -> list[str]:
    """Runs of capitalised words of the question that the engine could not place: names."""
    left = set(unknown)
    names, run = [], []
    for word in [*re.findall(r"[\w'-]+", question)[1:], ""]:
        if word[:1].isupper() and normalize(word) in left:
            run.append(word)
        elif run:
            names.append(" ".join(run))
            run = []
    return names


def _one_person(span: list[str], matches: list, understood: list[str]) -> None:
    """A part of a name that names several people equally well ("Taylor": Lucia Taylor and
    Emma Taylor) is a question back, never a guess by who has more films."""
    best = matches[0]
    if best.kind not in PARTIAL_KINDS or len(span) >= len(normalize(best.value).split()):
        return
    # A director named in part is the director when the rivals only acted or crewed: "Kubrick's
    # films" are Stanley Kubrick's, not those of an actress of the same surname.
    kinds = {"director"} if best.kind == "director" else PARTIAL_KINDS
    rivals = sorted(
        {
            m.value
            for m in matches[1:]
            if m.kind in kinds
            and m.value != best.value
            and m.score >= best.score
            and best.weight < DOMINANCE * m.weight  # far better known: "Kubrick", "DiCaprio"
        }
    )
    if rivals:
        names = [best.value, *rivals[:3]]
        raise Unanswerable(
            f"'{' '.join(span)}' could be {', '.join(names[:-1])} or {names[-1]}: which one did"
            " you mean? Give the full name.",
            understood,
            [],
        )


def _one_role(matches: list, understood: list[str]) -> None:
    """A director who acted in as many films as they directed, named with no role word
    ("Arjun Rossi movies"), could mean either: asked back, naming both readings."""
    name = matches[0].value
    directed = max((m.weight for m in matches if m.kind == "director" and m.value == name),
                   default=0)  # fmt: skip
    acted = max((m.weight for m in matches if m.kind == "person" and m.value == name),
                default=0)  # fmt: skip
    if directed and acted and acted >= directed:
        raise Unanswerable(
            f"{name} both directed ({directed}) and acted in ({acted}) films: did you mean the"
            f" films {name} directed or those they acted in?",
            understood,
            [f"movies directed by {name}", f"movies starring {name}"],
        )


def _negation_before(t: list[str], i: int) -> int | None:
    """Where a negation starts just before position i ("not in", "other than", "excluding")."""
    k = i - 1
    while k >= 0 and t[k] in ("in", "a", "an", "the", "of"):
        k -= 1
    if k >= 0 and t[k] in en.NEGATIONS:
        return k
    if k >= 1 and (t[k - 1], t[k]) in en.NEGATION_PAIRS:
        return k - 1
    return None


def _cued(r: _Reading, start: int) -> bool:
    """A grouping word ("by", "per", "which"…) just before the phrase that starts at `start`."""
    return start > 0 and r.tokens[start - 1] in GROUP_CUES


def _dimension(kind: str) -> str:
    """The dimension a grounded kind filters on ("genre@movie__primary_genre": moved there)."""
    return kind.split("@", 1)[1] if "@" in kind else DIMENSION_OF_KIND.get(kind, kind)


FOLLOW_UP_CUES = frozenset({"and", "now", "only", "just", "same", "also", "but", "then"})
CHART_TYPES = ("bar", "line", "scatter", "histogram", "pie")


def _chart_words(r: _Reading) -> str | None:
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


_REFERENCE_NAME = re.compile(r"(?:Dimension|TimeDimension)\(\s*'([a-z0-9_]+)'")


def _dimensions_of(condition: str) -> set[str]:
    return set(_REFERENCE_NAME.findall(condition))


def _ref(dimension: str) -> str:
    return f"{{{{ Dimension('{dimension}') }}}}"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _same_word(token: str, word: str) -> bool:
    if token == word:
        return True
    return len(word) >= 5 and len(token) >= 4 and fuzz.ratio(token, word) >= 85


def _number(t: list[str], i: int) -> tuple[int, int] | None:
    if t[i].isdigit() and not _YEAR.match(t[i]) and 0 < int(t[i]) <= 1000:
        return int(t[i]), 1
    if i + 1 < len(t) and f"{t[i]} {t[i + 1]}" in en.NUMBERS:
        return en.NUMBERS[f"{t[i]} {t[i + 1]}"], 2
    if t[i] in en.NUMBERS:
        return en.NUMBERS[t[i]], 1
    return None


def _chart(query: MetricQuery) -> dict[str, Any] | None:
    if not query.group_by:
        return None
    x = query.group_by[0]
    kind = "line" if x.startswith(METRIC_TIME) else "bar"
    return {"type": kind, "x": x, "y": query.metrics[0]}
