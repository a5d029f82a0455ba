"""What the index holds for each searchable thing: an Entry, and the text its vectors are made from."""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

NAMESPACE = uuid.UUID("6f1d2b1e-9a53-4c35-9a57-3b0f3e0b6a10")
MAX_DESCRIPTION = 2000  # characters of a description that are embedded and returned
MAX_PARAMETERS = 24

_SPLIT = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")


def words(identifier: str) -> str:
    """"getWeatherForecast" / "get_weather-forecast" -> "get weather forecast"."""
    return " ".join(m.group().lower() for m in _SPLIT.finditer(identifier))


@dataclass(frozen=True)
class Texts:
    """The three renderings of one entry (the ranking recipe measured in bench/search_quality.py)."""

    document: str  # description (and parameters or skills), without the name: the main dense vector
    label: str  # the name in words (and the title): a second, short dense vector, mixed in (search.py)
    lexical: str  # name, description and parameters: the sparse BM25 vector


@dataclass(frozen=True)
class Entry:
    """One searchable thing: a tool, an agent or an agent's skill."""

    kind: str  # tool | agent | skill
    key: str  # the tool's qualified name, the agent's id, "<agent id>#<skill id>"
    source: str  # the upstream or agent it comes from (kill switches hide a whole source)
    state: str  # only "approved" entries are ever candidates
    grants: tuple[str, ...]  # any one of these scopes makes the entry visible
    name: str
    title: str | None
    description: str
    texts: Texts  # what is embedded and matched lexically

    @property
    def point_id(self) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.kind}:{self.key}"))

    def payload(self, model_id: str, lexical_version: str) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "kind": self.kind, "key": self.key, "source": self.source, "state": self.state,
            # kind and state in one field, so the query's filter is one condition (two conditions that match
            # nearly everything made Qdrant's filtered search 2.5x slower at 10k entries)
            "visible": self.kind if self.state == "approved" else "-",
            "grants": list(self.grants), "name": self.name, "title": self.title,
            "description": self.description,
            "index_key": _digest(f"{model_id}|{lexical_version}|{self.texts}"),
        }
        payload["sig"] = _digest(json.dumps(payload, sort_keys=True))
        return payload


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def parameter_text(schema: dict[str, Any] | None) -> str:
    """Top-level parameter names (as words) and their descriptions: what a tool needs says what it does."""
    properties = (schema or {}).get("properties")
    if not isinstance(properties, dict):
        return ""
    parts = []
    for name, spec in list(properties.items())[:MAX_PARAMETERS]:
        described = spec.get("description") if isinstance(spec, dict) else None
        text = words(str(name))
        if isinstance(described, str) and described.strip():
            text += f" ({described.strip()[:200]})"
        parts.append(text)
    return "; ".join(parts)


def texts(name: str, title: str | None, description: str | None, schema: dict[str, Any] | None) -> Texts:
    """A tool's texts. The name is embedded on its own (the label), not appended to the description: two
    vectors mixed at index time beat one vector of both texts (measured on MetaTool: +0.6 nDCG@10)."""
    label = words(name)
    if title and title.strip() and title.strip().lower() != label:
        label = f"{title.strip()}, {label}"
    described = (description or "").strip()[:MAX_DESCRIPTION]
    params = parameter_text(schema)
    document = described or label
    if params:
        document += f" Parameters: {params}"
    return Texts(document=document, label=label, lexical=f"{label} {described} {params}".strip())


def agent_texts(name: str, description: str | None, skills: list[dict[str, Any]]) -> Texts:
    """An agent's texts: its description, then what each skill does (skills say what it is for)."""
    label = words(name) or name
    described = (description or "").strip()[:MAX_DESCRIPTION]
    skill_text = "; ".join(
        f"{str(s.get('name') or s.get('id', ''))[:100]}: {str(s.get('description', ''))[:300]}"
        + (f" (e.g. {str(s['examples'][0])[:100]})" if s.get("examples") else "")
        for s in skills[:20])
    document = described or label
    if skill_text:
        document += f" Skills: {skill_text}"
    tags = " ".join(str(t) for s in skills[:20] for t in (s.get("tags") or [])[:10])
    return Texts(document=document, label=label, lexical=f"{label} {described} {skill_text} {tags}".strip())
