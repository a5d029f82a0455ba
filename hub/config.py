"""Settings: HUB_* environment variables, optionally a TOML/JSON config file (HUB_CONFIG_FILE)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


class _FileSource(PydanticBaseSettingsSource):
    """Values from the file named by HUB_CONFIG_FILE; environment variables win over it."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("HUB_CONFIG_FILE")
        self._data: dict[str, Any] = {}
        if path:
            text = Path(path).read_text()
            self._data = json.loads(text) if path.endswith(".json") else tomllib.loads(text)

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {k: v for k, v in self._data.items() if k in self.settings_cls.model_fields}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    data_dir: Path = Path(".hub")
    host: str = "127.0.0.1"
    port: int = 8000
    # The URL callers use to reach the hub (token audience, metadata); defaults to http://host:port.
    public_url: str | None = None
    database_url: str | None = None  # default: SQLite under data_dir
    qdrant_url: str | None = None
    redis_url: str | None = None
    nats_url: str | None = None

    # The bootstrap admin credential. Generated at first start (and stored under data_dir) if unset.
    admin_token: str | None = None
    # Grants of the anonymous principal: empty means no anonymous access (the default).
    # Only for single-user local setups, e.g. ["*"] or ["tool:clock.now"].
    anonymous_scopes: list[str] = Field(default_factory=list)

    # Host/Origin validation on /mcp (DNS-rebinding defence). Patterns as the mcp SDK takes them.
    allowed_hosts: list[str] = Field(default_factory=list)  # default: the public URL's host + loopback
    allowed_origins: list[str] = Field(default_factory=list)

    # First-party tool packs served in-process (see hub.tools.PACKS).
    packs: list[str] = Field(default_factory=lambda: ["essentials"])

    max_request_bytes: int = 4 * 1024 * 1024
    max_upstream_response_bytes: int = 8 * 1024 * 1024
    upstream_timeout_s: float = 60.0
    upstream_connect_timeout_s: float = 15.0
    upstream_pool_size: int = 16  # concurrent calls per HTTP upstream
    sync_interval_s: float = 300.0  # periodic re-sync of every upstream
    page_size: int = 100  # tools/list page size
    shutdown_grace_s: float = 20.0
    log_level: str = "info"

    @field_validator("anonymous_scopes", "allowed_hosts", "allowed_origins", "packs", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip().startswith("["):
            return [s.strip() for s in v.split(",") if s.strip()]
        return v

    @classmethod
    def settings_customise_sources(
        cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
    ):
        return init_settings, env_settings, _FileSource(settings_cls), file_secret_settings

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+asyncpg://" + url.split("://", 1)[1]
            return url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'hub.db').resolve()}"
