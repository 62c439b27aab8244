"""Settings from environment variables (and an optional `.env` file).

Every setting has a default that works offline on a laptop: a SQLite file in
`var/`, the web chat on 127.0.0.1:8080, no messenger tokens.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{ROOT / 'var' / 'family-window.sqlite3'}",
        description="SQLAlchemy async URL; sqlite+aiosqlite:///path or postgresql+asyncpg://…",
    )
    db_echo: bool = False

    # Content
    dialogs_dir: Path = ROOT / "dialogs"
    knowledge_dir: Path = ROOT / "knowledge"
    locales_dir: Path = ROOT / "locales"
    default_language: str = "ru"

    # Web chat (and webhook endpoint)
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    web_exit_url: str = "https://yandex.ru/pogoda"
    web_embed_origins: str = Field(
        default="*",
        description="Space-separated origins allowed to embed the chat in an iframe ('*' = any).",
    )
    web_rate_per_minute: int = 30
    web_trusted_proxies: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For is believed (comma-separated IPs, or *)",
    )

    # Telegram
    telegram_token: str | None = None
    telegram_api_server: str | None = Field(
        default=None, description="Base URL of another Bot API server, e.g. http://127.0.0.1:8081"
    )
    telegram_mode: str = Field(default="polling", description="polling | webhook")
    telegram_webhook_url: str | None = Field(
        default=None, description="Public https URL Telegram should POST updates to"
    )
    telegram_webhook_secret: str | None = None

    # VK (a community bot; on when both the token and the group id are set)
    vk_token: str | None = Field(default=None, description="The community's access token")
    vk_group_id: int | None = Field(default=None, description="The community's id (a number)")
    vk_api_url: str = Field(
        default="https://api.vk.com/method/", description="Base URL of the VK API methods"
    )
    vk_mode: str = Field(default="longpoll", description="longpoll | callback")
    vk_callback_secret: str | None = Field(
        default=None, description="The secret set for the Callback API in the community"
    )
    vk_confirmation: str | None = Field(
        default=None, description="The string VK shows to confirm the Callback API server"
    )

    @field_validator("vk_mode")
    @classmethod
    def _vk_mode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"longpoll", "callback"}:
            raise ValueError("VK_MODE must be 'longpoll' or 'callback'")
        return value

    @field_validator(
        "vk_token", "vk_group_id", "vk_callback_secret", "vk_confirmation", mode="before"
    )
    @classmethod
    def _vk_empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    # (end of VK)

    # Service promises shown to families (be honest: these are the centre's real hours)
    consultant_hours: str = Field(
        default="пн–пт 9:00–18:00",
        description="Consultants' working hours shown to families (translated if in the catalog)",
    )
    consultant_reply_hours: int = Field(
        default=24, description="Within how many working hours a consultant answers a case"
    )

    # Consultants (tier 2): the staff group, hours and service levels
    staff_group_id: int | None = Field(
        default=None,
        description="Telegram supergroup (with topics) where consultants take cases, e.g. -100…",
    )
    consultant_schedule: str = Field(
        default="пн-пт 09:00-18:00",
        description="When consultants work (local time): 'пн-пт 09:00-18:00; сб 10:00-14:00'",
    )
    timezone: str = Field(default="Europe/Moscow", description="The centre's local time zone")
    case_sla_minutes: int = Field(
        default=30, description="A case not taken within this many working minutes alerts staff"
    )
    follow_up_days: int = Field(
        default=3, description="Default delay of a consultant's follow-up message, in days"
    )

    # Admin panel (/admin)
    admin_session_hours: int = Field(default=12, description="A staff login lasts at most this")
    admin_idle_minutes: int = Field(default=60, description="…and ends after this long unused")
    admin_secure_cookies: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (set behind TLS)"
    )

    # Privacy
    retention_days_without_consent: int = 30
    retention_days: int = 365
    log_level: str = "INFO"

    @field_validator("telegram_mode")
    @classmethod
    def _mode(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"polling", "webhook"}:
            raise ValueError("TELEGRAM_MODE must be 'polling' or 'webhook'")
        return value

    @field_validator("consultant_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        from bot.consult.schedule import ScheduleError, parse

        try:
            parse(value)
        except ScheduleError as error:
            raise ValueError(f"CONSULTANT_SCHEDULE: {error}") from error
        return value

    @field_validator(
        "telegram_token",
        "telegram_api_server",
        "telegram_webhook_url",
        "staff_group_id",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
