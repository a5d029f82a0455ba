"""The lexical side of search: words to a sparse vector that Qdrant scores with BM25-style IDF.

Qdrant applies the IDF (`modifier=IDF`, over the whole collection) at query time; documents carry BM25's
saturated term frequency, queries carry one per distinct term, so the dot product is BM25. Terms map to
sparse indices through a stable hash: no vocabulary to keep in step between replicas or restarts.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

VERSION = "lex1"  # part of every entry's index key: changing the scheme below re-indexes everything

# Identifier-aware words: "getWeatherForecast", "get_weather", "PDF2Text" and "e-mail" all split into words.
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

_STOP_WORDS = """
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just let me more most my myself no nor not now of off
on once only or other our ours ourselves out over own please same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what
when where which while who whom why will with would you your yours yourself yourselves also like want need
get give tell show find help use using via may might must shall able would could im ive id youre whats
"""
STOP_WORDS = frozenset(_STOP_WORDS.split())

K1 = 1.2
B = 0.75
AVG_LEN = 24.0  # a typical tool text in words; fixed, so a document's weights never depend on the others


def stem(word: str) -> str:
    """A light, deterministic suffix stripper: plural and verb forms meet their base ("files" = "file")."""
    if len(word) <= 3:
        return word
    for suffix, keep in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith(("ss", "us", "is")):
                return word
            if suffix == "es" and not word.endswith(("shes", "ches", "xes", "zes", "sses")):
                return word[:-1]  # "files" -> "file", not "fil"
            return word[: len(word) - len(suffix)] + keep
    return word


def terms(text: str) -> list[str]:
    """The text's searchable terms: identifier-split words, lowercased, stop words out, lightly stemmed."""
    out = []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        out.append(stem(word))
    return out


def _index(term: str) -> int:
    return zlib.crc32(term.encode()) & 0x7FFFFFFF


def _sparse(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def document_vector(text: str) -> tuple[list[int], list[float]]:
    """BM25 term weights of a document, as sparse (indices, values)."""
    counts = Counter(terms(text))
    length = sum(counts.values()) or 1
    norm = K1 * (1 - B + B * length / AVG_LEN)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        index = _index(term)
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1) / (tf + norm)
    return _sparse(weights)


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """One per distinct query term (Qdrant multiplies in the IDF)."""
    return _sparse({_index(term): 1.0 for term in set(terms(text))})
