"""The one settings object of the product, read from the environment and `.env`.

The composition roots (the `tmdb` command, the API's module-level app, the Lambda handlers) build
one `Settings` and pass it down explicitly, so a variable means the same thing to the CLI, the
pipelines, dbt and the API, and a test points the whole product elsewhere by building another
`Settings`. It is frozen: code that needs a variant (the demo's local TMDB server, secrets
resolved from Secrets Manager) makes a copy with `model_copy(update=...)`; nothing writes the
process environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
DBT_PROJECT_FILE = "dbt_project.yml"
# Where a built wheel carries the dbt project (pyproject.toml's package data).
BUNDLED_DBT_PROJECT = Path(__file__).resolve().parent / "dbt_bundle"

AskEngine = Literal["auto", "gemini", "builtin"]


def default_dbt_project_dir() -> Path:
    """The source checkout's root when it holds `dbt_project.yml`, else the wheel's copy."""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / DBT_PROJECT_FILE).is_file():
        return checkout
    return BUNDLED_DBT_PROJECT


class Settings(BaseSettings):
    """Typed view of the environment; secrets stay `SecretStr` so they never print."""

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        # `FOO=` in a `.env` file means "not set", not "set to the empty string".
        env_ignore_empty=True,
    )

    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    analyst_database_url: SecretStr | None = Field(default=None, alias="ANALYST_DATABASE_URL")
    lake_url: str = Field(default="./data/lake", alias="LAKE_URL")
    aws_endpoint_url: str | None = Field(default=None, alias="AWS_ENDPOINT_URL")
    # boto3's own variables; read here so the lake's dlt destination gets the same region.
    aws_region: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION")
    )
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
    # Which engine answers /ask*: Gemini when a key is set (auto), always Gemini, or built-in.
    ask_engine: AskEngine = Field(default="auto", alias="ASK_ENGINE")
    api_keys: str | None = Field(default=None, alias="API_KEYS")

    # Per API key, on /ask* (each question costs LLM calls).
    ask_requests_per_minute: int = Field(default=30, ge=1, alias="ASK_REQUESTS_PER_MINUTE")
    # Server-side limit on one analyst query.
    query_timeout_ms: int = Field(default=10_000, ge=100, alias="QUERY_TIMEOUT_MS")
    # Conversations (follow-up questions): turns kept, and how long one lives.
    conversation_max_turns: int = Field(default=20, ge=1, le=200, alias="CONVERSATION_MAX_TURNS")
    conversation_ttl_hours: float = Field(default=24.0, gt=0, alias="CONVERSATION_TTL_HOURS")

    # Deployment only (Lambda, the API container): when set, `ingestion.aws_secrets` replaces
    # the matching secret above with the value from Secrets Manager, once per process.
    tmdb_api_token_secret_arn: str | None = Field(default=None, alias="TMDB_API_TOKEN_SECRET_ARN")
    database_url_secret_arn: str | None = Field(default=None, alias="DATABASE_URL_SECRET_ARN")
    # `tmdb refresh` retrains first when the promoted model is older than this.
    model_max_age_days: float = Field(default=7.0, gt=0, alias="MODEL_MAX_AGE_DAYS")
    # How often the running API looks for a new refresh (new marts, docs, model).
    refresh_poll_seconds: float = Field(default=5.0, gt=0, alias="REFRESH_POLL_SECONDS")

    # Deployment only (the API container): where `tmdb train` published models and dbt docs.
    artifacts_s3_uri: str | None = Field(default=None, alias="ARTIFACTS_S3_URI")

    # Where local state lives: the embedded PostgreSQL, dlt's working folders.
    state_dir: Path = Field(default=Path(".tmdb"), alias="TMDB_STATE_DIR")
    # Trained models and their cards (`artifacts/models/<version>/`).
    artifacts_dir: Path = Field(default=Path("artifacts"), alias="TMDB_ARTIFACTS_DIR")
    # The dbt project (the folder holding `dbt_project.yml`) and where dbt writes its artefacts
    # (manifest, catalog, docs site); see `dbt_target_path` for the default.
    dbt_project_dir: Path = Field(default_factory=default_dbt_project_dir, alias="DBT_PROJECT_DIR")
    dbt_target_dir: Path | None = Field(default=None, alias="DBT_TARGET_PATH")
    # Concurrent detail requests in flight; the rate limit above is the real ceiling.
    tmdb_max_concurrency: int = Field(default=16, ge=1, le=256, alias="TMDB_MAX_CONCURRENCY")

    @property
    def has_tmdb_credentials(self) -> bool:
        return self.tmdb_api_token is not None or self.tmdb_api_key is not None

    @property
    def lake_is_s3(self) -> bool:
        return self.lake_url.startswith("s3://")

    @property
    def pipelines_dir(self) -> Path:
        """dlt's working folders; Lambda can only write under /tmp, so its image moves them."""
        return self.state_dir / "dlt"

    @property
    def embedded_pgdata(self) -> Path:
        return self.state_dir / "pg"

    @property
    def dbt_target_path(self) -> Path:
        """`DBT_TARGET_PATH`; else `target/` of a checkout's project, or, for the project a
        wheel carries (inside site-packages, not the user's to write), the state folder."""
        if self.dbt_target_dir is not None:
            return self.dbt_target_dir
        if self.dbt_project_dir == BUNDLED_DBT_PROJECT:
            return self.state_dir / "dbt" / "target"
        return self.dbt_project_dir / "target"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; only composition roots call this."""
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings, for tests that changed the environment between cases."""
    get_settings.cache_clear()
