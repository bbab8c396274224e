"""Settings from the environment and a git-ignored `.env` file, all prefixed PINJIAN_."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the setting and never its value."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PINJIAN_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    database_url: str = ""
    timezone: str = "Asia/Shanghai"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    public_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    web_enabled: bool = True
    max_upload_mb: int = Field(default=20, ge=1, le=200)
    # Web chat uploads per person in a sliding window (more is refused with a clear answer).
    upload_window_minutes: int = Field(default=10, ge=1, le=1440)
    upload_window_files: int = Field(default=60, ge=1, le=100_000)
    upload_window_mb: int = Field(default=300, ge=1, le=1_000_000)
    log_level: str = "INFO"

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org/bot"
    telegram_file_url: str = "https://api.telegram.org/file/bot"
    telegram_bot_username: str = ""
    telegram_rate_limit: bool = True
    telegram_webhook_url: str = ""
    telegram_webhook_secret: SecretStr | None = None

    wecom_corp_id: str = ""
    wecom_agent_id: int | None = None
    wecom_secret: SecretStr | None = None
    wecom_token: SecretStr | None = None
    wecom_aes_key: SecretStr | None = None
    wecom_api_url: str = "https://qyapi.weixin.qq.com"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value():
            raw = value.get_secret_value()
            head, _, tail = raw.partition(":")
            if not head.isdigit() or len(tail) < 10:
                raise ValueError("not a Telegram bot token (expected 123456:ABC…)")
        return value

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # What Telegram's setWebhook accepts as secret_token.
        raw = value.get_secret_value() if value is not None else ""
        if raw and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", raw):
            raise ValueError("1-256 characters, only A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("wecom_agent_id", mode="before")
    @classmethod
    def _empty_agent_id(cls, value: object) -> object:
        # `PINJIAN_WECOM_AGENT_ID=` as in .env.example means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("wecom_aes_key")
    @classmethod
    def _aes_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() and len(value.get_secret_value()) != 43:
            raise ValueError("EncodingAESKey must be 43 characters")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'pinjian.db').resolve()}"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None and bool(self.telegram_token.get_secret_value())

    @property
    def wecom_missing(self) -> list[str]:
        """The WeCom settings still empty (all five are needed for the WeCom channel)."""
        values = {
            "PINJIAN_WECOM_CORP_ID": bool(self.wecom_corp_id),
            "PINJIAN_WECOM_AGENT_ID": self.wecom_agent_id is not None,
            "PINJIAN_WECOM_SECRET": bool(
                self.wecom_secret and self.wecom_secret.get_secret_value()
            ),
            "PINJIAN_WECOM_TOKEN": bool(self.wecom_token and self.wecom_token.get_secret_value()),
            "PINJIAN_WECOM_AES_KEY": bool(
                self.wecom_aes_key and self.wecom_aes_key.get_secret_value()
            ),
        }
        return [name for name, present in values.items() if not present]

    @property
    def wecom_enabled(self) -> bool:
        return not self.wecom_missing


def load_settings(**overrides: object) -> Settings:
    """Load settings, turning validation errors into one line per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_input=False, include_url=False):
            field = ".".join(str(part) for part in error["loc"])
            lines.append(f"PINJIAN_{field.upper()}: {error['msg']}")
        raise ConfigError("; ".join(lines)) from None
