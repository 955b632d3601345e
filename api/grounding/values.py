"""Value grounding: the spans of a question mapped to values that exist in the marts.

"Kubrik" → director Stanley Kubrick, "sci-fi" → genre Science Fiction, "PG13" → certification
PG-13, "French" → language fr. Every engine uses it: the built-in one turns the matches into
filters, and Gemini's prompt lists them so the model filters on values that exist.

The index (`api.grounding.index.ValueIndex`) is built from the marts as `tmdb_analyst` and
rebuilt when a dbt build rewrites the docs artefacts in the target directory, in the background
while the previous index keeps answering; never per request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rapidfuzz import fuzz

from api.grounding.index import Match, ValueIndex, normalize
from api.grounding.languages import LANGUAGE_NAMES

logger = logging.getLogger(__name__)

# What each kind of value filters on, in the semantic layer's names.
DIMENSION_OF_KIND = {
    "director": "movie__director_name",
    "person": "person__name",
    "title": "movie__title",
    "genre": "genre__genre_name",
    "collection": "movie__collection_name",
    "language": "movie__original_language",
    "certification": "movie__us_certification",
    "job": "crew_credit__job",
}
# Values that are grounded (so a question naming them is understood, and Gemini's prompt can
# say where they live) but that no dimension of the semantic layer filters on yet.
NOT_IN_SEMANTIC_LAYER = {
    "company": "production company (marts.ml_movie_features.production_company_names)",
}
# A person may be named in part ("Nolan"); any other value must be named whole.
PARTIAL_KINDS = frozenset({"director", "person"})
# SQL over the marts: (kind, value, weight) rows; the weight ranks equally good matches.
SOURCES = {
    "director": "select director_name, count(*) from marts.dim_movies"
    " where director_name is not null group by 1",
    # A person's weight is their acting credits: a person named without a role word is read
    # against the films they acted in, and a director who acts as much is asked back.
    "person": "select p.name, count(*) filter (where credits.acted) from marts.dim_people as p"
    " inner join (select person_id, true as acted from marts.fct_movie_cast union all"
    " select person_id, false from marts.fct_movie_crew) as credits"
    " on credits.person_id = p.person_id where p.name is not null group by 1",
    "title": "select title, max(coalesce(vote_count, 0)) from marts.dim_movies"
    " where title is not null group by 1",
    "genre": "select genre_name, count(*) from marts.bridge_movie_genres group by 1",
    "collection": "select collection_name, count(*) from marts.dim_movies"
    " where collection_name is not null group by 1",
    "language": "select original_language, count(*) from marts.dim_movies"
    " where original_language is not null group by 1",
    "certification": "select us_certification, count(*) from marts.dim_movies"
    " where us_certification is not null group by 1",
    "job": "select job, count(*) from marts.fct_movie_crew group by 1",
    "company": "select company, count(*) from marts.ml_movie_features,"
    " unnest(production_company_names) as company group by 1",
}
# Kinds whose values are also typed by another name (a language's, a genre's synonyms): few
# enough aliases to scan as someone types.
NAMED_KINDS = frozenset({"language", "genre", "certification"})
STALE_FILES = ("catalog.json", "manifest.json")  # rewritten by every `tmdb transform`


@dataclass
class Values:
    """One built index and the aliases beside it (language names, value synonyms)."""

    index: ValueIndex
    aliases: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # text → [(kind, v)]

    def lookup(self, span: str, kinds: Iterable[str] | None = None) -> list[Match]:
        """The values a span names, best first; whole-value kinds must match as a whole."""
        wanted = set(kinds) if kinds is not None else None
        text = normalize(span)
        found = [
            Match(kind, value, 100.0, 1_000_000)
            for kind, value in self.aliases.get(text, [])
            if wanted is None or kind in wanted
        ]
        for match in self.index.lookup(text, wanted, limit=8):
            score = match.score
            if match.kind not in PARTIAL_KINDS:
                score = fuzz.ratio(text, normalize(match.value))
            elif len(text.split()) == 1 and (
                len(text) < 4 or fuzz.ratio(text, normalize(match.value).split()[-1]) < 85
            ):
                continue  # one word names a person by the surname only ("Nolan", not "Oscar")
            if score >= 85:
                found.append(Match(match.kind, match.value, score, match.weight))
        found.sort(key=lambda m: (-m.score, -m.weight, m.kind, m.value))
        unique: dict[tuple[str, str], Match] = {}
        for match in found:
            unique.setdefault((match.kind, match.value), match)
        return list(unique.values())

    def complete(self, prefix: str, kind: str, limit: int = 10) -> list[str]:
        """Values of `kind` beginning with what was typed ("dra" → Drama), the most used
        first; a language also by its name ("fre" → fr)."""
        typed = normalize(prefix)
        named = [
            value
            for text, pairs in (self.aliases.items() if kind in NAMED_KINDS and typed else ())
            if text.startswith(typed)
            for k, value in pairs
            if k == kind
        ]
        found = [value for value, _ in self.index.complete(prefix, kind, limit=limit)]
        return list(dict.fromkeys([*named, *found]))[:limit]


def build_values(run: Callable[[str], list[list]], synonyms: dict[str, dict[str, list[str]]]):
    """Read the marts with `run(sql) -> rows` and build the index; `synonyms` maps a kind to
    {canonical value: [synonyms]} from the semantic layer's meta."""
    entries: list[tuple[str, str, int]] = []
    present: dict[str, set[str]] = {}
    for kind, sql in SOURCES.items():
        for value, weight in run(sql):
            entries.append((kind, str(value), int(weight)))
            present.setdefault(kind, set()).add(str(value))
    aliases: dict[str, list[tuple[str, str]]] = {}
    for code in present.get("language", ()):
        for name in LANGUAGE_NAMES.get(code, ()):
            aliases.setdefault(normalize(name), []).append(("language", code))
    titles = present.get("title", set())
    for title in titles:  # "Dark Knight" names "The Dark Knight", unless a film is called that
        bare = _without_article(title)
        if bare is not None and " " in bare and bare not in titles:  # not "Summer" for "The Summer"
            aliases.setdefault(normalize(bare), []).append(("title", title))
    for kind, by_value in synonyms.items():
        for value, names in by_value.items():
            if value in present.get(kind, ()):
                for name in names:
                    aliases.setdefault(normalize(name), []).append((kind, value))
    return Values(ValueIndex(entries), aliases)


ARTICLES = ("the ", "a ", "an ")


def _without_article(title: str) -> str | None:
    """A title without its leading article, as people say it ("Dark Knight"), or None."""
    lower = title.lower()
    for article in ARTICLES:
        if lower.startswith(article) and len(title) > len(article) + 2:
            return title[len(article) :]
    return None


class Grounder:
    """The current `Values`, built in the background from start-up (`start`) and rebuilt in the
    background when a dbt build or a refresh has run since; the old index answers meanwhile.

    At the real catalogue's size (4.2 M values) a build takes tens of seconds: the API starts it
    when it starts, `/health` says `starting` until it is `ready`, and a request that comes
    earlier waits for that build rather than starting a second one."""

    def __init__(
        self,
        target_dir: Path,
        run: Callable[[str], list[list]],
        synonyms: Callable[[], dict[str, dict[str, list[str]]]],
    ) -> None:
        self.target_dir = target_dir
        self._run = run
        self._synonyms = synonyms
        self._values: Values | None = None
        self._stamp: tuple | None = None
        self._lock = threading.Lock()
        self._building = False
        self._built = threading.Event()  # set when a build finished (or failed)
        self._generation: object = None  # bumped by `invalidate` (a refresh swapped the marts)
        self.builds = 0  # how many indexes were built: tests assert on it, not on timings

    def _current_stamp(self) -> tuple:
        stamps: list[object] = [self._generation]
        for name in STALE_FILES:
            path = self.target_dir / name
            stamps.append(path.stat().st_mtime_ns if path.exists() else None)
        return tuple(stamps)

    @property
    def ready(self) -> bool:
        """Whether an index is built (or the first build gave up: requests then retry)."""
        return self._built.is_set()

    def start(self) -> None:
        """Build the first index in a background thread (the API's start-up)."""
        with self._lock:
            if self._values is not None or self._building:
                return
            self._building = True
        threading.Thread(
            target=self._rebuild, args=(self._current_stamp(),), daemon=True, name="grounding"
        ).start()

    def invalidate(self, generation: object) -> None:
        """Mark the index stale though no file changed (the marts were swapped by a refresh
        whose docs have not reached this host yet); the next `get` rebuilds in the background."""
        self._generation = generation

    def _build(self, stamp: tuple) -> Values:
        values = build_values(self._run, self._synonyms())
        with self._lock:
            self._values, self._stamp, self._building = values, stamp, False
            self.builds += 1
        self._built.set()
        logger.info("value index built: %s values", f"{len(values.index):,}")
        return values

    def get(self) -> Values:
        """The index; refreshed behind the scenes when stale. Before the first index exists a
        request waits for the build under way, or builds it itself when none is."""
        stamp = self._current_stamp()
        with self._lock:
            values, fresh, building = self._values, stamp == self._stamp, self._building
            if values is not None and not fresh and not building:
                self._building = True
        if values is None:
            if building and self._built.wait(timeout=600) and self._values is not None:
                return self._values
            return self._build(stamp)
        if not fresh and not building:
            threading.Thread(target=self._rebuild, args=(stamp,), daemon=True).start()
        return values

    def _rebuild(self, stamp: tuple) -> None:
        try:
            self._build(stamp)
        except Exception:  # the old index keeps serving; the next request tries again
            logger.exception("value index build failed")
            with self._lock:
                self._building = False
            self._built.set()
