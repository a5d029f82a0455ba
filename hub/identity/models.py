"""Identity tables: principals, grants, OAuth clients, signing keys, codes, refresh tokens, revocations.

They share the catalog's declarative Base (one schema, one migration history). Secrets are never stored
in the clear: client secrets and passwords as argon2 hashes, codes and refresh tokens as SHA-256 digests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.catalog.models import NAME, OPTIONAL_JSON, Base, UTCDateTime, utcnow


class PrincipalRow(Base):
    """The birth certificate of an agent, service or user."""

    __tablename__ = "principals"

    id: Mapped[str] = mapped_column(NAME, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # agent | service | user
    owner: Mapped[str] = mapped_column(String(200), nullable=False)
    purpose: Mapped[str] = mapped_column(Text, nullable=False)
    environment: Mapped[str] = mapped_column(String(16), nullable=False)  # dev | prod
    version: Mapped[str | None] = mapped_column(String(64))
    evaluation_plan: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active")  # active | suspended
    password_hash: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class GrantRow(Base):
    """Principal x scope. Only `approved` grants confer anything."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    principal_id: Mapped[str] = mapped_column(
        NAME, ForeignKey("principals.id", ondelete="CASCADE"), nullable=False, index=True
    )
    scope: Mapped[str] = mapped_column(String(300), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # requested | approved | denied | revoked
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    definition_hashes: Mapped[dict[str, Any] | None] = mapped_column(OPTIONAL_JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class ClientRow(Base):
    """An OAuth client: a principal's own credentials, or a registered (DCR) interactive client."""

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(300), primary_key=True)
    principal_id: Mapped[str | None] = mapped_column(NAME, ForeignKey("principals.id", ondelete="CASCADE"))
    secret_hash: Mapped[str | None] = mapped_column(String(200))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)  # principal | dcr
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKeyRow(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16), nullable=False)
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)  # active | retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuthCodeRow(Base):
    __tablename__ = "oauth_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(300), nullable=False)
    principal_id: Mapped[str] = mapped_column(NAME, nullable=False)
    redirect_uri: Mapped[str] = mapped_column(Text, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    resource: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128), nullable=False)
    code_challenge_method: Mapped[str] = mapped_column(String(8), nullable=False)
    family_id: Mapped[str] = mapped_column(String(40), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # authlib's AuthorizationCodeMixin
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class RefreshTokenRow(Base):
    __tablename__ = "oauth_refresh_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(40), nullable=False, index=True)
    client_id: Mapped[str] = mapped_column(String(300), nullable=False)
    principal_id: Mapped[str] = mapped_column(NAME, nullable=False)
    scope: Mapped[str] = mapped_column(Text, nullable=False, default="")
    resource: Mapped[str | None] = mapped_column(Text)
    bound: Mapped[bool] = mapped_column(nullable=False, default=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # rotated: a second use is reuse
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)


class RevocationRow(Base):
    """A revoked access token (kind `jti`) or a whole token family (kind `family`)."""

    __tablename__ = "oauth_revocations"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "jti:<id>" | "family:<id>"
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    revoked_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow, index=True)


class SeenAssertionRow(Base):
    """private_key_jwt assertion ids already used (single use until they expire)."""

    __tablename__ = "oauth_seen_assertions"

    jti: Mapped[str] = mapped_column(String(300), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class HubSecretRow(Base):
    """Long-lived hub secrets (e.g. the key that signs login-form transactions), shared by replicas."""

    __tablename__ = "hub_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
