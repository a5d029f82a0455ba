"""The token, registration, revocation and introspection endpoints, the metadata and the signing keys,
driven over HTTP exactly as clients do."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.harness import RunningHub, free_port, running_hub
from tests.identity.oauth_helpers import (
    ASSERTION_TYPE,
    PASSWORD,
    Browser,
    authorize_params,
    client_credentials,
    create_principal,
    create_user,
    exchange,
    me,
    new_key,
    oauth_error,
    pkce,
    refresh,
    register_public_client,
    rejected_within,
    token_request,
    unverified,
    user_tokens,
)


def assertion(hub: RunningHub, client_id: str, key: Any, **overrides: Any) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{hub.url}/oauth/token", "jti": secrets.token_urlsafe(12),
              "iat": now, "exp": now + 120, **overrides}
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, key, algorithms=["ES256"])


async def jwt_token(hub: RunningHub, client_id: str, signed: str) -> httpx.Response:
    return await token_request(hub, {"grant_type": "client_credentials", "client_id": client_id,
                                     "client_assertion_type": ASSERTION_TYPE, "client_assertion": signed})


async def test_metadata(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http(token=None) as http:
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert meta["issuer"] == hub.url
        assert meta["authorization_endpoint"] == f"{hub.url}/oauth/authorize"
        assert meta["token_endpoint"] == f"{hub.url}/oauth/token"
        assert meta["jwks_uri"] == f"{hub.url}/oauth/jwks"
        assert meta["registration_endpoint"] == f"{hub.url}/oauth/register"
        assert meta["revocation_endpoint"] == f"{hub.url}/oauth/revoke"
        assert meta["introspection_endpoint"] == f"{hub.url}/oauth/introspect"
        assert meta["code_challenge_methods_supported"] == ["S256"]
        assert meta["authorization_response_iss_parameter_supported"] is True
        assert meta["client_id_metadata_document_supported"] is True
        assert meta["response_types_supported"] == ["code"]
        assert "implicit" not in meta["grant_types_supported"] and "password" not in meta["grant_types_supported"]

        for path in ("/mcp", "/api/v1"):
            resource = (await http.get(f"/.well-known/oauth-protected-resource{path}")).json()
            assert resource["resource"] == hub.url + path
            assert resource["authorization_servers"] == [hub.url]
        assert (await http.get("/.well-known/oauth-protected-resource/elsewhere")).status_code == 404

    async with running_hub(tmp_path / "closed", dynamic_client_registration=False) as hub, \
            hub.http(token=None) as http:
        meta = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert "registration_endpoint" not in meta
        refused = await http.post("/oauth/register", json={"redirect_uris": ["https://app.example/cb"]})
        oauth_error(refused, 403, "access_denied")


async def test_client_credentials_with_basic_and_post(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search", "tool:clock.now"])
        client_id, secret = principal["client_id"], principal["client_secret"]
        basic = await client_credentials(hub, client_id, secret)
        assert basic.status_code == 200, basic.text
        assert basic.headers["cache-control"] == "no-store"
        body = basic.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] == hub.settings.access_token_ttl_s
        assert "refresh_token" not in body
        assert body["scope"] == "search tool:clock.now"

        post = await token_request(hub, {"grant_type": "client_credentials", "client_id": client_id,
                                         "client_secret": secret, "scope": "search mcp"})
        assert post.status_code == 200, post.text
        assert post.json()["scope"] == "search mcp"

        async with hub.http(token=None) as http:
            keys = KeySet.import_key_set((await http.get("/oauth/jwks")).json())
        for token in (body["access_token"], post.json()["access_token"]):
            decoded = jwt.decode(token, keys, algorithms=["ES256"])
            assert decoded.header["typ"] == "at+jwt" and decoded.header["alg"] == "ES256"
            assert decoded.header["kid"] in {k.kid for k in keys.keys}
            claims = decoded.claims
            assert claims["iss"] == hub.url and claims["aud"] == hub.url
            assert claims["sub"] == principal["id"] and claims["client_id"] == client_id
            assert claims["env"] == "dev" and claims["jti"] and claims["fam"]
            assert claims["exp"] - claims["iat"] == hub.settings.access_token_ttl_s
            assert claims["nbf"] <= time.time() + 1
        # a token that asked for some scopes is limited to them
        assert (await me(hub, post.json()["access_token"])).json()["scopes"] == ["search"]
        assert (await me(hub, body["access_token"])).json()["scopes"] == ["search", "tool:clock.now"]

        ungranted = await client_credentials(hub, client_id, secret, scope="admin")
        assert ungranted.status_code == 200
        assert ungranted.json()["scope"] == ""
        assert (await me(hub, ungranted.json()["access_token"])).json()["scopes"] == []
        bogus = await client_credentials(hub, client_id, secret, scope="root")
        oauth_error(bogus, 400, "invalid_scope")


async def test_wrong_secret_and_unknown_client_are_invalid_client(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub)
        wrong = await client_credentials(hub, principal["client_id"], principal["client_secret"] + "x")
        oauth_error(wrong, 401, "invalid_client")
        assert wrong.headers["www-authenticate"].startswith("Basic")
        wrong_post = await token_request(hub, {"grant_type": "client_credentials", "client_id": principal["client_id"],
                                               "client_secret": "hubsec_not-the-secret"})
        oauth_error(wrong_post, 401, "invalid_client")
        unknown = await client_credentials(hub, "nobody", principal["client_secret"])
        oauth_error(unknown, 401, "invalid_client")
        none = await token_request(hub, {"grant_type": "client_credentials", "client_id": principal["client_id"]})
        oauth_error(none, 401, "invalid_client")


async def test_rotating_the_secret_invalidates_the_old_one(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub)
        old = principal["client_secret"]
        assert (await client_credentials(hub, principal["client_id"], old)).status_code == 200
        async with hub.http() as admin:
            rotated = await admin.post(f"/api/v1/principals/{principal['id']}/rotate-secret")
        assert rotated.status_code == 200
        new = rotated.json()["client_secret"]
        assert new != old
        oauth_error(await client_credentials(hub, principal["client_id"], old), 401, "invalid_client")
        assert (await client_credentials(hub, principal["client_id"], new)).status_code == 200


async def test_private_key_jwt(tmp_path):
    async with running_hub(tmp_path) as hub:
        key = new_key()
        principal = await create_principal(hub, scopes=["search"], jwks={"keys": [key.as_dict(private=False)]})
        assert principal["token_endpoint_auth_method"] == "private_key_jwt"
        assert "client_secret" not in principal
        client_id = principal["client_id"]

        signed = assertion(hub, client_id, key)
        ok = await jwt_token(hub, client_id, signed)
        assert ok.status_code == 200, ok.text
        assert (await me(hub, ok.json()["access_token"])).json()["id"] == principal["id"]

        replayed = await jwt_token(hub, client_id, signed)
        oauth_error(replayed, (400, 401), "invalid_client")
        assert "access_token" not in replayed.json()

        impostor = new_key(kid=key.kid)
        oauth_error(await jwt_token(hub, client_id, assertion(hub, client_id, impostor)), (400, 401), "invalid_client")
        wrong_aud = assertion(hub, client_id, key, aud="https://other.example/oauth/token")
        oauth_error(await jwt_token(hub, client_id, wrong_aud), (400, 401), "invalid_client")
        expired = assertion(hub, client_id, key, iat=int(time.time()) - 600, exp=int(time.time()) - 300)
        oauth_error(await jwt_token(hub, client_id, expired), (400, 401), "invalid_client")
        long_lived = assertion(hub, client_id, key, exp=int(time.time()) + 3600)
        oauth_error(await jwt_token(hub, client_id, long_lived), (400, 401), "invalid_client")
        other_sub = assertion(hub, client_id, key, sub="someone-else")
        oauth_error(await jwt_token(hub, client_id, other_sub), (400, 401), "invalid_client")
        # such a client has no secret to fall back on
        oauth_error(await client_credentials(hub, client_id, "anything"), 401, "invalid_client")
        # a fresh assertion still works after all those refusals
        assert (await jwt_token(hub, client_id, assertion(hub, client_id, key))).status_code == 200


@pytest.mark.parametrize(("uri", "fragment"), [
    ("https://app.example/cb#frag", "fragment"),
    ("javascript:alert(1)", "javascript"),
    ("http://app.example/cb", "loopback"),
    ("http://127.0.0.1.evil.example/cb", "loopback"),
    ("data:text/html,hi", "data"),
    ("https://app.example/c b", "spaces"),
])
async def test_registration_refuses_dangerous_redirect_uris(tmp_path, uri, fragment):
    async with running_hub(tmp_path) as hub, hub.http(token=None) as http:
        response = await http.post("/oauth/register", json={"redirect_uris": [uri]})
        body = oauth_error(response, 400, "invalid_redirect_uri")
        assert fragment in body["error_description"]


async def test_registration(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http(token=None) as http:
        public = await http.post("/oauth/register", json={
            "redirect_uris": ["http://127.0.0.1:9/cb", "https://app.example/cb", "com.example.app:/cb"],
            "client_name": "My App", "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]})
        assert public.status_code == 201, public.text
        body = public.json()
        assert body["client_id"].startswith("dcr-") and "client_secret" not in body
        assert body["redirect_uris"][0] == "http://127.0.0.1:9/cb"
        assert public.headers["cache-control"].startswith("no-store")

        confidential = await http.post("/oauth/register", json={"redirect_uris": ["https://app.example/cb"]})
        assert confidential.status_code == 201
        assert confidential.json()["client_secret"] and confidential.json()["client_secret_expires_at"] == 0

        for bad in ({"redirect_uris": []}, {}, {"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]},
                    {"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method": "private_key_jwt"},
                    {"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}):
            response = await http.post("/oauth/register", json=bad)
            assert response.status_code == 400, (bad, response.text)
            assert response.json()["error"] in {"invalid_client_metadata", "invalid_redirect_uri"}
        garbage = await http.post("/oauth/register", content=b"{nope", headers={"content-type": "application/json"})
        oauth_error(garbage, 400, "invalid_client_metadata")


async def test_revoking_an_access_token(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        auth = (principal["client_id"], principal["client_secret"])
        token = (await client_credentials(hub, *auth)).json()["access_token"]
        sibling = (await client_credentials(hub, *auth)).json()["access_token"]
        assert (await me(hub, token)).status_code == 200
        async with hub.http(token=None) as http:
            revoked = await http.post("/oauth/revoke", data={"token": token}, auth=auth)
            assert revoked.status_code == 200, revoked.text
            unknown = await http.post("/oauth/revoke", data={"token": "not-a-token"}, auth=auth)
            assert unknown.status_code == 200  # RFC 7009: an unknown token is no error
        assert await rejected_within(hub, token, 2.0)
        assert "revoked" in (await me(hub, token)).json()["detail"]
        assert (await me(hub, sibling)).status_code == 200  # only that token


async def test_a_public_client_revokes_its_refresh_token_and_the_grant_with_it(tmp_path):
    async with running_hub(tmp_path) as hub:
        client, tokens, _ = await user_tokens(hub)
        async with hub.http(token=None) as http:
            revoked = await http.post("/oauth/revoke", data={"token": tokens["refresh_token"],
                                                             "client_id": client["client_id"]})
        assert revoked.status_code == 200, revoked.text
        oauth_error(await refresh(hub, client["client_id"], tokens["refresh_token"]), 400, "invalid_grant")
        assert await rejected_within(hub, tokens["access_token"], 2.0)


async def test_introspection(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        auth = (principal["client_id"], principal["client_secret"])
        other = await create_principal(hub, scopes=["search"])
        token = (await client_credentials(hub, *auth)).json()["access_token"]
        async with hub.http(token=None) as http:
            live = await http.post("/oauth/introspect", data={"token": token}, auth=auth)
            assert live.status_code == 200, live.text
            body = live.json()
            assert body["active"] is True
            assert body["sub"] == principal["id"] and body["client_id"] == principal["client_id"]
            assert body["iss"] == hub.url and body["scope"] == "search" and body["token_type"] == "access_token"
            assert body["exp"] > time.time()

            foreign = await http.post("/oauth/introspect", data={"token": token},
                                      auth=(other["client_id"], other["client_secret"]))
            assert foreign.json() == {"active": False}
            anonymous = await http.post("/oauth/introspect", data={"token": token})
            oauth_error(anonymous, 401, "invalid_client")
            garbage = await http.post("/oauth/introspect", data={"token": "garbage"}, auth=auth)
            assert garbage.json() == {"active": False}

            assert (await http.post("/oauth/revoke", data={"token": token}, auth=auth)).status_code == 200
            dead = await http.post("/oauth/introspect", data={"token": token}, auth=auth)
            assert dead.status_code == 200 and dead.json() == {"active": False}


async def test_an_unknown_resource_is_invalid_target(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub)
        auth = (principal["client_id"], principal["client_secret"])
        for resource in ("https://other.example", f"{hub.url}/oauth", f"{hub.url}/mcp/extra"):
            response = await client_credentials(hub, *auth, resource=resource)
            body = oauth_error(response, 400, "invalid_target")
            assert "resource" in body["error_description"]
        two = await token_request(hub, {"grant_type": "client_credentials", "resource": [hub.url, f"{hub.url}/mcp"]},
                                  auth=auth)
        oauth_error(two, 400, "invalid_target")
        trailing = await client_credentials(hub, *auth, resource=f"{hub.url}/mcp/")
        assert trailing.status_code == 200
        assert unverified(trailing.json()["access_token"])[1]["aud"] == f"{hub.url}/mcp"


async def test_no_secret_reaches_the_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    seen: dict[str, str] = {"password": PASSWORD}
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        seen["client secret"] = principal["client_secret"]
        issued = await client_credentials(hub, principal["client_id"], principal["client_secret"])
        assert issued.status_code == 200
        seen["client_credentials access token"] = issued.json()["access_token"]
        seen["wrong client secret"] = "hubsec_wrong-secret-value"
        failed = await client_credentials(hub, principal["client_id"], seen["wrong client secret"])
        assert failed.status_code == 401

        await create_user(hub)
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        verifier, challenge = pkce()
        async with Browser(hub) as browser:
            page = await browser.open(authorize_params(client["client_id"], redirect_uri, challenge))
            seen["wrong password"] = "wrong password value"
            wrong = await browser.decide(page, password=seen["wrong password"])
            assert wrong.status_code == 401
            code = (await browser.approve(authorize_params(client["client_id"], redirect_uri, challenge)))["code"]
        seen.update({"code": code, "code verifier": verifier})
        tokens = (await exchange(hub, client["client_id"], code, redirect_uri, verifier)).json()
        seen.update({"access token": tokens["access_token"], "refresh token": tokens["refresh_token"]})
        rotated = (await refresh(hub, client["client_id"], tokens["refresh_token"])).json()
        seen.update({"refreshed access token": rotated["access_token"],
                     "rotated refresh token": rotated["refresh_token"]})
        assert (await me(hub, rotated["access_token"])).status_code == 200
        assert (await exchange(hub, client["client_id"], code, redirect_uri, verifier)).status_code == 400

    assert caplog.records, "nothing was logged: the capture is not working"
    # httpx/httpcore records come from this test's own HTTP client (it logs the responses it receives)
    hub_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    leaks = sorted({(record.name, kind) for record in hub_records for kind, value in seen.items()
                    if value in record.getMessage()})
    assert leaks == [], "\n".join(f"{name}: {kind}" for name, kind in leaks)


async def test_a_client_cannot_revoke_another_clients_token(tmp_path):
    async with running_hub(tmp_path) as hub:
        owner = await create_principal(hub, scopes=["search"])
        other = await create_principal(hub, scopes=["search"])
        token = (await client_credentials(hub, owner["client_id"], owner["client_secret"])).json()["access_token"]
        async with hub.http(token=None) as http:
            refused = await http.post("/oauth/revoke", data={"token": token},
                                      auth=(other["client_id"], other["client_secret"]))
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] in {"invalid_grant", "unauthorized_client"}
        await asyncio.sleep(1.5)  # past one directory refresh
        assert (await me(hub, token)).status_code == 200


async def test_introspection_reports_a_suspended_principals_token_inactive(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        auditor = await create_principal(hub, scopes=["admin"])  # an admin's client may introspect any token
        auditor_auth = (auditor["client_id"], auditor["client_secret"])
        token = (await client_credentials(hub, principal["client_id"], principal["client_secret"])).json()[
            "access_token"]
        async with hub.http(token=None) as http:
            live = await http.post("/oauth/introspect", data={"token": token}, auth=auditor_auth)
            assert live.status_code == 200 and live.json()["active"] is True
            assert live.json()["sub"] == principal["id"]
            async with hub.http() as admin:
                assert (await admin.post(f"/api/v1/principals/{principal['id']}/suspend")).status_code == 200
            suspended = await http.post("/oauth/introspect", data={"token": token}, auth=auditor_auth)
        assert suspended.status_code == 200 and suspended.json() == {"active": False}


async def test_key_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_key(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        auth = (principal["client_id"], principal["client_secret"])
        before = (await client_credentials(hub, *auth)).json()["access_token"]
        async with hub.http() as admin:
            rotated = await admin.post("/api/v1/keys/rotate")
        assert rotated.status_code == 200
        new_kid = rotated.json()["kid"]
        old_kid = unverified(before)[0]["kid"]
        assert new_kid != old_kid
        async with hub.http(token=None) as http:
            published = {k["kid"] for k in (await http.get("/oauth/jwks")).json()["keys"]}
        assert published == {old_kid, new_kid}
        after = (await client_credentials(hub, *auth)).json()["access_token"]
        assert unverified(after)[0]["kid"] == new_kid
        assert (await me(hub, before)).status_code == 200
        assert (await me(hub, after)).status_code == 200


async def test_the_token_endpoint_takes_only_form_bodies(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub)
        async with hub.http(token=None) as http:
            response = await http.post("/oauth/token", json={"grant_type": "client_credentials"},
                                       auth=(principal["client_id"], principal["client_secret"]))
        body = oauth_error(response, 400, "invalid_request")
        assert "x-www-form-urlencoded" in body["error_description"]
        unsupported = await client_credentials(hub, principal["client_id"], principal["client_secret"],
                                               grant_type="password")
        oauth_error(unsupported, 400, "unsupported_grant_type")
