"""REST: registration, catalog listing, problem+json errors, admin-only routes."""

from __future__ import annotations

from tests.harness import ROOT, STDIO_UPSTREAM, running_hub

LOCAL = {"name": "local", "transport": "stdio", "auto_approve": True, "command": STDIO_UPSTREAM, "cwd": str(ROOT)}


async def test_register_list_and_remove_an_upstream(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http() as http:
        response = await http.post("/api/v1/upstreams", json={**LOCAL, "env": {"UPSTREAM_SECRET": "s3cret"}})
        assert response.status_code == 201
        assert response.json() == {"name": "local", "tools": 8}

        listed = (await http.get("/api/v1/upstreams")).json()["upstreams"]
        assert listed[0]["name"] == "local"
        assert listed[0]["env"] == {"UPSTREAM_SECRET": "***"}  # secrets never come back
        assert listed[0]["tools"] == 8

        page = (await http.get("/api/v1/tools", params={"limit": 5})).json()
        assert [t["name"] for t in page["tools"]] == sorted(t["name"] for t in page["tools"])
        assert len(page["tools"]) == 5 and page["next_cursor"]
        rest = (await http.get("/api/v1/tools", params={"cursor": page["next_cursor"]})).json()
        assert len(rest["tools"]) == 3 and rest["next_cursor"] is None

        tool = (await http.get("/api/v1/tools/local.echo")).json()
        assert tool["definition_hash"].startswith("sha256:") and tool["state"] == "approved"
        assert tool["upstream"] == "local" and tool["upstream_tool"] == "echo"

        assert (await http.delete("/api/v1/upstreams/local")).status_code == 204
        assert (await http.get("/api/v1/tools")).json()["tools"] == []
        assert (await http.get("/api/v1/tools/local.echo")).status_code == 404


async def test_collisions_and_bad_input_are_refused_with_problem_json(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http() as http:
        assert (await http.post("/api/v1/upstreams", json=LOCAL)).status_code == 201

        again = await http.post("/api/v1/upstreams", json=LOCAL)
        assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"

        clash = await http.post("/api/v1/upstreams", json={**LOCAL, "name": "other", "prefix": "local"})
        assert clash.status_code == 409
        assert "already provided by upstream 'local'" in clash.json()["detail"]
        assert (await http.get("/api/v1/upstreams/other")).status_code == 404  # nothing half-imported

        invalid = await http.post("/api/v1/upstreams", json={"name": "bad name!", "transport": "http"})
        assert invalid.status_code == 422
        fields = {e["field"] for e in invalid.json()["errors"]}
        assert "name" in fields

        garbage = await http.post("/api/v1/upstreams", content=b"{not json",
                                  headers={"content-type": "application/json"})
        assert garbage.status_code == 400

        huge = await http.post("/api/v1/upstreams", content=b"x" * (2 * 1024 * 1024))
        assert huge.status_code == 413

        dead = await http.post("/api/v1/upstreams", json={"name": "dead", "transport": "http",
                                                           "url": "http://127.0.0.1:9/mcp"})
        assert dead.status_code == 502 and "unreachable" in dead.json()["detail"]


async def test_anonymous_access_is_off_by_default_and_exactly_as_granted(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http(token=None) as anon:
        assert (await anon.get("/api/v1/tools")).status_code == 401
    async with running_hub(tmp_path / "b", anonymous_scopes=["tool:local.echo"]) as hub:
        async with hub.http() as admin:
            assert (await admin.post("/api/v1/upstreams", json=LOCAL)).status_code == 201
        async with hub.http(token=None) as anon:
            tools = (await anon.get("/api/v1/tools")).json()["tools"]
            assert [t["name"] for t in tools] == ["local.echo"]
            assert (await anon.get("/api/v1/tools/local.add")).status_code == 404
            assert (await anon.post("/api/v1/upstreams", json=LOCAL)).status_code == 403
