"""The authorization endpoint and its code: PKCE, redirect URIs, sign-in and consent, code exchange and
refresh rotation, driven over HTTP exactly as browsers and clients do."""

from __future__ import annotations

import pytest

from tests.harness import free_port, running_hub
from tests.identity.oauth_helpers import (
    PASSWORD,
    Browser,
    assert_error_page,
    authorize_params,
    create_principal,
    create_user,
    exchange,
    me,
    oauth_error,
    pkce,
    query_of,
    refresh,
    register_public_client,
    rejected_within,
    token_request,
    unverified,
    user_tokens,
)


async def test_the_authorization_code_flow(tmp_path):
    async with running_hub(tmp_path) as hub:
        user = await create_user(hub, scopes=["search"])
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        verifier, challenge = pkce()
        params = authorize_params(client["client_id"], redirect_uri, challenge)
        async with Browser(hub) as browser:
            page = await browser.open(params)
            assert page.status_code == 200, page.text
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
            assert "test app" in page.text and redirect_uri in page.text
            cookie = page.headers["set-cookie"].lower()
            assert "hub_consent=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
            decided = await browser.decide(page)
        assert decided.status_code == 302, decided.text
        location = decided.headers["location"]
        assert location.startswith(redirect_uri + "?")
        result = query_of(location)
        assert result["state"] == params["state"]
        assert result["iss"] == hub.url
        assert result["code"]

        response = await exchange(hub, client["client_id"], result["code"], redirect_uri, verifier)
        assert response.status_code == 200, response.text
        tokens = response.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["refresh_token"].startswith("hubrt_")
        header, claims = unverified(tokens["access_token"])
        assert header["typ"] == "at+jwt"
        assert claims["sub"] == user["id"] and claims["client_id"] == client["client_id"]
        assert claims["aud"] == hub.url and claims["iss"] == hub.url
        seen = (await me(hub, tokens["access_token"])).json()
        assert seen["id"] == "alice" and seen["kind"] == "user" and seen["scopes"] == ["search"]


async def test_authorization_for_the_mcp_resource(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        verifier, challenge = pkce()
        params = authorize_params(client["client_id"], redirect_uri, challenge, resource=f"{hub.url}/mcp")
        async with Browser(hub) as browser:
            result = await browser.approve(params)
        response = await exchange(hub, client["client_id"], result["code"], redirect_uri, verifier)
        assert response.status_code == 200, response.text
        assert unverified(response.json()["access_token"])[1]["aud"] == f"{hub.url}/mcp"
        assert (await me(hub, response.json()["access_token"])).status_code == 401


@pytest.mark.parametrize(("change", "error", "fragment"), [
    ({"code_challenge": None}, "invalid_request", "PKCE"),
    ({"code_challenge_method": "plain"}, "invalid_request", "S256"),
    ({"code_challenge_method": None}, "invalid_request", "S256"),
    ({"resource": "https://other.example"}, "invalid_target", "resource"),
    ({"scope": "root"}, "invalid_scope", ""),
    ({"response_type": "token"}, "unsupported_response_type", ""),
])
async def test_bad_authorization_requests_redirect_an_error(tmp_path, change, error, fragment):
    async with running_hub(tmp_path) as hub:
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        _, challenge = pkce()
        params = authorize_params(client["client_id"], redirect_uri, challenge, **change)
        async with Browser(hub) as browser:
            response = await browser.open(params)
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert location.startswith(redirect_uri + "?")
        result = query_of(location)
        assert result["error"] == error
        assert fragment in result.get("error_description", "")
        assert result["state"] == params["state"]
        assert result["iss"] == hub.url
        assert "code" not in result


async def test_unknown_clients_and_redirect_uri_variants_get_an_error_page(tmp_path):
    async with running_hub(tmp_path) as hub:
        port = free_port()
        redirect_uri = f"http://127.0.0.1:{port}/cb"
        client = await register_public_client(hub, redirect_uri)
        _, challenge = pkce()
        variants = [
            f"http://127.0.0.1:{port}/cb/",
            f"http://127.0.0.1:{port + 1}/cb",
            f"http://127.0.0.1:{port}/CB",
            f"http://127.0.0.1:{port}/cb?x=1",
            f"http://127.0.0.1:{port}/cb#x",
            f"http://127.0.0.1:{port}@evil.example/cb",
            f"http://127.0.0.1:{port}%2Fcb",
            f"http://127.0.0.1:{port}/%2Fcb",
            f"http://127.0.0.1:{port}/%63b",
            f"http://localhost:{port}/cb",
            f"https://127.0.0.1:{port}/cb",
            "https://evil.example/cb",
        ]
        async with Browser(hub) as browser:
            for variant in variants:
                response = await browser.open(authorize_params(client["client_id"], variant, challenge))
                assert_error_page(response, 400, "invalid_request")
            missing = await browser.open(authorize_params(client["client_id"], None, challenge))  # type: ignore[arg-type]
            assert_error_page(missing, 400, "redirect_uri")
            unknown = await browser.open(authorize_params("dcr-unknown", redirect_uri, challenge))
            assert_error_page(unknown, 400, "invalid_client")
            # the exact URI does work
            exact = await browser.open(authorize_params(client["client_id"], redirect_uri, challenge))
            assert exact.status_code == 200


async def test_token_endpoint_checks_of_the_code(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        port = free_port()
        redirect_uri = f"http://127.0.0.1:{port}/cb"
        client = await register_public_client(hub, redirect_uri)
        other = await register_public_client(hub, redirect_uri)
        cid = client["client_id"]

        async def new_code() -> tuple[str, str]:
            verifier, challenge = pkce()
            async with Browser(hub) as browser:
                return (await browser.approve(authorize_params(cid, redirect_uri, challenge)))["code"], verifier

        code, verifier = await new_code()
        wrong = await exchange(hub, cid, code, redirect_uri, pkce()[0])
        oauth_error(wrong, 400, "invalid_grant")

        code, verifier = await new_code()
        missing = await exchange(hub, cid, code, redirect_uri, None)
        oauth_error(missing, 400, "invalid_request")

        code, verifier = await new_code()
        for uri in (redirect_uri + "/", f"http://127.0.0.1:{port + 1}/cb"):
            oauth_error(await exchange(hub, cid, code, uri, verifier), 400, "invalid_grant")
        no_uri = await token_request(hub, {"grant_type": "authorization_code", "code": code, "client_id": cid,
                                           "code_verifier": verifier})
        assert no_uri.status_code == 400 and no_uri.json()["error"] in {"invalid_request", "invalid_grant"}

        code, verifier = await new_code()
        stolen = await exchange(hub, other["client_id"], code, redirect_uri, verifier)
        oauth_error(stolen, 400, "invalid_grant")

        code, verifier = await new_code()
        bad_target = await token_request(hub, {"grant_type": "authorization_code", "code": code, "client_id": cid,
                                               "redirect_uri": redirect_uri, "code_verifier": verifier,
                                               "resource": f"{hub.url}/mcp"})
        oauth_error(bad_target, 400, "invalid_target")

        oauth_error(await exchange(hub, cid, "not-a-code", redirect_uri, verifier), 400, "invalid_grant")


async def test_a_reused_code_revokes_what_it_produced(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        verifier, challenge = pkce()
        async with Browser(hub) as browser:
            code = (await browser.approve(authorize_params(client["client_id"], redirect_uri, challenge)))["code"]
        first = await exchange(hub, client["client_id"], code, redirect_uri, verifier)
        assert first.status_code == 200, first.text
        tokens = first.json()
        assert (await me(hub, tokens["access_token"])).status_code == 200

        again = await exchange(hub, client["client_id"], code, redirect_uri, verifier)
        oauth_error(again, 400, "invalid_grant")
        assert await rejected_within(hub, tokens["access_token"], 2.0)
        assert "revoked" in (await me(hub, tokens["access_token"])).json()["detail"]
        oauth_error(await refresh(hub, client["client_id"], tokens["refresh_token"]), 400, "invalid_grant")


async def test_refresh_tokens_rotate_and_reuse_revokes_the_family(tmp_path):
    async with running_hub(tmp_path) as hub:
        client, tokens, _ = await user_tokens(hub)
        cid = client["client_id"]
        first_refresh = tokens["refresh_token"]

        second = await refresh(hub, cid, first_refresh)
        assert second.status_code == 200, second.text
        second_refresh = second.json()["refresh_token"]
        assert second_refresh != first_refresh
        third = await refresh(hub, cid, second_refresh)
        assert third.status_code == 200, third.text
        latest = third.json()
        assert latest["refresh_token"] not in {first_refresh, second_refresh}
        assert (await me(hub, latest["access_token"])).status_code == 200

        reused = await refresh(hub, cid, first_refresh)
        oauth_error(reused, 400, "invalid_grant")
        assert await rejected_within(hub, latest["access_token"], 2.0)
        oauth_error(await refresh(hub, cid, latest["refresh_token"]), 400, "invalid_grant")
        assert (await me(hub, tokens["access_token"])).status_code == 401


async def test_refresh_is_bound_to_its_client(tmp_path):
    async with running_hub(tmp_path) as hub:
        _, tokens, redirect_uri = await user_tokens(hub)
        other = await register_public_client(hub, redirect_uri)
        oauth_error(await refresh(hub, other["client_id"], tokens["refresh_token"]), 400, "invalid_grant")
        oauth_error(await refresh(hub, other["client_id"], "hubrt_made-up"), 400, "invalid_grant")


async def test_consent_refusals(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        await create_principal(hub, id="svc", scopes=["search"])
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        _, challenge = pkce()
        params = authorize_params(client["client_id"], redirect_uri, challenge)
        async with Browser(hub) as browser:
            for username, password in (("alice", PASSWORD + "!"), ("nobody", PASSWORD), ("svc", PASSWORD),
                                       ("alice", "")):
                page = await browser.open(params)
                refused = await browser.decide(page, username=username, password=password)
                assert_error_page(refused, 401, "Wrong username or password")
                assert 'name="form"' in refused.text  # the user may try again

            page = await browser.open(params)
            no_cookie = await browser.decide(page, cookie=False)
            assert_error_page(no_cookie, 400, "cookie")

            page = await browser.open(params)
            denied = await browser.decide(page, decision="deny", username="", password="")
            assert denied.status_code == 302, denied.text
            result = query_of(denied.headers["location"])
            assert denied.headers["location"].startswith(redirect_uri + "?")
            assert result["error"] == "access_denied"
            assert result["iss"] == hub.url
            assert result["state"] == params["state"]
            assert "code" not in result

            page = await browser.open(params)
            tampered = await browser.http.post("/oauth/authorize", headers={
                "Cookie": f"hub_consent={page.cookies['hub_consent']}"}, data={
                "form": "x" + page.text.split('name="form" value="')[1].split('"')[0], "username": "alice",
                "password": PASSWORD, "decision": "approve"})
            assert_error_page(tampered, 400, "damaged")


async def test_duplicated_authorization_parameters_are_refused_without_a_redirect(tmp_path):
    async with running_hub(tmp_path) as hub:
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        _, challenge = pkce()
        base = list(authorize_params(client["client_id"], redirect_uri, challenge).items())
        async with Browser(hub) as browser:
            for extra in (("redirect_uri", "https://evil.example/cb"), ("client_id", "dcr-other"),
                          ("response_type", "code")):
                response = await browser.http.get("/oauth/authorize", params=[*base, extra])
                assert_error_page(response, 400, "invalid_request")


async def test_a_suspended_user_gets_no_tokens_from_an_earlier_consent(tmp_path):
    async with running_hub(tmp_path) as hub:
        client, tokens, redirect_uri = await user_tokens(hub)
        verifier, challenge = pkce()
        async with Browser(hub) as browser:
            code = (await browser.approve(authorize_params(client["client_id"], redirect_uri, challenge)))["code"]
        async with hub.http() as admin:
            assert (await admin.post("/api/v1/principals/alice/suspend")).status_code == 200
        assert await rejected_within(hub, tokens["access_token"], 2.0)
        # the client authenticated fine: it is the grant (the user's) that is no longer good
        oauth_error(await exchange(hub, client["client_id"], code, redirect_uri, verifier), 400, "invalid_grant")
        oauth_error(await refresh(hub, client["client_id"], tokens["refresh_token"]), 400, "invalid_grant")


async def test_suspended_and_prod_users_cannot_sign_in(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        await create_principal(hub, id="bob", name="bob", kind="user", password=PASSWORD, environment="prod")
        async with hub.http() as admin:
            assert (await admin.post("/api/v1/principals/alice/suspend")).status_code == 200
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri)
        _, challenge = pkce()
        async with Browser(hub) as browser:
            for username in ("alice", "bob"):
                page = await browser.open(authorize_params(client["client_id"], redirect_uri, challenge))
                assert_error_page(await browser.decide(page, username=username), 401, "Wrong username or password")


async def test_the_consent_page_escapes_client_metadata(tmp_path):
    async with running_hub(tmp_path) as hub:
        redirect_uri = f"http://127.0.0.1:{free_port()}/cb"
        client = await register_public_client(hub, redirect_uri, client_name='<script>alert("x")</script>')
        _, challenge = pkce()
        async with Browser(hub) as browser:
            page = await browser.open(authorize_params(client["client_id"], redirect_uri, challenge,
                                                       state='"><img src=x>'))
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
        assert "<img src=x>" not in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]


async def test_repeated_wrong_passwords_throttle_sign_in(tmp_path):
    async with running_hub(tmp_path) as hub:
        await create_user(hub)
        redirect = "http://127.0.0.1:9/cb"
        client = await register_public_client(hub, redirect)
        _verifier, challenge = pkce()
        params = authorize_params(client["client_id"], redirect, challenge)
        async with Browser(hub) as browser:
            for _ in range(5):
                wrong = await browser.decide(await browser.open(params), password="not the password!")
                assert wrong.status_code == 401
            # now even the right password is refused, before it is checked, and nothing is redirected
            throttled = await browser.decide(await browser.open(params))
            assert throttled.status_code == 429
            assert "Too many failed sign-ins" in throttled.text
            assert "location" not in throttled.headers
