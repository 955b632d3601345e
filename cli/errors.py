"""Expected failures become one line and a non-zero exit; anything else keeps its traceback.

The expected classes are named, not imported: importing them would load dlt, botocore, skops
and scikit-learn into every command, `tmdb --help` included. A class can only have been raised
if the module that defines it was imported, so each name is resolved from `sys.modules` alone,
at the moment a failure is being explained.
"""

from __future__ import annotations

import sys

# "defining module:class name"; subclasses count too (`isinstance`).
EXPECTED = (
    "ingestion.tmdb.client:TmdbError",
    "warehouse.connection:WarehouseUnavailable",
    "warehouse.embedded:EmbeddedWarehouseError",
    "warehouse.dbt_runner:DbtFailed",
    "warehouse.refreshes:RefreshBusy",
    "cli.refresh:RefreshFailed",
    "ml.artifacts:ModelUnavailable",
    "ml.train:NotEnoughData",
    "ml.train:NotPromoted",
    "api.semantic.query:InvalidMetricQuery",
    "api.semantic.engine:SemanticLayerUnavailable",
    "api.text_to_sql.executor:QueryFailed",
    "api.text_to_sql.executor:QueryTimeout",
    "api.text_to_sql.executor:DatabaseUnavailable",
    "psycopg2:OperationalError",
    "dlt.common.destination.exceptions:DestinationTerminalException",
    "dlt.common.destination.exceptions:DestinationTransientException",
    "dlt.common.storages.exceptions:StorageException",
    "botocore.exceptions:BotoCoreError",
    "botocore.exceptions:ClientError",
)


class UsageError(RuntimeError):
    """A bad argument or setting, explained in one line."""


def loaded_expected_classes() -> tuple[type[BaseException], ...]:
    """The expected classes whose modules are imported; the others cannot have been raised."""
    classes: list[type[BaseException]] = [UsageError]
    for name in EXPECTED:
        module_name, _, class_name = name.partition(":")
        module = sys.modules.get(module_name)
        cls = getattr(module, class_name, None) if module is not None else None
        if isinstance(cls, type) and issubclass(cls, BaseException):
            classes.append(cls)
    return tuple(classes)


def expected_failure(exc: BaseException) -> BaseException | None:
    """The expected failure behind `exc`, looking through wrappers such as dlt's step errors."""
    expected = loaded_expected_classes()
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, expected):
            return current
        current = current.__cause__ or current.__context__
    return None
