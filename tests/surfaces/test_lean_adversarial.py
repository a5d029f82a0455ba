"""Adversarial requests to POST /mcp that are shaped for the lean tools/call path (a 2026-07-28 tools/call:
MCP-Protocol-Version, Mcp-Method and Mcp-Name headers). Whatever the lean path answers must be what the SDK
path would answer, and whatever it hands down the stack must arrive there intact: malformed envelopes and
headers, sizes, credentials, pipelining, clients that go away, upstreams that misbehave."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import mcp.types as types

from tests.gateway.e2e import audit
from tests.harness import ADMIN_TOKEN, ROOT, RunningHub, free_port, http_upstream, running_hub
from tests.identity.oauth_helpers import eventually
from tests.surfaces.scripted_upstream import ID_TOKEN, scripted_upstream
from tests.test_serve import wait_ready

ENVELOPE = {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {}}
LEAN = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "tools/call"}
WAIT_S = 30  # generous: only a broken hub ever waits this long


def call(name: str, arguments: Any = None, *, request_id: Any = 1, meta: Any = ENVELOPE) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "_meta": meta}
    if arguments is not None:
        params["arguments"] = arguments
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


def lean_headers(name: str, **extra: str) -> dict[str, str]:
    return {**LEAN, "Mcp-Name": name, **extra}


async def register(hub: RunningHub, name: str, url: str) -> None:
    async with hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={"name": name, "transport": "http", "url": url,
                                                               "auto_approve": True})
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------------------------------- raw HTTP/1.1


def request_bytes(hub: RunningHub, body: bytes, headers: dict[str, str], *, token: str | None = ADMIN_TOKEN,
                  chunked: bool = False, close: bool = False, declared: int | None = None) -> bytes:
    """One POST /mcp as it goes on the wire (`declared`: a Content-Length other than the body's)."""
    lines = ["POST /mcp HTTP/1.1", f"Host: {urlsplit(hub.url).netloc}", *(f"{k}: {v}" for k, v in headers.items())]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if close:
        lines.append("Connection: close")
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 97]), body[i:i + 97]) for i in range(0, len(body), 97))
        body += b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body) if declared is None else declared}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: (status, headers, body), the body de-chunked."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        if line:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


def jsonrpc_answer(headers: dict[str, str], body: bytes) -> Any:
    """The JSON-RPC answer of a response: its JSON body, or the last message of its event stream; None if empty."""
    if headers.get("content-type", "").startswith("text/event-stream"):
        return [json.loads(line[5:]) for line in body.decode().splitlines() if line.startswith("data:")
                and line[5:].strip()][-1]
    return json.loads(body) if body else None


@contextlib.asynccontextmanager
async def connection(hub: RunningHub) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    url = urlsplit(hub.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# ------------------------------------------------------------------------------------------- a scripted upstream


# ================================================================================ what the lean path got wrong


async def test_malformed_client_capabilities_are_refused_as_the_sdk_refuses_them(tmp_path):
    """The envelope's clientCapabilities (and clientInfo) are validated like every other param: a string, a
    number, a list, null or a capability of the wrong shape is -32602 with HTTP 400, never a 500 (a string, a
    number or a list crashed the lean path) and never a call made on a malformed envelope."""
    caps = "io.modelcontextprotocol/clientCapabilities"
    bad_envelopes = [{**ENVELOPE, caps: "sampling"}, {**ENVELOPE, caps: 5}, {**ENVELOPE, caps: [1]},
                     {**ENVELOPE, caps: None}, {**ENVELOPE, caps: {"sampling": 5}},
                     {**ENVELOPE, "io.modelcontextprotocol/clientInfo": 5}]
    with http_upstream() as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, "remote", url)
            async with hub.http() as http:
                for meta in bad_envelopes:
                    response = await http.post("/mcp", json=call("remote.add", {"a": 1, "b": 2}, meta=meta),
                                               headers=lean_headers("remote.add"))
                    assert response.status_code == 400, (meta, response.status_code, response.text)
                    assert response.json()["error"]["code"] == types.INVALID_PARAMS, (meta, response.text)
                    assert response.json()["id"] == 1


async def test_a_body_over_the_size_limit_is_refused_with_413_whatever_its_framing(tmp_path):
    """max_request_bytes holds on the lean path as on the SDK path: a body over it is 413 whether it arrives in
    one piece with a Content-Length or chunked, not answered because its last piece crossed the limit."""
    with http_upstream() as url:
        async with running_hub(tmp_path, max_request_bytes=4096) as hub:
            await register(hub, "remote", url)
            fits = json.dumps(call("remote.echo", {"text": "y" * 3000})).encode()
            too_big = json.dumps(call("remote.echo", {"text": "y" * 5000})).encode()
            async with hub.http() as http:
                ok = await http.post("/mcp", content=fits, headers=lean_headers("remote.echo"))
                assert ok.status_code == 200 and ok.json()["result"]["structuredContent"] == {"result": "y" * 3000}
                whole = await http.post("/mcp", content=too_big, headers=lean_headers("remote.echo"))
                assert whole.status_code == 413, whole.text[:200]

                async def pieces() -> AsyncIterator[bytes]:
                    for i in range(0, len(too_big), 1000):
                        yield too_big[i:i + 1000]

                chunked = await http.post("/mcp", content=pieces(), headers=lean_headers("remote.echo"))
                assert chunked.status_code == 413, chunked.text[:200]


async def test_a_refused_request_is_answered_from_its_headers_before_its_body_arrives(tmp_path):
    """A request the stack refuses from its headers alone (no credential, a bad one, a declared length over the
    limit) gets its 401 / 413 at once, as on every other route: the lean path must not first wait for, and hold,
    up to max_request_bytes of body from a caller it has not authenticated."""
    async with running_hub(tmp_path, max_request_bytes=64 * 1024) as hub:
        body = json.dumps(call("remote.echo", {"text": "x"})).encode()
        cases = [(None, len(body) + 500, 401), ("not-a-token", len(body) + 500, 401),
                 (ADMIN_TOKEN, 10 * 1024 * 1024, 413)]

        async def refused(token: str | None, declared: int, expected: int) -> None:
            async with connection(hub) as (reader, writer):
                # Headers and the first part of the body; the rest never comes.
                writer.write(request_bytes(hub, body, lean_headers("remote.echo"), token=token, declared=declared))
                await writer.drain()
                status, headers, _ = await asyncio.wait_for(read_response(reader), WAIT_S)
            assert status == expected
            if expected == 401:
                assert headers["www-authenticate"].startswith('Bearer realm="hub"')

        await asyncio.gather(*(refused(*case) for case in cases))


async def test_a_client_that_goes_away_cancels_its_call_upstream(tmp_path):
    """A caller that closes its connection mid-call cancels the upstream call (as the SDK path does), instead of
    holding an upstream slot until the upstream timeout."""
    async with scripted_upstream() as (upstream, url), running_hub(tmp_path, upstream_timeout_s=600) as hub:
        await register(hub, "up", url)
        async with connection(hub) as (_, writer):
            writer.write(request_bytes(hub, json.dumps(call("up.hang", {})).encode(), lean_headers("up.hang")))
            await writer.drain()
            await asyncio.wait_for(upstream.hanging.wait(), WAIT_S)
        try:
            await asyncio.wait_for(upstream.cancelled.wait(), WAIT_S)
        finally:
            upstream.release.set()  # a hub that did not cancel can still shut down

        async def logged() -> bool:
            return any(r["target"] == "up.hang" and r["outcome"] == "cancelled" for r in await audit(hub))

        assert await eventually(logged, WAIT_S)  # nobody got an answer, but the call is in the log


async def test_mcp_param_headers_of_a_nested_argument_are_checked(tmp_path):
    """An x-mcp-header on a property nested in an object is a declared header too: a request whose
    Mcp-Param-Region disagrees with the body, or lacks it, is 400 / -32020 (HeaderMismatch) on the lean path as
    on the SDK path."""
    async with scripted_upstream() as (_, url), running_hub(tmp_path) as hub:
        await register(hub, "up", url)
        body = call("up.route", {"where": {"region": "eu"}})
        async with hub.http() as http:
            wrong = await http.post("/mcp", json=body, headers=lean_headers("up.route", **{"Mcp-Param-Region": "us"}))
            missing = await http.post("/mcp", json=body, headers=lean_headers("up.route"))
        for response in (wrong, missing):
            assert response.status_code == 400, response.text
            assert response.json()["error"]["code"] == types.HEADER_MISMATCH


async def test_an_upstream_header_mismatch_is_retried_through_the_session_path(tmp_path):
    """When an upstream answers the direct call with -32020 (its tool now mirrors an argument into a header the
    catalog does not know of yet), the adapter falls back to the SDK session, which re-lists and resends: the
    caller gets the tool's answer, not 'upstream failed (FallBack)'."""
    async with scripted_upstream() as (upstream, url), running_hub(tmp_path) as hub:
        await register(hub, "up", url)
        upstream.answer_once("echo", json.dumps({"jsonrpc": "2.0", "id": ID_TOKEN, "error": {
            "code": types.HEADER_MISMATCH, "message": "Mcp-Param-Region header is missing"}}).encode())
        async with hub.http() as http:
            response = await http.post("/mcp", json=call("up.echo", {"text": "hi"}), headers=lean_headers("up.echo"))
        assert response.status_code == 200, response.text
        result = response.json()["result"]
        assert result["isError"] is False, result
        assert result["content"][0]["text"] == '{"text": "hi"}'


async def test_a_result_names_the_hub_as_its_server_whichever_path_answers(tmp_path):
    """The same call answered by the lean path and by the SDK path (a progress token sends it there) carries the
    hub's serverInfo stamp, not the upstream's name and version."""
    with http_upstream() as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, "remote", url)
            async with hub.http() as http:
                for meta in (ENVELOPE, {**ENVELOPE, "progressToken": "p"}):
                    response = await http.post("/mcp", json=call("remote.add", {"a": 1, "b": 2}, meta=meta),
                                               headers=lean_headers("remote.add"))
                    assert response.status_code == 200, response.text
                    result = jsonrpc_answer(dict(response.headers), response.content)["result"]
                    assert result["structuredContent"] == {"result": 3}
                    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "hub", (meta, result)


async def test_a_token_in_the_query_string_never_reaches_the_access_log(tmp_path):
    """`hub serve` logs each request line; a caller that puts its token in the query string is refused, and the
    token must not be written to the log on the way."""
    port = free_port()
    secret = "leaked-query-token-0123456789"
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "hub"), "HUB_PORT": str(port),
           "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_LOG_LEVEL": "info"}
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "hub.cli", "serve", env=env, cwd=str(ROOT),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(url, proc)
        async with httpx.AsyncClient(timeout=60) as http:
            response = await http.post(f"{url}/mcp", params={"access_token": secret},
                                       json=call("remote.echo", {"text": "x"}), headers=lean_headers("remote.echo"))
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), WAIT_S)
        output = (await proc.stdout.read()).decode()  # type: ignore[union-attr]
        assert '"POST /mcp' in output  # the request was logged ...
        assert secret not in output  # ... without its token
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


# ================================================================================ what already holds


async def test_malformed_envelopes_and_headers_get_the_protocols_answers(tmp_path):
    """Lean-shaped requests that are not plain, valid calls go down the SDK path and get its exact answers."""
    with http_upstream() as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, "remote", url)
            ok = json.dumps(call("remote.add", {"a": 1, "b": 2}))
            odd = "remote.add\u202e"
            cases: list[tuple[str, bytes | str, dict[str, str], int, int | None, Any]] = [
                # (what, body, extra headers, HTTP status, JSON-RPC error code or None for a result, id)
                ("broken JSON", '{"jsonrpc":', {}, 400, types.PARSE_ERROR, None),
                ("invalid UTF-8", ok.replace('"a"', '"\xff"').encode("latin-1"), {}, 400, types.PARSE_ERROR, None),
                ("a batch", f"[{ok}]", {}, 400, types.INVALID_REQUEST, None),
                ("id null", json.dumps(call("remote.add", {"a": 1, "b": 2}, request_id=None)), {}, 400,
                 types.INVALID_REQUEST, None),
                ("id true", json.dumps(call("remote.add", {"a": 1, "b": 2}, request_id=True)), {}, 400,
                 types.INVALID_REQUEST, None),
                ("id 1.5", json.dumps(call("remote.add", {"a": 1, "b": 2}, request_id=1.5)), {}, 400,
                 types.INVALID_REQUEST, None),
                ("id an object", json.dumps(call("remote.add", {"a": 1, "b": 2}, request_id={"x": 1})), {}, 400,
                 types.INVALID_REQUEST, None),
                ("params a list", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": [1]}), {},
                 400, types.INVALID_REQUEST, None),
                ("jsonrpc 1.0", json.dumps({**call("remote.add", {"a": 1, "b": 2}), "jsonrpc": "1.0"}), {}, 400,
                 types.INVALID_REQUEST, None),
                ("arguments a string", json.dumps(call("remote.add", "a=1")), {}, 400, types.INVALID_PARAMS, 1),
                ("no _meta", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                         "params": {"name": "remote.add", "arguments": {"a": 1, "b": 2}}}), {}, 400,
                 types.INVALID_PARAMS, 1),
                ("name a number", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                              "params": {"name": 5, "_meta": ENVELOPE}}), {}, 400,
                 types.HEADER_MISMATCH, 1),
                ("header version differs", ok, {"MCP-Protocol-Version": "2099-01-01"}, 400, types.HEADER_MISMATCH, 1),
                ("unknown tool", json.dumps(call("remote.nope", {}, request_id="x")),
                 {"Mcp-Name": "remote.nope"}, 400, types.INVALID_PARAMS, "x"),
                ("odd tool name", json.dumps(call(odd, {})),
                 {"Mcp-Name": f"=?base64?{base64.b64encode(odd.encode()).decode()}?="}, 400, types.INVALID_PARAMS, 1),
                ("a huge id", json.dumps(call("remote.add", {"a": 1, "b": 2}, request_id=10**40)), {}, 200, None,
                 10**40),
                ("a session id", ok, {"Mcp-Session-Id": "someone-elses-session"}, 200, None, 1),
            ]
            async with hub.http() as http:
                for what, body, extra, status, code, request_id in cases:
                    response = await http.post("/mcp", content=body, headers=lean_headers("remote.add", **extra))
                    assert response.status_code == status, (what, response.status_code, response.text[:300])
                    assert response.headers["content-type"] == "application/json", what
                    assert "mcp-session-id" not in response.headers, what  # 2026-07-28: never echoed
                    answer = response.json()
                    assert answer["id"] == request_id, (what, answer)
                    if code is None:
                        assert answer["result"]["structuredContent"] == {"result": 3}, (what, answer)
                    else:
                        assert answer["error"]["code"] == code, (what, answer)

                notification = {"jsonrpc": "2.0", "method": "tools/call", "params": call("remote.add", {})["params"]}
                accepted = await http.post("/mcp", json=notification, headers=lean_headers("remote.add"))
                assert accepted.status_code == 202 and accepted.content == b""
                duplicated = await http.post("/mcp", content=ok, headers=[*lean_headers("remote.add").items(),
                                                                          ("Mcp-Name", "remote.add")])
                assert duplicated.status_code == 400
                assert duplicated.json()["error"]["code"] == types.HEADER_MISMATCH
                for extra, status in (({"Accept": "application/json"}, 406), ({"Content-Type": "text/plain"}, 400),
                                      ({"Host": "evil.example"}, 421)):
                    refused = await http.post("/mcp", content=ok, headers=lean_headers("remote.add", **extra))
                    assert refused.status_code == status, (extra, refused.status_code, refused.text)


async def test_credential_challenges_match_the_rest_of_the_stack(tmp_path):
    """A lean-shaped call with no, a bad or a malformed credential gets exactly the answer (status, body and
    WWW-Authenticate challenge) any other /mcp request gets."""
    async with running_hub(tmp_path) as hub:
        body = call("remote.echo", {"text": "x"})
        listing = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": ENVELOPE}}
        credentials: list[tuple[dict[str, str], dict[str, str]]] = [
            ({}, {}), ({"Authorization": "Bearer not-a-token"}, {}), ({"Authorization": "Basic dXNlcjpwYXNz"}, {}),
            ({"Authorization": "Bearer"}, {}), ({}, {"access_token": ADMIN_TOKEN})]
        async with httpx.AsyncClient(base_url=hub.url, timeout=60) as http:
            for auth, query in credentials:
                lean = await http.post("/mcp", json=body, params=query, headers={**lean_headers("remote.echo"), **auth})
                other = await http.post("/mcp", json=listing, params=query,
                                        headers={**LEAN, "Mcp-Method": "tools/list", **auth})
                assert lean.status_code in (400, 401), (auth, lean.status_code)
                assert (lean.status_code, lean.json()) == (other.status_code, other.json()), auth
                assert lean.headers.get("www-authenticate") == other.headers.get("www-authenticate"), auth
                if lean.status_code == 401:
                    assert 'resource_metadata="' in lean.headers["www-authenticate"]


async def test_pipelined_requests_on_one_connection_are_each_answered_once_in_order(tmp_path):
    """Requests pipelined on one keep-alive connection, some answered on the lean path, some handed down the
    stack (their bodies replayed), some chunked: one answer each, in order, through the corked transport."""
    with http_upstream() as url:
        async with running_hub(tmp_path) as hub:
            await register(hub, "remote", url)

            def post(body: dict[str, Any], name: str, **kwargs: Any) -> bytes:
                return request_bytes(hub, json.dumps(body).encode(), lean_headers(name), **kwargs)

            notification = {"jsonrpc": "2.0", "method": "tools/call", "params": call("remote.echo", {})["params"]}
            sent = [post(call("remote.echo", {"text": "one"}, request_id=1), "remote.echo"),
                    post(call("remote.nope", {}, request_id=2), "remote.nope"),
                    post(call("remote.echo", {"text": "three"}, request_id=3), "remote.echo", chunked=True),
                    post(notification, "remote.echo"),
                    post(call("remote.echo", {"text": "five"}, request_id=5,
                              meta={**ENVELOPE, "progressToken": "p"}), "remote.echo"),
                    post(call("remote.add", {"a": 2, "b": 4}, request_id=6), "remote.add", close=True)]
            async with connection(hub) as (reader, writer):
                writer.write(b"".join(sent))
                await writer.drain()
                answers = [await asyncio.wait_for(read_response(reader), WAIT_S) for _ in sent]
                assert await asyncio.wait_for(reader.read(), WAIT_S) == b""  # nothing more, then closed
            assert [status for status, _, _ in answers] == [200, 400, 200, 202, 200, 200]
            documents = [jsonrpc_answer(headers, body) for _, headers, body in answers]
            assert [d["id"] if d else None for d in documents] == [1, 2, 3, None, 5, 6]
            assert documents[0]["result"]["structuredContent"] == {"result": "one"}
            assert documents[1]["error"]["code"] == types.INVALID_PARAMS
            assert documents[2]["result"]["structuredContent"] == {"result": "three"}
            assert documents[4]["result"]["structuredContent"] == {"result": "five"}
            assert documents[5]["result"]["structuredContent"] == {"result": 6}


async def test_garbage_from_an_upstream_is_an_error_answer_never_a_500(tmp_path):
    """Whatever an upstream answers a direct call with, the caller gets a JSON-RPC answer: a tool error for
    what is not a result, the upstream's own JSON-RPC error passed on."""
    garbage = [b"not json at all", b'{"jsonrpc":"2.0","id":"<the request id>","error":"boom"}',
               b'{"jsonrpc":"2.0","id":"<the request id>","result":{"content":"not a list"}}',
               b'{"jsonrpc":"2.0","id":"<the request id>"}', b'{"jsonrpc":"2.0","id":"someone else","result":{}}',
               b'{"jsonrpc":"2.0","id":"<the request id>","error":{"code":1e400,"message":"overflow"}}', b"[1, 2]"]
    async with scripted_upstream() as (upstream, url), running_hub(tmp_path, breaker_failures=100) as hub:
        await register(hub, "up", url)
        async with hub.http() as http:
            for raw in garbage:
                upstream.answer_once("echo", raw)
                response = await http.post("/mcp", json=call("up.echo", {}), headers=lean_headers("up.echo"))
                assert response.status_code == 200, (raw, response.status_code, response.text)
                answer = response.json()
                assert answer["id"] == 1
                if "error" in answer:
                    assert answer["error"]["code"] == types.INTERNAL_ERROR, (raw, answer)
                else:
                    assert answer["result"]["isError"] is True, (raw, answer)
            upstream.answer_once("echo", json.dumps({"jsonrpc": "2.0", "id": ID_TOKEN, "error": {
                "code": -31000, "message": "the upstream's own refusal", "data": {"why": "because"}}}).encode())
            passed_on = await http.post("/mcp", json=call("up.echo", {}), headers=lean_headers("up.echo"))
            assert passed_on.json()["error"] == {"code": -31000, "message": "the upstream's own refusal",
                                                 "data": {"why": "because"}}
            fine = await http.post("/mcp", json=call("up.echo", {"text": "still up"}), headers=lean_headers("up.echo"))
            assert fine.json()["result"]["content"][0]["text"] == '{"text": "still up"}'

