"""What a question asks for, and whether a query's result has that shape.

A wrong answer is worse than a refusal, and the commonest wrong answer is the right figure of the
wrong shape: a count by certification for "the highest rated movie", a list of directors for "how
many directors", one summed figure for two films of one title. So before any query runs, both
engines' queries pass `check`: the question's own words say what shape the answer must have
(one figure; one figure per named thing; figures per group; movies listed or ranked; one movie's
attributes), read here from the text alone, apart from how the engine read it, and a query whose
result would have another shape is refused (the built-in engine) or sent back once for
correction (Gemini). The cues are plain English, not phrases of any question set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from api.semantic.catalog import METRIC_TIME, MOVIE, Catalog
from api.semantic.query import MetricQuery


class Shape(StrEnum):
    FIGURE = "one figure"
    PER_NAMED = "one figure per named value"
    PER_GROUP = "figures per group"
    MOVIES = "movies listed or ranked, one row per film"
    MOVIE_ATTRIBUTE = "an attribute of one movie, one row per film of that title"
    ANY = "any"


class ShapeMismatch(ValueError):
    """The query answers a question of another shape than the one asked."""


_MOVIE = r"(?:movie|film|picture|flick|joint|title|feature)s?"
_COUNT = re.compile(r"\b(how many|number of|no\.? of|count of|count the|how much)\b")
_SHARE = re.compile(r"\b(share|percentage|percent|fraction|proportion|ratio|what part)\b|%")
_GROUPING = re.compile(
    r"\b(breakdown|broken down|split|grouped|over time|trend|trends|yearly|annually|annual"
    r"|monthly|quarterly|distribution|for each|in each)\b"
)
_GROUP_CUE = r"(?:by|per|each|every|across|which|what|top|bottom)"
_SPLIT_CUE = r"(?:by|per|each|every|across)"  # "which" asks an attribute of a named movie
# "which directors", "what genre", "top 5 directors": the noun after says what is ranked.
_WHICH = re.compile(r"\b(?:which|what|top|list|name|show|rank|ranking of)\b((?:\s+\S+){1,4})")
_SUPERLATIVE = re.compile(
    r"\b(most|least|highest|lowest|best|worst|biggest|smallest|largest|longest|shortest"
    r"|cheapest|priciest|top|bottom|greatest|fewest|\w+est)\b"
)
_ASKING = r"(?:list|name|show|give|which|what)"  # words that ask for the things themselves
_MOVIES_ASKED = re.compile(
    rf"\b(?:{_ASKING}|top|the \d+|the (?:one|two|three|four|five|six|seven"
    rf"|eight|nine|ten|twenty)|\d+)\b(?:\s+\S+){{0,4}}?\s+{_MOVIE}\b"
    rf"|\b{_MOVIE}\s+(?:that|which|with|released|directed|made|starring|rated|costing|cost"
    rf"|running|where|whose|from|in|of|by|over|under|above|below|longer|shorter|grossing"
    rf"|earning|featuring|without|not|between|at)\b"
    rf"|'s\s+(?:\w+\s+){{0,2}}{_MOVIE}\b"
    rf"|^(?:the\s+|all\s+)?(?:\w+\s+)?{_MOVIE}\b"  # "Films longer than…", "Horror movies from…"
)
_LIST_CUE = re.compile(rf"^\s*{_ASKING}\b(?:\s+\S+){{0,3}}?\s+{_MOVIE}\b")
_AGGREGATE = re.compile(
    r"\b(average|avg|mean|median|total|sum|overall|typical|rate|how many|number of|count"
    r"|combined|altogether|together|in all|aggregate)\b"
)
_AGGREGATE_OF_RANKED = re.compile(
    r"\b(?:average|avg|mean|median|total|sum|combined)\b(?:\s+\w+){0,3}?\s+of\s+(?:the\s+)?"
    r"(?:top|bottom|\d+|best|worst|highest|lowest|\w+est)\b"
)
_VERSUS = re.compile(r"\b(vs\.?|versus|compared (?:to|with)|compare|or|against|and)\b")


@dataclass(frozen=True)
class Asked:
    """The shape a question asks for, with the words that say so."""

    shape: Shape
    why: str
    named: tuple[str, ...] = ()  # dimensions with two or more values named: one figure each


def group_words(catalog: Catalog) -> frozenset[str]:
    """The nouns a grouping is said with ("by genre", "which directors"): every dimension's
    label, name and synonyms, and the calendar's grains."""
    found = {"year", "month", "quarter", "decade", "week", "day", "time"}
    for dimension in catalog.dimensions.values():
        if dimension.type == "entity" or dimension.per_movie:
            continue  # a movie's own figure ranks or bounds movies; it does not group them
        for text in (dimension.label, dimension.name.split("__")[-1], *dimension.synonyms):
            found.update(re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("_", " ")).split())
    return frozenset(found - _NOT_GROUPS)


# Words of dimension labels that say no grouping by themselves: function words, and the words
# of yes/no dimensions ("Commercial success", "Top billed"), which filter rather than group.
_NOT_GROUPS = frozenset(
    [
        "movie",
        "usd",
        "of",
        "the",
        "a",
        "an",
        "by",
        "for",
        "at",
        "is",
        "in",
        "on",
        "over",
        "per",
        "when",
        "first",
        "three",
        "top",
        "name",
        "known",
        "member",
        "metric",
        "model",
        "version",
        "status",
        "success",
        "commercial",
        "financially",
        "reliable",
        "hit",
        "flop",
        "billed",
        "billing",
        "lead",
        "leading",
        "minutes",
        "release",
        "is_",
        "us",
    ]
)


def asked(
    question: str,
    named: dict[str, int] | None = None,
    title: bool = False,
    groups: frozenset[str] = frozenset(),
) -> Asked:
    """The shape `question` asks for. `named` counts the values the question names per
    dimension (from grounding: `{"movie__director_name": 2}`), `title` says a movie's title is
    among them: neither can be read from the words alone. `groups` are the nouns a grouping
    is said with (`group_words`)."""
    text = " ".join(question.lower().replace("\u2019", "'").split())
    named = named or {}
    several = tuple(sorted(d for d, n in named.items() if n >= 2))
    counting = bool(_COUNT.search(text)) or bool(_SHARE.search(text))
    grouped = bool(_GROUPING.search(text)) or _cued_group(text, groups)
    if several and _VERSUS.search(text) and not _LIST_CUE.search(text):
        return Asked(Shape.PER_NAMED, "two or more values are named side by side", several)
    if title and not (_GROUPING.search(text) or _cued_group(text, groups, _SPLIT_CUE)):
        return Asked(Shape.MOVIE_ATTRIBUTE, "a movie is named by its title")
    if counting and not grouped:
        return Asked(Shape.FIGURE, "'how many' / a share asks for one figure")
    if _AGGREGATE_OF_RANKED.search(text):
        return Asked(Shape.FIGURE, "an aggregate of a ranked set ('the average of the top 10')")
    ranked_noun = _ranked_noun(text, groups)
    if (grouped and ranked_noun != "movie") or ranked_noun == "other":
        return Asked(Shape.PER_GROUP, "the question groups")
    if ranked_noun == "movie" or (
        _MOVIES_ASKED.search(text) and not counting and not _AGGREGATE.search(text)
    ):
        return Asked(Shape.MOVIES, "the question asks for movies")
    if grouped or ranked_noun:
        return Asked(Shape.PER_GROUP, "the question groups or ranks")
    return Asked(Shape.ANY, "")


def _cued_group(text: str, groups: frozenset[str], cue: str = _GROUP_CUE) -> bool:
    """A grouping cue followed closely by a grouping noun: "by genre", "per year", "each
    director", "which certification"."""
    words = re.findall(r"[a-z0-9]+", text)
    for i, word in enumerate(words):
        if not re.fullmatch(cue, word):
            continue
        ahead = words[i + 1 : i + 4]
        if word in (
            "which",
            "what",
            "top",
            "bottom",
        ):  # the noun itself: "which genre", "top 3 directors"
            ahead = ahead[1:2] if ahead[:1] and re.fullmatch(_COUNTED, ahead[0]) else ahead[:1]
        if any(_is_group(w, groups) for w in ahead):
            return True
    return False


_COUNTED = r"\d+|top|one|two|three|four|five|six|seven|eight|nine|ten|twenty|main|primary"


def _is_group(word: str, groups: frozenset[str]) -> bool:
    return word in groups or word.rstrip("s") in groups or word[:-3] + "y" in groups


def _ranked_noun(text: str, groups: frozenset[str] = frozenset()) -> str | None:
    """'movie' when the thing ranked or picked ("which 10 movies", "the longest film") is a
    movie, 'other' when it is something else ("which directors have the highest rated
    movies": directors are ranked), None when nothing is."""
    for match in _WHICH.finditer(text):
        words = match[1].split()
        for k, word in enumerate(words):
            if re.fullmatch(_MOVIE, word):
                return "movie"
            after_superlative = k > 0 and re.fullmatch(_SUPERLATIVE, words[k - 1])
            if _is_group(word, groups) and not after_superlative:  # not "highest rated"
                return "other"
            if re.fullmatch(r"\d+|the|a|an|one|two|three|four|five|ten|twenty|of|\w+est", word):
                continue
            if word in ("most", "least", "highest", "lowest", "best", "worst", "top"):
                continue
            break
    match = re.search(rf"\b{_SUPERLATIVE.pattern}(?:[\s-]+\w+){{0,3}}?\s+{_MOVIE}\b", text)
    if match and not re.search(rf"\b(most|fewest|least)\s+{_MOVIE}\b", text):
        return "movie"  # "the highest rated movie"; not "the most movies" (a count)
    return None


def check(query: MetricQuery, want: Asked) -> None:
    """Raise `ShapeMismatch` when the query's rows would not have the asked shape."""
    grouped = list(query.group_by)
    by_movie = MOVIE in grouped
    single = _single_valued(query)
    splitting = [g for g in grouped if Catalog.dimension_of(g) not in single and g != MOVIE]
    shape = want.shape
    if shape is Shape.ANY:
        return
    if shape is Shape.FIGURE:
        if by_movie or splitting:
            raise ShapeMismatch(
                f"The question asks for {shape} ({want.why}), but the query would return a"
                f" row per {_names(grouped)}."
            )
        return
    if shape is Shape.MOVIE_ATTRIBUTE:
        if not by_movie:
            raise ShapeMismatch(
                f"The question asks for {shape}, but the query does not keep films apart (it"
                " would add up every film of that title)."
            )
        return
    if shape is Shape.MOVIES:
        if not by_movie:
            raise ShapeMismatch(
                f"The question asks for {shape}, but the query returns"
                f" {'one figure' if not grouped else 'a row per ' + _names(grouped)}."
            )
        return
    if by_movie:
        raise ShapeMismatch(f"The question asks for {shape}, not a list of movies.")
    if shape is Shape.PER_NAMED:
        required = _multi_valued(query) or set(want.named)
        missing = [d for d in required if not any(Catalog.dimension_of(g) == d for g in grouped)]
        if missing:
            raise ShapeMismatch(
                f"The question asks for {shape}, but the query does not keep"
                f" {_names(missing)} apart."
            )
        return
    if not grouped:
        raise ShapeMismatch(f"The question asks for {shape}, but the query returns one figure.")


_EQUALS = re.compile(r"^\s*\{\{\s*(?:Time)?Dimension\(\s*'([a-z0-9_]+)'[^}]*\}\}\s*=\s*[^=<>]+$")


def _single_valued(query: MetricQuery) -> set[str]:
    """Dimensions the query filters to exactly one value: grouping by them adds no rows."""
    return {m[1] for w in query.where if (m := _EQUALS.match(w))}


_IN = re.compile(r"^\s*\{\{\s*(?:Time)?Dimension\(\s*'([a-z0-9_]+)'[^}]*\}\}\s+in\s*\(")


def _multi_valued(query: MetricQuery) -> set[str]:
    """Dimensions the query filters to a list of values: the sides of a comparison."""
    return {m[1] for w in query.where if (m := _IN.match(w))}


def _names(group_by: list[str]) -> str:
    return ", ".join(
        "year" if g.startswith(METRIC_TIME) else g.split("__")[-1].replace("_", " ")
        for g in group_by
    )
