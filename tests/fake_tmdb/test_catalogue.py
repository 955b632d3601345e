"""The synthetic catalogue: deterministic, TMDB-shaped, messy and learnable."""

from __future__ import annotations

import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

import pytest

from ingestion.fake_tmdb import Catalogue
from tests.builders import anchor_today

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tmdb"
REPO = Path(__file__).resolve().parents[2]
TODAY = anchor_today()
SEED, MOVIES, DAYS = 7, 3000, 2
US_CERTS = {"G", "PG", "PG-13", "R", "NC-17", ""}
NON_LATIN = {"ja", "ko", "zh", "ru", "hi", "ar"}


def _fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def cat() -> Catalogue:
    """The catalogue as of day 2 (base date = TODAY - 2)."""
    return Catalogue(SEED, MOVIES, day=DAYS, today=TODAY)


@pytest.fixture(scope="module")
def base(cat: Catalogue) -> Catalogue:
    """The same catalogue as of day 0: same base date, no days applied."""
    return Catalogue(SEED, MOVIES, day=0, today=cat.base_date)


@pytest.fixture(scope="module")
def records(base: Catalogue) -> list[dict]:
    return [base.details(i) for i in base.movie_ids()]


def _reliable(r: dict) -> bool:
    return r["budget"] >= 100_000 and r["revenue"] >= 1_000


def test_same_seed_is_identical_and_other_seed_differs(base: Catalogue) -> None:
    twin = Catalogue(SEED, MOVIES, day=0, today=base.base_date)
    assert twin.movie_ids() == base.movie_ids()
    assert [twin.details(i) for i in twin.movie_ids()] == [
        base.details(i) for i in base.movie_ids()
    ]
    other = Catalogue(SEED + 1, MOVIES, day=0, today=base.base_date)
    assert other.movie_ids() != base.movie_ids()


def test_identical_across_processes_regardless_of_hash_seed() -> None:
    """Nothing may depend on `hash()` randomisation: digests match in fresh interpreters."""
    code = (
        "import hashlib, json; from datetime import date;"
        "from ingestion.fake_tmdb import Catalogue;"
        "c = Catalogue(3, 300, day=2, today=date(2025, 7, 15));"
        "d = [c.details(i) for i in c.movie_ids()] + c.export_rows(1) + c.changes_on(2);"
        "print(hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest())"
    )
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        digests.add(out.stdout.strip())
    local = Catalogue(3, 300, day=2, today=date(2025, 7, 15))
    data = [local.details(i) for i in local.movie_ids()] + local.export_rows(1)
    data += local.changes_on(2)
    digests.add(hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest())
    assert len(digests) == 1


def test_counts_ids_and_genres(base: Catalogue) -> None:
    ids = base.movie_ids()
    assert len(ids) == MOVIES
    assert ids == sorted(set(ids))
    assert ids[0] >= 2 and ids[-1] <= 1_500_000
    assert base.genres == _fixture("genre_movie_list.json")["genres"]
    assert len(base.export_rows()) == MOVIES


def test_shapes_match_real_tmdb_samples(records: list[dict]) -> None:
    sample_keys = set().union(*(r.keys() for r in _fixture("movie_details_sparse_records.json")))
    cast_keys = set(_fixture("movie_550_credits_cast.json")[0])
    person_keys = cast_keys - {"cast_id", "character", "order"}
    for record in records:
        assert sample_keys <= set(record), sample_keys - set(record)
        assert {"credits", "keywords", "release_dates"} <= set(record)
        for entry in record["credits"]["cast"]:
            assert set(entry) == cast_keys
        for entry in record["credits"]["crew"]:
            assert set(entry) == person_keys | {"credit_id", "department", "job"}
        assert isinstance(record["popularity"], float)
        assert isinstance(record["vote_average"], float)
        for country in record["release_dates"]["results"]:
            for rd in country["release_dates"]:
                assert set(rd) == {
                    "certification", "descriptors", "iso_639_1", "note", "release_date", "type",
                }  # fmt: skip
                assert rd["release_date"].endswith("T00:00:00.000Z")
    row_keys = {"adult", "id", "original_title", "popularity", "video"}
    assert all(set(row) == row_keys for row in Catalogue(1, 50, today=TODAY).export_rows())


def test_details_without_append_has_no_appended_parts(base: Catalogue) -> None:
    record = base.details(base.movie_ids()[0], append=())
    assert record is not None
    assert not {"credits", "keywords", "release_dates"} & set(record)
    assert base.details(1) is None


def test_messy_edges_like_tmdb(records: list[dict]) -> None:
    n = len(records)
    share = lambda pred: sum(1 for r in records if pred(r)) / n  # noqa: E731
    assert 0.005 < share(lambda r: r["adult"]) < 0.08
    assert 0.25 < share(lambda r: r["budget"] == 0) < 0.6
    assert share(lambda r: r["revenue"] == 0) > share(lambda r: r["budget"] == 0)
    assert 0.02 < share(lambda r: r["release_date"] == "") < 0.1
    assert share(lambda r: r["runtime"] == 0) > 0.02
    assert share(lambda r: r["genres"] == []) > 0.02
    assert share(lambda r: r["overview"] == "") > 0.02
    assert share(lambda r: r["tagline"] == "") > 0.1
    statuses = Counter(r["status"] for r in records)
    assert statuses["Released"] > 0.85 * n
    assert {"Post Production", "In Production", "Planned"} <= set(statuses)
    for r in records:
        if r["status"] != "Released":
            assert r["revenue"] == 0 and r["vote_count"] == 0
    years = Counter(int(r["release_date"][:4]) for r in records if r["release_date"])
    assert min(years) >= 1970
    assert max(years) <= TODAY.year + 1
    assert sum(v for y, v in years.items() if y >= 2010) > sum(
        v for y, v in years.items() if y < 1990
    )


def test_non_latin_original_titles(records: list[dict]) -> None:
    found = {
        r["original_language"]
        for r in records
        if r["original_language"] in NON_LATIN
        and not r["original_title"].isascii()
        and r["title"].isascii()
    }
    assert found == NON_LATIN


def test_recurring_people_collections_and_certifications(records: list[dict]) -> None:
    directed = Counter(
        p["id"] for r in records for p in r["credits"]["crew"] if p["job"] == "Director"
    )
    assert max(directed.values()) >= 3
    assert sum(1 for v in directed.values() if v >= 3) > 50
    per_movie = Counter(sum(p["job"] == "Director" for p in r["credits"]["crew"]) for r in records)
    assert per_movie[1] > 0.85 * len(records) and per_movie[2] > 0 and per_movie[0] > 0
    top_billed = Counter(p["id"] for r in records for p in r["credits"]["cast"][:3])
    assert sum(1 for v in top_billed.values() if v >= 3) > 50
    jobs = {p["job"] for r in records for p in r["credits"]["crew"]}
    assert {"Director", "Screenplay", "Producer"} <= jobs

    collections = defaultdict(list)
    for r in records:
        if r["belongs_to_collection"]:
            collections[r["belongs_to_collection"]["id"]].append(r)
    assert 0.04 < sum(len(v) for v in collections.values()) / len(records) < 0.12
    assert any(len(v) >= 3 for v in collections.values())
    for members in collections.values():
        dates = sorted(m["release_date"] for m in members)
        originals = [m for m in members if "sequel" not in _keyword_names(m)]
        assert originals and min(o["release_date"] for o in originals) == dates[0]

    us = [
        c["release_dates"][0]["certification"]
        for r in records
        for c in r["release_dates"]["results"]
        if c["iso_3166_1"] == "US"
    ]
    assert len(us) > 0.5 * len(records)
    assert set(us) <= US_CERTS and {"G", "PG", "PG-13", "R"} <= set(us)
    assert len({c["iso_3166_1"] for r in records for c in r["release_dates"]["results"]}) > 5
    assert statistics.mean(len(r["keywords"]["keywords"]) for r in records) > 2


def _keyword_names(record: dict) -> set[str]:
    return {k["name"] for k in record["keywords"]["keywords"]}


def test_success_rate_is_balanced(records: list[dict]) -> None:
    reliable = [r for r in records if _reliable(r)]
    assert len(reliable) > 0.2 * len(records)
    hits = sum(r["revenue"] >= 2 * r["budget"] for r in reliable) / len(reliable)
    assert 0.35 <= hits <= 0.55


def test_revenue_depends_on_more_than_budget(base: Catalogue, records: list[dict]) -> None:
    by_skill = []
    by_genre = defaultdict(list)
    for r in records:
        if not _reliable(r):
            continue
        roi = math.log(r["revenue"] / r["budget"])
        directors = [p["id"] for p in r["credits"]["crew"] if p["job"] == "Director"]
        if len(directors) == 1:
            by_skill.append((base.director_skill(directors[0]), roi))
        for g in r["genres"]:
            by_genre[g["name"]].append(roi)
    by_skill.sort()
    q = len(by_skill) // 4
    low = statistics.mean(roi for _, roi in by_skill[:q])
    high = statistics.mean(roi for _, roi in by_skill[-q:])
    assert high - low > 0.4
    assert statistics.mean(by_genre["Horror"]) - statistics.mean(by_genre["Drama"]) > 0.2


def test_post_release_signals_follow_revenue(records: list[dict]) -> None:
    reliable = sorted((r for r in records if _reliable(r)), key=lambda r: r["revenue"])
    half = len(reliable) // 2
    low, high = reliable[:half], reliable[half:]
    assert statistics.median(r["vote_count"] for r in high) > statistics.median(
        r["vote_count"] for r in low
    )
    assert statistics.median(r["popularity"] for r in high) > statistics.median(
        r["popularity"] for r in low
    )


def test_dates_map_to_days(cat: Catalogue) -> None:
    assert cat.date_of(cat.day) == TODAY
    assert cat.date_of(0) == TODAY - timedelta(days=DAYS)
    assert cat.day_of(TODAY) == DAYS
    assert all(cat.day_of(cat.date_of(d)) == d for d in range(-3, 5))


def test_days_change_add_and_remove(cat: Catalogue, base: Catalogue) -> None:
    base_ids = set(base.movie_ids())
    for d in (1, 2):
        changed, added, removed = cat.changed_ids(d), cat.added_ids(d), cat.removed_ids(d)
        n = len(base_ids)
        assert 0.01 * n < len(changed) < 0.03 * n
        assert 1 <= len(added) <= 0.01 * n and 1 <= len(removed) <= 0.01 * n
        assert not changed & removed
        union = changed | added | removed
        assert [e["id"] for e in cat.changes_on(d)] == sorted(union)
    assert not cat.changes_on(0) and not cat.changes_on(DAYS + 1)

    removed_1 = cat.removed_ids(1)
    for movie_id in removed_1:
        assert base.details(movie_id) is not None
        assert cat.details(movie_id) is None
        assert movie_id not in cat.movie_ids()
    added_1 = cat.added_ids(1)
    assert min(added_1) > max(base_ids)
    for movie_id in added_1:
        assert base.details(movie_id) is None
        assert cat.details(movie_id) is not None
    assert set(cat.movie_ids()) == (
        base_ids - removed_1 - cat.removed_ids(2) | added_1 | cat.added_ids(2)
    )
    changed_fields = 0
    for movie_id in cat.changed_ids(1) - cat.removed_ids(2):
        before, after = base.details(movie_id), cat.details(movie_id)
        changed_fields += before["popularity"] != after["popularity"]
    assert changed_fields > 0.8 * len(cat.changed_ids(1))


def test_later_catalogue_replays_earlier_days(cat: Catalogue, base: Catalogue) -> None:
    """Catalogue(day=2) and Catalogue(day=1) built a day apart agree on everything up to day 1."""
    day1 = Catalogue(SEED, MOVIES, day=1, today=TODAY - timedelta(days=1))
    assert day1.base_date == cat.base_date
    assert day1.changes_on(1) == cat.changes_on(1)
    assert day1.export_rows() == cat.export_rows(1)
    assert base.export_rows() == cat.export_rows(0)
    assert day1.movie_ids() != cat.movie_ids()


def test_daily_change_scales_a_days_churn(cat: Catalogue) -> None:
    """A bench's daily increment of 1% of the films: fewer changes, the base untouched."""
    light = Catalogue(SEED, MOVIES, day=1, today=cat.date_of(1), daily_change=0.0071)
    n = len(light.movie_ids())
    touched = light.changed_ids(1) | light.added_ids(1) | light.removed_ids(1)
    assert 0.007 * n <= len(touched) <= 0.013 * n
    assert len(touched) < 0.5 * len(cat.changed_ids(1) | cat.added_ids(1) | cat.removed_ids(1))
    base = Catalogue(SEED, MOVIES, day=0, today=cat.base_date)
    assert light.date_of(0) == base.date_of(0)
    untouched = sorted(set(base.movie_ids()) - touched)[:50]
    assert [light.details(i) for i in untouched] == [base.details(i) for i in untouched]
    with pytest.raises(ValueError, match="daily_change"):
        Catalogue(SEED, MOVIES, daily_change=0.0)
