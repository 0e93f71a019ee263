"""Settings, validated once at load through `get_settings()`.

Every setting is read from the environment with the `PERFLOOP_` prefix (for example
`PERFLOOP_DATABASE_URL`). Nothing here connects to anything: engines and clients are
built by whoever needs them, from these values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERFLOOP_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path(".perfloop"),
        description="Data folder for the embedded defaults (SQLite store, dev server).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file in the data folder.",
    )
    environment: Literal["development", "production"] = "development"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    temporal_tls: bool = Field(
        default=False, description="Use TLS to reach Temporal (implied by an API key)."
    )
    temporal_api_key: SecretStr | None = Field(
        default=None, description="Temporal Cloud API key; never logged."
    )
    task_queue: str = "perfloop"

    worker_max_concurrent_activities: int = Field(
        default=200, ge=1, description="Activities (store writes, HRIS, launches) in flight."
    )
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=2)
    worker_max_cached_workflows: int = Field(
        default=2_000,
        ge=0,
        description="Workflows kept in memory between tasks; the rest replay when they wake.",
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body the API reads (413 above)."
    )
    idempotency_ttl_seconds: int = Field(
        default=24 * 3600, ge=60, description="How long a stored Idempotency-Key answer replays."
    )
    idempotency_lease_seconds: int = Field(
        default=120,
        ge=1,
        description="An in-flight key older than this is taken to be abandoned (its process "
        "died) and may be claimed again.",
    )
    submit_rate_per_minute: float = Field(
        default=30.0, gt=0, description="Task submissions per user and minute, per API process."
    )
    submit_burst: int = Field(
        default=10, ge=1, description="Submissions a user may send at once before the rate applies."
    )

    # --- integrations: where people come from, where results and notifications go ------
    hris: Literal["embedded", "scim"] = Field(
        default="embedded",
        description="People source and results sink: the store's employee table, or SCIM 2.0.",
    )
    scim_url: str | None = Field(
        default=None, description="SCIM 2.0 base URL (the one /Users hangs off); hris=scim."
    )
    scim_token: SecretStr | None = Field(
        default=None, description="Bearer token for the SCIM service."
    )
    scim_results_url: str | None = Field(
        default=None,
        description="Where approved results are POSTed; unset means <scim_url>/perfloop/results.",
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP relay for e-mail notifications; unset means none."
    )
    smtp_port: int = 25
    smtp_sender: str = "perfloop@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    webhook_url: str | None = Field(
        default=None, description="Endpoint that receives every notification as signed JSON."
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the webhook's HMAC-SHA256 signature."
    )

    @field_validator("database_url", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator(
        "scim_url",
        "scim_token",
        "scim_results_url",
        "smtp_host",
        "smtp_username",
        "smtp_password",
        "webhook_url",
        "webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_integration_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @property
    def effective_database_url(self) -> str:
        """The URL the store uses: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'perfloop.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
