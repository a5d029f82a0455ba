"""REST search: `GET /api/v1/search?q=&kind=tool|agent|any&limit=` and the indexing status."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.gateway.gateway import Forbidden, Gateway, RateLimited, Unavailable
from hub.identity.principal import Principal
from hub.search.search import MAX_QUERY_CHARS, SearchUnavailable
from hub.surfaces.api import Problem, endpoint

KINDS = {"tool": ("tool",), "agent": ("agent", "skill"), "any": ("tool", "agent", "skill")}
MAX_LIMIT = 50


class SearchApi:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/search", endpoint(self.search), methods=["GET"]),
            Route("/api/v1/search/status", endpoint(self.status, admin=True), methods=["GET"]),
        ]

    async def search(self, request: Request, principal: Principal) -> Response:
        params = request.query_params
        text = params.get("q", "").strip()
        if not text:
            raise Problem(400, "Bad Request", "q (what you are looking for) is required")
        if len(text) > MAX_QUERY_CHARS:
            raise Problem(400, "Bad Request", f"q is limited to {MAX_QUERY_CHARS} characters")
        kind = params.get("kind", "any")
        if kind not in KINDS:
            raise Problem(400, "Bad Request", "kind must be tool, agent or any")
        limit_text = params.get("limit", "10")
        # str.isdigit() also holds for "²" and other digits int() refuses: ASCII digits only.
        if not (limit_text.isascii() and limit_text.isdigit() and len(limit_text) <= 3) \
                or not 1 <= int(limit_text) <= MAX_LIMIT:
            raise Problem(400, "Bad Request", f"limit must be an integer from 1 to {MAX_LIMIT}")
        if self.gateway.discovery.search is None:
            raise Problem(404, "Not Found", "search is turned off on this hub")
        try:
            results = await self.gateway.discovery.find(principal, text, kinds=KINDS[kind], limit=int(limit_text))
        except Forbidden as exc:
            raise Problem(403, "Forbidden", str(exc), required_scopes=["search"]) from None
        except RateLimited as exc:
            raise Problem(429, "Too Many Requests", str(exc), retry_after=exc.decision.retry_after_header) from None
        except (SearchUnavailable, Unavailable) as exc:
            raise Problem(503, "Service Unavailable", str(exc)) from None
        return JSONResponse({"results": [{k: v for k, v in r.items() if k != "inputSchema"} for r in results]})

    async def status(self, request: Request, principal: Principal) -> Response:
        engine = self.gateway.discovery.search
        if engine is None:
            raise Problem(404, "Not Found", "search is turned off on this hub")
        return JSONResponse(engine.status())
