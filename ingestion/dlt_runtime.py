"""dlt's process-wide runtime, set up once by this product rather than by environment variables.

dlt reports anonymous usage over the network the first time a pipeline is created unless told
otherwise; nothing here should wait on, or leak to, that endpoint. Starting dlt's telemetry
ourselves, switched off, makes every later start a no-op (dlt starts it once per process).
"""

from __future__ import annotations

from functools import cache


@cache
def without_telemetry() -> None:
    """Call before creating a dlt pipeline; idempotent."""
    from dlt.common.configuration.specs import RuntimeConfiguration
    from dlt.common.runtime.telemetry import start_telemetry

    start_telemetry(RuntimeConfiguration(dlthub_telemetry=False))
