"""Regex alternatives behind a literal prefilter: `Alternatives(templates).search(text)` is `re.search` of the
templates joined by `|`, without running the alternatives whose required words the text lacks.

Why: the poisoning scanner's instruction patterns are dozens of case-insensitive alternatives, and Python's
regex engine tries each of them at every position: about 140 us for one ordinary tool description, most of a
tool's registration cost. Nearly every alternative needs a word that ordinary prose rarely holds ("disregard",
"exfil", "pretend"). The required words are derived from the parsed pattern, never written by hand, so the
answer is the full regex's answer: an alternative is skipped only when no match of it could exist.

`required_literals(pattern)` gives a set of strings one of which every match contains (None when no such
set is known); `required_clauses(pattern)` gives every such set the parts of the pattern impose ("you", "are" and
"now" for "you are now"). An alternative is found through the words of its most selective set and then run only
if the text meets all its sets (those made of words of four letters or more: shorter ones are met by nearly every
text). The check is a substring test in the lowercased text. It is exact: case-insensitively, an ASCII
letter matches only its two cases and four other characters (the dotless and dotted capital i, the long s and the
Kelvin sign, `_ASCII_PARTNERS`), which are folded to ASCII on both sides before lowercasing; a literal with any
other non-ASCII character cannot occur in ASCII text and, in other text, is not tested (its alternative always
runs there).

The words of every `Alternatives` share one index (`_WordIndex`): a single regex, a trie of all the words
behind a lookahead, finds at each position of the lowercased text the longest word starting there; the words
that are prefixes of it start there too. One pass over the text thus finds every word present, and the scanner's
pattern sets searched one after the other in the same text reuse that pass.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
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
    if not found or any(not s for s in found):
        return None
    return frozenset(_lower(s) for s in found)


# The non-ASCII characters that match an ASCII letter case-insensitively (re's simple case folding and its extra
# cases): dotted capital I and dotless i (i), long s (s), Kelvin sign (k).
_ASCII_PARTNERS = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


def _lower(text: str) -> str:
    """Lowercased with the ASCII partners folded first ("\u0130".lower() would be two characters)."""
    return text.translate(_ASCII_PARTNERS).lower()


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
        if op is sre.BRANCH:
            consider(_prefixed(run, arg[1]))
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


def required_clauses(pattern: str, flags: int = 0) -> tuple[frozenset[str], ...]:
    """Lowercased requirements that every match of `pattern` meets all of: in each set, one string the match
    contains (`\\byou[\\W_]*are[\\W_]*now` needs "you", "are" and "now"). Empty when none is known."""
    try:
        found = _clauses(list(_parser.parse(pattern, flags)))
    except Exception:  # an unknown parser shape: no prefilter, the regex always runs
        return ()
    return tuple(frozenset(_lower(s) for s in clause) for clause in found if clause and all(clause))


def _clauses(items: list[tuple[Any, Any]]) -> list[set[str]]:
    """For a parsed sequence: the requirement of each of its parts (all of them are required)."""
    found: list[set[str]] = []
    run: list[str] = []
    for op, arg in items:
        if op is sre.LITERAL:
            run.append(chr(arg))
            continue
        if op is sre.AT:  # zero-width: the literals on either side stay adjacent
            continue
        if run:
            found.append({"".join(run)})
            if op is sre.BRANCH and (prefixed := _prefixed(run, arg[1])):
                found.append(prefixed)
            run = []
        if op is sre.SUBPATTERN:
            found.extend(_clauses(list(arg[-1])))
        elif op is sre.BRANCH:
            options = [_required(list(branch)) for branch in arg[1]]
            if all(option for option in options):
                found.append(set().union(*options))  # type: ignore[arg-type]
        elif op in _REPEATS and arg[0] >= 1:
            found.extend(_clauses(list(arg[2])))
    if run:
        found.append({"".join(run)})
    return found


def _prefixed(run: list[str], branches: list[list[tuple[Any, Any]]]) -> set[str] | None:
    """The literal run before a branch joined to each option's leading literals: the parser factors a common
    prefix out of alternatives, so "(?:conversation|chat)" reaches us as "c" then "onversation" or "hat"."""
    if not run:
        return None
    joined = set()
    for branch in branches:
        lead: list[str] = []
        for op, arg in branch:
            if op is sre.LITERAL:
                lead.append(chr(arg))
            elif op is not sre.AT:
                break
        if not lead:
            return None
        joined.add("".join(run) + "".join(lead))
    return joined


def _selectivity(options: set[str] | frozenset[str]) -> float:
    """Longer words are rarer; fewer options are checked faster."""
    return min(len(s) for s in options) - 0.01 * len(options)


def _trie_regex(words: list[str]) -> str:
    """A regex matching exactly the given words, as a trie (one branch per next character), preferring the
    longest."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return emit(trie)


class _WordIndex:
    """Which of the registered words a lowercased text contains, in one regex pass (the last answer is kept, as
    the scanner asks it of the same text once per pattern set)."""

    def __init__(self) -> None:
        self._words: set[str] = set()
        self._finder: tuple[re.Pattern[str], dict[str, tuple[str, ...]]] | None = None
        self._last: tuple[str, frozenset[str]] | None = None

    def register(self, words: set[str]) -> None:
        if not words <= self._words:
            self._words |= words
            self._finder = None
            self._last = None

    def _build(self) -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
        words = sorted(self._words)
        finder = re.compile("(?=(" + _trie_regex(words) + "))") if words else re.compile("(?!)")
        known = set(words)
        prefixes = {w: tuple(w[:k] for k in range(1, len(w) + 1) if w[:k] in known) for w in words}
        self._finder = finder, prefixes
        return self._finder

    def present(self, lowered: str) -> frozenset[str]:
        last = self._last
        if last is not None and last[0] == lowered:
            return last[1]
        finder, prefixes = self._finder or self._build()
        found: set[str] = set()
        for word in set(finder.findall(lowered)):
            found.update(prefixes[word])
        answer = frozenset(found)
        self._last = (lowered, answer)
        return answer


_INDEX = _WordIndex()


_MIN_CHECKED = 4


class Alternatives:
    """Case-insensitive alternatives, each searched only when the text holds the words it requires."""

    def __init__(self, templates: list[str], flags: int) -> None:
        self.templates, self.flags = tuple(templates), flags  # the meaning: re.search of the joined templates
        self._regexes = [re.compile(t, flags) for t in templates]
        # Each alternative is found through the words of its most selective requirement (word -> alternatives),
        # then kept only if the text meets all its requirements. One with no known requirement runs on every
        # text; a requirement with a non-ASCII word is not tested on non-ASCII text.
        by_word: dict[str, list[int]] = {}
        self._always: list[int] = []
        self._always_unicode: list[int] = []
        self._clauses: list[tuple[tuple[frozenset[str], bool], ...]] = []
        words: set[str] = set()
        for i, template in enumerate(templates):
            clauses = required_clauses(template, flags)
            # (a clause with a short word is met by nearly every text: not worth testing)
            checked = [c for c in clauses if min(map(len, c)) >= _MIN_CHECKED]
            self._clauses.append(tuple((c, not all(w.isascii() for w in c)) for c in checked))
            for clause in checked:
                words.update(w for w in clause if w.isascii())
            if not clauses:
                self._always.append(i)
                continue
            primary = max(clauses, key=_selectivity)
            if not all(w.isascii() for w in primary):
                self._always_unicode.append(i)
            for word in primary:
                if word.isascii():  # (a non-ASCII word cannot occur in ASCII text)
                    by_word.setdefault(word, []).append(i)
                    words.add(word)
        self._by_word = {word: tuple(indices) for word, indices in by_word.items()}
        _INDEX.register(words)

    def _candidates(self, text: str) -> list[int]:
        ascii_text = text.isascii()
        candidates = set(self._always)
        if not ascii_text:
            candidates.update(self._always_unicode)
        by_word = self._by_word
        present = _INDEX.present(text.lower() if ascii_text else _lower(text))
        for word in present:
            indices = by_word.get(word)
            if indices:
                candidates.update(indices)
        return [
            i
            for i in sorted(candidates)
            if all(
                not clause.isdisjoint(present) or (unicode and not ascii_text)
                for clause, unicode in self._clauses[i]
            )
        ]

    def search(self, text: str) -> bool:
        regexes = self._regexes
        return any(regexes[i].search(text) for i in self._candidates(text))

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """Every match of each alternative, alternative by alternative (so overlapping ones too: a superset of
        the joined regex's non-overlapping matches)."""
        for i in self._candidates(text):
            yield from self._regexes[i].finditer(text)
