"""What the running API holds: the model, the query executor, the ask service, per-key limits.

Built once at startup from the one settings object, shared by every request through
`api.deps`. The model is reloaded when `tmdb train` moves `artifacts/models/current`, so a
retrained model is served without a restart; the semantic engine, the schema context and the
value index follow a `tmdb refresh` the same way (`api.refresh_watch`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from api.ask.service import AskService
from api.conversations import ConversationStore
from api.grounding.values import DIMENSION_OF_KIND, Grounder
from api.refresh_watch import RefreshWatcher
from api.semantic.engine import SemanticLayerUnavailable
from api.semantic.service import SemanticLayer
from api.text_to_sql.executor import QueryExecutor
from api.text_to_sql.llm import GeminiClient
from api.text_to_sql.schema_context import SchemaContextCache
from ml import artifacts
from ml.feature_sql import DescriptionRules, description_rules
from warehouse.connection import analyst_url, owner_url
from warehouse.settings import Settings

if TYPE_CHECKING:
    from ml.predict import Predictor

logger = logging.getLogger(__name__)

GROUNDING_ROWS = 20_000_000  # every distinct value of the real catalogue (about 4.2 M)


class RateLimiter:
    """A token bucket per API key: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._buckets: dict[str, tuple[float, float]] = defaultdict(
            lambda: (self.capacity, time.monotonic())
        )
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, float]:
        """(allowed, seconds until the next token)"""
        with self._lock:
            tokens, stamp = self._buckets[key]
            now = time.monotonic()
            tokens = min(self.capacity, tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return True, 0.0
            self._buckets[key] = (tokens, now)
            return False, (1.0 - tokens) / self.rate


class ModelHolder:
    """The current model, reloaded when `current` points somewhere new.

    The model and what it needs (skops, scikit-learn, pandas) are imported on first use, so the
    API's start-up does not wait for them."""

    def __init__(self, artifacts_dir: Path) -> None:
        self.artifacts_dir = artifacts_dir
        self._lock = threading.Lock()
        self._predictor: Predictor | None = None
        self._loaded_from: Path | None = None

    def get(self) -> Predictor:
        current = artifacts.models_dir(self.artifacts_dir) / artifacts.CURRENT
        target = current.resolve() if current.exists() else None
        with self._lock:
            if self._predictor is None or target != self._loaded_from:
                loaded = artifacts.load_current(self.artifacts_dir)
                from ml.predict import Predictor

                self._predictor = Predictor(loaded)
                self._loaded_from = target
                logger.info("serving model %s", self._predictor.version)
            return self._predictor

    def version(self) -> str | None:
        try:
            return self.get().version
        except artifacts.ModelUnavailable:
            return None


@dataclass
class AppState:
    settings: Settings
    executor: QueryExecutor
    models: ModelHolder
    ask: AskService
    ask_limiter: RateLimiter
    semantic: SemanticLayer
    conversations: ConversationStore
    description_rules: DescriptionRules
    grounder: Grounder
    watcher: RefreshWatcher
    api_keys: frozenset[str] = field(default_factory=frozenset)

    _genres: tuple[float, frozenset[str]] | None = None

    @property
    def docs_dir(self) -> Path:
        return self.settings.dbt_target_path

    def known_genres(self) -> frozenset[str]:
        """Genre names from `marts.dim_genres`, refreshed every few minutes."""
        if self._genres is None or time.monotonic() - self._genres[0] > 300:
            result = self.executor.run("select genre_name from marts.dim_genres", 1000)
            self._genres = (time.monotonic(), frozenset(row[0] for row in result.rows))
        return self._genres[1]

    def warm_up(self) -> None:
        """What a first request would otherwise wait for: the MetricFlow engine and catalog
        (here), the value index (in the background: `ready` says when it is built)."""
        if not self.semantic.warm_up():
            logger.warning("no semantic manifest yet: metrics answer 503 until `tmdb transform`")
        self.grounder.start()

    def follow_refreshes(self) -> None:
        """Watch for `tmdb refresh` (and artefacts synced from S3) while the API serves."""
        self.watcher.start()

    @property
    def ready(self) -> bool:
        """Whether a first `/ask` answers in normal time: the value index is built."""
        return self.grounder.ready

    def forget_cached_names(self, _refresh_id: int | None = None) -> None:
        """A refresh swapped the marts: names read from them are read again."""
        self._genres = None
        self.grounder.invalidate(_refresh_id)

    def close(self) -> None:
        self.watcher.stop()
        self.executor.close()


def value_grounder(target_dir: Path, executor: QueryExecutor, semantic: SemanticLayer) -> Grounder:
    """The value index over the marts, read as `tmdb_analyst`, with the value synonyms the
    semantic layer's dimensions declare ("sci-fi" → Science Fiction)."""
    kind_of = {dimension: kind for kind, dimension in DIMENSION_OF_KIND.items()}

    def synonyms() -> dict[str, dict[str, list[str]]]:
        try:
            dimensions = semantic.catalog().dimensions.values()
        except SemanticLayerUnavailable:
            return {}
        return {
            kind_of[d.name]: {value: list(names) for value, names in d.value_synonyms.items()}
            for d in dimensions
            if d.name in kind_of and d.value_synonyms
        }

    return Grounder(target_dir, lambda sql: executor.run(sql, GROUNDING_ROWS).rows, synonyms)


def build_state(settings: Settings) -> AppState:
    executor = QueryExecutor(analyst_url(settings), timeout_ms=settings.query_timeout_ms)
    api_key = settings.gemini_api_key.get_secret_value() if settings.gemini_api_key else None
    llm = GeminiClient(api_key, settings.gemini_model, base_url=settings.gemini_base_url)
    keys = frozenset(k.strip() for k in (settings.api_keys or "").split(",") if k.strip())
    semantic = SemanticLayer(settings.dbt_target_path, executor)
    grounder = value_grounder(settings.dbt_target_path, executor, semantic)
    schema_context = SchemaContextCache(settings.dbt_target_path)
    ask = AskService(
        llm,
        executor,
        schema_context,
        semantic,
        mode=settings.ask_engine,
        grounder=grounder,
    )
    # Reloaders the watcher calls: each reloads only when its artefact changed.
    watcher = RefreshWatcher(
        owner_url(settings),
        [semantic.warm_up, schema_context.get, lambda: grounder.ready and grounder.get()],
        lambda refresh_id: None,
        settings.refresh_poll_seconds,
    )
    state = AppState(
        settings=settings,
        executor=executor,
        models=ModelHolder(settings.artifacts_dir),
        ask=ask,
        ask_limiter=RateLimiter(settings.ask_requests_per_minute),
        semantic=semantic,
        conversations=ConversationStore(
            owner_url(settings),
            max_turns=settings.conversation_max_turns,
            ttl_hours=settings.conversation_ttl_hours,
        ),
        api_keys=keys,
        description_rules=description_rules(settings),
        grounder=grounder,
        watcher=watcher,
    )
    watcher.on_refresh = state.forget_cached_names
    return state
