from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Lily's configuration, from `LILY_*` environment variables and `.env` (DESIGN §4.1).
    Read once, in the composition root."""

    model_config = SettingsConfigDict(env_prefix="LILY_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./lily.db"
    redis_url: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    jitter_min_seconds: float = Field(10.0, ge=0)
    jitter_max_seconds: float = Field(45.0, ge=0)
    worker_concurrency: int = Field(4, ge=1, le=256)
    task_max_attempts: int = Field(5, ge=1)
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_url: str = "https://api.twilio.com"
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_url: str = "https://api.stripe.com"
    stripe_price_starter: str | None = None
    stripe_price_pro: str | None = None
    google_service_account_file: Path | None = None
    google_calendar_api_url: str = "https://www.googleapis.com/calendar/v3"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    data_dir: Path = Path("./lily-data")
    chatwoot_url: str | None = None
    chatwoot_api_token: SecretStr | None = None
    log_format: str = Field("json", pattern="^(json|pretty)$")
    log_level: str = "INFO"
    secret_key: SecretStr | None = None  # signs local upload URLs; generated into data_dir if unset

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.jitter_min_seconds > self.jitter_max_seconds:
            raise ValueError("LILY_JITTER_MIN_SECONDS is greater than LILY_JITTER_MAX_SECONDS")
        self.public_url = self.public_url.rstrip("/")
        return self

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def platform_twilio_token(self) -> str | None:
        return self.twilio_auth_token.get_secret_value() if self.twilio_auth_token else None
