"""The hub's token-signing keys: ES256, persisted in the database, rotated on demand.

Keys are generated only when the database holds none (first start), and that is logged; a hub never
replaces its keys silently. A rotated-out key stays in the JWKS (and verifies) until every token it
signed has expired.
"""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from joserfc.jwk import ECKey, KeySet

from hub.catalog.models import utcnow
from hub.identity.store import IdentityStore

log = logging.getLogger("hub.identity")
ALG = "ES256"


def _generate() -> tuple[str, dict]:
    kid = "hub-" + secrets.token_hex(8)
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "alg": ALG, "use": "sig"}, private=True)
    return kid, key.as_dict(private=True)


class KeyRing:
    def __init__(self, store: IdentityStore, retention: timedelta) -> None:
        self.store = store
        self.retention = retention  # how long a retired key keeps verifying (>= the longest token life)
        self._signing: ECKey | None = None
        self._verifying: dict[str, ECKey] = {}
        self._loaded_at = 0.0

    async def reload_if_older_than(self, seconds: float) -> bool:
        """Re-read the keys (another replica may have rotated) unless that was done recently."""
        if time.monotonic() - self._loaded_at < seconds:
            return False
        await self.load()
        return True

    async def load(self) -> None:
        rows = await self.store.signing_keys()
        if not rows:
            kid, jwk = _generate()
            await self.store.add_signing_key(kid, ALG, jwk, retire_others=False)
            log.warning("no signing key in the database: generated %s (first start)", kid)
            rows = await self.store.signing_keys()
        cutoff = utcnow() - self.retention
        verifying: dict[str, ECKey] = {}
        signing: ECKey | None = None
        for row in rows:
            if row.alg != ALG or (row.state == "retired" and row.retired_at and row.retired_at < cutoff):
                continue
            key = ECKey.import_key(row.private_jwk)
            verifying[row.kid] = key
            if row.state == "active":
                signing = key  # rows come oldest first: the newest active key signs
        if signing is None:
            raise RuntimeError("the database holds signing keys but none is active; rotate keys to add one")
        self._signing, self._verifying = signing, verifying
        self._loaded_at = time.monotonic()

    async def rotate(self) -> str:
        kid, jwk = _generate()
        await self.store.add_signing_key(kid, ALG, jwk, retire_others=True)
        await self.store.drop_signing_keys_retired_before(utcnow() - self.retention)
        await self.load()
        log.info("signing key rotated: %s now signs", kid)
        return kid

    @property
    def signing_key(self) -> ECKey:
        assert self._signing is not None, "KeyRing.load() first"
        return self._signing

    @property
    def kid(self) -> str:
        return str(self.signing_key.kid)

    def verification_keys(self) -> KeySet:
        return KeySet(list(self._verifying.values()))

    def has_kid(self, kid: str) -> bool:
        return kid in self._verifying

    def jwks(self) -> dict:
        return {"keys": [k.as_dict(private=False) for k in self._verifying.values()]}
