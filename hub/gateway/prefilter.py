"""Regex alternatives behind a literal prefilter: `Alternatives(templates).search(text)` is `re.search` of the
templates joined by `|`, without running the alternatives whose required words the text lacks.

Why: the poisoning scanner's instruction patterns are dozens of case-insensitive alternatives, and Python's
regex engine tries each of them at every position: about 140 us for one ordinary tool description, most of a
tool's registration cost. Nearly every alternative needs a word that ordinary prose rarely holds ("disregard",
"exfil", "pretend"). The required words are derived from the parsed pattern, never written by hand, so the
answer is the full regex's answer: an alternative is skipped only when no match of it could exist.

`required_literals(pattern)` gives a set of strings one of which every match contains (None when no such
set is known). The check is a substring test in the lowercased text, exact on ASCII text (where case-insensitive
matching of an ASCII literal means its two cases only); other text runs every alternative.
"""

from __future__ import annotations

import re
from re import _constants as sre  # type: ignore[attr-defined]  # the parser's opcodes (CPython 3.11+)
from re import _parser  # type: ignore[attr-defined]
from typing import Any

_REPEATS = {sre.MAX_REPEAT, sre.MIN_REPEAT, getattr(sre, "POSSESSIVE_REPEAT", sre.MAX_REPEAT)}


def required_literals(pattern: str, flags: int = 0) -> frozenset[str] | None:
    """Lowercased strings one of which every match of `pattern` contains; None if none is known."""
    try:
        found = _required(list(_parser.parse(pattern, flags)))
    except Exception:  # an unknown parser shape: no prefilter, the regex always runs
        return None
    if not found or any(not s or not s.isascii() for s in found):
        return None  # (a non-ASCII literal may match ASCII text case-insensitively: the Kelvin sign and k)
    return frozenset(s.lower() for s in found)


def _required(items: list[tuple[Any, Any]]) -> set[str] | None:
    """For a parsed sequence: the most selective requirement among its parts (each part is required)."""
    best: set[str] | None = None
    run: list[str] = []

    def consider(candidate: set[str] | None) -> None:
        nonlocal best
        if candidate and (best is None or _selectivity(candidate) > _selectivity(best)):
            best = candidate

    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if op is sre.AT:  # zero-width (\b, ^, $): the literals on either side stay adjacent
            continue
        consider({"".join(run)} if run else None)
        run = []
        if op is sre.SUBPATTERN:
            consider(_required(list(arg[-1])))
        elif op is sre.BRANCH:
            options = [_required(list(branch)) for branch in arg[1]]
            if all(option for option in options):
                consider(set().union(*options))  # type: ignore[arg-type]
        elif op in _REPEATS and arg[0] >= 1:
            consider(_required(list(arg[2])))
        # anything else (classes, any, optional parts, lookarounds) requires nothing known
    consider({"".join(run)} if run else None)
    return best


def _selectivity(options: set[str]) -> float:
    """Longer words are rarer; fewer options are checked faster."""
    return min(len(s) for s in options) - 0.01 * len(options)


class Alternatives:
    """Case-insensitive alternatives, each searched only when its required words are in the text."""

    def __init__(self, templates: list[str], flags: int) -> None:
        self.templates, self.flags = tuple(templates), flags  # the meaning: re.search of the joined templates
        self._parts = [(required_literals(t, flags), re.compile(t, flags)) for t in templates]

    def search(self, text: str) -> bool:
        # In ASCII text, a case-insensitive literal matches only its ASCII letters in either case.
        lowered = text.lower() if text.isascii() else None
        for words, regex in self._parts:
            if lowered is not None and words is not None and not any(word in lowered for word in words):
                continue
            if regex.search(text):
                return True
        return False
