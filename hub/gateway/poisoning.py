"""Tool-description poisoning scanner, run when a tool is imported or re-synced from an upstream.

Why: the model reads a tool's whole definition (description, titles, every string in its schemas);
the person approving it sees a label. Poisoned tools hide instructions for the model there, either
invisibly (zero-width, bidi, Unicode tag characters, ANSI escapes) or in plain sight in prose the
reviewer skims (``<IMPORTANT>`` blocks, "ignore previous instructions", "do not tell the user",
"always BCC ..."). A tool with any finding waits for an admin's review whatever its upstream's
policy; the scanner only decides *whether to ask*, so it favours precision on ordinary prose and
never tries to be the last line of defence (natural-language injection cannot be caught by
patterns alone).

``scan_tool`` returns sorted, de-duplicated codes ``"<kind>:<location>"``; empty means clean.
Kinds:

- ``hidden-unicode``: zero-width and other format (Cf) characters, variation selectors outside an
  emoji/ideograph context, private-use and lone-surrogate code points, invisible fillers.
- ``bidi-control``: bidirectional embeddings, overrides, isolates and marks (Trojan Source).
- ``tag-characters``: U+E0000-E007F (ASCII smuggling), except a well-formed subdivision-flag emoji.
- ``control-character``: C0/C1 controls other than tab, newline and carriage return.
- ``ansi-escape``: terminal escape sequences (they can hide text from a reviewer's terminal).
- ``whitespace-padding``: long runs of blanks that push text out of view.
- ``homoglyph``: a word mixing Latin with Cyrillic, Greek or Armenian letters.
- ``hidden-markup``: HTML comments (invisible once Markdown is rendered).
- ``important-block``: pseudo-markup aimed at the model (``<IMPORTANT>``, ``<system>``, …).
- ``model-instruction``: prose or chat-template tokens addressed to the model.
- ``cross-tool-reference``: text steering other tools (shadowing), or naming another upstream's tool.
- ``oversized``: a string or schema past the scan caps (the excess is not scanned, so it is a finding).

Locations: ``name``, ``title``, ``description``, ``annotations…``, ``inputSchema…``,
``outputSchema…`` with ``.key`` and ``[index]`` steps; ``#key`` marks a finding in a property name
itself rather than its value. Location text is stripped of invisible characters and non-identifier
characters, so codes are safe to log and display.

Instruction patterns run over a normalised copy of each string: invisible characters removed (so
``ig\\u200bnore`` still reads "ignore"), NFKC, casefolded, common Cyrillic/Greek look-alikes and Latin small
capitals folded to Latin, combining marks stacked on Latin letters dropped, and text smuggled in tag characters
decoded. A string is also read the ways a model would read it and a reviewer would not: an identifier
(``ignore_previous_instructions``, ``contentFromReadingSshKey``) as its words; HTML entities, %-escapes,
letters spelled out one by one (``i g n o r e``, ``i-g-n-o-r-e``) and leetspeak (``1gn0r3``) undone; runs of
base64 or hex that decode to prose decoded. Besides English the patterns know the commonest orders (ignore the
previous instructions, do not tell the user, read a secret and pass it on) in Spanish, Portuguese, Italian,
French, German, Russian, Chinese, Japanese, Korean, Arabic and Hindi.

What the patterns (poisoning_patterns.py) look for, by family: overriding or voiding the model's instructions;
secrecy from the user; claims of authority or consent (a user's voice, "you have been granted", "no need to ask");
the model's own prompt; exfiltration (a secret's name near an order to read or pass it on, the conversation or the
user's credentials copied into an argument, an image or link whose address carries them, mail copied to an
address); commands that fetch and run code; dictating every reply; fake chat turns and system labels; and, as
``cross-tool-reference``, another tool's call as a trigger, its output overruled or its arguments tampered with,
and steering away from the others (preference manipulation). Each is written against ordinary prose of real
catalogs (tests/gateway/poisoning_corpus_public.json), which addresses the model too ("You MUST call this first",
"Note to LLM: ..."); what is only worded like ordinary use ("call fetch_secrets and pass the result") stays out of
reach.

Work is bounded: each string is capped at ``MAX_STRING_CHARS``, schemas at ``MAX_SCHEMA_DEPTH`` /
``MAX_SCHEMA_NODES`` / ``MAX_SCHEMA_CHARS``; every pattern's repeats are bounded or unnested, so a search is
linear in the string (the tests time strings built to make them backtrack), and the pattern sets run behind
prefilter.py's word index.
"""

from __future__ import annotations

import base64
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable
from typing import Any

from hub.gateway.poisoning_chars import scan_chars, strip_invisible
from hub.gateway.poisoning_patterns import (
    IDENTIFIER,
    IDENTIFIER_SECRET,
    IDENTIFIER_SPLIT,
    instruction_kinds,
    secret_env_read,
)

MAX_STRING_CHARS = 16_384
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_NODES = 10_000
MAX_SCHEMA_CHARS = 512 * 1024
MAX_FINDINGS = 100
_MAX_SEGMENT = 48

# --- normalisation for pattern matching ---------------------------------------------------------

# Letters that pass for Latin ones (Cyrillic, Greek, Armenian, script g), escaped so the source shows
# what they are, and the Latin letter each imitates, position by position.
_LOOKALIKES_FROM = (
    "\u0430\u0432\u0435\u0451\u043a\u043c\u043d\u043e\u0440\u0441\u0442"
    "\u0443\u0445\u0456\u0457\u0458\u0455\u0501\u04bb\u051b\u051d\u04cf"
    "\u03b1\u03b2\u03b5\u03b7\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7"
    "\u0585\u057d\u0581\u0570\u0578\u0261"
)
_LOOKALIKES_TO = "abeekmhopctyxiijsdhqwlabenikvoptuxoughng"
# Latin small capitals, which NFKC leaves alone ("\u026a\u0262\u0274\u1d0f\u0280\u1d07" reads "ignore"). Folded for
# matching only: IPA transcriptions use several of them beside ASCII letters, so they make no homoglyph finding.
_SMALL_CAPS_FROM = (
    "\u1d00\u0299\u1d04\u1d05\u1d07\ua730\u0262\u029c\u026a\u1d0a\u1d0b\u029f\u1d0d"
    "\u0274\u1d0f\u1d18\ua7af\u0280\ua731\u1d1b\u1d1c\u1d20\u1d21\u028f\u1d22"
)
_SMALL_CAPS_TO = "abcdefghijklmnopqrstuvwyz"
_CONFUSABLES = {
    **str.maketrans(_LOOKALIKES_FROM, _LOOKALIKES_TO),
    **str.maketrans(_SMALL_CAPS_FROM, _SMALL_CAPS_TO),
    # typographic punctuation NFKC leaves alone
    **str.maketrans("\u2018\u2019\u201b\u02bc\u201c\u201d", "''''\"\""),
}
# Combining marks stacked on a Latin letter ("i\u0338g\u0338n\u0338o\u0338r\u0338e\u0338"): after NFKC an accent that
# has a precomposed letter is part of it, so what is left over only decorates (or disguises) the word.
_LATIN_MARKS = re.compile(r"(?<=[a-z])[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")


def _fold(text: str) -> str:
    """NFKC, casefolded, marks stacked on Latin letters dropped: the text as the other languages' patterns read it."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return folded if folded.isascii() else _LATIN_MARKS.sub("", folded)


def _normalise(text: str) -> str:
    """`_fold`, then look-alike letters and typographic quotes folded to ASCII: the text as the English patterns
    read it (character for character as long as `_fold`'s)."""
    return _fold(text).translate(_CONFUSABLES)


# Non-Latin letters that pass for Latin ones; a word mixing them with ASCII letters is a disguise.
_LOOKALIKES = frozenset(map(ord, _LOOKALIKES_FROM))


def _lookalike(ch: str) -> bool:
    return any(ord(c) in _LOOKALIKES for c in ch.casefold())


_WORD = re.compile(r"[^\W\d_]{2,}")


def _mixed_script(text: str) -> bool:
    """A word spelled with ASCII letters and Cyrillic/Greek/Armenian look-alikes (a Cyrillic a in "paypal")."""
    if text.isascii():
        return False
    for m in _WORD.finditer(unicodedata.normalize("NFKC", text)):
        word = m.group()
        if not word.isascii() and any(c.isascii() for c in word) and any(map(_lookalike, word)):
            return True
    return False


_PADDING_BLANKS = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{80,}")
_PADDING_LINES = re.compile(r"(?:[ \t]*\r?\n){12,}")  # (only searched in text with a dozen newlines)


def _padded(text: str) -> bool:
    return bool(_PADDING_BLANKS.search(text) or (text.count("\n") >= 12 and _PADDING_LINES.search(text)))


# --- decoding: text that reads as an instruction once unwrapped -----------------------------------

_HTML_ENTITY = re.compile(r"&(?:#\d{1,7}|#x[0-9a-f]{1,6}|[a-z]{2,8});")
_PERCENT = re.compile(r"%[0-9a-f]{2}")
# letters spelled one by one: "i g n o r e"
_SPACED_LETTERS = re.compile(r"(?<![^\W\d_])(?:[^\W\d_][ .*_-]){3,}[^\W\d_](?![^\W\d_])")
# leetspeak, letters written as digits: "1gn0r3 4ll", "u53r" (a digit between letters, or one leading two letters;
# version and format names such as "sha256", "ipv4" or "s3" have neither)
_LEET_SIGN = re.compile(r"[a-z][013457]+[a-z]|(?<![\w@$])[013457][a-z]{2}")
_LEET_WORD = re.compile(r"(?<![\w@$])[\w@$]{2,40}(?![\w@$])")
_LEET = str.maketrans("013457@$", "oieastas")
# quick signs that the slower patterns above are worth a search (each a necessary condition)
_SPACED_SIGN = re.compile(r"[^\W\d_][ .*_-][^\W\d_][ .*_-][^\W\d_][ .*_-][^\W\d_]")
_LEET_DIGIT = re.compile(r"[013457]")
_LONG_RUN = re.compile(r"[A-Za-z0-9+/_-]{24}")  # what a base64 or hex run of the minimum length starts with
_BASE64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{24,4096}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){12,2048}(?![0-9A-Fa-f])")
_MAX_ENCODED_RUNS = 16


def _leet_word(m: re.Match[str]) -> str:
    word = m.group()
    return word.translate(_LEET) if any(c.isalpha() for c in word) else word


def _unwrapped(norm: str) -> str:
    """``norm`` with HTML entities and %-escapes decoded, spaced-out letters joined and leetspeak read as
    letters; ``norm`` itself when none of them is there."""
    text = norm
    if "&" in text and _HTML_ENTITY.search(text):
        text = html.unescape(text)
    if "%" in text and len(_PERCENT.findall(text)) >= 2:
        text = urllib.parse.unquote(text)
    if _SPACED_SIGN.search(text) and _SPACED_LETTERS.search(text):
        text = _SPACED_LETTERS.sub(lambda m: m.group()[::2], text)
    if _LEET_DIGIT.search(text) and len(_LEET_SIGN.findall(text)) >= 2:
        text = _LEET_WORD.sub(_leet_word, text)
    return text


def _readable(raw: bytes) -> str | None:
    """``raw`` as text when it is UTF-8 made mostly of letters and blanks (prose, not a key, a hash or an image)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text or not all(c.isprintable() or c in "\t\n\r" for c in text):
        return None
    return text if sum(c.isalpha() or c.isspace() for c in text) >= 0.8 * len(text) else None


def _encoded_texts(text: str) -> list[str]:
    """Runs of base64 or hex in ``text`` that decode to readable text (an instruction a model can decode and a
    reviewer cannot read)."""
    found: list[str] = []
    for n, m in enumerate(_BASE64.finditer(text)):
        if n >= _MAX_ENCODED_RUNS:
            break
        run = m.group().rstrip("=")
        if run.lower() == run or run.upper() == run:
            continue  # (base64 of text mixes cases; identifiers, hashes and numbers do not)
        try:
            raw = base64.b64decode(run + "=" * (-len(run) % 4), altchars=b"-_" if "-" in run or "_" in run else None)
        except ValueError:
            continue
        if (decoded := _readable(raw)) is not None:
            found.append(decoded)
    for n, m in enumerate(_HEX.finditer(text)):
        if n >= _MAX_ENCODED_RUNS:
            break
        if (decoded := _readable(bytes.fromhex(m.group()))) is not None:
            found.append(decoded)
    return found


def _tool_name_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Names distinctive enough to mean a tool (``send_email``, ``gitPush``), not an English word."""
    usable = sorted(
        {
            n
            for n in names
            if isinstance(n, str)
            and 3 <= len(n) <= 128
            and (not n.isalpha() or any(c.isupper() for c in n[1:]))
            and any(c.isalpha() for c in n)
        },
        key=len,
        reverse=True,
    )
    if not usable:
        return None
    return re.compile(r"(?<![\w.-])(?:" + "|".join(map(re.escape, usable)) + r")(?![\w-])")


def _reading_kinds(text: str, *, decode: bool = True) -> set[str]:
    """The instruction kinds in ``text`` (visible characters only): as written (an identifier such as
    ignore_previous_instructions or contentFromReadingSshKey read as its words), unwrapped (`_unwrapped`), and in
    the base64 and hex runs it holds (``decode``)."""
    kinds: set[str] = set()
    if len(text) <= 128 and IDENTIFIER.fullmatch(text):
        plain = norm = " ".join(IDENTIFIER_SPLIT.split(text)).lower()
        if IDENTIFIER_SECRET.search(norm):
            kinds.add("model-instruction")
    else:
        plain = _fold(text)
        norm = plain.translate(_CONFUSABLES)
    kinds |= instruction_kinds(norm, None if plain.isascii() else plain)
    if "_" in text and secret_env_read(text, norm):
        kinds.add("model-instruction")
    unwrapped = _unwrapped(norm)
    if unwrapped != norm:
        kinds |= instruction_kinds(unwrapped)
    if decode and len(text) >= 24 and _LONG_RUN.search(text):
        for decoded in _encoded_texts(text):
            kinds |= _reading_kinds(decoded, decode=False)
    return kinds


# --- walking -----------------------------------------------------------------------------------


class _Scan:
    def __init__(self, other_tools: re.Pattern[str] | None) -> None:
        self.findings: set[str] = set()
        self.other_tools = other_tools

    def add(self, kind: str, where: str) -> None:
        self.findings.add(f"{kind}:{where}")

    def text(self, value: str, where: str) -> None:
        if len(value) > MAX_STRING_CHARS:
            self.add("oversized", where)
            value = value[:MAX_STRING_CHARS]
        kinds, cleaned, smuggled = scan_chars(value)
        if _padded(value):
            kinds.add("whitespace-padding")
        if "<!--" in cleaned:
            kinds.add("hidden-markup")
        if _mixed_script(cleaned):
            kinds.add("homoglyph")
        kinds |= _reading_kinds(cleaned)
        if smuggled:
            kinds |= _reading_kinds(smuggled)
        if self.other_tools is not None and self.other_tools.search(unicodedata.normalize("NFKC", cleaned)):
            kinds.add("cross-tool-reference")
        for kind in kinds:
            self.add(kind, where)

    def tree(self, root: Any, where: str) -> None:
        """Every string in a JSON-like tree (keys too), iteratively and within the caps."""
        if root is None:
            return
        nodes = chars = 0
        stack: list[tuple[Any, str, int]] = [(root, where, 0)]
        while stack:
            value, at, depth = stack.pop()
            nodes += 1
            if depth > MAX_SCHEMA_DEPTH or nodes > MAX_SCHEMA_NODES or chars > MAX_SCHEMA_CHARS:
                self.add("oversized", where)
                return
            if isinstance(value, str):
                chars += len(value)
                self.text(value, at)
            elif isinstance(value, dict):
                for key, child in value.items():
                    step = f"{at}.{_segment(key)}"
                    if isinstance(key, str):
                        chars += len(key)
                        self.text(key, f"{step}#key")
                    stack.append((child, step, depth + 1))
            elif isinstance(value, (list, tuple)):
                stack.extend((child, f"{at}[{i}]", depth + 1) for i, child in enumerate(value))
            # numbers, booleans and null carry no text


_UNSAFE_SEGMENT = re.compile(r"[^A-Za-z0-9_$@-]")


def _segment(key: Any) -> str:
    """A location step safe to log: invisible characters dropped, anything else odd shown as '?'."""
    text = strip_invisible(key[: _MAX_SEGMENT * 4]) if isinstance(key, str) else str(key)
    text = _UNSAFE_SEGMENT.sub("?", text)[:_MAX_SEGMENT]
    return text or "?"


def scan_tool(
    *,
    name: str,
    title: str | None,
    description: str | None,
    input_schema: dict[str, Any] | None,
    output_schema: dict[str, Any] | None,
    annotations: dict[str, Any] | None,
    other_tools: Iterable[str] = (),
) -> list[str]:
    """Poisoning findings for one tool definition, as sorted ``kind:location`` codes; [] when clean.

    ``other_tools``: names of tools served by *other* upstreams; a description that names one is a
    ``cross-tool-reference`` (shadowing). Only distinctive names count (with ``_``, ``-``, ``.``,
    digits or inner capitals), since plain words such as ``search`` would match ordinary prose.
    """
    scan = _Scan(_tool_name_pattern(n for n in other_tools if n != name))
    if isinstance(name, str):
        scan.text(name, "name")
    if isinstance(title, str):
        scan.text(title, "title")
    if isinstance(description, str):
        scan.text(description, "description")
    scan.tree(input_schema, "inputSchema")
    scan.tree(output_schema, "outputSchema")
    scan.tree(annotations, "annotations")
    findings = sorted(scan.findings)
    if len(findings) > MAX_FINDINGS:
        findings = [*findings[: MAX_FINDINGS - 1], "oversized:findings"]
    return findings
