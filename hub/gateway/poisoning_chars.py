"""The character-level half of the poisoning scan (poisoning.py): what a reader cannot see but a model can.

Zero-width and other format characters, variation selectors outside an emoji or ideograph context, private-use
and lone-surrogate code points, invisible fillers, bidirectional controls, tag characters (except a well-formed
subdivision flag), C0/C1 controls and ANSI escapes. `scan_chars` names the kinds found and returns the text
without them, and with tag characters decoded (ASCII smuggled in them reads as text).
"""

from __future__ import annotations

import re
import unicodedata

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


def scan_chars(text: str) -> tuple[set[str], str, str]:
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
    return scan_chars(text)[1]
