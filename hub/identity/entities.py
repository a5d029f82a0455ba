"""Identity entities as the rest of the hub sees them (pydantic in, frozen dataclasses out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.identity.passwords import MIN_PASSWORD_LENGTH

Kind = Literal["agent", "service", "user"]
Environment = Literal["dev", "prod"]
ID_PATTERN = r"^[a-z0-9][a-z0-9._:-]{0,63}$"


class PrincipalSpec(BaseModel):
    """The birth certificate. Nothing is created without id, name, owner, purpose, environment, kind."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str | None = Field(default=None, pattern=ID_PATTERN)  # generated from the name when absent
    name: str = Field(min_length=1, max_length=200)
    owner: str = Field(min_length=1, max_length=200)
    purpose: str = Field(min_length=1, max_length=2000)
    environment: Environment
    kind: Kind
    version: str | None = Field(default=None, max_length=64)
    evaluation_plan: str | None = Field(default=None, max_length=4000)
    # Users sign in on the consent page with a password; agents and services get client credentials.
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=1024)
    # private_key_jwt instead of a client secret: the client's public keys (a JWKS document).
    jwks: dict[str, Any] | None = None
    scopes: list[str] = Field(default_factory=list, max_length=200)

    @field_validator("name", "owner", "purpose")
    @classmethod
    def _printable(cls, value: str) -> str:
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise ValueError("control characters are not allowed")
        return value

    @model_validator(mode="after")
    def _credentials_fit_kind(self) -> PrincipalSpec:
        if self.kind == "user" and not self.password:
            raise ValueError("a user needs a password (users sign in on the consent page)")
        if self.kind != "user" and self.password:
            raise ValueError("only users have passwords; agents and services get client credentials")
        if self.jwks is not None:
            keys = self.jwks.get("keys")
            if not isinstance(keys, list) or not keys or len(keys) > 10:
                raise ValueError("jwks must be a JWKS document with 1 to 10 keys")
            if any(not isinstance(k, dict) or "d" in k or k.get("kty") not in ("EC", "RSA", "OKP") for k in keys):
                raise ValueError("jwks must hold public keys only (kty EC, RSA or OKP)")
            try:
                KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise ValueError(f"jwks holds a key that cannot be used: {exc}") from None
        return self


@dataclass(frozen=True, slots=True)
class PrincipalRecord:
    id: str
    name: str
    kind: str
    owner: str
    purpose: str
    environment: str
    version: str | None
    evaluation_plan: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    scopes: frozenset[str] = frozenset()

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "kind": self.kind, "owner": self.owner, "purpose": self.purpose,
            "environment": self.environment, "version": self.version, "evaluation_plan": self.evaluation_plan,
            "status": self.status, "scopes": sorted(self.scopes),
            "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
        }
