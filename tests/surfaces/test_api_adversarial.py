"""Adversarial input on the hub's HTTP surfaces other than MCP: the REST API and the OAuth endpoints (the A2A
proxy's are in tests/a2a/test_proxy_adversarial.py). Whatever arrives, the answer is a 4xx that says what is
wrong (never a 500 or a stack trace), nothing reaches a database that should not, and a caller reaches only what
it was granted."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx

from tests.a2a.recording import approve_inline_agent, card_without_network, recording_agent, rpc_error
from tests.a2a_harness import (
    A2A_HEADERS,
    ec_jwk,
    rpc,
)
from tests.gateway.e2e import principal_token
from tests.harness import running_hub
from tests.identity.oauth_helpers import (
    ASSERTION_TYPE,
    Browser,
    authorize_params,
    b64url,
    create_principal,
    create_user,
    me,
    pkce,
    refresh,
    register_public_client,
    token_request,
    user_tokens,
)

PROBLEM = "application/problem+json"
TASK_NOT_FOUND, INVALID_PARAMS = -32001, -32602


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The RFC 9457 body of a refusal with exactly `status` (and no stack trace in it)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM, response.headers
    assert "Traceback" not in response.text
    return response.json()


# -- bodies: nesting and size ----------------------------------------------------------------------------------


async def test_deeply_nested_json_is_a_clear_400_on_every_surface(tmp_path: Path) -> None:
    """json.loads raises RecursionError (not ValueError) past ~1000 levels: each surface must still say 400."""
    deep = b"[" * 50_000  # under every surface's size limit (REST 1 MiB, OAuth 64 KiB, A2A 1 MiB)
    async with running_hub(tmp_path) as hub, hub.http() as admin, hub.http(token=None) as anonymous:
        for path in ("/api/v1/upstreams", "/api/v1/principals", "/api/v1/agents", "/api/v1/principals/x/grants"):
            response = await admin.post(path, content=deep, headers={"content-type": "application/json"})
            assert "valid JSON" in problem(response, 400)["detail"] or "nested" in response.json()["detail"], path

        registration = await anonymous.post("/oauth/register", content=deep,
                                            headers={"content-type": "application/json"})
        assert registration.status_code == 400, registration.text
        assert registration.json()["error"] == "invalid_client_metadata"

        # an unauthenticated client assertion whose (unverified) payload is nested too deeply
        assertion = ".".join([b64url(json.dumps({"alg": "ES256"}).encode()), b64url(b"[" * 5000), "c2ln"])
        token = await anonymous.post("/oauth/token", data={
            "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion})
        assert token.status_code in (400, 401), token.text
        assert token.json()["error"] == "invalid_client"

        jsonrpc = await admin.post("/agents/any/jsonrpc", content=deep, headers=A2A_HEADERS)
        assert rpc_error(jsonrpc) == -32700
        rest = await admin.post("/agents/any/rest/message:send", content=deep, headers=A2A_HEADERS)
        assert rest.status_code == 400, rest.text
        assert rest.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_oversized_bodies_are_refused_before_they_are_read_whole(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub, hub.http() as admin, hub.http(token=None) as anonymous:
        form = await anonymous.post("/oauth/token", content=b"grant_type=client_credentials&x=" + b"a" * 70_000,
                                    headers={"content-type": "application/x-www-form-urlencoded"})
        assert form.status_code == 400 and form.json() == {"error": "invalid_request",
                                                           "error_description": "request body too large"}
        registration = await anonymous.post("/oauth/register", content=b"{" + b" " * 70_000 + b"}",
                                            headers={"content-type": "application/json"})
        assert registration.status_code == 400 and "too large" in registration.json()["error_description"]

        huge = b"x" * (1024 * 1024 + 1)
        jsonrpc = await admin.post("/agents/any/jsonrpc", content=huge, headers=A2A_HEADERS)
        assert jsonrpc.status_code == 413 and jsonrpc.json()["error"]["code"] == -32600
        rest = await admin.post("/agents/any/rest/message:send", content=huge, headers=A2A_HEADERS)
        assert rest.status_code == 413, rest.text


# -- query and path parameters ---------------------------------------------------------------------------------


async def test_search_limit_accepts_only_ascii_digits(tmp_path: Path) -> None:
    """"²".isdigit() holds but int("²") raises; so does int() of a 5000-digit string."""
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        for limit in ("²", "9" * 5000, "-1", "1.5", ""):
            response = await admin.get("/api/v1/search", params={"q": "weather", "limit": limit})
            assert "limit" in problem(response, 400)["detail"], limit


async def test_search_on_a_hub_without_search_says_so_instead_of_asking_for_a_scope(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub, hub.http() as admin:  # the harness turns search off
        response = await admin.get("/api/v1/search", params={"q": "weather"})
        assert response.status_code in (404, 503), response.text
        assert "insufficient_scope" not in response.headers.get("www-authenticate", "")
        assert "turned off" in response.json()["detail"]


async def test_audit_filters_out_of_range_are_400_not_a_500_or_a_cut_stream(tmp_path: Path) -> None:
    huge_cursor = base64.urlsafe_b64encode(b"seq:" + b"9" * 30).decode().rstrip("=")
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        await create_principal(hub)  # one record in the trail
        for params in ({"since": "9999-12-31T23:59:59-23:59"}, {"until": "0001-01-01T00:00:00+01:00"},
                       {"cursor": huge_cursor}):
            problem(await admin.get("/api/v1/audit", params=params), 400)
            # the JSON-lines export must refuse before it starts streaming a 200
            problem(await admin.get("/api/v1/audit", params={**params, "format": "jsonl"}), 400)
        assert len((await admin.get("/api/v1/audit")).json()["records"]) == 1


async def test_odd_path_parameters_are_plain_not_found(tmp_path: Path) -> None:
    names = ["%2e%2e", "%C3%BC" * 20, "x" * 3000, "%FF", "%F0%9F%98%80", "a:b", "a%20b"]
    routes = ["/api/v1/tools/{}", "/api/v1/principals/{}", "/api/v1/agents/{}", "/api/v1/access-requests/{}",
              "/api/v1/call-approvals/{}", "/api/v1/upstreams/{}"]
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        for name in names:
            for route in routes:
                problem(await admin.get(route.format(name)), 404)
            for route in ("/api/v1/principals/{}/suspend", "/api/v1/tools/{}/disable",
                          "/api/v1/access-requests/{}/deny", "/api/v1/agents/{}/disable"):
                problem(await admin.post(route.format(name)), 404)


async def test_unknown_routes_and_methods_under_the_api_answer_problem_json(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        problem(await admin.get("/api/v1/no-such-thing"), 404)
        problem(await admin.get("/api/v1/tools/a%2Fb"), 404)  # %2F decodes to a path separator
        wrong = await admin.put("/api/v1/tools")
        problem(wrong, 405)
        assert set(wrong.headers["allow"].replace(" ", "").split(",")) >= {"GET"}


async def test_list_routes_refuse_limits_of_the_wrong_type_or_range(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        for route in ("/api/v1/tools", "/api/v1/principals", "/api/v1/access-requests", "/api/v1/call-approvals"):
            for limit in ("-1", "0", "1001", str(10**9), "1e3", "ten", ""):
                assert "limit" in problem(await admin.get(route, params={"limit": limit}), 400)["detail"]
        for route in ("/api/v1/tools", "/api/v1/access-requests", "/api/v1/call-approvals"):
            assert "state" in problem(await admin.get(route, params={"state": "bogus"}), 400)["detail"]


async def test_nul_characters_are_refused_not_a_database_error(tmp_path: Path, fresh_postgres: str) -> None:
    """PostgreSQL stores no NUL in text: a NUL that reaches a query was a 500 (unauthenticated, on the OAuth
    endpoints), unless refused first."""
    async with recording_agent() as agent, \
            running_hub(tmp_path, agent_allow_loopback=True, database_url=fresh_postgres) as hub:
        await approve_inline_agent(hub, "rec", agent.card())
        _, token = await principal_token(hub, ["search", "agent:rec"])
        async with hub.http() as admin:
            for path in ("/api/v1/principals/a%00b", "/api/v1/access-requests/a%00b",
                         "/api/v1/call-approvals/a%00b", "/api/v1/upstreams/a%00b"):
                problem(await admin.get(path), 400)
            problem(await admin.get("/api/v1/principals", params={"after": "a\x00"}), 400)
            problem(await admin.get("/api/v1/audit", params={"principal": "a\x00"}), 400)
            problem(await admin.post("/api/v1/principals", json={
                "name": "n", "owner": "o", "purpose": "p", "version": "1\x00", "environment": "dev",
                "kind": "service"}), 400)
        async with hub.http(token) as caller:
            problem(await caller.post("/api/v1/access-requests", json={"scopes": ["search"], "reason": "why\x00"}),
                    400)
            problem(await caller.post("/api/v1/agents", json={"card": card_without_network(), "purpose": "p\x00"}),
                    400)
            seen = len(agent.seen)
            response = await rpc(caller, "/agents/rec/jsonrpc", "GetTask", {"id": "task\x00"})
            assert rpc_error(response) in (TASK_NOT_FOUND, INVALID_PARAMS)
            assert len(agent.seen) == seen
        async with hub.http(token=None) as anonymous:
            for response in (
                await anonymous.post("/oauth/token", data={"grant_type": "client_credentials",
                                                           "client_id": "a\x00", "client_secret": "x"}),
                await anonymous.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("a\x00", "x")),
                await anonymous.post("/oauth/revoke", data={"token": "x", "client_id": "a\x00"}),
            ):
                assert response.status_code in (400, 401), response.text
                assert response.json()["error"] in ("invalid_request", "invalid_client")
            assert (await anonymous.get("/oauth/authorize", params={"response_type": "code",
                                                                     "client_id": "a\x00"})).status_code == 400
            registration = await anonymous.post("/oauth/register", json={
                "redirect_uris": ["https://app.example/cb"], "client_uri": "https://app.example/\x00"})
            assert registration.status_code == 400, registration.text
            # the consent page's sign-in
            await create_user(hub)
            client = await register_public_client(hub, "http://127.0.0.1:9/cb")
            _, challenge = pkce()
            async with Browser(hub) as browser:
                page = await browser.open(authorize_params(client["client_id"], "http://127.0.0.1:9/cb", challenge))
                assert page.status_code == 200, page.text
                signed_in = await browser.decide(page, username="ali\x00ce")
                assert signed_in.status_code == 400, signed_in.text


# -- settings the hub would later send ----------------------------------------------------------------------------


async def test_agent_and_upstream_credentials_that_cannot_be_sent_are_refused_when_given(tmp_path: Path) -> None:
    """Settings are validated when they arrive, not at the first call (where they were a 500 for every caller)."""
    bad_settings = [
        {"auth": {"type": "headers", "headers": {"X-Key": "\u2603"}}},  # not ASCII: httpx cannot encode it
        {"auth": {"type": "headers", "headers": {"Bad Name": "v"}}},  # not an HTTP field name
        {"auth": {"type": "oauth_client_credentials", "token_url": "http://[::1", "client_id": "c"}},
        {"auth": {"type": "oauth_client_credentials", "token_url": "https://idp.example:99999/token",
                  "client_id": "c"}},
    ]
    async with running_hub(tmp_path) as hub:
        _, token = await principal_token(hub, [])
        async with hub.http(token) as registrant:
            for settings in bad_settings:
                response = await registrant.post("/api/v1/agents", json={
                    "card": card_without_network(), "id": "inline", "settings": settings})
                fields = [e["field"] for e in problem(response, 422)["errors"]]
                assert any(f.startswith("settings.auth") for f in fields), (settings, fields)
                assert "\u2603" not in response.text  # a header value may be a secret: never echoed
            good = await registrant.post("/api/v1/agents", json={
                "card": card_without_network(), "id": "inline",
                "settings": {"auth": {"type": "headers", "headers": {"X-Key": "k"}}}})
            assert good.status_code == 201, good.text
        async with hub.http() as admin:
            for settings in bad_settings:
                problem(await admin.put("/api/v1/agents/inline/settings", json=settings), 422)
            upstream = await admin.post("/api/v1/upstreams", json={
                "name": "u", "transport": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-Key": "\u2603"}})
            assert [e["field"] for e in problem(upstream, 422)["errors"]] == ["headers"]


async def test_a_principal_jwks_that_verifies_nothing_is_refused_when_created(tmp_path: Path) -> None:
    """An unusable JWKS was stored, and every client assertion naming that client was then a 500."""
    body = {"name": "signer", "owner": "tests", "purpose": "private_key_jwt", "environment": "dev",
            "kind": "service"}
    async with running_hub(tmp_path) as hub, hub.http() as admin:
        for jwks in ({"keys": [{"kty": "EC", "kid": "k"}]},  # no curve, no coordinates
                     {"keys": [{"kty": "oct", "kid": "h", "k": "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]},  # a secret
                     {"keys": [{"kid": "none"}]}):
            response = await admin.post("/api/v1/principals", json={**body, "jwks": jwks})
            assert [e["field"] for e in problem(response, 422)["errors"]] == ["(body)"], jwks
        assert (await admin.get("/api/v1/principals")).json()["principals"] == []
        _, public = ec_jwk("good")
        created = await admin.post("/api/v1/principals", json={**body, "jwks": public})
        assert created.status_code == 201, created.text
        assert created.json()["token_endpoint_auth_method"] == "private_key_jwt"


# -- authorization ------------------------------------------------------------------------------------------------

ADMIN_ROUTES = [
    ("GET", "/api/v1/upstreams"), ("POST", "/api/v1/upstreams"), ("GET", "/api/v1/upstreams/u"),
    ("DELETE", "/api/v1/upstreams/u"), ("POST", "/api/v1/upstreams/u/sync"), ("POST", "/api/v1/upstreams/u/disable"),
    ("POST", "/api/v1/upstreams/u/enable"), ("POST", "/api/v1/tools/u.t/approve"),
    ("POST", "/api/v1/tools/u.t/disable"),
    ("PUT", "/api/v1/tools/u.t/policy"), ("POST", "/api/v1/access-requests/r/approve"),
    ("POST", "/api/v1/access-requests/r/deny"), ("GET", "/api/v1/call-approvals"), ("GET", "/api/v1/call-approvals/c"),
    ("POST", "/api/v1/call-approvals/c/approve"), ("POST", "/api/v1/call-approvals/c/deny"),
    ("POST", "/api/v1/principals"), ("GET", "/api/v1/principals"), ("GET", "/api/v1/principals/p"),
    ("POST", "/api/v1/principals/p/rotate-secret"), ("POST", "/api/v1/principals/p/suspend"),
    ("POST", "/api/v1/principals/p/reinstate"), ("POST", "/api/v1/principals/p/grants"),
    ("DELETE", "/api/v1/principals/p/grants"), ("POST", "/api/v1/keys/rotate"), ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/verify"), ("GET", "/api/v1/search/status"), ("POST", "/api/v1/agents/a/approve"),
    ("POST", "/api/v1/agents/a/disable"), ("PUT", "/api/v1/agents/a/settings"),
]


async def test_every_admin_route_refuses_a_principal_without_the_admin_scope(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        victim = await create_principal(hub, id="p", scopes=["search"])
        _, token = await principal_token(hub, ["search", "upstream:u", "tool:u.t", "agent:a"])
        async with hub.http() as admin:
            keys_before = (await admin.get("/oauth/jwks")).json()
            audit_before = len((await admin.get("/api/v1/audit", params={"limit": 1000})).json()["records"])
        async with hub.http(token) as caller:
            for method, path in ADMIN_ROUTES:
                body = {"scopes": ["admin"]} if path.endswith("/grants") else {}
                response = await caller.request(method, path, json=body)
                assert problem(response, 403)["required_scopes"] == ["admin"], (method, path)
        async with hub.http() as admin:
            assert (await admin.get("/oauth/jwks")).json() == keys_before
            principal = (await admin.get("/api/v1/principals/p")).json()
            assert principal["status"] == "active" and principal["scopes"] == victim["scopes"] == ["search"]
            records = (await admin.get("/api/v1/audit", params={"limit": 1000})).json()["records"]
            assert len(records) == audit_before  # no decision was taken, so none was recorded


async def test_access_requests_are_private_to_their_principal(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        alice_id, alice = await principal_token(hub, [])
        _, bob = await principal_token(hub, [])
        async with hub.http(alice) as http:
            created = await http.post("/api/v1/access-requests", json={"scopes": ["search"], "reason": "to find"})
            assert created.status_code == 201, created.text
            request_id = created.json()["id"]
        async with hub.http(bob) as http:
            problem(await http.get(f"/api/v1/access-requests/{request_id}"), 404)
            listed = await http.get("/api/v1/access-requests", params={"principal": alice_id})
            assert listed.status_code == 200 and listed.json()["access_requests"] == []
            problem(await http.post(f"/api/v1/access-requests/{request_id}/approve"), 403)
        async with hub.http() as admin:
            queue = (await admin.get("/api/v1/access-requests", params={"principal": alice_id})).json()
            assert [r["id"] for r in queue["access_requests"]] == [request_id]
            assert queue["access_requests"][0]["state"] == "pending"


async def test_dynamically_registered_clients_get_no_client_credentials_tokens(tmp_path: Path) -> None:
    """client_credentials belongs to principals' confidential clients; a DCR client has no principal."""
    async with running_hub(tmp_path) as hub, hub.http(token=None) as anonymous:
        public = await register_public_client(hub, "http://127.0.0.1:9/cb")
        confidential = (await anonymous.post("/oauth/register", json={
            "redirect_uris": ["https://app.example/cb"]})).json()
        for response in (
            await token_request(hub, {"grant_type": "client_credentials", "client_id": public["client_id"]}),
            await token_request(hub, {"grant_type": "client_credentials"},
                                auth=(confidential["client_id"], confidential["client_secret"])),
        ):
            assert response.status_code in (400, 401), response.text
            assert "access_token" not in response.json()
            assert response.json()["error"] in ("invalid_client", "unauthorized_client")


async def test_refresh_cannot_widen_the_scopes_of_the_grant(tmp_path: Path) -> None:
    async with running_hub(tmp_path) as hub:
        client, tokens, _ = await user_tokens(hub)  # alice, granted `search`, consented to `mcp`
        widened = await token_request(hub, {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                            "client_id": client["client_id"], "scope": "mcp search"})
        assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope", widened.text
        # a refused request does not spend the refresh token: the corrected retry is no reuse
        again = await refresh(hub, client["client_id"], tokens["refresh_token"])
        assert again.status_code == 200, again.text
        rotated = again.json()["refresh_token"]
        moved = await token_request(hub, {"grant_type": "refresh_token", "refresh_token": rotated,
                                          "client_id": client["client_id"], "resource": f"{hub.url}/mcp"})
        assert moved.status_code == 400 and moved.json()["error"] == "invalid_target", moved.text
        last = await refresh(hub, client["client_id"], rotated)
        assert last.status_code == 200, last.text
        assert (await me(hub, last.json()["access_token"])).status_code == 200
