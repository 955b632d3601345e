"""One warehouse built from a 3,000-movie catalogue and one model trained on it, shared by the
classifier's tests (they only read both)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ingestion.fake_tmdb import Catalogue
from ml.artifacts import LoadedModel
from tests.builders import day0_catalogue, trained_warehouse_env
from warehouse.settings import reset_settings_cache

ML_SEED = 42
ML_MOVIES = 3000


@dataclass(frozen=True)
class TrainedWarehouse:
    database_url: str
    catalogue: Catalogue
    artifacts_dir: Path
    model: LoadedModel


@pytest.fixture(scope="package")
def trained(
    pg_socket_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TrainedWarehouse]:
    folder = tmp_path_factory.mktemp("ml-warehouse")
    catalogue = day0_catalogue(ML_SEED, ML_MOVIES)
    with trained_warehouse_env(pg_socket_url, folder, catalogue, "test-v1") as (url, model):
        yield TrainedWarehouse(url, catalogue, folder / "artifacts", model)


@pytest.fixture
def warehouse(trained: TrainedWarehouse, monkeypatch: pytest.MonkeyPatch) -> TrainedWarehouse:
    monkeypatch.setenv("DATABASE_URL", trained.database_url)
    monkeypatch.setenv("TMDB_ARTIFACTS_DIR", str(trained.artifacts_dir))
    reset_settings_cache()
    return trained
