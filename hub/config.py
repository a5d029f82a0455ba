"""Settings: HUB_* environment variables, optionally a TOML/JSON config file (HUB_CONFIG_FILE)."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
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


class TrustedIssuer(BaseModel):
    """Another OAuth/OIDC issuer whose access tokens the hub accepts (an organisation's own IdP)."""

    model_config = ConfigDict(extra="forbid")

    issuer: str  # exact `iss` value
    jwks_uri: str | None = None  # fetched by the hub (never a URL taken from a token)
    jwks: dict[str, Any] | None = None  # or the keys inline
    audience: list[str] = Field(default_factory=list)  # accepted `aud` values; default: the hub's resources
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    token_types: list[str] = Field(default_factory=lambda: ["at+jwt"])  # accepted `typ` header values
    subject_claim: str = "sub"
    principal_prefix: str = ""  # principal id = prefix + the subject claim
    scope_claim: str | None = None  # scopes in the token that count, limited to allowed_scopes
    allowed_scopes: list[str] = Field(default_factory=list)
    environment: Literal["dev", "prod"] | None = None  # default: the hub's environment
    allow_private_network: bool = False  # the JWKS lives on a private address (an in-house IdP)
    allow_http_loopback: bool = False  # development only


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
    # Identity. A credential made for one environment never works on a hub of the other.
    environment: Literal["dev", "prod"] = "dev"
    access_token_ttl_s: int = Field(default=900, ge=60, le=86400)
    refresh_token_ttl_s: int = Field(default=30 * 86400, ge=3600)
    auth_code_ttl_s: int = Field(default=60, ge=10, le=600)
    token_leeway_s: int = Field(default=30, ge=0, le=120)
    identity_refresh_s: float = 1.0  # how often grants, suspensions and revocations are re-read
    trusted_issuers: list[TrustedIssuer] = Field(default_factory=list)
    dynamic_client_registration: bool = True
    # Client ID Metadata Documents on loopback addresses (http or https): local development and tests only.
    cimd_allow_loopback: bool = False
    # An extra CA bundle (PEM) trusted for the hub's own outbound fetches (metadata documents, JWKS).
    outbound_ca_file: str | None = None

    allowed_hosts: list[str] = Field(default_factory=list)  # default: the public URL's host + loopback
    allowed_origins: list[str] = Field(default_factory=list)

    # First-party tool packs served in-process (see hub.tools.PACKS).
    packs: list[str] = Field(default_factory=lambda: ["essentials"])

    max_request_bytes: int = 4 * 1024 * 1024
    # A request's head and body must arrive within this many seconds of its first byte (408 otherwise);
    # `hub serve` enforces it in its HTTP protocol (hub.http_protocol). Answers and streams are not bounded by it.
    request_read_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    max_upstream_response_bytes: int = 8 * 1024 * 1024
    upstream_timeout_s: float = 60.0
    upstream_connect_timeout_s: float = 15.0
    upstream_pool_size: int = 16  # concurrent calls per HTTP upstream
    sync_interval_s: float = 300.0  # periodic re-sync of every upstream
    page_size: int = 100  # tools/list page size
    catalog_watch_s: float = 1.0  # how often replicas look for approvals, quarantines and kill switches

    # Gateway. Rates are "<count>/<s|m|h>" token buckets; "" turns a limit off. With redis_url set the
    # buckets live in Redis (one limit for all replicas) and an unreachable Redis refuses calls.
    rate_limit: str = "100/s"  # every tools/call of one principal
    tool_rate_limit: str = "20/s"  # calls of one tool by one principal (a tool's policy may override)
    approval_timeout_s: float = Field(default=120.0, gt=0, le=3600)  # a risky call waits this long
    breaker_failures: int = Field(default=5, ge=1)  # consecutive upstream failures that open its circuit
    breaker_reset_s: float = Field(default=10.0, gt=0)  # open this long before one probe call
    # Search. The model loads and the index builds in the background; the index lives under data_dir (Qdrant
    # Edge) unless qdrant_url names a Qdrant server (":memory:" is qdrant-client's local mode, tests only).
    search: bool = True
    search_model: str = "all-MiniLM-L6-v2"  # a bundled name, a directory, or a name in the local HF cache
    search_max_seq_length: int = Field(default=128, ge=16, le=512)
    search_threads: int | None = Field(default=None, ge=1, le=64)  # encoder threads; default: every core
    # onnx: the model exported once to ONNX Runtime (cached under data_dir/models; the same vectors as torch,
    # a third of the query latency); torch: sentence-transformers as loaded.
    search_backend: Literal["onnx", "torch"] = "onnx"
    # int8 weights for indexing: about 2x the rate. Unset: on for onnx (documents only; queries stay fp32, and
    # ranking quality is unchanged), off for torch (whose int8 also embeds queries and costs ~1 nDCG point).
    search_quantize: bool | None = None
    # How dense and lexical scores combine (bench/search_quality.py compares them): linear is
    # weights[0] x cosine + weights[1] x BM25; rrf is weighted reciprocal rank fusion. Unset weights: the
    # fusion's own default (search/index.py DEFAULT_WEIGHTS; linear and rrf weigh on different scales).
    search_fusion: Literal["linear", "rrf", "dbsf", "dense", "lexical"] = "linear"
    search_weights: tuple[float, float] | None = None
    # Pseudo-relevance feedback weight for linear fusion (search/index.py Ranking.feedback); 0 turns it off.
    search_feedback: float = Field(default=0.3, ge=0, le=2)
    qdrant_api_key: str | None = None
    qdrant_collection: str = "hub_catalog"
    # Discovery mode: tools/list shows hub.find_tools and hub.call_tool instead of every tool. "auto" turns
    # it on for callers who may use more than discovery_threshold tools.
    discovery: Literal["off", "on", "auto"] = "auto"
    discovery_threshold: int = Field(default=200, ge=1)
    # A2A agents. Card URLs, agent endpoints and push-notification URLs must be public https unless the
    # operator allows private networks (where plain http is then allowed too); loopback is for development.
    agent_allow_private: bool = False
    agent_allow_loopback: bool = False
    # JWKs (or a JWKS file) the operator pinned: card signatures are verified against these only. A card's own
    # `jku` is fetched only when it starts with one of agent_jku_allowlist.
    agent_keys: list[dict[str, Any]] = Field(default_factory=list)
    agent_keys_file: str | None = None
    agent_jku_allowlist: list[str] = Field(default_factory=list)
    agent_require_signature: bool = False  # refuse cards not signed by a pinned key
    agent_refresh_s: float = Field(default=300.0, gt=0)  # cards registered by URL are re-fetched this often
    agent_rate_limit: str = "20/s"  # A2A calls of one agent by one principal ("": the per-tool rate applies)
    shutdown_grace_s: float = 20.0
    log_level: str = "info"

    @field_validator("anonymous_scopes", "allowed_hosts", "allowed_origins", "packs", "agent_jku_allowlist",
                     mode="before")
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

    def pinned_agent_keys(self) -> dict[str, Any]:
        """The JWKS card signatures are verified against: agent_keys plus the keys in agent_keys_file."""
        keys = list(self.agent_keys)
        if self.agent_keys_file:
            data = json.loads(Path(self.agent_keys_file).read_text())
            keys += data.get("keys", []) if isinstance(data, dict) and "keys" in data else [data]
        return {"keys": [k for k in keys if isinstance(k, dict)]}

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
