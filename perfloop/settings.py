"""Settings, validated once at load through `get_settings()`.

Every setting is read from the environment with the `PERFLOOP_` prefix (for example
`PERFLOOP_DATABASE_URL`). Nothing here connects to anything: engines and clients are
built by whoever needs them, from these values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
"""What an OIDC token may be signed with: public-key algorithms only. `none` would accept
anything, and HS* would make the identity provider's public key a shared secret."""


RETENTION_CATEGORIES = (
    "profile",
    "participation",
    "tasks",
    "goals",
    "reviews",
    "minutes",
    "ratings",
    "results",
    "notifications",
    "timeline",
    "audit",
)
"""What an erasure removes, category by category (`api/services/dsr.py` maps each to its
tables); `PERFLOOP_RETENTION_KEEP` names those kept. `audit` is kept whatever it says."""


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value (a secret too short, say) never ends up in
    # the error message, hence never in a log or a terminal.
    model_config = SettingsConfigDict(
        env_prefix="PERFLOOP_", frozen=True, extra="ignore", hide_input_in_errors=True
    )

    home: Path = Field(
        default=Path(".perfloop"),
        description="Data folder for the embedded defaults (SQLite store, dev server).",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; empty means a SQLite file in the data folder.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description="Store connections each process keeps open. A worker runs up to "
        "`worker_max_concurrent_activities` transactions at once; those beyond the pool "
        "(and its overflow) wait for a connection instead of opening one.",
    )
    database_max_overflow: int = Field(
        default=10,
        ge=0,
        description="Extra connections opened under a burst and closed once the pool is "
        "full again.",
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
    worker_sandbox: bool = Field(
        default=True,
        description="Run workflow code in Temporal's sandbox, which refuses non-deterministic "
        "calls at run time. Off saves the sandbox's cost on every workflow task (bench/README.md); "
        "the test suite runs every workflow in the strict sandbox either way.",
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

    # --- authentication: who is calling (`api/auth.py`) ------------------------------
    auth_mode: Literal["dev", "oidc"] = Field(
        default="dev",
        description="`dev`: tokens from `perfloop token` (refused in production); "
        "`oidc`: bearer JWTs from an identity provider, checked against its JWKS.",
    )
    oidc_issuer: str | None = Field(default=None, description="Required `iss` of OIDC tokens.")
    oidc_audience: str | None = Field(default=None, description="Required `aud` of OIDC tokens.")
    oidc_jwks_url: str | None = Field(
        default=None, description="Where the identity provider publishes its signing keys."
    )
    oidc_algorithms: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("RS256", "ES256"),
        description="Signature algorithms accepted (comma-separated); never `none` or HS*.",
    )
    oidc_subject_claim: str = Field(
        default="sub", description="Claim holding the employee id (dotted for nested claims)."
    )
    oidc_roles_claim: str = Field(
        default="roles", description="Claim listing perfloop roles, e.g. `realm_access.roles`."
    )
    oidc_departments_claim: str = Field(
        default="departments", description="Claim listing the departments an HRBP partners."
    )
    oidc_jwks_cache_seconds: int = Field(
        default=300, ge=0, description="How long fetched signing keys are reused."
    )
    auth_cache_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a verified bearer token is remembered, so that its signature "
        "is checked once in that time, not with every request (never past its expiry); "
        "0: checked every time.",
    )

    # --- operations: encrypted payloads, metrics, logs (`perfloop/codec.py`) ----------
    payload_keys: SecretStr | None = Field(
        default=None,
        description="Key ring for Temporal payloads: `id=base64(32 bytes)` entries, comma-"
        "separated; the first encrypts, all decrypt. Unset: PAYLOAD_KEYS_FILE, then "
        "<home>/payload-keys (which `perfloop dev` creates); none of them: plain payloads.",
    )
    payload_keys_file: Path | None = Field(
        default=None, description="A file holding the key ring (one entry a line)."
    )
    codec_cors_origins: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("http://127.0.0.1:8233", "http://localhost:8233"),
        description="Origins (the Temporal UI's) allowed to call /v1/codec/* from a browser.",
    )
    sdk_metrics_address: str | None = Field(
        default=None,
        description="host:port where the worker process serves the Temporal SDK's "
        "Prometheus metrics (`perfloop worker` and `perfloop dev`); unset: none.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="`json`: one JSON object a line, with correlation ids."
    )

    # --- data-subject requests (`api/services/dsr.py`) ---------------------------------
    retention_keep: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("results", "audit"),
        description="Categories an erasure keeps (comma-separated); `audit` is always kept.",
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
    progress_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the progress webhook (POST /v1/progress-events), "
        "HMAC-SHA256; at least 16 characters; unset turns the webhook off. Never logged.",
    )
    progress_webhook_tolerance_seconds: int = Field(
        default=300,
        ge=30,
        le=3600,
        description="How far a progress webhook's signed timestamp may be from now.",
    )

    # --- fault drills only (`perfloop/faults.py`, `tests/reliability/`) ----------------
    fault_kill_after_commit: str | None = Field(
        default=None,
        description="Test only: `<activity>:<n>` makes the worker SIGKILL itself right "
        "after that activity's n-th commit. Refused in production.",
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
        "payload_keys",
        "payload_keys_file",
        "sdk_metrics_address",
        "progress_webhook_secret",
        "fault_kill_after_commit",
        mode="before",
    )
    @classmethod
    def _empty_integration_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("progress_webhook_secret")
    @classmethod
    def _strong_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            # The message never includes the value.
            raise ValueError("PERFLOOP_PROGRESS_WEBHOOK_SECRET must be at least 16 characters")
        return value

    @field_validator("oidc_algorithms", "retention_keep", "codec_cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("oidc_issuer", "oidc_audience", "oidc_jwks_url", mode="before")
    @classmethod
    def _empty_oidc_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("retention_keep")
    @classmethod
    def _known_categories(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(RETENTION_CATEGORIES))
        if unknown:
            raise ValueError(
                f"unknown retention categories {', '.join(unknown)}; "
                f"known: {', '.join(RETENTION_CATEGORIES)}"
            )
        return tuple(dict.fromkeys((*value, "audit")))

    @field_validator("fault_kill_after_commit")
    @classmethod
    def _fault_spec(cls, value: str | None) -> str | None:
        if value is not None:
            from perfloop.faults import KillAfterCommit

            KillAfterCommit.parse(value)
        return value

    @model_validator(mode="after")
    def _no_faults_in_production(self) -> Settings:
        if self.environment == "production" and self.fault_kill_after_commit:
            raise ValueError(
                "PERFLOOP_FAULT_KILL_AFTER_COMMIT is for fault drills only and is refused "
                "when PERFLOOP_ENVIRONMENT=production"
            )
        return self

    @model_validator(mode="after")
    def _check_auth(self) -> Settings:
        if self.auth_mode == "oidc":
            missing = [
                f"PERFLOOP_OIDC_{name.upper()}"
                for name in ("issuer", "audience", "jwks_url")
                if not getattr(self, f"oidc_{name}")
            ]
            if missing:
                raise ValueError(f"auth_mode=oidc needs {', '.join(missing)}")
            if not self.oidc_algorithms:
                raise ValueError("PERFLOOP_OIDC_ALGORITHMS may not be empty")
            refused = [alg for alg in self.oidc_algorithms if alg not in ASYMMETRIC_ALGORITHMS]
            if refused:
                allowed = ", ".join(sorted(ASYMMETRIC_ALGORITHMS))
                raise ValueError(
                    f"PERFLOOP_OIDC_ALGORITHMS may not contain {', '.join(refused)}: "
                    f"only public-key algorithms ({allowed})"
                )
        return self

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
