from __future__ import annotations

from pathlib import Path
from typing import Literal

import pydantic_settings
import sqlalchemy as sa
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LILY_"
LogLevel = Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Lily's configuration, from `LILY_*` environment variables and `.env` (DESIGN §4.1).
    Read once, in the composition root, with `load_settings()`."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./lily.db"
    redis_url: str | None = None
    # PostgreSQL connections each process keeps (10 more when busy); `lily serve` runs as
    # many request threads, so a request never waits for one nor opens a new one
    database_pool_size: int = Field(20, ge=1, le=1000)
    public_url: str = "http://127.0.0.1:8000"
    jitter_min_seconds: float = Field(10.0, ge=0)
    jitter_max_seconds: float = Field(45.0, ge=0)
    worker_concurrency: int = Field(4, ge=1, le=256)
    task_max_attempts: int = Field(5, ge=1)
    # a claimed task's lease; the worker renews it every third while the task runs, and a
    # dead worker's task is handed out again when it runs out
    task_lease_seconds: float = Field(30.0, ge=3, le=3600)
    # texts a second from one sending number (Twilio queues a long code's at about 1/s),
    # shared by every worker through Redis when LILY_REDIS_URL is set
    sms_rate_per_number: int = Field(1, ge=1, le=1000)
    # how long a process keeps a tenant it looked up for a webhook (0: not at all); a change
    # is seen at once in the process that made it, and in every process with Redis
    tenant_cache_seconds: float = Field(5.0, ge=0, le=3600)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_url: str = "https://api.twilio.com"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"
    stripe_price_starter: str | None = None
    stripe_price_pro: str | None = None
    plan_starter_sms: int = Field(500, ge=0)  # monthly automated-SMS allowance (DESIGN §2.4)
    plan_pro_sms: int = Field(5000, ge=0)
    trial_days: int = Field(14, ge=0, le=3650)
    billing_grace_days: int = Field(7, ge=0, le=3650)  # how long past_due still sends
    google_service_account_file: Path | None = None
    google_calendar_api_url: str = "https://www.googleapis.com/calendar/v3"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    data_dir: Path = Path("./lily-data")
    chatwoot_url: str | None = None
    chatwoot_api_token: SecretStr | None = None
    # email for the owner's daily digest (issue 18): smtp[s]://[user:pw@]host[:port][?from=]
    smtp_url: SecretStr | None = None
    log_format: Literal["json", "pretty"] = "json"
    log_level: LogLevel = "INFO"
    secret_key: SecretStr | None = None  # signs local upload URLs; generated into data_dir if unset
    # fields encrypted at rest (lily_adapters.crypto): "id:base64url-key,...", newest first,
    # and the blind indexes' HMAC key; generated into data_dir if unset (embedded default)
    encryption_keys: SecretStr | None = None
    blind_index_key: SecretStr | None = None
    user_token_minutes: int = Field(720, ge=1, le=30 * 24 * 60)  # a user token's lifetime

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _sqlalchemy_url(cls, value: str) -> str:
        try:
            url = sa.make_url(value)
        except sa.exc.ArgumentError:
            raise ValueError(
                "must be a SQLAlchemy URL such as postgresql+psycopg://user:pass@host/db"
            ) from None
        # Hosts (Render, Heroku) hand out postgres:// and postgresql:// URLs, which SQLAlchemy
        # would read as psycopg2; psycopg 3 is the driver Lily ships.
        if url.drivername in ("postgres", "postgresql"):
            return "postgresql+psycopg" + value[len(url.drivername) :]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.jitter_min_seconds > self.jitter_max_seconds:
            raise ValueError("LILY_JITTER_MIN_SECONDS is greater than LILY_JITTER_MAX_SECONDS")
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def keys_required(self) -> bool:
        """Production (a PostgreSQL database) takes its encryption keys from the environment:
        keys generated into a container's data directory would be lost with it."""
        return sa.make_url(self.database_url).get_backend_name() != "sqlite"

    def missing_keys(self) -> str | None:
        """One line naming the key settings production lacks (None: nothing missing)."""
        if not self.keys_required:
            return None
        missing = [
            name
            for name, value in (
                ("LILY_ENCRYPTION_KEYS", self.encryption_keys),
                ("LILY_BLIND_INDEX_KEY", self.blind_index_key),
            )
            if value is None
        ]
        if not missing:
            return None
        return (
            f"{' and '.join(missing)}: required with a PostgreSQL database"
            " (make them with `lily keys new`; keep them outside the database and its backups)"
        )

    @property
    def billing_enabled(self) -> bool:
        """Billing is on when LILY_STRIPE_SECRET_KEY is set; off, every tenant is unlimited."""
        return self.stripe_secret_key is not None

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def platform_twilio_token(self) -> str | None:
        return self.twilio_auth_token.get_secret_value() if self.twilio_auth_token else None


class InvalidSettings(Exception):
    """The environment (or `.env`) holds a setting Lily cannot use. The message is one line
    naming each variable at fault: `LILY_LOG_FORMAT: must be 'json' or 'pretty'`."""


def load_settings() -> Settings:
    """Read the settings from the environment and `.env`; InvalidSettings if any is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings("; ".join(map(_describe, exc.errors()))) from None
    except pydantic_settings.SettingsError as exc:  # a value that is not even parseable
        raise InvalidSettings(str(exc)) from None


def _describe(error: ErrorDetails) -> str:
    """One pydantic error as `LILY_<FIELD>: must be ...` (values are not echoed: some are
    secrets)."""
    variable = f"{ENV_PREFIX}{error['loc'][0]}".upper() if error["loc"] else None
    if error["type"] == "value_error":  # our validators: their own message, as written
        message = str(error.get("ctx", {}).get("error", error["msg"]))
    else:
        message = error["msg"].replace("Input should be", "must be", 1)
    return f"{variable}: {message}" if variable else message
