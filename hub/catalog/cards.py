"""A2A agent cards as data: validation, hashing, signature checks, and the copy the hub serves.

Cards are A2A 1.0 protobuf messages (a2a-sdk); JSON is ProtoJSON camelCase. Nothing here does I/O:
callers fetch cards and any allowlisted JWKS themselves.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, cast

import jwt
from a2a.client.card_resolver import parse_agent_card as _parse_legacy_card
from a2a.types import AgentCard, AgentInterface, SecurityRequirement, SecurityScheme
from a2a.utils.errors import InvalidParamsError
from a2a.utils.proto_utils import validate_proto_required_fields
from a2a.utils.signing import ProtectedHeader, _canonicalize_agent_card, create_agent_card_signer
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from jwt import api_jws
from jwt.utils import base64url_decode, base64url_encode

from hub.catalog.entities import web_url_problem

MAX_CARD_BYTES = 256 * 1024
MAX_INTERFACES = 64
MAX_SKILLS = 200
MAX_SKILL_ID = 128
MAX_NAME = 200
MAX_DESCRIPTION = 8000
MAX_URL = 2048

# Bindings the hub can proxy, with the path each gets under the hub's proxy base.
_PROXY_PATHS = {"JSONRPC": "/jsonrpc", "HTTP+JSON": "/rest"}
_V1 = re.compile(r"1(\.\d+){0,2}")
_DEFAULT_ALGS = ("ES256", "ES384", "RS256", "PS256", "EdDSA")


class CardError(ValueError):
    """A card the hub refuses; the message is safe to show to the registering client."""


@dataclass(frozen=True)
class Verification:
    status: str  # "verified" | "unsigned" | "untrusted"
    kid: str | None = None
    detail: str | None = None


def card_from_bytes(data: bytes) -> AgentCard:
    if len(data) > MAX_CARD_BYTES:
        raise CardError(f"agent card is larger than {MAX_CARD_BYTES} bytes")
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:  # JSONDecodeError is a ValueError
        raise CardError(f"agent card is not valid JSON: {_short(e)}") from None
    return parse_card(doc)


def parse_card(doc: object) -> AgentCard:
    """Validate a JSON document as an A2A 1.0 agent card the hub can use."""
    if not isinstance(doc, dict):
        raise CardError("agent card must be a JSON object")
    legacy = "supportedInterfaces" not in doc and ("url" in doc or "protocolVersion" in doc)
    try:
        if legacy:
            # The SDK's resolver maps 0.3 fields (url, preferredTransport, security...) onto 1.0; it mutates its input.
            card = _parse_legacy_card(copy.deepcopy(doc))
        else:
            card = ParseDict(doc, AgentCard(), ignore_unknown_fields=True)  # unknown fields: forward compatible
    except (ParseError, TypeError, ValueError, AttributeError, RecursionError) as e:
        raise CardError(f"agent card does not match the A2A 1.0 schema: {_short(e)}") from None

    _check_required(card)
    _check_bounds(card)
    if not any(_hub_binding(i) for i in card.supported_interfaces):
        if legacy:
            raise CardError(
                "A2A 0.3 cards are not accepted: the hub speaks A2A 1.0; publish supportedInterfaces "
                "with protocolVersion 1.0"
            )
        raise CardError("supportedInterfaces has no JSONRPC or HTTP+JSON interface with protocolVersion 1.x")
    _canonical(card)  # so card_hash and signature checks cannot fail later on an accepted card
    return card


def card_dict(card: AgentCard) -> dict[str, Any]:
    return MessageToDict(card, preserving_proto_field_name=False)


def card_hash(card: AgentCard) -> str:
    """sha256 over exactly the bytes card signatures cover (JCS form, signatures and empty values dropped)."""
    return "sha256:" + hashlib.sha256(_canonical(card).encode()).hexdigest()


def signature_jkus(card: AgentCard) -> list[str]:
    jkus: list[str] = []
    for sig in card.signatures:
        jku = (_protected_header(sig.protected) or {}).get("jku")
        if isinstance(jku, str) and jku not in jkus:
            jkus.append(jku)
    return jkus


def verify_card(card: AgentCard, keys: dict[str, Any], *, algorithms: tuple[str, ...] = _DEFAULT_ALGS) -> Verification:
    """Check the card's signatures against operator-pinned keys (a JWKS dict); never fetches a jku."""
    if not card.signatures:
        return Verification("unsigned")
    pinned: dict[str, list[dict[str, Any]]] = {}
    for jwk in keys.get("keys") or []:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            pinned.setdefault(jwk["kid"], []).append(jwk)

    payload = base64url_encode(_canonical(card).encode()).decode()
    allowed = {a for a in algorithms if a.lower() != "none"}
    seen: list[str] = []
    tried_pinned = False
    for sig in card.signatures:
        header = _protected_header(sig.protected)
        kid = header.get("kid") if header else None
        if header is None or not isinstance(kid, str):
            continue
        if kid not in seen:
            seen.append(kid)
        if kid not in pinned:
            continue
        tried_pinned = True
        alg = header.get("alg")
        # alg "none" or outside the allowlist (HS256 by default): never verified, even under a pinned kid.
        if not isinstance(alg, str) or alg not in allowed:
            continue
        token = f"{sig.protected}.{payload}.{sig.signature}"
        for jwk in pinned[kid]:
            try:
                # PyJWK binds the algorithm to the key, and PyJWT rejects a header alg that differs from it.
                key = jwt.PyJWK(jwk, algorithm=None if "alg" in jwk else alg)
                api_jws.decode(token, key=key, algorithms=[alg])
            except (jwt.PyJWTError, ValueError, TypeError, KeyError):
                continue
            return Verification("verified", kid=kid)
    if tried_pinned:
        raise CardError("the card's signature does not verify (tampered or wrong key)")
    return Verification("untrusted", detail=", ".join(seen) or None)


def rewrite_card(
    card: AgentCard,
    *,
    proxy_base: str,
    security_schemes: dict[str, SecurityScheme] | None = None,
    security_requirements: list[SecurityRequirement] | None = None,
) -> AgentCard:
    """The card as the hub serves it: hub endpoints, hub auth, no agent URLs and no agent signatures."""
    out = AgentCard()
    out.CopyFrom(card)
    base = proxy_base.rstrip("/")
    interfaces: list[AgentInterface] = []
    done: set[str] = set()
    for iface in card.supported_interfaces:  # keeps the agent's preference order
        binding = _hub_binding(iface)
        if binding and binding not in done:
            done.add(binding)
            interfaces.append(
                AgentInterface(
                    url=base + _PROXY_PATHS[binding],
                    protocol_binding=binding,
                    protocol_version=iface.protocol_version,
                    tenant=iface.tenant,
                )
            )
    if not interfaces:
        raise CardError("supportedInterfaces has no JSONRPC or HTTP+JSON interface with protocolVersion 1.x")
    del out.supported_interfaces[:]
    out.supported_interfaces.extend(interfaces)
    # Callers authenticate to the hub, never to the agent: the agent's schemes would only mislead them.
    out.security_schemes.clear()
    for name, scheme in (security_schemes or {}).items():
        out.security_schemes[name].CopyFrom(scheme)
    del out.security_requirements[:]
    out.security_requirements.extend(security_requirements or [])
    for skill in out.skills:
        del skill.security_requirements[:]
    del out.signatures[:]  # they covered the agent's card, not this one
    return out


def sign_card(card: AgentCard, private_jwk: dict[str, Any], kid: str, alg: str = "ES256") -> AgentCard:
    """A copy of the card carrying exactly one signature, by the given key."""
    out = AgentCard()
    out.CopyFrom(card)
    del out.signatures[:]
    key = jwt.PyJWK(private_jwk, algorithm=alg).key
    # No jku: verifiers must pin the hub's key rather than fetch one named by the card.
    signer = create_agent_card_signer(key, cast(ProtectedHeader, {"alg": alg, "kid": kid, "typ": "JOSE"}))
    return signer(out)


def _check_required(card: AgentCard) -> None:
    try:
        validate_proto_required_fields(card)
    except InvalidParamsError as e:
        errors = (e.data or {}).get("errors") or []
        fields = [_camel(err["field"]) for err in errors]
        more = f" (+{len(fields) - 5} more)" if len(fields) > 5 else ""
        raise CardError("missing required field(s): " + ", ".join(fields[:5]) + more) from None
    if not card.HasField("capabilities"):
        raise CardError("missing required field(s): capabilities")


def _check_bounds(card: AgentCard) -> None:
    if len(card.supported_interfaces) > MAX_INTERFACES:
        raise CardError(f"supportedInterfaces has more than {MAX_INTERFACES} entries")
    if len(card.skills) > MAX_SKILLS:
        raise CardError(f"skills has more than {MAX_SKILLS} entries")
    _check_text("name", card.name, MAX_NAME)
    _check_text("description", card.description, MAX_DESCRIPTION)
    for i, iface in enumerate(card.supported_interfaces):
        # Only interfaces the hub will call must be http(s); a gRPC entry may be a bare host:port and is dropped anyway.
        _check_url(f"supportedInterfaces[{i}].url", iface.url, web=_hub_binding(iface) is not None)
    for field, url in (
        ("provider.url", card.provider.url),
        ("documentationUrl", card.documentation_url),
        ("iconUrl", card.icon_url),
    ):
        if url:
            _check_url(field, url)
    for i, skill in enumerate(card.skills):
        _check_text(f"skills[{i}].id", skill.id, MAX_SKILL_ID)
        _check_text(f"skills[{i}].name", skill.name, MAX_NAME)
        _check_text(f"skills[{i}].description", skill.description, MAX_DESCRIPTION)


def _check_text(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise CardError(f"{field} is longer than {limit} characters")


def _check_url(field: str, url: str, *, web: bool = True) -> None:
    if len(url) > MAX_URL:
        raise CardError(f"{field} is longer than {MAX_URL} characters")
    if web and (problem := web_url_problem(url)):
        raise CardError(f"{field} {problem}")


def _hub_binding(iface: AgentInterface) -> str | None:
    """The canonical binding name if the hub can proxy this interface, else None."""
    binding = iface.protocol_binding.strip().upper()
    if binding in _PROXY_PATHS and _V1.fullmatch(iface.protocol_version.strip()):
        return binding
    return None


def _canonical(card: AgentCard) -> str:
    try:
        return _canonicalize_agent_card(card)
    except ValueError as e:  # CanonicalizationError: too deep, unpaired surrogates, non-interoperable numbers
        raise CardError(f"agent card has no canonical JSON form: {_short(e)}") from None


def _protected_header(protected: str) -> dict[str, Any] | None:
    try:
        header = json.loads(base64url_decode(protected.encode()))
    except (ValueError, UnicodeDecodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    return header if isinstance(header, dict) else None


def _camel(path: str) -> str:
    """supported_interfaces[0].protocol_version -> supportedInterfaces[0].protocolVersion (map keys untouched)."""
    parts = re.split(r"(\[[^\]]*\])", path)
    return "".join(p if p.startswith("[") else re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), p) for p in parts)


def _short(e: BaseException, limit: int = 200) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
