"""The one settings object of the product (CONTRACT §2), read from the environment and `.env`.

Every package reads configuration through `get_settings()` so that a variable means the same
thing to the CLI, the pipelines, dbt's profile and the API, and so that tests can point the
whole product somewhere else by setting environment variables only.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"


class Settings(BaseSettings):
    """Typed view of the environment; secrets stay `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    analyst_database_url: SecretStr | None = Field(default=None, alias="ANALYST_DATABASE_URL")
    lake_url: str = Field(default="./data/lake", alias="LAKE_URL")
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    tmdb_api_base_url: str = Field(
        default="https://api.themoviedb.org/3", alias="TMDB_API_BASE_URL"
    )
    tmdb_exports_base_url: str = Field(
        default="https://files.tmdb.org/p/exports", alias="TMDB_EXPORTS_BASE_URL"
    )
    tmdb_api_token: SecretStr | None = Field(default=None, alias="TMDB_API_TOKEN")
    tmdb_api_key: SecretStr | None = Field(default=None, alias="TMDB_API_KEY")
    tmdb_rate_limit_rps: float = Field(default=35.0, gt=0, alias="TMDB_RATE_LIMIT_RPS")
    gemini_api_key: SecretStr | None = Field(default=None, alias="GEMINI_API_KEY")
    gemini_model: str = Field(default=DEFAULT_GEMINI_MODEL, alias="GEMINI_MODEL")
    gemini_base_url: str | None = Field(default=None, alias="GEMINI_BASE_URL")
    api_keys: str | None = Field(default=None, alias="API_KEYS")

    # Per API key, on /ask* (each question costs LLM calls).
    ask_requests_per_minute: int = Field(default=30, ge=1, alias="ASK_REQUESTS_PER_MINUTE")
    # Server-side limit on one analyst query.
    query_timeout_ms: int = Field(default=10_000, ge=100, alias="QUERY_TIMEOUT_MS")

    # Deployment-only settings (AWS Lambda): secrets fetched from Secrets Manager when set.
    tmdb_api_token_secret_arn: str | None = Field(default=None, alias="TMDB_API_TOKEN_SECRET_ARN")
    database_url_secret_arn: str | None = Field(default=None, alias="DATABASE_URL_SECRET_ARN")

    # Where local state lives: the embedded PostgreSQL, dlt's working folders.
    state_dir: Path = Field(default=Path(".tmdb"), alias="TMDB_STATE_DIR")
    # Trained models and their cards (`artifacts/models/<version>/`).
    artifacts_dir: Path = Field(default=Path("artifacts"), alias="TMDB_ARTIFACTS_DIR")
    # Concurrent detail requests in flight; the rate limit above is the real ceiling.
    tmdb_max_concurrency: int = Field(default=16, ge=1, le=256, alias="TMDB_MAX_CONCURRENCY")

    @field_validator(
        "database_url",
        "analyst_database_url",
        "aws_endpoint_url",
        "tmdb_api_token",
        "tmdb_api_key",
        "gemini_api_key",
        "gemini_base_url",
        "api_keys",
        "tmdb_api_token_secret_arn",
        "database_url_secret_arn",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`FOO=` in a `.env` file means "not set", not "set to the empty string"."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @property
    def has_tmdb_credentials(self) -> bool:
        return self.tmdb_api_token is not None or self.tmdb_api_key is not None

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_url.startswith("s3://")

    @property
    def pipelines_dir(self) -> Path:
        """dlt's working folders; Lambda can only write under /tmp, so the handlers move it."""
        return self.state_dir / "dlt"

    @property
    def embedded_pgdata(self) -> Path:
        return self.state_dir / "pg"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings, for callers (tests, Lambda cold start) that changed the env."""
    get_settings.cache_clear()


def disable_phone_home() -> None:
    """dlt and dbt report usage over the network by default; nothing here should wait on that."""
    import os

    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    os.environ.setdefault("DBT_VERSION_CHECK", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
