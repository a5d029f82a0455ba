"""The literal prefilter in front of the poisoning patterns: it may skip work, never change an answer."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from hub.gateway import poisoning, poisoning_patterns, prefilter
from hub.gateway.prefilter import Alternatives, required_clauses, required_literals
from tests.gateway.poisoning_corpus import BENIGN, POISONED
from tests.gateway.poisoning_corpus_extra import BENIGN_ALL, BENIGN_PUBLIC, POISONED_ALL

PATTERNS = {name: getattr(poisoning_patterns, name)
            for name in ("_IMPORTANT_BLOCK", "_EXFIL_CUE", "_MODEL_INSTRUCTION", "_CROSS_TOOL", "_SECRET_PATH")}


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
    ("\u212a", {"k"}),  # the Kelvin sign matches "k" case-insensitively, so it is tested as "k"
    (r"(?:conversation|chat)", {"conversation", "chat"}),  # (the parser factors the "c" out of the branch)
])
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    found = required_literals(pattern, re.IGNORECASE)
    assert (set(found) if found is not None else None) == expected


@pytest.mark.parametrize(("pattern", "expected"), [
    (r"\byou[\W_]*are[\W_]*now", [{"you"}, {"are"}, {"now"}]),
    (r"(?:send|forward)[^\n]{0,40}\bto\b", [{"send", "forward"}, {"to"}]),
    (r"x?(?:ab|c?)", []),
    (r"(?:a+b){2,}z", [{"a"}, {"b"}, {"z"}]),
])
def test_required_clauses(pattern: str, expected: list[set[str]]) -> None:
    assert [set(c) for c in required_clauses(pattern, re.IGNORECASE)] == expected


def test_the_ascii_partners_are_all_the_non_ascii_characters_that_match_an_ascii_letter() -> None:
    cased = [chr(cp) for cp in range(0x80, 0x110000) if chr(cp).lower() != chr(cp) or chr(cp).upper() != chr(cp)]
    matching = {ch for ch in cased for letter in "abcdefghijklmnopqrstuvwxyz" if re.fullmatch(letter, ch, re.I)}
    assert matching == {"\u0130", "\u0131", "\u017f", "\u212a"}
    assert all(prefilter._lower(ch).isascii() for ch in matching)


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
    corpus = [*BENIGN, *POISONED, *BENIGN_ALL, *POISONED_ALL, *BENIGN_PUBLIC]
    texts = [s for tool in corpus for s in _strings(tool)]
    checked = matched = 0
    for text in texts:
        for variant in _variants(text, rng):
            for name, alternatives in PATTERNS.items():
                assert isinstance(alternatives, Alternatives)
                expected = reference[name].search(variant) is not None
                assert alternatives.search(variant) == expected, (name, variant[:120])
                checked += 1
                matched += expected
    assert matched > 200 and checked > 10000  # the corpus exercised both answers


def test_case_partners_of_ascii_letters_are_tested_as_ascii() -> None:
    # a dotless i (U+0131) matches "i" case-insensitively, so "\u0131gnore" holds no "ignore" but matches it
    rx = Alternatives([r"\bignore previous"], re.IGNORECASE)
    assert rx.search("please \u0131gnore previous orders")
    assert rx.search("please \u0130GNORE PREV\u0130OUS orders")
    assert rx.search("IGNORE PREVIOUS")
    assert not rx.search("ignore the previous")


def test_non_ascii_words_cannot_be_in_ascii_text_and_are_not_tested_in_other_text() -> None:
    rx = Alternatives([r"\bübergib\b", r"\u03c3\u03bf\u03c6"], re.IGNORECASE)
    assert not rx.search("ubergib the file")
    assert rx.search("Übergib die Datei")
    assert rx.search("\u03a3\u039f\u03a6") and rx.search("\u03c2\u03bf\u03c6")  # (final sigma: no lowercasing finds it)


def test_word_index_finds_every_word_present() -> None:
    words = {w for w in prefilter._INDEX._words}
    rng = random.Random(7)
    texts = [s.lower() for tool in [*BENIGN, *POISONED, *POISONED_ALL] for s in _strings(tool)]
    texts += ["".join(rng.choice("abcdeinorst _'-") for _ in range(300)) for _ in range(50)]
    for text in texts:
        assert prefilter._INDEX.present(text) == {w for w in words if w in text}, text[:80]


def test_finditer_finds_each_alternatives_matches() -> None:
    rx = Alternatives([r"\bsend\b", r"\bsend to\b"], re.IGNORECASE)
    assert sorted((m.start(), m.group()) for m in rx.finditer("Send to x, then send.")) == [
        (0, "Send"), (0, "Send to"), (16, "send")
    ]
