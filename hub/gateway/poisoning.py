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

What the patterns look for, by family: overriding or voiding the model's instructions; secrecy from the user;
claims of authority or consent (a user's voice, "you have been granted", "no need to ask"); the model's own
prompt; exfiltration (a secret's name near an order to read or pass it on, the conversation or the user's
credentials copied into an argument, an image or link whose address carries them, mail copied to an address);
commands that fetch and run code; dictating every reply; fake chat turns and system labels; and, as
``cross-tool-reference``, another tool's call as a trigger, its output overruled or its arguments tampered with,
and steering away from the others (preference manipulation). Each is written against ordinary prose of real
catalogs (tests/gateway/poisoning_corpus_public.json), which addresses the model too ("You MUST call this
first", "Note to LLM: ..."); what is only worded like ordinary use ("call fetch_secrets and pass the result")
stays out of reach.

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


# --- patterns ----------------------------------------------------------------------------------

_GAP = r"[\W_]*"  # between words: any run of spaces/punctuation, or none (a hidden character was there)


_CLASS_WITH_SPACE = re.compile(r"(?<!\\)\[(?:\\.|[^\]\\])* ")  # a "[" not escaped, then a space before its "]"


def _rx(*templates: str) -> Alternatives:
    """Case-insensitive alternatives from templates in which a space means `_GAP` (searched behind a prefilter
    of the words each one needs: prefilter.py). A space inside a character class would be replaced too, so a
    class spells blanks as \\s."""
    for template in templates:
        if _CLASS_WITH_SPACE.search(template):
            raise ValueError(f"a space inside a character class: {template!r}")
    return Alternatives([t.replace(" ", _GAP) for t in templates], re.IGNORECASE | re.MULTILINE)


_PADDING_BLANKS = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]{80,}")
_PADDING_LINES = re.compile(r"(?:[ \t]*\r?\n){12,}")  # (only searched in text with a dozen newlines)


def _padded(text: str) -> bool:
    return bool(_PADDING_BLANKS.search(text) or (text.count("\n") >= 12 and _PADDING_LINES.search(text)))


_IMPORTANT_BLOCK = _rx(
    r"<\s*/?\s*(?:important|system|sys|instructions?|secret|hidden|admin|critical|system_prompt"
    r"|(?:ai|assistant|model|llm)_instructions?)\b[^<>]{0,40}>",
    r"\[\s*/?\s*(?:system|sys)\s*\]",
    # the same in template and wiki brackets: {{#system}}, {{important}}, [[system]]
    r"\{\{\s*[#/]?\s*(?:system|important|instructions?|admin|assistant|hidden|secret)\b[^{}\n]{0,40}\}\}",
    r"\[\[\s*/?\s*(?:system|important|instructions?|admin|hidden|secret)\b[^\[\]\n]{0,40}\]\]",
)

# Files and values that hold secrets. A name is only a finding beside a cue that the model should read or pass it
# on (`_EXFIL_CUE`): an SSH tool may well say where its key lives.
_SECRET_PATH = Alternatives(
    [
        r"\.ssh(?:/|\b)",
        r"(?<![a-z0-9])id_(?:rsa|dsa|ecdsa|ed25519)(?![a-z0-9])",
        r"/etc/(?:passwd|shadow|sudoers)\b",
        r"\.aws/credentials|\.git-credentials|\.terraform\.d/credentials",
        r"\.(?:netrc|npmrc|pypirc|pgpass|gnupg)\b|\.my\.cnf\b|\.vault-token\b|wallet\.dat",
        r"\.docker/config\.json|\.kube/config|\.config/gh/hosts\.yml|\.config/gcloud|\.azure/",
        r"\.cursor/mcp\.json|\bmcp\.json\b|claude_desktop_config\.json",
        r"\.(?:bash|zsh|sh|fish|python|node_repl|psql|mysql|sqlite)_history\b",
        r"/proc/(?:self|\d+|\*)/environ\b|\bprintenv\b",
        r"(?<![\w.])\.env\b",
    ],
    re.IGNORECASE,
)
# An environment variable named for a secret (OPENAI_API_KEY, AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN): upper case, as
# such variables are written (a user_token or access_token parameter names no secret), so searched in the text as
# written rather than in its casefolded copy.
_SECRET_ENV = re.compile(
    r"[A-Z0-9]_(?:API_?KEY|SECRET(?:_ACCESS)?_KEY|CLIENT_SECRET|SECRET|TOKEN|ACCESS_TOKEN|AUTH_TOKEN|PASSWORD|PASSWD"
    r"|PRIVATE_KEY)(?![A-Za-z0-9_])"
)
# What turns "the key is at ~/.ssh/id_rsa" (an SSH tool documenting itself) into an exfiltration order.
_EXFIL_CUE = _rx(
    r"\b(?:pass|send|include|upload|attach|forward|post|paste|provide|supply(?![\s-]*chain)|exfiltrate|leak|share"
    r"|transmit|embed|put|append|copy)\b",
    r"\b(?:its|their|the files?'?s?) contents?\b|\bcontents? (?:of|from)\b|\bthe values? of\b|\bthe output\b",
    r"(?:[.!:;,(\n]\s*|\b(?:first|always|must|should|please|you|also|then|and)\s+)(?:read|cat|open|access|load)\b",
    # where the value goes: "... in the notes field", "... as the key argument"
    r"\b(?:in|into|as|inside) (?:the |a |an |its )?[`'\"]?[\w-]+[`'\"]? (?:parameter|argument|arg|field|param)s?\b",
    # the same verbs in other languages (Spanish, Portuguese, Italian, French, German)
    r"\b(?:envía|envia|incluye|adjunta|pasa|lee|envie|inclua|leia|invia|includi|leggi|allega|envoie|inclus|joins"
    r"|transmets|lis|sende|schicke|lies|füge|fuge|hänge|hange|übergib|ubergib|übergebe|ubergebe)\b",
)
# ... and in scripts whose words have no spaces or whose letters the look-alike folding would change.
_EXFIL_CUE_FOREIGN = re.compile(
    r"读取|读出|发送|传入|传给|附加|上传|作为|填入|放入|読み取|読んで|送信|送って|含め|渡して"
    r"|прочита|отправ|передай|передать|включи|вставь|загрузи"
)
# A parameter's name made of words (content_from_reading_ssh_id_rsa): its words, searched for a secret and a
# verb that reads it.
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[_.-][A-Za-z0-9]+)+|[a-z]+(?:[A-Z][a-z0-9]+)+")
_IDENTIFIER_SPLIT = re.compile(r"[_.-]+|(?<=[a-z0-9])(?=[A-Z])")
_IDENTIFIER_SECRET = re.compile(
    r"\b(?:contents?|reading|read|dump|copy|values?)\b.{0,60}"
    r"\b(?:ssh|id rsa|id ed25519|private keys?|aws credentials|credentials file|netrc|npmrc|pypirc|env file"
    r"|dotenv|keychain|wallet|passwords?|bash history|shell history|environ)\b"
    r"|\b(?:ssh (?:private )?key|id rsa|id ed25519|private key|aws credentials|credentials file|netrc|npmrc"
    r"|env file|dotenv|keychain|passwords? file|bash history|shell history)s? (?:contents?|dump|copy|values?)\b"
)

_USER = r"(?:the |your |this |our )?(?:user|human|end user|person you(?:'re| are) (?:helping|assisting|talking to))s?"

_MODEL_INSTRUCTION = _rx(
    # overriding the model's instructions
    r"\b(?:ignore|disregard|forget|override|bypass|overrule|discard) (?:(?:all|any|every|the|your|of|these|those) )*"
    r"(?:previous|prior|above|earlier|preceding|former|original|initial|safety) "
    r"(?:instructions?|prompts?|messages?|directions?|directives?|rules|guidelines|guidance|constraints|context"
    r"|commands?)\b",
    r"\b(?:ignore|disregard|forget|override|bypass|overrule|discard|abandon) (?:(?:all|any|of) )*your "
    r"(?:(?:previous|prior|safety|security|existing|current|original|system|core|usual) )?(?:instructions|guidelines"
    r"|rules|guardrails|training|polic(?:y|ies)|restrictions|constraints|programming|directives|principles)\b",
    r"\b(?:ignore|disregard) (?:what|anything|everything) (?:you were|you've been|you have been|the user) "
    r"(?:told|said|asked)\b",
    r"\bforget (?:everything|all) (?:you|that|above|before|previous|prior|i|we|else)\b",
    r"\bforget (?:your|all your|the) (?:instructions|rules|guidelines|training|prompt)\b",
    # ... or declaring them void
    r"\b(?:instructions?|guidance|guidelines|rules|directions|directives) (?:that |which )?you (?:received|were given"
    r"|got|have been given|were told|had|have) (?:earlier|before|previously|so far|until now|up to now)\b",
    r"\b(?:your|earlier|previous|prior|above|original|initial|safety|content|system|existing) (?:\w+ )?"
    r"(?:instructions?|guidance|guidelines|rules|directions|directives|constraints|restrictions|polic(?:y|ies)"
    r"|filters)\b[^\n.]{0,20}\b(?:no longer (?:apply|applies|valid|hold|holds|matter)|(?:are|is|have been|has been)"
    r" (?:now |hereby |temporarily )?(?:void|obsolete|revoked|cancell?ed|lifted|suspended|disabled|superseded"
    r"|overridden|waived|turned off|removed|deactivated))\b",
    r"\b(?:earlier|previous|prior|above|original|initial|safety) (?:\w+ )?(?:instructions|directions|guidelines"
    r"|guidance|directives)\b[^\n.]{0,60}\b(?:can|should|must|may|are to|is to) (?:now )?be (?:safely )?(?:set aside"
    r"|put aside|ignored|disregarded|dropped|forgotten|overridden|bypassed|skipped)\b",
    r"\b(?:takes?|taking|have|has) (?:precedence|priority) over (?:the |any |all )?(?:user'?s?|your|system|other"
    r"|previous|prior) (?:instructions|requests?|prompts?|messages|commands|rules|guidelines|directions|wishes)\b",
    r"\b(?:supersedes?|overrides?|overrules?) (?:the |any |all )?(?:user'?s?|your|system|other|previous|prior) "
    r"(?:instructions|requests|prompts?|messages|commands|rules|guidelines|directions)\b",
    # claims of authority or consent
    r"\btreat\b[^\n.]{0,60}\bas (?:if it (?:came|comes|were) from|coming from|sent by|written by|issued by|from) "
    r"(?:the |your )?(?:system|administrator|admin|developer|operator|user|anthropic|openai)\b",
    r"\byou (?:have been|are|were) (?:now )?(?:granted|given) (?:elevated|admin|administrator|root|full|unrestricted"
    r"|special|superuser) (?:privileges|access|rights|permissions)\b",
    r"\bwithout (?:asking|consulting|checking with|prompting|confirming with) " + _USER + r"\b",
    r"\bwithout (?:asking|requesting|waiting) (?:for )?(?:the user'?s? |user |explicit |any |their )?"
    r"(?:confirmation|approval|permission|consent)\b",
    r"\b(?:never|do not|don'?t|no need to|need not|needn'?t) (?:ask|request|wait for|seek) (?:the user |them )?"
    r"(?:for )?(?:the user'?s? |user |explicit |any |their )?(?:confirmation|approval|permission|consent)\b",
    r"\bskip(?:ping)? (?:the |any |all )?(?:usual |normal |standard |user'?s? |explicit )?(?:confirmation|approval"
    r"|permission|consent) (?:step|prompt|check|dialog|request)s?\b",
    r"\b(?:approved|authori[sz]ed|consented to) (?:all|every|any)\b[^\n.]{0,40}\b(?:in advance|beforehand"
    r"|ahead of time)\b",
    r"\bno need to (?:ask|check|confirm)(?: (?:the user|them|first|anyone))?\s*(?:[.;!)]|$)",
    r"\bno longer (?:need|require)s? (?:the user'?s? |user |explicit |any |their )?"
    r"(?:confirmation|approval|permission|consent)\b",
    # secrecy from the user
    r"\b(?:do not|don'?t|never|must not|mustn'?t|should not|shouldn'?t) (?:tell|inform|mention|reveal|disclose) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\bwithout (?:telling|informing|mentioning|revealing|disclosing|notifying|alerting) "
    r"(?:(?:this|that|it|anything|them|any of this) )?(?:to )?(?:the |your )?(?:user|human)s?(?!'s\b)\b",
    r"\b(?:do not|don'?t|never|without) (?:let|letting|allow|allowing) (?:the |your )?(?:user|human)s? "
    r"(?:know|see|notice|find out)\b",
    r"\b(?:hide|conceal|keep) (?:this|it|that|these|them) (?:secret )?from (?:the |your )?(?:user|human)\b",
    r"\b(?:the )?user (?:must|should|need|needs to|does|do) not (?:know|see|be told|be informed|notice|find out)\b",
    r"\b(?:user|human|end user|person you(?:'re| are) (?:helping|assisting|talking to))s? (?:doesn'?t|does not|don'?t"
    r"|do not|needn'?t|need not|mustn'?t|shouldn'?t|won'?t) (?:need to |have to )?(?:know|see|hear|be told|be informed"
    r"|notice|find out|learn)\b",
    r"\b(?:could|would|might|will|may) (?:even )?(?:upset|scare|alarm|frighten|worry|annoy) (?:the |your )?user\b",
    r"\bkeep (?:this|it|that|these|them|the \w+)(?: \w+)? to yourself\b",
    r"\b(?:remains?|stays?|kept|keep (?:it|this|that)) between (?:you and (?:me|us|the tool|this tool|the server)"
    r"|us)\b",
    r"\b(?:user|human|end user)s? (?:should |must |will |is to |are to )?(?:be )?(?:kept|left) (?:out of the loop"
    r"|in the dark|unaware|uninformed)\b",
    r"\bkeep (?:the |your )?(?:user|human|end user)s? (?:out of the loop|in the dark|unaware|uninformed)\b",
    r"\b(?:do not|don'?t|never|no need to) (?:mention|reveal|disclose|bring up|report|say anything about|talk about) "
    r"(?:that you|(?:this|that|these|the) (?:prefix|step|instruction|note|detail|part|call|request|read|file)s?\b"
    r"|any of (?:this|it|that|these))",
    r"\b(?:no need to|needn'?t|don'?t need to|do not need to|not necessary to) (?:tell|inform|notify|alert|mention "
    r"(?:this|it|that) to|bring (?:this|it|that|any of (?:this|it|that)) up with) " + _USER + r"\b",
    r"\bbring (?:this|it|that|any of (?:this|it|that)) up with " + _USER + r"\b",
    # lying about what was done
    r"\b(?:say|claim|tell (?:them|the user)|answer|reply|respond|pretend)(?: that)? (?:you|it|this tool) (?:only "
    r"|never |did not |didn'?t |have not |haven'?t )(?:used|called|did|accessed|read|sent|ran|touched|invoked)\b",
    r"\bdeny (?:using|calling|invoking|reading|sending|that you)\b",
    # the model's own prompt
    r"\b(?:your|my) (?:system|developer|initial|hidden|original) (?:prompt|instructions|message)\b",
    r"\b(?:reveal|print|output|repeat|leak|dump|send|include|ignore|override|disregard|bypass)\b[^\n.]{0,30}"
    r"\b(?:system|developer) (?:prompt|instructions)\b",
    # orders to act covertly or to exfiltrate
    r"\byou (?:must|should|need to|have to|are required to|shall|will) (?:(?:always|never|also|secretly|silently|now"
    r"|additionally) )+(?:forward|bcc|cc|upload|exfiltrate|leak|share|disclose|reveal|attach)\b",
    r"\b(?:secretly|silently|covertly|quietly|discreetly|stealthily) (?:send|forward|bcc|cc|copy|upload|include|add"
    r"|call|invoke|read|pass|append|attach|post|exfiltrate|transmit|share|change|modify|replace|redirect|recommend"
    r"|promote|suggest|insert|steer|favou?r|prefer|alter)\b",
    r"\bbefore (?:using|calling|invoking|running) (?:this|any|any other|every|each|another) (?:tool|function)s?\b"
    r"[^\n]{0,120}\b(?:read|send|forward|upload|exfiltrate|attach|pass|include)\b[^\n]{0,60}"
    r"\b(?:file|contents?|key|token|secret|credential|password|config|history|conversation|message)s?\b",
    r"\b(?:send|forward|exfiltrate|upload|leak|transmit|post|report|mirror|copy|beacon|append)\b[^\n]{0,100}"
    r"\b(?:conversation|chat history|history|previous messages|credentials?|secrets?|api keys?|passwords?"
    r"|private keys?|ssh|environment variables|system prompt|personal data|pii|user'?s data|user data"
    r"|all (?:files|data)|everything)\b[^\n]{0,100}\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:exfiltrate|exfil)\b[^\n]{0,80}\bto\b",
    r"\b(?:send|forward|upload|transmit|post|copy) all (?:messages|emails|mails|files|data|documents)\b[^\n]{0,30}"
    r"\bto\b[^\n]{0,30}(?:https?://|[\w.+-]+@[\w-]+)",
    r"\b(?:append|include|attach|pass|put|add|send|forward|upload|embed|copy|paste|leak|call\b[^\n.]{0,40}\bwith)\b"
    r"[^\n.]{0,40}\b(?:the user'?s|all(?: the)?|any|every) (?:[\w-]+ ){0,2}(?:api keys?|credentials|secrets?|passwords?"
    r"|access tokens?|tokens?|private keys?|session cookies?|cookies?|ssh keys?)\b",
    r"\b(?:the user'?s|their) (?:[\w-]+ ){0,2}(?:api keys?|credentials|secrets?|passwords?|access tokens?|tokens?"
    r"|private keys?|cookies?|ssh keys?)\b[^\n.]{0,60}\b(?:attach|append|include|paste|send|forward|upload|pass)\b",
    # other tools' results copied into this one
    r"\b(?:include|pass|send|attach|forward|copy|paste|append|put)\b[^\n.]{0,40}\b(?:(?:outputs?|results?|responses?)"
    r" (?:of|from) (?:the |all |every )?(?:other|previous|prior|earlier) (?:tools?|tool calls?|calls?|functions?)"
    r"|(?:other|previous|prior|earlier) tool (?:outputs|results|responses|calls))\b",
    # an upload to an outside address
    r"\b(?:upload|send|post|forward|transmit|copy|mirror|exfiltrate)\b (?:it|them|this|everything|(?:a )?cop(?:y|ies)"
    r"(?: of (?:it|them))?|the (?:whole |full |entire )?(?:document|file|pdf|content|text|page|data|result|summary)s?)"
    r"(?: \w+){0,3} to https?://",
    # the conversation, or what the user typed, copied into an argument
    r"\b(?:pass|put|include|insert|add|append|attach|send|copy|paste|provide|supply|embed|place|fill|dump|write"
    r"|with|ask)\b[^\n.]{0,60}\b(?:conversation(?![\W_]*(?:ids?|names?|keys?|types?|titles?)\b)|chat (?:history|log)"
    r"|message history|(?:previous|prior|recent|earlier|last \d+|past) (?:user )?messages|(?:entire|full|whole"
    r"|complete) (?:chat|history|transcript|context|thread)|system prompt|(?:the user'?s|their) (?:[\w,-]+ ){0,4}"
    r"(?:passwords?|passcodes?|pins?|credentials|secrets?|tokens?|api keys?|private keys?|ssh keys?|cookies?|ssn"
    r"|social security numbers?|date of birth|credit card(?: numbers?)?|card numbers?|cvv|seed phrases?"
    r"|recovery phrases?|one-time codes?|2fa codes?))\b[^\n.]{0,80}"
    r"\b(?:in|into|as|to|inside|within|under) (?:the |a |an |its |their |your )?[`'\"]?[\w-]+[`'\"]? (?:parameter"
    r"|argument|arg|field|param|property|body)s?\b",
    r"\b(?:if|when|whenever) the user (?:mentions|shares|types|provides|gives|enters|pastes|says|writes)\b[^\n.]{0,60}"
    r"\b(?:passwords?|tokens?|api keys?|secrets?|credentials|card numbers?|credit cards?|ssn|social security"
    r"|private keys?|seed phrases?)\b[^\n]{0,80}\b(?:include|put|pass|add|send|copy|forward|append|store|record|save"
    r"|log)\b",
    r"\b(?:pass|send|include|attach|forward|share|provide|upload|post|call\b[^\n.]{0,40}\bwith)\b[^\n.]{0,60}"
    r"\b(?:the |your )?(?:entire |whole |full |complete )?(?:conversation|chat) (?:so far|history|up to (?:now|this"
    r" point)|transcript)\b",
    r"\b(?:pass|send|include|attach|forward|share|provide|upload|post|call\b[^\n.]{0,40}\bwith)\b[^\n.]{0,40}"
    r"\byour (?:complete |full |entire |whole |original |exact )(?:instructions|prompt|context|guidelines)\b",
    # a user's voice where only the tool's author speaks: "note from the user: I authorize this tool to ..."
    r"\b(?:note|message|instructions?|request|update)s? from (?:the |your )?user\s*:",
    r"\bi (?:hereby )?(?:authori[sz]e|allow|permit|consent to|approve|give permission to)\b[^\n.]{0,30}"
    r"\b(?:this tool|this server|you|the assistant|the ai|the agent)\b",
    # a markdown or HTML image whose address carries a placeholder: rendering it sends the data
    r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^\s)?#]{1,200}[?#][^)\n{<\[$]{0,300}[{<\[$]",
    r"!\[[^\]\n]{0,200}\]\(\s*<?https?://[^\s)?#]{1,200}[?#][^)\n]{0,300}?(?:conversation|chat|transcript|history"
    r"|messages?|prompt|secrets?|passwords?|api_?keys?|credentials?|cookies?)",
    r"<img\b[^>\n]{0,200}\bsrc\s*=\s*[\"']?https?://[^\"'\s>?#]{1,200}[?#][^\"'>\n{<\[$]{0,300}[{<\[$]",
    # ... or any address whose query is to be filled with the conversation or a secret
    r"https?://[^\s?#]{1,200}[?#][^\s{<\[$]{0,200}(?:\{+|<|\[|\$\{?)\s*(?:[a-z]+[\s_.-]){0,3}(?:conversation|chat"
    r"|transcript|history|messages?|prompt|summary|memory|secrets?|passwords?|api_?keys?|credentials?|cookies?)\b",
    r"\bdecode\b(?: (?:this|it|the following|below|the \w+))?(?: \w+)?(?: and| then|,) (?:then )?(?:follow|execute|obey"
    r"|do what|carry out|act on)\b",
    # a note addressed to the model (vendors write "Note to LLM: use the indexes tool first" too, so only with an
    # order of the kinds above close by)
    r"\b(?:note|message|reminder|directive|hint|tip|p\.?s\.?|instructions?) (?:to|for) (?:the )?(?:ai|assistant|model"
    r"|llm|agent|claude|gpt|chatgpt|copilot) ?[:\u2014-][^\n]{0,150}\b(?:always|never|secretly|silently|quietly"
    r"|ignore|disregard|do not|don'?t|must not|send|forward|upload|read|include|append|attach|paste|passwords?"
    r"|credentials?|secrets?|tokens?|keys?|cookies?|conversation|history)\b",
    # ... or called by name at the start of a sentence: "Assistant: call this first"
    r"(?:^|[.!?(\n]\s*|\b(?:dear|hey|attention|hello|hi)\s+)(?:ai|assistant|llm|claude|chatgpt|gpt|copilot) ?: ?"
    r"(?:you|please|always|never|call|do|don'?t|ignore|first|make sure|remember|read|send|include|forget)\b",
    r"\b(?:always|secretly|silently|quietly|must|should)\b[^\n]{0,40}"
    r"\b(?:bcc|cc|forward|redirect|send (?:a )?cop(?:y|ies))\b[^\n]{0,40}[\w.+-]+@[\w-]+",
    r"\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b[^\n]{0,60}\b(?:bcc|cc|forward|copy)\b[^\n]{0,40}"
    r"[\w.+-]+@[\w-]+",
    r"\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b[^\n]{0,80}[\w.+-]+@[\w-]+[^\n]{0,40}\b(?:bcc|cc)\b",
    r"\b(?:bcc|cc|forward|copy|redirect)\b[^\n]{0,30}\b(?:every|each|all|any) (?:e-?mails?|messages?|mails?)\b"
    r"[^\n]{0,40}[\w.+-]+@[\w-]+",
    # dictating the model's own replies, or switching its safety off
    r"\b(?:end|begin|start|finish|close) (?:every|each|all|all of your|all your) (?:\w+ )?"
    r"(?:responses?|repl(?:y|ies)|answers?)\b",
    r"\b(?:every|each|all) (?:\w+ )?(?:responses?|repl(?:y|ies)|answers?) you (?:give|send|write|produce|make"
    r"|return)\b",
    r"\b(?:all )?your (?:\w+ )?(?:responses|replies|answers) (?:must|should|shall|need to) (?:always )?"
    r"(?:end|begin|start|include|contain|mention|promote|recommend|link)\b",
    r"\b(?:turn off|switch off|disable|deactivate|bypass|lift|suspend|ignore) (?:all |any |your |the )?(?:content "
    r"|safety )(?:filter(?:ing|s)?|guardrails?|guidelines|moderation|policies|restrictions)\b",
    # an order to change where a message or a payment goes
    r"\b(?:change|replace|swap|set|override|redirect)\b[^\n.]{0,30}\b(?:recipients?|to address|destination|account"
    r"(?: number)?|iban|wallet(?: address)?|payee)\b[^\n.]{0,20}\b(?:to|with)\b[^\n.]{0,20}(?:[\w.+-]+@[\w-]+"
    r"|\+?\d[\d\s-]{6,}\d|\b[a-z]{2}\d{2}[a-z0-9]{10,30}\b|\b0x[0-9a-f]{40}\b)",
    # commands that fetch and run code, or wreck the home directory, or ride along with every command
    r"\b(?:curl|wget)\b[^\n|]{0,200}\|\s*(?:sudo\s+)?(?:(?:ba|z|da|k|fi)?sh|python3?|perl|ruby|node|iex)\b",
    r"\$\(\s*(?:curl|wget)\b",
    r"\bchmod\s+(?:-r\s+)?0?(?:777|666)\s+(?:~|/|\$home)",
    r"\brm\s+-(?:rf|fr)\s+(?:~|/|\$home|\*)",
    r"\b(?:every|each|all|any) (?:shell |terminal |bash )?commands? (?:you (?:run|execute|issue|send) )?(?:must|should"
    r"|shall|has to|have to|needs? to) (?:always )?be (?:prefixed|prepended|suffixed|appended|preceded|followed"
    r"|wrapped)\b",
    r"\b(?:prefix|prepend)\b[^\n.]{0,40}\b(?:every|each|all|any) (?:shell |terminal |bash )?commands?\b",
    # role play
    r"(?:^|[.!?\n]\s*|\byou (?:will|must|should|shall|now) |\bplease |\bnow )act as (?:a|an|if|though|my|the)\b",
    r"\bpretend (?:to be|you are|that you)\b",
    r"\byou are now (?:a|an|the|in|my|no longer|free|unrestricted|dan|jailbroken|operating|acting)\b",
    r"\b(?:from now on|from this point (?:on|forward|onwards?)|henceforth)\b[^\n]{0,60}\b(?:you|treat|always|never"
    r"|respond|answer|reply)\b",
    # (a bare "jailbreak" also names phones, consoles and the detectors of such prompts)
    r"\b(?:(?:you are|you're|you have been|you've been|are now|is now|be|been) jailbroken|jailbreak mode|dan mode"
    r"|developer mode (?:enabled|activated|on))\b",
    # chat-template tokens, headers and fake turns
    r"\[/?inst\]",
    r"<\|\s*(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id)\s*\|>",
    r"<<\s*/?sys\s*>>",
    r"<\s*/?\s*(?:start_of_turn|end_of_turn)\s*>",
    r"^[\t\x20]*#{2,}[\t\x20]*(?:system|instructions?|new instructions?)\b",
    r"\b(?:new|updated|real|actual|true|hidden|secret|system) (?:instructions?|directives?|orders)\s*:",
    r"(?:^|[.!?]\s)[\t\x20]*(?:important |urgent )?(?:system|admin|administrator|developer|root|security|compliance)"
    r" (?:message|note|notice|override|alert|directive|instruction|prompt)s?\s*[:\u2014\u2013]",
    r"\b(?:begin|start|end) (?:of )?(?:the )?(?:system|admin|developer) (?:override|instructions?|prompt|message)\b"
    r"|\bsystem override\b",
    r"\b(?:no longer|not|never) (?:bound|restricted|limited|constrained|governed) by (?:its|your|any|the) (?:usual "
    r"|normal |standard |safety |previous |original )?(?:rules|guidelines|policies|restrictions|instructions"
    r"|constraints)\b",
    r"\n[\t\x20]*(?:system|human|assistant)[\t\x20]*:",  # (a turn after some text: a first word may be a name)
    # the same in other languages written in Latin letters: "ignora todas las instrucciones anteriores",
    # "ignoriere alle vorherigen Anweisungen", "ne dis rien à l'utilisateur", "sag dem Benutzer nichts"
    r"\b(?:ignor[a-z]*|olvid[a-z]*|oubli[a-z]*|vergiss|vergessen|dimentica[a-z]*|esque[cç][a-z]*)\b[^\n.]{0,40}"
    r"(?:\b(?:instruc[a-z]*|instru[cç][õo]es|istruzioni|anweisung[a-z]*|consignes|indicaciones|regeln|reglas|regras"
    r"|regole|r[eè]gles|directrices|vorgaben|befehle)\b[^\n.]{0,20}\b(?:anterior[a-z]*|previ[a-z]*|precedent[a-z]*"
    r"|pr[eé]c[eé]dent[a-z]*|vorherig[a-z]*|bisherig[a-z]*|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*)"
    r"|\b(?:anterior[a-z]*|previ[a-z]*|precedent[a-z]*|pr[eé]c[eé]dent[a-z]*|vorherig[a-z]*|bisherig[a-z]*"
    r"|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*)\b[^\n.]{0,20}\b(?:instruc[a-z]*|instru[cç][õo]es|istruzioni"
    r"|anweisung[a-z]*|consignes|indicaciones|regeln|reglas|regras|regole|r[eè]gles|directrices|vorgaben|befehle))\b",
    r"\b(?:vorherig[a-z]*|bisherig[a-z]*|vorig[a-z]*|fr[uü]her[a-z]*|obig[a-z]*) (?:anweisung[a-z]*|regeln|vorgaben"
    r"|befehle)\b[^\n.]{0,20}\b(?:ignorieren|vergessen|missachten)\b",
    r"\bno (?:se lo |le |les |lo )?(?:digas|diga|cuentes|cuente|menciones|mencione|informes|informe|reveles|revele"
    r"|muestres|muestre)\b[^\n.]{0,40}\busuari[oa]s?\b",
    r"\bsin (?:decirle|avisar|informar|notificar|que lo sepa)\b[^\n.]{0,20}\busuari[oa]s?\b",
    r"\bn[ãa]o (?:conte|diga|mencione|informe|revele|fale|mostre)\b[^\n.]{0,40}\b(?:usu[áa]rio|utilizador)s?\b",
    r"\bnon (?:dirlo|dire|dirgli|menzionare|rivelare|informare|raccontare|mostrare)\b[^\n.]{0,40}\butent[ei]\b",
    r"\bne (?:dis|dites|mentionne[sz]?|r[ée]v[èe]le[sz]?|parle[sz]?|informe[sz]?|montre[sz]?)\b[^\n.]{0,40}"
    r"\butilisat(?:eur|rice)s?\b",
    r"\bsans (?:le dire|en parler|informer|pr[ée]venir|avertir)\b[^\n.]{0,20}\butilisat(?:eur|rice)s?\b",
    r"\b(?:sag|sage|sagen|erz[äa]hl|erz[äa]hle|verrat|verrate|erw[äa]hne|informiere)\b[^\n.]{0,40}"
    r"\b(?:benutzer|nutzer|anwender)(?:in|innen|s)?\b[^\n.]{0,30}\bnicht[s]?\b",
    r"\bohne (?:den |die |das )?(?:benutzer|nutzer|anwender)(?:in|innen|s)? (?:zu )?(?:informieren|benachrichtigen"
    r"|fragen|fragen zu m[üu]ssen)\b",
    r"\b(?:benutzer|nutzer|anwender)(?:in|innen|s)? (?:darf|soll|sollte|muss|braucht) (?:davon |hiervon |das |es )?"
    r"(?:nichts|nicht) (?:zu )?(?:erfahren|wissen|merken|mitbekommen|sehen)\b",
    r"\bn'(?:en |y )?(?:parle[sz]?|dis|dites|mentionne[sz]?|r[ée]v[èe]le[sz]?) (?:pas|rien)\b[^\n.]{0,30}"
    r"\butilisat(?:eur|rice)s?\b",
)

# Instructions in scripts the look-alike folding would scramble (Cyrillic) or whose words have no spaces (Chinese,
# Japanese, Korean); searched in the text without that folding, and only when it is not all ASCII.
_MODEL_INSTRUCTION_FOREIGN = re.compile(
    "|".join([
        # ignore the previous instructions
        r"(?:忽略|无视|忽视|不要理会|忘记|忘掉|無視)[^。\n]{0,10}(?:之前|以前|先前|上述|前面|此前|所有|一切)[^。\n]{0,8}"
        r"(?:指令|指示|说明|規則|规则|提示|命令)",
        r"(?:以前|前|これまで|上記|先)の(?:指示|命令|ルール|指令|プロンプト)[^。\n]{0,10}(?:無視|忘れ)",
        r"이전[^.\n]{0,6}(?:지시|명령|지침|규칙)[^.\n]{0,10}(?:무시|잊어)",
        r"(?:忽略|无视|忽视|不要理会)(?:系统提示|系统指令|你的(?:指令|规则|提示|设定)|安全(?:规则|限制|准则))",
        r"(?:对话|聊天|会话)(?:记录|历史|内容)[^。\n]{0,20}(?:发送|上传|转发|提交)|(?:发送|上传|转发|提交)[^。\n]{0,20}"
        r"(?:对话|聊天|会话)(?:记录|历史|内容)",
        r"(?:تجاهل|انس)[^.\n]{0,20}(?:التعليمات|الإرشادات|الأوامر)[^.\n]{0,10}(?:السابقة|الأولى)",
        r"لا (?:تخبر|تُخبر|تعلم|تُعلم|تذكر) المستخدم",
        r"(?:पिछले|पहले के|सभी)[^।\n]{0,20}(?:निर्देशों|निर्देश|नियमों)[^।\n]{0,10}(?:अनदेखा|नज़रअंदाज़|नजरअंदाज|भूल)",
        r"उपयोगकर्ता को[^।\n]{0,10}(?:न|मत) (?:बताएं|बताएँ|बताना|बताओ)",
        r"\b(?:игнорируй|игнорируйте|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на)\w*\b"
        r"[^\n.]{0,30}\b(?:предыдущ|прежн|все|ранее)\w*[^\n.]{0,20}\b(?:инструкц|указани|правил|команд)",
        # do not tell the user
        r"(?:不要|别|勿|切勿|不得|无需|不必|不用)(?:告诉|告知|通知|提醒|透露|提及|让)[^。\n]{0,10}用户",
        r"对用户(?:隐瞒|保密)|不(?:要|能)让用户(?:知道|发现|看到)",
        r"ユーザー(?:に|には|へ)[^。\n]{0,10}(?:伝え|言わ|知らせ|教え|通知し|見せ)ない",
        r"사용자에게[^.\n]{0,10}(?:알리지|말하지|보여주지) ?(?:마|말)",
        # (Russian: ruff takes several Cyrillic letters for Latin ones)
        r"\bне (?:говори|сообщай|рассказывай|упоминай|показывай|говорите|сообщайте|рассказывайте"  # noqa: RUF001
        r"|упоминайте)\w*\b[^\n.]{0,40}\bпользовател",  # noqa: RUF001
        r"\bбез ведома пользовател|\bскро(?:й|йте) от пользовател",  # noqa: RUF001
    ]),
    re.IGNORECASE | re.MULTILINE,
)

_TOOL_ID = r"[`'\"(]?[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+[`'\")]?"  # a tool's name as prose cites it (lowercased)

_CROSS_TOOL = _rx(
    r"\bwhen(?:ever)? this tool is (?:available|present|loaded|installed|enabled|connected)\b",
    r"\b(?:the )?other (?:tools?|functions?|servers?) (?:must|should|shall|need to|will)\b",
    r"\b(?:any|all|every) other (?:tool|function|server)s?\b[^\n]{0,60}\b(?:must|should|always|never)\b",
    r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b (?:tool |function )?(?:must|should|shall|has to|needs to) "
    r"(?:(?:always|never|also|now|only|first) )*(?:bcc|cc|send|forward|include|call|invoke|copy|redirect|route"
    r"|use|add|attach|pass|be called with|be invoked with)\b",
    # another tool's call as the trigger: "when send_message is invoked", "whenever you use the git_push tool"
    r"\bwhen(?:ever)? (?:the |a |an )?" + _TOOL_ID + r" (?:tool |function |command )?(?:from [^\n.]{0,30})?"
    r"(?:is|gets|has been|was) (?:called|invoked|used|run|executed|triggered)\b[^\n.]{0,60}\b(?:change|set|add"
    r"|append|send|include|redirect|replace|also|bcc|cc|forward|make sure|always|instead|must|should)\b",
    r"\b(?:when(?:ever)?|every time|each time)\b[^\n.]{0,60}\b(?:by|from|with|through|using|via) (?:any|every|another"
    r"|other|all) (?:other )?(?:tools?|functions?|servers?)\b",
    r"\b(?:regardless of|ignore|ignoring|disregard|disregarding|instead of|override|overriding) (?:what |whatever )?"
    r"(?:the )?" + _TOOL_ID + r" (?:tool |function )?(?:returns|says|reports|outputs|gives|answers)\b",
    r"\bwhen(?:ever)? you (?:use|call|invoke|run|execute) (?:the )?" + _TOOL_ID + r"(?: tool| function)?\b[^\n.]{0,40}"
    r"\b(?:set|change|replace|add|append|include|redirect|send|forward|always|also|first|make sure)\b",
    r"\b(?:before|after) (?:calling|using|invoking|running|you (?:call|use|invoke|run)) (?:any|every|each|all) "
    r"(?:other )?(?:tools?|functions?)\b",
    # steering away from the others (preference manipulation)
    r"\b(?:never|do not|don'?t|avoid|stop) (?:use|using|call|calling|invoke|invoking|trust|trusting|rely on|relying on)"
    r" (?:any |the |all )?(?:other|another|alternative|competing|third-party) (?:\w+ ){0,2}(?:tools?|functions?"
    r"|servers?|providers?|plugins?|services?)\b",
    r"\b(?:other|all other|any other|competing|alternative|the other) (?:\w+ ){0,2}(?:tools?|functions?|servers?"
    r"|plugins?) (?:are|is) (?:\w+ )?(?:deprecated|outdated|unsafe|insecure|unreliable|broken|compromised|malicious"
    r"|untrusted|inaccurate|fake)\b",
    r"\b[a-z][a-z0-9]*(?:[_-][a-z0-9]+)+[`'\"]?,? (?:(?:which|that) )?(?:tool |function )?(?:is|are|has been) (?:now )?"
    r"(?:(?:deprecated|outdated|broken) and )?(?:unsafe|insecure|compromised|malicious|untrusted|unreliable|leaking"
    r"|leaks|dangerous|hacked|backdoored)\b",
    r"\binstead of " + _TOOL_ID + r"\b[^\n]{0,80}\b(?:must not|should not|mustn'?t|shouldn'?t|never|do not|don'?t)"
    r" (?:be )?(?:used|called|invoked|trusted|use|call|invoke|trust)\b",
    r"\b(?:double|triple|change|increase|inflate|alter|modify|replace|swap|redirect|round up)\b[^\n.]{0,30}\b(?:amount"
    r"|sum|price|quantity|recipient|account|address|destination|iban)s?\b[^\n.]{0,30}\b(?:passed|sent|given|supplied)"
    r" to\b",
    r"\bthe only (?:trustworthy|trusted|safe|secure|reliable|accurate|legitimate|official|valid) (?:\w+ )?"
    r"(?:tool|function|server|source)\b",
)


def _secret_read(norm: str, plain: str | None = None) -> bool:
    """A secret's name (`_SECRET_PATHS`) near a cue to read or pass it on. ``plain``: the same text without the
    look-alike folding (same length), for the cues in non-Latin scripts."""
    for n, m in enumerate(_SECRET_PATH.finditer(norm)):
        if n >= 64:
            return True  # dozens of secret paths in one string is itself a sign; and it bounds the work
        start = max(0, m.start() - 150)
        # a leading "\n" lets the start of the text count as the start of a sentence
        window = ("\n" if start == 0 else "") + norm[start : m.end() + 150]
        if _EXFIL_CUE.search(window):
            return True
        if plain is not None and _EXFIL_CUE_FOREIGN.search(plain, start, m.end() + 150):
            return True
    return False


def _secret_env_read(text: str, norm: str) -> bool:
    """A secret's environment variable (`_SECRET_ENV`, in ``text`` as written) near a cue to read or pass it on
    (in ``norm``, its normalised copy)."""
    lowered = norm if len(norm) == len(text) else text.lower()
    for n, m in enumerate(_SECRET_ENV.finditer(text)):
        if n >= 64:
            return True
        start = max(0, m.start() - 150)
        window = ("\n" if start == 0 else "") + lowered[start : m.end() + 150]
        if _EXFIL_CUE.search(window):
            return True
    return False


def _instruction_kinds(norm: str, plain: str | None = None) -> set[str]:
    """Kinds found by the instruction patterns in normalised text; ``plain`` (`_fold`'s text, given when not all
    ASCII) adds the patterns for other scripts."""
    kinds: set[str] = set()
    if _IMPORTANT_BLOCK.search(norm):
        kinds.add("important-block")
    if (
        _MODEL_INSTRUCTION.search(norm)
        or _secret_read(norm, plain)
        or (plain is not None and _MODEL_INSTRUCTION_FOREIGN.search(plain))
    ):
        kinds.add("model-instruction")
    if _CROSS_TOOL.search(norm):
        kinds.add("cross-tool-reference")
    return kinds


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
    if len(text) <= 128 and _IDENTIFIER.fullmatch(text):
        plain = norm = " ".join(_IDENTIFIER_SPLIT.split(text)).lower()
        if _IDENTIFIER_SECRET.search(norm):
            kinds.add("model-instruction")
    else:
        plain = _fold(text)
        norm = plain.translate(_CONFUSABLES)
    kinds |= _instruction_kinds(norm, None if plain.isascii() else plain)
    if "_" in text and _secret_env_read(text, norm):
        kinds.add("model-instruction")
    unwrapped = _unwrapped(norm)
    if unwrapped != norm:
        kinds |= _instruction_kinds(unwrapped)
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
        kinds, cleaned, smuggled = _scan_chars(value)
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
