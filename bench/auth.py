"""What authentication costs per request: a bearer access token → Principal, in process.

    .venv/bin/python bench/auth.py [--iterations 20000]

Prints microseconds per call for a token seen before (claims, revocation and grants re-checked; the
signature check remembered) and for a token at first sight (ES256 signature verified).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from hub.catalog.store import Store
from hub.config import Settings
from hub.identity.entities import PrincipalSpec
from hub.identity.service import Identity


async def main(iterations: int) -> None:
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), packs=[])
        store = await Store.open(settings.sqlalchemy_url)
        identity = Identity(settings, store, "bench-admin-token")
        await identity.start()
        try:
            record, _ = await identity.create_principal(PrincipalSpec(
                name="bench", owner="bench", purpose="benchmark", environment="dev", kind="agent",
                scopes=["search"]), "bench")
            token, _ = identity.tokens.mint(subject=record.id, client_id=record.id, scopes=["search"],
                                            audience=identity.issuer, family="bench", bound=False)
            resource = identity.issuer + "/mcp"
            await identity.authenticate(token, resource)
            start = time.perf_counter()
            for _ in range(iterations):
                await identity.authenticate(token, resource)
            seen = (time.perf_counter() - start) / iterations * 1e6
            cold_n = max(iterations // 40, 50)
            start = time.perf_counter()
            for _ in range(cold_n):
                identity.verifier._cache.clear()
                await identity.authenticate(token, resource)
            cold = (time.perf_counter() - start) / cold_n * 1e6
            print(f"authenticate, token seen before: {seen:8.1f} us/call  ({iterations} calls)")
            print(f"authenticate, first sight:       {cold:8.1f} us/call  ({cold_n} calls, ES256 verify)")
        finally:
            await identity.close()
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    asyncio.run(main(parser.parse_args().iterations))
