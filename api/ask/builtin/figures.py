"""A movie's figures and the numbers around them: a figure ranked in one word ("the longest",
"highest rated", "cheapest"), an amount bounding a figure ("cost more than $80M", "rated 7.5
or higher": the amount itself is parsed from the raw question by `numbers`, and attached here
to the figure a word near it names), the words of order ("most", "lowest") and a count of rows
asked for ("top 5", "the 3 genres")."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from api.ask.builtin import numbers
from api.ask.builtin import words as en
from api.ask.builtin.calendar import YEAR_TOKEN
from api.ask.builtin.reading import Reading, Unanswerable
from api.grounding.index import normalize
from api.semantic.catalog import DimensionInfo

# "the 5 genres", "top 3 directors": a count of rows asked for.
LIMIT_CUES = frozenset({"the", "top", "which", "what", "show", "list", "give", "first"})


@dataclass(frozen=True)
class FigureWords:
    """How a question names each figure, read once from the semantic layer's `meta` when the
    engine is built (not per question): its one-word superlatives, the words that name it
    (label, name, synonyms), and the one-word names of "have a budget"."""

    figures: Mapping[str, DimensionInfo]
    superlatives: tuple[tuple[tuple[str, ...], str, bool], ...]  # (words, figure, descending)
    names: tuple[tuple[tuple[str, ...], str], ...]  # (words, figure), longest first
    single: Mapping[str, str]  # one word → figure

    @classmethod
    def of(cls, figures: Mapping[str, DimensionInfo]) -> FigureWords:
        superlatives = sorted(
            (
                (tuple(normalize(said).split()), name, direction == "desc")
                for name, d in figures.items()
                for direction, said_ in d.superlatives.items()
                for said in said_
            ),
            key=lambda f: -len(f[0]),
        )
        names: dict[tuple[str, ...], str] = {}
        for name, d in figures.items():
            for said in (d.label, name.split("__")[-1], *d.synonyms):
                key = tuple(normalize(re.sub(r"\(.*?\)", " ", said)).split())
                if key:
                    names.setdefault(key, name)
        single = {
            w: name
            for name, d in figures.items()
            for w in (name.split("__")[-1], *d.synonyms)
            if " " not in w
        }
        return cls(
            figures,
            tuple(superlatives),
            tuple(sorted(names.items(), key=lambda kv: -len(kv[0]))),
            single,
        )


def read_figures(r: Reading, words: FigureWords) -> None:
    """A movie's figures: ranked in one word ("the longest", "highest rated", "cheapest"),
    and bounded by an amount ("cost more than $80M", "rated 7.5 or higher")."""
    t = r.tokens
    _known_figures(r, words)
    for said, name, descending in words.superlatives:
        n = len(said)
        for i in range(len(t) - n + 1):
            if tuple(t[i : i + n]) == said and not any(r.used[i : i + n]):
                if r.ranked_figure not in (None, name):
                    raise Unanswerable(
                        "The question ranks movies by two figures"
                        f" ({figure_label(words.figures, r.ranked_figure)} and"
                        f" {figure_label(words.figures, name)}); ask for one.",
                        r.described,
                        [],
                    )
                r.ranked_figure, r.descending, r.ranked_end = name, descending, i + n
                r.take(i, i + n, f"{' '.join(said)} first")
    for i, word in enumerate(t):
        if not word.startswith(numbers.PLACEHOLDER):
            continue
        bound = r.bounds[int(word[len(numbers.PLACEHOLDER) :])]
        r.thresholds.append((figure_near(r, i, bound, words), bound))
        r.used[i] = True


def _known_figures(r: Reading, words: FigureWords) -> None:
    """'movies that have a budget', 'films with a known rating': the figure must be known (a
    filter), not summed."""
    t = r.tokens
    for i in range(len(t) - 2):
        if t[i] in ("have", "has", "had", "with") and t[i + 1] in ("a", "an", "any", "known"):
            name = words.single.get(t[i + 2])
            bounded = any(w.startswith(numbers.PLACEHOLDER) for w in t[i + 3 : i + 5])
            if name is not None and not bounded and not any(r.used[i : i + 3]):
                r.known.append(name)
                r.take(i, i + 3, None)


def figure_near(r: Reading, i: int, bound: numbers.Bound, words: FigureWords) -> str:
    """The figure an amount bounds: said by a word near it ("cost", "rated", "votes"),
    or by its unit (hours and minutes are a runtime)."""
    t = r.tokens
    fits = {
        name
        for name, d in words.figures.items()
        if bound.kind is None
        or (bound.kind == "money" and d.unit == "usd")
        or (bound.kind == "duration" and d.unit == "minutes")
    }
    near = sorted(
        [*range(max(0, i - 4), i), *range(i + 1, min(len(t), i + 4))],
        key=lambda k: (abs(k - i), k > i),
    )
    for k in near:
        for key, name in words.names:
            n = len(key)
            if name in fits and tuple(t[k : k + n]) == key and not any(r.used[k : k + n]):
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


def read_order(r: Reading) -> None:
    """The words of order ("most", "lowest") and a count of rows ("top 5", "the 3 genres")."""
    t = r.tokens
    ranked = en.DESCENDING | en.ASCENDING
    for i, word in enumerate(t):
        if r.used[i]:
            continue
        if word in ranked:
            r.descending = word in en.DESCENDING
            r.rank_word = word
            r.take(i, i + 1, "highest first" if r.descending else "lowest first")
            number = number_at(t, i + 1) if i + 1 < len(t) else None
            if number:
                r.limit = number[0]
                r.take(i + 1, i + 1 + number[1], f"top {number[0]}")
            continue
        number = number_at(t, i)
        if number is None:
            continue
        after = t[i + number[1]] if i + number[1] < len(t) else ""
        if after in ranked or (i and t[i - 1] in LIMIT_CUES):
            r.limit = number[0]
            r.take(i, i + number[1], f"{number[0]} rows")


def number_at(t: list[str], i: int) -> tuple[int, int] | None:
    """(a count, tokens used) at i: "5", "twenty five"; never a year."""
    if t[i].isdigit() and not YEAR_TOKEN.match(t[i]) and 0 < int(t[i]) <= 1000:
        return int(t[i]), 1
    if i + 1 < len(t) and f"{t[i]} {t[i + 1]}" in en.NUMBERS:
        return en.NUMBERS[f"{t[i]} {t[i + 1]}"], 2
    if t[i] in en.NUMBERS:
        return en.NUMBERS[t[i]], 1
    return None


def figure_label(dimensions: Mapping[str, DimensionInfo], figure: str) -> str:
    """A figure's label in a sentence: "budget", "runtime"."""
    return dimensions[figure].label.lower().replace(" (usd)", "")
