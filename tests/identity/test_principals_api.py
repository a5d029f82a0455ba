"""The birth certificate: no principal without id, name, owner, purpose, environment and kind."""

from __future__ import annotations

from tests.harness import running_hub

CERTIFICATE = {"name": "Report agent", "owner": "data-team", "purpose": "weekly reports", "environment": "dev",
               "kind": "agent"}


async def test_a_principal_needs_its_whole_birth_certificate(tmp_path):
    async with running_hub(tmp_path) as hub, hub.http() as http:
        for missing in ("name", "owner", "purpose", "environment", "kind"):
            body = {k: v for k, v in CERTIFICATE.items() if k != missing}
            response = await http.post("/api/v1/principals", json=body)
            assert response.status_code == 422, missing
            assert response.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in response.json()["errors"]] == [missing]

        bad = await http.post("/api/v1/principals", json={**CERTIFICATE, "environment": "staging"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "environment"

        short = await http.post("/api/v1/principals", json={**CERTIFICATE, "kind": "user", "password": "short"})
        assert short.status_code == 422 and short.json()["errors"][0]["field"] == "password"

        created = await http.post("/api/v1/principals", json={**CERTIFICATE, "id": "reports", "version": "2.1",
                                                               "evaluation_plan": "golden set weekly"})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["version"] == "2.1" and body["evaluation_plan"] == "golden set weekly"
        assert body["client_id"] == "reports" and body["client_secret"].startswith("hubsec_")
        again = await http.post("/api/v1/principals", json={**CERTIFICATE, "id": "reports"})
        assert again.status_code == 409

        listed = await http.get("/api/v1/principals/reports")
        assert "client_secret" not in listed.json()  # shown once, at creation
