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

from api.builtin import words as en
from api.grounding.index import normalize
from api.grounding.values import DIMENSION_OF_KIND, Values
from api.semantic.catalog import METRIC_TIME, Catalog, closest
from api.semantic.query import MetricQuery

ENGINE = "builtin"
DEFAULT_TOP = 10
MAX_SPAN = 4  # words in a grounded value's span
# "the 5 genres", "top 3 directors": a count of rows asked for.
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
    grounded: list[str] = field(default_factory=list)


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
        for text in (metric.label, metric.name, *metric.synonyms):
            add(text, "metric", metric.name)
    for dimension in catalog.dimensions.values():
        if dimension.type == "time":
            continue  # time is read by `_time`: grains, years and ranges
        short = dimension.name.split("__")[-1]
        for text in (dimension.label, short, *dimension.synonyms):
            add(text, "dimension", dimension.name)
    return sorted(found.values(), key=lambda p: (-len(p.words), p.words))


class BuiltinEngine:
    def __init__(self, catalog: Catalog, values: Values | None) -> None:
        self.catalog = catalog
        self.values = values
        self.phrases = phrases(catalog)

    # -- reading -----------------------------------------------------------------------------
    def understand(self, question: str) -> Understood:
        text = normalize(question)
        if en.WRITE_REQUEST.search(text):
            raise Unanswerable(
                "This product only reads the data: requests to change it are refused.",
                [],
                ["ask a question about the movies instead"],
            )
        raw = [en.ABBREVIATIONS.get(w, w) for w in text.split()]
        tokens = [t for w in raw for t in w.split()]
        reading = _Reading(tokens)
        self._time(reading)
        self._order(reading)
        self._match_phrases(reading)
        self._decide(reading)
        self._ground(reading)
        return self._compose(reading, question)

    def mentions(self, question: str) -> list[str]:
        """The values a question names ("'kubrik' → director Stanley Kubrick (dimension
        movie__director_name)"), for a language model's prompt."""
        reading = _Reading([t for w in normalize(question).split() for t in w.split()])
        self._time(reading)
        self._order(reading)
        self._match_phrases(reading)
        self._decide(reading)
        self._ground(reading)
        return [
            f"'{span}' → {kind} {value} (dimension {DIMENSION_OF_KIND[kind]})"
            + (f"; also {', '.join(m.value for m in near)}" if near else "")
            for kind, value, span, near in reading.filters
        ]

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
                r.years = (start, start + 9)
                r.take(i - 1 if i and t[i - 1] == "the" else i, i + width, f"{start}s")
                continue
            if not _YEAR.match(t[i]):
                continue
            year, prev = int(t[i]), (t[i - 1] if i else "")
            j = i + 1
            ranged = (
                j + 1 < len(t)
                and t[j] in ("to", "through", "thru", "until", "till", "and")
                and _YEAR.match(t[j + 1])
                and (t[j] != "and" or prev == "between")
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
        for phrase in self.phrases:
            n = len(phrase.words)
            for i in range(len(singular) - n + 1):
                if tuple(singular[i : i + n]) != phrase.words or any(r.used[i : i + n]):
                    continue
                readings = [p for p in self.phrases if p.words == phrase.words]
                r.phrases.append((i, r.tokens[i + n - 1], readings))
                r.take(i, i + n, None)

    def _decide(self, r: _Reading) -> None:
        """Settle each phrase: a metric, or a dimension to group by. Words that name both
        ("actors") are a dimension when the question names another metric ("actors with the
        most movies"); a metric named only by words such as "movies" counts only when no
        other metric is named."""

        def is_weak(phrase: Phrase) -> bool:
            return all(w in en.FILLER for w in phrase.words)

        metrics = [
            (p, is_weak(p))
            for _, _, readings in r.phrases
            if len(readings) == 1 and readings[0].kind == "metric"
            for p in readings
        ]
        ambiguous = [
            (last, readings)
            for _, last, readings in r.phrases
            if len({p.kind for p in readings}) > 1
        ]
        for _, last, readings in r.phrases:
            if all(p.kind == "dimension" for p in readings):
                r.dimensions.append((readings[0].name, last))
        for last, readings in ambiguous:
            metric = next(p for p in readings if p.kind == "metric")
            dimension = next(p for p in readings if p.kind == "dimension")
            if metrics:
                r.dimensions.append((dimension.name, last))
            else:
                metrics.append((metric, False))
        strong = [p for p, weak in metrics if not weak]
        for phrase in strong or [p for p, _ in metrics]:
            if phrase.name not in r.metrics:
                r.metrics.append(phrase.name)
                r.described.append(self.catalog.metrics[phrase.name].label)

    def _ground(self, r: _Reading) -> None:
        """Spans of the words left (not function words) looked up as values of the marts."""
        if self.values is None:
            return
        t = r.tokens
        i = 0
        while i < len(t):
            if r.used[i] or t[i] in en.FILLER:
                i += 1
                continue
            for n in range(min(MAX_SPAN, len(t) - i), 0, -1):
                span = t[i : i + n]
                if any(r.used[i : i + n]) or span[-1] in en.FILLER:
                    continue
                matches = self.values.lookup(" ".join(span), self._kinds_near(t, i, n))
                if not matches and n == 1 and en.singular(span[0]) != span[0]:
                    matches = self.values.lookup(en.singular(span[0]), self._kinds_near(t, i, n))
                if matches:
                    best = matches[0]
                    near = [m for m in matches[1:4] if m.kind == best.kind]
                    r.filters.append((best.kind, best.value, " ".join(span), near))
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
        around = set(t[max(0, i - 3) : i]) | set(t[i + n : i + n + 3])
        kinds = list(DIMENSION_OF_KIND)
        if around & en.DIRECTOR_CONTEXT and not around & en.CAST_CONTEXT:
            kinds.remove("person")
        elif around & en.CAST_CONTEXT:
            kinds.remove("director")
        return kinds

    # -- composing ----------------------------------------------------------------------------
    def _compose(self, r: _Reading, question: str) -> Understood:
        named = {name for name, _ in r.dimensions} | {
            DIMENSION_OF_KIND[kind] for kind, *_ in r.filters
        }
        for k, word in enumerate(r.tokens):
            if r.used[k]:
                continue
            if en.singular(word) in GRAINS and r.time_group is None:
                r.time_group = f"{METRIC_TIME}__{en.singular(word)}"  # "by genre and year"
                r.take(k, k + 1, f"by {en.singular(word)}")
            elif (word in en.CAST_CONTEXT and "person__name" in named) or (
                word in en.DIRECTOR_CONTEXT and "movie__director_name" in named
            ):
                r.used[k] = True  # "actors who appear…", "directors who directed…"
        left = [w for w, used in zip(r.tokens, r.used, strict=True) if not used]
        unknown = [w for w in left if w not in en.FILLER and w != "many" and w != "how"]
        if unknown:
            raise Unanswerable(
                f"The built-in engine could not place {' '.join(repr(w) for w in unknown)}"
                " in a metric query.",
                r.described,
                self._suggest(unknown),
            )
        metrics = list(r.metrics)
        if not metrics and ("many" in left or "number" in left or "count" in left):
            metrics = ["movies"]
        if not metrics:
            raise Unanswerable(
                "The question names no metric the semantic layer defines.",
                r.described,
                self._suggest(left),
            )
        where: list[str] = []
        group_by: list[str] = []
        described = list(r.described)
        by_dimension: dict[str, list[str]] = {}
        for kind, value, span, near in r.filters:
            by_dimension.setdefault(DIMENSION_OF_KIND[kind], []).append(value)
            also = f" (also: {', '.join(m.value for m in near)})" if near else ""
            described.append(f"'{span}' → {kind} {value}{also}")
        for name, _ in r.dimensions:
            if name not in by_dimension and name not in group_by:
                group_by.append(name)
                described.append(f"by {self.catalog.dimensions[name].label.lower()}")
        for dimension, values in by_dimension.items():
            quoted = ", ".join("'" + v.replace("'", "''") + "'" for v in values)
            ref = f"{{{{ Dimension('{dimension}') }}}}"
            if len(values) == 1:
                where.append(f"{ref} = {quoted}")
            else:
                where.append(f"{ref} in ({quoted})")
                if dimension == "genre__genre_name" and dimension not in group_by:
                    group_by.append(dimension)  # several genres: each genre's own figure
        if r.time_group:
            group_by.append(r.time_group)
        if r.years != (None, None):
            lo, hi = r.years
            ref = f"{{{{ TimeDimension('{METRIC_TIME}', 'day') }}}}"
            if lo is not None:
                where.append(f"{ref} >= '{lo}-01-01'")
            if hi is not None:
                where.append(f"{ref} <= '{hi}-12-31'")
        metrics = [self._reachable(m, group_by, by_dimension) for m in metrics]
        order_by: list[str] = []
        limit = r.limit
        if r.descending is not None:
            if not group_by:
                raise Unanswerable(
                    "Highest or lowest of what? The question ranks nothing the metric is"
                    " grouped by.",
                    described,
                    [f"{self.catalog.metrics[metrics[0]].label} by genre, highest first"],
                )
            order_by = [("-" if r.descending else "") + metrics[0]]
            for name in group_by:  # "which directors": ranked among the known ones
                if not name.startswith(METRIC_TIME) and name not in by_dimension:
                    where.append(f"{{{{ Dimension('{name}') }}}} is not null")
            if limit is None:
                plural = any(en.singular(w) != w for _, w in r.dimensions)
                limit = DEFAULT_TOP if plural else 1
        elif limit is not None and group_by:
            order_by = ["-" + metrics[0]]
        query = MetricQuery(
            metrics=metrics, group_by=group_by, where=where, order_by=order_by, limit=limit
        )
        return Understood(query, described, _chart(query), [d for d in described if "→" in d])

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
    phrases: list[tuple[int, str, list[Phrase]]] = field(default_factory=list)
    dimensions: list[tuple[str, str]] = field(default_factory=list)  # (name, its last word)
    filters: list[tuple[str, str, str, list]] = field(default_factory=list)
    years: tuple[int | None, int | None] = (None, None)
    time_group: str | None = None
    descending: bool | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        self.used = [False] * len(self.tokens)

    def take(self, start: int, end: int, what: str | None) -> None:
        for k in range(max(0, start), min(end, len(self.tokens))):
            self.used[k] = True
        if what:
            self.described.append(what)


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
