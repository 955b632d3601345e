"""Checked queries remembered per (question, manifest, max_rows): the same question on the same
manifest reuses its checked SQL instead of asking Gemini again."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from api.ask.drafts import Drafted

CACHE_SIZE = 256
CACHE_TTL_SECONDS = 3600


def cache_key(question: str, manifest: str, max_rows: int) -> str:
    normal = " ".join(question.lower().split())
    return hashlib.sha256(f"{manifest}\n{max_rows}\n{normal}".encode()).hexdigest()


class CheckedSqlCache:
    """Checked SQL per (question, manifest, max_rows), bounded in size and age."""

    def __init__(self, size: int = CACHE_SIZE, ttl: float = CACHE_TTL_SECONDS) -> None:
        self.size, self.ttl = size, ttl
        self._items: OrderedDict[str, tuple[float, Drafted]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Drafted | None:
        with self._lock:
            item = self._items.get(key)
            if item is None or time.monotonic() - item[0] > self.ttl:
                self._items.pop(key, None)
                return None
            self._items.move_to_end(key)
            return item[1]

    def put(self, key: str, drafted: Drafted) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), drafted)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
