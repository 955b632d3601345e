"""The value index: misspelt, partial, accented and abbreviated names find the values that
exist, ranked by weight, and whole-value kinds do not match on a fragment."""

from __future__ import annotations

from api.grounding.index import ValueIndex, normalize
from api.grounding.values import build_values

PEOPLE = [
    ("Stanley Kubrick", 13),
    ("Martin Scorsese", 26),
    ("Martin Sheen", 70),
    ("Christopher Nolan", 12),
    ("Jonathan Nolan", 3),
    ("Pedro Almodóvar", 22),
]
ROWS = {
    "director": [(n, w) for n, w in PEOPLE if n != "Martin Sheen" and n != "Jonathan Nolan"],
    "person": PEOPLE,
    "title": [("The Dark Knight", 30000), ("Up", 20000), ("Amélie", 9000)],
    "genre": [("Science Fiction", 400), ("Drama", 900), ("Comedy", 700)],
    "collection": [("The Dark Knight Collection", 3)],
    "language": [("fr", 90), ("en", 800), ("ja", 40)],
    "certification": [("PG-13", 300), ("R", 400)],
    "job": [("Producer", 900), ("Director", 300)],
    "company": [("Pixar Animation Studios", 25)],
}
SYNONYMS = {
    "genre": {"Science Fiction": ["sci-fi", "scifi"], "Comedy": ["comedies"]},
    "certification": {"PG-13": ["pg13"], "Western": ["westerns"]},  # absent values are ignored
}


def _run(sql: str) -> list[list]:
    kind = next(k for k, marker in MARKERS.items() if marker in sql)
    return [list(row) for row in ROWS[kind]]


MARKERS = {
    "director": "director_name",
    "person": "dim_people",
    "title": "title, max",
    "genre": "bridge_movie_genres",
    "collection": "collection_name",
    "language": "original_language",
    "certification": "us_certification",
    "job": "select job",
    "company": "production_company_names",
}
VALUES = build_values(_run, SYNONYMS)


def _best(span: str, kinds=None) -> tuple[str, str] | None:
    found = VALUES.lookup(span, kinds)
    return (found[0].kind, found[0].value) if found else None


def test_misspelt_partial_and_accented_names_find_the_person() -> None:
    assert _best("Kubrik", ["director"]) == ("director", "Stanley Kubrick")
    assert _best("martin scorcese", ["director"]) == ("director", "Martin Scorsese")
    assert _best("almodovar", ["director"]) == ("director", "Pedro Almodóvar")
    assert _best("nolan", ["person"]) == ("person", "Christopher Nolan")  # more movies first
    alternatives = [m.value for m in VALUES.lookup("nolan", ["person"])]
    assert alternatives == ["Christopher Nolan", "Jonathan Nolan"]


def test_whole_value_kinds_need_the_whole_value() -> None:
    assert _best("dark", ["title"]) is None
    assert _best("the dark knight", ["title"]) == ("title", "The Dark Knight")
    assert _best("amelie", ["title"]) == ("title", "Amélie")
    assert _best("dramas", ["genre"]) == ("genre", "Drama")


def test_synonyms_and_language_names() -> None:
    assert _best("sci-fi") == ("genre", "Science Fiction")
    assert _best("comedies") == ("genre", "Comedy")
    assert _best("PG13") == ("certification", "PG-13")
    assert _best("French") == ("language", "fr")
    assert _best("Japanese") == ("language", "ja")
    assert _best("Westerns") is None  # a synonym of a value the marts do not hold
    assert _best("pixar animation studios") == ("company", "Pixar Animation Studios")


def test_nothing_is_found_for_words_that_name_nothing() -> None:
    assert _best("weather") is None
    assert _best("zzzz qqqq") is None


def test_the_index_is_compact_and_normalizes() -> None:
    index = ValueIndex([("person", f"Person Number{i}", i) for i in range(1000)])
    assert len(index) == 1000 and index.value(7) == "Person Number7"
    assert index.nbytes() < 200_000
    assert normalize("  Amélie's CAFÉ-bar ") == "amelie s cafe bar"


def test_the_grounder_refreshes_after_a_build_not_per_request(tmp_path) -> None:
    import os
    import time

    from api.grounding.values import Grounder

    (tmp_path / "catalog.json").write_text("{}")
    calls: list[str] = []
    directors = [["First Director", 3]]

    def run(sql: str) -> list[list]:
        calls.append(sql)
        return directors if "director_name" in sql else []  # every other kind: no values

    grounder = Grounder(tmp_path, run, lambda: {})
    first = grounder.get()
    built = len(calls)
    assert grounder.get() is first and len(calls) == built  # no rebuild per request
    directors[:] = [["Second Director", 5]]
    stat = (tmp_path / "catalog.json").stat()
    os.utime(tmp_path / "catalog.json", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert grounder.get() is first  # the old index answers while the new one builds
    deadline = time.monotonic() + 10
    while grounder.get() is first and time.monotonic() < deadline:
        time.sleep(0.02)
    assert grounder.get().lookup("second director")[0].value == "Second Director"
