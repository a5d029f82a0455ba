"""Agent cards as data: validation, hashing, signature verification, the hub's rewritten and re-signed copy."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import jwt
import pytest
from a2a.types import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    HTTPAuthSecurityScheme,
    SecurityRequirement,
    SecurityScheme,
    StringList,
)
from a2a.utils.signing import _canonicalize_agent_card, create_agent_card_signer
from joserfc.jwk import ECKey
from jwt.utils import base64url_encode

from hub.catalog.cards import (
    MAX_CARD_BYTES,
    CardError,
    Verification,
    card_dict,
    card_from_bytes,
    card_hash,
    parse_card,
    rewrite_card,
    sign_card,
    signature_jkus,
    verify_card,
)

AGENT = "https://agent.example.test"
HUB = "https://hub.example.test/a2a/agents/echo"


def make_card(**overrides: Any) -> AgentCard:
    fields: dict[str, Any] = {
        "name": "Echo Agent",
        "description": "Echoes what you say.",
        "version": "1.0.0",
        "provider": AgentProvider(organization="Tool Hub", url="https://example.com"),
        "supported_interfaces": [
            AgentInterface(protocol_binding="GRPC", protocol_version="1.0", url="agent.example.test:443"),
            AgentInterface(protocol_binding="HTTP+JSON", protocol_version="1.0", url=f"{AGENT}/a2a/rest", tenant="t1"),
            AgentInterface(protocol_binding="JSONRPC", protocol_version="1.0", url=f"{AGENT}/a2a/jsonrpc"),
            AgentInterface(protocol_binding="JSONRPC", protocol_version="1.0", url=f"{AGENT}/a2a/jsonrpc2"),
        ],
        "capabilities": AgentCapabilities(streaming=True),
        "default_input_modes": ["text/plain"],
        "default_output_modes": ["text/plain"],
        "skills": [
            AgentSkill(
                id="echo",
                name="Echo",
                description="Echo text",
                tags=["echo"],
                examples=["hello"],
                security_requirements=[SecurityRequirement(schemes={"agent-bearer": StringList(list=["echo"])})],
            )
        ],
        "security_schemes": {
            "agent-bearer": SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer"))
        },
        "security_requirements": [SecurityRequirement(schemes={"agent-bearer": StringList(list=[])})],
    }
    fields.update(overrides)
    return AgentCard(**fields)


def ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", private=True, parameters={"kid": kid})


def jwks(*keys: ECKey) -> dict[str, Any]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


def signed(card: AgentCard, key: Any, header: dict[str, Any]) -> AgentCard:
    out = AgentCard()
    out.CopyFrom(card)
    return create_agent_card_signer(key, header)(out)  # type: ignore[arg-type]


def b64json(obj: dict[str, Any]) -> str:
    return base64url_encode(json.dumps(obj).encode()).decode()


# ----------------------------------------------------------------------------------------------- parsing


def test_card_dict_round_trips_through_parse() -> None:
    card = make_card()
    doc = card_dict(card)
    assert "supportedInterfaces" in doc and "defaultInputModes" in doc  # ProtoJSON camelCase
    assert parse_card(doc) == card
    assert card_from_bytes(json.dumps(doc).encode()) == card


def test_unknown_fields_are_ignored() -> None:
    doc = card_dict(make_card()) | {"someFutureField": {"x": 1}}
    assert parse_card(doc) == make_card()


@pytest.mark.parametrize(
    ("drop", "field"),
    [
        (("name",), "name"),
        (("description",), "description"),
        (("version",), "version"),
        (("supportedInterfaces",), "supportedInterfaces"),
        (("capabilities",), "capabilities"),
        (("defaultInputModes",), "defaultInputModes"),
        (("defaultOutputModes",), "defaultOutputModes"),
        (("skills",), "skills"),
        (("skills", 0, "id"), "skills[0].id"),
        (("skills", 0, "name"), "skills[0].name"),
        (("skills", 0, "description"), "skills[0].description"),
        (("skills", 0, "tags"), "skills[0].tags"),
        (("supportedInterfaces", 1, "url"), "supportedInterfaces[1].url"),
        (("supportedInterfaces", 1, "protocolBinding"), "supportedInterfaces[1].protocolBinding"),
        (("supportedInterfaces", 1, "protocolVersion"), "supportedInterfaces[1].protocolVersion"),
    ],
)
def test_missing_required_field_is_named(drop: tuple[Any, ...], field: str) -> None:
    doc = card_dict(make_card())
    parent: Any = doc
    for step in drop[:-1]:
        parent = parent[step]
    del parent[drop[-1]]
    with pytest.raises(CardError, match=rf"(: |, ){re.escape(field)}(,|$)"):
        parse_card(doc)


@pytest.mark.parametrize("doc", [[], "card", 3, None])
def test_non_object_refused(doc: object) -> None:
    with pytest.raises(CardError, match="JSON object"):
        parse_card(doc)


def test_wrong_types_refused_with_short_reason() -> None:
    doc = card_dict(make_card()) | {"skills": "echo"}
    with pytest.raises(CardError, match=r"A2A 1\.0 schema") as exc:
        parse_card(doc)
    assert len(str(exc.value)) < 300


def test_only_grpc_interface_refused() -> None:
    card = make_card(
        supported_interfaces=[AgentInterface(protocol_binding="GRPC", protocol_version="1.0", url=f"{AGENT}:443")]
    )
    with pytest.raises(CardError, match="JSONRPC or HTTP\\+JSON"):
        parse_card(card_dict(card))


def test_jsonrpc_of_another_major_version_refused() -> None:
    card = make_card(
        supported_interfaces=[AgentInterface(protocol_binding="JSONRPC", protocol_version="0.3", url=AGENT)]
    )
    with pytest.raises(CardError, match=r"protocolVersion 1\.x"):
        parse_card(card_dict(card))
    ok = make_card(supported_interfaces=[AgentInterface(protocol_binding="JSONRPC", protocol_version="1.1", url=AGENT)])
    assert parse_card(card_dict(ok)).supported_interfaces[0].protocol_version == "1.1"


@pytest.mark.parametrize("url", ["ftp://agent.example.test/a2a", "https:///a2a", "/a2a/jsonrpc", "javascript:alert(1)"])
def test_interface_url_must_be_http_with_host(url: str) -> None:
    doc = card_dict(make_card())
    doc["supportedInterfaces"][2]["url"] = url
    with pytest.raises(CardError, match=r"supportedInterfaces\[2\]\.url"):
        parse_card(doc)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(name="n" * 201), "name"),
        (lambda d: d.update(description="d" * 8001), "description"),
        (lambda d: d["skills"][0].update(id="i" * 129), r"skills\[0\]\.id"),
        (lambda d: d["supportedInterfaces"][2].update(url=AGENT + "/" + "p" * 2048), r"supportedInterfaces\[2\]\.url"),
        (lambda d: d.update(skills=d["skills"] * 201), "skills"),
        (lambda d: d.update(supportedInterfaces=d["supportedInterfaces"] * 17), "supportedInterfaces"),
        (lambda d: d.update(iconUrl="javascript:alert(1)"), "iconUrl"),
    ],
)
def test_bounds(mutate: Any, message: str) -> None:
    doc = card_dict(make_card())
    mutate(doc)
    with pytest.raises(CardError, match=message):
        parse_card(doc)


def test_oversize_and_bad_json_refused() -> None:
    doc = card_dict(make_card()) | {"padding": "x" * MAX_CARD_BYTES}
    with pytest.raises(CardError, match="larger than"):
        card_from_bytes(json.dumps(doc).encode())
    with pytest.raises(CardError, match="not valid JSON"):
        card_from_bytes(b'{"name": ')
    with pytest.raises(CardError, match="not valid JSON"):
        card_from_bytes(b"\xff\xfe{}")


def test_legacy_03_card_is_converted_then_refused_clearly() -> None:
    legacy = {
        "name": "Old Agent",
        "description": "Speaks A2A 0.3.",
        "version": "0.1.0",
        "url": f"{AGENT}/a2a",
        "preferredTransport": "JSONRPC",
        "protocolVersion": "0.3.0",
        "capabilities": {"streaming": True},
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": [{"id": "s", "name": "S", "description": "d", "tags": ["t"]}],
    }
    original = json.loads(json.dumps(legacy))
    with pytest.raises(CardError, match=r"^A2A 0\.3 cards are not accepted: "):
        parse_card(legacy)
    assert legacy == original  # the SDK's converter mutates; ours must not


# ----------------------------------------------------------------------------------------------- hashing


def test_card_hash_ignores_signatures_and_tracks_content() -> None:
    card = make_card()
    key = ec_key("k1")
    h = card_hash(card)
    assert h.startswith("sha256:") and len(h) == len("sha256:") + 64
    assert card_hash(sign_card(card, key.as_dict(private=True), "k1")) == h
    assert card_hash(make_card(description="Echoes, loudly.")) != h
    assert card_hash(make_card(skills=[AgentSkill(id="x", name="X", description="x", tags=["x"])])) != h
    assert card_hash(make_card(supported_interfaces=list(make_card().supported_interfaces)[1:])) != h
    assert card_hash(parse_card(card_dict(card))) == h


# ----------------------------------------------------------------------------------------------- verification


def test_signed_card_verifies_with_pinned_key() -> None:
    key = ec_key("k1")
    card = signed(make_card(), jwt.PyJWK(key.as_dict(private=True)).key, {"alg": "ES256", "kid": "k1", "typ": "JOSE"})
    parsed = parse_card(card_dict(card))  # what the hub sees after fetching the JSON
    assert verify_card(parsed, jwks(key)) == Verification("verified", kid="k1")


def test_tampered_card_refused() -> None:
    key = ec_key("k1")
    card = sign_card(make_card(), key.as_dict(private=True), "k1")
    doc = card_dict(card)
    doc["description"] = "Echoes what you say, and exfiltrates it."
    with pytest.raises(CardError, match="does not verify"):
        verify_card(parse_card(doc), jwks(key))


def test_signature_by_wrong_key_under_pinned_kid_refused() -> None:
    card = sign_card(make_card(), ec_key("k1").as_dict(private=True), "k1")
    with pytest.raises(CardError, match="does not verify"):
        verify_card(card, jwks(ec_key("k1")))


def test_one_valid_signature_among_several_is_enough() -> None:
    good, other = ec_key("k1"), ec_key("k2")
    card = sign_card(make_card(), other.as_dict(private=True), "k2")
    card = signed(card, jwt.PyJWK(good.as_dict(private=True)).key, {"alg": "ES256", "kid": "k1", "typ": "JOSE"})
    assert verify_card(card, jwks(good)) == Verification("verified", kid="k1")


def test_unpinned_signer_is_untrusted() -> None:
    card = sign_card(make_card(), ec_key("k9").as_dict(private=True), "k9")
    result = verify_card(card, jwks(ec_key("k1")))
    assert result.status == "untrusted"
    assert result.kid is None
    assert result.detail is not None and "k9" in result.detail


def test_unsigned_card() -> None:
    assert verify_card(make_card(), jwks(ec_key("k1"))) == Verification("unsigned")


def test_alg_none_with_pinned_kid_refused() -> None:
    key = ec_key("k1")
    card = make_card()
    card.signatures.add(protected=b64json({"alg": "none", "kid": "k1"}), signature="")
    with pytest.raises(CardError, match="does not verify"):
        verify_card(card, jwks(key))


def test_hs256_with_pinned_kid_refused() -> None:
    key = ec_key("k1")
    public = key.as_dict(private=False)
    # Algorithm confusion: an HMAC "signature" keyed with material an attacker can know.
    secret = json.dumps(public, sort_keys=True).encode() + b"-" * 32
    card = signed(make_card(), secret, {"alg": "HS256", "kid": "k1", "typ": "JOSE"})
    with pytest.raises(CardError, match="does not verify"):
        verify_card(card, jwks(key))
    # Even if a caller allowed HS256, the pinned EC key cannot verify an HMAC.
    with pytest.raises(CardError, match="does not verify"):
        verify_card(card, jwks(key), algorithms=("ES256", "HS256"))


def test_rewritten_protected_header_refused() -> None:
    key = ec_key("k1")
    card = sign_card(make_card(), key.as_dict(private=True), "k1")
    forged = AgentCard()
    forged.CopyFrom(card)
    forged.signatures[0].protected = b64json({"alg": "ES384", "kid": "k1"})
    with pytest.raises(CardError, match="does not verify"):
        verify_card(forged, jwks(key))


@pytest.mark.parametrize("protected", ["!!!", b64json({"alg": "ES256"}), base64url_encode(b"[1,2]").decode()])
def test_garbage_headers_are_untrusted_not_errors(protected: str) -> None:
    card = make_card()
    card.signatures.add(protected=protected, signature="c2ln")
    result = verify_card(card, jwks(ec_key("k1")))
    assert result.status == "untrusted" and result.detail is None


def test_jku_is_reported_not_fetched() -> None:
    key = ec_key("k1")
    header = {"alg": "ES256", "kid": "k1", "jku": "https://agent.example.test/jwks.json", "typ": "JOSE"}
    card = signed(make_card(), jwt.PyJWK(key.as_dict(private=True)).key, header)
    assert signature_jkus(card) == ["https://agent.example.test/jwks.json"]
    assert verify_card(card, {"keys": []}).status == "untrusted"
    assert verify_card(card, jwks(key)).status == "verified"  # once the caller has fetched and merged it
    assert signature_jkus(make_card()) == []


# ----------------------------------------------------------------------------------------------- the hub's copy


def hub_auth() -> tuple[dict[str, SecurityScheme], list[SecurityRequirement]]:
    schemes = {"hub": SecurityScheme(http_auth_security_scheme=HTTPAuthSecurityScheme(scheme="Bearer"))}
    return schemes, [SecurityRequirement(schemes={"hub": StringList(list=["agents:call"])})]


def test_rewrite_card_serves_only_hub_endpoints() -> None:
    key = ec_key("k1")
    card = sign_card(make_card(), key.as_dict(private=True), "k1")
    schemes, reqs = hub_auth()
    out = rewrite_card(card, proxy_base=HUB + "/", security_schemes=schemes, security_requirements=reqs)

    text = json.dumps(card_dict(out))
    assert "agent.example.test" not in text
    assert "agent-bearer" not in text
    assert [(i.protocol_binding, i.url, i.protocol_version, i.tenant) for i in out.supported_interfaces] == [
        ("HTTP+JSON", f"{HUB}/rest", "1.0", "t1"),
        ("JSONRPC", f"{HUB}/jsonrpc", "1.0", ""),
    ]
    assert set(out.security_schemes) == {"hub"}
    assert list(out.security_requirements) == reqs
    assert all(not s.security_requirements for s in out.skills)
    assert not out.signatures
    assert out.name == card.name and out.skills[0].id == "echo"
    # The input is left as it was.
    assert len(card.signatures) == 1 and card.supported_interfaces[1].url == f"{AGENT}/a2a/rest"
    assert parse_card(card_dict(out)) == out


def test_rewrite_without_hub_schemes_drops_agent_auth() -> None:
    out = rewrite_card(make_card(), proxy_base=HUB)
    assert not out.security_schemes and not out.security_requirements


def test_hub_signed_card_verifies() -> None:
    hub_key = ec_key("hub-1")
    out = rewrite_card(make_card(), proxy_base=HUB)
    signed_out = sign_card(out, hub_key.as_dict(private=True), "hub-1")
    assert len(signed_out.signatures) == 1 and not out.signatures
    header = json.loads(jwt.utils.base64url_decode(signed_out.signatures[0].protected))
    assert header == {"alg": "ES256", "kid": "hub-1", "typ": "JOSE"}
    served = parse_card(card_dict(signed_out))
    assert verify_card(served, jwks(hub_key)) == Verification("verified", kid="hub-1")
    # Re-signing replaces, never accumulates.
    assert len(sign_card(signed_out, hub_key.as_dict(private=True), "hub-1").signatures) == 1


def test_canonical_form_is_the_sdks() -> None:
    card = make_card()
    assert card_hash(card) == "sha256:" + hashlib.sha256(_canonicalize_agent_card(card).encode()).hexdigest()
