"""Access tokens: minting the hub's own (RFC 9068 `at+jwt`, ES256) and verifying ours or a trusted issuer's.

Verification follows RFC 8725: the algorithm list is pinned per issuer, never read from the token; keys
come only from the hub's key ring or an operator-configured JWKS, never from `jku`/`x5u`/`jwk`/`x5c`
headers (a token carrying one is refused before any key is looked at); `iss`, `aud`, `exp`, `nbf` and
`iat` are checked with a small fixed leeway; `typ` must say access token.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from hub.config import TrustedIssuer
from hub.identity.fetch import FetchError, FetchPolicy, fetch_json
from hub.identity.keys import ALG, KeyRing

MAX_TOKEN_BYTES = 8192
_KEY_HEADERS = ("jku", "x5u", "jwk", "x5c")
_JWKS_TTL_S = 300.0
_JWKS_MIN_REFETCH_S = 30.0


class InvalidToken(Exception):
    """The token is not acceptable here; the message is safe to show the caller."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    issuer: str
    subject: str
    client_id: str
    scopes: frozenset[str]
    audience: tuple[str, ...]
    jti: str | None
    family: str | None
    expires_at: int
    bound: bool  # the client asked for these scopes: they cap what the principal's grants give
    trusted: TrustedIssuer | None = None  # set for tokens of an external issuer


class TokenIssuer:
    def __init__(self, keys: KeyRing, issuer: str, environment: str, ttl_s: int) -> None:
        self.keys, self.issuer, self.environment, self.ttl_s = keys, issuer, environment, ttl_s

    def mint(self, *, subject: str, client_id: str, scopes: list[str], audience: str, family: str,
             bound: bool) -> tuple[str, dict[str, Any]]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "sub": subject, "aud": audience, "client_id": client_id,
            "iat": now, "nbf": now, "exp": now + self.ttl_s, "jti": secrets.token_urlsafe(16),
            "scope": " ".join(scopes), "env": self.environment, "fam": family,
        }
        if bound:
            claims["bnd"] = True
        header = {"alg": ALG, "typ": "at+jwt", "kid": self.keys.kid}
        return jwt.encode(header, claims, self.keys.signing_key, algorithms=[ALG]), claims


def _segment(part: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed token") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed token")
    return value


class _RemoteKeys:
    """An operator-configured JWKS, cached; refetched on an unknown kid at most every 30 s."""

    def __init__(self, config: TrustedIssuer, ca_file: str | None) -> None:
        self.config, self.ca_file = config, ca_file
        self.keys: KeySet | None = KeySet.import_key_set(config.jwks) if config.jwks else None  # type: ignore[arg-type]
        self.fetched_at = 0.0

    async def get(self, kid: str | None) -> KeySet:
        stale = time.monotonic() - self.fetched_at > _JWKS_TTL_S
        unknown = self.keys is None or (kid is not None and not _has_kid(self.keys, kid))
        if self.config.jwks_uri and (stale or unknown) and time.monotonic() - self.fetched_at > _JWKS_MIN_REFETCH_S:
            self.fetched_at = time.monotonic()
            policy = FetchPolicy(allow_http_loopback=self.config.allow_http_loopback,
                                 allow_private=self.config.allow_private_network, extra_ca_file=self.ca_file)
            try:
                self.keys = KeySet.import_key_set(await fetch_json(self.config.jwks_uri, policy=policy))  # type: ignore[arg-type]
            except (FetchError, JoseError, ValueError, TypeError) as exc:
                if self.keys is None:
                    raise InvalidToken("the issuer's keys are unavailable") from exc
        if self.keys is None:
            raise InvalidToken("the issuer's keys are unavailable")
        return self.keys


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


class TokenVerifier:
    def __init__(self, keys: KeyRing, issuer: str, environment: str, leeway_s: int,
                 trusted: list[TrustedIssuer], ca_file: str | None = None) -> None:
        self.keys, self.issuer, self.environment, self.leeway_s = keys, issuer, environment, leeway_s
        self.trusted = {t.issuer: t for t in trusted}
        self._remote = {t.issuer: _RemoteKeys(t, ca_file) for t in trusted}
        # Signature checks are the costly part; a token seen before skips them (claims are re-checked).
        self._cache: OrderedDict[str, tuple[dict[str, Any], TrustedIssuer | None]] = OrderedDict()

    async def verify(self, token: str, audiences: frozenset[str]) -> TokenClaims:
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        cached = self._cache.get(token)
        if cached is not None:
            self._cache.move_to_end(token)
            claims, trusted = cached
        else:
            claims, trusted = await self._verify_signature(token)
            self._cache[token] = (claims, trusted)
            if len(self._cache) > 4096:
                self._cache.popitem(last=False)
        return self._check_claims(claims, trusted, audiences)

    async def _verify_signature(self, token: str) -> tuple[dict[str, Any], TrustedIssuer | None]:
        parts = token.split(".")
        if len(parts) != 3 or not all(parts[:2]):
            raise InvalidToken("malformed token")
        header, unverified = _segment(parts[0]), _segment(parts[1])
        if any(name in header for name in _KEY_HEADERS):
            raise InvalidToken("tokens that name their own keys (jku, x5u, jwk, x5c) are not accepted")
        issuer = unverified.get("iss")
        trusted: TrustedIssuer | None = None
        if issuer == self.issuer:
            algorithms, types = [ALG], ["at+jwt", "application/at+jwt"]
            kid = header.get("kid")
            if not isinstance(kid, str) or len(kid) > 64:
                raise InvalidToken("unknown signing key")
            # A kid we don't know may be another replica's new key: re-read the key table (rate-limited).
            if not self.keys.has_kid(kid) and not (await self.keys.reload_if_older_than(1.0)
                                                   and self.keys.has_kid(kid)):
                raise InvalidToken("unknown signing key")
            keys: KeySet = self.keys.verification_keys()
        elif isinstance(issuer, str) and issuer in self.trusted:
            trusted = self.trusted[issuer]
            algorithms, types = trusted.algorithms, trusted.token_types
            kid = header.get("kid")
            keys = await self._remote[issuer].get(kid if isinstance(kid, str) else None)
        else:
            raise InvalidToken("token from an untrusted issuer")
        if header.get("alg") not in algorithms:
            raise InvalidToken("token algorithm not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in {t.lower() for t in types}:
            raise InvalidToken("not an access token (typ)")
        try:
            decoded = jwt.decode(token, keys, algorithms=algorithms)
        except (JoseError, ValueError, TypeError) as exc:
            raise InvalidToken("invalid token signature") from exc
        return dict(decoded.claims), trusted

    def _check_claims(self, claims: dict[str, Any], trusted: TrustedIssuer | None,
                      audiences: frozenset[str]) -> TokenClaims:
        now = time.time()
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise InvalidToken("token has no expiry")
        if now > exp + self.leeway_s:
            raise InvalidToken("token expired")
        if isinstance(nbf, int | float) and now + self.leeway_s < nbf:
            raise InvalidToken("token not yet valid")
        if isinstance(iat, int | float) and now + self.leeway_s < iat:
            raise InvalidToken("token issued in the future")
        aud = claims.get("aud")
        auds = tuple(aud) if isinstance(aud, list) else (aud,) if isinstance(aud, str) else ()
        # An external issuer's tokens name the audience the operator configured for it.
        accepted = frozenset(trusted.audience) if trusted is not None and trusted.audience else audiences
        if not any(a in accepted for a in auds):
            raise InvalidToken("token not issued for this resource (aud)")
        if trusted is None:
            if claims.get("env") != self.environment:
                raise InvalidToken(f"token issued for another environment; this hub is {self.environment}")
            subject, client_id = claims.get("sub"), claims.get("client_id")
            scopes = claims.get("scope", "")
        else:
            subject = claims.get(trusted.subject_claim)
            client_id = claims.get("client_id") or claims.get("azp") or subject
            scopes = claims.get(trusted.scope_claim, "") if trusted.scope_claim else ""
            environment = trusted.environment or self.environment
            if environment != self.environment:
                raise InvalidToken(f"issuer trusted for {environment}; this hub is {self.environment}")
        if not isinstance(subject, str) or not subject or len(subject) > 200:
            raise InvalidToken("token has no subject")
        if isinstance(scopes, list):
            scopes = " ".join(str(s) for s in scopes)
        jti, family = claims.get("jti"), claims.get("fam")
        return TokenClaims(
            issuer=claims["iss"], subject=(trusted.principal_prefix if trusted else "") + subject,
            client_id=str(client_id or ""), scopes=frozenset(str(scopes).split()), audience=auds,
            jti=jti if isinstance(jti, str) else None, family=family if isinstance(family, str) else None,
            expires_at=int(exp), bound=bool(claims.get("bnd")), trusted=trusted,
        )
