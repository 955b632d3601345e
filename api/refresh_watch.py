"""How a running API follows `tmdb refresh` without a restart.

A refresh swaps new marts in (one transaction), then replaces the dbt artefacts in the target
folder file by file (atomically each) and moves `models/current`; in AWS the artefacts and the
model arrive later, when the API task's `infra.api_bootstrap sync` loop copies them from S3. So
the API watches both places, every `REFRESH_POLL_SECONDS`, from one background thread:

- the warehouse: the newest successful refresh in `tmdb_app.refreshes` (one indexed query),
  which also gives `/health`'s `data_as_of`; a new one marks the value index stale, since the
  names in the marts may have changed before any file reached this host;
- the files: the semantic engine, the schema context and the value index each reload when the
  artefact they were built from changes; the watcher asks each of them, so the reload happens in
  this thread, not in the first request after it. The model reloads when `current` moves.

Every reload builds the new object beside the old one and swaps it in: requests meanwhile are
answered by the old one, and never wait for the new one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import psycopg2

from warehouse.refreshes import data_as_of, latest_refresh_id

logger = logging.getLogger(__name__)


class RefreshWatcher:
    def __init__(
        self,
        owner_url: str,
        reloaders: list[Callable[[], Any]],
        on_refresh: Callable[[int], None],
        interval: float,
    ) -> None:
        self.owner_url = owner_url
        self.reloaders = reloaders
        self.on_refresh = on_refresh
        self.interval = interval
        self.refresh_id: int | None = None
        self._data_as_of: dict[str, str | None] | None = None
        self._polled = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _read_warehouse(self) -> tuple[int | None, dict[str, str | None] | None]:
        conn = psycopg2.connect(self.owner_url, connect_timeout=5)
        try:
            conn.autocommit = True
            return latest_refresh_id(conn), data_as_of(conn)
        finally:
            conn.close()

    def poll(self) -> None:
        """One look at the warehouse and the files; reloads what changed."""
        with self._lock:
            try:
                refresh_id, as_of = self._read_warehouse()
            except psycopg2.Error as exc:  # the warehouse is down: /health says so itself
                logger.warning("refresh watcher: the warehouse did not answer: %s", exc)
            else:
                moved = self._polled and refresh_id != self.refresh_id
                self.refresh_id, self._data_as_of, self._polled = refresh_id, as_of, True
                if moved and refresh_id is not None:
                    logger.info("refresh %s finished: reloading", refresh_id)
                    self.on_refresh(refresh_id)
            for reload in self.reloaders:
                try:
                    reload()
                except Exception as exc:  # missing artefacts: the request path reports it
                    logger.debug("refresh watcher: %s not reloaded: %s", reload, exc)

    def data_as_of(self) -> dict[str, str | None] | None:
        if not self._polled:
            try:
                _, self._data_as_of = self._read_warehouse()
            except psycopg2.Error:
                return None
        return self._data_as_of

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, daemon=True, name="refresh-watch")
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        self._stop.set()
