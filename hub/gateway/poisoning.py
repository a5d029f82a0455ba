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
``ig\\u200bnore`` still reads "ignore"), NFKC, casefolded, common Cyrillic/Greek look-alikes folded to
Latin, and text smuggled in tag characters decoded. Work is bounded: each string is capped at
``MAX_STRING_CHARS``, schemas at ``MAX_SCHEMA_DEPTH`` / ``MAX_SCHEMA_NODES`` / ``MAX_SCHEMA_CHARS``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from hub.gateway.prefilter import Alternatives

MAX_STRING_CHARS = 16_384
MAX_SCHEMA_DEPTH = 32
MAX_SCHEMA_NODES = 10_000
MAX_SCHEMA_CHARS = 512 * 1024
MAX_FINDINGS = 100
_MAX_SEGMENT = 48

# --- characters ------------------------------------------------------------------------------------

_BIDI = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
_ZERO_WIDTH = frozenset([0x180E, 0xFEFF, *range(0x200B, 0x200E), *range(0x2060, 0x2065)])
_ZWNJ, _ZWJ, _VS16, _BLACK_FLAG, _TAG_CANCEL = 0x200C, 0x200D, 0xFE0F, 0x1F3F4, 0xE007F
# Rendered as nothing (or a blank) although they are letters or marks: the Hangul fillers, the
# combining grapheme joiner, Khmer inherent vowels, the braille blank.
_INVISIBLE_OTHER = frozenset([0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0])

_ANSI = re.compile(
    r"\x1b\[[0-?]{0,64}[ -/]{0,8}[@-~]"  # CSI (colours, cursor moves, SGR 8 = concealed text)
    r"|\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)"  # OSC (titles, hyperlinks)
    r"|\x9b[0-?]{0,64}[ -/]{0,8}[@-~]"  # C1 CSI
    r"|\x1b[@-Z\\-_]"  # other two-character escapes
)
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _is_vs(cp: int) -> bool:
    return 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF


def _is_tag(cp: int) -> bool:
    return 0xE0000 <= cp <= 0xE007F


def _is_cjk(cp: int) -> bool:
    return 0x3400 <= cp <= 0x9FFF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x3FFFF


def _is_emojiish(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x1F000 <= cp <= 0x1FAFF
        or 0x2190 <= cp <= 0x2BFF  # arrows, technical, dingbats, misc symbols
        or cp in (0x00A9, 0x00AE, 0x203C, 0x2049, 0x2122, 0x2139, 0x3030, 0x303D, 0x3297, 0x3299, _VS16)
        or unicodedata.category(ch) == "So"
    )


def _joiner_script(ch: str) -> bool:
    """Scripts where ZWJ/ZWNJ are ordinary spelling (Arabic/Persian, Syriac, the Indic scripts)."""
    return 0x0600 <= ord(ch) <= 0x0DFF and unicodedata.category(ch)[0] in "LM"


def _vs_allowed(prev: str, cp: int) -> bool:
    """A single variation selector on a base that has variants; runs of them smuggle bytes."""
    if not prev or _is_vs(ord(prev)):
        return False
    if cp >= 0xE0100:
        return _is_cjk(ord(prev))  # ideographic variation sequences
    return _is_emojiish(prev) or prev in "0123456789#*" or _is_cjk(ord(prev)) or unicodedata.category(prev) == "Sm"


def _flag_tag_run(text: str, start: int, end: int) -> bool:
    """Tag characters are legitimate only in a subdivision flag: BLACK FLAG + tag [0-9a-z]{1,6} + CANCEL TAG."""
    run = [ord(c) for c in text[start:end]]
    body, last = run[:-1], run[-1]
    return not (
        start > 0
        and ord(text[start - 1]) == _BLACK_FLAG
        and last == _TAG_CANCEL
        and 1 <= len(body) <= 6
        and all(0xE0030 <= c <= 0xE0039 or 0xE0061 <= c <= 0xE007A for c in body)
    )


def _char_kind(text: str, i: int) -> str | None:
    """The finding kind for the (non-tag) character at ``text[i]``, or None when it is fine there."""
    ch = text[i]
    cp = ord(ch)
    if cp < 0x20 or 0x7F <= cp <= 0x9F:
        return None if ch in "\t\n\r" else "control-character"
    if cp < 0xA0:
        return None
    if cp in _BIDI:
        return "bidi-control"
    prev = text[i - 1] if i > 0 else ""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if cp in (_ZWJ, _ZWNJ):
        if prev and nxt and _joiner_script(prev) and _joiner_script(nxt):
            return None
        if cp == _ZWJ and prev and nxt and _is_emojiish(prev) and _is_emojiish(nxt):
            return None  # an emoji ZWJ sequence (technologist = person + ZWJ + laptop)
        return "hidden-unicode"
    if _is_vs(cp):
        return None if _vs_allowed(prev, cp) else "hidden-unicode"
    if cp in _ZERO_WIDTH or cp in _INVISIBLE_OTHER:
        return "hidden-unicode"
    if unicodedata.category(ch) in ("Cf", "Co", "Cs"):
        return "hidden-unicode"
    return None


def _scan_chars(text: str) -> tuple[set[str], str, str]:
    """(kinds found, text with the offending characters and escapes removed, text decoded from tags)."""
    kinds: set[str] = set()
    if "\x1b" in text or "\x9b" in text:
        stripped = _ANSI.sub("", text)
        if stripped != text:
            kinds.add("ansi-escape")
            text = stripped
    if text.isascii() and not _ASCII_CONTROL.search(text):
        return kinds, text, ""
    kept: list[str] = []
    decoded: list[str] = []
    i, n = 0, len(text)
    while i < n:
        cp = ord(text[i])
        if _is_tag(cp):
            j = i
            while j < n and _is_tag(ord(text[j])):
                j += 1
            if _flag_tag_run(text, i, j):
                kinds.add("tag-characters")
                decoded.extend(chr(ord(c) - 0xE0000) for c in text[i:j] if 0xE0020 <= ord(c) <= 0xE007E)
                decoded.append(" ")
            else:
                kept.append(text[i:j])
            i = j
            continue
        kind = _char_kind(text, i)
        if kind is None:
            kept.append(text[i])
        else:
            kinds.add(kind)
        i += 1
    return kinds, "".join(kept), "".join(decoded)


def strip_invisible(text: str) -> str:
    """``text`` without what a reader cannot see but a model can: hidden, bidi, tag and control
    characters and ANSI escapes. Legitimate joiners and selectors (emoji sequences, Indic/Arabic
    spelling, subdivision flags) are kept, so display is not mangled."""
    return _scan_chars(text)[1]


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
_CONFUSABLES = {
    **str.maketrans(_LOOKALIKES_FROM, _LOOKALIKES_TO),
    # typographic punctuation NFKC leaves alone
    **str.maketrans("\u2018\u2019\u201b\u02bc\u201c\u201d", "''''\"\""),
}


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().translate(_CONFUSABLES)


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


# --- patterns ----------------------------------------------------------------------------------

_GAP = r"[\W_]*"  # between words: any run of spaces/punctuation, or none (a hidden character was there)


def _rx(*templates: str) -> Alternatives:
    """Case-insensitive alternatives from templates in which a space means `_GAP` (searched behind a prefilter
    of the words each one needs: prefilter.py)."""
    return Alternatives([t.replace(" ", _GAP) for t in templates], re.IGNORECASE | re.MULTILINE)


_PADDING = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{80,}|(?:[ \t]*\r?\n){12,}")

_IMPORTANT_BLOCK = _rx(
    r"<\s*/?\s*(?:important|system|sys|instructions?|secret|hidden|admin|critical|system_prompt"
    r"|(?:ai|assistant|model|llm)_instructions?)\b[^<>]{0,40}>",
    r"\[\s*/?\s*(?:system|sys)\s*\]",
)

_SECRET_PATHS = (
    r"(?:\.ssh/|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|/etc/(?:passwd|shadow|sudoers)\b|\.aws/credentials"
    r"|\.git-credentials|\.netrc\b|\.npmrc\b|\.pypirc\b|\.docker/config\.json|\.kube/config"
    r"|\.cursor/mcp\.json|\bmcp\.json\b|claude_desktop_config\.json|\.config/gcloud|\.gnupg\b|wallet\.dat"
    r"|(?<![\w.])\.env\b)"
)
_SECRET_PATH = re.compile(_SECRET_PATHS, re.IGNORECASE)
# What turns "the key is at ~/.ssh/id_rsa" (an SSH tool documenting itself) into an exfiltration order.
_EXFIL_CUE = _rx(
    r"\b(?:pass|send|include|upload|attach|forward|post|paste|provide|exfiltrate|leak|share|transmit|embed|put)\b",
    r"\b(?:its|their|the files?'?s?) contents?\b|\bcontents? of\b",
    r"(?:[.!:;,(\n]\s*|\b(?:first|always|must|should|please|you|also|then|and)\s+)(?:read|cat|open|access|load)\b",
)

_MODEL_INSTRUCTION = _rx(
    # overriding the model's instructions
    r"\b(?:ignore|disregard|forget|override|bypass|overrule|discard) (?:(?:all|any|every|the|your|of|these|those) )*"
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|safety) "
    r"(?:instructions?|prompts?|messages?|directions?|directives?|rules|guidelines|guidance|constraints|context"
    r"|commands?)\b",
    r"\b(?:ignore|disregard) (?:what|anything|everything) (?:you were|you've been|you have been|the user) "
    r"(?:told|said|asked)\b",
    r"\bforget (?:everything|all) (?:you|that|above|before|previous|prior|i|we|else)\b",
    r"\bforget (?:your|all your|the) (?:instructions|rules|guidelines|training|prompt)\b",
    # secrecy from the user
    r"\b(?:do not|don'?t|never|must not|mustn'?t|should not|shouldn'?t) (?:tell|inform|mention|reveal|disclose) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\bwithout (?:telling|informing|mentioning|revealing|disclosing|notifying|alerting) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\b(?:do not|don'?t|never|without) (?:let|letting|allow|allowing) (?:the |your )?(?:user|human)s? "
    r"(?:know|see|notice|find out)\b",
    r"\b(?:hide|conceal|keep) (?:this|it|that|these|them) (?:secret )?from (?:the |your )?(?:user|human)\b",
    r"\b(?:the )?user (?:must|should|need|needs to|does|do) not (?:know|see|be told|be informed|notice|find out)\b",
    r"\b(?:could|would|might|will|may) (?:even )?(?:upset|scare|alarm|frighten|worry|annoy) (?:the |your )?user\b",
    # the model's own prompt
    r"\b(?:your|my) (?:system|developer|initial|hidden|original) (?:prompt|instructions|message)\b",
    r"\b(?:reveal|print|output|repeat|leak|dump|send|include|ignore|override|disregard|bypass)\b[^\n.]{0,30}"
    r"\b(?:system|developer) (?:prompt|instructions)\b",
    # orders to act covertly or to exfiltrate
    r"\byou (?:must|should|need to|have to|are required to|shall|will) (?:(?:always|never|also|secretly|silently|now"
    r"|additionally) )+(?:forward|bcc|cc|upload|exfiltrate|leak|share|disclose|reveal|attach)\b",
    r"\b(?:secretly|silently|covertly|quietly|discreetly|stealthily) (?:send|forward|bcc|cc|copy|upload|include|add"
    r"|call|invoke|read|pass|append|attach|post|exfiltrate|transmit|share|change|modify|replace|redirect)\b",
    r"\bbefore (?:using|calling|invoking|running) (?:this|any|any other|every|each|another) (?:tool|function)s?\b"
    r"[^\n]{0,120}\b(?:read|send|forward|upload|exfiltrate|attach|pass|include)\b[^\n]{0,60}"
    r"\b(?:file|contents?|key|token|secret|credential|password|config|history|conversation|message)s?\b",
    r"\b(?:send|forward|exfiltrate|upload|leak|transmit|post|report|mirror|copy|beacon)\b[^\n]{0,100}"
    r"\b(?:conversation|chat history|history|previous messages|credentials?|secrets?|api keys?|passwords?"
    r"|private keys?|ssh|environment variables|system prompt|personal data|pii|user'?s data|user data"
    r"|all (?:files|data)|everything)\b[^\n]{0,100}\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:exfiltrate|exfil)\b[^\n]{0,80}\bto\b",
    r"\b(?:send|forward|upload|transmit|post|copy) all (?:messages|emails|mails|files|data|documents)\b[^\n]{0,30}"
    r"\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:append|include|attach|pass|put|add|send|forward|upload|embed|copy|paste|leak)\b[^\n.]{0,40}"
    r"\b(?:the user'?s|all(?: the)?|any|every) (?:api keys?|credentials|secrets?|passwords?|access tokens?"
    r"|private keys?|session cookies|cookies|ssh keys?)\b",
    r"\bnote to (?:the )?(?:ai|assistant|model|llm|agent|claude|gpt)\b",
    r"\b(?:always|secretly|silently|quietly|must|should)\b[^\n]{0,40}"
    r"\b(?:bcc|cc|forward|redirect|send (?:a )?cop(?:y|ies))\b[^\n]{0,40}[\w.+-]+@[\w-]+",
    # role play
    r"(?:^|[.!?\n]\s*|\byou (?:will|must|should|shall|now) |\bplease |\bnow )act as (?:a|an|if|though|my|the)\b",
    r"\bpretend (?:to be|you are|that you)\b",
    r"\byou are now (?:a|an|the|in|my|no longer|free|unrestricted|dan|jailbroken|operating|acting)\b",
    r"\bfrom now on\b[^\n]{0,40}\byou\b",
    r"\b(?:jailbreak|jailbroken|dan mode|developer mode enabled)\b",
    # chat-template tokens and headers
    r"\[/?inst\]",
    r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\s*\|>",
    r"<<\s*/?sys\s*>>",
    r"<\s*/?\s*(?:start_of_turn|end_of_turn)\s*>",
    r"^[\t\x20]*#{2,}[\t\x20]*(?:system|instructions?|new instructions?)\b",
    r"\b(?:new|updated|real|actual|true|hidden|secret|system) (?:instructions?|directives?|orders)\s*:",
)

_CROSS_TOOL = _rx(
    r"\bwhen(?:ever)? this tool is (?:available|present|loaded|installed|enabled|connected)\b",
    r"\b(?:the )?other (?:tools?|functions?|servers?) (?:must|should|shall|need to|will)\b",
    r"\b(?:any|all|every) other (?:tool|function|server)s?\b[^\n]{0,60}\b(?:must|should|always|never)\b",
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b (?:tool |function )?(?:must|should|shall|has to|needs to) "
    r"(?:(?:always|never|also|now|only|first) )*(?:bcc|cc|send|forward|include|call|invoke|copy|redirect|route"
    r"|use|add|attach|pass|be called with|be invoked with)\b",
)


def _secret_read(norm: str) -> bool:
    for n, m in enumerate(_SECRET_PATH.finditer(norm)):
        if n >= 64:
            return True  # dozens of secret paths in one string is itself a sign; and it bounds the work
        start = max(0, m.start() - 150)
        # a leading "\n" lets the start of the text count as the start of a sentence
        window = ("\n" if start == 0 else "") + norm[start : m.end() + 150]
        if _EXFIL_CUE.search(window):
            return True
    return False


def _instruction_kinds(norm: str) -> set[str]:
    kinds: set[str] = set()
    if _IMPORTANT_BLOCK.search(norm):
        kinds.add("important-block")
    if _MODEL_INSTRUCTION.search(norm) or _secret_read(norm):
        kinds.add("model-instruction")
    if _CROSS_TOOL.search(norm):
        kinds.add("cross-tool-reference")
    return kinds


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
        kinds, cleaned, smuggled = _scan_chars(value)
        if _PADDING.search(value):
            kinds.add("whitespace-padding")
        if "<!--" in cleaned:
            kinds.add("hidden-markup")
        if _mixed_script(cleaned):
            kinds.add("homoglyph")
        kinds |= _instruction_kinds(_normalise(cleaned))
        if smuggled:
            kinds |= _instruction_kinds(_normalise(smuggled))
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
