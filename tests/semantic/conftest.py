"""The semantic layer over the test warehouse, with the analyst executor, shared per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.semantic.service import SemanticLayer
from api.text_to_sql.executor import QueryExecutor
from tests.shared_fixtures import ApiWarehouse
from warehouse.connection import analyst_url
from warehouse.settings import Settings


@pytest.fixture(scope="module")
def layer(api_warehouse: ApiWarehouse) -> Iterator[SemanticLayer]:
    settings = Settings(database_url=api_warehouse.database_url)
    executor = QueryExecutor(analyst_url(settings))
    yield SemanticLayer(api_warehouse.dbt_target, executor)
    executor.close()
