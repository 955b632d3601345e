"""A catalogue can leave whole feature families unrecorded, in TMDB's own shapes."""

from __future__ import annotations

from datetime import date

import pytest

from ingestion.fake_tmdb.catalogue import FEATURE_FAMILIES, Catalogue

TODAY = date(2026, 1, 15)


def _records(catalogue: Catalogue) -> list[dict]:
    return [catalogue.details(movie_id) for movie_id in catalogue.movie_ids()]


def test_left_out_families_have_tmdbs_empty_shapes() -> None:
    sparse = Catalogue(5, 400, day=2, today=TODAY, without=FEATURE_FAMILIES, language="en")
    records = _records(sparse)
    assert all(r["credits"]["cast"] == [] for r in records)
    assert all(r["keywords"] == {"keywords": []} for r in records)
    assert all(r["belongs_to_collection"] is None for r in records)
    assert all(r["production_companies"] == [] for r in records)
    assert {r["original_language"] for r in records} == {"en"}
    # what is not left out is still there: directors, genres, money, certifications
    assert sum(any(c["job"] == "Director" for c in r["credits"]["crew"]) for r in records) > 300
    assert sum(bool(r["genres"]) for r in records) > 300
    assert sum(r["budget"] > 0 and r["revenue"] > 0 for r in records) > 100
    assert sum(bool(r["release_dates"]["results"]) for r in records) > 300
    again = Catalogue(5, 400, day=2, today=TODAY, without=FEATURE_FAMILIES, language="en")
    assert _records(again) == records


def test_only_the_named_families_change() -> None:
    full = _records(Catalogue(5, 300, today=TODAY))
    without_cast = _records(Catalogue(5, 300, today=TODAY, without={"cast"}))
    for whole, sparse in zip(full, without_cast, strict=True):
        assert sparse["credits"]["cast"] == []
        assert sparse["credits"]["crew"] == whole["credits"]["crew"]
        whole.pop("credits")
        sparse.pop("credits")
        assert sparse == whole
    assert any(r["belongs_to_collection"] for r in full)


def test_unknown_family_or_language_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature families"):
        Catalogue(1, 10, today=TODAY, without={"crew"})
    with pytest.raises(ValueError, match="unknown language"):
        Catalogue(1, 10, today=TODAY, language="xx")
