"""The literal prefilter in front of the poisoning patterns: it may skip work, never change an answer."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from hub.gateway import poisoning
from hub.gateway.prefilter import Alternatives, required_literals
from tests.gateway.poisoning_corpus import BENIGN, POISONED

PATTERNS = {name: getattr(poisoning, name) for name in ("_IMPORTANT_BLOCK", "_EXFIL_CUE", "_MODEL_INSTRUCTION",
                                                         "_CROSS_TOOL")}


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\bignore\b", {"ignore"}),
    (r"\b(?:ignore|disregard)[\W_]*previous", {"previous"}),  # the longest requirement wins
    (r"(?:do[\W_]*not|don'?t) tell", {" tell"}),
    (r"\[/?inst\]", {"inst]"}),
    (r"(?:send|forward)[^\n]{0,40}", {"send", "forward"}),
    (r"(?:a+b){2,}", {"a"}),  # inside a repeat that must run
    (r"(?:secret)?key", {"key"}),
    (r"x?(?:ab|c?)", None),  # a branch with an option that needs nothing
    (r"[a-z]+", None),
    ("\u212a", None),  # the Kelvin sign: it matches "k" case-insensitively, so no ASCII test may stand for it
])
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    found = required_literals(pattern, re.IGNORECASE)
    assert (set(found) if found is not None else None) == expected


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [*_strings(k), *_strings(v)]]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _variants(text: str, rng: random.Random) -> list[str]:
    """The text as the scanner sees it, raw, upper-cased, with a non-ASCII letter, and cut at random places."""
    norm = poisoning._normalise(text)
    cuts = [norm[rng.randrange(len(norm) + 1):][:200] for _ in range(3)] if norm else []
    return [text, norm, text.upper(), norm + " é", "İ" + norm.upper(), *cuts]


def test_prefiltered_search_equals_the_full_regex_on_the_corpus() -> None:
    rng = random.Random(5)
    reference = {name: re.compile("|".join(f"(?:{t})" for t in alt.templates), alt.flags)
                 for name, alt in PATTERNS.items()}
    texts = [s for tool in [*BENIGN, *POISONED] for s in _strings(tool)]
    checked = matched = 0
    for text in texts:
        for variant in _variants(text, rng):
            for name, alternatives in PATTERNS.items():
                assert isinstance(alternatives, Alternatives)
                expected = reference[name].search(variant) is not None
                assert alternatives.search(variant) == expected, (name, variant[:120])
                checked += 1
                matched += expected
    assert matched > 50 and checked > 1000  # the corpus exercised both answers


def test_unicode_text_runs_every_alternative() -> None:
    # a dotless i (U+0131) matches "i" case-insensitively, so "\u0131gnore" holds no "ignore" but matches it
    rx = Alternatives([r"\bignore previous"], re.IGNORECASE)
    assert rx.search("please \u0131gnore previous orders")
    assert rx.search("IGNORE PREVIOUS")
    assert not rx.search("ignore the previous")
