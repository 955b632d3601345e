"""What the built-in engine's readers share: the `Reading` of a question they fill in, the
phrases they match, what the engine makes of it (`Understood`) or why it cannot
(`Unanswerable`), and the small helpers that write a filter on a dimension.

Each reader (`senses`, `values`, `calendar`, `figures`) takes the words it understands and
marks them used in the `Reading`; `shapes` and the engine then compose a `MetricQuery` from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from api.ask.builtin import numbers
from api.ask.builtin import words as en
from api.grounding.index import normalize
from api.grounding.values import DIMENSION_OF_KIND
from api.semantic.catalog import Catalog, closest
from api.semantic.query import MetricQuery

DEFAULT_TOP = 10
GROUP_CUES = frozenset({"by", "per", "each", "every", "which", "what", "across"})
_REFERENCE_NAME = re.compile(r"(?:Dimension|TimeDimension)\(\s*'([a-z0-9_]+)'")


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
    # A share: `query` counts the numerator, this the denominator (run together, both shown).
    denominator: MetricQuery | None = None


@dataclass
class Reading:
    """A question read so far: its tokens, which of them are understood (`used`), what each
    reader found, and `described`, the words of what was understood, for the answer."""

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
    year_at: dict[int, int] = field(default_factory=dict)  # a lone year's token → the year
    rank_word: str | None = None  # the word of order said ("most", "best", "lowest")
    capitalised: frozenset[str] = frozenset()  # words the question capitalises (names, titles)
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
    carried: bool = False  # a follow-up that keeps the earlier turn's grouping

    def __post_init__(self) -> None:
        self.used = [False] * len(self.tokens)

    def take(self, start: int, end: int, what: str | None) -> None:
        for k in range(max(0, start), min(end, len(self.tokens))):
            self.used[k] = True
        if what:
            self.described.append(what)


def phrase_words(text: str) -> tuple[str, ...]:
    """A name's words as a question's tokens are read: normalised, abbreviations spelled out,
    each word singular."""
    out: list[str] = []
    for word in normalize(text.replace("_", " ")).split():
        word = en.ABBREVIATIONS.get(word, word)
        out.extend(en.singular(w) for w in word.split())
    return tuple(out)


def kind_dimension(kind: str) -> str:
    """The dimension a grounded kind filters on ("genre@movie__primary_genre": moved there)."""
    return kind.split("@", 1)[1] if "@" in kind else DIMENSION_OF_KIND.get(kind, kind)


def dimensions_of(condition: str) -> set[str]:
    """The dimensions a filter condition refers to."""
    return set(_REFERENCE_NAME.findall(condition))


def dimension_ref(dimension: str) -> str:
    return f"{{{{ Dimension('{dimension}') }}}}"


def quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def suggest(catalog: Catalog, unknown: list[str]) -> list[str]:
    """What to ask instead: the metrics nearest the words not understood, and saved queries."""
    labels = {m.label: m.name for m in catalog.metrics.values()}
    near = closest(" ".join(unknown), list(labels), limit=3) if unknown else []
    examples = [q.description for q in list(catalog.saved_queries.values())[:2]]
    return [*near, *examples] or ["What is the success rate by genre?"]
