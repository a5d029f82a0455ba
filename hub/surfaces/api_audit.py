"""REST for the audit log (admins only): filtered pages, a JSON-lines export of any size, chain verification."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hub.catalog.store import Store
from hub.gateway import audit_read as audit
from hub.identity.principal import Principal
from hub.surfaces.api import Problem, endpoint

NDJSON = "application/x-ndjson"
MAX_LIMIT = 1000
_FIELDS = ("principal", "action", "target", "decision")


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The last seq a page showed; ValueError for anything this API did not hand out."""
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("invalid cursor") from exc
    kind, _, seq = text.partition(":")
    if kind != "seq" or not (seq.isascii() and seq.isdigit()) or len(seq) > 19 or int(seq) >= 2**63:
        raise ValueError("invalid cursor")  # seqs are 64-bit integers
    return int(seq)


def _instant(name: str, value: str | None) -> datetime | None:
    """An ISO 8601 instant; one without an offset is taken as UTC."""
    if value is None or value == "":
        return None
    for text in (value, value.replace(" ", "+")):  # an unencoded "+" of an offset arrives as a space
        try:
            parsed = datetime.fromisoformat(text)
            break
        except ValueError:
            continue
    else:
        raise Problem(400, "Bad Request", f"{name} must be an ISO 8601 date-time")
    try:  # the database compares in UTC: an offset that carries the instant past year 1 or 9999 cannot be stored
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise Problem(400, "Bad Request", f"{name} is out of range") from None


class AuditApi:
    def __init__(self, store: Store) -> None:
        self.store = store

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/audit", endpoint(self.list, admin=True), methods=["GET"]),
            Route("/api/v1/audit/verify", endpoint(self.verify, admin=True), methods=["GET"]),
        ]

    async def list(self, request: Request, principal: Principal) -> Response:
        """A page as JSON, or with ``format=jsonl`` / ``Accept: application/x-ndjson`` every match as JSON lines."""
        params = request.query_params
        filters: dict[str, Any] = {name: params[name] for name in _FIELDS if params.get(name)}
        filters["since"] = _instant("since", params.get("since"))
        filters["until"] = _instant("until", params.get("until"))
        try:
            after = decode_cursor(params["cursor"]) if params.get("cursor") else None
        except ValueError:
            raise Problem(400, "Bad Request", "cursor must be one this API returned") from None
        fmt = params.get("format")
        if fmt not in (None, "json", "jsonl"):
            raise Problem(400, "Bad Request", "format must be json or jsonl")
        stream = fmt == "jsonl" or (fmt is None and NDJSON in request.headers.get("accept", ""))
        try:
            limit = int(params["limit"]) if params.get("limit") else None
        except ValueError:
            raise Problem(400, "Bad Request", "limit must be an integer") from None
        if stream:
            if limit is not None and limit < 1:
                raise Problem(400, "Bad Request", "limit must be at least 1")
            records = audit.iter_records(self.store, **filters, after_seq=after, limit=limit)
            return StreamingResponse(_lines(records), media_type=NDJSON, headers={"Cache-Control": "no-store"})
        limit = 100 if limit is None else limit
        if not 1 <= limit <= MAX_LIMIT:
            raise Problem(400, "Bad Request", f"limit must be between 1 and {MAX_LIMIT}")
        records = await audit.query(self.store, **filters, after_seq=after, limit=limit + 1)
        page = records[:limit]
        next_cursor = encode_cursor(page[-1]["seq"]) if len(records) > limit else None
        return JSONResponse({"records": page, "next_cursor": next_cursor}, headers={"Cache-Control": "no-store"})

    async def verify(self, request: Request, principal: Principal) -> Response:
        result = await audit.verify(self.store)
        return JSONResponse(result.to_json(), headers={"Cache-Control": "no-store"})


async def _lines(records: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    async for record in records:
        yield (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
