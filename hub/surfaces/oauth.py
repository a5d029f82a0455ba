"""OAuth over HTTP: metadata (RFC 8414, RFC 9728), JWKS, token, authorize (sign-in and consent page),
registration (RFC 7591), revocation (RFC 7009) and introspection (RFC 7662).

Protocol decisions live in `hub.identity`; this module reads bounded requests, renders the page and
writes responses. The consent page holds no session: each authorization is confirmed with the user's
password on a form bound (HMAC) to the exact authorization request and to a SameSite=Strict cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

from authlib.oauth2.rfc6749 import InsecureTransportError, OAuth2Error
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from hub.identity.cimd import ClientDocumentError
from hub.identity.models import PrincipalRow
from hub.identity.oauth_base import ASSERTION_ALGORITHMS, HubRequest, Result
from hub.identity.service import RESOURCE_PATHS, Identity, RegistrationError, SignInRefused
from hub.surfaces.headers import has_nul

log = logging.getLogger("hub.surfaces.oauth")

MAX_FORM_BYTES = 64 * 1024
FORM_TTL_S = 600
CSRF_COOKIE = "hub_consent"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PAGE_HEADERS = {
    **NO_STORE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class BadRequest(Exception):
    pass


async def _read_form(request: Request) -> list[tuple[str, str]]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BadRequest("request body too large")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if body and ctype != "application/x-www-form-urlencoded":
        raise BadRequest("expected application/x-www-form-urlencoded")
    try:
        form = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False, max_num_fields=100)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("malformed form body") from exc
    if has_nul(form):
        raise BadRequest("the form must not contain NUL characters")
    return form


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status, headers=NO_STORE)


def _respond(result: Result) -> Response:
    status, body, headers = result.status, result.body, result.headers
    if status in (301, 302, 303, 307) and "Location" in headers:
        return RedirectResponse(headers["Location"], status_code=302, headers=NO_STORE)
    if isinstance(body, str):
        body = json.loads(body) if body else {}
    merged = {k: v for k, v in headers.items() if k.lower() != "content-type"}
    merged.update(NO_STORE)
    return JSONResponse(body, status_code=status, headers=merged)


class OAuthRoutes:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    def routes(self) -> list[Route]:
        return [
            Route("/.well-known/oauth-authorization-server", self.metadata, methods=["GET"]),
            Route("/.well-known/oauth-protected-resource", self.resource_metadata, methods=["GET"]),
            Route("/.well-known/oauth-protected-resource/{path:path}", self.resource_metadata, methods=["GET"]),
            Route("/oauth/jwks", self.jwks, methods=["GET"]),
            Route("/oauth/token", self.token, methods=["POST"]),
            Route("/oauth/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/oauth/register", self.register, methods=["POST"]),
            Route("/oauth/revoke", self.revoke, methods=["POST"]),
            Route("/oauth/introspect", self.introspect, methods=["POST"]),
        ]

    # -- metadata ----------------------------------------------------------------------------------

    async def metadata(self, request: Request) -> Response:
        iss = self.identity.issuer
        body: dict[str, Any] = {
            "issuer": iss,
            "authorization_endpoint": f"{iss}/oauth/authorize",
            "token_endpoint": f"{iss}/oauth/token",
            "jwks_uri": f"{iss}/oauth/jwks",
            "revocation_endpoint": f"{iss}/oauth/revoke",
            "introspection_endpoint": f"{iss}/oauth/introspect",
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                      "private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported": ASSERTION_ALGORITHMS,
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                           "private_key_jwt", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                                                              "private_key_jwt"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["mcp", "search"],
            "authorization_response_iss_parameter_supported": True,
            "client_id_metadata_document_supported": True,
        }
        if self.identity.settings.dynamic_client_registration:
            body["registration_endpoint"] = f"{iss}/oauth/register"
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    async def resource_metadata(self, request: Request) -> Response:
        path = "/" + request.path_params.get("path", "") if request.path_params.get("path") else ""
        if path and path not in RESOURCE_PATHS:
            return JSONResponse({"error": "not_found"}, status_code=404)
        iss = self.identity.issuer
        body = {
            "resource": iss + path,
            "authorization_servers": [iss],
            "bearer_methods_supported": ["header"],
            "scopes_supported": ["mcp"] if path == "/mcp" else ["search"],
            "resource_name": "hub" + (f" {path}" if path else ""),
        }
        return JSONResponse(body, headers={"Cache-Control": "public, max-age=300"})

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.identity.keys.jwks(), headers={"Cache-Control": "public, max-age=300"})

    # -- token, revocation, introspection ----------------------------------------------------------

    async def _endpoint(self, request: Request, run: Any) -> Response:
        try:
            form = await _read_form(request)
            oauth_request = HubRequest("POST", self.identity.issuer + request.url.path, request.headers, [], form)
            return _respond(await self.identity.oauth(oauth_request, run))
        except BadRequest as exc:
            return _oauth_error("invalid_request", str(exc))
        except ClientDocumentError as exc:
            return _oauth_error("invalid_client", str(exc), 401)
        except InsecureTransportError:
            return _oauth_error("invalid_request", "OAuth requires https")
        except OAuth2Error as exc:
            return _oauth_error(exc.error or "invalid_request", exc.description or "request refused")

    async def token(self, request: Request) -> Response:
        return await self._endpoint(request, lambda server, req: server.create_token_response(req))

    async def revoke(self, request: Request) -> Response:
        return await self._endpoint(request, lambda server, req: server.create_endpoint_response("revocation", req))

    async def introspect(self, request: Request) -> Response:
        return await self._endpoint(request,
                                    lambda server, req: server.create_endpoint_response("introspection", req))

    async def register(self, request: Request) -> Response:
        if not self.identity.settings.dynamic_client_registration:
            return _oauth_error("access_denied", "dynamic client registration is disabled", 403)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM_BYTES:
                return _oauth_error("invalid_client_metadata", "request body too large")
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):
            return _oauth_error("invalid_client_metadata", "the body is not valid JSON")
        if has_nul(data):
            return _oauth_error("invalid_client_metadata", "the metadata must not contain NUL characters")
        try:
            return JSONResponse(await self.identity.register_client(data), status_code=201, headers=NO_STORE)
        except RegistrationError as exc:
            return _oauth_error(exc.error, exc.description)

    # -- authorization: sign-in and consent --------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        try:
            if request.method == "GET":
                return await self._consent_page(request, list(request.query_params.multi_items()))
            return await self._decide(request)
        except BadRequest as exc:
            return _error_page(400, str(exc))
        except ClientDocumentError as exc:
            return _error_page(400, str(exc))
        except InsecureTransportError:
            return _error_page(400, "OAuth requires https")

    def _oauth_get(self, query: list[tuple[str, str]]) -> HubRequest:
        uri = self.identity.issuer + "/oauth/authorize?" + urlencode(query)
        return HubRequest("GET", uri, {}, query, [])

    async def _validate(self, query: list[tuple[str, str]]) -> tuple[Any, Response | None]:
        """authlib's validation of an authorization request: (grant, None) or (None, error response)."""

        def check(server: Any, req: HubRequest) -> tuple[Any, Any]:
            try:
                return server.get_consent_grant(req), None
            except OAuth2Error as error:
                # Redirect the error only to a redirect URI this client registered; otherwise show it.
                if error.redirect_uri:
                    error.state = req.payload.state
                    return None, server.handle_error_response(req, error)
                return None, error

        grant, error = await self.identity.oauth(self._oauth_get(query), check)
        if error is None:
            return grant, None
        if isinstance(error, OAuth2Error):
            return None, _error_page(400, f"{error.error}: {error.description or 'invalid authorization request'}")
        return None, _respond(error)

    async def _consent_page(self, request: Request, query: list[tuple[str, str]], message: str | None = None,
                            status: int = 200, nonce: str | None = None) -> Response:
        grant, error = await self._validate(query)
        if error is not None:
            return error
        nonce = nonce or secrets.token_urlsafe(24)
        form = self._seal(query, nonce)
        client = grant.client
        data = dict(query)
        page = _page(client_name=client.name, client_id=client.client_id, redirect_uri=data.get("redirect_uri", ""),
                     scope=data.get("scope") or "", resource=data.get("resource") or self.identity.issuer,
                     form=form, message=message)
        response = HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)
        secure = self.identity.issuer.startswith("https://")
        response.set_cookie(("__Host-" if secure else "") + CSRF_COOKIE, nonce, max_age=FORM_TTL_S, httponly=True,
                            samesite="strict", secure=secure, path="/")
        return response

    def _seal(self, query: list[tuple[str, str]], nonce: str) -> str:
        body = json.dumps({"q": query, "exp": int(time.time()) + FORM_TTL_S,
                           "n": hashlib.sha256(nonce.encode()).hexdigest()}, separators=(",", ":")).encode()
        mac = hmac.new(self.identity.form_key, body, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(body).decode() + "." + base64.urlsafe_b64encode(mac).decode()

    def _open(self, sealed: str, nonce: str | None) -> list[tuple[str, str]]:
        try:
            body_b64, mac_b64 = sealed.split(".", 1)
            body = base64.urlsafe_b64decode(body_b64)
            mac = base64.urlsafe_b64decode(mac_b64)
        except (ValueError, TypeError) as exc:
            raise BadRequest("the form is damaged; start the sign-in again") from exc
        if not hmac.compare_digest(mac, hmac.new(self.identity.form_key, body, hashlib.sha256).digest()):
            raise BadRequest("the form is damaged; start the sign-in again")
        data = json.loads(body)
        if data["exp"] < time.time():
            raise BadRequest("the form expired; start the sign-in again")
        if not nonce or not hmac.compare_digest(data["n"], hashlib.sha256(nonce.encode()).hexdigest()):
            raise BadRequest("the form was not opened in this browser (cookie missing); start the sign-in again")
        return [(str(k), str(v)) for k, v in data["q"]]

    async def _decide(self, request: Request) -> Response:
        form = dict(await _read_form(request))
        secure = self.identity.issuer.startswith("https://")
        nonce = request.cookies.get(("__Host-" if secure else "") + CSRF_COOKIE)
        query = self._open(form.get("form", ""), nonce)
        grant, error = await self._validate(query)
        if error is not None:
            return error
        user: PrincipalRow | None = None
        if form.get("decision") == "approve":
            try:
                user = await self.identity.sign_in(form.get("username", ""), form.get("password", ""),
                                                   request.client.host if request.client else "?")
            except SignInRefused as refused:
                log.info("consent sign-in refused (%d) for client %s", refused.status, grant.client.client_id)
                return await self._consent_page(request, query, refused.message, status=refused.status, nonce=nonce)

        def respond(server: Any, req: HubRequest) -> Any:
            again = server.get_consent_grant(req)
            return server.create_authorization_response(req, grant_user=user, grant=again)

        response = _respond(await self.identity.oauth(self._oauth_get(query), respond))
        response.delete_cookie(("__Host-" if secure else "") + CSRF_COOKIE, path="/", secure=secure)
        return response


def _error_page(status: int, message: str) -> HTMLResponse:
    body = (f"<!doctype html><meta charset=utf-8><title>Authorization error</title>"
            f"<h1>Authorization error</h1><p>{html.escape(message)}</p>")
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


def _page(*, client_name: str, client_id: str, redirect_uri: str, scope: str, resource: str, form: str,
          message: str | None) -> str:
    e = html.escape
    scopes = "".join(f"<li><code>{e(s)}</code></li>" for s in scope.split()) or "<li>your approved scopes</li>"
    notice = f'<p role="alert" style="color:#a00">{e(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in to hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem}}
label{{display:block;margin:.6rem 0}}input{{width:100%;padding:.4rem}}code{{word-break:break-all}}</style></head>
<body><h1>Authorize {e(client_name)}</h1>{notice}
<p><strong>{e(client_name)}</strong> (<code>{e(client_id)}</code>) asks to act for you
on <code>{e(resource)}</code>.</p>
<p>Scopes requested:</p><ul>{scopes}</ul>
<p>After you decide, you will be sent to <code>{e(redirect_uri)}</code>.</p>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="form" value="{e(form)}">
<label>Username <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button name="decision" value="approve">Approve</button> <button name="decision" value="deny">Deny</button>
</form></body></html>"""
