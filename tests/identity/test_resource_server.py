"""The hub as an OAuth resource server: what a bearer token must be to be accepted on /mcp and /api/v1."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import pytest
from joserfc.jwk import ECKey

from tests.harness import RunningHub, running_hub
from tests.identity.oauth_helpers import (
    b64json,
    b64url,
    claims_for,
    client_credentials,
    create_principal,
    eventually,
    hub_signing_key,
    me,
    new_key,
    recording_server,
    service_token,
    sign,
    unsigned,
)

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


async def mcp_post(hub: RunningHub, token: str | None, path: str = "/mcp") -> httpx.Response:
    async with hub.http(token=token) as http:
        return await http.post(path, json=INITIALIZE, headers=MCP_HEADERS)


def assert_rejected(response: httpx.Response, fragment: str) -> None:
    """401 invalid_token with an RFC 6750 challenge, the reason naming `fragment`."""
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge, challenge
    body = response.json()
    reason = body.get("detail") or body.get("error_description") or ""
    assert body["error"] == "invalid_token"
    assert fragment in reason, reason
    assert fragment in challenge, challenge


async def forged_subject(hub: RunningHub) -> str:
    return (await create_principal(hub, scopes=["search"]))["id"]


async def test_missing_token_on_mcp_gets_a_challenge_naming_the_resource_metadata(tmp_path):
    async with running_hub(tmp_path) as hub:
        response = await mcp_post(hub, None)
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        metadata_url = f"{hub.url}/.well-known/oauth-protected-resource/mcp"
        assert challenge.startswith("Bearer ")
        assert f'resource_metadata="{metadata_url}"' in challenge
        assert 'scope="mcp"' in challenge
        async with hub.http(token=None) as http:
            metadata = (await http.get(metadata_url)).json()
        assert metadata["resource"] == f"{hub.url}/mcp"
        assert metadata["authorization_servers"] == [hub.url]
        assert metadata["bearer_methods_supported"] == ["header"]

        missing_api = await me(hub, None)
        assert missing_api.status_code == 401


async def test_a_valid_token_works_on_both_surfaces(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal, token = await service_token(hub)
        response = await me(hub, token)
        assert response.status_code == 200, response.text
        assert response.json()["id"] == principal["id"]
        assert response.json()["scopes"] == ["search"]
        assert response.json()["via"] == "oauth"
        assert (await mcp_post(hub, token)).status_code == 200


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_alg_none_is_refused(tmp_path, alg):
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        kid = hub_signing_key(hub).kid
        claims = claims_for(hub, subject)
        for token in (unsigned({"alg": alg, "typ": "at+jwt", "kid": kid}, claims),
                      unsigned({"alg": alg, "typ": "at+jwt", "kid": kid}, claims, b"sig")):
            assert_rejected(await me(hub, token), "algorithm")
            assert_rejected(await mcp_post(hub, token), "algorithm")


async def test_hs256_signed_with_the_public_key_is_refused(tmp_path):
    """Algorithm confusion: an HMAC keyed with the hub's (public) verification key."""
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        key = hub_signing_key(hub)
        async with hub.http(token=None) as http:
            jwks = (await http.get("/oauth/jwks")).json()
        public_jwk = next(k for k in jwks["keys"] if k["kid"] == key.kid)
        pem = ECKey.import_key(public_jwk).as_pem(private=False)
        for secret in (json.dumps(public_jwk).encode(), json.dumps(public_jwk, separators=(",", ":")).encode(), pem):
            header = {"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
            signing_input = f"{b64json(header)}.{b64json(claims_for(hub, subject))}"
            mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
            token = f"{signing_input}.{b64url(mac)}"
            assert_rejected(await me(hub, token), "algorithm")


async def test_a_token_signed_by_an_unknown_key_with_the_hubs_kid_is_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        impostor = new_key(kid=hub_signing_key(hub).kid)
        token = sign(impostor, claims_for(hub, subject))
        assert_rejected(await me(hub, token), "signature")
        assert_rejected(await mcp_post(hub, token), "signature")
        unknown_kid = sign(new_key(), claims_for(hub, subject))
        assert_rejected(await me(hub, unknown_kid), "unknown signing key")


async def test_the_forging_helper_makes_tokens_the_hub_accepts(tmp_path):
    """The control for the claim checks below: the hub's own key and the default claims pass."""
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        response = await me(hub, sign(hub_signing_key(hub), claims_for(hub, subject)))
        assert response.status_code == 200, response.text
        assert response.json()["id"] == subject


async def test_wrong_audience_is_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        key = hub_signing_key(hub)
        for aud in ("https://other.example", [f"{hub.url}.evil.example"], f"{hub.url}/oauth", None):
            token = sign(key, claims_for(hub, subject, aud=aud))
            assert_rejected(await me(hub, token), "aud")
        listed = sign(key, claims_for(hub, subject, aud=["https://other.example", hub.url]))
        assert (await me(hub, listed)).status_code == 200


async def test_a_token_for_the_mcp_resource_works_only_on_mcp(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, scopes=["search"])
        response = await client_credentials(hub, principal["client_id"], principal["client_secret"],
                                            resource=f"{hub.url}/mcp")
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        assert_rejected(await me(hub, token), "aud")
        assert (await mcp_post(hub, token)).status_code == 200

        api = await client_credentials(hub, principal["client_id"], principal["client_secret"],
                                       resource=f"{hub.url}/api/v1")
        api_token = api.json()["access_token"]
        assert (await me(hub, api_token)).status_code == 200
        assert_rejected(await mcp_post(hub, api_token), "aud")


async def test_an_untrusted_issuer_is_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        key = hub_signing_key(hub)
        for iss in ("https://idp.example", hub.url + "/", hub.url.replace("127.0.0.1", "localhost")):
            token = sign(key, claims_for(hub, subject, iss=iss))
            assert_rejected(await me(hub, token), "untrusted issuer")


async def test_expiry_is_checked_with_the_leeway(tmp_path):
    async with running_hub(tmp_path, token_leeway_s=30) as hub:
        subject = await forged_subject(hub)
        key = hub_signing_key(hub)
        now = int(time.time())
        expired = sign(key, claims_for(hub, subject, iat=now - 400, nbf=now - 400, exp=now - 60))
        assert_rejected(await me(hub, expired), "expired")
        assert_rejected(await mcp_post(hub, expired), "expired")
        no_exp = sign(key, claims_for(hub, subject, exp=None))
        assert_rejected(await me(hub, no_exp), "expiry")
        within = sign(key, claims_for(hub, subject, iat=now - 400, nbf=now - 400, exp=now - 10))
        assert (await me(hub, within)).status_code == 200


async def test_not_before_in_the_future_is_refused(tmp_path):
    async with running_hub(tmp_path, token_leeway_s=30) as hub:
        subject = await forged_subject(hub)
        key = hub_signing_key(hub)
        now = int(time.time())
        early = sign(key, claims_for(hub, subject, nbf=now + 120))
        assert_rejected(await me(hub, early), "not yet valid")
        future_iat = sign(key, claims_for(hub, subject, iat=now + 120, nbf=None))
        assert_rejected(await me(hub, future_iat), "future")
        slightly = sign(key, claims_for(hub, subject, nbf=now + 10, iat=now + 10))
        assert (await me(hub, slightly)).status_code == 200


async def test_a_tampered_payload_is_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        _, token = await service_token(hub)
        head, body, signature = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        for change in ({"scope": "admin"}, {"sub": "admin"}, {"exp": claims["exp"] + 3600}):
            forged = f"{head}.{b64json({**claims, **change})}.{signature}"
            assert_rejected(await me(hub, forged), "signature")
        truncated = f"{head}.{body}.{signature[:-4]}"
        assert (await me(hub, truncated)).status_code == 401
        assert (await me(hub, token)).status_code == 200


@pytest.mark.parametrize("header", ["jku", "x5u", "jwk", "x5c"])
async def test_tokens_naming_their_own_keys_are_refused_without_any_fetch(tmp_path, header):
    async with running_hub(tmp_path) as hub, recording_server() as target:
        async with httpx.AsyncClient() as probe:  # the recorder does see requests that reach it
            assert (await probe.get(target.url + "/jwks.json")).status_code == 200
        assert target.connections == 1
        target.connections = 0

        subject = await forged_subject(hub)
        attacker = new_key()
        values = {
            "jku": target.url + "/jwks.json",
            "x5u": target.url + "/cert.pem",
            "jwk": attacker.as_dict(private=False),
            "x5c": ["MIIBszCCAVmgAwIBAgIUQ2VydGlmaWNhdGU="],
        }
        for key in (attacker, hub_signing_key(hub)):  # even the hub's own valid signature does not help
            token = sign(key, claims_for(hub, subject), **{header: values[header]})
            assert_rejected(await me(hub, token), header)
            assert_rejected(await mcp_post(hub, token), header)
        trusted_kid = sign(hub_signing_key(hub), claims_for(hub, subject), jku=target.url + "/jwks.json")
        assert (await me(hub, trusted_kid)).status_code == 401
        assert target.connections == 0


@pytest.mark.parametrize("typ", [None, "JWT", "jwt", "at+JWT+extra", "application/jwt"])
async def test_a_token_that_is_not_an_access_token_is_refused(tmp_path, typ):
    async with running_hub(tmp_path) as hub:
        subject = await forged_subject(hub)
        token = sign(hub_signing_key(hub), claims_for(hub, subject), typ=typ)
        assert_rejected(await me(hub, token), "typ")
        assert_rejected(await mcp_post(hub, token), "typ")


async def test_a_token_in_the_query_string_is_refused(tmp_path):
    async with running_hub(tmp_path) as hub:
        _, token = await service_token(hub)
        async with hub.http(token=None) as http:
            only_query = await http.get("/api/v1/principals/me", params={"access_token": token})
            mcp_query = await http.post("/mcp", params={"access_token": token}, json=INITIALIZE, headers=MCP_HEADERS)
        async with hub.http(token=token) as http:
            both = await http.get("/api/v1/principals/me", params={"access_token": token})
        for response in (only_query, mcp_query, both):
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_request"
            assert 'error="invalid_request"' in response.headers["www-authenticate"]
        assert "Authorization header" in only_query.json()["detail"]
        assert "Authorization header" in mcp_query.json()["error_description"]


async def test_a_prod_token_is_refused_on_a_dev_hub(tmp_path):
    async with running_hub(tmp_path / "dev") as dev, running_hub(tmp_path / "prod", environment="prod") as prod:
        subject = await forged_subject(dev)
        env_prod = sign(hub_signing_key(dev), claims_for(dev, subject, env="prod"))
        assert_rejected(await me(dev, env_prod), "another environment")
        no_env = sign(hub_signing_key(dev), claims_for(dev, subject, env=None))
        assert_rejected(await me(dev, no_env), "another environment")

        prod_principal = await create_principal(prod, environment="prod", scopes=["search"])
        issued = await client_credentials(prod, prod_principal["client_id"], prod_principal["client_secret"])
        assert issued.status_code == 200, issued.text
        prod_token = issued.json()["access_token"]
        assert (await me(prod, prod_token)).status_code == 200
        assert_rejected(await me(dev, prod_token), "untrusted issuer")


async def test_a_prod_principal_gets_no_token_from_a_dev_hub(tmp_path):
    async with running_hub(tmp_path) as hub:
        principal = await create_principal(hub, environment="prod", scopes=["search"])
        response = await client_credentials(hub, principal["client_id"], principal["client_secret"])
        assert response.status_code in (400, 401), response.text
        assert response.json()["error"] == "invalid_client"
        assert "prod" in response.json()["error_description"]
        # and a token minted for that principal (env dev, signed by this hub) is refused at the resource too
        token = sign(hub_signing_key(hub), claims_for(hub, principal["id"]))
        assert_rejected(await me(hub, token), "prod")


async def test_suspension_stops_an_existing_token_and_reinstatement_restores_it(tmp_path):
    async with running_hub(tmp_path, identity_refresh_s=1.0) as hub:
        principal, token = await service_token(hub)
        assert (await me(hub, token)).status_code == 200
        async with hub.http() as admin:
            assert (await admin.post(f"/api/v1/principals/{principal['id']}/suspend")).status_code == 200

        async def refused() -> bool:
            return (await me(hub, token)).status_code == 401

        assert await eventually(refused, timeout=2.0)
        assert_rejected(await me(hub, token), "suspended")
        assert_rejected(await mcp_post(hub, token), "suspended")
        refused_token = await client_credentials(hub, principal["client_id"], principal["client_secret"])
        assert refused_token.json()["error"] == "invalid_client"

        async with hub.http() as admin:
            assert (await admin.post(f"/api/v1/principals/{principal['id']}/reinstate")).status_code == 200

        async def accepted() -> bool:
            return (await me(hub, token)).status_code == 200

        assert await eventually(accepted, timeout=2.0)


async def test_grants_take_effect_on_an_existing_token(tmp_path):
    async with running_hub(tmp_path, identity_refresh_s=1.0) as hub:
        principal, token = await service_token(hub, scopes=["search"])
        assert (await me(hub, token)).json()["scopes"] == ["search"]
        async with hub.http() as admin:
            granted = await admin.post(f"/api/v1/principals/{principal['id']}/grants",
                                       json={"scopes": ["tool:clock.now"]})
            assert granted.status_code == 200, granted.text

        async def has(scopes: list[str]) -> bool:
            return (await me(hub, token)).json()["scopes"] == scopes

        assert await eventually(lambda: has(["search", "tool:clock.now"]), timeout=2.0)

        async with hub.http() as admin:
            revoked = await admin.request("DELETE", f"/api/v1/principals/{principal['id']}/grants",
                                          json={"scopes": ["search"]})
            assert revoked.status_code == 200, revoked.text
        assert await eventually(lambda: has(["tool:clock.now"]), timeout=2.0)


async def test_a_non_admin_token_on_an_admin_route_gets_insufficient_scope(tmp_path):
    async with running_hub(tmp_path) as hub:
        _, token = await service_token(hub, scopes=["search"])
        async with hub.http(token=token) as http:
            for response in (await http.get("/api/v1/principals"),
                             await http.post("/api/v1/principals", json={"name": "x"}),
                             await http.post("/api/v1/keys/rotate")):
                assert response.status_code == 403, response.text
                challenge = response.headers["www-authenticate"]
                assert 'error="insufficient_scope"' in challenge and 'scope="admin"' in challenge
                assert response.json()["required_scopes"] == ["admin"]
