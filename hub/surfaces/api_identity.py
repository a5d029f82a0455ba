"""REST for identities: principals (birth certificates), their secrets, status and grants; signing keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hub.catalog.store import Conflict, NotFound
from hub.identity.entities import PrincipalSpec
from hub.identity.principal import Principal
from hub.identity.scopes import ScopeError
from hub.identity.service import Identity
from hub.surfaces.api import Problem, endpoint, json_body, model_body

# (actor, action, target, decision, detail): the gateway's audit of an admin decision.
Audit = Callable[[str, str, str | None, str, dict[str, Any] | None], Awaitable[None]]


class IdentityApi:
    def __init__(self, identity: Identity, audit: Audit | None = None) -> None:
        self.identity = identity
        self.audit = audit

    async def _audit(self, principal: Principal, action: str, target: str, decision: str,
                     detail: dict[str, Any] | None = None) -> None:
        if self.audit is not None:
            await self.audit(principal.id, action, target, decision, detail)

    def routes(self) -> list[Route]:
        return [
            Route("/api/v1/principals", endpoint(self.create, admin=True), methods=["POST"]),
            Route("/api/v1/principals", endpoint(self.list, admin=True), methods=["GET"]),
            Route("/api/v1/principals/me", endpoint(self.me), methods=["GET"]),
            Route("/api/v1/principals/{id}", endpoint(self.get, admin=True), methods=["GET"]),
            Route("/api/v1/principals/{id}/rotate-secret", endpoint(self.rotate, admin=True), methods=["POST"]),
            Route("/api/v1/principals/{id}/suspend", endpoint(self.suspend, admin=True), methods=["POST"]),
            Route("/api/v1/principals/{id}/reinstate", endpoint(self.reinstate, admin=True), methods=["POST"]),
            Route("/api/v1/principals/{id}/grants", endpoint(self.grant, admin=True), methods=["POST"]),
            Route("/api/v1/principals/{id}/grants", endpoint(self.revoke, admin=True), methods=["DELETE"]),
            Route("/api/v1/keys/rotate", endpoint(self.rotate_keys, admin=True), methods=["POST"]),
        ]

    async def create(self, request: Request, principal: Principal) -> Response:
        spec = await model_body(request, PrincipalSpec)
        try:
            record, secret = await self.identity.create_principal(spec, created_by=principal.id)
        except ScopeError as exc:
            raise Problem(422, "Unprocessable Content", str(exc)) from None
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        await self._audit(principal, "principal.create", record.id, "create",
                          {"kind": record.kind, "environment": record.environment, "scopes": sorted(record.scopes)})
        out: dict[str, Any] = {**record.public(), "client_id": record.id if record.kind != "user" else None}
        if secret:
            out["client_secret"] = secret  # shown once; only its hash is stored
        if spec.jwks:
            out["token_endpoint_auth_method"] = "private_key_jwt"
        return JSONResponse(out, status_code=201, headers={"Cache-Control": "no-store"})

    async def list(self, request: Request, principal: Principal) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
        except ValueError:
            raise Problem(400, "Bad Request", "limit must be an integer") from None
        if not 1 <= limit <= 1000:
            raise Problem(400, "Bad Request", "limit must be between 1 and 1000")
        records = await self.identity.store.list_principals(limit + 1, params.get("after"))
        page = records[:limit]
        return JSONResponse({"principals": [r.public() for r in page],
                             "next": page[-1].id if len(records) > limit else None})

    async def me(self, request: Request, principal: Principal) -> Response:
        return JSONResponse({"id": principal.id, "name": principal.name, "kind": principal.kind,
                             "environment": principal.environment, "scopes": sorted(principal.scopes),
                             "client_id": principal.client_id, "via": principal.via})

    async def get(self, request: Request, principal: Principal) -> Response:
        return JSONResponse((await self._call(self.identity.store.get_principal, request)).public())

    async def rotate(self, request: Request, principal: Principal) -> Response:
        secret = await self._call(self.identity.store.rotate_secret, request)
        await self._audit(principal, "principal.rotate_secret", request.path_params["id"], "rotate")
        return JSONResponse({"client_id": request.path_params["id"], "client_secret": secret},
                            headers={"Cache-Control": "no-store"})

    async def suspend(self, request: Request, principal: Principal) -> Response:
        record = await self._call(self.identity.set_status, request, "suspended")
        await self._audit(principal, "principal.suspend", record.id, "suspend")
        return JSONResponse(record.public())

    async def reinstate(self, request: Request, principal: Principal) -> Response:
        record = await self._call(self.identity.set_status, request, "active")
        await self._audit(principal, "principal.reinstate", record.id, "reinstate")
        return JSONResponse(record.public())

    async def grant(self, request: Request, principal: Principal) -> Response:
        scopes = await self._scopes(request)
        record = await self._call(self.identity.grant, request, scopes, principal.id)
        await self._audit(principal, "principal.grant", record.id, "grant", {"scopes": scopes})
        return JSONResponse(record.public())

    async def revoke(self, request: Request, principal: Principal) -> Response:
        scopes = await self._scopes(request)
        record = await self._call(self.identity.revoke_grant, request, scopes, principal.id)
        await self._audit(principal, "principal.revoke", record.id, "revoke", {"scopes": scopes})
        return JSONResponse(record.public())

    async def rotate_keys(self, request: Request, principal: Principal) -> Response:
        kid = await self.identity.keys.rotate()
        await self._audit(principal, "keys.rotate", kid, "rotate")
        return JSONResponse({"kid": kid, "jwks": self.identity.keys.jwks()})

    @staticmethod
    async def _scopes(request: Request) -> list[str]:
        body = await json_body(request)
        scopes = body.get("scopes") if isinstance(body, dict) else None
        if not isinstance(scopes, list) or not scopes or not all(isinstance(s, str) for s in scopes):
            raise Problem(400, "Bad Request", 'the body must be {"scopes": ["...", ...]}')
        return scopes

    @staticmethod
    async def _call(fn: Any, request: Request, *args: Any) -> Any:
        try:
            return await fn(request.path_params["id"], *args)
        except NotFound as exc:
            raise Problem(404, "Not Found", str(exc)) from None
        except Conflict as exc:
            raise Problem(409, "Conflict", str(exc)) from None
        except ScopeError as exc:
            raise Problem(422, "Unprocessable Content", str(exc)) from None
