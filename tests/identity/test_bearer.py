"""The bearer backend authenticates a request once, even when the lean tools/call path hands it down the stack."""

from __future__ import annotations

import pytest
from mcp.server.auth.provider import AccessToken
from starlette.authentication import AuthCredentials
from starlette.requests import HTTPConnection

from hub.identity.bearer import HubAuthBackend, HubUser, Rejected
from hub.identity.principal import Principal
from hub.identity.tokens import InvalidToken


class CountingIdentity:
    """Resolves no token (each would be refused), and counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def resource_for(self, path: str) -> str | None:
        return "http://hub/mcp" if path == "/mcp" else None

    async def authenticate(self, token: str, resource: str) -> Principal:
        self.asked += 1
        raise InvalidToken("unknown token")


def connection(**extra: object) -> HTTPConnection:
    return HTTPConnection({"type": "http", "method": "POST", "path": "/mcp", "query_string": b"", "root_path": "",
                           "headers": [(b"authorization", b"Bearer some-token")], **extra})


async def test_a_request_authenticated_on_the_lean_path_is_not_authenticated_again() -> None:
    identity = CountingIdentity()
    backend = HubAuthBackend()
    backend.identity = identity  # type: ignore[assignment]
    principal = Principal(id="agent-1", name="agent", scopes=frozenset({"mcp"}))
    user = HubUser(principal, AccessToken(token="some-token", client_id="agent-1", scopes=["mcp"]))
    credentials = AuthCredentials(["mcp"])

    assert await backend.authenticate(connection(user=user, auth=credentials)) == (credentials, user)
    assert identity.asked == 0

    with pytest.raises(Rejected):  # without the lean path's result, the token is checked (and refused here)
        await backend.authenticate(connection())
    assert identity.asked == 1
