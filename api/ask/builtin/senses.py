"""Words and senses: the semantic layer's names in a question. Every way the catalog names a
metric or a dimension (labels, names, synonyms) is a `Phrase`; a question's words are matched
against them longest first, typos forgiven, and each match is settled as a metric or as a
dimension to group by ("actors" is a metric alone, a grouping beside another metric).
Aggregations and shares said apart from their measure ("median movie budget") pick the metric
they name, and dimensions that are not groupings become filters ("top billed").

The English word lists themselves are in `words`."""

from __future__ import annotations

import re
from collections.abc import Iterator

from rapidfuzz import fuzz

from api.ask.builtin import words as en
from api.ask.builtin.reading import GROUP_CUES, Phrase, Reading, phrase_words
from api.semantic.catalog import Catalog

# A dimension whose values are those of a grounded kind: "Drama as the primary genre".
VALUES_OF = {"movie__primary_genre": "genre"}


MOVIES = "movies"  # the metric that counts movies, the default of a question about films


def movie_nouns(found: list[Phrase]) -> frozenset[str]:
    """The one-word names of the count of movies, from the semantic layer ("movie", "film",
    "flick", "title"…): the nouns a question names films with."""
    return frozenset(p.words[0] for p in found if p.name == MOVIES and len(p.words) == 1)


def phrases(catalog: Catalog) -> list[Phrase]:
    """Every way the catalog names a metric or a dimension, longest first."""
    found: dict[tuple[tuple[str, ...], str], Phrase] = {}

    def add(text: str, kind: str, name: str) -> None:
        key = phrase_words(re.sub(r"\(.*?\)", " ", text))
        if key and (key, kind) not in found:
            found[(key, kind)] = Phrase(key, kind, name)

    for metric in catalog.metrics.values():
        # A distinct count ("directors") is named by its dimension after "how many"
        # (`shapes.count_distinct`), so only its longer synonyms ("number of directors") are
        # phrases.
        names = metric.synonyms if metric.counts else (metric.label, metric.name, *metric.synonyms)
        for text in names:
            add(text, "metric", metric.name)
    for dimension in catalog.dimensions.values():
        if dimension.type in ("time", "entity") or dimension.calendar or dimension.per_movie:
            continue  # read apart: time and the calendar by `calendar`, figures by `figures`
        short = dimension.name.split("__")[-1]
        for text in (dimension.label, short, *dimension.synonyms):
            add(text, "dimension", dimension.name)
    return sorted(found.values(), key=lambda p: (-len(p.words), p.words))


def match_phrases(r: Reading, known: list[Phrase]) -> None:
    """Metric and dimension phrases, longest first. Words that name both a metric and a
    dimension ("actors") are kept undecided until the rest is read; a metric named only
    by words such as "movies" counts only when no other metric is named."""
    singular = [en.singular(w) for w in r.tokens]
    for skip_filler in (False, True):
        for phrase in known:
            n = len(phrase.words)
            if skip_filler and n == 1:
                continue
            for at in _occurrences(phrase.words, singular, r.tokens, r.used, skip_filler):
                readings = [p for p in known if p.words == phrase.words]
                r.phrases.append((at, readings))
                for k in at:
                    r.used[k] = True


def _occurrences(
    words: tuple[str, ...], tokens: list[str], raw: list[str], used: list[bool], skip: bool
) -> Iterator[list[int]]:
    """Where the phrase's words stand in order, each word equal or nearly (a typo in a
    word of five letters or more); with `skip`, function words may stand between."""
    n = len(words)
    for i in range(len(tokens)):
        at, k = [], i
        for word in words:
            while skip and k < len(tokens) and at and tokens[k] in en.FILLER and tokens[k] != word:
                k += 1
            if k >= len(tokens) or used[k]:
                break
            if not (_same_word(tokens[k], word) or _same_word(raw[k], word)):
                break
            at.append(k)
            k += 1
        if len(at) == n:
            yield at


def _same_word(token: str, word: str) -> bool:
    if token == word:
        return True
    return len(word) >= 5 and len(token) >= 4 and fuzz.ratio(token, word) >= 85


def decide(r: Reading, catalog: Catalog) -> None:
    """Settle each phrase: a metric, or a dimension to group by. Words that name both
    ("actors") are a dimension when the question names another metric ("actors with the
    most movies"); a metric named only by words such as "movies" counts only when no
    other metric is named."""

    def is_weak(phrase: Phrase) -> bool:  # a noun for films ("movies", "flicks", "titles")
        return phrase.name == MOVIES and len(phrase.words) == 1

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
            r.described.append(catalog.metrics[phrase.name].label)


def modifiers(r: Reading, catalog: Catalog) -> None:
    """An aggregation or a share said apart from its measure: "median movie budget" is
    median_budget_usd, "share of commercial successes" is success_rate."""
    labels = {m.name: set(phrase_words(m.label)) for m in catalog.metrics.values()}
    for k, word in enumerate(r.tokens):
        if r.used[k]:
            continue
        if word == en.SHARE:
            for i, name in enumerate(r.metrics):
                ratio = next(
                    (m.name for m in catalog.metrics.values() if m.numerator == name),
                    None,
                )
                if ratio:
                    r.metrics[i] = ratio
                    r.used[k] = True
                    r.described.append(catalog.metrics[ratio].label)
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
                    r.described.append(catalog.metrics[other].label)
                    break


def settle_dimensions(r: Reading) -> None:
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
        if all(w in en.FILLER for w in phrase_words(short)) and not _cued(r, at[0]):
            continue
        if at[0] > 0 and r.tokens[at[0] - 1] in ("a", "an", "any"):
            r.known.append(name)  # "part of a collection": movies that have one
            continue
        settled.append((name, at))
    r.dimensions[:] = [d for d in settled if d[0] not in r.known]


def _cued(r: Reading, start: int) -> bool:
    """A grouping word ("by", "per", "which"…) just before the phrase that starts at `start`."""
    return start > 0 and r.tokens[start - 1] in GROUP_CUES
