"""Expected failures become one line and a non-zero exit; anything else keeps its traceback."""

from __future__ import annotations

import psycopg2
from botocore.exceptions import BotoCoreError, ClientError
from dlt.common.destination.exceptions import (
    DestinationTerminalException,
    DestinationTransientException,
)
from dlt.common.storages.exceptions import StorageException

from ingestion.tmdb.client import TmdbError
from ml.artifacts import ModelUnavailable
from ml.train import NotEnoughData
from warehouse.connection import WarehouseUnavailable
from warehouse.dbt_runner import DbtFailed
from warehouse.embedded import EmbeddedWarehouseError

EXPECTED = (
    TmdbError,
    WarehouseUnavailable,
    EmbeddedWarehouseError,
    DbtFailed,
    ModelUnavailable,
    NotEnoughData,
    psycopg2.OperationalError,
    DestinationTerminalException,
    DestinationTransientException,
    StorageException,
    BotoCoreError,
    ClientError,
)


class UsageError(RuntimeError):
    """A bad argument or setting, explained in one line."""


def expected_failure(exc: BaseException) -> BaseException | None:
    """The expected failure behind `exc`, looking through wrappers such as dlt's step errors."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (*EXPECTED, UsageError)):
            return current
        current = current.__cause__ or current.__context__
    return None
