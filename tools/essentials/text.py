"""Text tools: ``text_stats``, ``regex_find`` and ``regex_replace``."""

from __future__ import annotations

import math
import re
import re._constants as sre_constants
import re._parser as sre_parser
from typing import Annotated, Any, Literal

import regex
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from ._common import (
    MAX_REGEX_COST,
    MAX_REGEX_MATCHES,
    MAX_REGEX_OUTPUT_CHARS,
    MAX_SHORT_CHARS,
    MAX_TEXT_CHARS,
    REGEX_SECONDS,
    Text,
    _LimitError,
)

# --------------------------------------------------------------------------------------
# Text utilities
# --------------------------------------------------------------------------------------

_WORD_RE = re.compile("\\w+(?:['\u2019\\-]\\w+)*")
_SENTENCE_END_RE = re.compile("[.!?\u3002\uff01\uff1f]+(?=\\s|$)")
_PARAGRAPH_SPLIT_RE = re.compile(r"\n\s*\n")


class TextStatsResult(BaseModel):
    characters: int = Field(description="Unicode code points")
    characters_no_whitespace: int
    bytes_utf8: int
    words: int
    unique_words: int = Field(description="Distinct words, case-insensitive")
    lines: int
    sentences: int = Field(description="Approximate: runs of . ! ? followed by whitespace or the end")
    paragraphs: int = Field(description="Blocks separated by blank lines")
    longest_line: int = Field(description="Length of the longest line in characters")
    tokens_estimate: int = Field(description="Rough LLM token count (about 4 characters or 0.75 words per token)")


def text_stats(text: Text) -> TextStatsResult:
    """Count characters, bytes, words, lines, sentences and paragraphs of a text, and estimate tokens.

    Use this for exact lengths (e.g. to respect a character limit); models cannot count reliably.
    """
    words = _WORD_RE.findall(text)
    lines = text.splitlines()
    stripped = text.strip()
    ends = list(_SENTENCE_END_RE.finditer(stripped))
    sentences = len(ends)
    if stripped[ends[-1].end() if ends else 0 :].strip():
        sentences += 1  # trailing text without a terminator
    return TextStatsResult(
        characters=len(text),
        characters_no_whitespace=sum(1 for ch in text if not ch.isspace()),
        bytes_utf8=len(text.encode("utf-8", "surrogatepass")),
        words=len(words),
        unique_words=len({word.casefold() for word in words}),
        lines=len(lines),
        sentences=sentences,
        paragraphs=len([p for p in _PARAGRAPH_SPLIT_RE.split(stripped) if p.strip()]) if stripped else 0,
        longest_line=max((len(line) for line in lines), default=0),
        tokens_estimate=max(math.ceil(len(text) / 4), math.ceil(len(words) / 0.75)) if text else 0,
    )


# --------------------------------------------------------------------------------------
# Regular expressions
# --------------------------------------------------------------------------------------

RegexFlag = Literal["IGNORECASE", "MULTILINE", "DOTALL", "VERBOSE", "ASCII"]
_RE_FLAGS = {
    "IGNORECASE": re.IGNORECASE,
    "MULTILINE": re.MULTILINE,
    "DOTALL": re.DOTALL,
    "VERBOSE": re.VERBOSE,
    "ASCII": re.ASCII,
}
_REGEX_FLAGS = {
    "IGNORECASE": regex.IGNORECASE,
    "MULTILINE": regex.MULTILINE,
    "DOTALL": regex.DOTALL,
    "VERBOSE": regex.VERBOSE,
    "ASCII": regex.ASCII,
}
_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)}

PatternText = Annotated[
    str,
    Field(max_length=MAX_SHORT_CHARS, description="Regular expression in Python 're' syntax"),
]
FlagList = Annotated[list[RegexFlag], Field(max_length=5, description="Regex flags, e.g. ['IGNORECASE']")]


def _pattern_cost(items: Any, multiplier: int) -> int:
    """Nodes the matcher may unroll: counted repeats multiply what they contain."""
    cost = 0
    for op, av in items:
        if op in _REPEATS:
            low, high, sub = av
            count = high if high != sre_constants.MAXREPEAT else low
            cost += 1 + _pattern_cost(sub, multiplier * max(count, 1))
        else:
            cost += multiplier
            children = av if isinstance(av, tuple | list) else (av,)
            for child in children:
                if isinstance(child, sre_parser.SubPattern):
                    cost += _pattern_cost(child, multiplier)
                elif isinstance(child, list):
                    cost += sum(_pattern_cost(c, multiplier) for c in child if isinstance(c, sre_parser.SubPattern))
        if cost > MAX_REGEX_COST:
            break
    return cost


def _compile(pattern: str, flags: list[RegexFlag]) -> regex.Pattern[str]:
    """Validate with the stdlib parser (Python 're' syntax only, and a cheap size check), then compile
    with the `regex` engine, whose matching honours a timeout; it unrolls counted repeats at compile
    time, so patterns like ((a{100}){100}){100} must be refused before they reach it."""
    re_flags = 0
    regex_flags = regex.VERSION0
    for flag in flags:
        re_flags |= _RE_FLAGS[flag]
        regex_flags |= _REGEX_FLAGS[flag]
    try:
        parsed = sre_parser.parse(pattern, re_flags)
    except re.error as exc:
        raise ToolError(f"Invalid regular expression: {exc}") from None
    except RecursionError:
        raise ToolError("Invalid regular expression: nested too deeply.") from None
    if _pattern_cost(parsed, 1) > MAX_REGEX_COST:
        raise ToolError("The pattern's counted repetitions are too large (e.g. nested {n} quantifiers).")
    try:
        return regex.compile(pattern, regex_flags)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ToolError(f"Invalid regular expression: {exc}") from None


class RegexMatch(BaseModel):
    match: str
    start: int = Field(description="Start offset in characters (code points)")
    end: int
    groups: list[str | None] = Field(description="Numbered capture groups 1..n (null when a group did not take part)")
    named_groups: dict[str, str | None]


class RegexFindResult(BaseModel):
    count: int = Field(description="Number of matches returned")
    truncated: bool = Field(description="True when more matches exist beyond max_matches")
    matches: list[RegexMatch]


def regex_find(
    pattern: PatternText,
    text: Text,
    flags: FlagList = [],  # noqa: B006 - never mutated; a list default gives a clear schema
    max_matches: Annotated[int, Field(ge=1, le=MAX_REGEX_MATCHES)] = 100,
) -> RegexFindResult:
    """Find all non-overlapping matches of a regular expression in a text, with positions and groups.

    Python 're' syntax ((?P<name>...) named groups, lookarounds, \\d \\w \\s \\b, etc.).
    Matching is stopped after 1 second (a tool error) to guard against catastrophic backtracking.
    """
    compiled = _compile(pattern, flags)
    matches: list[RegexMatch] = []
    truncated = False
    try:
        for found in compiled.finditer(text, concurrent=True, timeout=REGEX_SECONDS):
            if len(matches) == max_matches:
                truncated = True
                break
            matches.append(
                RegexMatch(
                    match=found.group(0),
                    start=found.start(),
                    end=found.end(),
                    groups=list(found.groups()),
                    named_groups=found.groupdict(),
                )
            )
    except TimeoutError:
        raise ToolError(
            f"Matching took longer than {REGEX_SECONDS:g} s (catastrophic backtracking?). Simplify the pattern, "
            "e.g. avoid nested quantifiers like (a+)+."
        ) from None
    return RegexFindResult(count=len(matches), truncated=truncated, matches=matches)


class RegexReplaceResult(BaseModel):
    result: str
    replacements: int


def regex_replace(
    pattern: PatternText,
    replacement: Annotated[
        str,
        Field(max_length=MAX_SHORT_CHARS, description="Replacement template: \\1 or \\g<1> or \\g<name> insert groups"),
    ],
    text: Text,
    flags: FlagList = [],  # noqa: B006 - never mutated; a list default gives a clear schema
    count: Annotated[int, Field(ge=0, le=MAX_TEXT_CHARS, description="Maximum replacements; 0 means all")] = 0,
) -> RegexReplaceResult:
    """Replace matches of a regular expression in a text (Python 're' syntax and replacement templates).

    Matching is stopped after 1 second (a tool error) to guard against catastrophic backtracking.
    """
    compiled = _compile(pattern, flags)
    produced = 0

    def expand(found: regex.Match[str]) -> str:
        nonlocal produced
        piece = found.expand(replacement)
        produced += len(piece)
        if produced > MAX_REGEX_OUTPUT_CHARS:
            raise _LimitError
        return piece

    try:
        result, replaced = compiled.subn(expand, text, count=count, concurrent=True, timeout=REGEX_SECONDS)
    except TimeoutError:
        raise ToolError(
            f"Matching took longer than {REGEX_SECONDS:g} s (catastrophic backtracking?). Simplify the pattern."
        ) from None
    except _LimitError:
        raise ToolError(f"The replacements would produce more than {MAX_REGEX_OUTPUT_CHARS:,} characters.") from None
    except (regex.error, IndexError) as exc:
        raise ToolError(f"Invalid replacement template: {exc}") from None
    if len(result) > MAX_REGEX_OUTPUT_CHARS:
        raise ToolError(f"The result would be longer than {MAX_REGEX_OUTPUT_CHARS:,} characters.")
    return RegexReplaceResult(result=result, replacements=replaced)
